package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/loadgen"

	"github.com/knotencore/knoten/internal/golden"
)

var (
	durationRE = regexp.MustCompile(`\d+(\.\d+)?(ns|µs|ms|s)\b`)
	hashRE     = regexp.MustCompile(`\b[0-9a-f]{16}\b`)
	numberRE   = regexp.MustCompile(`-?\d+(\.\d+)?(e[-+]?\d+)?`)
	bytesRE    = regexp.MustCompile(`N (B|KiB|MiB)\b`)
	haltRE     = regexp.MustCompile(`pc \d+, instruction \d+`)
	instrRE    = regexp.MustCompile(`instruction \d+`)
	lateRE     = regexp.MustCompile(`(?m)^note: +hop \d halted at instruction \d+, (after its planned|not \d+, because).*\n`)
	countRE    = regexp.MustCompile(`\d+ instructions`)
	sizeRE     = regexp.MustCompile(`\| \d+ +\| HASH`)
	spacesRE   = regexp.MustCompile(` {2,}`)
	dashesRE   = regexp.MustCompile(`-{2,}`)
	machineRE  = regexp.MustCompile(`(?m)^\| (goos|goarch|cpu|cores|cacheline|l1d|l2|l3|mem|go|commit|quantum) +\|.*\|$`)
)

// normalizeTimes drops what changes from run to run in a --cluster-sim
// report (timings, and so column widths, and the note on a first hop whose
// request came after its planned stop, which a starved test goroutine can
// cause) and what changes with the code generator (instruction counts, pcs,
// state sizes and hashes). Results and verdicts stay.
func normalizeTimes(s string) string {
	s = lateRE.ReplaceAllString(s, "")
	s = durationRE.ReplaceAllString(s, "DUR")
	s = hashRE.ReplaceAllString(s, "HASH")
	s = haltRE.ReplaceAllString(s, "pc N, instruction N")
	s = instrRE.ReplaceAllString(s, "instruction N")
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

var (
	// A hop's attempts and epoch cells in a normalized report, and the
	// notes on its attempts: a lossy link's timing decides how many a hop
	// takes.
	attemptsRE    = regexp.MustCompile(`(?m)^(\| \d \| n\d -> n\d \| instruction N \| )\d+( \| pc N, instruction N \| )\d+ \|`)
	attemptNoteRE = regexp.MustCompile(`(?m)^note: +hop \d attempt \d+ of \d+ .*\n`)
	// A hop's row and its failed attempts' notes in a report as printed.
	hopRowRE     = regexp.MustCompile(`(?m)^\| (\d) +\| n\d -> n\d +\| instruction \d+ +\| (\d+) +\|`)
	failedNoteRE = regexp.MustCompile(`(?m)^note: +hop (\d) attempt \d+ of 5 failed: .*; n\d kept the isolate and resumed it; asked for again$`)
)

// normalizeRetries is normalizeTimes for a lossy link, where a hop's
// handoff may fail safely and be retried: the attempts and epochs, and the
// notes on the attempts, go.
func normalizeRetries(s string) string {
	s = attemptNoteRE.ReplaceAllString(normalizeTimes(s), "")
	return attemptsRE.ReplaceAllString(s, "${1}A${2}E |")
}

// A 20 % loss can make a handoff time out (its copies lost until the offer
// timeout), more so on a loaded machine: the source resumes the isolate,
// and the hop is asked for again. The report is the same, but for the
// attempts, each failed one explained.
func TestClusterSimProgramLossyLink(t *testing.T) {
	out, stderr, err := runCmd(t, "--cluster-sim", "--program", "testdata/sum.kn", "--nodes", "4",
		"--latency", "200us", "--jitter", "100us", "--loss", "0.2", "--seed", "3", "--quantum", "2000")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	golden.Check(t, filepath.Join("testdata", "cluster-sim-program.golden"), []byte(normalizeRetries(out)))
	// Every hop took one attempt more than it has notes of failed ones.
	failed := map[string]int{}
	for _, m := range failedNoteRE.FindAllStringSubmatch(out, -1) {
		failed[m[1]]++
	}
	rows := hopRowRE.FindAllStringSubmatch(out, -1)
	if len(rows) != 2 {
		t.Fatalf("%d hop rows with attempts:\n%s", len(rows), out)
	}
	for _, m := range rows {
		if n, _ := strconv.Atoi(m[2]); n != failed[m[1]]+1 {
			t.Errorf("hop %s: %d attempts, %d failed ones in the notes:\n%s", m[1], n, failed[m[1]], out)
		}
	}
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
		Verdict   string            `json:"verdict"`
		Completed int               `json:"completed"`
		Machine   map[string]string `json:"machine"`
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
		Verdict   string `json:"verdict"`
		Correct   int    `json:"correct"`
		NoSteal   bool   `json:"no_steal"`
		Isolates  int    `json:"isolates"`
		Completed int    `json:"completed"`
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
	// Item 9d: --max-steps says where it is checked.
	if !strings.Contains(stdout.String(), "-cluster-sim") || !strings.Contains(stdout.String(), "-max-steps") ||
		!strings.Contains(stdout.String(), "checked at safepoints") || stderr.Len() > 0 {
		t.Fatalf("--help: usage %q, stderr %q", stdout.String(), stderr.String())
	}
}

// simJSON runs --cluster-sim --json with args and decodes the report.
func simJSON(t *testing.T, args ...string) (simReport, error) {
	t.Helper()
	out, stderr, err := runCmd(t, append([]string{"--cluster-sim", "--json"}, args...)...)
	var r simReport
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
		t.Fatalf("%v (error %v)\n%s%s", jerr, err, out, stderr)
	}
	return r, err
}

