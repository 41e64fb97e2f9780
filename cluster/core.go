package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/engine"
)

// pool is a node's set of workers as its control side sees them. The live
// runtime implements it with goroutines and deques, the simulator with
// virtual workers.
type pool interface {
	// inject makes t runnable on some worker.
	inject(t *task)
	// takeQueued removes up to max queued (not running) tasks, as a thief.
	takeQueued(max int) []*task
	// load reports queued and running tasks and idle workers.
	load() Load
	// requestMove asks the worker running or queueing t to park it at its
	// next safepoint; t.moveTo is already set.
	requestMove(t *task)
}

type progEntry struct {
	prog  *engine.Program
	bytes []byte // MarshalBinary, kept to answer FETCH
}

type peerState struct {
	load Load
	sent int // isolates handed to it since its last heartbeat
	down bool
	seen bool // a heartbeat arrived
}

// nodeCore is a node's control logic: its registry of isolates, its program
// cache, its view of the other nodes, the handoff state machine, drain and
// cross-node stealing. It is deterministic and single-threaded: the live
// runtime drives it from whichever goroutine holds the node's lock (see
// liveNode.drive), the simulator from
// its event loop, and both pass the time in.
type nodeCore struct {
	id     NodeID
	n      int
	cfg    *Config
	sendFn func(to NodeID, msg []byte)
	// recycle hands a received message's buffer back to the transport
	// (Recycler), or is nil.
	recycle func(msg []byte)
	// offers recycles the node's outgoing OFFER buffers: a migration of a
	// 64 KiB state would otherwise allocate (and fault in) 64 KiB on the
	// source every time.
	offers bufPool
	pool   pool
	col    *collector
	proto  *proto

	tasks map[IsolateID]*task
	progs map[[32]byte]*progEntry
	peers []peerState
	now   time.Duration

	draining  bool
	redrain   []*task // resumed while draining: offered again on the next heartbeat
	stopped   bool
	onDrained func()

	stealOut      bool
	stealFrom     NodeID
	stealDeadline time.Duration
	nextBeat      time.Duration
	lastSent      Load          // the load the last heartbeat carried
	lastSentAt    time.Duration // when it went out
	rr            int
	buf           []byte
	gossip        []NodeID   // beat's scratch
	rng           *rand.Rand // gossip targets; seeded from Config.Seed and the node id

	// mem is the bytes reserved by the isolates the node holds: the sum of
	// their tasks' mem. Workers add to it after each quantum (account).
	mem atomic.Int64

	// async runs a ledger call off the core (see ledgerOp); set by the
	// live runtime when Config.Ledger is.
	async func(ledgerOp)

	// Live migrations: sessions numbers the ones this node starts; stages
	// are those it receives, stagedBytes what they hold (precopy.go).
	sessions    uint64
	stages      map[stageKey]*stage
	stagedBytes int64

	resumed   []*task // deferred proto hook work, done after the machine returns
	confirms  []*task
	decodeOpt codec.DecodeOptions
}

func newNodeCore(id NodeID, n int, cfg *Config, send func(NodeID, []byte), p pool, col *collector) *nodeCore {
	c := &nodeCore{
		id: id, n: n, cfg: cfg, sendFn: send, pool: p, col: col,
		tasks: make(map[IsolateID]*task), stages: make(map[stageKey]*stage),
		progs: make(map[[32]byte]*progEntry),
		peers: make([]peerState, n),
		rng:   rand.New(rand.NewPCG(cfg.Seed, uint64(id)+0x9e3779b97f4a7c15)),
		// nodeCore is single-threaded, so one checker serves every decode
		// and keeps decoding allocation-free.
		decodeOpt: codec.DecodeOptions{Limits: cfg.Limits, Checker: new(engine.StateChecker)},
	}
	pc := protoConfig{rto: cfg.RTO, offerTimeout: cfg.OfferTimeout, seed: cfg.Seed, pendingBudget: max(cfg.MemoryBudget/8, 1),
		// Records outlive any copy the configured link may still hold.
		horizon: max(10*cfg.OfferTimeout, 4*cfg.Link.maxDelay())}
	if bw := cfg.Link.Bandwidth; bw > 0 {
		pc.txTime = func(n int) time.Duration { return time.Duration(float64(n) / bw * float64(time.Second)) }
	}
	c.proto = newProto(id, pc, c)
	return c
}

