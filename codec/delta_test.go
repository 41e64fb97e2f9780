package codec_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/codec/codectest"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
	"github.com/knotencore/knoten/engine/workloads"
)

const ps = engine.PageSize

// Offsets in a pages encoding (see codec/delta.go), for the tests that
// tamper with one field.
const (
	pgCheck    = 16
	pgReserved = 20
	pgIsolate  = 24
	pgSession  = 32
	pgSeq      = 40
	pgCount    = 44
	pgHeapLen  = 48
	pgHeader   = 56
)

var castagnoliTab = crc32.MakeTable(crc32.Castagnoli)

// sealPages recomputes a pages encoding's header check, so that a test can
// change a field behind it and reach the checks that follow.
func sealPages(b []byte) {
	count := int(binary.LittleEndian.Uint32(b[pgCount:]))
	end := min(pgHeader+4*count, len(b))
	binary.LittleEndian.PutUint32(b[pgCheck:], crc32.Checksum(b[24:end], castagnoliTab))
}

// shadow is the test's own account of what a target holds: the heap the
// pages sent so far make, as the package doc describes an Assembler.
type shadow struct{ held []byte }

// put records page p of a heap of heapLen bytes (the chunk's) as sent.
func (s *shadow) chunk(heap []byte, pages []uint32) {
	if len(heap) < len(s.held) {
		s.held = s.held[:len(heap)]
	}
	for _, p := range pages {
		lo := int(p) * ps
		hi := min(lo+ps, len(heap))
		for len(s.held) < hi {
			s.held = append(s.held, 0)
		}
		copy(s.held[lo:hi], heap[lo:hi])
	}
}

// missing returns the pages of heap the target does not hold exactly: the
// pages a final message must carry.
func (s *shadow) missing(heap []byte) []uint32 {
	var out []uint32
	for p := range engine.NumPages(len(heap)) {
		lo, hi := p*ps, min((p+1)*ps, len(heap))
		if hi > len(s.held) || string(s.held[lo:hi]) != string(heap[lo:hi]) {
			out = append(out, uint32(p))
		}
	}
	return out
}

// pickPages returns a random increasing subset of the pages of heap that
// an Assembler holding held bytes accepts (each page at most one past
// those held once the previous ones landed), each with probability prob.
func pickPages(r *rand.Rand, heldLen int, heap []byte, prob float64) []uint32 {
	if len(heap) < heldLen {
		heldLen = len(heap)
	}
	var out []uint32
	for p := range engine.NumPages(len(heap)) {
		if p > engine.NumPages(heldLen) {
			break
		}
		if r.Float64() < prob {
			out = append(out, uint32(p))
			heldLen = max(heldLen, min((p+1)*ps, len(heap)))
		}
	}
	return out
}

// finalState decodes a final message with a and resumes the state, so
// that the test can compare it field by field.
func finalState(t testing.TB, o codec.DecodeOptions, a *codec.Assembler, buf []byte, res codec.Resolver) (codec.Meta, *engine.State, error) {
	t.Helper()
	m, chk, err := o.DecodeFinal(a, aligned(buf, 0), res)
	if err != nil {
		var ce *codec.Error
		if !errors.As(err, &ce) {
			t.Fatalf("DecodeFinal: %v is not a *codec.Error", err)
		}
		if strings.Contains(err.Error(), "BUG") {
			t.Fatalf("DecodeFinal: %v", err)
		}
		return m, nil, err
	}
	iso, err := engine.ResumeChecked(&chk)
	if err != nil {
		t.Fatalf("ResumeChecked after DecodeFinal: %v", err)
	}
	return m, iso.State(), nil
}

// checkSame fails unless got (with meta m) is exactly src with meta want.
func checkSame(t testing.TB, m codec.Meta, got *engine.State, want codec.Meta, src *engine.State) {
	t.Helper()
	if ok, diff := codectest.Equal(got, src); !ok {
		t.Fatalf("assembled state differs from the source: %s", diff)
	}
	if string(got.Heap) != string(src.Heap) {
		t.Fatal("heaps differ")
	}
	want.Hash = src.Hash()
	if m != want {
		t.Fatalf("meta %+v, want %+v", m, want)
	}
	if got.Hash() != src.Hash() {
		t.Fatal("the assembled state's hash differs from the source's")
	}
}