// checkHopsExplained checks that every planned hop either took place and
// was verified against the straight run, or has an explanation.
func checkHopsExplained(t *testing.T, r simReport) {
	t.Helper()
	if len(r.Hops) != len(hopPlan) {
		t.Fatalf("%d hops reported, want %d", len(r.Hops), len(hopPlan))
	}
	for i, h := range r.Hops {
		switch h.Outcome {
		case hopDone:
			if !h.Verified || !h.Straight || !h.SourceDropped || h.SentHash != h.StraightHash {
				t.Errorf("hop %d done but not verified: %+v", i+1, h)
			}
		case hopNotPossible, hopNotTaken:
			if h.Note == "" {
				t.Errorf("hop %d %s without a note", i+1, h.Outcome)
			}
		default:
			t.Errorf("hop %d: outcome %q", i+1, h.Outcome)
		}
	}
}

// Item 10: a program without loops halts once (at its call of main) at
// most; the hop that cannot take place is explained, not a failure. The
// first hop is asked for once the isolate runs, so a short program may
// finish before: that too is explained. calls.kn has safepoints for both
// hops (its calls); it runs a few times to meet both outcomes of that race.
func TestClusterSimNoLoops(t *testing.T) {
	r, err := simJSON(t, "--program", "testdata/return42.kn")
	if err != nil || r.Verdict != "PASS" || r.Result != "42" || len(r.Problems) > 0 {
		t.Fatalf("error %v, report %+v", err, r)
	}
	checkHopsExplained(t, r)
	if h := r.Hops[1]; h.Outcome != hopNotPossible || !strings.Contains(h.Note, "no safepoint") {
		t.Errorf("hop 2: %+v, want not possible: no safepoint", h)
	}
	for i := 0; i < 5; i++ {
		r, err := simJSON(t, "--program", "testdata/calls.kn")
		if err != nil || r.Verdict != "PASS" || r.Result != "30" || len(r.Problems) > 0 {
			t.Fatalf("error %v, report %+v", err, r)
		}
		checkHopsExplained(t, r)
		if r.Hops[1].Outcome == hopNotPossible {
			t.Errorf("hop 2: %+v, want possible", r.Hops[1])
		}
	}
}

