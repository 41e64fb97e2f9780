package engine

import "math/bits"

// Structs.
//
// A struct object (objStruct) holds up to 64 one-word fields after three
// header words: kind<<56 | n, the ref mask (bit i: field i is a
// reference) and the value mask (bit i: field i is a struct value the
// object owns, a subset of the ref mask). A Go struct value is a ref to an
// object that only it holds: assigning one copies the fields into the
// destination's object (SCOPY), and storing one in a new place copies the
// object (CLONE), down through the fields the value mask marks, which
// is what makes x := y, f(y) and append(s, y) copy a struct as Go does
// while &x, &s[i] and &x.f name the very object that holds x. A pointer
// to a struct is a ref to its object; a pointer to anything else is a ref
// to a one-field object, a cell, that holds the pointee. Closures are
// struct objects too: field 0 is the function's index, the others the
// captured variables' cells (see CALLF).
//
// The masks make the object self-describing, so the collector and
// CheckState need no type table; an instruction that reads or writes a
// field checks the field's bit, so a state from elsewhere cannot make a
// scalar pass for a reference.

const (
	structHeader = 24 // header, ref mask, value mask
	maxFields    = 64
	// maxValueDepth bounds how deep CLONE and SCOPY follow value fields.
	// Compiled types nest far less; a state from elsewhere whose value
	// fields form a cycle faults instead of recursing forever.
	maxValueDepth = 100
)

// newStruct allocates a zero struct of n fields with the given masks.
func (iso *Isolate) newStruct(n int, refMask, valMask uint64, pc int, steps uint64) uint64 {
	ref := iso.alloc(structHeader+8*uint64(n), pc, steps)
	iso.put(ref, objStruct<<56|uint64(n))
	iso.put(ref+8, refMask)
	iso.put(ref+16, valMask)
	return ref
}

// field returns the offset of field i of the struct at ref, which must be
// a reference exactly when isRef is 1. A nil ref is a nil dereference.
func (iso *Isolate) field(ref uint64, i int, isRef uint64, pc int, steps uint64) uint64 {
	if ref != 0 {
		if hdr := le.Uint64(iso.heap[ref:]); hdr>>56 == objStruct && uint64(i) < hdr&lenMask &&
			le.Uint64(iso.heap[ref+8:])>>i&1 == isRef {
			return ref + structHeader + 8*uint64(i)
		}
		iso.trap(faultKindMismatch, pc, steps)
	}
	iso.trap(faultNilDeref, pc, steps)
	return 0
}

// structAt checks that ref is a struct (nil is a nil dereference) and
// returns its field count and masks.
func (iso *Isolate) structAt(ref uint64, pc int, steps uint64) (n int, refMask, valMask uint64) {
	if ref == 0 {
		iso.trap(faultNilDeref, pc, steps)
	}
	hdr := le.Uint64(iso.heap[ref:])
	if hdr>>56 != objStruct {
		iso.trap(faultKindMismatch, pc, steps)
	}
	return int(hdr & lenMask), le.Uint64(iso.heap[ref+8:]), le.Uint64(iso.heap[ref+16:])
}

// cloneSize returns the bytes a deep copy of the struct at ref takes.
func (iso *Isolate) cloneSize(ref uint64, depth int, pc int, steps uint64) uint64 {
	if depth > maxValueDepth {
		iso.trap(faultKindMismatch, pc, steps)
	}
	n, _, valMask := iso.structAt(ref, pc, steps)
	size := structHeader + 8*uint64(n)
	for m := valMask; m != 0; m &= m - 1 {
		i := trailingZeros(m)
		size += iso.cloneSize(le.Uint64(iso.heap[ref+structHeader+8*uint64(i):]), depth+1, pc, steps)
	}
	return size
}