// sendAll sends heap's pages in chunks of k pages (all of them when k is
// 0) and returns the encodings.
func sendAll(h codec.PagesHeader, heap []byte, k int) [][]byte {
	n := engine.NumPages(len(heap))
	if k <= 0 {
		k = max(n, 1)
	}
	var msgs [][]byte
	for lo := 0; lo < n; lo += k {
		var pages []uint32
		for p := lo; p < min(lo+k, n); p++ {
			pages = append(pages, uint32(p))
		}
		msgs = append(msgs, codec.AppendPages(nil, h, heap, pages))
		h.Seq++
	}
	return msgs
}

// TestDeltaRoundTrip sends a synthetic state's heap in chunks of several
// sizes, changes some of its pages, and sends the final with them (or with
// every page and no chunk): the assembled state is the source's, field by
// field, and its hash the source's.
func TestDeltaRoundTrip(t *testing.T) {
	sizes := []int{24, 4096, ps, ps + 8, 3 * ps, 3*ps + 1000, 10*ps + 8, 33 * ps}
	for _, size := range sizes {
		for _, k := range []int{0, 1, 3} {
			for _, mode := range []string{"unchanged", "changed", "nochunks"} {
				t.Run(fmt.Sprintf("%d/k=%d/%s", size, k, mode), func(t *testing.T) {
					st := codectest.BigState(size, uint64(size+k))
					if len(st.Heap) != size {
						t.Fatalf("heap of %d bytes, want %d", len(st.Heap), size)
					}
					hdr := codec.PagesHeader{Isolate: 5, Session: 0xabc, Seq: 0}
					var msgs [][]byte
					if mode != "nochunks" {
						msgs = sendAll(hdr, st.Heap, k)
					}
					var sh shadow
					a := codec.NewAssembler(5, 0xabc, engine.Limits{})
					for i, msg := range msgs {
						if len(msg) != codec.PagesSize(len(st.Heap), pagesOf(t, msg)) || !codec.IsPages(msg) || codec.IsFinal(msg) {
							t.Fatalf("chunk %d: size or magic", i)
						}
						h, err := codec.PeekPages(msg)
						if err != nil || h != (codec.PagesHeader{Isolate: 5, Session: 0xabc, Seq: uint32(i)}) {
							t.Fatalf("chunk %d: peek %+v %v", i, h, err)
						}
						if err := a.Add(aligned(msg, i%8)); err != nil {
							t.Fatalf("chunk %d: %v", i, err)
						}
						sh.chunk(st.Heap, pagesOf(t, msg))
					}
					if a.Next() != uint32(len(msgs)) {
						t.Fatalf("Next %d after %d chunks", a.Next(), len(msgs))
					}
					if len(msgs) > 0 && a.Bytes() < len(st.Heap) {
						t.Fatalf("Bytes %d, less than the heap of %d", a.Bytes(), len(st.Heap))
					}
					if mode == "changed" && len(st.Heap) > 24 {
						// Change a word in the first, a middle and the last page.
						for _, off := range []int{24, len(st.Heap) / 2, len(st.Heap) - 8} {
							off = max(off, 24) &^ 7
							st.Heap[off] ^= 0x5a
						}
					}
					pages := sh.missing(st.Heap)
					if mode == "unchanged" && len(pages) != 0 {
						t.Fatalf("pages %v missing after every page was sent", pages)
					}
					sum := st.Hash()
					m := codec.Meta{Isolate: 5, Epoch: 9}
					fin := codec.AppendFinal(nil, m, st, 0xabc, uint32(len(msgs)), pages, &sum)
					if len(fin) != codec.FinalSize(st, pages) || !codec.IsFinal(fin) || codec.IsPages(fin) {
						t.Fatal("final: size or magic")
					}
					gm, got, err := finalState(t, codec.DecodeOptions{}, a, fin, resolve)
					if err != nil {
						t.Fatalf("final with pages %v: %v", pages, err)
					}
					checkSame(t, gm, got, m, st)
				})
			}
		}
	}
}

// pagesOf returns the page indexes of a pages encoding.
func pagesOf(t testing.TB, msg []byte) []uint32 {
	t.Helper()
	n := binary.LittleEndian.Uint32(msg[pgCount:])
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(msg[pgHeader+4*i:])
	}
	return out
}

