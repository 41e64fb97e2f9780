package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/natsnet"
	"github.com/knotencore/knoten/internal/golden"
)

var (
	// The embedded server's port, and the NATS stats line's figures.
	serverRE    = regexp.MustCompile(`\b(nats|tls)://127\.0\.0\.1:\d+`)
	natsLineRE  = regexp.MustCompile(`(?m)^(nats: +).*messages sent.*$`)
	natsFigures = "N messages sent (N B, N chunks), N delivered (N B), N send errors, N dropped on receipt"
)

// normalizeNATS is normalizeTimes for a run over NATS: the server's port
// and the transport's counts (heartbeats keep going while the isolate
// runs) go too.
func normalizeNATS(s string) string {
	s = serverRE.ReplaceAllString(s, "$1://127.0.0.1:PORT")
	s = natsLineRE.ReplaceAllString(s, "${1}"+natsFigures)
	return normalizeTimes(s)
}

// emptyTempDir points TMPDIR at a fresh directory, where a run over an
// embedded server makes its temporary directory, and returns a check that
// the run removed it again.
func emptyTempDir(t *testing.T) func() {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return func() {
		t.Helper()
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			t.Errorf("left behind in the temporary directory: %s", e.Name())
		}
	}
}

// The flags that choose the transport, as parsed: --nats implies nats;
// --seed seeds the load's job mix and migrations over NATS too.
func TestTransportFlags(t *testing.T) {
	for _, tc := range []struct {
		args            []string
		transport, url  string
		auth, tls, load bool
	}{
		{args: []string{"--cluster-sim"}, transport: "sim"},
		{args: []string{"--cluster-sim", "--transport", "sim", "--loss", "0.1", "--seed", "4"}, transport: "sim"},
		{args: []string{"--cluster-sim", "--transport", "nats"}, transport: "nats"},
		{args: []string{"--cluster-sim", "--transport", "nats", "--auth", "--tls"}, transport: "nats", auth: true, tls: true},
		{args: []string{"--cluster-sim", "--nats", "nats://10.0.0.1:4222"}, transport: "nats", url: "nats://10.0.0.1:4222"},
		{args: []string{"--cluster-sim", "--transport", "nats", "--nats", "nats://h:1"}, transport: "nats", url: "nats://h:1"},
		{args: []string{"--cluster-sim", "--load", "--transport", "nats", "--seed", "5"}, transport: "nats", load: true},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if o.transport != tc.transport || o.natsURL != tc.url || o.auth != tc.auth || o.tls != tc.tls || o.load != tc.load {
			t.Errorf("%q: transport %q, nats %q, auth %v, tls %v, load %v", tc.args, o.transport, o.natsURL, o.auth, o.tls, o.load)
		}
	}
}

// The default verification over NATS: the same report as over the
// simulated network, but for its header (the server) and the transport's
// counts, and it leaves no temporary directory behind.
func TestClusterSimNATSDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the default 5M-instruction workload")
	}
	clean := emptyTempDir(t)
	out, stderr, err := runCmd(t, "--cluster-sim", "--transport", "nats")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	clean()
	golden.Check(t, filepath.Join("testdata", "cluster-sim-nats.golden"), []byte(normalizeNATS(out)))
}

// Over NATS, embedded (plain, and with an NKey per node and TLS) or
// external, the isolate crosses the same hops at the same instructions as
// over the simulated network, every state verified and the straight
// run's, and it ends with the same result and final state hash.
func TestClusterSimNATSMatchesSim(t *testing.T) {
	args := []string{"--program", "testdata/sum.kn", "--quantum", "2000"}
	sim, err := simJSON(t, args...)
	if err != nil || sim.Verdict != "PASS" || sim.Transport != "sim" || sim.Server != "" || sim.NATS != nil {
		t.Fatalf("over the simulated network: error %v, report %+v", err, sim)
	}
	// An external server, with JetStream for the ledger.
	srv, url, err := natsnet.StartEmbedded(natsnet.EmbeddedOptions{JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	for _, tc := range []struct {
		name   string
		args   []string
		scheme string
	}{
		{"embedded", []string{"--transport", "nats"}, "nats://"},
		{"embedded with auth and tls", []string{"--transport", "nats", "--auth", "--tls"}, "tls://"},
		{"external", []string{"--nats", url}, url},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clean := emptyTempDir(t)
			r, err := simJSON(t, append(tc.args, args...)...)
			clean()
			if err != nil || r.Verdict != "PASS" || len(r.Problems) > 0 {
				t.Fatalf("error %v, report %+v", err, r)
			}
			if r.Transport != "nats" || !strings.HasPrefix(r.Server, tc.scheme) {
				t.Errorf("transport %q, server %q; want nats, %s...", r.Transport, r.Server, tc.scheme)
			}
			if n := r.NATS; n == nil || n.Delivered == 0 || n.SendErrors != 0 || len(n.AsyncErrors) != 0 {
				t.Errorf("nats stats %+v", n)
			}
			// The ledger has the isolate finished where it completed, at
			// the epoch of the second hop (the run checks that too).
			if l := r.Ledger; l == nil || l.State != "finished" || l.Owner != "n2" || l.Epoch != 2 {
				t.Errorf("ledger entry %+v, want finished on n2 at epoch 2", l)
			}
			if r.Result != sim.Result || r.FinalHash != sim.FinalHash || r.StraightHash != sim.StraightHash || r.FinalHash != r.StraightHash ||
				r.ResultNode != "n2" {
				t.Errorf("result %s on %s, final state hash %s; over the simulated network %s on %s, %s (straight %s)",
					r.Result, r.ResultNode, r.FinalHash, sim.Result, sim.ResultNode, sim.FinalHash, sim.StraightHash)
			}
			// Every hop took place, its state verified by the target and
			// the straight run's at the instruction where it halted.
			checkHopsExplained(t, r)
			for i, h := range r.Hops {
				if h.Outcome != hopDone || h.Bytes == 0 {
					t.Errorf("hop %d: %+v", i+1, h)
				}
			}
		})
	}
}

