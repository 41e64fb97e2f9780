package cluster

import (
	"testing"
	"time"

	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
	"github.com/knotencore/knoten/queue"
)

// Issue 12, item 5: a worker used to push a yielded task back at the owner's
// (LIFO) end of its deque and pop the same task again, so one spinning
// isolate starved every task queued behind it.

const fairSpinners = 8

// TestWorkerFairness drives one live worker's scheduling (next, and requeue
// after a quantum) without goroutines: a finite job that needs 3 quanta
// arrives first, then fairSpinners isolates that never end. The job must
// finish within a bounded number of quanta.
func TestWorkerFairness(t *testing.T) {
	for _, jobFirst := range []bool{true, false} {
		w := &worker{dq: queue.NewDeque[task](64), inbox: queue.NewInbox[task](64), wake: make(chan struct{}, 1)}
		n := &liveNode{workers: []*worker{w}}
		job := &task{id: 1}
		var arrivals []*task
		for i := 0; i < fairSpinners; i++ {
			arrivals = append(arrivals, &task{id: IsolateID(2 + i)})
		}
		if jobFirst {
			arrivals = append([]*task{job}, arrivals...)
		} else {
			arrivals = append(arrivals, job)
		}
		for _, x := range arrivals {
			x.state.Store(tsQueued)
			if !w.inbox.Push(x) {
				t.Fatal("inbox full")
			}
		}
		const need = 3
		ran, quanta := 0, 0
		bound := need*(fairSpinners+1) + 1 // round robin: the job runs once every fairSpinners+1 quanta
		for quanta < 10*bound && ran < need {
			x := n.next(w)
			if x == nil || !x.state.CompareAndSwap(tsQueued, tsRunning) {
				t.Fatalf("quantum %d: next gave %v", quanta, x)
			}
			quanta++
			if x == job {
				ran++
				if ran == need {
					break // finished: not queued again
				}
			}
			n.requeue(w, x)
		}
		if ran < need || quanta > bound {
			t.Fatalf("job first %v: the finite job ran %d of its %d quanta in %d quanta with %d spinners; want it done within %d",
				jobFirst, ran, need, quanta, fairSpinners, bound)
		}
		t.Logf("job first %v: done after %d quanta (%d tasks)", jobFirst, quanta, fairSpinners+1)
	}
}

// TestWorkerArrivalsDoNotStarveQueue: an arrival takes runnext, but a
// stream of them (one per quantum, each done in one quantum) must not keep
// a queued task from running: runnext is taken at most every other
// quantum, and the arrivals that wait go through the deque in turn with it.
func TestWorkerArrivalsDoNotStarveQueue(t *testing.T) {
	w := &worker{dq: queue.NewDeque[task](64), inbox: queue.NewInbox[task](64), wake: make(chan struct{}, 1)}
	n := &liveNode{workers: []*worker{w}}
	q := &task{id: 1}
	n.requeue(w, q)
	first, ran := -1, 0
	for i := 0; i < 20; i++ {
		a := &task{id: IsolateID(100 + i)}
		a.state.Store(tsQueued)
		w.inbox.Push(a)
		x := n.next(w)
		if x == nil || !x.state.CompareAndSwap(tsQueued, tsRunning) {
			t.Fatalf("quantum %d: next gave %v", i, x)
		}
		if x == q {
			if first < 0 {
				first = i
			}
			ran++
			n.requeue(w, x)
		} // an arrival finishes in its quantum
	}
	if first < 0 || first > 1 || ran < 3 {
		t.Fatalf("the queued task first ran at quantum %d, %d times in 20, with an arrival before each", first, ran)
	}
}

// TestSimFairness: the same in the simulator, with real isolates: one node,
// one worker, a finite job (3 quanta) and fairSpinners endless isolates,
// spawned after it or before it. The job completes within a bounded number
// of quanta, counted by the simulated worker.
func TestSimFairness(t *testing.T) {
	spin := spinProg(t)
	p := tinyProg(t)
	var err error
	for _, jobFirst := range []bool{true, false} {
		const q = 20000
		s := NewSim(Config{Nodes: 1, Workers: 1, Quantum: q, NoSteal: true, Seed: 1})
		need := int64(p.steps/q) + 1
		var job IsolateID
		if jobFirst {
			if job, err = s.Spawn(0, p.prog); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < fairSpinners; i++ {
			if _, err := s.Spawn(0, spin); err != nil {
				t.Fatal(err)
			}
		}
		if !jobFirst {
			if job, err = s.Spawn(0, p.prog); err != nil {
				t.Fatal(err)
			}
		}
		done := func() bool { r := s.col.result(job); return r != nil }
		bound := need * (fairSpinners + 1)
		s.RunUntil(done, time.Duration(10*bound*q)*s.cfg.StepCost)
		quanta := s.nodes[0].workers[0].quanta
		if !done() || quanta > bound {
			t.Fatalf("job first %v: finite job done %v after %d quanta with %d spinners; want done within %d", jobFirst, done(), quanta, fairSpinners, bound)
		}
		if r := s.col.result(job); r.Result != p.result || r.Hash != p.hash || r.Count != 1 {
			t.Fatalf("job completed %+v, straight run %q", r, p.result)
		}
		t.Logf("job first %v: done after %d quanta", jobFirst, quanta)
	}
}

// result returns isolate id's completion, or nil.
func (c *collector) result(id IsolateID) *Completion {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.results[id]
}

// spinProg is an isolate that never ends.
func spinProg(t testing.TB) *engine.Program {
	p, err := lang.Compile("spin.kn", []byte("func main() int { s := 0; for { s++ }; return s }"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLiveFiniteJobAmongSpinners: on a live node with one worker and short
// quanta, a finite job (about 60 quanta) spawned just before four endless
// isolates completes. It used to wait forever behind the newest spinner.
// The test waits for the completion event; it asserts nothing about time.
func TestLiveFiniteJobAmongSpinners(t *testing.T) {
	log := newEventLog()
	c := New(Config{Nodes: 1, Workers: 1, Quantum: 1000, NoSteal: true, OnEvent: log.on})
	defer c.Close()
	p := tinyProg(t)
	id, err := c.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	spin := spinProg(t)
	for i := 0; i < 4; i++ {
		if _, err := c.Spawn(0, spin); err != nil {
			t.Fatal(err)
		}
	}
	log.waitFor(t, "the finite job's completion", func(e Event) bool { return e.Kind == EvCompleted && e.ID == id })
}
