package queue

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// stressItems is how many items go through the deque in one stress run:
// millions normally, a quarter million under the race detector (which runs
// nine such deque runs, so still millions in all), thousands under -short.
func stressItems() int {
	switch {
	case testing.Short():
		return 4000
	case raceEnabled:
		return 1 << 18
	}
	return 1 << 21
}

// tally counts how often each item id is received.
type tally struct {
	seen  []atomic.Uint32
	total atomic.Int64
	dup   atomic.Int64 // first duplicated id + 1, or 0
	bad   atomic.Int64 // first id out of range + 1, or 0
}

func newTally(n int) *tally { return &tally{seen: make([]atomic.Uint32, n)} }

func (c *tally) got(x *item) {
	if x == nil || x.id < 0 || x.id >= len(c.seen) {
		id := -1
		if x != nil {
			id = x.id
		}
		c.bad.CompareAndSwap(0, int64(id)+2)
		return
	}
	c.total.Add(1)
	if c.seen[x.id].Add(1) > 1 {
		c.dup.CompareAndSwap(0, int64(x.id)+1)
	}
}

// check reports any item that was not received exactly once.
func (c *tally) check(t *testing.T) {
	t.Helper()
	if v := c.bad.Load(); v != 0 {
		t.Fatalf("received an item that was never pushed (id %d)", v-2)
	}
	if v := c.dup.Load(); v != 0 {
		t.Fatalf("item %d received more than once", v-1)
	}
	lost := 0
	for i := range c.seen {
		if c.seen[i].Load() == 0 {
			if lost < 5 {
				t.Errorf("item %d lost", i)
			}
			lost++
		}
	}
	if lost > 0 || c.total.Load() != int64(len(c.seen)) {
		t.Fatalf("%d items lost; received %d of %d", lost, c.total.Load(), len(c.seen))
	}
}

// pushBurst pushes up to burst items of xs from index next on, and returns
// the index of the first item not pushed.
func pushBurst(d *Deque[item], xs []item, next, burst int) int {
	for i := 0; i < burst && next < len(xs); i++ {
		d.Push(&xs[next])
		next++
	}
	return next
}

// ownerLoop pushes all items in bursts of random length, popping a random
// share of each burst, and finally pops until the deque is empty. Small
// starting capacities make it grow while thieves are stealing, and the bursts
// make the ring wrap around many times.
func ownerLoop(d *Deque[item], xs []item, c *tally, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for next := 0; next < len(xs); {
		burst := 1 + rng.IntN(48)
		next = pushBurst(d, xs, next, burst)
		for pops := rng.IntN(burst + 1); pops > 0; pops-- {
			if x := d.Pop(); x != nil {
				c.got(x)
			}
		}
		if rng.IntN(64) == 0 {
			runtime.Gosched() // let thieves catch up and find the deque empty
		}
	}
	for x := d.Pop(); x != nil; x = d.Pop() {
		c.got(x)
	}
}

// takeBackLoop is an owner that pushes bursts, publishes all of each burst
// at once (as a run of requests would), and then pops until the deque is
// empty, so that every Pop takes from the public part while thieves steal
// from it: the owner's take-back and its race for the last public element,
// the paths an ordinary owner reaches only when its private part runs dry.
func takeBackLoop(d *Deque[item], xs []item, c *tally, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	for next := 0; next < len(xs); {
		burst := 1 + rng.IntN(64)
		next = pushBurst(d, xs, next, burst)
		for d.bottom > d.osplit { // publish everything: we are the owner
			d.request.Store(true)
			d.share()
		}
		d.request.Store(false)
		for x := d.Pop(); x != nil; x = d.Pop() {
			c.got(x)
		}
	}
}

