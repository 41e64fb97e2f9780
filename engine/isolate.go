package engine

import (
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
)

// Limits bound what one isolate may use. Zero fields take the defaults.
type Limits struct {
	MaxSteps    uint64 // instruction quota; 0 means none
	MaxDepth    int    // call depth; default 100000
	MaxRegs     int    // register file in words, all live frames together; default 16 Mi (128 MiB)
	MaxHeap     uint64 // heap quota in bytes; default 256 MiB
	MaxOutput   int    // output quota in bytes; default 4 MiB
	InitialHeap uint64 // first HeapCap; default 64 KiB
}

// DefaultLimits are the limits used where a field is zero.
var DefaultLimits = Limits{
	MaxDepth:    100000,
	MaxRegs:     16 << 20,
	MaxHeap:     256 << 20,
	MaxOutput:   4 << 20,
	InitialHeap: 64 << 10,
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxRegs <= 0 {
		l.MaxRegs = DefaultLimits.MaxRegs
	}
	if l.MaxHeap == 0 {
		l.MaxHeap = DefaultLimits.MaxHeap
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = DefaultLimits.MaxOutput
	}
	if l.InitialHeap == 0 {
		l.InitialHeap = DefaultLimits.InitialHeap
	}
	l.InitialHeap = min(roundUp8(l.InitialHeap), roundDown8(l.MaxHeap))
	l.MaxHeap = roundDown8(l.MaxHeap)
	return l
}

// Isolate is one running instance of a program. Run, State and Snapshot
// belong to one goroutine at a time (the one driving it); Halt may be called
// from any goroutine at any time.
type Isolate struct {
	prog   *Program
	limits Limits
	st     State    // Regs and Heap are views kept in step at every stop
	regs   []uint64 // the whole register file; the live part ends at the top frame's window
	heap   []byte   // the arena: len is the used part
	spare  []byte   // to-space for the next collection
	halt   atomic.Uint32

	// Pre-copy and the incremental state hash (pages.go): a bit per heap
	// page written since the last sync, covering the arena's capacity,
	// and the Merkle tree of the heap as of that sync (nil before the
	// first). Not part of the state.
	dirty       []uint64
	dirtyInline [4]uint64 // dirty's storage for heaps up to 2 MiB, so that New and Resume allocate no bitmap
	tree        *HeapTree

	panicked string // the Go panic behind an ErrInternal fault, for its message
	// The index and length behind an ErrIndexOutOfRange fault, for its
	// message; like panicked, not part of the state.
	badIndex, badLen uint64
	indexed          bool
	bounds           uint8 // for ErrSliceBounds: which bound was wrong (bounds*)
}

// haltPollSteps bounds how many instructions may pass between two looks at
// the halt flag: about 2 µs of execution, well inside the 20 µs halt latency
// target, and rare enough that the flag's load costs nothing measurable.
const haltPollSteps = 1024

