package natsnet

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/knotencore/knoten/cluster"
)

// fakeClock is a clock that moves only when the test says. Its tickers
// hand each tick over (a rendezvous, not a buffered channel): when Advance
// returns, every goroutine that was due a tick has taken it, so whatever
// the test does next happens after that goroutine began the tick's work.
// A detector's loop finishes a tick before it takes a message, so a
// heartbeat the test publishes after Advance is handled after the check.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

type fakeTicker struct {
	c       chan time.Time
	stopped chan struct{}
	every   time.Duration
	next    time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), stopped: make(chan struct{}), every: d, next: c.now.Add(d)}
	c.tickers = append(c.tickers, t)
	var once sync.Once
	return t.c, func() { once.Do(func() { close(t.stopped) }) }
}

// Advance moves the clock on by d and hands one tick to every ticker that
// came due (one, however many periods passed, as time.Ticker drops the
// ticks a slow reader misses).
func (c *fakeClock) Advance(t *testing.T, d time.Duration) {
	t.Helper()
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var due []*fakeTicker
	for _, tk := range c.tickers {
		if !tk.next.After(now) {
			due = append(due, tk)
			for !tk.next.After(now) {
				tk.next = tk.next.Add(tk.every)
			}
		}
	}
	c.mu.Unlock()
	for _, tk := range due {
		select {
		case tk.c <- now:
		case <-tk.stopped:
		case <-time.After(hangGuard):
			t.Fatal("a ticker's goroutine did not take its tick")
		}
	}
}

// reports collects what a detector reports.
type reports chan change

func (r reports) report(node cluster.NodeID, up bool) { r <- change{node, up} }

// expect waits for the next report and checks it.
func (r reports) expect(t *testing.T, node cluster.NodeID, up bool) {
	t.Helper()
	select {
	case c := <-r:
		if c != (change{node, up}) {
			t.Fatalf("report %v, want %v", c, change{node, up})
		}
	case <-timeout():
		t.Fatalf("no report of %v within the hang guard", change{node, up})
	}
}

const (
	testPeriod  = 100 * time.Millisecond
	testTimeout = time.Second
)

// startTestDetector starts a detector for node self on its own
// connection, driven by clk, and closes it when t ends.
func startTestDetector(t *testing.T, url string, self cluster.NodeID, name string, inc uint64, clk clock) (*Detector, reports) {
	t.Helper()
	r := make(reports, 64)
	nc := connect(t, url, Credentials{})
	d, err := startDetector(nc, DetectorConfig{
		Cluster: testCluster, Self: self, Name: name, Incarnation: inc,
		Period: testPeriod, Timeout: testTimeout,
	}, r.report, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, r
}

// beat publishes a heartbeat as node id on nc, as anyone on a server
// without members may.
func beat(t *testing.T, nc *nats.Conn, id cluster.NodeID, payload []byte) {
	t.Helper()
	if err := nc.Publish(AliveSubject(testCluster, id), payload); err != nil {
		t.Fatal(err)
	}
}

// members checks what d.Members says.
func members(t *testing.T, d *Detector, want ...Peer) {
	t.Helper()
	got := d.Members()
	if len(got) != len(want) {
		t.Fatalf("Members: %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Members: %+v, want %+v", got, want)
		}
	}
}

// TestDetectorUpDownResume: a peer is up at its first heartbeat, down
// after Timeout of silence and not before, and up again when it beats
// again (a process paused and resumed: its connection stayed open all
// along). A node sends one heartbeat per period, however many peers
// there are.
func TestDetectorUpDownResume(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	ca, cb, cc := newFakeClock(), newFakeClock(), newFakeClock()
	a, ra := startTestDetector(t, url, 1, "a", 10, ca)
	_, rb := startTestDetector(t, url, 2, "b", 20, cb)
	ra.expect(t, 2, true) // b's first heartbeat, sent as it started
	_, rc := startTestDetector(t, url, 3, "c", 30, cc)
	ra.expect(t, 3, true)
	rb.expect(t, 3, true)
	t0 := ca.Now()
	members(t, a, Peer{2, "b", 20, t0, true}, Peer{3, "c", 30, t0, true})

	ca.Advance(t, testPeriod) // a's second heartbeat
	rb.expect(t, 1, true)
	rc.expect(t, 1, true)
	// Just before Timeout, nobody is down yet: the next report is the
	// sentinel's, published after the check.
	ca.Advance(t, testTimeout-testPeriod-time.Millisecond)
	sentinel := connect(t, url, Credentials{})
	beat(t, sentinel, 9, appendHeartbeat(nil, 90, "sentinel"))
	ra.expect(t, 9, true)
	ca.Advance(t, time.Millisecond)
	ra.expect(t, 2, false)
	ra.expect(t, 3, false)

	cb.Advance(t, testPeriod) // b resumes
	ra.expect(t, 2, true)
	members(t, a,
		Peer{2, "b", 20, t0.Add(testTimeout), true},
		Peer{3, "c", 30, t0, false},
		Peer{9, "sentinel", 90, t0.Add(testTimeout - time.Millisecond), true})
	// Close waits for the heartbeat goroutine, which took its last tick
	// before Advance returned: the count is final.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := a.Stats().Sent; got != 4 {
		t.Errorf("a sent %d heartbeats at its start and three ticks, with three peers; want 4", got)
	}
}

