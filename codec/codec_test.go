package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"unsafe"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/codec/codectest"
	"github.com/knotencore/knoten/engine"
)

var (
	fib10   = codectest.Fib(10)
	fib15   = codectest.Fib(15)
	loop100 = codectest.Loop(100)
	mix20   = codectest.Mix(20)
	strs50  = codectest.Strings(50)
	objs30  = codectest.Objects(30)
	// resolve knows every program the tests and seeds use.
	resolve codec.Resolver = codectest.Resolver(codectest.Synth, fib10, fib15, loop100, mix20, strs50, objs30)
)

// smallHeap makes the collector run often, so that states catch it mid-way.
var smallHeap = engine.Limits{InitialHeap: 256}

// sampleStates returns states of every status and shape.
func sampleStates(t testing.TB) []*engine.State {
	t.Helper()
	var out []*engine.State
	for _, c := range []struct {
		p      *engine.Program
		limits engine.Limits
		budget int64
	}{
		{fib15, engine.Limits{}, 0},
		{fib15, engine.Limits{}, 1},
		{fib15, engine.Limits{}, 500},
		{fib15, engine.Limits{}, 1 << 40},
		{loop100, engine.Limits{}, 77},
		{mix20, smallHeap, 50},
		{mix20, smallHeap, 333},
		{mix20, smallHeap, 1 << 40},
		{mix20, engine.Limits{MaxSteps: 200}, 1 << 40},
		{mix20, engine.Limits{MaxSteps: 200, MaxHeap: 512, InitialHeap: 256}, 1 << 40},
		{strs50, smallHeap, 300},
		{objs30, smallHeap, 40},  // the first objects of every kind
		{objs30, smallHeap, 200}, // after collections and a map rebuild
	} {
		st, err := codectest.Run(c.p, c.limits, c.budget)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	out = append(out,
		codectest.Build(&codectest.Spec{}),
		codectest.Build(&codectest.Spec{Status: 3, Result: 42, Output: []byte("done")}),
		codectest.Build(&codectest.Spec{Status: 4, Fault: 3, Depth: 7, PC: 2, Scalars: []uint64{1, 2, 3}, Picks: []uint16{1, 2, 3, 4},
			Objects: []codectest.Object{{Kind: 0, Bytes: []byte("hello")}, {Kind: 1, Words: []uint64{5, 6}, Slack: 2}, {Kind: 2, Len: 3, Slack: 1}},
			Output:  []byte("abc")}),
		codectest.BigState(4096, 1),
	)
	for i, st := range out {
		if err := engine.CheckState(mustResolve(t, st.Program), st, engine.Limits{}); err != nil {
			t.Fatalf("sample %d is not valid: %v", i, err)
		}
	}
	return out
}

func mustResolve(t testing.TB, h [32]byte) *engine.Program {
	t.Helper()
	p, err := resolve(h)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func concat(bufs net.Buffers) []byte {
	var b []byte
	for _, x := range bufs {
		b = append(b, x...)
	}
	return b
}

// aligned returns a copy of b at an 8-aligned address, or at one offset by
// skew bytes from it.
func aligned(b []byte, skew int) []byte {
	words := make([]uint64, (len(b)+skew+7)/8+1)
	all := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	out := all[skew : skew+len(b) : skew+len(b)]
	copy(out, b)
	return out
}

func TestRoundTrip(t *testing.T) {
	for i, st := range sampleStates(t) {
		m := codec.Meta{Isolate: uint64(i) + 1, Epoch: 7}
		enc := codec.AppendEncode(nil, m, st)
		if len(enc) != codec.EncodedSize(st) || len(enc)%8 != 0 {
			t.Fatalf("%d: encoded %d bytes, EncodedSize %d", i, len(enc), codec.EncodedSize(st))
		}
		bufs, _ := codec.EncodeBuffers(nil, nil, m, st)
		if v := concat(bufs); !bytes.Equal(v, enc) {
			t.Fatalf("%d: vectored encoding differs from the appended one", i)
		}
		prefix := []byte("xyz")
		if got := codec.AppendEncode(prefix, m, st); !bytes.Equal(got[3:], enc) || string(got[:3]) != "xyz" {
			t.Fatalf("%d: AppendEncode to a non-empty slice differs", i)
		}
		for _, skew := range []int{0, 1, 4} {
			buf := aligned(enc, skew)
			gm, got, err := codec.Decode(buf, resolve)
			if err != nil {
				t.Fatalf("%d/%d: %v", i, skew, err)
			}
			if want := (codec.Meta{Isolate: m.Isolate, Epoch: m.Epoch, Hash: st.Hash()}); gm != want {
				t.Fatalf("%d: meta %+v, want %+v", i, gm, want)
			}
			if ok, diff := codectest.Equal(got, st); !ok {
				t.Fatalf("%d/%d: decoded state differs: %s", i, skew, diff)
			}
			if got.Hash() != st.Hash() {
				t.Fatalf("%d: hash differs", i)
			}
			if re := codec.AppendEncode(nil, gm, got); !bytes.Equal(re, enc) {
				t.Fatalf("%d: re-encoding differs", i)
			}
			checkCaps(t, got)
			if skew == 0 && len(got.Regs) > 0 && !inside(buf, unsafe.Pointer(&got.Regs[0])) {
				t.Fatalf("%d: registers were copied from an aligned buffer", i)
			}
			if skew == 1 && len(got.Regs) > 0 && inside(buf, unsafe.Pointer(&got.Regs[0])) {
				t.Fatalf("%d: registers alias a misaligned buffer", i)
			}
		}
		if pm, ph, err := codec.PeekMeta(enc[:codec.HeaderLen]); err != nil || pm != m || ph != st.Program {
			t.Fatalf("%d: PeekMeta = %+v %x %v", i, pm, ph[:4], err)
		}
		if n, err := codec.Size(enc[:16]); err != nil || n != len(enc) {
			t.Fatalf("%d: Size = %d, %v; want %d", i, n, err, len(enc))
		}
	}
}

func inside(buf []byte, p unsafe.Pointer) bool {
	a := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return uintptr(p) >= a && uintptr(p) < a+uintptr(len(buf))
}

func checkCaps(t testing.TB, st *engine.State) {
	t.Helper()
	if cap(st.Frames) != len(st.Frames) || cap(st.Regs) != len(st.Regs) || cap(st.Globals) != len(st.Globals) ||
		cap(st.Heap) != len(st.Heap) || cap(st.Output) != len(st.Output) {
		t.Fatalf("decoded slices have spare capacity: they could be appended into the buffer")
	}
}

// TestResumeAfterDecode: a state decoded from the wire and resumed finishes
// exactly as a straight run does, and never writes outside its sections.
func TestResumeAfterDecode(t *testing.T) {
	for _, p := range []*engine.Program{fib15, mix20, loop100} {
		straight, _ := codectest.Run(p, smallHeap, 1<<40)
		for _, k := range []int64{0, 1, 10, 100, 1000} {
			st, _ := codectest.Run(p, smallHeap, k)
			enc := aligned(codec.AppendEncode(nil, codec.Meta{}, st), 0)
			_, got, err := codec.Decode(enc, resolve)
			if err != nil {
				t.Fatal(err)
			}
			trailer := append([]byte(nil), enc[len(enc)-codec.TrailerLen:]...)
			iso, err := engine.Resume(p, got, smallHeap)
			if err != nil {
				t.Fatal(err)
			}
			for iso.Run(1 << 40).Runnable() {
			}
			fin := iso.State()
			if ok, diff := codectest.Equal(fin, straight); !ok || fin.Hash() != straight.Hash() {
				t.Fatalf("%s k=%d: resumed run differs from the straight one: %s", p.Name, k, diff)
			}
			if !bytes.Equal(trailer, enc[len(enc)-codec.TrailerLen:]) {
				t.Fatalf("%s k=%d: the resumed isolate wrote past its sections", p.Name, k)
			}
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	st := codectest.BigState(64<<10, 3)
	sum := st.Hash()
	dst := make([]byte, 0, codec.EncodedSize(st))
	var bufs net.Buffers
	var scratch []byte
	bufs, scratch = codec.EncodeBuffers(bufs, scratch, codec.Meta{}, st)
	cases := map[string]func(){
		"AppendEncodeSum":  func() { dst = codec.AppendEncodeSum(dst[:0], codec.Meta{}, st, &sum) },
		"EncodeBuffersSum": func() { bufs, scratch = codec.EncodeBuffersSum(bufs, scratch, codec.Meta{}, st, &sum) },
	}
	if !raceEnabled {
		cases["AppendEncode"] = func() { dst = codec.AppendEncode(dst[:0], codec.Meta{}, st) }
		cases["EncodeBuffers"] = func() { bufs, scratch = codec.EncodeBuffers(bufs, scratch, codec.Meta{}, st) }
	}
	for name, f := range cases {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	st := codectest.BigState(64<<10, 3)
	enc := aligned(codec.AppendEncode(nil, codec.Meta{}, st), 0)
	var into engine.State
	checker := new(engine.StateChecker)
	for _, o := range []codec.DecodeOptions{{}, {SkipVerify: true}, {Checker: checker}, {SkipVerify: true, Checker: checker}} {
		n := testing.AllocsPerRun(100, func() {
			if _, err := o.DecodeInto(&into, enc, resolve); err != nil {
				t.Fatal(err)
			}
		})
		// Without a Checker, engine.CheckState allocates its object-start
		// bitmap; with one, decoding allocates nothing once warm, since the
		// codec itself aliases the buffer.
		want := 2.0
		if o.Checker != nil {
			want = 0
		}
		if n > want {
			t.Errorf("%+v: %v allocs per decode, want <= %v", o, n, want)
		}
	}
}

// Issue 12 item 4: a receiver decodes, checks and resumes a state with one
// check, and the whole path allocates only the isolate once the Checker is
// warm. Decode then Resume checked twice, the second time with a fresh
// checker whose scratch grows with the state: 18 allocations for this
// 400 KB encoding, where this path makes 1.
func TestDecodeResumeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	spec := &codectest.Spec{Status: 1, Depth: 3, Scalars: []uint64{1, 2, 3}, Output: []byte("out")}
	for i := range 10000 {
		spec.Objects = append(spec.Objects, codectest.Object{Kind: uint8(i % 3), Bytes: []byte("some string bytes"), Words: []uint64{1, 2, 3, 4}, Len: uint8(i)})
		spec.Picks = append(spec.Picks, uint16(i))
	}
	st := codectest.Build(spec)
	if len(st.Heap) < 300<<10 {
		t.Fatalf("heap of only %d bytes", len(st.Heap))
	}
	enc := aligned(codec.AppendEncode(nil, codec.Meta{Isolate: 9, Epoch: 3}, st), 0)
	want := st.Hash()
	o := codec.DecodeOptions{Checker: new(engine.StateChecker)}
	n := testing.AllocsPerRun(50, func() {
		m, chk, err := o.DecodeChecked(enc, resolve)
		if err != nil {
			t.Fatal(err)
		}
		if m.Hash != want || m.Isolate != 9 || m.Epoch != 3 {
			t.Fatalf("meta %+v", m)
		}
		iso, err := engine.ResumeChecked(&chk)
		if err != nil || iso.Steps() != st.Steps {
			t.Fatalf("resume: %v", err)
		}
	})
	if n > 1 {
		t.Errorf("decode and resume: %v allocs, want 1 (the isolate)", n)
	}
}

func valid(t testing.TB) []byte {
	st := codectest.Build(&codectest.Spec{Status: 2, Depth: 2, Scalars: []uint64{9}, Picks: []uint16{0, 1},
		Objects: []codectest.Object{{Kind: 0, Bytes: []byte("abc")}, {Kind: 2, Len: 1}}, Output: []byte("out")})
	return codec.AppendEncode(nil, codec.Meta{Isolate: 1, Epoch: 2}, st)
}

func TestDecodeErrors(t *testing.T) {
	base := valid(t)
	// The output "out" is followed by 5 bytes of padding.
	outPad := len(base) - codec.TrailerLen - 1
	cases := []struct {
		name     string
		edit     func(b []byte) []byte
		sentinel error
		text     string
	}{
		{"empty", func(b []byte) []byte { return nil }, codec.ErrTruncated, ""},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, codec.ErrBadMagic, "bad magic"},
		{"short magic", func(b []byte) []byte { return []byte("KX") }, codec.ErrBadMagic, ""},
		{"version", func(b []byte) []byte { b[4] = 9; return b }, codec.ErrVersion, "version mismatch: read 9, want 3"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, codec.ErrTruncated, ""},
		{"header only", func(b []byte) []byte { return b[:100] }, codec.ErrTruncated, ""},
		{"trailing", func(b []byte) []byte { return append(b, 0) }, codec.ErrCorrupt, "trailing"},
		{"check", func(b []byte) []byte { b[codec.MetaOff] ^= 1; return b }, codec.ErrCorrupt, "header check"},
		{"reserved", func(b []byte) []byte { b[20] = 1; return b }, codec.ErrCorrupt, "reserved"},
		{"meta reserved", func(b []byte) []byte { b[codec.MetaOff+60] = 1; codec.SealHeader(b); return b }, codec.ErrCorrupt, "reserved meta"},
		{"table offset", func(b []byte) []byte { b[24+16] += 8; codec.SealHeader(b); return b }, codec.ErrCorrupt, "frames section at offset"},
		{"huge length", func(b []byte) []byte { b[24+16*4+8+6] = 0xff; codec.SealHeader(b); return b }, codec.ErrCorrupt, "overruns"},
		{"odd frames", func(b []byte) []byte { b[24+16+8] += 8; codec.SealHeader(b); return b }, codec.ErrCorrupt, "frames section length"},
		{"padding", func(b []byte) []byte { b[outPad] = 1; return b }, codec.ErrCorrupt, "padding"},
		{"status", func(b []byte) []byte { b[codec.MetaOff+49] = 1; codec.SealHeader(b); return b }, codec.ErrCorrupt, "status"},
		{"pc", func(b []byte) []byte { b[codec.MetaOff+56] = 99; codec.SealHeader(b); return b }, codec.ErrCorrupt, "pc 99"},
		{"program", func(b []byte) []byte { b[codec.MetaOff+16] ^= 1; codec.SealHeader(b); return b }, codec.ErrUnknownProgram, ""},
		{"hash", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, codec.ErrHashMismatch, ""},
		{"register", func(b []byte) []byte { b[codec.HeaderLen+3*16+8*5] ^= 1; return b }, codec.ErrHashMismatch, ""},
	}
	for _, c := range cases {
		b := c.edit(append([]byte(nil), base...))
		_, st, err := codec.Decode(b, resolve)
		var ce *codec.Error
		switch {
		case err == nil || st != nil:
			t.Errorf("%s: decoded", c.name)
		case !errors.Is(err, c.sentinel):
			t.Errorf("%s: err %v, want %v", c.name, err, c.sentinel)
		case !errors.As(err, &ce):
			t.Errorf("%s: err %T is not a *codec.Error", c.name, err)
		case !strings.Contains(err.Error(), c.text):
			t.Errorf("%s: err %q does not say %q", c.name, err, c.text)
		}
	}
}

// TestCheckStateRuns: a canonical encoding of an invalid state is refused by
// engine.CheckState even without hash verification.
func TestCheckStateRuns(t *testing.T) {
	st := codectest.Build(&codectest.Spec{Depth: 1})
	st.Regs[9] = 12345 // f's r1 is a ref
	for _, o := range []codec.DecodeOptions{{}, {SkipVerify: true}} {
		_, _, err := o.Decode(codec.AppendEncode(nil, codec.Meta{}, st), resolve)
		if !errors.Is(err, codec.ErrCorrupt) || !errors.Is(err, engine.ErrBadState) {
			t.Fatalf("err %v, want ErrCorrupt wrapping engine.ErrBadState", err)
		}
	}
}

// TestEveryPrefix: every proper prefix of a valid encoding fails cleanly.
func TestEveryPrefix(t *testing.T) {
	b := valid(t)
	for n := 0; n < len(b); n++ {
		if _, _, err := codec.Decode(b[:n], resolve); err == nil {
			t.Fatalf("prefix of %d bytes decoded", n)
		}
		if n >= codec.HeaderLen {
			if _, _, err := codec.PeekMeta(b[:n]); err != nil {
				t.Fatalf("PeekMeta on %d bytes: %v", n, err)
			}
		}
	}
}

// TestLyingLengths: a small input whose header claims huge sections makes
// the decoder neither panic nor allocate.
func TestLyingLengths(t *testing.T) {
	b := valid(t)
	for i := 0; i < 6; i++ {
		for _, v := range []uint64{1 << 40, 1<<64 - 1, 1<<63 + 8, uint64(len(b))} {
			c := append([]byte(nil), b...)
			for k := 0; k < 8; k++ {
				c[24+16*i+8+k] = byte(v >> (8 * k))
			}
			codec.SealHeader(c)
			n := testing.AllocsPerRun(10, func() {
				if _, _, err := codec.Decode(c, resolve); err == nil {
					t.Fatal("decoded")
				}
			})
			if n > 10 && !raceEnabled { // the race detector's pools add some at random
				t.Fatalf("section %d length %d: %v allocs", i, v, n)
			}
		}
	}
	c := append([]byte(nil), b...)
	c[8+6] = 0xff // size
	if _, _, err := codec.Decode(c, resolve); !errors.Is(err, codec.ErrTruncated) {
		t.Fatalf("huge size: %v", err)
	}
	if _, err := codec.Size(c); !errors.Is(err, codec.ErrCorrupt) {
		t.Fatalf("Size with huge size: %v", err)
	}
}

// Issue 12 item 3: a state the engine refuses fails with ErrCorrupt and
// still matches the engine's sentinels. A resolver that answers with the
// wrong program makes engine.CheckState report ErrProgramMismatch.
func TestDecodeWrapsEngineErrors(t *testing.T) {
	enc := codec.AppendEncode(nil, codec.Meta{Isolate: 1, Epoch: 1}, sampleStates(t)[0])
	wrong := func([32]byte) (*engine.Program, error) { return loop100, nil }
	_, _, err := codec.Decode(aligned(enc, 0), wrong)
	for _, target := range []error{codec.ErrCorrupt, engine.ErrBadState, engine.ErrProgramMismatch} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) is false", err, target)
		}
	}
	if _, _, err := (codec.DecodeOptions{}).DecodeChecked(aligned(enc, 0), wrong); !errors.Is(err, engine.ErrProgramMismatch) {
		t.Errorf("DecodeChecked: %v", err)
	}
}

