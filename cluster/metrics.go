package cluster

import (
	"slices"
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

	migrations      atomic.Int64 // handoffs that ended with the target owning the isolate
	failedHandoffs  atomic.Int64 // handoffs that ended with the source resuming
	bytesMoved      atomic.Int64 // bytes of OFFERs started (first transmission only)
	programFetches  atomic.Int64 // programs fetched by hash
	interStealTried atomic.Int64 // STEAL requests sent
	interStealOK    atomic.Int64 // STEAL requests answered with at least one isolate
	interStolen     atomic.Int64 // isolates handed off in answer to STEAL
	completions     atomic.Int64
	fenced          atomic.Int64 // copies the ledger refused: an offer not committed, a completion not published

	// Live migrations (precopy.go).
	precopyStarted   atomic.Int64            // MigratePreCopy requests taken
	precopyRounds    atomic.Int64            // rounds completed on sources
	precopyPages     atomic.Int64            // pages sent in rounds
	precopyBytes     atomic.Int64            // bytes of PAGES messages
	precopyConverged atomic.Int64            // stopped because the dirty set fell to PreCopy.StopPages
	precopyForced    atomic.Int64            // stopped after PreCopy.MaxRounds without converging
	precopyReopened  atomic.Int64            // closing quanta that wrote more than PreCopy.StopPages: the rounds went on
	precopyBroken    atomic.Int64            // sessions a target dropped: a chunk missing, bad or over budget
	precopyExpired   atomic.Int64            // sessions a target dropped after going quiet
	precopyFinal     atomic.Int64            // pages sent at the stops
	finalPages       *hdrhistogram.Histogram // pages sent at the stop of a live migration
	preRounds        *hdrhistogram.Histogram // rounds of a live migration
	intraStealTried  atomic.Int64            // filled in from the workers at Snapshot
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
		finalPages:  hdrhistogram.New(1, 1<<24, 3),
		preRounds:   hdrhistogram.New(1, 1<<16, 3),
	}
	m.firstSpawn.Store(-1)
	return m
}

// record adds v to h: a negative v as 0, one past h's highest trackable
// value as that value. Zero is a value like any other (a stop that sends
// no page): h records it below its lowest discernible value, 1.
func record(h *hdrhistogram.Histogram, v int64) {
	v = max(v, 0)
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
	// PreCopy sums up live migrations (Cluster.MigratePreCopy).
	PreCopy PreCopyStats `json:"precopy"`
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
	s.PreCopy.FinalPages = distOf(m.finalPages)
	s.PreCopy.Rounds = distOf(m.preRounds)
	m.mu.Unlock()
	s.PreCopy.Started, s.PreCopy.RoundsDone, s.PreCopy.Pages, s.PreCopy.Bytes = m.precopyStarted.Load(), m.precopyRounds.Load(), m.precopyPages.Load(), m.precopyBytes.Load()
	s.PreCopy.Converged, s.PreCopy.Forced, s.PreCopy.Broken, s.PreCopy.Expired = m.precopyConverged.Load(), m.precopyForced.Load(), m.precopyBroken.Load(), m.precopyExpired.Load()
	s.PreCopy.FinalSent, s.PreCopy.Reopened = m.precopyFinal.Load(), m.precopyReopened.Load()
	return s
}

// PreCopyStats sums up the live migrations of a cluster.
type PreCopyStats struct {
	Started    int64 `json:"started"`     // MigratePreCopy requests taken
	RoundsDone int64 `json:"rounds"`      // rounds completed, all migrations together
	Pages      int64 `json:"pages"`       // pages sent in rounds
	Bytes      int64 `json:"bytes"`       // bytes of PAGES messages (the final OFFERs are in BytesMoved)
	Converged  int64 `json:"converged"`   // final OFFERs sent because the dirty set fell to StopPages
	Forced     int64 `json:"forced"`      // final OFFERs sent after MaxRounds, still writing faster than the rounds went
	Reopened   int64 `json:"reopened"`    // closing quanta that wrote more than StopPages (a burst, a collection): the rounds went on
	Broken     int64 `json:"broken"`      // sessions a target dropped (a chunk lost, bad or over its budget): their final OFFER fails and the isolate runs on at the source
	Expired    int64 `json:"expired"`     // sessions a target dropped after going quiet
	FinalPages Dist  `json:"final_pages"` // pages sent at the stop, per migration
	FinalSent  int64 `json:"final_sent"`  // pages sent at the stops, all migrations together
	Rounds     Dist  `json:"rounds_dist"` // rounds per migration
}

// recordPreCopy records a live migration's final OFFER: whether MaxRounds
// forced its stop, its rounds and the pages left for the stop.
func (m *Metrics) recordPreCopy(forced bool, rounds, final int) {
	if forced {
		m.precopyForced.Add(1)
	} else {
		m.precopyConverged.Add(1)
	}
	m.precopyFinal.Add(int64(final))
	m.mu.Lock()
	record(m.preRounds, int64(rounds))
	record(m.finalPages, int64(final))
	m.mu.Unlock()
}

// Quantile returns the q-quantile (0 <= q <= 1) of a sample of durations,
// the nearest-rank way: the value at rank ⌊q·n⌋ of the sorted sample (0
// for an empty one). The benchmarks that record every downtime use it, so
// that their figures come from one formula.
func Quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}
