package codec

import (
	"net"
	"slices"

	"github.com/knotencore/knoten/engine"
)

// putHeader writes header and meta into b[:headerLen].
func putHeader(b []byte, l *layout, m Meta, st *engine.State) { putHeaderOf(b, l, m, st, magic) }

// putHeaderOf is putHeader for the state encoding with the given magic.
func putHeaderOf(b []byte, l *layout, m Meta, st *engine.State, magic string) {
	b = b[:headerLen]
	copy(b, magic)
	le.PutUint32(b[offVersion:], Version)
	le.PutUint64(b[offSize:], uint64(l.size))
	le.PutUint32(b[offReserved:], 0)
	for i := range numSections {
		le.PutUint64(b[offTable+16*i:], uint64(l.off[i]))
		le.PutUint64(b[offTable+16*i+8:], uint64(l.n[i]))
	}
	mb := b[metaOff:]
	le.PutUint64(mb[mIsolate:], m.Isolate)
	le.PutUint64(mb[mEpoch:], m.Epoch)
	copy(mb[mProgram:mProgram+32], st.Program[:])
	le.PutUint32(mb[mStatus:], uint32(st.Status))
	le.PutUint32(mb[mFault:], st.Fault)
	le.PutUint32(mb[mPC:], st.PC)
	le.PutUint32(mb[mReserved:], 0)
	le.PutUint64(mb[mSteps:], st.Steps)
	le.PutUint64(mb[mResult:], st.Result)
	le.PutUint64(mb[mHeapCap:], st.HeapCap)
	le.PutUint32(b[offCheck:], headerCheck(b))
}

// AppendEncode appends the encoding of (m, st) to dst and returns the
// extended slice. It computes st.Hash() for the trailer. It allocates only
// when dst lacks capacity for EncodedSize(st) more bytes.
func AppendEncode(dst []byte, m Meta, st *engine.State) []byte {
	sum := st.Hash()
	return AppendEncodeSum(dst, m, st, &sum)
}

// AppendEncodeSum is AppendEncode with the state hash supplied by a caller
// that already holds it (sum must be st.Hash(), for example the hash a
// migration records when it halts the isolate). It skips the hashing pass,
// the only part of encoding that is not a memory copy. A wrong sum yields an
// encoding that every verifying decoder rejects with ErrHashMismatch.
func AppendEncodeSum(dst []byte, m Meta, st *engine.State, sum *[32]byte) []byte {
	l := layoutOf(st)
	start := len(dst)
	dst = slices.Grow(dst, l.size)[:start+l.size]
	b := dst[start:]
	putHeader(b, &l, m, st)
	copy(b[l.off[secFrames]:], engine.FrameBytes(st.Frames))
	copy(b[l.off[secRegs]:], engine.WordBytes(st.Regs))
	copy(b[l.off[secGlobals]:], engine.WordBytes(st.Globals))
	end := l.off[secHeap] + copy(b[l.off[secHeap]:], st.Heap)
	clear(b[end:l.off[secOutput]])
	end = l.off[secOutput] + copy(b[l.off[secOutput]:], st.Output)
	clear(b[end:l.trailer])
	copy(b[l.trailer:], sum[:])
	return dst
}

// EncodeBuffers returns the encoding of (m, st) as a vector of buffers for
// writev (net.Buffers.WriteTo): header and trailer are built in scratch,
// and the frames, registers, globals, heap and output are referenced in
// place, not copied. It computes st.Hash() for the trailer.
//
// bufs and scratch are reused: pass the previous call's results back and
// neither form allocates (scratch needs ScratchSize bytes of capacity, bufs
// room for 8 entries). Because WriteTo consumes the vector it is given, write
// a copy (v := bufs; v.WriteTo(w)) and keep bufs for the next call. The
// returned buffers alias st and scratch: they are valid until either changes.
func EncodeBuffers(bufs net.Buffers, scratch []byte, m Meta, st *engine.State) (net.Buffers, []byte) {
	sum := st.Hash()
	return EncodeBuffersSum(bufs, scratch, m, st, &sum)
}

// EncodeBuffersSum is EncodeBuffers with the state hash supplied by the
// caller, as for AppendEncodeSum.
func EncodeBuffersSum(bufs net.Buffers, scratch []byte, m Meta, st *engine.State, sum *[32]byte) (net.Buffers, []byte) {
	if cap(scratch) < ScratchSize {
		scratch = make([]byte, ScratchSize)
	}
	scratch = scratch[:ScratchSize]
	l := layoutOf(st)
	hdr := scratch[:headerLen]
	heapPad := scratch[headerLen : headerLen+8]
	tail := scratch[headerLen+8:] // output padding, then the trailer
	putHeader(hdr, &l, m, st)
	clear(heapPad)
	clear(tail[:8])
	copy(tail[8:], sum[:])

	bufs = bufs[:0]
	add := func(b []byte) {
		if len(b) > 0 {
			bufs = append(bufs, b)
		}
	}
	add(hdr)
	add(engine.FrameBytes(st.Frames))
	add(engine.WordBytes(st.Regs))
	add(engine.WordBytes(st.Globals))
	add(st.Heap)
	add(heapPad[:l.off[secOutput]-l.off[secHeap]-l.n[secHeap]])
	add(st.Output)
	add(tail[8-(l.trailer-l.off[secOutput]-l.n[secOutput]):])
	return bufs, scratch
}
