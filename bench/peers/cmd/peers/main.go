// Command peers runs KnotenCore's workloads on KnotenCore and its peer
// runtimes in one process, checks every result against native Go, and
// prints a table of median times with ratios to native Go and to
// KnotenCore.
//
//	go run ./cmd/peers [-quick] [-count N] [-o FILE] [-engines a,b] [-workloads a,b]
//
// -o writes every timed run in Go benchmark format
// (BenchmarkPeers/workload=W/engine=E), preceded by the machine's
// configuration lines, for bench/benchplot.PeerRatios and benchstat.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/knotencore/knoten/bench/machine"
	"github.com/knotencore/knoten/bench/peers"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "smaller sizes (same as -sizes quick)")
	sizesName := fs.String("sizes", "full", "workload sizes: full, quick or test")
	count := fs.Int("count", 3, "timed runs per workload and engine (after one checked warm-up run)")
	out := fs.String("o", "", "also write the raw runs in Go benchmark format to this file")
	engines := fs.String("engines", "", "comma-separated engines to run (default all; native Go and knoten always run)")
	workloads := fs.String("workloads", "", "comma-separated workloads to run (default all)")
	clock := fs.String("clock", "cpu", "time the ratios compare: cpu (process CPU time, robust to other processes) or wall")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *quick {
		*sizesName = "quick"
	}
	sizes, err := peers.SizesByName(*sizesName)
	if err != nil {
		return err
	}
	if *count < 1 {
		return errors.New("-count must be at least 1")
	}
	if *clock != "cpu" && *clock != "wall" {
		return fmt.Errorf("-clock must be cpu or wall, not %q", *clock)
	}
	es, err := selectEngines(*engines)
	if err != nil {
		return err
	}
	ws, err := selectWorkloads(*workloads)
	if err != nil {
		return err
	}

	load0 := loadAvg()
	start := time.Now()
	var ms []*peers.Measurement
	for _, w := range ws {
		fmt.Fprintf(stderr, "%s(%d)...\n", w, sizes[w])
		wms, err := peers.MeasureWorkload(es, w, sizes[w], *count)
		if err != nil {
			return err
		}
		ms = append(ms, wms...)
	}
	if err := writeTable(stdout, ms, sizes, *clock); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "every result checked against native Go; %d runs each, median; %s in all\n",
		*count, time.Since(start).Round(time.Second))
	if l := max(load0, loadAvg()); l > float64(runtime.NumCPU())/2 {
		fmt.Fprintf(stdout, "warning: load average %.1f on %d CPUs: other processes were running; times are inflated, ratios less so (engines run interleaved)\n",
			l, runtime.NumCPU())
	}
	if *out != "" {
		var b bytes.Buffer
		if err := machine.WriteLines(&b); err != nil {
			return err
		}
		b.WriteString("pkg: github.com/knotencore/knoten/bench/peers\n")
		if err := peers.WriteBench(&b, ms); err != nil {
			return err
		}
		if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "raw runs written to %s\n", *out)
	}
	return nil
}

func selectEngines(list string) ([]peers.Engine, error) {
	all := peers.Engines()
	if list == "" {
		return all, nil
	}
	want := strings.Split(list, ",")
	for _, name := range want {
		if _, ok := peers.EngineByName(name); !ok {
			return nil, fmt.Errorf("unknown engine %q", name)
		}
	}
	var es []peers.Engine
	for _, e := range all {
		if e.Name == peers.Native || e.Name == peers.Ref || slices.Contains(want, e.Name) {
			es = append(es, e)
		}
	}
	return es, nil
}

func selectWorkloads(list string) ([]string, error) {
	if list == "" {
		return peers.Workloads, nil
	}
	var ws []string
	for _, w := range strings.Split(list, ",") {
		if !slices.Contains(peers.Workloads, w) {
			return nil, fmt.Errorf("unknown workload %q", w)
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// writeTable prints one row per workload and engine: the median wall and
// CPU times and the ratio of the clock's median to native Go's and
// KnotenCore's (2.00 = takes twice as long).
func writeTable(w io.Writer, ms []*peers.Measurement, sizes peers.Sizes, clock string) error {
	for _, m := range ms {
		if !m.Unsupported && m.MedianCPU() <= 0 {
			clock = "wall" // CPU time unknown on this platform
		}
	}
	of := (*peers.Measurement).MedianCPU
	if clock == "wall" {
		of = (*peers.Measurement).Median
	}
	median := map[[2]string]time.Duration{}
	for _, m := range ms {
		if !m.Unsupported {
			median[[2]string{m.Workload, m.Engine}] = of(m)
		}
	}
	table := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Symbols:  tw.NewSymbols(tw.StyleLight),
			Settings: tw.Settings{Separators: tw.Separators{BetweenRows: tw.Off}},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: []tw.Align{
			tw.AlignLeft, tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight}}),
	)
	table.Header([]string{"workload", "engine", "wall", "cpu", "× go (" + clock + ")", "× knoten (" + clock + ")", "allocs/op", "result"})
	for _, m := range ms {
		label := fmt.Sprintf("%s(%d)", m.Workload, sizes[m.Workload])
		if m.Unsupported {
			if err := table.Append([]string{label, m.Engine, "n/a", "", "", "", "", "cannot express"}); err != nil {
				return err
			}
			continue
		}
		t := of(m)
		ratio := func(ref string) string {
			r, ok := median[[2]string{m.Workload, ref}]
			if !ok || r <= 0 {
				return "-"
			}
			return fmt.Sprintf("%.2f", float64(t)/float64(r))
		}
		allocs := m.Runs[len(m.Runs)/2].Allocs
		if err := table.Append([]string{label, m.Engine, formatDuration(m.Median()), formatDuration(m.MedianCPU()),
			ratio(peers.Native), ratio(peers.Ref), fmt.Sprint(allocs), m.Result}); err != nil {
			return err
		}
	}
	return table.Render()
}

// loadAvg returns the 1-minute load average, or 0 where unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	l, _ := strconv.ParseFloat(f, 64)
	return l
}

func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1f µs", float64(d)/1e3)
	}
}
