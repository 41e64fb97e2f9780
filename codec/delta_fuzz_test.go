package codec_test

import (
	"encoding/binary"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/codec/codectest"
	"github.com/knotencore/knoten/engine"
)

// migration is a valid live migration of a small multi-page synthetic
// state: chunks, then a final.
type migration struct {
	st     *engine.State
	meta   codec.Meta
	chunks [][]byte
	final  []byte
}

// newMigration builds the migration that shape describes: a heap of 1 to
// 5 pages and some bytes, sent in chunks of 1 to 4 pages, with a page
// resent, then a few words changed and sent with the final.
func newMigration(shape uint16) *migration {
	size := (1+int(shape%5))*ps + 8*int(shape>>3%64)
	k := 1 + int(shape>>9%4)
	st := codectest.BigState(size, uint64(shape))
	h := codec.PagesHeader{Isolate: 21, Session: 0x5e55}
	mg := &migration{st: st, meta: codec.Meta{Isolate: 21, Epoch: 4}}
	var sh shadow
	add := func(pages []uint32) {
		msg := codec.AppendPages(nil, h, st.Heap, pages)
		mg.chunks = append(mg.chunks, msg)
		sh.chunk(st.Heap, pages)
		h.Seq++
	}
	n := engine.NumPages(len(st.Heap))
	for lo := 0; lo < n; lo += k {
		var pages []uint32
		for p := lo; p < min(lo+k, n); p++ {
			pages = append(pages, uint32(p))
		}
		add(pages)
	}
	if shape&0x2000 != 0 {
		add([]uint32{0}) // a page resent
	}
	if shape&0x4000 != 0 {
		st.Heap[len(st.Heap)-8] ^= 0x81
		st.Heap[len(st.Heap)/2&^7] ^= 0x18
	}
	sum := st.Hash()
	mg.final = codec.AppendFinal(nil, mg.meta, st, h.Session, h.Seq, sh.missing(st.Heap), &sum)
	return mg
}

// tamper changes msg as op says, at offset off: flip bits, insert bytes,
// delete bytes, truncate, or overwrite a little-endian word. It returns a
// fresh slice.
func tamper(msg []byte, op uint8, off uint32, val uint32) []byte {
	b := slices.Clone(msg)
	i := 0
	if len(b) > 0 {
		i = int(off % uint32(len(b)+1))
	}
	switch op % 5 {
	case 0:
		if i == len(b) {
			i--
		}
		if i >= 0 {
			b[i] ^= byte(val) | 1
		}
	case 1:
		n := 1 + int(val%16)
		b = slices.Insert(b, i, make([]byte, n)...)
		for j := range n {
			b[i+j] = byte(val >> (8 * (j % 4)))
		}
	case 2:
		b = slices.Delete(b, i, min(i+1+int(val%16), len(b)))
	case 3:
		b = b[:i]
	case 4:
		i &^= 3
		if i+4 <= len(b) {
			binary.LittleEndian.PutUint32(b[i:], val)
		}
	}
	return b
}

// FuzzTamperDelta: one message of a valid live migration (a chunk, or the
// final) is tampered with, resealed behind its header check or not. No
// step panics, every error is a *codec.Error, and a final that is
// accepted gives exactly the original state with the original hash (and,
// unless the final's header was resealed, the original meta).
func FuzzTamperDelta(f *testing.F) {
	f.Add(uint16(0), uint8(0), uint8(0), uint32(100), uint32(1), false)
	f.Add(uint16(0x6123), uint8(1), uint8(4), uint32(44), uint32(3), true)
	f.Add(uint16(0x2042), uint8(255), uint8(0), uint32(9000), uint32(7), false)
	f.Add(uint16(0x4305), uint8(255), uint8(4), uint32(208+88), uint32(1<<20), true)
	f.Add(uint16(0x0207), uint8(2), uint8(2), uint32(60), uint32(4), true)
	f.Fuzz(func(t *testing.T, shape uint16, which, op uint8, off, val uint32, seal bool) {
		defer watchdog()()
		mg := newMigration(shape)
		msgs := append(slices.Clone(mg.chunks), mg.final)
		w := int(which) % len(msgs)
		msgs[w] = tamper(msgs[w], op, off, val)
		if seal {
			if w < len(mg.chunks) {
				if len(msgs[w]) >= pgHeader {
					sealPages(msgs[w])
				}
			} else {
				codec.SealHeader(msgs[w])
			}
		}
		a := codec.NewAssembler(21, 0x5e55, engine.Limits{MaxHeap: 1 << 20})
		for i, c := range msgs[:len(mg.chunks)] {
			err := a.Add(aligned(c, i%8))
			if err != nil {
				checkErr(t, err)
			}
			if _, perr := codec.PeekPages(c); perr != nil {
				checkErr(t, perr)
			}
		}
		m, got, err := finalState(t, codec.DecodeOptions{Limits: engine.Limits{MaxHeap: 1 << 20}}, a, msgs[len(msgs)-1], resolve)
		if err != nil {
			return
		}
		if ok, diff := codectest.Equal(got, mg.st); !ok {
			t.Fatalf("tampered migration accepted with another state: %s", diff)
		}
		if m.Hash != mg.st.Hash() || got.Hash() != mg.st.Hash() {
			t.Fatal("tampered migration accepted with another hash")
		}
		if !(seal && w == len(mg.chunks)) && (m.Isolate != mg.meta.Isolate || m.Epoch != mg.meta.Epoch) {
			t.Fatalf("tampered migration accepted with meta %+v, want %+v", m, mg.meta)
		}
	})
}