// --- protoHooks ---

func (c *nodeCore) send(to NodeID, msg []byte) { c.sendFn(to, msg) }

func (c *nodeCore) haveProgram(h [32]byte) bool { return c.progs[h] != nil }

func (c *nodeCore) holds(id IsolateID) bool { return c.tasks[id] != nil }

func (c *nodeCore) holdAck(id IsolateID) bool {
	t := c.tasks[id]
	return t != nil && t.committing
}

func (c *nodeCore) programBytes(h [32]byte) []byte {
	if e := c.progs[h]; e != nil {
		return e.bytes
	}
	return nil
}

func (c *nodeCore) addProgram(h [32]byte, b []byte) error {
	p, err := engine.UnmarshalProgram(b)
	if err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Hash() != h {
		return errors.New("cluster: fetched program has the wrong hash")
	}
	c.progs[h] = &progEntry{prog: p, bytes: append([]byte(nil), b...)}
	c.col.m.programFetches.Add(1)
	return nil
}

func (c *nodeCore) resolve(h [32]byte) (*engine.Program, error) {
	if e := c.progs[h]; e != nil {
		return e.prog, nil
	}
	return nil, errors.New("cluster: program not cached")
}

// taskFootprint is t's footprint, at least the received OFFER its memory
// came in (the state aliases it while the buffer is held).
func taskFootprint(t *task) int64 {
	return max(t.iso.Footprint(), int64(cap(t.buf)))
}

// account brings t's share of the node's reserved bytes up to date.
// Whoever holds t calls it: a worker after a quantum, the control side when
// it takes t.
func (c *nodeCore) account(t *task) {
	if f := taskFootprint(t); f != t.mem {
		c.mem.Add(f - t.mem)
		t.mem = f
	}
}

// full reports whether taking n more bytes would put the node past its
// memory budget.
func (c *nodeCore) full(n int64) bool {
	return c.mem.Load()+n > c.cfg.MemoryBudget
}

// admit checks that the node has room for the new isolate of t, and
// accounts it if so.
func (c *nodeCore) admit(t *task) error {
	f := taskFootprint(t)
	if c.full(f) {
		return fmt.Errorf("%w: %v holds %d bytes, budget %d, isolate %d bytes", ErrNodeFull, c.id, c.mem.Load(), c.cfg.MemoryBudget, f)
	}
	t.mem = f
	c.mem.Add(f)
	return nil
}

func (c *nodeCore) accept(from NodeID, m *message) error {
	if c.draining || c.stopped {
		return errRefused
	}
	if c.full(int64(cap(m.raw))) {
		return ErrNodeFull // before decoding: what it would cost is what it carries
	}
	if c.tasks[m.id] != nil {
		return fmt.Errorf("BUG: cluster: %v offered isolate %d, which %v holds", from, m.id, c.id)
	}
	meta, chk, err := c.decodeOffer(from, m)
	if err != nil {
		return err
	}
	if meta.Isolate != uint64(m.id) || meta.Epoch != m.epoch || chk.ProgramHash() != m.hash {
		return fmt.Errorf("cluster: offer envelope (%d@%d) disagrees with its state (%d@%d)", m.id, m.epoch, meta.Isolate, meta.Epoch)
	}
	pe := c.progs[m.hash]
	iso, err := engine.ResumeChecked(&chk) // checked by the decoder, under c.cfg.Limits
	if err != nil {
		return err
	}
	t := &task{id: m.id, iso: iso, prog: pe.prog, epoch: m.epoch, trace: m.trace, buf: m.raw}
	t.steps.Store(chk.Steps())
	if route := m.routeStops(); len(route) > 0 && int(route[0].To) < c.n && route[0].To != c.id {
		// The next planned stop, set before any worker sees the task.
		t.stopTo.Store(uint32(route[0].To) + 1)
		t.stopAt.Store(max(route[0].At, 1))
		t.route = route[1:]
	}
	c.tasks[m.id] = t
	c.account(t)
	t.arrival = Event{Kind: EvArrived, Node: c.id, Peer: from, ID: m.id, Epoch: m.epoch, PC: chk.PC(), Steps: chk.Steps(), Hash: meta.Hash, Bytes: len(m.raw)}
	if c.cfg.Ledger != nil {
		c.commit(t, from)
		return nil
	}
	c.arrive(t)
	return nil
}

