package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/engine"
)

// PreCopy configures a live migration (Cluster.MigratePreCopy): the
// source sends the isolate's heap in rounds of dirty pages while it keeps
// running, and stops it only to send the pages written since the last
// round with its registers, frames and globals (see the package doc,
// "Pre-copy"). Zero fields take the defaults.
type PreCopy struct {
	// ChunkPages is how many pages one PAGES message carries at most; the
	// source takes one chunk at the end of each quantum. Default 64
	// (512 KiB), under a NATS server's default 1 MiB payload.
	ChunkPages int
	// StopPages: once the first round is over, the first quantum's end
	// that finds at most this many pages dirty sends them, and the source
	// stops the isolate after one more quantum, a sixteenth as long, if
	// that wrote at most this many pages too (else the rounds go on), and
	// sends them with the rest. It bounds what the stop hashes and sends,
	// whatever the heap's size, unless MaxRounds forces the stop. Default
	// 8 (64 KiB): the rounds drain what earlier quanta left dirty first, so
	// that what is left is what the last quantum wrote.
	StopPages int
	// MaxRounds bounds the rounds when the dirty set stops shrinking (the
	// isolate writes faster than the rounds go out): after MaxRounds the
	// source stops it anyway and sends what remains. Default 8.
	MaxRounds int
	// Quantum is the isolate's quantum while it is pre-copied: the
	// instructions it runs between two chunks, and so what it may write
	// between the last look at its dirty pages and the stop. Default
	// 2500 (some 10 µs here), or the node's quantum if shorter.
	Quantum int64
	// AutoConverge halves that quantum after each round whose dirty set
	// did not shrink (down to 1/16), so that the source copies more often
	// per instruction the isolate runs.
	AutoConverge bool
}

func (p PreCopy) withDefaults() PreCopy {
	if p.ChunkPages <= 0 {
		p.ChunkPages = 64
	}
	if p.StopPages <= 0 {
		p.StopPages = 8
	}
	if p.MaxRounds <= 0 {
		p.MaxRounds = 8
	}
	if p.Quantum <= 0 {
		p.Quantum = 2500
	}
	return p
}

// precopyRun is one live migration in progress on its source. Whoever
// holds the task (a worker after a quantum, or the control side while it
// is parked) uses it; the control side creates it and hands it over
// through task.pre.
type precopyRun struct {
	opts    PreCopy
	to      NodeID
	session uint64
	cursor  int    // next page of the current round
	round   int    // rounds completed
	chunks  uint32 // PAGES messages sent
	last    int    // dirty pages at the end of the previous round
	slow    int    // quantum divisor (auto-converge): 1, 2, 4, ... 16
	began   bool   // the first chunk was taken: every page was marked dirty then
	closing bool   // converged: the last pages went out, one short quantum runs before the stop
	forced  bool   // MaxRounds stopped it without converging
	done    bool   // the rounds are over: the isolate parks for the final OFFER
	pages   []uint32
	buf     []byte
}

// closingDivisor shortens the closing quantum, the one between the
// converged look at the dirty pages (which sends them) and the stop: what
// it writes is what the stop hashes and sends, so the stop's work follows
// the write rate over a sixteenth of a quantum (some 0.6 µs here) rather
// than over a whole one. At 256 MiB and 1 % of the pages written per
// millisecond, that is 0.2 pages rather than 3.
const closingDivisor = 16

// errNoBase refuses a pre-copy OFFER whose rounds the target does not
// hold (a lost PAGES message, a restart, an expired session).
var errNoBase = errors.New("cluster: pre-copy offer without the rounds it builds on")

// pagesEnvelope is the PAGES message's header: the kind byte and 7 zero
// bytes, so the codec's pages encoding that follows stays 8-aligned.
const pagesEnvelope = 8

// precopy starts a live migration of isolate id to node to.
func (c *nodeCore) precopy(id IsolateID, to NodeID, opts PreCopy) error {
	t, err := c.movable(id, to)
	if t == nil {
		return err
	}
	if !t.confirmed || t.pre.Load() != nil {
		return ErrBusy
	}
	c.sessions++
	run := &precopyRun{opts: opts.withDefaults(), to: to, session: uint64(c.id)<<48 | c.sessions, slow: 1}
	t.stopAt.Store(0)
	t.stopTo.Store(0)
	t.route = nil
	t.pre.Store(run)
	c.col.m.precopyStarted.Add(1)
	return nil
}

