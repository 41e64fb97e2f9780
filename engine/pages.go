package engine

import (
	"math/bits"
	"unsafe"
)

// PageSize is the unit of dirty tracking, of pre-copy migration and of the
// state hash's Merkle tree: 8 KiB. It is the smallest page BLAKE3 hashes at
// full speed: BLAKE3 works in 1 KiB chunks and zeebo/blake3 hashes 8 of them
// at once with AVX2, so 8 KiB pages hash at 2.45 GB/s where 4 KiB pages
// reach 1.42 GB/s and 1 KiB pages 0.53 GB/s (one pass over 16 MiB: 3.26
// GB/s; AMD EPYC, 2 vCPU KVM guest, go1.26). It is two OS pages and a
// sixth of a 48 KiB L1D, so a page being hashed or copied stays in L1; and a
// write dirties at most 8 KiB that pre-copy must send again, which keeps
// the resend small for scattered writes. A 256 MiB heap has 32768 pages:
// its dirty bitmap is 4 KiB and its page hashes 1 MiB.
const (
	PageShift = 13
	PageSize  = 1 << PageShift
)

// put writes word v at heap offset off and marks its page dirty. Every
// write into an existing object goes through put or markRange; writes
// into memory alloc has just handed out need neither, since alloc marks
// its pages.
func (iso *Isolate) put(off, v uint64) {
	iso.markDirty(off)
	le.PutUint64(iso.heap[off:], v)
}

// markDirty marks the page holding heap offset off as changed since the
// last sync (Hash or TakeDirty).
func (iso *Isolate) markDirty(off uint64) {
	if !dirtyTracking {
		return
	}
	p := off >> PageShift
	iso.dirty[p>>6] |= 1 << (p & 63)
}

// markRange marks the pages of heap bytes [lo, hi) dirty.
func (iso *Isolate) markRange(lo, hi uint64) {
	if !dirtyTracking || lo >= hi {
		return
	}
	for p := lo >> PageShift; p <= (hi-1)>>PageShift; p++ {
		iso.dirty[p>>6] |= 1 << (p & 63)
	}
}

// fitDirty sizes the dirty bitmap to cover the arena's capacity, keeping
// the bits it has.
func (iso *Isolate) fitDirty() {
	words := (NumPages(cap(iso.heap)) + 63) / 64
	if iso.dirty == nil {
		iso.dirty = iso.dirtyInline[:]
	}
	if words > len(iso.dirty) {
		iso.dirty = append(iso.dirty, make([]uint64, words-len(iso.dirty))...)
	}
}

// markAll marks every page of the heap dirty: after a collection, which
// moves every object, and before the first sync.
func (iso *Isolate) markAll() {
	iso.fitDirty()
	n := NumPages(len(iso.heap))
	for w := range iso.dirty {
		switch {
		case (w+1)*64 <= n:
			iso.dirty[w] = ^uint64(0)
		case w*64 < n:
			iso.dirty[w] = 1<<(n-w*64) - 1
		default:
			iso.dirty[w] = 0
		}
	}
}

// MarkAllDirty marks every heap page dirty, as before the first sync: a
// pre-copy migration to a new target starts with it, since the target
// holds none of the pages an earlier sync took. Only the goroutine driving
// the isolate may call it.
func (iso *Isolate) MarkAllDirty() { iso.markAll() }

// syncTree makes the isolate's Merkle tree cover the heap's current
// pages, creating it (every page dirty) at the first call.
func (iso *Isolate) syncTree() {
	if iso.tree == nil || !dirtyTracking {
		if iso.tree == nil {
			iso.tree = new(HeapTree)
		}
		iso.markAll()
	}
	n := NumPages(len(iso.heap))
	if iso.tree.Len() != n {
		// A page past the end is not part of the heap; a last page whose
		// length changed has a new hash (alloc marked it).
		if n < iso.tree.Len() {
			for p := n; p < iso.tree.Len() && p>>6 < len(iso.dirty); p++ {
				iso.dirty[p>>6] &^= 1 << (p & 63)
			}
		}
		iso.tree.Resize(n)
	}
}

// DirtyPages returns how many heap pages changed since the last sync
// (Hash or TakeDirty), or the heap's page count before the first one.
// Only the goroutine driving the isolate may call it.
func (iso *Isolate) DirtyPages() int {
	if iso.tree == nil || !dirtyTracking {
		return NumPages(len(iso.heap))
	}
	n := 0
	for _, w := range iso.dirty[:(NumPages(len(iso.heap))+63)/64] {
		n += bits.OnesCount64(w)
	}
	return n
}

// TakeDirty syncs up to max dirty pages in [from, to): it rehashes
// them into the isolate's Merkle tree, clears their dirty bits and appends
// their indexes, in increasing order, to dst. It returns dst and the page
// to continue from (to, or the heap's page count, when it reached the end). A
// pre-copy round sends the pages it returns, read from State().Heap before
// the isolate runs again. Before the first sync every page is dirty. It
// also rehashes the tree's inner nodes above those pages, so that the
// state hash at a stop costs only what the stop's pages change.
// Only the goroutine driving the isolate may call it; it allocates only
// when dst or the tree must grow.
func (iso *Isolate) TakeDirty(dst []uint32, from, to, max int) ([]uint32, int) {
	iso.syncTree()
	n := min(NumPages(len(iso.heap)), to)
	p := from
	for p < n && max > 0 {
		w := iso.dirty[p>>6] >> (p & 63)
		if w == 0 {
			p = (p | 63) + 1
			continue
		}
		p += bits.TrailingZeros64(w)
		if p >= n {
			break
		}
		iso.dirty[p>>6] &^= 1 << (p & 63)
		iso.tree.Set(p, PageHash(pageOf(iso.heap, p)))
		dst = append(dst, uint32(p))
		max--
		p++
	}
	// Rehash the nodes above what changed now, a few per chunk, rather
	// than all of them at the stop.
	iso.tree.Root()
	return dst, min(p, n)
}

// Hash returns the state hash of the isolate's current state, equal to
// State().Hash(), rehashing only the pages that changed since the last
// sync (all of them the first time). Only the goroutine driving the
// isolate may call it.
func (iso *Isolate) Hash() [32]byte {
	all := int(^uint(0) >> 1)
	iso.TakeDirty(nil, 0, all, all)
	root := iso.tree.Root()
	return StateRoot(iso.State(), &root)
}

// hashBytes views hashes as their bytes.
func hashBytes(h [][32]byte) []byte {
	if len(h) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(h))), len(h)*32)
}
