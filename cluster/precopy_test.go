package cluster

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster/ledger"
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