// reserve makes room for n more bytes of allocations in this instruction,
// collecting first if they would pass HeapCap, so that the allocations
// that follow do not collect (and move what they copy) between them.
func (iso *Isolate) reserve(n uint64, pc int, steps uint64) {
	if n > iso.limits.MaxHeap {
		iso.trap(faultHeapQuota, pc, steps)
	}
	if uint64(len(iso.heap))+n > iso.st.HeapCap {
		iso.collect(n, pc, steps)
	}
	if used := uint64(len(iso.heap)); used+n > uint64(cap(iso.heap)) {
		iso.growArena(used + n)
	}
}

// cloneValue implements R[a] = deep copy of the struct in r[src]: the
// object and every struct it owns through its value fields. With zero,
// the copy's other fields are zero: a zero value shaped like the source.
func (iso *Isolate) cloneValue(r []uint64, src int, zero bool, pc int, steps uint64) uint64 {
	iso.reserve(iso.cloneSize(r[src], 0, pc, steps), pc, steps)
	return iso.copyOut(r[src], zero, pc, steps) // r[src] read after a collection may have moved it
}

// copyOut copies the struct at ref into new objects; room is reserved.
func (iso *Isolate) copyOut(ref uint64, zero bool, pc int, steps uint64) uint64 {
	n, refMask, valMask := iso.structAt(ref, pc, steps)
	c := iso.newStruct(n, refMask, valMask, pc, steps)
	if !zero {
		copy(iso.heap[c+structHeader:c+structHeader+8*uint64(n)], iso.heap[ref+structHeader:ref+structHeader+8*uint64(n)])
	}
	for m := valMask; m != 0; m &= m - 1 {
		off := structHeader + 8*uint64(trailingZeros(m))
		iso.put(c+off, iso.copyOut(le.Uint64(iso.heap[ref+off:]), zero, pc, steps))
	}
	return c
}

// assignValue implements the struct assignment *dst = *src: the fields
// are copied into dst's objects, down through the value fields, so that
// every pointer to dst or to a struct it owns sees the new value. The two
// must have the same shape. Compiled code never assigns a struct from one
// that it owns or that owns it (a type cannot hold itself by value), so
// the copy never reads what it has written.
func (iso *Isolate) assignValue(dst, src uint64, depth int, pc int, steps uint64) {
	if depth > maxValueDepth {
		iso.trap(faultKindMismatch, pc, steps)
	}
	n, refMask, valMask := iso.structAt(dst, pc, steps)
	sn, srefMask, svalMask := iso.structAt(src, pc, steps)
	if n != sn || refMask != srefMask || valMask != svalMask {
		iso.trap(faultKindMismatch, pc, steps)
	}
	if dst == src {
		return
	}
	for i := 0; i < n; i++ {
		off := structHeader + 8*uint64(i)
		v := le.Uint64(iso.heap[src+off:])
		if valMask>>i&1 != 0 {
			iso.assignValue(le.Uint64(iso.heap[dst+off:]), v, depth+1, pc, steps)
			continue
		}
		iso.put(dst+off, v)
	}
}

// appendValue implements R[dst] = append(R[dst], R[val]) for a slice of
// struct values, R[val] being a copy the slice may keep. Every element of
// an array of struct values, up to its capacity, is an object (a Go array
// holds values): within the capacity the value is copied into the next
// element's object, which a pointer taken through a longer slice of the
// same array sees, as in Go; when the slice grows, the new array holds
// copies of the old elements (the old array keeps its own), then R[val],
// then zero values.
func (iso *Isolate) appendValue(r []uint64, dst, esize, val int, pc int, steps uint64) uint64 {
	_, n, c := iso.view(objRefs, r[dst], pc, steps)
	if n < c {
		h := iso.newHeader(objRefs, r, dst, 0, n+1, c, pc, steps)
		data := le.Uint64(iso.heap[h+24:])
		iso.assignValue(le.Uint64(iso.heap[data+8*n:]), r[val], 0, pc, steps)
		return h
	}
	nref := iso.grow(objRefs, r, dst, n+1, esize, pc, steps)
	iso.put(nref+16+8*n, r[val])
	r[dst] = nref // a root while the copies are made
	iso.fillValues(r, dst, val, n, n+1, pc, steps)
	return r[dst]
}

