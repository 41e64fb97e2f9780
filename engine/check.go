package engine

import (
	"encoding/hex"
	"fmt"
	"math/bits"
)

// CheckState reports whether st is a state of p that is safe to resume under
// limits: every count, pc, frame and reference is checked before anything
// uses it. It allocates only in proportion to the state's own size. The
// codec runs it on every decoded state; Resume runs it too, so a receiver
// that decodes and resumes uses ResumeChecked with the codec's Checked to
// check once.
//
// What it checks: the program hash; status and fault code; the frame chain
// (contiguous windows from register 0, each return pc just after a CALL of
// the frame's function in the caller, or a CALLF of a function of its
// shape, the result register being that call's B operand); pc inside the top frame's function; the register file ending
// at the top window; the global count; the heap (8-aligned, within HeapCap
// and the quota, HeapCap itself no more than a run reaches with that heap:
// twice the heap's length rounded up to InitialHeap×2^k (see the package
// doc); a parseable sequence of objects after a zero nil word, ref
// arrays (up to their capacity) and ref registers and ref globals pointing
// only at object starts, every slice header over an array of its element
// kind with its window inside that array's capacity, struct fields that
// their ref mask marks pointing at object starts, string padding zero);
// the output
// quota. It does not know the static element type behind a ref, so a string
// where an array belongs, or an array of scalars where the code reads refs,
// is not caught here; the VM checks the kind of every object it indexes,
// appends to or reads as a string, so such a state faults with
// ErrKindMismatch and never reads a scalar as a reference.
func CheckState(p *Program, st *State, limits Limits) error {
	var c StateChecker
	return c.Check(p, st, limits)
}

// StateChecker checks states as CheckState does, keeping its scratch memory
// (a bitmap of object starts, a list of ref arrays) from one call to the
// next, so that checking allocates nothing once warm. It is not safe for
// concurrent use; the zero value is ready.
//
// It also holds the one-shot cell behind the Checked values it makes (see
// CheckResumable): a Checked records the generation the checker gave it,
// and only the checker's one outstanding generation can be resumed. That
// makes the token one-shot across copies without allocating anything.
type StateChecker struct {
	// starts is all zeros between calls: a call clears only the words it
	// set (touched), so that checking a large heap of few objects costs
	// what its objects do, not a clear of heap/64 bytes (4 MiB for 256 MiB,
	// most of a live migration's downtime before this).
	starts    []uint64
	touched   []uint64
	inline    [16]uint64 // touched's storage for small heaps: a fresh checker allocates no list
	refArrays []uint64

	gen    uint64 // generations handed out by CheckResumable so far
	issued uint64 // the generation that may still be resumed, or 0
}

// Reserve readies c to check heaps of up to heapBytes bytes without
// allocating: the bitmap of object starts, a bit per heap word (heapBytes/64
// bytes, 4 MiB for 256 MiB), allocated and written now, one word per OS
// page so that the kernel maps it, rather than during a check. A node
// assembling a live migration calls it as the pages arrive, so that the
// stop does not pay for it. The bitmap at least doubles when it grows, so
// that calls for a heap growing page by page allocate twice its final
// size in all, not the square; it may then hold up to twice what the
// heap needs (8 MiB for 256 MiB), all of it mapped.
func (c *StateChecker) Reserve(heapBytes int) {
	nwords := (heapBytes/8 + 63) / 64
	if cap(c.starts) >= nwords {
		return
	}
	c.starts = make([]uint64, max(nwords, 2*cap(c.starts)))
	c.touched = c.touched[:0]
	for i := 0; i < len(c.starts); i += 4096 / 8 {
		c.starts[i] = 0 // a write faults the page in; a read of fresh memory may not
	}
}

// Check reports whether st is a state of p that is safe to resume under
// limits; see CheckState.
func (c *StateChecker) Check(p *Program, st *State, limits Limits) error {
	if err := c.check(p, st, limits.withDefaults()); err != nil {
		return fmt.Errorf("%w: %w", ErrBadState, err)
	}
	return nil
}

