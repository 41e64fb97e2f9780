package main

import (
	"bytes"
	"fmt"
	"github.com/knotencore/knoten/internal/golden"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/knotencore/knoten/bench/compare"
	"github.com/knotencore/knoten/bench/machine"
)

// TestGolden runs the CLI on committed result files and compares its
// standard output, standard error and exit status with
// testdata/<name>.golden.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args string
	}{
		{"compare-same", "compare testdata/old.txt testdata/same.txt"},
		{"compare-slow", "compare testdata/old.txt testdata/slow.txt"},
		{"compare-slow-report-only", "compare testdata/old.txt testdata/slow.txt --report-only"},
		{"compare-slow-threshold", "compare --threshold 40 testdata/old.txt testdata/slow.txt"},
		{"compare-benchstat", "compare testdata/old.txt testdata/slow.txt --benchstat"},
		{"compare-missing-file", "compare testdata/old.txt testdata/nosuchfile.txt"},
		{"compare-one-arg", "compare testdata/old.txt"},
		{"compare-bad-flag", "compare --threshold x testdata/old.txt testdata/same.txt"},
		// Issue 12 item 16: across machines nothing gates, and one line
		// names both machines; a file without benchmarks is an error.
		{"compare-other-machine", "compare testdata/old.txt testdata/slow-amd.txt"},
		{"compare-other-l2", "compare testdata/old.txt testdata/slow-l2.txt"},
		{"compare-no-benchmarks", "compare testdata/prose.md testdata/prose.md"},
		{"compare-no-benchmarks-new", "compare testdata/old.txt testdata/machine-only.txt"},
		{"plot-no-benchmarks", "plot --in testdata/prose.md --out testdata/nosuchdir"},
		{"no-command", ""},
		{"unknown-command", "frobnicate"},
		{"help", "help"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(strings.Fields(tc.args), &stdout, &stderr)
			var got bytes.Buffer
			fmt.Fprintf(&got, "$ knoten-bench %s\n", tc.args)
			got.Write(stdout.Bytes())
			if stderr.Len() > 0 {
				got.WriteString("-- stderr --\n")
				got.Write(stderr.Bytes())
			}
			fmt.Fprintf(&got, "-- exit %d", exitCode(err))
			if err != nil {
				fmt.Fprintf(&got, ": %v", err)
			}
			got.WriteString(" --\n")
			golden.Check(t, filepath.Join("testdata", tc.name+".golden"), got.Bytes())
		})
	}
}

func TestExitCodes(t *testing.T) {
	var out, errw bytes.Buffer
	if err := run([]string{"compare", "testdata/old.txt", "testdata/slow.txt"}, &out, &errw); exitCode(err) != 1 {
		t.Errorf("slowed build: exit %d (%v), want 1", exitCode(err), err)
	}
	if err := run([]string{"compare", "testdata/old.txt", "testdata/same.txt"}, &out, &errw); err != nil {
		t.Errorf("unchanged build: %v", err)
	}
	if err := run([]string{"compare", "testdata/old.txt", "testdata/slow.txt", "--report-only"}, &out, &errw); err != nil {
		t.Errorf("--report-only: %v", err)
	}
	if err := run([]string{"compare", "testdata/old.txt", "testdata/slow-amd.txt"}, &out, &errw); err != nil {
		t.Errorf("slowed build on another machine: %v", err)
	}
	if err := run([]string{"compare", "testdata/prose.md", "testdata/prose.md"}, &out, &errw); exitCode(err) != 1 {
		t.Errorf("no benchmarks: exit %d (%v), want 1", exitCode(err), err)
	}
	if err := run([]string{"compare"}, &out, &errw); exitCode(err) != 2 {
		t.Errorf("usage error: exit %d, want 2", exitCode(err))
	}
}

