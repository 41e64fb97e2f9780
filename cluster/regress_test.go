package cluster

import (
	"testing"
	"time"
)

// Regression tests for the defects a hostile review found (the review's
// reproducers, made into assertions and shrunk to run quickly).

// held reports whether node i runs isolate 1 in a protoWorld.
func runsIsolate1(w *protoWorld, i int) bool {
	h := w.nodes[i].held[1]
	return h != nil && h.state == holdRunning
}

// 16 bare ABORTs from a third node at distinct epochs must not keep a later
// handoff of the isolate (whose OFFER waits for its program) from being
// answered.
func TestProtoGarbageAbortsDoNotWedgeHandoff(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	for i := uint64(0); i < maxUnverified; i++ {
		w.net.SendAt(w.now, 2, 1, appendIDEpoch(nil, mAbort, 1, 1<<62+i))
	}
	w.step(time.Millisecond)
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(time.Second)
	w.check()
	if w.nodes[1].held[1] == nil {
		t.Fatalf("handoff did not go through: n0 holds %+v, outstanding %d; n1 stats %+v",
			w.nodes[0].held[1], w.nodes[0].p.outstanding(), w.nodes[1].p.stats)
	}
}

// The same with 16 garbage OFFERs, then a legitimate offer the target
// refuses (draining): the source must be answered and resume.
func TestProtoGarbageOffersDoNotWedgeRefusedHandoff(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	w.nodes[1].progs[w.prog] = []byte("program")
	for i := uint64(0); i < maxUnverified; i++ {
		w.net.SendAt(w.now, 2, 1, append(appendOfferHeader(nil, 1, 1<<62+i, w.prog, 0, nil), "garbage"...))
	}
	w.step(time.Millisecond)
	w.nodes[1].refuse = true
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(time.Second)
	w.check()
	if !runsIsolate1(w, 0) {
		t.Fatalf("a refused handoff never resumed its source: n0 holds %+v, outstanding %d; n1 stats %+v",
			w.nodes[0].held[1], w.nodes[0].p.outstanding(), w.nodes[1].p.stats)
	}
}

// No attacker: 17 refusals in a row (draining) of one isolate by one node.
// Every one is answered, and once the node takes isolates again the next
// handoff goes through.
func TestProtoSeventeenRefusalsAnswered(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	w.nodes[1].progs[w.prog] = []byte("program")
	w.nodes[1].refuse = true
	for i := 0; i < 2*maxUnverified+1; i++ {
		if !w.handoff(0, 1) {
			t.Fatalf("handoff %d: source not running: %+v", i+1, w.nodes[0].held[1])
		}
		w.step(5 * time.Millisecond)
		if !runsIsolate1(w, 0) {
			t.Fatalf("refused handoff %d not answered within 5 ms: n0 holds %+v; n1 stats %+v", i+1, w.nodes[0].held[1], w.nodes[1].p.stats)
		}
	}
	w.nodes[1].refuse = false
	if !w.handoff(0, 1) {
		t.Fatal("last handoff refused")
	}
	w.step(time.Second)
	w.check()
	if w.nodes[1].held[1] == nil {
		t.Fatalf("handoff after the refusals did not go through: n0 holds %+v; n1 stats %+v", w.nodes[0].held[1], w.nodes[1].p.stats)
	}
}

// A refusal must outlive the record that held it: a copy of the refused
// OFFER delayed past the horizon must not be taken after its source
// resumed (two copies of epoch 1).
func TestProtoPrunedRefusalThenLateOffer(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	w.nodes[1].progs[w.prog] = []byte("program")
	w.nodes[1].refuse = true
	late := append(appendOfferHeader(nil, 1, 1, w.prog, 0, nil), w.state...)
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(5 * time.Millisecond)
	if !runsIsolate1(w, 0) {
		t.Fatalf("source did not resume: %+v", w.nodes[0].held[1])
	}
	w.nodes[1].refuse = false
	hz := w.nodes[1].p.cfg.horizon
	w.step(hz + hz/2)
	if n := len(w.nodes[1].p.in); n != 0 {
		t.Fatalf("%d records left after the horizon", n)
	}
	w.net.SendAt(w.now, 0, 1, late)
	w.step(50 * time.Millisecond)
	w.check()
	if w.nodes[1].held[1] != nil {
		t.Fatalf("a late OFFER of a refused epoch was taken after pruning")
	}
}