// TestDeltaGrowShrink sends chunks of heaps that grow and shrink between
// chunks (arbitrary bytes: the Assembler does not look inside pages),
// resending pages at random, then a final of a valid state with the pages
// the target lacks: the result is exactly that state.
func TestDeltaGrowShrink(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := range 60 {
		var sh shadow
		a := codec.NewAssembler(1, 2, engine.Limits{})
		chunks := uint32(0)
		for range 1 + r.IntN(8) {
			heap := make([]byte, 8*(1+r.IntN(12*ps/8)))
			for i := range heap {
				heap[i] = byte(r.Uint32())
			}
			if r.IntN(3) == 0 && len(sh.held) > 0 {
				// The heap as held, grown or shrunk a little: the pages not
				// resent stay right.
				heap = append(heap[:0], sh.held...)
				heap = heap[:max(8, len(heap)-8*r.IntN(ps/4))]
				for range r.IntN(ps) {
					heap = append(heap, byte(r.Uint32()))
				}
				heap = heap[:len(heap)&^7]
			}
			pages := pickPages(r, len(sh.held), heap, 0.6)
			msg := codec.AppendPages(nil, codec.PagesHeader{Isolate: 1, Session: 2, Seq: chunks}, heap, pages)
			if err := a.Add(msg); err != nil {
				t.Fatalf("trial %d chunk %d (heap %d, held %d, pages %v): %v", trial, chunks, len(heap), len(sh.held), pages, err)
			}
			sh.chunk(heap, pages)
			chunks++
		}
		st := codectest.BigState(24+8*r.IntN(14*ps/8), uint64(trial))
		if r.IntN(2) == 0 && len(sh.held) >= 24 {
			// A state whose heap agrees with much of what was sent.
			st = codectest.BigState(len(sh.held)&^7, uint64(trial))
			copy(st.Heap[24:], sh.held[24:])
		}
		pages := sh.missing(st.Heap)
		sum := st.Hash()
		m := codec.Meta{Isolate: 1, Epoch: 3}
		gm, got, err := finalState(t, codec.DecodeOptions{}, a, codec.AppendFinal(nil, m, st, 2, chunks, pages, &sum), resolve)
		if err != nil {
			t.Fatalf("trial %d: final (heap %d, held %d, pages %v): %v", trial, len(st.Heap), len(sh.held), pages, err)
		}
		checkSame(t, gm, got, m, st)
	}
}

// source is a live migration's source in the tests: an isolate running in
// quanta, sending chunks of dirty pages as cluster/precopy.go does.
type source struct {
	iso     *engine.Isolate
	session uint64
	cursor  int
	round   int
	chunks  uint32
	began   bool
	pages   []uint32
}

// pump takes the next chunk of at most max pages; it returns nil when no
// page was dirty from the cursor on.
func (s *source) pump(max int) []byte {
	if !s.began {
		s.iso.MarkAllDirty()
		s.began = true
	}
	st := s.iso.State()
	n := engine.NumPages(len(st.Heap))
	s.pages, s.cursor = s.iso.TakeDirty(s.pages[:0], s.cursor, n, max)
	var msg []byte
	if len(s.pages) > 0 {
		msg = codec.AppendPages(nil, codec.PagesHeader{Isolate: 77, Session: s.session, Seq: s.chunks}, st.Heap, s.pages)
		s.chunks++
	}
	if s.cursor >= n {
		s.round++
		s.cursor = 0
	}
	return msg
}

// final takes every dirty page and encodes the final message.
func (s *source) final(m codec.Meta) []byte {
	st := s.iso.State()
	all := engine.NumPages(len(st.Heap))
	s.pages, _ = s.iso.TakeDirty(s.pages[:0], 0, all, all)
	sum := s.iso.Hash()
	return codec.AppendFinal(nil, m, st, s.session, s.chunks, s.pages, &sum)
}

type sized struct {
	base string
	n    int
}

var sizedProgs sync.Map // sized -> *engine.Program

func sizedProg(t testing.TB, base string, n int) *engine.Program {
	t.Helper()
	if p, ok := sizedProgs.Load(sized{base, n}); ok {
		return p.(*engine.Program)
	}
	w, err := workloads.Sized(base, n)
	if err != nil {
		t.Fatal(err)
	}
	p, err := lang.Compile(w.Filename(), w.Source)
	if err != nil {
		t.Fatal(err)
	}
	sizedProgs.Store(sized{base, n}, p)
	return p
}

