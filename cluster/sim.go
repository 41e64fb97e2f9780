package cluster

import (
	"container/heap"
	"context"
	"time"

	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/engine"
)

// simSwitchCost is the virtual time a worker spends around each quantum.
const simSwitchCost = 100 * time.Nanosecond

// Sim runs a cluster deterministically in virtual time, on the calling
// goroutine: the same node logic as Cluster (the same nodeCore and
// handoff state machine), with workers simulated and a Net for the network.
// Isolates really run; a quantum of k instructions takes k × Config.StepCost of
// virtual time, and messages take whatever their link says. Control work
// (encoding, decoding, protocol steps) takes no virtual time. Given the
// same Config (and so the same seed) and the same calls, a Sim makes the
// same decisions and produces the same events at the same virtual times.
//
// With Config.Ledger (an in-memory ledger.Memory: its calls must not
// block) the Sim gates handoffs and completions with it as a Cluster does;
// each ledger call takes simLedgerDelay of virtual time, and isolate ids
// are node-qualified.
//
// A Sim is not safe for concurrent use.
type Sim struct {
	cfg     Config
	net     *Net
	now     time.Duration
	nodes   []*simNode
	col     *collector
	metrics *Metrics
	nextID  IsolateID
	actions actionHeap
	aseq    uint64
	downAt  map[NodeID]time.Duration
}

type simWorker struct {
	runnext *task   // the last task injected: it runs next (Go's runnext)
	q       []*task // FIFO: a yielded task goes to the back, the worker takes the front
	quanta  int64   // quanta started
	cur     *task
	busy    bool
	until   time.Duration
	status  engine.Status
	tried   int64
	stolen  int64
}

type simNode struct {
	s        *Sim
	id       NodeID
	core     *nodeCore
	workers  []*simWorker
	crashed  bool
	nextTick time.Duration
	rr       int
}

type action struct {
	at  time.Duration
	seq uint64
	f   func()
}

type actionHeap []action

