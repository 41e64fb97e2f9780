package engine

import (
	"errors"
	"math"
	"testing"
)

// resumeAtSteps returns an isolate of loopProgram(n) resumed from a state
// that claims steps instructions executed so far. The program finishes after
// about 5n instructions, so code whose budget cannot hold runs it to the end
// (and fails the test) instead of hanging.
func resumeAtSteps(t *testing.T, n int, steps uint64) *Isolate {
	t.Helper()
	p := loopProgram(t, n)
	iso, err := New(p, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if st := iso.Run(10); st != Yielded {
		t.Fatalf("first run: %s", st)
	}
	st := iso.Snapshot()
	st.Steps = steps
	r, err := Resume(p, st, Limits{})
	if err != nil {
		t.Fatalf("resume at %d steps: %v", steps, err)
	}
	return r
}

// Issue 12 item 1: Run(budget) holds its budget whatever Steps a state
// carries. The counter saturates at 2^64-1, which is an exhausted (implicit)
// instruction quota.
func TestRunBudgetHoldsAtAnyStepCount(t *testing.T) {
	const (
		budget = 1000
		slack  = 8 // the loop body is 5 instructions: the next safepoint comes within one pass
	)
	for _, tc := range []struct {
		name  string
		start uint64
		calls int // Runs that must yield before the quota fault; -1: never faults
	}{
		{"2^64-1", math.MaxUint64, 0},
		{"2^64-1024", math.MaxUint64 - 1023, 1},
		{"2^64-1025", math.MaxUint64 - 1024, 1},
		{"2^63", 1 << 63, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iso := resumeAtSteps(t, 1_000_000, tc.start)
			for call := 0; call < 5; call++ {
				before := iso.Steps()
				st := iso.Run(budget)
				ran := iso.Steps() - before // modulo 2^64: a wrapped counter shows as a huge or wrong count
				if ran > budget+slack {
					t.Fatalf("Run %d from %d steps: %s after %d instructions, budget %d", call, before, st, ran, budget)
				}
				if call == tc.calls {
					if st != Faulted || !errors.Is(iso.Err(), ErrInstructionQuota) || iso.Steps() != math.MaxUint64 {
						t.Fatalf("Run %d: %s (%v) at %d steps, want an instruction-quota fault at 2^64-1", call, st, iso.Err(), iso.Steps())
					}
					return
				}
				if st != Yielded || ran < budget {
					t.Fatalf("Run %d from %d steps: %s after %d instructions, want Yielded after at least %d", call, before, st, ran, budget)
				}
			}
			if tc.calls >= 0 {
				t.Fatalf("no fault after 5 runs, at %d steps", iso.Steps())
			}
		})
	}
}

// A state that stopped (say, halted) at the safepoint where its counter
// reached the quota faults at once when resumed, at the pc and count where a
// straight run faults.
func TestQuotaReachedBeforeResume(t *testing.T) {
	p := loopProgram(t, 1_000_000)
	limits := Limits{MaxSteps: 5000}
	straight, _ := New(p, limits)
	if st := straight.Run(1 << 62); st != Faulted {
		t.Fatalf("straight run: %s", st)
	}
	halted, _ := New(p, Limits{}) // stops at the same safepoints, without the quota
	for halted.Steps() < limits.MaxSteps {
		if st := halted.Run(1); st != Yielded {
			t.Fatalf("stepped run: %s", st)
		}
	}
	r, err := Resume(p, halted.Snapshot(), limits)
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Run(1 << 62); st != Faulted {
		t.Fatalf("resumed run: %s", st)
	}
	assertSameEnd(t, straight, r)
}
