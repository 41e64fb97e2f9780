package natsnet

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/knotencore/knoten/cluster"
)

// Defaults for DetectorConfig's zero fields.
const (
	DefaultPeriod  = 100 * time.Millisecond
	DefaultTimeout = time.Second
	DefaultForget  = time.Minute
)

// MaxNameLen bounds a node's name, in bytes.
const MaxNameLen = 64

// DetectorConfig configures a Detector.
type DetectorConfig struct {
	// Cluster names the cluster, as Config.Cluster does.
	Cluster string
	// Self is this node's id: it beats on knoten.<Cluster>.alive.<Self>.
	Self cluster.NodeID
	// Name is a short label for this node, shown with its id (a host
	// name, say): at most MaxNameLen bytes of printable UTF-8 (CheckName).
	Name string
	// Incarnation tells this life of the node from earlier and later ones
	// with the same id: a peer seeing a higher incarnation knows the node
	// restarted. Zero means the wall clock at start, in nanoseconds since
	// 1970, which grows from one start to the next as long as the clock
	// does; a node that keeps a counter on disk can give that instead.
	Incarnation uint64
	// Period is the time between two heartbeats of this node, and between
	// two checks for silent peers. Default DefaultPeriod.
	Period time.Duration
	// Timeout is how long a peer may stay silent before it is reported
	// down. It must exceed Period, with room for a few lost or late
	// heartbeats. Default DefaultTimeout.
	Timeout time.Duration
	// Forget is how long a peer stays in Members after it went down; then
	// its record goes (invariant 6). Default DefaultForget.
	Forget time.Duration
	// FlushTimeout bounds how long StartDetector waits for the server to
	// confirm the subscription. Default DefaultFlushTimeout.
	FlushTimeout time.Duration
	// OnTwin, if set, learns of every heartbeat on this node's own
	// subject from another incarnation: a second process running with
	// this node's id (with credentials, its holder). It gets the other's
	// incarnation and is called from the detector's goroutine, like
	// report. A node must not run twice: the ledger names owners by id.
	OnTwin func(incarnation uint64)
}

func (c DetectorConfig) withDefaults() (DetectorConfig, error) {
	if err := checkToken(c.Cluster); err != nil {
		return c, fmt.Errorf("natsnet: cluster name: %w", err)
	}
	if err := CheckName(c.Name); err != nil {
		return c, err
	}
	if c.Incarnation == 0 {
		c.Incarnation = uint64(time.Now().UnixNano())
	}
	if c.Period <= 0 {
		c.Period = DefaultPeriod
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout <= c.Period {
		return c, fmt.Errorf("natsnet: detector timeout %v does not exceed its period %v", c.Timeout, c.Period)
	}
	if c.Forget <= 0 {
		c.Forget = DefaultForget
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = DefaultFlushTimeout
	}
	return c, nil
}

// CheckName reports whether name can be a node's name: at most MaxNameLen
// bytes of valid UTF-8, every rune printable (unicode.IsPrint: no control
// characters, no bidirectional overrides, no space but ASCII's), so that
// it cannot garble a terminal or a log line it is shown in.
func CheckName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("natsnet: node name of %d bytes, more than %d", len(name), MaxNameLen)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("natsnet: node name %q is not UTF-8", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("natsnet: node name %q holds the unprintable %U", name, r)
		}
	}
	return nil
}

// Peer is what a Detector knows of another node.
type Peer struct {
	ID          cluster.NodeID
	Name        string    // as its last heartbeat said
	Incarnation uint64    // as its last heartbeat said
	LastHeard   time.Time // by this node's clock
	Up          bool
}

// DetectorStats counts what a Detector did.
type DetectorStats struct {
	Sent       uint64 // heartbeats published
	SendErrors uint64 // heartbeats the connection refused (closed, ...)
	Received   uint64 // valid heartbeats from peers
	BadSubject uint64 // messages on a subject outside the scheme
	Malformed  uint64 // messages that are not heartbeats (payload, reply subject, headers)
	Stale      uint64 // heartbeats of an older incarnation than the peer's current one
	SameID     uint64 // heartbeats on this node's own subject from another incarnation
}

// Detector is a node's membership and failure detector over NATS core:
// it beats on its own subject and reports its peers up and down. See the
// package documentation (Failure detection).
type Detector struct {
	cfg    DetectorConfig
	clk    clock
	nc     *nats.Conn
	report func(cluster.NodeID, bool)
	prefix string // "knoten.<C>.alive."
	beat   []byte // this node's heartbeat; it never changes

	sub  *nats.Subscription
	in   chan *nats.Msg
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu    sync.Mutex // guards peers; the loop writes, Members reads
	peers map[cluster.NodeID]*Peer

	sent, sendErrors, received, badSubject, malformed, stale, sameID atomic.Uint64
}

