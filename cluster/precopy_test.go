package cluster

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/engine"
)

// mutator writes a hot set of 4 pages of a 40-page array, now and then a
// word anywhere in it, and folds reads into its result: a heap large
// enough for rounds, written while the rounds go out.
var mutator = sync.OnceValues(func() (*testProg, error) {
	return compileTestProg("mutator", []byte(`func main() int {
	a := make([]int, 40000)
	s := 0
	x := 7
	for i := 0; i < 60000; i++ {
		x = (x*1103515245 + 12345) % 2147483648
		j := x % 4000
		if i%50 == 0 {
			j = x % 40000
		}
		a[j] += i
		s = (s + a[(x>>8)%40000]) % 1000003
	}
	return s
}
`))
})

func mutatorProg(t testing.TB) *testProg {
	p, err := mutator()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSimPreCopy moves the mutator live and checks that it ends as the
// straight run does, that rounds went out before the stop, and that the
// stop sent only part of the heap.
func TestSimPreCopy(t *testing.T) {
	tp := mutatorProg(t)
	for _, withLedger := range []bool{false, true} {
		t.Run(fmt.Sprintf("ledger=%v", withLedger), func(t *testing.T) {
			cfg := Config{Nodes: 2, Seed: 1, Quantum: 2000, NoSteal: true, Link: LinkConfig{Latency: 100 * time.Microsecond}}
			if withLedger {
				cfg.Ledger = ledger.NewMemory()
			}
			s := NewSim(cfg)
			id, _ := s.Spawn(0, tp.prog)
			s.RunFor(200 * time.Microsecond)
			if err := s.MigratePreCopy(id, 1, PreCopy{ChunkPages: 8, StopPages: 2}); err != nil {
				t.Fatal(err)
			}
			if err := s.MigratePreCopy(id, 1, PreCopy{}); err != ErrBusy {
				t.Errorf("a second live migration of the same isolate: %v, want ErrBusy", err)
			}
			if !s.Run(10 * time.Second) {
				t.Fatal("did not settle")
			}
			checkOutcome(t, s.Outcome(), map[IsolateID]*testProg{id: tp}, false)
			snap := s.Metrics().Snapshot()
			pc := snap.PreCopy
			t.Logf("%+v", pc)
			if snap.Migrations != 1 || pc.RoundsDone < 1 || pc.Pages < 40 || pc.Converged+pc.Forced != 1 {
				t.Errorf("migrations %d, precopy %+v: want one live migration with at least one full round", snap.Migrations, pc)
			}
			if pc.FinalPages.Max >= 40 {
				t.Errorf("the stop sent %v pages of 40", pc.FinalPages.Max)
			}
		})
	}
}

// TestSimPreCopyCrashAtEachStep starts a live migration, then crashes the
// source or the target at every step of it, mid-round included, over a
// lossy link, with and without the ledger: the isolate completes exactly
// once with the straight run's result and hash, or is lost with its
// crashed owner, never run twice.
func TestSimPreCopyCrashAtEachStep(t *testing.T) {
	tp := mutatorProg(t)
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	step := 300 * time.Microsecond
	if testing.Short() {
		step = 900 * time.Microsecond
	}
	for _, withLedger := range []bool{false, true} {
		for _, victim := range []NodeID{0, 1} {
			for _, loss := range []float64{0, 0.1} {
				for at := time.Duration(0); at <= 12*time.Millisecond; at += step {
					name := fmt.Sprintf("ledger=%v/victim=%v/loss=%v/at=%v", withLedger, victim, loss, at)
					cfg := Config{Nodes: 3, Seed: uint64(at) + 1, Quantum: 2000, NoSteal: true,
						Link: LinkConfig{Latency: 200 * time.Microsecond, Loss: loss}}
					if withLedger {
						cfg.Ledger = ledger.NewMemory()
					}
					s := NewSim(cfg)
					id, _ := s.Spawn(0, tp.prog)
					s.RunFor(50 * time.Microsecond)
					if err := s.MigratePreCopy(id, 1, PreCopy{ChunkPages: 4, StopPages: 2, AutoConverge: true}); err != nil {
						t.Fatal(err)
					}
					s.RunFor(at)
					s.Crash(victim)
					if !s.Run(20 * time.Second) {
						t.Fatalf("%s: did not settle", name)
					}
					o := s.Outcome()
					t.Run(name, func(t *testing.T) { checkOutcome(t, o, map[IsolateID]*testProg{id: tp}, true) })
					snap := s.Metrics().Snapshot()
					switch {
					case len(o.Missing) > 0:
						outcomes["lost with the crashed owner"]++
					case snap.Migrations > 0:
						outcomes["target took it"]++
					case snap.FailedHandoffs > 0:
						outcomes["final refused, source resumed"]++
					default:
						outcomes["never stopped: ran on at the source"]++
					}
				}
			}
		}
	}
}

// pagesMsg builds a PAGES message of isolate id's live migration session.
func pagesMsg(id IsolateID, session uint64, seq uint32, heap []byte, pages []uint32) []byte {
	b := []byte{byte(mPages), 0, 0, 0, 0, 0, 0, 0}
	return codec.AppendPages(b, codec.PagesHeader{Isolate: uint64(id), Session: session, Seq: seq}, heap, pages)
}

// TestStageSurvivesStragglers: a late chunk of an older session of the
// same sender and isolate, or a newer session's chunk that is not its
// first, leaves the current session's stage alone (a review found the
// first dropping it); a newer session's first chunk replaces it.
func TestStageSurvivesStragglers(t *testing.T) {
	s := NewSim(Config{Nodes: 2, Seed: 1, NoSteal: true})
	c := s.nodes[1].core
	heap := make([]byte, 4*engine.PageSize)
	const id = IsolateID(77)
	key := stageKey{0, id}
	c.message(0, pagesMsg(id, 2, 0, heap, []uint32{0, 1}))
	c.message(0, pagesMsg(id, 2, 1, heap, []uint32{2}))
	c.message(0, pagesMsg(id, 1, 3, heap, []uint32{3})) // older session
	c.message(0, pagesMsg(id, 3, 5, heap, []uint32{3})) // newer, not its start
	c.message(0, pagesMsg(id, 2, 1, heap, []uint32{2})) // a duplicate
	if st := c.stages[key]; st == nil || st.session != 2 || st.asm.Next() != 2 {
		t.Fatalf("stage %+v: want session 2 with its 2 chunks", st)
	}
	c.message(0, pagesMsg(id, 2, 2, heap, []uint32{3}))
	if st := c.stages[key]; st == nil || st.asm.Next() != 3 {
		t.Fatal("the current session's next chunk was not taken")
	}
	c.message(0, pagesMsg(id, 4, 0, heap, []uint32{0}))
	if st := c.stages[key]; st == nil || st.session != 4 {
		t.Fatal("a newer session's first chunk did not replace the stage")
	}
}

// TestStagesBounded: a member opening a stage per isolate with one tiny
// page each holds at most maxStages, each charged stageOverhead, and the
// bytes charged come back when the stages go.
func TestStagesBounded(t *testing.T) {
	s := NewSim(Config{Nodes: 2, Seed: 1, NoSteal: true})
	c := s.nodes[1].core
	heap := make([]byte, 8)
	for i := range 3 * maxStages {
		c.message(0, pagesMsg(IsolateID(1000+i), 5, 0, heap, []uint32{0}))
	}
	if len(c.stages) != maxStages || c.stagedBytes < int64(maxStages)*stageOverhead || c.mem.Load() != c.stagedBytes {
		t.Fatalf("%d stages, %d bytes staged, %d reserved: want %d stages charged at least %d bytes each", len(c.stages), c.stagedBytes, c.mem.Load(), maxStages, stageOverhead)
	}
	c.now += c.stageTTL() + time.Second
	c.expireStages()
	if len(c.stages) != 0 || c.stagedBytes != 0 || c.mem.Load() != 0 {
		t.Fatalf("after the TTL: %d stages, %d bytes staged, %d reserved", len(c.stages), c.stagedBytes, c.mem.Load())
	}
}

// TestPreCopyClosingQuantum checks that the stop carries what the closing
// quantum wrote, not what a whole quantum did: the program writes a new
// page every few hundred instructions, some 6 pages a quantum (under
// StopPages, so it converges) and at most one in a sixteenth of one.
func TestPreCopyClosingQuantum(t *testing.T) {
	tp, err := compileTestProg("pagewalker", []byte(`func main() int {
	a := make([]int, 80000)
	s := 0
	for i := 0; i < 100000; i++ {
		a[(i*1024)%80000] = i
		for j := 0; j < 100; j++ {
			s += j
		}
	}
	return s + a[5*1024]
}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSim(Config{Nodes: 2, Seed: 1, Quantum: 2000, NoSteal: true, Link: LinkConfig{Latency: 100 * time.Microsecond}})
	id, _ := s.Spawn(0, tp.prog)
	s.RunFor(200 * time.Microsecond)
	if err := s.MigratePreCopy(id, 1, PreCopy{}); err != nil {
		t.Fatal(err)
	}
	if !s.Run(10 * time.Second) {
		t.Fatal("did not settle")
	}
	checkOutcome(t, s.Outcome(), map[IsolateID]*testProg{id: tp}, false)
	pc := s.Metrics().Snapshot().PreCopy
	t.Logf("%+v", pc)
	if pc.Converged != 1 || pc.FinalSent > 1 {
		t.Errorf("precopy %+v: want one converged live migration whose stop sends at most 1 page", pc)
	}
}

// TestPreCopyStopBounded checks that a burst of writes in the closing
// quantum does not go into the stop: a program that spins, then writes 40
// pages at once, is moved live from 60 points of its run, and no stop may
// carry more than StopPages pages unless MaxRounds forced it. Each live
// migration that stops is counted once, converged or forced. The Sim is
// deterministic: one of the 60 starts puts a burst in the closing
// quantum, and the test fails if none does.
func TestPreCopyStopBounded(t *testing.T) {
	tp, err := compileTestProg("burst", []byte(`func main() int {
	a := make([]int, 40960)
	s := 0
	for r := 0; r < 400; r++ {
		for j := 0; j < 6000; j++ {
			s += j
		}
		for p := 0; p < 40; p++ {
			a[p*1024] = r
		}
	}
	return s + a[1024]
}
`))
	if err != nil {
		t.Fatal(err)
	}
	const stopPages = 8
	reopened := int64(0)
	for at := 0; at < 60; at++ {
		s := NewSim(Config{Nodes: 2, Seed: 1, Quantum: 2000, NoSteal: true, Link: LinkConfig{Latency: 100 * time.Microsecond}})
		id, _ := s.Spawn(0, tp.prog)
		s.RunFor(time.Duration(200+at*37) * time.Microsecond)
		if err := s.MigratePreCopy(id, 1, PreCopy{StopPages: stopPages}); err != nil {
			t.Fatal(err)
		}
		if !s.Run(10 * time.Second) {
			t.Fatal("did not settle")
		}
		checkOutcome(t, s.Outcome(), map[IsolateID]*testProg{id: tp}, false)
		pc := s.Metrics().Snapshot().PreCopy
		if pc.Forced == 0 && pc.FinalPages.Max > stopPages {
			t.Errorf("start at %d: a converged stop sent %d pages, want at most %d: %+v", at, pc.FinalPages.Max, stopPages, pc)
		}
		if pc.Converged+pc.Forced != pc.FinalPages.Count {
			t.Errorf("start at %d: %d converged + %d forced, but %d stops", at, pc.Converged, pc.Forced, pc.FinalPages.Count)
		}
		reopened += pc.Reopened
	}
	t.Logf("%d closing quanta wrote more than %d pages", reopened, stopPages)
	if reopened == 0 {
		t.Error("no closing quantum wrote more than StopPages: the sweep no longer tests the bound")
	}
}

// TestPreCopyToCrashedTarget crashes the target of a live migration while
// its rounds go out. Once the source knows, the stop finds its target
// down and the isolate runs on at the source, where a new live migration,
// to another node, must then be taken (not refused as busy) and complete.
func TestPreCopyToCrashedTarget(t *testing.T) {
	tp := mutatorProg(t)
	s := NewSim(Config{Nodes: 3, Seed: 1, Quantum: 2000, NoSteal: true, DetectDelay: 10 * time.Microsecond,
		Link: LinkConfig{Latency: 100 * time.Microsecond}})
	id, _ := s.Spawn(0, tp.prog)
	s.RunFor(200 * time.Microsecond)
	if err := s.MigratePreCopy(id, 1, PreCopy{ChunkPages: 1}); err != nil {
		t.Fatal(err)
	}
	s.RunFor(100 * time.Microsecond)
	s.Crash(1)
	var err error
	for range 1000 {
		s.RunFor(50 * time.Microsecond)
		if err = s.MigratePreCopy(id, 2, PreCopy{}); err != ErrBusy {
			break
		}
	}
	if err != nil {
		t.Fatalf("a live migration to n2 after n1 crashed: %v", err)
	}
	if !s.Run(10 * time.Second) {
		t.Fatal("did not settle")
	}
	checkOutcome(t, s.Outcome(), map[IsolateID]*testProg{id: tp}, false)
	snap := s.Metrics().Snapshot()
	if snap.Migrations != 1 || snap.PreCopy.Converged+snap.PreCopy.Forced != snap.PreCopy.FinalPages.Count {
		t.Errorf("%d migrations, pre-copy %+v: want one, to n2, and every final counted once", snap.Migrations, snap.PreCopy)
	}
}
