package cluster

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

// eventLog collects a cluster's events for a test.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
	ch  chan Event
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan Event, 1<<16)} }

func (l *eventLog) on(e Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
	select {
	case l.ch <- e:
	default:
	}
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.evs...)
}

// waitFor waits for an event matching f.
func (l *eventLog) waitFor(t *testing.T, what string, f func(Event) bool) Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e := <-l.ch:
			if f(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestLiveMigrateChain moves an isolate n0 → n1 → n2 at set instruction
// counts. The stops are early in a long program: the test goroutine may be
// starved for a while between hops (under -race, on a loaded machine), and
// the isolate must still be running when it asks for the next hop.
func TestLiveMigrateChain(t *testing.T) {
	p, err := longLoop()
	if err != nil {
		t.Fatal(err)
	}
	log := newEventLog()
	c := New(Config{Nodes: 3, Quantum: 5000, NoSteal: true, OnEvent: log.on})
	defer c.Close()
	id, err := c.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	for hop, to := range []NodeID{1, 2} {
		stop := p.steps * uint64(hop+1) / 10
		if err := c.MigrateAt(id, to, stop); err != nil {
			t.Fatal(err)
		}
		h := log.waitFor(t, "halt", func(e Event) bool { return e.Kind == EvHalted && e.ID == id })
		a := log.waitFor(t, "arrival", func(e Event) bool { return e.Kind == EvArrived && e.ID == id })
		if a.Node != to || a.Hash != h.Hash || a.Steps != h.Steps || a.PC != h.PC || h.Steps < stop || h.Steps >= p.steps {
			t.Fatalf("hop %d: halted %+v, arrived %+v", hop, h, a)
		}
	}
	o, err := c.Wait(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, o, map[IsolateID]*testProg{id: p}, false)
	if o.Completed[0].Node != 2 {
		for _, e := range log.all() {
			t.Logf("%+v", e)
		}
		t.Fatalf("completed on %v", o.Completed[0].Node)
	}
	s := c.Metrics().Snapshot()
	if s.Migrations != 2 || s.Downtime.Count != 2 || s.HaltLatency.Count != 2 || s.ProgramFetches != 2 {
		t.Fatalf("metrics %+v", s)
	}
}

// TestLiveMigrateRunning halts an isolate in the middle of a long quantum.
func TestLiveMigrateRunning(t *testing.T) {
	p := testProgs(t)["loop"]
	c := New(Config{Nodes: 2, Quantum: 1 << 30, NoSteal: true})
	defer c.Close()
	id, _ := c.Spawn(0, p.prog)
	time.Sleep(300 * time.Microsecond)
	if err := c.Migrate(id, 1); err != nil && !errors.Is(err, ErrNoSuchIsolate) {
		t.Fatal(err)
	}
	o, err := c.Wait(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, o, map[IsolateID]*testProg{id: p}, false)
	s := c.Metrics().Snapshot()
	t.Logf("migrations %d, halt latency %v, completed on %v", s.Migrations, time.Duration(s.HaltLatency.Max), o.Completed[0].Node)
}

// spawnMix spawns n isolates of the test programs on node, round robin.
func spawnMix(t *testing.T, spawn func(NodeID, *testProg) IsolateID, n int, node func(i int) NodeID) map[IsolateID]*testProg {
	want := make(map[IsolateID]*testProg)
	l := progList(t)
	for i := 0; i < n; i++ {
		p := l[i%len(l)]
		want[spawn(node(i), p)] = p
	}
	return want
}

func liveSpawner(t *testing.T, c *Cluster) func(NodeID, *testProg) IsolateID {
	return func(n NodeID, p *testProg) IsolateID {
		id, err := c.Spawn(n, p.prog)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
}

func TestLiveStealing(t *testing.T) {
	n := 32
	if testing.Short() {
		n = 16
	}
	c := New(Config{Nodes: 4, Workers: 2, Quantum: 5000})
	defer c.Close()
	want := map[IsolateID]*testProg{}
	sieve := testProgs(t)["sieve"] // about 450 000 instructions each
	for i := 0; i < n; i++ {
		want[liveSpawner(t, c)(0, sieve)] = sieve
	}
	o, err := c.Wait(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, o, want, false)
	s := c.Metrics().Snapshot()
	elsewhere := 0
	for _, r := range o.Completed {
		if r.Node != 0 {
			elsewhere++
		}
	}
	if s.InterStealOK == 0 || elsewhere == 0 {
		t.Fatalf("no cross-node stealing: %d completed off node 0; %+v", elsewhere, s)
	}
	t.Logf("%d/%d completed off node 0; steals inter %d/%d intra %d/%d", elsewhere, n, s.InterStealOK, s.InterStealTried, s.IntraStealOK, s.IntraStealTried)
}

func TestLiveDrain(t *testing.T) {
	log := newEventLog()
	c := New(Config{Nodes: 3, Workers: 2, Quantum: 5000, NoSteal: true, OnEvent: log.on})
	defer c.Close()
	want := spawnMix(t, liveSpawner(t, c), 12, func(int) NodeID { return 1 })
	// One long isolate, so that the drain has something to move even when
	// a loaded machine oversleeps past the end of the short ones.
	long, err := longLoop()
	if err != nil {
		t.Fatal(err)
	}
	want[liveSpawner(t, c)(1, long)] = long
	time.Sleep(2 * time.Millisecond)
	if err := c.Drain(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	drained := c.clock()
	o, err := c.Wait(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, o, want, false)
	for _, e := range log.all() {
		if e.Node == 1 && e.At > drained && (e.Kind == EvArrived || e.Kind == EvCompleted || e.Kind == EvRunning) {
			t.Fatalf("drained node 1 still active: %+v", e)
		}
	}
	if c.Metrics().Snapshot().Migrations == 0 {
		t.Fatal("drain moved nothing")
	}
}

// TestLiveFaults runs a loaded cluster over a lossy, jittery, duplicating
// network with random operator migrations and one crash. Every isolate must
// complete exactly once with its straight-run result, or have been held by
// the crashed node.
func TestLiveFaults(t *testing.T) {
	n := 30
	if testing.Short() {
		n = 15
	}
	link := LinkConfig{Latency: 100 * time.Microsecond, Jitter: 200 * time.Microsecond, Loss: 0.1, Duplicate: 0.05, Reorder: 0.1}
	c := New(Config{Nodes: 4, Workers: 1, Quantum: 5000, Link: link, Seed: 7})
	defer c.Close()
	want := spawnMix(t, liveSpawner(t, c), n, func(i int) NodeID { return NodeID(i % 2) })
	rng := rand.New(rand.NewPCG(7, 7))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Microsecond):
			}
			c.Migrate(IsolateID(1+rng.IntN(n)), NodeID(rng.IntN(4)))
			switch i {
			case 20:
				c.Net().Do(func(net *Net) { net.Cut(0, 1) })
			case 40:
				c.Net().Do(func(net *Net) { net.HealLink(0, 1) })
			case 50:
				c.Crash(3)
			}
		}
	}()
	o, err := c.Wait(waitCtx(t))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("%v; outcome %+v", err, o)
	}
	checkOutcome(t, o, want, true)
	s := c.Metrics().Snapshot()
	t.Logf("completed %d, crash-lost %d, migrations %d, failed handoffs %d, net %+v", len(o.Completed), len(o.CrashLost), s.Migrations, s.FailedHandoffs, c.Net().Stats())
}

