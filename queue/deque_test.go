package queue

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
)

type item struct{ id int }

func items(n int) []*item {
	s := make([]*item, n)
	for i := range s {
		s[i] = &item{id: i}
	}
	return s
}

// stealAll drains d from the top with Steal and returns the ids in order.
func stealAll(d *Deque[item]) []int {
	var out []int
	for x := d.Steal(); x != nil; x = d.Steal() {
		out = append(out, x.id)
	}
	return out
}

func popAll(d *Deque[item]) []int {
	var out []int
	for x := d.Pop(); x != nil; x = d.Pop() {
		out = append(out, x.id)
	}
	return out
}

func seq(from, to, step int) []int {
	var out []int
	for i := from; i != to; i += step {
		out = append(out, i)
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// maxFill covers the grow boundaries 1, 2, 4, 8, 16, 32 and 64 of a deque
// created with capacity 1, plus a few levels past the last one.
const maxFill = 70

// wantCap is the ring size after pushing k elements into a deque created
// with capacity c, when nothing was removed in between.
func wantCap(c, k int) int {
	size := 1
	for size < c {
		size *= 2
	}
	for size < k {
		size *= 2
	}
	return size
}

// newFilled returns a deque of initial capacity c whose top and bottom have
// first been advanced by rot (so the ring wraps), holding ids 0..k-1, id 0 at
// the top.
func newFilled(t *testing.T, c, rot, k int) *Deque[item] {
	t.Helper()
	d := NewDeque[item](c)
	spare := &item{id: -1}
	for range rot {
		d.Push(spare)
		if x := d.Steal(); x != spare {
			t.Fatalf("rotation steal = %v, want spare", x)
		}
	}
	for _, x := range items(k) {
		d.Push(x)
	}
	if got := d.Len(); got != k {
		t.Fatalf("Len after %d pushes = %d", k, got)
	}
	if got, want := d.Cap(), wantCap(c, k); got != want {
		t.Fatalf("Cap after %d pushes (initial %d) = %d, want %d", k, c, got, want)
	}
	return d
}

// TestDequeFillLevels checks, for every fill level from 0 through several
// grow boundaries, from several initial capacities and ring rotations, what
// Pop, Steal and StealHalf return, and how much StealHalf takes.
func TestDequeFillLevels(t *testing.T) {
	for _, c := range []int{1, 2, 4, 8} {
		for _, rot := range []int{0, 1, 3, 5, 13} {
			for k := 0; k <= maxFill; k++ {
				name := fmt.Sprintf("cap=%d/rot=%d/fill=%d", c, rot, k)
				t.Run(name, func(t *testing.T) { checkFillLevel(t, c, rot, k) })
			}
		}
	}
}

func checkFillLevel(t *testing.T, c, rot, k int) {
	// Pop returns newest first, then nil; the deque stays usable.
	d := newFilled(t, c, rot, k)
	if got, want := popAll(d), seq(k-1, -1, -1); !equalInts(got, want) {
		t.Fatalf("Pop order = %v, want %v", got, want)
	}
	if d.Len() != 0 || d.Pop() != nil || d.Steal() != nil {
		t.Fatalf("not empty after popping all")
	}

	// Steal returns oldest first, then nil.
	d = newFilled(t, c, rot, k)
	if got, want := stealAll(d), seq(0, k, 1); !equalInts(got, want) {
		t.Fatalf("Steal order = %v, want %v", got, want)
	}
	if d.Len() != 0 || d.Pop() != nil {
		t.Fatalf("not empty after stealing all")
	}

	// Alternating Steal and Pop meet in the middle without loss or repeat.
	d = newFilled(t, c, rot, k)
	lo, hi := 0, k-1
	for i := 0; lo <= hi; i++ {
		if i%2 == 0 {
			if x := d.Steal(); x == nil || x.id != lo {
				t.Fatalf("alternating: Steal = %v, want %d", x, lo)
			}
			lo++
		} else {
			if x := d.Pop(); x == nil || x.id != hi {
				t.Fatalf("alternating: Pop = %v, want %d", x, hi)
			}
			hi--
		}
	}
	if d.Pop() != nil || d.Steal() != nil {
		t.Fatalf("alternating: not empty at the end")
	}

	// StealHalf takes ceil(k/2) oldest elements, keeping their order, into a
	// destination that has to grow (capacity 1), and leaves the rest.
	d = newFilled(t, c, rot, k)
	dst := NewDeque[item](1)
	n := d.StealHalf(dst)
	if want := (k + 1) / 2; n != want {
		t.Fatalf("StealHalf moved %d of %d, want %d", n, k, want)
	}
	if d.Len() != k-n || dst.Len() != n {
		t.Fatalf("after StealHalf: Len = %d, dst.Len = %d; want %d, %d", d.Len(), dst.Len(), k-n, n)
	}
	if got, want := popAll(d), seq(k-1, n-1, -1); !equalInts(got, want) {
		t.Fatalf("victim after StealHalf pops %v, want %v", got, want)
	}
	if got, want := stealAll(dst), seq(0, n, 1); !equalInts(got, want) {
		t.Fatalf("dst after StealHalf steals %v, want %v", got, want)
	}

	// Repeated StealHalf halves what is left until nothing is; the
	// destination already holds elements, and the batches stack in order.
	d = newFilled(t, c, rot, k)
	dst = NewDeque[item](2)
	pre := &item{id: -1}
	dst.Push(pre)
	left, moved := k, 0
	for {
		n := d.StealHalf(dst)
		if want := (left + 1) / 2; n != want {
			t.Fatalf("StealHalf with %d left moved %d, want %d", left, n, want)
		}
		if n == 0 {
			break
		}
		left -= n
		moved += n
	}
	if moved != k || d.Len() != 0 || d.Pop() != nil {
		t.Fatalf("repeated StealHalf moved %d of %d, victim Len %d", moved, k, d.Len())
	}
	if got, want := popAll(dst), append(seq(k-1, -1, -1), -1); !equalInts(got, want) {
		t.Fatalf("dst after repeated StealHalf pops %v, want %v", got, want)
	}
}

// TestDequeZeroValue checks that a zero Deque works and grows from
// DefaultCapacity, both as owner's deque and as a StealHalf destination.
func TestDequeZeroValue(t *testing.T) {
	var d Deque[item]
	if d.Pop() != nil || d.Steal() != nil || d.Len() != 0 || d.Cap() != 0 {
		t.Fatal("zero Deque not empty")
	}
	var dst Deque[item]
	if d.StealHalf(&dst) != 0 {
		t.Fatal("StealHalf from a zero Deque moved something")
	}
	xs := items(DefaultCapacity + 1)
	for _, x := range xs {
		d.Push(x)
	}
	if d.Cap() != 2*DefaultCapacity {
		t.Fatalf("Cap = %d, want %d", d.Cap(), 2*DefaultCapacity)
	}
	if n := d.StealHalf(&dst); n != DefaultCapacity/2+1 || dst.Cap() != DefaultCapacity {
		t.Fatalf("StealHalf into zero Deque moved %d, dst Cap %d", n, dst.Cap())
	}
	if NewDeque[item](0).Cap() != DefaultCapacity || NewDeque[item](-3).Cap() != DefaultCapacity {
		t.Fatal("NewDeque(<1) does not use DefaultCapacity")
	}
	if NewDeque[item](5).Cap() != 8 {
		t.Fatal("NewDeque(5) does not round up to 8")
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestMisusePanics(t *testing.T) {
	d := NewDeque[item](4)
	mustPanic(t, "Push(nil)", func() { d.Push(nil) })
	mustPanic(t, "StealHalf(self)", func() { d.StealHalf(d) })
	mustPanic(t, "Inbox.Push(nil)", func() { NewInbox[item](4).Push(nil) })
}

// TestSteadyStateAllocs proves the hot paths allocate nothing once the ring
// has its size.
func TestSteadyStateAllocs(t *testing.T) {
	x := &item{}
	d := NewDeque[item](16)
	d.Push(x) // keep one element so Pop exercises the fenced path too
	check := func(name string, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
	check("Push+Pop", func() { d.Push(x); d.Pop() })
	one := NewDeque[item](4)
	check("Push+Pop on empty deque", func() { one.Push(x); one.Pop() })
	check("Push+Steal", func() { d.Push(x); d.Steal() })
	check("Pop/Steal on empty", func() { one.Pop(); one.Steal() })
	dst := NewDeque[item](64)
	check("Push4+StealHalf+Pop", func() {
		d.Push(x)
		d.Push(x)
		d.Push(x)
		d.Push(x)
		n := d.StealHalf(dst)
		for range n {
			dst.Pop()
		}
		for d.Len() > 1 {
			d.Pop()
		}
	})
	q := NewInbox[item](16)
	check("Inbox Push+Pop", func() { q.Push(x); q.Pop() })
}

// TestPadding checks that top and bottom, and the inbox's tail and head, are
// at least a cache line apart, and that the padding is no smaller than the
// line size the CPU reports, when it reports one.
func TestPadding(t *testing.T) {
	if line := cpuid.CPU.CacheLine; line > 0 && cacheLinePad < line {
		t.Errorf("cacheLinePad = %d, but the CPU reports %d-byte cache lines", cacheLinePad, line)
	} else {
		t.Logf("cacheLinePad = %d, CPU cache line = %d (<= 0 means unknown)", cacheLinePad, line)
	}
	var d Deque[item]
	if gap := unsafe.Offsetof(d.bottom) - unsafe.Offsetof(d.top); gap < cacheLinePad {
		t.Errorf("bottom is %d bytes after top, want >= %d", gap, cacheLinePad)
	}
	if unsafe.Offsetof(d.top) < cacheLinePad {
		t.Errorf("top is %d bytes into Deque, want >= %d", unsafe.Offsetof(d.top), cacheLinePad)
	}
	if tail := unsafe.Sizeof(d) - unsafe.Offsetof(d.bottom); tail < cacheLinePad {
		t.Errorf("bottom's line ends %d bytes before the end of Deque, want >= %d", tail, cacheLinePad)
	}
	var q Inbox[item]
	if gap := unsafe.Offsetof(q.head) - unsafe.Offsetof(q.tail); gap < cacheLinePad {
		t.Errorf("Inbox head is %d bytes after tail, want >= %d", gap, cacheLinePad)
	}
	if gap := unsafe.Offsetof(q.mask) - unsafe.Offsetof(q.head); gap < cacheLinePad {
		t.Errorf("Inbox cells header is %d bytes after head, want >= %d", gap, cacheLinePad)
	}
}
