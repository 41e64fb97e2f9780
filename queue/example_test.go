package queue_test

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/knotencore/knoten/queue"
)

type task struct{ n int }

// Two workers, each owning a deque. Worker 0 starts with all the work;
// worker 1 steals half of what is public whenever it runs dry. At first
// nothing is public: worker 1's StealHalf finds nothing and asks, and worker
// 0 answers at its next Pop by publishing half of its private elements.
// Arrivals go through worker 0's inbox. A shared count of finished tasks
// tells the workers when to stop: neither may ask the other's deque its
// length (Len is the owner's).
func Example() {
	own := []*queue.Deque[task]{queue.NewDeque[task](8), queue.NewDeque[task](8)}
	inbox := queue.NewInbox[task](16)
	for i := range 100 {
		own[0].Push(&task{n: i})
	}
	for i := 100; i < 110; i++ {
		inbox.Push(&task{n: i}) // any goroutine may do this
	}

	var wg sync.WaitGroup
	var finished atomic.Int64
	sums := make([]int, 2)
	for w := range 2 {
		wg.Add(1)
		go func() { // this goroutine is the owner of own[w]
			defer wg.Done()
			for finished.Load() < 110 {
				if w == 0 {
					for t := inbox.Pop(); t != nil; t = inbox.Pop() {
						own[w].Push(t) // worker 0 is the inbox's consumer
					}
				}
				t := own[w].Pop()
				if t == nil && own[1-w].StealHalf(own[w]) > 0 {
					t = own[w].Pop()
				}
				if t == nil {
					continue // the next Pop or StealHalf may find what was asked for
				}
				sums[w] += t.n
				finished.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Println(sums[0] + sums[1])
	// Output: 5995
}
