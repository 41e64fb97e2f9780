package codec

import (
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/knotencore/knoten/engine"
)

// The pre-copy encodings (see the package doc, "Pre-copy").
const (
	finalMagic = "KNCF"
	pagesMagic = "KNCP"

	// A pages encoding's header, and its fields.
	pagesHeaderLen = 56
	pIsolate       = 24
	pSession       = 32
	pSeq           = 40
	pCount         = 44
	pHeapLen       = 48

	// The page block at the head of a final encoding's heap section.
	blockHeaderLen = 24
	bSession       = 0
	bChunks        = 8
	bCount         = 12
	bHeapLen       = 16
)

// PagesHeader names one chunk of a live migration's rounds: the isolate,
// the migration (a session number the source chooses) and the chunk's
// place in it (0, 1, 2, ...).
type PagesHeader struct {
	Isolate uint64
	Session uint64
	Seq     uint32
}

// pageLen returns the length of page i of a heap of heapLen bytes.
func pageLen(i uint32, heapLen uint64) uint64 {
	lo := uint64(i) * engine.PageSize
	return min(heapLen-lo, engine.PageSize)
}

// pagesDataLen returns the bytes of the listed pages of a heap of heapLen
// bytes; the pages must exist.
func pagesDataLen(heapLen uint64, pages []uint32) int {
	n := uint64(0)
	for _, p := range pages {
		n += pageLen(p, heapLen)
	}
	return int(n)
}

// PagesSize returns the length of the pages encoding of the listed pages of
// a heap of heapLen bytes.
func PagesSize(heapLen int, pages []uint32) int {
	return pagesHeaderLen + align8(4*len(pages)) + pagesDataLen(uint64(heapLen), pages)
}

// AppendPages appends the pages encoding of heap's pages (increasing page
// indexes, each below engine.NumPages(len(heap))) to dst. It allocates only
// when dst lacks capacity for PagesSize more bytes, and retains nothing.
func AppendPages(dst []byte, h PagesHeader, heap []byte, pages []uint32) []byte {
	size := PagesSize(len(heap), pages)
	start := len(dst)
	dst = slices.Grow(dst, size)[:start+size]
	b := dst[start:]
	copy(b, pagesMagic)
	le.PutUint32(b[offVersion:], Version)
	le.PutUint64(b[offSize:], uint64(size))
	le.PutUint32(b[offReserved:], 0)
	le.PutUint64(b[pIsolate:], h.Isolate)
	le.PutUint64(b[pSession:], h.Session)
	le.PutUint32(b[pSeq:], h.Seq)
	le.PutUint32(b[pCount:], uint32(len(pages)))
	le.PutUint64(b[pHeapLen:], uint64(len(heap)))
	writePages(b[pagesHeaderLen:], uint64(len(heap)), heap, pages)
	le.PutUint32(b[offCheck:], crc32.Checksum(b[offTable:pagesHeaderLen+4*len(pages)], castagnoli))
	return dst
}

// writePages writes the index list, its padding and the pages' bytes.
func writePages(b []byte, heapLen uint64, heap []byte, pages []uint32) {
	for i, p := range pages {
		le.PutUint32(b[4*i:], p)
	}
	at := 4 * len(pages)
	clear(b[at:align8(at)])
	at = align8(at)
	for _, p := range pages {
		lo := uint64(p) * engine.PageSize
		at += copy(b[at:], heap[lo:lo+pageLen(p, heapLen)])
	}
}

// IsPages reports whether buf starts like a pages encoding.
func IsPages(buf []byte) bool { return len(buf) >= 4 && string(buf[:4]) == pagesMagic }

// IsFinal reports whether buf starts like a final encoding (rather than a
// whole state's).
func IsFinal(buf []byte) bool { return len(buf) >= 4 && string(buf[:4]) == finalMagic }

// PeekPages checks a pages encoding's header, header check and size and
// returns its header, so that a receiver can find the Assembler it belongs
// to. Assembler.Add checks the rest.
func PeekPages(buf []byte) (PagesHeader, error) {
	_, h, _, err := parsePagesHeader(buf)
	return h, err
}

