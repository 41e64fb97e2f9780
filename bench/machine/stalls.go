package machine

import (
	"runtime"
	"time"
)

// PageSize is the stride of ProbeStalls' working set: one touch per 4 KiB
// page, the base page size of the machines we run on.
const PageSize = 4096

// Stalls is what ProbeStalls saw: how often a thread that never blocks lost
// its processor, and for how long. On a virtual machine these are mostly
// the hypervisor running something else on the vCPU, or handling the
// guest's page walks itself; they bound what any latency percentile
// measured on the machine can show.
type Stalls struct {
	Duration time.Duration // how long the probe ran
	Pages    int           // distinct 4 KiB pages the loop touched in turn
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

// A StallProbe measures stalls while touching a working set of pages. It
// is not safe for concurrent use.
type StallProbe struct {
	buf   []byte
	pages int
}

// NewStallProbe allocates a working set of pages 4 KiB pages (at least
// one) and faults every page in, so that Run measures a resident set.
func NewStallProbe(pages int) *StallProbe {
	pages = max(pages, 1)
	p := &StallProbe{buf: make([]byte, pages*PageSize), pages: pages}
	for i := 0; i < len(p.buf); i += PageSize {
		p.buf[i] = 1
	}
	return p
}

// ProbeStalls runs NewStallProbe(pages).Run(d).
func ProbeStalls(d time.Duration, pages int) Stalls { return NewStallProbe(pages).Run(d) }

// Run spins on one locked OS thread for d, reading the monotonic clock in a
// tight loop, and records every gap between two readings. Each turn of the
// loop also writes one byte of the working set, in the next page each
// turn, so that the loop cycles through all of its pages (with one page,
// the page never leaves the TLB). The loop makes no system call and does
// not allocate, so a long gap is time the thread was not running: an
// interrupt, another thread or process, or the hypervisor.
//
// Comparing one page with a larger working set separates stalls that
// strike any running thread from stalls that come with TLB misses. On a
// machine whose hypervisor shadows the guest's page tables, the second
// kind dominates, and code that touches many pages (a migration touches a
// few hundred) meets it far more often than a clock loop suggests.
// It keeps one processor busy for d.
func (p *StallProbe) Run(d time.Duration) Stalls {
	buf, pages := p.buf, p.pages
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	last := start
	s := Stalls{Duration: d, Pages: pages}
	for i := 0; ; i++ {
		// Step through the pages, and through the lines within them, so
		// that every turn touches the next page.
		buf[(i%pages)*PageSize+(i/pages*64)%PageSize]++
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
