package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// NodeID names a node. It has cluster.NodeID's representation (uint32);
// the ledger does not import cluster so that cluster can import it.
type NodeID uint32

// IsolateID names an isolate across the whole cluster. It has
// cluster.IsolateID's representation (uint64): the node that spawned the
// isolate in the high 32 bits, a sequence number that node reserved
// through the ledger (ReserveIDs) in the low 32 bits. See MakeID.
type IsolateID uint64

// MakeID is the id of the seq-th isolate spawned by node.
func MakeID(node NodeID, seq uint32) IsolateID {
	return IsolateID(uint64(node)<<32 | uint64(seq))
}

// Spawner is the node that spawned the isolate.
func (id IsolateID) Spawner() NodeID { return NodeID(id >> 32) }

// Seq is the isolate's sequence number at its spawner.
func (id IsolateID) Seq() uint32 { return uint32(id) }

// String is "<spawner>-<seq>", as knoten ps shows it.
func (id IsolateID) String() string {
	return strconv.FormatUint(uint64(id.Spawner()), 10) + "-" + strconv.FormatUint(uint64(id.Seq()), 10)
}

// State is where an isolate is in its life, as far as the ledger knows.
type State uint8

const (
	// Running: Owner holds the isolate at Epoch and may run it. A handoff
	// in flight does not change this: the source keeps its copy, parked,
	// until the ledger names another owner.
	Running State = 1
	// Finished: Owner published the isolate's completion at Epoch. Final.
	Finished State = 2
)