// appendValues implements R[dst] = append(R[dst], R[src]...) for slices of
// struct values, as appendValue does for each element of R[src].
func (iso *Isolate) appendValues(r []uint64, dst, esize, src int, pc int, steps uint64) uint64 {
	_, _, m, _ := iso.anyView(r[src], pc, steps)
	if m == 0 {
		return r[dst]
	}
	_, n, c := iso.view(objRefs, r[dst], pc, steps)
	if n+m <= c {
		h := iso.newHeader(objRefs, r, dst, 0, n+m, c, pc, steps)
		data := le.Uint64(iso.heap[h+24:])
		sdata, _, _ := iso.view(objRefs, r[src], pc, steps)
		if data+8*n > sdata { // as memmove: never overwrite what is still to be read
			for i := m; i > 0; i-- {
				iso.assignValue(le.Uint64(iso.heap[data+8*(n+i-1):]), le.Uint64(iso.heap[sdata+8*(i-1):]), 0, pc, steps)
			}
		} else {
			for i := uint64(0); i < m; i++ {
				iso.assignValue(le.Uint64(iso.heap[data+8*(n+i):]), le.Uint64(iso.heap[sdata+8*i:]), 0, pc, steps)
			}
		}
		return h
	}
	nref := iso.grow(objRefs, r, dst, n+m, esize, pc, steps)
	sdata, _, _ := iso.view(objRefs, r[src], pc, steps)
	copy(iso.heap[nref+16+8*n:nref+16+8*(n+m)], iso.heap[sdata:sdata+8*m])
	r[dst] = nref
	iso.fillValues(r, dst, dst, n+m, n+m, pc, steps) // its elements are shapes enough
	return r[dst]
}

// fillValues replaces the first from elements of the array in r[arr] by
// copies of themselves (it was just grown from an array that keeps the
// originals), and makes those from start up to its capacity zero values
// shaped like the struct in r[shape], or like element 0 when shape is arr.
func (iso *Isolate) fillValues(r []uint64, arr, shape int, from, start uint64, pc int, steps uint64) {
	a := iso.backing(r[arr])
	capacity := le.Uint64(iso.heap[a+8:])
	shapeOf := func() uint64 {
		if shape == arr {
			return le.Uint64(iso.heap[iso.backing(r[arr])+16:])
		}
		return r[shape]
	}
	var size uint64
	for i := uint64(0); i < from; i++ {
		size += iso.cloneSize(le.Uint64(iso.heap[a+16+8*i:]), 0, pc, steps)
	}
	if start < capacity {
		size += (capacity - start) * iso.cloneSize(shapeOf(), 0, pc, steps)
	}
	iso.reserve(size, pc, steps)
	a = iso.backing(r[arr]) // a collection may have moved it
	for i := uint64(0); i < from; i++ {
		iso.put(a+16+8*i, iso.copyOut(le.Uint64(iso.heap[a+16+8*i:]), false, pc, steps))
	}
	for i := start; i < capacity; i++ {
		iso.put(a+16+8*i, iso.copyOut(shapeOf(), true, pc, steps))
	}
}

// copyValues implements copy(R[b], R[c]) for slices of struct values:
// each destination element takes the source element's value, in the
// order that reads every source element before it is overwritten (the two
// may share an array).
func (iso *Isolate) copyValues(dst, src uint64, pc int, steps uint64) uint64 {
	ddata, dn, _ := iso.view(objRefs, dst, pc, steps)
	sdata, sn, _ := iso.view(objRefs, src, pc, steps)
	m := min(dn, sn)
	assign := func(i uint64) {
		iso.assignValue(le.Uint64(iso.heap[ddata+8*i:]), le.Uint64(iso.heap[sdata+8*i:]), 0, pc, steps)
	}
	if ddata > sdata {
		for i := m; i > 0; i-- {
			assign(i - 1)
		}
	} else {
		for i := uint64(0); i < m; i++ {
			assign(i)
		}
	}
	return m
}

func trailingZeros(m uint64) int { return bits.TrailingZeros64(m) }
