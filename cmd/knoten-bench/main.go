// Command knoten-bench runs KnotenCore's benchmark suite, keeps baselines
// and compares runs against them.
//
// Usage:
//
//	knoten-bench compare OLD NEW [--threshold 10] [--alpha 0.05] [--report-only] [--benchstat]
//	knoten-bench run [--count 10] [--benchtime 1s] [--bench .] [--pkgs ./...] [--timeout 60m] [--out FILE]
//	knoten-bench baseline [--count 10] [--benchtime 1s] [--bench .] [--pkgs ./...] [--timeout 60m] [--dir results]
//	knoten-bench machine
//	knoten-bench plot --in FILE [--out out/plots] [--ref knoten] [--latencies FILE] [--latency-unit µs] [--format png]
//
// compare prints a benchstat-style table (bench/compare) and exits 1 only
// when some benchmark is a statistically significant regression (p < α)
// worse than the threshold in percent, with non-overlapping confidence
// intervals, and both files come from the same machine (their cpu, cores,
// cache, memory, goos and goarch lines agree). Across machines it reports
// and exits 0, with a last line that names both machines; --report-only
// always exits 0. A file that holds no benchmark results is an error.
// --benchstat prints the equivalent plain benchstat command instead.
//
// run executes `go test -run '^$' -bench BENCH -benchmem -count N
// -benchtime T PKGS` and writes the machine lines of bench/machine followed
// by the raw output, so that benchstat and compare read the machine as
// file configuration. baseline does the same into
// DIR/<YYYY-MM-DD>T<hhmmss>Z-<commit>.txt (UTC); the newest baseline is
// the lexically last file in DIR.
//
// plot draws, from one result file, codec throughput against heap size
// (codec-throughput.png), engine time relative to --ref for the peer
// workloads (peer-ratios.png) and migration downtime (p50 and p99 of
// stop-and-copy and pre-copy) against heap size (downtime-vs-heap.png),
// and with --latencies (one number per line) a latency CDF
// (latency-cdf.png), into --out (default out/plots; the
// committed plots in results/plots are replaced only by naming that
// directory). Plots without matching data are skipped.
//
// Exit status: 0 on success, 1 on a regression or an error, 2 on a usage
// error.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/knotencore/knoten/bench/benchplot"
	"github.com/knotencore/knoten/bench/compare"
	"github.com/knotencore/knoten/bench/machine"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "knoten-bench: %v\n", err)
	}
	os.Exit(exitCode(err))
}

// errUsage marks command-line errors (exit status 2).
var errUsage = errors.New("usage error")

// errRegression marks a comparison that found a significant regression
// (exit status 1).
var errRegression = errors.New("significant regression")

func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

const usage = `usage: knoten-bench <command> [arguments]

commands:
  compare OLD NEW [--threshold 10] [--alpha 0.05] [--report-only] [--benchstat]
        compare two result files; exit 1 on a significant regression
        (reported only, exit 0, when the files come from different machines)
  run [--count 10] [--benchtime 1s] [--bench .] [--pkgs ./...] [--timeout 60m] [--out FILE]
        run the benchmarks and write machine lines plus raw results
  baseline [--count 10] [--benchtime 1s] [--bench .] [--pkgs ./...] [--timeout 60m] [--dir results]
        run the benchmarks into DIR/<YYYY-MM-DD>T<hhmmss>Z-<commit>.txt
  machine
        print the machine configuration lines
  plot --in FILE [--out out/plots] [--ref knoten] [--latencies FILE] [--latency-unit µs] [--format png]
        draw codec throughput, peer ratio, downtime vs heap and latency CDF plots
`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: missing command", errUsage)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "compare":
		return cmdCompare(args, stdout, stderr)
	case "run":
		return cmdRun(args, stdout, stderr)
	case "baseline":
		return cmdBaseline(args, stdout, stderr)
	case "machine":
		return cmdMachine(args, stdout, stderr)
	case "plot":
		return cmdPlot(args, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// newFlags returns a flag set that reports errors to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("knoten-bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags that may come before, between or after positional
// arguments, and returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func cmdCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare OLD NEW", stderr)
	opts := compare.DefaultOptions
	fs.Float64Var(&opts.Threshold, "threshold", opts.Threshold, "regression threshold in `percent`")
	fs.Float64Var(&opts.Alpha, "alpha", opts.Alpha, "significance level of the Mann-Whitney U test")
	reportOnly := fs.Bool("report-only", false, "print the comparison but always exit 0")
	benchstat := fs.Bool("benchstat", false, "print the equivalent benchstat command instead of comparing")
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return fmt.Errorf("%w: compare needs OLD and NEW result files, got %d arguments", errUsage, len(pos))
	}
	if opts.Alpha <= 0 || opts.Alpha >= 1 || opts.Threshold < 0 {
		return fmt.Errorf("%w: need 0 < --alpha < 1 and --threshold >= 0", errUsage)
	}
	if *benchstat {
		fmt.Fprintln(stdout, compare.BenchstatCommand(pos[0], pos[1], opts))
		fmt.Fprintln(stderr, "# install: go install golang.org/x/perf/cmd/benchstat@latest (benchstat always exits 0)")
		return nil
	}
	old, err := compare.Load(pos[0])
	if err != nil {
		return err
	}
	new, err := compare.Load(pos[1])
	if err != nil {
		return err
	}
	for _, s := range []*compare.Set{old, new} {
		for _, e := range s.Errors {
			fmt.Fprintf(stderr, "warning: %s\n", e)
		}
	}
	rep := compare.Compare(old, new, opts)
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	paired := 0
	for _, r := range rep.Rows {
		if r.Paired() {
			paired++
		}
	}
	if paired == 0 {
		fmt.Fprintf(stderr, "warning: %s and %s have no benchmark in common\n", pos[0], pos[1])
	}
	if n := len(rep.Regressions()); n > 0 && !*reportOnly {
		return fmt.Errorf("%w: %d benchmark(s) worse by more than %v%%", errRegression, n, opts.Threshold)
	}
	return nil
}