func (s State) String() string {
	switch s {
	case Running:
		return "running"
	case Finished:
		return "finished"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// An Entry is what the ledger holds for one isolate.
type Entry struct {
	Owner NodeID
	// Epoch is 0 at creation and rises by exactly one with every Transfer.
	// An (isolate, epoch) pair names one owner, ever.
	Epoch uint64
	State State
	// Revision is the ledger's version of this entry, the token that a
	// compare-and-set presents: Transfer and Finish succeed only while it
	// is still the entry's latest. It rises with every write to the
	// ledger; it is not dense per isolate.
	Revision uint64
}

// Owns reports whether e names node as the owner of a running isolate at
// epoch.
func (e Entry) Owns(node NodeID, epoch uint64) bool {
	return e.State == Running && e.Owner == node && e.Epoch == epoch
}

func (e Entry) String() string {
	return fmt.Sprintf("%s by node %d at epoch %d (rev %d)", e.State, e.Owner, e.Epoch, e.Revision)
}

// Errors. Any other error from a Ledger method (a timeout, a lost
// connection) leaves the outcome unknown: the write may or may not have
// happened. The caller resolves it with Get (see Entry.Owns), never by
// assuming either way.
var (
	// ErrExists: Create of an isolate the ledger already holds.
	ErrExists = errors.New("ledger: isolate exists")
	// ErrNotFound: the ledger holds no such isolate.
	ErrNotFound = errors.New("ledger: no such isolate")
	// ErrConflict: the write was refused, and did not happen: the entry
	// presented is no longer the latest (someone else wrote first), or
	// does not say what the caller claimed, or (a replicated JetStream
	// ledger during a leader change) the new leader could not yet tell.
	// So a conflict is not proof that the entry moved: Superseded is.
	ErrConflict = errors.New("ledger: compare-and-set refused")
	// ErrFinished: a Transfer or Finish presented a finished entry.
	ErrFinished = errors.New("ledger: isolate finished")
	// ErrCorrupt: the ledger holds a value that does not decode.
	ErrCorrupt = errors.New("ledger: corrupt value")
	// ErrIDsExhausted: a node has reserved all 2^32-1 of its sequence
	// numbers.
	ErrIDsExhausted = errors.New("ledger: isolate ids exhausted for this node")
)

// Ledger is the cluster-wide record of who owns each isolate, at which
// epoch. Every write is a compare-and-set, linearizable per isolate; see
// the package documentation for how the handoff protocol uses it.
type Ledger interface {
	// Create records a new isolate, Running at epoch 0 owned by owner. It
	// fails with ErrExists if the ledger holds id, in any state.
	Create(ctx context.Context, id IsolateID, owner NodeID) (Entry, error)
	// Get returns the entry of id, or ErrNotFound. On a replicated ledger
	// it may be stale (an older revision, never a newer one than exists):
	// a Get is evidence that an isolate moved on, never that it did not.
	Get(ctx context.Context, id IsolateID) (Entry, error)
	// Transfer makes to the owner of id at from.Epoch+1, if from is still
	// the latest entry of id (same Revision) and Running; else
	// ErrConflict (or ErrFinished). to may be from.Owner: a source that
	// reclaims an isolate it offered fences the offer this way.
	Transfer(ctx context.Context, id IsolateID, from Entry, to NodeID) (Entry, error)
	// Finish marks id Finished by by.Owner at by.Epoch, if by is still the
	// latest entry of id and Running; else ErrConflict (or ErrFinished).
	// The caller publishes the isolate's completion only after Finish
	// succeeded, so a completion is published at most once.
	Finish(ctx context.Context, id IsolateID, by Entry) (Entry, error)
	// ReserveIDs reserves n (>= 1) sequence numbers for node's isolates
	// and returns the first id; the ids are first, first+1, …, first+n-1,
	// never handed out again, even to a restarted node of the same id.
	ReserveIDs(ctx context.Context, node NodeID, n uint32) (IsolateID, error)
}

// Commit is the target's step when it receives OFFER(id, epoch) from node
// from (the sender as the transport authenticated it, never as the bytes
// say): it takes the isolate, Transfer to self at epoch, only if the
// ledger names from the owner of the running isolate at epoch-1. Call it
// after the offered state verified and before the isolate runs; run it
// only if Commit succeeded. ErrConflict means the offer is stale, replayed
// or forged: refuse it.
//
// If a previous Commit of the same offer returned an unknown outcome, Get
// tells: Entry.Owns(self, epoch).
func Commit(ctx context.Context, l Ledger, id IsolateID, from NodeID, epoch uint64, self NodeID) (Entry, error) {
	if epoch == 0 {
		return Entry{}, fmt.Errorf("%w: an offer at epoch 0", ErrConflict)
	}
	cur, err := l.Get(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	if cur.State == Finished {
		return Entry{}, ErrFinished
	}
	if cur.Owner != from || cur.Epoch != epoch-1 {
		return Entry{}, fmt.Errorf("%w: ledger has %v, offer claims node %d at epoch %d", ErrConflict, cur, from, epoch-1)
	}
	return l.Transfer(ctx, id, cur, self)
}

// Settle is the source's step once a handoff of held (the entry it owned
// when it offered the isolate) is over, however it ended (an ACK, a NACK,
// a timeout): it decides, through the ledger alone, whether the source
// keeps the isolate. It returns keep=true and the source's entry at epoch
// held.Epoch+1 if the source reclaimed the isolate, which fences any
// commit of the offer still in flight; keep=false and the entry that moved
// on if another node committed first: drop the copy. A message alone,
// forged or genuine, decides nothing. An error decides nothing either:
// keep the copy parked and call Settle again. Settle may be repeated: a
// reclaim it already made is recognised and kept.
func Settle(ctx context.Context, l Ledger, id IsolateID, held Entry) (keep bool, now Entry, err error) {
	// A read first: after a genuine ACK it shows the move, and one read
	// is cheaper than a failed write.
	if cur, moved, err := Superseded(ctx, l, id, held); err == nil && moved {
		return cur.Owns(held.Owner, held.Epoch+1), cur, nil
	}
	e, err := l.Transfer(ctx, id, held, held.Owner)
	if err == nil {
		return true, e, nil
	}
	if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrFinished) {
		return false, Entry{}, err
	}
	cur, moved, err := Superseded(ctx, l, id, held)
	if err != nil {
		return false, Entry{}, err
	}
	if !moved {
		return false, Entry{}, fmt.Errorf("ledger: %v: conflict, but no newer revision visible yet; retry", id)
	}
	// The source's own reclaim (an earlier Settle whose answer was lost:
	// epoch held.Epoch+1 names it, and an epoch has one owner, ever), or
	// another node's commit.
	return cur.Owns(held.Owner, held.Epoch+1), cur, nil
}

// Superseded reports whether the ledger has moved past held, the entry a
// node holds an isolate by: a read that shows another revision of id, or
// no entry at all, is proof, since a read is never newer than the ledger.
// moved=false proves nothing on a replicated ledger (the replica read may
// lag); the caller retries its write. A node drops its copy of an isolate
// only on this proof, never on an ErrConflict alone: a replicated ledger
// may refuse a compare-and-set on the latest revision while its leader
// changes (TestJetStreamClusterServerLoss has seen it), and an owner that
// took that refusal for fencing would lose the isolate.
func Superseded(ctx context.Context, l Ledger, id IsolateID, held Entry) (now Entry, moved bool, err error) {
	cur, err := l.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Entry{}, true, nil
	}
	if err != nil {
		return Entry{}, false, err
	}
	return cur, cur.Revision != held.Revision, nil
}

// Value encoding. An entry is 16 bytes, little-endian:
//
//	0  u8   format, 1
//	1  u8   state, 1 running or 2 finished
//	2  u16  0
//	4  u32  owner
//	8  u64  epoch
//
// An id counter (ReserveIDs) is 8 bytes: the next free sequence number,
// u64 little-endian, 1..2^32. The decoders accept nothing else.
const (
	entrySize   = 16
	counterSize = 8
	format      = 1
)

func appendEntry(b []byte, e Entry) []byte {
	b = append(b, format, byte(e.State), 0, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Owner))
	return binary.LittleEndian.AppendUint64(b, e.Epoch)
}

