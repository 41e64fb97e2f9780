package ledger

import (
	"context"
	"sync"
)

// Memory is a Ledger in this process's memory, for the simulator and tests:
// deterministic (revisions count writes, from 1, like a JetStream stream's
// sequence) and with JetStream's compare-and-set semantics exactly. The
// zero value is not ready; use NewMemory. Safe for concurrent use.
type Memory struct {
	mu       sync.Mutex
	rev      uint64
	entries  map[IsolateID]Entry
	counters map[NodeID]uint64
}

// NewMemory returns an empty in-memory ledger.
func NewMemory() *Memory {
	return &Memory{entries: make(map[IsolateID]Entry), counters: make(map[NodeID]uint64)}
}

var _ Ledger = (*Memory)(nil)

// Create implements Ledger.
func (m *Memory) Create(ctx context.Context, id IsolateID, owner NodeID) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[id]; ok {
		return Entry{}, ErrExists
	}
	m.rev++
	e := Entry{Owner: owner, Epoch: 0, State: Running, Revision: m.rev}
	m.entries[id] = e
	return e, nil
}

// Get implements Ledger. It is never stale.
func (m *Memory) Get(ctx context.Context, id IsolateID) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok {
		return Entry{}, ErrNotFound
	}
	return e, nil
}

// Transfer implements Ledger.
func (m *Memory) Transfer(ctx context.Context, id IsolateID, from Entry, to NodeID) (Entry, error) {
	if err := checkTransfer(from); err != nil {
		return Entry{}, err
	}
	return m.swap(ctx, id, from, Entry{Owner: to, Epoch: from.Epoch + 1, State: Running})
}

// Finish implements Ledger.
func (m *Memory) Finish(ctx context.Context, id IsolateID, by Entry) (Entry, error) {
	if err := checkTransfer(by); err != nil {
		return Entry{}, err
	}
	return m.swap(ctx, id, by, Entry{Owner: by.Owner, Epoch: by.Epoch, State: Finished})
}

// swap writes next over id if from.Revision is still id's latest, as
// JetStream's Update does: only the revision is compared.
func (m *Memory) swap(ctx context.Context, id IsolateID, from, next Entry) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.entries[id]
	if !ok || cur.Revision != from.Revision {
		return Entry{}, ErrConflict
	}
	m.rev++
	next.Revision = m.rev
	m.entries[id] = next
	return next, nil
}

// ReserveIDs implements Ledger.
func (m *Memory) ReserveIDs(ctx context.Context, node NodeID, n uint32) (IsolateID, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next, ok := m.counters[node]
	if !ok {
		next = 1
	}
	first, after, err := reserve(next, n)
	if err != nil {
		return 0, err
	}
	m.rev++
	m.counters[node] = after
	return MakeID(node, uint32(first)), nil
}
