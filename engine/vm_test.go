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

func TestCallDepth(t *testing.T) {
	iso, _ := New(fibProgram(t, 30), Limits{MaxDepth: 5})
	runToEnd(t, iso)
	var fe *FaultError
	if !errors.As(iso.Err(), &fe) || !errors.Is(fe, ErrCallDepth) || fe.Func != "fib" {
		t.Fatalf("err %v", iso.Err())
	}
}
