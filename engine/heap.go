package engine

import (
	"bytes"
	"math/bits"
)

// Heap object kinds, the top byte of an object's header word.
const (
	objString  = 1
	objScalars = 2    // an array of scalars: the backing store of slices
	objRefs    = 3    // an array of refs
	objSliceS  = 4    // a slice header over an objScalars array
	objSliceR  = 5    // a slice header over an objRefs array
	objStruct  = 6    // a struct value, a pointer's cell or a closure (see struct.go)
	objMap     = 7    // a map (see maps.go)
	objForward = 0xFF // only inside a collection: the low bits hold the new offset

	lenMask = 1<<56 - 1
)

func roundUp8(n uint64) uint64   { return (n + 7) &^ 7 }
func roundDown8(n uint64) uint64 { return n &^ 7 }

func objLen(heap []byte, ref uint64) uint64 { return le.Uint64(heap[ref:]) & lenMask }

// sliceHeaderSize is the size of an objSliceS or objSliceR object: header
// (kind, length), capacity, array, offset of element 0.
const sliceHeaderSize = 32

// objSize returns the size in bytes of the object at ref.
func objSize(heap []byte, ref uint64) uint64 {
	hdr := le.Uint64(heap[ref:])
	switch hdr >> 56 {
	case objString:
		return 8 + roundUp8(hdr&lenMask)
	case objSliceS, objSliceR:
		return sliceHeaderSize
	case objStruct:
		return structHeader + 8*(hdr&lenMask)
	case objMap:
		return mapSize
	}
	return 16 + 8*le.Uint64(heap[ref+8:])
}

// alloc returns the offset of n fresh zero bytes (n a multiple of 8), first
// collecting garbage if the heap would grow past HeapCap. It traps when the
// heap quota cannot hold the request.
func (iso *Isolate) alloc(n uint64, pc int, steps uint64) uint64 {
	if n > iso.limits.MaxHeap {
		iso.trap(faultHeapQuota, pc, steps)
	}
	used := uint64(len(iso.heap))
	if used+n > iso.st.HeapCap {
		iso.collect(n, pc, steps)
		used = uint64(len(iso.heap))
	}
	if used+n > uint64(cap(iso.heap)) {
		iso.growArena(used + n)
	}
	iso.heap = iso.heap[:used+n]
	clear(iso.heap[used:])
	iso.markRange(used, used+n)
	return used
}

// minArena is the smallest arena capacity growArena reserves.
const minArena = 4 << 10

// growArena gives the arena a capacity of at least need bytes (need <=
// HeapCap). The capacity doubles, up to HeapCap, so that memory follows the
// heap really in use: HeapCap is only the collection trigger, a number a
// state from elsewhere may set as high as the quota, and reserving it up
// front would let a tiny state claim the whole quota in memory.
func (iso *Isolate) growArena(need uint64) {
	c := min(max(need, 2*uint64(cap(iso.heap)), minArena), max(iso.st.HeapCap, need))
	h := make([]byte, len(iso.heap), c)
	copy(h, iso.heap)
	discard(iso.heap)
	iso.heap = h
	iso.fitDirty()
}

func (iso *Isolate) newArray(kind, length, capacity uint64, pc int, steps uint64) uint64 {
	if capacity > iso.limits.MaxHeap/8 {
		iso.trap(faultHeapQuota, pc, steps)
	}
	ref := iso.alloc(16+8*capacity, pc, steps)
	iso.put(ref, kind<<56|length)
	iso.put(ref+8, capacity)
	return ref
}

func (iso *Isolate) newStringBytes(s []byte, pc int, steps uint64) uint64 {
	ref := iso.alloc(8+roundUp8(uint64(len(s))), pc, steps)
	iso.put(ref, objString<<56|uint64(len(s)))
	copy(iso.heap[ref+8:], s)
	return ref
}

func (iso *Isolate) newString(s string, pc int, steps uint64) uint64 {
	ref := iso.alloc(8+roundUp8(uint64(len(s))), pc, steps)
	iso.put(ref, objString<<56|uint64(len(s)))
	copy(iso.heap[ref+8:], s)
	return ref
}

// length returns the length of the string or array at ref (0 for nil).
func (iso *Isolate) length(ref uint64, pc int, steps uint64) uint64 {
	if ref == 0 {
		return 0
	}
	return objLen(iso.heap, ref)
}