func TestMachine(t *testing.T) {
	var out, errw bytes.Buffer
	if err := run([]string{"machine"}, &out, &errw); err != nil {
		t.Fatal(err)
	}
	set, err := compare.Parse(strings.NewReader(out.String()+"BenchmarkX-2 1 1 ns/op\n"), "machine")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range machine.Keys {
		if k != "commit" && set.Get(k) == "" {
			t.Errorf("machine output lacks %s:\n%s", k, out.String())
		}
	}
}

func TestBaselineName(t *testing.T) {
	ts := time.Date(2026, 3, 4, 23, 30, 0, 0, time.FixedZone("x", -3600))
	if got := baselineName(ts, "abc1234"); got != "2026-03-05T003000Z-abc1234.txt" {
		t.Errorf("baselineName = %q", got)
	}
	// Lexical order is time order, also against the older date-only names.
	later := baselineName(ts.Add(time.Second), "0000000")
	names := []string{later, "2026-03-05-fffffff.txt", baselineName(ts, "abc1234")}
	sort.Strings(names)
	if names[2] != later {
		t.Errorf("the newest baseline does not sort last: %q", names)
	}
}

// runFake runs a knoten-bench command on the fake benchmark package.
func runFake(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go test")
	}
	var out, errw bytes.Buffer
	args = append(args, "--count", "2", "--benchtime", "1x", "--pkgs", "./testdata/fakebench")
	if err := run(args, &out, &errw); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errw.String())
	}
	return out.String(), errw.String()
}

func checkResults(t *testing.T, path string) {
	t.Helper()
	set, err := compare.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "goos: ") {
		t.Errorf("results do not start with machine lines:\n%s", data)
	}
	for _, k := range []string{"cores", "cacheline", "l1d", "mem", "go", "pkg"} {
		if set.Get(k) == "" {
			t.Errorf("no %s: line in %s", k, path)
		}
	}
	pkg := set.Get("pkg")
	for _, name := range []string{"Sum", "Size/n=16", "Size/n=256"} {
		var found *compare.Series
		for _, s := range set.Series {
			if s.Pkg == pkg && s.Unit == "sec/op" && strings.HasPrefix(s.Name, name) && !strings.HasPrefix(strings.TrimPrefix(s.Name, name), "/") {
				found = s
			}
		}
		if found == nil || len(found.Values) != 2 {
			t.Errorf("%s: want 2 sec/op samples, got %+v", name, found)
		}
	}
	if set.Lookup(pkg, "Sum", "allocs/op") == nil && !strings.Contains(string(data), "allocs/op") {
		t.Error("-benchmem columns missing")
	}
}

func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sub", "new.txt")
	stdout, stderr := runFake(t, "run", "--out", out)
	checkResults(t, out)
	if !strings.Contains(stdout, "BenchmarkSum") {
		t.Errorf("progress not echoed to stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "-run '^$' -bench . -benchmem -count 2 -benchtime 1x") {
		t.Errorf("go test command not shown:\n%s", stderr)
	}
}

