package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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

	result, steps, state := straightRun(t, "testdata/sum.kn")
	out := mustKnoten(t, "submit", "--nats", url, "testdata/sum.kn")
	got := match(t, out, `^id: \d-\d+\nresult: (\d+)\nstatus: finished\nsteps: (\d+)\nstate: ([0-9a-f]{64})\nnode: [01] \(the ledger has it finished there at epoch \d+\)\n$`)
	if got[1] != result || got[2] != steps || got[3] != state {
		t.Fatalf("submit printed\n%swant result %s, steps %s, state %s", out, result, steps, state)
	}

	out, err := knoten(t, "submit", "--nats", url, "--node", "beta", "testdata/divzero.kn")
	match(t, out, `(?m)^status: faulted\nsteps: \d+\nstate: [0-9a-f]{64}\nnode: 1 \(the ledger has it finished there at epoch \d+\)$`)
	if err == nil || !regexp.MustCompile(`^isolate 1-\d+ faulted on node 1: .*divide by zero`).MatchString(err.Error()) {
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
// the first. An isolate past the node's --max-steps faults.
func TestNodeCommand(t *testing.T) {
	a := startBackground(t, "node", "--embedded", "--listen", "127.0.0.1:0", "--name", "alpha", "--workers", "2", "--max-steps", "1000000")
	m := a.waitFor(t, `^(nats://127\.0\.0\.1:\d+)\nnode 0 \(alpha\) in cluster knoten at (\S+)\n`)
	url := m[1]
	if m[2] != url {
		t.Fatalf("the node joined %s, not the embedded server at %s", m[2], url)
	}
	b := startBackground(t, "node", "--nats", url, "--name", "beta")
	b.waitFor(t, `^node 1 \(beta\) in cluster knoten at `+regexp.QuoteMeta(url)+`\n$`)

	out := mustKnoten(t, "ps", "--nats", url)
	match(t, out, `\n0 +alpha +- .*\n1 +beta +- .*\n$`)

	out, err := knoten(t, "submit", "--nats", url, "--node", "alpha", "testdata/endless.kn")
	match(t, out, `(?m)^status: faulted\nsteps: \d{7,}\n`)
	if err == nil || !regexp.MustCompile(`^isolate 0-\d+ faulted on node 0: .*instruction quota exceeded.*: not finished within the node's --max-steps; it may loop forever$`).MatchString(err.Error()) {
		t.Fatalf("submit of an endless program to a node with --max-steps: error %v", err)
	}

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

// straightRun runs file with knoten run and returns its result, its
// instruction count and its final state hash: what a cluster must give.
func straightRun(t *testing.T, file string) (result, steps, state string) {
	t.Helper()
	var out, stats bytes.Buffer
	if err := run([]string{"run", "--stats", file}, &out, &stats); err != nil {
		t.Fatal(err)
	}
	m := match(t, stats.String(), `steps (\d+) .* state ([0-9a-f]{64})`)
	return match(t, out.String(), `result: (\d+)\n$`)[1], m[1], m[2]
}

// --auth --tls: knoten nats makes the nodes' and the client's credentials
// and a certificate, admits only them and says how to start the nodes;
// nodes join with their files, and submit with the client's gives the
// straight run's result. A client without credentials or without the
// certificate, a client with a node's credentials, a node with the
// client's, and a node whose file claims another node's id are refused at
// once, each in one line. A server restarted on the same directory reuses
// the files.
func TestAuthTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	s := startBackground(t, "nats", "--listen", "127.0.0.1:0", "--auth", dir, "--members", "2", "--tls")
	out := s.waitFor(t, `(?s)^.*\n  --nats [^\n]*\n$`)[0]
	url := match(t, out, `^tls://127\.0\.0\.1:\d+`)[0]
	ca := filepath.Join(dir, "cert.pem")
	creds := func(name string) string { return filepath.Join(dir, name+".creds") }
	want := url + "\n" +
		"admitting only nodes 0 to 1 of cluster knoten and its client: credentials in " + dir + " (made now)\n" +
		"TLS certificate: " + ca + " (the nodes' and clients' --ca)\n" +
		"start each node:\n" +
		"  knoten node --nats " + url + " --creds " + creds("n0") + " --ca " + ca + "\n" +
		"  knoten node --nats " + url + " --creds " + creds("n1") + " --ca " + ca + "\n" +
		"then submit, ps, migrate and drain with:\n" +
		"  --nats " + url + " --creds " + creds("client") + " --ca " + ca + "\n"
	if out != want {
		t.Fatalf("knoten nats printed\n%s\nwant\n%s", out, want)
	}
	for _, f := range []string{creds("n0"), creds("n1"), creds("client"), filepath.Join(dir, "key.pem")} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v: want 0600", f, err, fi.Mode())
		}
	}

	n0 := startBackground(t, "node", "--nats", url, "--creds", creds("n0"), "--ca", ca, "--name", "alpha")
	n1 := startBackground(t, "node", "--nats", url, "--creds", creds("n1"), "--ca", ca, "--name", "beta")
	n0.waitFor(t, `^node 0 \(alpha\) in cluster knoten at `)
	n1.waitFor(t, `^node 1 \(beta\) in cluster knoten at `)

	result, steps, state := straightRun(t, "testdata/sum.kn")
	client := []string{"--nats", url, "--creds", creds("client"), "--ca", ca}
	out = mustKnoten(t, append(append([]string{"submit"}, client...), "testdata/sum.kn")...)
	got := match(t, out, `^id: \d-\d+\nresult: (\d+)\nstatus: finished\nsteps: (\d+)\nstate: ([0-9a-f]{64})\nnode: [01] \(the ledger has it finished there at epoch \d+\)\n$`)
	if got[1] != result || got[2] != steps || got[3] != state {
		t.Fatalf("submit printed\n%swant result %s, steps %s, state %s", out, result, steps, state)
	}
	out = mustKnoten(t, append([]string{"ps"}, client...)...)
	match(t, out, `\n0 +alpha +- .*\n1 +beta +- .*\n$`)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"submit", "--nats", url, "--ca", ca, "testdata/sum.kn"},
			"submit: the server at " + url + " admits only the identities it knows: give --creds FILE (knoten nats --auth made them)"},
		{[]string{"submit", "--nats", url, "--creds", creds("client"), "testdata/sum.kn"},
			"submit: the server at " + url + " uses TLS with a certificate nothing here trusts: give --ca FILE (the certificate knoten nats --tls printed)"},
		{[]string{"submit", "--nats", url, "--creds", creds("n0"), "--ca", ca, "testdata/sum.kn"},
			"submit: --creds " + creds("n0") + " holds node 0's member credentials; knoten submit needs a client's, client.creds (knoten nats --auth made both)"},
		{[]string{"node", "--nats", url, "--creds", creds("client"), "--ca", ca},
			"node: --creds " + creds("client") + " holds a client's credentials; knoten node needs its node's, n<id>.creds (knoten nats --auth made both)"},
	} {
		if _, err := knoten(t, c.args...); err == nil || err.Error() != c.want {
			t.Errorf("knoten %q: error\n%v\nwant\n%s", c.args, err, c.want)
		}
	}

	// n1's file, edited to claim node 0's id: the server ties n1's key to
	// node 1, so node 0's subjects are refused to it, and member.Start
	// finds out at once instead of at the first JetStream timeout.
	b, err := os.ReadFile(creds("n1"))
	if err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(t.TempDir(), "forged.creds")
	if err := os.WriteFile(forged, bytes.Replace(b, []byte("knoten-member 1\n"), []byte("knoten-member 0\n"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = knoten(t, "node", "--nats", url, "--creds", forged, "--ca", ca)
	if err == nil || !strings.Contains(err.Error(), "the server refuses this identity its own inbox") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("node with a forged id: error %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("node with a forged id failed after %v, not at once", d)
	}

	// Restarted on the same directory, the server admits the same nodes.
	key, err := os.ReadFile(creds("n0"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*background{n0, n1, s} {
		if err := b.stop(); err != nil {
			t.Fatalf("knoten %q: %v", b.args, err)
		}
	}
	s = startBackground(t, "nats", "--listen", "127.0.0.1:0", "--auth", dir, "--members", "2", "--tls")
	m := s.waitFor(t, `^(tls://127\.0\.0\.1:\d+)\n.* credentials in \S+ \(reused\)\n`)
	if b, err := os.ReadFile(creds("n0")); err != nil || !bytes.Equal(b, key) {
		t.Fatalf("n0.creds changed over the restart (%v)", err)
	}
	if b, err := os.ReadFile(ca); err != nil || !bytes.Equal(b, cert) {
		t.Fatalf("cert.pem changed over the restart (%v)", err)
	}
	n0 = startBackground(t, "node", "--nats", m[1], "--creds", creds("n0"), "--ca", ca)
	n0.waitFor(t, `^node 0 \(n0\) in cluster knoten at `)
}

// localURL: a server listening on every interface is reached on loopback.
func TestLocalURL(t *testing.T) {
	for _, c := range []struct{ url, host, want string }{
		{"nats://127.0.0.1:4222", "127.0.0.1", "nats://127.0.0.1:4222"},
		{"tls://0.0.0.0:4222", "0.0.0.0", "tls://127.0.0.1:4222"},
		{"nats://[::]:5000", "::", "nats://[::1]:5000"},
		{"nats://192.0.2.7:4222", "192.0.2.7", "nats://192.0.2.7:4222"},
	} {
		if got := localURL(c.url, listenAddr{host: c.host}); got != c.want {
			t.Errorf("localURL(%q, %q) = %q, want %q", c.url, c.host, got, c.want)
		}
	}
}

// knoten nats serves NATS with JetStream, keeping its data in --store,
// until cancelled; a node joins it.
func TestNatsCommand(t *testing.T) {
	store := t.TempDir()
	s := startBackground(t, "nats", "--listen", "127.0.0.1:0", "--store", store)
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

// --listen on a port that is taken fails at once, saying so.
func TestListenTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, args := range [][]string{
		{"nats", "--listen", l.Addr().String()},
		{"node", "--embedded", "--listen", l.Addr().String()},
	} {
		_, err := knoten(t, args...)
		want := args[0] + ": --listen " + l.Addr().String() + ": the port is taken (another server? --listen 127.0.0.1:0 takes a free one)"
		if err == nil || err.Error() != want {
			t.Errorf("knoten %q: error %v, want %s", args, err, want)
		}
	}
}
