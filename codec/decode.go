package codec

import (
	"fmt"
	"unsafe"

	"github.com/knotencore/knoten/engine"
)

// Resolver returns the validated program whose hash is given, or an error
// when the node does not have it.
type Resolver func(hash [32]byte) (*engine.Program, error)

// DecodeOptions configure decoding. The zero value is the safe default:
// verify the state hash and check the state under engine.DefaultLimits.
type DecodeOptions struct {
	// SkipVerify skips recomputing the state hash. The state is still fully
	// checked by engine.CheckState, so it is safe to run, but a corrupted
	// register or heap value that happens to be valid goes unnoticed. Use it
	// only for bytes that never left this process or machine (and to measure
	// what verification costs); never for bytes from the network.
	SkipVerify bool
	// Limits are the receiving node's limits, for engine.CheckState.
	Limits engine.Limits
	// Checker, if set, checks the state and keeps its scratch memory between
	// decodes, which makes decoding allocation-free once warm. A Checker
	// must not be shared by concurrent decodes.
	Checker *engine.StateChecker
}

// Decode decodes and fully validates buf, verifying the state hash. It
// takes ownership of buf (see the package doc): the state aliases it.
func Decode(buf []byte, resolve Resolver) (Meta, *engine.State, error) {
	return DecodeOptions{}.Decode(buf, resolve)
}

// DecodeNoVerify is Decode without the state-hash verification. It is for
// trusted local use only; see DecodeOptions.SkipVerify.
func DecodeNoVerify(buf []byte, resolve Resolver) (Meta, *engine.State, error) {
	return DecodeOptions{SkipVerify: true}.Decode(buf, resolve)
}

// Decode decodes buf under the options. See the package function Decode.
func (o DecodeOptions) Decode(buf []byte, resolve Resolver) (Meta, *engine.State, error) {
	st := new(engine.State)
	m, err := o.DecodeInto(st, buf, resolve)
	if err != nil {
		return Meta{}, nil, err
	}
	return m, st, nil
}

// DecodeInto is Decode into a caller-supplied State, which it overwrites
// (on error it is zeroed). It takes ownership of buf like Decode.
func (o DecodeOptions) DecodeInto(st *engine.State, buf []byte, resolve Resolver) (Meta, error) {
	m, _, err := o.decodeState(st, buf, resolve, false, nil)
	return m, err
}

// DecodeChecked is Decode for a receiver that resumes what it decodes: the
// state comes back as an engine.Checked, which engine.ResumeChecked resumes
// without checking it a second time. The check is the decoder's (under
// o.Limits, with o.Checker), so the state is validated once, and Meta.Hash
// is the state hash, verified unless o.SkipVerify. With a warm Checker,
// decoding allocates nothing. It takes ownership of buf like Decode.
//
// The Checked is a one-shot token of o.Checker (see engine.Checked): it and
// its copies resume once, and the Checker's next DecodeChecked voids it, so
// resume it before decoding the next state with the same Checker. Decode
// and DecodeInto do not touch the Checker's token.
func (o DecodeOptions) DecodeChecked(buf []byte, resolve Resolver) (Meta, engine.Checked, error) {
	var st engine.State
	return o.decodeState(&st, buf, resolve, true, nil)
}

