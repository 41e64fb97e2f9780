package queue

import (
	"fmt"
	"slices"
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

// stealAll steals from d until Steal returns nil and returns the ids in
// order. It takes only what is public.
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
// the top, all private, with no request pending.
func newFilled(t *testing.T, c, rot, k int) *Deque[item] {
	t.Helper()
	d := NewDeque[item](c)
	spare := &item{id: -1}
	for range rot {
		// One element goes in at the bottom and out at the top, never more
		// than one in the deque: a Steal that finds nothing public asks, the
		// owner pops the element back (nothing left to publish, so the
		// request stays), pushes it again and publishes it, and the thief
		// takes it.
		d.Push(spare)
		if x := d.Steal(); x != nil {
			t.Fatalf("rotation: Steal of a private element = %v, want nil", x)
		}
		if x := d.Pop(); x != spare || !d.request.Load() {
			t.Fatalf("rotation: Pop = %v, request %v; want spare, true", x, d.request.Load())
		}
		d.Push(spare)
		if x := d.Steal(); x != spare {
			t.Fatalf("rotation: Steal after the request = %v, want spare", x)
		}
	}
	for _, x := range items(k) {
		d.Push(x)
	}
	if got := d.Len(); got != k {
		t.Fatalf("Len after %d pushes = %d", k, got)
	}
	if got := d.Stealable(); got != 0 || d.request.Load() {
		t.Fatalf("after %d pushes: Stealable = %d, request %v; want all private, no request", k, got, d.request.Load())
	}
	if got, want := d.Cap(), wantCap(c, k); got != want {
		t.Fatalf("Cap after %d pushes (initial %d) = %d, want %d", k, c, got, want)
	}
	checkInvariants(t, d)
	return d
}

// filledModel is the model of newFilled(t, c, rot, k).
func filledModel(k int) *splitModel { return &splitModel{elems: seq(0, k, 1)} }

// TestDequeFillLevels checks, for every fill level from 0 through several
// grow boundaries, from several initial capacities and ring rotations, what
// Pop, Steal and StealHalf return, how much the owner publishes when asked,
// and how much StealHalf takes.
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

	// Steal on an all-private deque returns nil and asks; the owner's next
	// Push publishes the older half, rounded up, of the k+1 elements, which
	// Steal then takes oldest first. Then owner Pops and thieves' Steals
	// alternate until the deque is empty, each Pop publishing half of what
	// is left, and every id comes out exactly once.
	d = newFilled(t, c, rot, k)
	if x := d.Steal(); x != nil || !d.request.Load() || d.Stealable() != 0 {
		t.Fatalf("first Steal = %v, request %v, Stealable %d; want nil, true, 0", x, d.request.Load(), d.Stealable())
	}
	d.Push(&item{id: k})
	p := (k + 2) / 2 // ceil((k+1)/2)
	if got := d.Stealable(); got != p || d.request.Load() {
		t.Fatalf("after the answering Push: Stealable = %d, request %v; want %d, false", got, d.request.Load(), p)
	}
	if got, want := stealAll(d), seq(0, p, 1); !equalInts(got, want) {
		t.Fatalf("Steal after the answering Push = %v, want %v", got, want)
	}
	m := &splitModel{elems: seq(p, k+1, 1), req: true} // the last Steal asked
	cd := newChecked(t, d, m)
	seen := make([]int, k+1)
	for _, id := range seq(0, p, 1) {
		seen[id]++
	}
	for cd.m.req || len(cd.m.elems) > 0 {
		if x := cd.pop(); x != linEmpty {
			seen[x]++
		}
		for x := cd.steal(); x != linEmpty; x = cd.steal() {
			seen[x]++
		}
		if len(cd.m.elems) == 0 {
			break
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("id %d came out %d times", id, n)
		}
	}

	// Alternating Steal and Pop: every Steal after a Pop finds what the
	// Pop published, if anything was left to publish.
	cd = newChecked(t, newFilled(t, c, rot, k), filledModel(k))
	for i := 0; len(cd.m.elems) > 0; i++ {
		if i%2 == 0 {
			cd.steal()
		} else {
			cd.pop()
		}
	}
	if cd.pop() != linEmpty || cd.steal() != linEmpty {
		t.Fatalf("alternating: not empty at the end")
	}

	// StealHalf on an all-private deque moves nothing and asks; after the
	// answering Push it takes half, rounded up, of the public part, into
	// dst's private part (so dst's thieves do not see them), in order.
	d = newFilled(t, c, rot, k)
	dst := NewDeque[item](1)
	if n := d.StealHalf(dst); n != 0 || !d.request.Load() {
		t.Fatalf("first StealHalf moved %d, request %v; want 0, true", n, d.request.Load())
	}
	d.Push(&item{id: k})
	n := d.StealHalf(dst)
	if want := (p + 1) / 2; n != want {
		t.Fatalf("StealHalf from %d public moved %d, want %d", p, n, want)
	}
	if d.Len() != k+1-n || dst.Len() != n || dst.Stealable() != 0 || d.Stealable() != p-n {
		t.Fatalf("after StealHalf: Len %d, dst.Len %d, dst.Stealable %d, Stealable %d; want %d, %d, 0, %d",
			d.Len(), dst.Len(), dst.Stealable(), d.Stealable(), k+1-n, n, p-n)
	}
	checkInvariants(t, d)
	checkInvariants(t, dst)
	if got, want := popAll(d), seq(k, n-1, -1); !equalInts(got, want) {
		t.Fatalf("victim after StealHalf pops %v, want %v", got, want)
	}
	if got, want := popAll(dst), seq(n-1, -1, -1); !equalInts(got, want) {
		t.Fatalf("dst after StealHalf pops %v, want %v", got, want)
	}

	// Repeated StealHalf into a destination that already holds an element,
	// with the owner popping once between rounds to answer the requests,
	// halves what is public each time; the batches stack in order in dst.
	cd = newChecked(t, newFilled(t, c, rot, k), filledModel(k))
	cdst := newChecked(t, NewDeque[item](2), &splitModel{})
	cdst.push(-2) // not -1, which is linEmpty
	var popped []int
	for len(cd.m.elems) > 0 {
		for cd.stealHalf(cdst) > 0 {
		}
		if x := cd.pop(); x != linEmpty {
			popped = append(popped, x)
		}
	}
	var got []int
	for x := cdst.pop(); x != linEmpty; x = cdst.pop() {
		got = append(got, x)
	}
	slices.Reverse(got)
	if all := append(got[1:], popped...); got[0] != -2 || !equalInts(sortedCopy(all), seq(0, k, 1)) {
		t.Fatalf("repeated StealHalf: dst holds %v, owner popped %v", got, popped)
	}
	if !slices.IsSorted(got[1:]) {
		t.Fatalf("repeated StealHalf: batches out of order in dst: %v", got)
	}
}

