package cluster

import (
	"testing"
	"time"
)

// A reorder window (3 s) far longer than the horizon: a duplicated OFFER
// held back by reordering reaches node 1 after node 1 has finished the
// isolate and pruned its record. The tombstone must refuse it, whether the
// late link is set per link (SetLink) or cluster-wide (Config.Link).
func TestSimLateDuplicateOfferAfterPrune(t *testing.T) {
	fast := LinkConfig{Latency: 50 * time.Microsecond}
	for _, tc := range []struct {
		name    string
		cluster LinkConfig
		link01  *LinkConfig // the 0 -> 1 link, if set apart
	}{
		{"per-link", fast, &LinkConfig{Latency: 50 * time.Microsecond, Duplicate: 1, Reorder: 0.5, ReorderWindow: 3 * time.Second}},
		{"default-link", LinkConfig{Latency: 50 * time.Microsecond, Duplicate: 0.5, Reorder: 0.2, ReorderWindow: 3 * time.Second}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tinyProg(t)
			for seed := uint64(1); seed <= 20; seed++ {
				s := NewSim(Config{Nodes: 3, Seed: seed, NoSteal: true, Link: tc.cluster})
				if tc.link01 != nil {
					s.Net().SetLink(0, 1, *tc.link01)
				}
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
		})
	}
}

// No attacker: node 0 drains while node 1, its only target, is past its
// memory budget. Each NACK(full) makes node 0 offer the isolate again, far
// more than maxUnverified times; once node 1 has room again, the drain
// must finish. (The review's reproducer filled node 1 with a real 512 KiB
// isolate; a budget smaller than the offer refuses the same way, fast.)
func TestSimDrainIntoFullNodeFinishes(t *testing.T) {
	long, err := compileTestProg("long", []byte(`func main() int {
	s := 0
	for i := 0; i < 100000000; i++ {
		s = (s + i) % 1000003
	}
	return s
}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSim(Config{Nodes: 2, Seed: 1, NoSteal: true})
	id, err := s.Spawn(0, long.prog)
	if err != nil {
		t.Fatal(err)
	}
	budget := s.cfg.MemoryBudget
	s.cfg.MemoryBudget = 1 // every OFFER is past it
	drained := false
	if err := s.Drain(0, func() { drained = true }); err != nil {
		t.Fatal(err)
	}
	s.RunUntil(func() bool { return s.nodes[1].core.proto.stats.Nacks > 2*maxUnverified }, time.Second)
	if n := s.nodes[1].core.proto.stats.Nacks; n <= 2*maxUnverified {
		t.Fatalf("only %d refusals; n1 %+v; n0 %+v; holds %v; now %v", n, s.nodes[1].core.proto.stats, s.nodes[0].core.proto.stats, s.Holds(0), s.Now())
	}
	s.cfg.MemoryBudget = budget // room again
	s.RunUntil(func() bool { return drained }, time.Second)
	if !drained {
		t.Fatalf("drain never finished once node 1 had room; n0 holds %v; n1 stats %+v, n0 stats %+v",
			s.Holds(0), s.nodes[1].core.proto.stats, s.nodes[0].core.proto.stats)
	}
	if w, ok := s.Where(id); !ok || w != 1 {
		t.Fatalf("isolate %d at %v (%v) after the drain, want node 1", id, w, ok)
	}
	if o := s.Outcome(); len(o.Duplicated) > 0 {
		t.Fatalf("duplicated: %v", o.Duplicated)
	}
}

// Review 2, defect 1, in the Sim on an honest network within its delay
// bound (reorder window 100 ms): once node 1 has answered node 0's ABORT
// from a fresh tombstone while OFFER copies are still held back by
// reordering, node 2 sends maxTombs[0] ABORTs for made-up isolates. The
// fresh tombstone must survive them (it is younger than the horizon), so
// no reordered OFFER copy is taken after the source resumed (seed 28 ran
// the isolate twice).
func TestSimFreshTombstoneSurvivesAbortFlood(t *testing.T) {
	p := tinyProg(t)
	hits := 0
	for seed := uint64(1); seed <= 30; seed++ {
		s := NewSim(Config{Nodes: 3, Seed: seed, NoSteal: true, Link: LinkConfig{Latency: 50 * time.Microsecond}})
		s.Net().SetLink(0, 1, LinkConfig{Latency: 50 * time.Microsecond, Reorder: 1, ReorderWindow: 100 * time.Millisecond})
		id, err := s.Spawn(0, p.prog)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.MigrateAt(id, 1, p.steps/3); err != nil {
			t.Fatal(err)
		}
		pr := s.nodes[1].core.proto
		if !s.RunUntil(func() bool { _, tomb := pr.tombs[id]; return tomb && pr.in[id] == nil }, time.Second) {
			continue
		}
		hits++
		floodAborts(s.Net(), s.Now(), 2, 1, 1<<40, pr.cfg.maxTombs[0])
		s.RunFor(2 * time.Second)
		if o := s.Outcome(); len(o.Duplicated) > 0 {
			t.Errorf("seed %d: duplicated %v", seed, o.Duplicated)
		}
	}
	if hits == 0 {
		t.Fatal("no seed reached an ABORT-made tombstone")
	}
}
