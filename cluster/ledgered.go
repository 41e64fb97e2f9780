package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/knotencore/knoten/cluster/ledger"
)

// This file gates the handoff protocol with the ownership ledger
// (Config.Ledger): the protocol's messages move the isolate's state, the
// ledger's compare-and-set decides who owns it (see the package
// documentation, "The ledger"). Without a ledger none of it runs.
//
// A ledger call is a network round trip, so it never runs on the core: the
// core starts it as a ledgerOp on its own goroutine (nodeCore.async) and
// the op's answer comes back as an event that the driver applies to the
// core. Until then the task waits in a state that nothing else touches:
// committing (a target's Commit), settling (a source's Settle) or
// finishing (the owner's Finish).

// ledgerOp is a ledger call started by the core. It runs on its own
// goroutine with a context that ends when the node stops, and returns the
// change to apply to the core, on the driving goroutine; nil changes
// nothing (the node stopped).
type ledgerOp func(ctx context.Context) func(c *nodeCore)

// ledgerRetry is the first wait before a ledger call whose outcome was
// unknown (a timeout, a lost connection) is resolved and tried again; it
// doubles up to ledgerRetryMax.
const (
	ledgerRetry    = 2 * time.Millisecond
	ledgerRetryMax = 500 * time.Millisecond
	// ledgerCallTimeout bounds one ledger call; past it the outcome is
	// unknown and resolved like any other.
	ledgerCallTimeout = 5 * time.Second
)

// retryLedger calls try until it reports done or ctx ends, waiting with
// exponential backoff between calls. It reports whether try finished.
func retryLedger(ctx context.Context, try func(ctx context.Context) (done bool)) bool {
	wait := ledgerRetry
	for {
		cctx, cancel := context.WithTimeout(ctx, ledgerCallTimeout)
		done := try(cctx)
		cancel()
		if done {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, ledgerRetryMax)
	}
}

// definite reports whether err is one of the ledger's answers that leave
// nothing unknown: the write was refused and did not happen, or there is no
// such isolate.
func definite(err error) bool {
	return errors.Is(err, ledger.ErrConflict) || errors.Is(err, ledger.ErrFinished) ||
		errors.Is(err, ledger.ErrNotFound) || errors.Is(err, ledger.ErrCorrupt)
}

// commit is the target's step once an OFFER's state verified (accept): the
// isolate runs here only if the ledger moves it from the sender, at the
// epoch before the offer's, to this node. The ACK waits for the answer
// (holdAck), so that a source that settles on the ACK finds the move
// already made.
func (c *nodeCore) commit(t *task, from NodeID) {
	t.committing = true
	l, self, id, epoch := c.cfg.Ledger, c.id, t.id, t.epoch
	c.async(func(ctx context.Context) func(*nodeCore) {
		var got ledger.Entry
		ok := false
		retryLedger(ctx, func(ctx context.Context) bool {
			e, err := ledger.Commit(ctx, l, ledger.IsolateID(id), ledger.NodeID(from), epoch, ledger.NodeID(self))
			if err == nil {
				got, ok = e, true
				return true
			}
			// Refused or unknown. A refusal may be of a retry whose first
			// attempt's answer was lost and which did move it here, or
			// spurious (a replicated ledger changing leaders): a read
			// tells whether the isolate is ours, still the sender's at
			// the epoch before, or gone on elsewhere.
			cur, gerr := l.Get(ctx, ledger.IsolateID(id))
			switch {
			case gerr != nil:
				// No such isolate, or an entry that does not decode: refuse.
				return errors.Is(gerr, ledger.ErrNotFound) || errors.Is(gerr, ledger.ErrCorrupt)
			case cur.Owns(ledger.NodeID(self), epoch):
				got, ok = cur, true
				return true
			case !cur.Owns(ledger.NodeID(from), epoch-1):
				return true // stale, forged, or reclaimed first: refuse
			case definite(err) && !errors.Is(err, ledger.ErrConflict):
				return true
			}
			return false // the sender's still, at the epoch before: try again
		})
		return func(c *nodeCore) { c.committed(t, from, got, ok) }
	})
}

// committed applies the answer of commit.
func (c *nodeCore) committed(t *task, from NodeID, e ledger.Entry, ok bool) {
	t.committing = false
	if c.stopped || c.tasks[t.id] != t {
		return
	}
	if !ok {
		// Stale, replayed or forged, or reclaimed by its source first:
		// never ran here, and now never will.
		delete(c.tasks, t.id)
		c.proto.forgetAcceptance(t.id)
		t.state.Store(tsClaimed) // never queued: no worker can hold it
		c.col.m.fenced.Add(1)
		c.col.event(Event{Kind: EvFenced, Node: c.id, Peer: from, ID: t.id, Epoch: t.epoch})
		c.giveBack(t)
		c.checkDrained()
		return
	}
	t.entry = e
	c.proto.ackNow(t.id)
	c.arrive(t)
	if t.confirmed { // the confirm came while the commit was in flight
		c.confirms = append(c.confirms, t)
	}
}

