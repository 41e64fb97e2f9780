package cluster

import (
	"math/bits"
	"sync"
)

// bufPool keeps message buffers for reuse, so that a steady stream of
// migrations runs on memory that is already mapped and warm. A fresh
// buffer per message costs more than the copy into it: zeroing, the
// collector's work, and page faults on memory the allocator has not
// touched yet, which on a virtual machine are among the slowest things a
// migration can meet (BenchmarkMigrationWork: recycling the received copy
// cut the share of 64 KiB migrations over 100 µs from about 3 % to under
// 1 %).
//
// Buffers are kept by capacity class, a power of two from 64 B to 16 MiB,
// up to maxPooledBytes in all; a buffer of class k has capacity 2^k and
// serves any request of more than 2^(k-1) bytes. A pool belongs to one
// network or one node, so what it holds goes when they do. It is safe for
// concurrent use.
type bufPool struct {
	mu    sync.Mutex
	free  [maxPoolShift + 1][][]byte
	bytes int // capacity held in free
}

const (
	minPoolShift   = 6  // 64 B
	maxPoolShift   = 24 // 16 MiB
	maxPooledBytes = 16 << 20
)

// class returns the capacity class of a request of n bytes: the smallest
// k with 2^k >= n, at least minPoolShift.
func class(n int) int {
	if n <= 1<<minPoolShift {
		return minPoolShift
	}
	return bits.Len(uint(n - 1))
}

// get returns an empty buffer of capacity at least n: a pooled one of n's
// class, or a new one of the class's capacity. The caller owns it.
func (p *bufPool) get(n int) []byte {
	k := class(n)
	if k > maxPoolShift {
		return make([]byte, 0, n)
	}
	var b []byte
	p.mu.Lock()
	if l := p.free[k]; len(l) > 0 {
		b = l[len(l)-1]
		l[len(l)-1] = nil
		p.free[k] = l[:len(l)-1]
		p.bytes -= cap(b)
	}
	p.mu.Unlock()
	if b == nil {
		b = make([]byte, 0, 1<<k)
	}
	return b
}

// copyOf returns a copy of msg in a buffer from get.
func (p *bufPool) copyOf(msg []byte) []byte { return append(p.get(len(msg)), msg...) }

// put gives b back for reuse. The caller must hold the only reference to
// b's memory: nothing, including slices of it, may touch it afterwards.
// Buffers that no class fits exactly, and any beyond the pool's budget,
// are left to the garbage collector.
func (p *bufPool) put(b []byte) {
	c := cap(b)
	if c < 1<<minPoolShift || c > 1<<maxPoolShift || c&(c-1) != 0 {
		return
	}
	k := bits.Len(uint(c)) - 1
	p.mu.Lock()
	if p.bytes+c <= maxPooledBytes {
		p.free[k] = append(p.free[k], b[:0])
		p.bytes += c
	}
	p.mu.Unlock()
}