func TestBaselineAndCompareAndPlot(t *testing.T) {
	dir := t.TempDir()
	before := time.Now()
	runFake(t, "baseline", "--dir", dir)
	after := time.Now()
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) != 1 {
		t.Fatalf("baseline files: %v %v", files, err)
	}
	commit, _, err := machine.Commit("")
	if err != nil {
		t.Fatal(err)
	}
	named := false // the name carries a second between before and after
	for ts := before.Truncate(time.Second); !ts.After(after) && !named; ts = ts.Add(time.Second) {
		named = filepath.Base(files[0]) == baselineName(ts, commit)
	}
	if !named {
		t.Errorf("baseline %s, want %s or a second up to %s", filepath.Base(files[0]), baselineName(before, commit), after.UTC().Format("150405"))
	}
	checkResults(t, files[0])

	// A run compared with itself has nothing to report.
	var out, errw bytes.Buffer
	if err := run([]string{"compare", files[0], files[0]}, &out, &errw); err != nil {
		t.Errorf("self-compare: %v\n%s", err, out.String())
	}

	// plot with a latency file; the fake suite has no codec or peer results.
	lat := filepath.Join(dir, "lat.txt")
	if err := os.WriteFile(lat, []byte("# downtime µs\n12\n15.5\n\n40\n13\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plots := filepath.Join(dir, "plots")
	out.Reset()
	errw.Reset()
	if err := run([]string{"plot", "--in", files[0], "--out", plots, "--latencies", lat}, &out, &errw); err != nil {
		t.Fatalf("plot: %v\n%s", err, errw.String())
	}
	if !strings.Contains(errw.String(), "skipped codec-throughput") || !strings.Contains(errw.String(), "skipped peer-ratios") || !strings.Contains(errw.String(), "skipped downtime-vs-heap") {
		t.Errorf("plot did not report skipped plots:\n%s", errw.String())
	}
	f, err := os.Open(filepath.Join(plots, "latency-cdf.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("latency-cdf.png: %v", err)
	}
}

func TestPlotCodecAndPeers(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.txt")
	var b strings.Builder
	b.WriteString("pkg: example\n")
	for range 3 {
		b.WriteString("BenchmarkCodecRoundTrip/heap=4KiB-2 100 200 ns/op 20480.00 MB/s\n")
		b.WriteString("BenchmarkCodecRoundTrip/heap=64KiB-2 100 3300 ns/op 19859.39 MB/s\n")
		b.WriteString("BenchmarkPeers/workload=fib/engine=knoten-2 10 50000000 ns/op\n")
		b.WriteString("BenchmarkPeers/workload=fib/engine=goja-2 10 273000000 ns/op\n")
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var out, errw bytes.Buffer
	if err := run([]string{"plot", "--in", in, "--out", dir}, &out, &errw); err != nil {
		t.Fatalf("%v\n%s", err, errw.String())
	}
	for _, name := range []string{"codec-throughput.png", "peer-ratios.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		f.Close()
	}
	if err := run([]string{"plot", "--out", dir}, &out, &errw); exitCode(err) != 2 {
		t.Errorf("plot without input: %v", err)
	}
}

// plot draws the downtime-vs-heap curve from MigrationDowntime results
// (-count 2 repeats) and skips the plots it has no data for.
func TestPlotDowntimeVsHeap(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{"png", "svg"} {
		var out, errw bytes.Buffer
		if err := run([]string{"plot", "--in", "testdata/downtime.txt", "--out", dir, "--format", format}, &out, &errw); err != nil {
			t.Fatalf("%v\n%s", err, errw.String())
		}
		path := filepath.Join(dir, "downtime-vs-heap."+format)
		if got, want := out.String(), "wrote "+path+"\n"; got != want {
			t.Errorf("stdout %q, want %q", got, want)
		}
		for _, name := range []string{"codec-throughput", "peer-ratios"} {
			if !strings.Contains(errw.String(), "skipped "+name+": ") {
				t.Errorf("%s not reported skipped:\n%s", name, errw.String())
			}
		}
		st, err := os.Stat(path)
		if err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", path, err)
		}
	}
	f, err := os.Open(filepath.Join(dir, "downtime-vs-heap.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("downtime-vs-heap.png: %v", err)
	}
}

// Issue 12 item 17: plot writes to out/plots unless told otherwise, never
// over the committed results/plots.
func TestPlotDefaultOut(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	in := "in.txt"
	var b strings.Builder
	for range 3 {
		b.WriteString("BenchmarkCodecRoundTrip/heap=4KiB-2 100 200 ns/op 20480.00 MB/s\n")
		b.WriteString("BenchmarkCodecRoundTrip/heap=64KiB-2 100 3300 ns/op 19859.39 MB/s\n")
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	if err := run([]string{"plot", "--in", in}, &out, &errw); err != nil {
		t.Fatalf("%v\n%s", err, errw.String())
	}
	if _, err := os.Stat(filepath.Join("out", "plots", "codec-throughput.png")); err != nil {
		t.Errorf("plot without --out: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join("results")); !os.IsNotExist(err) {
		t.Errorf("plot touched results/: %v", err)
	}
}
