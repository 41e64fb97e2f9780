// Command knoten-init drives a KnotenCore cluster in this process, over
// the simulated network or over NATS, or as one process per node over
// NATS (--procs).
//
// Usage:
//
//	knoten-init --cluster-sim [flags]          verify one isolate's migration lifecycle
//	knoten-init --cluster-sim --load [flags]   stress a cluster and report
//	knoten-init --cluster-sim --transport nats --procs [--load [--chaos]] [flags]
//	                                           the same, each node a process
//
// Every flag is checked before any work starts; each error is one line.
//
// --transport says what carries the nodes' messages. sim (the default) is
// the Live simulated network, whose links --latency, --jitter, --bandwidth
// and --loss configure and --seed seeds. nats is NATS core over real
// sockets: an embedded server with JetStream listens on a loopback port,
// its data in a temporary directory, and each node joins the transport
// (natsnet) on its own connection. Ownership then lives in a JetStream
// ledger (cluster/ledger, one replica, bucket knoten-init-ledger), which
// the cluster shares and reaches through n0's connection; --cluster-sim
// checks that it ends with the isolate finished on the node it completed
// on, at the last hop's epoch. The report's header names the server's URL
// and a line counts what the transport sent and delivered. --nats URL uses
// that server instead of an embedded one (it needs JetStream, for the
// ledger) and implies --transport nats. --auth gives each node an NKey and
// the embedded server admits only them, each with its member permissions
// and the ledger's subjects; --tls makes it require TLS with
// a self-signed certificate generated into the temporary directory, which
// the nodes trust. The simulated network's flags are refused over NATS,
// and so is --seed without --load (it then seeds only the network's
// faults); --auth and --tls are refused with --nats URL, whose server
// knoten-init cannot configure. The cluster is closed first, then the
// subscriptions, the connections and the server, and the temporary
// directory is removed, on every path, errors and --timeout included (a
// signal that kills the process skips it).
//
// --procs (with --transport nats, on an embedded server) runs each node as
// a child process: this program run as the hidden subcommand
// `knoten-init member --nats URL --node N --creds FILE ...`, which starts
// one member node (cluster/member) and runs until SIGTERM or SIGINT, or
// until its stdin, a pipe the coordinator holds, closes; on Linux the
// kernel also kills it when the coordinator dies (Pdeathsig). The
// coordinator, this process, starts the server with JetStream and always
// with authentication: an NKey for each node id from 0 to 4×nodes+3 (the
// nodes and the replacements of killed ones), its seed in a file in the
// temporary directory, never on a command line, with natsnet's member
// permissions plus the ledger's subjects and member's heartbeat, control,
// completion and event subjects; and one for itself, the id after the
// nodes', with the ledger's subjects (it reads the entries to account
// for lost isolates) and a client's. It waits until every node reports
// every other up and answers ps. Without --load it runs the 2-hop
// verification through member's client: the isolate is submitted to n0
// with its route (n1 and n2 at the planned halts), its hops are followed
// through the nodes' halted, arrived and migrated events and its result
// through its completion, all checked against the straight run as below;
// a hop has one attempt (the client cannot plan a route again). With
// --load the isolates are submitted round robin over the running nodes,
// forced migrations go through the client to random running nodes, and
// the nodes steal; the report gives completions, throughput, migrations
// (arrived events) with their downtime percentiles (wall clock across
// processes), completion latency at the coordinator, the correctness of
// every result against its workload's straight run, and the machine
// (--json: as JSON). --chaos adds, at random intervals seeded by --seed,
// a SIGKILL of a random running node (a new node with the next unused id
// takes its place: ids are never reused) or a SIGSTOP and a SIGCONT after
// longer than the nodes' failure-detector timeout (50 ms heartbeats, a
// 500 ms timeout), never leaving fewer than 2 nodes running nor acting on
// a node continued less than that timeout ago, 4 actions per node in
// all; --size is large by default then (each workload some 5 million
// instructions), so that nodes die with isolates in flight. The
// load ends when every submitted isolate has completed or, as the ledger
// has it, is owned by a node the chaos killed, or at --timeout; then the
// nodes are stopped and every isolate accounted for: completed once with
// the right result, lost with a killed node (running there, or finished
// there without a published completion), or lost by the protocol
// (anything else; listed). Submissions that failed because their node
// was killed are counted apart: they are not isolates. It exits non-zero
// on a duplicate, a wrong result, a loss by the protocol, any other
// failed submission, or a node that exited on its own. On every path,
// SIGINT and SIGTERM included, the children are stopped (SIGTERM, SIGKILL
// after 3 s), the connections closed, the server shut down and the
// temporary directory removed. --no-steal, --spawn-nodes, --duration,
// --out, --hop-attempts and --nats are refused with --procs.
//
// --cluster-sim spawns at least 3 nodes, starts a computation with a known
// result on node A (by default the loop workload; --program runs a .kn file
// instead), halts it mid-run and reports where (pc, instruction count),
// migrates it to B, lets it run, migrates it to C and lets it finish there.
// A straight run in this process comes first: it gives the result and
// final state hash to compare with, and where each hop will halt (the
// first safepoint at or after its planned stop, 25 % and 60 % of the
// run). A hop whose stop the program never reaches at a safepoint (a
// short program, or a tail without calls or loops) is not possible, and
// the report says so. It checks that the result equals the known value
// and the straight run's, that the final state hash equals the straight
// run's, and that at every hop that took place the target verified the
// state hash the source sent and that state is the straight run's at the
// same instruction. Over NATS the same hops and checks run on real
// sockets, each hop's bytes and downtime measured there. It exits
// non-zero on any mismatch, and, with the default workload, if no hop
// took place: the check is of a migration. A
// hop whose request reached the node late is explained by how late. A
// hop's handoff may fail safely (under loss its OFFER or answers can be
// lost until the offer timeout; the source then resumes the isolate): the
// hop is asked for again as soon as that is seen, with the hops after it,
// up to --hop-attempts attempts (default 5). The report shows each hop's
// attempts and why each failed one failed, and checks the state the
// successful attempt sent against the straight run's at the instruction
// where it halted; a hop whose every attempt fails is a failure.
//
// Every run of the program, the straight ones included, stops at
// --max-steps instructions (default 1e9, about 2 s), and the whole command
// at --timeout (default 60 s): a program that never ends is reported as
// such, with a non-zero exit. A --timeout that runs out names the phase it
// interrupted (the straight runs, starting the cluster, spawning, running).
//
// --cluster-sim --load runs --isolates isolates of mixed workloads
// (--program: of one file) spawned on node 0 (or over --spawn-nodes
// nodes), with cross-node stealing (unless --no-steal) and forced
// migrations at --migrate-rate per second, until all finish or --duration
// passes, over either transport. It prints a table of throughput,
// migrations, steals, percentiles (each beside its sample count), bytes
// moved, messages sent (over NATS: the transport's counts), makespan
// against ideal, correctness of every result and the machine; --json
// prints JSON (with snake_case keys; every duration in ns, its key ending
// in _ns) instead, and --out DIR also writes DIR/cluster-load.txt (Go
// benchmark format, for benchstat; a run over NATS has /transport=nats in
// its name), DIR/cluster-load.json and DIR/downtime-us.txt (one migration
// downtime per line, for `knoten-bench plot --latencies`). It exits
// non-zero if any isolate was lost, duplicated, ended with a wrong result,
// or did not complete before --duration or --timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/engine"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		// One line per error: a flag check reports all of its errors.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(os.Stderr, "knoten-init:", line)
		}
		os.Exit(1)
	}
}