// Item 10: a planned stop in a tail without safepoints cannot take place.
func TestClusterSimTailWithoutSafepoints(t *testing.T) {
	var src strings.Builder
	src.WriteString("func main() int {\n\ts := 0\n\tfor i := 0; i < 1000; i++ {\n\t\ts += i\n\t}\n")
	for i := 0; i < 6000; i++ {
		src.WriteString("\ts = s + 1\n")
	}
	src.WriteString("\treturn s\n}\n")
	path := filepath.Join(t.TempDir(), "tail.kn")
	if err := os.WriteFile(path, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := simJSON(t, "--program", path, "--quantum", "100")
	if err != nil || r.Verdict != "PASS" || r.Result != fmt.Sprint(999*1000/2+6000) {
		t.Fatalf("error %v, report %+v", err, r)
	}
	checkHopsExplained(t, r)
	if h := r.Hops[1]; h.Outcome != hopNotPossible || h.Stop < r.Steps/2 {
		t.Errorf("hop 2: %+v, want not possible", h)
	}
}

// Item 15c: a main without a result prints (none), in the straight run's
// line and the result's.
func TestClusterSimVoidResult(t *testing.T) {
	out, stderr, err := runCmd(t, "--cluster-sim", "--program", "testdata/void.kn", "--quantum", "2000")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	golden.Check(t, filepath.Join("testdata", "cluster-sim-void.golden"), []byte(normalizeTimes(out)))
}

// Item 11: a program that never ends is stopped by --max-steps, in the
// straight run before the cluster starts.
func TestClusterSimEndlessMaxSteps(t *testing.T) {
	for _, args := range [][]string{
		{"--cluster-sim", "--program", "testdata/endless.kn", "--max-steps", "100000"},
		{"--cluster-sim", "--load", "--program", "testdata/endless.kn", "--max-steps", "100000", "--isolates", "2"},
	} {
		out, _, err := runCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), "endless.kn did not finish within --max-steps 100000 instructions") {
			t.Errorf("%q: error %v", args, err)
		}
		if out != "" {
			t.Errorf("%q: a report without a run: %q", args, out)
		}
	}
}

// Item 11: --timeout stops a program that never ends even without a step
// limit, and says so.
func TestClusterSimEndlessTimeout(t *testing.T) {
	_, _, err := runCmd(t, "--cluster-sim", "--program", "testdata/endless.kn", "--max-steps", "0", "--timeout", "200ms")
	if !errors.Is(err, errTimeout) || !strings.Contains(err.Error(), "endless.kn did not finish within --timeout 200ms") {
		t.Fatalf("error %v", err)
	}
}

