// Package cluster runs isolates on a cluster of nodes, moves running
// isolates between nodes without losing or duplicating them, and balances
// load by stealing work across nodes.
//
// # Shape
//
// A node has one worker per configured core and one control side:
//
//	network ──Transport──▶ receive ─┐
//	workers: parked, finished ──────┼─▶ events (queue.Inbox, MPSC) ──▶ the driver: whoever won the CAS ── nodeCore
//	operator calls, ticker ─────────┘                                   │  proto (handoff state machine)
//	                                                                     │  registry, programs, peers
//	                                                                     ▼
//	   worker i: inbox (queue.Inbox) ─▶ deque (queue.Deque, owner pops bottom) ─▶ Run(quantum)
//	             ▲ injected by the driver         ▲ idle siblings StealHalf from the top
//
// Each worker owns a split work-stealing deque (queue.Deque: private newest
// tasks, a Chase-Lev public part) and a small inbox into
// which the control side injects tasks (arrivals, spawns, resumed copies).
// A worker takes, in order: the first task in its inbox (Go's runnext: an
// arrival runs next, but at most every other quantum; later ones join the
// deque), the oldest task of its own deque (the owner takes the top with
// Steal; see takeOldest), then half of a sibling's deque
// (StealHalf; no serialization inside a node). It runs one quantum, then
// pushes the task back at the newest end unless it finished, faulted or was
// asked to move, in which case it hands the task to the control side
// through the node's event inbox. So the tasks queued on a worker take
// turns, like the FIFO local run queue of Go's scheduler: a spinning
// isolate cannot starve one queued behind it (TestWorkerFairness; the Sim
// does the same with a FIFO and a runnext slot, TestSimFairness).
// Per-worker data is padded to 128 bytes on both sides (see
// cacheLinePad). Workers yield the processor after each quantum so that
// goroutines they woke are never starved by the runtime's 10 ms
// preemption.
//
// The control side is the nodeCore: the registry of isolates the node
// holds, the program cache, the other nodes' gossiped load, and the handoff
// state machine (proto). nodeCore and proto are deterministic and
// single-threaded; time is passed in. In a Cluster no goroutine is dedicated
// to it: every event goes into the node's event inbox, and the goroutine
// that queued it then tries to become the node's driver (a CAS on a flag,
// never waited for) and, if it wins, runs the core over the queued events —
// a combining lock. A driver hands a backlog of more than driveBudget
// events to the node's ticker, so that a driver nested through an inline
// delivery gets back to its own node. A worker that parks an isolate therefore encodes and sends it
// itself, and on an instant link the target's decode, verification and
// resume run in that same goroutine; the only goroutine hand-off in a
// migration is waking the target's worker. A per-node ticker drives the
// core's timers. An idle node is nearly free: its ticker dozes, its workers
// park, and it repeats an unchanged idle load to its peers only every
// idleBeats heartbeats (BenchmarkIdleCluster). The same nodeCore runs under
// the simulator (Sim: one goroutine, the Net in virtual time, simulated
// workers that run the isolates for real and charge Config.StepCost per
// instruction).
//
// # Quantum
//
// A quantum is an instruction budget. DefaultQuantum derives its length from
// the cache geometry that klauspost/cpuid reports (CacheLine, Cache.L1D;
// 0 or -1 when unknown, then 64 B and 32 KiB): switching isolates costs
// about one L1D refill from L2, (L1D/CacheLine) × 4 ns, about 3 µs for
// 48 KiB; a quantum of 50 such refills keeps switching under about 2 %, and
// is clamped to [20 µs, 1 ms]. The duration is turned into instructions
// with the interpreter speed measured once at start-up (about 2 ms of a loop
// workload), clamped to [16 Ki, 4 Mi]. Halting does not wait for the
// quantum: the engine polls halt requests every 1024 instructions. On the
// development machine (48 KiB L1D, 64 B lines, ~0.45 instructions/ns) this
// gives about 150 µs, 70 000 instructions.
//
// # Transport and simulated network
//
// Transport carries []byte messages: Send(from, to, msg) copies msg, and
// Listen installs a node's delivery function. Net is the simulated network
// in virtual time (etcd raft/rafttest style): every message is copied, and
// per directed link there is latency, jitter, bandwidth (a link transmits
// one message at a time), loss, duplication and reordering; links can be
// cut and healed, nodes isolated, healed and crashed. All randomness comes
// from one seeded generator. Live runs a Net in wall-clock time with one
// delivery goroutine, delivering inline on instant links.
//
// # Simulated and real transports
//
// A Cluster builds its own Live network unless Config.Transport names
// another Transport, such as natsnet's (NATS core, one connection per
// node); if it is also a Recycler, nodes hand delivered buffers back. The
// cluster does not own a Transport it is given: the nodes must be able to
// send on it before New, and Close leaves it open (the stopped nodes drop
// what it still delivers). On a given Transport, Net returns nil and
// Config.Link and Config.Seed are ignored (the core models no link: no
// transmission time is added to the offer timeout).
//
// Crash means different things on the two. On the simulated network the
// network itself crashes the node: its traffic, in flight or later, is
// dropped. On a given Transport the cluster cannot touch the network, so
// the node goes silent: its goroutines stop, it sends nothing more and
// drops what it receives; what it handed the transport before the crash
// may still arrive, as a real process's last packets may. Either way the
// failure oracle tells the other nodes after Config.DetectDelay.
//
// Timing defaults follow the transport. On the simulated network RTO is
// 2 ms plus four link delays (plus the time a 64 KiB offer takes to cross
// a link with limited bandwidth). A real network's delay is not known
// ahead, so on a given Transport RTO defaults to DefaultRealRTO, 20 ms:
// room for a 1 MiB state to cross a loaded loopback or LAN; a resend costs
// only bandwidth and a late one only time, so erring long is safe.
// OfferTimeout is ten RTO on both (200 ms on a real one). Set either in
// Config to override.
//
// # Messages
//
// Every message starts with a kind byte; see wire.go for the layouts.
//
//	OFFER      id, epoch, program hash, trace, planned stops, state (codec encoding, 8-aligned)
//	ACK        id, epoch          target owns the isolate at epoch
//	NACK       id, epoch, reason  target refuses epoch (draining, bad state, stale, full)
//	ABORT      id, epoch          source gives up unless the target took it
//	ABORTED    id, epoch          target did not take it and never will
//	CONFIRM    id, epoch          source has dropped its copy
//	FETCH      program hash       send me this program
//	PROGRAM    program hash, engine.Program.MarshalBinary
//	HEARTBEAT  queued, running, idle, draining
//	STEAL      max                an idle node asks for work
//	STEALREPLY n                  how many isolates are being handed over
//
// # Handoff protocol
//
// An isolate has an epoch, 0 when spawned, bumped by every handoff attempt.
// It runs in exactly one place: the node that holds its highest accepted
// epoch. Source S and target T:
//
//	source side, per isolate (outRec)
//
//	  RUNNING ──move/drain/steal──▶ PARKED: halted at a safepoint (or taken
//	      ▲                          from the deque), encoded at epoch e+1,
//	      │                          OFFER sent; S keeps the encoded copy
//	      │                             │ resend OFFER (backoff, below)
//	      │        NACK(e) / ABORTED(e) │ ACK(e) ──▶ DROPPED: copy freed,
//	      ├─────────────────────────────┤            CONFIRM(e) sent (and resent
//	      │  T reported crashed         │            for every duplicate ACK)
//	      │                             │ no answer for OfferTimeout
//	      │                             ▼
//	      └──── ABORTED(e) / NACK(e) ── ABORTING: ABORT(e) sent, resent every
//	            (T crashed: resume)      with backoff; ACK(e) ──▶ DROPPED
//
//	target side, per (isolate, epoch): a decision, kept down to 8 epochs
//	below the highest verified epoch, and at most 16 above it (then the floor)
//
//	  OFFER(e), e <= highest verified epoch or <= the floor, no decision
//	      ─▶ NACK(stale)
//	  OFFER(e) new, program unknown ─▶ WAITING: FETCH sent to S (again on
//	      every resend of the OFFER); PROGRAM ─▶ verify hash, cache, go on
//	  OFFER(e) new, program known ─▶ decode, check, verify the state hash,
//	      engine.Resume; failure ─▶ REFUSED (NACK); success ─▶ ACCEPTED:
//	      T runs the isolate and answers ACK, UNCONFIRMED until CONFIRM(e)
//	      (ACK resent, with backoff)
//	  ABORT(e) from S ─▶ ACK if ACCEPTED; else ABORTED, recorded, so that a
//	      late OFFER(e) is answered ABORTED (or NACK) and never taken
//	  duplicate OFFER(e) or ABORT(e) ─▶ the same answer again
//
// Every OFFER and every ABORT is answered, whatever the node holds; the
// exceptions are a decision that needs a tombstone when there is no room
// for one (see Pruning), and messages that name an offer that waits for
// its program: a duplicate of it (answered by a FETCH), and an OFFER of
// its epoch from another node whose program is unknown too (ignored,
// counted Spoofed: only one offer waits per isolate, and the waiting one
// came first; its source aborts, and is answered). A waiting offer does
// not block another node's OFFER or ABORT of its epoch, which are handled
// on their own merits (counted Spoofed): an ABORT is answered ABORTED and
// recorded for its sender only, and the waiting offer stays (only its
// source may cancel it, as only the source's CONFIRM, NACK or ACK count
// for a handoff; TestProtoSpoofedAbortIgnored); a later OFFER of that
// epoch from that sender is answered ABORTED, and if the waiting offer
// goes undecided (expires, or is replaced) the epoch is recorded aborted.
// An OFFER from another node whose program is here is tried at once, and
// the waiting offer dropped once the epoch is decided. (A node that kept
// re-sending an OFFER of an isolate's next epoch for a program nobody has
// used to keep the real source's OFFERs and ABORTs unanswered, and its
// isolate parked, for as long as it went on;
// TestProtoPendingSquatterDoesNotWedgeSource.) An OFFER from a
// node reported crashed whose program is unknown is recorded aborted and
// not answered: nobody is left to answer, or to fetch the program from. A newer OFFER of the isolate, of
// another epoch, replaces the waiting one, unanswered and undecided: its
// source resends it, or aborts, and is answered then.
//
// The highest verified epoch of an isolate rises only with what the node
// has checked: an OFFER it decoded, verified and took, or an epoch it
// spawned, resumed or handed off itself. An OFFER that fails to decode, a
// refusal, an ABORT or an offer waiting for its program record a decision
// for their own epoch only, so one garbage OFFER with epoch 2^62 cannot
// make every later handoff of the isolate stale. A refusal is recorded,
// never forgotten, because a late duplicate of the refused epoch must not
// be taken after its source resumed its copy. A node keeps at most 16 such
// unverified decisions per isolate (maxUnverified); a 17th evicts the
// lowest of them and raises the isolate's floor to it: every undecided
// epoch at or below the floor is refused (NACK stale) from then on. So the
// evicted decision stays in force (refusing is always safe: a refused
// source resumes its copy and offers again at a higher epoch), the node
// never has to leave a message unanswered for lack of room, and 17
// refusals in a row (a draining or full target) or 16 garbage ABORTs at
// high epochs cannot wedge a handoff (TestProtoSeventeenRefusalsAnswered,
// TestProtoGarbageAbortsDoNotWedgeHandoff). Garbage at epochs above a
// legitimate one can raise the floor past it and so refuse that handoff,
// never make it run twice.
//
// Resends back off. The n-th resend of an OFFER, ABORT or unconfirmed ACK
// waits RTO × 2^n (capped at 8 RTO), half of it fixed and half drawn from
// the node's seeded generator (Config.Seed), so the core stays
// deterministic. An OFFER's wait starts when its previous copy has
// finished transmitting, estimated from its size and Config.Link.Bandwidth,
// and so does the offer timeout: on a slow link a copy sent every RTO
// would only queue behind the one still on the wire (one 544 KB hop at
// 1 MB/s used to send 10 copies; TestSimSlowLinkResends).
//
// An UNCONFIRMED isolate runs, but its effects stay private: if it finishes,
// its completion is published only on CONFIRM; if it is asked to move on, it
// waits for CONFIRM. This is what makes "nothing run twice" hold across a
// crash: S may resume its copy only while T has not confirmed, and T's copy
// has published nothing by then.
//
// Failures. Lost, duplicated or reordered messages are covered by resends,
// epochs and the recorded decisions. A cut link or partition shows as a
// timeout: S aborts and waits for ABORTED or ACK, and resumes only then, so a
// partition that never heals leaves the isolate parked at S (safe, not
// lost). The failure oracle (Config.DetectDelay after Crash; a real network
// would use heartbeat timeouts) tells every node that a peer crashed: S
// resumes every isolate it was handing to the dead node (its copy there died
// too), and T confirms every isolate it took from the dead node (the parked
// copy there died). A crash loses exactly the isolates the crashed node
// owned: those it ran, or parked with no other node holding them yet.
//
// Routes. MigrateAt may plan further stops after the first. The isolate
// carries the rest of its route in each OFFER, and the node that accepts
// it plans the next stop before any worker sees it, so a chain of hops
// needs no request to catch the isolate between them. Only the planned hops
// carry the route on: a failed hop, a drain, a steal or an operator's move
// ends it.
//
// What a node keeps for others is bounded (DESIGN.md invariant 6). An OFFER
// waiting for its program is kept at most OfferTimeout (then dropped,
// unanswered and undecided, its buffer handed back: the source resends, and
// it waits again, or aborts), and the bytes of all such offers stay under
// a pending budget (1/8 of Config.MemoryBudget): an offer past it is
// refused with NACK (reason full), recorded like any refusal, and its
// buffer handed back at once (1000 OFFERs of 128 KiB for an unknown
// program used to keep 250 MiB for good; TestProtoPendingOfferFlood). The
// decisions kept per isolate are bounded (above). Records (the per-isolate
// state of the target side, about 400 B each) are created only by an
// OFFER, or by the node itself spawning, resuming or handing off an
// isolate: an ABORT, NACK, ACK, ABORTED or CONFIRM about an isolate the
// node has no record of creates none (an ABORT is answered from the
// isolate's tombstone, below, and recorded there). Past 65 536 records
// (defaultMaxRecords) an OFFER of an isolate without one is refused
// (NACK full) and the refusal kept in its tombstone (or, if no tombstone
// can be made, left unanswered: see below); the node's own
// isolates always get a record. (200 000 ABORTs for unknown isolates used
// to create 200 000 records, 74 MB; TestProtoAbortsForUnknownIsolatesBounded,
// TestProtoRecordBudget.)
//
// Pruning. A node forgets its record of an isolate once the record is
// idle: the node does not hold the isolate, has no handoff, unconfirmed
// acceptance or waiting offer of it, and has not used the record for the
// horizon, max(10 × OfferTimeout, 4 × the network's longest delay:
// Latency + Jitter + reorder window, of Config.Link, and in the Sim of
// every link SetLink configured). What the record decided is not
// forgotten with it: a tombstone keeps the highest verified epoch, the
// floor and the decisions above the verified epoch (about 64 bytes in its
// map, plus 16 per unverified decision, at most 16 of them); a later OFFER
// of the isolate revives the record from it, and an ABORT is answered
// from it (and recorded in it) without a record. So a late OFFER of an epoch the
// node refused, saw aborted or verified is refused however late it comes
// (TestProtoPrunedRefusalThenLateOffer, TestSimLateDuplicateOfferAfterPrune):
// safety does not rest on a bound on delivery delay.
//
// Tombstones are bounded too, by count, in two classes evicted oldest
// first: 65 536 with a verified epoch (only a real isolate that was here
// makes one; an attacker cannot grow them without running isolates here),
// and 16 384 with unverified decisions only (refusals, aborts of isolates
// the node never held). The class-0 tombstones that one peer's messages
// made (its ABORTs and the OFFERs refused past the record budget) are
// bounded too, by a quota of a quarter of that budget, past which the
// peer's own oldest is evicted: one member flooding ABORTs or OFFERs of
// made-up isolates cannot take the room the others' aborts and refusals
// need (TestProtoTombQuotaPerPeer). A tombstone younger than the horizon
// is never evicted, by the class's budget or by a quota. When the budget,
// or the peer's quota, is full of young tombstones no new one is made,
// and a decision that would need one is not made either: an ABORT that
// cannot be recorded is left unanswered (counted TombsFull; its source
// resends it with backoff and is answered once the oldest tombstone has
// passed the horizon and can be evicted, so the wait is bounded by the
// horizon, unless other peers keep the budget full of young tombstones),
// and so is an OFFER past the record budget whose refusal cannot be
// recorded (a NACK unrecorded would let a late copy of that epoch be
// taken after its source resumed); a record whose tombstone has no room
// is not pruned yet. (16 384 ABORTs for made-up isolates from one node
// used to evict, within microseconds, the tombstone of an abort answered
// a moment before, and a reordered copy of that OFFER still in flight was
// then taken: the isolate ran twice;
// TestProtoFreshAbortTombstoneNotEvicted,
// TestProtoFreshRefusalTombstoneNotEvicted,
// TestProtoRefusalWithoutRoomUnanswered,
// TestSimFreshTombstoneSurvivesAbortFlood.) An evicted tombstone's
// protection falls back to the horizon: an OFFER of an epoch it covered is
// harmless only if every copy of it was delivered before the eviction, and
// a tombstone is evicted no sooner than a horizon after it was made,
// max(10 × OfferTimeout, 4 × the longest delay), which is more than
// OfferTimeout plus the longest delay. The tombstone of an abort is made
// when the ABORT arrives, and the ABORT left its link after every copy of
// the OFFER did, so every copy arrives within the longest delay of it. A
// refusal is made when a copy arrives, and its source sends further
// copies for at most OfferTimeout after its first finished transmitting;
// they arrive within the horizon if their wait to be transmitted on a
// bandwidth-limited link (behind other traffic) stays within the
// horizon's slack. So it holds on the simulated network, which delivers
// every copy within the longest delay (Latency + Jitter + reorder window)
// of the end of its transmission (the Sim's horizon counts every link
// SetLink configured), with that proviso for bandwidth. On the live
// network (Live) it holds likewise, while no link is set, through Live.Do,
// to delays longer than Config.Link's (the horizon counts only
// Config.Link), and while the delivery goroutine lags behind a message's
// due time by less than the horizon's slack; a process stalled for longer
// than that could break it.
// It does not hold on a network without a delay bound, such as NATS.
// There the cluster-wide ledger decides (see "The ledger"): an isolate's
// epoch in the ledger, not a node's memory, says who owns it, so a late
// OFFER of an old epoch cannot be committed, and the tombstones become an
// optimisation. The other messages that can name a pruned
// record are harmless without it:
//   - an ACK for a handoff this node made: the node keeps no record of
//     handoffs it finished; it answers CONFIRM to any ACK of an isolate it
//     neither holds nor is handing off, which is true (it holds no copy)
//     and is what a target still waiting for its lost CONFIRM needs. An
//     isolate it holds again cannot be unconfirmed elsewhere: it left there
//     only after a CONFIRM.
//   - a CONFIRM, NACK or ABORTED: matched against a handoff or an
//     acceptance in flight, and there is none; ignored.
//
// Program by hash. An OFFER names the program by its hash; the target
// fetches bytecode it lacks from the source (FETCH/PROGRAM), checks that it
// hashes right and validates, and caches it.
//
// Buffers. A delivered message belongs to its receiver. An accepted OFFER
// is never copied again: decoding aliases it and engine.Resume takes its
// slices, so the buffer is the isolate's memory from then on. A node hands
// every buffer it did not keep back to the transport once the message is
// handled, and an isolate's OFFER when the isolate leaves the node (after
// the target's ACK) or ends. The transport (a Recycler) copies later
// messages into them, so a steady stream of migrations runs on memory that
// is already mapped. A source's outgoing OFFER comes from, and returns to,
// the node's own pool, once the handoff is decided. See bufPool.
//
// Memory budget. A node accounts the bytes each isolate it holds reserves
// (the capacities of its state's heap, registers, globals, frames and
// output, or the received OFFER its state aliases, whichever is larger),
// updated by the worker after every quantum and by the control side when
// it takes an isolate, and released when the isolate leaves or ends.
// Config.MemoryBudget (default 1 GiB per node) gates new work: an OFFER
// whose message would take the node past it is refused before it is
// decoded (NACK, reason full; recorded like any refusal, and the source
// resumes its copy), a Spawn fails with ErrNodeFull, and a node past it
// sends no STEAL. The isolates it already runs may still grow, each within
// its engine.Limits: the budget bounds what the node takes on, not what
// its isolates do. An eighth of the budget bounds the offers waiting for
// their program (above).
//
// # The ledger
//
// Everything above keeps ownership in the messages and in each node's
// memory, and is exact only while the failure oracle is: a node reported
// crashed must be dead, or a source resumes a copy its target runs
// (TestLedgerFalseSuspicion shows it). Between processes no detector is
// exact (a paused process, a partition) and any member could replay what
// it received. So a multi-process cluster sets Config.Ledger (package
// ledger: a JetStream KV bucket, compare-and-set on each key's revision)
// and the protocol's messages only carry states; the ledger decides who
// owns each isolate. Its entry is (owner, epoch, running|finished). The
// epochs are the protocol's: a handoff offers epoch e+1 of an isolate the
// ledger holds at e, and a reclaim by the source takes e+1 itself.
//
//	spawn    Create(id, self): RUNNING(self, 0); ids node-qualified and
//	         reserved through the ledger (ReserveIDs), unique cluster-wide
//	target   OFFER(e+1) from S verified ─▶ ARRIVING: Commit, a CAS that
//	         moves RUNNING(S, e) to RUNNING(T, e+1), with S the sender the
//	         transport authenticated. Committed ─▶ runnable, and only now
//	         the ACK goes out (holdAck). Refused ─▶ dropped unrun (EvFenced).
//	source   the handoff ends, by ACK, NACK, ABORTED, timeout or the
//	         detector ─▶ SETTLING: Settle reads the entry; moved on ─▶ drop
//	         the parked copy; not ─▶ reclaim, a CAS to RUNNING(S, e+1),
//	         and resume. A lost CAS answer is resolved by reading again.
//	finish   the isolate ends ─▶ FINISHING: Finish, a CAS to
//	         FINISHED(self, e); only then is the completion published.
//	         Refused (the entry moved on) ─▶ nothing published (EvFenced).
//
// Every ledger call runs on a goroutine of its own (ledgerOp) and its
// answer comes back to the core as an event, so the deterministic core
// never waits on the network; the task waits in its ARRIVING, SETTLING or
// FINISHING state, which nothing else moves (movable reports it busy).
//
// Exactly once. An entry's history is one chain of revisions, each written
// by a CAS on the one before, so for each epoch exactly one node ever
// holds the entry RUNNING at it. A node runs an isolate only at an epoch
// the ledger gave it (a Create, a Commit or a reclaim it made), and while
// it runs the isolate the entry cannot move on without it: the only CASes
// on its revision are its own reclaim or Finish, or the Commit of a target
// it offered the isolate to, which happens only while its copy is parked.
// A parked copy runs again only after a reclaim succeeded, which fences
// any Commit of that offer (same revision); it is dropped only once a read
// shows the entry moved. So at most one copy runs at a time, none is
// dropped before another is committed, and a completion is published at
// most once (Finish is a CAS and FINISHED is final). A replayed or forged
// OFFER cannot be committed (the entry does not name its sender at the
// epoch before), a forged ACK or NACK makes the source only settle
// (TestLedgerHostileMember), and a node suspected dead that is alive
// (paused, cut off) finds, when it wakes, every handoff it made settled by
// the ledger: its parked copies are dropped or reclaimed by a CAS, never
// guessed (TestLedgerFalseSuspicion). What a dead node held it loses; the
// ledger names it the owner, which is how a loss is told apart from a bug
// (knoten-init --chaos counts them so).
//
// Failure detection and membership come from outside the core: a process
// node's detector (natsnet.Detector, heartbeats on a NATS subject; its
// package documentation says why) calls SetPeer, which Config.Local's
// remote nodes start down awaiting. The in-process Cluster's Crash is its
// own exact oracle.
//
// # Pre-copy
//
// MigratePreCopy moves an isolate live. Its heap goes out in PAGES
// messages while it keeps running on the source; the handoff that ends it
// is the ordinary one above, so every guarantee of the protocol and the
// ledger holds unchanged, and the rounds before it confer nothing.
//
//   - Rounds. After each quantum, whoever holds the task (precopyRun.pump)
//     takes up to ChunkPages pages still dirty from the round's cursor on
//     (engine.Isolate.TakeDirty, which rehashes them into the isolate's
//     Merkle tree) and sends them as one PAGES message, numbered in
//     sequence. The first round sends every page; a round ends when its
//     cursor reaches the heap's end. A collection moves every object and
//     marks every page dirty, so the round after it sends the heap again.
//   - Stop. Once the first round is over, the first quantum's end that finds
//     at most StopPages pages dirty sends them, readies the worker's stack for
//     the stop (growStack), and the isolate runs one closing quantum, a
//     sixteenth of the quantum, after which it parks if at most StopPages
//     pages are dirty again (a burst or a collection in it sends the rounds
//     on, and Snapshot.PreCopy.Reopened counts it); so does the end of the
//     MaxRounds-th round (the isolate writes faster than the rounds go out;
//     Snapshot.PreCopy.Forced counts them). The check comes before the chunk
//     is taken, so the pages left for the stop are those the closing quantum
//     wrote: at most StopPages, and on average what the write rate gives over
//     that quantum, not the heap's size. Its OFFER then carries a codec final
//     message instead of a whole state: the pages still dirty, the registers,
//     frames, globals and output, the number of PAGES messages before it, and
//     the state hash, which the source has kept current page by page.
//     AutoConverge shortens the isolate's quantum after each round that did
//     not shrink the dirty set, so that pages are taken more often per
//     instruction it runs.
//   - Target. A target assembles the PAGES of each (sender, isolate, session)
//     in a codec.Assembler, which hashes each page as it arrives and whose
//     memory follows the bytes received. A gap in the sequence, a bad chunk or
//     one past the target's budget (half its memory budget) drops the session;
//     a session quiet for stageTTL expires. Sessions only grow, so a straggler
//     of an older one is ignored, and a newer one replaces the current one
//     only with its first chunk. A node assembles at most maxStages sessions,
//     each charged stageOverhead beyond its pages, and readies its state
//     checker for the heap as it arrives (engine.StateChecker.Reserve), so
//     that the stop allocates no bitmap. The final OFFER is decoded
//     against the session and verified against the root from the pages held,
//     then accepted, committed and ACKed exactly as a whole state is: only the
//     last pages are hashed at the stop.
//   - Failure. Nothing is at stake before the OFFER: a lost or reordered
//     PAGES message, a target that crashed or restarted mid-round, or an
//     expired session makes the final OFFER fail (NACK bad state), and the
//     source resumes its copy as after any refused handoff. A crash costs
//     the rounds, never the isolate. The source does not retry by itself;
//     the caller may migrate again, live or not.
//
// # Drain and stealing
//
// Drain marks the node draining (it refuses offers with NACK and advertises
// that in heartbeats) and asks every isolate it holds to move to the least
// loaded live node; isolates that come back (NACK, ABORTED) run again and
// are offered to the least loaded node on the next heartbeat, not at once
// (on an instant link a refusing target answers inline, and the node would
// offer and be refused again without end in no virtual time;
// TestSimDrainIntoFullNodeFinishes). Drain ends when the node holds
// nothing.
//
// Nodes gossip their load (queued, running, idle workers) in heartbeats,
// each to gossipFanout (2) live peers drawn from the node's seeded
// generator, so a node's message rate does not grow with the cluster
// (TestGossipRateIndependentOfClusterSize); a loaded node beats every
// period, so its load spreads to most peers within a few periods.
// A node with an idle worker and nothing queued sends STEAL to the node with
// the largest surplus (queued + running − workers); that node takes up to
// half its surplus, at most StealBatch, from the top of its workers' deques
// (as a thief) and hands each over through the same handoff. A queued task
// is claimed with a CAS (queued → claimed), which lets the control side move
// it at once; the pointer left in the deque is a tombstone that the next
// pop or steal skips.
//
// # Metrics
//
// Metrics records, in HdrHistograms, migration downtime (halt request to
// the target taking the isolate, verified and runnable), queue wait (from
// then to the isolate's first quantum on the target: time spent behind
// other isolates, kept apart so that a busy target does not pass for a
// slow migration), halt latency (halt request to the isolate parked),
// completion latency (spawn to published result) and OFFER sizes; every
// summary (Dist) carries its sample count. It counts migrations, failed
// handoffs, bytes moved, programs fetched, steals tried and succeeded
// within and between nodes, completions and the makespan (first spawn to
// last completion). Cluster.EventDrops counts the network messages that
// full event inboxes dropped, and Cluster.Audit accounts for every isolate
// of a stopped cluster.
//
// The load generator, package cluster/loadgen, builds its report from
// these: loadgen.Run adds throughput (completions ÷ Elapsed, which runs
// from the first spawn, since isolates run while the rest are spawned),
// makespan against the ideal (total straight-run work ÷ workers, and ÷
// min(workers, GOMAXPROCS)), the event drops, and an audit of every
// isolate: completed once with its straight-run result, state hash and
// step count, still held when a deadline stopped the run (Unfinished: the
// run did not check them), lost with a crashed owner, lost, or duplicated.
// Every JSON key of its report is snake_case.
package cluster
