package queue

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Operations of the sequential deque model.
const (
	linPush = iota
	linPop
	linSteal
)

type linInput struct {
	op int
	v  int // pushed id, for linPush
}

const linEmpty = -1 // output of Pop or Steal that found nothing

// dequeModel is the sequential specification of the split deque, exact up to
// where split is.
//
// The deque holds a slice with the top at index 0, of which a prefix, the
// first split elements, is public. Push appends at the bottom; Pop takes
// from the bottom and reports empty exactly when the slice is empty; Steal
// takes from the top, and reports empty exactly when the public prefix is
// empty. Where split is depends on requests and on timing that a history
// does not record, so the model lets the owner move it: every Push and Pop
// may publish any number of private elements (share), and a Pop that finds
// the private part empty may take back any number of public ones
// (popPublic). Thieves never move split, so a Steal that reports empty
// pins split at 0 until the owner's next operation: a thief that finds
// nothing cannot find something later without the owner in between.
//
// Rather than the set of possible (slice, split) states, which a
// porcupine.NondeterministicModel would carry, the state is the slice and the
// interval [lo, hi] of possible splits: the set is always an interval.
// Induction on the operations, from {0} for the empty deque, with n the
// length before the operation:
//
//	Push:         each s in [lo, hi] goes to [s, n+1]; the union is [lo, n+1].
//	Pop (n > 0):  s < n goes to [s, n-1] (private pop, then any share);
//	              s = n goes to [0, n-1] (public pop, any take-back). The
//	              union is [lo, n-1] if hi < n, else [0, n-1].
//	Steal, x:     needs s >= 1; s goes to s-1: [max(lo,1)-1, hi-1].
//	Steal, empty: needs s = 0, so lo = 0; the result is [0, 0].
//
// lo never rises, so it is always 0: since the owner may always have
// published nothing, a Steal may always report empty. What the model still
// demands of Steal is that it takes the oldest element, that it takes
// nothing twice, and that after a Steal that reports empty no Steal succeeds
// until the owner has done a Push or Pop (hi is 0 until then).
//
// A StealHalf that moved k elements is recorded as k Steal operations
// spanning the call (it claims them one by one; see its doc), or one empty
// Steal when k is 0.
type linState struct {
	elems  []int
	lo, hi int
}

var dequeModel = porcupine.Model{
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		s := state.(linState)
		in, out := input.(linInput), output.(int)
		n := len(s.elems)
		switch in.op {
		case linPush:
			// Copy: states are immutable.
			return true, linState{append(slices.Clip(s.elems), in.v), s.lo, n + 1}
		case linPop:
			if n == 0 {
				return out == linEmpty, s
			}
			lo := s.lo
			if s.hi == n {
				lo = 0
			}
			return out == s.elems[n-1], linState{s.elems[:n-1], min(lo, n-1), n - 1}
		default: // linSteal
			if out == linEmpty {
				return s.lo == 0, linState{s.elems, 0, 0}
			}
			if s.hi < 1 || out != s.elems[0] {
				return false, s
			}
			return true, linState{s.elems[1:], max(s.lo, 1) - 1, s.hi - 1}
		}
	},
	Equal: func(a, b any) bool {
		x, y := a.(linState), b.(linState)
		return x.lo == y.lo && x.hi == y.hi && slices.Equal(x.elems, y.elems)
	},
	DescribeOperation: func(input, output any) string {
		in := input.(linInput)
		return fmt.Sprintf("%s -> %v", [...]string{"push(" + fmt.Sprint(in.v) + ")", "pop", "steal"}[in.op], output)
	},
}

// recorder builds a porcupine history. A shared atomic counter is the clock:
// an operation's call time is read before it starts and its return time after
// it ends, so real-time order between operations is preserved. Each client
// appends to its own slice, so recording adds no lock between them.
type recorder struct {
	clock atomic.Int64
	ops   [][]porcupine.Operation // by client
}

func newRecorder(clients, opsEach int) *recorder {
	r := &recorder{ops: make([][]porcupine.Operation, clients)}
	for i := range r.ops {
		r.ops[i] = make([]porcupine.Operation, 0, opsEach)
	}
	return r
}

