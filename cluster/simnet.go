package cluster

import (
	"container/heap"
	"math/rand/v2"
	"sync"
	"time"
)

// LinkConfig describes one direction of a simulated link.
type LinkConfig struct {
	Latency   time.Duration `json:"latency_ns"` // base one-way delay
	Jitter    time.Duration `json:"jitter_ns"`  // extra delay drawn uniformly from [0, Jitter)
	Bandwidth float64       `json:"bandwidth"`  // bytes per second; 0 means unlimited
	Loss      float64       `json:"loss"`       // probability that a message is dropped
	Duplicate float64       `json:"duplicate"`  // probability that a message is delivered twice
	// Reorder is the probability that a message is held back by an extra
	// delay drawn from [0, ReorderWindow), so that later messages overtake
	// it. A zero ReorderWindow means 4×(Latency+Jitter), at least 200 µs.
	Reorder       float64       `json:"reorder"`
	ReorderWindow time.Duration `json:"reorder_window_ns"`
}

// instant reports whether the link delivers every message at once, in order
// and intact, so that a wall-clock transport may deliver it inline.
func (c LinkConfig) instant() bool {
	return c.Latency == 0 && c.Jitter == 0 && c.Bandwidth == 0 && c.Loss == 0 && c.Duplicate == 0 && c.Reorder == 0
}

// NetStats counts what a simulated network did.
type NetStats struct {
	Sent       int64 `json:"sent"`       // messages handed to Send
	Delivered  int64 `json:"delivered"`  // messages handed to a receiver (duplicates count twice)
	Dropped    int64 `json:"dropped"`    // lost at random, on a cut link, or to or from a crashed node
	Duplicated int64 `json:"duplicated"` // extra copies made
	Bytes      int64 `json:"bytes"`      // bytes handed to Send
}

type linkKey struct{ from, to NodeID }

type linkState struct {
	cfg       LinkConfig
	busyUntil time.Duration // when the sender's side of the link finishes its last transmission
}

type inflight struct {
	at       time.Duration
	seq      uint64
	from, to NodeID
	msg      []byte
}

type inflightHeap []*inflight