// TestInboxOverflow spawns many more isolates on one single-worker node than
// the worker's inbox holds. The worker drives its own node when it hands
// back a finished isolate, so a driver that waited for room in the inbox
// would wait for itself; every isolate must still complete, once.
func TestInboxOverflow(t *testing.T) {
	defer func(n int) { workerInboxSize = n }(workerInboxSize)
	workerInboxSize = 4
	p := testProgs(t)["fib"]
	c := New(Config{Nodes: 1, Workers: 1, Quantum: 2000})
	defer c.Close()
	const n = 64
	for range n {
		if _, err := c.Spawn(0, p.prog); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.Wait(waitCtx(t))
	if err != nil {
		t.Fatalf("%v: %d of %d completed", err, len(out.Completed), n)
	}
	if len(out.Completed) != n || len(out.Duplicated) != 0 {
		t.Fatalf("%d completed, %d duplicated, of %d", len(out.Completed), len(out.Duplicated), n)
	}
	for _, cp := range out.Completed {
		if cp.Result != p.result || cp.Count != 1 {
			t.Fatalf("isolate %d: result %q (want %q), published %d times", cp.ID, cp.Result, p.result, cp.Count)
		}
	}
}

// TestInjectNeverWaitsForRoom injects into a full inbox whose worker does
// not run, as when the driver is that worker itself: inject must return at
// once, keep the task on the node, and hand it over once there is room.
func TestInjectNeverWaitsForRoom(t *testing.T) {
	defer func(n int) { workerInboxSize = n }(workerInboxSize)
	workerInboxSize = 2
	c := New(Config{Nodes: 1, Workers: 1})
	defer c.Close()
	n := newLiveNode(c, 0) // no goroutines: nobody drains its worker's inbox
	w := n.workers[0]
	tasks := []*task{{id: 1}, {id: 2}, {id: 3}}
	done := make(chan struct{})
	go func() {
		n.driving.Store(true) // the test is the node's driver
		for _, x := range tasks {
			n.inject(x)
		}
		n.driving.Store(false)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("inject waited for room in an inbox nobody drains")
	}
	if got := n.overflowed.Load(); got != 1 || w.inbox.Len() != 2 {
		t.Fatalf("overflowed %d, inbox %d; want 1 and 2", got, w.inbox.Len())
	}
	if x := w.inbox.Pop(); x != tasks[0] {
		t.Fatalf("inbox gave %v first, want task 1", x)
	}
	n.driving.Store(true)
	n.runEvents()
	n.driving.Store(false)
	if n.overflowed.Load() != 0 {
		t.Fatal("the overflowed task was not handed over when the inbox had room")
	}
	for _, want := range tasks[1:] {
		if x := w.inbox.Pop(); x != want {
			t.Fatalf("inbox gave %v, want task %d", x, want.id)
		}
	}
}

// TestCloseStopsDrivers closes a cluster while operators are spawning into
// it. Any goroutine that posts an event may be driving a node's core, so
// Close must wait the drivers out: Audit, which reads the cores, must not
// race with them (go test -race), and spawning after Close fails cleanly.
func TestCloseStopsDrivers(t *testing.T) {
	p := testProgs(t)["sieve"]
	for range 5 {
		c := New(Config{Nodes: 2, Workers: 1, Quantum: 5000, NoSteal: true})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := c.Spawn(0, p.prog); err != nil {
						if !errors.Is(err, ErrNodeDown) {
							t.Errorf("Spawn after Close: %v, want ErrNodeDown", err)
						}
						return
					}
				}
			}()
		}
		time.Sleep(3 * time.Millisecond)
		c.Close()
		if a := c.Audit(); a == nil {
			t.Fatal("no audit")
		}
		wg.Wait()
	}
}

