package member

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/natsnet"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

// loopSrc runs about 3 million instructions.
const loopSrc = `func main() int {
	s := 0
	for i := 0; i < 300000; i++ {
		s = (s + i*7) % 1000003
	}
	return s
}
`

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// straight compiles src and runs it to its end in this process.
func straight(t *testing.T, src string) (*engine.Program, string, [32]byte, uint64) {
	t.Helper()
	p, err := lang.Compile("t.kn", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	iso, err := engine.New(p, engine.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	iso.Run(1 << 62)
	st := iso.State()
	return p, engine.FormatResult(p, st), st.Hash(), st.Steps
}

// secured is an embedded server's configuration with authentication: n
// member identities, one client, and (with tls) a self-signed certificate.
type secured struct {
	members []natsnet.Member
	client  natsnet.Member
	caFile  string
}

func (s *secured) creds(m *natsnet.Member) natsnet.Credentials {
	return natsnet.Credentials{Member: m, CAFile: s.caFile}
}

// startCluster starts an embedded server and n member nodes on it, each on
// its own connection, and waits until every node sees every other up.
// With sec, the server admits only sec's identities.
func startCluster(t *testing.T, n int, sec *secured, tls bool) (string, []*Node) {
	t.Helper()
	o := natsnet.EmbeddedOptions{JetStream: true, StoreDir: t.TempDir()}
	if sec != nil {
		ids := make([]cluster.NodeID, n)
		for i := range ids {
			ids[i] = cluster.NodeID(i)
		}
		var err error
		if sec.members, err = natsnet.NewMembers(ids...); err != nil {
			t.Fatal(err)
		}
		if sec.client, err = natsnet.NewClient(); err != nil {
			t.Fatal(err)
		}
		o.Cluster, o.Members, o.Clients, o.LedgerBucket = "knoten", sec.members, []natsnet.Member{sec.client}, LedgerBucket("knoten")
		if tls {
			files, err := natsnet.GenerateTLS(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			o.TLS, sec.caFile = &files, files.CertFile
		}
	}
	s, url, err := natsnet.StartEmbedded(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	var nodes []*Node
	for i := 0; i < n; i++ {
		opts := Options{URL: url, DetectPeriod: 20 * time.Millisecond, DetectTimeout: 2 * time.Second, MaxNodes: 8}
		if sec != nil {
			opts.Creds = sec.creds(&sec.members[i])
		}
		nd, err := Start(testCtx(t), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		nodes = append(nodes, nd)
	}
	for _, nd := range nodes { // the detectors must report every peer up before any handoff
		waitFor(t, "every peer up", func() bool {
			up := 0
			for _, p := range nd.Peers() {
				if p.Up {
					up++
				}
			}
			return up == n-1
		})
	}
	return url, nodes
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSubmitMigrateAcrossMembers: three member nodes, each on its own NATS
// connection; a client submits a program with two planned hops, and the
// result and final state hash that come back over NATS are the straight
// run's, the isolate having moved twice.
func TestSubmitMigrateAcrossMembers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		auth, tls bool
	}{{"open", false, false}, {"auth", true, false}, {"auth+tls", true, true}} {
		t.Run(tc.name, func(t *testing.T) { testSubmitMigrate(t, tc.auth, tc.tls) })
	}
}

func testSubmitMigrate(t *testing.T, auth, tls bool) {
	var sec *secured
	if auth {
		sec = &secured{}
	}
	url, nodes := startCluster(t, 3, sec, tls)
	prog, result, hash, steps := straight(t, loopSrc)
	var creds natsnet.Credentials
	if sec != nil {
		creds = sec.creds(&sec.client)
		// Without credentials the server refuses the connection.
		if _, err := Dial(url, "", natsnet.Credentials{CAFile: sec.caFile}); err == nil {
			t.Fatal("a client without credentials was admitted")
		}
		// A member cannot join as another: its key does not sign for
		// the other's id (the server knows each id's public key).
		impostor := sec.members[1]
		impostor.Node = 0
		if _, err := Start(testCtx(t), Options{URL: url, Creds: sec.creds(&impostor), MaxNodes: 8}); err == nil {
			t.Fatal("member 1 joined as node 0")
		}
	}
	c, err := Dial(url, "", creds)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testCtx(t)
	waitMembers(t, c, 3)
	results, stopR, err := c.Results()
	if err != nil {
		t.Fatal(err)
	}
	defer stopR()
	events, stopE, err := c.Events()
	if err != nil {
		t.Fatal(err)
	}
	defer stopE()
	id, err := c.Submit(ctx, prog, int(nodes[0].ID),
		cluster.Stop{To: nodes[1].ID, At: steps / 4}, cluster.Stop{To: nodes[2].ID, At: steps * 6 / 10})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Wait(ctx, results, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Result != result || r.Hash != hex.EncodeToString(hash[:]) || r.Steps != steps || r.Node != uint32(nodes[2].ID) || r.Epoch != 2 {
		t.Fatalf("result %+v, want %s after %d steps with hash %x on node %d at epoch 2", r, result, steps, hash, nodes[2].ID)
	}
	arrived := 0
	for arrived < 2 {
		select {
		case e := <-events:
			if e.ID == id && e.Kind == "arrived" {
				arrived++
			}
		case <-ctx.Done():
			t.Fatal("the two arrivals were not reported")
		}
	}
}

func waitMembers(t *testing.T, c *Client, n int) []PSReply {
	t.Helper()
	ctx := testCtx(t)
	for {
		ms, err := c.PS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) >= n {
			return ms
		}
	}
}
