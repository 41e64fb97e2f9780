// Package benchplot draws the harness's plots with gonum.org/v1/plot:
// codec throughput against heap size, engine time ratios against peer
// runtimes, migration downtime against heap size, and the CDF of a
// latency sample such as migration downtime.
//
// The first three read parsed results (bench/compare) and find their
// benchmarks by sub-benchmark keys in the name:
//
//	CodecRoundTrip/heap=4KiB/hash=none-2           → CodecThroughput (unit B/s, i.e. MB/s)
//	Peers/workload=fib/engine=goja-2               → PeerRatios (unit sec/op)
//	MigrationDowntime/mode=precopy/heap=1MiB-2     → DowntimeVsHeap (units downtime-p50-ns, downtime-p99-ns)
//
// Each point or bar is the median of the series. The output format
// follows the file extension (.png, .svg, .pdf, ...).
package benchplot

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/knotencore/knoten/bench/compare"
)

// ErrNoData is returned when the input holds nothing to plot.
var ErrNoData = errors.New("benchplot: no matching benchmarks")

// Size of every plot.
const (
	Width  = 16 * vg.Centimeter
	Height = 10 * vg.Centimeter
)

// Part is one "/key=value" (or positional "/value") part of a benchmark
// name.
type Part struct {
	Key, Value string
}

// SplitName splits a full benchmark name such as
// "Peers/workload=fib/engine=goja-2" into its base ("Peers"), its parts
// and its GOMAXPROCS suffix ("2", or "" when absent). A positional part
// has an empty Key.
func SplitName(name string) (base string, parts []Part, procs string) {
	if i := strings.LastIndexByte(name, '-'); i >= 0 && i < len(name)-1 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name, procs = name[:i], name[i+1:]
		}
	}
	fields := strings.Split(name, "/")
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			parts = append(parts, Part{k, v})
		} else {
			parts = append(parts, Part{"", f})
		}
	}
	return fields[0], parts, procs
}

func partValue(parts []Part, key string) (string, bool) {
	for _, p := range parts {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// ParseSize parses a byte size such as "512", "512B", "4KiB", "4KB",
// "4k", "1MiB" or "2GiB". K, M and G, in either case and with or without
// a trailing "iB" or "B", are powers of 1024, as heap sizes are.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRightFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	if num == "" {
		return 0, fmt.Errorf("size %q: no number", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	var mult int64
	switch strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(t[len(num):], "B"), "i")) {
	case "", "b":
		mult = 1
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("size %q: unknown unit", s)
	}
	return n * mult, nil
}

