package natsnet

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/knotencore/knoten/cluster"
)

// Two nodes, each in its own Transport (as two processes would be) and on
// its own connection, exchange messages; each learns the sender from the
// subject.
func TestTwoNodesExchange(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	a, b := newTransport(t, Config{}), newTransport(t, Config{})
	inA, inB := inbox(a, 1), inbox(b, 2)
	join(t, a, 1, url, Credentials{Name: "n1"})
	join(t, b, 2, url, Credentials{Name: "n2"})

	msg := []byte("hello from 1")
	a.Send(1, 2, msg)
	copy(msg, "XXXXX") // Send copied it: reusing msg at once is allowed
	d := receive(t, inB)
	if d.from != 1 || string(d.msg) != "hello from 1" {
		t.Fatalf("node 2 got %q from %d, want %q from 1", d.msg, d.from, "hello from 1")
	}
	b.Send(2, 1, []byte("hello from 2"))
	d = receive(t, inA)
	if d.from != 2 || string(d.msg) != "hello from 2" {
		t.Fatalf("node 1 got %q from %d, want %q from 2", d.msg, d.from, "hello from 2")
	}
	if s := a.Stats(); s.Sent != 1 || s.Delivered != 1 {
		t.Errorf("a's stats %+v: want 1 sent, 1 delivered", s)
	}
}

// One Transport holding several nodes, as the in-process cluster would use
// it: every node still has its own connection, and order from one sender
// to one receiver holds.
func TestOneTransportManyNodes(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	tr := newTransport(t, Config{})
	const n = 4
	var in [n]chan delivery
	for i := range n {
		in[i] = inbox(tr, cluster.NodeID(i))
		join(t, tr, cluster.NodeID(i), url, Credentials{})
	}
	const per = 50
	for k := range per {
		for from := range n {
			for to := range n {
				if from != to {
					tr.Send(cluster.NodeID(from), cluster.NodeID(to), fmt.Appendf(nil, "%d>%d #%d", from, to, k))
				}
			}
		}
	}
	for to := range n {
		next := make(map[cluster.NodeID]int)
		for range per * (n - 1) {
			d := receive(t, in[to])
			want := fmt.Sprintf("%d>%d #%d", d.from, to, next[d.from])
			if string(d.msg) != want {
				t.Fatalf("node %d got %q from %d, want %q", to, d.msg, d.from, want)
			}
			next[d.from]++
		}
	}
}

