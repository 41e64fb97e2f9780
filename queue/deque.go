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

// Deque is a split work-stealing deque of *T: the newest elements are private
// to the owner, the older ones public, and the public part is a Chase-Lev
// deque. Its zero value is an empty deque ready to use; a Deque must not be
// copied after first use.
//
// One goroutine, the owner, calls Push, Pop and Len at the bottom. Any number
// of other goroutines, thieves, call Steal and StealHalf at the top; they see
// only the public part. Steal returns nil when nothing is public; if the owner
// holds private elements, the request that Steal leaves makes the owner
// publish half of them at its next Push or Pop. Stealable and Cap may be
// called by anyone. See the package documentation for the algorithm and the
// memory-ordering argument.
type Deque[T any] struct {
	_ [cacheLinePad]byte // keeps top off the line of whatever precedes the Deque

	// top is epoch<<idxBits | index of the oldest element. The index never
	// decreases. Thieves advance it by CAS; the owner advances it by CAS when
	// it takes the last public element, and changes the epoch by CAS when it
	// grows. It has a line of its own because thieves write it on every
	// steal.
	top atomic.Int64
	_   [cacheLinePad - 8]byte

	// The thieves' read-mostly line. Thieves load split and array on every
	// steal; the owner writes them only when it publishes (share), takes
	// from the public part, or grows; a thief writes request only when it
	// finds the public part empty. So while thieves are busy with public
	// elements the line stays shared, and the owner's load of request on
	// every Push and Pop hits in its own cache.

	// split is one past the newest public element: [top, split) is public.
	// Only the owner stores it. It rises when the owner publishes, and falls
	// only in Pop when the private part is empty.
	split atomic.Int64
	// array is the current ring. Only the owner stores it, when it grows.
	array atomic.Pointer[ring[T]]
	// request is set by a thief that found the public part empty, and
	// cleared by the owner when it publishes.
	request atomic.Bool
	_       [cacheLinePad - 20]byte

	// The owner's line; no thief reads or writes it, so the owner uses plain
	// loads and stores.
	//
	// bottom is one past the newest element: [osplit, bottom) is private.
	bottom int64
	// osplit is the owner's copy of split: equal to it except while Pop is
	// taking from the public part.
	osplit int64
	// buf and mask are the owner's copy of array's slots, so that Push and
	// Pop skip one indirection.
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

// Push adds x at the bottom, to the private part. Owner only. x must not be
// nil: Pop and Steal use nil to mean empty, and Push panics on it. If a thief
// has asked for work, Push then publishes the older half of the private part
// (rounded up).
//
// Push never blocks. It does not allocate unless it has to grow: when the
// deque is full, or (rarely) when the slot it needs is still held by a thief
// that has claimed the element from one lap ago but not yet read it. Growing
// moves the elements to a ring of twice the size.
func (d *Deque[T]) Push(x *T) {
	b := d.bottom
	i := b & d.mask
	// Acquire: if a thief emptied the slot, its read of the old element
	// happens before our write below. A live element's slot is never nil, so
	// a nil slot also proves the deque is not full (index b-len is gone).
	if x == nil || uint64(i) >= uint64(len(d.buf)) || loadSlot(&d.buf[i]) != nil {
		d.pushSlow(x, b)
		return
	}
	// Plain store: index b is private, and no thief reads a slot before
	// claiming its index; share's release store of split publishes it.
	d.buf[i] = x
	d.bottom = b + 1 // plain: thieves never read bottom
	// Relaxed would do (a plain MOV on amd64 either way): a request we miss
	// now is seen at the next Push or Pop, and the thief retries until then.
	if d.request.Load() {
		d.share()
	}
}

// pushSlow is Push when x is nil or the slot for b is not free. Owner only.
func (d *Deque[T]) pushSlow(x *T, b int64) {
	if x == nil {
		panic("queue: Push(nil)")
	}
	d.grow(b, 1)
	d.buf[b&d.mask] = x // plain store, as in Push
	d.bottom = b + 1
	if d.request.Load() { // as in Push
		d.share()
	}
}

// share publishes the older half of the private part, rounded up, in answer
// to a thief's request. Owner only. With nothing private it leaves the
// request set, so that the next Push answers it.
//
// It clears the request before it stores split. A thief that finds the
// public part empty between the two stores sets the request again, and the
// owner publishes once more than it needed to: harmless. (In the other
// order, thieves could empty the new public part and find the request still
// set, so not set it, just before the owner cleared it: a lost request,
// harmless too since a thief that finds nothing asks again, but it costs
// that thief a round.)
func (d *Deque[T]) share() {
	n := d.bottom - d.osplit
	if n <= 0 {
		return
	}
	s := d.osplit + n - n/2
	d.osplit = s
	d.request.Store(false) // seq-cst: before the split store (see above)
	// Release (seq-cst here): a thief that loads split >= s also sees the
	// plain slot stores of Push for every index below s.
	d.split.Store(s)
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
// with room for [top, b+n), and makes it current. Owner only. b is bottom:
// the copy includes the private part, whose slots live in the same ring.
//
// The owner copies [t, b) into the new ring, publishes it, and then CASes top
// from (epoch e, t) to (e+1, t). Until that CAS, thieves keep stealing from
// the old ring (through the new ring's prev); if one of them moves top, the
// CAS fails, and the owner drops the copies of what was stolen and retries.
// After it, a thief's CAS succeeds only if it read the new epoch, and it then
// reads the new ring.
func (d *Deque[T]) grow(b, n int64) {
	old := d.array.Load() // acquire (Go atomics are seq-cst); only the owner stores array, so this reads its own last store
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
		// A zero Deque: no element was ever pushed, so split is 0 and a thief
		// returns before looking at array when split <= top. Keep the epoch.
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
//
// While the private part holds elements, Pop takes the newest of them with
// plain loads and stores, and then publishes half of the rest if a thief has
// asked. When the private part is empty, Pop takes back the newer half of
// the public part (see popPublic).
func (d *Deque[T]) Pop() *T {
	b := d.bottom
	if b > d.osplit {
		// Index b-1 is private: no thief can claim it.
		b--
		d.bottom = b
		x := d.take(b)
		if d.request.Load() { // relaxed would do, as in Push
			d.share()
		}
		return x
	}
	return d.popPublic(b)
}

// popPublic is Pop when the private part is empty, so that bottom, osplit and
// split are all s. Owner only. It is Chase-Lev's Pop with split in the role
// of bottom, except that it moves split down by half the public part at once
// (as Lace does) rather than by one, so that the owner pays for one fence per
// half rather than per element, and pops the rest privately.
func (d *Deque[T]) popPublic(s int64) *T {
	// Seq-cst load of top (acquire would do). The index only grows and only
	// the owner raises split, so if the public part looks empty here it is
	// empty now, and so is the deque.
	tw := d.top.Load()
	n := s - topIdx(tw)
	switch {
	case n <= 0:
		return nil
	case n == 1:
		// One element: claim it from the top as a thief would. split is not
		// touched, so no fence is needed and thieves never see a transient
		// split < top.
		if d.top.CompareAndSwap(tw, tw+1) { // seq-cst: the race with thieves
			return d.take(s - 1)
		}
		return nil // a thief took it: the deque is empty
	}
	ns := s - n/2 // top < ns < s: take back [ns, s), leave [top, ns) public
	// Seq-cst store, then seq-cst load of top: this pair is the store-load
	// fence of Lê et al.'s take(). A thief whose split load comes after the
	// store sees ns. A thief whose split load came before it loaded top
	// before that, so at most the t we read below; its CAS succeeds only if
	// top is still what it loaded. So from now on thieves claim at most one
	// more index, and only index t.
	d.split.Store(ns) // seq-cst store ...
	tw = d.top.Load() // ... then seq-cst load: the fence
	t := topIdx(tw)
	switch {
	case t < ns:
		// Thieves can reach at most t < ns: [ns, s) is private now.
		d.osplit = ns
	case t < s-1:
		// Thieves got to ns first: [t+1, s) is ours, and t may still be
		// claimed. Make split t+1, which hands t back to the public part (a
		// thief with the old split may already be claiming it). Release
		// would do; nothing new is published.
		d.split.Store(t + 1)
		d.osplit = t + 1
	default:
		// At most one element left, s-1 = t, which a thief may be claiming:
		// race for it with a CAS, as Chase-Lev's Pop does, or find it gone
		// (t = s). Either way the deque is now empty with top index s; put
		// split back there. Seq-cst; release would do.
		var x *T
		if t == s-1 && d.top.CompareAndSwap(tw, tw+1) { // seq-cst: the last element
			x = d.take(s - 1)
		}
		d.split.Store(s)
		return x
	}
	// Index s-1 is private now; take it as the private path of Pop does.
	d.bottom = s - 1
	return d.take(s - 1)
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

// Steal removes and returns the oldest element of the public part, or nil if
// the public part is empty. Any thief (any goroutine other than the owner)
// may call it, concurrently with other thieves and with the owner.
//
// Steal returns nil when nothing is public; if the owner holds private
// elements, the request that Steal then leaves makes the owner publish half
// of them at its next Push or Pop, so a thief that retries after that
// succeeds (unless another thief got there first).
//
// Steal is lock-free: it retries only when its CAS loses to another thief or
// to the owner, each of which has then made progress. It never allocates.
func (d *Deque[T]) Steal() *T {
	for {
		tw := d.top.Load()  // seq-cst: ordered before the split load (see ringFor)
		s := d.split.Load() // acquire: pairs with share's release
		if topIdx(tw) >= s {
			d.ask()
			return nil
		}
		r := d.ringFor(tw)
		if r == nil {
			continue
		}
		// Seq-cst CAS: one winner per index, among thieves and the owner's
		// Pop of the last public element; it fails if the epoch changed, so
		// r is the ring that holds index tw.
		if d.top.CompareAndSwap(tw, tw+1) {
			return stealSlot(r, topIdx(tw))
		}
	}
}

// ask sets the request for the owner to publish. Any thief. It stores only
// if the flag is clear, so that idle thieves polling an empty deque keep the
// line shared instead of taking it from each other and from the owner.
func (d *Deque[T]) ask() {
	// Relaxed would do for both: the flag carries no data. A request set
	// just after the owner looked is answered at its next Push or Pop.
	if !d.request.Load() {
		d.request.Store(true)
	}
}

// ringFor returns the ring that is current while top holds tw, or nil if tw
// is already stale. Any thief.
func (d *Deque[T]) ringFor(tw int64) *ring[T] {
	// Seq-cst loads of top, split, then array (Steal and StealHalf). Lê et
	// al. need acquire loads of top and bottom (here split) with a seq-cst
	// fence between them; Go's atomics are sequentially consistent, which
	// gives that order. Acquire on split pairs with the release in share, so
	// the element's slot store is visible; acquire on array makes the ring's
	// contents visible.
	r := d.array.Load() // acquire, after the loads of top and split
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
	// was copied from, before r became current) before publishing a split
	// above i, and it writes only into nil slots. Atomic load (relaxed would
	// do): the owner may be loading the slot in Push at the same time.
	x := loadSlot(p)
	// Release: the owner's acquire load in Push sees nil only after our read.
	clearSlot(p)
	return x
}

// StealHalf moves up to half of d's public elements, rounded up, from d's top
// to dst's bottom, and returns how many it moved. It is like the Go runtime's
// runqgrab.
//
// Who may call it: a thief of d that is also the owner of dst. The caller
// must not be d's owner, and dst must not be d (StealHalf panics on that).
// Other thieves may steal from d and from dst at the same time.
//
// Like Steal, it sees only d's public part: it returns 0 when that is empty,
// leaving the request that makes d's owner publish half of its private
// elements at its next Push or Pop.
//
// The moved elements land in dst's private part, in order: the oldest stolen
// element ends up nearest dst's top, and the caller's next Pop on dst takes
// the newest. They are claimed from d one at a time, each with the same CAS
// on top as Steal uses: a single CAS over several indices would race with
// Pop, which takes back public elements below a split it has lowered
// without any CAS on top. So StealHalf is a sequence of Steals, and it stops
// early if a CAS fails after its first success or d's public part runs dry.
// It retries only until its first element, as Steal does. If dst's own
// thieves have asked for work, StealHalf then publishes half of dst's
// private part, as dst.Push would.
//
// StealHalf grows dst if it lacks room, and otherwise does not allocate.
func (d *Deque[T]) StealHalf(dst *Deque[T]) int {
	if dst == d {
		panic("queue: StealHalf into the deque it steals from")
	}
	for {
		tw := d.top.Load()  // seq-cst, before the split load: as in Steal
		s := d.split.Load() // acquire: pairs with share's release
		n := s - topIdx(tw)
		if n <= 0 {
			d.ask()
			return 0
		}
		n -= n / 2
		r := d.ringFor(tw)
		if r == nil {
			continue
		}
		db := dst.bottom // the caller owns dst: a plain load of its own word
		dst.reserve(db, n)
		k := int64(0)
		// Each pass is one Steal of index topIdx(tw), where tw is the value
		// our previous CAS wrote. A CAS with a stale epoch fails, so r stays
		// the right ring for every index we claim.
		for k < n && d.top.CompareAndSwap(tw, tw+1) { // seq-cst
			// Plain store into dst: the caller owns dst, reserve made the slot
			// nil, and index db+k is in dst's private part.
			dst.buf[(db+k)&dst.mask] = stealSlot(r, topIdx(tw))
			k++
			tw++
			// Seq-cst, after our CAS: the top-then-split order of Steal.
			if topIdx(tw) >= d.split.Load() { // seq-cst
				break
			}
		}
		if k > 0 {
			// Plain: the new elements are private, so dst's thieves need
			// no release; share publishes them if dst's thieves asked.
			dst.bottom = db + k
			if dst.request.Load() { // relaxed would do, as in Push
				dst.share()
			}
			return int(k)
		}
	}
}

// Len returns the number of elements, public and private. Owner only; it is
// exact at the moment it loads top, which thieves may then move.
func (d *Deque[T]) Len() int {
	t := topIdx(d.top.Load()) // acquire would do
	if n := d.bottom - t; n > 0 {
		return int(n)
	}
	return 0
}

// Stealable returns roughly how many elements are public: what thieves could
// take now without asking the owner. Any goroutine may call it; the result
// comes from two loads that other goroutines may separate, so it is only a
// hint. A thief should not skip a deque because Stealable is 0: it is Steal
// or StealHalf finding nothing that asks the owner to publish.
func (d *Deque[T]) Stealable() int {
	t := topIdx(d.top.Load()) // acquire
	s := d.split.Load()       // acquire
	if n := s - t; n > 0 {
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
