package engine

import "math/bits"

// Maps.
//
// A map object (objMap, 56 bytes) is plain data in the arena:
//
//	header   kind<<56 | count, the number of live entries
//	info     mapStringKeys | mapRefValues: what the keys and values are
//	used     entries appended so far, live or deleted
//	keys     array of the entries' keys (scalars, or refs to strings)
//	values   array of the entries' values (scalars or refs)
//	meta     array of scalars: an entry's key hash with bit 63 set while
//	         it is live, 0 once it is deleted
//	index    array of scalars, a power of two long and at least twice the
//	         entries' capacity: open addressing with linear probing, each
//	         slot 0 (empty) or an entry's number plus one
//
// Entries are appended in insertion order and never move, except when an
// insertion finds the entry arrays full: then the live entries are copied,
// in order, into new arrays (of twice the capacity, unless deletions left
// most of the old ones dead) and the index is rebuilt. So the order of a
// map's entries is a function of its contents and history, never of an
// address or a seed, and a resumed isolate sees the very same order as
// the original. The hash is a fixed function of the key (no seed), which
// is what keeps the index a function of the same things.
//
// Iteration (for k, v := range m) takes a snapshot of the live keys in
// entry order (MAPKEYS), then looks each one up as it comes: a key deleted
// before its turn is skipped and a value changed before its turn is seen,
// as Go specifies; keys inserted during the loop are not visited (Go
// allows either). Go randomizes its order; Knoten's is insertion order,
// which is one of the orders Go allows.

// The B operand of NEWMAP says what a map's keys and values are.
const (
	MapStringKeys = 1 << 0 // keys are refs to strings, else scalars (ints, bools)
	MapRefValues  = 1 << 1 // values are refs, else scalars
)

const (
	mapSize = 56

	mapStringKeys = MapStringKeys
	mapRefValues  = MapRefValues
	mapInfoMask   = mapStringKeys | mapRefValues

	mapLive = 1 << 63

	// Offsets of the map fields.
	mInfo   = 8
	mUsed   = 16
	mKeys   = 24
	mValues = 32
	mMeta   = 40
	mIndex  = 48

	minMapEntries = 8
)

