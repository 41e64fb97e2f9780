// Command knoten runs and inspects one Knoten program on one machine, and
// runs and drives a cluster of member nodes over NATS.
//
//	knoten run [--halt-every N] [--max-steps N] [--stats] FILE.kn
//	knoten disasm FILE.kn
//	knoten nats [--listen HOST:PORT] [--store DIR] [--auth DIR --members N [--cluster C] [--tls]]
//	knoten node (--nats URL [--creds FILE] [--ca FILE] | --embedded [--listen HOST:PORT] [--store DIR])
//	            [--name NAME] [--workers N] [--max-steps N] [--cluster C]
//	knoten submit --nats URL [--creds FILE] [--ca FILE] [--detach] [--node NODE] [--timeout D] FILE.kn
//	knoten ps --nats URL [--creds FILE] [--ca FILE]
//	knoten migrate --nats URL [--creds FILE] [--ca FILE] ID NODE
//	knoten drain --nats URL [--creds FILE] [--ca FILE] NODE
//
// run prints what the program prints as it prints it, and then its result
// ("(none)" when main returns nothing). It runs the program in slices of
// about a million instructions and writes what each slice printed before
// it runs the next, so output streams; on a fault, the instruction quota
// or an interrupt (SIGINT, SIGTERM) it writes what was printed so far,
// says why it stopped and exits non-zero. --max-steps bounds the run, 1e10
// instructions by default (about 20 s at 0.45 instructions/ns); 0 means
// no bound. The bound is checked at safepoints (calls and backward
// branches): a tail without them may run past it by its length. With --halt-every N the isolate is halted at the first
// safepoint after every N instructions, its state is encoded, decoded,
// verified and resumed from the bytes alone, so the result shows that
// halting anywhere changes nothing. --stats adds the instruction count,
// the number of halts, the bytes snapshotted and the final state hash on
// stderr. Flags may come before or after the file.
//
// # A cluster
//
// nats runs an embedded NATS server with JetStream listening on --listen
// HOST:PORT (127.0.0.1:4222 by default; port 0 takes a free one, 0.0.0.0
// every interface), prints its client URL and runs until SIGINT or
// SIGTERM. Without --auth it admits anyone, to any cluster. With --auth
// DIR --members N it admits only nodes 0 to N-1 of cluster --cluster C
// (default "knoten") and one client, by the credentials files it keeps in
// DIR: n<id>.creds for each node, client.creds for the client commands
// (natsnet.Member.WriteCreds, readable by their owner only). It makes the
// files DIR lacks and reuses those it holds, so a server restarted on the
// same DIR admits the same nodes and clients. A node may do what a member
// of C does and nothing else, the client may ask the members and read the
// ledger (natsnet.FullMemberPermissions, ClientPermissions). --tls makes
// the server require TLS, with a self-signed certificate kept (and reused)
// in DIR, cert.pem and key.pem; it names loopback and the --listen host
// (listening on every interface: this machine's name and the addresses of
// its interfaces), which other machines dial (natsnet.GenerateTLS); a
// kept certificate that does not name them is refused.
// Nodes and clients trust it with --ca DIR/cert.pem. With --auth, nats
// also prints the command that starts each node and the flags the client
// commands need.
//
// node joins the cluster at --nats URL as a member (cluster/member), prints
// its node id and name, and runs until SIGINT or SIGTERM; the isolates it
// holds then are lost, so drain it first. With --creds FILE (a node's
// n<id>.creds) it is the node the file names; without, it takes the next
// free id, never reused on that server. A node refuses a client's
// credentials, and the client commands a node's. --max-steps N is each
// isolate's instruction quota, 1e10 by default as for run, 0 for none: an
// isolate past it faults, so a program that never ends does not run
// forever. node --embedded starts a server that admits anyone, without
// TLS, in the same process first (on --listen, as nats) and prints its
// URL, so the first node needs no separate knoten nats.
//
// submit compiles FILE.kn, hands it to a member (--node: that one, by id
// or name) and prints the isolate's id; unless --detach, it waits for the
// result and prints it with the status, the instruction count, the final
// state hash and the node it completed on, and exits non-zero if the
// program faulted. What the program prints stays on the node. ps lists
// each member and the isolates it holds. migrate moves an isolate to a
// node (by id or name) and waits until it arrived there; drain moves every
// isolate off a node and waits until it is empty; the node takes no new
// ones after. The client commands (submit, ps, migrate, drain) accept
// --creds FILE (client.creds), --ca FILE, --cluster C (default "knoten")
// and --timeout D (default 60 s).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "knoten:", err)
		}
		os.Exit(1)
	}
}

// errUsage is a usage error whose usage is already on stderr.
var errUsage = errors.New("usage")

const usage = `usage:
  knoten run [--halt-every N] [--max-steps N] [--stats] FILE.kn
  knoten disasm FILE.kn
  knoten nats [--listen HOST:PORT] [--store DIR] [--auth DIR --members N [--cluster C] [--tls]]
  knoten node (--nats URL [--creds FILE] [--ca FILE] | --embedded [--listen HOST:PORT])
              [--name NAME] [--workers N] [--max-steps N] [--cluster C]
  knoten submit --nats URL [--creds FILE] [--ca FILE] [--detach] [--node NODE] FILE.kn
  knoten ps --nats URL [--creds FILE] [--ca FILE]
  knoten migrate --nats URL [--creds FILE] [--ca FILE] ID NODE
  knoten drain --nats URL [--creds FILE] [--ca FILE] NODE
(knoten COMMAND --help shows a command's flags)
`

// defaultMaxSteps is run's instruction quota: about 20 s of a program that
// never ends, at 0.45 instructions/ns.
const defaultMaxSteps = 10_000_000_000

