package compare

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// Options configure a comparison. Start from DefaultOptions.
type Options struct {
	// Alpha is the significance level of the Mann-Whitney U test: a
	// difference is significant when p < Alpha.
	Alpha float64
	// Confidence is the level of the median confidence intervals.
	Confidence float64
	// Threshold is the percentage by which the new median must be worse
	// than the old one, in the unit's bad direction, for a significant
	// difference to count as a regression.
	Threshold float64
}

// DefaultOptions are benchstat's α = 0.05 and 95% confidence, and a 10%
// regression threshold.
var DefaultOptions = Options{Alpha: 0.05, Confidence: 0.95, Threshold: 10}

// Direction values returned by Better.
const (
	LowerIsBetter  = -1
	Unknown        = 0
	HigherIsBetter = +1
)

// Better reports which direction of unit is an improvement. Unit metadata
// ("Unit U better=higher") wins; otherwise sec/op, ns/op, B/op, allocs/op
// and other time-per-op units are LowerIsBetter, units ending in "/s" are
// HigherIsBetter, and anything else is Unknown.
func Better(unit string, units benchfmt.UnitMetadataMap) int {
	if units != nil {
		if m := units.Get(unit, "better"); m != nil {
			return units.GetBetter(unit)
		}
	}
	if b := (benchfmt.UnitMetadataMap{}).GetBetter(unit); b != 0 {
		return b
	}
	switch {
	case strings.HasSuffix(unit, "/s"):
		return HigherIsBetter
	case strings.HasPrefix(unit, "sec/"), strings.HasPrefix(unit, "ns/"):
		return LowerIsBetter
	}
	return Unknown
}

// Row is the comparison of one benchmark in one unit.
type Row struct {
	Pkg, Name, Unit string
	// Better is the unit's direction (LowerIsBetter, HigherIsBetter or
	// Unknown).
	Better int
	// Old and New are the samples; either is nil when the benchmark is
	// missing from that side, and then the fields below are zero.
	Old, New *benchmath.Sample
	// OldSum and NewSum are the medians with confidence intervals.
	OldSum, NewSum benchmath.Summary
	// Cmp is the Mann-Whitney U test between Old and New.
	Cmp benchmath.Comparison
	// Delta is the change of the median in percent, (new/old - 1) * 100;
	// ±Inf when the old median is 0 and the new one is not.
	Delta float64
	// Significant is p < Alpha (for units assumed exact: the values differ).
	Significant bool
	// Exceeds is Significant, worse than Threshold percent in the unit's
	// bad direction, and the two medians' confidence intervals do not
	// overlap. The last condition keeps a noisy benchmark (a contended one
	// on a shared machine, say) from failing a run on a shift that its own
	// spread explains; a real slowdown moves the whole interval.
	Exceeds bool
	// Regression is Exceeds when both files come from the same machine
	// (see Report.CrossMachine); across machines it is always false, as a
	// difference there measures the machines, not the code.
	Regression bool
	// Warnings are benchmath's notes on the samples and the test.
	Warnings []string

	exact bool
}

// Paired reports whether the benchmark is present on both sides.
func (r *Row) Paired() bool { return r.Old != nil && r.New != nil }

// Worse returns by how many percent the new median is worse than the old
// one in the unit's bad direction (negative when it is better, 0 when the
// direction is unknown or a side is missing).
func (r *Row) Worse() float64 {
	if !r.Paired() || r.Delta == 0 {
		return 0
	}
	return -float64(r.Better) * r.Delta
}

// Disjoint reports whether the old and new medians' confidence intervals
// do not overlap.
func (r *Row) Disjoint() bool {
	return r.Paired() && (r.NewSum.Lo > r.OldSum.Hi || r.NewSum.Hi < r.OldSum.Lo)
}

// Report is the result of Compare.
type Report struct {
	Old, New *Set
	Opts     Options
	// Rows lists rows in the order the benchmarks first appear in Old,
	// then those only in New.
	Rows []*Row
	// Notes describe machine configuration that differs between the sets.
	Notes []string
	// CrossMachine is set when the two sets come from different machines:
	// some of their IdentityKeys lines differ. Such a comparison is
	// reported but never has a regression.
	CrossMachine bool
}

// Regressions returns the rows that are regressions.
func (r *Report) Regressions() []*Row {
	var out []*Row
	for _, row := range r.Rows {
		if row.Regression {
			out = append(out, row)
		}
	}
	return out
}

