package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster/ledger"
)

// tinySource is a small workload for sweeps: an array on the heap, a loop,
// about 60 000 instructions.
const tinySource = `func main() int {
	a := []int{}
	for i := 0; i < 200; i++ {
		a = append(a, i*7%13)
	}
	s := 0
	for r := 0; r < 40; r++ {
		for i := 0; i < len(a); i++ {
			s = (s*31 + a[i] + r) % 1000003
		}
	}
	return s
}
`

var tinyOnce = sync.OnceValues(func() (*testProg, error) {
	return compileTestProg("tiny", []byte(tinySource))
})

func tinyProg(t testing.TB) *testProg {
	p, err := tinyOnce()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSimMoveFinishedUnconfirmed asks to move an isolate that has finished
// on its new node but waits there for its CONFIRM (the ACK crawls back
// over a 3 ms link). Both kinds of move must say it is not running
// anywhere, rather than accept a move that can never happen, and it must
// then complete exactly once where it finished.
func TestSimMoveFinishedUnconfirmed(t *testing.T) {
	p := tinyProg(t)
	s := NewSim(Config{Nodes: 3, Seed: 1})
	s.Net().SetLink(1, 0, LinkConfig{Latency: 3 * time.Millisecond})
	id, err := s.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Spawn(1, p.prog) // caches the program on n1: no fetch over the slow link
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(id, 1); err != nil {
		t.Fatal(err)
	}
	s.RunFor(time.Millisecond) // arrived, finished (60 µs of work), no CONFIRM yet
	if at, _ := s.Where(id); at != 1 || s.Pending() != 1 {
		t.Fatalf("at %v, %d pending: the scenario did not set up", at, s.Pending())
	}
	if err := s.Migrate(id, 2); !errors.Is(err, ErrNoSuchIsolate) {
		t.Errorf("Migrate of a finished isolate: %v, want ErrNoSuchIsolate", err)
	}
	if err := s.MigrateAt(id, 2, 1); !errors.Is(err, ErrNoSuchIsolate) {
		t.Errorf("MigrateAt of a finished isolate: %v, want ErrNoSuchIsolate", err)
	}
	if !s.Run(time.Second) {
		t.Fatal("did not settle")
	}
	o := s.Outcome()
	checkOutcome(t, o, map[IsolateID]*testProg{id: p, other: p}, false)
	for _, c := range o.Completed {
		if c.Node != 1 {
			t.Fatalf("%v completed on %v, want n1", c.ID, c.Node)
		}
	}
}

// TestSimRoute plans three hops in one request, over a lossy link: each
// node plans the next stop as it takes the isolate, so every hop halts at
// its planned instruction count whatever the timing, and the isolate ends
// where the route does with its straight-run result.
func TestSimRoute(t *testing.T) {
	p := tinyProg(t)
	var events []Event
	s := NewSim(Config{Nodes: 4, Quantum: 3000, Seed: 5, Link: LinkConfig{Latency: 300 * time.Microsecond, Loss: 0.2},
		OnEvent: func(e Event) { events = append(events, e) }})
	id, err := s.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	stops := []Stop{{To: 1, At: p.steps / 4}, {To: 2, At: p.steps / 2}, {To: 3, At: 3 * p.steps / 4}}
	if err := s.MigrateAt(id, stops[0].To, stops[0].At, stops[1:]...); err != nil {
		t.Fatal(err)
	}
	if !s.Run(time.Minute) {
		t.Fatal("did not settle")
	}
	o := s.Outcome()
	checkOutcome(t, o, map[IsolateID]*testProg{id: p}, false)
	if c := o.Completed[0]; c.Node != 3 {
		t.Fatalf("completed on %v, want n3 at the route's end", c.Node)
	}
	var halted, arrived []Event
	for _, e := range events {
		switch e.Kind {
		case EvHalted:
			halted = append(halted, e)
		case EvArrived:
			arrived = append(arrived, e)
		case EvResumed:
			t.Fatalf("a hop failed: %v", e)
		}
	}
	if len(halted) != len(stops) || len(arrived) != len(stops) {
		t.Fatalf("%d halts and %d arrivals, want %d each", len(halted), len(arrived), len(stops))
	}
	for i, st := range stops {
		// A worker stops at the first safepoint at or after the planned
		// count; safepoints come at least every 1024 instructions.
		if h := halted[i]; h.Peer != st.To || h.Steps < st.At || h.Steps > st.At+1024 {
			t.Errorf("hop %d halted at %d instructions for %v, planned %d for %v", i+1, h.Steps, h.Peer, st.At, st.To)
		}
		if a := arrived[i]; a.Node != st.To || a.Hash != halted[i].Hash {
			t.Errorf("hop %d arrived on %v (hash match %v), planned %v", i+1, a.Node, a.Hash == halted[i].Hash, st.To)
		}
	}
}

// arrivals lists the nodes isolate id arrived on, in order.
func arrivals(events []Event, id IsolateID) (nodes []NodeID) {
	for _, e := range events {
		if e.ID == id && e.Kind == EvArrived {
			nodes = append(nodes, e.Node)
		}
	}
	return nodes
}

// routeSim runs tinyProg on node 0 of a 4-node simulator whose isolate is
// still running after a few milliseconds, recording events.
func routeSim(t *testing.T, link LinkConfig) (*Sim, *testProg, IsolateID, *[]Event) {
	p := tinyProg(t)
	events := new([]Event)
	s := NewSim(Config{Nodes: 4, NoSteal: true, Quantum: 3000, Seed: 5, StepCost: time.Microsecond, Link: link,
		OnEvent: func(e Event) { *events = append(*events, e) }})
	id, err := s.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	return s, p, id, events
}

// A route survives only the hops it planned: an operator's move (even
// while the isolate waits for its CONFIRM, when its next stop is already
// set), a drain, or a failed hop ends it, and the isolate stays where that
// left it.
func TestSimRouteEndsOnOtherMoves(t *testing.T) {
	settle := func(t *testing.T, s *Sim, p *testProg, id IsolateID, events *[]Event, want ...NodeID) {
		t.Helper()
		if !s.Run(time.Minute) {
			t.Fatal("did not settle")
		}
		o := s.Outcome()
		checkOutcome(t, o, map[IsolateID]*testProg{id: p}, false)
		if got := arrivals(*events, id); !slices.Equal(got, want) {
			t.Fatalf("arrived on %v, want %v", got, want)
		}
		if c := o.Completed[0]; c.Node != want[len(want)-1] {
			t.Fatalf("completed on %v, want %v", c.Node, want[len(want)-1])
		}
	}
	// drainEnds drains node 0, which holds the isolate, and checks that the
	// drain's hop is the isolate's last: what came before ended the route.
	drainEnds := func(t *testing.T, s *Sim, p *testProg, id IsolateID, events *[]Event, what string) {
		t.Helper()
		if err := s.Drain(0, nil); err != nil {
			t.Fatal(err)
		}
		if !s.Run(time.Minute) {
			t.Fatal("did not settle")
		}
		got := arrivals(*events, id)
		if len(got) != 1 {
			t.Fatalf("arrived on %v: %s should have ended the route", got, what)
		}
		settle(t, s, p, id, events, got[0])
	}
	t.Run("operator move while unconfirmed", func(t *testing.T) {
		s, p, id, events := routeSim(t, LinkConfig{Latency: time.Millisecond})
		s1 := p.steps / 4
		if err := s.MigrateAt(id, 1, s1, Stop{To: 2, At: s1 + 300}); err != nil {
			t.Fatal(err)
		}
		if !s.RunUntil(func() bool { return len(arrivals(*events, id)) == 1 }, time.Minute) {
			t.Fatal("hop 1 never arrived")
		}
		if err := s.Migrate(id, 3); err != nil {
			t.Fatal(err)
		}
		settle(t, s, p, id, events, 1, 3)
	})
	t.Run("drain before the first stop", func(t *testing.T) {
		s, p, id, events := routeSim(t, LinkConfig{})
		if err := s.MigrateAt(id, 3, p.steps/4, Stop{To: 2, At: p.steps / 2}); err != nil {
			t.Fatal(err)
		}
		s.RunFor(100 * time.Microsecond)
		drainEnds(t, s, p, id, events, "the drain's hop")
	})
	t.Run("failed hop", func(t *testing.T) {
		s, p, id, events := routeSim(t, LinkConfig{})
		if err := s.MigrateAt(id, 1, p.steps/4, Stop{To: 3, At: p.steps / 2}); err != nil {
			t.Fatal(err)
		}
		s.Crash(1)
		s.RunFor(20 * time.Millisecond) // past the stop, and n0 knows n1 is down
		if got := arrivals(*events, id); len(got) != 0 {
			t.Fatalf("arrived on %v before the drain", got)
		}
		drainEnds(t, s, p, id, events, "the failed hop")
	})
}

func TestMigrateAtRejectsBadRoutes(t *testing.T) {
	s := NewSim(Config{Nodes: 3, Seed: 1})
	id, err := s.Spawn(0, tinyProg(t).prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		stops []Stop
	}{
		{"no such node", []Stop{{To: 7, At: 200}}},
		{"to where it already is", []Stop{{To: 1, At: 200}}},
		{"not later", []Stop{{To: 2, At: 100}}},
		{"too long", longRoute(MaxRoute + 1)},
	} {
		if err := s.MigrateAt(id, 1, 100, c.stops...); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if err := s.MigrateAt(id, 1, 100, longRoute(MaxRoute)...); err != nil {
		t.Errorf("a route of MaxRoute stops: %v", err)
	}
	if err := s.MigrateAt(id, 0, 100, Stop{To: 1, At: 200}); err == nil {
		t.Error("a route whose first stop is where the isolate is: accepted")
	}
}

// longRoute returns n valid stops after a first one to n1 at 100
// instructions: alternating n2 and n1, each 100 instructions later.
func longRoute(n int) []Stop {
	r := make([]Stop, n)
	for i := range r {
		r[i] = Stop{To: NodeID(2 - i%2), At: uint64(200 + 100*i)}
	}
	return r
}

func TestSimDeterministic(t *testing.T) {
	for _, withLedger := range []bool{false, true} {
		t.Run(fmt.Sprintf("ledger=%v", withLedger), func(t *testing.T) { testSimDeterministic(t, withLedger) })
	}
}

func testSimDeterministic(t *testing.T, withLedger bool) {
	run := func() string {
		var b strings.Builder
		cfg := Config{Nodes: 3, Workers: 2, Seed: 3, Quantum: 4000,
			Link:    LinkConfig{Latency: 300 * time.Microsecond, Jitter: 200 * time.Microsecond, Loss: 0.1, Duplicate: 0.05, Reorder: 0.1},
			OnEvent: func(e Event) { fmt.Fprintf(&b, "%v\n", e) }}
		if withLedger {
			cfg.Ledger = ledger.NewMemory()
		}
		s := NewSim(cfg)
		var ids []IsolateID
		for i := 0; i < 8; i++ {
			id, _ := s.Spawn(0, tinyProg(t).prog)
			ids = append(ids, id)
		}
		s.At(100*time.Microsecond, func() { s.Migrate(ids[2], 2) })
		s.At(200*time.Microsecond, func() { s.Crash(1) })
		if !s.Run(10 * time.Second) {
			t.Fatal("did not settle")
		}
		fmt.Fprintf(&b, "%+v\n%+v\n", s.Metrics().Snapshot(), s.Net().Stats())
		return b.String()
	}
	a, b := run(), run()
	if a != b {
		t.Fatalf("two runs with one seed differ")
	}
}

// TestSimCrashAtEachStep crashes the source or the target of a handoff of
// a running isolate at every 100 µs of virtual time across the handoff
// (1 ms links, so every message step is hit several times), with and
// without message loss, and with the program cached at the target or not.
// Nothing may be lost unless the crashed node owned it, nothing may
// complete twice, and every completion must match the straight run.
func TestSimCrashAtEachStep(t *testing.T) {
	tp := tinyProg(t)
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	step := 150 * time.Microsecond
	if testing.Short() {
		step = 300 * time.Microsecond
	}
	for _, withLedger := range []bool{false, true} {
		for _, victim := range []NodeID{0, 1} {
			for _, loss := range []float64{0, 0.25} {
				for _, cached := range []bool{false, true} {
					for at := time.Duration(0); at <= 9*time.Millisecond; at += step {
						name := fmt.Sprintf("ledger=%v/victim=%v/loss=%v/cached=%v/at=%v", withLedger, victim, loss, cached, at)
						cfg := Config{Nodes: 3, Seed: uint64(at), Quantum: 2000, NoSteal: true,
							Link: LinkConfig{Latency: time.Millisecond, Loss: loss}}
						if withLedger {
							cfg.Ledger = ledger.NewMemory()
						}
						s := NewSim(cfg)
						want := map[IsolateID]*testProg{}
						id, _ := s.Spawn(0, tp.prog)
						want[id] = tp
						if cached {
							id2, _ := s.Spawn(1, tp.prog)
							want[id2] = tp
						}
						s.RunFor(5 * time.Microsecond)
						if err := s.Migrate(id, 1); err != nil {
							t.Fatal(err)
						}
						s.RunFor(at)
						s.Crash(victim)
						if !s.Run(10 * time.Second) {
							t.Fatalf("%s: did not settle", name)
						}
						o := s.Outcome()
						t.Run(name, func(t *testing.T) { checkOutcome(t, o, want, true) })
						if len(o.Missing) > 1 {
							t.Fatalf("%s: %d missing", name, len(o.Missing))
						}
						snap := s.Metrics().Snapshot()
						switch {
						case len(o.Missing) > 0:
							outcomes["lost with the crashed owner"]++
						case snap.FailedHandoffs > 0:
							outcomes["source resumed"]++
						case snap.Migrations > 0:
							outcomes["target took it"]++
						default:
							outcomes["target kept it, source crashed"]++
						}
					}
				}
			}
		}
	}
}

// makespanRun spawns n isolates on node 0 of a 4-node, 1-worker Sim and
// returns makespan ÷ ideal (total instructions ÷ 4 workers).
func makespanRun(t testing.TB, n int, noSteal bool) (ratio float64, s *Sim) {
	l := []*testProg{tinyProg(t)}
	s = NewSim(Config{Nodes: 4, Workers: 1, NoSteal: noSteal, Seed: 1, Quantum: 5000, StepCost: 10 * time.Nanosecond})
	want := map[IsolateID]*testProg{}
	var work uint64
	for i := 0; i < n; i++ {
		p := l[i%len(l)]
		id, _ := s.Spawn(0, p.prog)
		want[id] = p
		work += p.steps
	}
	if !s.Run(time.Hour) {
		t.Fatal("did not settle")
	}
	checkOutcome(t, s.Outcome(), want, false)
	ideal := time.Duration(work) * s.Config().StepCost / 4
	return float64(s.Metrics().Snapshot().Makespan) / float64(ideal), s
}

func TestSimStealingMakespan(t *testing.T) {
	n := 64
	if testing.Short() {
		n = 32
	}
	steal, s := makespanRun(t, n, false)
	noSteal, _ := makespanRun(t, n, true)
	snap := s.Metrics().Snapshot()
	t.Logf("makespan/ideal: stealing %.3f, no stealing %.3f (%.2fx); inter steals %d/%d, isolates stolen %d",
		steal, noSteal, noSteal/steal, snap.InterStealOK, snap.InterStealTried, snap.InterStolen)
	if steal > 1.2 || noSteal/steal < 3 {
		t.Fatalf("makespan/ideal %.3f with stealing, %.3f without", steal, noSteal)
	}
}

func TestSimDrain(t *testing.T) {
	s := NewSim(Config{Nodes: 3, Workers: 2, NoSteal: true, Quantum: 3000, Seed: 9,
		Link: LinkConfig{Latency: 200 * time.Microsecond, Loss: 0.1}})
	want := map[IsolateID]*testProg{}
	for i := 0; i < 10; i++ {
		id, _ := s.Spawn(1, tinyProg(t).prog)
		want[id] = tinyProg(t)
	}
	s.RunFor(50 * time.Microsecond)
	drained := time.Duration(-1)
	if err := s.Drain(1, func() { drained = s.Now() }); err != nil {
		t.Fatal(err)
	}
	s.RunUntil(func() bool { return drained >= 0 }, time.Minute)
	if drained < 0 || len(s.Holds(1)) != 0 {
		t.Fatalf("not drained: holds %v", s.Holds(1))
	}
	// Spawning on a drained node hands the isolate on at once.
	id, _ := s.Spawn(1, tinyProg(t).prog)
	want[id] = tinyProg(t)
	if !s.Run(time.Minute) {
		t.Fatal("did not settle")
	}
	o := s.Outcome()
	checkOutcome(t, o, want, false)
	for _, c := range o.Completed {
		if c.Node == 1 {
			t.Fatalf("isolate %d completed on the drained node", c.ID)
		}
	}
}

// TestSimDrainWithoutTargetChangesNothing: a Drain that finds no node to
// move to fails with ErrNoTarget and leaves the node as it was, running its
// isolates and accepting work, instead of refusing offers for good.
func TestSimDrainWithoutTargetChangesNothing(t *testing.T) {
	s := NewSim(Config{Nodes: 2, Workers: 1, NoSteal: true, Quantum: 3000, Seed: 4, StepCost: time.Microsecond}) // still running when the drain comes
	want := map[IsolateID]*testProg{}
	for i := 0; i < 3; i++ {
		id, _ := s.Spawn(0, tinyProg(t).prog)
		want[id] = tinyProg(t)
	}
	s.Crash(1)
	s.RunFor(2 * s.cfg.DetectDelay) // node 0 learns that node 1 is down
	if err := s.Drain(0, func() { t.Error("a failed drain reported the node drained") }); !errors.Is(err, ErrNoTarget) {
		t.Fatalf("Drain with no live peer = %v, want ErrNoTarget", err)
	}
	if c := s.nodes[0].core; c.draining || c.onDrained != nil {
		t.Fatalf("failed Drain left draining=%v, onDrained set=%v", c.draining, c.onDrained != nil)
	}
	if !s.Run(time.Minute) {
		t.Fatal("did not settle")
	}
	checkOutcome(t, s.Outcome(), want, false)
}

// TestSimScenarios runs the scenario files in testdata/scenarios, each
// under several seeds. A failing run names its file and seed.
func TestSimScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/scenarios/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for _, f := range files {
		sc, err := parseScenario(f)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < seeds; k++ {
			seed := sc.cfg.Seed + uint64(k)
			for _, withLedger := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/seed=%d/ledger=%v", filepath.Base(f), seed, withLedger), func(t *testing.T) {
					sc.run(t, seed, withLedger)
				})
			}
		}
	}
}

