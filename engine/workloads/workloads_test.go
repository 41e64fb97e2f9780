package workloads

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

func compile(t testing.TB, w Workload) *engine.Program {
	t.Helper()
	p, err := lang.Compile(w.Filename(), w.Source)
	if err != nil {
		t.Fatalf("%s: %v", w.Name, err)
	}
	return p
}

// runStraight runs w to the end in one isolate.
func runStraight(t testing.TB, p *engine.Program) *engine.Isolate {
	t.Helper()
	iso, err := engine.New(p, engine.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for iso.Run(1 << 40).Runnable() {
	}
	return iso
}

func checkResult(t *testing.T, w Workload, iso *engine.Isolate) {
	t.Helper()
	if iso.Status() != engine.Finished {
		t.Fatalf("%s: status %s: %v", w.Name, iso.Status(), iso.Err())
	}
	if got := iso.Result(); got != w.Result {
		t.Errorf("%s: result %q, want %q", w.Name, got, w.Result)
	}
	if got := string(iso.Output()); got != w.Output {
		t.Errorf("%s: output %q, want %q", w.Name, got, w.Output)
	}
}

// TestTable checks the known results against the native twins.
func TestTable(t *testing.T) {
	for _, w := range All() {
		if !w.Small && testing.Short() {
			continue
		}
		r, o := w.Native()
		if r != w.Result || o != w.Output {
			t.Errorf("%s: twin gives %q, %q; table says %q, %q", w.Name, r, o, w.Result, w.Output)
		}
	}
	if len(All()) != 2*len(Names()) || len(Full())+len(Smalls()) != len(All()) {
		t.Error("variants do not pair up")
	}
}

func TestSmall(t *testing.T) {
	for _, w := range Smalls() {
		t.Run(w.Name, func(t *testing.T) {
			iso := runStraight(t, compile(t, w))
			checkResult(t, w, iso)
			t.Logf("%d instructions", iso.Steps())
		})
	}
}

func TestFull(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("full-size workloads take seconds, minutes under the race detector; the benchmarks check them too")
	}
	for _, w := range Full() {
		t.Run(w.Name, func(t *testing.T) {
			iso := runStraight(t, compile(t, w))
			checkResult(t, w, iso)
			t.Logf("%d instructions", iso.Steps())
		})
	}
}

// TestResumeEquivalence runs each small workload straight and again stopping
// every k instructions (at the next safepoint), snapshotting the state and
// resuming it in a fresh isolate; output, result and final state hash must
// be identical.
func TestResumeEquivalence(t *testing.T) {
	for _, w := range Smalls() {
		p := compile(t, w)
		straight := runStraight(t, p)
		checkResult(t, w, straight)
		wantHash := straight.State().Hash()
		for _, k := range []int64{1, 2, 7, 100, 4096} {
			t.Run(fmt.Sprintf("%s/k=%d", w.Name, k), func(t *testing.T) {
				iso, err := engine.New(p, engine.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				stops := 0
				for iso.Run(k).Runnable() {
					stops++
					st := iso.Snapshot()
					if iso, err = engine.Resume(p, st, engine.Limits{}); err != nil {
						t.Fatalf("resume after %d stops: %v", stops, err)
					}
				}
				checkResult(t, w, iso)
				if iso.State().Hash() != wantHash {
					t.Errorf("final state hash differs from the straight run after %d stops", stops)
				}
				if k == 1 && stops == 0 {
					t.Error("never stopped")
				}
			})
		}
	}
}

func TestSized(t *testing.T) {
	for _, name := range Names() {
		w, err := Sized(name, 4)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(w.Source, []byte("const N = 4\n")) || w.Name != name+"-4" {
			t.Fatalf("%s: bad source or name %q", name, w.Name)
		}
		iso := runStraight(t, compile(t, w))
		checkResult(t, w, iso)
		if Describe(name) == "" {
			t.Errorf("%s: no description", name)
		}
	}
	if _, err := Sized("nope", 1); err == nil {
		t.Error("unknown workload accepted")
	}
	if _, err := Sized("bintrees", 1); err == nil || !strings.Contains(err.Error(), "N >= 2") {
		t.Errorf("too small a size accepted: %v", err)
	}
	if w, ok := Get("fib-small"); !ok || w.N != 10 || !w.Small {
		t.Error("Get fib-small")
	}
}

// TestDeterministicCompile checks that compiling the same source twice gives
// the same program hash: nodes compile independently and identify code by
// its hash.
func TestDeterministicCompile(t *testing.T) {
	for _, w := range All() {
		a, b := compile(t, w), compile(t, w)
		if a.Hash() != b.Hash() {
			t.Errorf("%s: two compilations differ", w.Name)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, w := range Full() {
		b.Run(w.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(w.Source)))
			for b.Loop() {
				if _, err := lang.Compile(w.Filename(), w.Source); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWorkloads runs each full-size workload on the engine (compiled
// once, a fresh isolate per run) and its native Go twin.
func BenchmarkWorkloads(b *testing.B) {
	for _, w := range Full() {
		p := compile(b, w)
		b.Run(w.Name+"/engine=knoten", func(b *testing.B) {
			b.ReportAllocs()
			var steps uint64
			for b.Loop() {
				iso, err := engine.New(p, engine.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				for iso.Run(1 << 40).Runnable() {
				}
				if iso.Status() != engine.Finished || iso.Result() != w.Result {
					b.Fatalf("status %s result %q err %v", iso.Status(), iso.Result(), iso.Err())
				}
				steps = iso.Steps()
			}
			b.ReportMetric(float64(steps), "instrs/op")
		})
		b.Run(w.Name+"/engine=native", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r, _ := w.Native(); r != w.Result {
					b.Fatalf("native result %q", r)
				}
			}
		})
	}
}

// TestCacheHeap checks what the cache workload is for: a heap of 64 MiB or
// more at full size, and serving requests that never allocate, so that no
// collection moves the heap once the cache is filled. It runs the program
// at a middling size in slices, and from the first stop at which the slots
// are allocated to the summary printed at the end, the heap must keep its
// length.
func TestCacheHeap(t *testing.T) {
	const words = 8 // per slot, as cache.kn's W
	if full, ok := Get("cache"); !ok || full.N*words*8 < 64<<20 {
		t.Fatalf("full cache variant: %d slots of %d words are under 64 MiB", full.N, words)
	}
	w, err := Sized("cache", 2000)
	if err != nil {
		t.Fatal(err)
	}
	iso, err := engine.New(compile(t, w), engine.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	steady, stops := 0, 0
	for iso.Run(5000).Runnable() {
		n := len(iso.State().Heap)
		switch {
		case len(iso.Output()) > 0:
		case steady == 0 && n >= w.N*words*8:
			steady = n
		case steady != 0 && n != steady:
			t.Fatalf("heap length changed from %d to %d at step %d", steady, n, iso.Steps())
		case steady != 0:
			stops++
		}
	}
	checkResult(t, w, iso)
	if stops < 100 {
		t.Errorf("only %d stops while serving", stops)
	}
}
