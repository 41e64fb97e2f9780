package natsnet

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/knotencore/knoten/cluster"
)

// chunkHeaderLen is the size of the header in front of every chunk's piece:
// seq u64, total u64, index u32, count u32, little-endian. It is a multiple
// of 8, so a piece keeps the 8-byte alignment of the buffer it arrives in.
const chunkHeaderLen = 24

// chunkHeader describes one chunk of a message too large for one NATS
// payload.
type chunkHeader struct {
	seq   uint64 // the sender's number for the message; every chunk of it carries the same
	total uint64 // the whole message's length
	index uint32 // this chunk's place, 0..count-1; chunks travel in order
	count uint32 // how many chunks the message has
}

func appendChunkHeader(b []byte, h chunkHeader) []byte {
	b = binary.LittleEndian.AppendUint64(b, h.seq)
	b = binary.LittleEndian.AppendUint64(b, h.total)
	b = binary.LittleEndian.AppendUint32(b, h.index)
	return binary.LittleEndian.AppendUint32(b, h.count)
}

// parseChunk splits a chunk into its header and piece. It checks only what
// the header says about itself; the reassembler checks it against the
// message it continues.
func parseChunk(b []byte) (chunkHeader, []byte, bool) {
	if len(b) <= chunkHeaderLen {
		return chunkHeader{}, nil, false // too short, or an empty piece
	}
	le := binary.LittleEndian
	h := chunkHeader{seq: le.Uint64(b), total: le.Uint64(b[8:]), index: le.Uint32(b[16:]), count: le.Uint32(b[20:])}
	piece := b[chunkHeaderLen:]
	// Every piece holds at least one byte, so a message has at most total
	// chunks and a piece never exceeds the message.
	if h.count == 0 || h.index >= h.count || h.total == 0 || uint64(h.count) > h.total || uint64(len(piece)) > h.total {
		return h, nil, false
	}
	return h, piece, true
}

// Why the reassembler dropped a chunk, or the message it belonged to.
type dropReason uint8

const (
	dropNone       dropReason = iota
	dropMalformed             // the header contradicts itself or the piece
	dropTooLarge              // the message claims more than MaxMessage
	dropOutOfOrder            // a chunk that does not continue its sender's message: one was lost, or messages interleaved
	dropOverBudget            // holding the piece would take the reassembly buffers past MaxReassembly
	dropSuperseded            // a sender started a new message before finishing the last
	dropExpired               // no chunk of the message came for ReassemblyTimeout
	numDropReasons
)

// partialOverhead is what a message in reassembly is charged beyond its
// buffer, for its record; it bounds how many records a flood of one-byte
// first chunks can create.
const partialOverhead = 256

// partial is a message whose chunks are still arriving.
type partial struct {
	h       chunkHeader
	buf     []byte // the pieces received so far, in order
	charged int    // what this message counts against the reassembler's budget
	last    time.Time
}

// reassembler rebuilds chunked messages arriving for one node. It is used
// from one goroutine (the node's subscription), so it has no lock.
//
// Memory follows the bytes received: a message's buffer starts at twice its
// first piece and doubles as pieces arrive, up to its total, unless a
// recycled buffer large enough is at hand. Buffers held for unfinished
// messages never exceed maxTotal together (each record also charged
// partialOverhead), and one message never exceeds maxMessage. A message
// that stops arriving is dropped after timeout, checked whenever a chunk
// arrives; until then it is bounded by the same budget.
type reassembler struct {
	maxMessage int
	maxTotal   int
	timeout    time.Duration
	pool       *bufferPool // recycled buffers, or nil

	held      int // bytes charged by all partials
	partials  map[cluster.NodeID]*partial
	lastSweep time.Time

	// Read by Stats from other goroutines.
	heldNow atomic.Int64
	drops   [numDropReasons]atomic.Uint64
}

func newReassembler(maxMessage, maxTotal int, timeout time.Duration, pool *bufferPool) *reassembler {
	return &reassembler{
		maxMessage: maxMessage,
		maxTotal:   maxTotal,
		timeout:    timeout,
		pool:       pool,
		partials:   make(map[cluster.NodeID]*partial),
	}
}

