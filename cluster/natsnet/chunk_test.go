package natsnet

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster"
)

func chunk(h chunkHeader, piece []byte) []byte {
	return append(appendChunkHeader(nil, h), piece...)
}

// split cuts msg into chunks of pieces of at most piece bytes.
func split(seq uint64, msg []byte, piece int) [][]byte {
	count := (len(msg) + piece - 1) / piece
	var out [][]byte
	for i := range count {
		end := min((i+1)*piece, len(msg))
		out = append(out, chunk(chunkHeader{seq: seq, total: uint64(len(msg)), index: uint32(i), count: uint32(count)}, msg[i*piece:end]))
	}
	return out
}

func checkHeld(t *testing.T, r *reassembler) {
	t.Helper()
	sum := 0
	for _, p := range r.partials {
		sum += p.charged
		if cap(p.buf) > r.maxMessage || p.charged != cap(p.buf)+partialOverhead {
			t.Fatalf("partial holds cap %d, charged %d (max message %d)", cap(p.buf), p.charged, r.maxMessage)
		}
	}
	if sum != r.held || r.held > r.maxTotal || r.held < 0 {
		t.Fatalf("held %d, partials sum %d, cap %d", r.held, sum, r.maxTotal)
	}
}

// What the reassembler does with lost, interleaved, superseded, expired,
// oversized and over-budget messages: each is dropped, counted, its memory
// given up, and the sender's next message arrives.
func TestReassemblerDrops(t *testing.T) {
	now := time.Unix(1000, 0)
	msg := bytes.Repeat([]byte("abcdefgh"), 100) // 800 bytes, 8 chunks of 100
	cs := split(1, msg, 100)
	cases := []struct {
		name  string
		feed  func(r *reassembler) []byte
		why   dropReason
		count uint64
	}{
		{"lost chunk", func(r *reassembler) []byte {
			for i, c := range cs {
				if i != 3 {
					if m := r.add(1, c, now); m != nil {
						return m
					}
				}
			}
			return nil
		}, dropOutOfOrder, 4},
		{"interleaved", func(r *reassembler) []byte {
			other := split(2, msg, 100)
			r.add(1, cs[0], now)
			r.add(1, cs[1], now)
			r.add(1, other[1], now) // another message's middle
			for _, c := range cs[2:] {
				r.add(1, c, now)
			}
			return nil
		}, dropOutOfOrder, 7},
		{"superseded", func(r *reassembler) []byte {
			r.add(1, cs[0], now)
			r.add(1, cs[1], now)
			r.add(1, split(2, msg, 100)[0], now)
			return nil
		}, dropSuperseded, 1},
		{"expired", func(r *reassembler) []byte {
			r.add(1, cs[0], now)
			r.add(2, cs[0], now.Add(DefaultReassemblyTimeout))
			return nil
		}, dropExpired, 1},
		{"too large", func(r *reassembler) []byte {
			return r.add(1, chunk(chunkHeader{seq: 1, total: 1 << 62, count: 2}, []byte{1}), now)
		}, dropTooLarge, 1},
		{"over budget", func(r *reassembler) []byte {
			big := make([]byte, 3000)
			for src := cluster.NodeID(0); src < 10; src++ {
				r.add(src, split(1, big, 1000)[0], now) // 2000 + overhead each
			}
			return nil
		}, dropOverBudget, 8},
		{"count changes", func(r *reassembler) []byte {
			r.add(1, cs[0], now)
			return r.add(1, chunk(chunkHeader{seq: 1, total: 800, index: 1, count: 2}, []byte{1}), now)
		}, dropOutOfOrder, 1},
		{"last too short", func(r *reassembler) []byte {
			c := split(1, msg, 400)
			r.add(1, c[0], now)
			return r.add(1, c[1][:len(c[1])-1], now)
		}, dropMalformed, 1},
		{"lone chunk too short", func(r *reassembler) []byte {
			return r.add(1, chunk(chunkHeader{seq: 1, total: 10, count: 1}, []byte{1, 2}), now)
		}, dropMalformed, 1},
		{"more chunks than bytes", func(r *reassembler) []byte {
			return r.add(1, chunk(chunkHeader{seq: 1, total: 2, count: 3}, []byte{1}), now)
		}, dropMalformed, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReassembler(4096, 5000, DefaultReassemblyTimeout, nil)
			if m := c.feed(r); m != nil {
				t.Fatalf("delivered %d bytes", len(m))
			}
			checkHeld(t, r)
			if got := r.drops[c.why].Load(); got != c.count {
				t.Errorf("%d drops for reason %d, want %d", got, c.why, c.count)
			}
			// The sender's next message arrives whole.
			next := split(9, msg, 100)
			var got []byte
			for _, ch := range next {
				got = r.add(1, ch, now.Add(DefaultReassemblyTimeout))
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("next message: got %d bytes", len(got))
			}
			checkHeld(t, r)
		})
	}
}

