package queue

import (
	"slices"
	"testing"
)

// FuzzDeque turns a byte string into a sequence of operations on two deques,
// a and b, run by one goroutine, and compares every result with a plain slice
// model (index 0 is the top).
//
// The first byte picks the deques' initial capacities (1 to 8), so that
// small inputs already grow them. Each later byte is one operation:
//
//	low 3 bits  0-2: a.Push   3: a.Pop   4: a.Steal   5: a.StealHalf(b)
//	            6: b.Pop      7: b.StealHalf(a), or b.Push if the byte's bit 3 is set
//
// After each operation, Len must match the model and Cap must be a power of
// two that holds it.
func FuzzDeque(f *testing.F) {
	f.Add([]byte{0, 0, 3, 0, 4, 3})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 6, 6, 5, 3, 4})
	f.Add([]byte{3, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 5, 7, 7, 15, 15, 5, 6, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		capA, capB := 1<<(data[0]&3), 1<<(data[0]>>2&3)
		a, b := NewDeque[item](capA), NewDeque[item](capB)
		var ma, mb []int
		next := 0
		push := func(d *Deque[item], m *[]int) {
			d.Push(&item{id: next})
			*m = append(*m, next)
			next++
		}
		pop := func(d *Deque[item], m *[]int) {
			want := linEmpty
			if n := len(*m); n > 0 {
				want, *m = (*m)[n-1], (*m)[:n-1]
			}
			if got := idOf(d.Pop()); got != want {
				t.Fatalf("Pop = %d, want %d", got, want)
			}
		}
		steal := func(d *Deque[item], m *[]int) {
			want := linEmpty
			if len(*m) > 0 {
				want, *m = (*m)[0], (*m)[1:]
			}
			if got := idOf(d.Steal()); got != want {
				t.Fatalf("Steal = %d, want %d", got, want)
			}
		}
		stealHalf := func(from, to *Deque[item], mf, mt *[]int) {
			k := (len(*mf) + 1) / 2
			if got := from.StealHalf(to); got != k {
				t.Fatalf("StealHalf moved %d of %d, want %d", got, len(*mf), k)
			}
			*mt = append(*mt, (*mf)[:k]...)
			*mf = slices.Clone((*mf)[k:])
		}
		for _, op := range data[1:] {
			switch op & 7 {
			case 0, 1, 2:
				push(a, &ma)
			case 3:
				pop(a, &ma)
			case 4:
				steal(a, &ma)
			case 5:
				stealHalf(a, b, &ma, &mb)
			case 6:
				pop(b, &mb)
			case 7:
				if op&8 != 0 {
					push(b, &mb)
				} else {
					stealHalf(b, a, &mb, &ma)
				}
			}
			for _, c := range []struct {
				d *Deque[item]
				m []int
			}{{a, ma}, {b, mb}} {
				if c.d.Len() != len(c.m) {
					t.Fatalf("Len = %d, model has %d", c.d.Len(), len(c.m))
				}
				if n := c.d.Cap(); n < len(c.m) || n&(n-1) != 0 {
					t.Fatalf("Cap = %d with %d elements", n, len(c.m))
				}
			}
		}
		// Drain both from alternating ends and compare with the models.
		for len(ma)+len(mb) > 0 {
			steal(a, &ma)
			pop(a, &ma)
			steal(b, &mb)
			pop(b, &mb)
		}
		if a.Pop() != nil || b.Steal() != nil {
			t.Fatal("deques not empty after draining")
		}
	})
}
