package cluster

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/queue"
)

// cacheLinePad separates data that different goroutines write. It is 128,
// not the 64-byte line of current x86 parts, because the adjacent-line
// prefetcher works on 128-byte pairs and some arm64 parts have 128-byte
// lines; TestPadCoversCacheLine checks it against cpuid.
const cacheLinePad = 128

// worker is one core of a live node. Everything but the deque's owner side
// and the timer may be read by other goroutines; the padding keeps each
// worker's hot words on lines of their own.
type worker struct {
	_       [cacheLinePad]byte
	dq      *queue.Deque[task] // owner: this worker; thieves: siblings and the control side
	inbox   *queue.Inbox[task] // producers: the control side; consumer: this worker
	queued  atomic.Int64       // dq.Len() as of the owner's last Push or Pop, for the others
	wake    chan struct{}      // a token: something was injected or there is work to steal
	idle    atomic.Bool        // parked, waiting for a token
	running atomic.Int32       // 1 while inside Run
	tried   atomic.Int64       // intra-node steal attempts (owner writes)
	stolen  atomic.Int64       // successful ones
	timer   *time.Timer        // owner only
	ranNext bool               // owner only: the last task taken was an arrival, as runnext
	seed    uint32             // owner only: victim choice
	_       [cacheLinePad]byte
}

type evKind uint8

const (
	evMsg evKind = iota
	evParked
	evFinished
	evSpawn
	evMove
	evDrain
	evPeerDown
	evCrash
	evSteps
	evMoveAt
	evPreCopy
	evPeerUp
	evApply // a ledger call's answer (see ledgerOp)
	evList
)

// event is what enters a live node's control side through its event inbox:
// network arrivals, tasks handed back by workers, and operator requests.
type event struct {
	kind    evKind
	from    NodeID
	to      NodeID
	msg     []byte
	t       *task
	prog    *engine.Program
	id      IsolateID
	at      time.Duration
	route   []Stop
	pre     PreCopy
	reply   chan error
	steps   chan uint64
	drained chan struct{}
	apply   func(*nodeCore)
	list    chan []IsolateInfo
}

// liveNode runs one node with goroutines: its workers, and a ticker for the
// core's timers. The nodeCore has no goroutine of its own. Every event
// (network arrival, task handed back by a worker, operator request) enters
// the node's event inbox, and then the goroutine that posted it tries to
// become the node's driver (see drive): the driver runs the core over every
// queued event. So a worker that parks an isolate encodes and sends it
// itself, and on an instant link the target's decode, verify and resume run
// in that same goroutine: the only goroutine hand-off in a migration is the
// wake-up of the target's worker. The ticker drives the node every
// tickEvery, for the core's timers, and when a driver hands over a backlog;
// on a quiet node it dozes (see tickLoop).
type liveNode struct {
	cl      *Cluster
	id      NodeID
	workers []*worker
	events  *queue.Inbox[event]
	stop    chan struct{}
	ctx     context.Context // ends with stop: ledger calls in flight give up
	cancel  context.CancelFunc
	down    atomic.Bool
	dropped atomic.Int64 // network messages dropped because the inbox was full
	quantum int64
	wg      sync.WaitGroup

	// driving is true while a goroutine drives the node; it guards
	// everything below. It is taken by CAS and never waited for (see drive),
	// except by Cluster.Close, which takes it for good.
	driving  atomic.Bool
	kick     chan struct{} // wakes the ticker to take over a backlog
	core     *nodeCore
	rr       int
	nextTick time.Duration
	overflow []*task // injected tasks that found their worker's inbox full

	overflowed atomic.Int64 // len(overflow), for workers

	// quiet is the core's quiet() as of the last drive; dozing is set while
	// the ticker dozes (sleeps idleBeats heartbeats). The ticker stores
	// dozing, then looks at quiet. A driver that leaves the core busy stores
	// quiet, then looks at dozing, except when it handed a worker a task:
	// then inject stores quiet before the task is visible, and the worker
	// that pops it looks at dozing, whether it runs the task or finds it
	// claimed back. All seq-cst: one side sees the other, and a busy core
	// never waits out a doze for its timers.
	quiet, dozing atomic.Bool
	injected      bool // the driver handed a worker a task in this drive

	// ids is the block of isolate ids the node reserved through the
	// ledger and has not handed out yet: [next, end).
	idMu          sync.Mutex
	idNext, idEnd IsolateID
}