// suiteFlags are the flags shared by run and baseline.
type suiteFlags struct {
	count     int
	benchtime string
	bench     string
	pkgs      string
	timeout   string
}

func (s *suiteFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&s.count, "count", 10, "run each benchmark `n` times")
	fs.StringVar(&s.benchtime, "benchtime", "1s", "go test -benchtime `value` (a duration or Nx)")
	fs.StringVar(&s.bench, "bench", ".", "go test -bench `regexp`")
	fs.StringVar(&s.pkgs, "pkgs", "./...", "space-separated `packages` to benchmark")
	fs.StringVar(&s.timeout, "timeout", "60m", "go test -timeout per package `duration`")
}

func (s *suiteFlags) check() error {
	if s.count < 1 {
		return fmt.Errorf("%w: --count must be >= 1", errUsage)
	}
	if s.benchtime == "" || s.bench == "" || len(strings.Fields(s.pkgs)) == 0 {
		return fmt.Errorf("%w: --benchtime, --bench and --pkgs must not be empty", errUsage)
	}
	return nil
}

// goTestArgs returns the go test command line for the suite.
func (s *suiteFlags) goTestArgs() []string {
	args := []string{"test", "-run", "^$", "-bench", s.bench, "-benchmem",
		"-count", strconv.Itoa(s.count), "-benchtime", s.benchtime, "-timeout", s.timeout}
	return append(args, strings.Fields(s.pkgs)...)
}

// runSuite writes the machine lines and then go test's output to out,
// copying go test's output to progress as it arrives when progress is
// not nil. go test's standard error goes to stderr. The output written
// before a failure is kept.
func runSuite(s *suiteFlags, out, progress, stderr io.Writer) error {
	bw := bufio.NewWriter(out)
	if err := machine.WriteLines(bw); err != nil {
		return err
	}
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, s.goTestArgs()...)
	var w io.Writer = bw
	if progress != nil {
		w = io.MultiWriter(bw, progress)
	}
	cmd.Stdout = w
	cmd.Stderr = stderr
	fmt.Fprintf(stderr, "+ %s %s\n", goCmd, strings.Join(quoteArgs(s.goTestArgs()), " "))
	runErr := cmd.Run()
	if err := bw.Flush(); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("go test: %w", runErr)
	}
	return nil
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " $^*?[]'\"\\|&;<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	outPath := fs.String("out", "", "write results to `file` instead of standard output")
	s, err := parseSuite(fs, args)
	if s == nil {
		return err
	}
	if *outPath == "" {
		return runSuite(s, stdout, nil, stderr)
	}
	return runToFile(s, *outPath, stdout, stderr)
}