// decodeState decodes buf into *st, checks it and verifies its hash. With
// resumable, the check is CheckResumable's and c is its token; otherwise
// c is zero. With an Assembler, buf is a final pre-copy encoding whose
// heap section holds pages for it (DecodeFinal).
func (o DecodeOptions) decodeState(st *engine.State, buf []byte, resolve Resolver, resumable bool, asm *Assembler) (m Meta, c engine.Checked, err error) {
	// Every check below is meant to make a panic impossible; this recover
	// keeps a bug from taking the node down with it, and says BUG so that
	// the fuzz targets catch it.
	defer func() {
		if r := recover(); r != nil {
			*st = engine.State{}
			m, c, err = Meta{}, engine.Checked{}, &Error{Err: ErrCorrupt, Offset: -1, Detail: fmt.Sprintf("BUG: panic while decoding: %v", r)}
		}
	}()
	*st = engine.State{}
	mg := magic
	if asm != nil {
		mg = finalMagic
	}
	l, err := parseHeaderOf(buf, true, mg)
	if err != nil {
		if asm != nil {
			asm.err = err // consumed, as DecodeFinal says
		}
		return Meta{}, c, err
	}
	mb := buf[metaOff:headerLen]
	if v := le.Uint32(mb[mReserved:]); v != 0 {
		return Meta{}, c, errf(ErrCorrupt, metaOff+mReserved, "reserved meta word is %#x, want 0", v)
	}
	if err := checkZero(buf, l.off[secHeap]+l.n[secHeap], l.off[secOutput]); err != nil {
		return Meta{}, c, err
	}
	if err := checkZero(buf, l.off[secOutput]+l.n[secOutput], l.trailer); err != nil {
		return Meta{}, c, err
	}
	status := le.Uint32(mb[mStatus:])
	if status > 0xFF {
		return Meta{}, c, errf(ErrCorrupt, metaOff+mStatus, "status %d out of range", status)
	}
	m = Meta{Isolate: le.Uint64(mb[mIsolate:]), Epoch: le.Uint64(mb[mEpoch:]), Hash: [32]byte(buf[l.trailer:l.size])}

	var ph [32]byte
	copy(ph[:], mb[mProgram:])
	if resolve == nil {
		return Meta{}, c, &Error{Err: ErrUnknownProgram, Offset: metaOff + mProgram, Detail: "no resolver"}
	}
	prog, err := resolve(ph)
	if err != nil || prog == nil {
		return Meta{}, c, &Error{Err: ErrUnknownProgram, Offset: metaOff + mProgram, Detail: hexPrefix(ph), Cause: err}
	}

	*st = engine.State{
		Program: ph,
		Status:  engine.Status(status),
		Fault:   le.Uint32(mb[mFault:]),
		PC:      le.Uint32(mb[mPC:]),
		Steps:   le.Uint64(mb[mSteps:]),
		Result:  le.Uint64(mb[mResult:]),
		HeapCap: le.Uint64(mb[mHeapCap:]),
		Frames:  framesAt(buf, l.off[secFrames], l.n[secFrames]),
		Regs:    wordsAt(buf, l.off[secRegs], l.n[secRegs]),
		Globals: wordsAt(buf, l.off[secGlobals], l.n[secGlobals]),
		Heap:    bytesAt(buf, l.off[secHeap], l.n[secHeap]),
		Output:  bytesAt(buf, l.off[secOutput], l.n[secOutput]),
	}
	if asm != nil {
		if st.Heap, err = asm.decodeFinalHeap(bytesAt(buf, l.off[secHeap], l.n[secHeap]), l.off[secHeap]); err != nil {
			*st = engine.State{}
			return Meta{}, engine.Checked{}, err
		}
	}
	checker := o.Checker
	if checker == nil {
		checker = new(engine.StateChecker)
	}
	if resumable {
		c, err = checker.CheckResumable(prog, st, o.Limits)
	} else if err = prog.Validate(); err == nil {
		err = checker.Check(prog, st, o.Limits)
	}
	if err != nil {
		*st = engine.State{}
		return Meta{}, engine.Checked{}, &Error{Err: ErrCorrupt, Offset: -1, Detail: err.Error(), Cause: err}
	}
	if !o.SkipVerify && stateHash(st, asm) != m.Hash {
		*st = engine.State{}
		return Meta{}, engine.Checked{}, errf(ErrHashMismatch, l.trailer, "trailer does not match the decoded state")
	}
	return m, c, nil
}

