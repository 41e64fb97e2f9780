package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/member"
	"github.com/knotencore/knoten/cluster/natsnet"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 60 * time.Second

// syncWriter collects what a command running in a goroutine writes, and
// lets the test wait for it.
type syncWriter struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{}
}

func newSyncWriter() *syncWriter { return &syncWriter{changed: make(chan struct{}, 1)} }

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.b.Write(p)
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// background is a command running in a goroutine until stop.
type background struct {
	args           []string
	stdout, stderr *syncWriter
	cancel         context.CancelFunc
	exited         chan struct{}
	err            error
}

// startBackground runs knoten args in a goroutine; the test's end stops it.
func startBackground(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{args: args, stdout: newSyncWriter(), stderr: newSyncWriter(), cancel: cancel, exited: make(chan struct{})}
	go func() {
		defer close(b.exited)
		b.err = runContext(ctx, args, b.stdout, b.stderr)
	}()
	t.Cleanup(func() { b.stop() })
	return b
}

// stop cancels the command, as SIGINT does, and returns its error.
func (b *background) stop() error {
	b.cancel()
	<-b.exited
	return b.err
}

// waitFor waits until the command's stdout matches re and returns the
// submatches; it fails the test if the command ends first.
func (b *background) waitFor(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	for {
		if m := rx.FindStringSubmatch(b.stdout.String()); m != nil {
			return m
		}
		select {
		case <-b.stdout.changed:
		case <-b.exited:
			if m := rx.FindStringSubmatch(b.stdout.String()); m != nil {
				return m
			}
			t.Fatalf("knoten %q ended (%v) before printing %s:\n%s%s", b.args, b.err, re, b.stdout, b.stderr)
		case <-timer.C:
			t.Fatalf("knoten %q printed no %s:\n%s%s", b.args, re, b.stdout, b.stderr)
		}
	}
}

// knoten runs one command to its end and returns its stdout and error.
func knoten(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := runContext(ctx, args, &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Logf("knoten %q stderr: %s", args, stderr.String())
	}
	return stdout.String(), err
}

// mustKnoten is knoten for a command that must succeed.
func mustKnoten(t *testing.T, args ...string) string {
	t.Helper()
	out, err := knoten(t, args...)
	if err != nil {
		t.Fatalf("knoten %q: %v\n%s", args, err, out)
	}
	return out
}

// match fails the test unless s matches re, and returns the submatches.
func match(t *testing.T, s, re string) []string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%q does not match %s", s, re)
	}
	return m
}

