package cluster

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/engine"
)

// Errors returned by the cluster API.
var (
	ErrNoSuchIsolate = errors.New("cluster: no such isolate")
	ErrNotHere       = errors.New("cluster: isolate is not on that node")
	ErrBusy          = errors.New("cluster: isolate is being handed off")
	ErrNoSuchNode    = errors.New("cluster: no such node")
	ErrNodeDown      = errors.New("cluster: node is down")
	ErrNotLocal      = errors.New("cluster: node runs in another process")
	ErrNoTarget      = errors.New("cluster: no live node to move isolates to")
	// ErrNodeFull: taking the isolate would put the node past
	// Config.MemoryBudget. A target refuses such an OFFER (NACK refused),
	// a node serving STEAL gives nothing, and Spawn returns it.
	ErrNodeFull = errors.New("cluster: node memory budget exhausted")
)

// task is one isolate on one node. The fields in the first group are shared
// between the node's control side and its workers; the rest belong to
// whoever holds the task (a worker while it runs or queues it, the control
// side while it is parked), and are handed over through the queues, which
// order the accesses.
type task struct {
	state  atomic.Uint32 // tsQueued, tsRunning or tsClaimed; see below
	moveTo atomic.Uint32 // move target + 1, 0 for none: set by the control side, consumed by whoever parks the task
	haltAt atomic.Int64  // clock reading (ns) of the move request
	steps  atomic.Uint64 // instructions executed, published after each quantum
	stopAt atomic.Uint64 // park at the first safepoint at or after this many instructions; 0 for none
	stopTo atomic.Uint32 // where to move it then, + 1
	atStop atomic.Bool   // the worker parked it for its planned stop (not for another move)
	// pre is the live migration in progress, if any (precopy.go): set by
	// the control side, used by whoever holds the task.
	pre atomic.Pointer[precopyRun]

	id    IsolateID
	iso   *engine.Isolate
	prog  *engine.Program
	trace int64 // clock reading (ns) of the halt request that moved it here; the first quantum records its queue wait
	// mem is the isolate's footprint as last accounted in its node's
	// reserved bytes (nodeCore.mem); whoever holds the task updates it.
	mem int64
	// arrived is the clock reading (ns) when this node took the isolate
	// (accept): the end of its downtime, the start of its queue wait.
	arrived int64
	buf     []byte // the received OFFER the isolate's memory aliases, if any; recycled when it leaves or ends

	// Control side only.
	epoch       uint64
	parked      bool   // in a handoff, owned by the protocol
	confirmed   bool   // no other node holds a copy: may publish and move on
	heldDone    bool   // finished while unconfirmed: publish on confirm
	pendingMove uint32 // move target + 1 requested while unconfirmed
	waitConfirm bool   // parked while unconfirmed: hand off on confirm
	offeredTo   NodeID // the target of its last handoff, for EvResumed
	route       []Stop // stops planned after the current one; they travel in the OFFER
	carryRoute  bool   // parked for its planned stop: the handoff carries route on

	// With a ledger (see ledgered.go): the entry the node holds the
	// isolate by, and which ledger call it waits for, if any.
	entry      ledger.Entry
	committing bool  // accepted, not runnable until the ledger moves it here
	arrival    Event // committing: the EvArrived to report once it is here
	settling   bool  // parked after a handoff, until the ledger says who owns it
	finishing  bool  // finished, published once the ledger records it
}

// budget returns the instruction budget of t's next quantum, given the
// quantum q, and whether t must instead park now because it reached its
// stop point. Whoever runs t calls it.
func (t *task) budget(q int64) (int64, bool) {
	s := t.stopAt.Load()
	if s == 0 {
		return q, false
	}
	cur := t.iso.Steps()
	if cur >= s {
		return 0, true
	}
	return min(q, int64(s-cur)), false
}

// reachedStop turns a reached stop point into a move request and reports
// whether it did. now is the clock reading for the halt figures.
func (t *task) reachedStop(now time.Duration) bool {
	s := t.stopAt.Load()
	if s == 0 || t.iso.Steps() < s {
		return false
	}
	t.stopAt.Store(0)
	t.haltAt.Store(int64(now))
	if t.moveTo.CompareAndSwap(0, t.stopTo.Load()) { // an operator's pending move wins
		t.atStop.Store(true)
	}
	return true
}