// Defaults of the limits on a program's run. 1e9 instructions take about
// 2 s at the 0.45 instructions/ns of the 2-core development machine.
const (
	defaultMaxSteps = 1_000_000_000
	defaultTimeout  = 60 * time.Second
	// A hop's handoff may fail safely under loss (the source resumes the
	// isolate): --cluster-sim asks for it again, up to this many attempts.
	defaultHopAttempts = 5
	// The bounds of a non-zero --migrate-rate: the load's ticker needs an
	// interval of at least 1 ns that fits a time.Duration.
	minMigrateRate = 1e-6
	maxMigrateRate = 1e9
)

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
	maxSteps                        uint64
	timeout                         time.Duration
	hopAttempts                     int
	transport, natsURL              string // --transport sim|nats; --nats: an external server's URL
	auth, tls                       bool
	procs, chaos                    bool // --procs: each node a child process; --chaos: kill and pause them
	precopy                         bool // --precopy: downtime against heap size, stop-and-copy and pre-copy
	precopyHeaps                    string
	precopyMigrations               int

	progress io.Writer // where the progress bar goes; nil for none
}

// limits are the engine limits of every isolate the run starts.
func (o *options) limits() engine.Limits { return engine.Limits{MaxSteps: o.maxSteps} }

const usageHead = `usage:
  knoten-init --cluster-sim [flags]          verify one isolate's migration lifecycle
  knoten-init --cluster-sim --load [flags]   stress a cluster and report
  knoten-init --cluster-sim --load --precopy [flags]
                                             downtime against heap size, stop-and-copy and pre-copy
  knoten-init --cluster-sim --transport nats --procs [--load [--chaos]] [flags]
                                             the same, each node a process

flags:
`

