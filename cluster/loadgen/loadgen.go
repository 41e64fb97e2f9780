// Package loadgen is the load generator behind knoten-init --cluster-sim
// --load and the cluster benchmarks: it compiles programs into jobs and
// runs each straight once for the outcome a migrated run must reproduce
// (Job, Workloads, FileJob, NewJob), then spreads many isolates of them
// over a live cluster.Cluster, with stealing and forced migrations, and
// audits every one (Run, Report).
//
// It uses only package cluster's exported API, and keeps the compiler and
// the workloads out of package cluster.
package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
	"github.com/knotencore/knoten/engine/workloads"
)

// Job is one program the load generator runs, with what a straight run of
// it in this process gave.
type Job struct {
	Name  string
	Prog  *engine.Program
	Known string // the known result ("" when there is none, as for --program)

	// The straight run: one isolate, run to the end in one Run call.
	Status   engine.Status
	Result   string
	Steps    uint64
	Hash     [32]byte // final state hash
	Duration time.Duration
}

// mediumSizes sizes each workload at a few hundred thousand instructions
// (about 1 ms): long enough to be preempted, stolen and migrated mid-run,
// short enough that a few hundred isolates finish in seconds.
var mediumSizes = map[string]int{
	"fib": 23, "loop": 100_000, "sieve": 40_000, "nbody": 800, "matmul": 40,
	"strings": 6000, "bintrees": 9, "deeprec": 5000,
	"wordfreq": 3600, "closuresort": 1000, "bytebuild": 2400, "cache": 1300,
}

