package codec

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the decoder returns is an *Error that wraps
// exactly one of them; test with errors.Is.
var (
	// ErrTruncated: the input ends before the encoding does.
	ErrTruncated = errors.New("truncated")
	// ErrBadMagic: the input does not start with the magic "KNCS".
	ErrBadMagic = errors.New("bad magic")
	// ErrVersion: the input is another version of the format.
	ErrVersion = errors.New("version mismatch")
	// ErrCorrupt: the input is not a canonical encoding of a valid state for
	// its program (bad table, non-zero padding, header check mismatch,
	// trailing bytes, or a state that engine.CheckState rejects).
	ErrCorrupt = errors.New("corrupt")
	// ErrHashMismatch: the state hash in the trailer is not the decoded
	// state's hash.
	ErrHashMismatch = errors.New("state hash mismatch")
	// ErrUnknownProgram: the resolver could not supply the program the
	// state names.
	ErrUnknownProgram = errors.New("unknown program")
	// ErrSequence: a pre-copy encoding does not follow the ones its
	// Assembler took (a chunk lost, repeated or reordered), or a final
	// message leaves pages of the heap missing.
	ErrSequence = errors.New("out of sequence")
)

// Error is a decoding failure: which sentinel, where, and why.
type Error struct {
	Err    error  // one of the sentinels above
	Offset int    // byte offset in the input the failure refers to; -1 for the state as a whole
	Detail string // what exactly is wrong
	Cause  error  // the underlying error (from the resolver or engine.CheckState), or nil
}

func (e *Error) Error() string {
	msg := "codec: " + e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Offset >= 0 {
		msg += fmt.Sprintf(" (offset %d)", e.Offset)
	}
	return msg
}

// Unwrap returns the sentinel and, if any, the cause.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

func errf(sentinel error, off int, format string, args ...any) error {
	return &Error{Err: sentinel, Offset: off, Detail: fmt.Sprintf(format, args...)}
}