// StartDetector subscribes nc to the heartbeats of cfg.Cluster, publishes
// this node's first heartbeat and returns once the server has confirmed
// both (or refused one: the error says so). report learns of each peer going up (its first
// heartbeat, or the first after it went down or restarted) and down
// (Timeout without a heartbeat). report is called from one goroutine, in
// the order of the changes, never concurrently with itself and never for
// cfg.Self; it should return soon, as heartbeats wait while it runs (the
// node's own heartbeats do not: they have their own goroutine). The caller
// keeps nc and closes it after Close.
func StartDetector(nc *nats.Conn, cfg DetectorConfig, report func(node cluster.NodeID, up bool)) (*Detector, error) {
	return startDetector(nc, cfg, report, realClock{})
}

func startDetector(nc *nats.Conn, cfg DetectorConfig, report func(cluster.NodeID, bool), clk clock) (*Detector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if report == nil {
		return nil, errors.New("natsnet: detector without a report function")
	}
	d := &Detector{
		cfg:    cfg,
		clk:    clk,
		nc:     nc,
		report: report,
		prefix: alivePrefix(cfg.Cluster),
		beat:   appendHeartbeat(nil, cfg.Incarnation, cfg.Name),
		in:     make(chan *nats.Msg),
		done:   make(chan struct{}),
		peers:  make(map[cluster.NodeID]*Peer),
	}
	subject := d.prefix + "*"
	// A callback hands each message to the loop and waits for it to take
	// it: the backlog queues in nats.go's pending buffers (with their
	// limits) rather than in a channel of a size picked here, and the loop
	// alone touches the peers and calls report, in order.
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		select {
		case d.in <- m:
		case <-d.done:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("natsnet: detector: %w", err)
	}
	// The first heartbeat goes before the flush: as in Join, a refusal of
	// the subscription, or of the heartbeat (a node started with another
	// member's credentials), arrives before the flush's answer.
	d.send()
	if err := nc.FlushTimeout(cfg.FlushTimeout); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("natsnet: detector: server did not confirm the subscription: %w", err)
	}
	self := AliveSubject(cfg.Cluster, cfg.Self)
	if err := nc.LastError(); err != nil && errors.Is(err, nats.ErrPermissionViolation) &&
		(strings.Contains(err.Error(), `"`+subject+`"`) || strings.Contains(err.Error(), `"`+self+`"`)) {
		sub.Unsubscribe()
		return nil, fmt.Errorf("natsnet: detector: %w", err)
	}
	d.sub = sub
	// The tickers start before the goroutines do, so that a test's clock
	// knows of them as soon as StartDetector returns.
	beatC, stopBeat := clk.NewTicker(cfg.Period)
	checkC, stopCheck := clk.NewTicker(cfg.Period)
	d.wg.Add(2)
	go d.beatLoop(beatC, stopBeat)
	go d.loop(checkC, stopCheck)
	return d, nil
}

// Close stops the heartbeats and the reports: once it returns, report is
// not called again. It must not be called from report. The connection
// stays open: it is the caller's.
func (d *Detector) Close() error {
	var err error
	d.once.Do(func() {
		// A closed connection has dropped the subscription already.
		if err = d.sub.Unsubscribe(); errors.Is(err, nats.ErrConnectionClosed) {
			err = nil
		}
		close(d.done)
		d.wg.Wait()
	})
	return err
}

// Members returns the peers this node has heard of and not yet forgotten,
// sorted by id. Self is not among them.
func (d *Detector) Members() []Peer {
	d.mu.Lock()
	ps := make([]Peer, 0, len(d.peers))
	for _, p := range d.peers {
		ps = append(ps, *p)
	}
	d.mu.Unlock()
	slices.SortFunc(ps, func(a, b Peer) int { return cmp.Compare(a.ID, b.ID) })
	return ps
}

// Stats returns the detector's counters.
func (d *Detector) Stats() DetectorStats {
	return DetectorStats{
		Sent:       d.sent.Load(),
		SendErrors: d.sendErrors.Load(),
		Received:   d.received.Load(),
		BadSubject: d.badSubject.Load(),
		Malformed:  d.malformed.Load(),
		Stale:      d.stale.Load(),
		SameID:     d.sameID.Load(),
	}
}

// beatLoop publishes a heartbeat every Period. It runs apart from loop so
// that a slow report cannot make this node look dead to the others.
func (d *Detector) beatLoop(tick <-chan time.Time, stop func()) {
	defer d.wg.Done()
	defer stop()
	for {
		select {
		case <-tick:
			d.send()
		case <-d.done:
			return
		}
	}
}