// An ABORT from a third node must not cancel node 0's offer that waits for
// its program at node 1.
func TestProtoSpoofedAbortIgnored(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	w.net.SetLink(1, 0, LinkConfig{Latency: 2 * time.Millisecond}) // FETCH slow to arrive
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(500 * time.Microsecond)
	w.net.SendAt(w.now, 2, 1, appendIDEpoch(nil, mAbort, 1, 1))
	w.step(100 * time.Millisecond)
	w.check()
	if w.nodes[1].held[1] == nil {
		t.Fatalf("a third node's ABORT cancelled node 0's handoff (n0 resumed: %v)", w.nodes[0].resumed)
	}
	if w.nodes[1].p.stats.Spoofed == 0 {
		t.Fatal("the spoofed ABORT was not counted")
	}
}

// ABORTs for isolates a node neither holds nor has pending create no
// records, and the tombstones they leave are bounded: one peer's by its
// quota (a quarter of the budget), all by the budget. A tombstone younger
// than the horizon is never evicted: the ABORTs past the quota are left
// unanswered until the horizon has passed, and answered when resent then.
func TestProtoAbortsForUnknownIsolatesBounded(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	tgt := w.nodes[1].p
	quota := tgt.tombQuota()
	n := 2 * quota
	floodAborts(w.net, w.now, 2, 1, 1000, n)
	w.step(time.Millisecond)
	if len(tgt.in) != 0 {
		t.Fatalf("%d records from %d ABORTs for unknown isolates", len(tgt.in), n)
	}
	if got := len(tgt.tombs); got != quota {
		t.Fatalf("%d tombstones, quota %d", got, quota)
	}
	if tgt.stats.Evicted != 0 || tgt.stats.TombsFull != int64(n-quota) {
		t.Fatalf("evicted %d young tombstones, %d ABORTs left unanswered (want 0, %d)", tgt.stats.Evicted, tgt.stats.TombsFull, n-quota)
	}
	if got := w.nodes[2].count(mAborted); got != quota {
		t.Fatalf("%d ABORTED answers, want %d (only those recorded)", got, quota)
	}
	// Past the horizon the old tombstones may go: the resent ABORTs are
	// answered and recorded.
	w.step(tgt.horizon())
	floodAborts(w.net, w.now, 2, 1, IsolateID(1000+quota), n-quota)
	w.step(time.Millisecond)
	if got := w.nodes[2].count(mAborted); got != n {
		t.Fatalf("%d ABORTED answers to %d ABORTs", got, n)
	}
	if got := len(tgt.tombs); got != quota {
		t.Fatalf("%d tombstones, quota %d", got, quota)
	}
	if tgt.stats.Evicted != int64(n-quota) {
		t.Fatalf("evicted %d, want %d", tgt.stats.Evicted, n-quota)
	}
	// The most recent one is remembered: a late OFFER of it is not taken.
	last := IsolateID(1000 + n - 1)
	if d := tgt.tombs[last].get(1); d != aborted {
		t.Fatalf("tombstone of the last aborted isolate: %v", d)
	}
}

// One peer flooding ABORTs of made-up isolates fills only its quota of
// tombstones: another peer's ABORT is still answered, and recorded, at
// once.
func TestProtoTombQuotaPerPeer(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	tgt := w.nodes[1].p
	floodAborts(w.net, w.now, 2, 1, 1000, tgt.cfg.maxTombs[0])
	w.step(time.Millisecond)
	w.net.Cut(0, 1) // the OFFER is lost; the source aborts
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(9 * time.Millisecond)
	w.net.HealLink(0, 1)
	w.step(5 * time.Millisecond) // well before the horizon
	if !runsIsolate1(w, 0) {
		t.Fatalf("the source's ABORT was not answered while another peer flooded: %+v, node 1 stats %+v", w.nodes[0].held[1], tgt.stats)
	}
	if d := tgt.tombs[1].get(1); d != aborted {
		t.Fatalf("abort of 1@1 not recorded: %v", d)
	}
}

