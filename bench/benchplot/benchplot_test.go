package benchplot

import (
	"errors"
	"flag"
	"fmt"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knotencore/knoten/bench/compare"
)

func TestSplitName(t *testing.T) {
	base, parts, procs := SplitName("Peers/workload=fib/engine=goja-2")
	if base != "Peers" || procs != "2" || len(parts) != 2 || parts[0] != (Part{"workload", "fib"}) || parts[1] != (Part{"engine", "goja"}) {
		t.Errorf("got %q %v %q", base, parts, procs)
	}
	base, parts, procs = SplitName("Deque/push-pop")
	if base != "Deque" || procs != "" || len(parts) != 1 || parts[0] != (Part{"", "push-pop"}) {
		t.Errorf("got %q %v %q", base, parts, procs)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"512": 512, "512B": 512, "4KiB": 4096, "4KB": 4096, "4k": 4096, "64KiB": 64 << 10,
		"1MiB": 1 << 20, "1M": 1 << 20, "2GiB": 2 << 30,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KiB", "4XB", "4 furlongs"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
	if got := FormatSize(64 << 10); got != "64KiB" {
		t.Errorf("FormatSize = %q", got)
	}
}

// syntheticResults builds -count=5 results for codec and peer benchmarks.
func syntheticResults(t *testing.T) *compare.Set {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("goos: linux\npkg: github.com/knotencore/knoten/bench\n")
	for range 5 {
		for _, size := range []string{"4KiB", "64KiB", "1MiB"} {
			n, _ := ParseSize(size)
			for _, hash := range []string{"none", "blake3"} {
				gbps := 20.0
				if hash == "blake3" {
					gbps = 2.5
				}
				ns := float64(n) / gbps * (1 + 0.05*rng.Float64())
				fmt.Fprintf(&b, "BenchmarkCodecRoundTrip/heap=%s/hash=%s-2 1000 %.1f ns/op %.2f MB/s\n", size, hash, ns, float64(n)/ns*1e3)
			}
		}
		for _, w := range []string{"fib", "loop", "sieve"} {
			for e, ms := range map[string]float64{"knoten": 50, "native": 4, "tengo": 180, "goja": 273} {
				if e == "tengo" && w == "sieve" {
					continue // a peer that cannot express a workload
				}
				fmt.Fprintf(&b, "BenchmarkPeers/workload=%s/engine=%s-2 10 %.0f ns/op\n", w, e, ms*1e6*(1+0.05*rng.Float64()))
			}
		}
	}
	s, err := compare.Parse(strings.NewReader(b.String()), "synthetic")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		t.Fatalf("%s: empty or unreadable (%v)", path, err)
	}
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("%s: image is %v", path, b)
	}
}

var plotDir = flag.String("plotdir", "", "also keep the rendered plots in this directory")

func TestPlotsRenderPNG(t *testing.T) {
	dir := t.TempDir()
	if *plotDir != "" {
		dir = *plotDir
	}
	set := syntheticResults(t)

	codec := filepath.Join(dir, "codec.png")
	if err := CodecThroughput(set.Series, codec); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, codec)

	peers := filepath.Join(dir, "peers.png")
	if err := PeerRatios(set.Series, "knoten", peers); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, peers)

	rng := rand.New(rand.NewPCG(3, 4))
	lat := make([]float64, 1000)
	for i := range lat {
		lat[i] = 20 + rng.ExpFloat64()*15
	}
	cdf := filepath.Join(dir, "downtime.png")
	if err := LatencyCDF(lat, "µs", "Migration downtime", cdf); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, cdf)

	// Degenerate but valid input: one latency value, one heap size.
	one := filepath.Join(dir, "one.png")
	if err := LatencyCDF([]float64{42}, "µs", "", one); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, one)
}

func TestPlotsNoData(t *testing.T) {
	dir := t.TempDir()
	empty := &compare.Set{}
	if err := CodecThroughput(empty.Series, filepath.Join(dir, "a.png")); !errors.Is(err, ErrNoData) {
		t.Errorf("CodecThroughput: %v", err)
	}
	if err := PeerRatios(syntheticResults(t).Series, "nosuchengine", filepath.Join(dir, "b.png")); !errors.Is(err, ErrNoData) {
		t.Errorf("PeerRatios: %v", err)
	}
	if err := LatencyCDF(nil, "", "", filepath.Join(dir, "c.png")); !errors.Is(err, ErrNoData) {
		t.Errorf("LatencyCDF: %v", err)
	}
	if got := Quantile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.99); got != 10 {
		t.Errorf("p99 = %v", got)
	}
	if got := Quantile([]float64{1, 2, 3, 4}, 0.5); got != 2 {
		t.Errorf("p50 = %v", got)
	}
}