func (d *Detector) send() {
	if err := d.nc.Publish(AliveSubject(d.cfg.Cluster, d.cfg.Self), d.beat); err != nil {
		d.sendErrors.Add(1)
		return
	}
	d.sent.Add(1)
}

// change is one report to make.
type change struct {
	node cluster.NodeID
	up   bool
}

// loop is the only goroutine that changes the peers and calls report.
func (d *Detector) loop(tick <-chan time.Time, stop func()) {
	defer d.wg.Done()
	defer stop()
	var changes []change
	for {
		select {
		case m := <-d.in:
			changes = d.heard(m, changes[:0])
		case <-tick:
			changes = d.check(changes[:0])
		case <-d.done:
			return
		}
		for _, c := range changes {
			// Close may have begun while a change was being worked out:
			// it promises no report after it returns, and it waits for
			// this goroutine, so a report now is still before that.
			d.report(c.node, c.up)
		}
	}
}

// heard takes in one message on the heartbeat subjects and appends the
// changes it makes.
func (d *Detector) heard(m *nats.Msg, changes []change) []change {
	rest, ok := strings.CutPrefix(m.Subject, d.prefix)
	from, ok2 := parseID(rest)
	if !ok || !ok2 {
		d.badSubject.Add(1)
		return changes
	}
	inc, name, ok := parseHeartbeat(m.Data)
	if !ok || foreign(m) {
		d.malformed.Add(1)
		return changes
	}
	if from == d.cfg.Self {
		// Our own heartbeat, echoed; from another incarnation, it is a
		// second process started with this node's id.
		if inc != d.cfg.Incarnation {
			d.sameID.Add(1)
			if d.cfg.OnTwin != nil {
				d.cfg.OnTwin(inc)
			}
		}
		return changes
	}
	d.received.Add(1)
	now := d.clk.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.peers[from]
	switch {
	case p == nil:
		p = &Peer{ID: from}
		d.peers[from] = p
		changes = append(changes, change{from, true})
	case !p.Up:
		// Whatever its incarnation: a node that was down is back.
		changes = append(changes, change{from, true})
	case inc > p.Incarnation:
		// It restarted faster than Timeout: its previous life is gone, as
		// if it had been seen down.
		changes = append(changes, change{from, false}, change{from, true})
	case inc < p.Incarnation:
		// A previous life's late heartbeat, or a second process with the
		// same id: the newest incarnation stands.
		d.stale.Add(1)
		return changes
	}
	p.Name, p.Incarnation, p.LastHeard, p.Up = name, inc, now, true
	return changes
}

// check reports the peers silent for Timeout down and forgets those down
// for Forget.
func (d *Detector) check(changes []change) []change {
	now := d.clk.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, p := range d.peers {
		silent := now.Sub(p.LastHeard)
		switch {
		case p.Up && silent >= d.cfg.Timeout:
			p.Up = false
			changes = append(changes, change{id, false})
		case !p.Up && silent >= d.cfg.Timeout+d.cfg.Forget:
			delete(d.peers, id)
		}
	}
	// The map's order is random; reports come in a stable one.
	slices.SortFunc(changes, func(a, b change) int { return cmp.Compare(a.node, b.node) })
	return changes
}

// alivePrefix is what the heartbeat subjects of a cluster start with.
func alivePrefix(clusterName string) string { return "knoten." + clusterName + ".alive." }

// A heartbeat is
//
//	version u8  1
//	inc     u64 the sender's incarnation, little-endian
//	n       u8  the length of its name, at most MaxNameLen
//	name    n bytes, valid for CheckName
//
// and nothing else. The sender's id is not in it: it is the subject's.
const (
	heartbeatVersion = 1
	heartbeatFixed   = 1 + 8 + 1
)

func appendHeartbeat(b []byte, inc uint64, name string) []byte {
	b = append(b, heartbeatVersion)
	b = binary.LittleEndian.AppendUint64(b, inc)
	b = append(b, byte(len(name)))
	return append(b, name...)
}

// parseHeartbeat checks and decodes a heartbeat.
func parseHeartbeat(b []byte) (inc uint64, name string, ok bool) {
	if len(b) < heartbeatFixed || b[0] != heartbeatVersion {
		return 0, "", false
	}
	n := int(b[heartbeatFixed-1])
	if n > MaxNameLen || len(b) != heartbeatFixed+n {
		return 0, "", false
	}
	name = string(b[heartbeatFixed:])
	if CheckName(name) != nil {
		return 0, "", false
	}
	return binary.LittleEndian.Uint64(b[1:]), name, true
}

// clock is the detector's time: the real one, or a test's, which the test
// moves on.
type clock interface {
	Now() time.Time
	// NewTicker returns a channel that receives the time every d (dropping
	// ticks a slow reader misses, as time.Ticker does) and a function that
	// stops it.
	NewTicker(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}
