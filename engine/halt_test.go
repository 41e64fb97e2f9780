package engine

import (
	"sort"
	"sync"
	"testing"
	"time"
)

func TestHaltFromAnotherGoroutine(t *testing.T) {
	p := loopProgram(t, 3_000_000)
	straight := runStraight(t, p, Limits{})
	iso, _ := New(p, Limits{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				iso.Halt()
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	halts := 0
	for {
		st := iso.Run(1 << 62)
		if st == Halted {
			halts++
			continue
		}
		if !st.Runnable() {
			break
		}
	}
	close(stop)
	wg.Wait()
	if halts == 0 {
		t.Fatal("no halt request was honoured")
	}
	assertSameEnd(t, straight, iso)
}

func TestHaltBeforeRun(t *testing.T) {
	iso, _ := New(loopProgram(t, 100), Limits{})
	iso.Halt()
	if st := iso.Run(1 << 62); st != Halted || iso.Steps() != 0 {
		t.Fatalf("status %s after %d steps", st, iso.Steps())
	}
	if st := iso.Run(1 << 62); st != Finished {
		t.Fatalf("second run: %s", st)
	}
}

// The dispatch loop, calls included, allocates nothing once warm.
func TestRunDoesNotAllocate(t *testing.T) {
	for name, p := range map[string]*Program{"fib": fibProgram(t, 27), "loop": loopProgram(t, 5_000_000), "garbage": garbageProgram(t, 100000)} {
		iso, _ := New(p, Limits{})
		iso.Run(200000) // warm: frames, registers and heap reach their size
		if allocs := testing.AllocsPerRun(100, func() { iso.Run(1000) }); allocs != 0 {
			t.Errorf("%s: %.1f allocs per Run", name, allocs)
		}
	}
}

// BenchmarkHaltLatency measures the time from Halt to the isolate parked,
// that is to Run returning, while it runs the loop workload.
func BenchmarkHaltLatency(b *testing.B) {
	p := loopProgram(b, 1<<30)
	iso, _ := New(p, Limits{})
	lat := make([]time.Duration, 0, b.N)
	started := make(chan struct{})
	parked := make(chan time.Time)
	go func() {
		for range started {
			iso.Run(1 << 62)
			parked <- time.Now()
		}
	}()
	for b.Loop() {
		started <- struct{}{}
		time.Sleep(20 * time.Microsecond) // let it get going
		t0 := time.Now()
		iso.Halt()
		lat = append(lat, (<-parked).Sub(t0))
	}
	close(started)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