// TestDeltaEngine migrates real workloads live: rounds of chunks while the
// isolate runs, then the final with the pages still dirty. The assembled
// state is the source's at the stop, and resumed it ends as the straight
// run does.
func TestDeltaEngine(t *testing.T) {
	cases := []struct {
		base             string
		n                int
		quantum, chunk   int
		stopPages, start int64
	}{
		{"sieve", 200_000, 20_000, 4, 2, 50_000},
		{"cache", 2000, 5_000, 8, 4, 100_000},
		{"bintrees", 10, 3_000, 16, 8, 20_000},
		{"strings", 2000, 7_000, 3, 3, 1},
		{"closuresort", 3000, 10_000, 5, 2, 10_000},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s-%d", c.base, c.n), func(t *testing.T) {
			p := sizedProg(t, c.base, c.n)
			res := codectest.Resolver(p)
			limits := engine.Limits{InitialHeap: 16 << 10}
			straight, _ := engine.New(p, limits)
			for straight.Run(1 << 40).Runnable() {
			}
			iso, _ := engine.New(p, limits)
			iso.Run(c.start)
			src := &source{iso: iso, session: 99}
			a := codec.NewAssembler(77, 99, engine.Limits{})
			for iso.Status().Runnable() {
				if src.round > 0 && int64(iso.DirtyPages()) <= c.stopPages || src.round >= 8 {
					break
				}
				if msg := src.pump(c.chunk); msg != nil {
					if err := a.Add(aligned(msg, 0)); err != nil {
						t.Fatalf("chunk %d: %v", src.chunks-1, err)
					}
				}
				iso.Run(int64(c.quantum))
			}
			if !iso.Status().Runnable() {
				t.Skipf("finished before the rounds converged (%d chunks)", src.chunks)
			}
			m := codec.Meta{Isolate: 77, Epoch: 2}
			fin := src.final(m)
			want := iso.State()
			gm, got, err := finalState(t, codec.DecodeOptions{}, a, fin, res)
			if err != nil {
				t.Fatalf("final after %d chunks, %d rounds: %v", src.chunks, src.round, err)
			}
			checkSame(t, gm, got, m, want)
			t.Logf("%d chunks in %d rounds, heap %d pages, final %d pages (%d bytes)", src.chunks, src.round,
				engine.NumPages(len(want.Heap)), len(src.pages), len(fin))
			resumed, err := engine.Resume(p, got.Clone(), limits)
			if err != nil {
				t.Fatal(err)
			}
			for resumed.Run(1 << 40).Runnable() {
			}
			if resumed.Result() != straight.Result() || string(resumed.Output()) != string(straight.Output()) ||
				resumed.Steps() != straight.Steps() || resumed.State().Hash() != straight.State().Hash() {
				t.Fatalf("resumed run ends differently: %s %d, want %s %d", resumed.Result(), resumed.Steps(), straight.Result(), straight.Steps())
			}
		})
	}
}

// deltaFixture is a valid migration: two chunks of a 4-page heap, then a
// final that changes one page.
type deltaFixture struct {
	st     *engine.State
	chunks [][]byte
	final  []byte
	meta   codec.Meta
}

func newFixture() *deltaFixture {
	st := codectest.BigState(4*ps, 11)
	h := codec.PagesHeader{Isolate: 5, Session: 6}
	f := &deltaFixture{st: st, meta: codec.Meta{Isolate: 5, Epoch: 1}}
	f.chunks = append(f.chunks, codec.AppendPages(nil, h, st.Heap, []uint32{0, 1}))
	h.Seq++
	f.chunks = append(f.chunks, codec.AppendPages(nil, h, st.Heap, []uint32{1, 2, 3}))
	st.Heap[2*ps+8] ^= 1
	sum := st.Hash()
	f.final = codec.AppendFinal(nil, f.meta, st, 6, 2, []uint32{2}, &sum)
	return f
}

func (f *deltaFixture) assembler() *codec.Assembler { return codec.NewAssembler(5, 6, engine.Limits{}) }

