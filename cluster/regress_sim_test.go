package cluster

import (
	"testing"
	"time"
)

// A link whose reorder window (3 s) is far longer than the horizon: a
// duplicated OFFER held back by reordering reaches node 1 after node 1 has
// finished the isolate and pruned its record. The tombstone must refuse it.
func TestSimLateDuplicateOfferAfterPrune(t *testing.T) {
	p := tinyProg(t)
	for seed := uint64(1); seed <= 20; seed++ {
		s := NewSim(Config{Nodes: 3, Seed: seed, NoSteal: true, Link: LinkConfig{Latency: 50 * time.Microsecond}})
		s.Net().SetLink(0, 1, LinkConfig{Latency: 50 * time.Microsecond, Duplicate: 1, Reorder: 0.5, ReorderWindow: 3 * time.Second})
		id, err := s.Spawn(0, p.prog)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.MigrateAt(id, 1, p.steps/3); err != nil {
			t.Fatal(err)
		}
		s.RunFor(4 * time.Second)
		checkOutcome(t, s.Outcome(), map[IsolateID]*testProg{id: p}, false)
	}
}

// The same with the cluster-wide Config.Link only.
func TestSimLateDuplicateOfferAfterPruneDefaultLink(t *testing.T) {
	p := tinyProg(t)
	for seed := uint64(1); seed <= 20; seed++ {
		s := NewSim(Config{Nodes: 3, Seed: seed, NoSteal: true, Link: LinkConfig{Latency: 50 * time.Microsecond, Duplicate: 0.5, Reorder: 0.2, ReorderWindow: 3 * time.Second}})
		id, err := s.Spawn(0, p.prog)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.MigrateAt(id, 1, p.steps/3); err != nil {
			t.Fatal(err)
		}
		s.RunFor(4 * time.Second)
		checkOutcome(t, s.Outcome(), map[IsolateID]*testProg{id: p}, false)
	}
}
