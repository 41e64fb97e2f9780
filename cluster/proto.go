package cluster

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"time"
)

// errRefused is what an accept hook returns to refuse an offer politely
// (the node is draining or stopping): the target answers NACK(refused).
var errRefused = errors.New("cluster: node refuses isolates")

// protoHooks connect the handoff state machine to the node that drives it.
// The machine calls them synchronously, on the driving goroutine, from inside
// its own methods; they must not call back into the machine.
type protoHooks interface {
	// send transmits msg; the transport copies it.
	send(to NodeID, msg []byte)
	// haveProgram reports whether the node has the program with hash h.
	haveProgram(h [32]byte) bool
	// programBytes returns the marshalled program with hash h, or nil.
	programBytes(h [32]byte) []byte
	// addProgram verifies and caches a fetched program.
	addProgram(h [32]byte, b []byte) error
	// accept decodes and verifies the state an OFFER carries and, if that
	// succeeds, takes ownership: from then on the node runs the isolate.
	// An error refuses the offer; errRefused means "not now".
	accept(from NodeID, m *message) error
	// resume: a handoff failed and the parked copy must run here again.
	resume(id IsolateID, epoch uint64)
	// drop: the target owns the isolate; the parked copy must go.
	drop(id IsolateID, epoch uint64, to NodeID)
	// confirmed: the previous holder no longer has a copy (it dropped it or
	// crashed), so the isolate's effects may be published and it may move on.
	confirmed(id IsolateID, epoch uint64)
	// released gives back an OFFER buffer the machine no longer needs.
	released(offer []byte)
	// discarded gives back a received OFFER that onOffer kept while it
	// waited for its program, once it is not going to be accepted.
	discarded(raw []byte)
	// holds reports whether the node holds isolate id (running, queued,
	// parked or finished but unpublished).
	holds(id IsolateID) bool
	// holdAck reports whether the ACK of an accepted isolate must wait:
	// the node is still committing it in the ledger. The node sends it
	// with ackNow once committed.
	holdAck(id IsolateID) bool
}

type protoConfig struct {
	rto          time.Duration // first resend interval for OFFER, ABORT and an unconfirmed ACK
	offerTimeout time.Duration // from the end of the first OFFER's transmission to giving up with ABORT
	// txTime estimates how long the link to a peer takes to transmit n
	// bytes (n ÷ bandwidth); nil for an unlimited link.
	txTime func(n int) time.Duration
	seed   uint64 // seeds the resend jitter
	// pendingBudget bounds the bytes of the OFFERs a node keeps while they
	// wait for their program; pendingTTL is how long one may wait.
	pendingBudget int64
	pendingTTL    time.Duration
	// horizon is how long a record of an isolate the node no longer holds
	// (and has nothing in flight about) is kept; see prune.
	horizon time.Duration
	// maxRecords bounds the records (inRec) a node keeps; an OFFER of an
	// isolate without one, past it, is refused. maxTombs bounds the
	// tombstones of pruned records: [0] those with only unverified
	// decisions, [1] those with a verified epoch. Past it the oldest of the
	// class is evicted, if it is older than the horizon; if none is, no
	// tombstone is made (see bury).
	maxRecords int
	maxTombs   [2]int
	// maxDelay, if not nil, bounds how long the network may hold a copy
	// of a message now; the horizon is stretched to 4 × maxDelay if that
	// is longer (see prune).
	maxDelay func() time.Duration
}

func (c protoConfig) withDefaults() protoConfig {
	if c.rto <= 0 {
		c.rto = 2 * time.Millisecond
	}
	if c.offerTimeout <= 0 {
		c.offerTimeout = 10 * c.rto
	}
	if c.pendingBudget <= 0 {
		c.pendingBudget = defaultPendingBudget
	}
	if c.pendingTTL <= 0 {
		c.pendingTTL = c.offerTimeout
	}
	if c.horizon <= 0 {
		c.horizon = 10 * c.offerTimeout
	}
	if c.maxRecords <= 0 {
		c.maxRecords = defaultMaxRecords
	}
	if c.maxTombs[0] <= 0 {
		c.maxTombs[0] = defaultMaxTombs / 4
	}
	if c.maxTombs[1] <= 0 {
		c.maxTombs[1] = defaultMaxTombs
	}
	return c
}

// defaultPendingBudget is the byte budget of offers waiting for their
// program when the node's memory budget does not set one.
const defaultPendingBudget = 64 << 20

// defaultMaxRecords and defaultMaxTombs are the default budgets of records
// and of tombstones (see protoConfig): about 400 B a record, 26 MiB in all;
// about 64 B a tombstone with no unverified decision, 4 MiB in all.
const (
	defaultMaxRecords = 1 << 16
	defaultMaxTombs   = 1 << 16
)

// maxBackoff caps the exponential backoff of resends at 2^maxBackoff RTO.
const maxBackoff = 3