// Random chunks, honest and forged, from a few senders: the reassembler
// never panics, never holds more than its caps, and allocates in
// proportion to the bytes it received, never to the lengths claimed.
func TestReassemblerRandomHeaders(t *testing.T) {
	const maxMessage, maxTotal = 1 << 20, 3 << 20
	r := newReassembler(maxMessage, maxTotal, time.Second, nil)
	rng := rand.New(rand.NewPCG(7, 8))
	now := time.Unix(0, 0)
	received, delivered := 0, 0
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 200000 {
		now = now.Add(time.Duration(rng.IntN(1000)) * time.Microsecond)
		n := rng.IntN(600)
		b := make([]byte, chunkHeaderLen+n)
		h := chunkHeader{seq: rng.Uint64N(3), index: rng.Uint32N(4), count: rng.Uint32N(6)}
		switch rng.IntN(4) {
		case 0:
			h.total = rng.Uint64() // absurd claims
		case 1:
			h.total = rng.Uint64N(maxMessage + 1) // plausible ones, up to the cap
		default:
			h.total = rng.Uint64N(3000)
		}
		if i%50 == 0 {
			for j := range b {
				b[j] = byte(rng.Uint32()) // no structure at all
			}
		} else {
			appendChunkHeader(b[:0], h)
		}
		received += n
		if m := r.add(cluster.NodeID(rng.IntN(8)), b[:rng.IntN(len(b)+1)], now); m != nil {
			delivered++
		}
		if i%1000 == 0 {
			checkHeld(t, r)
		}
	}
	runtime.ReadMemStats(&after)
	checkHeld(t, r)
	// The test's own chunks are counted too: about received + headers.
	ours := received + 200000*(chunkHeaderLen+16)
	// A partial starts at twice its first piece and doubles, so it
	// allocates at most 4 × what it received, plus its record.
	bound := uint64(ours + 4*received + 200000*partialOverhead + 8<<20)
	if got := after.TotalAlloc - before.TotalAlloc; got > bound {
		t.Errorf("allocated %d bytes for %d bytes of chunks, over the bound %d", got, received, bound)
	}
	t.Logf("%d bytes in chunks, %d messages delivered, %d bytes allocated, drops %v", received, delivered, after.TotalAlloc-before.TotalAlloc, func() (d [numDropReasons]uint64) {
		for i := range d {
			d[i] = r.drops[i].Load()
		}
		return
	}())
}

// Many senders build large messages at once, in order, with pieces of
// random sizes: the budget, not the claims, decides what is held, and what
// completes arrives intact.
func TestReassemblerManySenders(t *testing.T) {
	const maxMessage, maxTotal, senders = 256 << 10, 768 << 10, 32
	r := newReassembler(maxMessage, maxTotal, time.Second, nil)
	rng := rand.New(rand.NewPCG(9, 10))
	type stream struct {
		msg    []byte
		chunks [][]byte
	}
	streams := make([]stream, senders)
	delivered := 0
	for range 8000 {
		src := rng.IntN(senders)
		s := &streams[src]
		if len(s.chunks) == 0 {
			s.msg = make([]byte, 1+rng.IntN(maxMessage))
			for i := range s.msg {
				s.msg[i] = byte(i * (src + 1))
			}
			s.chunks = split(rng.Uint64(), s.msg, 1+rng.IntN(16<<10))
		}
		m := r.add(cluster.NodeID(src), s.chunks[0], time.Unix(0, 0))
		s.chunks = s.chunks[1:]
		if m != nil {
			delivered++
			if !bytes.Equal(m, s.msg) {
				t.Fatalf("sender %d: delivered %d bytes, not what it sent", src, len(m))
			}
		}
		checkHeld(t, r)
	}
	if delivered == 0 || r.drops[dropOverBudget].Load() == 0 {
		t.Errorf("%d delivered, %d over budget: the test should see both", delivered, r.drops[dropOverBudget].Load())
	}
	t.Logf("%d delivered, %d over budget, %d out of order", delivered, r.drops[dropOverBudget].Load(), r.drops[dropOutOfOrder].Load())
}

// FuzzReassembler feeds a stream of chunks from two senders; see
// TestReassemblerRandomHeaders for the properties.
func FuzzReassembler(f *testing.F) {
	msg := bytes.Repeat([]byte{1, 2, 3}, 100)
	var seed []byte
	for _, c := range split(1, msg, 64) {
		seed = append(seed, byte(len(c)))
		seed = append(seed, c...)
	}
	f.Add(seed)
	f.Add([]byte{30, 1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 2, 0, 0, 0, 9, 9, 9, 9, 9, 9})
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := newReassembler(1<<12, 1<<13, time.Second, &bufferPool{maxBytes: 1 << 16})
		now := time.Unix(0, 0)
		for len(stream) > 0 {
			n := min(int(stream[0]), len(stream)-1)
			c := stream[1 : 1+n]
			stream = stream[1+n:]
			now = now.Add(100 * time.Millisecond)
			if m := r.add(cluster.NodeID(n&1), c, now); len(m) > r.maxMessage {
				t.Fatalf("delivered %d bytes, over the max message %d", len(m), r.maxMessage)
			}
			checkHeld(t, r)
		}
	})
}
