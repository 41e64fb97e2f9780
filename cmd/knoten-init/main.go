// Command knoten-init drives a simulated KnotenCore cluster.
//
// Usage:
//
//	knoten-init --cluster-sim [flags]          verify one isolate's migration lifecycle
//	knoten-init --cluster-sim --load [flags]   stress a cluster and report
//
// --cluster-sim spawns at least 3 nodes, starts a computation with a known
// result on node A (by default the loop workload; --program runs a .kn file
// instead), halts it mid-run and reports where (pc, instruction count),
// migrates it to B, lets it run, migrates it to C and lets it finish there.
// It checks that the result equals the known value and a straight run in
// this process, that the final state hash equals the straight run's, and
// that the state hash was verified at every hop. It exits non-zero on any
// mismatch.
//
// --cluster-sim --load runs --isolates isolates of mixed workloads
// (--program: of one file) spawned on node 0 (or over --spawn-nodes
// nodes), with cross-node stealing (unless --no-steal) and forced
// migrations at --migrate-rate per second, until all finish or --duration
// passes. It prints a table of throughput, migrations, steals, downtime
// percentiles, bytes moved, makespan against ideal, correctness of every
// result and the machine; --json prints JSON instead, and --out DIR also
// writes DIR/cluster-load.txt (Go benchmark format, for benchstat),
// DIR/cluster-load.json and DIR/downtime-us.txt (one migration downtime per
// line, for `knoten-bench plot --latencies`). It exits non-zero if any isolate was lost,
// duplicated or ended with a wrong result.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/knotencore/knoten/cluster"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "knoten-init:", err)
		os.Exit(1)
	}
}

// options are the parsed flags.
type options struct {
	clusterSim, load, noSteal, json bool
	nodes, workers, isolates        int
	spawnNodes                      int
	duration                        time.Duration
	migrateRate                     float64
	seed                            uint64
	latency, jitter                 time.Duration
	bandwidth                       float64
	loss                            float64
	program, out, size              string
	quantum                         int64

	progress io.Writer // where the progress bar goes; nil for none
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("knoten-init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.clusterSim, "cluster-sim", false, "run the simulated cluster")
	fs.BoolVar(&o.load, "load", false, "with --cluster-sim: stress run over many isolates")
	fs.IntVar(&o.nodes, "nodes", 0, "number of nodes (default 3; 4 with --load)")
	fs.IntVar(&o.workers, "workers", 1, "workers (cores) per node")
	fs.IntVar(&o.isolates, "isolates", 100, "with --load: number of isolates")
	fs.IntVar(&o.spawnNodes, "spawn-nodes", 1, "with --load: spread the isolates over this many nodes (1: all on node 0)")
	fs.DurationVar(&o.duration, "duration", 0, "with --load: stop after this long (0: when all isolates are done)")
	fs.Float64Var(&o.migrateRate, "migrate-rate", 50, "with --load: forced migrations per second")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for the network's faults, the job mix and forced migrations")
	fs.DurationVar(&o.latency, "latency", 0, "one-way link latency")
	fs.DurationVar(&o.jitter, "jitter", 0, "extra random link delay, up to this")
	bw := fs.String("bandwidth", "0", "link bandwidth in bytes/s, with optional k, M or G suffix (0: unlimited)")
	fs.Float64Var(&o.loss, "loss", 0, "probability that a message is lost")
	fs.StringVar(&o.program, "program", "", "run this .kn file instead of the built-in workloads")
	fs.StringVar(&o.out, "out", "", "with --load: write cluster-load.txt (benchmark format), cluster-load.json and downtime-us.txt here")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.BoolVar(&o.noSteal, "no-steal", false, "switch cross-node stealing off")
	fs.StringVar(&o.size, "size", "medium", "with --load: workload size: small (one quantum each), medium or full")
	fs.Int64Var(&o.quantum, "quantum", 0, "instructions per quantum (0: chosen from the cache geometry)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var err error
	if o.bandwidth, err = parseBandwidth(*bw); err != nil {
		return nil, err
	}
	switch {
	case !o.clusterSim:
		fs.Usage()
		return nil, errors.New("nothing to do: give --cluster-sim")
	case o.loss < 0 || o.loss >= 1:
		return nil, fmt.Errorf("--loss %v: want a probability in [0, 1)", o.loss)
	case o.workers < 1 || o.isolates < 1 || o.nodes < 0 || o.spawnNodes < 1:
		return nil, errors.New("--workers, --isolates and --spawn-nodes must be positive")
	case o.migrateRate < 0:
		return nil, errors.New("--migrate-rate must not be negative")
	}
	if o.nodes == 0 {
		o.nodes = 3
		if o.load {
			o.nodes = 4
		}
	}
	return o, nil
}

func parseBandwidth(s string) (float64, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/s")
	s = strings.TrimSuffix(s, "B")
	mult := 1.0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1e3, s[:n-1]
		case 'M':
			mult, s = 1e6, s[:n-1]
		case 'G':
			mult, s = 1e9, s[:n-1]
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad --bandwidth %q", s)
	}
	return v * mult, nil
}

func (o *options) link() cluster.LinkConfig {
	return cluster.LinkConfig{Latency: o.latency, Jitter: o.jitter, Bandwidth: o.bandwidth, Loss: o.loss}
}

// run is the whole command: main only calls it.
func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // the flag package has printed the usage
	}
	if err != nil {
		return err
	}
	if o.progress == nil && isTerminal(stderr) {
		o.progress = stderr
	}
	if o.load {
		return runLoad(context.Background(), o, stdout)
	}
	return runSim(o, stdout)
}