// Copies of the token DecodeChecked returns resume once in all: ck2 := ck
// used to resume twice, two isolates writing into one decode buffer, and
// both diverged from the straight run. The one that resumes finishes as
// the straight run does.
func TestDecodeCheckedCopyResumesOnce(t *testing.T) {
	straight, _ := codectest.Run(mix20, smallHeap, 1<<40)
	o := codec.DecodeOptions{Limits: smallHeap, Checker: new(engine.StateChecker)}
	for _, k := range []int64{1, 50, 333} {
		st, _ := codectest.Run(mix20, smallHeap, k)
		enc := aligned(codec.AppendEncode(nil, codec.Meta{}, st), 0)
		_, ck, err := o.DecodeChecked(enc, resolve)
		if err != nil {
			t.Fatal(err)
		}
		ck2 := ck
		a, err := engine.ResumeChecked(&ck2)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := engine.ResumeChecked(&ck); !errors.Is(err, engine.ErrBadState) || b != nil {
			t.Fatalf("k=%d: the original resumed after its copy: %v", k, err)
		}
		for a.Run(1 << 40).Runnable() {
		}
		if fin := a.State(); fin.Hash() != straight.Hash() {
			_, diff := codectest.Equal(fin, straight)
			t.Fatalf("k=%d: resumed run differs from the straight one: %s", k, diff)
		}
	}
	// Decode and DecodeInto leave the Checker's outstanding token alone.
	st, _ := codectest.Run(mix20, smallHeap, 50)
	_, ck, err := o.DecodeChecked(aligned(codec.AppendEncode(nil, codec.Meta{}, st), 0), resolve)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Decode(aligned(codec.AppendEncode(nil, codec.Meta{}, st), 0), resolve); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.ResumeChecked(&ck); err != nil {
		t.Fatalf("a plain Decode voided the token: %v", err)
	}
}

