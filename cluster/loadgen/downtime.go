package loadgen

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

// DowntimeHeaps are the heap sizes BenchmarkMigrationDowntime and
// knoten-init --load --precopy move, with their names.
var DowntimeHeaps = []struct {
	Name  string
	Bytes int
}{{"64KiB", 64 << 10}, {"1MiB", 1 << 20}, {"16MiB", 16 << 20}, {"64MiB", 64 << 20}, {"256MiB", 256 << 20}}

// DowntimeResult is what Downtime measured for one heap size and mode.
type DowntimeResult struct {
	Heap       int             `json:"heap_bytes"`
	PreCopy    bool            `json:"precopy"`
	HotPages   int             `json:"hot_pages"`
	Migrations int             `json:"migrations"`
	Downtimes  []time.Duration `json:"downtimes_ns"` // one per migration, in order
	Sent       int64           `json:"sent_bytes"`   // OFFERs and PAGES messages, all migrations together
	Rounds     int64           `json:"rounds"`       // pre-copy rounds, all migrations together
	Forced     int64           `json:"forced"`       // pre-copy migrations stopped by MaxRounds rather than converging
	FinalPages int64           `json:"final_pages"`  // pages sent at the stops, all migrations together
}

// Quantile returns the q-quantile of the downtimes (0 when there are none).
func (r *DowntimeResult) Quantile(q float64) time.Duration { return cluster.Quantile(r.Downtimes, q) }

// InstrPerMs is the engine's speed on MutatorProgram's spin loop, measured
// once per process: what turns "pages per millisecond" into instructions.
var InstrPerMs = sync.OnceValue(func() float64 {
	p, err := lang.Compile("spin.kn", []byte(`func main() int {
	s := 0
	for j := 0; j < 20000000; j++ {
		s += j
	}
	return s
}
`))
	if err != nil {
		panic("BUG: loadgen: the spin program does not compile: " + err.Error())
	}
	iso, _ := engine.New(p, engine.Limits{})
	start := time.Now()
	iso.Run(1 << 62)
	return float64(iso.Steps()) / max(float64(time.Since(start))/float64(time.Millisecond), 0.001)
})

// MutatorProgram returns a program whose heap is about heapBytes: one
// array, then forever one word written into a random page of its hot set
// (its first 1 % of pages, at least one) after each spin loop, the loop
// sized (from InstrPerMs) so that it writes about as many words per
// millisecond as its hot set has pages: about 1 % of its pages each
// millisecond. It also returns the hot set's size in pages.
func MutatorProgram(heapBytes int) (*engine.Program, int, error) {
	words := heapBytes/8 - 8
	pages := engine.NumPages(heapBytes)
	hot := max(pages/100, 1)
	wordsPerPage := engine.PageSize / 8
	// A write and its bookkeeping take about 15 instructions, a spin
	// iteration 3.
	spin := max(int((InstrPerMs()/float64(hot)-15)/3), 1)
	src := fmt.Sprintf(`func main() int {
	a := make([]int, %d)
	x := 1
	s := 0
	for r := 0; r < 4000000000; r++ {
		x = (x*1103515245 + 12345) %% 2147483648
		p := (x >> 4) %% %d
		a[p*%d+x%%%d] = r
		for j := 0; j < %d; j++ {
			s += j
		}
	}
	return s
}
`, words, hot, wordsPerPage, wordsPerPage, spin)
	p, err := lang.Compile("mutator.kn", []byte(src))
	return p, hot, err
}

// downtimeCluster returns the configuration Downtime's clusters use: two
// nodes on a zero-latency link, no stealing, room for a 256 MiB heap on
// both sides at once, and an offer timeout long enough for the target to
// verify a whole 256 MiB state (about half a second here): with the
// default 20 ms, a stop-and-copy of 16 MiB or more is aborted before the
// target has checked it, and the isolate stays where it was.
func downtimeCluster(onEvent func(cluster.Event)) cluster.Config {
	return cluster.Config{Nodes: 2, NoSteal: true, MemoryBudget: 8 << 30, Limits: engine.Limits{MaxHeap: 1 << 30},
		RTO: 50 * time.Millisecond, OfferTimeout: 10 * time.Second, OnEvent: onEvent}
}

// Downtime spawns MutatorProgram(heapBytes) on node 0 of a new
// two-node cluster and migrates it back and forth n times, by
// stop-and-copy or by pre-copy with opts, one migration at a time. Each
// downtime runs from the halt (for pre-copy, the end of the last quantum
// on the source) to the first quantum on the target. ready, if not nil,
// is called once the set-up is over, just before the first migration (a
// benchmark resets its timer there).
func Downtime(heapBytes, n int, precopy bool, opts cluster.PreCopy, ready func()) (*DowntimeResult, error) {
	prog, hot, err := MutatorProgram(heapBytes)
	if err != nil {
		return nil, err
	}
	running := make(chan cluster.Event, 16)
	var missed atomic.Int64 // EvRunning events that found the channel full; OnEvent must not block a driver
	c := cluster.New(downtimeCluster(func(e cluster.Event) {
		if e.Kind == cluster.EvRunning {
			select {
			case running <- e:
			default:
				missed.Add(1)
			}
		}
	}))
	defer c.Close()
	id, err := c.Spawn(0, prog)
	if err != nil {
		return nil, err
	}
	for c.Steps(id) < 100_000 { // past the make
		if c.Pending() == 0 {
			return nil, errors.New("loadgen: the mutator ended")
		}
		time.Sleep(100 * time.Microsecond)
	}
	r := &DowntimeResult{Heap: heapBytes, PreCopy: precopy, HotPages: hot}
	before := c.Metrics().Snapshot()
	at := cluster.NodeID(0)
	stuck := time.NewTimer(time.Hour)
	defer stuck.Stop()
	if ready != nil {
		ready()
	}
	for i := 0; i < n; i++ {
		to := 1 - at
		for {
			if precopy {
				err = c.MigratePreCopy(id, to, opts)
			} else {
				err = c.Migrate(id, to)
			}
			if err == nil {
				break
			}
			if !errors.Is(err, cluster.ErrBusy) { // ErrBusy: the last hop awaits its CONFIRM
				return nil, err
			}
			time.Sleep(10 * time.Microsecond)
		}
		var e cluster.Event
		stuck.Reset(time.Minute)
		select {
		case e = <-running:
		case <-stuck.C:
			return nil, fmt.Errorf("loadgen: migration %d to %v did not reach its first quantum (%d events missed)", i, to, missed.Load())
		}
		if e.Node != to {
			return nil, fmt.Errorf("loadgen: migration %d: the isolate runs on %v, want %v (the handoff failed)", i, e.Node, to)
		}
		r.Downtimes = append(r.Downtimes, e.Downtime+e.QueueWait)
		at = to
	}
	after := c.Metrics().Snapshot()
	r.Migrations = n
	r.Sent = after.BytesMoved - before.BytesMoved + after.PreCopy.Bytes - before.PreCopy.Bytes
	r.Rounds = after.PreCopy.RoundsDone - before.PreCopy.RoundsDone
	r.Forced = after.PreCopy.Forced - before.PreCopy.Forced
	r.FinalPages = after.PreCopy.FinalSent - before.PreCopy.FinalSent
	return r, nil
}