func sortedCopy(s []int) []int {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestDequeShareShrink checks the owner's two boundaries one step at a time:
// share, which publishes the older half of the private part when asked (and
// leaves the request set when there is nothing private), and Pop from an
// empty private part, which takes the last public element with a CAS or
// takes back the newer half of the public part.
func TestDequeShareShrink(t *testing.T) {
	for n := 0; n <= 40; n++ {
		// share publishes ceil(n/2), then half of the rest, and so on; with
		// nothing private it leaves the request set.
		d := NewDeque[item](4)
		for _, x := range items(n) {
			d.Push(x)
		}
		pub := 0
		for {
			d.request.Store(true)
			d.share()
			priv := n - pub
			if priv == 0 {
				if !d.request.Load() || d.Stealable() != n {
					t.Fatalf("n=%d: share with nothing private: request %v, Stealable %d", n, d.request.Load(), d.Stealable())
				}
				break
			}
			pub += priv - priv/2
			if d.request.Load() || d.Stealable() != pub || d.Len() != n {
				t.Fatalf("n=%d: share of %d private: request %v, Stealable %d, Len %d; want false, %d, %d",
					n, priv, d.request.Load(), d.Stealable(), d.Len(), pub, n)
			}
			checkInvariants(t, d)
		}
		d.request.Store(false)

		// Now all n are public. Each Pop returns the newest; with nothing
		// private it takes back floor(public/2) elements, counting the one
		// it returns (just that one, by CAS, when one is public).
		m := &splitModel{elems: seq(0, n, 1), pub: n}
		cd := newChecked(t, d, m)
		for i := n - 1; i >= 0; i-- {
			wasPub := cd.m.pub == len(cd.m.elems)
			if got := cd.pop(); got != i {
				t.Fatalf("n=%d: Pop = %d, want %d", n, got, i)
			}
			if wasPub && cd.d.Stealable() == 0 && i > 0 {
				t.Fatalf("n=%d: Pop from the public part took back all %d", n, i)
			}
		}
		if cd.pop() != linEmpty {
			t.Fatalf("n=%d: not empty", n)
		}
	}
}

// TestDequeZeroValue checks that a zero Deque works and grows from
// DefaultCapacity, both as owner's deque and as a StealHalf destination.
func TestDequeZeroValue(t *testing.T) {
	var d Deque[item]
	if d.Pop() != nil || d.Len() != 0 || d.Stealable() != 0 || d.Cap() != 0 {
		t.Fatal("zero Deque not empty")
	}
	if d.Steal() != nil || !d.request.Load() {
		t.Fatal("Steal from a zero Deque: not nil, or no request")
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
	// The first Push answered the request with the one element it had.
	if d.Stealable() != 1 {
		t.Fatalf("Stealable = %d, want 1", d.Stealable())
	}
	if n := d.StealHalf(&dst); n != 1 || dst.Cap() != DefaultCapacity {
		t.Fatalf("StealHalf into zero Deque moved %d, dst Cap %d", n, dst.Cap())
	}
	if n := d.StealHalf(&dst); n != 0 {
		t.Fatalf("StealHalf with nothing public moved %d", n)
	}
	d.Pop() // answers: publishes 32 of the 63 private elements left
	if n := d.StealHalf(&dst); n != DefaultCapacity/4 {
		t.Fatalf("StealHalf after the answering Pop moved %d, want %d", n, DefaultCapacity/4)
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
	d.Push(x) // keep one element below the ones pushed and popped
	check := func(name string, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
	check("Push+Pop", func() { d.Push(x); d.Pop() })
	one := NewDeque[item](4)
	check("Push+Pop on empty deque", func() { one.Push(x); one.Pop() })
	// Steal asks, Push answers by publishing, and the next Steal succeeds:
	// the public path, Pop's CAS on the last public element included.
	check("Push+Steal", func() { d.Push(x); d.Steal() })
	check("Push+Steal+Pop", func() { one.Push(x); one.Steal(); one.Pop() })
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
	// Three lines: top (thieves write it on every steal); split, array and
	// request (thieves read them, rarely written); bottom and the owner's
	// other fields (no thief touches them).
	var d Deque[item]
	lines := []struct {
		name     string
		from, to uintptr
	}{
		{"top", unsafe.Offsetof(d.top), unsafe.Offsetof(d.top) + 8},
		{"split, array, request", unsafe.Offsetof(d.split), unsafe.Offsetof(d.request) + unsafe.Sizeof(d.request)},
		{"bottom, osplit, buf, mask", unsafe.Offsetof(d.bottom), unsafe.Offsetof(d.mask) + 8},
	}
	prev := uintptr(0) // the Deque's start: whatever precedes it
	for _, l := range lines {
		if l.from-prev < cacheLinePad {
			t.Errorf("%s is %d bytes after the previous group, want >= %d", l.name, l.from-prev, cacheLinePad)
		}
		if l.to-l.from > 64 {
			t.Errorf("%s spans %d bytes, more than one 64-byte line", l.name, l.to-l.from)
		}
		prev = l.from
	}
	if tail := unsafe.Sizeof(d) - prev; tail < cacheLinePad {
		t.Errorf("the owner's fields start %d bytes before the end of Deque, want >= %d", tail, cacheLinePad)
	}
	var q Inbox[item]
	if gap := unsafe.Offsetof(q.head) - unsafe.Offsetof(q.tail); gap < cacheLinePad {
		t.Errorf("Inbox head is %d bytes after tail, want >= %d", gap, cacheLinePad)
	}
	if gap := unsafe.Offsetof(q.mask) - unsafe.Offsetof(q.head); gap < cacheLinePad {
		t.Errorf("Inbox cells header is %d bytes after head, want >= %d", gap, cacheLinePad)
	}
}
