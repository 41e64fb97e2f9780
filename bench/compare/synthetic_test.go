package compare

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// synthetic returns a -count=10 result file with machine lines for one
// benchmark whose ns/op median is nsPerOp and whose MB/s follows from a
// 1 MiB payload, with ±2% uniform noise from seed. allocs is reported as
// allocs/op.
func synthetic(commit string, seed uint64, nsPerOp float64, allocs int) string {
	rng := rand.New(rand.NewPCG(seed, 0x6b6e6f74656e))
	var b strings.Builder
	fmt.Fprintf(&b, "goos: linux\ngoarch: amd64\ncpu: Synthetic CPU\ncores: 2 physical, 2 logical\ncacheline: 64 B\ngo: go1.26.8\ncommit: %s\n", commit)
	b.WriteString("pkg: github.com/knotencore/knoten/codec\n")
	for range 10 {
		ns := nsPerOp * (1 + 0.04*(rng.Float64()-0.5))
		mbs := float64(1<<20) / (ns * 1e-9) / 1e6
		fmt.Fprintf(&b, "BenchmarkCodecRoundTrip/heap=1MiB-2 \t 20000 \t %.1f ns/op \t %.2f MB/s \t 0 B/op \t %d allocs/op\n", ns, mbs, allocs)
	}
	return b.String()
}

func compareText(t *testing.T, oldText, newText string, opts Options) *Report {
	t.Helper()
	old, err := Parse(strings.NewReader(oldText), "old")
	if err != nil {
		t.Fatal(err)
	}
	new, err := Parse(strings.NewReader(newText), "new")
	if err != nil {
		t.Fatal(err)
	}
	return Compare(old, new, opts)
}

func rowFor(t *testing.T, rep *Report, unit string) *Row {
	t.Helper()
	for _, r := range rep.Rows {
		if r.Unit == unit {
			return r
		}
	}
	t.Fatalf("no %s row", unit)
	return nil
}

func TestSyntheticUnchangedIsNotRegression(t *testing.T) {
	// Several different noise draws of the same distribution: whatever
	// the U test says, nothing moves by 10%.
	for seed := uint64(1); seed <= 20; seed++ {
		rep := compareText(t, synthetic("aaa", seed, 50000, 0), synthetic("bbb", seed+1000, 50000, 0), DefaultOptions)
		if regs := rep.Regressions(); len(regs) != 0 {
			t.Fatalf("seed %d: unchanged build reported regressions: %s", seed, rep.Summary())
		}
		if sec := rowFor(t, rep, "sec/op"); sec.Old == nil || len(sec.Old.Values) != 10 || len(sec.New.Values) != 10 {
			t.Fatalf("seed %d: samples not paired with n=10", seed)
		}
	}
}

func TestSyntheticSlowdownIsRegression(t *testing.T) {
	rep := compareText(t, synthetic("aaa", 1, 50000, 0), synthetic("bbb", 2, 65000, 0), DefaultOptions)
	sec := rowFor(t, rep, "sec/op")
	if !sec.Significant || sec.Cmp.P >= 0.05 {
		t.Errorf("+30%% not significant: p=%v", sec.Cmp.P)
	}
	if sec.Delta < 25 || sec.Delta > 35 {
		t.Errorf("delta = %.2f%%, want about +30%%", sec.Delta)
	}
	if !sec.Regression || sec.Verdict() != VerdictRegression {
		t.Errorf("sec/op +30%% is not a regression: %+v", sec)
	}
	// Throughput fell by about 23%: higher is better, so a regression too.
	tput := rowFor(t, rep, "B/s")
	if tput.Better != HigherIsBetter || !tput.Regression || tput.Delta > -15 {
		t.Errorf("B/s: better=%d regression=%v delta=%.2f", tput.Better, tput.Regression, tput.Delta)
	}
	if len(rep.Regressions()) != 2 {
		t.Errorf("regressions = %d, want 2", len(rep.Regressions()))
	}
	if !strings.Contains(rep.Summary(), "2 significant regression(s)") {
		t.Errorf("summary = %q", rep.Summary())
	}
}

func TestSyntheticSpeedupIsNotRegression(t *testing.T) {
	rep := compareText(t, synthetic("aaa", 1, 65000, 0), synthetic("bbb", 2, 50000, 0), DefaultOptions)
	for _, r := range rep.Rows {
		if r.Regression {
			t.Errorf("%s: speedup reported as regression", r.Unit)
		}
	}
	if v := rowFor(t, rep, "sec/op").Verdict(); v != VerdictBetter {
		t.Errorf("verdict = %q, want %q", v, VerdictBetter)
	}
}