// parsePagesHeader checks everything in a pages encoding but the pages'
// positions against an arena, and returns the heap's length, the header
// and the page block (index list, padding, data).
func parsePagesHeader(buf []byte) (heapLen uint64, h PagesHeader, block []byte, err error) {
	if err := checkPrefixOf(buf, pagesHeaderLen, pagesMagic); err != nil {
		return 0, h, nil, err
	}
	n := len(buf)
	size := le.Uint64(buf[offSize:])
	switch {
	case size > uint64(n):
		return 0, h, nil, errf(ErrTruncated, n, "input has %d bytes, header says %d", n, size)
	case size < uint64(n):
		return 0, h, nil, errf(ErrCorrupt, offSize, "input has %d bytes, header says %d: trailing bytes", n, size)
	}
	if v := le.Uint32(buf[offReserved:]); v != 0 {
		return 0, h, nil, errf(ErrCorrupt, offReserved, "reserved header word is %#x, want 0", v)
	}
	count := le.Uint32(buf[pCount:])
	if uint64(count) > (size-pagesHeaderLen)/4 {
		return 0, h, nil, errf(ErrCorrupt, pCount, "%d pages do not fit in %d bytes", count, size)
	}
	if got, want := le.Uint32(buf[offCheck:]), crc32.Checksum(buf[offTable:pagesHeaderLen+4*int(count)], castagnoli); got != want {
		return 0, h, nil, errf(ErrCorrupt, offCheck, "header check %#08x, want %#08x", got, want)
	}
	h = PagesHeader{Isolate: le.Uint64(buf[pIsolate:]), Session: le.Uint64(buf[pSession:]), Seq: le.Uint32(buf[pSeq:])}
	heapLen = le.Uint64(buf[pHeapLen:])
	if err := checkPageList(buf[pagesHeaderLen:], pagesHeaderLen, count, heapLen); err != nil {
		return 0, h, nil, err
	}
	return heapLen, h, buf[pagesHeaderLen:], nil
}

// checkPageList checks a page block of count pages of a heap of heapLen
// bytes, starting at offset base of the input: increasing indexes, each a
// page of the heap, zero padding, and exactly the pages' bytes after it.
func checkPageList(b []byte, base int, count uint32, heapLen uint64) error {
	if 4*uint64(count) > uint64(len(b)) {
		return errf(ErrTruncated, base+len(b), "%d page indexes need %d bytes, %d left", count, 4*count, len(b))
	}
	pages := uint64(engine.NumPages(int(min(heapLen, 1<<50))))
	data := uint64(0)
	for i := uint32(0); i < count; i++ {
		p := le.Uint32(b[4*i:])
		if uint64(p) >= pages {
			return errf(ErrCorrupt, base+4*int(i), "page %d of a heap of %d pages", p, pages)
		}
		if i > 0 && p <= le.Uint32(b[4*(i-1):]) {
			return errf(ErrCorrupt, base+4*int(i), "page %d after page %d: indexes must increase", p, le.Uint32(b[4*(i-1):]))
		}
		data += pageLen(p, heapLen)
	}
	at := 4 * int(count)
	if err := checkZero(b, at, min(align8(at), len(b))); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Offset += base
		}
		return err
	}
	if want := uint64(align8(at)) + data; uint64(len(b)) != want {
		return errf(ErrCorrupt, base, "%d pages take %d bytes, the block has %d", count, want, len(b))
	}
	return nil
}

// FinalSize returns the length of the final encoding of st with the
// listed pages of its heap.
func FinalSize(st *engine.State, pages []uint32) int {
	return layoutWith(st, finalBlockLen(st, pages)).size
}

func finalBlockLen(st *engine.State, pages []uint32) int {
	return blockHeaderLen + align8(4*len(pages)) + pagesDataLen(uint64(len(st.Heap)), pages)
}

// AppendFinal appends the final encoding of a live migration to dst: the
// state's meta, frames, registers, globals and output as a whole state's
// encoding has them, and in the heap section the session, the number of
// pages encodings sent before it (chunks), the heap's length and the
// listed pages (increasing indexes) of st.Heap. sum must be the state
// hash of st (engine.Isolate.Hash keeps it current page by page). It
// allocates only when dst lacks capacity for FinalSize more bytes, and
// retains nothing.
func AppendFinal(dst []byte, m Meta, st *engine.State, session uint64, chunks uint32, pages []uint32, sum *[32]byte) []byte {
	l := layoutWith(st, finalBlockLen(st, pages))
	start := len(dst)
	dst = slices.Grow(dst, l.size)[:start+l.size]
	b := dst[start:]
	putHeaderOf(b, &l, m, st, finalMagic)
	copy(b[l.off[secFrames]:], engine.FrameBytes(st.Frames))
	copy(b[l.off[secRegs]:], engine.WordBytes(st.Regs))
	copy(b[l.off[secGlobals]:], engine.WordBytes(st.Globals))
	blk := b[l.off[secHeap] : l.off[secHeap]+l.n[secHeap]]
	le.PutUint64(blk[bSession:], session)
	le.PutUint32(blk[bChunks:], chunks)
	le.PutUint32(blk[bCount:], uint32(len(pages)))
	le.PutUint64(blk[bHeapLen:], uint64(len(st.Heap)))
	writePages(blk[blockHeaderLen:], uint64(len(st.Heap)), st.Heap, pages)
	clear(b[l.off[secHeap]+l.n[secHeap] : l.off[secOutput]])
	end := l.off[secOutput] + copy(b[l.off[secOutput]:], st.Output)
	clear(b[end:l.trailer])
	copy(b[l.trailer:], sum[:])
	return dst
}