// checkErr fails unless err is a *codec.Error that reports no bug.
func checkErr(t testing.TB, err error) {
	t.Helper()
	var ce *codec.Error
	if !errors.As(err, &ce) || strings.Contains(err.Error(), "BUG") {
		t.Fatalf("error %v is not a *codec.Error, or is a bug", err)
	}
}

// FuzzDecodePages: arbitrary bytes, as a chunk and as a final (resealed
// behind their header checks when seal is set): PeekPages, Add and
// DecodeFinal never panic, fail only with a *codec.Error, and allocate no
// more than a small multiple of what they were given. A final they accept
// gives a state that resumes safely.
func FuzzDecodePages(f *testing.F) {
	for _, shape := range []uint16{0, 0x2001, 0x4212, 0x6344} {
		mg := newMigration(shape)
		f.Add(mg.chunks[0], mg.final, false)
		f.Add(mg.chunks[len(mg.chunks)-1], mg.final, true)
		// A final with every page, after no chunk.
		sum := mg.st.Hash()
		all := make([]uint32, engine.NumPages(len(mg.st.Heap)))
		for i := range all {
			all[i] = uint32(i)
		}
		f.Add([]byte{}, codec.AppendFinal(nil, mg.meta, mg.st, 0x5e55, 0, all, &sum), false)
	}
	f.Add([]byte("KNCP"), []byte("KNCF"), false)
	f.Fuzz(func(t *testing.T, chunk, final []byte, seal bool) {
		defer watchdog()()
		chunk, final = aligned(chunk, 0), aligned(final, 0)
		if seal {
			if len(chunk) >= pgHeader {
				sealPages(chunk)
			}
			codec.SealHeader(final)
		}
		limits := engine.Limits{MaxHeap: 1 << 20, MaxOutput: 1 << 16, MaxDepth: 1000}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		if _, err := codec.PeekPages(chunk); err != nil {
			checkErr(t, err)
		}
		a := codec.NewAssembler(21, 0x5e55, limits)
		if len(chunk) > 0 {
			if err := a.Add(chunk); err != nil {
				checkErr(t, err)
			}
		}
		m, chk, err := codec.DecodeOptions{SkipVerify: true, Limits: limits}.DecodeFinal(a, final, resolve)
		runtime.ReadMemStats(&ms)
		if n := ms.TotalAlloc - before; n > uint64(4*(len(chunk)+len(final)))+128<<10 {
			t.Fatalf("%d + %d bytes allocated %d bytes", len(chunk), len(final), n)
		}
		if err != nil {
			checkErr(t, err)
			return
		}
		_ = m
		iso, err := engine.ResumeChecked(&chk)
		if err != nil {
			t.Fatalf("a decoded final does not resume: %v", err)
		}
		if iso.Run(10000) == engine.Faulted && errors.Is(iso.Err(), engine.ErrInternal) {
			t.Fatalf("a decoded final faulted inside the VM: %v", iso.Err())
		}
	})
}

// watchdog panics (so that the fuzzer records the input) when one input
// takes more than 30 s; the returned func disarms it.
func watchdog() func() {
	tm := time.AfterFunc(30*time.Second, func() {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		panic("hang: one input ran 30 s\n" + string(buf[:n]))
	})
	return func() { tm.Stop() }
}