// Task states. A task in a deque or an inbox is queued; the worker that
// pops it moves it to running with a CAS, and back to queued when it pushes
// it again. The control side may claim a queued task with a CAS (to move
// it at once, without waiting for a worker to reach it); the pointer left
// in the deque is then a tombstone that whoever pops or steals it skips,
// because its CAS fails. A worker hands a finished or parked task to the
// control side as claimed.
const (
	tsQueued uint32 = iota
	tsRunning
	tsClaimed
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	EvSpawned   EventKind = iota + 1 // an isolate was created on Node
	EvHalted                         // parked and encoded on Node for a handoff to Peer: PC, Steps, Hash, Bytes, Epoch
	EvArrived                        // Node decoded, verified (Hash) and took the isolate from Peer at Epoch; Downtime since the halt request
	EvRunning                        // the isolate's first quantum on Node began: Downtime (halt request → arrival) and QueueWait (arrival → this quantum)
	EvMigrated                       // Node dropped its copy: Peer owns the isolate
	EvResumed                        // the handoff to Peer failed; Node runs the isolate again (at Epoch)
	EvCompleted                      // the isolate finished or faulted on Node and its result was published
	EvFenced                         // the ledger refused Node the isolate at Epoch (from Peer, if it was an offer): Node dropped its copy unrun or unpublished
)

var evNames = [...]string{"?", "spawned", "halted", "arrived", "running", "migrated", "resumed", "completed", "fenced"}

func (k EventKind) String() string {
	if int(k) < len(evNames) {
		return evNames[k]
	}
	return "event?"
}

// Event reports one step in an isolate's life. Fields beyond Kind, Node and
// ID are set where the kind says.
type Event struct {
	Kind      EventKind
	Node      NodeID
	Peer      NodeID
	ID        IsolateID
	Epoch     uint64
	PC        uint32
	Steps     uint64
	Hash      [32]byte
	Bytes     int
	Downtime  time.Duration // halt request → the target took the isolate and made it runnable
	QueueWait time.Duration // the target took it → its first quantum there began
	At        time.Duration // clock reading
}

// Completion is the published end of one isolate.
type Completion struct {
	ID      IsolateID
	Node    NodeID // where it completed
	Status  engine.Status
	Result  string // engine.FormatResult
	Err     string // the fault, if Faulted
	Steps   uint64
	Hash    [32]byte // final state hash
	Epoch   uint64   // the epoch it completed at: its ledger epoch, with a Ledger
	Latency time.Duration
	Count   int // times published: anything but 1 is a bug
}

// collector is the cluster-wide observer: it counts completions per
// isolate, keeps the metrics and forwards events. Nodes share nothing
// through it; it only watches.
type collector struct {
	m          *Metrics
	onEvent    func(Event)
	onComplete func(Completion)
	clock      func() time.Duration

	mu        sync.Mutex
	spawnAt   map[IsolateID]time.Duration
	results   map[IsolateID]*Completion
	where     map[IsolateID]NodeID // last node that took or spawned it, until it completes
	crashLost map[IsolateID]bool   // held by a node when it crashed
	changed   chan struct{}        // closed and replaced on every completion
}

func newCollector(m *Metrics, clock func() time.Duration, onEvent func(Event)) *collector {
	return &collector{
		m: m, clock: clock, onEvent: onEvent,
		spawnAt:   make(map[IsolateID]time.Duration),
		results:   make(map[IsolateID]*Completion),
		where:     make(map[IsolateID]NodeID),
		crashLost: make(map[IsolateID]bool),
		changed:   make(chan struct{}),
	}
}

func (c *collector) event(e Event) {
	e.At = c.clock()
	switch e.Kind {
	case EvSpawned, EvArrived:
		c.mu.Lock()
		c.where[e.ID] = e.Node
		c.mu.Unlock()
	}
	if c.onEvent != nil {
		c.onEvent(e)
	}
}

