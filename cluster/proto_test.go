package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// The tests in this file drive proto state machines over a virtual-time Net,
// with fake hooks that model an isolate as a byte string. No goroutines.

type holdState uint8

const (
	holdRunning holdState = iota + 1
	holdParked
)

type hold struct {
	epoch     uint64
	state     holdState
	confirmed bool
}

type fakeNode struct {
	id       NodeID
	w        *protoWorld
	p        *proto
	progs    map[[32]byte][]byte
	held     map[IsolateID]*hold
	crashed  bool
	refuse   bool
	accepted map[[2]uint64]bool // (id, epoch) accepted here
	resumed  map[[2]uint64]bool // (id, epoch) resumed here after a failed handoff

	// Received buffers, by address: an OFFER the proto kept while it waits
	// for its program, and one an accepted isolate owns. A buffer is
	// discarded at most once, and only while waiting.
	waiting, owned map[*byte]bool
	got            map[msgKind]int // messages received, by kind
}

// count returns how many messages of kind k f has received.
func (f *fakeNode) count(k msgKind) int { return f.got[k] }

type protoWorld struct {
	t      testing.TB
	net    *Net
	now    time.Duration
	nodes  []*fakeNode
	prog   [32]byte
	state  []byte // the isolate's "state": every holder must have exactly this
	logs   []string
	detect time.Duration // failure detection delay
	downAt map[NodeID]time.Duration
	// mayLose is set when a crash took down the isolate's owner.
	mayLose bool
}

func (w *protoWorld) logf(format string, args ...any) {
	w.logs = append(w.logs, fmt.Sprintf("%8v ", w.now)+fmt.Sprintf(format, args...))
}

func (w *protoWorld) fail(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("%s\n%s", fmt.Sprintf(format, args...), joinLast(w.logs, 60))
}