// fed returns a new Assembler that has taken chunks, in order.
func (f *deltaFixture) fed(t *testing.T, chunks ...[]byte) *codec.Assembler {
	t.Helper()
	a := f.assembler()
	for _, c := range chunks {
		if err := a.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// wantErr fails unless err is a *codec.Error wrapping sentinel.
func wantErr(t testing.TB, what string, err, sentinel error) {
	t.Helper()
	var ce *codec.Error
	switch {
	case err == nil:
		t.Fatalf("%s: accepted, want %v", what, sentinel)
	case !errors.As(err, &ce):
		t.Fatalf("%s: %v is not a *codec.Error", what, err)
	case !errors.Is(err, sentinel):
		t.Fatalf("%s: %v, want %v", what, err, sentinel)
	case strings.Contains(err.Error(), "BUG"):
		t.Fatalf("%s: %v", what, err)
	}
}

// TestDeltaFixture checks that the fixture itself is accepted.
func TestDeltaFixture(t *testing.T) {
	f := newFixture()
	a := f.fed(t, f.chunks...)
	m, got, err := finalState(t, codec.DecodeOptions{}, a, f.final, resolve)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, m, got, f.meta, f.st)
}

// TestDeltaRejectPages: every way a pages encoding can be wrong is caught
// by PeekPages or by Add, with the sentinel it should be, and Add leaves
// the Assembler broken: the next chunk and the final fail too.
func TestDeltaRejectPages(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		name     string
		edit     func(b []byte) []byte
		sentinel error
		peekOK   bool // PeekPages accepts it; only Add sees the problem
	}{
		{"magic", func(b []byte) []byte { b[0] ^= 1; return b }, codec.ErrBadMagic, false},
		{"state magic", func(b []byte) []byte { copy(b, "KNCS"); return b }, codec.ErrBadMagic, false},
		{"final magic", func(b []byte) []byte { copy(b, "KNCF"); return b }, codec.ErrBadMagic, false},
		{"version", func(b []byte) []byte { le.PutUint32(b[4:], codec.Version-1); return b }, codec.ErrVersion, false},
		{"empty", func(b []byte) []byte { return b[:0] }, codec.ErrTruncated, false},
		{"magic only", func(b []byte) []byte { return b[:4] }, codec.ErrTruncated, false},
		{"short header", func(b []byte) []byte { return b[:pgHeader-1] }, codec.ErrTruncated, false},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, codec.ErrTruncated, false},
		{"trailing", func(b []byte) []byte { return append(b, 0) }, codec.ErrCorrupt, false},
		{"size up", func(b []byte) []byte { le.PutUint64(b[8:], uint64(len(b)+8)); return b }, codec.ErrTruncated, false},
		{"size down", func(b []byte) []byte { le.PutUint64(b[8:], uint64(len(b)-8)); return b }, codec.ErrCorrupt, false},
		{"check", func(b []byte) []byte { b[pgCheck] ^= 0x10; return b }, codec.ErrCorrupt, false},
		{"reserved", func(b []byte) []byte { b[pgReserved] = 1; return b }, codec.ErrCorrupt, false},
		{"isolate unsealed", func(b []byte) []byte { b[pgIsolate] ^= 1; return b }, codec.ErrCorrupt, false},
		{"heapLen unsealed", func(b []byte) []byte { b[pgHeapLen] ^= 8; return b }, codec.ErrCorrupt, false},
		{"count huge", func(b []byte) []byte { le.PutUint32(b[pgCount:], 1<<31); sealPages(b); return b }, codec.ErrCorrupt, false},
		{"count up", func(b []byte) []byte { le.PutUint32(b[pgCount:], 3); sealPages(b); return b }, codec.ErrCorrupt, false},
		{"count down", func(b []byte) []byte { le.PutUint32(b[pgCount:], 1); sealPages(b); return b }, codec.ErrCorrupt, false},
		{"count zero", func(b []byte) []byte { le.PutUint32(b[pgCount:], 0); sealPages(b); return b }, codec.ErrCorrupt, false},
		{"decreasing", func(b []byte) []byte {
			le.PutUint32(b[pgHeader:], 1)
			le.PutUint32(b[pgHeader+4:], 0)
			sealPages(b)
			return b
		}, codec.ErrCorrupt, false},
		{"duplicate", func(b []byte) []byte { le.PutUint32(b[pgHeader+4:], 0); sealPages(b); return b }, codec.ErrCorrupt, false},
		{"out of range", func(b []byte) []byte { le.PutUint32(b[pgHeader+4:], 4); sealPages(b); return b }, codec.ErrCorrupt, false},
		{"out of range huge", func(b []byte) []byte { le.PutUint32(b[pgHeader+4:], ^uint32(0)); sealPages(b); return b }, codec.ErrCorrupt, false},
		{"heap shorter than a page", func(b []byte) []byte { le.PutUint64(b[pgHeapLen:], ps); sealPages(b); return b }, codec.ErrCorrupt, false},
		{"heap past the quota", func(b []byte) []byte { le.PutUint64(b[pgHeapLen:], 1<<40); sealPages(b); return b }, codec.ErrCorrupt, true},
		{"past the arena", func(b []byte) []byte {
			// pages 2 and 3 of the heap, to an empty Assembler
			le.PutUint32(b[pgHeader:], 2)
			le.PutUint32(b[pgHeader+4:], 3)
			sealPages(b)
			return b
		}, codec.ErrCorrupt, true},
		{"seq gap", func(b []byte) []byte { le.PutUint32(b[pgSeq:], 1); sealPages(b); return b }, codec.ErrSequence, true},
		{"seq huge", func(b []byte) []byte { le.PutUint32(b[pgSeq:], ^uint32(0)); sealPages(b); return b }, codec.ErrSequence, true},
		{"wrong isolate", func(b []byte) []byte { le.PutUint64(b[pgIsolate:], 4); sealPages(b); return b }, codec.ErrCorrupt, true},
		{"wrong session", func(b []byte) []byte { le.PutUint64(b[pgSession:], 7); sealPages(b); return b }, codec.ErrCorrupt, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture()
			bad := c.edit(slices.Clone(f.chunks[0]))
			_, perr := codec.PeekPages(bad)
			if c.peekOK {
				if perr != nil {
					t.Fatalf("PeekPages: %v", perr)
				}
			} else {
				wantErr(t, "PeekPages", perr, c.sentinel)
			}
			a := f.assembler()
			wantErr(t, "Add", a.Add(bad), c.sentinel)
			if a.Next() != 0 {
				t.Fatalf("Next is %d after a rejected chunk", a.Next())
			}
			// The Assembler is broken: a good chunk 0 fails now, and so
			// does the final.
			if err := a.Add(f.chunks[0]); err == nil {
				t.Fatal("a broken Assembler took the next chunk")
			}
			_, _, err := finalState(t, codec.DecodeOptions{}, a, f.final, resolve)
			wantErr(t, "final after a broken chunk", err, c.sentinel)
		})
	}
}