// hashScalar mixes a scalar key (Stafford's variant 13 of the splitmix64
// finalizer): every bit of the key reaches the index's low bits.
func hashScalar(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// hashString hashes the bytes of a string key, 8 at a time.
func hashString(s []byte) uint64 {
	h := uint64(len(s)) * 0x9e3779b97f4a7c15
	for len(s) >= 8 {
		h = hashScalar(h ^ le.Uint64(s))
		s = s[8:]
	}
	var tail uint64
	for i, b := range s {
		tail |= uint64(b) << (8 * i)
	}
	return hashScalar(h ^ tail ^ uint64(len(s))<<56)
}

// mapAt checks that ref is a map whose keys are strings exactly when
// stringKeys is set, and returns it; nil stays 0 (the empty map).
func (iso *Isolate) mapAt(ref uint64, stringKeys uint64, pc int, steps uint64) uint64 {
	if ref == 0 {
		return 0
	}
	if iso.heap[ref+7] != objMap || le.Uint64(iso.heap[ref+mInfo:])&mapStringKeys != stringKeys {
		iso.trap(faultKindMismatch, pc, steps)
	}
	return ref
}

// word returns word i of the array at arr, faulting (rather than
// panicking) when a state from elsewhere made i point past it.
func (iso *Isolate) word(arr, i uint64, pc int, steps uint64) uint64 {
	if arr == 0 || i >= le.Uint64(iso.heap[arr+8:]) {
		iso.trap(faultKindMismatch, pc, steps)
	}
	return le.Uint64(iso.heap[arr+16+8*i:])
}

func (iso *Isolate) setWord(arr, i, v uint64, pc int, steps uint64) {
	if arr == 0 || i >= le.Uint64(iso.heap[arr+8:]) {
		iso.trap(faultKindMismatch, pc, steps)
	}
	iso.put(arr+16+8*i, v)
}

// hashKey hashes key, a scalar or (with stringKeys) a string ref.
func (iso *Isolate) hashKey(key, stringKeys uint64, pc int, steps uint64) uint64 {
	if stringKeys != 0 {
		return hashString(iso.stringBytes(key, pc, steps))
	}
	return hashScalar(key)
}

// sameKey reports whether entry e's key k equals key.
func (iso *Isolate) sameKey(k, key, stringKeys uint64, pc int, steps uint64) bool {
	if stringKeys != 0 {
		return iso.compareStrings(k, key, pc, steps) == 0
	}
	return k == key
}

// mapFind returns the entry of key in map m (checked), or -1.
func (iso *Isolate) mapFind(m, key, stringKeys uint64, pc int, steps uint64) int64 {
	if m == 0 || objLen(iso.heap, m) == 0 {
		return -1
	}
	h := iso.hashKey(key, stringKeys, pc, steps) | mapLive
	keys, meta, index := le.Uint64(iso.heap[m+mKeys:]), le.Uint64(iso.heap[m+mMeta:]), le.Uint64(iso.heap[m+mIndex:])
	size := le.Uint64(iso.heap[index+8:])
	for i, n := h, uint64(0); n < size; i, n = i+1, n+1 {
		slot := iso.word(index, i&(size-1), pc, steps)
		if slot == 0 {
			return -1
		}
		e := slot - 1
		if iso.word(meta, e, pc, steps) == h && iso.sameKey(iso.word(keys, e, pc, steps), key, stringKeys, pc, steps) {
			return int64(e)
		}
	}
	return -1
}

// newMap implements make(map[K]V, hint).
func (iso *Isolate) newMap(r []uint64, dst int, info uint64, hint int64, pc int, steps uint64) uint64 {
	m := iso.alloc(mapSize, pc, steps)
	iso.put(m, objMap<<56)
	iso.put(m+mInfo, info&mapInfoMask)
	r[dst] = m // a root while the arrays are made
	iso.rebuildMap(r, dst, uint64(max(hint, minMapEntries)), pc, steps)
	return r[dst]
}

// rebuildMap gives the map in r[reg] entry arrays of the given capacity
// holding its live entries in order, and a new index.
func (iso *Isolate) rebuildMap(r []uint64, reg int, capacity uint64, pc int, steps uint64) {
	if capacity > iso.limits.MaxHeap/32 {
		iso.trap(faultHeapQuota, pc, steps)
	}
	size := uint64(1) << bits.Len64(2*capacity-1) // a power of two >= 2*capacity
	iso.reserve(3*(16+8*capacity)+16+8*size, pc, steps)
	m := r[reg]
	info := le.Uint64(iso.heap[m+mInfo:])
	keyKind, valKind := uint64(objScalars), uint64(objScalars)
	if info&mapStringKeys != 0 {
		keyKind = objRefs
	}
	if info&mapRefValues != 0 {
		valKind = objRefs
	}
	keys := iso.newArray(keyKind, capacity, capacity, pc, steps)
	vals := iso.newArray(valKind, capacity, capacity, pc, steps)
	meta := iso.newArray(objScalars, capacity, capacity, pc, steps)
	index := iso.newArray(objScalars, size, size, pc, steps)
	m = r[reg]
	n := uint64(0)
	if ok, ov, om := le.Uint64(iso.heap[m+mKeys:]), le.Uint64(iso.heap[m+mValues:]), le.Uint64(iso.heap[m+mMeta:]); om != 0 {
		used := le.Uint64(iso.heap[m+mUsed:])
		for e := uint64(0); e < used; e++ {
			h := iso.word(om, e, pc, steps)
			if h == 0 {
				continue
			}
			if n == capacity {
				iso.trap(faultKindMismatch, pc, steps) // a count that lied
			}
			iso.setWord(keys, n, iso.word(ok, e, pc, steps), pc, steps)
			iso.setWord(vals, n, iso.word(ov, e, pc, steps), pc, steps)
			iso.setWord(meta, n, h, pc, steps)
			for i := h; ; i++ {
				if iso.word(index, i&(size-1), pc, steps) == 0 {
					iso.setWord(index, i&(size-1), n+1, pc, steps)
					break
				}
			}
			n++
		}
	}
	iso.put(m, objMap<<56|n)
	iso.put(m+mUsed, n)
	iso.put(m+mKeys, keys)
	iso.put(m+mValues, vals)
	iso.put(m+mMeta, meta)
	iso.put(m+mIndex, index)
}

// mapInsert implements the first half of m[k] = v: it returns the entry of
// key R[key] in the map R[mreg], appending one with a zero value when the
// key is new. Writing to a nil map faults, as in Go.
func (iso *Isolate) mapInsert(r []uint64, mreg, key int, stringKeys uint64, pc int, steps uint64) uint64 {
	m := iso.mapAt(r[mreg], stringKeys, pc, steps)
	if m == 0 {
		iso.trap(faultNilMap, pc, steps)
	}
	if e := iso.mapFind(m, r[key], stringKeys, pc, steps); e >= 0 {
		return uint64(e)
	}
	used, capacity := le.Uint64(iso.heap[m+mUsed:]), le.Uint64(iso.heap[le.Uint64(iso.heap[m+mKeys:])+8:])
	if used >= capacity {
		count := objLen(iso.heap, m)
		newCap := capacity
		if 2*count >= capacity { // mostly live: grow, else compact
			newCap = 2 * capacity
		}
		iso.rebuildMap(r, mreg, max(newCap, minMapEntries), pc, steps)
		m = r[mreg]
		used = le.Uint64(iso.heap[m+mUsed:])
	}
	h := iso.hashKey(r[key], stringKeys, pc, steps) | mapLive
	keys, meta, index := le.Uint64(iso.heap[m+mKeys:]), le.Uint64(iso.heap[m+mMeta:]), le.Uint64(iso.heap[m+mIndex:])
	size := le.Uint64(iso.heap[index+8:])
	for i, n := h, uint64(0); ; i, n = i+1, n+1 {
		if n == size {
			iso.trap(faultKindMismatch, pc, steps) // a full index: not one this VM built
		}
		if iso.word(index, i&(size-1), pc, steps) == 0 {
			iso.setWord(index, i&(size-1), used+1, pc, steps)
			break
		}
	}
	iso.setWord(keys, used, r[key], pc, steps)
	iso.setWord(meta, used, h, pc, steps)
	iso.put(m+mUsed, used+1)
	iso.put(m, objMap<<56|(objLen(iso.heap, m)+1))
	return used
}

// mapValue returns the value of entry e (-1: missing, the zero value) of
// map m, whose values must be refs exactly when refValues is set.
func (iso *Isolate) mapValue(m uint64, e int64, refValues uint64, pc int, steps uint64) uint64 {
	if e < 0 {
		return 0
	}
	if m == 0 || iso.heap[m+7] != objMap || le.Uint64(iso.heap[m+mInfo:])&mapRefValues != refValues {
		iso.trap(faultKindMismatch, pc, steps)
	}
	return iso.word(le.Uint64(iso.heap[m+mValues:]), uint64(e), pc, steps)
}

// mapSet sets the value of entry e of map m.
func (iso *Isolate) mapSet(m uint64, e, v, refValues uint64, pc int, steps uint64) {
	if m == 0 || iso.heap[m+7] != objMap || le.Uint64(iso.heap[m+mInfo:])&mapRefValues != refValues ||
		e >= le.Uint64(iso.heap[m+mUsed:]) {
		iso.trap(faultKindMismatch, pc, steps)
	}
	iso.setWord(le.Uint64(iso.heap[m+mValues:]), e, v, pc, steps)
}

// mapDelete implements delete(m, key): the entry dies in place (its index
// slot stays, and lookups probe past it) and lets go of its key and value.
func (iso *Isolate) mapDelete(m, key, stringKeys uint64, pc int, steps uint64) {
	m = iso.mapAt(m, stringKeys, pc, steps)
	e := iso.mapFind(m, key, stringKeys, pc, steps)
	if e < 0 {
		return
	}
	iso.setWord(le.Uint64(iso.heap[m+mMeta:]), uint64(e), 0, pc, steps)
	iso.setWord(le.Uint64(iso.heap[m+mKeys:]), uint64(e), 0, pc, steps)
	iso.setWord(le.Uint64(iso.heap[m+mValues:]), uint64(e), 0, pc, steps)
	iso.put(m, objMap<<56|(objLen(iso.heap, m)-1))
}

// mapKeys implements the snapshot a range over R[mreg] iterates: a new
// slice of its live keys in entry order.
func (iso *Isolate) mapKeys(r []uint64, mreg int, pc int, steps uint64) uint64 {
	m := r[mreg]
	if m == 0 {
		return 0
	}
	if iso.heap[m+7] != objMap {
		iso.trap(faultKindMismatch, pc, steps)
	}
	kind := uint64(objScalars)
	if le.Uint64(iso.heap[m+mInfo:])&mapStringKeys != 0 {
		kind = objRefs
	}
	count := objLen(iso.heap, m)
	arr := iso.newArray(kind, count, count, pc, steps)
	m = r[mreg]
	keys, meta := le.Uint64(iso.heap[m+mKeys:]), le.Uint64(iso.heap[m+mMeta:])
	n := uint64(0)
	for e, used := uint64(0), le.Uint64(iso.heap[m+mUsed:]); e < used && n < count; e++ {
		if iso.word(meta, e, pc, steps) != 0 {
			iso.put(arr+16+8*n, iso.word(keys, e, pc, steps))
			n++
		}
	}
	return arr
}

// sortSlice implements SORT: it sorts the slice at ref in place,
// ascending, by heapsort (no memory beyond the slice): ints for a scalar
// slice, strings bytewise for a ref slice.
func (iso *Isolate) sortSlice(ref uint64, pc int, steps uint64) {
	kind, data, n, _ := iso.anyView(ref, pc, steps)
	less := func(i, j uint64) bool {
		a, b := le.Uint64(iso.heap[data+8*i:]), le.Uint64(iso.heap[data+8*j:])
		if kind == objScalars {
			return int64(a) < int64(b)
		}
		return iso.compareStrings(a, b, pc, steps) < 0
	}
	swap := func(i, j uint64) {
		a, b := le.Uint64(iso.heap[data+8*i:]), le.Uint64(iso.heap[data+8*j:])
		iso.put(data+8*i, b)
		iso.put(data+8*j, a)
	}
	down := func(i, n uint64) {
		for {
			c := 2*i + 1
			if c >= n {
				return
			}
			if c+1 < n && less(c, c+1) {
				c++
			}
			if !less(i, c) {
				return
			}
			swap(i, c)
			i = c
		}
	}
	for i := n / 2; i > 0; i-- {
		down(i-1, n)
	}
	for end := n; end > 1; end-- {
		swap(0, end-1)
		down(0, end-1)
	}
}