// arrive makes an accepted (and, with a ledger, committed) isolate
// runnable here: its downtime ends now.
func (c *nodeCore) arrive(t *task) {
	t.arrived = int64(c.now)
	ev := t.arrival
	t.arrival = Event{}
	if t.trace != 0 { // halted for this move: its downtime ends here, runnable on this node
		ev.Downtime = c.now - time.Duration(t.trace)
		c.col.m.recordDowntime(ev.Downtime)
	}
	c.col.event(ev)
	c.pool.inject(t)
}

func (c *nodeCore) resume(id IsolateID, epoch uint64) {
	if t := c.tasks[id]; t != nil && t.parked && !t.settling && t.epoch == epoch {
		if c.cfg.Ledger != nil {
			c.settle(t, 0, false)
			return
		}
		c.resumed = append(c.resumed, t)
		return
	}
	panic(fmt.Sprintf("BUG: cluster: %v resumes %d@%d, which it does not hold parked", c.id, id, epoch))
}

func (c *nodeCore) drop(id IsolateID, epoch uint64, to NodeID) {
	t := c.tasks[id]
	if t == nil || !t.parked || t.settling || t.epoch != epoch {
		panic(fmt.Sprintf("BUG: cluster: %v drops %d@%d, which it does not hold parked", c.id, id, epoch))
	}
	if c.cfg.Ledger != nil {
		c.settle(t, to, true)
		return
	}
	c.dropCopy(t, to)
}

// dropCopy lets the parked copy t go: node to owns the isolate now.
func (c *nodeCore) dropCopy(t *task, to NodeID) {
	id, epoch := t.id, t.epoch
	delete(c.tasks, id)
	c.col.m.migrations.Add(1)
	c.col.event(Event{Kind: EvMigrated, Node: c.id, Peer: to, ID: id, Epoch: epoch})
	c.giveBack(t) // its state went out as a copy; the target holds the isolate now
}

// giveBack recycles the received OFFER that t's isolate ran in, once t has
// left the node or ended: nothing refers to the isolate any more (workers
// dropped it when they parked or finished it, and a tombstone left in a
// queue is never run).
func (c *nodeCore) giveBack(t *task) {
	if t.state.Load() != tsClaimed {
		// A worker could still run it, in memory about to be reused.
		panic(fmt.Sprintf("BUG: cluster: %v recycles isolate %d, which a worker may still run", c.id, t.id))
	}
	if t.buf != nil && c.recycle != nil {
		c.recycle(t.buf)
	}
	c.mem.Add(-t.mem)
	t.buf, t.iso, t.mem = nil, nil, 0
}

func (c *nodeCore) released(offer []byte) { c.offers.put(offer) }

func (c *nodeCore) discarded(raw []byte) {
	if c.recycle != nil {
		c.recycle(raw)
	}
}

func (c *nodeCore) confirmed(id IsolateID, epoch uint64) {
	if t := c.tasks[id]; t != nil && t.epoch == epoch {
		c.confirms = append(c.confirms, t)
	}
}

// flush does the work the protocol's hooks deferred.
func (c *nodeCore) flush() {
	for len(c.resumed) > 0 || len(c.confirms) > 0 {
		rs, cs := c.resumed, c.confirms
		c.resumed, c.confirms = nil, nil
		for _, t := range rs {
			t.parked = false
			c.col.m.failedHandoffs.Add(1)
			c.col.event(Event{Kind: EvResumed, Node: c.id, Peer: t.offeredTo, ID: t.id, Epoch: t.epoch})
			c.pool.inject(t)
			if c.draining {
				// Offered again on the next heartbeat, not at once: on an
				// instant link a refusing target answers inline, and the
				// node would offer and be refused again without end, in
				// no time at all.
				c.redrain = append(c.redrain, t)
			}
		}
		for _, t := range cs {
			if c.tasks[t.id] != t {
				continue
			}
			t.confirmed = true
			if t.committing {
				continue // committed picks up from here
			}
			switch {
			case t.heldDone:
				c.publish(t)
			case t.pendingMove != 0:
				to := NodeID(t.pendingMove - 1)
				t.pendingMove = 0
				if t.waitConfirm { // parked already
					t.waitConfirm = false
					c.parked(t, to)
				} else {
					c.requestMove(t, to)
				}
			case c.draining:
				if to, ok := c.pickTarget(); ok {
					t.haltAt.Store(int64(c.now))
					c.requestMove(t, to)
				}
			}
		}
	}
}