// downtimeSeries builds MigrationDowntime series for two modes and five
// heaps, three runs each, in the units the benchmark reports.
func downtimeSeries() []*compare.Series {
	var series []*compare.Series
	for _, mode := range []string{"stop-and-copy", "precopy"} {
		for _, heap := range []string{"64KiB", "1MiB", "16MiB", "64MiB", "256MiB"} {
			n, _ := ParseSize(heap)
			// Stop-and-copy sends the whole heap while stopped (~1 GB/s);
			// pre-copy only the last round's dirty pages.
			p50 := 20e3 + float64(n)
			if mode == "precopy" {
				p50 = 20e3 + float64(n)/50
			}
			name := "MigrationDowntime/mode=" + mode + "/heap=" + heap + "-2"
			series = append(series,
				&compare.Series{Name: name, Unit: "downtime-p50-ns", Values: []float64{p50, p50 * 1.1, p50 * 0.95}},
				&compare.Series{Name: name, Unit: "downtime-p99-ns", Values: []float64{p50 * 1.9, p50 * 2.2, p50 * 2}},
				&compare.Series{Name: name, Unit: "rounds/op", Values: []float64{0, 0, 0}},
			)
		}
	}
	return series
}

func TestDowntimeVsHeap(t *testing.T) {
	dir := t.TempDir()
	if *plotDir != "" {
		dir = *plotDir
	}
	path := filepath.Join(dir, "downtime-vs-heap.png")
	if err := DowntimeVsHeap(downtimeSeries(), path); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path)

	// The same results as written by the benchmark and parsed (and tidied
	// to downtime-p50-sec) by compare.
	var b strings.Builder
	b.WriteString("cpu: Intel(R) Xeon(R) Processor\n")
	for range 2 {
		b.WriteString("BenchmarkMigrationDowntime/mode=stop-and-copy/heap=64KiB-2   20   123456 ns/op   95000 downtime-p50-ns   120000 downtime-p90-ns   180000 downtime-p99-ns   70000 sent-B/op   1.07 sent/heap   0 rounds/op   0 forced/op\n")
		b.WriteString("BenchmarkMigrationDowntime/mode=precopy/heap=64KiB-2   20   223456 ns/op   45000 downtime-p50-ns   60000 downtime-p90-ns   90000 downtime-p99-ns   140000 sent-B/op   2.14 sent/heap   3 rounds/op   0 forced/op\n")
	}
	set, err := compare.Parse(strings.NewReader(b.String()), "parsed")
	if err != nil {
		t.Fatal(err)
	}
	parsed := filepath.Join(dir, "downtime-parsed.png")
	if err := DowntimeVsHeap(set.Series, parsed); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, parsed)
}

func TestDowntimeVsHeapNoData(t *testing.T) {
	dir := t.TempDir()
	err := DowntimeVsHeap(syntheticResults(t).Series, filepath.Join(dir, "a.png"))
	if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "MigrationDowntime") {
		t.Errorf("codec and peer results: %v", err)
	}
	// Right units, but no heap= part, another base, or nothing positive.
	series := []*compare.Series{
		{Name: "MigrationDowntime/mode=precopy-2", Unit: "downtime-p50-ns", Values: []float64{1e5}},
		{Name: "ClusterLoad/mode=precopy/heap=1MiB-2", Unit: "downtime-p50-ns", Values: []float64{1e5}},
		{Name: "MigrationDowntime/mode=precopy/heap=1MiB-2", Unit: "downtime-p99-ns", Values: []float64{0}},
	}
	if err := DowntimeVsHeap(series, filepath.Join(dir, "b.png")); !errors.Is(err, ErrNoData) {
		t.Errorf("unusable results: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.png")); !os.IsNotExist(err) {
		t.Errorf("a file was written without data: %v", err)
	}
}

func TestLog10Ticks(t *testing.T) {
	var labels []string
	for _, tk := range log10Ticks(-2, 3) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "0.01 0.1 1 10 100 1000" {
		t.Errorf("labels %q", got)
	}
}
