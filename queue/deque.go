package queue

import (
	"sync/atomic"
	"unsafe"
)

// DefaultCapacity is the number of slots a zero Deque allocates on its first
// Push, and the capacity NewDeque uses when asked for less than 1.
const DefaultCapacity = 64

// top packs the index of the oldest element (low idxBits bits) with the epoch
// of the ring that is current (high bits). Thieves CAS the whole word, so a
// CAS fails if the owner moved to a new ring since the thief loaded top.
// Indices are not wrapped: 2^56 is over two years of removals at one per
// nanosecond. Epochs count growths, and the ring doubles at each.
const (
	idxBits  = 56
	idxMask  = 1<<idxBits - 1
	maxEpoch = 1<<(64-idxBits) - 1
)

func topIdx(w int64) int64   { return w & idxMask }
func topEpoch(w int64) int64 { return int64(uint64(w) >> idxBits) }

// Deque is a Chase-Lev work-stealing deque of *T. Its zero value is an empty
// deque ready to use; a Deque must not be copied after first use.
//
// One goroutine, the owner, calls Push and Pop at the bottom. Any number of
// other goroutines, thieves, call Steal and StealHalf at the top. Len and Cap
// may be called by anyone. See the package documentation for the algorithm
// and the memory-ordering argument.
type Deque[T any] struct {
	_ [cacheLinePad]byte // keeps top off the line of whatever precedes the Deque

	// top is epoch<<idxBits | index of the oldest element. The index never
	// decreases. Thieves advance it by CAS; the owner advances it by CAS when
	// it takes the last element, and changes the epoch by CAS when it grows.
	top atomic.Int64
	_   [cacheLinePad - 8]byte

	// bottom is one past the index of the newest element. Only the owner
	// stores it.
	bottom atomic.Int64
	// array is the current ring. Only the owner stores it, when it grows.
	// Thieves read it right after bottom, so it shares bottom's line.
	array atomic.Pointer[ring[T]]
	// buf and mask are the owner's copy of array's slots, so that Push and
	// Pop skip one indirection. Owner only; never read by thieves.
	buf  []*T
	mask int64
	_    [cacheLinePad - 48]byte
}

// ring is a circular array of 2^k slots: index i lives in slots[i&mask].
//
// A slot holds a live element or nil, with one exception: a thief that has
// claimed an index holds its slot non-nil until it has read the element, and
// then clears it. The owner writes only into nil slots, so it never
// overwrites an element a thief is still reading.
//
// A ring is replaced, never reused, when the deque grows; the garbage
// collector reclaims it once no thief still holds it.
type ring[T any] struct {
	epoch int64 // the top epoch under which this ring is current
	mask  int64
	slots []*T
	// prev is the ring this one replaces, kept only while the owner is between
	// publishing this ring and moving top to its epoch; a thief that sees the
	// old epoch in top steals from prev meanwhile. The owner clears it after.
	prev atomic.Pointer[ring[T]]
}

// loadSlot and clearSlot are the atomic accesses to a slot. The owner reads
// and writes slots with plain loads and stores where no other goroutine can
// touch the slot, as explained at each use.
func loadSlot[T any](p **T) *T {
	return (*T)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(p))))
}

func clearSlot[T any](p **T) {
	atomic.StorePointer((*unsafe.Pointer)(unsafe.Pointer(p)), nil)
}

// NewDeque returns an empty deque with room for capacity elements, rounded up
// to a power of two, before it first grows. A capacity below 1 means
// DefaultCapacity. Any goroutine may call NewDeque; the goroutine that then
// calls Push and Pop is the owner.
func NewDeque[T any](capacity int) *Deque[T] {
	size := int64(1)
	if capacity < 1 {
		size = DefaultCapacity
	}
	for size < int64(capacity) {
		size *= 2
	}
	d := new(Deque[T])
	r := &ring[T]{mask: size - 1, slots: make([]*T, size)}
	d.array.Store(r) // nobody else can see d yet: no ordering needed
	d.buf, d.mask = r.slots, r.mask
	return d
}