// workerInboxSize is the capacity of a worker's inbox; a variable so that
// a test can make it overflow.
var workerInboxSize = 1 << 12

const (
	eventInboxSize = 1 << 14
	tickEvery      = 250 * time.Microsecond
	// A worker with a sibling holding queued work parks for busyParkTimeout:
	// that work may be private to the sibling, which publishes half only
	// after a failed steal, so the parked worker must come back and try.
	// Otherwise it parks for idleParkTimeout, which only bounds the cost of
	// a wake-up this code failed to send: an idle worker that woke every
	// millisecond cost an idle node about 1 % of a core.
	busyParkTimeout = time.Millisecond
	idleParkTimeout = 50 * time.Millisecond
)

func newLiveNode(cl *Cluster, id NodeID) *liveNode {
	n := &liveNode{
		cl: cl, id: id,
		events:  queue.NewInbox[event](eventInboxSize),
		stop:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
		quantum: cl.cfg.Quantum,
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for i := 0; i < cl.cfg.Workers; i++ {
		n.workers = append(n.workers, &worker{
			dq:    queue.NewDeque[task](64),
			inbox: queue.NewInbox[task](workerInboxSize),
			wake:  make(chan struct{}, 1),
			timer: time.NewTimer(time.Hour),
			seed:  uint32(i)*2654435761 + uint32(id) + 1,
		})
	}
	tr := cl.tr
	n.core = newNodeCore(id, cl.cfg.Nodes, &cl.cfg, func(to NodeID, msg []byte) {
		if !n.down.Load() { // a crashed node is silent on any transport
			tr.Send(id, to, msg)
		}
	}, n, cl.col)
	if r, ok := tr.(Recycler); ok {
		n.core.recycle = r.Recycle
	}
	n.core.async = n.async
	if cl.cfg.Local != nil {
		// Nodes of other processes are down until the detector reports
		// them up: nothing is handed to a node nobody has heard of.
		for i := 0; i < cl.cfg.Nodes; i++ {
			if !cl.local[i] {
				n.core.peers[i].down = true
				n.core.proto.down[NodeID(i)] = true
			}
		}
	}
	tr.Listen(id, n.receive)
	return n
}

func (n *liveNode) start() {
	n.wg.Add(1 + len(n.workers))
	go n.tickLoop()
	for i, w := range n.workers {
		go n.workerLoop(w, i)
	}
}

// receive is the transport's delivery function. A full inbox drops the
// message, as a congested network would; the protocol resends.
func (n *liveNode) receive(from NodeID, msg []byte) {
	if n.down.Load() {
		return
	}
	if !n.events.Push(&event{kind: evMsg, from: from, msg: msg}) {
		n.dropped.Add(1)
	}
	n.drive()
}

// post queues an event that must not be lost, and drives the node.
func (n *liveNode) post(ev *event) {
	for !n.events.Push(ev) {
		if n.down.Load() {
			return
		}
		runtime.Gosched()
	}
	n.drive()
}

// tickLoop drives the node every tickEvery, so that the core's timers
// (heartbeats, resends, offer timeouts, steal requests) fire when no event
// comes, and at once when a driver hands over a backlog. A quiet core (see
// nodeCore.quiet) needs no timer but its idle heartbeat, so the ticker
// dozes for idleBeats heartbeat periods; whoever makes the core busy again
// wakes it (see liveNode.quiet).
func (n *liveNode) tickLoop() {
	defer n.wg.Done()
	t := time.NewTimer(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-n.kick:
		case <-n.stop:
			return
		}
		n.dozing.Store(false)
		n.drive()
		d := tickEvery
		if n.quiet.Load() {
			n.dozing.Store(true) // seq-cst: before the look below (see quiet)
			if n.quiet.Load() {
				d = idleBeats * n.cl.cfg.Heartbeat
			} else {
				n.dozing.Store(false)
			}
		}
		t.Reset(d)
	}
}

