// Package queue holds the two lock-free queues of the scheduler: Deque, a
// Chase-Lev work-stealing deque that each worker owns, and Inbox, a bounded
// multi-producer single-consumer queue through which isolates arriving from
// the network reach a worker. Both hold pointers and know nothing of what
// they point to.
//
// # Who calls what
//
//	Deque.Push, Deque.Pop        owner only: the one goroutine that runs the worker
//	Deque.Steal                  any thief: any goroutine but the owner
//	Deque.StealHalf(dst)         a thief of the receiver that owns dst
//	Deque.Len, Deque.Cap         anyone (approximate unless owner and no thieves)
//	NewDeque, NewInbox           anyone, before sharing the result
//	Inbox.Push                   any producer
//	Inbox.Pop                    the consumer only: one goroutine
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
// # The deque
//
// The deque is an unbounded sequence of indices, of which [top, bottom) hold
// elements; index i lives in slot i mod n of a ring of n = 2^k slots. The
// owner pushes at bottom and pops at bottom-1; thieves take top. top only
// grows. This is the algorithm of Chase and Lev, "Dynamic Circular
// Work-Stealing Deque" (SPAA 2005), with the memory orderings of Lê, Pop,
// Cohen and Zappa Nardelli, "Correct and Efficient Work-Stealing for Weak
// Memory Models" (PPoPP 2013):
//
//	Push(x):  write x to slot b; store bottom = b+1 (release)
//	Pop:      store bottom = b-1; seq-cst fence; load top t;
//	          t < b-1: take b-1 without a CAS (no thief can reach it)
//	          t = b-1: CAS top t -> t+1 to race thieves for the last element,
//	                   then store bottom = t+1
//	          t > b-1: empty; store bottom = b
//	Steal:    load top t (acquire); seq-cst fence; load bottom b (acquire);
//	          t < b: CAS top t -> t+1 (seq-cst); the winner has element t
//
// Go's sync/atomic operations are sequentially consistent, which is at least
// what each of these needs; the comment on every atomic operation in the
// source names the ordering it relies on. In Go, a seq-cst store followed by
// a seq-cst load gives the store-load fence of Pop, and Steal's load of top
// followed by its load of bottom gives Steal's. Pop has one shortcut: when
// its first load of top shows exactly one element, it CASes top for it as a
// thief would, without touching bottom, so it needs no fence.
//
// How elements move through slots departs from the paper, for speed and for
// the garbage collector. In the paper a thief reads slot t before its CAS,
// because once top passes t the owner may reuse the slot; a thief whose CAS
// then fails has read a slot that the owner may be writing. In Go that is a
// data race unless the owner writes slots atomically, and an atomic pointer
// store (a runtime call with a write barrier, then XCHG) would be most of
// Push's cost. Here, instead:
//
//   - A thief reads slot t only after its CAS has claimed t, and then clears
//     the slot with an atomic store (release).
//   - The owner clears the slots it pops, and writes a slot only when it sees
//     it nil with an atomic load (acquire). A thief that has claimed an
//     index but not yet read it keeps the slot non-nil, so the owner never
//     overwrites an element being read; the owner's writes are plain stores,
//     ordered before any thief's read by the release store to bottom.
//   - Since a live element's slot is never nil, a nil slot at b also proves
//     that index b-n has left the deque, so Push needs no load of top to
//     check for room. If the slot is not nil the deque is full, or a thief is
//     between its CAS and its read of an element one lap old: either way the
//     owner grows.
//   - Removed elements are not kept alive by the ring.
//
// Reading after the CAS needs the thief to know which ring held index t at
// the moment of its CAS, so top carries the ring's epoch in its high 8 bits
// and the index in its low 56. The owner grows by copying [t, bottom) into a
// ring of twice the size with the next epoch, publishing it (with a link to
// the old ring), and CASing top from (e, t) to (e+1, t); a thief that read
// epoch e meanwhile steals from the old ring through the link, and if one
// moves top first the owner's CAS fails, and it drops the stolen copies and
// retries. After the CAS, every successful thief CAS carries the new epoch
// and reads the new ring. The old ring is left to the garbage collector; the
// owner never writes to it again.
//
// StealHalf claims elements one at a time with Steal's CAS (one CAS over many
// indices would race with Pop, which takes non-final elements without a
// CAS), writes them into dst with plain stores, and publishes them with one
// release store of dst's bottom. So it is a sequence of Steals that appears
// in dst all at once.
//
// Cost: Push is one seq-cst store (XCHG on amd64); Pop is one seq-cst store or
// one CAS. Each costs 5 to 6 ns on the 2-core development machine, and Pop's
// cannot be avoided: it is the fence that keeps the owner and a thief from
// both taking the last element. So a Push and a Pop cost at least two such
// operations; BenchmarkPushPop/impl=atomics-floor measures that floor in the
// same run as the deque. Under contention the cost is cache-line transfers:
// every Push must take bottom's line back from thieves that have read it.
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
// top and bottom, and the inbox's tail and head, sit cacheLinePad (128)
// bytes apart, so that thieves' CASes on top do not evict the owner's
// bottom; a test checks the padding against the line size the CPU reports.
package queue
