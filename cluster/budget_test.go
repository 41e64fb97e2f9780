package cluster

import (
	"errors"
	"testing"
	"time"
)

// Issue 12, item 2 (the cluster's part): a node past its memory budget
// refuses work rather than grow without bound.

// TestSimMemoryBudget: node 1 holds an isolate of 512 KiB of heap and has
// a budget of 768 KiB. A migration of a second such isolate to it is
// refused (the source keeps and finishes it: nothing lost or duplicated),
// a Spawn on it past the budget fails with ErrNodeFull, and once its isolate has finished
// it takes the next one.
func TestSimMemoryBudget(t *testing.T) {
	p, err := compileTestProg("big", []byte(bigSource))
	if err != nil {
		t.Fatal(err)
	}
	small := tinyProg(t)
	var resumed, arrived int
	s := NewSim(Config{Nodes: 2, Seed: 1, NoSteal: true, MemoryBudget: 1536 << 10, OnEvent: func(e Event) {
		switch e.Kind {
		case EvResumed:
			resumed++
		case EvArrived:
			arrived++
		}
	}})
	a, err := s.Spawn(1, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	// Both past their set-up loop (512 KiB of heap each), then b moves.
	half := p.steps / 2
	if err := s.MigrateAt(b, 1, half); err != nil {
		t.Fatal(err)
	}
	if !s.RunUntil(func() bool { return resumed > 0 }, time.Second) {
		t.Fatalf("the handoff to the full node was not refused (arrivals %d)", arrived)
	}
	core := s.nodes[1].core
	if got := core.mem.Load(); got < 512<<10 || got > 1536<<10 {
		t.Fatalf("node 1 accounts %d bytes for one isolate of 512 KiB", got)
	}
	// A spawn needs room for the new isolate's footprint: none is left
	// once the budget is down to what node 1 holds.
	s.cfg.MemoryBudget = core.mem.Load()
	if _, err := s.Spawn(1, small.prog); !errors.Is(err, ErrNodeFull) {
		t.Fatalf("spawn on a full node: %v, want ErrNodeFull", err)
	}
	s.cfg.MemoryBudget = 1536 << 10
	if !s.Run(10 * time.Second) {
		t.Fatal("did not settle")
	}
	checkOutcome(t, s.Outcome(), map[IsolateID]*testProg{a: p, b: p}, false)
	if o := s.Outcome(); o.Completed[1].Node != 0 || arrived != 0 {
		t.Fatalf("b completed on %v after %d arrivals, want on n0 with none", o.Completed[1].Node, arrived)
	}
	if got := core.mem.Load(); got != 0 {
		t.Fatalf("node 1 accounts %d bytes holding nothing", got)
	}
	c, err := s.Spawn(1, small.prog)
	if err != nil {
		t.Fatalf("spawn on an empty node: %v", err)
	}
	if !s.Run(10 * time.Second) {
		t.Fatal("did not settle")
	}
	checkOutcome(t, s.Outcome(), map[IsolateID]*testProg{a: p, b: p, c: small}, false)
}

// TestLiveSpawnPastBudget: a live node refuses a spawn past its budget with
// ErrNodeFull, and counts nothing for it.
func TestLiveSpawnPastBudget(t *testing.T) {
	c := New(Config{Nodes: 1, MemoryBudget: 1})
	defer c.Close()
	if _, err := c.Spawn(0, tinyProg(t).prog); !errors.Is(err, ErrNodeFull) {
		t.Fatalf("spawn: %v, want ErrNodeFull", err)
	}
	if n := c.Pending(); n != 0 {
		t.Fatalf("%d pending after a refused spawn", n)
	}
}