// backoff returns the wait before resend number tries+1 (tries resends
// made so far): RTO × 2^tries, capped at 8 RTO, with "equal jitter": half of it
// fixed and half drawn uniformly, so that resends from many nodes spread.
func (p *proto) backoff(tries int) time.Duration {
	d := p.cfg.rto << min(tries, maxBackoff)
	return d/2 + time.Duration(p.rng.Int64N(int64(d/2)+1))
}

// txDone returns when a copy of n bytes sent now finishes transmitting, on
// a link still busy with a previous copy until busy.
func (p *proto) txDone(now, busy time.Duration, n int) time.Duration {
	if p.cfg.txTime == nil {
		return now
	}
	return max(now, busy) + p.cfg.txTime(n)
}

// decision is what a target decided about one (isolate, epoch).
type decision uint8

const (
	undecided decision = iota
	accepted           // took ownership; answers ACK forever
	aborted            // the source gave up first; answers ABORTED forever
	refused            // answered NACK
)

// outRec is the source's side of one handoff.
type outRec struct {
	id       IsolateID
	epoch    uint64
	to       NodeID
	offer    []byte        // the whole OFFER message, resent as is
	deadline time.Duration // give up (ABORT) then: offerTimeout after the first copy's transmission ends
	busy     time.Duration // when the last copy sent finishes transmitting (estimated)
	next     time.Duration // next resend due
	tries    int           // resends of the current message (OFFER, then ABORT)
	aborting bool
}

// inRec is what a node remembers about an isolate as a target.
type inRec struct {
	decisions
	touched time.Duration // last time the record was used; see prune
	pending *pendingOffer // an offer waiting for its program

	unconfirmed bool // accepted uEpoch from uFrom, and no CONFIRM yet
	uEpoch      uint64
	uFrom       NodeID
	nextAck     time.Duration // next ACK resend due
	ackTries    int
}

// epochDec is one decision about one epoch.
type epochDec struct {
	e uint64
	d decision
}

// decisions is what a target has decided about the epochs of one isolate:
// the highest verified epoch (seen), the floor (every undecided epoch at or
// below it is refused), and the decisions themselves, at most
// maxUnverified of them above seen and none more than 8 below it. It is
// both the heart of a record (inRec) and, once the record is pruned, its
// tombstone.
type decisions struct {
	seen  uint64 // highest verified epoch of the isolate: accepted here, or spawned, resumed or handed off from here
	floor uint64 // every undecided epoch <= floor is refused (NACK stale)
	dec   []epochDec
}

// get returns the decision about epoch e, or undecided.
func (r decisions) get(e uint64) decision {
	for _, x := range r.dec {
		if x.e == e {
			return x.d
		}
	}
	return undecided
}

// stale reports whether an undecided OFFER of epoch e must be refused: e is
// at or below the highest verified epoch or the floor.
func (r decisions) stale(e uint64) bool { return e <= r.seen || e <= r.floor }

// empty reports whether r knows nothing worth keeping.
func (r decisions) empty() bool { return r.seen == 0 && r.floor == 0 && len(r.dec) == 0 }

// maxUnverified is how many decisions a target keeps, per isolate, above
// the highest epoch it has verified for it (seen): refusals and aborts of
// epochs that no verified state backs. A new one past it evicts the lowest
// such epoch and raises the floor to it, so the evicted epoch stays refused
// (as does every undecided epoch below it): a decision is never silently
// forgotten, a node always answers, and a flood of garbage epochs costs a
// bounded slice. Refusing is always safe; a source that is refused resumes
// its copy and offers the isolate again at a higher epoch.
const maxUnverified = 16

// decide records d for e. Decisions more than 8 epochs below seen are
// forgotten: an offer that old can only be a stale duplicate, and NACK is
// a safe answer.
func (r *decisions) decide(e uint64, d decision) {
	for i := range r.dec {
		if r.dec[i].e == e {
			r.dec[i].d = d
			return
		}
	}
	if e > r.seen && d != accepted {
		n, low := 0, e
		for _, x := range r.dec {
			if x.e > r.seen {
				n++
				low = min(low, x.e)
			}
		}
		if n >= maxUnverified {
			r.floor = max(r.floor, low)
			r.dec = slices.DeleteFunc(r.dec, func(x epochDec) bool { return x.e > r.seen && x.e <= r.floor && x.d != accepted })
			if e <= r.floor {
				return // refused from now on, by the floor
			}
		}
	}
	r.dec = append(r.dec, epochDec{e, d})
	r.trim()
}

// trim forgets decisions more than 8 epochs below seen.
func (r *decisions) trim() {
	if len(r.dec) > 8 {
		r.dec = slices.DeleteFunc(r.dec, func(x epochDec) bool { return x.e+8 < r.seen })
	}
}

// verified raises r's highest verified epoch to e: an accepted OFFER's,
// or one the node itself spawned, resumed or handed off.
func (r *decisions) verified(e uint64) {
	if e > r.seen {
		r.seen = e
		r.trim()
	}
}

// tombstone is what is left of a pruned record: its decisions above its
// highest verified epoch, that epoch and the floor (see Pruning in the
// package documentation).
type tombstone struct {
	decisions
	seq    uint64        // when buried; the eviction queue names it by this
	buried time.Duration // when buried; it is not evicted before the horizon has passed
	by     NodeID        // the peer whose message made it (class 0), or the node itself
}

