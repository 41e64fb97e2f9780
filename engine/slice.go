package engine

import "unicode/utf8"

// Slices.
//
// A slice value is one ref: nil (the nil slice), an array object (the slice
// of all of it: offset 0, its length and capacity), or a slice header
// (objSliceS, objSliceR) that names a window of an array: its length, its
// capacity and the offset in the heap of its element 0. Headers are
// immutable, like a Go slice header held in a register: append, slicing
// and make with a capacity make a new one, so no slice value ever changes
// the length or capacity another one sees, while the elements they share
// are shared, exactly as in Go. An array's own length is fixed when it is
// made; its elements past that length are reachable through headers.

// elemSize is the B operand of the append instructions: the size in bytes
// that Go gives one element (bits 0-14) and whether the element type holds
// pointers (bit 15), the two things Go's growth rule looks at.
const (
	elemSizeMask  = 1<<15 - 1
	elemsPointers = 1 << 15
)

// goSizeClasses are the Go runtime's small-object size classes
// (internal/runtime/gc.SizeClassToSize, go1.26), which decide the
// capacity append gives a grown slice; TestGrowCapMatchesGo checks them
// against the running Go.
var goSizeClasses = [...]uint64{0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// roundUpSize is the Go runtime's roundupsize: the bytes mallocgc really
// gives a request of size bytes (noscan: the memory holds no pointers).
func roundUpSize(size uint64, noscan bool) uint64 {
	const (
		maxSmallSize           = 32768
		mallocHeaderSize       = 8
		minSizeForMallocHeader = 512
		pageSize               = 8192
	)
	req := size
	if req <= maxSmallSize-mallocHeaderSize {
		if !noscan && req > minSizeForMallocHeader {
			req += mallocHeaderSize
		}
		lo, hi := 0, len(goSizeClasses)-1 // the least class >= req
		for lo < hi {
			mid := (lo + hi) / 2
			if goSizeClasses[mid] >= req {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		return goSizeClasses[lo] - (req - size)
	}
	req += pageSize - 1
	if req < size {
		return size
	}
	return req &^ (pageSize - 1)
}

// growCap is the capacity Go's append gives a slice of capacity oldCap
// that must grow to hold newLen elements of esize bytes (runtime.growslice
// and nextslicecap). It returns 0 when the result would not fit in limit
// elements.
func growCap(newLen, oldCap, esize uint64, noscan bool, limit uint64) uint64 {
	if esize == 0 {
		return newLen
	}
	newcap := oldCap
	if double := 2 * oldCap; newLen > double {
		newcap = newLen
	} else if oldCap < 256 {
		newcap = double
	} else {
		for newcap < newLen {
			newcap += (newcap + 3*256) >> 2
		}
	}
	if newcap > limit {
		return 0
	}
	return roundUpSize(newcap*esize, noscan) / esize
}

// view returns the heap offset of element 0, the length and the capacity
// of the slice at ref, which must hold kind's elements (objScalars or
// objRefs); nil is the empty slice.
func (iso *Isolate) view(kind, ref uint64, pc int, steps uint64) (data, n, c uint64) {
	if ref == 0 {
		return 0, 0, 0
	}
	hdr := le.Uint64(iso.heap[ref:])
	switch hdr >> 56 {
	case kind:
		return ref + 16, hdr & lenMask, le.Uint64(iso.heap[ref+8:])
	case kind + objSliceS - objScalars:
		return le.Uint64(iso.heap[ref+24:]), hdr & lenMask, le.Uint64(iso.heap[ref+8:])
	}
	iso.trap(faultKindMismatch, pc, steps)
	return
}

// anyView is view for either element kind; it also returns the kind.
func (iso *Isolate) anyView(ref uint64, pc int, steps uint64) (kind, data, n, c uint64) {
	if ref == 0 {
		return 0, 0, 0, 0
	}
	switch k := uint64(iso.heap[ref+7]); k {
	case objScalars, objSliceS:
		data, n, c = iso.view(objScalars, ref, pc, steps)
		return objScalars, data, n, c
	case objRefs, objSliceR:
		data, n, c = iso.view(objRefs, ref, pc, steps)
		return objRefs, data, n, c
	}
	iso.trap(faultKindMismatch, pc, steps)
	return
}

// backing returns the array that the slice at ref (not nil) is a window of.
func (iso *Isolate) backing(ref uint64) uint64 {
	if k := iso.heap[ref+7]; k == objSliceS || k == objSliceR {
		return le.Uint64(iso.heap[ref+16:])
	}
	return ref
}

// newHeader makes a header for the window [data, data+8n) of capacity c of
// the array behind the slice in r[src], of the given kind. It allocates
// first and reads r[src] after, since a collection may move the array.
func (iso *Isolate) newHeader(kind uint64, r []uint64, src int, off, n, c uint64, pc int, steps uint64) uint64 {
	h := iso.alloc(32, pc, steps)
	ref := r[src]
	arr := iso.backing(ref)
	data, _, _ := iso.view(kind, ref, pc, steps)
	iso.put(h, (kind+objSliceS-objScalars)<<56|n)
	iso.put(h+8, c)
	iso.put(h+16, arr)
	iso.put(h+24, data+8*off)
	return h
}

// newSlice implements make([]T, n, c): an array of capacity c whose first
// n elements are the slice; the array itself when n == c.
func (iso *Isolate) newSlice(kind uint64, r []uint64, dst int, n, c int64, pc int, steps uint64) uint64 {
	if n < 0 {
		iso.trap(faultNegativeLength, pc, steps)
	}
	if c < n {
		iso.trap(faultCapOutOfRange, pc, steps)
	}
	arr := iso.newArray(kind, uint64(c), uint64(c), pc, steps)
	if n == c {
		return arr
	}
	r[dst] = arr // a root while the header is allocated
	return iso.newHeader(kind, r, dst, 0, uint64(n), uint64(c), pc, steps)
}

// quickHeader makes the header of the window at data (length n, capacity
// c) of array arr when the arena has room for it below HeapCap, so that
// nothing can collect or move: no allocation call, no re-reading of the
// operands. It reports false when it cannot.
func (iso *Isolate) quickHeader(kind, arr, data, n, c uint64) (uint64, bool) {
	used := uint64(len(iso.heap))
	if used+sliceHeaderSize > iso.st.HeapCap || used+sliceHeaderSize > uint64(cap(iso.heap)) {
		return 0, false
	}
	iso.heap = iso.heap[:used+sliceHeaderSize]
	iso.markRange(used, used+sliceHeaderSize)
	h := iso.heap[used:]
	le.PutUint64(h, (kind+objSliceS-objScalars)<<56|n)
	le.PutUint64(h[8:], c)
	le.PutUint64(h[16:], arr)
	le.PutUint64(h[24:], data)
	return used, true
}

// appendElem implements R[dst] = append(R[dst], R[val]): into the spare
// capacity when there is some (a new header over the same array), else
// into a new array of the capacity Go's growth rule gives.
func (iso *Isolate) appendElem(kind uint64, r []uint64, dst, esize, val int, pc int, steps uint64) uint64 {
	ref := r[dst]
	data, n, c := iso.view(kind, ref, pc, steps)
	if n < c {
		if h, ok := iso.quickHeader(kind, iso.backing(ref), data, n+1, c); ok {
			iso.put(data+8*n, r[val])
			return h
		}
		h := iso.newHeader(kind, r, dst, 0, n+1, c, pc, steps)
		data := le.Uint64(iso.heap[h+24:])
		iso.put(data+8*n, r[val])
		return h
	}
	nref := iso.grow(kind, r, dst, n+1, esize, pc, steps)
	iso.put(nref+16+8*n, r[val])
	return nref
}

// grow returns a new array of length newLen holding the elements of the
// slice in r[dst], with the capacity Go's append gives it.
func (iso *Isolate) grow(kind uint64, r []uint64, dst int, newLen uint64, esize int, pc int, steps uint64) uint64 {
	_, _, c := iso.view(kind, r[dst], pc, steps)
	newCap := growCap(newLen, c, uint64(esize&elemSizeMask), esize&elemsPointers == 0, iso.limits.MaxHeap/8)
	if newCap == 0 && newLen > 0 {
		iso.trap(faultHeapQuota, pc, steps)
	}
	nref := iso.newArray(kind, newLen, newCap, pc, steps)
	data, n, _ := iso.view(kind, r[dst], pc, steps) // after the allocation: it may have moved
	copy(iso.heap[nref+16:nref+16+8*n], iso.heap[data:data+8*n])
	return nref
}

// extend makes room for m more elements after the n of the slice in
// R[dst], as append does: a new header over its array while its capacity
// allows, a grown copy otherwise. It returns the new slice h, where its
// elements start (data) and n, for the caller to fill elements n..n+m-1.
func (iso *Isolate) extend(kind uint64, r []uint64, dst int, m uint64, esize int, pc int, steps uint64) (h, data, n uint64) {
	_, n, c := iso.view(kind, r[dst], pc, steps)
	if n+m <= c {
		h = iso.newHeader(kind, r, dst, 0, n+m, c, pc, steps)
		return h, le.Uint64(iso.heap[h+24:]), n
	}
	h = iso.grow(kind, r, dst, n+m, esize, pc, steps)
	return h, h + 16, n
}

// appendSlice implements R[dst] = append(R[dst], R[src]...), for slices of
// the same element kind.
func (iso *Isolate) appendSlice(r []uint64, dst, esize, src int, pc int, steps uint64) uint64 {
	kind, _, m, _ := iso.anyView(r[src], pc, steps)
	if m == 0 {
		return r[dst]
	}
	h, data, n := iso.extend(kind, r, dst, m, esize, pc, steps)
	sdata, _, _ := iso.view(kind, r[src], pc, steps)
	iso.markRange(data+8*n, data+8*(n+m))
	copy(iso.heap[data+8*n:data+8*(n+m)], iso.heap[sdata:sdata+8*m]) // copy is memmove: the two may overlap
	return h
}

// appendString implements R[dst] = append(R[dst], R[src]...) for a []byte
// and a string.
func (iso *Isolate) appendString(r []uint64, dst, esize, src int, pc int, steps uint64) uint64 {
	m := uint64(len(iso.stringBytes(r[src], pc, steps)))
	if m == 0 {
		return r[dst]
	}
	h, data, n := iso.extend(objScalars, r, dst, m, esize, pc, steps)
	for i, b := range iso.stringBytes(r[src], pc, steps) {
		iso.put(data+8*(n+uint64(i)), uint64(b))
	}
	return h
}

// sliceOf implements R[dst] = R[src][lo:hi:max] for a slice; full says
// whether max was given (else it is the capacity).
func (iso *Isolate) sliceOf(r []uint64, src int, lo, hi, max uint64, full bool, pc int, steps uint64) uint64 {
	kind, _, n, c := iso.anyView(r[src], pc, steps)
	if !full {
		max = c
	}
	switch {
	case max > c:
		iso.trapBounds(boundsCap, max, c, pc, steps)
	case hi > max:
		iso.trapBounds(boundsHigh, hi, max, pc, steps)
	case lo > hi:
		iso.trapBounds(boundsLow, lo, hi, pc, steps)
	}
	ref := r[src]
	if ref == 0 {
		return 0 // nil[0:0] is nil
	}
	if lo == 0 && hi == n && max == c {
		return ref // the same slice: headers are immutable, so share it
	}
	return iso.newHeader(kind, r, src, lo, hi-lo, max-lo, pc, steps)
}

// sliceString implements R[dst] = R[src][lo:hi] for a string. Strings own
// their bytes, so it copies.
func (iso *Isolate) sliceString(r []uint64, src int, lo, hi uint64, pc int, steps uint64) uint64 {
	n := uint64(len(iso.stringBytes(r[src], pc, steps)))
	switch {
	case hi > n:
		iso.trapBounds(boundsHighLen, hi, n, pc, steps)
	case lo > hi:
		iso.trapBounds(boundsLow, lo, hi, pc, steps)
	}
	if lo == 0 && hi == n {
		return r[src]
	}
	if lo == hi {
		return 0
	}
	ref := iso.alloc(8+roundUp8(hi-lo), pc, steps)
	iso.put(ref, objString<<56|(hi-lo))
	copy(iso.heap[ref+8:], iso.stringBytes(r[src], pc, steps)[lo:hi])
	return ref
}

// copySlice implements copy(R[dst], R[src]) for slices of the same element
// kind and returns the number of elements copied.
func (iso *Isolate) copySlice(dst, src uint64, pc int, steps uint64) uint64 {
	kind, ddata, dn, _ := iso.anyView(dst, pc, steps)
	skind, sdata, sn, _ := iso.anyView(src, pc, steps)
	m := min(dn, sn)
	if m == 0 {
		return 0
	}
	if kind != skind {
		iso.trap(faultKindMismatch, pc, steps)
	}
	iso.markRange(ddata, ddata+8*m)
	copy(iso.heap[ddata:ddata+8*m], iso.heap[sdata:sdata+8*m])
	return m
}

// copyString implements copy(R[dst], R[src]) for a []byte and a string.
func (iso *Isolate) copyString(dst, src uint64, pc int, steps uint64) uint64 {
	data, n, _ := iso.view(objScalars, dst, pc, steps)
	s := iso.stringBytes(src, pc, steps)
	m := min(n, uint64(len(s)))
	for i := uint64(0); i < m; i++ {
		iso.put(data+8*i, uint64(s[i]))
	}
	return m
}

// bytesOfString implements []byte(s): a new array with the capacity Go's
// runtime gives it (rawbyteslice).
func (iso *Isolate) bytesOfString(r []uint64, src int, pc int, steps uint64) uint64 {
	n := uint64(len(iso.stringBytes(r[src], pc, steps)))
	arr := iso.newArray(objScalars, n, roundUpSize(n, true), pc, steps)
	for i, b := range iso.stringBytes(r[src], pc, steps) {
		iso.put(arr+16+8*uint64(i), uint64(b))
	}
	return arr
}

// stringOfBytes implements string(b) for a []byte: each element's low byte.
func (iso *Isolate) stringOfBytes(r []uint64, src int, pc int, steps uint64) uint64 {
	_, n, _ := iso.view(objScalars, r[src], pc, steps)
	if n == 0 {
		return 0
	}
	ref := iso.alloc(8+roundUp8(n), pc, steps)
	iso.put(ref, objString<<56|n)
	data, _, _ := iso.view(objScalars, r[src], pc, steps)
	for i := uint64(0); i < n; i++ {
		iso.heap[ref+8+i] = byte(le.Uint64(iso.heap[data+8*i:]))
	}
	return ref
}

// stringOfRune implements string(r): the UTF-8 encoding of rune r, or of
// U+FFFD when r is not a valid code point.
func (iso *Isolate) stringOfRune(v uint64, pc int, steps uint64) uint64 {
	var buf [utf8.UTFMax]byte
	x := int64(v)
	rn := utf8.RuneError
	if x >= 0 && x <= utf8.MaxRune {
		rn = rune(x)
	}
	return iso.newStringBytes(utf8.AppendRune(buf[:0], rn), pc, steps)
}

// decodeRune implements one step of for i, r := range s: the rune at byte
// i of string s and its width in bytes (U+FFFD and 1 for an invalid
// encoding, as Go does).
func (iso *Isolate) decodeRune(ref, i uint64, pc int, steps uint64) (rn, width uint64) {
	s := iso.stringBytes(ref, pc, steps)
	if i >= uint64(len(s)) {
		iso.trapIndex(ref, i, pc, steps)
	}
	if c := s[i]; c < utf8.RuneSelf {
		return uint64(c), 1
	}
	x, w := utf8.DecodeRune(s[i:])
	return uint64(x), uint64(w)
}