func joinLast(s []string, n int) string {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	var b bytes.Buffer
	for _, l := range s {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func (f *fakeNode) send(to NodeID, msg []byte) {
	m, _ := parseMessage(msg)
	f.w.logf("%v -> %v %v id=%d e=%d", f.id, to, m.kind, m.id, m.epoch)
	f.w.net.SendAt(f.w.now, f.id, to, msg)
}
func (f *fakeNode) released([]byte) {}
func (f *fakeNode) discarded(raw []byte) {
	if k := &raw[0]; !f.waiting[k] {
		f.w.fail("%v discards a buffer it does not hold waiting (owned by an isolate: %v)", f.id, f.owned[k])
	}
	delete(f.waiting, &raw[0])
}
func (f *fakeNode) haveProgram(h [32]byte) bool    { return f.progs[h] != nil }
func (f *fakeNode) holds(id IsolateID) bool        { return f.held[id] != nil }
func (f *fakeNode) holdAck(IsolateID) bool         { return false }
func (f *fakeNode) programBytes(h [32]byte) []byte { return f.progs[h] }
func (f *fakeNode) addProgram(h [32]byte, b []byte) error {
	if h != f.w.prog || !bytes.Equal(b, []byte("program")) {
		return errors.New("bad program")
	}
	f.progs[h] = append([]byte(nil), b...)
	return nil
}
func (f *fakeNode) accept(from NodeID, m *message) error {
	if f.refuse {
		return errRefused
	}
	if !bytes.Equal(m.payload, f.w.state) {
		return errors.New("bad state")
	}
	if h := f.held[m.id]; h != nil {
		f.w.fail("%v accepts %d@%d while holding it at epoch %d", f.id, m.id, m.epoch, h.epoch)
	}
	f.held[m.id] = &hold{epoch: m.epoch, state: holdRunning}
	f.accepted[[2]uint64{uint64(m.id), m.epoch}] = true
	delete(f.waiting, &m.raw[0])
	f.owned[&m.raw[0]] = true
	f.w.logf("%v accepts %d@%d", f.id, m.id, m.epoch)
	return nil
}
func (f *fakeNode) resume(id IsolateID, epoch uint64) {
	h := f.held[id]
	if h == nil || h.state != holdParked || h.epoch != epoch {
		f.w.fail("%v resumes %d@%d but holds %+v", f.id, id, epoch, h)
	}
	h.state = holdRunning
	f.resumed[[2]uint64{uint64(id), epoch}] = true
	f.w.logf("%v resumes %d@%d", f.id, id, epoch)
}
func (f *fakeNode) drop(id IsolateID, epoch uint64, to NodeID) {
	h := f.held[id]
	if h == nil || h.state != holdParked || h.epoch != epoch {
		f.w.fail("%v drops %d@%d but holds %+v", f.id, id, epoch, h)
	}
	delete(f.held, id)
	f.w.logf("%v drops %d@%d", f.id, id, epoch)
}
func (f *fakeNode) confirmed(id IsolateID, epoch uint64) {
	h := f.held[id]
	if h == nil || h.epoch != epoch || h.confirmed {
		f.w.fail("%v confirms %d@%d but holds %+v", f.id, id, epoch, h)
	}
	// Exactly-once publication: once confirmed, no other live node may hold
	// any copy.
	for _, o := range f.w.nodes {
		if o != f && !o.crashed && o.held[id] != nil {
			f.w.fail("%v confirms %d@%d while %v holds %+v", f.id, id, epoch, o.id, o.held[id])
		}
	}
	h.confirmed = true
	f.w.logf("%v confirmed %d@%d", f.id, id, epoch)
}

func newProtoWorld(t testing.TB, seed uint64, n int, cfg LinkConfig) *protoWorld {
	w := &protoWorld{t: t, net: NewNet(seed, cfg), prog: [32]byte{1, 2, 3}, state: []byte("the state"),
		detect: 3 * time.Millisecond, downAt: map[NodeID]time.Duration{}}
	for i := 0; i < n; i++ {
		f := &fakeNode{id: NodeID(i), w: w, progs: map[[32]byte][]byte{}, held: map[IsolateID]*hold{},
			accepted: map[[2]uint64]bool{}, resumed: map[[2]uint64]bool{}, waiting: map[*byte]bool{}, owned: map[*byte]bool{}, got: map[msgKind]int{}}
		f.p = newProto(f.id, protoConfig{rto: 2 * time.Millisecond, offerTimeout: 8 * time.Millisecond}, f)
		w.nodes = append(w.nodes, f)
		w.net.Listen(f.id, func(from NodeID, msg []byte) {
			if f.crashed {
				return
			}
			m, err := parseMessage(msg)
			if err != nil {
				w.fail("unparsable message: %v", err)
			}
			f.got[m.kind]++
			if f.p.onMessage(w.now, from, &m, msg) && !f.owned[&msg[0]] {
				f.waiting[&msg[0]] = true
			}
		})
	}
	// Node 0 holds isolate 1 and has the program.
	w.nodes[0].progs[w.prog] = []byte("program")
	w.nodes[0].held[1] = &hold{epoch: 0, state: holdRunning, confirmed: true}
	return w
}

// handoff starts a handoff of isolate 1 from its confirmed, running holder.
func (w *protoWorld) handoff(from, to NodeID) bool {
	f := w.nodes[from]
	h := f.held[1]
	if f.crashed || h == nil || h.state != holdRunning || !h.confirmed {
		return false
	}
	e := h.epoch + 1
	offer := append(appendOfferHeader(nil, 1, e, w.prog, 0, nil), w.state...)
	h.state, h.epoch = holdParked, e
	w.logf("%v offers 1@%d to %v", from, e, to)
	if !f.p.startHandoff(w.now, 1, e, to, offer) {
		h.state = holdRunning
		return false
	}
	return true
}

func (w *protoWorld) crash(id NodeID) {
	f := w.nodes[id]
	if f.crashed {
		return
	}
	// The isolate may die with f if f holds a copy and no other live node
	// runs one: f is then its owner (or, holding a parked copy, the only
	// node that knows of it, unless its offer is still in flight).
	holders := 0
	for _, o := range w.nodes {
		if !o.crashed && o != f && o.held[1] != nil && o.held[1].state == holdRunning {
			holders++
		}
	}
	if holders == 0 && f.held[1] != nil {
		w.mayLose = true
	}
	f.crashed = true
	w.net.Crash(id)
	w.downAt[id] = w.now + w.detect
	w.logf("%v crashes (other running copies: %d)", id, holders)
}

// step advances virtual time by d, delivering messages, ticking every
// machine each 500 µs and telling live nodes about crashes once detected.
func (w *protoWorld) step(d time.Duration) {
	end := w.now + d
	for w.now < end {
		next := min(end, (w.now/(500*time.Microsecond)+1)*500*time.Microsecond)
		if at, ok := w.net.NextAt(); ok && at < next {
			next = max(at, w.now)
		}
		w.now = next
		w.net.DeliverDue(w.now)
		if w.now%(500*time.Microsecond) == 0 {
			for _, id := range sortedKeys(w.downAt) {
				if w.now >= w.downAt[id] {
					for _, f := range w.nodes {
						if !f.crashed {
							f.p.peerDown(id)
						}
					}
				}
			}
			for _, f := range w.nodes {
				if !f.crashed {
					f.p.tick(w.now)
				}
			}
		}
	}
}

// check verifies the end state: at most one live holder, exactly one unless
// a crash took every copy, nothing parked or unconfirmed, and no epoch both
// resumed by its source and accepted by a live target.
func (w *protoWorld) check() {
	w.t.Helper()
	var holders []NodeID
	for _, f := range w.nodes {
		if f.crashed {
			continue
		}
		if h := f.held[1]; h != nil {
			holders = append(holders, f.id)
			if h.state != holdRunning || !h.confirmed {
				w.fail("%v ends holding %+v", f.id, h)
			}
		}
		if f.p.outstanding() != 0 || f.p.unconfirmedCount() != 0 {
			w.fail("%v ends with %d outstanding, %d unconfirmed", f.id, f.p.outstanding(), f.p.unconfirmedCount())
		}
		pending := 0
		for _, r := range f.p.in {
			if r.pending != nil {
				pending++
			}
		}
		if pending != len(f.waiting) {
			w.fail("%v ends with %d offers waiting for a program but holds %d of their buffers", f.id, pending, len(f.waiting))
		}
	}
	if len(holders) > 1 {
		w.fail("isolate held by %v", holders)
	}
	if len(holders) == 0 && !w.mayLose {
		w.fail("isolate lost though a live node held a copy at every crash")
	}
	for _, s := range w.nodes {
		for k := range s.resumed {
			for _, t := range w.nodes {
				if t != s && !t.crashed && t.accepted[k] {
					// Both ran epoch k: the source's resumed copy and the
					// target's accepted one.
					w.fail("epoch %d resumed by %v and accepted by live %v", k[1], s.id, t.id)
				}
			}
		}
	}
}

func TestProtoCleanHandoffFetchesProgram(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	if !w.handoff(0, 1) {
		t.Fatal("handoff refused")
	}
	w.step(5 * time.Millisecond)
	w.check()
	if w.nodes[1].held[1] == nil || w.nodes[1].progs[w.prog] == nil {
		t.Fatalf("node 1 did not take the isolate and cache the program\n%s", joinLast(w.logs, 40))
	}
	// Onward to 2, then back to 0, which has the program cached.
	w.handoff(1, 2)
	w.step(5 * time.Millisecond)
	w.handoff(2, 0)
	w.step(5 * time.Millisecond)
	w.check()
	if h := w.nodes[0].held[1]; h == nil || h.epoch != 3 {
		t.Fatalf("node 0 holds %+v\n%s", h, joinLast(w.logs, 40))
	}
	if s := w.nodes[0].p.stats; s.Fetches != 0 {
		t.Fatalf("node 0 fetched a program it had: %+v", s)
	}
}

func TestProtoRefusalResumesSource(t *testing.T) {
	w := newProtoWorld(t, 1, 2, LinkConfig{Latency: 100 * time.Microsecond})
	w.nodes[1].progs[w.prog] = []byte("program")
	w.nodes[1].refuse = true
	w.handoff(0, 1)
	w.step(5 * time.Millisecond)
	w.check()
	if h := w.nodes[0].held[1]; h == nil || !w.nodes[0].resumed[[2]uint64{1, 1}] {
		t.Fatalf("source did not resume: %+v", h)
	}
	// The next attempt uses a new epoch and succeeds.
	w.nodes[1].refuse = false
	w.handoff(0, 1)
	w.step(5 * time.Millisecond)
	w.check()
	if h := w.nodes[1].held[1]; h == nil || h.epoch != 2 {
		t.Fatalf("target holds %+v", h)
	}
}

func TestProtoBadStateIsRefused(t *testing.T) {
	w := newProtoWorld(t, 1, 2, LinkConfig{})
	w.state = []byte("corrupt")
	w.handoff(0, 1)
	w.state = []byte("the state")
	w.step(5 * time.Millisecond)
	w.check()
	if w.nodes[0].held[1] == nil {
		t.Fatal("source lost its copy")
	}
}

func TestProtoCutLinkAbortsThenLateOfferRejected(t *testing.T) {
	w := newProtoWorld(t, 1, 2, LinkConfig{Latency: 100 * time.Microsecond})
	w.nodes[1].progs[w.prog] = []byte("program")
	w.net.Cut(0, 1)
	w.handoff(0, 1)
	w.step(20 * time.Millisecond) // past the offer timeout: ABORT, resent
	if !w.nodes[0].p.out[1].aborting {
		t.Fatal("source is not aborting")
	}
	w.net.HealLink(0, 1)
	w.step(40 * time.Millisecond) // ABORT resends back off: up to 8 RTO apart
	w.check()
	if !w.nodes[0].resumed[[2]uint64{1, 1}] {
		t.Fatal("source did not resume after ABORTED")
	}
	// A late OFFER of the aborted epoch is answered ABORTED, not taken.
	late := append(appendOfferHeader(nil, 1, 1, w.prog, 0, nil), w.state...)
	w.net.SendAt(w.now, 0, 1, late)
	w.step(2 * time.Millisecond)
	if w.nodes[1].held[1] != nil {
		t.Fatal("late offer of an aborted epoch was taken")
	}
	w.check()
}

func TestProtoStaleOfferRejected(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	for _, f := range w.nodes {
		f.progs[w.prog] = []byte("program")
	}
	w.handoff(0, 1)
	w.step(5 * time.Millisecond)
	w.handoff(1, 2)
	w.step(5 * time.Millisecond)
	// Replay node 0's old offer (epoch 1) to node 2 and to node 1.
	old := append(appendOfferHeader(nil, 1, 1, w.prog, 0, nil), w.state...)
	w.net.SendAt(w.now, 0, 1, old)
	w.net.SendAt(w.now, 0, 2, old)
	w.step(5 * time.Millisecond)
	w.check()
	if h := w.nodes[2].held[1]; h == nil || h.epoch != 2 || w.nodes[1].held[1] != nil {
		t.Fatalf("stale offer changed ownership\n%s", joinLast(w.logs, 30))
	}
}

// TestProtoCrashAtEachStep crashes the source or the target at every
// 500 µs point of a handoff (which spans message steps of 1 ms each), with
// and without the program cached at the target and with message loss.
func TestProtoCrashAtEachStep(t *testing.T) {
	for _, victim := range []NodeID{0, 1} {
		for _, cached := range []bool{false, true} {
			for _, loss := range []float64{0, 0.3} {
				for at := time.Duration(0); at <= 14*time.Millisecond; at += 500 * time.Microsecond {
					for seed := uint64(1); seed <= 3; seed++ {
						name := fmt.Sprintf("victim=%v cached=%v loss=%v at=%v seed=%d", victim, cached, loss, at, seed)
						w := newProtoWorld(t, seed, 3, LinkConfig{Latency: time.Millisecond, Loss: loss})
						w.logs = append(w.logs, name)
						if cached {
							w.nodes[1].progs[w.prog] = []byte("program")
						}
						w.handoff(0, 1)
						w.step(at)
						w.crash(victim)
						w.step(200 * time.Millisecond)
						w.check()
					}
				}
			}
		}
	}
}

// TestProtoRandomScenarios runs seeded random scenarios: random link faults
// (loss, duplication, reordering, jitter), cuts that heal, one crash, and
// handoffs started whenever the holder may move. Each seed reproduces its
// run exactly: go test -run TestProtoRandomScenarios/seed=N.
func TestProtoRandomScenarios(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 150
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { protoScenario(t, seed) })
	}
}