func TestSyntheticThreshold(t *testing.T) {
	// +6% is significant with ±2% noise, but within the 10% threshold.
	rep := compareText(t, synthetic("aaa", 1, 50000, 0), synthetic("bbb", 2, 53000, 0), DefaultOptions)
	sec := rowFor(t, rep, "sec/op")
	if !sec.Significant || sec.Regression || sec.Verdict() != VerdictWorse {
		t.Errorf("+6%%: significant=%v regression=%v verdict=%q", sec.Significant, sec.Regression, sec.Verdict())
	}
	opts := DefaultOptions
	opts.Threshold = 3
	rep = compareText(t, synthetic("aaa", 1, 50000, 0), synthetic("bbb", 2, 53000, 0), opts)
	if !rowFor(t, rep, "sec/op").Regression {
		t.Error("+6% with a 3% threshold is not a regression")
	}
}

func TestSyntheticNewAllocationIsRegression(t *testing.T) {
	rep := compareText(t, synthetic("aaa", 1, 50000, 0), synthetic("bbb", 2, 50000, 1), DefaultOptions)
	a := rowFor(t, rep, "allocs/op")
	if !a.Regression || a.Worse() <= 0 {
		t.Errorf("0 -> 1 allocs/op: regression=%v delta=%v", a.Regression, a.Delta)
	}
}

func TestBetter(t *testing.T) {
	meta, err := Parse(strings.NewReader("Unit steals/op better=higher\nUnit lat-ns better=lower\n"), "meta")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		unit string
		want int
	}{
		{"sec/op", LowerIsBetter},
		{"ns/op", LowerIsBetter},
		{"B/op", LowerIsBetter},
		{"allocs/op", LowerIsBetter},
		{"B/s", HigherIsBetter},
		{"MB/s", HigherIsBetter},
		{"ops/s", HigherIsBetter},
		{"migrations/s", HigherIsBetter},
		{"sec/migration", LowerIsBetter},
		{"steals/op", HigherIsBetter},
		{"lat-sec", LowerIsBetter},
		{"migrations/op", Unknown},
	} {
		if got := Better(tc.unit, meta.Units); got != tc.want {
			t.Errorf("Better(%q) = %d, want %d", tc.unit, got, tc.want)
		}
	}
	if got := Better("steals/op", nil); got != Unknown {
		t.Errorf("Better(steals/op, nil) = %d, want Unknown", got)
	}
}

func TestBenchstatCommand(t *testing.T) {
	got := BenchstatCommand("results/2026-01-02-abc1234.txt", "/tmp/new file.txt", DefaultOptions)
	want := "benchstat -table pkg -row .fullname -col .file -ignore goos,goarch,cpu,cores,cacheline,l1d,l2,l3,mem,go,commit results/2026-01-02-abc1234.txt '/tmp/new file.txt'"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	opts := DefaultOptions
	opts.Alpha = 0.01
	if got := BenchstatCommand("a", "b", opts); !strings.HasPrefix(got, "benchstat -alpha 0.01 -table") {
		t.Errorf("alpha not passed: %s", got)
	}
}

func TestExactUnit(t *testing.T) {
	const meta = "Unit text-bytes assume=exact better=lower\n"
	rep := compareText(t, meta+"BenchmarkSize 1 100000 text-bytes\n", meta+"BenchmarkSize 1 120000 text-bytes\n", DefaultOptions)
	row := rowFor(t, rep, "text-bytes")
	if !row.Significant || !row.Regression || math.Abs(row.Delta-20) > 1e-9 {
		t.Errorf("exact +20%%: significant=%v regression=%v delta=%v", row.Significant, row.Regression, row.Delta)
	}
	var buf strings.Builder
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "exact") || !strings.Contains(buf.String(), "+20.00%") {
		t.Errorf("table:\n%s", buf.String())
	}
	rep = compareText(t, meta+"BenchmarkSize 1 100000 text-bytes\n", meta+"BenchmarkSize 1 100000 text-bytes\n", DefaultOptions)
	if row := rowFor(t, rep, "text-bytes"); row.Significant || row.Regression {
		t.Errorf("exact unchanged: %+v", row)
	}
}

// noisy is like synthetic with a ±spread uniform noise on ns/op only.
func noisy(seed uint64, nsPerOp, spread float64) string {
	rng := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	b.WriteString("pkg: github.com/knotencore/knoten/queue\n")
	for range 10 {
		fmt.Fprintf(&b, "BenchmarkSteal/thieves=2-2 \t 20000 \t %.1f ns/op\n", nsPerOp*(1+spread*(rng.Float64()-0.5)))
	}
	return b.String()
}