type scenario struct {
	cfg    Config
	spawns []scenarioSpawn
	steps  []scenarioStep
	expect map[string]int
	limit  time.Duration
}

type scenarioSpawn struct {
	node  NodeID
	prog  string
	count int
}

type scenarioStep struct {
	at   time.Duration
	args []string
	line int
}

// parseScenario reads a scenario file. Lines:
//
//	nodes N | workers N | seed N | quantum N | stepcost DURATION |
//	nosteal | limit DURATION
//	link key=value...          latency jitter bandwidth loss dup reorder
//	spawn NODE PROGRAM COUNT   PROGRAM is a testdata/*.kn name or "tiny"
//	at DURATION COMMAND...     migrate ID NODE | migrate-all FROM TO |
//	                           cut A B | heal A B | isolate N | healnode N |
//	                           crash N | drain N
//	expect KEY [N]             complete | crashloss | migrations N |
//	                           intersteals N | notcompletedon NODE
func parseScenario(path string) (*scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := &scenario{expect: map[string]int{}, limit: time.Minute}
	sc.cfg.Seed = 1
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
	}
	in := bufio.NewScanner(f)
	for line := 1; in.Scan(); line++ {
		text, _, _ := strings.Cut(in.Text(), "#")
		w := strings.Fields(text)
		if len(w) == 0 {
			continue
		}
		num := func(i int) int {
			if i >= len(w) {
				err = bad(line, "missing argument")
				return 0
			}
			n, e := strconv.Atoi(w[i])
			if e != nil {
				err = bad(line, "%v", e)
			}
			return n
		}
		switch w[0] {
		case "nodes":
			sc.cfg.Nodes = num(1)
		case "workers":
			sc.cfg.Workers = num(1)
		case "seed":
			sc.cfg.Seed = uint64(num(1))
		case "quantum":
			sc.cfg.Quantum = int64(num(1))
		case "stepcost":
			if sc.cfg.StepCost, err = time.ParseDuration(w[1]); err != nil {
				return nil, bad(line, "%v", err)
			}
		case "nosteal":
			sc.cfg.NoSteal = true
		case "limit":
			if sc.limit, err = time.ParseDuration(w[1]); err != nil {
				return nil, bad(line, "%v", err)
			}
		case "link":
			for _, kv := range w[1:] {
				k, v, _ := strings.Cut(kv, "=")
				var d time.Duration
				var x float64
				if strings.HasSuffix(v, "s") {
					d, err = time.ParseDuration(v)
				} else {
					x, err = strconv.ParseFloat(v, 64)
				}
				if err != nil {
					return nil, bad(line, "%v", err)
				}
				switch k {
				case "latency":
					sc.cfg.Link.Latency = d
				case "jitter":
					sc.cfg.Link.Jitter = d
				case "bandwidth":
					sc.cfg.Link.Bandwidth = x
				case "loss":
					sc.cfg.Link.Loss = x
				case "dup":
					sc.cfg.Link.Duplicate = x
				case "reorder":
					sc.cfg.Link.Reorder = x
				default:
					return nil, bad(line, "unknown link key %q", k)
				}
			}
		case "spawn":
			sc.spawns = append(sc.spawns, scenarioSpawn{node: NodeID(num(1)), prog: w[2], count: num(3)})
		case "at":
			d, e := time.ParseDuration(w[1])
			if e != nil || len(w) < 3 {
				return nil, bad(line, "bad step")
			}
			sc.steps = append(sc.steps, scenarioStep{at: d, args: w[2:], line: line})
		case "expect":
			n := 0
			if len(w) > 2 {
				n = num(2)
			}
			sc.expect[w[1]] = n
		default:
			return nil, bad(line, "unknown directive %q", w[0])
		}
		if err != nil {
			return nil, err
		}
	}
	return sc, in.Err()
}

