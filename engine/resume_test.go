package engine

import (
	"bytes"
	"errors"
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

// TestResumedKindConfusionFaults: a state can pass CheckState with a scalar
// array where the code reads references (CheckState checks that refs point at
// objects, not which kind of object the code expects there). Reading an
// element of it into a ref register must fault with ErrKindMismatch, not
// hand the VM a wild reference: LEN on it panicked inside the VM, and the
// collector would have written a forwarding header through it.
func TestResumedKindConfusionFaults(t *testing.T) {
	p := assemble(t, 0, nil, nil, 0, nil,
		asmFunc{name: "main", nregs: 8, refs: []int{0, 2}, result: KindInt, code: []Instr{
			Encode(LOADI, 1, 0, 1),         // 0: r1 = 1
			Encode(NEWARRR, 0, 1, 0),       // 1: r0 = make([]string, 1)
			Encode(LOADI, 3, 0, 0),         // 2: r3 = 0, the index
			Encode(LOADI, 5, 0, 0),         // 3: i = 0
			Encode(LOADI, 6, 0, 1_000_000), // 4: n
			Encode(LOADI, 4, 0, 0),         // 5: sum = 0
			Encode(AGETR, 2, 0, 3),         // 6: loop: r2 = r0[0]
			Encode(LEN, 7, 2, 0),           // 7: sum += len(r2)
			Encode(ADD, 4, 4, 7),           // 8
			Encode(ADDK, 5, 5, 1),          // 9: i++
			Encode(LOOPLT, 5, 6, 6),        // 10
			Encode(RET, 4, 0, 0),           // 11
		}})
	iso, err := New(p, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if st := iso.Run(5000); st != Yielded {
		t.Fatalf("Run(5000) = %v, want Yielded inside the loop", st)
	}
	st := iso.Snapshot()
	const arr = 8 // the array: the first object, after the nil word
	if st.Heap[arr+7] != objRefs {
		t.Fatalf("object at %d has kind %d, want a ref array", arr, st.Heap[arr+7])
	}
	st.Heap[arr+7] = objScalars
	le.PutUint64(st.Heap[arr+16:], 99999) // a "reference" far outside the heap
	if err := CheckState(p, st, Limits{}); err != nil {
		t.Fatalf("CheckState rejects the confused state (%v): this test no longer reaches the VM's check", err)
	}
	res, err := Resume(p, st, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Run(100); got != Faulted || !errors.Is(res.Err(), ErrKindMismatch) {
		t.Fatalf("Run = %v, %v; want Faulted with ErrKindMismatch", got, res.Err())
	}
	var fe *FaultError
	if !errors.As(res.Err(), &fe) || fe.PC != 6 {
		t.Fatalf("fault %v, want it at the AGETR (pc 6)", res.Err())
	}
}
