package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/knotencore/knoten/bench/machine"
	"github.com/knotencore/knoten/cluster"
)

// loadJSON is what --json and --out write.
type loadJSON struct {
	*cluster.LoadReport
	Size    string            `json:"size"`
	Verdict string            `json:"verdict"`
	Machine map[string]string `json:"machine"`
}

func runLoad(ctx context.Context, o *options, w io.Writer) error {
	var jobs []*cluster.Job
	if o.program != "" {
		j, err := cluster.FileJob(o.program)
		if err != nil {
			return err
		}
		jobs = []*cluster.Job{j}
	} else {
		var err error
		if jobs, err = cluster.WorkloadJobs(o.size); err != nil {
			return err
		}
	}
	lc := cluster.LoadConfig{
		Cluster: cluster.Config{
			Nodes: o.nodes, Workers: o.workers, Quantum: o.quantum, Link: o.link(), Seed: o.seed, NoSteal: o.noSteal,
		},
		Jobs: jobs, Isolates: o.isolates, SpawnNodes: o.spawnNodes, Duration: o.duration,
		MigrateRate: o.migrateRate, Seed: o.seed,
	}
	if o.progress != nil {
		lc.Progress = func(done, total int) { drawProgress(o.progress, done, total) }
	}
	r, err := cluster.RunLoad(ctx, lc)
	if o.progress != nil {
		fmt.Fprint(o.progress, "\r\033[K")
	}
	if err != nil {
		return err
	}
	lines := machine.Lines()
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	if o.json {
		if err := writeLoadJSON(w, r, o, verdict, lines); err != nil {
			return err
		}
	} else {
		writeLoadReport(w, o, r, verdict, lines)
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
		var b bytes.Buffer
		writeBenchFormat(&b, o, r, lines)
		if err := os.WriteFile(filepath.Join(o.out, "cluster-load.txt"), b.Bytes(), 0o644); err != nil {
			return err
		}
		b.Reset()
		if err := writeLoadJSON(&b, r, o, verdict, lines); err != nil {
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
	if !r.OK() {
		return fmt.Errorf("load: %d lost, %d duplicated, %d wrong", len(r.Lost), len(r.Duplicated), len(r.Wrong))
	}
	return nil
}

func drawProgress(w io.Writer, done, total int) {
	const width = 40
	n := done * width / max(total, 1)
	fmt.Fprintf(w, "\r[%s%s] %d/%d isolates", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
}

func writeLoadJSON(w io.Writer, r *cluster.LoadReport, o *options, verdict string, lines []machine.Line) error {
	m := map[string]string{}
	for _, l := range lines {
		m[l.Key] = l.Value
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(loadJSON{LoadReport: r, Size: o.size, Verdict: verdict, Machine: m})
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func dist(d cluster.Dist) string {
	f := func(ns int64) string { return fmtDur(time.Duration(ns)) }
	return fmt.Sprintf("%s / %s / %s / %s / %s", f(d.P50), f(d.P90), f(d.P99), f(d.P999), f(d.Max))
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

func writeLoadReport(w io.Writer, o *options, r *cluster.LoadReport, verdict string, lines []machine.Line) {
	m := r.Metrics
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
	fmt.Fprintf(w, "link %s; stealing %s; forced migrations %g/s; quantum %d instructions\n\n", linkString(r.Link), steal, r.MigrateRate, r.Quantum)

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
	row("downtime p50/p90/p99/p999/max", "%s", dist(m.Downtime))
	row("halt latency p50/p90/p99/p999/max", "%s", dist(m.HaltLatency))
	row("completion latency p50/p90/p99/p999/max", "%s", dist(m.Completion))
	row("bytes moved (offers, mean size)", "%s (%d, %s)", fmtBytes(m.BytesMoved), m.OfferBytes.Count, fmtBytes(int64(m.OfferBytes.Mean)))
	row("programs fetched by hash", "%d", m.ProgramFetches)
	row("network messages (sent / dropped)", "%d / %d", r.Net.Sent, r.Net.Dropped)
	row("total work (straight runs)", "%s", fmtDur(r.TotalWork))
	row("makespan", "%s", fmtDur(r.Makespan))
	row("makespan / ideal (work / workers)", "%.2fx (ideal %s)", ratio(r.Makespan, r.IdealWorkers), fmtDur(r.IdealWorkers))
	row("makespan / ideal (work / cores)", "%.2fx (ideal %s, GOMAXPROCS %d)", ratio(r.Makespan, r.IdealCores), fmtDur(r.IdealCores), r.GOMAXPROCS)
	t.Render()

	fmt.Fprintln(w)
	t = newTable(w)
	t.Header("workload", "isolates", "completed", "correct", "known", "straight run", "instructions", "straight time")
	for _, j := range r.Jobs {
		known := j.Known
		if known == "" {
			known = "-"
		}
		t.Append(j.Name, fmt.Sprint(j.Isolates), fmt.Sprint(j.Completed), fmt.Sprint(j.Correct), known, j.Straight,
			fmt.Sprint(j.Steps), fmtDur(time.Duration(j.StraightT*1e6)))
	}
	t.Render()

	fmt.Fprintln(w)
	t = newTable(w)
	t.Header("machine", "")
	for _, l := range lines {
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
	fmt.Fprintf(w, "\nverdict:  %s (every isolate accounted for: %d completed, %d correct, %d unfinished, %d lost, %d duplicated)\n",
		verdict, r.Completed, r.Correct, r.Unfinished, len(r.Lost), len(r.Duplicated))
}

// writeBenchFormat writes the figures as one Go benchmark result line,
// preceded by the machine's configuration lines, for benchstat.
func writeBenchFormat(w io.Writer, o *options, r *cluster.LoadReport, lines []machine.Line) {
	machine.Write(w, lines)
	m := r.Metrics
	steal := "on"
	if r.NoSteal {
		steal = "off"
	}
	name := fmt.Sprintf("BenchmarkClusterLoad/nodes=%d/workers=%d/isolates=%d/steal=%s/size=%s-%d",
		r.Nodes, r.Workers, r.Isolates, steal, o.size, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "%s 1 %d ns/op", name, r.Elapsed.Nanoseconds())
	metric := func(v float64, unit string) { fmt.Fprintf(w, " %.6g %s", v, unit) }
	metric(r.Throughput, "isolates/s")
	metric(float64(m.Migrations), "migrations/op")
	metric(float64(m.InterStealOK), "steals/op")
	metric(float64(m.BytesMoved), "B-moved/op")
	metric(float64(m.Downtime.P50), "downtime-p50-ns")
	metric(float64(m.Downtime.P99), "downtime-p99-ns")
	metric(float64(m.Downtime.Max), "downtime-max-ns")
	metric(float64(m.HaltLatency.P99), "halt-p99-ns")
	metric(float64(r.Makespan.Nanoseconds()), "makespan-ns")
	metric(ratio(r.Makespan, r.IdealWorkers), "makespan/ideal")
	metric(ratio(r.Makespan, r.IdealCores), "makespan/ideal-cores")
	metric(float64(r.Correct)/float64(max(r.Isolates, 1)), "correct-frac")
	fmt.Fprintln(w)
}