// TestDeltaPadding: the padding after an odd number of indexes must be
// zero.
func TestDeltaPadding(t *testing.T) {
	st := codectest.BigState(4*ps, 1)
	b := codec.AppendPages(nil, codec.PagesHeader{Isolate: 5, Session: 6}, st.Heap, []uint32{0})
	b[pgHeader+4] = 1
	_, err := codec.PeekPages(b)
	wantErr(t, "padding", err, codec.ErrCorrupt)
}

// TestDeltaSequence: a chunk lost, repeated or reordered breaks the
// Assembler, and the final fails with ErrSequence.
func TestDeltaSequence(t *testing.T) {
	f := newFixture()
	for _, order := range [][]int{{1}, {0, 0}, {1, 0}, {0, 1, 1}, {0, 1, 0}} {
		a := f.assembler()
		var err error
		for _, c := range order {
			if e := a.Add(f.chunks[c]); e != nil && err == nil {
				err = e
			}
		}
		wantErr(t, fmt.Sprint("order ", order), err, codec.ErrSequence)
		_, _, err = finalState(t, codec.DecodeOptions{}, a, f.final, resolve)
		wantErr(t, fmt.Sprint("final after order ", order), err, codec.ErrSequence)
	}
	// A chunk lost at the end: the final counts one more than arrived.
	a := f.assembler()
	if err := a.Add(f.chunks[0]); err != nil {
		t.Fatal(err)
	}
	_, _, err := finalState(t, codec.DecodeOptions{}, a, f.final, resolve)
	wantErr(t, "final after a lost last chunk", err, codec.ErrSequence)
}

