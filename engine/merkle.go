package engine

import (
	"encoding/binary"
	"sync"

	"github.com/zeebo/blake3"
)

// The state hash is a Merkle tree, so that a state whose heap changed in a
// few pages is rehashed in a few pages (see the package doc, "The state
// hash"):
//
//	page(i)  = BLAKE3-derive-key("knoten 2026 state page", heap[i·PageSize : min((i+1)·PageSize, len(heap))])
//	node(cs) = BLAKE3-derive-key("knoten 2026 state node", c_0 ‖ c_1 ‖ … ‖ c_k), k < TreeFanout
//	level 0  = page(0) … page(n-1), n = ⌈len(heap) / PageSize⌉
//	level j+1 = node over each run of TreeFanout hashes of level j, the last run possibly shorter
//	heapRoot = the single hash of the first level above 0 that has one hash
//	           (node of nothing when the heap is empty)
//	root     = BLAKE3-256("KNST" u32(version 3) program u64 status … heapRoot frames regs globals output)
//
// The two derived keys separate pages from nodes, so no page can pass for
// a node; the root names len(heap), which fixes the tree's shape. The root
// depends only on the state's bytes: a heap hashed in one pass (State.Hash)
// and one kept up to date page by page (Isolate.Hash, HeapTree) give the
// same root.

// TreeFanout is the number of children of an inner node: 64 hashes, 2 KiB,
// two BLAKE3 chunks. A 256 MiB heap (32768 pages) has a tree of three
// levels above its pages, and a change of one page rehashes 8 KiB + 3×2 KiB.
const TreeFanout = 64

const (
	pageContext = "knoten 2026 state page"
	nodeContext = "knoten 2026 state node"
)

var (
	pageHashers = sync.Pool{New: func() any { return blake3.NewDeriveKey(pageContext) }}
	nodeHashers = sync.Pool{New: func() any { return blake3.NewDeriveKey(nodeContext) }}
)

// PageHash returns the hash of one heap page (at most PageSize bytes).
func PageHash(page []byte) (sum [32]byte) {
	h := pageHashers.Get().(*blake3.Hasher)
	h.Reset()
	h.Write(page)
	h.Sum(sum[:0])
	pageHashers.Put(h)
	return sum
}

// nodeHash returns the hash of an inner node over its children.
func nodeHash(children [][32]byte) (sum [32]byte) {
	h := nodeHashers.Get().(*blake3.Hasher)
	h.Reset()
	h.Write(hashBytes(children))
	h.Sum(sum[:0])
	nodeHashers.Put(h)
	return sum
}

// NumPages returns how many pages a heap of n bytes has.
func NumPages(n int) int { return (n + PageSize - 1) / PageSize }

// pageOf returns page i of heap.
func pageOf(heap []byte, i int) []byte {
	return heap[i*PageSize : min((i+1)*PageSize, len(heap))]
}

// HeapRoot returns the root of the Merkle tree over heap's pages, in one
// pass. It keeps one run of TreeFanout hashes per level and allocates
// nothing.
func HeapRoot(heap []byte) [32]byte {
	var s treeStream
	for i := range NumPages(len(heap)) {
		s.push(0, PageHash(pageOf(heap, i)))
	}
	return s.root()
}

// treeMaxLevels bounds the tree's height: 64^8 pages is far past any heap.
const treeMaxLevels = 8

// treeStream builds a tree's root from its pages' hashes, pushed in order.
type treeStream struct {
	run   [treeMaxLevels][TreeFanout][32]byte
	n     [treeMaxLevels]int
	total [treeMaxLevels]int // hashes pushed at each level
}

func (s *treeStream) push(level int, h [32]byte) {
	s.run[level][s.n[level]] = h
	s.n[level]++
	s.total[level]++
	if s.n[level] == TreeFanout {
		s.n[level] = 0
		s.push(level+1, nodeHash(s.run[level][:]))
	}
}

// root closes every level: a partial run becomes one node of the level
// above, and the top is the first level above 0 with one hash in all (for
// an empty heap, the node over nothing).
func (s *treeStream) root() [32]byte {
	for level := 0; ; level++ {
		if level > 0 && s.total[level] == 1 {
			return s.run[level][0]
		}
		if s.n[level] > 0 || s.total[level+1] == 0 {
			h := nodeHash(s.run[level][:s.n[level]])
			s.n[level] = 0
			s.push(level+1, h)
		}
	}
}

// HeapTree keeps the Merkle tree of a heap that changes page by page: a
// migration's source and target each hold one, and rehash only the pages
// that changed. Its root is always what HeapRoot would compute over the
// heap it was last updated with. The zero HeapTree is a tree of an empty
// heap. A HeapTree belongs to one goroutine at a time.
type HeapTree struct {
	levels [][][32]byte // levels[0] are the page hashes; the last level has one hash
	stale  [][]uint64   // per level above 0: nodes whose children changed
}

