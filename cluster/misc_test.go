package cluster

import (
	"testing"
	"time"
	"unsafe"

	"github.com/klauspost/cpuid/v2"

	"github.com/knotencore/knoten/engine"
)

func TestPadCoversCacheLine(t *testing.T) {
	if l := cpuid.CPU.CacheLine; l > 0 && cacheLinePad < l {
		t.Fatalf("cacheLinePad %d < cache line %d", cacheLinePad, l)
	}
	var w worker
	if off := unsafe.Offsetof(w.dq); off < cacheLinePad {
		t.Fatalf("worker fields start at %d, inside the leading pad", off)
	}
	if tail := unsafe.Sizeof(w) - (unsafe.Offsetof(w.seed) + unsafe.Sizeof(w.seed)); tail < cacheLinePad {
		t.Fatalf("worker trailing pad %d < %d", tail, cacheLinePad)
	}
}

func TestQuantum(t *testing.T) {
	for _, g := range []Geometry{{CacheLine: 64, L1D: 48 << 10, L2: 2 << 20}, {CacheLine: 64, L1D: 32 << 10}, {CacheLine: 128, L1D: 128 << 10}} {
		d := QuantumDuration(g)
		if d < 20*time.Microsecond || d > time.Millisecond {
			t.Errorf("%+v: quantum %v", g, d)
		}
	}
	if d := QuantumDuration(Geometry{CacheLine: 64, L1D: 48 << 10}); d != 50*768*4*time.Nanosecond {
		t.Errorf("48 KiB L1D: %v", d)
	}
	g := CacheGeometry()
	if g.CacheLine <= 0 || g.L1D <= 0 || g.L2 <= 0 {
		t.Fatalf("fallbacks not applied: %+v", g)
	}
	if q := DefaultQuantum(); q < minQuantum || q > maxQuantum {
		t.Fatalf("quantum %d", q)
	}
	t.Logf("geometry %+v, quantum %v = %d instructions at %.2f/ns", g, QuantumDuration(g), DefaultQuantum(), StepRate())
}

// The calibration loop, assembled in code, validates, runs, and computes
// what the compiled source does.
func TestCalibrationProgram(t *testing.T) {
	p, err := calibrationProgram()
	if err != nil {
		t.Fatal(err)
	}
	iso, err := engine.New(p, engine.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if iso.Run(100_000); iso.Steps() < 100_000 {
		t.Fatalf("ran %d steps, want at least 100000", iso.Steps())
	}
	if StepRate() <= 0 {
		t.Fatal("no step rate")
	}
}