// TestDeltaRejectFinal: the final message's own failures.
func TestDeltaRejectFinal(t *testing.T) {
	le := binary.LittleEndian
	f := newFixture()
	sum := f.st.Hash()
	// The heap section of a final starts at the fixed offset of a state
	// with f.st's frames, registers and globals.
	heapOff := codec.MetaOff + 88 + 16*len(f.st.Frames) + 8*len(f.st.Regs) + 8*len(f.st.Globals)
	cases := []struct {
		name     string
		final    func() []byte
		sentinel error
		opts     codec.DecodeOptions
	}{
		{"chunks short", func() []byte { return codec.AppendFinal(nil, f.meta, f.st, 6, 1, []uint32{2}, &sum) }, codec.ErrSequence, codec.DecodeOptions{}},
		{"chunks over", func() []byte { return codec.AppendFinal(nil, f.meta, f.st, 6, 3, []uint32{2}, &sum) }, codec.ErrSequence, codec.DecodeOptions{}},
		{"wrong session", func() []byte { return codec.AppendFinal(nil, f.meta, f.st, 7, 2, []uint32{2}, &sum) }, codec.ErrCorrupt, codec.DecodeOptions{}},
		{"wrong isolate", func() []byte {
			return codec.AppendFinal(nil, codec.Meta{Isolate: 4, Epoch: 1}, f.st, 6, 2, []uint32{2}, &sum)
		}, codec.ErrCorrupt, codec.DecodeOptions{}},
		{"page missing", func() []byte { return codec.AppendFinal(nil, f.meta, f.st, 6, 2, nil, &sum) }, codec.ErrHashMismatch, codec.DecodeOptions{}},
		{"heap short", func() []byte {
			st := codectest.BigState(6*ps, 11)
			copy(st.Heap, f.st.Heap)
			s := st.Hash()
			return codec.AppendFinal(nil, f.meta, st, 6, 2, []uint32{2, 4}, &s)
		}, codec.ErrSequence, codec.DecodeOptions{}},
		{"page past the heap", func() []byte {
			b := codec.AppendFinal(nil, f.meta, f.st, 6, 2, []uint32{2}, &sum)
			le.PutUint32(b[heapOff+24:], 4)
			return b
		}, codec.ErrCorrupt, codec.DecodeOptions{}},
		{"count over", func() []byte {
			b := codec.AppendFinal(nil, f.meta, f.st, 6, 2, []uint32{2}, &sum)
			le.PutUint32(b[heapOff+12:], 2)
			return b
		}, codec.ErrCorrupt, codec.DecodeOptions{}},
		{"padding", func() []byte {
			b := codec.AppendFinal(nil, f.meta, f.st, 6, 2, []uint32{2}, &sum)
			b[heapOff+24+4] = 1
			return b
		}, codec.ErrCorrupt, codec.DecodeOptions{}},
		{"heapLen", func() []byte {
			b := codec.AppendFinal(nil, f.meta, f.st, 6, 2, []uint32{2}, &sum)
			le.PutUint64(b[heapOff+16:], 3*ps)
			return b
		}, codec.ErrCorrupt, codec.DecodeOptions{}},
		{"tampered final page", func() []byte {
			b := codec.AppendFinal(nil, f.meta, f.st, 6, 2, []uint32{2}, &sum)
			b[heapOff+32+100] ^= 4
			return b
		}, codec.ErrHashMismatch, codec.DecodeOptions{}},
		{"wrong trailer", func() []byte {
			b := codec.AppendFinal(nil, f.meta, f.st, 6, 2, []uint32{2}, &sum)
			b[len(b)-1] ^= 1
			return b
		}, codec.ErrHashMismatch, codec.DecodeOptions{}},
		{"meta unsealed", func() []byte {
			b := codec.AppendFinal(nil, f.meta, f.st, 6, 2, []uint32{2}, &sum)
			b[codec.MetaOff] ^= 1
			return b
		}, codec.ErrCorrupt, codec.DecodeOptions{}},
		{"state encoding", func() []byte { return codec.AppendEncode(nil, f.meta, f.st) }, codec.ErrBadMagic, codec.DecodeOptions{}},
		{"pages encoding", func() []byte { return slices.Clone(f.chunks[0]) }, codec.ErrBadMagic, codec.DecodeOptions{}},
		{"empty", func() []byte { return nil }, codec.ErrTruncated, codec.DecodeOptions{}},
		{"truncated", func() []byte { return f.final[:len(f.final)-8] }, codec.ErrTruncated, codec.DecodeOptions{}},
		{"heap past the quota", func() []byte { return slices.Clone(f.final) }, codec.ErrCorrupt, codec.DecodeOptions{Limits: engine.Limits{MaxHeap: 2 * ps}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := f.fed(t, f.chunks...)
			_, _, err := finalState(t, c.opts, a, c.final(), resolve)
			wantErr(t, c.name, err, c.sentinel)
			// The Assembler is consumed: the good final fails now.
			_, _, err = finalState(t, codec.DecodeOptions{}, a, f.final, resolve)
			if err == nil {
				t.Fatal("an Assembler took a second final")
			}
		})
	}
}