// startServer starts an embedded NATS server with JetStream for one test.
func startServer(t *testing.T, o natsnet.EmbeddedOptions) string {
	t.Helper()
	o.JetStream, o.StoreDir = true, t.TempDir()
	s, url, err := natsnet.StartEmbedded(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return url
}

// startMembers starts member nodes with these names and waits until each
// one's failure detector sees every other up, so that handoffs can flow.
func startMembers(t *testing.T, url string, names ...string) []*member.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var nodes []*member.Node
	for _, name := range names {
		n, err := member.Start(ctx, member.Options{URL: url, Name: name, MaxNodes: 8, DetectPeriod: 20 * time.Millisecond, DetectTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(testTimeout)
	for _, n := range nodes {
		for {
			up := 0
			for _, p := range n.Peers() {
				if p.Up {
					up++
				}
			}
			if up == len(nodes)-1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d sees %d peers up, want %d", n.ID, up, len(nodes)-1)
			}
			time.Sleep(5 * time.Millisecond) // a heartbeat comes every 20 ms
		}
	}
	return nodes
}

// The client commands against two member nodes: submit gives the straight
// run's result, steps and state hash; ps lists the members; migrate moves
// an endless isolate and drain moves it back.
func TestClusterCommands(t *testing.T) {
	url := startServer(t, natsnet.EmbeddedOptions{})
	nodes := startMembers(t, url, "alpha", "beta")
	if nodes[0].ID != 0 || nodes[1].ID != 1 {
		t.Fatalf("node ids %d, %d: want 0, 1", nodes[0].ID, nodes[1].ID)
	}

	var straight, stats bytes.Buffer
	if err := run([]string{"run", "--stats", "testdata/sum.kn"}, &straight, &stats); err != nil {
		t.Fatal(err)
	}
	wantResult := match(t, straight.String(), `result: (\d+)\n$`)[1]
	want := match(t, stats.String(), `steps (\d+) .* state ([0-9a-f]{64})`)

	out := mustKnoten(t, "submit", "--nats", url, "testdata/sum.kn")
	got := match(t, out, `^id: \d-\d+\nresult: (\d+)\nstatus: finished\nsteps: (\d+)\nstate: ([0-9a-f]{64})\nnode: [01]\n$`)
	if got[1] != wantResult || got[2] != want[1] || got[3] != want[2] {
		t.Fatalf("submit printed\n%swant result %s, steps %s, state %s", out, wantResult, want[1], want[2])
	}

	out, err := knoten(t, "submit", "--nats", url, "--node", "beta", "testdata/divzero.kn")
	match(t, out, `(?m)^status: faulted\nsteps: \d+\nstate: [0-9a-f]{64}\nnode: 1$`)
	if err == nil || !regexp.MustCompile(`^isolate 1-\d+ faulted on node 1: .*division by zero`).MatchString(err.Error()) {
		t.Fatalf("submit of a fault: error %v", err)
	}

	out = mustKnoten(t, "ps", "--nats", url)
	match(t, out, `^NODE +NAME +ISOLATE +EPOCH +STEPS +STATE\n0 +alpha +- +- +- +-\n1 +beta +- +- +- +-\n$`)

	out = mustKnoten(t, "submit", "--nats", url, "--detach", "--node", "alpha", "testdata/endless.kn")
	id := match(t, out, `^id: (0-\d+)\n$`)[1]
	out = mustKnoten(t, "migrate", "--nats", url, id, "beta")
	match(t, out, `^`+id+` moved from node 0 to node 1 at instruction \d+ \(\d+ bytes, [0-9.]+[µm]?s down\)\n$`)
	out = mustKnoten(t, "ps", "--nats", url)
	match(t, out, `(?m)^1 +beta +`+id+` +1 +\d+ +running$`)

	out = mustKnoten(t, "drain", "--nats", url, "1")
	match(t, out, `^node 1 drained`)
	out = mustKnoten(t, "ps", "--nats", url)
	match(t, out, `(?m)^0 +alpha +`+id+` +2 +\d+ +running\n1 +beta \(draining\) +- +- +- +-$`)

	out = mustKnoten(t, "migrate", "--nats", url, id, "alpha")
	match(t, out, `^`+id+` is on node 0 already\n$`)
	if _, err := knoten(t, "migrate", "--nats", url, "0-999", "beta"); err == nil || !strings.Contains(err.Error(), "no member holds 0-999") {
		t.Fatalf("migrate of no isolate: error %v", err)
	}
	if _, err := knoten(t, "submit", "--nats", url, "--node", "gamma", "testdata/sum.kn"); err == nil || !strings.Contains(err.Error(), `no member named "gamma"`) {
		t.Fatalf("submit to no node: error %v", err)
	}
}

// knoten node: --embedded serves NATS in the process and joins it; a second
// node joins it with --nats; both stop when cancelled, and the server with
// the first.
func TestNodeCommand(t *testing.T) {
	a := startBackground(t, "node", "--embedded", "--name", "alpha", "--workers", "2")
	m := a.waitFor(t, `^(nats://127\.0\.0\.1:\d+)\nnode 0 \(alpha\) in cluster knoten at (\S+)\n`)
	url := m[1]
	if m[2] != url {
		t.Fatalf("the node joined %s, not the embedded server at %s", m[2], url)
	}
	b := startBackground(t, "node", "--nats", url, "--name", "beta")
	b.waitFor(t, `^node 1 \(beta\) in cluster knoten at `+regexp.QuoteMeta(url)+`\n$`)

	out := mustKnoten(t, "ps", "--nats", url)
	match(t, out, `\n0 +alpha +- .*\n1 +beta +- .*\n$`)

	if err := b.stop(); err != nil {
		t.Fatalf("node beta: %v", err)
	}
	if err := a.stop(); err != nil {
		t.Fatalf("node alpha: %v", err)
	}
	if _, err := knoten(t, "ps", "--nats", url); err == nil || !strings.Contains(err.Error(), "no servers available") {
		t.Fatalf("ps after the embedded server stopped: error %v", err)
	}
}

// --creds: a server that admits only its members takes a node and a client
// with their seeds, and refuses a client without.
func TestCreds(t *testing.T) {
	node, client := cluster.NodeID(0), cluster.NodeID(5)
	ms, err := natsnet.NewMembers(node, client)
	if err != nil {
		t.Fatal(err)
	}
	// Member permissions for every subject the commands use: what a
	// server's configuration grants is its business, not knoten's.
	url := startServer(t, natsnet.EmbeddedOptions{Cluster: "knoten", Members: ms, MemberExtra: func(cluster.NodeID) ([]string, []string) {
		return []string{">"}, []string{">"}
	}})
	dir := t.TempDir()
	nodeCreds, clientCreds := filepath.Join(dir, "node0.seed"), filepath.Join(dir, "client.seed")
	if err := ms[0].WriteSeedFile(nodeCreds); err != nil {
		t.Fatal(err)
	}
	if err := ms[1].WriteSeedFile(clientCreds); err != nil {
		t.Fatal(err)
	}
	n := startBackground(t, "node", "--nats", url, "--creds", nodeCreds, "--id", "0", "--name", "keyed")
	n.waitFor(t, `^node 0 \(keyed\) in cluster knoten at `)
	out := mustKnoten(t, "ps", "--nats", url, "--creds", clientCreds)
	match(t, out, `\n0 +keyed +- .*\n$`)
	if _, err := knoten(t, "ps", "--nats", url); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Fatalf("ps without credentials: error %v", err)
	}
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
}

// knoten nats serves NATS with JetStream, keeping its data in --store,
// until cancelled; a node joins it.
func TestNatsCommand(t *testing.T) {
	store := t.TempDir()
	s := startBackground(t, "nats", "--store", store)
	url := s.waitFor(t, `^(nats://127\.0\.0\.1:\d+)\n$`)[1]
	n := startBackground(t, "node", "--nats", url)
	n.waitFor(t, `^node 0 \(n0\) in cluster knoten at `)
	if err := n.stop(); err != nil {
		t.Fatalf("node: %v", err)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("nats: %v", err)
	}
	if _, err := os.Stat(filepath.Join(store, "jetstream")); err != nil {
		t.Fatalf("no JetStream data in --store: %v", err)
	}
	if _, err := knoten(t, "ps", "--nats", url); err == nil || !strings.Contains(err.Error(), "no servers available") {
		t.Fatalf("ps after the server stopped: error %v", err)
	}
}