// OFFERs of new isolates past the record budget are refused (and the
// refusal kept in a tombstone); the node holds at most the budget.
func TestProtoRecordBudget(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	tgt := w.nodes[1].p
	tgt.cfg.maxRecords = 8
	w.nodes[1].progs[w.prog] = []byte("program")
	for i := 0; i < 20; i++ {
		w.net.SendAt(w.now, 2, 1, append(appendOfferHeader(nil, IsolateID(100+i), 1, w.prog, 0, nil), "garbage"...))
	}
	w.step(time.Millisecond)
	if len(tgt.in) != 8 {
		t.Fatalf("%d records, budget 8", len(tgt.in))
	}
	if got := w.nodes[2].count(mNack); got != 20 {
		t.Fatalf("%d NACKs to 20 OFFERs", got)
	}
	if d := tgt.tombs[119].get(1); d != refused {
		t.Fatalf("refusal past the record budget not kept: %v", d)
	}
}

// Review 2, defect 1: the OFFER is held back; the source aborts and node 1,
// with no record, answers ABORTED from a fresh tombstone; the source
// resumes. A flood of maxTombs[0] ABORTs for made-up isolates from node 2
// must not evict that tombstone before the horizon, so that the held-back
// OFFER copy, arriving then, is not taken (the isolate would run twice).
func TestProtoFreshAbortTombstoneNotEvicted(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	w.nodes[1].progs[w.prog] = []byte("program")
	w.net.Cut(0, 1) // every copy of the OFFER is held back (one is re-injected later)
	late := append(appendOfferHeader(nil, 1, 1, w.prog, 0, nil), w.state...)
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(9 * time.Millisecond) // past offerTimeout (8 ms): node 0 is aborting
	w.net.HealLink(0, 1)
	w.step(5 * time.Millisecond)
	if !runsIsolate1(w, 0) {
		t.Fatalf("source did not resume: %+v", w.nodes[0].held[1])
	}
	tgt := w.nodes[1].p
	if d := tgt.tombs[1].get(1); d != aborted {
		t.Fatalf("no aborted tombstone for 1@1: %v", d)
	}
	floodAborts(w.net, w.now, 2, 1, 1000, tgt.cfg.maxTombs[0])
	w.step(time.Millisecond)
	if d := tgt.tombs[1].get(1); d != aborted {
		t.Fatalf("the fresh tombstone of 1@1 was evicted (evicted %d)", tgt.stats.Evicted)
	}
	w.net.SendAt(w.now, 0, 1, late) // the held-back copy, well inside the delay bound
	w.step(20 * time.Millisecond)
	w.check()
	if runsIsolate1(w, 0) && w.nodes[1].held[1] != nil {
		t.Fatal("epoch 1 resumed by node 0 AND accepted by node 1")
	}
}