// tombRef names a tombstone in an eviction queue.
type tombRef struct {
	id  IsolateID
	seq uint64
}

type pendingOffer struct {
	from  NodeID
	epoch uint64
	hash  [32]byte
	msg   []byte        // the OFFER message, owned
	until time.Duration // dropped then if its program has not come
	// abortedBy are the other nodes that aborted this epoch while the
	// offer waited, and were answered ABORTED: if the offer goes
	// undecided, the epoch is recorded aborted (see dropPending). At most
	// one entry per member.
	abortedBy []NodeID
}

// protoStats counts protocol events on one node.
type protoStats struct {
	Offers, Resends, Aborts, Acks, Nacks, Confirms, Fetches, Stale, Bad int64
	// Expired counts offers dropped after waiting pendingTTL for their
	// program, OverBudget those refused because the pending bytes would
	// pass pendingBudget, Pruned the records forgotten after the horizon.
	Expired, OverBudget, Pruned int64
	// Evicted counts tombstones evicted past their budget, Spoofed the
	// ABORTs and OFFERs that named a waiting offer from another sender,
	// TombsFull the ABORTs and OFFERs left unanswered because their
	// decision needed a tombstone and the budget was full of tombstones
	// younger than the horizon.
	Evicted, Spoofed, TombsFull int64
}

// proto is one node's handoff state machine: both its source side (outgoing
// handoffs) and its target side (what it has accepted, refused or seen
// aborted). It is deterministic: given the same calls with the same times it
// makes the same hook calls and sends the same messages in the same order.
// It holds no locks and starts no goroutines; the node drives it from one
// goroutine. See the package documentation for the states.
type proto struct {
	self  NodeID
	cfg   protoConfig
	h     protoHooks
	out   map[IsolateID]*outRec
	in    map[IsolateID]*inRec
	unc   map[IsolateID]bool              // isolates with an unconfirmed acceptance
	fetch map[[32]byte]map[IsolateID]bool // isolates whose offer waits for a program
	down  map[NodeID]bool
	buf   []byte
	rng   *rand.Rand // resend jitter; seeded, so the machine stays deterministic
	now   time.Duration
	// pendingBytes is the size of the OFFERs kept waiting for a program.
	pendingBytes int64
	nextPrune    time.Duration
	stats        protoStats
	// tombs holds the tombstones of pruned records; tombQ[c] is class c's
	// eviction queue, oldest first (it may name tombstones since unburied
	// or replaced: their seq differs), tombCount[c] its live count.
	tombs     map[IsolateID]tombstone
	tombQ     [2][]tombRef
	tombCount [2]int
	tombSeq   uint64
	// byQ[n] and byCount[n] are the eviction queue and live count of the
	// class-0 tombstones that peer n's messages made (see tombQuota).
	byQ     map[NodeID][]tombRef
	byCount map[NodeID]int
}

func newProto(self NodeID, cfg protoConfig, h protoHooks) *proto {
	return &proto{
		self:    self,
		cfg:     cfg.withDefaults(),
		h:       h,
		out:     make(map[IsolateID]*outRec),
		in:      make(map[IsolateID]*inRec),
		unc:     make(map[IsolateID]bool),
		fetch:   make(map[[32]byte]map[IsolateID]bool),
		down:    make(map[NodeID]bool),
		tombs:   make(map[IsolateID]tombstone),
		byQ:     make(map[NodeID][]tombRef),
		byCount: make(map[NodeID]int),
		rng:     rand.New(rand.NewPCG(cfg.seed, uint64(self))),
	}
}

// rec returns the record of isolate id, creating it (from its tombstone,
// if it has one) if there is none.
func (p *proto) rec(id IsolateID) *inRec {
	r := p.in[id]
	if r == nil {
		r = &inRec{}
		if t, ok := p.unbury(id); ok {
			r.decisions = t
		}
		p.in[id] = r
	}
	r.touched = p.now
	return r
}

// tombClass is the eviction class of d: 1 if it has a verified epoch, 0 if
// all it holds is unverified decisions.
func tombClass(d *decisions) int {
	if d.seen > 0 {
		return 1
	}
	return 0
}

// unbury removes and returns the tombstone of id.
func (p *proto) unbury(id IsolateID) (decisions, bool) {
	t, ok := p.tombs[id]
	if !ok {
		return decisions{}, false
	}
	p.forget(id, t)
	return t.decisions, true
}

// forget deletes id's tombstone t from the counts.
func (p *proto) forget(id IsolateID, t tombstone) {
	delete(p.tombs, id)
	c := tombClass(&t.decisions)
	p.tombCount[c]--
	if c == 0 && t.by != p.self {
		if p.byCount[t.by]--; p.byCount[t.by] == 0 {
			delete(p.byCount, t.by)
			delete(p.byQ, t.by)
		}
	}
}