// TestLiveSpawnRacingCrash spawns on a node while it crashes. Every Spawn
// either returns ErrNodeDown (the isolate never existed) or an id that ends
// completed or lost with the crash: none is counted as lost by the
// protocol, and Wait returns.
func TestLiveSpawnRacingCrash(t *testing.T) {
	for round := 0; round < 20; round++ {
		c := New(Config{Nodes: 2, Workers: 1, NoSteal: true})
		p := tinyProg(t)
		want := map[IsolateID]*testProg{}
		crashed := make(chan struct{})
		go func() {
			time.Sleep(time.Duration(round*20) * time.Microsecond)
			c.Crash(0)
			close(crashed)
		}()
		refused := 0
		for i := 0; i < 200 && refused == 0; i++ {
			id, err := c.Spawn(0, p.prog)
			switch {
			case errors.Is(err, ErrNodeDown):
				refused++
			case err != nil:
				t.Fatal(err)
			default:
				want[id] = p
			}
		}
		<-crashed
		o, err := c.Wait(waitCtx(t))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if o.Spawned != len(want) {
			t.Fatalf("round %d: %d spawns returned an id, the cluster counts %d", round, len(want), o.Spawned)
		}
		checkOutcome(t, o, want, true)
		c.Close()
	}
}

// waitDozing waits until node n's ticker dozes (see liveNode.quiet).
func waitDozing(t *testing.T, n *liveNode) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !n.dozing.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the ticker of an idle node never dozed")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestLiveResendAfterDoze: a spawn and a move (or a drain) of the spawned
// isolate are handled in one drive on a node whose ticker dozes, so the
// control side claims the task back before any worker runs it. Its OFFER
// is lost (the link is cut, and healed once the move is handled): the resend must come
// at RTO, with the ticker awake, and not when the doze ends, after the
// offer timeout, which would abort the move. Found by a review: neither
// the driver nor a worker used to wake the ticker in this case.
func TestLiveResendAfterDoze(t *testing.T) {
	long, err := longLoop()
	if err != nil {
		t.Fatal(err)
	}
	// A doze of 100 ms; the offer times out at 80 ms, long after the
	// resend is due (RTO 2 ms) and long before the doze would end.
	cfg := Config{Nodes: 2, Workers: 1, NoSteal: true, Heartbeat: 2 * time.Millisecond, OfferTimeout: 80 * time.Millisecond}
	for _, kind := range []evKind{evMove, evDrain} {
		for round := 0; round < 3; round++ {
			log := newEventLog()
			cfg.OnEvent = log.on
			c := New(cfg)
			n := c.nodes[0]
			waitDozing(t, n)
			// Cut the link first, so that no heartbeat joins node 0's
			// events; then hold node 0 as if another goroutine were
			// driving it, so that the spawn and the move land in one drive.
			c.Net().Do(func(net *Net) { net.Cut(0, 1) })
			for !n.driving.CompareAndSwap(false, true) {
				runtime.Gosched()
			}
			// The spawn's event goes in first, then the move's: pushed
			// here, in this order, rather than by a goroutine whose
			// event may come after the move (or after a late
			// heartbeat), which made the move fail with ErrNotHere.
			iso, err := engine.New(long.prog, c.cfg.Limits)
			if err != nil {
				t.Fatal(err)
			}
			id := IsolateID(c.nextID.Add(1))
			sp := &event{kind: evSpawn, t: &task{id: id, iso: iso, prog: long.prog}, prog: long.prog, reply: make(chan error, 1)}
			ev := &event{kind: kind, id: id, to: 1, at: c.clock(), reply: make(chan error, 1), drained: make(chan struct{})}
			if !n.events.Push(sp) || !n.events.Push(ev) {
				t.Fatal("node 0's event inbox is full")
			}
			n.driving.Store(false)
			n.drive()
			if err := <-sp.reply; err != nil {
				t.Fatal(err)
			}
			if err := <-ev.reply; err != nil {
				t.Fatal(err)
			}
			// The move was handled in that drive: the spawned task was
			// still queued, so it was claimed, encoded and offered over
			// the cut link there and then (or, if a worker got to it
			// first, it is halted and offered once parked). Heal now:
			// what is lost must come back by a resend.
			c.Net().Do(func(net *Net) { net.HealLink(0, 1) })
			e := log.waitFor(t, "arrival or resume", func(e Event) bool {
				return (e.Kind == EvArrived || e.Kind == EvResumed) && e.ID == id
			})
			if e.Kind != EvArrived || e.Node != 1 {
				t.Fatalf("%v of a new isolate on a dozing node over a link healed after 1 ms: %v, want it to arrive on n1", kind, e)
			}
			c.Close()
		}
	}
}