// Workloads compiles the workloads at size "small" (the -small variants,
// a few thousand instructions: each finishes inside one quantum), "medium"
// (a few hundred thousand) or "full" (the benchmark sizes), and runs each
// straight once.
func Workloads(size string) ([]*Job, error) {
	var ws []workloads.Workload
	switch size {
	case "small":
		ws = workloads.Smalls()
	case "full":
		ws = workloads.Full()
	case "medium":
		for _, name := range workloads.Names() {
			n, ok := mediumSizes[name]
			if !ok {
				w, _ := workloads.Get(name + "-small")
				ws = append(ws, w)
				continue
			}
			w, err := workloads.Sized(name, n)
			if err != nil {
				return nil, err
			}
			ws = append(ws, w)
		}
	default:
		return nil, fmt.Errorf("unknown workload size %q (small, medium or full)", size)
	}
	var jobs []*Job
	for _, w := range ws {
		j, err := NewJob(w.Name, w.Filename(), w.Source, w.Result)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// FileJob compiles a Knoten source file into a job with no known result.
func FileJob(path string) (*Job, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".kn")
	return NewJob(name, filepath.Base(path), src, "")
}

// NewJob compiles src and runs it straight (three times, for its time).
func NewJob(name, filename string, src []byte, known string) (*Job, error) {
	p, err := lang.Compile(filename, src)
	if err != nil {
		return nil, err
	}
	j := &Job{Name: name, Prog: p, Known: known}
	// The best of three runs: the straight-run time is the unit of work
	// that makespan is measured against, so keep noise out of it.
	var iso *engine.Isolate
	for i := 0; i < 3; i++ {
		if iso, err = engine.New(p, engine.Limits{}); err != nil {
			return nil, err
		}
		t0 := time.Now()
		iso.Run(1 << 62)
		if d := time.Since(t0); i == 0 || d < j.Duration {
			j.Duration = d
		}
	}
	st := iso.State()
	j.Status, j.Result, j.Steps, j.Hash = st.Status, iso.Result(), st.Steps, st.Hash()
	if j.Status != engine.Finished {
		return nil, fmt.Errorf("%s: straight run ended %s: %v", name, j.Status, iso.Err())
	}
	if known != "" && j.Result != known {
		return nil, fmt.Errorf("%s: straight run gave %q, known result %q", name, j.Result, known)
	}
	return j, nil
}

// Check compares a completion with the job's straight run and known value.
func (j *Job) Check(c *cluster.Completion) error {
	switch {
	case c.Status != j.Status || c.Result != j.Result:
		return fmt.Errorf("%s: got %s %q, straight run %s %q", j.Name, c.Status, c.Result, j.Status, j.Result)
	case c.Steps != j.Steps:
		return fmt.Errorf("%s: %d steps, straight run %d", j.Name, c.Steps, j.Steps)
	case c.Hash != j.Hash:
		return fmt.Errorf("%s: final state hash differs from the straight run's", j.Name)
	case j.Known != "" && c.Result != j.Known:
		return fmt.Errorf("%s: result %q, known value %q", j.Name, c.Result, j.Known)
	}
	return nil
}

// Config configures a load run.
type Config struct {
	Cluster  cluster.Config
	Jobs     []*Job
	Isolates int
	// SpawnNodes is how many nodes the isolates are spread over, round
	// robin from node 0; default 1: everything starts on node 0.
	SpawnNodes  int
	Duration    time.Duration // stop after this long; 0: run until done
	MigrateRate float64       // forced migrations per second, to random nodes
	Seed        uint64        // for the job mix and the forced migrations
	Progress    func(done, total int)

	// afterSpawn, if set, runs after each spawn (tests).
	afterSpawn func(c *cluster.Cluster, i int, id cluster.IsolateID)
}

// JobStat is the per-job part of a load report.
type JobStat struct {
	Name      string        `json:"name"`
	Isolates  int           `json:"isolates"`
	Completed int           `json:"completed"`
	Correct   int           `json:"correct"`
	Known     string        `json:"known"`
	Straight  string        `json:"straight_result"`
	Steps     uint64        `json:"steps"`
	StraightT time.Duration `json:"straight_ns"` // the straight run's wall time
}

// Report is the outcome of a load run. Durations are in nanoseconds
// in JSON.
type Report struct {
	Nodes       int                `json:"nodes"`
	Workers     int                `json:"workers"`
	Isolates    int                `json:"isolates"`
	Quantum     int64              `json:"quantum"`
	GOMAXPROCS  int                `json:"gomaxprocs"`
	Link        cluster.LinkConfig `json:"link"`
	Seed        uint64             `json:"seed"`
	NoSteal     bool               `json:"no_steal"`
	MigrateRate float64            `json:"migrate_rate"`

	Elapsed      time.Duration `json:"elapsed_ns"`       // from the first spawn to the end of the run (isolates run while the others are spawned)
	Makespan     time.Duration `json:"-"`                // first spawn to last completion (in JSON as metrics.makespan_ns)
	TotalWork    time.Duration `json:"total_work_ns"`    // sum of the straight-run times of every isolate's job
	IdealWorkers time.Duration `json:"ideal_workers_ns"` // TotalWork ÷ (nodes × workers)
	IdealCores   time.Duration `json:"ideal_cores_ns"`   // TotalWork ÷ min(nodes × workers, GOMAXPROCS)
	Throughput   float64       `json:"throughput"`       // completions per second of Elapsed
	ForcedAsked  int           `json:"forced_asked"`     // forced migrations requested
	Completed    int           `json:"completed"`
	Correct      int           `json:"correct"`
	Wrong        []string      `json:"wrong"`
	// Unfinished counts the isolates still held when Duration ran out:
	// they were not checked, so a run with Unfinished > 0 did not verify
	// everything it spawned (OK does not count them; a caller that wants
	// every isolate checked must look at Unfinished too).
	Unfinished    int                 `json:"unfinished"`
	UnfinishedIDs []cluster.IsolateID `json:"unfinished_ids"`
	Lost          []cluster.IsolateID `json:"lost"`       // neither completed nor held, with no crash to explain it
	Duplicated    []cluster.IsolateID `json:"duplicated"` // completed twice, or running on two live nodes
	Metrics       cluster.Snapshot    `json:"metrics"`
	Net           cluster.NetStats    `json:"net"`
	Jobs          []JobStat           `json:"jobs"`
	EventDrops    int64               `json:"event_drops"` // network messages dropped because a node's event inbox was full
}

// OK reports whether every isolate is accounted for: none lost, duplicated
// or wrong.
func (r *Report) OK() bool {
	return len(r.Lost) == 0 && len(r.Duplicated) == 0 && len(r.Wrong) == 0
}

// Run runs a load on a live cluster.Cluster, made anew from lc.Cluster
// and closed before Run returns, and audits every isolate.
func Run(ctx context.Context, lc Config) (*Report, error) {
	if len(lc.Jobs) == 0 || lc.Isolates <= 0 {
		return nil, fmt.Errorf("loadgen: a load needs jobs and isolates")
	}
	if lc.SpawnNodes <= 0 {
		lc.SpawnNodes = 1
	}
	c := cluster.New(lc.Cluster)
	defer c.Close()
	cfg := c.Config()
	rng := rand.New(rand.NewPCG(lc.Seed, 0x10ad))
	jobOf := make(map[cluster.IsolateID]*Job, lc.Isolates)
	ids := make([]cluster.IsolateID, 0, lc.Isolates) // in spawn order: a forced migration picks one
	order := rng.Perm(lc.Isolates)
	var work time.Duration
	// Elapsed runs from the first spawn: isolates already run while the
	// others are spawned.
	start := c.Now()
	for i := 0; i < lc.Isolates; i++ {
		j := lc.Jobs[order[i]%len(lc.Jobs)]
		id, err := c.Spawn(cluster.NodeID(i%min(lc.SpawnNodes, cfg.Nodes)), j.Prog)
		if err != nil {
			return nil, err
		}
		jobOf[id] = j
		ids = append(ids, id)
		work += j.Duration
		if lc.afterSpawn != nil {
			lc.afterSpawn(c, i, id)
		}
	}
	deadline := make(<-chan time.Time)
	if lc.Duration > 0 {
		deadline = time.After(lc.Duration)
	}
	var migrate <-chan time.Time
	if lc.MigrateRate > 0 {
		tk := time.NewTicker(time.Duration(float64(time.Second) / lc.MigrateRate))
		defer tk.Stop()
		migrate = tk.C
	}
	progress := time.NewTicker(100 * time.Millisecond)
	defer progress.Stop()
	forced := 0
loop:
	for {
		pending := c.Pending()
		if pending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			break loop
		case <-deadline:
			break loop
		case <-progress.C:
			if lc.Progress != nil {
				lc.Progress(lc.Isolates-pending, lc.Isolates)
			}
		case <-migrate:
			id := ids[rng.IntN(len(ids))] // not 1..n: with a ledger, ids are node-qualified
			to := cluster.NodeID(rng.IntN(cfg.Nodes))
			if from, ok := c.Where(id); ok && from != to {
				if c.Migrate(id, to) == nil {
					forced++
				}
			}
		case <-time.After(2 * time.Millisecond):
		}
	}
	elapsed := c.Now() - start
	if lc.Progress != nil {
		lc.Progress(lc.Isolates-c.Pending(), lc.Isolates)
	}
	c.Close()
	audit := c.Audit()

	workers := cfg.Nodes * cfg.Workers
	r := &Report{
		Nodes: cfg.Nodes, Workers: cfg.Workers, Isolates: lc.Isolates, Quantum: cfg.Quantum,
		GOMAXPROCS: runtime.GOMAXPROCS(0), Link: cfg.Link, Seed: lc.Seed, NoSteal: cfg.NoSteal, MigrateRate: lc.MigrateRate,
		Elapsed: elapsed, TotalWork: work, ForcedAsked: forced,
		IdealWorkers: work / time.Duration(workers),
		IdealCores:   work / time.Duration(min(workers, runtime.GOMAXPROCS(0))),
		Metrics:      c.Metrics().Snapshot(),
		Unfinished:   len(audit.Held), UnfinishedIDs: audit.Held, Lost: audit.Lost, Duplicated: audit.Duplicated,
	}
	if l := c.Net(); l != nil {
		r.Net = l.Stats()
	}
	r.EventDrops = c.EventDrops()
	r.Makespan = r.Metrics.Makespan
	stats := map[*Job]*JobStat{}
	for _, j := range lc.Jobs {
		stats[j] = &JobStat{Name: j.Name, Known: j.Known, Straight: j.Result, Steps: j.Steps, StraightT: j.Duration}
	}
	for _, j := range jobOf {
		stats[j].Isolates++
	}
	for _, comp := range audit.Outcome.Completed {
		j := jobOf[comp.ID]
		r.Completed++
		stats[j].Completed++
		if err := j.Check(comp); err != nil {
			r.Wrong = append(r.Wrong, fmt.Sprintf("isolate %d: %v", comp.ID, err))
		} else {
			r.Correct++
			stats[j].Correct++
		}
	}
	for _, j := range lc.Jobs {
		if stats[j].Isolates > 0 {
			r.Jobs = append(r.Jobs, *stats[j])
		}
	}
	if elapsed > 0 {
		r.Throughput = float64(r.Completed) / elapsed.Seconds()
	}
	return r, nil
}