// The same with a refusal past the record budget: node 1 refuses OFFER(1@1)
// (NACK full) into a fresh tombstone, node 0 resumes, node 2 floods ABORTs;
// once records free up a duplicate of the OFFER must still be refused.
func TestProtoFreshRefusalTombstoneNotEvicted(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	w.nodes[1].progs[w.prog] = []byte("program")
	tgt := w.nodes[1].p
	tgt.cfg.maxRecords = 4
	for i := 0; i < 4; i++ { // node 2 fills the record budget with garbage
		w.net.SendAt(w.now, 2, 1, append(appendOfferHeader(nil, IsolateID(500+i), 1, w.prog, 0, nil), "garbage"...))
	}
	w.step(time.Millisecond)
	dup := append(appendOfferHeader(nil, 1, 1, w.prog, 0, nil), w.state...)
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(2 * time.Millisecond)
	if !runsIsolate1(w, 0) {
		t.Fatalf("source did not resume after NACK full: %+v", w.nodes[0].held[1])
	}
	floodAborts(w.net, w.now, 2, 1, 100000, tgt.cfg.maxTombs[0])
	w.step(time.Millisecond)
	tgt.cfg.maxRecords = 1 << 16 // room for records again
	w.net.SendAt(w.now, 0, 1, dup)
	w.step(20 * time.Millisecond)
	w.check()
	if runsIsolate1(w, 0) && w.nodes[1].held[1] != nil {
		t.Fatal("epoch 1 refused (NACK full), resumed at node 0, then a duplicate accepted at node 1")
	}
}

// An OFFER past the record budget whose refusal cannot be kept (its
// sender's quota of tombstones is all younger than the horizon) is left
// unanswered, not
// NACKed: a NACK unrecorded would let a late duplicate be taken after the
// source resumed. Its ABORT is answered once the horizon has passed.
func TestProtoRefusalWithoutRoomUnanswered(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	w.nodes[1].progs[w.prog] = []byte("program")
	tgt := w.nodes[1].p
	tgt.cfg.maxRecords = 1
	tgt.cfg.maxTombs[0] = 4 // a quota of 1 per peer
	w.net.SendAt(w.now, 2, 1, append(appendOfferHeader(nil, 500, 1, w.prog, 0, nil), "garbage"...))
	// Node 0's quota is taken by a young tombstone (an abort of another
	// isolate), so its refusal of 1@1 cannot be recorded.
	w.net.SendAt(w.now, 0, 1, appendIDEpoch(nil, mAbort, 1000, 1))
	w.step(time.Millisecond)
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(2 * time.Millisecond)
	if got := w.nodes[0].count(mNack); got != 0 {
		t.Fatalf("%d NACKs without a record of the refusal", got)
	}
	if tgt.stats.TombsFull == 0 {
		t.Fatal("the OFFER was not counted as left unanswered")
	}
	w.step(tgt.horizon() + 50*time.Millisecond)
	w.check()
	if !runsIsolate1(w, 0) {
		t.Fatalf("source did not resume once the horizon passed: %+v", w.nodes[0].held[1])
	}
	if w.nodes[1].held[1] != nil {
		t.Fatal("node 1 holds the isolate too")
	}
}

// Review 2, defect 2: node 2 keeps an OFFER of isolate 1 at its next
// epoch, for a program nobody has, waiting at node 1, refilling it
// whenever it expires. The real source's ABORT must still be answered, so
// that it resumes its parked copy, and no copy of its OFFER may be taken
// after that.
func TestProtoPendingSquatterDoesNotWedgeSource(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	w.net.SetLink(2, 1, LinkConfig{Latency: 10 * time.Microsecond})
	bogus := [32]byte{9, 9, 9}
	squat := func() {
		w.net.SendAt(w.now, 2, 1, append(appendOfferHeader(nil, 1, 1, bogus, 0, nil), "x"...))
	}
	squat()
	w.step(500 * time.Microsecond)
	late := append(appendOfferHeader(nil, 1, 1, w.prog, 0, nil), w.state...)
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	for i := 0; i < 400; i++ { // 200 ms; node 2 refills its offer whenever it is gone
		if r := w.nodes[1].p.in[1]; r == nil || r.pending == nil {
			squat()
		}
		w.step(500 * time.Microsecond)
	}
	if !runsIsolate1(w, 0) || w.nodes[0].p.outstanding() != 0 {
		t.Fatalf("source still parked: holds %+v, outstanding %d; node 1 stats %+v",
			w.nodes[0].held[1], w.nodes[0].p.outstanding(), w.nodes[1].p.stats)
	}
	if w.nodes[0].count(mAborted) == 0 {
		t.Fatal("the source's ABORT was not answered ABORTED")
	}
	// A late copy of the source's OFFER, once node 1 has its program, is
	// not taken: the source resumed.
	w.nodes[1].progs[w.prog] = []byte("program")
	w.net.SendAt(w.now, 0, 1, late)
	w.step(20 * time.Millisecond)
	w.check()
	if w.nodes[1].held[1] != nil {
		t.Fatal("epoch 1 resumed by node 0 AND accepted by node 1")
	}
}