// A Cluster on a given Transport (a Live the test owns): Net is nil, the
// real-network RTO applies, an isolate migrates, Crash silences a node and
// loses what it held, and Close leaves the transport to its owner.
func TestGivenTransport(t *testing.T) {
	p, err := longLoop()
	if err != nil {
		t.Fatal(err)
	}
	tr := NewLive(1, LinkConfig{})
	defer tr.Close()
	log := newEventLog()
	c := New(Config{Nodes: 3, Quantum: 5000, NoSteal: true, Transport: tr, Link: LinkConfig{Latency: time.Hour}, OnEvent: log.on})
	defer c.Close()
	if c.Net() != nil || c.Transport() != Transport(tr) || c.Config().RTO != DefaultRealRTO || c.Config().Link != (LinkConfig{}) {
		t.Fatalf("Net %v, Transport %v, config %+v", c.Net(), c.Transport(), c.Config())
	}
	moved, err := c.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	forever, err := lang.Compile("forever.kn", []byte(`func main() int {
	s := 0
	for i := 0; i < 4000000000000; i++ {
		s = (s + i) % 7
	}
	return s
}
`))
	if err != nil {
		t.Fatal(err)
	}
	lost, err := c.Spawn(2, forever) // still running when node 2 crashes, whenever that is
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MigrateAt(moved, 1, p.steps/10); err != nil {
		t.Fatal(err)
	}
	a := log.waitFor(t, "arrival", func(e Event) bool { return e.Kind == EvArrived && e.ID == moved })
	if a.Node != 1 {
		t.Fatalf("arrived %+v", a)
	}
	c.Crash(2)
	o, err := c.Wait(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, o, map[IsolateID]*testProg{moved: p}, true)
	if len(o.Completed) != 1 || o.Completed[0].ID != moved || len(o.CrashLost) != 1 || o.CrashLost[0] != lost {
		t.Fatalf("outcome %+v", o)
	}
}