// element returns the offset of element i of the slice at ref. It traps
// when i is out of range, and when the slice does not hold kind's elements
// (objScalars or objRefs; a string is neither): a scalar read into a ref
// register would be followed by LEN, string operations and the collector as
// if it were a reference, and a ref array holding a scalar would mislead the
// collector. Compiled code always matches; the check guards states from
// elsewhere, which CheckState cannot type (it checks that refs point at
// objects, not what the code expects to find there).
func (iso *Isolate) element(kind, ref, i uint64, pc int, steps uint64) uint64 {
	// The fast path, small enough to inline into the dispatch loop: an
	// array that is the whole slice.
	if ref != 0 {
		if hdr := le.Uint64(iso.heap[ref:]); hdr>>56 == kind && i < hdr&lenMask {
			return ref + 16 + 8*i
		}
	}
	return iso.elementOfSlice(kind, ref, i, pc, steps)
}

// elementOfSlice is element's path for slice headers, and its faults.
func (iso *Isolate) elementOfSlice(kind, ref, i uint64, pc int, steps uint64) uint64 {
	if ref != 0 {
		hdr := le.Uint64(iso.heap[ref:])
		if i < hdr&lenMask {
			switch hdr >> 56 {
			case kind:
				return ref + 16 + 8*i
			case kind + objSliceS - objScalars:
				return le.Uint64(iso.heap[ref+24:]) + 8*i
			}
			iso.trap(faultKindMismatch, pc, steps)
		}
	}
	iso.trapIndex(ref, i, pc, steps)
	return 0
}

func (iso *Isolate) arrayGet(kind, ref, i uint64, pc int, steps uint64) uint64 {
	return le.Uint64(iso.heap[iso.element(kind, ref, i, pc, steps):])
}

func (iso *Isolate) arraySet(kind, ref, i, v uint64, pc int, steps uint64) {
	iso.put(iso.element(kind, ref, i, pc, steps), v)
}

// stringBytes returns the bytes of the string at ref; they alias the heap.
func (iso *Isolate) stringBytes(ref uint64, pc int, steps uint64) []byte {
	if ref == 0 {
		return nil
	}
	if iso.heap[ref+7] != objString {
		iso.trap(faultKindMismatch, pc, steps)
	}
	n := objLen(iso.heap, ref)
	return iso.heap[ref+8 : ref+8+n]
}

func (iso *Isolate) compareStrings(a, b uint64, pc int, steps uint64) int {
	return bytes.Compare(iso.stringBytes(a, pc, steps), iso.stringBytes(b, pc, steps))
}

func (iso *Isolate) concat(r []uint64, x, y int, pc int, steps uint64) uint64 {
	n := iso.length(r[x], pc, steps) + iso.length(r[y], pc, steps)
	ref := iso.alloc(8+roundUp8(n), pc, steps)
	iso.put(ref, objString<<56|n)
	a := iso.stringBytes(r[x], pc, steps) // read after alloc: it may have moved
	copy(iso.heap[ref+8:], a)
	copy(iso.heap[ref+8+uint64(len(a)):], iso.stringBytes(r[y], pc, steps))
	return ref
}

func (iso *Isolate) stringByte(ref, i uint64, pc int, steps uint64) uint64 {
	s := iso.stringBytes(ref, pc, steps)
	if i >= uint64(len(s)) {
		iso.trapIndex(ref, i, pc, steps)
	}
	return uint64(s[i])
}

