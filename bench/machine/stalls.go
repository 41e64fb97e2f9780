package machine

import (
	"runtime"
	"time"
)

// Stalls is what ProbeStalls saw: how often a thread that never blocks lost
// its processor, and for how long. On a virtual machine these are mostly
// the host running something else on the vCPU; they bound what any latency
// percentile measured on the machine can show.
type Stalls struct {
	Duration time.Duration // how long the probe ran
	Over20us int           // gaps longer than 20 µs between two clock readings
	Over100  int           // of which longer than 100 µs
	Max      time.Duration // the longest gap
}

// PerSecond scales a count of gaps to a rate.
func (s Stalls) PerSecond(n int) float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(n) / s.Duration.Seconds()
}

// ProbeStalls spins on one locked OS thread for d, reading the monotonic
// clock in a tight loop, and records every gap between two readings. The
// loop makes no system call and does not allocate, so a long gap is time the
// thread was not running: an interrupt, another thread or process, or the
// hypervisor. It keeps one processor busy for d.
func ProbeStalls(d time.Duration) Stalls {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	last := start
	s := Stalls{Duration: d}
	for {
		now := time.Now()
		gap := now.Sub(last)
		last = now
		if gap > 20*time.Microsecond {
			s.Over20us++
			if gap > 100*time.Microsecond {
				s.Over100++
			}
			s.Max = max(s.Max, gap)
		}
		if now.Sub(start) >= d {
			return s
		}
	}
}
