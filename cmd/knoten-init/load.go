package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/knotencore/knoten/bench/machine"
	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/loadgen"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/workloads"
)

// loadJSON is what --json and --out write.
type loadJSON struct {
	*loadgen.Report
	Size    string            `json:"size"`
	Verdict string            `json:"verdict"`
	Machine map[string]string `json:"machine"`
	// NotCompleted counts the isolates that did not complete; the
	// report's Unfinished lists those still held.
	NotCompleted int `json:"not_completed"`
	// VoidJobs names the jobs whose main returns nothing: their
	// straight_result "" is no result, (none) in the text report.
	VoidJobs []string `json:"void_jobs,omitempty"`
	// Transport is sim or nats; over NATS, Server is the server's URL,
	// NATS what the transport did, and the embedded report's net is
	// empty (there is no simulated network).
	Transport string     `json:"transport"`
	Server    string     `json:"server,omitempty"`
	NATS      *natsStats `json:"nats,omitempty"`
}

// The phases of a load run that take no context, so that a test can stand
// in for them.
var (
	workloadJobs = loadgen.Workloads
	runLoadFunc  = loadgen.Run
)

// timeoutError is the error of a phase that --timeout interrupted: the
// phase goes on in its goroutine, abandoned, until the process exits.
type timeoutError string

func (e timeoutError) Error() string        { return string(e) }
func (e timeoutError) Is(target error) bool { return target == errTimeout }

// timedOut says which phase --timeout interrupted ("during the straight
// runs", "while spawning") and how far it got.
func timedOut(o *options, phase, detail string) error {
	return timeoutError(fmt.Sprintf("--timeout %v ran out %s%s", o.timeout, phase, detail))
}

// inPhase runs f in a goroutine and returns its result, or the timeout
// error of the phase if ctx ends first.
func inPhase[T any](ctx context.Context, o *options, phase string, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-ch: // it finished as the time ran out
			return r.v, r.err
		default:
		}
		var zero T
		return zero, timedOut(o, phase, "")
	}
}

func runLoad(ctx context.Context, o *options, w io.Writer) (err error) {
	jobs, err := loadJobs(ctx, o)
	if err != nil {
		return err
	}
	// Over NATS the server and the nodes' connections come up before the
	// load's cluster and go down after it, on every path. loadgen.Run closes
	// its cluster before it returns; one that --timeout abandons finds
	// its connections closed.
	var nn *natsNet
	if o.transport == transportNATS {
		if nn, err = startNATS(ctx, o, o.nodes); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, nn.close()) }()
	}
	// Spawning takes no context either (seconds for many isolates): the
	// events say how far it got, and how many isolates completed since.
	var spawned, completed atomic.Int64
	lc := loadgen.Config{
		Cluster: cluster.Config{
			Nodes: o.nodes, Workers: o.workers, Quantum: o.quantum, Link: o.link(), Seed: o.seed, NoSteal: o.noSteal,
			Limits: o.limits(),
			OnEvent: func(e cluster.Event) {
				switch e.Kind {
				case cluster.EvSpawned:
					spawned.Add(1)
				case cluster.EvCompleted:
					completed.Add(1)
				}
			},
		},
		Jobs: jobs, Isolates: o.isolates, SpawnNodes: o.spawnNodes, Duration: o.duration,
		MigrateRate: o.migrateRate, Seed: o.seed,
	}
	if nn != nil {
		lc.Cluster.Transport, lc.Cluster.Ledger = nn.tr, nn.led
	}
	if o.progress != nil {
		lc.Progress = func(done, total int) { drawProgress(o.progress, done, total) }
	}
	load := runLoadFunc
	r, err := inPhase(ctx, o, "during the load", func() (*loadgen.Report, error) { return load(ctx, lc) })
	if o.progress != nil {
		fmt.Fprint(o.progress, "\r\033[K")
	}
	if errors.Is(err, errTimeout) {
		if n := spawned.Load(); n < int64(o.isolates) {
			return timedOut(o, "while spawning", fmt.Sprintf(" (%d of %d isolates spawned)", n, o.isolates))
		}
		return timedOut(o, "while running", fmt.Sprintf(" (%d of %d isolates completed; no result was checked)", completed.Load(), o.isolates))
	}
	if err != nil {
		return err
	}
	lines := machine.Lines()
	verdict := "PASS"
	if !r.OK() || notCompleted(r) > 0 {
		verdict = "FAIL"
	}
	void := map[string]bool{}
	for _, j := range jobs {
		void[j.Name] = j.Prog.Result() == engine.KindVoid
	}
	lo := &loadOut{r: r, verdict: verdict, lines: lines, void: void, transport: o.transport, network: "link " + linkString(r.Link)}
	if nn != nil {
		lo.server, lo.network, lo.nats = nn.url, "transport "+nn.describe(), nn.stats()
	}
	if o.json {
		if err := writeLoadJSON(w, o, lo); err != nil {
			return err
		}
	} else {
		writeLoadReport(w, o, lo)
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
		var b bytes.Buffer
		writeBenchFormat(&b, o, lo)
		if err := os.WriteFile(filepath.Join(o.out, "cluster-load.txt"), b.Bytes(), 0o644); err != nil {
			return err
		}
		b.Reset()
		if err := writeLoadJSON(&b, o, lo); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(o.out, "cluster-load.json"), b.Bytes(), 0o644); err != nil {
			return err
		}
		// One downtime per line, in µs, for `knoten-bench plot --latencies`.
		b.Reset()
		for _, d := range r.Metrics.DowntimeSamples {
			fmt.Fprintf(&b, "%.3f\n", float64(d)/float64(time.Microsecond))
		}
		if err := os.WriteFile(filepath.Join(o.out, "downtime-us.txt"), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	var errs []string
	if !r.OK() {
		errs = append(errs, fmt.Sprintf("%d lost, %d duplicated, %d wrong", len(r.Lost), len(r.Duplicated), len(r.Wrong)))
	}
	if n := notCompleted(r); n > 0 {
		why := "--duration " + o.duration.String() + " ran out"
		if ctx.Err() != nil {
			why = "--timeout " + o.timeout.String() + " ran out"
		}
		errs = append(errs, fmt.Sprintf("%d of %d isolates did not complete (%s): their results were not checked", n, r.Isolates, why))
	}
	if len(errs) > 0 {
		return fmt.Errorf("load: %s", strings.Join(errs, "; "))
	}
	return nil
}