// Push adds x at the bottom. Owner only. x must not be nil: Pop and Steal
// use nil to mean empty, and Push panics on it.
//
// Push never blocks. It does not allocate unless it has to grow: when the
// deque is full, or (rarely) when the slot it needs is still held by a thief
// that has claimed the element from one lap ago but not yet read it. Growing
// moves the elements to a ring of twice the size.
func (d *Deque[T]) Push(x *T) {
	b := d.bottom.Load() // the owner's own word: no ordering needed
	i := b & d.mask
	// Acquire: if a thief emptied the slot, its read of the old element
	// happens before our write below. A live element's slot is never nil, so
	// a nil slot also proves the deque is not full (index b-len is gone).
	if x == nil || uint64(i) >= uint64(len(d.buf)) || loadSlot(&d.buf[i]) != nil {
		d.pushSlow(x, b)
		return
	}
	// Plain store: no thief reads a slot before claiming its index, and
	// index b is not claimable until the store to bottom below.
	d.buf[i] = x
	// Release: a thief that loads bottom > b also sees the slot store above.
	d.bottom.Store(b + 1)
}

// pushSlow is Push when x is nil or the slot for b is not free. Owner only.
func (d *Deque[T]) pushSlow(x *T, b int64) {
	if x == nil {
		panic("queue: Push(nil)")
	}
	d.grow(b, 1)
	d.buf[b&d.mask] = x   // plain store, as in Push
	d.bottom.Store(b + 1) // release, as in Push
}

// reserve makes sure the owner may write indices [b, b+n) with plain stores,
// growing if any of their slots is in use. Owner only (of d).
func (d *Deque[T]) reserve(b, n int64) {
	if n <= int64(len(d.buf)) {
		free := true
		for i := b; i < b+n && free; i++ {
			free = loadSlot(&d.buf[i&d.mask]) == nil // acquire, as in Push
		}
		if free {
			return
		}
	}
	d.grow(b, n)
}

// grow moves the deque to a ring at least twice the size of the current one
// with room for [top, b+n), and makes it current. Owner only.
//
// The owner copies [t, b) into the new ring, publishes it, and then CASes top
// from (epoch e, t) to (e+1, t). Until that CAS, thieves keep stealing from
// the old ring (through the new ring's prev); if one of them moves top, the
// CAS fails, and the owner drops the copies of what was stolen and retries.
// After it, a thief's CAS succeeds only if it read the new epoch, and it then
// reads the new ring.
func (d *Deque[T]) grow(b, n int64) {
	old := d.array.Load() // the owner's own word
	tw := d.top.Load()    // seq-cst; the CAS below validates it
	t, e := topIdx(tw), topEpoch(tw)
	size := int64(DefaultCapacity)
	if old != nil {
		size = 2 * int64(len(old.slots))
	}
	for b+n-t > size {
		size *= 2
	}
	nr := &ring[T]{mask: size - 1, slots: make([]*T, size)}
	if old == nil {
		// A zero Deque: no element was ever pushed, and a thief returns before
		// looking at array when bottom <= top. Keep the epoch.
		nr.epoch = e
		d.array.Store(nr) // release: thieves that see it see it whole
		d.buf, d.mask = nr.slots, nr.mask
		return
	}
	if e == maxEpoch {
		panic("queue: BUG: deque grew more than 255 times")
	}
	nr.epoch = e + 1
	for i := t; i < b; i++ {
		// Acquire: the element, or nil if a thief has just claimed and
		// cleared it; then top has moved and the CAS below fails.
		nr.slots[i&nr.mask] = loadSlot(&old.slots[i&old.mask])
	}
	nr.prev.Store(old) // nr is still private: no ordering needed
	// Seq-cst (release would do): a thief that sees nr sees its slots and prev.
	d.array.Store(nr)
	// Seq-cst CAS: orders our plain slot writes in nr before every thief that
	// reads the new epoch, and decides the race with thieves of the old one.
	for !d.top.CompareAndSwap(tw, (e+1)<<idxBits|t) {
		// Thieves took [t, t2) from the old ring. Drop our copies. Plain
		// stores: no thief touches nr's slots while top holds epoch e.
		tw = d.top.Load() // seq-cst
		t2 := topIdx(tw)
		for i := t; i < t2; i++ {
			nr.slots[i&nr.mask] = nil
		}
		t = t2
	}
	nr.prev.Store(nil) // let the old ring go; thieves that hold it keep it alive
	d.buf, d.mask = nr.slots, nr.mask
}