// TestDequeStress runs one owner that pushes and pops against P thieves that
// Steal, or that StealHalf into their own deques (from which they Pop and
// steal from each other), or both at random ("mixed", and "takeback", whose
// owner pops only from the public part), and checks that every item arrives
// exactly once.
// The owner keeps calling Push and Pop, which is when it answers thieves'
// requests by publishing; so does each thief on its own deque, for its
// siblings.
func TestDequeStress(t *testing.T) {
	for _, mode := range []string{"steal", "stealhalf", "mixed", "takeback"} {
		for _, p := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s/thieves=%d", mode, p), func(t *testing.T) {
				t.Parallel()
				stressDeque(t, mode, p)
			})
		}
	}
}

func stressDeque(t *testing.T, mode string, p int) {
	n := stressItems()
	xs := make([]item, n)
	for i := range xs {
		xs[i].id = i
	}
	c := newTally(n)
	d := NewDeque[item](2)
	locals := make([]*Deque[item], p)
	for i := range locals {
		locals[i] = NewDeque[item](1)
	}
	var done atomic.Bool
	var stolen atomic.Int64 // items thieves took from d
	var wg sync.WaitGroup
	for i := range p {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			local, sibling := locals[i], locals[(i+1)%p]
			idle := 0
			for {
				finished := done.Load() // read before trying, so an empty result after it is final
				got := false
				half := mode == "stealhalf" || (mode != "steal" && rng.IntN(2) == 0)
				if half {
					if k := d.StealHalf(local); k > 0 {
						stolen.Add(int64(k))
						got = true
					}
					if p > 1 && sibling != local {
						if x := sibling.Steal(); x != nil {
							c.got(x)
							got = true
						}
					}
					for x := local.Pop(); x != nil; x = local.Pop() {
						c.got(x)
						got = true
					}
				} else if x := d.Steal(); x != nil {
					stolen.Add(1)
					c.got(x)
					got = true
				}
				if got {
					idle = 0
					continue
				}
				if finished && local.Len() == 0 {
					return
				}
				if idle++; idle > 16 {
					runtime.Gosched()
				}
			}
		}()
	}
	if mode == "takeback" {
		takeBackLoop(d, xs, c, uint64(p))
	} else {
		ownerLoop(d, xs, c, uint64(p))
	}
	done.Store(true)
	wg.Wait()
	// Items a thief stole from a sibling's deque after that sibling left are
	// still counted; anything left in a local deque is a loss.
	for i, l := range locals {
		if l.Len() != 0 {
			t.Errorf("thief %d left %d items in its deque", i, l.Len())
		}
	}
	c.check(t)
	// Thieves get elements only when the owner answers their requests, and
	// the owner answers only in Push and Pop: make sure they did.
	t.Logf("thieves took %d of %d items from the owner's deque", stolen.Load(), n)
	if !testing.Short() && stolen.Load() == 0 {
		t.Errorf("thieves stole nothing in %d items", n)
	}
}

// TestInboxStress runs P producers against the consumer on a small inbox,
// so that it is often full, and checks that every item arrives exactly once
// and that each producer's items arrive in the order it pushed them.
func TestInboxStress(t *testing.T) {
	for _, p := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("producers=%d", p), func(t *testing.T) {
			t.Parallel()
			n := stressItems() / p * p
			xs := make([]item, n)
			for i := range xs {
				xs[i].id = i // producer i%p, its (i/p)th item
			}
			q := NewInbox[item](64)
			var stop atomic.Bool // set when the consumer fails, so producers do not spin on a full inbox forever
			defer stop.Store(true)
			for w := range p {
				go func() {
					for i := w; i < n; i += p {
						for !q.Push(&xs[i]) {
							if stop.Load() {
								return
							}
							runtime.Gosched()
						}
					}
				}()
			}
			next := make([]int, p) // next expected sequence number per producer
			for got := 0; got < n; {
				x := q.Pop()
				if x == nil {
					runtime.Gosched()
					continue
				}
				w, s := x.id%p, x.id/p
				if s != next[w] {
					t.Fatalf("producer %d: got its item %d, want %d", w, s, next[w])
				}
				next[w]++
				got++
			}
			if x := q.Pop(); x != nil || q.Len() != 0 {
				t.Fatalf("inbox not empty after all items: Pop = %v, Len = %d", x, q.Len())
			}
		})
	}
}