// --- driver entry points ---

// spawn registers a new isolate created on this node and makes it runnable.
func (c *nodeCore) spawn(t *task, prog *engine.Program) {
	h := prog.Hash()
	if c.progs[h] == nil {
		c.progs[h] = &progEntry{prog: prog, bytes: prog.MarshalBinary()}
	}
	t.confirmed = true
	c.tasks[t.id] = t
	c.proto.note(t.id, t.epoch)
	c.pool.inject(t)
	if c.draining {
		if to, ok := c.pickTarget(); ok {
			t.haltAt.Store(int64(c.now))
			c.requestMove(t, to)
		}
	}
}

// message handles a message from the network. raw is owned by the node.
func (c *nodeCore) message(from NodeID, raw []byte) {
	if c.stopped || int(from) >= c.n {
		return
	}
	m, err := parseMessage(raw)
	if err != nil {
		c.proto.stats.Bad++
		c.discarded(raw)
		return
	}
	kept := false
	switch m.kind {
	case mHeartbeat:
		p := &c.peers[from]
		p.load, p.sent, p.seen = m.load, 0, true
		c.maybeSteal() // at once, rather than at a tick a quiet node may sleep through
	case mSteal:
		c.serveSteal(from, int(m.n))
	case mPages:
		c.onPages(from, m.payload)
	case mStealReply:
		if c.stealOut && c.stealFrom == from {
			c.stealOut = false
			if m.n > 0 {
				c.col.m.interStealOK.Add(1)
			}
		}
		if m.n == 0 {
			c.peers[from].load.Queued = 0 // nothing to give until its next heartbeat says so
		}
	default:
		kept = c.proto.onMessage(c.now, from, &m, raw)
		c.flush()
	}
	// Only an OFFER is ever kept: as its isolate's memory, or while it waits
	// for its program. A PROGRAM's bytes are copied into the cache.
	if !kept {
		c.discarded(raw)
	}
}

// parked takes back a task that a worker parked because of a move request.
func (c *nodeCore) parked(t *task, to NodeID) {
	if c.stopped || c.tasks[t.id] != t {
		return
	}
	if t.atStop.Swap(false) {
		t.carryRoute = true // only the hop to its planned stop carries the route on
	}
	switch {
	case !t.confirmed:
		// It may not move on before its previous holder has dropped its
		// copy; keep it parked until the confirm comes (an RTT or so).
		t.pendingMove = uint32(to) + 1
		t.waitConfirm = true
	case int(to) >= c.n || to == c.id || c.peers[to].down:
		t.route, t.carryRoute = nil, false // the hop failed: the route ends here
		t.pre.Store(nil)                   // and so does a live migration to it
		if c.draining {
			if alt, ok := c.pickTarget(); ok {
				c.handoff(t, alt, t.haltAt.Load())
				return
			}
		}
		c.pool.inject(t)
	default:
		c.handoff(t, to, t.haltAt.Load())
	}
}

// finished takes back a task that finished or faulted.
func (c *nodeCore) finished(t *task) {
	if c.stopped || c.tasks[t.id] != t {
		return
	}
	if !t.confirmed {
		t.heldDone = true
		return
	}
	c.publish(t)
}

func (c *nodeCore) publish(t *task) {
	if c.cfg.Ledger != nil {
		c.finish(t)
		return
	}
	c.completed(t)
}

// completed publishes t's end and lets it go.
func (c *nodeCore) completed(t *task) {
	delete(c.tasks, t.id)
	c.col.complete(c.id, t)
	c.giveBack(t)
	c.checkDrained()
}

// move asks for isolate id to be moved to node to; at is when the operator
// asked, for the downtime and halt-latency figures.
func (c *nodeCore) move(id IsolateID, to NodeID, at time.Duration) error {
	t, err := c.movable(id, to)
	if t == nil {
		return err
	}
	t.haltAt.Store(int64(at))
	// An operator's move replaces the planned route, the stop ahead included.
	t.stopAt.Store(0)
	t.stopTo.Store(0)
	t.route = nil
	if !t.confirmed {
		t.pendingMove = uint32(to) + 1
		return nil
	}
	c.requestMove(t, to)
	return nil
}