// TestDetectorRestart: a node that restarts with the same id and a higher
// incarnation is reported down and up at its first heartbeat, even within
// Timeout; its previous life's heartbeats are then ignored and counted, and
// so are those of another process on this node's own id.
func TestDetectorRestart(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	a, ra := startTestDetector(t, url, 1, "a", 10, newFakeClock())
	startTestDetector(t, url, 2, "b", 20, newFakeClock())
	ra.expect(t, 2, true)
	startTestDetector(t, url, 2, "b again", 21, newFakeClock())
	ra.expect(t, 2, false)
	ra.expect(t, 2, true)
	t0 := a.clk.Now()
	members(t, a, Peer{2, "b again", 21, t0, true})

	nc := connect(t, url, Credentials{})
	beat(t, nc, 2, appendHeartbeat(nil, 20, "b"))  // the previous life
	beat(t, nc, 1, appendHeartbeat(nil, 11, "a?")) // a second node 1
	beat(t, nc, 9, appendHeartbeat(nil, 90, "sentinel"))
	ra.expect(t, 9, true)
	members(t, a, Peer{2, "b again", 21, t0, true}, Peer{9, "sentinel", 90, t0, true})
	if s := a.Stats(); s.Stale != 1 || s.SameID != 1 {
		t.Errorf("stale %d, same id %d; want 1, 1", s.Stale, s.SameID)
	}
}

// TestDetectorForgedAndMalformed: the sender is the subject's, whatever the
// payload says; payloads that are not heartbeats and subjects outside the
// scheme are counted and change nothing.
func TestDetectorForgedAndMalformed(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	ca := newFakeClock()
	a, ra := startTestDetector(t, url, 1, "a", 10, ca)
	startTestDetector(t, url, 2, "b", 20, newFakeClock())
	ra.expect(t, 2, true)
	t0 := ca.Now()
	ca.Advance(t, testTimeout)
	ra.expect(t, 2, false)

	// Node 3 claims to be b, at a later incarnation: it is node 3, up.
	nc := connect(t, url, Credentials{})
	beat(t, nc, 3, appendHeartbeat(nil, 21, "b"))
	ra.expect(t, 3, true)

	good := appendHeartbeat(nil, 40, "d")
	bad := [][]byte{
		nil,
		good[:heartbeatFixed-1],
		append([]byte{2}, good[1:]...),          // another version
		append(append([]byte(nil), good...), 0), // a byte too many
		good[:heartbeatFixed],                   // the name is missing
		appendHeartbeat(nil, 40, "\x1b[2Jd"),    // a terminal escape
		appendHeartbeat(nil, 40, "\u202ed"),     // a bidirectional override
		appendHeartbeat(nil, 40, "\xffd"),       // not UTF-8
		appendHeartbeat(nil, 40, strings.Repeat("d", MaxNameLen+1)),
	}
	for _, p := range bad {
		beat(t, nc, 4, p)
	}
	// A valid heartbeat with what no detector sends, a reply subject or
	// headers (see foreign).
	if err := nc.PublishRequest(AliveSubject(testCluster, 4), "_INBOX.x", good); err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishMsg(&nats.Msg{Subject: AliveSubject(testCluster, 4), Header: nats.Header{"X": {"y"}}, Data: good}); err != nil {
		t.Fatal(err)
	}
	badSubjects := []string{"04", "x", "4294967296", "-1", "+4"}
	for _, s := range badSubjects {
		if err := nc.Publish(alivePrefix(testCluster)+s, good); err != nil {
			t.Fatal(err)
		}
	}
	beat(t, nc, 5, appendHeartbeat(nil, 50, "sentinel"))
	ra.expect(t, 5, true)
	now := ca.Now()
	members(t, a, Peer{2, "b", 20, t0, false}, Peer{3, "b", 21, now, true}, Peer{5, "sentinel", 50, now, true})
	s := a.Stats()
	if s.Malformed != uint64(len(bad)+2) || s.BadSubject != uint64(len(badSubjects)) || s.Received != 3 {
		t.Errorf("malformed %d, bad subjects %d, received %d; want %d, %d, 3", s.Malformed, s.BadSubject, s.Received, len(bad)+2, len(badSubjects))
	}
}