// stateHash is st's state hash; with an Assembler, from the tree of the
// pages it holds, which is st's heap.
func stateHash(st *engine.State, asm *Assembler) [32]byte {
	if asm == nil {
		return st.Hash()
	}
	root := asm.tree.Root()
	return engine.StateRoot(st, &root)
}

// PeekMeta reads the metadata and program hash from the start of an
// encoding, so that a node can fetch the program before decoding. It needs
// only the first 208 bytes; it checks the header, the header check and the
// section table (against the size the header claims), nothing else.
func PeekMeta(buf []byte) (Meta, [32]byte, error) {
	var ph [32]byte
	if _, err := parseHeader(buf, false); err != nil {
		return Meta{}, ph, err
	}
	mb := buf[metaOff:headerLen]
	copy(ph[:], mb[mProgram:])
	return Meta{Isolate: le.Uint64(mb[mIsolate:]), Epoch: le.Uint64(mb[mEpoch:])}, ph, nil
}

// Size returns the total length of the encoding that prefix starts, read from
// its first 16 bytes, for framing on a stream. It checks magic and version and
// that the size is plausible; Decode checks everything else.
func Size(prefix []byte) (int, error) {
	if err := checkPrefix(prefix, offSize+8); err != nil {
		return 0, err
	}
	size := le.Uint64(prefix[offSize:])
	if size < MinSize || size%8 != 0 || size > maxSize {
		return 0, errf(ErrCorrupt, offSize, "size %d is implausible", size)
	}
	return int(size), nil
}

// maxSize bounds the size field so that offset arithmetic cannot overflow.
const maxSize = 1 << 48

// checkPrefix checks magic and version and that buf has at least need bytes.
func checkPrefix(buf []byte, need int) error { return checkPrefixOf(buf, need, magic) }

// checkPrefixOf is checkPrefix for the encoding whose magic is magic: a
// whole state, a final pre-copy message or a pages message.
func checkPrefixOf(buf []byte, need int, magic string) error {
	n := len(buf)
	if n < len(magic) {
		if string(buf) != magic[:n] {
			return errf(ErrBadMagic, 0, "input starts %q", buf)
		}
		return errf(ErrTruncated, n, "input has %d bytes, need %d", n, need)
	}
	if string(buf[:len(magic)]) != magic {
		return errf(ErrBadMagic, 0, "input starts %q, want %q", buf[:len(magic)], magic)
	}
	if n < offVersion+4 {
		return errf(ErrTruncated, n, "input has %d bytes, need %d", n, need)
	}
	if v := le.Uint32(buf[offVersion:]); v != Version {
		return errf(ErrVersion, offVersion, "read %d, want %d", v, Version)
	}
	if n < need {
		return errf(ErrTruncated, n, "input has %d bytes, need %d", n, need)
	}
	return nil
}

// parseHeader checks the header and section table and returns the layout.
// With full, buf must be the whole encoding; otherwise it may be a prefix of
// at least headerLen bytes, and the table is checked against the claimed size.
func parseHeader(buf []byte, full bool) (layout, error) { return parseHeaderOf(buf, full, magic) }