// sliceSteps is how many instructions run executes between two writes of
// the output: about 2 ms.
const sliceSteps = 1 << 20

// run is the whole command: main only calls it. An interrupt (SIGINT) or
// SIGTERM halts a running program, and stops a server or a node.
func run(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, stderr)
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "disasm":
		return disasmCmd(args[1:], stdout)
	case "nats":
		return natsCmd(ctx, args[1:], stdout, stderr)
	case "node":
		return nodeCmd(ctx, args[1:], stdout, stderr)
	case "submit":
		return submitCmd(ctx, args[1:], stdout)
	case "ps":
		return psCmd(ctx, args[1:], stdout)
	case "migrate":
		return migrateCmd(ctx, args[1:], stdout)
	case "drain":
		return drainCmd(ctx, args[1:], stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "knoten: unknown command %q\n%s", args[0], usage)
	return errUsage
}

// parse parses a command's flags, before or after its arguments (a "--"
// ends the flags), and returns the arguments. --help prints the command's
// usage on stdout and returns flag.ErrHelp.
func parse(fs *flag.FlagSet, synopsis string, args []string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard) // the error says it once
	fs.Usage = func() {}
	var files []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: %s\n", synopsis)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w (knoten %s --help shows the flags)", fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(files, rest...), nil
		}
		if len(rest) == 0 {
			return files, nil
		}
		files, args = append(files, rest[0]), rest[1:]
	}
}

// oneFile checks that a command got exactly one file.
func oneFile(cmd string, files []string) error {
	switch len(files) {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("%s: no FILE.kn given (knoten %s --help shows the usage)", cmd, cmd)
	}
	return fmt.Errorf("%s: want one FILE.kn, got %d: %s", cmd, len(files), strings.Join(files, " "))
}

func compileFile(path string) (*engine.Program, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return lang.Compile(path, src)
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	haltEvery := fs.Int64("halt-every", 0, "halt at the first safepoint after every `N` instructions, snapshot through the codec and resume")
	maxSteps := fs.Uint64("max-steps", defaultMaxSteps, "instruction quota, about 20 s by default (0: none; an interrupt still stops the run); checked at safepoints (calls and backward branches), so a tail without them may run past it by its length")
	stats := fs.Bool("stats", false, "print steps, halts, bytes and the final state hash on stderr")
	files, err := parse(fs, "knoten run [--halt-every N] [--max-steps N] [--stats] FILE.kn", args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := oneFile("run", files); err != nil {
		return err
	}
	if *haltEvery < 0 {
		return fmt.Errorf("run: --halt-every %d: must not be negative", *haltEvery)
	}
	prog, err := compileFile(files[0])
	if err != nil {
		return err
	}
	limits := engine.Limits{MaxSteps: *maxSteps}
	iso, err := engine.New(prog, limits)
	if err != nil {
		return err
	}
	// An interrupt halts the isolate running now at its next safepoint;
	// the loop also looks at ctx after every slice.
	var cur atomic.Pointer[engine.Isolate]
	cur.Store(iso)
	defer context.AfterFunc(ctx, func() { cur.Load().Halt() })()

	written := 0 // bytes of the output written so far
	flush := func() error {
		out := iso.Output()
		if len(out) <= written {
			return nil
		}
		_, err := stdout.Write(out[written:])
		written = len(out)
		return err
	}
	budget := int64(sliceSteps)
	if *haltEvery > 0 {
		budget = *haltEvery
	}
	halts, bytes := 0, 0
	var buf []byte
	for iso.Run(budget).Runnable() {
		if err := flush(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			break
		}
		if *haltEvery == 0 {
			continue
		}
		// Snapshot through the wire format and resume from the bytes alone.
		halts++
		buf = codec.AppendEncode(buf[:0], codec.Meta{Isolate: 1, Epoch: uint64(halts)}, iso.State())
		bytes += len(buf)
		msg := append([]byte(nil), buf...) // the decoder takes ownership
		_, st, err := codec.Decode(msg, func([32]byte) (*engine.Program, error) { return prog, nil })
		if err != nil {
			return fmt.Errorf("halt %d: %w", halts, err)
		}
		if iso, err = engine.Resume(prog, st, limits); err != nil {
			return fmt.Errorf("halt %d: %w", halts, err)
		}
		cur.Store(iso)
		if ctx.Err() != nil { // it may have halted the isolate just replaced
			break
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if *stats {
		h := iso.State().Hash()
		fmt.Fprintf(stderr, "steps %d  halts %d  snapshot bytes %d  state %x\n", iso.Steps(), halts, bytes, h[:])
	}
	if iso.Status().Runnable() {
		return fmt.Errorf("interrupted after %d instructions (pc %d); the output up to there is written", iso.Steps(), iso.State().PC)
	}
	if err := iso.Err(); errors.Is(err, engine.ErrInstructionQuota) {
		return fmt.Errorf("%w: not finished within --max-steps %d instructions (default %d, about 20 s; 0: no limit); it may loop forever", err, *maxSteps, uint64(defaultMaxSteps))
	} else if err != nil {
		return err
	}
	result := iso.Result()
	if prog.Result() == engine.KindVoid {
		result = "(none)"
	}
	_, err = fmt.Fprintf(stdout, "result: %s\n", result)
	return err
}

func disasmCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("disasm", flag.ContinueOnError)
	files, err := parse(fs, "knoten disasm FILE.kn", args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := oneFile("disasm", files); err != nil {
		return err
	}
	prog, err := compileFile(files[0])
	if err != nil {
		return err
	}
	return prog.Disassemble(stdout)
}