// Compare compares every benchmark of new with the same benchmark of old.
func Compare(old, new *Set, opts Options) *Report {
	units := benchfmt.UnitMetadataMap{}
	for k, v := range old.Units {
		units[k] = v
	}
	for k, v := range new.Units {
		units[k] = v
	}
	th := &benchmath.Thresholds{CompareAlpha: opts.Alpha}
	rep := &Report{Old: old, New: new, Opts: opts, Notes: configNotes(old, new), CrossMachine: !SameMachine(old, new)}

	add := func(ser *Series, o, n *Series) {
		row := &Row{Pkg: ser.Pkg, Name: ser.Name, Unit: ser.Unit, Better: Better(ser.Unit, units)}
		assume := units.GetAssumption(ser.Unit)
		row.exact = assume == benchmath.AssumeExact
		if o != nil {
			row.Old = benchmath.NewSample(slices.Clone(o.Values), th)
			row.OldSum = assume.Summary(row.Old, opts.Confidence)
			row.Warnings = appendWarnings(row.Warnings, row.Old.Warnings, row.OldSum.Warnings)
		}
		if n != nil {
			row.New = benchmath.NewSample(slices.Clone(n.Values), th)
			row.NewSum = assume.Summary(row.New, opts.Confidence)
			row.Warnings = appendWarnings(row.Warnings, row.New.Warnings, row.NewSum.Warnings)
		}
		if row.Paired() {
			row.Cmp = assume.Compare(row.Old, row.New)
			row.Cmp.Alpha = opts.Alpha
			row.Warnings = appendWarnings(row.Warnings, row.Cmp.Warnings)
			row.Delta = delta(row.OldSum.Center, row.NewSum.Center)
			if row.exact {
				row.Significant = row.OldSum.Center != row.NewSum.Center
			} else {
				row.Significant = row.Cmp.P < opts.Alpha
			}
			row.Exceeds = row.Significant && row.Better != Unknown && row.Worse() > opts.Threshold && row.Disjoint()
			row.Regression = row.Exceeds && !rep.CrossMachine
		}
		rep.Rows = append(rep.Rows, row)
	}
	for _, o := range old.Series {
		add(o, o, new.Lookup(o.Pkg, o.Name, o.Unit))
	}
	for _, n := range new.Series {
		if old.Lookup(n.Pkg, n.Name, n.Unit) == nil {
			add(n, nil, n)
		}
	}
	return rep
}

func delta(old, new float64) float64 {
	switch {
	case old == new:
		return 0
	case old == 0:
		return math.Inf(int(math.Copysign(1, new)))
	}
	return (new/old - 1) * 100
}

func appendWarnings(dst []string, lists ...[]error) []string {
	for _, l := range lists {
		for _, e := range l {
			if s := e.Error(); !slices.Contains(dst, s) {
				dst = append(dst, s)
			}
		}
	}
	return dst
}

// MachineKeys are the configuration keys that describe the run rather
// than the benchmark (bench/machine writes them); Compare ignores them
// when pairing results and reports differences as notes.
var MachineKeys = []string{"goos", "goarch", "cpu", "cores", "cacheline", "l1d", "l2", "l3", "mem", "go", "commit"}

// IdentityKeys are the machine lines that name the machine itself: two
// result files come from the same machine when all of these agree (a line
// missing on both sides agrees). The Go version and the commit are not
// among them: they change what is measured, which is what a comparison is
// for.
var IdentityKeys = []string{"goos", "goarch", "cpu", "cores", "cacheline", "l1d", "l2", "l3", "mem"}

// SameMachine reports whether a and b come from the same machine by their
// IdentityKeys lines.
func SameMachine(a, b *Set) bool {
	for _, k := range IdentityKeys {
		if a.Get(k) != b.Get(k) {
			return false
		}
	}
	return true
}

// Machine names the machine a set ran on: its cpu line, then its cores
// and goos/goarch lines in parentheses, e.g. "AMD EPYC (2 physical, 2
// logical cores, linux/amd64)". Missing lines read "unknown".
func (s *Set) Machine() string {
	return s.machine(nil)
}

// machine is Machine with the lines named by extra added in the parentheses.
func (s *Set) machine(extra []string) string {
	get := func(k string) string {
		if v := s.Get(k); v != "" {
			return v
		}
		return "unknown"
	}
	m := fmt.Sprintf("%s (%s cores, %s/%s", get("cpu"), get("cores"), get("goos"), get("goarch"))
	for _, k := range extra {
		m += fmt.Sprintf(", %s %s", k, get(k))
	}
	return m + ")"
}

func configNotes(old, new *Set) []string {
	var notes []string
	for _, k := range MachineKeys {
		o, n := old.Get(k), new.Get(k)
		if o != n && k != "commit" {
			notes = append(notes, fmt.Sprintf("%s differs: %s → %s", k, orNone(o), orNone(n)))
		}
	}
	return notes
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func sortedUnitKeys(m benchfmt.UnitMetadataMap) []benchfmt.UnitMetadataKey {
	keys := make([]benchfmt.UnitMetadataKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b benchfmt.UnitMetadataKey) int {
		if c := strings.Compare(a.Unit, b.Unit); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return keys
}

// BenchstatCommand returns the plain benchstat command that shows the same
// comparison: tables per package and unit, rows by full name, columns by
// file, machine lines ignored.
func BenchstatCommand(oldPath, newPath string, opts Options) string {
	var b strings.Builder
	b.WriteString("benchstat")
	if opts.Alpha != DefaultOptions.Alpha {
		fmt.Fprintf(&b, " -alpha %v", opts.Alpha)
	}
	if opts.Confidence != DefaultOptions.Confidence {
		fmt.Fprintf(&b, " -confidence %v", opts.Confidence)
	}
	fmt.Fprintf(&b, " -table pkg -row .fullname -col .file -ignore %s %s %s",
		strings.Join(MachineKeys, ","), shellQuote(oldPath), shellQuote(newPath))
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