// New creates an isolate at the start of the program's entry function.
func New(p *Program, limits Limits) (*Isolate, error) {
	if !p.validated {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	iso := &Isolate{prog: p, limits: limits.withDefaults()}
	entry := &p.Funcs[p.Entry]
	if int(entry.NRegs) > iso.limits.MaxRegs {
		return nil, fmt.Errorf("engine: %s needs %d registers, Limits.MaxRegs is %d: %w", entry.Name, entry.NRegs, iso.limits.MaxRegs, ErrStackQuota)
	}
	iso.st = State{
		Program: p.hash,
		Status:  Ready,
		PC:      entry.Entry,
		HeapCap: iso.limits.InitialHeap,
		Frames:  append(make([]Frame, 0, 64), Frame{Fn: p.Entry, RetPC: NoReturn}),
		Globals: make([]uint64, p.NumGlobals),
	}
	iso.regs = make([]uint64, min(max(256, int(entry.NRegs)), iso.limits.MaxRegs))
	iso.heap = make([]byte, 8, iso.st.HeapCap)
	iso.fitDirty()
	return iso, nil
}

// Resume creates an isolate that continues from st exactly where it stopped.
// The state is checked against the program first (see CheckState). The
// isolate takes ownership of st's slices and writes into them.
func Resume(p *Program, st *State, limits Limits) (*Isolate, error) {
	if !p.validated {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	limits = limits.withDefaults()
	if err := CheckState(p, st, limits); err != nil {
		return nil, err
	}
	return resume(p, st, limits), nil
}

// ResumeChecked is Resume for a state already checked: it skips CheckState,
// which made c (see Checked), and resumes c's state under the program and
// limits it was checked against. It consumes c and every copy of it:
// resuming any of them again, a zero Checked, or one voided by a later
// CheckResumable of the same StateChecker fails with ErrBadState.
func ResumeChecked(c *Checked) (*Isolate, error) {
	if !c.live() {
		return nil, fmt.Errorf("%w: not a checked state, already resumed, or voided by a later check", ErrBadState)
	}
	c.checker.issued = 0
	return resume(c.prog, &c.st, c.limits), nil
}

// resume makes the isolate for a checked state, taking ownership of its slices.
func resume(p *Program, st *State, limits Limits) *Isolate {
	iso := &Isolate{prog: p, limits: limits, st: *st}
	// Cap every slice at its length: an aliased decode buffer must never be
	// written past the section it came from.
	iso.st.Frames = st.Frames[:len(st.Frames):len(st.Frames)]
	iso.st.Output = st.Output[:len(st.Output):len(st.Output)]
	iso.regs = st.Regs[:len(st.Regs):len(st.Regs)]
	iso.heap = st.Heap[:len(st.Heap):len(st.Heap)]
	iso.fitDirty()
	return iso
}

// Program returns the program the isolate runs.
func (iso *Isolate) Program() *Program { return iso.prog }

// Status returns the isolate's status.
func (iso *Isolate) Status() Status { return iso.st.Status }

// Steps returns the number of instructions executed so far, saturating at
// 2^64-1 (see Run). Only the goroutine driving the isolate may call it.
func (iso *Isolate) Steps() uint64 { return iso.st.Steps }

// Halt asks the isolate to stop at its next safepoint. Any goroutine may call
// it. A Run in progress returns Halted; if none is, the next Run returns
// Halted before executing anything. One request stops one Run.
func (iso *Isolate) Halt() { iso.halt.Store(1) } // release: seen by the running loop's load

// State returns a view of the current state. The view shares memory with the
// isolate and is valid until the next Run; use Clone to keep it.
func (iso *Isolate) State() *State {
	iso.st.Regs = iso.regs[:iso.liveRegs()]
	iso.st.Heap = iso.heap
	return &iso.st
}

// Snapshot returns a deep copy of the current state.
func (iso *Isolate) Snapshot() *State { return iso.State().Clone() }

// Footprint returns the bytes of memory the isolate holds reserved: the heap
// arena's capacity and the collector's spare semispace, the register file,
// frames, globals and output, by capacity. It is cheap and allocates
// nothing, for a node that budgets its memory across isolates. It does not
// count the Isolate struct, the program (shared), nor memory the Go
// collector has yet to free; a resident set can briefly exceed it while a
// collection copies or an arena grows (see the package doc).
func (iso *Isolate) Footprint() int64 {
	return int64(cap(iso.heap)) + int64(cap(iso.spare)) +
		8*int64(cap(iso.regs)) + 8*int64(cap(iso.st.Globals)) +
		16*int64(cap(iso.st.Frames)) + int64(cap(iso.st.Output))
}

// liveRegs returns the length of the register file up to the end of the top
// frame's window. It trusts nothing: Run's recover calls it after any panic,
// including one caused by a frame record corrupted behind the check (the
// decode buffer a resumed state aliases, modified against its contract), so
// it never indexes by a frame field it has not bounded, and never returns
// more than the register file holds.
func (iso *Isolate) liveRegs() int {
	n := len(iso.st.Frames)
	if n == 0 {
		return 0
	}
	top := iso.st.Frames[n-1]
	if int(top.Fn) >= len(iso.prog.Funcs) {
		return 0
	}
	return int(min(uint64(top.Base)+uint64(iso.prog.Funcs[top.Fn].NRegs), uint64(len(iso.regs))))
}

// Err returns the fault as a *FaultError naming the source position, or nil
// unless the isolate is Faulted.
func (iso *Isolate) Err() error {
	err := iso.st.Err()
	if err == nil {
		return nil
	}
	pc := int(iso.st.PC)
	fe := &FaultError{Err: err, File: iso.prog.Name, PC: pc, Pos: iso.prog.PosAt(pc), Detail: iso.panicked}
	if (err == ErrIndexOutOfRange || err == ErrSliceBounds) && iso.indexed {
		fe.Index, fe.Length, fe.indexed, fe.bounds = int64(iso.badIndex), int64(iso.badLen), true, iso.bounds
	}
	if pc < len(iso.prog.Code) {
		fe.Func = iso.prog.Funcs[iso.prog.FuncAt(pc)].Name
	}
	return fe
}

// Output returns everything the program has printed. It aliases the isolate.
func (iso *Isolate) Output() []byte { return iso.st.Output }

// Result formats the entry function's result once Finished: ints in decimal,
// floats in the shortest 'g' form, bools as true/false, strings as their
// bytes, and "" for no result.
func (iso *Isolate) Result() string {
	return FormatResult(iso.prog, iso.State())
}

// FormatResult formats a finished state's result as Isolate.Result does.
func FormatResult(p *Program, st *State) string {
	if st.Status != Finished {
		return ""
	}
	v := st.Result
	switch p.Result() {
	case KindInt:
		return strconv.FormatInt(int64(v), 10)
	case KindFloat:
		return strconv.FormatFloat(math.Float64frombits(v), 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v != 0)
	case KindString:
		if v == 0 || v+8 > uint64(len(st.Heap)) {
			return ""
		}
		n := objLen(st.Heap, v)
		if v+8+n > uint64(len(st.Heap)) {
			return ""
		}
		return string(st.Heap[v+8 : v+8+n])
	case KindArray:
		if v == 0 || v+8 > uint64(len(st.Heap)) {
			return "[]"
		}
		return fmt.Sprintf("[array of %d]", objLen(st.Heap, v))
	}
	return ""
}

// Run executes the isolate until it finishes, faults, has executed at least
// budget instructions and reaches a safepoint, or reaches a safepoint after
// Halt. It returns the new status. A budget <= 0 runs to the next safepoint.
// Run never lets a Go panic escape: a fault (or a bug) ends the isolate as
// Faulted, and Err says why and where.
func (iso *Isolate) Run(budget int64) (status Status) {
	if !iso.st.Status.Runnable() {
		return iso.st.Status
	}
	if iso.halt.Swap(0) != 0 { // acquire: pairs with Halt's store
		iso.st.Status = Halted
		return Halted
	}
	var base uint64 // the real State.Steps while exec counts from 0 in it; else 0
	defer func() {
		if r := recover(); r != nil {
			iso.st.Steps = addSteps(base, iso.st.Steps)
			code := faultInternal
			if f, ok := r.(fault); ok {
				code = f
			} else {
				iso.panicked = fmt.Sprint(r)
			}
			iso.st.Status = Faulted
			iso.st.Fault = uint32(code)
			status = Faulted
		}
		iso.State() // refresh the views
	}()
	// The quota is a bound on State.Steps; a counter that has saturated
	// (see addSteps) has exhausted an implicit quota of 2^64-1. The budget
	// counts the instructions this call executes, whatever Steps was, so
	// Run returns within it for every counter a state may carry.
	quota := iso.limits.MaxSteps
	if quota == 0 {
		quota = math.MaxUint64
	}
	want := uint64(max(budget, 0))
	var ran uint64
	for {
		// Checked before executing anything too: a state halted just as it
		// reached the quota faults here exactly where a straight run did.
		if iso.st.Steps >= quota {
			iso.st.Status = Faulted
			iso.st.Fault = uint32(faultInstructionQuota)
			return Faulted
		}
		limit := min(haltPollSteps, quota-iso.st.Steps)
		if ran < want {
			limit = min(limit, want-ran)
		} else {
			limit = 0
		}
		base = iso.st.Steps
		iso.st.Steps = 0
		iso.exec(limit)
		n := iso.st.Steps
		iso.st.Steps, base = addSteps(base, n), 0 // the count is whole again
		ran += n
		// exec returned at a safepoint, or the isolate finished.
		switch {
		case iso.st.Status == Finished:
		case iso.halt.Swap(0) != 0: // acquire: pairs with Halt's store
			iso.st.Status = Halted
		case iso.st.Steps >= quota:
			continue // faults above
		case ran >= want:
			iso.st.Status = Yielded
		default:
			continue
		}
		return iso.st.Status
	}
}

// addSteps returns the counter s after n more instructions. It saturates at
// 2^64-1 instead of wrapping; Run treats a saturated counter as an exhausted
// instruction quota.
func addSteps(s, n uint64) uint64 {
	if s+n < n {
		return math.MaxUint64
	}
	return s + n
}

// trapIndex raises ErrIndexOutOfRange for index i into the string or array at
// ref (nil has length 0), keeping both for the message. Nothing is
// formatted here: Err does that, when asked.
//
//go:noinline
func (iso *Isolate) trapIndex(ref, i uint64, pc int, steps uint64) {
	iso.badIndex, iso.indexed, iso.bounds = i, true, 0
	if ref != 0 {
		iso.badLen = objLen(iso.heap, ref)
	}
	iso.trap(faultIndexOutOfRange, pc, steps)
}

// Which bound of a slice expression was out of range, for the message.
const (
	boundsHigh    = 1 + iota // [:x] with capacity y
	boundsHighLen            // [:x] with length y (strings)
	boundsCap                // [::x] with capacity y
	boundsLow                // [x:y]: low above high
)

// trapBounds raises ErrSliceBounds, keeping the bounds for the message.
//
//go:noinline
func (iso *Isolate) trapBounds(what uint8, x, y uint64, pc int, steps uint64) {
	iso.badIndex, iso.badLen, iso.indexed, iso.bounds = x, y, true, what
	iso.trap(faultSliceBounds, pc, steps)
}

// trap records the faulting pc and raises the fault; Run's recover ends the
// isolate. It is kept out of line so the dispatch loop stays small.
//
//go:noinline
func (iso *Isolate) trap(f fault, pc int, steps uint64) {
	iso.st.PC = uint32(pc)
	iso.st.Steps = steps // exec's count: Run adds it to the real one
	panic(f)
}