// The same, with the squatter's offer waiting (not expired) when the late
// copy arrives, and then expiring: the source's abort is kept for it, and
// recorded for the epoch once the waiting offer goes undecided.
func TestProtoSquatterAbortKeptPerSender(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	w.nodes[1].p.cfg.pendingTTL = 50 * time.Millisecond // the squatter's offer outlives the handoff's timeout
	bogus := [32]byte{9, 9, 9}
	squat := append(appendOfferHeader(nil, 1, 1, bogus, 0, nil), "x"...)
	w.net.SendAt(w.now, 2, 1, squat)
	w.step(200 * time.Microsecond)
	late := append(appendOfferHeader(nil, 1, 1, w.prog, 0, nil), w.state...)
	w.net.Cut(0, 1) // the OFFER is held back; the ABORT gets through
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(8*time.Millisecond + 500*time.Microsecond)
	w.net.HealLink(0, 1)
	w.step(3 * time.Millisecond)
	if !runsIsolate1(w, 0) {
		t.Fatalf("source did not resume: %+v", w.nodes[0].held[1])
	}
	tgt := w.nodes[1].p
	if r := tgt.in[1]; r == nil || r.pending == nil || r.pending.from != 2 {
		t.Fatal("the squatter's offer no longer waits")
	}
	w.nodes[1].progs[w.prog] = []byte("program")
	w.net.SendAt(w.now, 0, 1, late)
	w.step(time.Millisecond)
	if w.nodes[1].held[1] != nil {
		t.Fatal("a late OFFER copy of an epoch its source aborted was taken while a squatter's offer waited")
	}
	w.step(tgt.cfg.pendingTTL) // the squatter's offer expires, undecided
	if d := tgt.in[1].get(1); d != aborted {
		t.Fatalf("epoch 1 after the waiting offer expired: %v, want aborted", d)
	}
	w.net.SendAt(w.now, 0, 1, late)
	w.step(5 * time.Millisecond)
	w.check()
	if w.nodes[1].held[1] != nil {
		t.Fatal("a late OFFER copy of an aborted epoch was taken")
	}
}

// A squatter's waiting offer does not block the real source's OFFER of the
// same epoch when its program is here: it is taken, and the squatter's
// offer dropped.
func TestProtoSquatterDoesNotBlockOffer(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	w.nodes[1].progs[w.prog] = []byte("program")
	bogus := [32]byte{9, 9, 9}
	w.net.SendAt(w.now, 2, 1, append(appendOfferHeader(nil, 1, 1, bogus, 0, nil), "x"...))
	w.step(200 * time.Microsecond)
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(5 * time.Millisecond)
	w.check()
	if w.nodes[1].held[1] == nil || w.nodes[0].held[1] != nil {
		t.Fatalf("handoff blocked by the squatter: n0 %+v, n1 %+v", w.nodes[0].held[1], w.nodes[1].held[1])
	}
	if r := w.nodes[1].p.in[1]; r.pending != nil || w.nodes[1].p.pendingBytes != 0 {
		t.Fatal("the squatter's offer still waits")
	}
}

// floodAborts sends n ABORTs at epoch 1 from node from to node to, of the
// made-up isolates first, first+1, ...: what a hostile member sends to
// fill a node's budgets.
func floodAborts(net *Net, now time.Duration, from, to NodeID, first IsolateID, n int) {
	for i := range n {
		net.SendAt(now, from, to, appendIDEpoch(nil, mAbort, first+IsolateID(i), 1))
	}
}