// tombQuota is how many class-0 tombstones one peer's messages may make: a
// quarter of the budget, so that one peer flooding ABORTs or OFFERs of
// made-up isolates cannot take the room that the aborts and refusals of
// the others need.
func (p *proto) tombQuota() int { return max(1, p.cfg.maxTombs[0]/4) }

// horizon is how long an idle record is kept before it is pruned, and a
// tombstone before it may be evicted: the configured horizon, stretched to
// 4 × the network's longest delay.
func (p *proto) horizon() time.Duration {
	h := p.cfg.horizon
	if p.cfg.maxDelay != nil {
		h = max(h, 4*p.cfg.maxDelay())
	}
	return h
}

// bury keeps d as id's tombstone (replacing any), made by peer by's
// message (or by the node itself: p.self), keeping only what an OFFER
// could still need: the decisions above seen, and reports whether it
// could. Past its class's budget the oldest tombstone of the class is
// evicted, but only if it is older than the horizon: every copy of an
// OFFER it covers has been delivered by then (see Pruning in the package
// documentation). If the budget is full of younger ones, bury changes
// nothing and reports false; the caller must then not act as if the
// decision were recorded.
func (p *proto) bury(id IsolateID, d decisions, by NodeID) bool {
	d.dec = slices.Clip(slices.DeleteFunc(slices.Clone(d.dec), func(x epochDec) bool { return x.e <= d.seen }))
	if d.empty() {
		p.unbury(id)
		return true
	}
	if len(d.dec) == 0 {
		d.dec = nil
	}
	c := tombClass(&d)
	if c == 1 {
		by = p.self
	}
	if old, ok := p.tombs[id]; ok && tombClass(&old.decisions) == c {
		by = old.by // a replacement takes no more room, and keeps its maker
	} else if !p.tombRoom(c, by) {
		return false
	}
	p.unbury(id)
	p.tombSeq++
	p.tombs[id] = tombstone{decisions: d, seq: p.tombSeq, buried: p.now, by: by}
	p.tombCount[c]++
	p.tombQ[c] = append(p.tombQ[c], tombRef{id, p.tombSeq})
	if c == 0 && by != p.self {
		p.byCount[by]++
		p.byQ[by] = append(p.byQ[by], tombRef{id, p.tombSeq})
		if q := p.byQ[by]; len(q) > 2*p.byCount[by]+64 {
			p.byQ[by] = slices.DeleteFunc(slices.Clone(q), func(ref tombRef) bool {
				t, ok := p.tombs[ref.id]
				return !ok || t.seq != ref.seq
			})
		}
	}
	if q := p.tombQ[c]; len(q) > 2*p.tombCount[c]+64 { // drop references to unburied tombstones
		p.tombQ[c] = slices.DeleteFunc(slices.Clone(q), func(ref tombRef) bool {
			t, ok := p.tombs[ref.id]
			return !ok || t.seq != ref.seq
		})
	}
	return true
}

// tombRoom makes room for one more tombstone of class c, made by peer by's
// message (or by the node itself), and reports whether there is room. A
// peer at its quota (class 0) first evicts its own oldest; then, past the
// class's budget, the class's oldest is evicted. Only a tombstone older
// than the horizon is evicted.
func (p *proto) tombRoom(c int, by NodeID) bool {
	if c == 0 && by != p.self {
		q, ok := p.evictOldest(p.byQ[by], p.byCount[by], p.tombQuota())
		if len(q) > 0 {
			p.byQ[by] = q
		} else {
			delete(p.byQ, by)
		}
		if !ok {
			return false
		}
	}
	q, ok := p.evictOldest(p.tombQ[c], p.tombCount[c], p.cfg.maxTombs[c])
	p.tombQ[c] = q
	return ok
}

// evictOldest evicts tombstones from the front of queue q, whose live
// count is n, while n >= limit and the oldest is older than the horizon,
// and reports the queue left and whether n < limit then.
func (p *proto) evictOldest(q []tombRef, n, limit int) ([]tombRef, bool) {
	horizon := p.horizon()
	for n >= limit && len(q) > 0 {
		ref := q[0]
		t, ok := p.tombs[ref.id]
		if !ok || t.seq != ref.seq { // unburied or replaced since
			q = q[1:]
			continue
		}
		if p.now-t.buried < horizon {
			return q, false // the oldest is young, and so are all the others
		}
		q = q[1:]
		p.forget(ref.id, t)
		p.stats.Evicted++
		n--
	}
	return q, n < limit
}

func (p *proto) sendIDEpoch(to NodeID, k msgKind, id IsolateID, e uint64) {
	p.buf = appendIDEpoch(p.buf[:0], k, id, e)
	p.h.send(to, p.buf)
}

func (p *proto) sendNack(to NodeID, id IsolateID, e uint64, reason uint8) {
	p.stats.Nacks++
	p.buf = appendNack(p.buf[:0], id, e, reason)
	p.h.send(to, p.buf)
}

// outstanding returns the number of handoffs waiting for an answer.
func (p *proto) outstanding() int { return len(p.out) }

