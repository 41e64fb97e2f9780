package cluster

import (
	"context"
	"sync"
	"testing"

	"github.com/knotencore/knoten/cluster/ledger"
)

// hostile plays node 3 of a cluster whose nodes 0, 1 and 2 run here: it
// receives what is addressed to it and sends as itself, which is all an
// authenticated transport lets a member do (natsnet's permissions tests
// show the server refusing anything else).
type hostile struct {
	net    *Live
	mu     sync.Mutex
	offers map[IsolateID][]byte // the last OFFER of each isolate it received
	got    chan IsolateID
}

func (h *hostile) receive(from NodeID, msg []byte) {
	m, err := parseMessage(msg)
	if err != nil || m.kind != mOffer {
		return // it answers nothing: no ACK, NACK, FETCH or PROGRAM
	}
	h.mu.Lock()
	h.offers[m.id] = append([]byte(nil), msg...)
	h.mu.Unlock()
	select {
	case h.got <- m.id:
	default:
	}
}

func (h *hostile) send(to NodeID, msg []byte) { h.net.Send(3, to, msg) }

// TestLedgerHostileMember: a member that takes part in a handoff replays
// the OFFER it received to a third node, forges the ACK and the NACK of it,
// and acknowledges a handoff that is not its own. Without the ledger the
// replayed OFFER ran the isolate a second time on the third node, and the
// forged ACK made the source drop its only copy. With the ledger the third
// node refuses the replay (the ledger does not name the replayer the
// owner), the source keeps its copy (the ledger shows no move), and every
// isolate completes exactly once with its straight-run result.
func TestLedgerHostileMember(t *testing.T) {
	p, err := longLoop()
	if err != nil {
		t.Fatal(err)
	}
	live := NewLive(1, LinkConfig{})
	defer live.Close()
	h := &hostile{net: live, offers: map[IsolateID][]byte{}, got: make(chan IsolateID, 1)}
	live.Listen(3, h.receive)
	l := ledger.NewMemory()
	log := newEventLog()
	c := New(Config{Nodes: 4, Local: []NodeID{0, 1, 2}, Transport: live, Ledger: l, Quantum: 5000, NoSteal: true, OnEvent: log.on})
	defer c.Close()
	c.SetPeer(3, true)

	// B on node 1 gives node 1 the program, so that the replayed OFFER
	// is decoded and verified there, not stuck waiting for a fetch.
	b, err := c.Spawn(1, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MigrateAt(a, 3, p.steps/10); err != nil {
		t.Fatal(err)
	}
	var offer []byte
	select {
	case id := <-h.got:
		h.mu.Lock()
		offer = h.offers[id]
		h.mu.Unlock()
	case <-waitCtx(t).Done():
		t.Fatal("no OFFER reached the hostile member")
	}
	m, err := parseMessage(offer)
	if err != nil || m.id != a {
		t.Fatalf("captured %v, %v", m.id, err)
	}

	// The replay: node 1 verifies the state, asks the ledger, and refuses.
	h.send(1, offer)
	f := log.waitFor(t, "node 1 fencing the replayed offer", func(e Event) bool { return e.Kind == EvFenced && e.ID == a })
	if f.Node != 1 || f.Peer != 3 {
		t.Fatalf("fenced %+v", f)
	}
	// The forged ACK: node 0 settles with the ledger, which shows no move,
	// reclaims the isolate and runs it again.
	h.send(0, appendIDEpoch(nil, mAck, a, m.epoch))
	r := log.waitFor(t, "node 0 resuming its copy", func(e Event) bool { return e.Kind == EvResumed && e.ID == a })
	if r.Node != 0 {
		t.Fatalf("resumed %+v", r)
	}
	// A NACK of the same epoch, and an ACK of a handoff that is not the
	// hostile member's, change nothing; the replay, repeated now that the
	// source reclaimed the isolate, is refused again.
	h.send(0, appendNack(nil, a, m.epoch, nackRefused))
	h.send(0, appendIDEpoch(nil, mAck, a, m.epoch+1))
	h.send(2, offer)
	h.send(1, offer)

	o, err := c.Wait(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, o, map[IsolateID]*testProg{a: p, b: p}, false)
	for _, r := range o.Completed {
		if r.ID == a && r.Node != 0 {
			t.Fatalf("isolate %d completed on %v, not on the node that kept it", a, r.Node)
		}
	}
	e, err := l.Get(context.Background(), ledger.IsolateID(a))
	if err != nil || e.State != ledger.Finished || e.Owner != 0 {
		t.Fatalf("ledger: %v, %v", e, err)
	}
}