func (h inflightHeap) Len() int { return len(h) }
func (h inflightHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h inflightHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *inflightHeap) Push(x any)   { *h = append(*h, x.(*inflight)) }
func (h *inflightHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

// Net is a simulated network in virtual time, in the style of etcd's
// raft/rafttest: every message is copied as bytes on Send and delivered
// later, in order of delivery time, by DeliverDue. Latency, jitter, bandwidth,
// loss, duplication and reordering are set per directed link; links can be
// cut and healed, nodes isolated, healed and crashed. Every random choice is
// drawn from one generator seeded by the seed given to NewNet, in the order
// Send is called, so a single-threaded driver reproduces a run exactly.
//
// Fault semantics:
//   - A message sent on a cut link, to or from an isolated node, or to a
//     crashed node is dropped; so is one whose link is cut, or whose receiver
//     is crashed or isolated, at the moment it would be delivered.
//   - A message already in flight when its sender crashes is still delivered,
//     as on a real network. A crashed node sends nothing more (Send from it
//     is dropped) and receives nothing.
//
// Net is not safe for concurrent use; Live wraps it for wall-clock use.
type Net struct {
	rng      *rand.Rand
	def      LinkConfig
	links    map[linkKey]*linkState
	cut      map[linkKey]bool
	isolated map[NodeID]bool
	crashed  map[NodeID]bool
	handlers map[NodeID]func(from NodeID, msg []byte)
	pending  inflightHeap
	seq      uint64
	stats    NetStats
	bufs     bufPool // the copies it delivers, back from receivers (Recycle)
}

// NewNet returns a network whose links all have configuration def until
// SetLink says otherwise, with randomness drawn from seed.
func NewNet(seed uint64, def LinkConfig) *Net {
	return &Net{
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		def:      def,
		links:    make(map[linkKey]*linkState),
		cut:      make(map[linkKey]bool),
		isolated: make(map[NodeID]bool),
		crashed:  make(map[NodeID]bool),
		handlers: make(map[NodeID]func(NodeID, []byte)),
	}
}

func (n *Net) link(from, to NodeID) *linkState {
	k := linkKey{from, to}
	l := n.links[k]
	if l == nil {
		l = &linkState{cfg: n.def}
		n.links[k] = l
	}
	return l
}

// SetLink sets the configuration of the directed link from → to.
func (n *Net) SetLink(from, to NodeID, cfg LinkConfig) { n.link(from, to).cfg = cfg }

// SetDefault sets the configuration of every link, replacing what SetLink set.
func (n *Net) SetDefault(cfg LinkConfig) {
	n.def = cfg
	for _, l := range n.links {
		l.cfg = cfg
	}
}

// MaxDelay bounds how long the network holds a copy of a message, on any
// link (transmission aside): the largest Latency + Jitter + reorder window.
func (n *Net) MaxDelay() time.Duration {
	d := n.def.maxDelay()
	for _, l := range n.links {
		d = max(d, l.cfg.maxDelay())
	}
	return d
}

// maxDelay is the longest a link with configuration c holds a copy.
func (c LinkConfig) maxDelay() time.Duration {
	d := c.Latency + c.Jitter
	if c.Reorder > 0 {
		w := c.ReorderWindow
		if w <= 0 {
			w = max(4*(c.Latency+c.Jitter), 200*time.Microsecond)
		}
		d += w
	}
	return d
}

// Link returns the configuration of the directed link from → to.
func (n *Net) Link(from, to NodeID) LinkConfig { return n.link(from, to).cfg }

// Cut cuts the link between a and b in both directions.
func (n *Net) Cut(a, b NodeID) { n.cut[linkKey{a, b}] = true; n.cut[linkKey{b, a}] = true }

// HealLink undoes Cut(a, b).
func (n *Net) HealLink(a, b NodeID) { delete(n.cut, linkKey{a, b}); delete(n.cut, linkKey{b, a}) }

// Isolate cuts every link of node id.
func (n *Net) Isolate(id NodeID) { n.isolated[id] = true }

// HealNode undoes Isolate(id).
func (n *Net) HealNode(id NodeID) { delete(n.isolated, id) }

// Crash stops node id for good: it sends and receives nothing from now on.
func (n *Net) Crash(id NodeID) { n.crashed[id] = true }

// Crashed reports whether node id has crashed.
func (n *Net) Crashed(id NodeID) bool { return n.crashed[id] }

// Listen sets node id's receiver; see Transport.
func (n *Net) Listen(id NodeID, deliver func(from NodeID, msg []byte)) { n.handlers[id] = deliver }

// Stats returns the counters so far.
func (n *Net) Stats() NetStats { return n.stats }

// Pending returns the number of messages in flight.
func (n *Net) Pending() int { return len(n.pending) }

func (n *Net) blocked(from, to NodeID) bool {
	return n.cut[linkKey{from, to}] || n.isolated[from] || n.isolated[to] || n.crashed[to]
}

// SendAt sends a copy of msg at virtual time now. It reports whether the
// message was delivered inline instead of queued: that happens only when
// inline is set, the link is instant and nothing blocks it; the caller must
// then hand the returned copy to the receiver itself.
func (n *Net) sendAt(now time.Duration, from, to NodeID, msg []byte, inline bool) (copyOut []byte, ok bool) {
	n.stats.Sent++
	n.stats.Bytes += int64(len(msg))
	if n.crashed[from] || n.blocked(from, to) {
		n.stats.Dropped++
		return nil, false
	}
	l := n.link(from, to)
	c := l.cfg
	if inline && c.instant() {
		n.stats.Delivered++
		return n.bufs.copyOf(msg), true
	}
	if c.Loss > 0 && n.rng.Float64() < c.Loss {
		n.stats.Dropped++
		return nil, false
	}
	copies := 1
	if c.Duplicate > 0 && n.rng.Float64() < c.Duplicate {
		copies = 2
		n.stats.Duplicated++
	}
	start := max(now, l.busyUntil)
	if c.Bandwidth > 0 {
		l.busyUntil = start + time.Duration(float64(len(msg))/c.Bandwidth*float64(time.Second))
	} else {
		l.busyUntil = start
	}
	for i := 0; i < copies; i++ {
		at := l.busyUntil + c.Latency
		if c.Jitter > 0 {
			at += time.Duration(n.rng.Int64N(int64(c.Jitter)))
		}
		if c.Reorder > 0 && n.rng.Float64() < c.Reorder {
			w := c.ReorderWindow
			if w <= 0 {
				w = max(4*(c.Latency+c.Jitter), 200*time.Microsecond)
			}
			at += time.Duration(n.rng.Int64N(int64(w)))
		}
		n.seq++
		heap.Push(&n.pending, &inflight{at: at, seq: n.seq, from: from, to: to, msg: n.bufs.copyOf(msg)})
	}
	return nil, false
}

var (
	_ Recycler = (*Net)(nil)
	_ Recycler = (*Live)(nil)
)

// Recycle takes back a delivered message's buffer for a later copy; see
// Recycler.
func (n *Net) Recycle(msg []byte) { n.bufs.put(msg) }

// SendAt queues a copy of msg from → to at virtual time now.
func (n *Net) SendAt(now time.Duration, from, to NodeID, msg []byte) {
	n.sendAt(now, from, to, msg, false)
}

// NextAt returns the delivery time of the earliest message in flight.
func (n *Net) NextAt() (time.Duration, bool) {
	if len(n.pending) == 0 {
		return 0, false
	}
	return n.pending[0].at, true
}

// popDue removes and returns the earliest message due at now, skipping (and
// counting) those that are dropped at delivery.
func (n *Net) popDue(now time.Duration) (*inflight, func(NodeID, []byte)) {
	for len(n.pending) > 0 && n.pending[0].at <= now {
		m := heap.Pop(&n.pending).(*inflight)
		h := n.handlers[m.to]
		if h == nil || n.blocked(m.from, m.to) {
			n.stats.Dropped++
			n.bufs.put(m.msg)
			continue
		}
		n.stats.Delivered++
		return m, h
	}
	return nil, nil
}

// DeliverDue delivers, in order, every message due at or before now,
// including those that receivers send while it runs and that fall due by
// now. It returns how many it delivered.
func (n *Net) DeliverDue(now time.Duration) int {
	k := 0
	for {
		m, h := n.popDue(now)
		if m == nil {
			return k
		}
		h(m.from, m.msg)
		k++
	}
}

// Live runs a Net in wall-clock time: a message falls due when its virtual
// delivery time, measured from NewLive, has passed, and one goroutine hands it
// to its receiver. A message on an instant link (zero latency, jitter and
// faults, unlimited bandwidth) is delivered inline, on the sender's goroutine,
// which keeps a zero-latency link's cost to a copy and a function call.
//
// Live is safe for concurrent use. The fault controls (Cut, Isolate, Crash,
// SetLink, ...) take effect for messages sent or delivered after they return.
// Randomness is drawn in the order Send calls acquire the lock, so a
// concurrent run is reproducible only as far as that order is.
type Live struct {
	mu    sync.Mutex
	net   *Net
	start time.Time
	kick  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	batch []*inflight
	hs    []func(NodeID, []byte)
}

// NewLive starts a wall-clock network. Close stops it.
func NewLive(seed uint64, def LinkConfig) *Live {
	l := &Live{
		net:   NewNet(seed, def),
		start: time.Now(),
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go l.loop()
	return l
}

// Close stops delivery. Messages still in flight are discarded.
func (l *Live) Close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// Do runs f with the underlying Net locked, for fault injection:
// live.Do(func(n *Net) { n.Cut(0, 1) }).
func (l *Live) Do(f func(n *Net)) {
	l.mu.Lock()
	f(l.net)
	l.mu.Unlock()
	l.poke()
}

// Stats returns the network's counters.
func (l *Live) Stats() (s NetStats) {
	l.Do(func(n *Net) { s = n.Stats() })
	return s
}

// Listen sets node id's receiver; see Transport.
func (l *Live) Listen(id NodeID, deliver func(from NodeID, msg []byte)) {
	l.Do(func(n *Net) { n.Listen(id, deliver) })
}

// Recycle takes back a delivered message's buffer; see Recycler. It does
// not wait for the network's lock.
func (l *Live) Recycle(msg []byte) { l.net.Recycle(msg) }

// Send queues a copy of msg; see Transport.
func (l *Live) Send(from, to NodeID, msg []byte) {
	l.mu.Lock()
	now := time.Since(l.start)
	was, _ := l.net.NextAt()
	hadAny := len(l.net.pending) > 0
	c, inline := l.net.sendAt(now, from, to, msg, true)
	var h func(NodeID, []byte)
	if inline {
		h = l.net.handlers[to]
	}
	next, _ := l.net.NextAt()
	wake := !inline && len(l.net.pending) > 0 && (!hadAny || next < was)
	l.mu.Unlock()
	if inline {
		if h != nil {
			h(from, c)
		}
		return
	}
	if wake {
		l.poke()
	}
}

func (l *Live) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *Live) loop() {
	defer close(l.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		l.mu.Lock()
		now := time.Since(l.start)
		l.batch, l.hs = l.batch[:0], l.hs[:0]
		for {
			m, h := l.net.popDue(now)
			if m == nil {
				break
			}
			l.batch = append(l.batch, m)
			l.hs = append(l.hs, h)
		}
		next, ok := l.net.NextAt()
		l.mu.Unlock()
		for i, m := range l.batch {
			l.hs[i](m.from, m.msg)
			l.batch[i], l.hs[i] = nil, nil
		}
		if len(l.batch) > 0 {
			continue // deliveries may have sent messages that are due already
		}
		wait := time.Hour
		if ok {
			wait = max(next-now, 0)
		}
		timer.Reset(wait)
		select {
		case <-l.stop:
			return
		case <-l.kick:
		case <-timer.C:
		}
	}
}
