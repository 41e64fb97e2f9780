package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/cluster/member"
	"github.com/knotencore/knoten/cluster/natsnet"
)

// A --procs run's coordinator (this process) starts the embedded server
// and one child process per node, the same binary run as
// `knoten-init member`; it talks to them as a member.Client does, and
// reads the ledger on a connection of its own.
const (
	// minChaosNodes: --chaos keeps at least minChaosNodes-1 nodes running,
	// so it needs one more to act on.
	minChaosNodes = 3
	// The children's failure detector: a heartbeat every period, a peer
	// silent for the timeout is down. Shorter than member's defaults, so
	// that a paused node is seen down, and back, within a second.
	procDetectPeriod  = 50 * time.Millisecond
	procDetectTimeout = 500 * time.Millisecond
	// procGrace is how long a child has to exit after SIGTERM before it is
	// killed.
	procGrace = 3 * time.Second
	// procStartTimeout bounds a node's start (member.Start) in the child.
	procStartTimeout = 30 * time.Second
	// procRequestTimeout bounds one request to a node (a submit), longer
	// than any pause, so that a paused node's answer still comes.
	procRequestTimeout = 10 * time.Second
)

// procMaxNodes is how many node ids a --procs run has keys for: the
// nodes, and room for the replacements of killed ones (ids are never
// reused).
func procMaxNodes(nodes int) int { return 4*nodes + 4 }

// procNet is a --procs run's world: the embedded server and its
// temporary directory (JetStream data, one credentials file per node id,
// the certificate with --tls), the child processes, and the coordinator's
// two connections: a member.Client's, and one for reading the ledger.
//
// Every node id has member credentials (natsnet.FullMemberPermissions);
// the coordinator is a client (natsnet.ClientPermissions): it sends
// requests on the control subjects, reads the completions, the events and
// the ledger (to account for lost isolates), and nothing else.
type procNet struct {
	o        *options
	exe      string
	dir      string
	srv      *server.Server
	url      string
	caFile   string
	maxNodes int
	quantum  int64
	keys     []natsnet.Member // by node id
	coord    natsnet.Member   // the coordinator's client identity

	client *member.Client
	lconn  *nats.Conn
	led    ledger.Ledger // the JetStream ledger, on lconn

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when a child's state changes
	children map[cluster.NodeID]*child
	next     cluster.NodeID // the next unused node id
	stopping bool           // close has begun: exits are expected
	problems []string       // unexpected exits, restarts that failed
}

// child is one node process.
type child struct {
	id      cluster.NodeID
	cmd     *exec.Cmd
	stdin   interface{ Close() error }
	ready   bool                    // member.Start returned in the child
	peers   map[cluster.NodeID]bool // the peers its detector reports up
	paused  bool                    // SIGSTOPped, not yet SIGCONTed
	resumed time.Time               // when it was last SIGCONTed
	killed  bool                    // SIGKILLed by the chaos
	exited  chan struct{}           // closed once it has exited and been reaped
	exitErr error
	stderr  *tailBuffer
}

// running reports whether c counts as running: started, not paused, not
// killed, not exited.
func (c *child) running() bool {
	select {
	case <-c.exited:
		return false
	default:
	}
	return c.ready && !c.paused && !c.killed
}