// The sender is read from the subject, whatever the bytes say; a subject
// outside the scheme is dropped, and Send from a node that never joined is
// dropped and counted.
func TestFromComesFromSubject(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	tr := newTransport(t, Config{})
	in := inbox(tr, 2)
	join(t, tr, 2, url, Credentials{})
	raw := connect(t, url, Credentials{})
	for _, bad := range []string{"x", "007", "1.2", "4294967296", "-1", "1.chunk.x"} {
		if err := raw.Publish("knoten.test.to.2.from."+bad, []byte("bad")); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Publish("knoten.test.to.2.from.7", []byte("I am node 1")); err != nil {
		t.Fatal(err)
	}
	d := receive(t, in)
	if d.from != 7 || string(d.msg) != "I am node 1" {
		t.Fatalf("got %q from %d, want from 7", d.msg, d.from)
	}
	if s := tr.Stats(); s.BadSubject != 6 {
		t.Errorf("BadSubject %d, want 6", s.BadSubject)
	}
	tr.Send(9, 2, []byte("from nowhere"))
	if s := tr.Stats(); s.NoConnection != 1 {
		t.Errorf("NoConnection %d, want 1", s.NoConnection)
	}
	small := newTransport(t, Config{MaxMessage: 2 << 20})
	join(t, small, 1, url, Credentials{})
	small.Send(1, 2, make([]byte, 3<<20))
	if s := small.Stats(); s.SendTooLarge != 1 || s.Sent != 0 {
		t.Errorf("over MaxMessage: %+v, want 1 too large, 0 sent", s)
	}
}

func TestParseFrom(t *testing.T) {
	const in = "knoten.c.to.3.from."
	for _, c := range []struct {
		subj    string
		from    cluster.NodeID
		chunked bool
		ok      bool
	}{
		{in + "0", 0, false, true},
		{in + "12", 12, false, true},
		{in + "12.chunk", 12, true, true},
		{in + "4294967295", 1<<32 - 1, false, true},
		{in + "4294967296", 0, false, false},
		{in + "99999999999", 0, false, false},
		{in + "01", 0, false, false},
		{in + "", 0, false, false},
		{in + ".chunk", 0, false, false},
		{in + "1.chunk.chunk", 0, false, false},
		{in + "+1", 0, false, false},
		{"knoten.c.to.4.from.1", 0, false, false},
	} {
		from, chunked, ok := parseFrom(c.subj, in)
		if ok != c.ok || (ok && (from != c.from || chunked != c.chunked)) {
			t.Errorf("parseFrom(%q) = %d, %v, %v; want %d, %v, %v", c.subj, from, chunked, ok, c.from, c.chunked, c.ok)
		}
	}
}

// A 16 MiB message goes in chunks under the server's 1 MiB max_payload and
// comes back whole, 8-aligned, with nothing left in reassembly.
func TestLargeMessageRoundTrip(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	tr := newTransport(t, Config{})
	in1, in2 := inbox(tr, 1), inbox(tr, 2)
	nc := join(t, tr, 1, url, Credentials{})
	join(t, tr, 2, url, Credentials{})
	if nc.MaxPayload() != 1<<20 {
		t.Fatalf("server max_payload %d, want the 1 MiB default", nc.MaxPayload())
	}
	msg := make([]byte, 16<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range msg {
		msg[i] = byte(rng.Uint32())
	}
	tr.Send(1, 2, msg)
	d := receive(t, in2)
	if d.from != 1 || !bytes.Equal(d.msg, msg) {
		t.Fatalf("node 2 got %d bytes from %d, want the 16 MiB message from 1", len(d.msg), d.from)
	}
	if p := uintptr(unsafe.Pointer(unsafe.SliceData(d.msg))); p&7 != 0 {
		t.Errorf("delivered buffer at %#x is not 8-aligned", p)
	}
	tr.Send(2, 1, d.msg)
	tr.Recycle(d.msg)
	d = receive(t, in1)
	if d.from != 2 || !bytes.Equal(d.msg, msg) {
		t.Fatalf("node 1 got %d bytes from %d, want the 16 MiB message back from 2", len(d.msg), d.from)
	}
	s := tr.Stats()
	piece := 1<<20 - chunkHeaderLen
	chunks := uint64(2 * ((16<<20 + piece - 1) / piece))
	if s.SentChunks != chunks || s.Delivered != 2 || s.ReassemblyBytes != 0 {
		t.Errorf("stats %+v: want %d chunks, 2 delivered, nothing held", s, chunks)
	}
}

// Small chunks, many messages of every size around the chunk boundary:
// each arrives whole and in order.
func TestManySmallChunks(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	const chunk = 100
	tr := newTransport(t, Config{ChunkSize: chunk})
	in := inbox(tr, 2)
	join(t, tr, 1, url, Credentials{})
	join(t, tr, 2, url, Credentials{})
	rng := rand.New(rand.NewPCG(3, 4))
	var sent [][]byte
	for _, n := range []int{1, chunk - 1, chunk, chunk + 1, 2*(chunk-chunkHeaderLen) - 1, 2 * (chunk - chunkHeaderLen), 5000, 77777} {
		m := make([]byte, n)
		for i := range m {
			m[i] = byte(rng.Uint32())
		}
		sent = append(sent, m)
		tr.Send(1, 2, m)
	}
	for i, want := range sent {
		if d := receive(t, in); !bytes.Equal(d.msg, want) {
			t.Fatalf("message %d: got %d bytes, want %d", i, len(d.msg), len(want))
		}
	}
	if s := tr.Stats(); s.DropMalformed+s.DropOutOfOrder+s.DropOverBudget+s.DropSuperseded+s.DropTooLarge+s.DropExpired != 0 {
		t.Errorf("drops in a clean run: %+v", s)
	}
}

// A recycled buffer carries the next chunked message of its size: a
// steady stream of large messages runs on memory already mapped.
func TestRecycledBufferReused(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	tr := newTransport(t, Config{ChunkSize: 64 << 10})
	in := inbox(tr, 2)
	join(t, tr, 1, url, Credentials{})
	join(t, tr, 2, url, Credentials{})
	msg := bytes.Repeat([]byte{7}, 300<<10)
	tr.Send(1, 2, msg)
	first := receive(t, in).msg
	tr.Recycle(first)
	msg[0] = 8
	tr.Send(1, 2, msg)
	second := receive(t, in).msg
	if unsafe.SliceData(first) != unsafe.SliceData(second) || !bytes.Equal(second, msg) {
		t.Errorf("second message not rebuilt in the recycled buffer (or wrong)")
	}
}

// Garbage on a node's chunk subject never breaks its reception: what
// follows it arrives.
func TestTamperedChunksOnTheWire(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	tr := newTransport(t, Config{ChunkSize: 1000})
	in := inbox(tr, 2)
	join(t, tr, 1, url, Credentials{})
	join(t, tr, 2, url, Credentials{})
	raw := connect(t, url, Credentials{})
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 2000 {
		b := make([]byte, rng.IntN(200))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if len(b) >= chunkHeaderLen && i%2 == 0 {
			// Plausible headers: small counts and indexes, huge totals.
			h := chunkHeader{seq: rng.Uint64N(4), total: rng.Uint64() >> rng.UintN(64), index: rng.Uint32N(4), count: rng.Uint32N(5)}
			appendChunkHeader(b[:0], h)
		}
		from := rng.IntN(3) // including node 1, whose real message follows
		if err := raw.Publish(fmt.Sprintf("knoten.test.to.2.from.%d.chunk", from), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Flush(); err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("ok"), 3000)
	tr.Send(1, 2, msg)
	for {
		d := receive(t, in)
		if d.from == 1 && bytes.Equal(d.msg, msg) {
			break
		}
		// A forged lone chunk (count 1) is a well-formed message; it is
		// delivered, and the protocol above judges it.
	}
	if s := tr.Stats(); s.ReassemblyBytes > int64(tr.cfg.MaxReassembly) {
		t.Errorf("reassembly holds %d bytes, over its cap %d", s.ReassemblyBytes, tr.cfg.MaxReassembly)
	}
}

// Messages with a reply subject or headers are dropped: no transport sends
// them, and the server sends them on subjects its requesters choose. Here
// a JetStream direct get answers, with headers, on node 2's subject as if
// node 1 had sent the value.
func TestForeignEnvelopeDropped(t *testing.T) {
	url := startServer(t, EmbeddedOptions{JetStream: true})
	tr := newTransport(t, Config{})
	in := inbox(tr, 2)
	join(t, tr, 2, url, Credentials{})
	raw := connect(t, url, Credentials{})
	js, err := jetstream.New(raw)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte{byte(1), 2, 3}); err != nil {
		t.Fatal(err)
	}
	forged := "knoten.test.to.2.from.1"
	if err := raw.PublishRequest("$JS.API.DIRECT.GET.KV_b.$KV.b.k", forged, nil); err != nil {
		t.Fatal(err)
	}
	if err := raw.PublishRequest(forged+".chunk", "_INBOX.x", []byte("with a reply subject")); err != nil {
		t.Fatal(err)
	}
	if err := raw.PublishMsg(&nats.Msg{Subject: forged, Header: nats.Header{"X": {"y"}}, Data: []byte("with headers")}); err != nil {
		t.Fatal(err)
	}
	// The direct get's answer comes from the server, not from raw: no
	// order holds between it and raw's messages. It has come once the
	// same request, to raw's own inbox, has been answered.
	if _, err := raw.Request("$JS.API.DIRECT.GET.KV_b.$KV.b.k", nil, hangGuard); err != nil {
		t.Fatal(err)
	}
	if err := raw.Publish("knoten.test.to.2.from.7", []byte("sentinel")); err != nil {
		t.Fatal(err)
	}
	if d := receive(t, in); d.from != 7 || string(d.msg) != "sentinel" {
		t.Fatalf("got %q from %d first, want the sentinel from 7", d.msg, d.from)
	}
	if s := tr.Stats(); s.BadEnvelope != 3 || s.Delivered != 1 {
		t.Errorf("BadEnvelope %d, Delivered %d; want 3, 1", s.BadEnvelope, s.Delivered)
	}
}