// unconfirmedCount returns the number of accepted isolates awaiting CONFIRM.
func (p *proto) unconfirmedCount() int { return len(p.unc) }

// note records that epoch e of isolate id exists here (it arrived by spawn or
// resume, or is being handed off), so that no offer at or below it is taken.
func (p *proto) note(id IsolateID, e uint64) {
	p.rec(id).verified(e)
}

// startHandoff begins handing isolate id off to node to at epoch e. offer is
// the complete OFFER message; the machine keeps it to resend. The node must
// keep its parked copy until drop or resume. It reports false, without
// sending, if to is known to be down; the copy stays the caller's to run.
func (p *proto) startHandoff(now time.Duration, id IsolateID, e uint64, to NodeID, offer []byte) bool {
	p.now = max(p.now, now)
	if p.down[to] || to == p.self {
		return false
	}
	if p.out[id] != nil {
		panic("BUG: cluster: second handoff of one isolate")
	}
	p.note(id, e)
	busy := p.txDone(now, now, len(offer))
	p.out[id] = &outRec{id: id, epoch: e, to: to, offer: offer, deadline: busy + p.cfg.offerTimeout, busy: busy, next: busy + p.backoff(0)}
	p.stats.Offers++
	p.h.send(to, offer)
	return true
}

// onMessage handles a protocol message m (parsed from raw) from node from,
// and reports whether it kept raw: an accepted OFFER becomes its isolate's
// memory, and one that waits for its program is held until it arrives. It
// ignores kinds that are not its business.
func (p *proto) onMessage(now time.Duration, from NodeID, m *message, raw []byte) (kept bool) {
	p.now = max(p.now, now)
	switch m.kind {
	case mOffer:
		return p.onOffer(now, from, m, raw)
	case mAck:
		if o := p.out[m.id]; o != nil && o.epoch == m.epoch && o.to == from {
			delete(p.out, m.id)
			p.h.drop(m.id, m.epoch, from)
			p.h.released(o.offer)
			if !p.h.holds(m.id) {
				// Dropped. (With a ledger the node first settles, and
				// confirms once it has dropped its copy: see confirmDrop.)
				p.confirmDrop(from, m.id, m.epoch)
			}
		} else if p.out[m.id] == nil && !p.h.holds(m.id) {
			// Our CONFIRM was lost and the target keeps asking; or the
			// ACK is stale. Either way this node holds no copy, which is
			// all CONFIRM says: it needs no record of the handoff (an
			// isolate it holds again cannot be unconfirmed elsewhere, since
			// it moved on from there only after a CONFIRM).
			p.stats.Confirms++
			p.sendIDEpoch(from, mConfirm, m.id, m.epoch)
		} else {
			p.stats.Stale++
		}
	case mNack, mAborted:
		if o := p.out[m.id]; o != nil && o.epoch == m.epoch && o.to == from {
			delete(p.out, m.id)
			p.h.resume(m.id, m.epoch)
			p.h.released(o.offer)
		} else {
			p.stats.Stale++
		}
	case mAbort:
		p.onAbort(from, m)
	case mConfirm:
		if r := p.in[m.id]; r != nil && r.unconfirmed && r.uEpoch == m.epoch && r.uFrom == from {
			p.confirm(m.id, r)
		}
	case mFetch:
		if b := p.h.programBytes(m.hash); b != nil {
			p.buf = append(appendHash(p.buf[:0], mProgram, m.hash), b...)
			p.h.send(from, p.buf)
		}
	case mProgram:
		p.onProgram(now, m)
	}
	return false
}

func (p *proto) confirm(id IsolateID, r *inRec) {
	r.unconfirmed = false
	delete(p.unc, id)
	p.h.confirmed(id, r.uEpoch)
}

// answer repeats the decision d about (id, e) to from.
func (p *proto) answer(from NodeID, id IsolateID, e uint64, d decision) {
	switch d {
	case accepted:
		if p.h.holdAck(id) {
			return
		}
		p.stats.Acks++
		p.sendIDEpoch(from, mAck, id, e)
	case aborted:
		p.sendIDEpoch(from, mAborted, id, e)
	default:
		p.sendNack(from, id, e, nackRefused)
	}
}