// pump runs after each quantum of a task in a live migration, by whoever
// holds the task. Once a first round has sent every page, the first time
// at most StopPages pages are dirty it sends them and closes: the next
// quantum is short, and if after it at most StopPages pages are dirty
// again (or at once after MaxRounds rounds) the pump asks for the task to
// park for run.to and returns true, and the caller parks it as for any
// move. Otherwise it takes up to ChunkPages dirty pages from the round's
// cursor on and sends them as one PAGES message. Because it looks before
// it takes, the pages left for the stop are those the closing quantum
// wrote, never more than StopPages unless MaxRounds forced the stop (see
// the package doc, "Pre-copy").
func (c *nodeCore) pump(t *task, now time.Duration) bool {
	run := t.pre.Load()
	if run == nil || run.done {
		return false
	}
	iso := t.iso
	if !run.began {
		// The target holds no page yet, whatever earlier syncs took.
		iso.MarkAllDirty()
		run.began = true
	}
	n := engine.NumPages(len(iso.State().Heap))
	if run.closing {
		run.closing = false
		if iso.DirtyPages() <= run.opts.StopPages {
			return c.stopForFinal(t, run, now)
		}
		// The closing quantum wrote more than a stop may carry (a burst, a
		// collection): the rounds go on, until they converge again or
		// reach MaxRounds.
		c.col.m.precopyReopened.Add(1)
	} else if run.round > 0 && iso.DirtyPages() <= run.opts.StopPages {
		// Converged: send the last dirty pages, ready the stack for the
		// stop, and stop after one closing quantum, whose writes are what
		// the stop carries. Also with no page dirty: the stack is readied
		// while the isolate still runs, and the quantum costs 0.6 µs.
		run.closing = true
		c.sendChunk(t, run, 0, n, run.opts.StopPages)
		growStack()
		return false
	}
	if run.round >= run.opts.MaxRounds {
		run.forced = true
		return c.stopForFinal(t, run, now)
	}
	run.cursor = c.sendChunk(t, run, run.cursor, n, run.opts.ChunkPages)
	if run.cursor >= n {
		// A round ends: the cursor starts over, and a round that left as
		// many pages dirty as the one before slows the isolate down.
		run.round++
		run.cursor = 0
		c.col.m.precopyRounds.Add(1)
		dirty := iso.DirtyPages()
		if run.opts.AutoConverge && run.round >= 2 && dirty >= run.last && run.slow < 16 {
			run.slow *= 2
		}
		run.last = dirty
	}
	return false
}

// stopForFinal ends the rounds of run: the task parks at once for
// run.to, and its handoff sends the final OFFER. It returns true, for
// pump's caller to park the task as for any move.
func (c *nodeCore) stopForFinal(t *task, run *precopyRun, now time.Duration) bool {
	run.done = true
	t.haltAt.Store(int64(now)) // the downtime starts now
	// An operator's move asked for meanwhile wins: it parks the task for
	// its own target, and the handoff sends it whole.
	t.moveTo.CompareAndSwap(0, uint32(run.to)+1)
	return true
}

// sendChunk takes up to max dirty pages of t's isolate in [from, to) and
// sends them as the next PAGES message of run, and returns where the
// search stopped.
func (c *nodeCore) sendChunk(t *task, run *precopyRun, from, to, max int) int {
	st := t.iso.State()
	var next int
	run.pages, next = t.iso.TakeDirty(run.pages[:0], from, to, max)
	if len(run.pages) > 0 {
		h := codec.PagesHeader{Isolate: uint64(t.id), Session: run.session, Seq: run.chunks}
		run.buf = append(run.buf[:0], byte(mPages), 0, 0, 0, 0, 0, 0, 0)
		run.buf = codec.AppendPages(run.buf, h, st.Heap, run.pages)
		run.chunks++
		c.col.m.precopyBytes.Add(int64(len(run.buf)))
		c.col.m.precopyPages.Add(int64(len(run.pages)))
		c.sendFn(run.to, run.buf)
	}
	return next
}

// quantumFor returns the quantum of a task: q, or in a live migration
// PreCopy.Quantum (if shorter), shortened further by auto-converge, and
// to a closingDivisor-th of that for the closing quantum.
func quantumFor(t *task, q int64) int64 {
	if run := t.pre.Load(); run != nil && !run.done {
		q = min(q, run.opts.Quantum) / int64(run.slow)
		if run.closing {
			q /= closingDivisor
		}
		return max(q, 1)
	}
	return q
}

// finalOffer encodes the OFFER of a live migration's stop: the pages
// still dirty, the registers, frames, globals and output, and the state
// hash, kept current page by page. It returns nil when t is in no live
// migration to node to.
func (c *nodeCore) finalOffer(t *task, to NodeID, e uint64, trace int64, route []Stop) ([]byte, [32]byte) {
	run := t.pre.Swap(nil)
	if run == nil || run.to != to || run.chunks == 0 {
		return nil, [32]byte{}
	}
	iso := t.iso
	st := iso.State()
	all := engine.NumPages(len(st.Heap))
	run.pages, _ = iso.TakeDirty(run.pages[:0], 0, all, all)
	sum := iso.Hash()
	msg := c.offers.get(offerHeaderLen(len(route)) + codec.FinalSize(st, run.pages))
	msg = appendOfferHeader(msg, t.id, e, t.prog.Hash(), trace, route)
	msg = codec.AppendFinal(msg, codec.Meta{Isolate: uint64(t.id), Epoch: e}, st, run.session, run.chunks, run.pages, &sum)
	c.col.m.recordPreCopy(run.forced, run.round, len(run.pages))
	return msg, sum
}