// Assembler is a live migration's target side: it builds the heap from
// the pages encodings of one (isolate, session), in sequence, hashing
// each page into a Merkle tree as it arrives, and DecodeFinal completes it
// into a state. Its memory follows the bytes received: a page may land at
// most one page past those it holds (the gap, less than a page, is zeros
// until its page comes), so no index can make it reserve memory it was
// not sent. An Assembler belongs to one goroutine; it does not retain the
// buffers it is given.
type Assembler struct {
	isolate, session uint64
	maxHeap          uint64
	next             uint32 // the next chunk expected
	arena            []byte
	tree             engine.HeapTree
	err              error // set once broken or consumed: every later call fails with it
}

// NewAssembler returns an empty Assembler for the pages of isolate's live
// migration session, under the receiving node's limits (a heap past
// limits.MaxHeap is refused).
func NewAssembler(isolate, session uint64, limits engine.Limits) *Assembler {
	max := limits.MaxHeap
	if max == 0 {
		max = engine.DefaultLimits.MaxHeap
	}
	return &Assembler{isolate: isolate, session: session, maxHeap: max}
}

// Next returns the sequence number of the next pages encoding the
// Assembler takes: the number it has taken.
func (a *Assembler) Next() uint32 { return a.next }

// Len returns the length of the heap assembled so far: up to the end of
// the highest page received.
func (a *Assembler) Len() int { return len(a.arena) }

// Bytes returns the memory the Assembler holds: its arena and its tree.
func (a *Assembler) Bytes() int {
	return cap(a.arena) + 32*(a.tree.Len()+a.tree.Len()/engine.TreeFanout+1)
}

// Add takes the next pages encoding of the Assembler's session. A bad
// encoding, another isolate's or session's, or one out of sequence (a
// chunk was lost, duplicated or reordered) fails, and leaves the Assembler
// broken: the migration's final message will fail too.
func (a *Assembler) Add(buf []byte) (err error) {
	if a.err != nil {
		return a.err
	}
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Err: ErrCorrupt, Offset: -1, Detail: fmt.Sprintf("BUG: panic while assembling pages: %v", r)}
		}
		if err != nil {
			a.err = err
		}
	}()
	heapLen, h, block, err := parsePagesHeader(buf)
	if err != nil {
		return err
	}
	switch {
	case h.Isolate != a.isolate || h.Session != a.session:
		return errf(ErrCorrupt, pIsolate, "pages of isolate %d session %#x, want isolate %d session %#x", h.Isolate, h.Session, a.isolate, a.session)
	case h.Seq != a.next:
		return errf(ErrSequence, pSeq, "chunk %d, want %d", h.Seq, a.next)
	}
	if err := a.apply(heapLen, le.Uint32(buf[pCount:]), block, pagesHeaderLen); err != nil {
		return err
	}
	a.next++
	return nil
}

// apply writes a checked page block (count pages of a heap of heapLen
// bytes, at offset base of its input) into the arena and rehashes them.
func (a *Assembler) apply(heapLen uint64, count uint32, block []byte, base int) error {
	if heapLen > a.maxHeap {
		return errf(ErrCorrupt, base, "a heap of %d bytes, past the quota of %d", heapLen, a.maxHeap)
	}
	if heapLen < uint64(len(a.arena)) {
		a.setLen(heapLen) // the source's heap shrank (a collection): it resends what it needs
	}
	data := block[align8(4*int(count)):]
	for i := uint32(0); i < count; i++ {
		p := le.Uint32(block[4*i:])
		if int(p) > engine.NumPages(len(a.arena)) {
			return errf(ErrCorrupt, base+4*int(i), "page %d, but the pages held end at %d", p, engine.NumPages(len(a.arena)))
		}
		lo, n := uint64(p)*engine.PageSize, pageLen(p, heapLen)
		if lo+n > uint64(len(a.arena)) {
			a.grow(lo+n, heapLen)
		}
		copy(a.arena[lo:lo+n], data[:n])
		data = data[n:]
		a.tree.Set(int(p), engine.PageHash(a.arena[lo:lo+n]))
	}
	a.tree.Root() // the inner nodes above these pages now, not all at the stop
	return nil
}

