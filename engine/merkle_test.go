package engine

import (
	"math/rand/v2"
	"testing"
)

// referenceRoot builds the tree over leaves level by level, as the
// construction in merkle.go states it.
func referenceRoot(leaves [][32]byte) [32]byte {
	level := leaves
	for first := true; first || len(level) > 1; first = false {
		var up [][32]byte
		for i := 0; i < len(level) || i == 0; i += TreeFanout {
			up = append(up, nodeHash(level[i:min(i+TreeFanout, len(level))]))
		}
		level = up
	}
	return level[0]
}

func randomLeaves(rng *rand.Rand, n int) [][32]byte {
	l := make([][32]byte, n)
	for i := range l {
		for j := 0; j < 32; j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				l[i][j+k] = byte(v >> (8 * k))
			}
		}
	}
	return l
}

// Sizes around every boundary of the tree's shape: empty, one page, a
// full run, one past it, a full second level and one past it.
var treeSizes = []int{0, 1, 2, 63, 64, 65, 127, 128, 129, 4095, 4096, 4097, 8200}

func TestTreeStreamMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range treeSizes {
		leaves := randomLeaves(rng, n)
		var s treeStream
		for _, h := range leaves {
			s.push(0, h)
		}
		if got, want := s.root(), referenceRoot(leaves); got != want {
			t.Errorf("%d pages: stream root %x, reference %x", n, got[:8], want[:8])
		}
	}
}

// TestHeapTreeIncremental resizes a tree through every boundary in random
// order and sets random pages, and checks its root against the reference
// after each step: an incremental root is the one-pass root.
func TestHeapTreeIncremental(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tree HeapTree
	var leaves [][32]byte
	for step := range 200 {
		n := treeSizes[rng.IntN(len(treeSizes))]
		if step%3 != 0 {
			n = max(tree.Len()+rng.IntN(9)-4, 0) // small moves of the end
		}
		old := len(leaves)
		tree.Resize(n)
		if n > old {
			leaves = append(leaves, randomLeaves(rng, n-old)...)
			for i := old; i < n; i++ {
				tree.Set(i, leaves[i])
			}
		} else {
			leaves = leaves[:n]
		}
		for range rng.IntN(5) {
			if n == 0 {
				break
			}
			i := rng.IntN(n)
			leaves[i] = randomLeaves(rng, 1)[0]
			tree.Set(i, leaves[i])
		}
		if got, want := tree.Root(), referenceRoot(leaves); got != want {
			t.Fatalf("step %d, %d pages (from %d): root %x, reference %x", step, n, old, got[:8], want[:8])
		}
	}
}

func TestHeapRootMatchesTree(t *testing.T) {
	heap := make([]byte, 70*PageSize+123)
	for i := range heap {
		heap[i] = byte(i * 7)
	}
	var tree HeapTree
	tree.Resize(NumPages(len(heap)))
	for i := range NumPages(len(heap)) {
		tree.Set(i, PageHash(pageOf(heap, i)))
	}
	if tree.Root() != HeapRoot(heap) {
		t.Fatal("a tree built page by page differs from HeapRoot")
	}
}

func TestHeapRootAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	heap := make([]byte, 3*PageSize)
	st := &State{Heap: heap}
	if n := testing.AllocsPerRun(10, func() { st.Hash() }); n != 0 {
		t.Errorf("State.Hash: %v allocs, want 0", n)
	}
}