// stage is what a target holds of a live migration in progress: the pages
// received so far, assembled into a heap.
type stage struct {
	session uint64
	asm     *codec.Assembler
	bytes   int64 // what asm holds, as accounted in nodeCore.stagedBytes
	touched time.Duration
}

type stageKey struct {
	from NodeID
	id   IsolateID
}

// onPages takes one PAGES message from node from. Nothing in it confers
// ownership: it only builds the heap a later OFFER may refer to, and a
// bad, late or unwanted chunk is dropped (the OFFER then fails, and the
// source keeps running the isolate).
func (c *nodeCore) onPages(from NodeID, payload []byte) {
	h, err := codec.PeekPages(payload)
	if err != nil {
		c.proto.stats.Bad++
		return
	}
	id := IsolateID(h.Isolate)
	key := stageKey{from, id}
	s := c.stages[key]
	switch {
	case s != nil && h.Session < s.session:
		return // a straggler of an older live migration: sessions only grow
	case s != nil && h.Session > s.session:
		if h.Seq != 0 {
			return // not the start of the newer one: keep what we have
		}
		c.dropStage(key) // a newer live migration replaces an abandoned one
		s = nil
	}
	if s == nil {
		if h.Seq != 0 || c.draining || c.stopped || c.tasks[id] != nil || len(c.stages) >= maxStages {
			return
		}
		if c.stagedBytes+stageOverhead > c.stageBudget() || c.full(stageOverhead) {
			return
		}
		s = &stage{session: h.Session, asm: codec.NewAssembler(h.Isolate, h.Session, c.cfg.Limits), bytes: stageOverhead}
		c.stagedBytes += stageOverhead
		c.mem.Add(stageOverhead)
		c.stages[key] = s
	}
	if h.Seq < s.asm.Next() {
		return // a duplicate: the network delivered a chunk twice
	}
	if err := s.asm.Add(payload); err != nil {
		c.col.m.precopyBroken.Add(1)
		c.dropStage(key)
		return
	}
	s.touched = c.now
	grew := stageOverhead + int64(s.asm.Bytes()) - s.bytes
	if c.stagedBytes+grew > c.stageBudget() || c.full(grew) {
		c.col.m.precopyBroken.Add(1)
		c.dropStage(key)
		return
	}
	s.bytes += grew
	c.stagedBytes += grew
	c.mem.Add(grew)
	// Ready the checker for this heap now: a cold one would allocate and
	// fault in its bitmap (heap/64 bytes) during the stop.
	c.decodeOpt.Checker.Reserve(s.asm.Len())
}

func (c *nodeCore) dropStage(key stageKey) {
	if s := c.stages[key]; s != nil {
		c.stagedBytes -= s.bytes
		c.mem.Add(-s.bytes)
		delete(c.stages, key)
	}
}

// A stage costs more than its pages: the record, the Assembler, its tree's
// slices and a map entry, about 1 KiB measured; stageOverhead charges it
// (with margin) against the budget, and maxStages bounds how many a node
// assembles at once, so that a member opening stages with one tiny page
// each pays for what it holds.
const (
	stageOverhead = 4 << 10
	maxStages     = 1024
)

// stageBudget bounds the bytes of live migrations a node assembles at
// once: half its memory budget.
func (c *nodeCore) stageBudget() int64 { return c.cfg.MemoryBudget / 2 }

// stageTTL is how long a target keeps the pages of a live migration that
// has gone quiet.
func (c *nodeCore) stageTTL() time.Duration { return max(100*c.proto.cfg.offerTimeout, 2*time.Second) }

// expireStages drops the pages of live migrations quiet for stageTTL.
func (c *nodeCore) expireStages() {
	for key, s := range c.stages {
		if c.now-s.touched > c.stageTTL() {
			c.col.m.precopyExpired.Add(1)
			c.dropStage(key)
		}
	}
}

// decodeOffer decodes the state an OFFER from node from carries: a whole
// state, or the final message of a live migration, assembled with the
// pages received before it.
func (c *nodeCore) decodeOffer(from NodeID, m *message) (codec.Meta, engine.Checked, error) {
	if !codec.IsFinal(m.payload) {
		return c.decodeOpt.DecodeChecked(m.payload, c.resolve)
	}
	key := stageKey{from, m.id}
	s := c.stages[key]
	if s == nil {
		return codec.Meta{}, engine.Checked{}, errNoBase
	}
	c.dropStage(key) // the isolate's footprint takes over (account)
	meta, chk, err := c.decodeOpt.DecodeFinal(s.asm, m.payload, c.resolve)
	if err != nil {
		return meta, chk, fmt.Errorf("%w: %w", errNoBase, err)
	}
	return meta, chk, nil
}