func (r *recorder) add(client int, in linInput, out int, call, ret int64) {
	r.ops[client] = append(r.ops[client], porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

func (r *recorder) history() []porcupine.Operation {
	var h []porcupine.Operation
	for _, ops := range r.ops {
		h = append(h, ops...)
	}
	return h
}

// spinSink keeps spin's loop from being optimized away.
var spinSink atomic.Int64

// spin busy-waits for about n short steps, to vary how operations overlap
// without giving up the processor.
func spin(n int) {
	s := 0
	for i := range n {
		s += i
	}
	spinSink.Store(int64(s))
}

func idOf(x *item) int {
	if x == nil {
		return linEmpty
	}
	return x.id
}

// linWorker is one client of a recorded history. It runs concurrently with
// the other workers of the same run.
type linWorker func(rng *rand.Rand, client int, d *Deque[item], rec *recorder)

// checkLinearizable records runs histories and checks each against the
// sequential model. For each run, setup (on the test goroutine) makes the
// deque, starting with one slot so that it grows during the run, and may
// record operations of its own. Then the workers run, one goroutine each.
//
// The worker goroutines live across runs. They sleep between runs and start
// each run together from a spinning barrier, while the test goroutine sleeps,
// so that with as many processors as workers they really run at the same
// time.
func checkLinearizable(t *testing.T, runs int, setup func(d *Deque[item], rec *recorder), workers ...linWorker) {
	var (
		d       *Deque[item]
		rec     *recorder
		arrived atomic.Int64 // workers that have reached the current run
		wg      sync.WaitGroup
		start   = make([]chan bool, len(workers)) // true: run; closed: stop
	)
	for client, work := range workers {
		start[client] = make(chan bool)
		go func() {
			for run := uint64(1); <-start[client]; run++ {
				arrived.Add(1)
				for arrived.Load() < int64(len(workers)) {
				}
				work(rand.New(rand.NewPCG(run, uint64(client))), client, d, rec)
				wg.Done()
			}
		}()
	}
	defer func() {
		for _, c := range start {
			close(c)
		}
	}()
	var st linStats
	// A loaded machine may not overlap the workers in any of runs runs, and
	// a thief finds the owner's private elements only when it asks while
	// the owner runs: keep going, up to maxRuns, until a steal has
	// succeeded, so the check waits for the event instead of hoping for it.
	maxRuns := 50 * runs
	for run := 0; run < runs || (st.steals == 0 && run < maxRuns); run++ {
		d, rec = NewDeque[item](1), newRecorder(len(workers), 256)
		if setup != nil {
			setup(d, rec)
		}
		wg.Add(len(workers))
		arrived.Store(0)
		for _, c := range start {
			c <- true // publishes d and rec to the workers
		}
		wg.Wait()
		h := rec.history()
		st.add(h)
		res := porcupine.CheckOperationsTimeout(dequeModel, h, 10*time.Second)
		if res == porcupine.Illegal {
			for _, op := range h {
				t.Logf("client %d [%d,%d] %s", op.ClientId, op.Call, op.Return,
					dequeModel.DescribeOperation(op.Input, op.Output))
			}
			t.Fatalf("run %d: history of %d operations is not linearizable", run, len(h))
		}
		if res != porcupine.Ok {
			t.Errorf("run %d: checker gave %s", run, res)
		}
	}
	t.Logf("%d runs, %d operations, %d overlapping another client's, %d successful steals",
		st.runs, st.ops, st.overlapping, st.steals)
	if st.steals == 0 {
		t.Error("no steal succeeded in any history")
	}
}

// linOwner pushes and pops at random, pushing pushEvery-1 times in
// pushEvery; with pushEvery 2 the deque stays near empty, where the owner's
// Pop and thieves race for the last element.
func linOwner(ops, pushEvery, maxSpin int) linWorker {
	return func(rng *rand.Rand, client int, d *Deque[item], rec *recorder) {
		xs := items(ops)
		pushed := 0
		for range ops {
			spin(rng.IntN(maxSpin))
			call := rec.clock.Add(1)
			if pushed < len(xs) && rng.IntN(pushEvery) != 0 {
				d.Push(xs[pushed])
				rec.add(client, linInput{op: linPush, v: pushed}, 0, call, rec.clock.Add(1))
				pushed++
			} else {
				x := d.Pop()
				rec.add(client, linInput{op: linPop}, idOf(x), call, rec.clock.Add(1))
			}
		}
	}
}

// linThief calls Steal, or StealHalf (into its own deque) in one call of
// halfEvery. The elements a StealHalf moved are recorded as that many Steals
// spanning the call, and read back from its deque afterwards with Pop (they
// are in its private part; the order does not matter, since all are
// recorded with the same interval).
func linThief(ops, halfEvery, maxSpin int) linWorker {
	return func(rng *rand.Rand, client int, d *Deque[item], rec *recorder) {
		local := NewDeque[item](1)
		for range ops {
			spin(rng.IntN(maxSpin))
			call := rec.clock.Add(1)
			if rng.IntN(halfEvery) != 0 {
				x := d.Steal()
				rec.add(client, linInput{op: linSteal}, idOf(x), call, rec.clock.Add(1))
				continue
			}
			n := d.StealHalf(local)
			ret := rec.clock.Add(1)
			if n == 0 {
				rec.add(client, linInput{op: linSteal}, linEmpty, call, ret)
			}
			for range n {
				rec.add(client, linInput{op: linSteal}, idOf(local.Pop()), call, ret)
			}
		}
	}
}

// TestDequeLinearizable checks recorded concurrent histories against the
// sequential deque model: an owner pushing and popping against a thief
// (growth under steals, requests answered by Push and Pop), the same kept
// near empty (the race for the last element), two thieves racing each other
// for elements the owner published before they started, and an owner
// against two thieves.
func TestDequeLinearizable(t *testing.T) {
	runs := 1000
	if testing.Short() {
		runs = 100
	}
	t.Run("owner+thief", func(t *testing.T) {
		checkLinearizable(t, runs, nil, linOwner(60, 3, 20), linThief(30, 2, 40))
	})
	t.Run("last-element", func(t *testing.T) {
		checkLinearizable(t, runs, nil, linOwner(60, 2, 8), linThief(60, 1<<30, 8))
	})
	t.Run("2thieves", func(t *testing.T) {
		// The test goroutine, as owner, pushes 24 elements and publishes
		// them all (as repeated requests would), before the thieves start.
		prefill := func(d *Deque[item], rec *recorder) {
			for i, x := range items(24) {
				d.Push(x)
				c := rec.clock.Add(1)
				rec.add(0, linInput{op: linPush, v: i}, 0, c, c)
			}
			for d.Stealable() < 24 {
				d.request.Store(true)
				d.share()
			}
		}
		checkLinearizable(t, runs, prefill, linThief(12, 2, 40), linThief(12, 2, 40))
	})
	t.Run("owner+2thieves", func(t *testing.T) {
		checkLinearizable(t, runs, nil, linOwner(60, 3, 10), linThief(30, 2, 30), linThief(30, 3, 30))
	})
}

// TestDequeModelRejects makes sure the model and checker catch the failures
// the deque must not have: an element taken twice, a lost element, the wrong
// end, and a thief finding something after finding nothing with no owner
// operation in between (split moved by nobody). It also checks that the
// model accepts what the split deque legitimately does.
func TestDequeModelRejects(t *testing.T) {
	op := func(client int, in linInput, out int, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret}
	}
	push := func(v int, call, ret int64) porcupine.Operation {
		return op(0, linInput{op: linPush, v: v}, 0, call, ret)
	}
	pop := func(out int, call, ret int64) porcupine.Operation {
		return op(0, linInput{op: linPop}, out, call, ret)
	}
	steal := func(out int, call, ret int64) porcupine.Operation {
		return op(1, linInput{op: linSteal}, out, call, ret)
	}
	bad := map[string][]porcupine.Operation{
		"duplicate":          {push(1, 1, 2), pop(1, 3, 6), steal(1, 4, 5)},
		"lost":               {push(1, 1, 2), pop(linEmpty, 3, 4)},
		"lost after steal":   {push(1, 1, 2), push(2, 3, 4), steal(1, 5, 6), pop(linEmpty, 7, 8)},
		"wrong end (pop)":    {push(1, 1, 2), push(2, 3, 4), pop(1, 5, 6)},
		"wrong end (steal)":  {push(1, 1, 2), push(2, 3, 4), steal(2, 5, 6)},
		"published by thief": {push(1, 1, 2), steal(linEmpty, 3, 4), steal(1, 5, 6)},
	}
	for name, h := range bad {
		if porcupine.CheckOperations(dequeModel, h) {
			t.Errorf("%s: model accepted a non-linearizable history", name)
		}
	}
	good := map[string][]porcupine.Operation{
		"race for the last": {push(1, 1, 2), pop(linEmpty, 3, 6), steal(1, 4, 5)},
		"private":           {push(1, 1, 2), steal(linEmpty, 3, 4), pop(1, 5, 6)},
		"published by Push": {push(1, 1, 2), steal(linEmpty, 3, 4), push(2, 5, 6), steal(1, 7, 8)},
		"published by Pop":  {push(1, 1, 2), push(2, 3, 4), steal(linEmpty, 5, 6), pop(2, 7, 8), steal(1, 9, 10)},
		"taken back":        {push(1, 1, 2), push(2, 3, 4), steal(1, 5, 6), pop(2, 7, 8), steal(linEmpty, 9, 10)},
	}
	for name, h := range good {
		if !porcupine.CheckOperations(dequeModel, h) {
			t.Errorf("%s: model rejected a linearizable history", name)
		}
	}
}

// linStats counts how much concurrency the recorded histories contain.
type linStats struct{ runs, ops, overlapping, steals int }

func (st *linStats) add(ops []porcupine.Operation) {
	st.runs++
	for _, a := range ops {
		st.ops++
		if a.Input.(linInput).op == linSteal && a.Output.(int) != linEmpty {
			st.steals++
		}
		for _, b := range ops {
			if a.ClientId != b.ClientId && a.Call < b.Return && b.Call < a.Return {
				st.overlapping++
				break
			}
		}
	}
}