// driveBudget is how many events one drive handles before it hands the rest
// to the node's ticker. A driver may be nested: a goroutine driving node A
// delivers a message inline to node B and drives B. Without a bound, a busy
// B would keep A's core (its timers and its events) waiting behind it.
const driveBudget = 256

// drive runs the core over the queued events, unless another goroutine is
// doing so; any goroutine may call it, and it never blocks.
//
// Why no event is stranded: a goroutine queues its event (a seq-cst CAS on
// the inbox's tail) before its CAS on driving. If that CAS fails, the
// driver's last look at the inbox may have come before the event was
// queued; so the driver, after it releases driving (a seq-cst store), looks
// at the inbox's length (a seq-cst load) again. These four operations are
// sequentially consistent, so the driver's look sees the event, or the
// producer's CAS sees driving released and drives itself.
func (n *liveNode) drive() {
	for {
		if !n.driving.CompareAndSwap(false, true) { // seq-cst: see above
			return
		}
		if n.down.Load() {
			n.driving.Store(false)
			return
		}
		handled, more := n.runEvents()
		n.driving.Store(false) // seq-cst: before the look below
		switch {
		case more:
			// Over budget: the ticker takes over, so that a nested driver
			// gets back to its own node.
			n.kickTicker()
			return
		case n.events.Len() == 0:
			return
		case handled == 0:
			// A producer has claimed a cell but not yet filled it.
			runtime.Gosched()
		}
	}
}

// runEvents handles the events that are ready, up to driveBudget, and fires
// the core's timers if they are due. The caller is the driver. It reports
// how many events it handled and whether it stopped at the budget with
// events left.
func (n *liveNode) runEvents() (handled int, more bool) {
	n.injected = false
	for handled < driveBudget {
		ev := n.events.Pop()
		if ev == nil {
			break
		}
		handled++
		if n.down.Load() {
			continue // stopped or crashed: nothing runs on the core any more
		}
		n.core.now = n.cl.clock()
		n.handle(ev)
	}
	if n.down.Load() {
		return handled, false
	}
	now := n.cl.clock()
	if now >= n.nextTick {
		n.core.now = now
		n.core.tick()
		n.nextTick = now + tickEvery
	}
	if len(n.overflow) > 0 {
		n.flushOverflow()
	}
	q := n.core.quiet()
	n.quiet.Store(q) // seq-cst: before the look at dozing (see quiet)
	if !q && !n.injected && n.dozing.Load() {
		// Not when a worker was just handed an isolate: woken after that
		// worker, the ticker would take its turn on this processor and
		// delay its first quantum. The worker wakes the ticker itself.
		n.kickTicker()
	}
	return handled, handled == driveBudget && n.events.Len() > 0
}

// kickTicker wakes the ticker, unless a wake is pending already.
func (n *liveNode) kickTicker() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// handle runs one event on the core.
func (n *liveNode) handle(ev *event) {
	c := n.core
	switch ev.kind {
	case evMsg:
		c.message(ev.from, ev.msg)
	case evParked:
		c.parked(ev.t, ev.to)
	case evFinished:
		c.finished(ev.t)
	case evSpawn:
		if err := c.admit(ev.t); err != nil {
			ev.reply <- err
			return
		}
		n.cl.col.spawned(ev.t.id, n.id)
		c.spawn(ev.t, ev.prog)
		ev.reply <- nil
	case evMove:
		ev.reply <- c.move(ev.id, ev.to, ev.at)
	case evPreCopy:
		ev.reply <- c.precopy(ev.id, ev.to, ev.pre)
	case evMoveAt:
		ev.reply <- c.moveAt(ev.id, ev.to, uint64(ev.at), ev.route)
	case evDrain:
		done := ev.drained
		ev.reply <- c.drain(func() { close(done) })
	case evPeerDown:
		c.peerDown(ev.to)
	case evPeerUp:
		c.peerUp(ev.to)
	case evList:
		ev.list <- c.isolates()
	case evApply:
		ev.apply(c)
		c.flush()
	case evSteps:
		if t := c.tasks[ev.id]; t != nil {
			ev.steps <- t.steps.Load()
		} else {
			ev.steps <- 0
		}
	case evCrash:
		n.cl.col.lostWith(c.crash())
		if n.down.CompareAndSwap(false, true) {
			n.halt()
		}
	}
}

