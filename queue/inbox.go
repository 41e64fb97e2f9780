package queue

import "sync/atomic"

// Inbox is a bounded multi-producer, single-consumer FIFO queue of *T.
// Any number of producers call Push; one consumer calls Pop. The consumer
// may be a different goroutine from one Pop to the next if something that
// orders them (a lock, a channel) hands the role over.
// Create one with NewInbox; the zero value has no room and must not be used.
//
// It is Dmitry Vyukov's bounded MPMC queue with the consumer side reduced to a
// single goroutine: each cell carries a sequence number that says whose turn
// it is, producers claim a position with a CAS on tail, and the consumer,
// being alone, claims with a plain increment. Push and Pop never allocate.
//
// Order: elements come out in the order in which producers claimed their
// positions, so each producer's elements come out in the order it pushed them.
//
// Progress: Push is lock-free against other producers. A producer stopped
// between claiming a position and filling it (for example, preempted) holds up
// the consumer: until it resumes, Pop returns nil even if later positions are
// full. Pop therefore reports "nothing ready", not "empty"; the consumer
// should treat nil as a hint to do other work and come back.
type Inbox[T any] struct {
	_ [cacheLinePad]byte

	// tail is the next position a producer will claim. Producers CAS it.
	tail atomic.Uint64
	_    [cacheLinePad - 8]byte

	// head is the next position the consumer will read. Only the consumer
	// stores it; others load it for Len.
	head atomic.Uint64
	_    [cacheLinePad - 8]byte

	mask  uint64
	cells []inboxCell[T]
}

// inboxCell is one slot. For a position p that maps to this cell, seq == p
// means the cell is free for the producer claiming p; seq == p+1 means it
// holds the element for p, ready for the consumer.
//
// Each cell fills a 64-byte line, so that a producer filling the next cell
// does not take the line away from the consumer emptying this one; that cut
// the cost per element by about 15% in BenchmarkInbox. (A full cacheLinePad
// per cell doubled the memory for no measurable gain.)
type inboxCell[T any] struct {
	seq atomic.Uint64
	val *T // written by the producer that claimed the position, read by the consumer; ordered by seq
	_   [64 - 16]byte
}

// NewInbox returns an empty inbox with room for capacity elements, rounded up
// to a power of two (at least 2). Any goroutine may call it.
func NewInbox[T any](capacity int) *Inbox[T] {
	size := uint64(2)
	for size < uint64(max(capacity, 0)) {
		size *= 2
	}
	q := &Inbox[T]{mask: size - 1, cells: make([]inboxCell[T], size)}
	for i := range q.cells {
		q.cells[i].seq.Store(uint64(i)) // q is still private: no ordering needed
	}
	return q
}

// Push appends x and reports true, or reports false if the inbox is full.
// Any goroutine may call it, concurrently with other producers and with the
// consumer. x must not be nil; Push panics on it. Push does not allocate.
func (q *Inbox[T]) Push(x *T) bool {
	if x == nil {
		panic("queue: Inbox.Push(nil)")
	}
	pos := q.tail.Load() // relaxed would do: the CAS below validates it
	for {
		c := &q.cells[pos&q.mask]
		// Acquire: pairs with the consumer's release store of seq, so its
		// read of the previous lap's val happens before our write below.
		seq := c.seq.Load() // acquire
		switch dif := int64(seq - pos); {
		case dif == 0:
			// The cell is free for pos. Seq-cst CAS (relaxed would do): one
			// producer wins pos.
			if q.tail.CompareAndSwap(pos, pos+1) {
				c.val = x
				c.seq.Store(pos + 1) // release: publishes val to the consumer
				return true
			}
			pos = q.tail.Load() // relaxed would do: the next CAS validates it
		case dif < 0:
			// The cell still holds the element from one lap ago: full.
			return false
		default:
			// Another producer claimed pos since we loaded tail.
			pos = q.tail.Load() // relaxed would do
		}
	}
}

// Pop removes and returns the oldest element, or nil if none is ready.
// Consumer only. It never blocks or allocates. See Inbox about nil: a
// producer in the middle of Push can make Pop return nil while later elements
// are already in place.
func (q *Inbox[T]) Pop() *T {
	pos := q.head.Load() // the consumer's own word: no ordering needed
	c := &q.cells[pos&q.mask]
	// Acquire: pairs with the producer's release store, so val is visible.
	if c.seq.Load() != pos+1 { // acquire
		return nil
	}
	x := c.val
	c.val = nil // let the garbage collector have it once the consumer is done
	// Release: the producer that claims pos+len(cells) sees the cell empty
	// (and our read of val) before it writes val.
	c.seq.Store(pos + q.mask + 1) // release
	q.head.Store(pos + 1)         // release would do; only Len reads it elsewhere
	return x
}

// Len returns the number of claimed positions not yet consumed, which counts
// pushes still in progress. Any goroutine may call it; the result is
// approximate unless producers and consumer are quiet.
func (q *Inbox[T]) Len() int {
	h := q.head.Load() // acquire
	t := q.tail.Load() // acquire
	if t > h {
		return int(t - h)
	}
	return 0
}

// Cap returns the number of elements the inbox can hold. Any goroutine may
// call it.
func (q *Inbox[T]) Cap() int {
	return len(q.cells)
}
