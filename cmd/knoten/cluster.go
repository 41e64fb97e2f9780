package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/member"
	"github.com/knotencore/knoten/cluster/natsnet"
	"github.com/knotencore/knoten/engine"
)

// defaultTimeout bounds a client command (submit, ps, migrate, drain).
const defaultTimeout = 60 * time.Second

// startNATS starts an embedded NATS server with o and JetStream storing in
// store, or in a temporary directory if store is empty. stop shuts the
// server down and removes the temporary directory, if any, before it
// returns.
func startNATS(o natsnet.EmbeddedOptions, store string) (url string, stop func(), err error) {
	dir := store
	if dir == "" {
		if dir, err = os.MkdirTemp("", "knoten-nats-*"); err != nil {
			return "", nil, err
		}
	}
	o.JetStream, o.StoreDir = true, dir
	s, url, err := natsnet.StartEmbedded(o)
	if err != nil {
		if store == "" {
			os.RemoveAll(dir)
		}
		return "", nil, err
	}
	return url, func() { shutdown(s, store, dir) }, nil
}

func shutdown(s *server.Server, store, dir string) {
	s.Shutdown()
	s.WaitForShutdown()
	if store == "" {
		os.RemoveAll(dir)
	}
}

// listArgs shows the arguments a command got, for an error.
func listArgs(args []string) string {
	if len(args) == 0 {
		return "none"
	}
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

// noArgs checks that a command that takes no arguments got none.
func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s: unexpected argument %q (knoten %s --help shows the usage)", cmd, args[0], cmd)
	}
	return nil
}

const natsSynopsis = "knoten nats [--listen HOST:PORT] [--store DIR] [--auth DIR --members N [--cluster C] [--tls]]"

func natsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	listen := fs.String("listen", defaultListen, "listen for nodes and clients on `HOST:PORT`: 0.0.0.0 for every interface (then give --auth and --tls), port 0 for one the kernel picks")
	store := fs.String("store", "", "keep JetStream's data, the ownership ledger with it, in `DIR` (default: AUTHDIR/jetstream with --auth, so that a restarted server keeps the ledger; else a temporary directory, removed on exit)")
	auth := fs.String("auth", "", "admit only the nodes and the client whose credentials are in `DIR` (n<id>.creds, client.creds), made there if missing")
	members := fs.Int("members", 0, "with --auth: admit the nodes with ids 0 to `N`-1")
	clusterName := fs.String("cluster", "knoten", "with --auth: the name `C` of the cluster whose subjects the credentials allow")
	withTLS := fs.Bool("tls", false, "with --auth: require TLS, with a self-signed certificate kept in DIR (cert.pem: the nodes' and clients' --ca)")
	rest, err := parse(fs, natsSynopsis, args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := noArgs("nats", rest); err != nil {
		return err
	}
	if *auth == "" {
		for _, name := range []string{"members", "cluster", "tls"} {
			if isSet(fs, name) {
				return fmt.Errorf("nats: --%s is for --auth DIR; without it the server admits anyone, to any cluster", name)
			}
		}
	} else {
		switch {
		case *members < 1:
			return fmt.Errorf("nats: --auth needs --members N, at least 1: the server admits nodes 0 to N-1")
		case *members > maxMembers:
			return fmt.Errorf("nats: --members %d: at most %d (a node's ids are 0 to %d)", *members, maxMembers, maxMembers-1)
		}
		if err := member.CheckClusterName(*clusterName); err != nil {
			return fmt.Errorf("nats: --cluster: %w", err)
		}
	}
	addr, err := parseListen("nats", *listen)
	if err != nil {
		return err
	}
	o := natsnet.EmbeddedOptions{Host: addr.host, Port: addr.port}
	var dir *authDir
	if *auth != "" {
		if dir, err = openAuthDir(*auth, *members, *withTLS, certHosts(addr)); err != nil {
			return err
		}
		o.Cluster, o.Members, o.Clients = *clusterName, dir.members, []natsnet.Member{dir.client}
		o.LedgerBucket, o.TLS = member.LedgerBucket(*clusterName), dir.tls
	}
	if *store == "" && dir != nil {
		// The ledger must outlive the server process: a server restarted
		// on the same credentials without it would hand out ids again and
		// forget who owns what (nodes notice and stop: member.ErrLedgerLost).
		*store = filepath.Join(dir.dir, "jetstream")
	}
	url, stop, err := startNATS(o, *store)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer stop()
	url = localURL(url, addr)
	if _, err := fmt.Fprintln(stdout, url); err != nil {
		return err
	}
	if addr.everywhere() {
		scheme, hostPort, _ := strings.Cut(url, "://")
		_, port, _ := net.SplitHostPort(hostPort)
		fmt.Fprintf(stdout, "listening on every interface: other machines use %s://ADDRESS:%s, with this machine's address\n", scheme, port)
		if dir == nil {
			fmt.Fprintln(stderr, "knoten nats: warning: the server admits anyone who reaches it, unencrypted: use --auth DIR --tls")
		} else if dir.tls == nil {
			fmt.Fprintln(stderr, "knoten nats: warning: without --tls what the cluster sends, programs and states too, crosses the network unencrypted")
		} else {
			fmt.Fprintf(stdout, "the certificate names this machine as %s\n", strings.Join(certHosts(addr), ", "))
		}
	}
	if dir != nil {
		if err := printNext(stdout, dir, url, *clusterName); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// isSet reports whether the flag name was given.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// printNext says what knoten nats --auth admits and how to start the
// nodes and the clients.
func printNext(w io.Writer, d *authDir, url, clusterName string) error {
	nodes := "node 0"
	if n := len(d.members); n > 1 {
		nodes = fmt.Sprintf("nodes 0 to %d", n-1)
	}
	files := 1 + len(d.members)
	if d.tls != nil {
		files += 2
	}
	made := "made now"
	switch {
	case d.made == 0:
		made = "reused"
	case d.made < files:
		made = fmt.Sprintf("%d files made now, %d reused", d.made, files-d.made)
	}
	fmt.Fprintf(w, "admitting only %s of cluster %s and its client: credentials in %s (%s)\n", nodes, clusterName, d.dir, made)
	conn := " --nats " + url
	if clusterName != "knoten" {
		conn += " --cluster " + clusterName
	}
	tail := ""
	if d.tls != nil {
		fmt.Fprintf(w, "TLS certificate: %s (the nodes' and clients' --ca)\n", d.tls.CertFile)
		tail = " --ca " + d.tls.CertFile
	}
	fmt.Fprintln(w, "start each node:")
	for _, m := range d.members {
		fmt.Fprintf(w, "  knoten node%s --creds %s%s\n", conn, d.memberFile(m.Node), tail)
	}
	fmt.Fprintln(w, "then submit, ps, migrate and drain with:")
	_, err := fmt.Fprintf(w, " %s --creds %s%s\n", conn, d.clientFile(), tail)
	return err
}

const nodeSynopsis = "knoten node (--nats URL [--creds FILE] [--ca FILE] | --embedded [--listen HOST:PORT] [--store DIR]) [--name NAME] [--workers N] [--max-steps N] [--cluster C]"

func nodeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	natsURL := fs.String("nats", "", "the NATS server's `URL` (knoten nats prints it)")
	embedded := fs.Bool("embedded", false, "start an embedded NATS server with JetStream in this process first, print its URL and join it")
	listen := fs.String("listen", defaultListen, "with --embedded: the server listens on `HOST:PORT`, port 0 for one the kernel picks")
	store := fs.String("store", "", "with --embedded: keep JetStream's data in `DIR` (default: a temporary directory, removed on exit)")
	name := fs.String("name", "", "the node's `NAME` in knoten ps (default n<id>)")
	workers := fs.Int("workers", 1, "how many isolates (`N`) the node runs at once")
	maxSteps := fs.Uint64("max-steps", defaultMaxSteps, "each isolate's instruction quota `N`, as knoten run's: about 20 s by default (0: none)")
	cf := connFlags{cmd: "node"}
	fs.StringVar(&cf.creds, "creds", "", "join as the node in credentials `FILE` (n<id>.creds from knoten nats --auth); without, take the next free id")
	fs.StringVar(&cf.ca, "ca", "", "trust the server's TLS certificate in `FILE` (cert.pem from knoten nats --tls)")
	clusterName := fs.String("cluster", "knoten", "the cluster's name `C`: its subjects and buckets")
	rest, err := parse(fs, nodeSynopsis, args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := noArgs("node", rest); err != nil {
		return err
	}
	switch {
	case *embedded && *natsURL != "":
		return errors.New("node: --embedded starts its own server: give it or --nats URL, not both")
	case !*embedded && *natsURL == "":
		return errors.New("node: no --nats URL given (knoten nats prints one; --embedded starts a server here)")
	case !*embedded && isSet(fs, "listen"):
		return errors.New("node: --listen is for --embedded's server")
	case *store != "" && !*embedded:
		return errors.New("node: --store is for --embedded's server")
	case *embedded && (cf.creds != "" || cf.ca != ""):
		return errors.New("node: --embedded's server admits anyone, without TLS: --creds and --ca are for a server of knoten nats --auth")
	case *workers < 1:
		return fmt.Errorf("node: --workers %d: want at least 1", *workers)
	}
	c, err := cf.credentials(natsnet.RoleMember)
	if err != nil {
		return err
	}
	if *embedded {
		addr, err := parseListen("node", *listen)
		if err != nil {
			return err
		}
		url, stop, err := startNATS(natsnet.EmbeddedOptions{Host: addr.host, Port: addr.port}, *store)
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
		defer stop()
		*natsURL = localURL(url, addr)
		if _, err := fmt.Fprintln(stdout, *natsURL); err != nil {
			return err
		}
		if addr.everywhere() {
			fmt.Fprintln(stderr, "knoten node: warning: the server admits anyone who reaches it, unencrypted: knoten nats --auth DIR --tls serves one that does not")
		}
	}
	fatal := make(chan error, 1)
	n, err := member.Start(ctx, member.Options{
		URL: *natsURL, Cluster: *clusterName, Name: *name, Creds: c, Workers: *workers,
		Limits:  engine.Limits{MaxSteps: *maxSteps},
		OnFatal: func(err error) { fatal <- err },
	})
	if err != nil {
		return cf.connErr(*natsURL, err)
	}
	defer n.Close()
	if _, err := fmt.Fprintf(stdout, "node %d (%s) in cluster %s at %s\n", n.ID, n.Name, *clusterName, *natsURL); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-fatal: // the node has stopped itself
		return fmt.Errorf("node %d stopped: %w", n.ID, err)
	}
	if l, err := n.Cluster().Isolates(n.ID); err == nil && len(l) > 0 {
		what := fmt.Sprintf("%d isolates, which are", len(l))
		if len(l) == 1 {
			what = "1 isolate, which is"
		}
		fmt.Fprintf(stderr, "node %d: stopping with %s lost (knoten drain first moves them)\n", n.ID, what)
	}
	return nil
}

// clientFlags are the flags of every command that talks to the cluster as
// a client.
type clientFlags struct {
	connFlags
	nats    string
	cluster string
	timeout time.Duration
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	f := &clientFlags{connFlags: connFlags{cmd: fs.Name()}}
	fs.StringVar(&f.nats, "nats", "", "the NATS server's `URL` (knoten nats prints it)")
	fs.StringVar(&f.creds, "creds", "", "authenticate with the client credentials in `FILE` (client.creds from knoten nats --auth)")
	fs.StringVar(&f.ca, "ca", "", "trust the server's TLS certificate in `FILE` (cert.pem from knoten nats --tls)")
	fs.StringVar(&f.cluster, "cluster", "knoten", "the cluster's name `C`: its subjects and buckets")
	fs.DurationVar(&f.timeout, "timeout", defaultTimeout, "give up after `D`")
	return f
}

// dial checks the flags and connects; ctx ends at --timeout.
func (f *clientFlags) dial(ctx context.Context) (context.Context, *member.Client, func(), error) {
	if f.nats == "" {
		return nil, nil, nil, fmt.Errorf("%s: no --nats URL given (knoten nats or knoten node --embedded prints one)", f.cmd)
	}
	if f.timeout <= 0 {
		return nil, nil, nil, fmt.Errorf("%s: --timeout %v: want a positive duration", f.cmd, f.timeout)
	}
	creds, err := f.credentials(natsnet.RoleClient)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := member.Dial(f.nats, f.cluster, creds)
	if err != nil {
		return nil, nil, nil, f.connErr(f.nats, err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	return ctx, c, func() { cancel(); c.Close() }, nil
}

// waitErr explains why waiting for what ended early.
func (f *clientFlags) waitErr(ctx context.Context, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: %s: not within --timeout %v", f.cmd, what, f.timeout)
	}
	return fmt.Errorf("%s: %s: interrupted", f.cmd, what)
}

const submitSynopsis = "knoten submit --nats URL [--detach] [--node NODE] [--timeout D] [--creds FILE] [--ca FILE] [--cluster C] FILE.kn"

func submitCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	cf := addClientFlags(fs)
	detach := fs.Bool("detach", false, "print the isolate's id and return, without waiting for its result")
	node := fs.String("node", "", "spawn it on `NODE`, by id or name (default: whichever member answers first)")
	files, err := parse(fs, submitSynopsis, args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := oneFile("submit", files); err != nil {
		return err
	}
	prog, err := compileFile(files[0])
	if err != nil {
		return err
	}
	ctx, c, done, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer done()
	var results <-chan member.Result
	if !*detach { // listen before submitting, so the result cannot come first
		var stop func()
		if results, stop, err = c.Results(); err != nil {
			return fmt.Errorf("submit: %w", err)
		}
		defer stop()
	}
	to := member.AnyNode
	if *node != "" {
		id, err := c.Resolve(ctx, *node)
		if err != nil {
			return fmt.Errorf("submit: --node: %w", err)
		}
		to = int(id)
	}
	id, err := c.Submit(ctx, prog, to)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "id: %s\n", id); err != nil || *detach {
		return err
	}
	r, err := member.Wait(ctx, results, id)
	if err != nil {
		if ctx.Err() != nil {
			return cf.waitErr(ctx, "waiting for the result of "+id+" (it runs on; knoten ps shows it)")
		}
		return fmt.Errorf("submit: %w", err)
	}
	result := r.Result
	if prog.Result() == engine.KindVoid {
		result = "(none)"
	}
	if r.Status != engine.Finished.String() {
		result = "-"
	}
	if err := c.Verify(ctx, r); err != nil {
		return fmt.Errorf("submit: a completion of %s that the ledger does not back: %w", id, err)
	}
	if _, err := fmt.Fprintf(stdout, "result: %s\nstatus: %s\nsteps: %d\nstate: %s\nnode: %d (the ledger has it finished there at epoch %d)\n", result, r.Status, r.Steps, r.Hash, r.Node, r.Epoch); err != nil {
		return err
	}
	if r.Status != engine.Finished.String() {
		if strings.Contains(r.Err, engine.ErrInstructionQuota.Error()) {
			return fmt.Errorf("isolate %s %s on node %d: %s: not finished within the node's --max-steps; it may loop forever", id, r.Status, r.Node, r.Err)
		}
		return fmt.Errorf("isolate %s %s on node %d: %s", id, r.Status, r.Node, r.Err)
	}
	return nil
}

func psCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	cf := addClientFlags(fs)
	rest, err := parse(fs, "knoten ps --nats URL [--timeout D] [--creds FILE] [--ca FILE] [--cluster C]", args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := noArgs("ps", rest); err != nil {
		return err
	}
	ctx, c, done, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer done()
	members, err := c.PS(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return cf.waitErr(ctx, "asking the members")
		}
		return fmt.Errorf("ps: %w", err)
	}
	if len(members) == 0 {
		return fmt.Errorf("ps: no member of cluster %s answers at %s", cf.cluster, cf.nats)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tNAME\tISOLATE\tEPOCH\tSTEPS\tSTATE")
	for _, m := range members {
		name := m.Name
		if m.Draining {
			name += " (draining)"
		}
		if len(m.Isolates) == 0 {
			fmt.Fprintf(tw, "%d\t%s\t-\t-\t-\t-\n", m.Node, name)
		}
		for _, x := range m.Isolates {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\n", m.Node, name, x.ID, x.Epoch, x.Steps, x.State)
		}
	}
	return tw.Flush()
}

func migrateCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	cf := addClientFlags(fs)
	rest, err := parse(fs, "knoten migrate --nats URL [--timeout D] [--creds FILE] [--ca FILE] [--cluster C] ID NODE", args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return fmt.Errorf("migrate: want an isolate ID and a NODE (id or name), got %s (knoten migrate --help shows the usage)", listArgs(rest))
	}
	iso, err := member.ParseID(rest[0])
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	id := member.FormatID(iso)
	ctx, c, done, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer done()
	// One ps finds both the target and the holder: a member answers a
	// migrate request only if it holds the isolate, so without one the
	// request would wait for the whole --timeout.
	members, err := c.PS(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return cf.waitErr(ctx, "asking the members")
		}
		return fmt.Errorf("migrate: %w", err)
	}
	to, ok := findNode(members, rest[1])
	if !ok {
		return fmt.Errorf("migrate: no member named %q answers (%d members do)", rest[1], len(members))
	}
	from, ok := holder(members, id)
	switch {
	case !ok:
		return fmt.Errorf("migrate: no member holds %s (it finished, or never existed; knoten ps lists the isolates)", id)
	case from == to:
		_, err := fmt.Fprintf(stdout, "%s is on node %d already\n", id, to)
		return err
	}
	// Listen first: the arrival may come before Migrate's answer.
	events, stopE, err := c.Events()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer stopE()
	results, stopR, err := c.Results()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer stopR()
	// The holder answers at once; none answers if the isolate finished
	// since ps.
	mctx, cancel := context.WithTimeout(ctx, migrateAnswer)
	err = c.Migrate(mctx, id, to)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return cf.waitErr(ctx, "asking node "+strconv.Itoa(int(from))+" to move "+id)
		}
		return err
	}
	for {
		select {
		case e := <-events:
			if e.ID != id {
				continue
			}
			switch {
			case e.Kind == "arrived" && e.Node == uint32(to):
				// The downtime spans two processes' wall clocks: exact on
				// one machine, good to their sync across machines.
				_, err := fmt.Fprintf(stdout, "%s moved from node %d to node %d at instruction %d (%d bytes, %v down)\n",
					id, e.Peer, e.Node, e.Steps, e.Bytes, time.Duration(e.DowntimeNS).Round(time.Microsecond))
				return err
			case e.Kind == "resumed":
				return fmt.Errorf("migrate %s: the handoff to node %d failed; node %d runs it on", id, e.Peer, e.Node)
			case e.Kind == "fenced":
				return fmt.Errorf("migrate %s: the ledger refused it to node %d at epoch %d", id, e.Node, e.Epoch)
			}
		case r := <-results:
			if r.ID == id {
				return fmt.Errorf("migrate %s: it %s on node %d before it moved", id, r.Status, r.Node)
			}
		case <-ctx.Done():
			return cf.waitErr(ctx, "waiting for "+id+" to arrive on node "+strconv.Itoa(int(to)))
		}
	}
}