func protoScenario(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	cfg := LinkConfig{
		Latency:   time.Duration(rng.IntN(2000)) * time.Microsecond,
		Jitter:    time.Duration(rng.IntN(2000)) * time.Microsecond,
		Loss:      rng.Float64() * 0.4,
		Duplicate: rng.Float64() * 0.2,
		Reorder:   rng.Float64() * 0.3,
	}
	nodes := 2 + rng.IntN(3)
	w := newProtoWorld(t, seed, nodes, cfg)
	w.logs = append(w.logs, fmt.Sprintf("seed=%d nodes=%d cfg=%+v", seed, nodes, cfg))
	for _, f := range w.nodes[1:] {
		if rng.IntN(2) == 0 {
			f.progs[w.prog] = []byte("program")
		}
	}
	crashed := false
	var cuts [][2]NodeID
	for i := 0; i < 60; i++ {
		switch r := rng.IntN(20); {
		case r < 8:
			for _, f := range w.nodes {
				if h := f.held[1]; h != nil && !f.crashed {
					w.handoff(f.id, NodeID(rng.IntN(nodes)))
				}
			}
		case r < 10:
			a, b := NodeID(rng.IntN(nodes)), NodeID(rng.IntN(nodes))
			if a != b {
				w.net.Cut(a, b)
				cuts = append(cuts, [2]NodeID{a, b})
				w.logf("cut %v-%v", a, b)
			}
		case r < 12 && len(cuts) > 0:
			c := cuts[0]
			cuts = cuts[1:]
			w.net.HealLink(c[0], c[1])
			w.logf("heal %v-%v", c[0], c[1])
		case r == 12 && !crashed:
			crashed = true
			w.crash(NodeID(rng.IntN(nodes)))
		case r == 13:
			f := w.nodes[rng.IntN(nodes)]
			f.refuse = !f.refuse
		}
		w.step(time.Duration(rng.IntN(3000)) * time.Microsecond)
	}
	for _, c := range cuts {
		w.net.HealLink(c[0], c[1])
	}
	for _, f := range w.nodes {
		f.refuse = false
	}
	w.step(300 * time.Millisecond)
	w.check()
}

