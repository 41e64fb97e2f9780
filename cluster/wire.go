package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// IsolateID names an isolate for its whole life, across every node it visits.
type IsolateID uint64

// msgKind is the first byte of every cluster message.
type msgKind uint8

// The cluster's messages. Every message starts with its kind byte; the fields
// follow in the order listed, little-endian, u64 unless marked.
const (
	mOffer      msgKind = iota + 1 // id, epoch, program[32], trace i64, stops u8, 6 zero bytes, stops × (to, at), then the codec-encoded state (rest, 8-aligned)
	mAck                           // id, epoch: the target owns the isolate at this epoch
	mNack                          // id, epoch, reason u8: the target refuses this epoch
	mAbort                         // id, epoch: the source gives up unless the target already took it
	mAborted                       // id, epoch: the target did not take it and never will
	mConfirm                       // id, epoch: the source has dropped its copy
	mFetch                         // program[32]: send me this program's bytecode
	mProgram                       // program[32], then engine.Program.MarshalBinary (rest)
	mHeartbeat                     // queued u32, running u32, idle u32, flags u8 (bit 0: draining)
	mSteal                         // max u32: an idle node asks for up to max queued isolates
	mStealReply                    // n u32: how many isolates the loaded node is handing off
	mPages                         // 7 zero bytes, then a codec pages encoding: one chunk of a live migration's round (rest, 8-aligned)
	numMsgKinds
)

var msgNames = [numMsgKinds]string{"?", "OFFER", "ACK", "NACK", "ABORT", "ABORTED", "CONFIRM", "FETCH", "PROGRAM", "HEARTBEAT", "STEAL", "STEALREPLY", "PAGES"}

func (k msgKind) String() string {
	if k < numMsgKinds {
		return msgNames[k]
	}
	return fmt.Sprintf("msg%d", uint8(k))
}

// Reasons a target refuses an offer (NACK). The source resumes its copy
// whatever the reason; the byte is for whoever reads a capture of the
// traffic. (A program whose bytes do not verify is not refused: the offer
// keeps waiting, and the source's next resend fetches it again.)
const (
	nackRefused  uint8 = iota + 1 // draining, shutting down, or unwilling
	nackStale                     // epoch not above what the target has seen, and no record of it
	nackBadState                  // the state did not decode, verify or resume
	nackFull                      // the target is past its memory budget (ErrNodeFull), or its budget for offers waiting for their program
)

// Load is what a heartbeat says about a node.
type Load struct {
	Queued   int  // isolates waiting in worker deques
	Running  int  // isolates being run by a worker now
	Idle     int  // workers with nothing to do
	Draining bool // the node is emptying itself and takes nothing
}

// message is a parsed cluster message. payload aliases the buffer it was
// parsed from.
type message struct {
	kind    msgKind
	id      IsolateID
	epoch   uint64
	hash    [32]byte
	trace   int64
	reason  uint8
	n       uint32
	load    Load
	payload []byte
	raw     []byte // the whole message: an accepted OFFER keeps it as its isolate's memory
	route   []byte // an OFFER's planned stops, offerStop bytes each (see routeStops)
}

// routeStops decodes an OFFER's planned stops.
func (m *message) routeStops() []Stop {
	if len(m.route) == 0 {
		return nil
	}
	r := make([]Stop, len(m.route)/offerStop)
	for i := range r {
		r[i].To = NodeID(binary.LittleEndian.Uint64(m.route[i*offerStop:]))
		r[i].At = binary.LittleEndian.Uint64(m.route[i*offerStop+8:])
	}
	return r
}

var errShortMessage = errors.New("cluster: short message")

// offerHeader is the length of an OFFER before the state. It is a multiple
// of 8 so that the state keeps the 8-byte alignment of the message buffer,
// which lets the codec view its word sections in place instead of copying.
const offerHeader = 64

// offerStop is the size of one planned stop in an OFFER: to, at (u64 each).
const offerStop = 16

// MaxRoute bounds the stops a route may carry after its first (see
// Cluster.MigrateAt).
const MaxRoute = 16

// offerHeaderLen is the length of an OFFER before the state when it carries
// the given number of planned stops.
func offerHeaderLen(stops int) int { return offerHeader + offerStop*stops }

