package queue

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// The benchmarks compare the split deque with the two obvious alternatives,
// measured in the same run: a buffered channel, and a slice deque guarded by
// a sync.Mutex. Run them with
//
//	go test -run '^$' -bench 'PushPop|Steal' -benchmem -count 5 -benchtime 300ms ./queue
//
// In the contended benchmarks ns/op is per item that passes through the
// deque, so lower ns/op is higher throughput; steals/op is the share of items
// that thieves took, and items/grab how many a successful Steal or StealHalf
// took at once.

// benchDeque is what the contended benchmarks need from an implementation.
type benchDeque interface {
	Push(*item)
	Pop() *item
	Steal() *item
	StealHalf(dst benchDeque) int
	Len() int
}

type splitDeque struct{ d *Deque[item] }

func (c splitDeque) Push(x *item)                 { c.d.Push(x) }
func (c splitDeque) Pop() *item                   { return c.d.Pop() }
func (c splitDeque) Steal() *item                 { return c.d.Steal() }
func (c splitDeque) StealHalf(dst benchDeque) int { return c.d.StealHalf(dst.(splitDeque).d) }
func (c splitDeque) Len() int                     { return c.d.Len() }

// chanDeque is a buffered channel used as a deque: it has only one end, so
// Pop and Steal both take the oldest element.
type chanDeque struct{ c chan *item }

func (q chanDeque) Push(x *item) { q.c <- x }

func (q chanDeque) Pop() *item {
	select {
	case x := <-q.c:
		return x
	default:
		return nil
	}
}

func (q chanDeque) Steal() *item { return q.Pop() }

func (q chanDeque) Len() int { return len(q.c) }

func (q chanDeque) StealHalf(dst benchDeque) int {
	d := dst.(chanDeque)
	n := (len(q.c) + 1) / 2
	for i := range n {
		select {
		case x := <-q.c:
			d.c <- x
		default:
			return i
		}
	}
	return n
}

// mutexDeque is a growable ring of *item guarded by a mutex: the simple,
// obviously correct deque.
type mutexDeque struct {
	mu         sync.Mutex
	buf        []*item
	head, size int
}

func newMutexDeque(capacity int) *mutexDeque {
	return &mutexDeque{buf: make([]*item, capacity)}
}

// push adds x at the bottom; the caller holds mu.
func (q *mutexDeque) push(x *item) {
	if q.size == len(q.buf) {
		nb := make([]*item, 2*len(q.buf))
		for i := range q.size {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.size)%len(q.buf)] = x
	q.size++
}

func (q *mutexDeque) Push(x *item) {
	q.mu.Lock()
	q.push(x)
	q.mu.Unlock()
}

func (q *mutexDeque) Pop() *item {
	q.mu.Lock()
	var x *item
	if q.size > 0 {
		q.size--
		i := (q.head + q.size) % len(q.buf)
		x, q.buf[i] = q.buf[i], nil
	}
	q.mu.Unlock()
	return x
}

// steal takes the oldest element; the caller holds mu.
func (q *mutexDeque) steal() *item {
	if q.size == 0 {
		return nil
	}
	x := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.size--
	return x
}

func (q *mutexDeque) Len() int {
	q.mu.Lock()
	n := q.size
	q.mu.Unlock()
	return n
}

func (q *mutexDeque) Steal() *item {
	q.mu.Lock()
	x := q.steal()
	q.mu.Unlock()
	return x
}

func (q *mutexDeque) StealHalf(dst benchDeque) int {
	d := dst.(*mutexDeque)
	q.mu.Lock()
	d.mu.Lock()
	n := (q.size + 1) / 2
	for range n {
		d.push(q.steal())
	}
	d.mu.Unlock()
	q.mu.Unlock()
	return n
}

var impls = []struct {
	name string
	make func() benchDeque
}{
	{"split", func() benchDeque { return splitDeque{NewDeque[item](1024)} }},
	{"chan", func() benchDeque { return chanDeque{make(chan *item, 1024)} }},
	{"mutex", func() benchDeque { return newMutexDeque(1024) }},
}