func (h actionHeap) Len() int { return len(h) }
func (h actionHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h actionHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *actionHeap) Push(x any)   { *h = append(*h, x.(action)) }
func (h *actionHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// NewSim builds a simulated cluster at virtual time 0.
func NewSim(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	if cfg.Quantum <= 0 {
		cfg.Quantum = 20000
	}
	if cfg.StepCost <= 0 {
		cfg.StepCost = time.Nanosecond
	}
	s := &Sim{cfg: cfg, net: NewNet(cfg.Seed, cfg.Link), metrics: NewMetrics(), downAt: make(map[NodeID]time.Duration)}
	s.col = newCollector(s.metrics, func() time.Duration { return s.now }, cfg.OnEvent)
	for i := 0; i < cfg.Nodes; i++ {
		n := &simNode{s: s, id: NodeID(i)}
		for k := 0; k < cfg.Workers; k++ {
			n.workers = append(n.workers, &simWorker{})
		}
		n.core = newNodeCore(n.id, cfg.Nodes, &s.cfg, func(to NodeID, msg []byte) { s.net.SendAt(s.now, n.id, to, msg) }, n, s.col)
		n.core.proto.cfg.maxDelay = s.net.MaxDelay // links set later with SetLink count too
		n.core.recycle = s.net.Recycle
		n.core.nextBeat = time.Duration(i) * cfg.Heartbeat / time.Duration(cfg.Nodes) // stagger
		n.core.async = n.ledgerCall
		s.net.Listen(n.id, func(from NodeID, msg []byte) {
			n.core.now = s.now
			n.core.message(from, msg)
		})
		s.nodes = append(s.nodes, n)
	}
	s.metrics.intraSteals = func() (tried, ok int64) {
		for _, n := range s.nodes {
			for _, w := range n.workers {
				tried += w.tried
				ok += w.stolen
			}
		}
		return
	}
	return s
}

// simLedgerDelay is the virtual time a ledger call takes in a Sim: about
// a replicated write's round trip on a LAN.
const simLedgerDelay = 200 * time.Microsecond

// ledgerCall runs a ledger call of the node's core at once (the ledger is
// in memory) and applies its answer simLedgerDelay later, unless the node
// crashed in between.
func (n *simNode) ledgerCall(op ledgerOp) {
	apply := op(context.Background())
	if apply == nil {
		return
	}
	s := n.s
	s.At(s.now+simLedgerDelay, func() {
		if n.crashed {
			return
		}
		n.core.now = s.now
		apply(n.core)
		n.core.flush()
	})
}

// Now returns the virtual time.
func (s *Sim) Now() time.Duration { return s.now }

// Net returns the simulated network, for fault injection.
func (s *Sim) Net() *Net { return s.net }

// Metrics returns the metrics; their durations are virtual.
func (s *Sim) Metrics() *Metrics { return s.metrics }

// Config returns the configuration in use, defaults filled in.
func (s *Sim) Config() Config { return s.cfg }

// Outcome returns the account of every spawned isolate so far.
func (s *Sim) Outcome() *Outcome { return s.col.outcome() }

// At schedules f to run at virtual time at (or now, if that has passed).
func (s *Sim) At(at time.Duration, f func()) {
	s.aseq++
	heap.Push(&s.actions, action{at: max(at, s.now), seq: s.aseq, f: f})
}

// Spawn creates an isolate running prog on node now.
func (s *Sim) Spawn(node NodeID, prog *engine.Program) (IsolateID, error) {
	if int(node) >= len(s.nodes) {
		return 0, ErrNoSuchNode
	}
	n := s.nodes[node]
	if n.crashed {
		return 0, ErrNodeDown
	}
	iso, err := engine.New(prog, s.cfg.Limits)
	if err != nil {
		return 0, err
	}
	t := &task{id: s.nextID + 1, iso: iso, prog: prog}
	if l := s.cfg.Ledger; l != nil {
		first, err := l.ReserveIDs(context.Background(), ledger.NodeID(node), 1)
		if err != nil {
			return 0, err
		}
		t.id = IsolateID(first)
		if t.entry, err = l.Create(context.Background(), ledger.IsolateID(t.id), ledger.NodeID(node)); err != nil {
			return 0, err
		}
	}
	if err := n.core.admit(t); err != nil {
		return 0, err
	}
	s.nextID++
	s.col.spawned(t.id, node)
	n.core.now = s.now
	n.core.spawn(t, prog)
	return t.id, nil
}

// Migrate asks the node holding isolate id to move it to node to.
func (s *Sim) Migrate(id IsolateID, to NodeID) error {
	c, err := s.holder(id)
	if err != nil {
		return err
	}
	return c.move(id, to, s.now)
}

// MigratePreCopy starts a live migration of isolate id to node to; see
// Cluster.MigratePreCopy.
func (s *Sim) MigratePreCopy(id IsolateID, to NodeID, opts PreCopy) error {
	c, err := s.holder(id)
	if err != nil {
		return err
	}
	return c.precopy(id, to, opts)
}

// MigrateAt asks the node holding isolate id to park it at the first
// safepoint at or after stop instructions and move it to node to, then
// along the planned stops; see Cluster.MigrateAt.
func (s *Sim) MigrateAt(id IsolateID, to NodeID, stop uint64, then ...Stop) error {
	if err := checkRoute(len(s.nodes), to, stop, then); err != nil {
		return err
	}
	c, err := s.holder(id)
	if err != nil {
		return err
	}
	return c.moveAt(id, to, stop, then)
}

// holder returns the core of the live node holding isolate id, its clock
// set to now, for an operator's request.
func (s *Sim) holder(id IsolateID) (*nodeCore, error) {
	from, ok := s.col.whereIs(id)
	if !ok {
		return nil, ErrNoSuchIsolate
	}
	n := s.nodes[from]
	if n.crashed {
		return nil, ErrNodeDown
	}
	n.core.now = s.now
	return n.core, nil
}

// Where returns the node that last took or spawned isolate id.
func (s *Sim) Where(id IsolateID) (NodeID, bool) { return s.col.whereIs(id) }

// Drain starts draining node; done (if not nil) runs once it is empty.
func (s *Sim) Drain(node NodeID, done func()) error {
	if int(node) >= len(s.nodes) {
		return ErrNoSuchNode
	}
	n := s.nodes[node]
	if n.crashed {
		return ErrNodeDown
	}
	n.core.now = s.now
	if done == nil {
		done = func() {}
	}
	return n.core.drain(done)
}

// Holds returns the isolates node holds (running, queued or parked).
func (s *Sim) Holds(node NodeID) []IsolateID {
	n := s.nodes[node]
	if n.crashed {
		return nil
	}
	return sortedKeys(n.core.tasks)
}

// Crash stops node for good now; the others learn of it DetectDelay later.
func (s *Sim) Crash(node NodeID) {
	n := s.nodes[node]
	if n.crashed {
		return
	}
	n.crashed = true
	s.net.Crash(node)
	s.col.lostWith(n.core.crash())
	for _, w := range n.workers {
		w.q, w.runnext, w.cur, w.busy = nil, nil, nil, false
	}
	s.downAt[node] = s.now + s.cfg.DetectDelay
}

// Crashed reports whether node has crashed.
func (s *Sim) Crashed(node NodeID) bool { return s.nodes[node].crashed }

// Pending returns how many spawned isolates have neither completed nor
// been lost with a crashed node.
func (s *Sim) Pending() int {
	n, _ := s.col.pending()
	return n
}

// settled reports whether no live node holds an isolate and nothing is in
// flight: nothing more can happen but heartbeats.
func (s *Sim) settled() bool {
	for _, n := range s.nodes {
		if !n.crashed && (len(n.core.tasks) > 0 || n.core.proto.outstanding() > 0) {
			return false
		}
	}
	return true
}

// Run advances virtual time until every isolate has completed or died with
// a crashed node and no live node holds anything, or until limit. It
// reports whether the cluster settled.
func (s *Sim) Run(limit time.Duration) bool {
	return s.RunUntil(func() bool { return len(s.actions) == 0 && s.settled() }, limit)
}

// RunFor advances virtual time by d.
func (s *Sim) RunFor(d time.Duration) {
	end := s.now + d
	s.RunUntil(func() bool { return false }, end)
}

// RunUntil advances virtual time, event by event, until cond holds (checked
// between events) or the next event would come after limit. It reports
// whether cond held.
func (s *Sim) RunUntil(cond func() bool, limit time.Duration) bool {
	for {
		s.startIdle()
		if cond() {
			return true
		}
		next, ok := s.nextEvent()
		if !ok || next > limit {
			s.now = max(s.now, limit)
			return cond()
		}
		s.now = next
		s.fire()
	}
}

func (s *Sim) nextEvent() (time.Duration, bool) {
	next, ok := time.Duration(0), false
	consider := func(t time.Duration) {
		if !ok || t < next {
			next, ok = t, true
		}
	}
	if len(s.actions) > 0 {
		consider(s.actions[0].at)
	}
	for _, at := range s.downAt {
		consider(at)
	}
	if at, any := s.net.NextAt(); any {
		consider(at)
	}
	for _, n := range s.nodes {
		if n.crashed {
			continue
		}
		consider(n.nextTick)
		for _, w := range n.workers {
			if w.busy {
				consider(w.until)
			}
		}
	}
	return max(next, s.now), ok
}

// fire runs everything due at s.now, in a fixed order: scheduled actions,
// crash reports, network deliveries, quantum ends, node ticks.
func (s *Sim) fire() {
	for len(s.actions) > 0 && s.actions[0].at <= s.now {
		a := heap.Pop(&s.actions).(action)
		a.f()
	}
	for _, id := range sortedKeys(s.downAt) {
		if s.downAt[id] <= s.now {
			delete(s.downAt, id)
			for _, n := range s.nodes {
				if !n.crashed {
					n.core.now = s.now
					n.core.peerDown(id)
				}
			}
		}
	}
	s.net.DeliverDue(s.now)
	for _, n := range s.nodes {
		for _, w := range n.workers {
			if !n.crashed && w.busy && w.until <= s.now {
				n.endQuantum(w)
			}
		}
	}
	for _, n := range s.nodes {
		if !n.crashed && n.nextTick <= s.now {
			n.nextTick = s.now + tickEvery
			n.core.now = s.now
			n.core.tick()
		}
	}
}

// startIdle lets every idle worker take a task and start a quantum.
func (s *Sim) startIdle() {
	for _, n := range s.nodes {
		if n.crashed {
			continue
		}
		for i, w := range n.workers {
			if w.busy {
				continue
			}
			t := n.next(i)
			if t == nil {
				continue
			}
			n.startQuantum(w, t)
		}
	}
}

func (n *simNode) next(i int) *task {
	for {
		t := n.pop(i)
		if t == nil || t.state.CompareAndSwap(tsQueued, tsRunning) {
			return t
		} // else a tombstone
	}
}

// pop takes worker i's next task: its runnext, else the front of its
// queue (the oldest: yielded tasks take turns, see liveNode.next), else
// half of the fullest sibling's queue, oldest first.
func (n *simNode) pop(i int) *task {
	w := n.workers[i]
	if t := w.runnext; t != nil {
		w.runnext = nil
		return t
	}
	if len(w.q) > 0 {
		t := w.q[0]
		w.q = w.q[1:]
		return t
	}
	var v *simWorker
	for j, o := range n.workers {
		if j != i && len(o.q) > 0 && (v == nil || len(o.q) > len(v.q)) {
			v = o
		}
	}
	if v == nil {
		return nil
	}
	w.tried++
	w.stolen++
	k := (len(v.q) + 1) / 2
	t := v.q[0]
	w.q = append(w.q, v.q[1:k]...)
	v.q = append(v.q[:0], v.q[k:]...)
	return t
}

func (n *simNode) startQuantum(w *simWorker, t *task) {
	s := n.s
	if t.trace != 0 {
		down, wait := time.Duration(t.arrived-t.trace), s.now-time.Duration(t.arrived)
		t.trace = 0
		s.metrics.recordQueueWait(wait)
		s.col.event(Event{Kind: EvRunning, Node: n.id, ID: t.id, Epoch: t.epoch, Downtime: down, QueueWait: wait, Steps: t.iso.Steps()})
	}
	before := t.iso.Steps()
	w.status = t.iso.Status()
	if budget, stop := t.budget(quantumFor(t, s.cfg.Quantum)); !stop {
		w.status = t.iso.Run(budget)
	}
	steps := t.iso.Steps() - before
	w.quanta++
	w.cur, w.busy = t, true
	w.until = s.now + time.Duration(steps)*s.cfg.StepCost + simSwitchCost
}

func (n *simNode) endQuantum(w *simWorker) {
	s := n.s
	t, st := w.cur, w.status
	w.cur, w.busy = nil, false
	t.steps.Store(t.iso.Steps())
	n.core.account(t)
	n.core.now = s.now
	if st.Runnable() {
		t.reachedStop(s.now)
		n.core.pump(t, s.now) // a live migration's next chunk
	}
	if !st.Runnable() {
		t.state.Store(tsClaimed)
		n.core.finished(t)
		return
	}
	if mv := t.moveTo.Swap(0); mv != 0 {
		if at := t.haltAt.Load(); at > 0 {
			s.metrics.recordHalt(s.now - time.Duration(at))
		}
		t.state.Store(tsClaimed)
		n.core.parked(t, NodeID(mv-1))
		return
	}
	t.state.Store(tsQueued)
	w.q = append(w.q, t)
}

// --- pool ---

func (n *simNode) inject(t *task) {
	k := len(n.workers)
	w := n.workers[n.rr%k]
	for i := 0; i < k; i++ {
		if v := n.workers[(n.rr+i)%k]; !v.busy && len(v.q) == 0 && v.runnext == nil {
			w = v
			break
		}
	}
	n.rr++
	t.state.Store(tsQueued)
	if w.runnext != nil { // the newer arrival runs next; the older queues
		w.q = append(w.q, w.runnext)
	}
	w.runnext = t
}

func (n *simNode) takeQueued(max int) []*task {
	return claimQueued(max, len(n.workers), func(i int) *task {
		w := n.workers[i]
		if len(w.q) == 0 {
			t := w.runnext
			w.runnext = nil
			return t
		}
		t := w.q[0]
		w.q = w.q[1:]
		return t
	})
}

func (n *simNode) load() Load {
	var l Load
	for _, w := range n.workers {
		l.Queued += len(w.q)
		if w.runnext != nil {
			l.Queued++
		}
		if w.busy {
			l.Running++
		} else if len(w.q) == 0 && w.runnext == nil {
			l.Idle++
		}
	}
	return l
}

func (n *simNode) requestMove(t *task) { t.iso.Halt() }
