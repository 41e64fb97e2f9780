package cluster

import (
	"bytes"
	"testing"
)

func TestBufPoolClasses(t *testing.T) {
	var p bufPool
	for _, n := range []int{0, 1, 63, 64, 65, 1000, 1024, 1025, 65983, 1 << maxPoolShift, 1<<maxPoolShift + 1} {
		b := p.get(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("get(%d): len %d cap %d", n, len(b), cap(b))
		}
		if c := cap(b); n <= 1<<maxPoolShift && (c&(c-1) != 0 || c > max(2*n, 1<<minPoolShift)) {
			t.Fatalf("get(%d): cap %d, want the power of two that fits", n, c)
		}
	}
}

func TestBufPoolReuse(t *testing.T) {
	var p bufPool
	msg := bytes.Repeat([]byte{7}, 5000)
	b := p.copyOf(msg)
	if !bytes.Equal(b, msg) {
		t.Fatal("copyOf changed the bytes")
	}
	p.put(b)
	if c := p.get(2000); cap(c) == cap(b) {
		t.Fatal("a smaller class handed out a larger buffer")
	}
	c := p.copyOf(msg[:4097])
	if &c[0] != &b[0] || !bytes.Equal(c, msg[:4097]) {
		t.Fatal("the buffer given back was not reused for its class")
	}
	p.put(make([]byte, 5000)) // not a power of two: left to the collector
	if d := p.get(4097); cap(d) == 5000 {
		t.Fatal("kept a buffer whose capacity is not its class's")
	}
}

func TestBufPoolBudget(t *testing.T) {
	var p bufPool
	for i := 0; i < 2*maxPooledBytes>>20; i++ {
		p.put(make([]byte, 0, 1<<20))
	}
	if p.bytes > maxPooledBytes {
		t.Fatalf("holds %d bytes, budget %d", p.bytes, maxPooledBytes)
	}
}

// TestBufPoolNoAllocs: once warm, a copy and its return allocate nothing.
func TestBufPoolNoAllocs(t *testing.T) {
	var p bufPool
	msg := make([]byte, 64<<10)
	p.put(p.copyOf(msg))
	if n := testing.AllocsPerRun(100, func() { p.put(p.copyOf(msg)) }); n != 0 {
		t.Fatalf("%v allocs per copy and return", n)
	}
}