// The default limits stop an endless program: --max-steps has a default.
func TestDefaultLimits(t *testing.T) {
	o, err := parseFlags([]string{"--cluster-sim"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.maxSteps != defaultMaxSteps || o.maxSteps == 0 || o.timeout != defaultTimeout || o.timeout == 0 {
		t.Fatalf("limits %d, %v", o.maxSteps, o.timeout)
	}
}

// Item 13: every flag is checked before any work starts, every error on
// one line of its own, each once.
func TestFlagErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, args := range [][]string{
		{},
		{"--load"},
		{"--cluster-sim", "--nodes", "-3"},
		{"--cluster-sim", "--nodes", "0"},
		{"--cluster-sim", "--nodes", "2"},
		{"--cluster-sim", "--load", "--nodes", "0"},
		{"--cluster-sim", "--latency", "-1ms", "--jitter", "-2ms", "--quantum", "-5"},
		{"--cluster-sim", "--load", "--nodes", "4", "--spawn-nodes", "5"},
		{"--cluster-sim", "--load", "--spawn-nodes", "0", "--isolates", "0", "--workers", "0"},
		{"--cluster-sim", "--load", "--out", "FILE"},
		{"--cluster-sim", "--out", "DIR"},
		{"--cluster-sim", "--isolates", "5", "--size", "small", "--no-steal", "--duration", "1s", "--migrate-rate", "3", "--spawn-nodes", "2"},
		{"--cluster-sim", "--load", "--program", "testdata/sum.kn", "--size", "small"},
		{"--cluster-sim", "--load", "--size", "huge", "--migrate-rate", "-1", "--loss", "1.5", "--bandwidth", "fast"},
		{"--cluster-sim", "--load", "--duration", "2m", "--timeout", "1m"},
		{"--cluster-sim", "--timeout", "-1s", "--program", "testdata/missing.kn"},
		{"--cluster-sim", "extra"},
		{"--no-such-flag"},
		{"--cluster-sim", "--nodes", "many"},
		{"--cluster-sim", "--load", "--migrate-rate", "2e9", "--isolates", "5", "--size", "small"},
		{"--cluster-sim", "--load", "--migrate-rate", "1e10"},
		{"--cluster-sim", "--load", "--migrate-rate", "Inf"},
		{"--cluster-sim", "--load", "--migrate-rate", "NaN"},
		{"--cluster-sim", "--load", "--migrate-rate", "1e-300"},
		{"--cluster-sim", "--loss", "NaN"},
		{"--cluster-sim", "--loss", "-Inf"},
		{"--cluster-sim", "--bandwidth", "NaN"},
		{"--cluster-sim", "--bandwidth", "Inf"},
		{"--cluster-sim", "--bandwidth", "1e308G"},
		{"--cluster-sim", "--bandwidth", "-5k"},
		{"--cluster-sim", "--hop-attempts", "0"},
		{"--cluster-sim", "--load", "--hop-attempts", "2"},
		{"--cluster-sim", "--transport", "tcp"},
		{"--cluster-sim", "--transport", "nats", "--latency", "1ms", "--jitter", "1ms", "--bandwidth", "1M", "--loss", "0.1", "--seed", "2"},
		{"--cluster-sim", "--load", "--nats", "nats://127.0.0.1:4222", "--loss", "0.1", "--seed", "2"},
		{"--cluster-sim", "--nats", "nats://127.0.0.1:4222", "--auth", "--tls"},
		{"--cluster-sim", "--transport", "sim", "--nats", "nats://127.0.0.1:4222"},
		{"--cluster-sim", "--auth", "--tls"},
		{"--cluster-sim", "--load", "--nats", ""},
		{"--cluster-sim", "--procs"},
		{"--cluster-sim", "--procs", "--nats", "nats://127.0.0.1:4222"},
		{"--cluster-sim", "--load", "--chaos"},
		{"--cluster-sim", "--transport", "nats", "--procs", "--chaos"},
		{"--cluster-sim", "--load", "--transport", "nats", "--chaos", "--nodes", "2"},
		{"--cluster-sim", "--load", "--transport", "nats", "--procs", "--no-steal", "--spawn-nodes", "2", "--duration", "1s", "--out", "DIR"},
		{"--cluster-sim", "--transport", "nats", "--procs", "--hop-attempts", "3"},
		{"member"},
		{"member", "--nats", "nats://127.0.0.1:4222", "--creds", "FILE"},
		{"member", "--bogus"},
		{"--cluster-sim", "--precopy"},
		{"--cluster-sim", "--load", "--precopy", "--isolates", "3", "--nodes", "2", "--latency", "1ms", "--transport", "nats"},
		{"--cluster-sim", "--load", "--precopy", "--precopy-heaps", "64KiB,2MiB", "--precopy-migrations", "0"},
		{"--cluster-sim", "--load", "--precopy-heaps", "1MiB"},
	} {
		for i, a := range args {
			switch a {
			case "FILE":
				args[i] = file
			case "DIR":
				args[i] = t.TempDir()
			}
		}
		stdout, stderr, err := runCmd(t, args...)
		shown := strings.Join(args, " ")
		shown = strings.ReplaceAll(shown, file, "FILE")
		fmt.Fprintf(&b, "$ knoten-init %s\n", regexp.MustCompile(`--out /\S+`).ReplaceAllString(shown, "--out DIR"))
		if stdout != "" || stderr != "" {
			t.Errorf("%q: output before the error: %q %q", args, stdout, stderr)
		}
		if err == nil {
			t.Errorf("%q: no error", args)
			continue
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(&b, "knoten-init: %s\n", strings.ReplaceAll(line, file, "FILE"))
		}
	}
	golden.Check(t, filepath.Join("testdata", "flag-errors.golden"), []byte(b.String()))
}

// TestPreCopyReport runs --load --precopy on the two smallest heaps: every
// migration must land (the command fails otherwise), the report must set
// both modes against each heap, and --out must hold the results in
// benchmark format under BenchmarkMigrationDowntime's names, which
// knoten-bench plot draws. Timings are not checked: they are figures.
func TestPreCopyReport(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runCmd(t, "--cluster-sim", "--load", "--precopy", "--precopy-heaps", "64KiB,1MiB", "--precopy-migrations", "3", "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"| 64KiB | stop-and-copy", "| 64KiB | precopy", "| 1MiB  | stop-and-copy", "| 1MiB  | precopy", "PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	f, err := os.Open(filepath.Join(dir, "precopy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := benchfmt.NewReader(f, "precopy.txt")
	names := map[string]bool{}
	for rd.Scan() {
		switch r := rd.Result().(type) {
		case *benchfmt.Result:
			names[string(r.Name)] = true
			if v, ok := r.Value("downtime-p50-sec"); !ok || v <= 0 {
				t.Errorf("%s: downtime p50 %v %v", r.Name, v, ok)
			}
			if v, ok := r.Value("sent/heap"); !ok || v < 1 || v > 1.5 {
				t.Errorf("%s: sent/heap %v %v, want within [1, 1.5]", r.Name, v, ok)
			}
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v", r)
		}
	}
	if len(names) != 4 {
		t.Errorf("results %v, want 4", names)
	}
	if _, err := os.Stat(filepath.Join(dir, "precopy.json")); err != nil {
		t.Error(err)
	}
}

// Item 14: the JSON report's keys are snake_case everywhere.
func TestLoadJSONSnakeCase(t *testing.T) {
	out, _, err := runCmd(t, "--cluster-sim", "--load", "--isolates", "4", "--size", "small", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	snakeRE := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !snakeRE.MatchString(k) && !strings.HasPrefix(path, ".machine") {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		}
	}
	walk("", v)
}

// Item 14: a --duration run that ends with isolates not completed fails and
// says so. The program runs 20M instructions (tens of ms each); 4 of them
// on one worker cannot all complete in the 1 ms --duration.
func TestLoadUnfinishedFails(t *testing.T) {
	src := "func main() int {\n\ts := 0\n\tfor i := 0; i < 4000000; i++ {\n\t\ts = (s + i) % 1000003\n\t}\n\treturn s\n}\n"
	path := filepath.Join(t.TempDir(), "long.kn")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "--cluster-sim", "--load", "--program", path, "--isolates", "4", "--nodes", "1",
		"--duration", "1ms", "--migrate-rate", "0", "--json")
	var j struct {
		Verdict      string `json:"verdict"`
		Isolates     int    `json:"isolates"`
		Completed    int    `json:"completed"`
		NotCompleted int    `json:"not_completed"`
	}
	if jerr := json.Unmarshal([]byte(out), &j); jerr != nil {
		t.Fatalf("%v (error %v): %s", jerr, err, out)
	}
	if j.Completed == j.Isolates {
		t.Skipf("all %d isolates completed within 1 ms", j.Isolates)
	}
	if err == nil || !strings.Contains(err.Error(), "did not complete (--duration 1ms ran out)") || j.Verdict != "FAIL" ||
		j.NotCompleted != j.Isolates-j.Completed {
		t.Fatalf("error %v, report %+v", err, j)
	}
}

// Item 15c: in the --load report too, a main without a result shows (none).
func TestLoadVoidResult(t *testing.T) {
	out, stderr, err := runCmd(t, "--cluster-sim", "--load", "--program", "testdata/void.kn", "--isolates", "2", "--nodes", "2")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	if !regexp.MustCompile(`\| void +\| 2 +\| 2 +\| 2 +\| - +\| \(none\) +\|`).MatchString(out) {
		t.Fatalf("no (none) in the workload table:\n%s", out)
	}
}

// stubLoad stands in for the load's phases that take no context for the
// test's duration: the workloads' straight runs return jobs (or, with
// block, never), and the load run calls emit with the cluster's OnEvent,
// then waits until the test ends.
func stubLoad(t *testing.T, blockJobs bool, emit func(onEvent func(cluster.Event))) {
	t.Helper()
	jobs, err := loadgen.Workloads("small")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	oldJobs, oldRun := workloadJobs, runLoadFunc
	t.Cleanup(func() { close(release); workloadJobs, runLoadFunc = oldJobs, oldRun })
	workloadJobs = func(string) ([]*loadgen.Job, error) {
		if blockJobs {
			<-release
		}
		return jobs, nil
	}
	runLoadFunc = func(ctx context.Context, lc loadgen.Config) (*loadgen.Report, error) {
		emit(lc.Cluster.OnEvent)
		<-release
		return nil, errors.New("released")
	}
}

// Defect 4: --timeout holds for the phases that take no context, and the
// error names the phase it interrupted.
func TestLoadTimeoutPhases(t *testing.T) {
	for _, tc := range []struct {
		name      string
		blockJobs bool
		spawned   int
		completed int
		want      string
	}{
		{"straight runs", true, 0, 0, "--timeout 50ms ran out during the straight runs"},
		{"spawning", false, 3, 0, "--timeout 50ms ran out while spawning (3 of 5 isolates spawned)"},
		{"running", false, 5, 2, "--timeout 50ms ran out while running (2 of 5 isolates completed; no result was checked)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stubLoad(t, tc.blockJobs, func(onEvent func(cluster.Event)) {
				for i := 0; i < tc.spawned; i++ {
					onEvent(cluster.Event{Kind: cluster.EvSpawned, ID: cluster.IsolateID(i + 1)})
				}
				for i := 0; i < tc.completed; i++ {
					onEvent(cluster.Event{Kind: cluster.EvCompleted, ID: cluster.IsolateID(i + 1)})
				}
			})
			out, _, err := runCmd(t, "--cluster-sim", "--load", "--isolates", "5", "--size", "small", "--timeout", "50ms")
			if !errors.Is(err, errTimeout) || err.Error() != tc.want || out != "" {
				t.Fatalf("error %v, want %q; output %q", err, tc.want, out)
			}
		})
	}
}