// startProcs starts the server and nodes children, and waits until every
// node answers ps and reports every other up. On error it takes down what
// it set up.
func startProcs(ctx context.Context, o *options, nodes int) (pn *procNet, err error) {
	pn = &procNet{o: o, maxNodes: procMaxNodes(nodes), changed: make(chan struct{}), children: map[cluster.NodeID]*child{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, pn.close())
			pn = nil
		}
	}()
	if pn.exe, err = procExecutable(); err != nil {
		return pn, fmt.Errorf("--procs: finding this program's executable: %w", err)
	}
	if pn.quantum = o.quantum; pn.quantum == 0 {
		pn.quantum = cluster.DefaultQuantum() // one quantum for all: each child would measure its own
	}
	if pn.dir, err = os.MkdirTemp("", "knoten-init-procs-*"); err != nil {
		return pn, fmt.Errorf("--procs: %w", err)
	}
	ids := make([]cluster.NodeID, pn.maxNodes)
	for i := range ids {
		ids[i] = cluster.NodeID(i)
	}
	if pn.keys, err = natsnet.NewMembers(ids...); err != nil {
		return pn, fmt.Errorf("--procs: %w", err)
	}
	if pn.coord, err = natsnet.NewClient(); err != nil {
		return pn, fmt.Errorf("--procs: %w", err)
	}
	for _, k := range pn.keys {
		if err := k.WriteCreds(pn.credsFile(k.Node)); err != nil {
			return pn, fmt.Errorf("--procs: writing a credentials file: %w", err)
		}
	}
	eo := natsnet.EmbeddedOptions{Cluster: natsClusterName, Members: pn.keys, Clients: []natsnet.Member{pn.coord},
		LedgerBucket: member.LedgerBucket(natsClusterName), JetStream: true, StoreDir: filepath.Join(pn.dir, "jetstream")}
	if o.tls {
		files, err := natsnet.GenerateTLS(pn.dir)
		if err != nil {
			return pn, fmt.Errorf("--tls: generating a certificate: %w", err)
		}
		eo.TLS, pn.caFile = &files, files.CertFile
	}
	if pn.srv, pn.url, err = natsnet.StartEmbedded(eo); err != nil {
		return pn, err
	}
	creds := natsnet.Credentials{Member: &pn.coord, CAFile: pn.caFile, Name: "knoten-init coordinator"}
	if pn.client, err = member.Dial(pn.url, natsClusterName, creds); err != nil {
		return pn, fmt.Errorf("--procs: connecting the coordinator: %w", err)
	}
	creds.Name = "knoten-init coordinator (ledger)"
	if pn.lconn, err = natsnet.Connect(pn.url, creds); err != nil {
		return pn, fmt.Errorf("--procs: connecting the coordinator: %w", err)
	}
	var start []cluster.NodeID
	for i := 0; i < nodes; i++ {
		c, err := pn.spawn()
		if err != nil {
			return pn, err
		}
		start = append(start, c.id)
	}
	if err := pn.waitReady(ctx, start); err != nil {
		return pn, err
	}
	// The nodes made the ledger's bucket; the coordinator only reads it.
	js, err := jetstream.New(pn.lconn)
	if err != nil {
		return pn, fmt.Errorf("--procs: opening the ledger: %w", err)
	}
	if pn.led, err = ledger.BindJetStream(ctx, js, member.LedgerBucket(natsClusterName)); err != nil {
		if ctx.Err() != nil {
			return pn, timedOut(o, "while opening the ledger", "")
		}
		return pn, fmt.Errorf("--procs: opening the ledger: %w", err)
	}
	return pn, nil
}

// procExecutable is the program the children run: this one. A test
// binary handles the member subcommand in its TestMain.
var procExecutable = os.Executable

func (pn *procNet) credsFile(id cluster.NodeID) string {
	return filepath.Join(pn.dir, fmt.Sprintf("n%d.creds", id))
}

// spawn starts a child with the next unused node id.
func (pn *procNet) spawn() (*child, error) {
	pn.mu.Lock()
	if int(pn.next) >= pn.maxNodes {
		pn.mu.Unlock()
		return nil, fmt.Errorf("--procs: all %d node ids are used", pn.maxNodes)
	}
	id := pn.next
	pn.next++
	pn.mu.Unlock()
	o := pn.o
	args := []string{memberCommand, "--nats", pn.url, "--creds", pn.credsFile(id),
		"--cluster", natsClusterName, "--workers", strconv.Itoa(o.workers), "--max-nodes", strconv.Itoa(pn.maxNodes),
		"--quantum", strconv.FormatInt(pn.quantum, 10), "--max-steps", strconv.FormatUint(o.maxSteps, 10),
		"--detect-period", procDetectPeriod.String(), "--detect-timeout", procDetectTimeout.String()}
	if pn.caFile != "" {
		args = append(args, "--ca", pn.caFile)
	}
	cmd := exec.Command(pn.exe, args...)
	cmd.SysProcAttr = childAttr()
	c := &child{id: id, cmd: cmd, exited: make(chan struct{}), stderr: &tailBuffer{max: 2048}}
	cmd.Stderr = c.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("--procs: starting %v: %w", id, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("--procs: starting %v: %w", id, err)
	}
	c.stdin = stdin
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("--procs: starting %v: %w", id, err)
	}
	pn.mu.Lock()
	pn.children[id] = c
	pn.mu.Unlock()
	go pn.follow(c, bufio.NewScanner(stdout))
	return c, nil
}