// Pop removes and returns the newest element, or nil if the deque is empty.
// Owner only. It never blocks or allocates.
func (d *Deque[T]) Pop() *T {
	b := d.bottom.Load() // the owner's own word: no ordering needed
	// Seq-cst load of top. The index only grows and only the owner changes
	// bottom, so if the deque looks empty here it is empty now.
	tw := d.top.Load() // seq-cst (acquire would do here)
	switch n := b - topIdx(tw); {
	case n <= 0:
		return nil
	case n == 1:
		// One element: claim it from the top as a thief would. Bottom is not
		// touched, so no fence is needed and thieves never see a transient
		// bottom < top.
		if d.top.CompareAndSwap(tw, tw+1) { // seq-cst: the race with thieves
			return d.take(b - 1)
		}
		return nil // a thief took it: the deque is empty
	}
	b--
	// Seq-cst store, then seq-cst load of top: this pair is the store-load
	// fence of Lê et al.'s take(). A thief whose bottom load comes after this
	// store sees b and will not claim index b; a thief whose bottom load came
	// before it loaded top before that, so its top is at most the one we
	// read below, which tells us whether it can reach b.
	d.bottom.Store(b) // seq-cst store ...
	tw = d.top.Load() // ... then seq-cst load: the fence
	t := topIdx(tw)
	if t < b {
		// Index b is not the last element, and no thief can claim it: a
		// thief claims only index top <= b-1 until we publish a larger bottom.
		return d.take(b)
	}
	var x *T
	if t == b && d.top.CompareAndSwap(tw, tw+1) { // seq-cst: the last element
		x = d.take(b)
	}
	// The deque is now empty, with top index b+1, whether we won the last
	// element (t == b), a thief did, or thieves had emptied it (t > b).
	// Restore bottom to match. Seq-cst; release would do.
	d.bottom.Store(b + 1)
	return x
}

// take reads and clears the slot of index i, which the owner has just
// claimed. Owner only. Plain load and store: a thief touches a slot only
// after claiming its index, and the owner wrote this slot itself.
func (d *Deque[T]) take(i int64) *T {
	p := &d.buf[i&d.mask]
	x := *p
	*p = nil
	return x
}

// Steal removes and returns the oldest element, or nil if the deque is empty.
// Any thief (any goroutine other than the owner) may call it, concurrently
// with other thieves and with the owner.
//
// Steal is lock-free: it retries only when its CAS loses to another thief or
// to the owner, each of which has then made progress. It never allocates. A
// nil result means the deque was empty at some moment during the call.
func (d *Deque[T]) Steal() *T {
	for {
		tw := d.top.Load()   // seq-cst: ordered before the bottom load (see ringFor)
		b := d.bottom.Load() // acquire: pairs with Push's release
		if topIdx(tw) >= b {
			return nil
		}
		r := d.ringFor(tw)
		if r == nil {
			continue
		}
		// Seq-cst CAS: one winner per index, among thieves and the owner's
		// Pop of the last element; it fails if the epoch changed, so r is
		// the ring that holds index tw.
		if d.top.CompareAndSwap(tw, tw+1) {
			return stealSlot(r, topIdx(tw))
		}
	}
}

// ringFor returns the ring that is current while top holds tw, or nil if tw
// is already stale. Any thief.
func (d *Deque[T]) ringFor(tw int64) *ring[T] {
	// Seq-cst loads of top, bottom, then array (Steal and StealHalf). Lê et
	// al. need acquire loads of top and bottom with a seq-cst fence between
	// them; Go's atomics are sequentially consistent, which gives that order.
	// Acquire on bottom pairs with Push's release, so the element's slot
	// store is visible; acquire on array makes the ring's contents visible.
	r := d.array.Load() // acquire, after the loads of top and bottom
	if e := topEpoch(tw); r.epoch != e {
		// The owner is growing: it published a new ring but top still has the
		// old epoch. Steal from the old ring, which is prev (acquire).
		if r = r.prev.Load(); r == nil || r.epoch != e { // acquire
			return nil // tw is stale; our CAS would fail
		}
	}
	return r
}

