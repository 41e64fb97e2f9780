package member

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/natsnet"
)

// startServers starts three embedded NATS servers with JetStream,
// clustered over loopback routes, and waits for a JetStream meta leader.
func startServers(t *testing.T) ([]*server.Server, []string) {
	t.Helper()
	ports := make([]int, 3)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close() // the server takes the port; a race with another process is unlikely on loopback
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	servers := make([]*server.Server, 3)
	urls := make([]string, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range servers {
		dir := t.TempDir()
		wg.Go(func() {
			servers[i], urls[i], errs[i] = natsnet.StartEmbedded(natsnet.EmbeddedOptions{
				JetStream: true, StoreDir: dir, ServerName: fmt.Sprintf("s%d", i),
				RouteCluster: "knoten-test", RoutePort: ports[i], Routes: routes,
			})
		})
	}
	wg.Wait()
	for i, s := range servers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	waitFor(t, "a JetStream meta leader", func() bool {
		for _, s := range servers {
			if s.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	return servers, urls
}

// TestMembersSurviveServerLoss runs three member nodes, each connected to
// a different server of a three-server NATS cluster, with the ledger on
// three replicas. One server is killed while isolates run and migrate:
// every isolate still completes exactly once with its straight-run result
// and final state hash.
func TestMembersSurviveServerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("three servers and a leader election: seconds")
	}
	servers, urls := startServers(t)
	ctx, cancelCtx := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelCtx()
	var nodes []*Node
	for i := 0; i < 3; i++ {
		nd, err := Start(ctx, Options{URL: urls[i], Replicas: 3, MaxNodes: 8, DetectPeriod: 50 * time.Millisecond, DetectTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		nodes = append(nodes, nd)
	}
	for _, nd := range nodes {
		waitFor(t, "every peer up", func() bool {
			up := 0
			for _, p := range nd.Peers() {
				if p.Up {
					up++
				}
			}
			return up == 2
		})
	}
	c, err := Dial(urls[0], "", natsnet.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prog, result, hash, steps := straight(t, loopSrc)
	results, stop, err := c.Results()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	const n = 12
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		from, to := nodes[i%3].ID, nodes[(i+1)%3].ID
		id, err := c.Submit(ctx, prog, int(from), cluster.Stop{To: to, At: steps / 3})
		if err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	// Kill server 2 (not the client's) while the isolates run and move.
	servers[2].Shutdown()
	got := map[string]int{}
	for len(got) < n {
		select {
		case r := <-results:
			got[r.ID]++
			if !want[r.ID] {
				t.Fatalf("result of an isolate never submitted: %+v", r)
			}
			if r.Result != result || r.Hash != hex.EncodeToString(hash[:]) || r.Steps != steps {
				t.Fatalf("isolate %s: %+v, want %s after %d steps", r.ID, r, result, steps)
			}
		case <-ctx.Done():
			for _, nd := range nodes {
				l, _ := nd.Cluster().Isolates(nd.ID)
				t.Logf("node %d holds %+v; peers %+v; metrics %+v", nd.ID, l, nd.Peers(), nd.Cluster().Metrics().Snapshot())
			}
			t.Fatalf("%d of %d isolates completed before the deadline: %v", len(got), n, got)
		}
	}
	// Duplicates would arrive right behind: give the subscription a
	// moment's drain, bounded, by flushing a round trip through the server.
	if err := c.Conn().FlushTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case r := <-results:
			t.Fatalf("isolate %s published twice", r.ID)
		default:
			return
		}
	}
}