// Defect 5: --timeout in the cluster phase is one problem that says so;
// the hop in flight and the one after it are explained by the timeout, not
// by a finish or a lost route. An hour's latency holds hop 1's OFFER.
func TestClusterSimTimeoutInHandoff(t *testing.T) {
	// calls.kn's straight runs take microseconds: the time runs out in the
	// handoff, the cluster up long before.
	out, stderr, err := runCmd(t, "--cluster-sim", "--program", "testdata/calls.kn", "--latency", "1h", "--timeout", "500ms")
	if strings.Contains(out, "hop 1 not taken") {
		t.Skipf("the isolate passed hop 1's stop before the request came:\n%s", out)
	}
	if err == nil || err.Error() != "cluster-sim: FAIL (1 problem, in the report)" {
		t.Fatalf("error %v\n%s%s", err, out, stderr)
	}
	golden.Check(t, filepath.Join("testdata", "cluster-sim-timeout.golden"), []byte(normalizeTimes(out)))
}

// Defect 5: a hop the isolate had not reached when --timeout ran out is not
// taken because of the timeout, not because the isolate finished, and is
// not a lost route.
func TestCheckHopsTimeoutBeforeHop2(t *testing.T) {
	o := &options{timeout: 550 * time.Millisecond, maxSteps: defaultMaxSteps}
	job := &loadgen.Job{Name: "mid", Steps: 1000}
	var h1hash [32]byte
	h1hash[0] = 1
	r := &simReport{Hops: []simHop{
		{From: 0, To: 1, Stop: 250, PlannedAt: 250, Steps: 250, plannedHash: h1hash, sent: h1hash, got: h1hash,
			halted: true, arrived: true, running: true, SourceDropped: true},
		{From: 1, To: 2, Stop: 600, PlannedAt: 600, Outcome: hopNotTaken},
	}}
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	late := why{asked: true, quantum: 100, stop: 250, steps: 1000, timeout: "--timeout 550ms ran out before the isolate reached the hop"}
	checkHops(context.Background(), o, r, job, nil, late, problem)
	if len(problems) > 0 {
		t.Errorf("problems %q, want none beside the timeout's", problems)
	}
	if h := r.Hops[0]; h.Outcome != hopDone || !h.Verified || !h.Straight {
		t.Errorf("hop 1: %+v", h)
	}
	if h := r.Hops[1]; h.Outcome != hopNotTaken || h.Note != late.timeout {
		t.Errorf("hop 2: %+v", h)
	}
	want := []string{"hop 2 not taken: --timeout 550ms ran out before the isolate reached the hop"}
	if fmt.Sprint(r.Notes) != fmt.Sprint(want) {
		t.Errorf("notes %q, want %q", r.Notes, want)
	}
}

