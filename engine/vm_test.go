package engine

import (
	"errors"
	"testing"
)

func runToEnd(t testing.TB, iso *Isolate) {
	t.Helper()
	for iso.Run(1 << 62).Runnable() {
	}
}

func TestFibAssembled(t *testing.T) {
	iso, err := New(fibProgram(t, 20), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	runToEnd(t, iso)
	if iso.Status() != Finished || iso.Result() != "6765" {
		t.Fatalf("status %s result %q err %v", iso.Status(), iso.Result(), iso.Err())
	}
}

func TestLoopAssembled(t *testing.T) {
	iso, _ := New(loopProgram(t, 1000), Limits{})
	runToEnd(t, iso)
	want := 0
	for i := 0; i < 1000; i++ {
		want = (want + i*i) % 1000003
	}
	if got := iso.Result(); got != itoa(want) {
		t.Fatalf("got %s want %d", got, want)
	}
}

func itoa(n int) string {
	return string(appendInt(nil, n))
}

func appendInt(b []byte, n int) []byte {
	if n < 0 {
		return appendInt(append(b, '-'), -n)
	}
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

func TestInstructionQuota(t *testing.T) {
	iso, _ := New(loopProgram(t, 1000000), Limits{MaxSteps: 1000})
	runToEnd(t, iso)
	if iso.Status() != Faulted || !errors.Is(iso.Err(), ErrInstructionQuota) {
		t.Fatalf("status %s err %v", iso.Status(), iso.Err())
	}
}

// TestRegisterQuota: deep calls fault when the register file would pass
// Limits.MaxRegs, so that a program cannot make the node allocate without
// bound (65536 registers a frame × 100000 frames is 52 GB); a state over the
// quota is refused, and so is an entry function that alone exceeds it.
func TestRegisterQuota(t *testing.T) {
	p := fibProgram(t, 25) // 25 frames of 3 registers at its deepest
	iso, _ := New(p, Limits{MaxRegs: 64})
	runToEnd(t, iso)
	var fe *FaultError
	if !errors.As(iso.Err(), &fe) || !errors.Is(fe, ErrStackQuota) || fe.Func != "fib" {
		t.Fatalf("err %v", iso.Err())
	}
	iso, _ = New(p, Limits{MaxRegs: 128})
	if runToEnd(t, iso); iso.Status() != Finished {
		t.Fatalf("fib(25) within 128 registers: %v", iso.Err())
	}

	iso, _ = New(p, Limits{})
	iso.Run(5000)
	st := iso.Snapshot()
	if err := CheckState(p, st, Limits{MaxRegs: len(st.Regs) - 1}); err == nil {
		t.Fatalf("CheckState took %d registers over a quota of %d", len(st.Regs), len(st.Regs)-1)
	}
	if _, err := New(p, Limits{MaxRegs: 0}); err != nil {
		t.Fatalf("default quota: %v", err)
	}
	big := assemble(t, 0, nil, nil, 0, nil, asmFunc{name: "main", nregs: 300, result: KindInt, code: []Instr{Encode(RET, 0, 0, 0)}})
	if _, err := New(big, Limits{MaxRegs: 299}); !errors.Is(err, ErrStackQuota) {
		t.Fatalf("New with an entry of 300 registers under a quota of 299: %v", err)
	}
}

func TestCallDepth(t *testing.T) {
	iso, _ := New(fibProgram(t, 30), Limits{MaxDepth: 5})
	runToEnd(t, iso)
	var fe *FaultError
	if !errors.As(iso.Err(), &fe) || !errors.Is(fe, ErrCallDepth) || fe.Func != "fib" {
		t.Fatalf("err %v", iso.Err())
	}
}
