// Package queue holds the two lock-free queues of the scheduler: Deque, a
// split work-stealing deque that each worker owns, and Inbox, a bounded
// multi-producer single-consumer queue through which isolates arriving from
// the network reach a worker. Both hold pointers and know nothing of what
// they point to.
//
// # Who calls what
//
//	Deque.Push, Deque.Pop        owner only: the one goroutine that runs the worker
//	Deque.Len                    owner only: exact count, public and private
//	Deque.Steal                  any thief: any goroutine but the owner (or the owner between its own calls)
//	Deque.StealHalf(dst)         a thief of the receiver that owns dst
//	Deque.Stealable, Deque.Cap   anyone (Stealable: approximate size of the public part)
//	NewDeque, NewInbox           anyone, before sharing the result
//	Inbox.Push                   any producer
//	Inbox.Pop                    the consumer only: one goroutine at a time (a lock may pass the role on)
//	Inbox.Len, Inbox.Cap         anyone
//
// A worker loop drains its inbox into its own deque, pops from it, and when
// that is empty steals half of a sibling's deque:
//
//	for {
//		for y := inbox.Pop(); y != nil; y = inbox.Pop() {
//			own.Push(y)
//		}
//		x := own.Pop()
//		if x == nil && sibling.StealHalf(own) > 0 {
//			x = own.Pop()
//		}
//		if x != nil {
//			run(x) // and own.Push(x) again if it did not finish
//		}
//	}
//
// nil is never an element: Push panics on nil, and Pop and Steal return nil
// for "nothing".
//
// Thieves see only the public part. Steal returns nil when nothing is
// public; if the owner holds private elements, the request that Steal (or
// StealHalf) leaves makes the owner publish half of them at its next Push or
// Pop, and a thief that retries after that succeeds unless another thief got
// there first. So a thief must not give up on a victim, or skip it, because
// Stealable is 0: it is finding nothing that asks. And an owner that stops
// calling Push and Pop (blocked, or running one long task) strands its
// private elements until it comes back.
//
// # The deque
//
// The deque is an unbounded sequence of indices, of which [top, bottom) hold
// elements; index i lives in slot i mod n of a ring of n = 2^k slots. The
// owner pushes at bottom and pops at bottom-1; thieves take top. top only
// grows. A third index, split, divides the elements: [top, split) is the
// public part, which thieves may claim, and [split, bottom) the private
// part, which only the owner touches. This is the split deque of van Dijk
// and van de Pol, "Lace: non-blocking split deque for work-stealing"
// (Euro-Par 2014 workshops); Acar, Charguéraud and Rainey, "Scheduling
// parallel programs by work stealing with private deques" (PPoPP 2013),
// measure why it pays: most of a worker's pushes and pops never meet a
// thief, and in a plain deque each of them pays for the possibility.
//
// The public part is exactly the Chase-Lev deque ("Dynamic Circular
// Work-Stealing Deque", SPAA 2005, with the memory orderings of Lê, Pop,
// Cohen and Zappa Nardelli, "Correct and Efficient Work-Stealing for Weak
// Memory Models", PPoPP 2013), with split in the role of bottom. bottom
// itself, and the owner's copy of split (osplit), are plain fields that no
// thief reads:
//
//	Push(x):   write x to slot b; bottom = b+1 (plain);
//	           if request is set: share
//	Pop:       private part not empty (bottom > osplit):
//	               bottom--; take slot bottom (plain); if request is set: share
//	           else Chase-Lev's Pop on the public part, with split for bottom
//	share:     n = bottom - osplit; n = 0: leave the request set
//	           else osplit += ceil(n/2); clear request; store split = osplit (release)
//	Steal:     load top t (acquire); seq-cst fence; load split s (acquire);
//	           t >= s: set request (if clear); return nil
//	           t < s: CAS top t -> t+1 (seq-cst); the winner has element t
//
// Pop on an empty private part (bottom = osplit = split = s, top t, n = s-t
// public elements) is Chase-Lev's Pop with one change, from Lace: it takes
// back the newer half of the public part under one fence, not one element:
//
//	n = 0:   empty
//	n = 1:   CAS top t -> t+1 for the last element, as a thief would; split
//	         is not touched, so no fence is needed
//	n >= 2:  store split = s' = s - floor(n/2) (seq-cst); load top t'
//	         (seq-cst): the pair is the store-load fence of Lê et al.'s take()
//	         t' < s':    [s', s) is private now: take s-1, keep the rest
//	         t' < s-1:   thieves got to s' first; [t'+1, s) is ours, and t'
//	                     may still be claimed: store split = t'+1 (it is
//	                     public again), take s-1, keep [t'+1, s-1) private
//	         otherwise:  t' = s-1: CAS top for the last element; t' = s: gone.
//	                     Either way store split = s: empty, top = split = s
//
// Why a thief can claim at most index t' once the store of s' is followed by
// the load of t': a thief loads top, then split, then CASes top from the
// value it loaded. A thief whose split load follows our store sees s' (or a
// later split) and claims only below it. A thief whose split load preceded
// our store loaded top before that, so at most t'; its CAS succeeds only if
// top still holds what it loaded, so it can claim t' and nothing above.
// Go's sync/atomic operations are sequentially consistent, which is at least
// what each step needs; the comment on every atomic operation in the source
// names the ordering it relies on. In Go, a seq-cst store followed by a
// seq-cst load gives the store-load fence of Pop, and Steal's load of top
// followed by its load of split gives Steal's.
//
// Publishing needs only release. share writes no slot: Push already wrote
// each private slot with a plain store, and the release store of split
// orders those stores before any thief's acquire load that sees the new
// split, which comes before the thief's CAS and its read of the slot. The
// private path of Push and Pop has no atomic store at all, and its only
// atomic loads (of the slot in Push, and of request) are plain MOVs on
// amd64.
//
// The request is the only way thieves talk to the owner. share clears it
// before it stores split. A thief that finds the public part empty between
// the two stores sets it again, and the owner publishes once more than it
// needed to; in the other order a thief could find it still set, not set
// it, and have it cleared: a lost request, which costs that thief a retry.
// With nothing private to publish, share leaves the request set, so the next
// Push publishes the element it pushed.
//
// How elements move through slots departs from the papers, for speed and
// for the garbage collector. In Chase-Lev a thief reads slot t before its
// CAS, because once top passes t the owner may reuse the slot; a thief whose
// CAS then fails has read a slot that the owner may be writing. In Go that
// is a data race unless the owner writes slots atomically, and an atomic
// pointer store (a runtime call with a write barrier, then XCHG) would be
// most of Push's cost. Here, instead:
//
//   - A thief reads slot t only after its CAS has claimed t, and then clears
//     the slot with an atomic store (release).
//   - The owner clears the slots it pops, and writes a slot only when it sees
//     it nil with an atomic load (acquire). A thief that has claimed an
//     index but not yet read it keeps the slot non-nil, so the owner never
//     overwrites an element being read; the owner's writes are plain stores,
//     ordered before any thief's read by the release store of split.
//   - Since a live element's slot is never nil, a nil slot at b also proves
//     that index b-n has left the deque, so Push needs no load of top to
//     check for room. If the slot is not nil the deque is full, or a thief is
//     between its CAS and its read of an element one lap old: either way the
//     owner grows.
//   - Removed elements are not kept alive by the ring.
//
// Reading after the CAS needs the thief to know which ring held index t at
// the moment of its CAS, so top carries the ring's epoch in its high 8 bits
// and the index in its low 56. The owner grows by copying [t, bottom), both
// parts, into a ring of twice the size with the next epoch, publishing it
// (with a link to the old ring), and CASing top from (e, t) to (e+1, t); a
// thief that read epoch e meanwhile steals from the old ring through the
// link, and if one moves top first the owner's CAS fails, and it drops the
// stolen copies and retries. After the CAS, every successful thief CAS
// carries the new epoch and reads the new ring. The old ring is left to the
// garbage collector; the owner never writes to it again. split does not move
// while the owner grows.
//
// StealHalf claims half of the public part, one element at a time with
// Steal's CAS (one CAS over many indices would race with Pop, which takes
// back public elements by lowering split, without a CAS on top), and writes
// them into dst's private part with plain stores: they need no publishing,
// because the caller owns dst and dst's thieves cannot claim private
// indices. So it is a sequence of Steals. If dst's thieves have asked,
// StealHalf then answers them as dst.Push would.
//
// Linearizability: Pop is exact (it returns nil only when the deque is
// empty), Push and Pop are LIFO, Steal takes the oldest element, nothing is
// taken twice. Where split is depends on requests, which a history does not
// show, so the specification (the model in lin_test.go) lets the owner
// publish any number of elements at each Push or Pop, and take back any
// number in a Pop that finds its private part empty; a Steal that returns
// nil pins the public part empty until the owner's next Push or Pop.
//
// Cost: the private path of Push and Pop is plain loads and stores, about
// 3.5 ns for the pair on the 2-core development machine, against 12 ns for
// the seq-cst store plus CAS that a plain Chase-Lev Push and Pop cannot go
// below (BenchmarkPushPop/impl=atomics-floor), because Chase-Lev's Pop fence
// is what keeps the owner and a thief from both taking the last element.
// Here the owner pays for that fence only when its private part is empty,
// once per half of the public part; and it pays two locked stores per
// request it answers (share), each of which publishes half of what it holds.
// Under contention the cost is cache lines: thieves write top on every
// steal, which the owner reads only on its public path; split, array and
// request share a line that thieves read and that is written only when the
// owner publishes, takes back, or grows, or when a thief asks; bottom and
// the owner's other fields sit on a line no thief touches.
//
// # The inbox
//
// Inbox is Dmitry Vyukov's bounded MPMC queue with one consumer: cell i of
// 2^k carries a sequence number; a producer claims position p with a CAS on
// tail when cell p's sequence equals p, writes the element, and stores p+1
// (release); the consumer, alone, reads cell head when its sequence is
// head+1 (acquire), and stores head+2^k (release) to hand the cell to the
// next lap's producer. Push and Pop never allocate; Push reports false when
// the inbox is full. A producer stopped between its CAS and its store holds
// up the consumer, so Pop's nil means "nothing ready", not "empty".
//
// # Cache lines
//
// The deque keeps three groups cacheLinePad (128) bytes apart: top, which
// thieves CAS; split, array and request, which thieves read; and the owner's
// bottom, osplit and ring. The inbox keeps its tail and head apart the same
// way. A test checks the layout, and the padding against the line size the
// CPU reports.
package queue
