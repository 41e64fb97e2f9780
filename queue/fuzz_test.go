package queue

import "testing"

// FuzzDeque turns a byte string into a sequence of operations on two deques,
// a and b, run by one goroutine, and compares every result with the exact
// sequential model (splitModel): which elements are public, when a thief's
// request is left and when the owner answers it, and how much each Pop takes
// back from the public part.
//
// The first byte picks the deques' initial capacities (1 to 8), so that
// small inputs already grow them. Each later byte is one operation:
//
//	low 3 bits  0-2: a.Push   3: a.Pop   4: a.Steal   5: a.StealHalf(b)
//	            6: b.Pop      7: b.StealHalf(a), or b.Push if the byte's bit 3 is set
//
// After each operation, Len, Stealable and the request flag of both deques
// must match the model, Cap must be a power of two that holds the elements,
// and the internal invariants must hold (see checked.match).
func FuzzDeque(f *testing.F) {
	f.Add([]byte{0, 0, 3, 0, 4, 3})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 6, 6, 5, 3, 4})
	f.Add([]byte{3, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 5, 7, 7, 15, 15, 5, 6, 3, 4})
	f.Add([]byte{0, 0, 0, 0, 0, 4, 0, 4, 4, 4, 3, 4, 3, 4, 3, 4}) // ask, publish, take back
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		capA, capB := 1<<(data[0]&3), 1<<(data[0]>>2&3)
		a := newChecked(t, NewDeque[item](capA), &splitModel{})
		b := newChecked(t, NewDeque[item](capB), &splitModel{})
		next := 0
		push := func(c checked) {
			c.push(next)
			next++
		}
		for _, op := range data[1:] {
			switch op & 7 {
			case 0, 1, 2:
				push(a)
			case 3:
				a.pop()
			case 4:
				a.steal()
			case 5:
				a.stealHalf(b)
			case 6:
				b.pop()
			case 7:
				if op&8 != 0 {
					push(b)
				} else {
					b.stealHalf(a)
				}
			}
			a.match("the operation")
			b.match("the operation")
		}
		// Drain both from alternating ends; every Pop takes one, and Steals
		// take what the Pops publish.
		for len(a.m.elems)+len(b.m.elems) > 0 {
			a.steal()
			a.pop()
			b.steal()
			b.pop()
		}
		if a.d.Pop() != nil || b.d.Steal() != nil {
			t.Fatal("deques not empty after draining")
		}
	})
}