// loadJobs compiles the load's programs and runs each straight: the
// workloads at --size, or --program.
func loadJobs(ctx context.Context, o *options) ([]*loadgen.Job, error) {
	if o.program != "" {
		j, err := fileJob(ctx, o, o.program, 3)
		if err != nil {
			return nil, err
		}
		return []*loadgen.Job{j}, nil
	}
	// The workloads' straight runs take no context: up to seconds with
	// --size full.
	straight := workloadJobs
	if o.size == "large" {
		straight = largeJobs
	}
	jobs, err := inPhase(ctx, o, "during the straight runs", func() ([]*loadgen.Job, error) { return straight(o.size) })
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if o.maxSteps > 0 && j.Steps > o.maxSteps {
			return nil, fmt.Errorf("workload %s runs %d instructions, more than --max-steps %d", j.Name, j.Steps, o.maxSteps)
		}
	}
	return jobs, nil
}

// largeSizes size each workload at some 5 million instructions (10 to 30
// ms), between cluster's medium (a few hundred thousand) and full (the
// benchmark sizes, up to 60 million): long enough that a node killed by
// --chaos dies with isolates in flight, short enough that a few hundred
// of them finish in seconds on two cores.
var largeSizes = map[string]int{
	"fib": 28, "loop": 1_000_000, "sieve": 500_000, "nbody": 8500, "matmul": 90,
	"strings": 75_000, "bintrees": 12, "deeprec": 40_000,
	"wordfreq": 60_000, "closuresort": 12_000, "bytebuild": 40_000, "cache": 13_000,
}

