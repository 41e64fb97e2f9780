package ledger

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startJetStream starts one embedded server with JetStream, its store in
// the test's temp dir, and returns a JetStream context on a connection to
// it.
func startJetStream(t testing.TB) (*server.Server, jetstream.JetStream) {
	t.Helper()
	s, url := startServer(t, serverOptions{})
	return s, connectJS(t, url)
}

func connectJS(t testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestJetStreamConformance(t *testing.T) {
	_, js := startJetStream(t)
	var n atomic.Int32
	runConformance(t, func(t *testing.T) Ledger {
		l, err := OpenJetStream(testCtx(t), js, JetStreamConfig{Bucket: fmt.Sprintf("conf-%d", n.Add(1)), Memory: true})
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestJetStreamFileStorageAndReopen(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testCtx(t)
	l, err := OpenJetStream(ctx, js, JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	id := MakeID(2, 5)
	e, err := l.Create(ctx, id, 2)
	if err != nil {
		t.Fatal(err)
	}
	if e, err = l.Transfer(ctx, id, e, 3); err != nil {
		t.Fatal(err)
	}
	// A second process opens the same bucket and sees the same entry.
	l2, err := OpenJetStream(ctx, js, JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l2.Get(ctx, id); err != nil || got != e {
		t.Fatalf("reopened: %v, %v; want %v", got, err, e)
	}
	for _, bad := range []JetStreamConfig{{Replicas: 6}, {Replicas: -1}, {History: 65}} {
		if _, err := OpenJetStream(ctx, js, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestJetStreamCorruptValue: bytes in the bucket that are not an entry
// (another writer, a bug, an attack by a member) are reported, never
// trusted, and a CAS over them is still a CAS.
func TestJetStreamCorruptValue(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testCtx(t)
	l, err := OpenJetStream(ctx, js, JetStreamConfig{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	id := MakeID(1, 1)
	e, err := l.Create(ctx, id, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.KV().Put(ctx, Key(id), []byte("0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get(ctx, id); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of garbage: %v, want ErrCorrupt", err)
	}
	if _, err := l.Transfer(ctx, id, e, 2); !errors.Is(err, ErrConflict) {
		t.Fatalf("Transfer over garbage: %v, want ErrConflict", err)
	}
	if _, err := l.KV().Put(ctx, counterKey(4), []byte{0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReserveIDs(ctx, 4, 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReserveIDs over a corrupt counter: %v, want ErrCorrupt", err)
	}
	// The bucket refuses large values.
	if _, err := l.KV().Put(ctx, Key(id), make([]byte, maxMessage+1)); err == nil {
		t.Fatalf("bucket took a %d-byte value", maxMessage+1)
	}
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		defer ln.Close()
	}
	return ports
}

// startCluster starts three embedded servers with JetStream, clustered
// over loopback routes, and waits until JetStream has a meta leader.
func startCluster(t testing.TB) ([]*server.Server, []string) {
	t.Helper()
	ports := freePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	servers := make([]*server.Server, 3)
	urls := make([]string, 3)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	// Started together, so that their startups overlap.
	for i := range servers {
		dir := t.TempDir()
		wg.Go(func() {
			servers[i], errs[i] = newServer(dir, serverOptions{
				Name:      fmt.Sprintf("s%d", i),
				RoutePort: ports[i],
				Routes:    routes,
			})
		})
	}
	wg.Wait()
	for i, s := range servers {
		if s != nil {
			t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
			urls[i] = s.ClientURL()
		}
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Wait for the JetStream meta leader's election (an event no
	// callback reports: poll it, bounded by the hang guard).
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

// countSpurious counts the refused transfers that the strict model cannot
// place: by isolate, those whose presented revision no success had
// replaced by the time they returned.
func countSpurious(ops []porcupine.Operation) int {
	replacedAt := make(map[uint64]int64) // revision -> earliest return of the write replacing it
	for _, op := range ops {
		in, out := op.Input.(linIn), op.Output.(linOut)
		if in.kind == linTransfer && out.err == nil {
			if at, ok := replacedAt[in.from.Revision]; !ok || op.Call < at {
				replacedAt[in.from.Revision] = op.Call
			}
		}
	}
	n := 0
	for _, op := range ops {
		in, out := op.Input.(linIn), op.Output.(linOut)
		if in.kind == linTransfer && errors.Is(out.err, ErrConflict) {
			if at, ok := replacedAt[in.from.Revision]; !ok || op.Return < at {
				n++
			}
		}
	}
	return n
}

// history reads every revision of id's key, retrying while the cluster
// settles (a consumer created during an election may never deliver).
func history(ctx context.Context, l *JetStream, id IsolateID) ([]jetstream.KeyValueEntry, error) {
	for {
		opCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		h, err := l.KV().History(opCtx, Key(id))
		cancel()
		if err == nil || ctx.Err() != nil {
			return h, err
		}
	}
}

// waitBucketLeader waits until the bucket's stream has elected a leader:
// until then a write goes unanswered ("no response from stream").
func waitBucketLeader(t testing.TB, l *JetStream) {
	t.Helper()
	waitFor(t, "bucket leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := l.KV().Status(ctx)
		if err != nil {
			return false
		}
		si := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
		return si.Cluster != nil && si.Cluster.Leader != ""
	})
}

// waitFor polls cond until it holds; the deadline only guards a hang.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, hangGuard)
		}
		<-tick.C
	}
}

// TestJetStreamClusterServerLoss runs many racing transfers against a
// ledger of three replicas on three clustered servers, from clients
// connected to different servers, and shuts down the bucket's leader
// server in the middle. Afterwards the bucket's history of every isolate
// must be a chain of epochs 0, 1, 2, … with no gap and no repeat, every
// transfer that reported success must be in it (at its revision, with its
// owner), and nothing may be in it that no one attempted. The creates and
// transfers (successes, conflicts, and those whose answer was lost,
// resolved by the history) must be linearizable.
func TestJetStreamClusterServerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("three clustered servers and a leader failover: not under -short")
	}
	servers, urls := startCluster(t)
	ctx := testCtx(t)

	const keys, capEpoch, workersPerServer = 12, 40, 2
	var stores [3]*JetStream
	for i := range 3 {
		// Each client prefers its own server, then the others.
		list := urls[i]
		for j := range 3 {
			if j != i {
				list += "," + urls[j]
			}
		}
		js := connectJS(t, list, nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
		var err error
		for {
			// Right after the meta leader's election a server may not
			// know it yet; a request then goes unanswered.
			opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			stores[i], err = OpenJetStream(opCtx, js, JetStreamConfig{Bucket: "failover", Replicas: 3, History: 64})
			cancel()
			if err == nil || ctx.Err() != nil {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	waitBucketLeader(t, stores[0])
	rec := &linRecorder{}
	for k := range keys {
		// Right after its election a stream leader may not answer yet:
		// retry, and resolve a create whose answer was lost.
		id, first := MakeID(0, uint32(k+1)), int64(0)
		for {
			opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
			out, call, unknown := rec.doAt(opCtx, stores[0], 0, linIn{key: id, kind: linCreate})
			cancel()
			if first == 0 {
				first = call
			}
			if unknown && ctx.Err() == nil {
				continue
			}
			if errors.Is(out.err, ErrExists) && first != call {
				e, err := stores[0].Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				rec.ops = rec.ops[:len(rec.ops)-1] // the retry's ErrExists
				rec.add(0, linIn{key: id, kind: linCreate}, linOut{e: e}, first, rec.now())
				break
			}
			if out.err != nil {
				t.Fatal(out.err)
			}
			break
		}
	}

	type attempt struct {
		key     int
		from    Entry
		to      Entry // zero if the outcome is unknown
		node    NodeID
		unknown bool
		call    int64
	}
	var (
		mu        sync.Mutex
		attempts  []attempt
		successes atomic.Int64
		killOnce  sync.Once
		killed    = make(chan string, 1)
	)
	leaderServer := func() string {
		st, err := stores[0].KV().Status(ctx)
		if err != nil {
			return ""
		}
		si := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
		if si.Cluster == nil {
			return ""
		}
		return si.Cluster.Leader
	}
	kill := func() {
		name := leaderServer()
		for _, s := range servers {
			if s.Name() == name || (name == "" && s == servers[0]) {
				s.Shutdown()
				killed <- s.Name()
				return
			}
		}
	}
	var wg sync.WaitGroup
	for w := range 3 * workersPerServer {
		l, me := stores[w%3], NodeID(w+1)
		wg.Go(func() {
			capped := make([]bool, keys)
			left := keys
			for i := w; left > 0 && ctx.Err() == nil; i++ {
				k := i % keys
				if capped[k] {
					continue
				}
				id := MakeID(0, uint32(k+1))
				opCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
				cur, err := l.Get(opCtx, id)
				if err != nil {
					cancel()
					continue // a server down, a leader election: try again
				}
				if cur.Epoch >= capEpoch {
					capped[k] = true
					left--
					cancel()
					continue
				}
				out, call, unknown := rec.doAt(opCtx, l, int(me), linIn{key: id, kind: linTransfer, from: cur, to: me})
				cancel()
				if errors.Is(out.err, ErrConflict) {
					continue
				}
				mu.Lock()
				attempts = append(attempts, attempt{key: k, from: cur, to: out.e, node: me, unknown: unknown, call: call})
				mu.Unlock()
				if !unknown && successes.Add(1) == keys*capEpoch/3 {
					killOnce.Do(kill)
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("hang guard expired")
	}
	var dead string
	select {
	case dead = <-killed:
	default:
		t.Fatal("no server was shut down")
	}
	// Audit through a client of a surviving server.
	var audit *JetStream
	for i, s := range servers {
		if s.Name() != dead {
			audit = stores[i]
			break
		}
	}
	// History reads through a consumer, which needs the JetStream meta
	// leader; if the server shut down held it, wait for the next.
	waitFor(t, "a JetStream meta leader among the survivors", func() bool {
		for _, s := range servers {
			if s.Name() != dead && s.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	unknown := 0
	for _, a := range attempts {
		if a.unknown {
			unknown++
		}
	}
	for k := range keys {
		id := MakeID(0, uint32(k+1))
		hist, err := history(ctx, audit, id)
		if err != nil {
			t.Fatal(err)
		}
		chain := make([]Entry, 0, len(hist))
		for _, h := range hist {
			e, err := decodeEntry(h.Value())
			if err != nil {
				t.Fatalf("%v: %v", id, err)
			}
			e.Revision = h.Revision()
			chain = append(chain, e)
		}
		for e, ent := range chain {
			if ent.Epoch != uint64(e) {
				t.Fatalf("%v: revision %d has epoch %d at position %d: gap or repeat", id, ent.Revision, ent.Epoch, e)
			}
		}
		if last := chain[len(chain)-1]; last.Epoch != capEpoch {
			t.Fatalf("%v: ended at epoch %d, want %d", id, last.Epoch, capEpoch)
		}
		claimed := make(map[uint64][]attempt)
		for _, a := range attempts {
			if a.key == k {
				claimed[a.from.Epoch+1] = append(claimed[a.from.Epoch+1], a)
			}
		}
		for _, a := range attempts {
			if a.key != k || a.unknown {
				continue
			}
			if got := chain[a.to.Epoch]; got != a.to {
				t.Fatalf("%v: transfer to %v reported success, history has %v", id, a.to, got)
			}
		}
		for e := 1; e < len(chain); e++ {
			var known, lost []attempt
			for _, a := range claimed[uint64(e)] {
				if a.node == chain[e].Owner && a.from.Revision == chain[e-1].Revision {
					if a.unknown {
						lost = append(lost, a)
					} else {
						known = append(known, a)
					}
				}
			}
			switch {
			case len(known) > 1:
				t.Fatalf("%v: epoch %d reported committed %d times", id, e, len(known))
			case len(known) == 0 && len(lost) == 0:
				t.Fatalf("%v: epoch %d (%v) in the history, attempted by no one", id, e, chain[e])
			case len(known) == 0:
				// Its answer was lost, but it took effect (if the same
				// node tried the same revision twice, one of them did):
				// it may have done so at any time after its call.
				a := lost[0]
				in := linIn{key: id, kind: linTransfer, from: a.from, to: a.node}
				rec.add(int(a.node), in, linOut{e: chain[e]}, a.call, never)
			}
		}
	}
	// Unknown outcomes that took no effect are left out: an operation
	// that changed nothing and answered nothing constrains nothing. A
	// leader change may refuse a CAS on the latest revision: allowed, and
	// counted, but every success must linearize.
	rec.check(t, linModel(true))
	if spurious := countSpurious(rec.ops); spurious > 0 {
		t.Logf("%d compare-and-sets refused on what was still the latest revision (leader change)", spurious)
	}
	t.Logf("%d transfers committed, %d with an unknown outcome (resolved by the history); server %s shut down after %d", keys*capEpoch, unknown, dead, keys*capEpoch/3)
}

// TestBindJetStream: binding needs the bucket to exist, changes nothing
// about it, and reads what the writers wrote.
func TestBindJetStream(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testCtx(t)
	if _, err := BindJetStream(ctx, js, ""); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("binding a missing bucket: %v, want ErrBucketNotFound", err)
	}
	l, err := OpenJetStream(ctx, js, JetStreamConfig{History: 3})
	if err != nil {
		t.Fatal(err)
	}
	id := MakeID(1, 1)
	e, err := l.Create(ctx, id, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := BindJetStream(ctx, js, DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Get(ctx, id); err != nil || got != e {
		t.Fatalf("bound Get: %v, %v; want %v", got, err, e)
	}
	st, err := r.KV().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 3 {
		t.Fatalf("bound bucket's history %d; want the writer's 3", st.History())
	}
}