// moveAt asks for isolate id to be parked at the first safepoint at or
// after stop instructions and moved to node to.
func (c *nodeCore) moveAt(id IsolateID, to NodeID, stop uint64, route []Stop) error {
	t, err := c.movable(id, to)
	if t == nil {
		if err == nil && len(route) > 0 {
			return fmt.Errorf("cluster: a route's first stop is %v, where isolate %d already is", to, id)
		}
		return err
	}
	t.route = append([]Stop(nil), route...)
	t.stopTo.Store(uint32(to) + 1)
	t.stopAt.Store(max(stop, 1))
	return nil
}

// movable returns the task of isolate id if it can be moved to node to now.
// A nil task with a nil error means there is nothing to do: to is this node.
func (c *nodeCore) movable(id IsolateID, to NodeID) (*task, error) {
	t := c.tasks[id]
	switch {
	case t == nil:
		return nil, ErrNotHere
	case t.heldDone || t.finishing:
		// It finished; it completes here once its confirm comes. Saying so
		// now beats accepting a move that can never happen.
		return nil, ErrNoSuchIsolate
	case t.parked || t.waitConfirm || t.committing:
		return nil, ErrBusy
	case int(to) >= c.n:
		return nil, ErrNoSuchNode
	case c.peers[to].down:
		return nil, ErrNodeDown
	case to == c.id:
		return nil, nil
	}
	return t, nil
}

// requestMove moves t to node to: at once if it is queued, else by halting
// it at its next safepoint (the worker then parks it).
func (c *nodeCore) requestMove(t *task, to NodeID) {
	t.moveTo.Store(uint32(to) + 1)
	if t.state.CompareAndSwap(tsQueued, tsClaimed) {
		if mv := t.moveTo.Swap(0); mv != 0 {
			if at := t.haltAt.Load(); at > 0 {
				c.col.m.recordHalt(c.now - time.Duration(at))
			}
			c.parked(t, NodeID(mv-1))
			return
		}
		panic("BUG: cluster: move target vanished from a claimed task")
	}
	c.pool.requestMove(t)
}

// handoff encodes the parked task t and starts handing it to node to.
// trace is the clock reading of the halt request, carried to the target
// for the downtime figure, or 0 when the task was not halted.
func (c *nodeCore) handoff(t *task, to NodeID, trace int64) {
	e := t.epoch + 1
	var route []Stop
	if t.carryRoute { // parked for its planned stop, and this hop goes there
		route = t.route
	}
	// Whatever becomes of this hop, the route is used up here: it travels
	// with the isolate, or the isolate left it (a drain, a steal, a failed
	// hop).
	t.route, t.carryRoute = nil, false
	st := t.iso.State()
	msg, sum := c.finalOffer(t, to, e, trace, route)
	if msg == nil {
		// Stop-and-copy. The isolate's hash rehashes only the pages
		// written since its last sync (all of them the first time).
		sum = t.iso.Hash()
		msg = c.offers.get(offerHeaderLen(len(route)) + codec.EncodedSize(st))
		msg = appendOfferHeader(msg, t.id, e, t.prog.Hash(), trace, route)
		msg = codec.AppendEncodeSum(msg, codec.Meta{Isolate: uint64(t.id), Epoch: e}, st, &sum)
	}
	t.epoch, t.parked, t.offeredTo = e, true, to
	c.col.m.recordOffer(len(msg))
	c.col.event(Event{Kind: EvHalted, Node: c.id, Peer: to, ID: t.id, Epoch: e, PC: st.PC, Steps: st.Steps, Hash: sum, Bytes: len(msg)})
	if !c.proto.startHandoff(c.now, t.id, e, to, msg) {
		c.released(msg)
		if c.cfg.Ledger != nil {
			t.epoch = e - 1 // never offered: the ledger still holds it at e-1
		}
		t.parked = false
		c.pool.inject(t)
	}
}

// drain starts moving every isolate off the node; onDrained runs once none
// is left. New offers are refused from now on.
func (c *nodeCore) drain(onDrained func()) error {
	if len(c.tasks) > 0 && !c.hasTarget() {
		return ErrNoTarget // and nothing changed: the node runs and accepts work as before
	}
	c.draining = true
	c.onDrained = onDrained
	for _, id := range sortedKeys(c.tasks) {
		t := c.tasks[id]
		if t.parked || !t.confirmed {
			continue // resume or confirm picks a target then
		}
		if to, ok := c.pickTarget(); ok {
			t.haltAt.Store(int64(c.now))
			c.requestMove(t, to)
		}
	}
	c.beat() // tell the others at once
	c.checkDrained()
	return nil
}