// A shift beyond the threshold that the benchmark's own spread explains (the
// confidence intervals overlap) is reported but is not a regression; the
// same shift with a tight spread is.
func TestSyntheticNoisyShiftIsNotRegression(t *testing.T) {
	rep := compareText(t, noisy(1, 100, 0.6), noisy(2, 118, 0.6), DefaultOptions)
	r := rowFor(t, rep, "sec/op")
	if r.Worse() <= DefaultOptions.Threshold {
		t.Fatalf("the test needs a median shift beyond the threshold, got %.1f%%", r.Worse())
	}
	if r.Disjoint() || r.Regression {
		t.Fatalf("overlapping intervals flagged: disjoint %v regression %v (old %v, new %v)", r.Disjoint(), r.Regression, r.OldSum, r.NewSum)
	}
	rep = compareText(t, noisy(1, 100, 0.04), noisy(2, 118, 0.04), DefaultOptions)
	if r := rowFor(t, rep, "sec/op"); !r.Regression {
		t.Fatalf("a tight +18%% shift is not a regression: %+v", r)
	}
}

// onCPU moves a synthetic file to another machine: its cpu line says cpu.
func onCPU(text, cpu string) string {
	return strings.Replace(text, "cpu: Synthetic CPU", "cpu: "+cpu, 1)
}

// Issue 12 item 16: a comparison across machines never gates. The +30%
// that is a regression on one machine is reported as worse, names both
// machines, and leaves Regressions empty.
func TestCrossMachineNeverGates(t *testing.T) {
	old := onCPU(synthetic("aaa", 1, 50000, 0), "Intel(R) Xeon(R) Processor")
	new := onCPU(synthetic("bbb", 2, 65000, 1), "AMD EPYC")
	rep := compareText(t, old, new, DefaultOptions)
	if !rep.CrossMachine {
		t.Fatal("different cpu lines not seen as different machines")
	}
	if regs := rep.Regressions(); len(regs) != 0 {
		t.Errorf("across machines, %d regression(s): %s", len(regs), rep.Summary())
	}
	sec := rowFor(t, rep, "sec/op")
	if !sec.Exceeds || sec.Regression || sec.Verdict() != VerdictWorse {
		t.Errorf("+30%% across machines: exceeds=%v regression=%v verdict=%q", sec.Exceeds, sec.Regression, sec.Verdict())
	}
	sum := rep.Summary()
	for _, want := range []string{"not gated", "old ran on Intel(R) Xeon(R) Processor (2 physical, 2 logical cores, linux/amd64)",
		"new on AMD EPYC (2 physical, 2 logical cores, linux/amd64)", "3 of 4 compared benchmarks worse by more than 10%"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if strings.Contains(sum, "\n") {
		t.Errorf("summary is not one line: %q", sum)
	}
	var buf strings.Builder
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), VerdictRegression) {
		t.Errorf("table shows %s across machines:\n%s", VerdictRegression, buf.String())
	}
	if !strings.Contains(buf.String(), "note: cpu differs: Intel(R) Xeon(R) Processor → AMD EPYC") {
		t.Errorf("table lacks the cpu note:\n%s", buf.String())
	}
}

// Every identity line counts, also one that Machine leaves out (the
// summary then names it); the Go version and the commit do not.
func TestSameMachineKeys(t *testing.T) {
	base := synthetic("aaa", 1, 50000, 0)
	slow := synthetic("bbb", 2, 65000, 0)
	for _, tc := range []struct {
		name, from, to string
		cross          bool
		inSummary      string
	}{
		{"cores", "cores: 2 physical, 2 logical", "cores: 4 physical, 8 logical", true, "(4 physical, 8 logical cores,"},
		{"goarch", "goarch: amd64", "goarch: arm64", true, "linux/arm64)"},
		{"cacheline", "cacheline: 64 B", "cacheline: 128 B", true, "linux/amd64, cacheline 128 B)"},
		{"cpu missing", "cpu: Synthetic CPU\n", "", true, "new on unknown (2 physical"},
		{"go", "go: go1.26.8", "go: go1.27.0", false, "2 significant regression(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			new := strings.Replace(slow, tc.from, tc.to, 1)
			rep := compareText(t, base, new, DefaultOptions)
			if rep.CrossMachine != tc.cross {
				t.Fatalf("CrossMachine = %v, want %v", rep.CrossMachine, tc.cross)
			}
			if got := len(rep.Regressions()) > 0; got == tc.cross {
				t.Errorf("gated = %v across machines = %v: %s", got, tc.cross, rep.Summary())
			}
			if !strings.Contains(rep.Summary(), tc.inSummary) {
				t.Errorf("summary lacks %q: %s", tc.inSummary, rep.Summary())
			}
		})
	}
	// Two files without any machine line (plain go test output, as make
	// safepoint-cost compares) come from the same machine.
	plain := func(ns float64) string {
		var b strings.Builder
		for i := range 8 {
			fmt.Fprintf(&b, "BenchmarkX-2 1 %v ns/op\n", ns+float64(i))
		}
		return b.String()
	}
	if rep := compareText(t, plain(100), plain(200), DefaultOptions); rep.CrossMachine || len(rep.Regressions()) != 1 {
		t.Errorf("plain files: cross=%v regressions=%d", rep.CrossMachine, len(rep.Regressions()))
	}
}