// onOffer handles an OFFER and reports whether it kept raw. Every OFFER
// is answered (ACK, NACK, ABORTED, or FETCH while it waits for its
// program), except a duplicate of one that waits, and one that a newer
// OFFER from the same source replaces.
func (p *proto) onOffer(now time.Duration, from NodeID, m *message, raw []byte) (kept bool) {
	if p.in[m.id] == nil && len(p.in) >= p.cfg.maxRecords {
		// No room for another record: refuse it, and keep the refusal in
		// the isolate's tombstone, so that a late duplicate of this epoch
		// is refused too. A refusal that cannot be kept (the tombstones
		// are full of young ones) is not sent: the source resumes its copy
		// on NACK, and a late duplicate of the OFFER, finding no record,
		// could then be taken. The OFFER is left unanswered; its source
		// resends it or aborts, and is answered once there is room.
		t := p.tombs[m.id].decisions
		if d := t.get(m.epoch); d != undecided {
			p.answer(from, m.id, m.epoch, d)
		} else if t.stale(m.epoch) {
			p.stats.Stale++
			p.sendNack(from, m.id, m.epoch, nackStale)
		} else {
			t.dec = slices.Clone(t.dec)
			t.decide(m.epoch, refused)
			if !p.bury(m.id, t, from) {
				p.stats.TombsFull++
				return false
			}
			p.stats.OverBudget++
			p.sendNack(from, m.id, m.epoch, nackFull)
		}
		return false
	}
	r := p.rec(m.id)
	if d := r.get(m.epoch); d != undecided {
		p.answer(from, m.id, m.epoch, d) // a duplicate: same answer
		return false
	}
	if pe := r.pending; pe != nil && pe.epoch == m.epoch && pe.from == from {
		p.stats.Fetches++ // the FETCH or the PROGRAM may have been lost
		p.buf = appendHash(p.buf[:0], mFetch, pe.hash)
		p.h.send(pe.from, p.buf)
		return false
	}
	if r.stale(m.epoch) {
		p.stats.Stale++
		p.sendNack(from, m.id, m.epoch, nackStale)
		return false
	}
	// Nothing about m is verified yet: r.seen rises only once it is
	// accepted (see tryAccept), so that a garbage OFFER with a huge epoch
	// cannot make every later handoff of the isolate look stale.
	if pe := r.pending; pe != nil && pe.epoch == m.epoch {
		// The same epoch waits, offered by another node. This OFFER is
		// handled on its own merits, so that a waiting offer (perhaps a
		// squatter's, for a program nobody has) cannot block the real
		// source: if its sender has aborted the epoch, it is answered
		// ABORTED; if its program is here, it is tried, and the waiting
		// offer goes once the epoch is decided. Only one offer can wait
		// per isolate, so one whose program is unknown too is not
		// answered: its source aborts, and its ABORT is answered.
		p.stats.Spoofed++
		if slices.Contains(pe.abortedBy, from) {
			p.sendIDEpoch(from, mAborted, m.id, m.epoch)
			return false
		}
		if !p.h.haveProgram(m.hash) {
			return false
		}
		kept = p.tryAccept(now, from, r, m)
		p.unfetch(m.id, r)
		p.dropPending(r) // the epoch is decided: accepted or refused
		return kept
	}
	if r.pending != nil {
		// Another epoch still waits for its program. Neither is verified;
		// the newer message replaces it, unanswered and undecided: its
		// source resends it, or aborts, and gets its answer then.
		p.unfetch(m.id, r)
		p.dropPending(r)
	}
	if !p.h.haveProgram(m.hash) {
		if p.down[from] { // nobody left to fetch it from
			r.decide(m.epoch, aborted)
			return false
		}
		if p.pendingBytes+int64(cap(raw)) > p.cfg.pendingBudget {
			// Refused, not kept: the caller hands the buffer back. The
			// refusal is recorded like any other (see tryAccept).
			p.stats.OverBudget++
			r.decide(m.epoch, refused)
			p.sendNack(from, m.id, m.epoch, nackFull)
			return false
		}
		p.pendingBytes += int64(cap(raw))
		r.pending = &pendingOffer{from: from, epoch: m.epoch, hash: m.hash, msg: raw, until: now + p.cfg.pendingTTL}
		w := p.fetch[m.hash]
		if w == nil {
			w = make(map[IsolateID]bool)
			p.fetch[m.hash] = w
		}
		w[m.id] = true
		p.stats.Fetches++
		p.buf = appendHash(p.buf[:0], mFetch, m.hash)
		p.h.send(from, p.buf)
		return true
	}
	return p.tryAccept(now, from, r, m)
}

// tryAccept offers m to the machine and reports whether it was accepted
// (and so keeps m's buffer).
func (p *proto) tryAccept(now time.Duration, from NodeID, r *inRec, m *message) bool {
	if err := p.h.accept(from, m); err != nil {
		// The refusal is recorded (or covered by the floor, see decide),
		// so that a late duplicate of this epoch, once the node would take
		// it, is not taken after its source has resumed its copy; it does
		// not raise r.seen (m is not verified).
		r.decide(m.epoch, refused)
		reason := nackBadState
		switch {
		case errors.Is(err, errRefused):
			reason = nackRefused
		case errors.Is(err, ErrNodeFull):
			reason = nackFull
		}
		p.sendNack(from, m.id, m.epoch, reason)
		return false
	}
	r.verified(m.epoch)
	r.decide(m.epoch, accepted)
	r.unconfirmed, r.uEpoch, r.uFrom = true, m.epoch, from
	r.nextAck, r.ackTries = now+p.backoff(0), 0
	p.unc[m.id] = true
	if !p.h.holdAck(m.id) {
		p.stats.Acks++
		p.sendIDEpoch(from, mAck, m.id, m.epoch)
	}
	if p.down[from] {
		p.confirm(m.id, r)
	}
	return true
}