// parseHeaderOf is parseHeader for a state encoding with the given magic:
// a whole state ("KNCS") or a pre-copy final message ("KNCF"), which share
// the layout.
func parseHeaderOf(buf []byte, full bool, magic string) (layout, error) {
	var l layout
	if err := checkPrefixOf(buf, headerLen, magic); err != nil {
		return l, err
	}
	n := len(buf)
	size := le.Uint64(buf[offSize:])
	switch {
	case full && size > uint64(n):
		return l, errf(ErrTruncated, n, "input has %d bytes, header says %d", n, size)
	case full && size < uint64(n):
		return l, errf(ErrCorrupt, offSize, "input has %d bytes, header says %d: trailing bytes", n, size)
	case size < MinSize || size%8 != 0 || size > maxSize:
		return l, errf(ErrCorrupt, offSize, "size %d is implausible", size)
	}
	if v := le.Uint32(buf[offReserved:]); v != 0 {
		return l, errf(ErrCorrupt, offReserved, "reserved header word is %#x, want 0", v)
	}
	if got, want := le.Uint32(buf[offCheck:]), headerCheck(buf); got != want {
		return l, errf(ErrCorrupt, offCheck, "header check %#08x, want %#08x", got, want)
	}
	// Every section starts where the previous one ends, rounded up to 8, and
	// ends before the trailer. size <= maxSize keeps the sums from overflowing.
	off := uint64(metaOff)
	for i := range numSections {
		at := offTable + 16*i
		o, ln := le.Uint64(buf[at:]), le.Uint64(buf[at+8:])
		if o != off {
			return l, errf(ErrCorrupt, at, "%s section at offset %d, want %d", sectionNames[i], o, off)
		}
		if ln > size-trailerLen-off {
			return l, errf(ErrCorrupt, at+8, "%s section of %d bytes at offset %d overruns the encoding of %d bytes", sectionNames[i], ln, off, size)
		}
		var bad bool
		switch i {
		case secMeta:
			bad = ln != metaLen
		case secFrames:
			bad = ln%16 != 0
		case secRegs, secGlobals:
			bad = ln%8 != 0
		}
		if bad {
			return l, errf(ErrCorrupt, at+8, "%s section length %d is not valid", sectionNames[i], ln)
		}
		l.off[i], l.n[i] = int(off), int(ln)
		off = (off + ln + 7) &^ 7
	}
	if off+trailerLen != size {
		return l, errf(ErrCorrupt, offSize, "size %d, but the sections and trailer end at %d", size, off+trailerLen)
	}
	l.trailer, l.size = int(off), int(size)
	return l, nil
}

func checkZero(buf []byte, from, to int) error {
	for i := from; i < to; i++ {
		if buf[i] != 0 {
			return errf(ErrCorrupt, i, "padding byte is %#02x, want 0", buf[i])
		}
	}
	return nil
}

// wordsAt returns the n bytes at buf[off:] as words: a view when the host is
// little-endian and the words are aligned, else a copy. Either way the slice
// has cap == len.
func wordsAt(buf []byte, off, n int) []uint64 {
	if n == 0 {
		return nil
	}
	p := unsafe.Pointer(&buf[off])
	if hostLE && uintptr(p)%unsafe.Alignof(uint64(0)) == 0 {
		return unsafe.Slice((*uint64)(p), n/8)
	}
	w := make([]uint64, n/8)
	for i := range w {
		w[i] = le.Uint64(buf[off+8*i:])
	}
	return w
}

// framesAt is wordsAt for frames.
func framesAt(buf []byte, off, n int) []engine.Frame {
	if n == 0 {
		return nil
	}
	p := unsafe.Pointer(&buf[off])
	if hostLE && uintptr(p)%unsafe.Alignof(engine.Frame{}) == 0 {
		return unsafe.Slice((*engine.Frame)(p), n/16)
	}
	f := make([]engine.Frame, n/16)
	for i := range f {
		b := buf[off+16*i:]
		f[i] = engine.Frame{Fn: le.Uint32(b), Base: le.Uint32(b[4:]), RetPC: le.Uint32(b[8:]), RetReg: le.Uint32(b[12:])}
	}
	return f
}

func bytesAt(buf []byte, off, n int) []byte {
	if n == 0 {
		return nil
	}
	return buf[off : off+n : off+n]
}

func hexPrefix(h [32]byte) string {
	const digits = "0123456789abcdef"
	var s [19]byte
	copy(s[:], "program ")
	for i := 0; i < 4; i++ {
		s[8+2*i], s[9+2*i] = digits[h[i]>>4], digits[h[i]&15]
	}
	s[16], s[17], s[18] = '.', '.', '.'
	return string(s[:])
}