// halt stops the node's goroutines and its ledger calls. The caller has
// just set down.
func (n *liveNode) halt() {
	close(n.stop)
	n.cancel()
}

// async runs a ledger call on a goroutine of its own and posts its answer
// to the core. The caller is the driver.
func (n *liveNode) async(op ledgerOp) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if apply := op(n.ctx); apply != nil {
			n.post(&event{kind: evApply, apply: apply})
		}
	}()
}

// idBlock is how many isolate ids a node reserves through the ledger at a
// time: one ledger write per idBlock spawns.
const idBlock = 1024

// register gives the new isolate t a cluster-wide id and records it in the
// ledger, owned by this node at epoch 0. The caller is Spawn, on its own
// goroutine.
func (n *liveNode) register(t *task) error {
	l := n.cl.cfg.Ledger
	ctx, cancel := context.WithTimeout(n.ctx, ledgerCallTimeout)
	defer cancel()
	n.idMu.Lock()
	if n.idNext == n.idEnd {
		first, err := l.ReserveIDs(ctx, ledger.NodeID(n.id), idBlock)
		if err != nil {
			n.idMu.Unlock()
			return fmt.Errorf("cluster: reserve isolate ids: %w", err)
		}
		n.idNext, n.idEnd = IsolateID(first), IsolateID(first)+idBlock
	}
	t.id = n.idNext
	n.idNext++
	n.idMu.Unlock()
	e, err := l.Create(ctx, ledger.IsolateID(t.id), ledger.NodeID(n.id))
	if err != nil {
		return fmt.Errorf("cluster: record isolate %v in the ledger: %w", ledger.IsolateID(t.id), err)
	}
	t.entry = e
	return nil
}

// --- pool ---

func (n *liveNode) inject(t *task) {
	if n.down.Load() {
		return
	}
	k := len(n.workers)
	w := n.workers[n.rr%k]
	for i := 0; i < k; i++ { // prefer an idle worker
		if v := n.workers[(n.rr+i)%k]; v.idle.Load() {
			w = v
			break
		}
	}
	n.rr++
	// Not quiet from here on, published before any worker can see the task:
	// a worker that then finds the ticker dozing wakes it (see quiet).
	n.quiet.Store(false)
	n.injected = true
	t.state.Store(tsQueued)
	if !w.inbox.Push(t) {
		// Waiting for room could wait forever: the driver may be w itself.
		// Park the task on the node; runEvents hands it over when there is
		// room, and a worker with an empty inbox drives the node to get it.
		n.overflow = append(n.overflow, t)
		n.overflowed.Store(int64(len(n.overflow)))
	}
	wakeWorker(w)
}

// flushOverflow moves overflowed tasks into workers' inboxes while they have
// room. The caller is the driver.
func (n *liveNode) flushOverflow() {
	k, moved := len(n.workers), 0
	for full := 0; moved < len(n.overflow) && full < k; n.rr++ {
		w := n.workers[n.rr%k]
		if !w.inbox.Push(n.overflow[moved]) {
			full++
			continue
		}
		full = 0
		moved++
		wakeWorker(w)
	}
	if moved > 0 {
		clear(n.overflow[:moved])
		n.overflow = n.overflow[moved:]
		n.overflowed.Store(int64(len(n.overflow)))
	}
}