func TestParseMessageNeverPanics(t *testing.T) {
	msgs := [][]byte{
		appendOfferHeader(nil, 1, 2, [32]byte{3}, 4, []Stop{{To: 2, At: 9}}),
		appendIDEpoch(nil, mAck, 1, 2),
		appendNack(nil, 1, 2, nackStale),
		appendHash(nil, mFetch, [32]byte{9}),
		appendHash(nil, mProgram, [32]byte{9}),
		appendHeartbeat(nil, Load{Queued: 3, Running: 2, Idle: 1, Draining: true}),
		appendU32(nil, mSteal, 7),
	}
	for _, full := range msgs {
		m, err := parseMessage(full)
		if err != nil {
			t.Fatalf("%v: %v", msgKind(full[0]), err)
		}
		if m.kind == mHeartbeat && (m.load != Load{Queued: 3, Running: 2, Idle: 1, Draining: true}) {
			t.Fatalf("heartbeat %+v", m.load)
		}
		if r := m.routeStops(); m.kind == mOffer && (len(r) != 1 || r[0] != Stop{To: 2, At: 9} || len(m.payload) != 0) {
			t.Fatalf("offer route %+v, payload %d bytes", r, len(m.payload))
		}
		for i := 0; i < len(full); i++ {
			if m.kind == mOffer || m.kind == mProgram {
				if i < offerHeaderLen(1) && m.kind == mOffer || i < 33 && m.kind == mProgram {
					if _, err := parseMessage(full[:i]); err == nil {
						t.Fatalf("%v truncated to %d parsed", m.kind, i)
					}
				}
				continue
			}
			if _, err := parseMessage(full[:i]); err == nil {
				t.Fatalf("%v truncated to %d parsed", m.kind, i)
			}
		}
	}
	// A hostile stop count: over MaxRoute, or more stops than bytes.
	for _, n := range []byte{MaxRoute + 1, 255, MaxRoute} {
		b := appendOfferHeader(nil, 1, 2, [32]byte{3}, 4, nil)
		b[57] = n
		if _, err := parseMessage(b); err == nil {
			t.Errorf("an offer claiming %d stops with none parsed", n)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		b := make([]byte, rng.IntN(80))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		parseMessage(b)
	}
}

// TestProtoGarbageOfferDoesNotPoisonEpoch (issue 12, item 6): an OFFER that
// cannot be verified, with a huge epoch, must not raise what the target
// takes as the isolate's highest epoch, so the next real handoff of the
// isolate to it still succeeds. Once with the program known (the garbage
// fails to decode) and once with an unknown program (it waits for a
// program that never comes).
func TestProtoGarbageOfferDoesNotPoisonEpoch(t *testing.T) {
	for _, known := range []bool{true, false} {
		w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
		w.nodes[1].progs[w.prog] = []byte("program")
		hash := w.prog
		if !known {
			hash = [32]byte{9, 9, 9}
		}
		junk := append(appendOfferHeader(nil, 1, 1<<62, hash, 0, nil), "garbage"...)
		w.net.SendAt(w.now, 2, 1, junk)
		w.step(time.Millisecond)
		if !w.handoff(0, 1) {
			t.Fatal("handoff refused")
		}
		w.step(5 * time.Millisecond)
		w.check()
		if h := w.nodes[1].held[1]; h == nil || h.epoch != 1 {
			t.Fatalf("known program %v: after a garbage OFFER at epoch 2^62, node 1 holds %+v, want epoch 1\n%s", known, h, joinLast(w.logs, 30))
		}
	}
}

// TestProtoPendingOfferFlood (issue 12, item 7): 1000 OFFERs of 128 KiB
// name a program nobody serves. The bytes the target keeps for them stay
// under its pending budget, every kept one expires (its buffer handed
// back), and the records they left are pruned after the horizon.
func TestProtoPendingOfferFlood(t *testing.T) {
	w := newProtoWorld(t, 1, 3, LinkConfig{Latency: 100 * time.Microsecond})
	tgt := w.nodes[1].p
	const budget = 4 << 20
	tgt.cfg.pendingBudget = budget
	payload := make([]byte, 128<<10)
	for i := 0; i < 1000; i++ {
		msg := append(appendOfferHeader(nil, IsolateID(100+i), 1, [32]byte{7, 7}, 0, nil), payload...)
		w.net.SendAt(w.now, 2, 1, msg)
	}
	most := int64(0)
	for i := 0; i < 4; i++ {
		w.step(250 * time.Microsecond)
		most = max(most, tgt.pendingBytes)
		if tgt.pendingBytes > budget {
			t.Fatalf("%d bytes of offers pending, budget %d", tgt.pendingBytes, budget)
		}
	}
	if most == 0 || tgt.stats.OverBudget == 0 {
		t.Fatalf("nothing was kept (%d) or refused (%+v)", most, tgt.stats)
	}
	w.step(tgt.cfg.pendingTTL + time.Millisecond)
	if tgt.pendingBytes != 0 || len(tgt.fetch) != 0 || len(w.nodes[1].waiting) != 0 || tgt.stats.Expired == 0 {
		t.Fatalf("after the TTL: %d bytes pending, %d programs awaited, %d buffers held; %+v", tgt.pendingBytes, len(tgt.fetch), len(w.nodes[1].waiting), tgt.stats)
	}
	if len(tgt.in) == 0 {
		t.Fatal("no records before the horizon")
	}
	w.step(tgt.cfg.horizon + tgt.cfg.horizon/4 + time.Millisecond)
	if len(tgt.in) != 0 {
		t.Fatalf("%d records left after the horizon", len(tgt.in))
	}
	t.Logf("most pending %d bytes; %+v", most, tgt.stats)
}