// largeJobs compiles the workloads at --size large and runs each
// straight, as loadgen.Workloads does the other sizes.
func largeJobs(string) ([]*loadgen.Job, error) {
	var jobs []*loadgen.Job
	for _, name := range workloads.Names() {
		n, ok := largeSizes[name]
		if !ok {
			return nil, fmt.Errorf("workload %s has no large size", name)
		}
		w, err := workloads.Sized(name, n)
		if err != nil {
			return nil, err
		}
		j, err := loadgen.NewJob(w.Name, w.Filename(), w.Source, w.Result)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// notCompleted is how many isolates did not complete: held still
// (Unfinished), lost, or gone with a crashed node.
func notCompleted(r *loadgen.Report) int { return r.Isolates - r.Completed }

func drawProgress(w io.Writer, done, total int) {
	const width = 40
	n := done * width / max(total, 1)
	fmt.Fprintf(w, "\r[%s%s] %d/%d isolates", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
}

// loadOut is what a load's reports are written from.
type loadOut struct {
	r       *loadgen.Report
	verdict string
	lines   []machine.Line  // the machine's
	void    map[string]bool // the jobs whose main returns nothing, whose result shows as (none)

	transport string     // sim or nats
	server    string     // with nats: the server's URL
	network   string     // the header's account of the network: the simulated link, or the NATS server
	nats      *natsStats // with nats: what the transport did
}

func writeLoadJSON(w io.Writer, o *options, lo *loadOut) error {
	r := lo.r
	m := map[string]string{}
	for _, l := range lo.lines {
		m[l.Key] = l.Value
	}
	j := loadJSON{Report: r, Size: o.size, Verdict: lo.verdict, Machine: m, NotCompleted: notCompleted(r),
		Transport: lo.transport, Server: lo.server, NATS: lo.nats}
	for _, js := range r.Jobs {
		if lo.void[js.Name] {
			j.VoidJobs = append(j.VoidJobs, js.Name)
		}
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// writeLoadReport writes the text report.
func writeLoadReport(w io.Writer, o *options, lo *loadOut) {
	r, m := lo.r, lo.r.Metrics
	steal := "on"
	if r.NoSteal {
		steal = "off"
	}
	what := fmt.Sprintf("%d workloads, %s", len(r.Jobs), o.size)
	if o.program != "" {
		what = o.program
	}
	fmt.Fprintf(w, "knoten-init --cluster-sim --load: %d isolates (%s) on %d nodes x %d workers, spawned on %d node(s), seed %d\n",
		r.Isolates, what, r.Nodes, r.Workers, min(o.spawnNodes, r.Nodes), r.Seed)
	fmt.Fprintf(w, "%s; stealing %s; forced migrations %g/s; quantum %d instructions\n\n", lo.network, steal, r.MigrateRate, r.Quantum)

	t := newTable(w)
	t.Header("figure", "value")
	row := func(k string, format string, args ...any) { t.Append(k, fmt.Sprintf(format, args...)) }
	row("elapsed", "%s", fmtDur(r.Elapsed))
	row("throughput", "%.1f isolates/s", r.Throughput)
	row("completions", "%d of %d", r.Completed, r.Isolates)
	row("correct (= straight run, = known value)", "%d of %d", r.Correct, r.Completed)
	row("lost / duplicated / wrong / unfinished", "%d / %d / %d / %d", len(r.Lost), len(r.Duplicated), len(r.Wrong), r.Unfinished)
	row("migrations (forced requests)", "%d (%d)", m.Migrations, r.ForcedAsked)
	row("failed handoffs (source resumed)", "%d", m.FailedHandoffs)
	row("steals within nodes (ok / tried)", "%d / %d", m.IntraStealOK, m.IntraStealTried)
	row("steals between nodes (ok / tried, isolates)", "%d / %d, %d", m.InterStealOK, m.InterStealTried, m.InterStolen)
	row("bytes moved (offers, mean size)", "%s (%d, %s)", fmtBytes(m.BytesMoved), m.OfferBytes.Count, fmtBytes(int64(m.OfferBytes.Mean)))
	row("programs fetched by hash", "%d", m.ProgramFetches)
	if n := lo.nats; n != nil {
		row("NATS messages (sent / delivered / send errors / dropped)", "%d / %d / %d / %d", n.Sent, n.Delivered, n.SendErrors, n.Dropped)
		row("NATS bytes (sent / delivered, chunks)", "%s / %s, %d", fmtBytes(int64(n.SentBytes)), fmtBytes(int64(n.DeliveredBytes)), n.SentChunks)
	} else {
		row("network messages (sent / dropped)", "%d / %d", r.Net.Sent, r.Net.Dropped)
	}
	row("messages dropped by full node inboxes", "%d", r.EventDrops)
	row("total work (straight runs)", "%s", fmtDur(r.TotalWork))
	row("makespan", "%s", fmtDur(r.Makespan))
	row("makespan / ideal (work / workers)", "%.2fx (ideal %s)", ratio(r.Makespan, r.IdealWorkers), fmtDur(r.IdealWorkers))
	row("makespan / ideal (work / cores)", "%.2fx (ideal %s, GOMAXPROCS %d)", ratio(r.Makespan, r.IdealCores), fmtDur(r.IdealCores), r.GOMAXPROCS)
	t.Render()

	// Every percentile beside the number of samples it comes from.
	fmt.Fprintln(w)
	t = newTable(w)
	t.Header("distribution", "samples", "p50", "p90", "p99", "p999", "max")
	pct := func(name string, d cluster.Dist, f func(int64) string) {
		t.Append(name, fmt.Sprint(d.Count), f(d.P50), f(d.P90), f(d.P99), f(d.P999), f(d.Max))
	}
	ns := func(v int64) string { return fmtDur(time.Duration(v)) }
	pct("migration downtime (halt request to taken on the target)", m.Downtime, ns)
	pct("queue wait on the target (taken to first quantum)", m.QueueWait, ns)
	pct("halt latency", m.HaltLatency, ns)
	pct("completion latency", m.Completion, ns)
	pct("offer size", m.OfferBytes, fmtBytes)
	t.Render()

	fmt.Fprintln(w)
	t = newTable(w)
	t.Header("workload", "isolates", "completed", "correct", "known", "straight run", "instructions", "straight time")
	for _, j := range r.Jobs {
		known := j.Known
		if known == "" {
			known = "-"
		}
		straight := j.Straight
		if lo.void[j.Name] {
			straight = "(none)"
		}
		t.Append(j.Name, fmt.Sprint(j.Isolates), fmt.Sprint(j.Completed), fmt.Sprint(j.Correct), known, straight,
			fmt.Sprint(j.Steps), fmtDur(j.StraightT))
	}
	t.Render()

	fmt.Fprintln(w)
	t = newTable(w)
	t.Header("machine", "")
	for _, l := range lo.lines {
		t.Append(l.Key, l.Value)
	}
	t.Append("quantum", fmt.Sprintf("%d instructions (%s at %.2f instructions/ns)", r.Quantum, fmtDur(cluster.QuantumDuration(cluster.CacheGeometry())), cluster.StepRate()))
	t.Render()

	for i, s := range r.Wrong {
		if i == 10 {
			fmt.Fprintf(w, "wrong:    ... and %d more\n", len(r.Wrong)-10)
			break
		}
		fmt.Fprintf(w, "wrong:    %s\n", s)
	}
	if len(r.Lost) > 0 {
		fmt.Fprintf(w, "lost:     %v\n", r.Lost)
	}
	if len(r.Duplicated) > 0 {
		fmt.Fprintf(w, "duplicated: %v\n", r.Duplicated)
	}
	if n := notCompleted(r); n > 0 {
		fmt.Fprintf(w, "unfinished: %d of %d isolates did not complete before the run was stopped; their results were not checked\n", n, r.Isolates)
	}
	if lo.nats != nil {
		for _, e := range lo.nats.AsyncErrors {
			fmt.Fprintf(w, "nats:     asynchronous error on %s\n", e)
		}
	}
	fmt.Fprintf(w, "\nverdict:  %s (every isolate accounted for: %d completed, %d correct, %d unfinished, %d lost, %d duplicated)\n",
		lo.verdict, r.Completed, r.Correct, r.Unfinished, len(r.Lost), len(r.Duplicated))
}

// writeBenchFormat writes the figures as one Go benchmark result line,
// preceded by the machine's configuration lines, for benchstat.
func writeBenchFormat(w io.Writer, o *options, lo *loadOut) {
	machine.Write(w, lo.lines)
	r, m := lo.r, lo.r.Metrics
	steal := "on"
	if r.NoSteal {
		steal = "off"
	}
	// A run over NATS names its transport; a simulated one keeps the
	// name its baselines have.
	via := ""
	if lo.transport == transportNATS {
		via = "/transport=nats"
	}
	name := fmt.Sprintf("BenchmarkClusterLoad/nodes=%d/workers=%d/isolates=%d/steal=%s/size=%s%s-%d",
		r.Nodes, r.Workers, r.Isolates, steal, o.size, via, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "%s 1 %d ns/op", name, r.Elapsed.Nanoseconds())
	metric := func(v float64, unit string) { fmt.Fprintf(w, " %.6g %s", v, unit) }
	metric(r.Throughput, "isolates/s")
	metric(float64(m.Migrations), "migrations/op")
	metric(float64(m.InterStealOK), "steals/op")
	metric(float64(m.BytesMoved), "B-moved/op")
	metric(float64(m.Downtime.P50), "downtime-p50-ns")
	metric(float64(m.Downtime.P99), "downtime-p99-ns")
	metric(float64(m.Downtime.Max), "downtime-max-ns")
	metric(float64(m.QueueWait.P99), "queue-wait-p99-ns")
	metric(float64(m.HaltLatency.P99), "halt-p99-ns")
	metric(float64(r.Makespan.Nanoseconds()), "makespan-ns")
	metric(ratio(r.Makespan, r.IdealWorkers), "makespan/ideal")
	metric(ratio(r.Makespan, r.IdealCores), "makespan/ideal-cores")
	metric(float64(r.Correct)/float64(max(r.Isolates, 1)), "correct-frac")
	fmt.Fprintln(w)
}
