package cluster

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/engine"
)

// Config configures a Cluster or a Sim. Zero fields take the defaults.
type Config struct {
	Nodes   int   // number of nodes; default 3
	Workers int   // workers (cores) per node; default 1
	Quantum int64 // instructions per quantum; default DefaultQuantum() (a Cluster) or 20000 (a Sim)

	// StepCost is, in a Sim only, the virtual time one instruction takes;
	// default 1 ns.
	StepCost time.Duration

	Link LinkConfig // every link's configuration
	Seed uint64     // seeds the network's randomness

	NoSteal    bool // no stealing between nodes
	StealBatch int  // most isolates one STEAL asks for; default 16

	Heartbeat    time.Duration // load gossip period; default 1 ms
	RTO          time.Duration // first protocol resend interval (later ones back off); default 2 ms plus four link delays
	OfferTimeout time.Duration // from the end of the OFFER's transmission to ABORT; default 10 RTO
	DetectDelay  time.Duration // how long the failure oracle takes to report a crash; default 5 ms

	// MemoryBudget bounds, in bytes, the memory a node reserves for the
	// isolates it holds (see footprint) and, an eighth of it, for offers
	// waiting for their program. A node past it refuses new work: an OFFER
	// with NACK(full) (the source keeps the isolate), a Spawn with
	// ErrNodeFull, and it asks no one for work. Default 1 GiB per node (a
	// fixed figure, so that a Sim behaves the same on every machine).
	MemoryBudget int64

	// Transport, if set, carries the messages between the nodes of a
	// Cluster instead of the Live simulated network that New builds
	// otherwise; a Transport that is also a Recycler gets delivered buffers
	// back. The caller owns it: it must be ready to Send for every node
	// before New, and Close leaves it open. Link and Seed then mean
	// nothing, Net returns nil, and the timing defaults are those for a
	// real network (see DefaultRealRTO). A Sim ignores it.
	Transport Transport

	// Local lists the nodes this process runs, out of 0..Nodes-1; nil runs
	// them all. The others run in other processes, reached through
	// Transport, which a Local that leaves any node out requires. Every
	// node outside Local starts down, and a node in Local hands nothing to
	// it until the failure detector reports it up (SetPeer); a process
	// node (cluster/member) wires its detector there.
	Local []NodeID

	// Ledger, if set, is the cluster-wide ownership ledger: a target runs
	// an offered isolate only once the ledger moved it there, a source
	// drops its parked copy only once the ledger shows it moved, and an
	// owner publishes a completion only once the ledger records it (see
	// the package documentation, "The ledger"). Isolate ids are then
	// node-qualified and reserved through it (ledger.MakeID), so that ids
	// are unique across processes. Nil keeps ownership in the protocol's
	// messages alone, which is sound only while every node is in this
	// process and the failure oracle is exact. A Sim uses it too, with
	// calls that must not block (ledger.Memory).
	Ledger ledger.Ledger

	// OnComplete, if set, is called with each completion a node of this
	// process publishes (with a Ledger, after the ledger recorded it),
	// from the goroutine that drives the node; like OnEvent it must be
	// quick and must not call the Cluster's methods. It is how a process
	// node reports results to the rest of the cluster.
	OnComplete func(Completion)

	Limits  engine.Limits // for every isolate
	OnEvent func(Event)   // called for every event, from whichever goroutine drives a node; must be quick and must not call the Cluster's methods
}