// loadOnly are the flags that mean something only with --load.
var loadOnly = []string{"isolates", "spawn-nodes", "duration", "migrate-rate", "size", "out", "no-steal", "precopy"}

func parseFlags(args []string, stdout io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("knoten-init", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports a bad flag once, as its error
	fs.Usage = func() {}
	fs.BoolVar(&o.clusterSim, "cluster-sim", false, "run the simulated cluster")
	fs.BoolVar(&o.load, "load", false, "with --cluster-sim: stress run over many isolates")
	fs.BoolVar(&o.precopy, "precopy", false, "with --load: instead of many isolates, migrate one that writes about 1% of its pages each millisecond back and forth, by stop-and-copy and by pre-copy, for each of --precopy-heaps, and report downtime against heap size")
	fs.StringVar(&o.precopyHeaps, "precopy-heaps", "64KiB,1MiB,16MiB,64MiB", "with --precopy: the heap sizes, from 64KiB, 1MiB, 16MiB, 64MiB and 256MiB")
	fs.IntVar(&o.precopyMigrations, "precopy-migrations", 10, "with --precopy: migrations per heap size and mode")
	fs.IntVar(&o.nodes, "nodes", 0, "number of nodes (default 3, at least 3; with --load default 4, at least 1)")
	fs.IntVar(&o.workers, "workers", 1, "workers (cores) per node")
	fs.IntVar(&o.isolates, "isolates", 100, "with --load: number of isolates")
	fs.IntVar(&o.spawnNodes, "spawn-nodes", 1, "with --load: spread the isolates over this many nodes, at most --nodes (1: all on node 0)")
	fs.DurationVar(&o.duration, "duration", 0, "with --load: stop after this long (0: when all isolates are done); unfinished isolates make the run fail")
	fs.Float64Var(&o.migrateRate, "migrate-rate", 50, "with --load: forced migrations per second")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for the network's faults, the job mix and forced migrations")
	fs.DurationVar(&o.latency, "latency", 0, "one-way link latency")
	fs.DurationVar(&o.jitter, "jitter", 0, "extra random link delay, up to this")
	bw := fs.String("bandwidth", "0", "link bandwidth in bytes/s, with optional k, M or G suffix (0: unlimited)")
	fs.Float64Var(&o.loss, "loss", 0, "probability that a message is lost")
	fs.StringVar(&o.program, "program", "", "run this .kn file instead of the built-in workloads")
	fs.StringVar(&o.out, "out", "", "with --load: a directory (created if missing) to write cluster-load.txt (benchmark format), cluster-load.json and downtime-us.txt in (with --precopy: precopy.txt, in BenchmarkMigrationDowntime format for knoten-bench plot, and precopy.json)")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.BoolVar(&o.noSteal, "no-steal", false, "with --load: switch cross-node stealing off")
	fs.StringVar(&o.size, "size", "medium", "with --load: workload size: small (one quantum each), medium (some 500k instructions), large (some 5M) or full (the benchmarks'); with --chaos the default is large, so that nodes die with isolates in flight")
	fs.Int64Var(&o.quantum, "quantum", 0, "instructions per quantum (0: chosen from the cache geometry)")
	fs.Uint64Var(&o.maxSteps, "max-steps", defaultMaxSteps, "instruction quota of every run of the program, the straight runs included (0: none); 1e9 takes about 2 s at 0.45 instructions/ns, so a program that never ends is reported within seconds; checked at safepoints (calls and backward branches), so a tail without them may run past it by its length")
	fs.IntVar(&o.hopAttempts, "hop-attempts", defaultHopAttempts, "without --load: handoff attempts per planned hop; a hop whose handoff fails safely (the source resumes the isolate) is asked for again, up to this many times")
	fs.StringVar(&o.transport, "transport", transportSim, "what carries the nodes' messages: sim (the simulated network, in this process) or nats (an embedded NATS server with JetStream on a loopback port, each node on its own connection)")
	fs.StringVar(&o.natsURL, "nats", "", "use the NATS server at this URL instead of an embedded one (implies --transport nats)")
	fs.BoolVar(&o.auth, "auth", false, "with --transport nats: generate an NKey per node; the embedded server admits only them, each with its member permissions")
	fs.BoolVar(&o.tls, "tls", false, "with --transport nats: the embedded server requires TLS with a self-signed certificate generated into its temporary directory, which the nodes trust")
	fs.BoolVar(&o.procs, "procs", false, "with --transport nats: run each node as a child process of this binary, on the embedded server, each with an NKey of its own")
	fs.BoolVar(&o.chaos, "chaos", false, "with --procs --load: at random intervals (seeded by --seed) SIGKILL a node process, replaced by one with a new node id, or SIGSTOP one and SIGCONT it after the failure detector's timeout; the ledger accounts for every isolate")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "wall-clock limit of the whole command (0: none); a run it stops fails, and says so")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageHead)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, fmt.Errorf("%w (knoten-init --help lists the flags)", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if fs.NArg() > 0 {
		bad("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	switch {
	case !o.clusterSim && o.load:
		bad("--load needs --cluster-sim")
	case !o.clusterSim:
		bad("nothing to do: give --cluster-sim (knoten-init --help lists the flags)")
	}
	var err error
	if o.bandwidth, err = parseBandwidth(*bw); err != nil {
		errs = append(errs, err)
	}
	checkTransport(o, set, bad)
	checkProcs(o, set, bad)
	if o.chaos && !set["size"] {
		o.size = "large"
	}
	minNodes := 3
	if o.load {
		minNodes = 1
	}
	switch {
	case !set["nodes"] && o.load:
		o.nodes = 4
	case !set["nodes"]:
		o.nodes = 3
	case o.nodes < minNodes && o.load:
		bad("--nodes %d: want at least %d", o.nodes, minNodes)
	case o.nodes < minChaosNodes && o.chaos:
		bad("--nodes %d: --chaos needs at least %d nodes (it keeps %d running)", o.nodes, minChaosNodes, minChaosNodes-1)
	case o.nodes < minNodes:
		bad("--nodes %d: --cluster-sim needs at least %d nodes (it moves the isolate over 3)", o.nodes, minNodes)
	}
	if o.workers < 1 {
		bad("--workers %d: want at least 1", o.workers)
	}
	if o.isolates < 1 {
		bad("--isolates %d: want at least 1", o.isolates)
	}
	switch {
	case o.spawnNodes < 1:
		bad("--spawn-nodes %d: want at least 1", o.spawnNodes)
	case o.spawnNodes > o.nodes && o.nodes >= 1:
		bad("--spawn-nodes %d: more than the %d nodes", o.spawnNodes, o.nodes)
	}
	// A NaN passes every comparison below, so finiteness comes first.
	if math.IsNaN(o.loss) || o.loss < 0 || o.loss >= 1 {
		bad("--loss %v: want a probability in [0, 1)", o.loss)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"latency", o.latency}, {"jitter", o.jitter}, {"duration", o.duration}, {"timeout", o.timeout}} {
		if d.v < 0 {
			bad("--%s %v: must not be negative", d.name, d.v)
		}
	}
	switch {
	case o.hopAttempts < 1:
		bad("--hop-attempts %d: want at least 1", o.hopAttempts)
	case o.load && set["hop-attempts"]:
		bad("--hop-attempts: only without --load (the load does not retry its forced migrations)")
	}
	if o.quantum < 0 {
		bad("--quantum %d: must not be negative (0: chosen from the cache geometry)", o.quantum)
	}
	if r := o.migrateRate; r != 0 && !(r >= minMigrateRate && r <= maxMigrateRate) { // NaN fails both
		bad("--migrate-rate %v: want 0 or a rate from %g to %g per second", r, float64(minMigrateRate), float64(maxMigrateRate))
	}
	if o.timeout > 0 && o.duration >= o.timeout {
		bad("--duration %v: not shorter than --timeout %v", o.duration, o.timeout)
	}
	switch o.size {
	case "small", "medium", "large", "full":
	default:
		bad("--size %q: want small, medium, large or full", o.size)
	}
	if set["size"] && o.program != "" {
		bad("--size: has no effect with --program")
	}
	if o.precopy {
		for _, name := range []string{"isolates", "spawn-nodes", "duration", "migrate-rate", "size", "no-steal", "program", "nodes", "workers", "quantum",
			"latency", "jitter", "bandwidth", "loss", "transport", "nats", "auth", "tls", "procs", "chaos"} {
			if set[name] {
				bad("--%s: not with --precopy (it migrates one mutator between two nodes on a zero-latency link)", name)
			}
		}
		if o.precopyMigrations < 1 {
			bad("--precopy-migrations %d: want at least 1", o.precopyMigrations)
		}
		if _, err := precopyHeaps(o.precopyHeaps); err != nil {
			errs = append(errs, err)
		}
	} else {
		for _, name := range []string{"precopy-heaps", "precopy-migrations"} {
			if set[name] {
				bad("--%s: only with --precopy", name)
			}
		}
	}
	if !o.load {
		for _, name := range loadOnly {
			if set[name] {
				bad("--%s: only with --load", name)
			}
		}
	}
	if o.program != "" {
		if fi, err := os.Stat(o.program); err != nil {
			bad("--program: %v", err)
		} else if fi.IsDir() {
			bad("--program %s: is a directory", o.program)
		}
	}
	if o.out != "" {
		if fi, err := os.Stat(o.out); err == nil && !fi.IsDir() {
			bad("--out %s: not a directory", o.out)
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			bad("--out: %v", err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return o, nil
}

// checkTransport checks --transport and the flags that go with it: --nats
// implies nats; the simulated network's flags mean nothing over NATS, and
// neither does --seed without --load (it seeds only the network's faults
// then); --auth and --tls configure the embedded server, so they need
// nats and no --nats URL.
func checkTransport(o *options, set map[string]bool, bad func(string, ...any)) {
	switch {
	case o.transport != transportSim && o.transport != transportNATS:
		bad("--transport %q: want sim or nats", o.transport)
		return
	case set["nats"] && o.natsURL == "":
		bad("--nats: empty URL (leave --nats out for an embedded server)")
	case set["nats"] && set["transport"] && o.transport != transportNATS:
		bad("--nats: not with --transport %s (--nats implies --transport nats)", o.transport)
		return
	}
	if set["nats"] {
		o.transport = transportNATS
	}
	if o.transport != transportNATS {
		for _, name := range []string{"auth", "tls"} {
			if set[name] {
				bad("--%s: only with --transport nats", name)
			}
		}
		return
	}
	for _, name := range simOnly {
		if set[name] {
			bad("--%s: only with --transport sim (it configures the simulated network; over NATS the sockets decide)", name)
		}
	}
	if set["seed"] && !o.load {
		bad("--seed: only with --transport sim or --load (without --load it seeds only the simulated network's faults)")
	}
	if o.natsURL != "" {
		if o.auth {
			bad("--auth: not with --nats (knoten-init cannot give an external server its nodes' keys)")
		}
		if o.tls {
			bad("--tls: not with --nats (knoten-init cannot give an external server a certificate)")
		}
	}
}

// procsRefused are the flags --procs does not take, and why.
var procsRefused = []struct{ name, why string }{
	{"no-steal", "member nodes always steal"},
	{"spawn-nodes", "the isolates are submitted round robin over the running nodes"},
	{"duration", "it waits for every isolate to be accounted for, or --timeout"},
	{"out", "the benchmark files are the in-process load's"},
	{"hop-attempts", "a hop has one attempt: the member client cannot plan a route again"},
}

// checkProcs checks --procs and --chaos: the node processes meet on an
// embedded NATS server that the coordinator configures with their keys,
// and the chaos acts on a load.
func checkProcs(o *options, set map[string]bool, bad func(string, ...any)) {
	if o.chaos && (!o.procs || !o.load) {
		bad("--chaos: only with --procs --load")
	}
	if !o.procs {
		return
	}
	switch {
	case !procsSupported:
		bad("--procs: not on this system (it pauses nodes with SIGSTOP)")
	case o.transport != transportNATS:
		bad("--procs: only with --transport nats (the node processes meet on an embedded NATS server)")
	case o.natsURL != "":
		bad("--procs: not with --nats (the coordinator gives its embedded server the node processes' keys)")
	}
	for _, f := range procsRefused {
		if set[f.name] {
			bad("--%s: not with --procs (%s)", f.name, f.why)
		}
	}
	o.hopAttempts = 1
}

func parseBandwidth(in string) (float64, error) {
	s := strings.TrimSuffix(strings.TrimSpace(in), "/s")
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
	if err != nil || !(v >= 0) || math.IsInf(v*mult, 0) { // NaN fails v >= 0
		return 0, fmt.Errorf("bad --bandwidth %q: want a finite number of bytes/s, with optional k, M or G suffix", in)
	}
	return v * mult, nil
}

func (o *options) link() cluster.LinkConfig {
	return cluster.LinkConfig{Latency: o.latency, Jitter: o.jitter, Bandwidth: o.bandwidth, Loss: o.loss}
}

// outFiles are the files --load --out writes in its directory.
var outFiles = []string{"cluster-load.txt", "cluster-load.json", "downtime-us.txt"}

// checkOut makes the --out directory and checks, without changing any
// file, that every output can be written in it: none is a directory or
// unwritable, and a new file can be made there.
func checkOut(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	var errs []error
	for _, name := range outFiles {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			errs = append(errs, fmt.Errorf("--out: %w", err))
		case fi.IsDir():
			errs = append(errs, fmt.Errorf("--out: %s is a directory", path))
		default:
			f, err := os.OpenFile(path, os.O_WRONLY, 0) // no O_TRUNC: it stays as it is
			if err != nil {
				errs = append(errs, fmt.Errorf("--out: %w", err))
				continue
			}
			f.Close()
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	f, err := os.CreateTemp(dir, ".knoten-init-check-*")
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// run is the whole command: main only calls it.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == memberCommand {
		return runMember(args[1:], stdout)
	}
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil // the usage is on stdout
	}
	if err != nil {
		return err
	}
	if o.out != "" { // before any work: outputs that cannot be written fail now
		if err := checkOut(o.out); err != nil {
			return err
		}
	}
	if o.progress == nil && isTerminal(stderr) {
		o.progress = stderr
	}
	ctx := context.Background()
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	switch {
	case o.procs:
		return runProcs(ctx, o, stdout)
	case o.load && o.precopy:
		return runPreCopy(ctx, o, stdout)
	case o.load:
		return runLoad(ctx, o, stdout)
	}
	return runSim(ctx, o, stdout)
}
