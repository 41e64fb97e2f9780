package ledger

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// hangGuard bounds a test's ledger calls; it is no timing assumption.
const hangGuard = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// runConformance runs the semantics every Ledger must share against the
// ledgers newLedger makes (a fresh, empty one per call).
func runConformance(t *testing.T, newLedger func(t *testing.T) Ledger) {
	t.Run("Create", func(t *testing.T) {
		l, ctx := newLedger(t), testCtx(t)
		id := MakeID(1, 1)
		if _, err := l.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get before Create: %v, want ErrNotFound", err)
		}
		e, err := l.Create(ctx, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		if e.Owner != 1 || e.Epoch != 0 || e.State != Running || e.Revision == 0 {
			t.Fatalf("created %v", e)
		}
		if _, err := l.Create(ctx, id, 2); !errors.Is(err, ErrExists) {
			t.Fatalf("second Create: %v, want ErrExists", err)
		}
		got := mustGet(t, l, id)
		if got != e {
			t.Fatalf("Get %v, want %v", got, e)
		}
		// Finished isolates keep their key: an id is never created twice.
		if _, err := l.Finish(ctx, id, e); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Create(ctx, id, 2); !errors.Is(err, ErrExists) {
			t.Fatalf("Create over a finished isolate: %v, want ErrExists", err)
		}
	})

	t.Run("TransferCAS", func(t *testing.T) {
		l, ctx := newLedger(t), testCtx(t)
		id := MakeID(1, 7)
		e0, err := l.Create(ctx, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		e1, err := l.Transfer(ctx, id, e0, 2)
		if err != nil {
			t.Fatal(err)
		}
		if e1.Owner != 2 || e1.Epoch != 1 || e1.State != Running || e1.Revision <= e0.Revision {
			t.Fatalf("transferred %v from %v", e1, e0)
		}
		if got := mustGet(t, l, id); got != e1 {
			t.Fatalf("Get %v, want %v", got, e1)
		}
		// The same revision again: someone wrote since.
		if _, err := l.Transfer(ctx, id, e0, 3); !errors.Is(err, ErrConflict) {
			t.Fatalf("Transfer from a moved revision: %v, want ErrConflict", err)
		}
		if got := mustGet(t, l, id); got != e1 {
			t.Fatalf("a failed Transfer changed the entry: %v, want %v", got, e1)
		}
		// Reclaim: transfer to the owner itself bumps the epoch.
		e2, err := l.Transfer(ctx, id, e1, 2)
		if err != nil || e2.Owner != 2 || e2.Epoch != 2 {
			t.Fatalf("reclaim: %v, %v", e2, err)
		}
		// Transfer of an isolate the ledger does not hold.
		if _, err := l.Transfer(ctx, MakeID(9, 9), e2, 1); !errors.Is(err, ErrConflict) {
			t.Fatalf("Transfer of an unknown isolate: %v, want ErrConflict", err)
		}
		// An entry not read from the ledger.
		if _, err := l.Transfer(ctx, id, Entry{Owner: 2, Epoch: 2, State: Running}, 1); !errors.Is(err, ErrConflict) {
			t.Fatalf("Transfer from revision 0: %v, want ErrConflict", err)
		}
	})

	t.Run("StaleEpochFenced", func(t *testing.T) {
		// Node 1 owns the isolate at epoch 0 and is then suspected dead
		// (partitioned, kill -STOP): node 2 takes it over. When node 1
		// wakes, everything it tries with what it held fails.
		l, ctx := newLedger(t), testCtx(t)
		id := MakeID(1, 1)
		held, err := l.Create(ctx, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		cur := mustGet(t, l, id)
		if _, err := l.Transfer(ctx, id, cur, 2); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Finish(ctx, id, held); !errors.Is(err, ErrConflict) {
			t.Fatalf("fenced owner's Finish: %v, want ErrConflict", err)
		}
		if _, err := l.Transfer(ctx, id, held, 3); !errors.Is(err, ErrConflict) {
			t.Fatalf("fenced owner's Transfer: %v, want ErrConflict", err)
		}
		now := mustGet(t, l, id)
		if now.Owns(1, 0) || !now.Owns(2, 1) {
			t.Fatalf("ledger %v after fencing", now)
		}
	})

	t.Run("FinishExactlyOnce", func(t *testing.T) {
		l, ctx := newLedger(t), testCtx(t)
		id := MakeID(4, 2)
		e, err := l.Create(ctx, id, 4)
		if err != nil {
			t.Fatal(err)
		}
		e, err = l.Transfer(ctx, id, e, 5)
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		done := make([]Entry, n)
		for i := range n {
			wg.Go(func() { done[i], errs[i] = l.Finish(ctx, id, e) })
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
				if done[i].State != Finished || done[i].Owner != 5 || done[i].Epoch != 1 {
					t.Fatalf("finished %v", done[i])
				}
			case !errors.Is(err, ErrConflict):
				t.Fatalf("Finish: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d Finish calls succeeded, want exactly 1", wins)
		}
		fin := mustGet(t, l, id)
		if fin.State != Finished || fin.Owner != 5 || fin.Epoch != 1 {
			t.Fatalf("after Finish: %v", fin)
		}
		if _, err := l.Transfer(ctx, id, fin, 6); !errors.Is(err, ErrFinished) {
			t.Fatalf("Transfer of a finished entry: %v, want ErrFinished", err)
		}
		if _, err := l.Finish(ctx, id, fin); !errors.Is(err, ErrFinished) {
			t.Fatalf("Finish of a finished entry: %v, want ErrFinished", err)
		}
		if _, err := l.Transfer(ctx, id, e, 6); !errors.Is(err, ErrConflict) {
			t.Fatalf("Transfer from the entry before Finish: %v, want ErrConflict", err)
		}
	})

	t.Run("ConcurrentTransfers", func(t *testing.T) {
		// N nodes race to take one isolate from whoever holds it, for a
		// number of rounds: every revision is won by exactly one, and the
		// epochs won are exactly 1..final, each once.
		l, ctx := newLedger(t), testCtx(t)
		id := MakeID(1, 3)
		if _, err := l.Create(ctx, id, 0); err != nil {
			t.Fatal(err)
		}
		const nodes, rounds = 8, 40
		type win struct {
			from, to Entry
		}
		var mu sync.Mutex
		var wins []win
		var wg sync.WaitGroup
		for n := range nodes {
			me := NodeID(n + 1)
			wg.Go(func() {
				for range rounds {
					cur, err := l.Get(ctx, id)
					if err != nil {
						t.Error(err)
						return
					}
					to, err := l.Transfer(ctx, id, cur, me)
					if errors.Is(err, ErrConflict) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					wins = append(wins, win{cur, to})
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		final := mustGet(t, l, id)
		if uint64(len(wins)) != final.Epoch {
			t.Fatalf("%d transfers succeeded, final epoch %d", len(wins), final.Epoch)
		}
		byEpoch := make(map[uint64]win)
		fromRev := make(map[uint64]bool)
		for _, w := range wins {
			if w.to.Epoch != w.from.Epoch+1 {
				t.Fatalf("transfer %v -> %v skips an epoch", w.from, w.to)
			}
			if _, dup := byEpoch[w.to.Epoch]; dup {
				t.Fatalf("epoch %d committed twice", w.to.Epoch)
			}
			if fromRev[w.from.Revision] {
				t.Fatalf("revision %d won twice", w.from.Revision)
			}
			byEpoch[w.to.Epoch], fromRev[w.from.Revision] = w, true
		}
		for e := uint64(1); e <= final.Epoch; e++ {
			if _, ok := byEpoch[e]; !ok {
				t.Fatalf("epoch %d missing", e)
			}
			if e > 1 && byEpoch[e].from.Revision != byEpoch[e-1].to.Revision {
				t.Fatalf("epoch %d built on revision %d, epoch %d wrote %d", e, byEpoch[e].from.Revision, e-1, byEpoch[e-1].to.Revision)
			}
		}
		if last := byEpoch[final.Epoch].to; last != final {
			t.Fatalf("last win %v, ledger %v", last, final)
		}
		if final.Epoch == 0 {
			t.Fatal("no transfer succeeded")
		}
	})

	t.Run("HandoffCommitSettle", func(t *testing.T) {
		l, ctx := newLedger(t), testCtx(t)
		id := MakeID(1, 1)
		held, err := l.Create(ctx, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		// Node 1 offers to node 2 at epoch 1; node 2 commits.
		t2, err := Commit(ctx, l, id, 1, 1, 2)
		if err != nil || !t2.Owns(2, 1) {
			t.Fatalf("Commit: %v, %v", t2, err)
		}
		// The same OFFER again (a duplicate, or replayed to a third node
		// by its original sender): stale.
		if _, err := Commit(ctx, l, id, 1, 1, 2); !errors.Is(err, ErrConflict) {
			t.Fatalf("duplicate OFFER: %v, want ErrConflict", err)
		}
		if _, err := Commit(ctx, l, id, 1, 1, 3); !errors.Is(err, ErrConflict) {
			t.Fatalf("OFFER replayed to a third node: %v, want ErrConflict", err)
		}
		// A member replays it as itself: it does not own the isolate.
		if _, err := Commit(ctx, l, id, 3, 2, 4); !errors.Is(err, ErrConflict) {
			t.Fatalf("OFFER from a non-owner: %v, want ErrConflict", err)
		}
		if now, moved, err := Superseded(ctx, l, id, held); err != nil || !moved || now != t2 {
			t.Fatalf("Superseded(held) after the commit: %v, %v, %v", now, moved, err)
		}
		if _, moved, err := Superseded(ctx, l, id, t2); err != nil || moved {
			t.Fatalf("Superseded(latest): %v, %v", moved, err)
		}
		// The source settles, whatever message it got: it drops its copy.
		keep, now, err := Settle(ctx, l, id, held)
		if err != nil || keep || now != t2 {
			t.Fatalf("Settle after commit: keep %v, %v, %v", keep, now, err)
		}

		// Node 2 offers to node 3 at epoch 2; a forged ACK or NACK (or a
		// timeout) reaches node 2 before node 3 commits. Node 2 settles:
		// it reclaims, at epoch 2, and node 3's late commit fails.
		keep, now, err = Settle(ctx, l, id, t2)
		if err != nil || !keep || !now.Owns(2, 2) {
			t.Fatalf("Settle before commit: keep %v, %v, %v", keep, now, err)
		}
		if _, err := Commit(ctx, l, id, 2, 2, 3); !errors.Is(err, ErrConflict) {
			t.Fatalf("late commit after reclaim: %v, want ErrConflict", err)
		}
		// Settling again (its first answer lost) finds its own reclaim.
		if keep, again, err := Settle(ctx, l, id, t2); err != nil || !keep || again != now {
			t.Fatalf("Settle repeated: keep %v, %v, %v; want %v", keep, again, err, now)
		}
		if got := mustGet(t, l, id); got != now {
			t.Fatalf("ledger %v, want %v", got, now)
		}
		// Completion by the owner at the current epoch only.
		if _, err := l.Finish(ctx, id, t2); !errors.Is(err, ErrConflict) {
			t.Fatalf("Finish at a superseded epoch: %v", err)
		}
		if _, err := l.Finish(ctx, id, now); err != nil {
			t.Fatal(err)
		}
		if _, err := Commit(ctx, l, id, 2, 3, 3); !errors.Is(err, ErrFinished) {
			t.Fatalf("OFFER of a finished isolate: %v, want ErrFinished", err)
		}
		if _, err := Commit(ctx, l, MakeID(8, 8), 2, 3, 3); !errors.Is(err, ErrNotFound) {
			t.Fatalf("OFFER of an unknown isolate: %v, want ErrNotFound", err)
		}
	})

	t.Run("ReserveIDs", func(t *testing.T) {
		l, ctx := newLedger(t), testCtx(t)
		const goroutines, each, n = 4, 10, 5
		var mu sync.Mutex
		seen := make(map[IsolateID]bool)
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range each {
					first, err := l.ReserveIDs(ctx, 7, n)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for i := range IsolateID(n) {
						id := first + i
						if id.Spawner() != 7 || id.Seq() == 0 || seen[id] {
							t.Errorf("id %v reserved twice or malformed", id)
						}
						seen[id] = true
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != goroutines*each*n {
			t.Fatalf("%d ids, want %d", len(seen), goroutines*each*n)
		}
		first, err := l.ReserveIDs(ctx, 8, 1)
		if err != nil || first != MakeID(8, 1) {
			t.Fatalf("node 8's first id %v, %v", first, err)
		}
		if _, err := l.ReserveIDs(ctx, 8, math.MaxUint32-1); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ReserveIDs(ctx, 8, 1); !errors.Is(err, ErrIDsExhausted) {
			t.Fatalf("reserve past 2^32-1: %v, want ErrIDsExhausted", err)
		}
		if _, err := l.ReserveIDs(ctx, 8, 0); err == nil {
			t.Fatal("reserved 0 ids")
		}
	})
}

func mustGet(t *testing.T, l Ledger, id IsolateID) Entry {
	t.Helper()
	e, err := l.Get(testCtx(t), id)
	if err != nil {
		t.Fatalf("Get %v: %v", id, err)
	}
	return e
}

func TestMemoryConformance(t *testing.T) {
	runConformance(t, func(*testing.T) Ledger { return NewMemory() })
}

func TestIsolateID(t *testing.T) {
	id := MakeID(math.MaxUint32, 42)
	if id.Spawner() != math.MaxUint32 || id.Seq() != 42 || id.String() != "4294967295-42" {
		t.Fatalf("%#x: %v %v %s", uint64(id), id.Spawner(), id.Seq(), id)
	}
	if Key(MakeID(3, 17)) != "iso.3.17" {
		t.Fatal(Key(MakeID(3, 17)))
	}
}

func TestEntryEncoding(t *testing.T) {
	for _, e := range []Entry{
		{Owner: 0, Epoch: 0, State: Running},
		{Owner: math.MaxUint32, Epoch: math.MaxUint64, State: Finished},
		{Owner: 3, Epoch: 17, State: Running},
	} {
		b := appendEntry(nil, e)
		if len(b) != entrySize {
			t.Fatalf("%d bytes", len(b))
		}
		got, err := decodeEntry(b)
		if err != nil || got != e {
			t.Fatalf("round trip %v: %v, %v", e, got, err)
		}
	}
	good := appendEntry(nil, Entry{Owner: 1, Epoch: 2, State: Running})
	for name, bad := range map[string][]byte{
		"empty":    nil,
		"short":    good[:15],
		"long":     append(append([]byte(nil), good...), 0),
		"format":   append([]byte{2}, good[1:]...),
		"state0":   append([]byte{1, 0}, good[2:]...),
		"state3":   append([]byte{1, 3}, good[2:]...),
		"reserved": append([]byte{1, 1, 0, 1}, good[4:]...),
	} {
		if _, err := decodeEntry(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	for _, bad := range [][]byte{nil, make([]byte, 8), {1, 0, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 2, 0, 0, 0}} {
		if _, err := decodeCounter(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("counter %x: %v, want ErrCorrupt", bad, err)
		}
	}
}
