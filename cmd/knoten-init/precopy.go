package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/knotencore/knoten/bench/machine"
	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/loadgen"
)

// runPreCopy is --cluster-sim --load --precopy: for each heap size, a
// mutator writing about 1 % of its pages each millisecond is migrated
// back and forth between two nodes, --precopy-migrations times by
// stop-and-copy and as many by pre-copy, and the report sets downtime
// against heap size for both. With --out it also writes precopy.txt in Go
// benchmark format (BenchmarkMigrationDowntime's names, which knoten-bench
// plot draws) and precopy.json.
func runPreCopy(ctx context.Context, o *options, w io.Writer) error {
	heaps, err := precopyHeaps(o.precopyHeaps)
	if err != nil {
		return err
	}
	var results []*loadgen.DowntimeResult
	for _, h := range heaps {
		for _, live := range []bool{false, true} {
			r, err := inPhase(ctx, o, fmt.Sprintf("while migrating a %s heap", fmtBytes(int64(h))), func() (*loadgen.DowntimeResult, error) {
				return loadgen.Downtime(h, o.precopyMigrations, live, cluster.PreCopy{AutoConverge: true}, nil)
			})
			if err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	writePreCopyReport(w, o, results)
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
		var bench strings.Builder
		writePreCopyBench(&bench, results)
		if err := os.WriteFile(filepath.Join(o.out, "precopy.txt"), []byte(bench.String()), 0o644); err != nil {
			return err
		}
		m := map[string]string{}
		for _, l := range machine.Lines() {
			m[l.Key] = l.Value
		}
		js, err := json.MarshalIndent(struct {
			Machine map[string]string         `json:"machine"`
			Results []*loadgen.DowntimeResult `json:"results"`
		}{m, results}, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(o.out, "precopy.json"), append(js, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// precopyHeaps parses --precopy-heaps, a comma-separated list of sizes
// named as loadgen.DowntimeHeaps names them.
func precopyHeaps(list string) ([]int, error) {
	var out []int
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, h := range loadgen.DowntimeHeaps {
			if strings.EqualFold(h.Name, name) {
				out = append(out, h.Bytes)
				found = true
			}
		}
		if !found {
			var names []string
			for _, h := range loadgen.DowntimeHeaps {
				names = append(names, h.Name)
			}
			return nil, fmt.Errorf("--precopy-heaps: unknown size %q (sizes: %s)", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}

func modeName(precopy bool) string {
	if precopy {
		return "precopy"
	}
	return "stop-and-copy"
}

func heapName(bytes int) string {
	for _, h := range loadgen.DowntimeHeaps {
		if h.Bytes == bytes {
			return h.Name
		}
	}
	return fmt.Sprint(bytes)
}

func writePreCopyReport(w io.Writer, o *options, results []*loadgen.DowntimeResult) {
	fmt.Fprintf(w, "knoten-init: downtime against heap size, stop-and-copy and pre-copy (%d migrations each, two nodes, zero-latency link)\n", o.precopyMigrations)
	fmt.Fprintf(w, "the isolate writes about 1%% of its pages each millisecond into a hot set of 1%% of them\n")
	cpu := machine.Unknown
	for _, l := range machine.Lines() {
		if l.Key == "cpu" {
			cpu = l.Value
		}
	}
	fmt.Fprintf(w, "machine: %s\n\n", cpu)
	t := newTable(w)
	t.Header("heap", "mode", "downtime p50", "p90", "p99", "sent / heap", "rounds", "pages at the stop", "forced")
	for _, r := range results {
		n := float64(max(r.Migrations, 1))
		t.Append(heapName(r.Heap), modeName(r.PreCopy), fmtDur(r.Quantile(0.5)), fmtDur(r.Quantile(0.9)), fmtDur(r.Quantile(0.99)),
			fmt.Sprintf("%.2f", float64(r.Sent)/n/float64(r.Heap)), fmt.Sprintf("%.1f", float64(r.Rounds)/n), fmt.Sprintf("%.1f", float64(r.FinalPages)/n), fmt.Sprint(r.Forced))
	}
	t.Render()
	fmt.Fprintln(w, "PASS: every migration reached its target and ran on there")
}

// writePreCopyBench writes the results as BenchmarkMigrationDowntime
// lines, one per heap and mode, with the benchmark's metrics.
func writePreCopyBench(w io.Writer, results []*loadgen.DowntimeResult) {
	machine.WriteLines(w)
	fmt.Fprintln(w, "pkg: github.com/knotencore/knoten/cluster/loadgen")
	for _, r := range results {
		n := float64(max(r.Migrations, 1))
		fmt.Fprintf(w, "BenchmarkMigrationDowntime/mode=%s/heap=%s-%d \t%d\t%d downtime-p50-ns\t%d downtime-p90-ns\t%d downtime-p99-ns\t%.0f sent-B/op\t%.3f sent/heap\t%.2f rounds/op\t%.2f final-pages/op\t%.2f forced/op\n",
			modeName(r.PreCopy), heapName(r.Heap), runtime.GOMAXPROCS(0), r.Migrations, r.Quantile(0.5).Nanoseconds(), r.Quantile(0.9).Nanoseconds(), r.Quantile(0.99).Nanoseconds(),
			float64(r.Sent)/n, float64(r.Sent)/n/float64(r.Heap), float64(r.Rounds)/n, float64(r.FinalPages)/n, float64(r.Forced)/n)
	}
}