// follow reads what child c reports on its stdout (see runMember), and
// reaps it once it is done.
func (pn *procNet) follow(c *child, sc *bufio.Scanner) {
	for sc.Scan() {
		verb, rest, _ := strings.Cut(sc.Text(), " ")
		pn.mu.Lock()
		switch verb {
		case "ready":
			c.ready = true
		case "peers":
			c.peers = map[cluster.NodeID]bool{}
			for _, f := range strings.Split(rest, ",") {
				if n, err := strconv.Atoi(f); err == nil {
					c.peers[cluster.NodeID(n)] = true
				}
			}
		}
		pn.changedLocked()
		pn.mu.Unlock()
	}
	err := c.cmd.Wait()
	pn.mu.Lock()
	c.exitErr = err
	close(c.exited)
	if !pn.stopping && !c.killed {
		pn.problems = append(pn.problems, fmt.Sprintf("%v exited unexpectedly (%v)%s", c.id, err, c.stderr.lastLine()))
	}
	pn.changedLocked()
	pn.mu.Unlock()
}

func (pn *procNet) changedLocked() {
	close(pn.changed)
	pn.changed = make(chan struct{})
}

// waitReady waits until every node of ids has started, reports every
// other up, and answers ps.
func (pn *procNet) waitReady(ctx context.Context, ids []cluster.NodeID) error {
	for {
		pn.mu.Lock()
		ch, missing := pn.changed, ""
		for _, id := range ids {
			c := pn.children[id]
			select {
			case <-c.exited:
				pn.mu.Unlock()
				return fmt.Errorf("--procs: %v exited before it was ready (%v)%s", id, c.exitErr, c.stderr.lastLine())
			default:
			}
			for _, peer := range ids {
				if missing == "" && !c.ready {
					missing = fmt.Sprintf("%v to start", id)
				}
				if missing == "" && peer != id && !c.peers[peer] {
					missing = fmt.Sprintf("%v to see %v up", id, peer)
				}
			}
		}
		pn.mu.Unlock()
		if missing == "" {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return pn.interrupted(ctx, "while starting the node processes", " (waiting for "+missing+")")
		}
	}
	// Every node answers ps: its control subjects are subscribed.
	for {
		ms, err := pn.client.PS(ctx)
		if ctx.Err() != nil {
			return pn.interrupted(ctx, "while starting the node processes", " (waiting for every node to answer ps)")
		}
		if err != nil {
			return fmt.Errorf("--procs: ps: %w", err)
		}
		answered := map[cluster.NodeID]bool{}
		for _, m := range ms {
			answered[cluster.NodeID(m.Node)] = true
		}
		if !slices.ContainsFunc(ids, func(id cluster.NodeID) bool { return !answered[id] }) {
			return nil
		}
	}
}

// interrupted is the error of a phase that ctx ended: --timeout, or a
// signal.
func (pn *procNet) interrupted(ctx context.Context, phase, detail string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return timedOut(pn.o, phase, detail)
	}
	return fmt.Errorf("interrupted %s%s", phase, detail)
}