// TestDetectorForget: a peer down for Forget leaves Members; if it comes
// back it is new, and up.
func TestDetectorForget(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	ca := newFakeClock()
	a, ra := startTestDetector(t, url, 1, "a", 10, ca)
	b, _ := startTestDetector(t, url, 2, "b", 20, newFakeClock())
	ra.expect(t, 2, true)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	ca.Advance(t, testTimeout)
	ra.expect(t, 2, false)
	ca.Advance(t, DefaultForget-time.Millisecond)
	nc := connect(t, url, Credentials{})
	beat(t, nc, 9, appendHeartbeat(nil, 90, "sentinel"))
	ra.expect(t, 9, true)
	if got := a.Members(); len(got) != 2 {
		t.Fatalf("Members just before Forget: %+v, want nodes 2 and 9", got)
	}
	ca.Advance(t, time.Millisecond)
	beat(t, nc, 8, appendHeartbeat(nil, 80, "sentinel"))
	ra.expect(t, 8, true)
	now := ca.Now()
	members(t, a, Peer{8, "sentinel", 80, now, true}, Peer{9, "sentinel", 90, now.Add(-time.Millisecond), true})
}

// TestDetectorRealTime runs the detector on the real clock: a node whose
// detector stops while its connection stays open (what a paused process
// looks like to the server) is reported down, and its next life up.
func TestDetectorRealTime(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	start := func(self cluster.NodeID) (*Detector, *nats.Conn, reports) {
		r := make(reports, 64)
		nc := connect(t, url, Credentials{})
		d, err := StartDetector(nc, DetectorConfig{
			Cluster: testCluster, Self: self, Name: "real",
			Period: 10 * time.Millisecond, Timeout: 200 * time.Millisecond,
		}, r.report)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d, nc, r
	}
	_, _, ra := start(1)
	b, ncb, rb := start(2)
	ra.expect(t, 2, true)
	rb.expect(t, 1, true)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	ra.expect(t, 2, false)
	if !ncb.IsConnected() {
		t.Fatal("node 2's connection closed with its detector")
	}
	start(2)
	ra.expect(t, 2, true)
}

func TestDetectorConfig(t *testing.T) {
	url := startServer(t, EmbeddedOptions{})
	nc := connect(t, url, Credentials{})
	report := func(cluster.NodeID, bool) {}
	for _, cfg := range []DetectorConfig{
		{Cluster: ""},
		{Cluster: "a.b"},
		{Cluster: "c", Name: "tab\there"},
		{Cluster: "c", Name: strings.Repeat("x", MaxNameLen+1)},
		{Cluster: "c", Period: time.Second},                                  // Timeout 1s does not exceed it
		{Cluster: "c", Period: time.Second, Timeout: 500 * time.Millisecond}, // nor does this one
	} {
		if d, err := StartDetector(nc, cfg, report); err == nil {
			d.Close()
			t.Errorf("%+v accepted", cfg)
		}
	}
	if d, err := StartDetector(nc, DetectorConfig{Cluster: "c"}, nil); err == nil {
		d.Close()
		t.Error("a nil report accepted")
	}
	for _, ok := range []string{"", "node-1", "knoten@host.example", "Knoten Über Ñ 日本", strings.Repeat("é", MaxNameLen/2)} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"a\nb", "\x00", "\x7f", "a\u202eb", "\u200b", "\xc3", "a\u00a0b", strings.Repeat("é", MaxNameLen/2+1)} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}

// FuzzParseHeartbeat: parsing never panics, and what it accepts is exactly
// what appendHeartbeat writes.
func FuzzParseHeartbeat(f *testing.F) {
	f.Add(appendHeartbeat(nil, 1, "node"))
	f.Add(appendHeartbeat(nil, 0, ""))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'a', '\n', 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		inc, name, ok := parseHeartbeat(b)
		if !ok {
			return
		}
		if CheckName(name) != nil {
			t.Fatalf("accepted the name %q", name)
		}
		if again := appendHeartbeat(nil, inc, name); string(again) != string(b) {
			t.Fatalf("accepted %x, which encodes back as %x", b, again)
		}
	})
}