// onAbort answers an ABORT, always: ACK if the node took that epoch,
// ABORTED if not, and then it never will. An ABORT of an isolate the node
// has no record of creates none: the abort goes into the isolate's
// tombstone (see Pruning), so that a late OFFER of that epoch is refused.
// An ABORT of the epoch of an offer that waits here from another node is
// answered ABORTED and recorded for its sender only (pendingOffer.abortedBy):
// the waiting offer stays, and the epoch is recorded aborted if it goes
// undecided.
func (p *proto) onAbort(from NodeID, m *message) {
	r := p.in[m.id]
	if r == nil {
		t := p.tombs[m.id].decisions
		if d := t.get(m.epoch); d != undecided {
			p.answer(from, m.id, m.epoch, d)
			return
		}
		if !t.stale(m.epoch) {
			t.dec = slices.Clone(t.dec)
			t.decide(m.epoch, aborted)
			if !p.bury(m.id, t, from) {
				// No room to record the abort, so it is not answered:
				// ABORTED unrecorded would let a late OFFER copy be taken
				// after the source resumed. The source resends its ABORT,
				// with backoff, and is answered once a tombstone is older
				// than the horizon and can be evicted.
				p.stats.TombsFull++
				return
			}
		}
		p.sendIDEpoch(from, mAborted, m.id, m.epoch)
		return
	}
	r.touched = p.now
	if pe := r.pending; pe != nil && pe.epoch == m.epoch && pe.from != from {
		// Only the waiting offer's source may cancel it, but this node's
		// copy of the epoch, if it sent one, was not taken and now never
		// will be: a late OFFER of it from this node is answered ABORTED
		// (onOffer), and if the waiting offer goes undecided the epoch is
		// recorded aborted (dropPending).
		p.stats.Spoofed++
		if !slices.Contains(pe.abortedBy, from) {
			pe.abortedBy = append(pe.abortedBy, from)
		}
		p.sendIDEpoch(from, mAborted, m.id, m.epoch)
		return
	}
	if d := r.get(m.epoch); d != undecided {
		p.answer(from, m.id, m.epoch, d)
		return
	}
	// Not taken, and now it never will be: a late OFFER of this epoch finds
	// the decision (or the floor) and is not taken. The ABORT is not
	// verified either, so it records only its own epoch and leaves r.seen
	// alone.
	if !r.stale(m.epoch) {
		r.decide(m.epoch, aborted)
	}
	if r.pending != nil && r.pending.epoch == m.epoch {
		p.unfetch(m.id, r)
		p.dropPending(r)
	}
	p.sendIDEpoch(from, mAborted, m.id, m.epoch)
}

func (p *proto) onProgram(now time.Duration, m *message) {
	w := p.fetch[m.hash]
	if w == nil {
		return
	}
	if err := p.h.addProgram(m.hash, m.payload); err != nil {
		p.stats.Bad++
		return // a later OFFER resend fetches again
	}
	delete(p.fetch, m.hash)
	for _, id := range sortedKeys(w) {
		r := p.in[id]
		if r == nil || r.pending == nil || r.pending.hash != m.hash {
			continue
		}
		pe := r.pending
		r.pending = nil
		p.pendingBytes -= int64(cap(pe.msg))
		om, err := parseMessage(pe.msg)
		if err != nil {
			panic("BUG: cluster: a pending offer no longer parses")
		}
		if !p.tryAccept(now, pe.from, r, &om) {
			p.h.discarded(pe.msg)
		}
	}
}

// unfetch takes isolate id, whose offer r.pending waits for its program,
// off that program's waiting list.
func (p *proto) unfetch(id IsolateID, r *inRec) {
	h := r.pending.hash
	delete(p.fetch[h], id)
	if len(p.fetch[h]) == 0 {
		delete(p.fetch, h)
	}
}

// dropPending forgets r's offer that waits for its program, and gives its
// buffer back. The caller has recorded the decision, if any; if there is
// none and another node aborted the epoch meanwhile (and was answered
// ABORTED), the epoch is recorded aborted, so that a late OFFER copy of it
// is never taken.
func (p *proto) dropPending(r *inRec) {
	if e := r.pending.epoch; len(r.pending.abortedBy) > 0 && r.get(e) == undecided && !r.stale(e) {
		r.decide(e, aborted)
	}
	p.pendingBytes -= int64(cap(r.pending.msg))
	p.h.discarded(r.pending.msg)
	r.pending = nil
}

// expire drops, unanswered and undecided, every offer that has waited for
// its program past its time, and prunes records (at most every horizon/4).
func (p *proto) expire(now time.Duration) {
	if len(p.fetch) > 0 {
		for _, h := range sortedHashes(p.fetch) {
			for _, id := range sortedKeys(p.fetch[h]) {
				r := p.in[id]
				if r == nil || r.pending == nil || r.pending.hash != h {
					delete(p.fetch[h], id)
					continue
				}
				if now >= r.pending.until {
					p.stats.Expired++
					p.unfetch(id, r)
					p.dropPending(r)
				}
			}
			if len(p.fetch[h]) == 0 {
				delete(p.fetch, h)
			}
		}
	}
	if now >= p.nextPrune {
		p.nextPrune = now + p.cfg.horizon/4
		p.prune(now)
	}
}