// TestDeltaTamperedChunk: a flipped byte in a chunk's page that the final
// does not resend is caught by the state hash, and only by it.
func TestDeltaTamperedChunk(t *testing.T) {
	f := newFixture()
	for _, verify := range []bool{true, false} {
		bad := slices.Clone(f.chunks[1])
		bad[len(bad)-100] ^= 0x20 // page 3, which the final does not carry
		a := f.fed(t, f.chunks[0], bad)
		_, got, err := finalState(t, codec.DecodeOptions{SkipVerify: !verify}, a, f.final, resolve)
		if verify {
			wantErr(t, "tampered page", err, codec.ErrHashMismatch)
		} else if err != nil || got.Heap[4*ps-100] == f.st.Heap[4*ps-100] {
			t.Fatalf("without verification: %v", err)
		}
	}
	// A tampered page that the final resends is harmless.
	bad := slices.Clone(f.chunks[1])
	bad[len(bad)-ps-100] ^= 0x20 // page 2
	a := f.fed(t, f.chunks[0], bad)
	m, got, err := finalState(t, codec.DecodeOptions{}, a, f.final, resolve)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, m, got, f.meta, f.st)
}

// TestDeltaConsumed: an Assembler is consumed by its final, whatever the
// outcome: after it no chunk and no final is taken.
func TestDeltaConsumed(t *testing.T) {
	f := newFixture()
	h := codec.PagesHeader{Isolate: 5, Session: 6, Seq: 2}
	next := codec.AppendPages(nil, h, f.st.Heap, []uint32{0})
	unknown := func([32]byte) (*engine.Program, error) { return nil, errors.New("no such program") }
	for _, c := range []struct {
		name string
		res  codec.Resolver
		buf  []byte
	}{
		{"accepted", resolve, f.final},
		{"unknown program", unknown, f.final},
		{"bad magic", resolve, append([]byte("XXXX"), f.final[4:]...)},
		{"reserved meta word", resolve, func() []byte {
			b := slices.Clone(f.final)
			b[codec.MetaOff+60] = 1
			codec.SealHeader(b)
			return b
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := f.fed(t, f.chunks...)
			_, _, err := finalState(t, codec.DecodeOptions{}, a, c.buf, c.res)
			if (err == nil) != (c.name == "accepted") {
				t.Fatalf("final: %v", err)
			}
			if err := a.Add(next); err == nil {
				t.Error("a consumed Assembler took another chunk")
			}
			if _, _, err := finalState(t, codec.DecodeOptions{}, a, f.final, resolve); err == nil {
				t.Error("a consumed Assembler took another final")
			}
		})
	}
}

// TestDeltaAllocs: AppendPages and AppendFinal into a buffer with room
// allocate nothing (they hash nothing, so this holds under -race too).
func TestDeltaAllocs(t *testing.T) {
	st := codectest.BigState(10*ps+8, 3)
	sum := st.Hash()
	pages := []uint32{0, 3, 4, 10}
	pbuf := make([]byte, 0, codec.PagesSize(len(st.Heap), pages))
	fbuf := make([]byte, 0, codec.FinalSize(st, pages))
	h := codec.PagesHeader{Isolate: 1, Session: 2, Seq: 3}
	pbuf = codec.AppendPages(pbuf, h, st.Heap, pages)
	cases := map[string]func(){
		"AppendPages": func() { pbuf = codec.AppendPages(pbuf[:0], h, st.Heap, pages) },
		"AppendFinal": func() { fbuf = codec.AppendFinal(fbuf[:0], codec.Meta{}, st, 2, 4, pages, &sum) },
		"PeekPages": func() {
			if _, err := codec.PeekPages(pbuf); err != nil {
				panic(err)
			}
		},
	}
	for name, f := range cases {
		f()
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
}