// settle is the source's step once a handoff of the parked task t is over,
// however it ended: the ledger alone decides whether the isolate moved
// (drop the copy) or stays (reclaim it at the next epoch and resume). acked
// says an ACK ended it: the target then committed before answering, and
// one read shows it.
func (c *nodeCore) settle(t *task, to NodeID, acked bool) {
	t.settling = true
	l, id, held := c.cfg.Ledger, ledger.IsolateID(t.id), t.entry
	c.async(func(ctx context.Context) func(*nodeCore) {
		var keep bool
		var now ledger.Entry
		if acked {
			// The target answers ACK only after its commit, so a read
			// normally shows the move. A replica read may lag: look a few
			// times before settling by a write.
			for i := 0; i < 3; i++ {
				cur, moved, err := ledger.Superseded(ctx, l, id, held)
				if err == nil && moved {
					return func(c *nodeCore) { c.settled(t, to, cur.Owns(held.Owner, held.Epoch+1), cur) }
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Duration(i+1) * ledgerRetry):
				}
			}
		}
		if !retryLedger(ctx, func(ctx context.Context) bool {
			k, e, err := ledger.Settle(ctx, l, id, held)
			keep, now = k, e
			return err == nil
		}) {
			return nil
		}
		return func(c *nodeCore) { c.settled(t, to, keep, now) }
	})
}

// settled applies the answer of settle.
func (c *nodeCore) settled(t *task, to NodeID, keep bool, e ledger.Entry) {
	t.settling = false
	if c.stopped || c.tasks[t.id] != t {
		return
	}
	if keep {
		t.entry = e
		t.epoch = e.Epoch
		c.resumed = append(c.resumed, t)
		return
	}
	if e.State != 0 {
		// Whoever the ledger names took it (the handoff's target, unless
		// this node was reported down and the target moved it on).
		to = NodeID(e.Owner)
	}
	epoch := t.epoch
	c.dropCopy(t, to)
	// Only now does the target hear that no other copy exists: until
	// then it may not move the isolate on (back here, say, where the
	// copy still waits for the ledger's word).
	c.proto.confirmDrop(to, t.id, epoch)
}

// finish is the owner's step when t finished: its completion is published
// only if the ledger records it finished here, at the epoch this node holds
// it by (a compare-and-set on that entry's revision). So a completion is
// published at most once, and never by a node the ledger has moved on
// from: a process that was paused or cut off while its offer was committed
// elsewhere finds the entry moved and publishes nothing (EvFenced).
func (c *nodeCore) finish(t *task) {
	t.finishing = true
	l, id, by, self := c.cfg.Ledger, ledger.IsolateID(t.id), t.entry, ledger.NodeID(c.id)
	c.async(func(ctx context.Context) func(*nodeCore) {
		ok := false
		if !retryLedger(ctx, func(ctx context.Context) bool {
			_, err := l.Finish(ctx, id, by)
			if err == nil {
				ok = true
				return true
			}
			// Refused, or unknown: a read tells whether our Finish (an
			// earlier attempt's) stands, or the entry moved on.
			cur, gerr := l.Get(ctx, id)
			if gerr != nil {
				// Gone, or an entry that does not decode (members are
				// trusted with the ledger; a corrupt entry is a bug or an
				// attack): publish nothing, rather than retry for ever.
				return errors.Is(gerr, ledger.ErrNotFound) || errors.Is(gerr, ledger.ErrCorrupt)
			}
			switch {
			case cur.State == ledger.Finished && cur.Owner == self && cur.Epoch == by.Epoch:
				ok = true
				return true
			case cur.Revision != by.Revision:
				return true // fenced
			}
			return false // not moved: a spurious refusal or a lost answer; try again
		}) {
			return nil
		}
		return func(c *nodeCore) { c.finishAnswered(t, ok) }
	})
}

// finishAnswered applies the answer of finish.
func (c *nodeCore) finishAnswered(t *task, ok bool) {
	t.finishing = false
	if c.stopped || c.tasks[t.id] != t {
		return
	}
	if !ok {
		delete(c.tasks, t.id)
		c.col.m.fenced.Add(1)
		c.col.event(Event{Kind: EvFenced, Node: c.id, ID: t.id, Epoch: t.epoch})
		c.giveBack(t)
		c.checkDrained()
		return
	}
	c.completed(t)
}
