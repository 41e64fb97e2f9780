package engine

import (
	"bytes"
	"testing"
)

// runStraight runs p to completion in one Run.
func runStraight(t testing.TB, p *Program, limits Limits) *Isolate {
	t.Helper()
	iso, err := New(p, limits)
	if err != nil {
		t.Fatal(err)
	}
	runToEnd(t, iso)
	return iso
}

// runHalting runs p with a budget of k, and at every stop snapshots the state,
// checks it and resumes a fresh isolate from the copy.
func runHalting(t testing.TB, p *Program, limits Limits, k int64) (*Isolate, int) {
	t.Helper()
	iso, err := New(p, limits)
	if err != nil {
		t.Fatal(err)
	}
	stops := 0
	for iso.Run(k).Runnable() {
		stops++
		st := iso.Snapshot()
		if iso, err = Resume(p, st, limits); err != nil {
			t.Fatalf("stop %d: %v", stops, err)
		}
	}
	return iso, stops
}

func assertSameEnd(t testing.TB, straight, halted *Isolate) {
	t.Helper()
	a, b := straight.State(), halted.State()
	if a.Status != b.Status || straight.Result() != halted.Result() || !bytes.Equal(a.Output, b.Output) || a.Steps != b.Steps {
		t.Fatalf("straight: %s %q steps %d; halted: %s %q steps %d", a.Status, straight.Result(), a.Steps, b.Status, halted.Result(), b.Steps)
	}
	if a.Hash() != b.Hash() {
		t.Fatalf("final state hashes differ")
	}
}

func TestResumeEquivalenceAssembled(t *testing.T) {
	limits := Limits{InitialHeap: 1024, MaxHeap: 1 << 20}
	progs := map[string]*Program{
		"fib":     fibProgram(t, 12),
		"loop":    loopProgram(t, 300),
		"garbage": garbageProgram(t, 300),
	}
	for name, p := range progs {
		straight := runStraight(t, p, limits)
		for _, k := range []int64{1, 2, 7, 100} {
			halted, stops := runHalting(t, p, limits, k)
			if stops == 0 {
				t.Fatalf("%s k=%d: never stopped", name, k)
			}
			assertSameEnd(t, straight, halted)
		}
	}
}
