package cluster

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"
)

type recv struct {
	at   time.Duration
	from NodeID
	msg  []byte
}

// netHarness drives a Net in virtual time and records deliveries.
type netHarness struct {
	net *Net
	now time.Duration
	got map[NodeID][]recv
}

func newNetHarness(seed uint64, cfg LinkConfig, nodes int) *netHarness {
	h := &netHarness{net: NewNet(seed, cfg), got: make(map[NodeID][]recv)}
	for i := 0; i < nodes; i++ {
		id := NodeID(i)
		h.net.Listen(id, func(from NodeID, msg []byte) {
			h.got[id] = append(h.got[id], recv{h.now, from, msg})
		})
	}
	return h
}

func (h *netHarness) runAll() {
	for {
		at, ok := h.net.NextAt()
		if !ok {
			return
		}
		h.now = max(h.now, at)
		h.net.DeliverDue(h.now)
	}
}

func seqMsg(i int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(i)) }

func TestNetLatencyOrderAndCopy(t *testing.T) {
	h := newNetHarness(1, LinkConfig{Latency: time.Millisecond}, 2)
	buf := []byte("hello")
	h.net.SendAt(0, 0, 1, buf)
	buf[0] = 'J' // the network holds its own copy
	h.net.SendAt(10*time.Microsecond, 0, 1, []byte("world"))
	h.runAll()
	got := h.got[1]
	if len(got) != 2 || string(got[0].msg) != "hello" || string(got[1].msg) != "world" {
		t.Fatalf("got %+v", got)
	}
	if got[0].at != time.Millisecond || got[1].at != time.Millisecond+10*time.Microsecond {
		t.Fatalf("delivery times %v %v", got[0].at, got[1].at)
	}
}

func TestNetBandwidthSerializes(t *testing.T) {
	// 1 MB/s: a 1000-byte message occupies the link for 1 ms.
	h := newNetHarness(1, LinkConfig{Latency: 100 * time.Microsecond, Bandwidth: 1e6}, 2)
	for i := 0; i < 3; i++ {
		h.net.SendAt(0, 0, 1, make([]byte, 1000))
	}
	h.runAll()
	for i, r := range h.got[1] {
		want := time.Duration(i+1)*time.Millisecond + 100*time.Microsecond
		if r.at != want {
			t.Errorf("message %d at %v, want %v", i, r.at, want)
		}
	}
}

func TestNetLossIsSeededAndRoughlyRight(t *testing.T) {
	run := func(seed uint64) []int {
		h := newNetHarness(seed, LinkConfig{Loss: 0.3, Jitter: time.Millisecond, Reorder: 0.2, Duplicate: 0.1}, 2)
		for i := 0; i < 2000; i++ {
			h.net.SendAt(time.Duration(i)*time.Microsecond, 0, 1, seqMsg(i))
		}
		h.runAll()
		var ids []int
		for _, r := range h.got[1] {
			ids = append(ids, int(binary.LittleEndian.Uint32(r.msg)))
		}
		return ids
	}
	a, b, c := run(7), run(7), run(8)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same seed, different deliveries")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatal("different seeds, same deliveries")
	}
	// About 70% survive, plus about 10% duplicates of those.
	if n := len(a); n < 1300 || n > 1800 {
		t.Fatalf("%d of 2000 delivered", n)
	}
	inversions := 0
	for i := 1; i < len(a); i++ {
		if a[i] < a[i-1] {
			inversions++
		}
	}
	if inversions == 0 {
		t.Fatal("jitter and reordering produced no reordering")
	}
}

func TestNetCutIsolateCrash(t *testing.T) {
	h := newNetHarness(1, LinkConfig{Latency: time.Millisecond}, 3)
	n := h.net
	n.Cut(0, 1)
	n.SendAt(0, 0, 1, []byte("cut"))
	n.SendAt(0, 1, 0, []byte("cut back"))
	n.SendAt(0, 0, 2, []byte("fine"))
	h.runAll()
	if len(h.got[1]) != 0 || len(h.got[0]) != 0 || len(h.got[2]) != 1 {
		t.Fatalf("after cut: %v", h.got)
	}
	n.HealLink(0, 1)
	n.SendAt(h.now, 0, 1, []byte("healed"))
	// Cut while in flight: dropped at delivery.
	n.SendAt(h.now, 0, 2, []byte("in flight"))
	n.Cut(0, 2)
	h.runAll()
	if len(h.got[1]) != 1 || len(h.got[2]) != 1 {
		t.Fatalf("after heal: %v", h.got)
	}
	n.HealLink(0, 2)
	n.Isolate(2)
	n.SendAt(h.now, 0, 2, []byte("isolated"))
	n.SendAt(h.now, 2, 1, []byte("isolated"))
	h.runAll()
	if len(h.got[2]) != 1 || len(h.got[1]) != 1 {
		t.Fatalf("isolated: %v", h.got)
	}
	n.HealNode(2)
	// A message in flight from a node that then crashes still arrives; the
	// crashed node sends and receives nothing more.
	n.SendAt(h.now, 2, 1, []byte("last words"))
	n.Crash(2)
	n.SendAt(h.now, 2, 1, []byte("after crash"))
	n.SendAt(h.now, 0, 2, []byte("to the dead"))
	h.runAll()
	if len(h.got[1]) != 2 || string(h.got[1][1].msg) != "last words" || len(h.got[2]) != 1 {
		t.Fatalf("crash: %v", h.got)
	}
	s := n.Stats()
	if s.Sent != 10 || s.Delivered != 3 || s.Dropped != 7 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLiveDelivers(t *testing.T) {
	for _, cfg := range []LinkConfig{{}, {Latency: 200 * time.Microsecond, Jitter: 100 * time.Microsecond}} {
		l := NewLive(3, cfg)
		var mu sync.Mutex
		got := map[NodeID][][]byte{}
		all := make(chan struct{})
		const per = 200
		for i := 0; i < 3; i++ {
			id := NodeID(i)
			l.Listen(id, func(from NodeID, msg []byte) {
				mu.Lock()
				got[id] = append(got[id], msg)
				if len(got[0])+len(got[1])+len(got[2]) == 3*per {
					close(all)
				}
				mu.Unlock()
			})
		}
		var wg sync.WaitGroup
		for i := 0; i < 3; i++ {
			wg.Add(1)
			go func(from NodeID) {
				defer wg.Done()
				buf := make([]byte, 4)
				for k := 0; k < per; k++ {
					binary.LittleEndian.PutUint32(buf, uint32(k))
					l.Send(from, (from+1)%3, buf) // buf is reused: Send copies
				}
			}(NodeID(i))
		}
		wg.Wait()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			t.Fatalf("%+v: only %d delivered", cfg, l.Stats().Delivered)
		}
		l.Close()
		for id, msgs := range got {
			seen := map[uint32]bool{}
			for _, m := range msgs {
				seen[binary.LittleEndian.Uint32(m)] = true
			}
			if len(seen) != per {
				t.Fatalf("%+v: node %d got %d distinct", cfg, id, len(seen))
			}
			if cfg.instant() && !bytes.Equal(msgs[per-1], seqMsg(per-1)) {
				t.Fatalf("instant link out of order")
			}
		}
	}
}
