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

// startCluster starts an embedded server and n member nodes on it, each on
// its own connection, and waits until every node sees every other up.
func startCluster(t *testing.T, n int, o natsnet.EmbeddedOptions) (string, []*Node) {
	t.Helper()
	o.JetStream = true
	o.StoreDir = t.TempDir()
	s, url, err := natsnet.StartEmbedded(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	var nodes []*Node
	for i := 0; i < n; i++ {
		nd, err := Start(testCtx(t), Options{URL: url, DetectPeriod: 20 * time.Millisecond, DetectTimeout: 2 * time.Second, MaxNodes: 8})
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
	url, nodes := startCluster(t, 3, natsnet.EmbeddedOptions{})
	prog, result, hash, steps := straight(t, loopSrc)
	c, err := Dial(url, "", natsnet.Credentials{})
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