// add takes one chunk from src. It returns the whole message once its last
// chunk arrives; the caller owns it. It never panics, whatever data holds.
func (r *reassembler) add(src cluster.NodeID, data []byte, now time.Time) []byte {
	if now.Sub(r.lastSweep) >= r.timeout/2 {
		r.sweep(now)
	}
	h, piece, ok := parseChunk(data)
	p := r.partials[src]
	if !ok {
		// The sender's stream is broken either way: what it was building
		// can no longer be trusted to continue.
		r.drop(src, p, dropMalformed)
		return nil
	}
	if h.total > uint64(r.maxMessage) {
		r.drop(src, p, dropTooLarge)
		return nil
	}
	total := int(h.total)
	if h.index == 0 {
		if p != nil {
			r.drop(src, p, dropSuperseded)
		}
		if h.count == 1 {
			if len(piece) != total {
				r.note(dropMalformed)
				return nil
			}
			// The piece is 8-aligned (chunkHeaderLen is) and belongs to
			// nobody else: deliver it as it is.
			return piece
		}
		return r.start(src, h, piece, now)
	}
	if p == nil || p.h.seq != h.seq || p.h.index+1 != h.index || p.h.count != h.count || p.h.total != h.total {
		r.drop(src, p, dropOutOfOrder)
		return nil
	}
	filled := len(p.buf) + len(piece)
	last := h.index == h.count-1
	// Only the last chunk may reach the total, and it must.
	if filled > total || last != (filled == total) {
		r.drop(src, p, dropMalformed)
		return nil
	}
	if filled > cap(p.buf) {
		grown := min(total, max(2*cap(p.buf), filled))
		if !r.charge(p, grown+partialOverhead) {
			r.drop(src, p, dropOverBudget)
			return nil
		}
		nb := make([]byte, len(p.buf), grown)
		copy(nb, p.buf)
		p.buf = nb
	}
	p.buf = append(p.buf, piece...)
	p.h.index = h.index
	p.last = now
	if !last {
		return nil
	}
	msg := p.buf
	r.release(src, p)
	return msg
}

// start begins a new message from src with its first piece.
func (r *reassembler) start(src cluster.NodeID, h chunkHeader, piece []byte, now time.Time) []byte {
	total := int(h.total)
	if len(piece) >= total {
		r.note(dropMalformed) // the first of several chunks cannot hold it all
		return nil
	}
	p := &partial{h: h, last: now}
	var buf []byte
	if r.pool != nil {
		buf = r.pool.get(total, min(r.maxMessage, r.maxTotal-r.held-partialOverhead))
	}
	if buf == nil {
		buf = make([]byte, 0, min(total, 2*len(piece)))
	}
	if !r.charge(p, cap(buf)+partialOverhead) {
		r.pool.put(buf)
		r.note(dropOverBudget)
		return nil
	}
	p.buf = append(buf, piece...)
	r.partials[src] = p
	return nil
}

// charge sets what p counts against the budget to n, if the budget allows.
func (r *reassembler) charge(p *partial, n int) bool {
	if r.held-p.charged+n > r.maxTotal {
		return false
	}
	r.held += n - p.charged
	p.charged = n
	r.heldNow.Store(int64(r.held))
	return true
}

// release forgets src's partial p without dropping its buffer.
func (r *reassembler) release(src cluster.NodeID, p *partial) {
	r.held -= p.charged
	p.charged = 0
	r.heldNow.Store(int64(r.held))
	delete(r.partials, src)
}

// drop discards src's partial p, if any, and counts why.
func (r *reassembler) drop(src cluster.NodeID, p *partial, why dropReason) {
	r.note(why)
	if p == nil {
		return
	}
	r.release(src, p)
	r.pool.put(p.buf)
	p.buf = nil
}

func (r *reassembler) note(why dropReason) { r.drops[why].Add(1) }

// sweep drops every message that has had no chunk for timeout.
func (r *reassembler) sweep(now time.Time) {
	r.lastSweep = now
	for src, p := range r.partials {
		if now.Sub(p.last) >= r.timeout {
			r.drop(src, p, dropExpired)
		}
	}
}