// prune forgets the record of every isolate that the node does not hold,
// that has no handoff, acceptance or offer in flight here, and that has
// not been used for the horizon. Why this is safe is in the package
// documentation (Pruning).
func (p *proto) prune(now time.Duration) {
	horizon := p.horizon()
	for _, id := range sortedKeys(p.in) { // sorted: tombstones are buried, and evicted, in a deterministic order
		r := p.in[id]
		if now-r.touched < horizon || r.pending != nil || r.unconfirmed || p.out[id] != nil || p.h.holds(id) {
			continue
		}
		if !p.bury(id, r.decisions, p.self) {
			continue // no room for its tombstone yet: the record stays
		}
		delete(p.in, id)
		p.stats.Pruned++
	}
}

// tick resends what is due and gives up on offers that took too long.
// Resends back off exponentially, with jitter (see backoff), and an OFFER's
// resend timer starts when its previous copy has finished transmitting
// (txDone): on a slow link a resend that left earlier would only queue a
// second copy behind the first.
func (p *proto) tick(now time.Duration) {
	p.now = max(p.now, now)
	p.expire(now)
	for _, id := range sortedKeys(p.out) {
		o := p.out[id]
		switch {
		case !o.aborting && now >= o.deadline:
			o.aborting, o.tries = true, 0
			o.next = now + p.backoff(0)
			p.stats.Aborts++
			p.sendIDEpoch(o.to, mAbort, o.id, o.epoch)
		case now >= o.next:
			p.stats.Resends++
			o.tries++
			if o.aborting {
				o.next = now + p.backoff(o.tries)
				p.sendIDEpoch(o.to, mAbort, o.id, o.epoch)
			} else {
				o.busy = p.txDone(now, o.busy, len(o.offer))
				o.next = o.busy + p.backoff(o.tries)
				p.h.send(o.to, o.offer)
			}
		}
	}
	for _, id := range sortedKeys(p.unc) {
		r := p.in[id]
		if now >= r.nextAck && !p.h.holdAck(id) {
			r.ackTries++
			r.nextAck = now + p.backoff(r.ackTries)
			p.stats.Resends++
			p.sendIDEpoch(r.uFrom, mAck, id, r.uEpoch)
		}
	}
}

// confirmDrop tells target to that this node has dropped its copy of
// isolate id, handed off at epoch.
func (p *proto) confirmDrop(to NodeID, id IsolateID, epoch uint64) {
	p.stats.Confirms++
	p.sendIDEpoch(to, mConfirm, id, epoch)
}

// forgetAcceptance ends the acceptance of isolate id that the node could
// not commit in the ledger: it holds no copy, so no CONFIRM is awaited,
// and no ACK is resent.
func (p *proto) forgetAcceptance(id IsolateID) {
	if r := p.in[id]; r != nil && r.unconfirmed {
		r.unconfirmed = false
		delete(p.unc, id)
	}
}

// ackNow sends the ACK of isolate id that holdAck held, if the node still
// waits for its CONFIRM.
func (p *proto) ackNow(id IsolateID) {
	if r := p.in[id]; r != nil && r.unconfirmed {
		r.nextAck = p.now + p.backoff(r.ackTries)
		p.stats.Acks++
		p.sendIDEpoch(r.uFrom, mAck, id, r.uEpoch)
	}
}

// peerUp is the failure detector's word that node n, reported down, is up
// again (a paused process resumed, a partition healed): handoffs to it may
// start again. What peerDown decided stays decided; with a ledger nothing
// it decided was unsafe, since the ledger, not the report, settled every
// handoff (see ledgered.go).
func (p *proto) peerUp(n NodeID) { delete(p.down, n) }

// peerDown is the failure oracle's word that node n has crashed: every
// handoff to it fails (its copy, if it took one, died with it), and every
// isolate accepted from it is confirmed (its parked copy died too).
func (p *proto) peerDown(n NodeID) {
	if p.down[n] {
		return
	}
	p.down[n] = true
	for _, id := range sortedKeys(p.out) {
		if o := p.out[id]; o.to == n {
			delete(p.out, id)
			p.h.resume(id, o.epoch)
			p.h.released(o.offer)
		}
	}
	for _, id := range sortedKeys(p.unc) {
		if r := p.in[id]; r.uFrom == n {
			p.confirm(id, r)
		}
	}
	for _, id := range sortedKeys(p.in) { // sorted: hooks run in a deterministic order
		r := p.in[id]
		if r.pending == nil || r.pending.from != n {
			continue
		}
		p.unfetch(id, r)
		r.decide(r.pending.epoch, aborted)
		p.dropPending(r)
	}
}

type ordered interface {
	~uint32 | ~uint64
}

func sortedHashes[V any](m map[[32]byte]V) [][32]byte {
	ks := make([][32]byte, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return ks
}

func sortedKeys[K ordered, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