// Defect 6: the notes on a late first hop say how late its request came,
// and the default workload completing without a hop fails.
func TestCheckHopsLateRequest(t *testing.T) {
	o := &options{timeout: defaultTimeout, maxSteps: defaultMaxSteps}
	job, _, err := simJob(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	const q = 91101
	for _, tc := range []struct {
		name     string
		halt     uint64 // where hop 1 halted; 0: it did not
		late     why
		note     string
		problems []string
	}{
		{"one quantum late", 1250006 + 5000, why{asked: true},
			"hop 1 halted at instruction 1255006, after its planned safepoint at instruction 1250006: the request reached n0 during the quantum (91101 instructions) in which the isolate passed that point", nil},
		{"many quanta late", 2915356, why{asked: true},
			"hop 1 halted at instruction 2915356, after its planned safepoint at instruction 1250006: the request reached n0 about 1665350 instructions (≈18.3 quanta of 91101 instructions) after the planned stop, within a quantum of the halt", nil},
		{"finished in the last quantum", 0, why{asked: true},
			"hop 1 not taken: the request reached n0 during the isolate's last quantum (91101 instructions), at least 3658901 instructions (≈40.2 quanta of 91101 instructions) after the planned stop, and it finished in that quantum",
			[]string{"none of the 2 planned hops took place (see the notes), so no migration was checked"}},
		{"finished before the request", 0, why{gone: true},
			"hop 1 not taken: the request reached n0 after the isolate had finished there (5000008 instructions), 3750002 instructions (≈41.2 quanta of 91101 instructions) after the planned stop",
			[]string{"none of the 2 planned hops took place (see the notes), so no migration was checked"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hops, err := planHops(context.Background(), o, job)
			if err != nil {
				t.Fatal(err)
			}
			if hops[0].PlannedAt != 1250006 || job.Steps != 5000008 {
				t.Fatalf("the default workload changed: hop 1 at %d of %d instructions", hops[0].PlannedAt, job.Steps)
			}
			if tc.halt > 0 {
				h := &hops[0]
				h.halted, h.arrived, h.running, h.SourceDropped, h.Steps = true, true, true, true, tc.halt
				h.sent, _ = straightHashAt(context.Background(), o, job, tc.halt)
				h.got = h.sent
			}
			r := &simReport{Hops: hops}
			var problems []string
			late := tc.late
			late.quantum, late.stop, late.steps = q, hops[0].PlannedAt, job.Steps
			checkHops(context.Background(), o, r, job, nil, late, func(format string, args ...any) {
				// Hop 2, which this test leaves out, is a problem of its own.
				if p := fmt.Sprintf(format, args...); !strings.HasPrefix(p, "hop 2:") {
					problems = append(problems, p)
				}
			})
			if len(r.Notes) == 0 || r.Notes[0] != tc.note {
				t.Errorf("notes %q,\nwant first %q", r.Notes, tc.note)
			}
			if fmt.Sprint(problems) != fmt.Sprint(tc.problems) {
				t.Errorf("problems %q, want %q", problems, tc.problems)
			}
		})
	}
}

// Defect 6: the sim's gossip period grows with n² past a few dozen nodes,
// so that at 200 nodes n0's driver is not too busy with heartbeats to take
// the first hop's request before the isolate passes its stop; small
// clusters keep the default.
func TestSimHeartbeat(t *testing.T) {
	for n, want := range map[int]time.Duration{3: time.Millisecond, 20: time.Millisecond, 50: 6250 * time.Microsecond, 200: 100 * time.Millisecond} {
		if got := simHeartbeat(n); got != want {
			t.Errorf("simHeartbeat(%d) = %v, want %v", n, got, want)
		}
	}
}

// Item 9a, 9b: in the sim's JSON a void main's results are null beside
// "void": true, as the text report's (none); nodes are named n0, as
// completed_on is.
func TestClusterSimJSONVoidAndNodes(t *testing.T) {
	out, _, err := runCmd(t, "--cluster-sim", "--program", "testdata/void.kn", "--json", "--quantum", "2000")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var v struct {
		Known    *string `json:"known_result"`
		Straight *string `json:"straight_result"`
		Result   *string `json:"result"`
		Void     bool    `json:"void"`
		Node     string  `json:"completed_on"`
		Hops     []struct {
			From, To any
		} `json:"hops"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Known != nil || v.Straight != nil || v.Result != nil || !v.Void || v.Node != "n2" || v.Problems == nil {
		t.Errorf("known %v, straight %v, result %v, void %v, completed on %q, problems %v", v.Known, v.Straight, v.Result, v.Void, v.Node, v.Problems)
	}
	if len(v.Hops) != 2 || v.Hops[0].From != "n0" || v.Hops[0].To != "n1" || v.Hops[1].To != "n2" {
		t.Errorf("hops %+v, want nodes n0, n1, n2", v.Hops)
	}
	out, _, err = runCmd(t, "--cluster-sim", "--program", "testdata/sum.kn", "--json", "--quantum", "2000")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	v.Void = true
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Straight == nil || *v.Straight != "509954" || v.Result == nil || *v.Result != "509954" || v.Void {
		t.Errorf("straight %v, result %v, void %v", v.Straight, v.Result, v.Void)
	}
}

// Item 9b: every duration in the load's JSON is in ns and its key says so;
// the makespan is there once; a void job is named in void_jobs.
func TestLoadJSONUnits(t *testing.T) {
	out, _, err := runCmd(t, "--cluster-sim", "--load", "--program", "testdata/void.kn", "--isolates", "2", "--nodes", "2", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"elapsed_ns", "total_work_ns", "ideal_workers_ns", "ideal_cores_ns"} {
		if _, ok := v[k].(float64); !ok {
			t.Errorf("no %s: %v", k, v[k])
		}
	}
	for _, k := range []string{"elapsed", "makespan", "total_work", "ideal_workers", "ideal_cores"} {
		if _, ok := v[k]; ok {
			t.Errorf("key %s without its unit, or twice", k)
		}
	}
	link := v["link"].(map[string]any)
	for _, k := range []string{"latency_ns", "jitter_ns", "reorder_window_ns"} {
		if _, ok := link[k]; !ok {
			t.Errorf("link has no %s: %v", k, link)
		}
	}
	if _, ok := v["metrics"].(map[string]any)["makespan_ns"]; !ok {
		t.Errorf("no metrics.makespan_ns")
	}
	job := v["jobs"].([]any)[0].(map[string]any)
	if ns, ok := job["straight_ns"].(float64); !ok || ns != math.Trunc(ns) || ns < 1e3 || job["straight_ms"] != nil {
		t.Errorf("job %v: want straight_ns, a whole number of ns", job)
	}
	if fmt.Sprint(v["void_jobs"]) != "[void]" {
		t.Errorf("void_jobs %v", v["void_jobs"])
	}
}

// Item 9f: an output under --out that cannot be written fails before the
// run, with no report and no output written.
func TestLoadOutCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "cluster-load.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "--cluster-sim", "--load", "--isolates", "2", "--size", "small", "--out", dir)
	if err == nil || err.Error() != "--out: "+filepath.Join(dir, "cluster-load.json")+" is a directory" || out != "" {
		t.Fatalf("error %v, output %q", err, out)
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("the directory holds %v (%v), want only cluster-load.json", ents, err)
	}
}

// Defect 4: in the sim too, --timeout holds while the cluster starts (a
// cluster of thousands of nodes takes seconds, without a context).
func TestClusterSimTimeoutStarting(t *testing.T) {
	release := make(chan struct{})
	old := newCluster
	t.Cleanup(func() { close(release); newCluster = old })
	newCluster = func(cluster.Config) *cluster.Cluster {
		<-release
		return nil
	}
	out, _, err := runCmd(t, "--cluster-sim", "--program", "testdata/return42.kn", "--timeout", "200ms")
	if !errors.Is(err, errTimeout) || err.Error() != "--timeout 200ms ran out while starting the cluster of 3 nodes" || out != "" {
		t.Fatalf("error %v, output %q", err, out)
	}
}
