package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/knotencore/knoten/cluster/member"
	"github.com/knotencore/knoten/cluster/natsnet"
	"github.com/knotencore/knoten/engine"
)

// memberCommand is the hidden subcommand a --procs coordinator runs each
// node process with:
//
//	knoten-init member --nats URL --node N --creds FILE [--ca FILE] --cluster C
//	    --workers N --max-nodes K --quantum Q --max-steps S
//	    --detect-period D --detect-timeout D
//
// It starts the node (member.Start) with the NKey seed in FILE, which the
// server binds to node id N, and runs until SIGTERM or SIGINT, or until
// its stdin closes: the coordinator holds the other end of that pipe, so
// a coordinator that dies takes its nodes with it. On stdout it tells the
// coordinator "ready" once the node runs, then "peers 0,2,…" whenever the
// set of peers its failure detector reports up changes.
const memberCommand = "member"

// memberStdin is what runMember watches for the coordinator's end.
var memberStdin io.Reader = os.Stdin

func runMember(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("knoten-init member", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("nats", "", "the NATS server's URL")
	creds := fs.String("creds", "", "the node's credentials file (natsnet.ReadCreds): its id and NKey seed")
	ca := fs.String("ca", "", "a file holding the root certificate the server's must chain to (turns TLS on)")
	clusterName := fs.String("cluster", natsClusterName, "the cluster's name")
	workers := fs.Int("workers", 1, "workers")
	maxNodes := fs.Int("max-nodes", member.DefaultMaxNodes, "node ids are below this")
	quantum := fs.Int64("quantum", 0, "instructions per quantum (0: chosen from the cache geometry)")
	maxSteps := fs.Uint64("max-steps", defaultMaxSteps, "instruction quota of every isolate (0: none)")
	period := fs.Duration("detect-period", procDetectPeriod, "the failure detector's heartbeat period")
	timeout := fs.Duration("detect-timeout", procDetectTimeout, "the failure detector's timeout")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("member: %w", err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("member: "+format, args...)) }
	switch {
	case fs.NArg() > 0:
		bad("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	case *url == "":
		bad("--nats: want the server's URL")
	case *creds == "":
		bad("--creds: want the node's credentials file")
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	key, err := natsnet.ReadCreds(*creds)
	if err != nil {
		return fmt.Errorf("member: %w", err)
	}
	if key.Role != natsnet.RoleMember {
		return fmt.Errorf("member: %s holds a client's credentials, not a node's", *creds)
	}
	id := key.Node
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, gone := context.WithCancel(ctx)
	defer gone()
	go func() {
		io.Copy(io.Discard, memberStdin) // until the coordinator closes it, or dies
		gone()
	}()
	sctx, cancel := context.WithTimeout(ctx, procStartTimeout)
	defer cancel()
	nd, err := member.Start(sctx, member.Options{
		URL: *url, Cluster: *clusterName, Creds: natsnet.Credentials{Member: &key, CAFile: *ca, Name: "knoten-init " + id.String()},
		Workers: *workers, Quantum: *quantum, MaxNodes: *maxNodes, DetectPeriod: *period, DetectTimeout: *timeout,
		Limits: engine.Limits{MaxSteps: *maxSteps},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // told to stop while starting
		}
		return fmt.Errorf("member %v: %w", id, err)
	}
	defer nd.Close()
	if _, err := fmt.Fprintln(stdout, "ready"); err != nil {
		return nil // the coordinator is gone
	}
	tick := time.NewTicker(*period)
	defer tick.Stop()
	last := "-"
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var up []string
		for _, p := range nd.Peers() {
			if p.Up {
				up = append(up, strconv.Itoa(int(p.ID)))
			}
		}
		if s := strings.Join(up, ","); s != last {
			if _, err := fmt.Fprintln(stdout, "peers", s); err != nil {
				return nil
			}
			last = s
		}
	}
}