func (c *collector) spawned(id IsolateID, node NodeID) {
	now := c.clock()
	c.m.recordSpawn(now)
	c.mu.Lock()
	c.spawnAt[id] = now
	c.mu.Unlock()
	c.event(Event{Kind: EvSpawned, Node: node, ID: id})
}

func (c *collector) complete(node NodeID, t *task) {
	now := c.clock()
	st := t.iso.State()
	r := &Completion{ID: t.id, Node: node, Status: st.Status, Result: engine.FormatResult(t.prog, st), Steps: st.Steps, Hash: st.Hash(), Epoch: t.epoch, Count: 1}
	if err := t.iso.Err(); err != nil {
		r.Err = err.Error()
	}
	c.mu.Lock()
	if old := c.results[t.id]; old != nil {
		old.Count++
		c.mu.Unlock()
		return
	}
	r.Latency = now - c.spawnAt[t.id]
	c.results[t.id] = r
	delete(c.where, t.id)
	ch := c.changed
	c.changed = make(chan struct{})
	c.mu.Unlock()
	close(ch)
	c.m.recordCompletion(r.Latency, now)
	c.event(Event{Kind: EvCompleted, Node: node, ID: t.id, Epoch: t.epoch, Steps: st.Steps, Hash: r.Hash})
	if c.onComplete != nil {
		c.onComplete(*r)
	}
}

func (c *collector) lostWith(ids []IsolateID) {
	c.mu.Lock()
	for _, id := range ids {
		c.crashLost[id] = true
	}
	c.mu.Unlock()
}

// Outcome is the account of every isolate a cluster spawned.
type Outcome struct {
	Spawned    int
	Completed  []*Completion // by id
	Duplicated []IsolateID   // published more than once: always a bug
	Missing    []IsolateID   // never completed
	// CrashLost lists the missing isolates that a crashed node held when it
	// crashed; a missing isolate not in it was lost by the protocol.
	CrashLost []IsolateID
}

// Lost returns the missing isolates that no crash explains.
func (o *Outcome) Lost() []IsolateID {
	crash := make(map[IsolateID]bool, len(o.CrashLost))
	for _, id := range o.CrashLost {
		crash[id] = true
	}
	var l []IsolateID
	for _, id := range o.Missing {
		if !crash[id] {
			l = append(l, id)
		}
	}
	return l
}

func (c *collector) outcome() *Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := &Outcome{Spawned: len(c.spawnAt)}
	for id := range c.spawnAt {
		r := c.results[id]
		switch {
		case r == nil:
			o.Missing = append(o.Missing, id)
			if c.crashLost[id] {
				o.CrashLost = append(o.CrashLost, id)
			}
		default:
			cp := *r
			o.Completed = append(o.Completed, &cp)
			if r.Count != 1 {
				o.Duplicated = append(o.Duplicated, id)
			}
		}
	}
	sort.Slice(o.Completed, func(i, j int) bool { return o.Completed[i].ID < o.Completed[j].ID })
	for _, l := range [][]IsolateID{o.Duplicated, o.Missing, o.CrashLost} {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	}
	return o
}

// pending returns how many spawned isolates have not completed and are not
// known lost with a crash, and a channel closed at the next completion.
func (c *collector) pending() (int, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for id := range c.spawnAt {
		if c.results[id] == nil && !c.crashLost[id] {
			n++
		}
	}
	return n, c.changed
}

func (c *collector) whereIs(id IsolateID) (NodeID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.where[id]
	return n, ok
}

// claimQueued takes up to max tasks from k queues, one from each in turn,
// with take(i) (nil when queue i has nothing more), and keeps the tasks it
// claims (queued → claimed). The others were tombstones: a worker or the
// control side had claimed them already, and leaving the queue is all that
// was left for them to do.
func claimQueued(max, k int, take func(i int) *task) []*task {
	var out []*task
	for len(out) < max {
		got := false
		for i := 0; i < k && len(out) < max; i++ {
			if t := take(i); t != nil {
				got = true
				if t.state.CompareAndSwap(tsQueued, tsClaimed) {
					out = append(out, t)
				}
			}
		}
		if !got {
			return out
		}
	}
	return out
}
