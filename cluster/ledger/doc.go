// Package ledger is the cluster-wide record of who owns each isolate: for
// every isolate its owner, its epoch and whether it has finished, changed
// only by compare-and-set. It is what makes DESIGN.md invariant 3 hold
// across processes: the ledger's epoch, not a node's memory or a message,
// decides where an isolate runs.
//
// Two implementations share one interface (Ledger) and the same semantics,
// checked by one conformance suite: Memory, in-process and deterministic,
// for the simulator and tests; and JetStream, on a JetStream KV bucket,
// with one replica on a single (embedded) server or three on a NATS
// cluster. The package imports nothing of the cluster, its tests included
// (they start nats-server themselves, not through natsnet, which imports
// cluster), so that cluster can import it: NodeID and IsolateID have
// cluster.NodeID's and cluster.IsolateID's representations (uint32,
// uint64).
//
// # Entries, states and transitions
//
// An entry is (Owner, Epoch, State) plus the ledger's Revision of it, the
// token a compare-and-set presents:
//
//	           Create(id, N)                Transfer(e, M): CAS on e.Revision
//	(absent) ───────────────▶ RUNNING(N, 0) ─────────────────────────▶ RUNNING(M, 1) ─▶ … RUNNING(O, k)
//	                            │ Finish(e): CAS on e.Revision                             │
//	                            ▼                                                          ▼
//	                          FINISHED(N, 0)                                       FINISHED(O, k)
//
// The operations:
//
//   - Create makes RUNNING at epoch 0 and fails if the key exists in any
//     state, finished included.
//   - Transfer(from, to) writes RUNNING(to, from.Epoch+1) if from.Revision
//     is still the key's latest; otherwise ErrConflict and nothing
//     changes. So epochs rise by exactly one per transfer, and an
//     (isolate, epoch) pair names one owner, ever. to may be from.Owner: a
//     reclaim, which is how a source fences its own offer.
//   - Finish(by) writes FINISHED(by.Owner, by.Epoch) under the same
//     condition. FINISHED is final: Transfer and Finish of it fail
//     (ErrFinished).
//
// There is no "handing off" state. An offer in flight lives between two
// nodes, not in the ledger: the source keeps its copy, parked, and the
// entry stays RUNNING(source, e) until the target commits. Recording the
// offer first would put a second replicated write on every migration's
// critical path and buy no safety, since the target's commit and the
// source's reclaim already race on the same revision and exactly one wins.
//
// Any error other than ErrExists, ErrNotFound, ErrConflict, ErrFinished
// and ErrCorrupt (a timeout, a lost connection, a server shut down in the
// middle) leaves the outcome unknown: the write may have happened. The
// caller keeps whatever copy it holds and resolves it: it repeats the same
// call (a CAS on one revision succeeds at most once, so a repeat is
// harmless) and, on ErrConflict, reads until the revision has moved and
// sees whether the entry now names it (Entry.Owns).
//
// # The handoff, with the ledger
//
// Source S holds the isolate, the ledger says RUNNING(S, e) at revision r.
//
//  1. S parks the isolate and sends OFFER(id, e+1) to T, keeping its copy.
//  2. T decodes and verifies the state, then commits: Commit(id, S, e+1,
//     T), which reads the entry, checks that it names S (the sender as
//     the transport authenticated it, never as the bytes say) at e and
//     RUNNING, and Transfers it to T, a CAS on r. Only if that succeeded
//     does T run the isolate, and answer ACK. Otherwise it refuses (NACK)
//     and drops what it decoded.
//  3. S, on ACK, NACK or timeout alike, calls Settle(held): a read; if the
//     revision moved, the isolate is someone else's (T's, or later
//     owners') and S drops its copy. If it did not, S reclaims by
//     Transfer(held, S), a CAS on r: success means T never committed and
//     never will (its CAS on r now fails), and S resumes its copy at
//     epoch e+1; failure means T committed first, and S drops its copy.
//  4. The owner publishes a completion only after Finish(held) succeeded.
//
// Exactly once. The ledger's history of an isolate is one chain of
// revisions, each written by a CAS on the one before. A node runs an
// isolate only while it holds the entry it wrote or read last, and
// publishes only through a Finish on that entry; so:
//
//   - At most one completion: Finish is a CAS on the latest revision and
//     leaves FINISHED, which no CAS passes. A node whose Finish fails does
//     not publish.
//   - Never two owners: each revision is built on by at most one CAS, so
//     at most one Transfer from RUNNING(S, e) succeeds; T's commit and
//     S's reclaim exclude each other.
//   - Never lost (short of the owner's crash): whoever the ledger names
//     holds a copy. T commits only after it verified its copy; S drops its
//     copy only on proof in the ledger that another committed: a read
//     that shows a newer revision (Superseded), which a replica can lag
//     behind but never run ahead of. A refused CAS is not proof (below).
//
// Against messages, replayed, forged or late:
//
//   - A replayed OFFER (a duplicate, a late copy, or one a member resends
//     to a third node) names S at e, but the ledger has moved past r or
//     the sender is not S: Commit fails, the receiver refuses. An OFFER
//     for an isolate that moved on can never be taken, whatever the age
//     of the message, so the cluster no longer has to bound how long a
//     message may linger (the pruning horizon in cluster/doc.go).
//   - A forged or replayed ACK makes S settle: if T really committed, S
//     drops its copy, which is right; if not, S's reclaim succeeds and S
//     keeps running. An ACK never makes S drop its only copy.
//   - A forged or stale NACK (or a lost ACK) makes S settle too: if T
//     already committed, S's reclaim fails and S drops its copy, so no
//     zombie copy survives; if T had not, S's reclaim fences T's commit.
//   - ABORT, ABORTED and CONFIRM become hints: S needs no ABORTED before
//     it resumes (its reclaim fences T), and T's copy may publish as soon
//     as it committed, without waiting for CONFIRM, since no other copy
//     can pass a CAS after T's commit.
//
// Fencing. A node suspected dead but alive (a partition from its peers, a
// kill -STOP) holds entries that may have moved while it slept: a target
// that committed its offer, or a node that took it over from a checkpoint
// (a later step). Its next write with what it held, a Finish, a Transfer
// or a Settle, fails the CAS; Superseded then shows the newer revision,
// and it must drop its copy unpublished: no suspicion, timeout or clock
// decides, only the revision. A refused CAS alone is no proof: a
// replicated ledger may refuse one on the latest revision while its
// leader changes (seen in TestJetStreamClusterServerLoss), so a node that
// dropped its copy on the refusal alone could lose an isolate it still
// owns; it retries instead until a read shows the move or the write
// succeeds. A node must check this before anything escapes it (a
// completion, a result, an OFFER of the isolate onward, which the next
// target would refuse anyway). A node that is cut off from the ledger
// cannot commit, finish or hand off: its isolates wait, safe, until it is
// back.
//
// # Isolate ids
//
// Ids are node-qualified and reserved through the ledger: an IsolateID is
// the spawning node's id in the high 32 bits and a sequence number in the
// low 32 (MakeID; shown "<node>-<seq>", its KV key "iso.<node>.<seq>").
// The sequence numbers come from ReserveIDs, a CAS on the node's counter
// ("ids.<node>"), in blocks (say 1024, one ledger write per block), so a
// restarted node, or two processes started with the same node id, never
// reuse one; and Create fails on an existing key as a last check. Ids
// stay readable (which node spawned it) and need no cluster-wide counter
// on the spawn path.
//
// # Encoding
//
// An entry is 16 bytes (format 1, state, two zero bytes, owner u32, epoch
// u64, little-endian); a counter is 8 (the next free sequence number, u64,
// 1..2^32). The decoders take exactly these lengths and values and return
// ErrCorrupt for anything else; they never panic (FuzzDecodeEntry,
// FuzzDecodeCounter). The bucket refuses messages over 512 bytes.
//
// # Replicas
//
// A JetStream KV bucket is a stream; each write goes to the stream's
// leader, which orders it and checks the expected revision. With one
// replica the ledger lives on one server: on a file store it survives that
// server's restart, but while the server is down no isolate can be
// created, moved or finished (they keep running, safe). With three, on a
// NATS cluster, each write is committed by Raft on two of three servers
// before it is answered: the ledger survives the loss of any one server,
// the other two elect a new leader within seconds, and no acknowledged
// write is lost or applied twice (TestJetStreamClusterServerLoss shuts the
// bucket's leader down in the middle of 480 racing transfers, audits each
// isolate's history and checks the operations for linearizability with
// porcupine, as TestLinearizableMemory and TestLinearizableJetStream do
// without the failover). A leader change costs a few unknown outcomes and,
// rarely, a refused CAS on the latest revision: both safe, both resolved
// by retrying and reading. Reads may be served by a replica that lags (KV buckets
// allow direct gets): that is why a read is only ever proof that an entry
// moved, never that it did not.
//
// Cost, on loopback (BenchmarkLedgerTransfer): a commit is one request to
// the leader, plus a Raft round with three replicas; the target waits for
// it between verifying and running, so it adds one commit latency to a
// migration's downtime: about 45 µs at p50 (120-270 µs at p99) with one
// replica, 240 µs (0.7-1 ms) with three, one commit at a time; 13-14k
// commits/s with three replicas and eight callers (a 2-vCPU shared VM,
// go1.26, servers and client in one process).
//
// # What the cluster still has to wire
//
//   - Config.Ledger (this interface; Memory in the Sim, JetStream with
//     natsnet), with the OFFER's epoch taken from the ledger (e+1 for a
//     ledger epoch e) and Commit/Settle/Finish in proto at the points
//     above; a node keeps the Entry it holds for each isolate.
//   - Spawn: ids from ReserveIDs in blocks, Create before the first
//     quantum.
//   - Unknown outcomes: keep the copy, retry, resolve as above, off the
//     node's event loop (a ledger call blocks for a network round trip).
//   - Permissions under authentication: natsnet.FullMemberPermissions
//     includes MemberSubjects, what a member needs for the ledger (the
//     bucket's JetStream API and $KV subjects, and its own reply inbox,
//     InboxPrefix), and natsnet.Connect sets that inbox prefix for a
//     member, so that no member reads another's replies (natsnet's
//     TestJetStreamMembers). A member may create or update only the
//     ledger's bucket. KV permissions are per bucket, not per key: a
//     member can write any entry, so members stay trusted to run the
//     protocol (DESIGN.md's threat model); non-members cannot. A client
//     reads through BindJetStream under ReaderSubjects, which hold no
//     write (natsnet.ClientPermissions).
//   - Finished entries are never deleted here. Deleting one later is safe
//     for ids (never reused) and for late messages (Commit of an absent
//     key fails, ErrNotFound), once its result is delivered.
//   - Failure detection is natsnet.Detector's (a suspicion, never proof
//     of death); takeover from checkpoints is a later step. A takeover is
//     Transfer(cur, self), which fences the old owner.
package ledger