// Len returns the number of pages the tree covers.
func (t *HeapTree) Len() int {
	if len(t.levels) == 0 {
		return 0
	}
	return len(t.levels[0])
}

// Resize makes the tree cover n pages. Pages past the old length start
// with a zero hash: the caller must Set each of them before Root. Only the
// nodes at the old and new ends change shape, so only they are rehashed.
func (t *HeapTree) Resize(n int) {
	if len(t.levels) == 0 {
		t.levels = [][][32]byte{nil}
	}
	// Widths of every level, old and new: level 0 has the pages, each
	// level above covers TreeFanout of the one below, up to the first
	// level above 0 with one node.
	var oldW [treeMaxLevels]int
	for j := range t.levels {
		oldW[j] = len(t.levels[j])
	}
	t.levels[0] = resized(t.levels[0], n)
	width := n
	for j := 0; ; j++ {
		up := max((width+TreeFanout-1)/TreeFanout, 1)
		if j+1 >= len(t.levels) {
			t.levels = append(t.levels, nil)
		}
		if j >= len(t.stale) {
			t.stale = append(t.stale, nil)
		}
		t.levels[j+1] = resized(t.levels[j+1], up)
		t.stale[j] = resized(t.stale[j], (up+63)/64)
		// The nodes over the changed end of level j: the one holding its
		// old or new last hash, whichever comes first, and all after it.
		from := max(min(oldW[j], width)-1, 0) / TreeFanout
		if oldW[j+1] == 0 {
			from = 0 // a level new to the tree
		}
		for i := from; i < up; i++ {
			setBit(t.stale[j], i)
		}
		width = up
		if up == 1 {
			t.levels = t.levels[:j+2]
			t.stale = t.stale[:j+1]
			return
		}
	}
}

// Set records the hash of page i.
func (t *HeapTree) Set(i int, h [32]byte) {
	t.levels[0][i] = h
	setBit(t.stale[0], i/TreeFanout)
}

// Root returns the heap root, rehashing the nodes above pages Set since
// the last call.
func (t *HeapTree) Root() [32]byte {
	if len(t.levels) == 0 {
		t.Resize(0)
	}
	for level := 0; level+1 < len(t.levels); level++ {
		below, above := t.levels[level], t.levels[level+1]
		for w, word := range t.stale[level] {
			for ; word != 0; word &= word - 1 {
				i := w*64 + trailingZeros(word)
				above[i] = nodeHash(below[i*TreeFanout : min((i+1)*TreeFanout, len(below))])
				if level+1 < len(t.stale) {
					setBit(t.stale[level+1], i/TreeFanout)
				}
			}
			t.stale[level][w] = 0
		}
	}
	return t.levels[len(t.levels)-1][0]
}

// resized returns s with length n, keeping its elements and zeroing the
// ones it adds.
func resized[T any](s []T, n int) []T {
	if n <= cap(s) {
		old := len(s)
		s = s[:n]
		if n > old {
			clear(s[old:])
		}
		return s
	}
	return append(s, make([]T, n-len(s))...)
}

func setBit(b []uint64, i int) { b[i>>6] |= 1 << (uint(i) & 63) }

// StateRoot returns the state hash of st given its heap's root: the
// canonical header, then heapRoot, frames, registers, globals and output.
func StateRoot(st *State, heapRoot *[32]byte) [32]byte {
	h := hasherPool.Get().(*blake3.Hasher)
	h.Reset()
	var hdr [4 + 4 + 32 + 11*8 + 32]byte
	copy(hdr[:], "KNST")
	binary.LittleEndian.PutUint32(hdr[4:], stateHashVersion)
	copy(hdr[8:], st.Program[:])
	w := hdr[40:]
	for i, v := range [...]uint64{uint64(st.Status), uint64(st.Fault), uint64(st.PC), st.Steps, st.Result, st.HeapCap,
		uint64(len(st.Frames)), uint64(len(st.Regs)), uint64(len(st.Globals)), uint64(len(st.Heap)), uint64(len(st.Output))} {
		binary.LittleEndian.PutUint64(w[i*8:], v)
	}
	copy(w[11*8:], heapRoot[:])
	h.Write(hdr[:])
	h.Write(FrameBytes(st.Frames))
	writeWords(h, st.Regs)
	writeWords(h, st.Globals)
	h.Write(st.Output)
	var sum [32]byte
	h.Sum(sum[:0])
	hasherPool.Put(h)
	return sum
}