// appendOfferHeader appends an OFFER's part before the state, route being
// the stops planned for the isolate after it arrives; the codec appends the
// state.
func appendOfferHeader(b []byte, id IsolateID, epoch uint64, prog [32]byte, trace int64, route []Stop) []byte {
	b = append(b, byte(mOffer))
	b = binary.LittleEndian.AppendUint64(b, uint64(id))
	b = binary.LittleEndian.AppendUint64(b, epoch)
	b = append(b, prog[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(trace))
	b = append(b, byte(len(route)), 0, 0, 0, 0, 0, 0)
	for _, s := range route {
		b = binary.LittleEndian.AppendUint64(b, uint64(s.To))
		b = binary.LittleEndian.AppendUint64(b, s.At)
	}
	return b
}

func appendIDEpoch(b []byte, k msgKind, id IsolateID, epoch uint64) []byte {
	b = append(b, byte(k))
	b = binary.LittleEndian.AppendUint64(b, uint64(id))
	return binary.LittleEndian.AppendUint64(b, epoch)
}

func appendNack(b []byte, id IsolateID, epoch uint64, reason uint8) []byte {
	return append(appendIDEpoch(b, mNack, id, epoch), reason)
}

func appendHash(b []byte, k msgKind, h [32]byte) []byte {
	return append(append(b, byte(k)), h[:]...)
}

func appendHeartbeat(b []byte, l Load) []byte {
	b = append(b, byte(mHeartbeat))
	b = binary.LittleEndian.AppendUint32(b, uint32(max(l.Queued, 0)))
	b = binary.LittleEndian.AppendUint32(b, uint32(max(l.Running, 0)))
	b = binary.LittleEndian.AppendUint32(b, uint32(max(l.Idle, 0)))
	var f byte
	if l.Draining {
		f = 1
	}
	return append(b, f)
}

func appendU32(b []byte, k msgKind, n uint32) []byte {
	return binary.LittleEndian.AppendUint32(append(b, byte(k)), n)
}

// parseMessage parses b. It checks every length against b and never panics;
// the payload of OFFER and PROGRAM aliases b.
func parseMessage(b []byte) (message, error) {
	m := message{raw: b}
	if len(b) == 0 {
		return m, errShortMessage
	}
	m.kind = msgKind(b[0])
	p := b[1:]
	need := func(n int) bool { return len(p) >= n }
	le := binary.LittleEndian
	switch m.kind {
	case mOffer:
		if !need(offerHeader - 1) {
			return m, errShortMessage
		}
		m.id, m.epoch = IsolateID(le.Uint64(p)), le.Uint64(p[8:])
		copy(m.hash[:], p[16:48])
		m.trace = int64(le.Uint64(p[48:]))
		stops := int(p[56])
		if stops > MaxRoute {
			return m, fmt.Errorf("cluster: offer plans %d stops, at most %d", stops, MaxRoute)
		}
		if !need(offerHeaderLen(stops) - 1) {
			return m, errShortMessage
		}
		m.route = p[offerHeader-1 : offerHeaderLen(stops)-1]
		m.payload = p[offerHeaderLen(stops)-1:]
	case mAck, mAbort, mAborted, mConfirm, mNack:
		n := 16
		if m.kind == mNack {
			n = 17
		}
		if len(p) != n {
			return m, errShortMessage
		}
		m.id, m.epoch = IsolateID(le.Uint64(p)), le.Uint64(p[8:])
		if m.kind == mNack {
			m.reason = p[16]
		}
	case mFetch, mProgram:
		if !need(32) || (m.kind == mFetch && len(p) != 32) {
			return m, errShortMessage
		}
		copy(m.hash[:], p)
		m.payload = p[32:]
	case mHeartbeat:
		if len(p) != 13 {
			return m, errShortMessage
		}
		m.load = Load{Queued: int(le.Uint32(p)), Running: int(le.Uint32(p[4:])), Idle: int(le.Uint32(p[8:])), Draining: p[12]&1 != 0}
	case mPages:
		if !need(pagesEnvelope - 1) {
			return m, errShortMessage
		}
		m.payload = p[pagesEnvelope-1:]
	case mSteal, mStealReply:
		if len(p) != 4 {
			return m, errShortMessage
		}
		m.n = le.Uint32(p)
	default:
		return m, fmt.Errorf("cluster: unknown message kind %d", b[0])
	}
	return m, nil
}
