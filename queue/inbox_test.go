package queue

import (
	"fmt"
	"testing"
)

// TestInboxFillLevels checks, for every fill level from empty to full and
// for rotations that make positions wrap around, that Push accepts exactly
// Cap elements, Pop returns them in order, and the inbox is then empty.
func TestInboxFillLevels(t *testing.T) {
	for _, c := range []int{0, 1, 2, 3, 4, 8, 16} {
		for _, rot := range []int{0, 1, 5, 17} {
			for k := 0; k <= max(c, 2)+1; k++ {
				t.Run(fmt.Sprintf("cap=%d/rot=%d/fill=%d", c, rot, k), func(t *testing.T) {
					q := NewInbox[item](c)
					size := q.Cap()
					if size < 2 || size < c || size&(size-1) != 0 {
						t.Fatalf("Cap = %d for capacity %d", size, c)
					}
					spare := &item{id: -1}
					for range rot {
						if !q.Push(spare) || q.Pop() != spare {
							t.Fatal("rotation failed")
						}
					}
					xs := items(k)
					accepted := 0
					for _, x := range xs {
						if q.Push(x) {
							accepted++
						} else if accepted < size {
							t.Fatalf("Push refused element %d with Cap %d", accepted, size)
						}
					}
					if want := min(k, size); accepted != want || q.Len() != want {
						t.Fatalf("accepted %d, Len %d; want %d", accepted, q.Len(), want)
					}
					for i := range accepted {
						if x := q.Pop(); x != xs[i] {
							t.Fatalf("Pop %d = %v, want id %d", i, x, i)
						}
					}
					if x := q.Pop(); x != nil || q.Len() != 0 {
						t.Fatalf("after draining: Pop = %v, Len = %d", x, q.Len())
					}
					if !q.Push(spare) {
						t.Fatal("Push refused after draining")
					}
				})
			}
		}
	}
}