// running returns the nodes that run now (started, not paused, killed or
// exited), by id.
func (pn *procNet) running() []cluster.NodeID {
	pn.mu.Lock()
	defer pn.mu.Unlock()
	var out []cluster.NodeID
	for id, c := range pn.children {
		if c.running() {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// victims returns the running nodes the chaos may act on: those not
// continued within the failure detector's timeout, which are still
// catching up with what they missed.
func (pn *procNet) victims() []cluster.NodeID {
	pn.mu.Lock()
	defer pn.mu.Unlock()
	var out []cluster.NodeID
	for id, c := range pn.children {
		if c.running() && time.Since(c.resumed) >= procDetectTimeout {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// await waits until a child's state changes, or ctx ends.
func (pn *procNet) await(ctx context.Context) {
	pn.mu.Lock()
	ch := pn.changed
	pn.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// idsLeft reports whether a node id is left for a new node.
func (pn *procNet) idsLeft() bool {
	pn.mu.Lock()
	defer pn.mu.Unlock()
	return int(pn.next) < pn.maxNodes
}

// killedNode reports whether the chaos killed node id.
func (pn *procNet) killedNode(id cluster.NodeID) bool {
	pn.mu.Lock()
	defer pn.mu.Unlock()
	c := pn.children[id]
	return c != nil && c.killed
}

// kill SIGKILLs node id.
func (pn *procNet) kill(id cluster.NodeID) error {
	pn.mu.Lock()
	c := pn.children[id]
	c.killed = true
	pn.changedLocked()
	pn.mu.Unlock()
	return c.cmd.Process.Kill()
}

// pause SIGSTOPs node id; resume SIGCONTs it.
func (pn *procNet) pause(id cluster.NodeID) error {
	pn.mu.Lock()
	c := pn.children[id]
	c.paused = true
	pn.changedLocked()
	pn.mu.Unlock()
	return signalStop(c.cmd.Process)
}

func (pn *procNet) resume(id cluster.NodeID) error {
	pn.mu.Lock()
	c := pn.children[id]
	pn.mu.Unlock()
	err := signalCont(c.cmd.Process)
	pn.mu.Lock()
	c.paused, c.resumed = false, time.Now()
	pn.changedLocked()
	pn.mu.Unlock()
	return err
}

// problem records something that went wrong outside the protocol's
// account: a node that exited on its own, a restart that failed.
func (pn *procNet) problem(format string, args ...any) {
	pn.mu.Lock()
	pn.problems = append(pn.problems, fmt.Sprintf(format, args...))
	pn.mu.Unlock()
}

func (pn *procNet) problemList() []string {
	pn.mu.Lock()
	defer pn.mu.Unlock()
	return append([]string(nil), pn.problems...)
}

// stopChildren ends every child: SIGCONT for the paused, then stdin
// closed and SIGTERM, and SIGKILL for one still there after procGrace.
// It returns once all have been reaped.
func (pn *procNet) stopChildren() {
	pn.mu.Lock()
	pn.stopping = true
	var all []*child
	for _, c := range pn.children {
		all = append(all, c)
		if c.paused {
			signalCont(c.cmd.Process)
			c.paused = false
		}
	}
	pn.mu.Unlock()
	for _, c := range all {
		c.stdin.Close()
		c.cmd.Process.Signal(syscall.SIGTERM)
	}
	grace := time.NewTimer(procGrace)
	defer grace.Stop()
	for _, c := range all {
		select {
		case <-c.exited:
		case <-grace.C:
			for _, c := range all {
				c.cmd.Process.Kill()
			}
			<-c.exited
		}
	}
	for _, c := range all {
		<-c.exited
	}
}

// settleServer waits until the server has seen every child's connection
// close, so that whatever they published before is delivered: a flush of
// the coordinator's connection then has it all in hand.
func (pn *procNet) settleServer() error {
	deadline := time.Now().Add(5 * time.Second)
	for pn.srv.NumClients() > 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return pn.client.Conn().FlushTimeout(5 * time.Second)
}

// close takes everything down: the children, the coordinator's
// connections, the server and the temporary directory. It is safe on a
// procNet that startProcs left half set up.
func (pn *procNet) close() error {
	pn.stopChildren()
	if pn.client != nil {
		pn.client.Close()
	}
	if pn.lconn != nil {
		pn.lconn.Close()
	}
	if pn.srv != nil {
		pn.srv.Shutdown()
		pn.srv.WaitForShutdown()
	}
	if pn.dir != "" {
		if err := os.RemoveAll(pn.dir); err != nil {
			return fmt.Errorf("--procs: removing the temporary directory: %w", err)
		}
	}
	return nil
}

// describe names the transport for a report's header.
func (pn *procNet) describe() string {
	how := "embedded, JetStream ledger; each node a process with an NKey of its own"
	if pn.caFile != "" {
		how += "; TLS, self-signed"
	}
	return fmt.Sprintf("nats, server %s (%s)", pn.url, how)
}

// runProcs runs --procs: the 2-hop verification, or the load. SIGINT and
// SIGTERM end it as --timeout does, the children and the server taken down
// on the way out.
func runProcs(ctx context.Context, o *options, w io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }() // a second signal ends the process at once
	if o.load {
		return runProcsLoad(ctx, o, w)
	}
	return runProcsSim(ctx, o, w)
}

// tailBuffer keeps the last max bytes written to it: a child's stderr.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// lastLine is ": " and the last line written, or "" if none.
func (t *tailBuffer) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return ""
	}
	return ": " + s
}