// decodeEntry parses a value; Revision is left 0 for the caller to set.
func decodeEntry(b []byte) (Entry, error) {
	if len(b) != entrySize {
		return Entry{}, fmt.Errorf("%w: %d bytes, want %d", ErrCorrupt, len(b), entrySize)
	}
	if b[0] != format {
		return Entry{}, fmt.Errorf("%w: format %d", ErrCorrupt, b[0])
	}
	st := State(b[1])
	if st != Running && st != Finished {
		return Entry{}, fmt.Errorf("%w: state %d", ErrCorrupt, b[1])
	}
	if b[2] != 0 || b[3] != 0 {
		return Entry{}, fmt.Errorf("%w: reserved bytes set", ErrCorrupt)
	}
	return Entry{
		State: st,
		Owner: NodeID(binary.LittleEndian.Uint32(b[4:])),
		Epoch: binary.LittleEndian.Uint64(b[8:]),
	}, nil
}

func decodeCounter(b []byte) (uint64, error) {
	if len(b) != counterSize {
		return 0, fmt.Errorf("%w: counter of %d bytes", ErrCorrupt, len(b))
	}
	v := binary.LittleEndian.Uint64(b)
	if v < 1 || v > maxNext {
		return 0, fmt.Errorf("%w: counter %d", ErrCorrupt, v)
	}
	return v, nil
}

func putCounter(b []byte, next uint64) { binary.LittleEndian.PutUint64(b, next) }

// maxNext is the counter's value once every sequence number 1..2^32-1 is
// reserved. Sequence 0 is never handed out.
const maxNext = math.MaxUint32 + 1

// reserve computes a reservation of n from a counter at next.
func reserve(next uint64, n uint32) (first, after uint64, err error) {
	if n == 0 {
		return 0, 0, errors.New("ledger: reserve 0 ids")
	}
	if next+uint64(n) > maxNext {
		return 0, 0, ErrIDsExhausted
	}
	return next, next + uint64(n), nil
}

func checkTransfer(from Entry) error {
	if from.State == Finished {
		return ErrFinished
	}
	if from.State != Running || from.Revision == 0 {
		return fmt.Errorf("%w: %v is no entry read from the ledger", ErrConflict, from)
	}
	if from.Epoch == math.MaxUint64 {
		return fmt.Errorf("ledger: epoch overflow")
	}
	return nil
}
