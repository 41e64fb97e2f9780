package cluster

import (
	"context"
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

func TestRunLoadAudit(t *testing.T) {
	jobs := []*Job{}
	for _, name := range []string{"sieve", "words"} {
		p := testProgs(t)[name]
		jobs = append(jobs, &Job{Name: name, Prog: p.prog, Status: p.status, Result: p.result, Steps: p.steps, Hash: p.hash, Duration: time.Millisecond})
	}
	r, err := RunLoad(context.Background(), LoadConfig{Cluster: Config{Nodes: 3, Workers: 2, Quantum: 5000,
		Link: LinkConfig{Latency: 50 * time.Microsecond, Loss: 0.05}}, Jobs: jobs, Isolates: 20, MigrateRate: 2000, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Completed != 20 || r.Correct != 20 || r.Unfinished != 0 {
		t.Fatalf("%+v", r)
	}
	// A deadline leaves isolates unfinished but accounted for.
	p := heapProgram(t, 64)
	r, err = RunLoad(context.Background(), LoadConfig{Cluster: Config{Nodes: 2, Quantum: 5000}, Duration: 20 * time.Millisecond,
		Jobs: []*Job{{Name: "forever", Prog: p}}, Isolates: 4, MigrateRate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// Issue 12, item 14(e): a deadline run says how many it left unchecked.
	if !r.OK() || r.Completed != 0 || r.Unfinished != 4 || len(r.UnfinishedIDs) != 4 {
		t.Fatalf("completed %d, unfinished %d %v, lost %v, duplicated %v", r.Completed, r.Unfinished, r.UnfinishedIDs, r.Lost, r.Duplicated)
	}
}

func TestJobCheck(t *testing.T) {
	p := testProgs(t)["loop"]
	j := &Job{Name: "loop", Prog: p.prog, Status: p.status, Result: p.result, Steps: p.steps, Hash: p.hash, Known: p.result}
	good := &Completion{Status: p.status, Result: p.result, Steps: p.steps, Hash: p.hash}
	if err := j.Check(good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Completion{
		{Status: p.status, Result: "1", Steps: p.steps, Hash: p.hash},
		{Status: p.status, Result: p.result, Steps: p.steps + 1, Hash: p.hash},
		{Status: p.status, Result: p.result, Steps: p.steps},
	} {
		if err := j.Check(&bad); err == nil {
			t.Errorf("%+v passed", bad)
		}
	}
	j.Known = "wrong"
	if err := j.Check(good); err == nil {
		t.Error("a result that differs from the known value passed")
	}
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