// Checked is a state that has passed CheckState for a program under limits:
// the proof that ResumeChecked may skip the check. Only
// StateChecker.CheckResumable makes one, so a zero or hand-made Checked is
// refused, and holding one means the check ran exactly once, in the step
// that produced it (codec.DecodeOptions.DecodeChecked on a receiving node).
// It binds the program and limits it was checked against, so they cannot
// drift apart before the resume.
//
// A Checked resumes at most once, copies included: it is a generation of
// the StateChecker that made it, ResumeChecked consumes that generation,
// and the checker's next CheckResumable voids it, so of all the copies of
// all the Checked values one checker has made, only one resumes, and only
// one made since the checker's last CheckResumable. The checked state is
// not reachable through a Checked: its accessors return scalars only, so
// nothing can change what was checked but the memory the state aliases
// (for a decoded state, the decode buffer), which must not be modified
// between the check and ResumeChecked.
type Checked struct {
	checker *StateChecker
	gen     uint64
	prog    *Program
	limits  Limits
	st      State
}

// live reports whether c can still be resumed.
func (c *Checked) live() bool {
	return c.checker != nil && c.gen != 0 && c.checker.issued == c.gen
}

// Program returns the program the state was checked against, or nil for a
// Checked that cannot be resumed (zero, already resumed, or voided by a
// later CheckResumable of its checker).
func (c *Checked) Program() *Program {
	if !c.live() {
		return nil
	}
	return c.prog
}

// ProgramHash returns the hash of the program the state belongs to. Like
// Status, PC and Steps it reads the checked state's own copy of the scalar,
// and still does once c has been resumed.
func (c *Checked) ProgramHash() [32]byte { return c.st.Program }

// Status returns the checked state's status.
func (c *Checked) Status() Status { return c.st.Status }

// PC returns the checked state's pc.
func (c *Checked) PC() uint32 { return c.st.PC }

// Steps returns the checked state's instruction count.
func (c *Checked) Steps() uint64 { return c.st.Steps }

// CheckResumable checks st as Check does and, if it passes, returns it as a
// Checked for ResumeChecked. The Checked holds a copy of *st whose slices
// alias st's. It voids every Checked the checker made before: only the
// latest may be resumed. ResumeChecked counts as a use of c: it must not
// run concurrently with c's other methods.
func (c *StateChecker) CheckResumable(p *Program, st *State, limits Limits) (Checked, error) {
	c.issued = 0
	if !p.validated {
		if err := p.Validate(); err != nil {
			return Checked{}, err
		}
	}
	limits = limits.withDefaults()
	if err := c.Check(p, st, limits); err != nil {
		return Checked{}, err
	}
	c.gen++
	c.issued = c.gen
	return Checked{checker: c, gen: c.gen, prog: p, limits: limits, st: *st}, nil
}