func wakeWorker(w *worker) {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// takeQueued takes up to max queued tasks from the public parts of the
// workers' deques, as a thief. The driver may be one of the workers; Steal
// from a deque's owner is safe outside its Push and Pop, since it touches
// only top and public slots. Private tasks are not taken, but the failed
// Steal asks their owner to publish half of them at its next quantum's end,
// so the next STEAL finds them.
func (n *liveNode) takeQueued(max int) []*task {
	return claimQueued(max, len(n.workers), func(i int) *task { return n.workers[i].dq.Steal() })
}

func (n *liveNode) load() Load {
	l := Load{Queued: len(n.overflow)} // the caller is the driver
	for _, w := range n.workers {
		l.Queued += int(w.queued.Load()) + w.inbox.Len()
		l.Running += int(w.running.Load())
		if w.idle.Load() {
			l.Idle++
		}
	}
	return l
}

func (n *liveNode) requestMove(t *task) { t.iso.Halt() }

func (n *liveNode) intraSteals() (tried, ok int64) {
	for _, w := range n.workers {
		tried += w.tried.Load()
		ok += w.stolen.Load()
	}
	return
}

// --- workers ---

func (n *liveNode) workerLoop(w *worker, idx int) {
	defer n.wg.Done()
	defer w.timer.Stop()
	for !n.down.Load() {
		t := n.next(w)
		if t == nil {
			n.park(w)
			continue
		}
		if n.dozing.Load() {
			// Work has come to a quiet node: its timers are needed again
			// (see quiet). Looked at for every task, so also for one the
			// control side claimed back before it ran.
			n.kickTicker()
		}
		if t.state.CompareAndSwap(tsQueued, tsRunning) {
			n.runQuantum(w, t)
			// Workers never block while they have work, so without this
			// the goroutines they woke (other nodes' workers, the tickers,
			// the network) would wait for the runtime's 10 ms preemption
			// to get a core. Yielding once a quantum bounds their wait by
			// a quantum for ~0.1 % of time.
			runtime.Gosched()
		} // else a tombstone: the control side claimed it
	}
}

// next finds the worker's next task: the first task the control side
// injected since the last call (Go's runnext: an arrival runs next), then
// the oldest task of its own deque, then half of a sibling's deque.
// An arrival takes runnext at most every other call.
//
// Fairness: a worker takes its own deque from the oldest end, with Steal
// (which the owner may call between its own Pushes and Pops), and pushes a
// yielded task back at the newest end, so the tasks queued on a worker take
// turns, as in the FIFO local run queue of Go's scheduler: a spinning
// isolate no longer starves those queued behind it (the deque's owner end
// is LIFO); see takeOldest. So a task waits for the tasks queued ahead of
// it, once each (TestWorkerFairness). Other inboxed arrivals queue at the
// newest end.
func (n *liveNode) next(w *worker) *task {
	if w.inbox.Len() == 0 && n.overflowed.Load() > 0 {
		n.drive() // hands overflowed tasks to inboxes with room
	}
	var first *task
	for x := w.inbox.Pop(); x != nil; x = w.inbox.Pop() {
		if first == nil && !w.ranNext {
			first = x
		} else {
			w.dq.Push(x)
		}
	}
	// Runnext at most every other quantum, so that a stream of arrivals
	// cannot starve the deque either.
	w.ranNext = first != nil
	if first != nil {
		w.queued.Store(int64(w.dq.Len()))
		return first
	}
	t := takeOldest(w.dq)
	w.queued.Store(int64(w.dq.Len()))
	if t != nil {
		return t
	}
	k := len(n.workers)
	if k == 1 {
		return nil
	}
	w.seed = w.seed*1664525 + 1013904223
	start := int(w.seed>>16) % k
	for i := 0; i < k; i++ {
		v := n.workers[(start+i)%k]
		if v == w || v.queued.Load() == 0 {
			continue
		}
		// A victim whose queued tasks are all private gives nothing now,
		// but publishes half of them at the end of its quantum and then
		// wakes an idle sibling (see runQuantum).
		w.tried.Add(1)
		if v.dq.StealHalf(w.dq) > 0 {
			w.stolen.Add(1)
			t := w.dq.Pop()
			w.queued.Store(int64(w.dq.Len()))
			return t
		}
	}
	return nil
}

// takeOldest takes the oldest task of the owner's deque d. Owner only.
// Steal takes the top, the oldest public task. With nothing public, that
// Steal leaves a request, so the Pop after it (of the newest task)
// publishes the older half of the private part, and a second Steal gets
// the oldest; the popped task goes back at the newest end, where it was.
// A thief may win the oldest first: the owner then takes the next.
func takeOldest(d *queue.Deque[task]) *task {
	if t := d.Steal(); t != nil {
		return t
	}
	y := d.Pop()
	if y == nil {
		return nil
	}
	if t := d.Steal(); t != nil {
		d.Push(y)
		return t
	}
	return y // it was the only one
}

func (n *liveNode) park(w *worker) {
	w.idle.Store(true)
	defer w.idle.Store(false)
	// Look again after publishing idle: a sibling that pushed surplus work
	// before seeing the flag did not wake us.
	if n.hasWork(w) {
		return
	}
	// Sleep rather than spin. Spinning (or waking early for an announced
	// arrival) saves the waker's futex wake, about 13 µs on the development
	// VM, and halves the median downtime at GOMAXPROCS 2; but it raised
	// the p99 in every A/B run there, so it is not done.
	timeout := idleParkTimeout
	for _, v := range n.workers {
		if v != w && (v.queued.Load() > 0 || v.inbox.Len() > 0) {
			timeout = busyParkTimeout
			break
		}
	}
	w.timer.Reset(timeout)
	select {
	case <-w.wake:
	case <-w.timer.C:
	case <-n.stop:
	}
}

// hasWork reports whether w has something to take: an injected task or a
// sibling's surplus.
func (n *liveNode) hasWork(w *worker) bool {
	if w.inbox.Len() > 0 {
		return true
	}
	for _, v := range n.workers {
		if v != w && v.dq.Stealable() > 0 {
			return true
		}
	}
	return false
}

func (n *liveNode) runQuantum(w *worker, t *task) {
	if t.trace != 0 {
		now := n.cl.clock()
		down, wait := time.Duration(t.arrived-t.trace), now-time.Duration(t.arrived)
		t.trace = 0
		n.cl.metrics.recordQueueWait(wait)
		n.cl.col.event(Event{Kind: EvRunning, Node: n.id, ID: t.id, Epoch: t.epoch, Downtime: down, QueueWait: wait, Steps: t.iso.Steps()})
	}
	st := t.iso.Status()
	if budget, stop := t.budget(quantumFor(t, n.quantum)); !stop {
		w.running.Store(1)
		st = t.iso.Run(budget)
		w.running.Store(0)
		t.steps.Store(t.iso.Steps())
	}
	if n.down.Load() {
		return // crashed: the task dies with the node
	}
	n.core.account(t)
	if st.Runnable() {
		t.reachedStop(n.cl.clock())
		n.core.pump(t, n.cl.clock()) // a live migration's next chunk
	}
	if !st.Runnable() {
		t.state.Store(tsClaimed)
		n.post(&event{kind: evFinished, t: t})
		return
	}
	if mv := t.moveTo.Swap(0); mv != 0 {
		if at := t.haltAt.Load(); at > 0 {
			n.cl.metrics.recordHalt(n.cl.clock() - time.Duration(at))
		}
		t.state.Store(tsClaimed)
		n.post(&event{kind: evParked, t: t, to: NodeID(mv - 1)})
		return
	}
	n.requeue(w, t)
}

// requeue pushes t, which yielded, back at the newest end of w's deque: it
// runs again after the tasks queued before it (see next). Owner only.
func (n *liveNode) requeue(w *worker, t *task) {
	t.state.Store(tsQueued)
	w.dq.Push(t)
	w.queued.Store(int64(w.dq.Len()))
	// Push published half of the private part if a sibling asked; wake one.
	if w.dq.Stealable() > 0 {
		for _, v := range n.workers {
			if v != w && v.idle.Load() {
				wakeWorker(v)
				break
			}
		}
	}
}