// A decode buffer modified after DecodeChecked is misuse, but must not
// crash the process: with its frame records overwritten, Run used to let
// a Go panic escape from its own recover.
func TestDecodeCheckedBufferModified(t *testing.T) {
	for _, k := range []int64{1, 333} {
		st, _ := codectest.Run(mix20, smallHeap, k)
		enc := aligned(codec.AppendEncode(nil, codec.Meta{}, st), 0)
		_, ck, err := codec.DecodeOptions{Limits: smallHeap}.DecodeChecked(enc, resolve)
		if err != nil {
			t.Fatal(err)
		}
		frames := codec.HeaderLen // the frames section follows header and meta
		for i := frames; i < frames+16*len(st.Frames); i++ {
			enc[i] = 0xFF
		}
		iso, err := engine.ResumeChecked(&ck)
		if err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if x := recover(); x != nil {
					t.Fatalf("k=%d: a Go panic escaped: %v", k, x)
				}
			}()
			if s := iso.Run(1 << 40); s != engine.Faulted || !errors.Is(iso.Err(), engine.ErrInternal) {
				t.Fatalf("k=%d: run: %s %v", k, s, iso.Err())
			}
			_ = iso.State().Hash()
		}()
	}
}

// Issue 12 item 2: a small state claiming HeapCap = MaxHeap for a program
// that makes garbage used to decode, and its isolate grew to the quota and a
// second semispace before it collected. The decoder refuses a HeapCap above
// what a run reaches with the heap the state carries.
func TestDecodeRefusesHeapCapClaim(t *testing.T) {
	st, _ := codectest.Run(mix20, engine.Limits{}, 50)
	st.HeapCap = engine.DefaultLimits.MaxHeap
	enc := aligned(codec.AppendEncode(nil, codec.Meta{}, st), 0)
	if _, _, err := (codec.DecodeOptions{}).DecodeChecked(enc, resolve); !errors.Is(err, codec.ErrCorrupt) || !errors.Is(err, engine.ErrBadState) {
		t.Fatalf("a %d-byte state claiming HeapCap %d: %v", len(enc), st.HeapCap, err)
	}
}

// TestSampleStatesCarryEveryKind: the sample states, which seed FuzzDecode,
// hold every kind of heap object the format knows (see the package doc), so
// that the fuzzer starts from each.
func TestSampleStatesCarryEveryKind(t *testing.T) {
	seen := map[byte]bool{}
	for _, st := range sampleStates(t) {
		h := st.Heap
		for off := 8; off < len(h); {
			kind, n := h[off+7], int(binary.LittleEndian.Uint64(h[off:])&(1<<56-1))
			seen[kind] = true
			switch kind {
			case 1:
				off += 8 + (n+7)&^7
			case 2, 3:
				off += 16 + 8*int(binary.LittleEndian.Uint64(h[off+8:]))
			case 4, 5:
				off += 32
			case 6:
				off += 24 + 8*n
			case 7:
				off += 56
			default:
				t.Fatalf("unknown kind %d at %d", kind, off)
			}
		}
	}
	for kind := byte(1); kind <= 7; kind++ {
		if !seen[kind] {
			t.Errorf("no sample state holds an object of kind %d", kind)
		}
	}
}