// collect is a Cheney copying collection. The roots are the ref globals and,
// frame by frame, the registers that the frame's function marks as refs; the
// static types make it precise. Afterwards HeapCap is set from the live heap
// (heapTrigger: twice the live bytes or the request, rounded up to
// InitialHeap×2^k, within the quota), so that collections stay rare while
// the trigger follows the live data down as well as up. Everything here depends
// only on the state, so a resumed isolate collects exactly when the original
// would have.
//
// The from-space is kept as the next collection's to-space, so a steady heap
// allocates nothing. When the used heap has outgrown the spare, the spare is
// dropped and its pages handed back to the OS at once (discard), like the
// arena growArena replaces: left to the Go collector's pacing, the two
// outgrown semispaces stayed resident beside the two new ones.
//
// Measured and rejected (BenchmarkHeapNearQuota, see the package doc):
// dropping the from-space after each collection instead of keeping it made
// the peak worse (1.6-1.8 GiB: the Go heap's garbage and fragmentation grew
// faster than the spare it saved); releasing the spare's pages after every
// collection cut little (965 MiB) and made the run 8x slower, since every
// collection and allocation then faults its pages back in.
func (iso *Isolate) collect(need uint64, pc int, steps uint64) {
	// The to-space receives the live part of the used heap, so it needs no
	// more than len(heap) bytes; a new one gets room to grow into, up to
	// HeapCap (a request larger than HeapCap allows is no reason to reserve
	// HeapCap).
	used := uint64(len(iso.heap))
	to := iso.spare
	if uint64(cap(to)) < used {
		discard(to)
		iso.spare = nil
		to = make([]byte, 8, min(iso.st.HeapCap, max(2*used, minArena)))
	} else {
		to = to[:8]
		clear(to)
	}
	g := copier{from: iso.heap, to: to}
	p := iso.prog
	for w, word := range p.GlobalRefs {
		for ; word != 0; word &= word - 1 {
			i := w*64 + bits.TrailingZeros64(word)
			iso.st.Globals[i] = g.forward(iso.st.Globals[i])
		}
	}
	for _, fr := range iso.st.Frames {
		window := iso.regs[fr.Base:]
		for w, word := range p.Funcs[fr.Fn].RefRegs {
			for ; word != 0; word &= word - 1 {
				i := w*64 + bits.TrailingZeros64(word)
				window[i] = g.forward(window[i])
			}
		}
	}
	for scan := uint64(8); scan < uint64(len(g.to)); scan += objSize(g.to, scan) {
		switch g.to[scan+7] {
		case objRefs:
			// Every element up to the capacity: slices reach past the
			// array's own length.
			n := le.Uint64(g.to[scan+8:])
			for i := uint64(0); i < n; i++ {
				off := scan + 16 + 8*i
				le.PutUint64(g.to[off:], g.forward(le.Uint64(g.to[off:])))
			}
		case objStruct:
			for m := le.Uint64(g.to[scan+8:]); m != 0; m &= m - 1 {
				off := scan + structHeader + 8*uint64(bits.TrailingZeros64(m))
				le.PutUint64(g.to[off:], g.forward(le.Uint64(g.to[off:])))
			}
		case objMap:
			for off := scan + mKeys; off <= scan+mIndex; off += 8 {
				le.PutUint64(g.to[off:], g.forward(le.Uint64(g.to[off:])))
			}
		case objSliceS, objSliceR:
			// The array moves, and element 0's offset with it.
			arr, data := le.Uint64(g.to[scan+16:]), le.Uint64(g.to[scan+24:])
			narr := g.forward(arr)
			le.PutUint64(g.to[scan+16:], narr)
			le.PutUint64(g.to[scan+24:], narr+(data-arr))
		}
	}
	iso.spare = iso.heap[:0]
	iso.heap = g.to
	// Every object moved: pre-copy starts its rounds over (see the
	// package doc, "Pre-copy").
	iso.markAll()
	used = uint64(len(iso.heap))
	// The trigger follows the live heap, up and down (see heapTrigger).
	if used+need > iso.limits.MaxHeap {
		iso.st.HeapCap = heapTrigger(used, iso.limits)
		iso.trap(faultHeapQuota, pc, steps)
	}
	iso.st.HeapCap = heapTrigger(max(used, (used+need+1)/2), iso.limits)
	// A spare outgrown by more than twice the trigger is memory the live
	// heap no longer justifies: the next collection makes one to measure.
	if uint64(cap(iso.spare)) > 2*iso.st.HeapCap {
		discard(iso.spare)
		iso.spare = nil
	}
}

// heapGrowth is the collection trigger's growth factor: after a collection
// that leaves used bytes live, the heap may grow to at least heapGrowth×used
// before the next one, as Go's GOGC=100 does.
const heapGrowth = 2

// heapTrigger returns HeapCap after a collection that left used bytes live:
// the smallest InitialHeap×2^k that is at least heapGrowth×used, and at most
// MaxHeap. It depends only on the state and the limits, so a resumed isolate
// sets the same trigger as the original; it is recomputed from the live heap
// at every collection, so it shrinks as well as grows; and it moves in
// powers of two, so that a live heap growing a little at each collection
// does not change it (and with it the size of the semispaces) every time.
//
// A collection whose request needs more than half the trigger takes
// heapTrigger of half of used+need instead, and the allocation then fills
// the heap to used+need: so at every stop, HeapCap <=
// heapTrigger(len(Heap)), the bound CheckState enforces on states from
// elsewhere. A state can claim no more than about 4× the heap it carries
// (twice for the growth, twice for the rounding), and no more than a
// straight run with that heap could have.
func heapTrigger(used uint64, limits Limits) uint64 {
	target := heapGrowth * used
	hc := max(limits.InitialHeap, 8)
	for hc < target && hc < limits.MaxHeap {
		if hc > limits.MaxHeap/2 {
			return limits.MaxHeap
		}
		hc *= 2
	}
	return min(hc, limits.MaxHeap)
}

type copier struct{ from, to []byte }

func (g *copier) forward(ref uint64) uint64 {
	if ref == 0 {
		return 0
	}
	hdr := le.Uint64(g.from[ref:])
	if hdr>>56 == objForward {
		return hdr & lenMask
	}
	size := objSize(g.from, ref)
	nref := uint64(len(g.to))
	g.to = append(g.to, g.from[ref:ref+size]...)
	le.PutUint64(g.from[ref:], objForward<<56|nref)
	return nref
}