// migrateAnswer bounds the wait for the holder's answer to a migrate
// request.
const migrateAnswer = 5 * time.Second

// findNode finds node, by name or id, among the members, as
// member.Client.Resolve does.
func findNode(members []member.PSReply, node string) (cluster.NodeID, bool) {
	for _, m := range members {
		if m.Name == node || strconv.Itoa(int(m.Node)) == node {
			return cluster.NodeID(m.Node), true
		}
	}
	return 0, false
}

// holder finds the member that holds isolate id.
func holder(members []member.PSReply, id string) (cluster.NodeID, bool) {
	for _, m := range members {
		for _, x := range m.Isolates {
			if x.ID == id {
				return cluster.NodeID(m.Node), true
			}
		}
	}
	return 0, false
}

func drainCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("drain", flag.ContinueOnError)
	cf := addClientFlags(fs)
	rest, err := parse(fs, "knoten drain --nats URL [--timeout D] [--creds FILE] [--ca FILE] [--cluster C] NODE", args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("drain: want one NODE (id or name), got %s (knoten drain --help shows the usage)", listArgs(rest))
	}
	ctx, c, done, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer done()
	node, err := c.Resolve(ctx, rest[0])
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	if err := c.Drain(ctx, node); err != nil {
		if ctx.Err() != nil {
			return cf.waitErr(ctx, "waiting for node "+strconv.Itoa(int(node))+" to empty (it goes on draining)")
		}
		return err
	}
	_, err = fmt.Fprintf(stdout, "node %d drained: it holds no isolates and takes no new ones\n", node)
	return err
}
