package workloads

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

// TestDirtyPagesCoverEveryWrite runs every workload at a size whose heap
// spans many pages, and every program of the language corpus, in quanta
// of random length. At each stop it compares the heap with its copy from
// the previous stop: every page whose bytes changed must be among those
// TakeDirty returns, or pre-copy would leave the target a stale page. Every
// few stops the incremental state hash must equal the one-pass hash.
func TestDirtyPagesCoverEveryWrite(t *testing.T) {
	sizes := map[string]int{"sieve": 200_000, "matmul": 40, "strings": 5000, "bintrees": 10,
		"wordfreq": 5000, "closuresort": 3000, "bytebuild": 5000, "nbody": 100, "fib": 15, "loop": 10_000, "deeprec": 300, "cache": 2000}
	var progs []*engine.Program
	for _, name := range Names() {
		n, ok := sizes[name]
		if !ok {
			n = specs[specIndex(name)].small
		}
		w, err := Sized(name, n)
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, compile(t, w))
	}
	files, _ := filepath.Glob("../lang/testdata/corpus/*.kn")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := lang.Compile(filepath.Base(f), src)
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, p)
	}
	for i, p := range progs {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			iso, err := engine.New(p, engine.Limits{InitialHeap: 16 << 10})
			if err != nil {
				t.Fatal(err)
			}
			var prev []byte
			var taken []uint32
			pagesSeen, stops := 0, 0
			for iso.Status().Runnable() {
				iso.Run(int64(1 + rng.IntN(4_000)))
				heap := iso.State().Heap
				taken, _ = iso.TakeDirty(taken[:0], 0, len(heap), len(heap))
				marked := make(map[uint32]bool, len(taken))
				for _, p := range taken {
					marked[p] = true
				}
				for pg := range engine.NumPages(len(heap)) {
					lo, hi := pg*engine.PageSize, min((pg+1)*engine.PageSize, len(heap))
					if prev != nil && hi <= len(prev) && bytes.Equal(heap[lo:hi], prev[lo:hi]) {
						continue
					}
					if !marked[uint32(pg)] {
						t.Fatalf("stop %d at %d steps: page %d of %d changed but is not dirty", stops, iso.Steps(), pg, engine.NumPages(len(heap)))
					}
				}
				pagesSeen = max(pagesSeen, engine.NumPages(len(heap)))
				prev = append(prev[:0], heap...)
				if stops%16 == 0 || !iso.Status().Runnable() {
					if iso.Hash() != iso.State().Hash() {
						t.Fatalf("stop %d: the incremental state hash differs from the one-pass hash", stops)
					}
				}
				stops++
			}
			if iso.Status() != engine.Finished {
				t.Fatalf("%s: %v", iso.Status(), iso.Err())
			}
			t.Logf("%d stops, up to %d pages", stops, pagesSeen)
		})
	}
}

func specIndex(name string) int {
	for i, s := range specs {
		if s.name == name {
			return i
		}
	}
	return -1
}