func (c *StateChecker) check(p *Program, st *State, limits Limits) error {
	if st.Program != p.hash {
		return fmt.Errorf("%w: state for program %s, have %s", ErrProgramMismatch, shortHash(st.Program), shortHash(p.hash))
	}
	if st.Status >= numStatus {
		return fmt.Errorf("bad status %d", st.Status)
	}
	if (st.Status == Faulted) != (st.Fault != 0) || st.Fault >= NumFaultCodes {
		return fmt.Errorf("fault code %d with status %s", st.Fault, st.Status)
	}
	if len(st.Globals) != int(p.NumGlobals) {
		return fmt.Errorf("%d globals, program has %d", len(st.Globals), p.NumGlobals)
	}
	if len(st.Output) > limits.MaxOutput {
		return fmt.Errorf("output of %d bytes exceeds quota %d", len(st.Output), limits.MaxOutput)
	}
	if len(st.Regs) > limits.MaxRegs {
		return fmt.Errorf("%d registers exceed quota %d", len(st.Regs), limits.MaxRegs)
	}
	if len(st.Frames) > limits.MaxDepth {
		return fmt.Errorf("%d frames exceed depth limit %d", len(st.Frames), limits.MaxDepth)
	}
	if st.Status == Finished {
		if len(st.Frames) != 0 || len(st.Regs) != 0 || st.PC != 0 {
			return fmt.Errorf("finished state has frames, registers or pc")
		}
	} else if len(st.Frames) == 0 {
		return fmt.Errorf("%s state has no frames", st.Status)
	}
	live := 0
	for i, fr := range st.Frames {
		if int(fr.Fn) >= len(p.Funcs) {
			return fmt.Errorf("frame %d: function %d out of range", i, fr.Fn)
		}
		if int(fr.Base) != live {
			return fmt.Errorf("frame %d: base %d, want %d", i, fr.Base, live)
		}
		if i == 0 {
			if fr.Fn != p.Entry || fr.RetPC != NoReturn || fr.RetReg != 0 {
				return fmt.Errorf("frame 0 is not the entry function's")
			}
		} else {
			caller := &p.Funcs[st.Frames[i-1].Fn]
			callerBase := st.Frames[i-1].Base
			if fr.RetPC <= caller.Entry || fr.RetPC >= caller.End {
				return fmt.Errorf("frame %d: return pc %d outside caller %s", i, fr.RetPC, caller.Name)
			}
			call := p.Code[fr.RetPC-1]
			called := call.Op() == CALL && call.C() == int(fr.Fn) ||
				call.Op() == CALLF && p.shapes[call.C()] == p.shapes[fr.Fn]
			if !called || uint32(call.B())+callerBase != fr.RetReg {
				return fmt.Errorf("frame %d: return pc %d does not follow a call of %s into r%d", i, fr.RetPC, p.Funcs[fr.Fn].Name, fr.RetReg)
			}
		}
		live += int(p.Funcs[fr.Fn].NRegs)
	}
	if len(st.Regs) != live {
		return fmt.Errorf("%d registers, frames need %d", len(st.Regs), live)
	}
	if n := len(st.Frames); n > 0 {
		f := &p.Funcs[st.Frames[n-1].Fn]
		if st.PC < f.Entry || st.PC >= f.End {
			return fmt.Errorf("pc %d outside %s [%d,%d)", st.PC, f.Name, f.Entry, f.End)
		}
	}

	// The heap must parse as a sequence of objects; starts marks them.
	heap := st.Heap
	used := uint64(len(heap))
	switch {
	case st.HeapCap%8 != 0 || st.HeapCap > limits.MaxHeap:
		return fmt.Errorf("heap capacity %d is unaligned or over the quota %d", st.HeapCap, limits.MaxHeap)
	case used%8 != 0 || used < 8 || used > st.HeapCap:
		return fmt.Errorf("heap of %d bytes (capacity %d)", used, st.HeapCap)
	case st.HeapCap > heapTrigger(used, limits):
		// No run reaches it (see heapTrigger): the trigger is a number the
		// sender wrote, and the memory it would let the isolate take is
		// more than the heap it carries justifies.
		return fmt.Errorf("heap capacity %d exceeds what a heap of %d bytes can reach, %d", st.HeapCap, used, heapTrigger(used, limits))
	case le.Uint64(heap) != 0:
		return fmt.Errorf("heap nil word is not zero")
	}
	c.Reserve(int(used))
	starts := c.starts[:(used/8+63)/64]
	if c.touched == nil {
		c.touched = c.inline[:0]
	}
	touched := c.touched[:0]
	refArrays := c.refArrays[:0]
	defer func() {
		all := c.starts[:cap(c.starts)]
		for _, w := range touched {
			all[w] = 0
		}
		c.touched, c.refArrays = touched[:0], refArrays[:0]
	}()
	for off := uint64(8); off < used; {
		hdr := le.Uint64(heap[off:])
		kind, n := hdr>>56, hdr&lenMask
		var size uint64
		switch kind {
		case objString:
			if n > used-off-8 {
				return fmt.Errorf("string at %d overruns the heap", off)
			}
			size = 8 + roundUp8(n)
			for _, b := range heap[off+8+n : off+size] {
				if b != 0 {
					return fmt.Errorf("string at %d has non-zero padding", off)
				}
			}
		case objScalars, objRefs:
			if used-off < 16 {
				return fmt.Errorf("array at %d overruns the heap", off)
			}
			capacity := le.Uint64(heap[off+8:])
			if n > capacity || capacity > (used-off-16)/8 {
				return fmt.Errorf("array at %d: length %d, capacity %d overrun the heap", off, n, capacity)
			}
			size = 16 + 8*capacity
			if kind == objRefs && capacity > 0 {
				refArrays = append(refArrays, off)
			}
		case objStruct:
			if n > maxFields || used-off < structHeader || n > (used-off-structHeader)/8 {
				return fmt.Errorf("struct at %d: %d fields overrun the heap or the limit of %d", off, n, maxFields)
			}
			refMask, valMask := le.Uint64(heap[off+8:]), le.Uint64(heap[off+16:])
			if n < 64 && refMask>>n != 0 || valMask&^refMask != 0 {
				return fmt.Errorf("struct at %d: masks %#x, %#x do not fit %d fields", off, refMask, valMask, n)
			}
			size = structHeader + 8*n
			if refMask != 0 {
				refArrays = append(refArrays, off)
			}
		case objMap:
			if used-off < mapSize {
				return fmt.Errorf("map at %d overruns the heap", off)
			}
			size = mapSize
			refArrays = append(refArrays, off) // its arrays are checked below
		case objSliceS, objSliceR:
			if used-off < sliceHeaderSize {
				return fmt.Errorf("slice at %d overruns the heap", off)
			}
			if n > le.Uint64(heap[off+8:]) {
				return fmt.Errorf("slice at %d: length %d exceeds its capacity", off, n)
			}
			size = sliceHeaderSize
			refArrays = append(refArrays, off) // its array is checked below
		default:
			return fmt.Errorf("object at %d has unknown kind %d", off, kind)
		}
		if w := off / 8 / 64; starts[w] == 0 {
			touched = append(touched, w)
		}
		starts[off/8/64] |= 1 << (off / 8 % 64)
		off += size
	}
	isRef := func(v uint64) bool {
		return v == 0 || v < used && v%8 == 0 && starts[v/8/64]&(1<<(v/8%64)) != 0
	}
	for _, off := range refArrays {
		if heap[off+7] == objStruct {
			for m := le.Uint64(heap[off+8:]); m != 0; m &= m - 1 {
				i := uint64(bits.TrailingZeros64(m))
				if v := le.Uint64(heap[off+structHeader+8*i:]); !isRef(v) {
					return fmt.Errorf("struct at %d: field %d = %d is not a reference", off, i, v)
				}
			}
			continue
		}
		if heap[off+7] == objMap {
			if err := checkMap(heap, off, isRef); err != nil {
				return err
			}
			continue
		}
		if heap[off+7] != objRefs {
			if err := checkSlice(heap, off, isRef); err != nil {
				return err
			}
			continue
		}
		n := le.Uint64(heap[off+8:]) // up to the capacity: slices reach there
		for i := uint64(0); i < n; i++ {
			if v := le.Uint64(heap[off+16+8*i:]); !isRef(v) {
				return fmt.Errorf("array at %d: element %d = %d is not a reference", off, i, v)
			}
		}
	}
	for w, word := range p.GlobalRefs {
		for ; word != 0; word &= word - 1 {
			g := w*64 + bits.TrailingZeros64(word)
			if !isRef(st.Globals[g]) {
				return fmt.Errorf("global %d = %d is not a reference", g, st.Globals[g])
			}
		}
	}
	for i, fr := range st.Frames {
		window := st.Regs[fr.Base:]
		for w, word := range p.Funcs[fr.Fn].RefRegs {
			for ; word != 0; word &= word - 1 {
				r := w*64 + bits.TrailingZeros64(word)
				if !isRef(window[r]) {
					return fmt.Errorf("frame %d: r%d = %d is not a reference", i, r, window[r])
				}
			}
		}
	}
	if st.Status == Finished && p.Result().IsRef() && !isRef(st.Result) {
		return fmt.Errorf("result %d is not a reference", st.Result)
	}
	return nil
}

