package natsnet

import (
	"sync"
	"unsafe"
)

// minPooled is the smallest buffer worth keeping. Only chunked messages are
// rebuilt in buffers of ours (nats.go allocates a fresh one for every whole
// message, and has no way to take one of ours), and a chunked message is
// larger than a NATS payload, which no server sets below this.
const minPooled = 64 << 10

// bufferPool keeps buffers handed back through Recycle, for the reassembly
// of later chunked messages, up to maxBytes of capacity in all. A nil pool
// keeps nothing.
type bufferPool struct {
	mu       sync.Mutex
	bufs     [][]byte
	bytes    int
	maxBytes int
}

// put keeps b if it is worth keeping and there is room.
func (p *bufferPool) put(b []byte) {
	if p == nil || cap(b) < minPooled {
		return
	}
	// The codec views an OFFER's word sections in place only in an 8-aligned
	// buffer; a slice cut from the middle of one is not worth keeping.
	if uintptr(unsafe.Pointer(unsafe.SliceData(b)))&7 != 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bytes+cap(b) > p.maxBytes {
		return
	}
	p.bufs = append(p.bufs, b[:0])
	p.bytes += cap(b)
}

// get returns the smallest kept buffer with a capacity of at least n and at
// most limit, emptied, or nil.
func (p *bufferPool) get(n, limit int) []byte {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	best := -1
	for i, b := range p.bufs {
		if c := cap(b); c >= n && c <= limit && (best < 0 || c < cap(p.bufs[best])) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b := p.bufs[best]
	last := len(p.bufs) - 1
	p.bufs[best], p.bufs[last] = p.bufs[last], nil
	p.bufs = p.bufs[:last]
	p.bytes -= cap(b)
	return b
}