func (c *nodeCore) checkDrained() {
	if c.draining && c.onDrained != nil && len(c.tasks) == 0 && c.proto.outstanding() == 0 {
		f := c.onDrained
		c.onDrained = nil
		f()
	}
}

// pickTarget chooses the least loaded live node that is not draining, by
// its last heartbeat plus what was handed to it since.
func (c *nodeCore) pickTarget() (NodeID, bool) {
	best, bestLoad := NodeID(0), -1
	for i := 0; i < c.n; i++ {
		k := (c.rr + i) % c.n
		if !c.canTake(NodeID(k)) {
			continue
		}
		p := &c.peers[k]
		l := p.load.Queued + p.load.Running + p.sent
		if bestLoad < 0 || l < bestLoad {
			best, bestLoad = NodeID(k), l
		}
	}
	if bestLoad < 0 {
		return 0, false
	}
	c.rr++
	c.peers[best].sent++
	return best, true
}

// canTake reports whether node k may be handed isolates: another node, not
// known to be down or draining.
func (c *nodeCore) canTake(k NodeID) bool {
	return k != c.id && !c.peers[k].down && !c.peers[k].load.Draining
}

// hasTarget reports whether pickTarget would find a node, without picking.
func (c *nodeCore) hasTarget() bool {
	for k := 0; k < c.n; k++ {
		if c.canTake(NodeID(k)) {
			return true
		}
	}
	return false
}

func (c *nodeCore) peerDown(n NodeID) {
	if int(n) >= c.n || c.peers[n].down || n == c.id {
		return
	}
	c.peers[n].down = true
	if c.stealOut && c.stealFrom == n {
		c.stealOut = false
	}
	c.proto.peerDown(n)
	c.flush()
}

// peerUp is the failure detector's word that node n is up, after it was
// reported down or before it was ever heard of. Only a live runtime whose
// detector can report a suspected node alive again calls it: a simulated
// crash is final.
func (c *nodeCore) peerUp(n NodeID) {
	if int(n) >= c.n || n == c.id || !c.peers[n].down {
		return
	}
	c.peers[n] = peerState{}
	c.proto.peerUp(n)
}

// tick runs timers: protocol resends, heartbeats and steal requests.
func (c *nodeCore) tick() {
	if c.stopped {
		return
	}
	c.proto.tick(c.now)
	c.flush()
	if c.now >= c.nextBeat {
		c.nextBeat = c.now + c.cfg.Heartbeat
		if rs := c.redrain; len(rs) > 0 {
			c.redrain = nil
			for _, t := range rs {
				if c.tasks[t.id] != t || t.parked || !t.confirmed || !c.draining {
					continue
				}
				if to, ok := c.pickTarget(); ok {
					t.haltAt.Store(int64(c.now))
					c.requestMove(t, to)
				}
			}
			c.flush()
		}
		// An idle node whose load has not changed has nothing new to say:
		// it beats only every idleBeats periods, so an idle cluster is
		// nearly free. A loaded node beats every period, since thieves
		// retry it only on a heartbeat.
		if l := c.myLoad(); l != c.lastSent || l.Queued+l.Running > 0 || c.now-c.lastSentAt >= idleBeats*c.cfg.Heartbeat {
			c.beat()
		}
	}
	c.maybeSteal()
	c.checkDrained()
	c.expireStages()
}

// quiet reports whether nothing on the core needs its timers soon: it
// holds no isolate, has no handoff, acceptance, program fetch or steal
// request in flight, is not draining, and its peers have heard its current
// load. A quiet node's ticker dozes until its next idle heartbeat; whatever
// makes the core busy again wakes it (see liveNode.quiet).
func (c *nodeCore) quiet() bool {
	return !c.stopped && len(c.tasks) == 0 && c.proto.outstanding() == 0 && c.proto.unconfirmedCount() == 0 &&
		len(c.proto.fetch) == 0 && !c.stealOut && !c.draining && c.myLoad() == c.lastSent
}

func (c *nodeCore) myLoad() Load {
	l := c.pool.load()
	l.Draining = c.draining
	return l
}

// idleBeats is how many heartbeat periods an idle node with an unchanged
// load stays silent.
const idleBeats = 50

