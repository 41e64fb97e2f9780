package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Linearizability of the ledger, checked with porcupine against a
// sequential model of one entry per isolate (histories partitioned by
// isolate). Revisions are whatever the ledger hands out; the model
// requires only that a write's revision exceeds the one it replaced.

type linKind uint8

const (
	linCreate linKind = iota
	linGet
	linTransfer
	linFinish
)

type linIn struct {
	key  IsolateID
	kind linKind
	from Entry  // Transfer, Finish
	to   NodeID // Create, Transfer
}

type linOut struct {
	err error // nil, ErrExists, ErrNotFound, ErrConflict, ErrFinished
	e   Entry
}

var ledgerModel = linModel(false)

// linModel is the sequential model. With spuriousConflicts, a refused
// compare-and-set is legal even on the latest revision (it changes
// nothing): a replicated JetStream ledger does that during a leader
// change, and the contract allows it (ErrConflict). Successes must still
// linearize.
func linModel(spuriousConflicts bool) porcupine.Model {
	return porcupine.Model{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			by := make(map[IsolateID][]porcupine.Operation)
			var keys []IsolateID
			for _, op := range h {
				k := op.Input.(linIn).key
				if _, ok := by[k]; !ok {
					keys = append(keys, k)
				}
				by[k] = append(by[k], op)
			}
			out := make([][]porcupine.Operation, 0, len(keys))
			for _, k := range keys {
				out = append(out, by[k])
			}
			return out
		},
		// The state is the entry; the zero Entry is "absent".
		Init: func() any { return Entry{} },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(Entry), input.(linIn), output.(linOut)
			exists := s.Revision != 0
			write := func(next Entry) (bool, any) {
				if !exists || s.Revision != in.from.Revision {
					return errors.Is(out.err, ErrConflict), s
				}
				if spuriousConflicts && errors.Is(out.err, ErrConflict) {
					return true, s
				}
				next.Revision = out.e.Revision
				return out.err == nil && out.e == next && next.Revision > s.Revision, next
			}
			switch in.kind {
			case linCreate:
				if exists {
					return errors.Is(out.err, ErrExists), s
				}
				next := Entry{Owner: in.to, State: Running, Revision: out.e.Revision}
				return out.err == nil && out.e == next && next.Revision > 0, next
			case linGet:
				if !exists {
					return errors.Is(out.err, ErrNotFound), s
				}
				return out.err == nil && out.e == s, s
			case linTransfer:
				if in.from.State == Finished {
					return errors.Is(out.err, ErrFinished), s
				}
				return write(Entry{Owner: in.to, Epoch: in.from.Epoch + 1, State: Running})
			default: // linFinish
				if in.from.State == Finished {
					return errors.Is(out.err, ErrFinished), s
				}
				return write(Entry{Owner: in.from.Owner, Epoch: in.from.Epoch, State: Finished})
			}
		},
		Equal: func(a, b any) bool { return a.(Entry) == b.(Entry) },
		DescribeOperation: func(input, output any) string {
			in, out := input.(linIn), output.(linOut)
			op := [...]string{"create", "get", "transfer", "finish"}[in.kind]
			return fmt.Sprintf("%v %s(from %v, to %d) -> %v, %v", in.key, op, in.from, in.to, out.e, out.err)
		},
	}
}

// linRecorder builds a history; a shared atomic counter is the clock.
type linRecorder struct {
	mu    sync.Mutex
	clock atomic.Int64
	ops   []porcupine.Operation
}

func (r *linRecorder) now() int64 { return r.clock.Add(1) }

func (r *linRecorder) add(client int, in linIn, out linOut, call, ret int64) {
	r.mu.Lock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret})
	r.mu.Unlock()
}

// do runs one operation and records it, unless its outcome is unknown
// (returned as unknown=true, the caller resolves it).
func (r *linRecorder) do(ctx context.Context, l Ledger, client int, in linIn) (out linOut, unknown bool) {
	out, _, unknown = r.doAt(ctx, l, client, in)
	return out, unknown
}