// grow makes the arena n bytes long for a heap of heapLen bytes. Its
// capacity doubles, so that the copies stay linear, but never past the
// heap's length: the arena holds at most twice the bytes received, and
// never more than the heap.
func (a *Assembler) grow(n, heapLen uint64) {
	if n > uint64(cap(a.arena)) {
		c := min(max(n, 2*uint64(cap(a.arena)), 64<<10), max(heapLen, n))
		grown := make([]byte, len(a.arena), c)
		copy(grown, a.arena)
		a.arena = grown
	}
	a.setLen(n)
}

// setLen makes the arena n bytes long (n at most its capacity), zeroing
// what it adds, and keeps the tree the tree of exactly its bytes: the
// page whose length changed is rehashed; a page added is hashed by apply,
// which writes it next.
func (a *Assembler) setLen(n uint64) {
	old := uint64(len(a.arena))
	a.arena = a.arena[:n]
	if n > old {
		clear(a.arena[old:])
	}
	a.tree.Resize(engine.NumPages(int(n)))
	last := func(x uint64) int { return int((x - 1) / engine.PageSize) }
	if n < old && n > 0 && n%engine.PageSize != 0 {
		p := last(n)
		a.tree.Set(p, engine.PageHash(a.arena[uint64(p)*engine.PageSize:n]))
	}
	if n > old && old%engine.PageSize != 0 {
		p := last(old)
		a.tree.Set(p, engine.PageHash(a.arena[uint64(p)*engine.PageSize:min(uint64(p+1)*engine.PageSize, n)]))
	}
}

// DecodeFinal completes a live migration: it decodes the final encoding
// buf as strictly as Decode a whole state, checks that it follows every
// pages encoding a took (its chunk count), writes its pages into a's
// arena, cut to the heap's length, verifies the state hash from the tree
// of pages a holds (rehashing only the final pages and the nodes above
// them) unless o.SkipVerify, and checks the state as DecodeChecked does.
// The state's heap is a's arena; the rest aliases buf (see the package
// doc, "Ownership"). a is consumed, whatever the outcome.
func (o DecodeOptions) DecodeFinal(a *Assembler, buf []byte, resolve Resolver) (Meta, engine.Checked, error) {
	var st engine.State
	m, c, err := o.decodeState(&st, buf, resolve, true, a)
	if err == nil && m.Isolate != a.isolate {
		// The session names the migration, but the final must also be the
		// isolate's whose pages a assembled.
		m, c, err = Meta{}, engine.Checked{}, errf(ErrCorrupt, metaOff+mIsolate, "final of isolate %d, want %d", m.Isolate, a.isolate)
	}
	if a.err == nil {
		// decodeState failed before the heap section (a bad meta word or
		// padding, an unknown program): a is consumed all the same.
		a.err = errConsumed()
		a.arena = nil
	}
	return m, c, err
}

func errConsumed() error {
	return errf(ErrCorrupt, -1, "the assembler was consumed by a final message")
}

// decodeFinalHeap reads the page block of a final encoding's heap section
// (at offset base of the input) into a and returns the heap.
func (a *Assembler) decodeFinalHeap(sec []byte, base int) ([]byte, error) {
	if a.err != nil {
		return nil, a.err
	}
	a.err = errConsumed()
	if len(sec) < blockHeaderLen {
		return nil, errf(ErrCorrupt, base, "heap section of %d bytes, shorter than the page block's header", len(sec))
	}
	session, chunks, count, heapLen := le.Uint64(sec[bSession:]), le.Uint32(sec[bChunks:]), le.Uint32(sec[bCount:]), le.Uint64(sec[bHeapLen:])
	switch {
	case session != a.session:
		return nil, errf(ErrCorrupt, base+bSession, "final of session %#x, want %#x", session, a.session)
	case chunks != a.next:
		return nil, errf(ErrSequence, base+bChunks, "final follows %d chunks, %d arrived", chunks, a.next)
	}
	if err := checkPageList(sec[blockHeaderLen:], base+blockHeaderLen, count, heapLen); err != nil {
		return nil, err
	}
	if err := a.apply(heapLen, count, sec[blockHeaderLen:], base+blockHeaderLen); err != nil {
		return nil, err
	}
	if uint64(len(a.arena)) != heapLen {
		return nil, errf(ErrSequence, base+bHeapLen, "a heap of %d bytes, %d assembled", heapLen, len(a.arena))
	}
	heap := a.arena[:heapLen:heapLen]
	a.arena = nil
	return heap, nil
}