// gossipFanout is how many peers one heartbeat goes to. Sending to every
// peer made a node's message rate grow with the cluster (256 in-process
// nodes sent 10.2 M messages for 1000 small isolates); a fixed sample keeps
// it constant, and the loads still spread: a loaded node beats every
// period, so within k periods about 2k peers have heard it, and a thief
// learns of a victim's empty queue from the victim's STEAL reply anyway.
// Clusters of up to gossipFanout+1 nodes still hear everyone.
const gossipFanout = 2

// beat sends the node's load to gossipFanout live peers, chosen at random
// (from the core's seeded generator, so that a Sim stays deterministic).
func (c *nodeCore) beat() {
	l := c.myLoad()
	c.lastSent, c.lastSentAt = l, c.now
	c.buf = appendHeartbeat(c.buf[:0], l)
	up := c.gossip[:0]
	for i := 0; i < c.n; i++ {
		if NodeID(i) != c.id && !c.peers[i].down {
			up = append(up, NodeID(i))
		}
	}
	if len(up) > gossipFanout {
		for i := 0; i < gossipFanout; i++ { // a partial Fisher-Yates shuffle
			j := i + c.rng.IntN(len(up)-i)
			up[i], up[j] = up[j], up[i]
		}
		up = up[:gossipFanout]
	}
	for _, to := range up {
		c.send(to, c.buf)
	}
	c.gossip = up
}

// maybeSteal asks the most loaded node for work when this one has an idle
// worker and nothing queued.
func (c *nodeCore) maybeSteal() {
	if c.cfg.NoSteal || c.draining || (c.stealOut && c.now < c.stealDeadline) {
		return
	}
	c.stealOut = false
	l := c.pool.load()
	if l.Queued > 0 || l.Idle == 0 || c.full(0) {
		return // a node past its memory budget asks for no work: it would refuse it
	}
	victim, most := NodeID(0), 0
	for i := 0; i < c.n; i++ {
		p := &c.peers[i]
		if NodeID(i) == c.id || p.down || !p.seen {
			continue
		}
		if q := p.load.Queued + p.load.Running - c.cfg.Workers; q > most {
			victim, most = NodeID(i), q
		}
	}
	if most == 0 {
		return
	}
	c.stealOut, c.stealFrom, c.stealDeadline = true, victim, c.now+c.cfg.OfferTimeout
	c.col.m.interStealTried.Add(1)
	c.buf = appendU32(c.buf[:0], mSteal, uint32(max(c.cfg.StealBatch, l.Idle)))
	c.send(victim, c.buf)
}

// serveSteal gives node to up to half of the surplus queued isolates, at
// most max.
func (c *nodeCore) serveSteal(to NodeID, max int) {
	n := 0
	if !c.peers[to].down && !c.cfg.NoSteal {
		// Give half of the surplus: what is queued beyond what our own
		// workers will pick up next. A lone isolate between two quanta is
		// not surplus.
		l := c.pool.load()
		surplus := l.Queued + l.Running - c.cfg.Workers
		want := min((surplus+1)/2, max)
		for _, t := range c.pool.takeQueued(want) {
			target := to
			if mv := t.moveTo.Swap(0); mv != 0 {
				target = NodeID(mv - 1) // an operator's move wins
			}
			if !t.confirmed || target == c.id {
				c.pool.inject(t)
				continue
			}
			c.handoff(t, target, 0) // queued, not halted: no downtime to measure
			n++
		}
	}
	c.col.m.interStolen.Add(int64(n))
	c.buf = appendU32(c.buf[:0], mStealReply, uint32(n))
	c.send(to, c.buf)
}

// isolates lists the isolates the node holds, by id.
func (c *nodeCore) isolates() []IsolateInfo {
	l := make([]IsolateInfo, 0, len(c.tasks))
	for _, id := range sortedKeys(c.tasks) {
		t := c.tasks[id]
		st := "running"
		switch {
		case t.committing:
			st = "arriving"
		case t.parked || t.waitConfirm:
			st = "moving"
		case t.heldDone || t.finishing:
			st = "finishing"
		}
		l = append(l, IsolateInfo{ID: id, Node: c.id, Epoch: t.epoch, Steps: t.steps.Load(), State: st})
	}
	return l
}

// crash stops the core for good and returns the isolates it held.
func (c *nodeCore) crash() []IsolateID {
	c.stopped = true
	return sortedKeys(c.tasks)
}
