package queue

import (
	"slices"
	"testing"
)

// splitModel is the exact single-goroutine behaviour of a Deque: elems holds
// the ids with the top at index 0, of which the first pub are public, and req
// is the request flag. The fill-level test and FuzzDeque compare the deque
// with it after every operation.
type splitModel struct {
	elems []int
	pub   int
	req   bool
}

// share publishes the older half, rounded up, of the private part, if there
// is one; otherwise the request stays set.
func (m *splitModel) share() {
	priv := len(m.elems) - m.pub
	if priv == 0 {
		return
	}
	m.pub += priv - priv/2
	m.req = false
}

func (m *splitModel) push(id int) {
	m.elems = append(m.elems, id)
	if m.req {
		m.share()
	}
}

// pop takes the newest element. From the private part it then answers a
// request; from the public part (private empty) it takes back the newer half
// of the public part, floor(pub/2) elements counting the one it returns.
func (m *splitModel) pop() int {
	n := len(m.elems)
	if n == 0 {
		return linEmpty
	}
	x := m.elems[n-1]
	m.elems = m.elems[:n-1]
	if n > m.pub {
		if m.req {
			m.share()
		}
		return x
	}
	if m.pub == 1 {
		m.pub = 0
	} else {
		m.pub -= m.pub / 2
	}
	return x
}

// steal takes the oldest public element, or sets the request and reports
// empty.
func (m *splitModel) steal() int {
	if m.pub == 0 {
		m.req = true
		return linEmpty
	}
	x := m.elems[0]
	m.elems = slices.Clone(m.elems[1:])
	m.pub--
	return x
}

// stealHalf moves the older half, rounded up, of m's public part to the
// private end of dst, then lets dst answer its own request.
func (m *splitModel) stealHalf(dst *splitModel) int {
	if m.pub == 0 {
		m.req = true
		return 0
	}
	k := m.pub - m.pub/2
	dst.elems = append(dst.elems, m.elems[:k]...)
	m.elems = slices.Clone(m.elems[k:])
	m.pub -= k
	if dst.req {
		dst.share()
	}
	return k
}

// checked is a deque and its model, driven together. Every method applies
// one operation to both and fails the test if the results differ, or if the
// deque's state no longer matches the model (see match).
type checked struct {
	t testing.TB
	d *Deque[item]
	m *splitModel
}

func newChecked(t testing.TB, d *Deque[item], m *splitModel) checked {
	c := checked{t, d, m}
	c.match("start")
	return c
}

func (c checked) push(id int) {
	c.t.Helper()
	c.d.Push(&item{id: id})
	c.m.push(id)
	c.match("Push")
}

func (c checked) pop() int   { return c.take("Pop", c.d.Pop, c.m.pop) }
func (c checked) steal() int { return c.take("Steal", c.d.Steal, c.m.steal) }

// take runs one removing operation on the deque and on the model, and checks
// that they agree.
func (c checked) take(name string, op func() *item, model func() int) int {
	c.t.Helper()
	got, want := idOf(op()), model()
	if got != want {
		c.t.Fatalf("%s = %d, want %d", name, got, want)
	}
	c.match(name)
	return got
}

func (c checked) stealHalf(dst checked) int {
	c.t.Helper()
	before := len(c.m.elems)
	got, want := c.d.StealHalf(dst.d), c.m.stealHalf(dst.m)
	if got != want {
		c.t.Fatalf("StealHalf moved %d of %d, want %d", got, before, want)
	}
	c.match("StealHalf")
	dst.match("StealHalf into")
	return got
}

// match checks Len, Stealable, the request flag, Cap and the internal
// invariants against the model. It reads owner fields, so it runs on the
// owner's goroutine with no thief active.
func (c checked) match(after string) {
	c.t.Helper()
	d, m := c.d, c.m
	if d.Len() != len(m.elems) || d.Stealable() != m.pub || d.request.Load() != m.req {
		c.t.Fatalf("after %s: Len %d, Stealable %d, request %v; model has %d, %d public, request %v",
			after, d.Len(), d.Stealable(), d.request.Load(), len(m.elems), m.pub, m.req)
	}
	if n := d.Cap(); n < len(m.elems) || n&(n-1) != 0 {
		c.t.Fatalf("after %s: Cap = %d with %d elements", after, n, len(m.elems))
	}
	if len(d.buf) <= 256 { // the slot scan is O(Cap): keep the fuzzer fast
		checkInvariants(c.t, d)
	}
}

// checkInvariants checks top <= split == osplit <= bottom, and that exactly
// the slots of [top, bottom) are non-nil. Owner only, with no thief active.
func checkInvariants(t testing.TB, d *Deque[item]) {
	t.Helper()
	top, split := topIdx(d.top.Load()), d.split.Load()
	if !(top <= split && split == d.osplit && d.osplit <= d.bottom) {
		t.Fatalf("invariant broken: top %d, split %d, osplit %d, bottom %d", top, split, d.osplit, d.bottom)
	}
	if d.bottom-top > int64(len(d.buf)) {
		t.Fatalf("%d elements in %d slots", d.bottom-top, len(d.buf))
	}
	for i := range int64(len(d.buf)) {
		// Index of slot i's lap that falls in [top, top+len).
		idx := top + (i-top)&d.mask
		if live := idx < d.bottom; live != (d.buf[i] != nil) {
			t.Fatalf("slot %d (index %d, top %d, bottom %d): live %v, holds %v", i, idx, top, d.bottom, live, d.buf[i])
		}
	}
}
