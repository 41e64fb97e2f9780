package main

import (
	"bytes"
	"encoding/json"
	"github.com/knotencore/knoten/internal/golden"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
)

var (
	durationRE = regexp.MustCompile(`\d+(\.\d+)?(ns|µs|ms|s)\b`)
	hashRE     = regexp.MustCompile(`\b[0-9a-f]{16}\b`)
	numberRE   = regexp.MustCompile(`-?\d+(\.\d+)?(e[-+]?\d+)?`)
	bytesRE    = regexp.MustCompile(`N (B|KiB|MiB)\b`)
	haltRE     = regexp.MustCompile(`pc \d+, instruction \d+`)
	countRE    = regexp.MustCompile(`\d+ instructions`)
	sizeRE     = regexp.MustCompile(`\| \d+ +\| HASH`)
	spacesRE   = regexp.MustCompile(` {2,}`)
	dashesRE   = regexp.MustCompile(`-{2,}`)
	machineRE  = regexp.MustCompile(`(?m)^\| (goos|goarch|cpu|cores|cacheline|l1d|l2|l3|mem|go|commit|quantum) +\|.*\|$`)
)

// normalizeTimes drops what changes from run to run in a --cluster-sim
// report (timings, and so column widths) and what changes with the code
// generator (instruction counts, pcs, state sizes and hashes). Results and
// verdicts stay.
func normalizeTimes(s string) string {
	s = durationRE.ReplaceAllString(s, "DUR")
	s = hashRE.ReplaceAllString(s, "HASH")
	s = haltRE.ReplaceAllString(s, "pc N, instruction N")
	s = countRE.ReplaceAllString(s, "N instructions")
	s = sizeRE.ReplaceAllString(s, "| N | HASH")
	s = spacesRE.ReplaceAllString(s, " ")
	return dashesRE.ReplaceAllString(s, "-")
}

// normalizeAll keeps a --load report's shape and drops what changes from
// run to run: timings, counts, column widths and the machine's figures. The
// verdict line keeps its word, so a golden file still says PASS.
func normalizeAll(s string) string {
	s = machineRE.ReplaceAllString(s, "| $1 | V |")
	s = durationRE.ReplaceAllString(s, "N")
	s = hashRE.ReplaceAllString(s, "HASH")
	s = numberRE.ReplaceAllString(s, "N")
	s = bytesRE.ReplaceAllString(s, "N B")
	s = spacesRE.ReplaceAllString(s, " ")
	return dashesRE.ReplaceAllString(s, "-")
}

func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestClusterSimDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the default 5M-instruction workload")
	}
	out, stderr, err := runCmd(t, "--cluster-sim")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	golden.Check(t, filepath.Join("testdata", "cluster-sim.golden"), []byte(normalizeTimes(out)))
	for _, want := range []string{"known: 999989", "result: 999989 on n2", "verdict: PASS"} {
		if !strings.Contains(spacesRE.ReplaceAllString(out, " "), want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestClusterSimProgramLossyLink(t *testing.T) {
	out, stderr, err := runCmd(t, "--cluster-sim", "--program", "testdata/sum.kn", "--nodes", "4",
		"--latency", "200us", "--jitter", "100us", "--loss", "0.2", "--seed", "3", "--quantum", "2000")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	golden.Check(t, filepath.Join("testdata", "cluster-sim-program.golden"), []byte(normalizeTimes(out)))
}

func TestClusterSimJSON(t *testing.T) {
	out, _, err := runCmd(t, "--cluster-sim", "--program", "testdata/sum.kn", "--json", "--quantum", "2000")
	if err != nil {
		t.Fatal(err)
	}
	var r simReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Verdict != "PASS" || len(r.Hops) != 2 || !r.Hops[0].Verified || !r.Hops[1].Verified || r.Result != r.Straight {
		t.Fatalf("%+v", r)
	}
}

func TestLoadReport(t *testing.T) {
	dir := t.TempDir()
	out, stderr, err := runCmd(t, "--cluster-sim", "--load", "--isolates", "24", "--nodes", "3", "--workers", "2",
		"--size", "small", "--migrate-rate", "500", "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr is not a terminal, yet got %q", stderr)
	}
	golden.Check(t, filepath.Join("testdata", "load.golden"), []byte(normalizeAll(out)))

	// The benchmark file is valid Go benchmark format.
	f, err := os.Open(filepath.Join(dir, "cluster-load.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := benchfmt.NewReader(f, "cluster-load.txt")
	results := 0
	for rd.Scan() {
		switch r := rd.Result().(type) {
		case *benchfmt.Result:
			results++
			if v, ok := r.Value("correct-frac"); !ok || v != 1 {
				t.Errorf("correct-frac %v %v", v, ok)
			}
			if _, ok := r.Value("makespan/ideal"); !ok {
				t.Error("no makespan/ideal")
			}
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v", r)
		}
	}
	if results != 1 {
		t.Fatalf("%d results in the benchmark file", results)
	}
	b, err := os.ReadFile(filepath.Join(dir, "cluster-load.json"))
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Verdict   string
		Completed int
		Machine   map[string]string
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	if j.Verdict != "PASS" || j.Completed != 24 || j.Machine["goos"] == "" {
		t.Fatalf("json: %+v", j)
	}
	// The downtimes file has one positive number per line, in order.
	b, err = os.ReadFile(filepath.Join(dir, "downtime-us.txt"))
	if err != nil {
		t.Fatal(err)
	}
	prev := 0.0
	for _, line := range strings.Fields(string(b)) {
		v, err := strconv.ParseFloat(line, 64)
		if err != nil || v <= 0 || v < prev {
			t.Fatalf("downtime-us.txt: bad or unordered value %q", line)
		}
		prev = v
	}
}

func TestLoadProgramNoSteal(t *testing.T) {
	out, _, err := runCmd(t, "--cluster-sim", "--load", "--program", "testdata/sum.kn", "--isolates", "6",
		"--no-steal", "--spawn-nodes", "2", "--loss", "0.1", "--latency", "100us", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var j struct {
		Verdict   string
		Correct   int
		NoSteal   bool
		Isolates  int
		Completed int
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	if j.Verdict != "PASS" || j.Correct != 6 || !j.NoSteal {
		t.Fatalf("%+v", j)
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--cluster-sim", "--nodes", "2"},
		{"--cluster-sim", "--program", "testdata/missing.kn"},
		{"--cluster-sim", "--loss", "1.5"},
		{"--cluster-sim", "--bandwidth", "fast"},
		{"--cluster-sim", "--load", "--size", "huge"},
		{"--cluster-sim", "extra"},
		{"--no-such-flag"},
	} {
		if _, _, err := runCmd(t, args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestParseBandwidth(t *testing.T) {
	for in, want := range map[string]float64{"0": 0, "1000": 1000, "100M": 1e8, "1.5GB/s": 1.5e9, "64k": 64e3} {
		if got, err := parseBandwidth(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	var stdout, stderr strings.Builder
	if err := run([]string{"--help"}, &stdout, &stderr); err != nil {
		t.Fatalf("--help: %v", err)
	}
	if !strings.Contains(stderr.String(), "-cluster-sim") {
		t.Fatalf("--help printed no usage: %q", stderr.String())
	}
}
