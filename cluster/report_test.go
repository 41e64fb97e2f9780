package cluster

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// Issue 12, item 14: the --load report must tell the truth. These parts of
// it need the cluster's internals; the rest is in package loadgen.

// overflowEvents holds node n's driver and feeds it heartbeats from node
// from until its event inbox has dropped at least k messages, then lets it
// drive again. It returns how many n has dropped.
func overflowEvents(n *liveNode, from NodeID, k int64) int64 {
	for !n.driving.CompareAndSwap(false, true) {
		runtime.Gosched()
	}
	for n.dropped.Load() < k {
		n.receive(from, appendHeartbeat(nil, Load{}))
	}
	dropped := n.dropped.Load()
	n.driving.Store(false)
	n.drive()
	return dropped
}

// TestEventDrops (b): messages that a full event inbox dropped are counted,
// over every node (a load report's event_drops is EventDrops), and the
// isolates running meanwhile still complete.
func TestEventDrops(t *testing.T) {
	c := New(Config{Nodes: 2})
	defer c.Close()
	p := tinyProg(t)
	want := map[IsolateID]*testProg{}
	for _, node := range []NodeID{0, 1} {
		id, err := c.Spawn(node, p.prog)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = p
	}
	if d := c.EventDrops(); d != 0 {
		t.Fatalf("%d drops before any inbox overflowed", d)
	}
	caused := overflowEvents(c.nodes[1], 0, 3) + overflowEvents(c.nodes[0], 1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o, err := c.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	checkOutcome(t, o, want, false)
	if got := c.EventDrops(); got < caused || caused < 5 {
		t.Fatalf("the test made the nodes drop %d messages; EventDrops says %d", caused, got)
	}
}

// TestSimDowntimeApartFromQueueWait (c, d): an isolate migrates to a node
// whose only worker is busy with a spinner for long quanta. Its downtime
// (halt request → taken and runnable on the target) stays about one link
// latency; the wait behind the spinner is reported as queue wait, and every
// summary carries its sample count.
func TestSimDowntimeApartFromQueueWait(t *testing.T) {
	spin := spinProg(t)
	p := tinyProg(t)
	const lat = 100 * time.Microsecond
	const quantum = 1_000_000 // 1 ms at 1 ns per instruction
	var running []Event
	s := NewSim(Config{Nodes: 2, Workers: 1, Quantum: quantum, NoSteal: true, Seed: 3, Link: LinkConfig{Latency: lat},
		OnEvent: func(e Event) {
			if e.Kind == EvRunning {
				running = append(running, e)
			}
		}})
	if _, err := s.Spawn(1, p.prog); err != nil { // caches the program on n1
		t.Fatal(err)
	}
	if _, err := s.Spawn(1, spin); err != nil {
		t.Fatal(err)
	}
	id, err := s.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MigrateAt(id, 1, 10000); err != nil {
		t.Fatal(err)
	}
	done := func() bool { return s.col.result(id) != nil }
	if !s.RunUntil(done, time.Second) {
		t.Fatal("the migrated isolate did not finish")
	}
	if len(running) != 1 {
		t.Fatalf("%d EvRunning events, want 1", len(running))
	}
	e := running[0]
	m := s.Metrics().Snapshot()
	if e.Downtime <= 0 || e.Downtime > 3*lat || e.QueueWait < 100*time.Microsecond {
		t.Fatalf("downtime %v (want about the %v link), queue wait %v (want the wait behind a 1 ms quantum)", e.Downtime, lat, e.QueueWait)
	}
	if m.Downtime.Count != 1 || m.QueueWait.Count != 1 || m.Downtime.Max > int64(3*lat) || m.QueueWait.Max < int64(100*time.Microsecond) {
		t.Fatalf("downtime %+v, queue wait %+v", m.Downtime, m.QueueWait)
	}
	if m.HaltLatency.Count != 1 || m.Completion.Count != m.Completions || m.Completions < 1 || m.OfferBytes.Count != 1 {
		t.Fatalf("sample counts: halt %d, completion %d, offers %d", m.HaltLatency.Count, m.Completion.Count, m.OfferBytes.Count)
	}
}
