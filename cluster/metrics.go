package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Metrics collects a cluster's figures. Durations are recorded in
// nanoseconds into HdrHistograms with 3 significant digits; everything is
// safe for concurrent use. In a Sim, durations are virtual.
type Metrics struct {
	mu          sync.Mutex
	downtime    *hdrhistogram.Histogram // halt request → the target took the isolate (runnable there)
	queueWait   *hdrhistogram.Histogram // the target took it → its first quantum there
	haltLatency *hdrhistogram.Histogram // halt request → isolate parked at a safepoint
	completion  *hdrhistogram.Histogram // spawn → completion published
	stateBytes  *hdrhistogram.Histogram // bytes of one OFFER (state + envelope)

	migrations       atomic.Int64 // handoffs that ended with the target owning the isolate
	failedHandoffs   atomic.Int64 // handoffs that ended with the source resuming
	bytesMoved       atomic.Int64 // bytes of OFFERs started (first transmission only)
	programFetches   atomic.Int64 // programs fetched by hash
	interStealTried  atomic.Int64 // STEAL requests sent
	interStealOK     atomic.Int64 // STEAL requests answered with at least one isolate
	interStolen      atomic.Int64 // isolates handed off in answer to STEAL
	completions      atomic.Int64
	fenced           atomic.Int64 // copies the ledger refused: an offer not committed, a completion not published
	intraStealTried  atomic.Int64 // filled in from the workers at Snapshot
	intraStealOK     atomic.Int64
	intraSteals      func() (tried, ok int64)
	firstSpawn, last atomic.Int64 // clock readings (ns) of the first spawn and the last completion
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, int64(time.Minute), 3) }

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		downtime:    newHist(),
		queueWait:   newHist(),
		haltLatency: newHist(),
		completion:  newHist(),
		stateBytes:  hdrhistogram.New(1, 1<<36, 3),
	}
	m.firstSpawn.Store(-1)
	return m
}

func record(h *hdrhistogram.Histogram, v int64) {
	if v < 1 {
		v = 1
	}
	if v > h.HighestTrackableValue() {
		v = h.HighestTrackableValue()
	}
	h.RecordValue(v)
}

func (m *Metrics) recordDowntime(d time.Duration) {
	m.mu.Lock()
	record(m.downtime, int64(d))
	m.mu.Unlock()
}

func (m *Metrics) recordQueueWait(d time.Duration) {
	m.mu.Lock()
	record(m.queueWait, int64(d))
	m.mu.Unlock()
}

func (m *Metrics) recordHalt(d time.Duration) {
	m.mu.Lock()
	record(m.haltLatency, int64(d))
	m.mu.Unlock()
}

func (m *Metrics) recordOffer(n int) {
	m.bytesMoved.Add(int64(n))
	m.mu.Lock()
	record(m.stateBytes, int64(n))
	m.mu.Unlock()
}

func (m *Metrics) recordSpawn(now time.Duration) {
	m.firstSpawn.CompareAndSwap(-1, int64(now))
}

func (m *Metrics) recordCompletion(latency, now time.Duration) {
	m.completions.Add(1)
	for {
		old := m.last.Load()
		if int64(now) <= old || m.last.CompareAndSwap(old, int64(now)) {
			break
		}
	}
	m.mu.Lock()
	record(m.completion, int64(latency))
	m.mu.Unlock()
}

// Dist summarizes one histogram: its sample count beside every percentile.
// Durations are in nanoseconds. A zero Count means no samples, and then
// every other field is 0 too.
type Dist struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   int64   `json:"p50"`
	P90   int64   `json:"p90"`
	P99   int64   `json:"p99"`
	P999  int64   `json:"p999"`
	Max   int64   `json:"max"`
}

func distOf(h *hdrhistogram.Histogram) Dist {
	if h.TotalCount() == 0 {
		return Dist{}
	}
	return Dist{
		Count: h.TotalCount(),
		Mean:  h.Mean(),
		P50:   h.ValueAtQuantile(50),
		P90:   h.ValueAtQuantile(90),
		P99:   h.ValueAtQuantile(99),
		P999:  h.ValueAtQuantile(99.9),
		Max:   h.Max(),
	}
}

// samplesOf expands a histogram into its recorded values, each bucket's
// values reported at the bucket's upper end.
func samplesOf(h *hdrhistogram.Histogram) []time.Duration {
	out := make([]time.Duration, 0, h.TotalCount())
	for _, bar := range h.Distribution() {
		for range bar.Count {
			out = append(out, time.Duration(bar.To))
		}
	}
	return out
}

// Snapshot is a copy of the metrics as plain data.
type Snapshot struct {
	// Downtime is migration downtime: from the halt request to the moment
	// the target took the isolate, decoded and verified, and made it
	// runnable. Time it then spent queued at the target behind other
	// isolates is QueueWait, from then to its first quantum there.
	Downtime        Dist  `json:"downtime_ns"`
	QueueWait       Dist  `json:"queue_wait_ns"`
	HaltLatency     Dist  `json:"halt_latency_ns"`
	Completion      Dist  `json:"completion_latency_ns"`
	OfferBytes      Dist  `json:"offer_bytes"`
	Migrations      int64 `json:"migrations"`
	FailedHandoffs  int64 `json:"failed_handoffs"`
	BytesMoved      int64 `json:"bytes_moved"`
	ProgramFetches  int64 `json:"program_fetches"`
	IntraStealTried int64 `json:"intra_steals_tried"`
	IntraStealOK    int64 `json:"intra_steals_ok"`
	InterStealTried int64 `json:"inter_steals_tried"`
	InterStealOK    int64 `json:"inter_steals_ok"`
	InterStolen     int64 `json:"inter_stolen_isolates"`
	Completions     int64 `json:"completions"`
	Fenced          int64 `json:"fenced,omitempty"` // copies the ledger refused (only with Config.Ledger): offers not committed, completions not published
	// Makespan is the time from the first spawn to the last completion.
	Makespan time.Duration `json:"makespan_ns"`
	// DowntimeSamples holds every recorded downtime, at the histogram's
	// resolution (3 significant digits), in increasing order: what a CDF
	// plot needs.
	DowntimeSamples []time.Duration `json:"-"`
}

// Snapshot returns the figures so far.
func (m *Metrics) Snapshot() Snapshot {
	s := Snapshot{
		Migrations:      m.migrations.Load(),
		FailedHandoffs:  m.failedHandoffs.Load(),
		BytesMoved:      m.bytesMoved.Load(),
		ProgramFetches:  m.programFetches.Load(),
		InterStealTried: m.interStealTried.Load(),
		InterStealOK:    m.interStealOK.Load(),
		InterStolen:     m.interStolen.Load(),
		Completions:     m.completions.Load(),
		Fenced:          m.fenced.Load(),
		IntraStealTried: m.intraStealTried.Load(),
		IntraStealOK:    m.intraStealOK.Load(),
	}
	if f := m.intraSteals; f != nil {
		t, ok := f()
		s.IntraStealTried += t
		s.IntraStealOK += ok
	}
	if first := m.firstSpawn.Load(); first >= 0 && m.last.Load() > first {
		s.Makespan = time.Duration(m.last.Load() - first)
	}
	m.mu.Lock()
	s.Downtime = distOf(m.downtime)
	s.DowntimeSamples = samplesOf(m.downtime)
	s.QueueWait = distOf(m.queueWait)
	s.HaltLatency = distOf(m.haltLatency)
	s.Completion = distOf(m.completion)
	s.OfferBytes = distOf(m.stateBytes)
	m.mu.Unlock()
	return s
}