// stealSlot reads and clears the slot of index i in r. The caller is a thief
// whose CAS has just claimed i while r was current.
func stealSlot[T any](r *ring[T], i int64) *T {
	p := &r.slots[i&r.mask]
	// The slot holds element i: the owner wrote it (in r, or in the ring it
	// was copied from, before r became current) before publishing a bottom
	// above i, and it writes only into nil slots. Atomic load (relaxed would
	// do): the owner may be loading the slot in Push at the same time.
	x := loadSlot(p)
	// Release: the owner's acquire load in Push sees nil only after our read.
	clearSlot(p)
	return x
}

// StealHalf moves up to half of d's elements, rounded up, from d's top to
// dst's bottom, and returns how many it moved. It is like the Go runtime's
// runqgrab.
//
// Who may call it: a thief of d that is also the owner of dst. The caller
// must not be d's owner, and dst must not be d (StealHalf panics on that).
// Other thieves may steal from d and from dst at the same time.
//
// Elements keep their order: the oldest stolen element ends up nearest dst's
// top. All moved elements appear in dst at once, with one store to dst's
// bottom. They are claimed from d one at a time, each with the same CAS on
// top as Steal uses: a single CAS over several indices would race with Pop,
// which takes non-final elements without any CAS. So StealHalf is a sequence
// of Steals, and it stops early if a CAS fails after its first success or d
// runs dry. It retries only until its first element, as Steal does; a result
// of 0 means d was empty at some moment during the call.
//
// StealHalf grows dst if it lacks room, and otherwise does not allocate.
func (d *Deque[T]) StealHalf(dst *Deque[T]) int {
	if dst == d {
		panic("queue: StealHalf into the deque it steals from")
	}
	for {
		tw := d.top.Load()   // seq-cst, before the bottom load: as in Steal
		b := d.bottom.Load() // acquire: pairs with Push's release
		n := b - topIdx(tw)
		if n <= 0 {
			return 0
		}
		n -= n / 2
		r := d.ringFor(tw)
		if r == nil {
			continue
		}
		db := dst.bottom.Load() // the caller owns dst: no ordering needed
		dst.reserve(db, n)
		k := int64(0)
		// Each pass is one Steal of index topIdx(tw), where tw is the value
		// our previous CAS wrote. A CAS with a stale epoch fails, so r stays
		// the right ring for every index we claim.
		for k < n && d.top.CompareAndSwap(tw, tw+1) { // seq-cst
			// Plain store into dst: the caller owns dst, reserve made the slot
			// nil, and dst's thieves cannot claim it before the bottom store.
			dst.buf[(db+k)&dst.mask] = stealSlot(r, topIdx(tw))
			k++
			tw++
			// Seq-cst, after our CAS: the top-then-bottom order of Steal.
			if topIdx(tw) >= d.bottom.Load() { // seq-cst
				break
			}
		}
		if k > 0 {
			// Release: dst's thieves that see the new bottom see all k slots.
			dst.bottom.Store(db + k)
			return int(k)
		}
	}
}

// Len returns the number of elements. Any goroutine may call it. Unless the
// caller is the owner and no thief is active, the result is approximate: it
// is computed from two loads that other goroutines may separate.
func (d *Deque[T]) Len() int {
	b := d.bottom.Load()      // acquire
	t := topIdx(d.top.Load()) // acquire
	if n := b - t; n > 0 {
		return int(n)
	}
	return 0
}

// Cap returns the number of slots in the current ring: the most elements the
// deque holds before it next grows. Any goroutine may call it; only the
// owner gets a value that cannot change under it.
func (d *Deque[T]) Cap() int {
	r := d.array.Load() // acquire
	if r == nil {
		return 0
	}
	return len(r.slots)
}