// BenchmarkPushPop is one Push and one Pop by the owner with no thief, on a
// deque that holds depth other elements. With no thief asking, every element
// stays private, so both are plain loads and stores plus one atomic load
// each (of a slot in Push, of the request flag in both), at any depth. The
// calls are direct, not through benchDeque. impl=atomics-floor is one
// sequentially consistent atomic store plus one CAS: the least that a Push
// that publishes its element and a Pop that claims one against thieves can
// cost with sync/atomic, which is what a plain Chase-Lev deque (the split
// deque's public part) pays on every Push and Pop.
func BenchmarkPushPop(b *testing.B) {
	x := &item{}
	for _, depth := range []int{0, 64} {
		b.Run(fmt.Sprintf("depth=%d/impl=split", depth), func(b *testing.B) {
			d := NewDeque[item](1024)
			for range depth {
				d.Push(x)
			}
			b.ReportAllocs()
			for b.Loop() {
				d.Push(x)
				d.Pop()
			}
		})
		b.Run(fmt.Sprintf("depth=%d/impl=chan", depth), func(b *testing.B) {
			c := make(chan *item, 1024)
			for range depth {
				c <- x
			}
			b.ReportAllocs()
			for b.Loop() {
				c <- x
				<-c
			}
		})
		b.Run(fmt.Sprintf("depth=%d/impl=mutex", depth), func(b *testing.B) {
			q := newMutexDeque(1024)
			for range depth {
				q.Push(x)
			}
			b.ReportAllocs()
			for b.Loop() {
				q.Push(x)
				q.Pop()
			}
		})
	}
	b.Run("impl=atomics-floor", func(b *testing.B) {
		var w atomic.Int64
		b.ReportAllocs()
		for i := int64(0); b.Loop(); i++ {
			w.Store(i)
			w.CompareAndSwap(i, i+1)
		}
	})
}

// backoff is how a goroutine in the contended benchmarks waits for the
// others: it spins for a while, so that with a processor each they all run
// at once, and then yields, so that with more goroutines than processors the
// ones with work get to run.
func backoff(idle *int) {
	if *idle++; *idle > 64 {
		*idle = 0
		runtime.Gosched()
	}
}

// counter is a per-thief count on its own cache line.
type counter struct {
	n atomic.Int64
	_ [cacheLinePad - 8]byte
}

// contended runs one owner (the benchmark goroutine) that pushes b.N items
// and pops one after every fourth push, against thieves goroutines running
// thief until the owner is done and the deque is empty. When more than
// backlog items are in the deque, the owner waits for the thieves instead
// of pushing, so the deque stays small and ns/op measures how fast items get
// through: for the channel, as if it blocked on a full buffer. The thieves
// count what they take in counters of their own, which is how the owner
// knows the backlog without asking the deque; they publish their counts in
// batches, so that the harness does not move a cache line per item (which
// used to dominate the deque's own cost).
// countBatch is how many stolen items a thief counts before it publishes the
// count; see contended.
const countBatch = 16