// A run over NATS that fails after the server is up still takes it down
// and removes its temporary directory: here --timeout runs out while the
// cluster starts.
func TestClusterSimNATSCleanupOnError(t *testing.T) {
	clean := emptyTempDir(t)
	release := make(chan struct{})
	old := newCluster
	t.Cleanup(func() { close(release); newCluster = old })
	given := make(chan cluster.Transport, 1)
	newCluster = func(cfg cluster.Config) *cluster.Cluster {
		given <- cfg.Transport
		<-release
		return nil
	}
	// The timeout leaves room for the server to start on a loaded machine:
	// it is to run out in the cluster's start, after the server's.
	out, _, err := runCmd(t, "--cluster-sim", "--transport", "nats", "--auth", "--tls", "--program", "testdata/return42.kn", "--timeout", "2s")
	if !errors.Is(err, errTimeout) || err.Error() != "--timeout 2s ran out while starting the cluster of 3 nodes" || out != "" {
		t.Fatalf("error %v, output %q", err, out)
	}
	if tr := <-given; tr == nil {
		t.Error("the cluster was given no transport")
	} else if _, ok := tr.(*natsnet.Transport); !ok {
		t.Errorf("the cluster was given transport %T, want the NATS one", tr)
	}
	clean()
}

// A server that cannot be reached, or that has no JetStream for the
// ledger, is one line of error, before any report.
func TestClusterSimNATSUnusable(t *testing.T) {
	srv, url, err := natsnet.StartEmbedded(natsnet.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	for _, tc := range []struct{ url, want string }{
		{"nats://127.0.0.1:1", "connecting n0 to NATS: "},
		{url, "opening the ledger on " + url + ": "},
	} {
		out, _, err := runCmd(t, "--cluster-sim", "--nats", tc.url, "--program", "testdata/return42.kn")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || out != "" {
			t.Errorf("--nats %s: error %v, output %q; want one line %q...", tc.url, err, out, tc.want)
		}
	}
}

// A small load over NATS: every isolate completes with the straight run's
// result, and the report counts what went over the sockets.
func TestLoadNATS(t *testing.T) {
	dir := t.TempDir() // before TMPDIR moves
	clean := emptyTempDir(t)
	out, stderr, err := runCmd(t, "--cluster-sim", "--load", "--transport", "nats", "--isolates", "12", "--nodes", "3", "--workers", "2",
		"--size", "small", "--migrate-rate", "500", "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	golden.Check(t, filepath.Join("testdata", "load-nats.golden"), []byte(normalizeAll(serverRE.ReplaceAllString(out, "$1://SERVER"))))
	for _, want := range []string{"| completions | 12 of 12 |", "| correct (= straight run, = known value) | 12 of 12 |"} {
		if !strings.Contains(spacesRE.ReplaceAllString(out, " "), want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "cluster-load.json"))
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Verdict   string     `json:"verdict"`
		Transport string     `json:"transport"`
		Server    string     `json:"server"`
		NATS      *natsStats `json:"nats"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	if j.Verdict != "PASS" || j.Transport != "nats" || !strings.HasPrefix(j.Server, "nats://127.0.0.1:") || j.NATS == nil || j.NATS.Delivered == 0 {
		t.Errorf("json: %+v", j)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cluster-load.txt")); err != nil || !strings.Contains(string(b), "/size=small/transport=nats-") {
		t.Errorf("cluster-load.txt does not name the transport (%v):\n%s", err, b)
	}
	clean()
}
