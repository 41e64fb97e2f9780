package peers

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Run is one timed run of one workload on one engine.
type Run struct {
	Time   time.Duration // wall clock
	CPU    time.Duration // process CPU time, all threads (0 where unknown)
	Bytes  uint64        // heap bytes allocated
	Allocs uint64        // heap objects allocated
}

// Measurement is every timed run of one workload on one engine.
type Measurement struct {
	Workload, Engine string
	N                int
	Result           string // checked against native Go
	Unsupported      bool   // the engine cannot express the workload; no runs
	Runs             []Run
}

// Median returns the median wall-clock time of the runs.
func (m *Measurement) Median() time.Duration {
	return m.median(func(r Run) time.Duration { return r.Time })
}

// MedianCPU returns the median process CPU time of the runs.
func (m *Measurement) MedianCPU() time.Duration {
	return m.median(func(r Run) time.Duration { return r.CPU })
}

func (m *Measurement) median(of func(Run) time.Duration) time.Duration {
	if len(m.Runs) == 0 {
		return 0
	}
	ts := make([]time.Duration, len(m.Runs))
	for i, r := range m.Runs {
		ts[i] = of(r)
	}
	slices.Sort(ts)
	if len(ts)%2 == 1 {
		return ts[len(ts)/2]
	}
	return (ts[len(ts)/2-1] + ts[len(ts)/2]) / 2
}

// MeasureWorkload prepares w at size n on every engine, runs each once
// untimed and checks its result against native Go's, then times count
// rounds in which every engine runs once in turn. Interleaving the engines
// spreads any background load on the machine over all of them alike, so
// the ratios stay fair. A wrong result is an error.
func MeasureWorkload(engines []Engine, w string, n, count int) ([]*Measurement, error) {
	want, err := Want(w, n)
	if err != nil {
		return nil, err
	}
	ms := make([]*Measurement, len(engines))
	runners := make([]Runner, len(engines))
	defer func() {
		for _, r := range runners {
			if r != nil {
				r.Close()
			}
		}
	}()
	for i, e := range engines {
		ms[i] = &Measurement{Workload: w, Engine: e.Name, N: n}
		r, err := e.Prepare(w, n)
		if errors.Is(err, ErrUnsupported) {
			ms[i].Unsupported = true
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", e.Name, w, err)
		}
		runners[i] = r
		if err := Check(e.Name, w, n, r, want); err != nil { // also the warm-up
			return nil, err
		}
		ms[i].Result = want
	}
	var before, after runtime.MemStats
	for range count {
		for i, r := range runners {
			if r == nil {
				continue
			}
			runtime.GC()
			runtime.ReadMemStats(&before)
			cpu0, start := cpuTime(), time.Now()
			got, err := r.Run()
			d, cpu := time.Since(start), cpuTime()-cpu0
			runtime.ReadMemStats(&after)
			if err != nil {
				return nil, fmt.Errorf("%s %s(%d): %w", engines[i].Name, w, n, err)
			}
			if got != want {
				return nil, fmt.Errorf("%s %s(%d): wrong result %s, want %s (native Go)", engines[i].Name, w, n, got, want)
			}
			ms[i].Runs = append(ms[i].Runs, Run{d, cpu, after.TotalAlloc - before.TotalAlloc, after.Mallocs - before.Mallocs})
		}
	}
	return ms, nil
}

// BenchName is the Go benchmark name of w on engine, without the
// -GOMAXPROCS suffix: "Peers/workload=fib/engine=goja". bench/benchplot's
// PeerRatios reads these names.
func BenchName(w, engine string) string {
	return "Peers/workload=" + w + "/engine=" + engine
}

// WriteBench writes ms in Go benchmark format, one line per run, as
// BenchmarkPeers would print them with -count (the runs of one benchmark
// each count as one iteration); ns/op is wall-clock time and cpu-ns/op
// the process CPU time:
//
//	BenchmarkPeers/workload=fib/engine=goja-2  1  273000000 ns/op  271000000 cpu-ns/op  1234 B/op  56 allocs/op
func WriteBench(w io.Writer, ms []*Measurement) error {
	suffix := ""
	if p := runtime.GOMAXPROCS(0); p > 1 {
		suffix = fmt.Sprintf("-%d", p)
	}
	var b strings.Builder
	for _, m := range ms {
		for _, r := range m.Runs {
			fmt.Fprintf(&b, "Benchmark%s%s \t       1\t%12d ns/op\t%12d cpu-ns/op\t%12d B/op\t%9d allocs/op\n",
				BenchName(m.Workload, m.Engine), suffix, r.Time.Nanoseconds(), r.CPU.Nanoseconds(), r.Bytes, r.Allocs)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
