package compare

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchunit"
)

// Verdicts shown in the last column of the table.
const (
	VerdictRegression = "REGRESSION"
	VerdictWorse      = "worse"  // significant, within the threshold
	VerdictBetter     = "better" // significant improvement
	VerdictOnlyOld    = "removed"
	VerdictOnlyNew    = "added"
)

// Verdict returns the row's verdict word, or "" for no significant change.
func (r *Row) Verdict() string {
	switch {
	case r.New == nil:
		return VerdictOnlyOld
	case r.Old == nil:
		return VerdictOnlyNew
	case r.Regression:
		return VerdictRegression
	case r.Exceeds: // a regression, were the machines the same
		return VerdictWorse
	case !r.Significant || r.Better == Unknown || r.Delta == 0:
		return ""
	case r.Worse() > 0:
		return VerdictWorse
	}
	return VerdictBetter
}

// WriteText renders the report as benchstat-style tables, one per package
// and unit, followed by footnotes, notes and a one-line summary:
//
//	pkg: example.com/codec
//	                     │ old.txt sec/op │ new.txt sec/op │ vs base │   p   │ n  │
//	Encode/heap=4KiB-2     1.718µ ± 1%      2.233µ ± 1%      +30.00%   0.000   10   REGRESSION
//
// Each cell is the median ± the larger distance from the median to the
// ends of its confidence interval, in percent. "vs base" is "~" when the
// difference is not significant, as in benchstat.
func (r *Report) WriteText(w io.Writer) error {
	var out bytes.Buffer
	var notes []string
	noteIndex := map[string]int{}
	footnote := func(msgs []string) string {
		var marks []string
		for _, m := range msgs {
			i, ok := noteIndex[m]
			if !ok {
				notes = append(notes, m)
				i = len(notes)
				noteIndex[m] = i
			}
			marks = append(marks, superscript(i))
		}
		return strings.Join(marks, " ")
	}

	for _, k := range r.Old.Config {
		if isMachineKey(k.Key) && k.Key != "commit" && r.New.Get(k.Key) == k.Value && r.Old.Get(k.Key) == k.Value {
			fmt.Fprintf(&out, "%s: %s\n", k.Key, k.Value)
		}
	}
	if o, n := r.Old.Get("commit"), r.New.Get("commit"); o != "" || n != "" {
		fmt.Fprintf(&out, "commit: %s → %s\n", orNone(o), orNone(n))
	}

	for _, pkg := range r.pkgs() {
		if out.Len() > 0 {
			out.WriteByte('\n')
		}
		if pkg != "" {
			fmt.Fprintf(&out, "pkg: %s\n", pkg)
		}
		for i, unit := range r.units(pkg) {
			if i > 0 {
				out.WriteByte('\n')
			}
			if err := r.writeTable(&out, pkg, unit, footnote); err != nil {
				return err
			}
		}
	}

	for i, n := range notes {
		fmt.Fprintf(&out, "%s %s\n", superscript(i+1), n)
	}
	if len(r.Notes) > 0 {
		out.WriteByte('\n')
		for _, n := range r.Notes {
			fmt.Fprintf(&out, "note: %s\n", n)
		}
	}
	out.WriteByte('\n')
	out.WriteString(r.Summary())
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// Summary is a one-line verdict for the whole report. Across machines it
// says that nothing gated and names both machines.
func (r *Report) Summary() string {
	regs := r.Regressions()
	paired, exceeds := 0, 0
	for _, row := range r.Rows {
		if row.Paired() {
			paired++
		}
		if row.Exceeds {
			exceeds++
		}
	}
	if r.CrossMachine {
		var extra []string // the differing lines Machine leaves out
		for _, k := range IdentityKeys {
			if !containsString([]string{"cpu", "cores", "goos", "goarch"}, k) && r.Old.Get(k) != r.New.Get(k) {
				extra = append(extra, k)
			}
		}
		return fmt.Sprintf("not gated: different machines: %s ran on %s, %s on %s; across machines a comparison is reported, never a regression (%d of %d compared benchmarks worse by more than %v%%, α=%v); take a baseline on this machine to gate here",
			r.Old.Label, r.Old.machine(extra), r.New.Label, r.New.machine(extra), exceeds, paired, r.Opts.Threshold, r.Opts.Alpha)
	}
	if len(regs) == 0 {
		return fmt.Sprintf("no significant regression beyond %v%% (α=%v) in %d compared benchmarks", r.Opts.Threshold, r.Opts.Alpha, paired)
	}
	var names []string
	for _, row := range regs {
		names = append(names, fmt.Sprintf("%s [%s] %s", row.Name, row.Unit, formatPct(row.Delta)))
	}
	return fmt.Sprintf("%d significant regression(s) beyond %v%% (α=%v) in %d compared benchmarks: %s",
		len(regs), r.Opts.Threshold, r.Opts.Alpha, paired, strings.Join(names, ", "))
}

func (r *Report) writeTable(out *bytes.Buffer, pkg, unit string, footnote func([]string) string) error {
	var tb bytes.Buffer
	table := tablewriter.NewTable(&tb,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleLight),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off, ShowHeader: tw.Off, ShowFooter: tw.Off},
				Lines:      tw.Lines{ShowTop: tw.Off, ShowBottom: tw.Off, ShowHeaderLine: tw.Off, ShowFooterLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "  ", Overwrite: true}),
		tablewriter.WithHeaderAlignmentConfig(tw.CellAlignment{PerColumn: []tw.Align{tw.AlignLeft, tw.AlignCenter, tw.AlignCenter, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft}}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: []tw.Align{tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft}}),
	)
	table.Header([]string{unit, r.Old.Label, r.New.Label, "vs base", "p", "n", ""})

	cls := benchunit.ClassOf(unit)
	var oldCenters, newCenters []float64
	for _, row := range r.Rows {
		if row.Pkg != pkg || row.Unit != unit {
			continue
		}
		var vals []float64
		if row.Old != nil {
			vals = append(vals, row.OldSum.Center)
		}
		if row.New != nil {
			vals = append(vals, row.NewSum.Center)
		}
		sc := benchunit.CommonScale(vals, cls)
		cell := func(s *benchmath.Sample, sum benchmath.Summary) string {
			if s == nil {
				return ""
			}
			return sc.Format(sum.Center) + " ± " + sum.PctRangeString()
		}
		line := []string{row.Name, cell(row.Old, row.OldSum), cell(row.New, row.NewSum), "", "", "", ""}
		if row.Paired() {
			line[3] = r.formatDelta(row)
			line[4] = strconv.FormatFloat(row.Cmp.P, 'f', 3, 64)
			if row.exact {
				line[4] = "exact"
			}
			if row.Cmp.N1 == row.Cmp.N2 {
				line[5] = strconv.Itoa(row.Cmp.N1)
			} else {
				line[5] = fmt.Sprintf("%d+%d", row.Cmp.N1, row.Cmp.N2)
			}
			if row.OldSum.Center > 0 && row.NewSum.Center > 0 {
				oldCenters = append(oldCenters, row.OldSum.Center)
				newCenters = append(newCenters, row.NewSum.Center)
			}
		} else if row.Old != nil {
			line[5] = strconv.Itoa(len(row.Old.Values))
		} else {
			line[5] = strconv.Itoa(len(row.New.Values))
		}
		line[6] = strings.TrimSpace(row.Verdict() + " " + footnote(row.Warnings))
		if err := table.Append(line); err != nil {
			return err
		}
	}
	if len(oldCenters) > 1 {
		og, ng := geomean(oldCenters), geomean(newCenters)
		sc := benchunit.CommonScale([]float64{og, ng}, cls)
		if err := table.Append([]string{"geomean", sc.Format(og), sc.Format(ng), formatPct(delta(og, ng)), "", "", ""}); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	// Cells are padded on the right; drop the padding at line ends.
	for _, line := range strings.SplitAfter(tb.String(), "\n") {
		if line == "" {
			continue
		}
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	return nil
}

func (r *Report) formatDelta(row *Row) string {
	if !row.Significant {
		return "~"
	}
	return formatPct(row.Delta)
}

func formatPct(d float64) string {
	switch {
	case math.IsInf(d, 1):
		return "+Inf%"
	case math.IsInf(d, -1):
		return "-Inf%"
	case d == 0:
		return "0.00%"
	}
	return fmt.Sprintf("%+.2f%%", d)
}

func geomean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(xs)))
}

func (r *Report) pkgs() []string {
	var out []string
	for _, row := range r.Rows {
		if !containsString(out, row.Pkg) {
			out = append(out, row.Pkg)
		}
	}
	return out
}

func (r *Report) units(pkg string) []string {
	var out []string
	for _, row := range r.Rows {
		if row.Pkg == pkg && !containsString(out, row.Unit) {
			out = append(out, row.Unit)
		}
	}
	return out
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func isMachineKey(k string) bool { return containsString(MachineKeys, k) }

var superDigits = []rune("⁰¹²³⁴⁵⁶⁷⁸⁹")

func superscript(i int) string {
	s := strconv.Itoa(i)
	var b strings.Builder
	for _, c := range s {
		b.WriteRune(superDigits[c-'0'])
	}
	return b.String()
}