func contended(b *testing.B, q benchDeque, thieves int, thief func(q benchDeque, local benchDeque) int, mk func() benchDeque) {
	const backlog = 256
	pool := items(1024)
	var done atomic.Bool
	stolen := make([]counter, thieves)
	grabs := make([]counter, thieves)
	var wg sync.WaitGroup
	for t := range thieves {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := mk()
			// Counts are published every countBatch items, and whenever the
			// thief finds nothing, so that the owner's polling of them does
			// not cost a cache-line transfer per item.
			var k, g int64
			flush := func() {
				stolen[t].n.Add(k)
				grabs[t].n.Add(g)
				k, g = 0, 0
			}
			for idle := 0; ; {
				finished := done.Load()
				if n := thief(q, local); n > 0 {
					k += int64(n)
					g++
					if k >= countBatch {
						flush()
					}
					idle = 0
					continue
				}
				flush()
				if finished {
					return
				}
				backoff(&idle)
			}
		}()
	}
	sum := func(cs []counter) (n int64) {
		for i := range cs {
			n += cs[i].n.Load()
		}
		return n
	}
	b.ReportAllocs()
	b.ResetTimer()
	popped := int64(0)
	for i := range b.N {
		q.Push(pool[i&1023])
		if i&3 == 3 && q.Pop() != nil {
			popped++
		}
		if i&15 == 15 {
			for idle := 0; int64(i+1)-popped-sum(stolen) > backlog; {
				// Once per backoff round, the waiting owner pops an item
				// and pushes it back, as a worker checking its deque would:
				// a split deque's owner answers thieves' requests only in
				// Push and Pop, so one that never touched its deque while
				// waiting would strand its private part.
				if backoff(&idle); idle == 0 {
					if x := q.Pop(); x != nil {
						q.Push(x)
					}
				}
			}
		}
	}
	for q.Pop() != nil {
		popped++
	}
	done.Store(true)
	wg.Wait()
	b.StopTimer()
	if got := popped + sum(stolen); got != int64(b.N) {
		b.Fatalf("%d items out of %d pushed", got, b.N)
	}
	b.ReportMetric(float64(sum(stolen))/float64(b.N), "steals/op")
	if g := sum(grabs); g > 0 {
		b.ReportMetric(float64(sum(stolen))/float64(g), "items/grab")
	}
}

// BenchmarkSteal: thieves take one element per Steal.
func BenchmarkSteal(b *testing.B) {
	for _, thieves := range []int{1, 2, 4} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("thieves=%d/impl=%s", thieves, impl.name), func(b *testing.B) {
				contended(b, impl.make(), thieves, func(q, _ benchDeque) int {
					if q.Steal() != nil {
						return 1
					}
					return 0
				}, func() benchDeque { return nil })
			})
		}
	}
}

// BenchmarkStealHalf: thieves move half of the victim into their own deque
// with StealHalf, then pop it empty.
func BenchmarkStealHalf(b *testing.B) {
	for _, thieves := range []int{1, 2, 4} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("thieves=%d/impl=%s", thieves, impl.name), func(b *testing.B) {
				contended(b, impl.make(), thieves, func(q, local benchDeque) int {
					n := q.StealHalf(local)
					for i := 0; i < n; i++ {
						local.Pop()
					}
					return n
				}, impl.make)
			})
		}
	}
}

// BenchmarkInboxPushPop is one Push and one Pop on an empty inbox by one
// goroutine: the cost of the operations themselves.
func BenchmarkInboxPushPop(b *testing.B) {
	x := &item{}
	b.Run("impl=inbox", func(b *testing.B) {
		q := NewInbox[item](1024)
		b.ReportAllocs()
		for b.Loop() {
			q.Push(x)
			q.Pop()
		}
	})
	b.Run("impl=chan", func(b *testing.B) {
		c := make(chan *item, 1024)
		b.ReportAllocs()
		for b.Loop() {
			c <- x
			<-c
		}
	})
}

// BenchmarkInbox: producers push b.N items in all, the benchmark goroutine
// consumes them. impl=chan is a buffered channel of the same capacity, whose
// consumer sleeps when it is empty rather than polling.
func BenchmarkInbox(b *testing.B) {
	for _, producers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("producers=%d/impl=inbox", producers), func(b *testing.B) {
			q := NewInbox[item](1024)
			x := &item{}
			b.ReportAllocs()
			for p := range producers {
				go func() {
					for i := p; i < b.N; i += producers {
						for !q.Push(x) {
							runtime.Gosched()
						}
					}
				}()
			}
			for got := 0; got < b.N; {
				if q.Pop() != nil {
					got++
				} else {
					runtime.Gosched()
				}
			}
		})
		b.Run(fmt.Sprintf("producers=%d/impl=chan", producers), func(b *testing.B) {
			c := make(chan *item, 1024)
			x := &item{}
			b.ReportAllocs()
			for p := range producers {
				go func() {
					for i := p; i < b.N; i += producers {
						c <- x
					}
				}()
			}
			for range b.N {
				<-c
			}
		})
	}
}
