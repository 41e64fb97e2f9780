package engine

import (
	"errors"
	"fmt"
)

// Sentinel errors. Runtime faults end an isolate as Faulted and are reported
// wrapped in a *FaultError that names the source position; the dispatch loop
// raises them by panicking with a fault value, and the single recover in Run
// turns that (or any other Go panic, reported as ErrInternal) into the
// Faulted status. Test for them with errors.Is.
var (
	// Runtime faults, each with a stable code stored in State.Fault.
	ErrDivideByZero     = errors.New("integer divide by zero") // Go's runtime error says it so
	ErrIndexOutOfRange  = errors.New("index out of range")
	ErrNegativeLength   = errors.New("negative length")
	ErrCallDepth        = errors.New("call depth limit exceeded")
	ErrHeapQuota        = errors.New("heap quota exceeded")
	ErrInstructionQuota = errors.New("instruction quota exceeded")
	ErrOutputQuota      = errors.New("output quota exceeded")
	ErrFloatToInt       = errors.New("float value out of int range")
	ErrKindMismatch     = errors.New("heap object kind mismatch")     // a string used as an array, or an array of scalars read or written as one of refs (or the reverse): confusion Validate cannot see
	ErrStackQuota       = errors.New("register stack quota exceeded") // Limits.MaxRegs: deep calls of functions with many registers
	ErrCapOutOfRange    = errors.New("makeslice: cap out of range")   // make([]T, n, c) with c < n
	ErrSliceBounds      = errors.New("slice bounds out of range")
	ErrNegativeShift    = errors.New("negative shift amount")
	ErrNilDeref         = errors.New("invalid memory address or nil pointer dereference")
	ErrNilMap           = errors.New("assignment to entry in nil map")
	ErrInternal         = errors.New("BUG: internal error")

	// API errors, returned and never stored in a state.
	ErrBadProgram      = errors.New("invalid program")
	ErrBadState        = errors.New("invalid state")
	ErrProgramMismatch = errors.New("state belongs to a different program")
	ErrNotRunnable     = errors.New("isolate is not runnable")
)

// faultCodes maps State.Fault to its sentinel. Code 0 means no fault. The
// codes are part of the state hash and the wire format: append, never reorder.
var faultCodes = [...]error{
	nil,
	ErrDivideByZero,
	ErrIndexOutOfRange,
	ErrNegativeLength,
	ErrCallDepth,
	ErrHeapQuota,
	ErrInstructionQuota,
	ErrOutputQuota,
	ErrFloatToInt,
	ErrInternal,
	ErrKindMismatch,
	ErrStackQuota,
	ErrCapOutOfRange,
	ErrSliceBounds,
	ErrNegativeShift,
	ErrNilDeref,
	ErrNilMap,
}

// NumFaultCodes bounds State.Fault: valid codes are 0 <= code < NumFaultCodes.
const NumFaultCodes = uint32(len(faultCodes))

// fault is the panic value of the dispatch loop; it carries a fault code.
type fault uint32

const (
	faultDivideByZero fault = iota + 1
	faultIndexOutOfRange
	faultNegativeLength
	faultCallDepth
	faultHeapQuota
	faultInstructionQuota
	faultOutputQuota
	faultFloatToInt
	faultInternal
	faultKindMismatch
	faultStackQuota
	faultCapOutOfRange
	faultSliceBounds
	faultNegativeShift
	faultNilDeref
	faultNilMap
)

// FaultError describes how an isolate faulted: which error, where.
type FaultError struct {
	Err  error  // one of the runtime fault sentinels
	File string // program name
	Pos  Pos    // source position of the faulting instruction
	PC   int
	Func string
	// Detail is the Go panic behind an ErrInternal fault, if one was seen
	// in this process; it is not part of the state.
	Detail string
	// Index and Length are the index and the length of the string or array
	// behind an ErrIndexOutOfRange fault, when the fault happened in this
	// process (they are not part of the state); HasIndex says so.
	Index, Length int64
	indexed       bool
	// bounds is how the ErrSliceBounds fault's Index and Length read (see
	// the bounds* constants), when it happened in this process.
	bounds uint8
}

// HasIndex reports whether Index and Length are known.
func (e *FaultError) HasIndex() bool { return e.indexed }

func (e *FaultError) Error() string {
	what := e.Err.Error()
	if e.indexed {
		// As Go says it.
		switch e.bounds {
		case boundsHigh:
			what = fmt.Sprintf("%v [:%d] with capacity %d", e.Err, e.Index, e.Length)
		case boundsHighLen:
			what = fmt.Sprintf("%v [:%d] with length %d", e.Err, e.Index, e.Length)
		case boundsCap:
			what = fmt.Sprintf("%v [::%d] with capacity %d", e.Err, e.Index, e.Length)
		case boundsLow:
			what = fmt.Sprintf("%v [%d:%d]", e.Err, e.Index, e.Length)
		default:
			what = fmt.Sprintf("%v [%d] with length %d", e.Err, e.Index, e.Length)
		}
	}
	msg := fmt.Sprintf("%s:%d:%d: %s (in %s, pc %d)", e.File, e.Pos.Line, e.Pos.Col, what, e.Func, e.PC)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *FaultError) Unwrap() error { return e.Err }