// checkSlice checks the slice header at off: its array is an array object
// of the header's element kind, and its window, element 0 onwards for the
// header's capacity, lies inside the array's capacity.
func checkSlice(heap []byte, off uint64, isRef func(uint64) bool) error {
	arr, data := le.Uint64(heap[off+16:]), le.Uint64(heap[off+24:])
	if arr == 0 || !isRef(arr) || uint64(heap[arr+7]) != uint64(heap[off+7])-(objSliceS-objScalars) {
		return fmt.Errorf("slice at %d: array %d is not an array of its kind", off, arr)
	}
	capacity := le.Uint64(heap[off+8:])
	acap := le.Uint64(heap[arr+8:])
	if data < arr+16 || (data-arr-16)%8 != 0 || (data-arr-16)/8 > acap || capacity > acap-(data-arr-16)/8 {
		return fmt.Errorf("slice at %d: window at %d of capacity %d is outside its array at %d", off, data, capacity, arr)
	}
	return nil
}

// checkMap checks the map at off: its four arrays exist and have the
// kinds its info says, its entry arrays one capacity that holds the
// entries used, its count at most those, its index a power of two at
// least twice the entries' capacity (what the VM keeps: an index merely
// longer than the entries used would be accepted here and then fill up as
// the isolate inserts, leaving a state this check refuses). What it does
// not check (that the index finds every
// entry, that the hashes are the keys' hashes) can make a lookup miss, never
// make the VM read outside an array: the VM checks every position it reads.
func checkMap(heap []byte, off uint64, isRef func(uint64) bool) error {
	info := le.Uint64(heap[off+mInfo:])
	if info&^mapInfoMask != 0 {
		return fmt.Errorf("map at %d: bad info %#x", off, info)
	}
	array := func(field uint64, kind byte) (uint64, error) {
		a := le.Uint64(heap[off+field:])
		if a == 0 || !isRef(a) || heap[a+7] != kind {
			return 0, fmt.Errorf("map at %d: field %d = %d is not an array of kind %d", off, field, a, kind)
		}
		return le.Uint64(heap[a+8:]), nil
	}
	keyKind, valKind := byte(objScalars), byte(objScalars)
	if info&mapStringKeys != 0 {
		keyKind = objRefs
	}
	if info&mapRefValues != 0 {
		valKind = objRefs
	}
	kc, err := array(mKeys, keyKind)
	if err != nil {
		return err
	}
	vc, err := array(mValues, valKind)
	if err != nil {
		return err
	}
	mc, err := array(mMeta, objScalars)
	if err != nil {
		return err
	}
	ic, err := array(mIndex, objScalars)
	if err != nil {
		return err
	}
	used, count := le.Uint64(heap[off+mUsed:]), objLen(heap, off)
	if kc != vc || kc != mc || used > kc || count > used || ic&(ic-1) != 0 || ic < 2*kc {
		return fmt.Errorf("map at %d: %d entries of %d used, capacities %d, %d, %d, index %d", off, count, used, kc, vc, mc, ic)
	}
	return nil
}

// shortHash is the first 8 bytes of a hash in hex. It takes the hash by value:
// slicing the caller's array for %x would move the whole state to the heap.
func shortHash(h [32]byte) string { return hex.EncodeToString(h[:8]) }