func (sc *scenario) run(t *testing.T, seed uint64, withLedger bool) {
	cfg := sc.cfg
	cfg.Seed = seed
	if withLedger {
		cfg.Ledger = ledger.NewMemory()
	}
	s := NewSim(cfg)
	want := map[IsolateID]*testProg{}
	var ids []IsolateID // in spawn order: a scenario's isolate k is ids[k-1]
	for _, sp := range sc.spawns {
		p := tinyProg(t)
		if sp.prog != "tiny" {
			p = testProgs(t)[sp.prog]
		}
		if p == nil {
			t.Fatalf("unknown program %q", sp.prog)
		}
		for i := 0; i < sp.count; i++ {
			id, err := s.Spawn(sp.node, p.prog)
			if err != nil {
				t.Fatal(err)
			}
			want[id] = p
			ids = append(ids, id)
		}
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	for _, st := range sc.steps {
		a := st.args
		s.At(st.at, func() {
			switch a[0] {
			case "migrate":
				if k := atoi(a[1]); k >= 1 && k <= len(ids) {
					s.Migrate(ids[k-1], NodeID(atoi(a[2])))
				}
			case "migrate-all":
				for _, id := range s.Holds(NodeID(atoi(a[1]))) {
					s.Migrate(id, NodeID(atoi(a[2])))
				}
			case "cut":
				s.Net().Cut(NodeID(atoi(a[1])), NodeID(atoi(a[2])))
			case "heal":
				s.Net().HealLink(NodeID(atoi(a[1])), NodeID(atoi(a[2])))
			case "isolate":
				s.Net().Isolate(NodeID(atoi(a[1])))
			case "healnode":
				s.Net().HealNode(NodeID(atoi(a[1])))
			case "crash":
				s.Crash(NodeID(atoi(a[1])))
			case "drain":
				s.Drain(NodeID(atoi(a[1])), nil)
			default:
				t.Errorf("line %d: unknown command %q", st.line, a[0])
			}
		})
	}
	if !s.Run(sc.limit) {
		t.Fatalf("did not settle within %v: pending %d", sc.limit, s.Pending())
	}
	o := s.Outcome()
	_, crashloss := sc.expect["crashloss"]
	checkOutcome(t, o, want, crashloss)
	snap := s.Metrics().Snapshot()
	if n, ok := sc.expect["migrations"]; ok && snap.Migrations < int64(n) {
		t.Errorf("%d migrations, want at least %d", snap.Migrations, n)
	}
	if n, ok := sc.expect["intersteals"]; ok && snap.InterStealOK < int64(n) {
		t.Errorf("%d inter-node steals, want at least %d", snap.InterStealOK, n)
	}
	if n, ok := sc.expect["notcompletedon"]; ok {
		for _, c := range o.Completed {
			if c.Node == NodeID(n) {
				t.Errorf("isolate %d completed on node %d", c.ID, n)
			}
		}
	}
}

// TestSimRecordsPruned (issue 12, item 7): once isolates have finished or
// moved on, and the horizon has passed, no node keeps a protocol record of
// any of them.
func TestSimRecordsPruned(t *testing.T) {
	p := tinyProg(t)
	s := NewSim(Config{Nodes: 3, Seed: 5, Quantum: 5000, Link: LinkConfig{Latency: 50 * time.Microsecond, Loss: 0.05}})
	want := map[IsolateID]*testProg{}
	for i := 0; i < 30; i++ {
		id, err := s.Spawn(0, p.prog)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = p
	}
	if !s.Run(10 * time.Second) {
		t.Fatal("did not settle")
	}
	checkOutcome(t, s.Outcome(), want, false)
	if s.Metrics().Snapshot().Migrations == 0 {
		t.Fatal("nothing migrated")
	}
	before := 0
	for _, n := range s.nodes {
		before += len(n.core.proto.in)
	}
	if before == 0 {
		t.Fatal("no records to prune")
	}
	s.RunFor(s.nodes[0].core.proto.cfg.horizon * 3 / 2)
	for _, n := range s.nodes {
		if k := len(n.core.proto.in); k != 0 {
			t.Fatalf("%v keeps %d records after the horizon (held %d)", n.id, k, len(n.core.tasks))
		}
	}
	t.Logf("%d records pruned", before)
}
