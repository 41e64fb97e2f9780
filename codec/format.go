package codec

import (
	"encoding/binary"
	"hash/crc32"
	"unsafe"

	"github.com/knotencore/knoten/engine"
)

// Version is the wire format version of all three encodings (state,
// final, pages). Bump it on any change to the layout, the heap's object
// kinds or the state hash (2: slice headers; 3: the state hash is a Merkle
// root over 8 KiB heap pages, and pre-copy's final and pages encodings).
const Version = 3

const (
	magic = "KNCS"

	offVersion  = 4
	offSize     = 8
	offCheck    = 16
	offReserved = 20
	offTable    = 24

	numSections = 6
	metaOff     = offTable + numSections*16 // 120
	metaLen     = 88
	headerLen   = metaOff + metaLen // 208: header and meta, the part the check covers from offTable on
	trailerLen  = 32

	// meta fields, relative to metaOff
	mIsolate  = 0
	mEpoch    = 8
	mProgram  = 16
	mStatus   = 48
	mFault    = 52
	mPC       = 56
	mReserved = 60
	mSteps    = 64
	mResult   = 72
	mHeapCap  = 80

	// MinSize is the size of the smallest possible encoding: header, meta and
	// trailer with every other section empty.
	MinSize = headerLen + trailerLen

	// ScratchSize is the scratch space EncodeBuffers needs.
	ScratchSize = headerLen + 8 + 8 + trailerLen
)

// Section indexes, in wire order.
const (
	secMeta = iota
	secFrames
	secRegs
	secGlobals
	secHeap
	secOutput
)

var sectionNames = [numSections]string{"meta", "frames", "regs", "globals", "heap", "output"}

// Meta is what the encoding carries besides the state: routing data that the
// state hash does not cover. The header check guards it instead.
type Meta struct {
	Isolate uint64 // cluster-wide isolate id
	Epoch   uint64 // migration epoch: bumped on every handoff
	// Hash is the state hash, from the trailer, filled in by decoding: Decode
	// has verified it against the decoded state, unless SkipVerify said not
	// to (then it is only what the sender wrote). Encoding ignores it and
	// writes the state's own hash; PeekMeta leaves it zero.
	Hash [32]byte
}

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	hostLE     = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
)

// engine.Frame must stay four packed u32s: the wire format views it in place.
var (
	_ [16 - unsafe.Sizeof(engine.Frame{})]byte
	_ [unsafe.Sizeof(engine.Frame{}) - 16]byte
)

func align8(n int) int { return (n + 7) &^ 7 }

// layout is where each section of an encoding lies.
type layout struct {
	off, n  [numSections]int
	trailer int // offset of the state hash
	size    int // total length
}

func layoutOf(st *engine.State) layout { return layoutWith(st, len(st.Heap)) }

// layoutWith is layoutOf with a heap section of heapLen bytes: a final
// pre-copy message carries pages there instead of the whole heap.
func layoutWith(st *engine.State, heapLen int) layout {
	var l layout
	l.n = [numSections]int{metaLen, 16 * len(st.Frames), 8 * len(st.Regs), 8 * len(st.Globals), heapLen, len(st.Output)}
	off := metaOff
	for i := range l.n {
		l.off[i] = off
		off = align8(off + l.n[i])
	}
	l.trailer = off
	l.size = off + trailerLen
	return l
}

// EncodedSize returns the length of st's encoding.
func EncodedSize(st *engine.State) int { return layoutOf(st).size }

// headerCheck is the CRC-32C of the section table and meta.
func headerCheck(b []byte) uint32 { return crc32.Checksum(b[offTable:headerLen], castagnoli) }