func (c Config) withDefaults() Config {
	if c.Nodes <= 0 {
		c.Nodes = 3
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.StealBatch <= 0 {
		c.StealBatch = 16
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Millisecond
	}
	if c.RTO <= 0 {
		c.RTO = 2*time.Millisecond + 4*(c.Link.Latency+c.Link.Jitter)
		if c.Link.Bandwidth > 0 { // room for a 64 KiB offer to cross
			c.RTO += time.Duration(2 * 65536 / c.Link.Bandwidth * float64(time.Second))
		}
	}
	if c.OfferTimeout <= 0 {
		c.OfferTimeout = 10 * c.RTO
	}
	if c.DetectDelay <= 0 {
		c.DetectDelay = 5 * time.Millisecond
	}
	if c.MemoryBudget <= 0 {
		c.MemoryBudget = DefaultMemoryBudget
	}
	return c
}

// DefaultRealRTO is Config.RTO's default when Config.Transport is set: a
// real network's delay is not known ahead, as a simulated link's is, and
// 20 ms covers a 1 MiB state crossing a loaded loopback or LAN (a few
// milliseconds) with room to spare. A resend costs only bandwidth, and a
// late one only time, so erring long is safe. OfferTimeout defaults to
// ten times it, 200 ms.
const DefaultRealRTO = 20 * time.Millisecond

// DefaultMemoryBudget is Config.MemoryBudget's default, per node.
const DefaultMemoryBudget = 1 << 30

// Cluster runs nodes as goroutines in this process, connected by a Live
// simulated network or by Config.Transport: each node has a ticker
// goroutine and Config.Workers worker goroutines. Its methods are safe for
// concurrent use.
type Cluster struct {
	cfg     Config
	tr      Transport // what the nodes send through: net, or Config.Transport
	net     *Live     // the simulated network, if New built one; else nil
	start   time.Time
	nodes   []*liveNode
	col     *collector
	metrics *Metrics
	nextID  atomic.Uint64
	local   []bool // local[id]: node id runs in this process
	mu      sync.Mutex
	crashed map[NodeID]bool
	closed  bool
}

// New starts a cluster. It panics on a Config that cannot work (see
// Config.Check), as a misuse of the API.
func New(cfg Config) *Cluster {
	if err := cfg.Check(); err != nil {
		panic(err)
	}
	if cfg.Transport != nil {
		cfg.Link = LinkConfig{} // no simulated link: the core must not model one
		if cfg.RTO <= 0 {
			cfg.RTO = DefaultRealRTO
		}
	}
	cfg = cfg.withDefaults()
	if cfg.Quantum <= 0 {
		cfg.Quantum = DefaultQuantum()
	}
	c := &Cluster{cfg: cfg, start: time.Now(), metrics: NewMetrics(), crashed: make(map[NodeID]bool)}
	if cfg.Local != nil {
		// Nodes in other processes read this clock too: a halt's clock
		// reading travels in the OFFER, and the target subtracts it from
		// its own for the downtime. So the clock is the wall clock (time
		// since the Unix epoch), good across machines to their clock
		// sync, on one machine exact.
		c.start = time.Unix(0, 0)
	}
	if cfg.Transport != nil {
		c.tr = cfg.Transport
	} else {
		c.net = NewLive(cfg.Seed, cfg.Link)
		c.tr = c.net
	}
	c.col = newCollector(c.metrics, c.clock, cfg.OnEvent)
	c.col.onComplete = cfg.OnComplete
	c.local = make([]bool, cfg.Nodes)
	if cfg.Local == nil {
		for i := range c.local {
			c.local[i] = true
		}
	}
	for _, id := range cfg.Local {
		c.local[id] = true
	}
	c.nodes = make([]*liveNode, cfg.Nodes)
	for _, n := range c.localIDs() {
		c.nodes[n] = newLiveNode(c, n)
	}
	c.metrics.intraSteals = func() (tried, ok int64) {
		for _, n := range c.localNodes() {
			t, o := n.intraSteals()
			tried += t
			ok += o
		}
		return
	}
	for _, n := range c.localNodes() {
		n.start()
	}
	return c
}

// Check reports what makes the configuration unusable: a Local naming a
// node twice or one outside 0..Nodes-1, or leaving nodes out without a
// Transport to reach them.
func (c Config) Check() error {
	nodes := c.Nodes
	if nodes <= 0 {
		nodes = 3
	}
	seen := make(map[NodeID]bool, len(c.Local))
	for _, id := range c.Local {
		if int(id) >= nodes {
			return fmt.Errorf("cluster: Config.Local names node %v of %d", id, nodes)
		}
		if seen[id] {
			return fmt.Errorf("cluster: Config.Local names node %v twice", id)
		}
		seen[id] = true
	}
	if c.Local != nil && len(c.Local) == 0 {
		return errors.New("cluster: Config.Local is empty: this process would run no node")
	}
	if c.Local != nil && len(c.Local) < nodes && c.Transport == nil {
		return errors.New("cluster: Config.Local leaves nodes out but there is no Transport to reach them")
	}
	return nil
}

// localIDs returns the ids of the nodes this process runs, in order.
func (c *Cluster) localIDs() []NodeID {
	var ids []NodeID
	for i, l := range c.local {
		if l {
			ids = append(ids, NodeID(i))
		}
	}
	return ids
}

// localNodes returns the nodes this process runs, in id order.
func (c *Cluster) localNodes() []*liveNode {
	var ns []*liveNode
	for _, n := range c.nodes {
		if n != nil {
			ns = append(ns, n)
		}
	}
	return ns
}

// Local reports whether node runs in this process.
func (c *Cluster) Local(node NodeID) bool { return int(node) < len(c.local) && c.local[node] }

// SetPeer is the failure detector's report that node is up or down, for
// every node of this process. A node reported down gets no more work from
// them, and each handoff to it or from it that is in flight ends (see
// proto.peerDown); up undoes the first and lets work flow again. Without a
// Ledger a down report must be true, as the Cluster's own crash oracle's
// are: a node reported down that is alive could run an isolate whose
// handoff to it was given up. With a Ledger a wrong report costs only the
// handoffs it ends.
func (c *Cluster) SetPeer(node NodeID, up bool) {
	kind := evPeerDown
	if up {
		kind = evPeerUp
	}
	for _, n := range c.localNodes() {
		if n.id != node && !n.down.Load() {
			n.post(&event{kind: kind, to: node})
		}
	}
}

func (c *Cluster) clock() time.Duration { return time.Since(c.start) }

// Now returns the cluster's clock: the time since New. Event.At uses it.
func (c *Cluster) Now() time.Duration { return c.clock() }

// Config returns the configuration in use, defaults filled in.
func (c *Cluster) Config() Config { return c.cfg }

// Net returns the simulated network, for fault injection, or nil if the
// cluster runs on Config.Transport.
func (c *Cluster) Net() *Live { return c.net }

// Transport returns what the nodes send through: Config.Transport, or the
// simulated network.
func (c *Cluster) Transport() Transport { return c.tr }

// Metrics returns the cluster's metrics.
func (c *Cluster) Metrics() *Metrics { return c.metrics }

// EventDrops returns how many network messages this process's nodes have
// dropped because their event inbox was full, as a congested network
// would (the protocol resends them). A load report shows it as
// event_drops.
func (c *Cluster) EventDrops() int64 {
	var d int64
	for _, n := range c.localNodes() {
		d += n.dropped.Load()
	}
	return d
}

func (c *Cluster) node(id NodeID) (*liveNode, error) {
	if int(id) >= len(c.nodes) {
		return nil, ErrNoSuchNode
	}
	n := c.nodes[id]
	if n == nil {
		return nil, ErrNotLocal
	}
	if n.down.Load() {
		return nil, ErrNodeDown
	}
	return n, nil
}

// Spawn creates an isolate running prog on node and returns its id once the
// node holds it. ErrNodeFull means the node is past its MemoryBudget. ErrNodeDown means the node crashed first and the isolate
// never existed; an isolate spawned just before a crash is lost with the node
// (Outcome.CrashLost), like any other it held.
func (c *Cluster) Spawn(node NodeID, prog *engine.Program) (IsolateID, error) {
	return c.SpawnRoute(node, prog)
}

// SpawnRoute is Spawn with a route planned from the start: the isolate
// parks at the first safepoint at or after route[0].At instructions and
// moves to route[0].To, and so on, as MigrateAt plans it, but with no
// race between the isolate's first quanta and the request (MigrateAt
// after Spawn finds a short program already past its stop).
func (c *Cluster) SpawnRoute(node NodeID, prog *engine.Program, route ...Stop) (IsolateID, error) {
	n, err := c.node(node)
	if err != nil {
		return 0, err
	}
	if len(route) > 0 {
		if route[0].To == node {
			return 0, fmt.Errorf("cluster: a route's first stop is %v, where the isolate is spawned", node)
		}
		if int(route[0].To) >= len(c.nodes) {
			return 0, ErrNoSuchNode
		}
		if err := checkRoute(len(c.nodes), route[0].To, route[0].At, route[1:]); err != nil {
			return 0, err
		}
	}
	iso, err := engine.New(prog, c.cfg.Limits)
	if err != nil {
		return 0, err
	}
	t := &task{iso: iso, prog: prog}
	if len(route) > 0 { // set before any worker sees the task
		t.stopTo.Store(uint32(route[0].To) + 1)
		t.stopAt.Store(max(route[0].At, 1))
		t.route = append([]Stop(nil), route[1:]...)
	}
	if c.cfg.Ledger != nil {
		if err := n.register(t); err != nil {
			return 0, err
		}
	} else {
		t.id = IsolateID(c.nextID.Add(1))
	}
	reply := make(chan error, 1)
	n.post(&event{kind: evSpawn, t: t, prog: prog, reply: reply})
	select {
	case err = <-reply:
	case <-n.stop:
		// The crash closes stop after the events before it were handled:
		// a spawn handled in time has replied by now.
		select {
		case err = <-reply:
		default:
			return 0, ErrNodeDown
		}
	}
	if err != nil {
		return 0, err
	}
	return t.id, nil
}

// Migrate asks the node that holds isolate id to halt it at its next
// safepoint and hand it to node to. It returns once the request is placed;
// watch EvArrived and EvMigrated events for the outcome. ErrBusy means a
// handoff of the isolate is in progress; ErrNoSuchIsolate, that it is not
// running anywhere (it finished, or never existed). An isolate that
// finishes before it reaches a safepoint is not moved.
func (c *Cluster) Migrate(id IsolateID, to NodeID) error {
	return c.request(evMove, id, to, c.clock())
}

// Stop is one planned stop of a route: park the isolate at the first
// safepoint at or after At instructions and hand it to node To.
type Stop struct {
	To NodeID
	At uint64
}

// MigrateAt asks the node that holds isolate id to park it at the first
// safepoint at or after stop instructions (at once, if it is past that)
// and hand it to node to. The worker running it shortens its quanta to
// stop there, so the halt point does not depend on timing. An isolate that
// finishes before stop is not moved. Errors are as for Migrate.
//
// then plans further stops, at most MaxRoute, each later than the one
// before. They travel with the isolate in its OFFER, so that each node it
// reaches plans the next stop as it takes the isolate, and no request has
// to catch the isolate in between. Only the planned hops carry the route
// on: a hop that fails, and any other move (a drain, a steal, an
// operator's Migrate, which also cancels the stop ahead), end it, and the
// isolate stays where that leaves it.
func (c *Cluster) MigrateAt(id IsolateID, to NodeID, stop uint64, then ...Stop) error {
	if err := checkRoute(len(c.nodes), to, stop, then); err != nil {
		return err
	}
	return c.requestRoute(evMoveAt, id, to, time.Duration(stop), then)
}

// checkRoute checks the stops planned after a first one (to node to, at
// stop instructions): each on an existing node other than the one before,
// each later than the one before.
func checkRoute(nodes int, to NodeID, stop uint64, then []Stop) error {
	if len(then) > MaxRoute {
		return fmt.Errorf("cluster: a route of %d stops after the first, at most %d", len(then), MaxRoute)
	}
	for _, s := range then {
		switch {
		case int(s.To) >= nodes:
			return ErrNoSuchNode
		case s.To == to:
			return fmt.Errorf("cluster: route stop at %d instructions moves to %v, where the isolate already is", s.At, s.To)
		case s.At <= stop:
			return fmt.Errorf("cluster: route stop at %d instructions does not come after %d", s.At, stop)
		}
		to, stop = s.To, s.At
	}
	return nil
}

func (c *Cluster) request(kind evKind, id IsolateID, to NodeID, at time.Duration) error {
	return c.requestRoute(kind, id, to, at, nil)
}

// MigratePreCopy moves isolate id to node to live: its heap goes out in
// rounds of the pages written since the round before while it keeps
// running, and it stops only for the last of them (see PreCopy and the
// package doc, "Pre-copy"). It returns once the node holding the isolate
// has started; the handoff that ends it is the same as Migrate's, with
// the same guarantees. Errors are as for Migrate, and ErrBusy if a live
// migration of the isolate is already under way.
func (c *Cluster) MigratePreCopy(id IsolateID, to NodeID, opts PreCopy) error {
	return c.post(&event{kind: evPreCopy, id: id, to: to, pre: opts})
}

func (c *Cluster) requestRoute(kind evKind, id IsolateID, to NodeID, at time.Duration, route []Stop) error {
	return c.post(&event{kind: kind, id: id, to: to, at: at, route: route})
}

// post sends a request about isolate ev.id to the node holding it, and
// follows the isolate if it moved meanwhile.
func (c *Cluster) post(req *event) error {
	id, to := req.id, req.to
	if int(to) >= len(c.nodes) {
		return ErrNoSuchNode
	}
	for try := 0; try < 20; try++ {
		from, ok := c.col.whereIs(id)
		if !ok {
			return ErrNoSuchIsolate
		}
		n, err := c.node(from)
		if err != nil {
			return err
		}
		reply := make(chan error, 1)
		ev := *req
		ev.reply = reply
		n.post(&ev)
		select {
		case err = <-reply:
		case <-n.stop:
			return ErrNodeDown
		}
		if !errors.Is(err, ErrNotHere) {
			return err
		}
		time.Sleep(50 * time.Microsecond) // it is moving, or it just completed; look again
	}
	return ErrNotHere
}

// Steps returns how many instructions isolate id has executed, as of its
// last quantum, or 0 if it is not running anywhere now.
func (c *Cluster) Steps(id IsolateID) uint64 {
	from, ok := c.col.whereIs(id)
	if !ok {
		return 0
	}
	n, err := c.node(from)
	if err != nil {
		return 0
	}
	ch := make(chan uint64, 1)
	n.post(&event{kind: evSteps, id: id, steps: ch})
	select {
	case s := <-ch:
		return s
	case <-n.stop:
		return 0
	}
}

// IsolateInfo describes an isolate a node holds.
type IsolateInfo struct {
	ID    IsolateID
	Node  NodeID
	Epoch uint64
	Steps uint64 // as of its last quantum
	// State is "running" (queued or running), "moving" (parked in a
	// handoff), "arriving" (taken, waiting for the ledger's commit) or
	// "finishing" (finished, its completion not yet published).
	State string
}

// Isolates lists the isolates node holds, by id. The node must run in this
// process.
func (c *Cluster) Isolates(node NodeID) ([]IsolateInfo, error) {
	n, err := c.node(node)
	if err != nil {
		return nil, err
	}
	ch := make(chan []IsolateInfo, 1)
	n.post(&event{kind: evList, list: ch})
	select {
	case l := <-ch:
		return l, nil
	case <-n.stop:
		return nil, ErrNodeDown
	}
}

// Where returns the node that last took or spawned isolate id.
func (c *Cluster) Where(id IsolateID) (NodeID, bool) { return c.col.whereIs(id) }

// Drain moves every isolate off node and waits until none is left or ctx
// ends. The node refuses new isolates from then on.
func (c *Cluster) Drain(ctx context.Context, node NodeID) error {
	n, err := c.node(node)
	if err != nil {
		return err
	}
	reply, done := make(chan error, 1), make(chan struct{})
	n.post(&event{kind: evDrain, reply: reply, drained: done})
	select {
	case err = <-reply:
		if err != nil {
			return err
		}
	case <-n.stop:
		return ErrNodeDown
	}
	select {
	case <-done:
		return nil
	case <-n.stop:
		return ErrNodeDown
	case <-ctx.Done():
		return fmt.Errorf("drain %v: %w", node, ctx.Err())
	}
}

// Crash stops node at once, as a power cut would: the network drops its
// traffic, its goroutines stop, and every isolate it held is gone. After
// Config.DetectDelay the failure oracle tells the other nodes.
//
// On Config.Transport the cluster cannot cut the network, so the node
// itself goes silent: it sends nothing more and drops what it receives.
// Messages it handed to the transport before the crash may still arrive,
// as a real process's last packets may; on the simulated network they
// are dropped too.
func (c *Cluster) Crash(node NodeID) {
	n, err := c.node(node)
	if err != nil {
		return
	}
	if c.net != nil {
		c.net.Do(func(net *Net) { net.Crash(node) })
	}
	n.post(&event{kind: evCrash})
	c.mu.Lock()
	c.crashed[node] = true
	c.mu.Unlock()
	time.AfterFunc(c.cfg.DetectDelay, func() { c.SetPeer(node, false) })
}

// Wait waits until every spawned isolate has completed or was held by a
// crashed node, or until ctx ends, and returns the outcome.
func (c *Cluster) Wait(ctx context.Context) (*Outcome, error) {
	for {
		n, ch := c.col.pending()
		if n == 0 {
			return c.col.outcome(), nil
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Millisecond): // crashes change pending too
		case <-ctx.Done():
			return c.col.outcome(), ctx.Err()
		}
	}
}

// Pending returns how many spawned isolates have not completed.
func (c *Cluster) Pending() int {
	n, _ := c.col.pending()
	return n
}

// Outcome returns the account of every spawned isolate so far.
func (c *Cluster) Outcome() *Outcome { return c.col.outcome() }

// Close stops every node and the simulated network. It leaves
// Config.Transport open: after Close the nodes drop what it delivers.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	for _, n := range c.localNodes() {
		if n.down.CompareAndSwap(false, true) {
			n.halt()
		}
	}
	for _, n := range c.localNodes() {
		// Wait out the node's current driver, which may be any goroutine
		// that posted an event, and keep the core from then on: no event
		// runs on it, and no callback comes, after Close returns.
		for !n.driving.CompareAndSwap(false, true) {
			runtime.Gosched()
		}
		n.wg.Wait()
	}
	if c.net != nil {
		c.net.Close()
	}
}
