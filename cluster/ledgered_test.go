package cluster

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster/ledger"
)

// slowLedger is a ledger whose every call takes delay, as a replicated
// one's round trip does, so that the core's ledger calls overlap its other
// work. It fails a call now and then with an unknown outcome (after making
// it, or not), as a timeout would.
type slowLedger struct {
	ledger.Ledger
	delay time.Duration
	mu    sync.Mutex
	rng   *rand.Rand
	flaky float64 // probability that a write's answer is lost
}

func (s *slowLedger) wait(ctx context.Context) error {
	select {
	case <-time.After(s.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lost reports whether this call's answer is lost.
func (s *slowLedger) lost() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng != nil && s.rng.Float64() < s.flaky
}

var errAnswerLost = context.DeadlineExceeded

func (s *slowLedger) Get(ctx context.Context, id ledger.IsolateID) (ledger.Entry, error) {
	if err := s.wait(ctx); err != nil {
		return ledger.Entry{}, err
	}
	return s.Ledger.Get(ctx, id)
}

func (s *slowLedger) Transfer(ctx context.Context, id ledger.IsolateID, from ledger.Entry, to ledger.NodeID) (ledger.Entry, error) {
	if err := s.wait(ctx); err != nil {
		return ledger.Entry{}, err
	}
	e, err := s.Ledger.Transfer(ctx, id, from, to)
	if s.lost() {
		return ledger.Entry{}, errAnswerLost
	}
	return e, err
}

func (s *slowLedger) Finish(ctx context.Context, id ledger.IsolateID, by ledger.Entry) (ledger.Entry, error) {
	if err := s.wait(ctx); err != nil {
		return ledger.Entry{}, err
	}
	e, err := s.Ledger.Finish(ctx, id, by)
	if s.lost() {
		return ledger.Entry{}, errAnswerLost
	}
	return e, err
}

// TestLedgerMigrateChain is TestLiveMigrateChain with a ledger: each hop
// commits in the ledger, and the completion is recorded there, at the
// epoch of the second hop, by the node it completed on.
func TestLedgerMigrateChain(t *testing.T) {
	p, err := longLoop()
	if err != nil {
		t.Fatal(err)
	}
	l := &slowLedger{Ledger: ledger.NewMemory(), delay: 200 * time.Microsecond}
	log := newEventLog()
	var mu sync.Mutex
	var published []Completion
	c := New(Config{Nodes: 3, Quantum: 5000, NoSteal: true, OnEvent: log.on, Ledger: l,
		OnComplete: func(r Completion) { mu.Lock(); published = append(published, r); mu.Unlock() }})
	defer c.Close()
	id, err := c.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	if got := ledger.IsolateID(id); got.Spawner() != 0 || got.Seq() == 0 {
		t.Fatalf("isolate id %v is not qualified by its spawner", got)
	}
	for hop, to := range []NodeID{1, 2} {
		stop := p.steps * uint64(hop+1) / 10
		if err := c.MigrateAt(id, to, stop); err != nil {
			t.Fatal(err)
		}
		a := log.waitFor(t, "arrival", func(e Event) bool { return e.Kind == EvArrived && e.ID == id })
		if a.Node != to || a.Epoch != uint64(hop+1) {
			t.Fatalf("hop %d: arrived %+v", hop, a)
		}
		e, err := l.Get(context.Background(), ledger.IsolateID(id))
		if err != nil || !e.Owns(ledger.NodeID(to), uint64(hop+1)) {
			t.Fatalf("hop %d: arrived before the ledger moved it: %v, %v", hop, e, err)
		}
	}
	o, err := c.Wait(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, o, map[IsolateID]*testProg{id: p}, false)
	e, err := l.Get(context.Background(), ledger.IsolateID(id))
	if err != nil || e.State != ledger.Finished || e.Owner != 2 || e.Epoch != 2 {
		t.Fatalf("ledger after completion: %v, %v", e, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(published) != 1 || published[0].ID != id || published[0].Epoch != 2 || published[0].Hash != p.hash {
		t.Fatalf("OnComplete got %+v", published)
	}
}

// TestLedgerFalseSuspicion reports live nodes down at random while
// isolates migrate between them. A node reported down ends every handoff
// to and from it at once, so without the ledger a source would resume a
// copy its target may have taken, and the isolate would run twice. With
// the ledger every isolate completes exactly once, with its straight-run
// result, and none is lost: nobody crashed.
func TestLedgerFalseSuspicion(t *testing.T) {
	n := 24
	if testing.Short() {
		n = 12
	}
	l := &slowLedger{Ledger: ledger.NewMemory(), delay: 100 * time.Microsecond, rng: rand.New(rand.NewPCG(3, 3)), flaky: 0.05}
	link := LinkConfig{Latency: 100 * time.Microsecond, Jitter: 200 * time.Microsecond, Loss: 0.05, Duplicate: 0.05}
	c := New(Config{Nodes: 3, Quantum: 5000, Link: link, Seed: 3, Ledger: l})
	defer c.Close()
	want := spawnMix(t, liveSpawner(t, c), n, func(i int) NodeID { return NodeID(i % 3) })
	ids := make([]IsolateID, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
			c.Migrate(ids[rng.IntN(len(ids))], NodeID(rng.IntN(3)))
			if rng.IntN(4) == 0 {
				suspect := NodeID(rng.IntN(3))
				c.SetPeer(suspect, false)
				c.SetPeer(suspect, true)
			}
		}
	}()
	o, err := c.Wait(waitCtx(t))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("%v; outcome %+v", err, o)
	}
	checkOutcome(t, o, want, false)
	s := c.Metrics().Snapshot()
	t.Logf("migrations %d, failed handoffs %d, fenced %d", s.Migrations, s.FailedHandoffs, s.Fenced)
	for id := range want {
		e, err := l.Get(context.Background(), ledger.IsolateID(id))
		if err != nil || e.State != ledger.Finished {
			t.Errorf("isolate %v: ledger has %v, %v", ledger.IsolateID(id), e, err)
		}
	}
}

// TestSpawnRoute: a route planned at spawn halts the isolate at its first
// stop however soon that comes (here after 1000 instructions, which a
// MigrateAt after Spawn would race), and bad routes are refused before
// anything is spawned.
func TestSpawnRoute(t *testing.T) {
	p := testProgs(t)["loop"]
	log := newEventLog()
	c := New(Config{Nodes: 3, Quantum: 5000, NoSteal: true, OnEvent: log.on})
	defer c.Close()
	for _, bad := range [][]Stop{{{To: 0, At: 10}}, {{To: 7, At: 10}}, {{To: 1, At: 10}, {To: 2, At: 5}}} {
		if _, err := c.SpawnRoute(0, p.prog, bad...); err == nil {
			t.Errorf("route %v accepted", bad)
		}
	}
	id, err := c.SpawnRoute(0, p.prog, Stop{To: 1, At: 1000}, Stop{To: 2, At: 2000})
	if err != nil {
		t.Fatal(err)
	}
	for _, hop := range []struct {
		to NodeID
		at uint64
	}{{1, 1000}, {2, 2000}} {
		a := log.waitFor(t, "arrival", func(e Event) bool { return e.Kind == EvArrived && e.ID == id })
		if a.Node != hop.to || a.Steps < hop.at || a.Steps > hop.at+100 {
			t.Fatalf("arrived %+v, want on %v just past %d instructions", a, hop.to, hop.at)
		}
	}
	o, err := c.Wait(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, o, map[IsolateID]*testProg{id: p}, false)
	if c.Pending() != 0 || len(o.Completed) != 1 {
		t.Fatalf("outcome %+v", o)
	}
}