// doAt is do, also returning the operation's call time.
func (r *linRecorder) doAt(ctx context.Context, l Ledger, client int, in linIn) (out linOut, call int64, unknown bool) {
	call = r.now()
	var err error
	switch in.kind {
	case linCreate:
		out.e, err = l.Create(ctx, in.key, in.to)
	case linGet:
		out.e, err = l.Get(ctx, in.key)
	case linTransfer:
		out.e, err = l.Transfer(ctx, in.key, in.from, in.to)
	case linFinish:
		out.e, err = l.Finish(ctx, in.key, in.from)
	}
	ret := r.now()
	for _, known := range []error{ErrExists, ErrNotFound, ErrConflict, ErrFinished} {
		if errors.Is(err, known) {
			err = known
		}
	}
	out.err = err
	if err != nil && err != ErrExists && err != ErrNotFound && err != ErrConflict && err != ErrFinished {
		return out, call, true
	}
	r.add(client, in, out, call, ret)
	return out, call, false
}

// check checks r's history against model.
func (r *linRecorder) check(t *testing.T, model porcupine.Model) {
	t.Helper()
	res := porcupine.CheckOperationsTimeout(model, r.ops, 20*time.Second)
	switch res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Logf("porcupine gave up on %d operations (timeout); not a failure", len(r.ops))
	default:
		// Name the isolates whose histories fail, with their operations.
		for _, part := range model.Partition(r.ops) {
			if porcupine.CheckOperationsTimeout(model, part, 10*time.Second) != porcupine.Illegal {
				continue
			}
			slices.SortFunc(part, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
			for _, op := range part {
				t.Logf("[%d, %d] client %d: %s", op.Call, op.Return, op.ClientId, model.DescribeOperation(op.Input, op.Output))
			}
		}
		t.Fatalf("history of %d operations is not linearizable", len(r.ops))
	}
}

// linWorkload has clients race on a few isolates: each reads an isolate
// and tries to take it with what it read (stale by then, often), and now
// and then to finish it; finished isolates are replaced by new ones.
func linWorkload(t *testing.T, l Ledger, clients, opsEach int) *linRecorder {
	ctx := testCtx(t)
	rec := &linRecorder{}
	const keys = 3
	for k := range keys {
		if _, unknown := rec.do(ctx, l, 0, linIn{key: MakeID(0, uint32(k+1)), kind: linCreate, to: 0}); unknown {
			t.Fatal("create failed")
		}
	}
	var next atomic.Uint32
	next.Store(keys)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			held := make(map[IsolateID]Entry)
			for range opsEach {
				// Let the other clients in between any two operations,
				// even where the ledger never blocks (Memory).
				runtime.Gosched()
				k := MakeID(0, uint32(1+rng.IntN(int(next.Load()))))
				e, ok := held[k]
				switch {
				case !ok || rng.IntN(3) == 0:
					out, unknown := rec.do(ctx, l, c, linIn{key: k, kind: linGet})
					if unknown {
						t.Error(out.err)
						return
					}
					if out.err == nil {
						held[k] = out.e
					}
				case rng.IntN(12) == 0:
					out, unknown := rec.do(ctx, l, c, linIn{key: k, kind: linFinish, from: e})
					if unknown {
						t.Error(out.err)
						return
					}
					if out.err == nil {
						n := next.Add(1)
						rec.do(ctx, l, c, linIn{key: MakeID(0, n), kind: linCreate, to: NodeID(c)})
					}
				default:
					out, unknown := rec.do(ctx, l, c, linIn{key: k, kind: linTransfer, from: e, to: NodeID(c + 1)})
					if unknown {
						t.Error(out.err)
						return
					}
					if out.err == nil {
						held[k] = out.e
					}
				}
			}
		})
	}
	wg.Wait()
	return rec
}

func TestLinearizableMemory(t *testing.T) {
	linWorkload(t, NewMemory(), 4, 400).check(t, ledgerModel)
}

func TestLinearizableJetStream(t *testing.T) {
	_, js := startJetStream(t)
	l, err := OpenJetStream(testCtx(t), js, JetStreamConfig{Bucket: "lin", Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	linWorkload(t, l, 4, 150).check(t, ledgerModel)
}

// never is the return time of an operation whose answer was lost: it may
// take effect at any time after its call.
const never = math.MaxInt64