// FormatSize formats a power-of-two byte size for an axis label.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// CodecThroughput plots throughput in MB/s against heap size for every
// benchmark whose base name starts with "Codec" and has a "heap=SIZE"
// part, one line per benchmark with the heap part removed. It writes the
// plot to path.
func CodecThroughput(series []*compare.Series, path string) error {
	type point struct {
		x, y float64
	}
	lines := map[string][]point{}
	var order []string
	sizes := map[int64]bool{}
	for _, s := range series {
		if s.Unit != "B/s" || len(s.Values) == 0 {
			continue
		}
		base, parts, _ := SplitName(s.Name)
		if !strings.HasPrefix(base, "Codec") {
			continue
		}
		heap, ok := partValue(parts, "heap")
		if !ok {
			continue
		}
		size, err := ParseSize(heap)
		if err != nil || size <= 0 {
			continue
		}
		label := base
		for _, p := range parts {
			switch {
			case p.Key == "heap":
			case p.Key == "":
				label += "/" + p.Value
			default:
				label += "/" + p.Key + "=" + p.Value
			}
		}
		if _, ok := lines[label]; !ok {
			order = append(order, label)
		}
		lines[label] = append(lines[label], point{float64(size), median(s.Values) / 1e6})
		sizes[size] = true
	}
	if len(order) == 0 {
		return fmt.Errorf("%w: no Codec*/heap=SIZE results in B/s (MB/s)", ErrNoData)
	}

	p := plot.New()
	p.Title.Text = "Codec throughput vs heap size"
	p.X.Label.Text = "heap size"
	p.Y.Label.Text = "MB/s (median)"
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for size := range sizes {
		ticks = append(ticks, plot.Tick{Value: float64(size), Label: FormatSize(size)})
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Value < ticks[j].Value })
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Pad the log axis by a factor of 2 each side (this also gives a
	// single size a range), and leave headroom for the legend.
	p.X.Min, p.X.Max = ticks[0].Value/2, ticks[len(ticks)-1].Value*2
	// Throughputs span orders of magnitude (a vectored encode only
	// references memory), so the y axis is logarithmic too, with headroom
	// above the data for the legend.
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{}
	p.Y.Label.Text = "MB/s (median, log scale)"
	ymin, ymax := math.Inf(1), 0.0
	for _, pts := range lines {
		for _, pt := range pts {
			ymin, ymax = min(ymin, pt.y), max(ymax, pt.y)
		}
	}
	p.Y.Min = ymin / 2
	p.Y.Max = ymax * math.Pow(10, 0.25*float64(len(order)))
	p.Add(plotter.NewGrid())
	var args []any
	for _, label := range order {
		pts := lines[label]
		sort.Slice(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
		xys := make(plotter.XYs, len(pts))
		for i, pt := range pts {
			xys[i].X, xys[i].Y = pt.x, pt.y
		}
		args = append(args, label, xys)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	p.Legend.Top = true
	return save(p, path)
}

// DowntimeVsHeap plots migration downtime in milliseconds against heap
// size, both on log scales, for every benchmark whose base name is
// "MigrationDowntime" with "mode=M" and "heap=SIZE" parts: per mode, the
// median of the p50 downtimes as points joined by a solid line and the
// median of the p99 downtimes as a dashed line of the same colour,
// labelled "<mode> p50" and "<mode> p99" (mode "precopy" reads
// "pre-copy"). It reads units downtime-p50-ns and downtime-p99-ns, also
// as compare.Parse tidies them (downtime-p50-sec, downtime-p99-sec). Any
// other part of the name (not the -GOMAXPROCS suffix) is appended to the
// mode's label. Downtimes that are not positive cannot be drawn on a log
// scale and are left out. It writes the plot to path.
func DowntimeVsHeap(series []*compare.Series, path string) error {
	p, err := downtimePlot(series)
	if err != nil {
		return err
	}
	return save(p, path)
}

func downtimePlot(series []*compare.Series) (*plot.Plot, error) {
	type key struct {
		label string
		p99   bool
		size  int64
	}
	vals := map[key][]float64{}
	var labels []string
	sizes := map[int64]bool{}
	for _, s := range series {
		var p99 bool
		var toMs float64
		switch s.Unit {
		case "downtime-p50-ns":
			toMs = 1e-6
		case "downtime-p50-sec":
			toMs = 1e3
		case "downtime-p99-ns":
			p99, toMs = true, 1e-6
		case "downtime-p99-sec":
			p99, toMs = true, 1e3
		default:
			continue
		}
		base, parts, _ := SplitName(s.Name)
		if base != "MigrationDowntime" {
			continue
		}
		mode, okM := partValue(parts, "mode")
		heap, okH := partValue(parts, "heap")
		if !okM || !okH {
			continue
		}
		size, err := ParseSize(heap)
		if err != nil || size <= 0 {
			continue
		}
		label := modeLabel(mode)
		for _, p := range parts {
			switch {
			case p.Key == "mode", p.Key == "heap":
			case p.Key == "":
				label += "/" + p.Value
			default:
				label += "/" + p.Key + "=" + p.Value
			}
		}
		var ms []float64
		for _, v := range s.Values {
			if v*toMs > 0 && !math.IsInf(v, 0) {
				ms = append(ms, v*toMs)
			}
		}
		if len(ms) == 0 {
			continue
		}
		if !slices.Contains(labels, label) {
			labels = append(labels, label)
		}
		k := key{label, p99, size}
		vals[k] = append(vals[k], ms...)
		sizes[size] = true
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("%w: no MigrationDowntime/mode=M/heap=SIZE results with positive downtime-p50-ns or downtime-p99-ns", ErrNoData)
	}
	sort.Strings(labels)

	// Both axes are logarithmic, drawn as log10 of the values on linear
	// axes: gonum pads a log axis for its centred label as if the label
	// sat at the arithmetic middle of the range, which squeezes a plot
	// spanning several decades into a fraction of its height.
	p := plot.New()
	p.Title.Text = "Migration downtime vs heap size"
	p.X.Label.Text = "heap size (log scale)"
	var ticks []plot.Tick
	for size := range sizes {
		ticks = append(ticks, plot.Tick{Value: math.Log10(float64(size)), Label: FormatSize(size)})
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Value < ticks[j].Value })
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Pad by a factor of 2 each side (this also gives a single size a
	// range).
	p.X.Min, p.X.Max = ticks[0].Value-math.Log10(2), ticks[len(ticks)-1].Value+math.Log10(2)

	p.Y.Label.Text = "downtime in ms, median of runs (log scale)"
	p.Y.Tick.Marker = plot.TickerFunc(log10Ticks)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		m := math.Log10(median(v))
		ymin, ymax = min(ymin, m), max(ymax, m)
	}
	// Whole decades, so that both ends carry a label, with headroom above
	// the data for the legend (top left, where downtime is lowest).
	p.Y.Min = math.Floor(ymin - math.Log10(1.5))
	p.Y.Max = math.Ceil(ymax + math.Log10(4))
	p.Add(plotter.NewGrid())

	for i, label := range labels {
		for _, p99 := range []bool{false, true} {
			var xys plotter.XYs
			for size := range sizes {
				if v, ok := vals[key{label, p99, size}]; ok {
					xys = append(xys, plotter.XY{X: math.Log10(float64(size)), Y: math.Log10(median(v))})
				}
			}
			if len(xys) == 0 {
				continue
			}
			sort.Slice(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
			line, err := plotter.NewLine(xys)
			if err != nil {
				return nil, err
			}
			line.Color = plotutil.Color(i)
			line.Width = vg.Points(1.5)
			if p99 {
				line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
				p.Add(line)
				p.Legend.Add(label+" p99", line)
				continue
			}
			pts, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			pts.Color = plotutil.Color(i)
			pts.Shape = plotutil.Shape(i)
			p.Add(line, pts)
			p.Legend.Add(label+" p50", line, pts)
		}
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return p, nil
}

// modeLabel is the name a migration mode goes by in legends: the
// benchmark's "precopy" reads "pre-copy"; any other mode reads as is.
func modeLabel(mode string) string {
	if mode == "precopy" {
		return "pre-copy"
	}
	return mode
}

// log10Ticks ticks an axis that holds log10 of the values: a labelled
// tick at every power of ten in [lo, hi], written in plain decimal
// ("0.01", "1", "1000"), and unlabelled ticks at 2..9 times each.
func log10Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for i := 1; i < 10; i++ {
			v := e + math.Log10(float64(i))
			if v < lo-1e-9 || v > hi+1e-9 {
				continue
			}
			t := plot.Tick{Value: v}
			if i == 1 {
				t.Label = strconv.FormatFloat(math.Pow10(int(e)), 'f', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// PeerRatios draws a grouped bar chart of time per op relative to the
// engine named ref, for every benchmark with "workload=W" and "engine=E"
// parts in sec/op: one group per workload, one bar per engine, each bar
// median(E) / median(ref) for that workload (1 = as fast as ref; lower is
// faster). Workloads without a ref result are left out; an engine that
// cannot express a workload has no bar there.
func PeerRatios(series []*compare.Series, ref, path string) error {
	type key struct{ workload, engine string }
	med := map[key]float64{}
	var workloads, engines []string
	for _, s := range series {
		if s.Unit != "sec/op" || len(s.Values) == 0 {
			continue
		}
		_, parts, _ := SplitName(s.Name)
		w, okW := partValue(parts, "workload")
		e, okE := partValue(parts, "engine")
		if !okW || !okE {
			continue
		}
		if !slices.Contains(workloads, w) {
			workloads = append(workloads, w)
		}
		if !slices.Contains(engines, e) {
			engines = append(engines, e)
		}
		med[key{w, e}] = median(s.Values)
	}
	var kept []string
	for _, w := range workloads {
		if v, ok := med[key{w, ref}]; ok && v > 0 {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		return fmt.Errorf("%w: no workload=W/engine=E results in sec/op with engine=%s", ErrNoData, ref)
	}

	p := plot.New()
	p.Title.Text = fmt.Sprintf("Time per op relative to %s (lower is faster)", ref)
	p.Y.Label.Text = fmt.Sprintf("median time / %s median time", ref)
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	ymax := 0.0
	barWidth := vg.Length(float64(Width) * 0.7 / float64(len(kept)*len(engines)+len(kept)))
	barWidth = min(barWidth, vg.Points(14))
	for i, e := range engines {
		vals := make(plotter.Values, len(kept))
		for j, w := range kept {
			if v, ok := med[key{w, e}]; ok {
				vals[j] = v / med[key{w, ref}]
				ymax = max(ymax, vals[j])
			}
		}
		bars, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = barWidth * vg.Length(float64(i)-float64(len(engines)-1)/2)
		p.Add(bars)
		p.Legend.Add(e, bars)
	}
	one := plotter.NewFunction(func(float64) float64 { return 1 })
	one.Color = color.Gray{Y: 80}
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
	p.Add(one)
	p.Legend.Top = true
	p.NominalX(kept...)
	p.X.Min, p.X.Max = -0.5, float64(len(kept))-0.5
	p.Y.Max = max(ymax, 1) * (1.1 + 0.07*float64(len(engines)))
	return save(p, path)
}

// LatencyCDF draws the empirical cumulative distribution of latencies as
// a step line, marking the median and the 99th percentile in the legend.
// unit labels the X axis (e.g. "µs").
func LatencyCDF(latencies []float64, unit, title, path string) error {
	var xs []float64
	for _, x := range latencies {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return fmt.Errorf("%w: no latencies", ErrNoData)
	}
	sort.Float64s(xs)
	n := len(xs)
	xys := make(plotter.XYs, 0, n+1)
	xys = append(xys, plotter.XY{X: xs[0], Y: 0})
	for i, x := range xs {
		xys = append(xys, plotter.XY{X: x, Y: float64(i+1) / float64(n)})
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	line.StepStyle = plotter.PostStep
	line.Color = plotutil.Color(0)
	line.Width = vg.Points(1.5)

	p := plot.New()
	if title == "" {
		title = "Latency CDF"
	}
	p.Title.Text = fmt.Sprintf("%s (n=%d)", title, n)
	p.X.Label.Text = "latency"
	if unit != "" {
		p.X.Label.Text += " (" + unit + ")"
	}
	p.Y.Label.Text = "fraction ≤ x"
	p.Y.Min, p.Y.Max = 0, 1
	if xs[0] == xs[n-1] {
		p.X.Min, p.X.Max = xs[0]-1, xs[0]+1
	}
	p.Add(plotter.NewGrid(), line)
	p.Legend.Add(fmt.Sprintf("p50 %s  p99 %s  max %s", fmtFloat(Quantile(xs, 0.5)), fmtFloat(Quantile(xs, 0.99)), fmtFloat(xs[n-1])), line)
	p.Legend.Left = false
	p.Legend.Top = false
	return save(p, path)
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of sorted xs by the
// nearest-rank method.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }

func save(p *plot.Plot, path string) error {
	if filepath.Ext(path) == "" {
		return fmt.Errorf("benchplot: %s: no file extension to choose a format", path)
	}
	return p.Save(Width, Height, path)
}