// parseSuite registers the suite flags on fs (which may already hold the
// command's own), parses args and checks them. A nil suite with a nil
// error means -h was asked for and answered.
func parseSuite(fs *flag.FlagSet, args []string) (*suiteFlags, error) {
	var s suiteFlags
	s.register(fs)
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(pos) != 0 {
		return nil, fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, fs.Name(), pos)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

func runToFile(s *suiteFlags, path string, stdout, stderr io.Writer) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runErr := runSuite(s, f, stdout, stderr)
	if err := f.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return fmt.Errorf("%w (partial results in %s)", runErr, path)
	}
	fmt.Fprintf(stderr, "wrote %s\n", path)
	return nil
}

func cmdBaseline(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("baseline", stderr)
	dir := fs.String("dir", "results", "baseline `directory`")
	s, err := parseSuite(fs, args)
	if s == nil {
		return err
	}
	commit, dirty, err := machine.Commit("")
	if err != nil {
		return fmt.Errorf("baseline needs a git commit to name the file: %w", err)
	}
	if dirty {
		fmt.Fprintf(stderr, "warning: the work tree has uncommitted changes; the baseline is named after %s\n", commit)
	}
	path := filepath.Join(*dir, baselineName(time.Now(), commit))
	return runToFile(s, path, stdout, stderr)
}

// baselineName is the file name of a baseline taken at t from commit:
// "<YYYY-MM-DD>T<hhmmss>Z-<commit>.txt" in UTC, so that the lexically last
// file is the newest. (Older baselines are named "<YYYY-MM-DD>-<commit>.txt";
// '-' sorts before 'T', so they still sort before any newer one of their day.)
func baselineName(t time.Time, commit string) string {
	return t.UTC().Format("2006-01-02T150405Z") + "-" + commit + ".txt"
}

func cmdMachine(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("machine", stderr)
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: machine takes no arguments", errUsage)
	}
	return machine.WriteLines(stdout)
}

func cmdPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plot", stderr)
	in := fs.String("in", "", "benchmark result `file`")
	out := fs.String("out", "out/plots", "output `directory`")
	ref := fs.String("ref", "knoten", "reference `engine` for peer ratios")
	latencies := fs.String("latencies", "", "`file` of latencies, one number per line, for a CDF")
	latencyUnit := fs.String("latency-unit", "µs", "`unit` of the latencies")
	format := fs.String("format", "png", "image `format`: png, svg or pdf")
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 0 || *out == "" || (*in == "" && *latencies == "") {
		fs.Usage()
		return fmt.Errorf("%w: plot needs --in and/or --latencies, and a non-empty --out", errUsage)
	}
	switch *format {
	case "png", "svg", "pdf":
	default:
		return fmt.Errorf("%w: --format must be png, svg or pdf", errUsage)
	}
	// Read every input before anything is written.
	var set *compare.Set
	if *in != "" {
		if set, err = compare.Load(*in); err != nil {
			return err
		}
	}
	var xs []float64
	if *latencies != "" {
		if xs, err = readFloats(*latencies); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	wrote := 0
	try := func(name string, draw func(path string) error) error {
		path := filepath.Join(*out, name+"."+*format)
		err := draw(path)
		switch {
		case errors.Is(err, benchplot.ErrNoData):
			fmt.Fprintf(stderr, "skipped %s: %v\n", name, err)
			return nil
		case err != nil:
			return err
		}
		wrote++
		fmt.Fprintf(stdout, "wrote %s\n", path)
		return nil
	}
	if set != nil {
		if err := try("codec-throughput", func(p string) error { return benchplot.CodecThroughput(set.Series, p) }); err != nil {
			return err
		}
		if err := try("peer-ratios", func(p string) error { return benchplot.PeerRatios(set.Series, *ref, p) }); err != nil {
			return err
		}
		if err := try("downtime-vs-heap", func(p string) error { return benchplot.DowntimeVsHeap(set.Series, p) }); err != nil {
			return err
		}
	}
	if *latencies != "" {
		if err := try("latency-cdf", func(p string) error {
			return benchplot.LatencyCDF(xs, *latencyUnit, "Latency CDF", p)
		}); err != nil {
			return err
		}
	}
	if wrote == 0 {
		return fmt.Errorf("nothing to plot")
	}
	return nil
}

// readFloats reads one number per line, skipping blank lines and lines
// starting with '#'.
func readFloats(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var xs []float64
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		x, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		xs = append(xs, x)
	}
	return xs, sc.Err()
}
