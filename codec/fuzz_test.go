package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	fuzz "github.com/google/gofuzz"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/codec/codectest"
	"github.com/knotencore/knoten/engine"
)

// genInput is what gofuzz fills from the fuzzer's bytes to make a state.
type genInput struct {
	Meta   codec.Meta
	Real   bool   // run a real program rather than synthesize a state
	Prog   uint8  // which program, mod len(realProgs)
	Budget uint16 // instructions to run before stopping at a safepoint
	Quota  uint16 // when non-zero mod 4, an instruction quota: the state faults
	Spec   codectest.Spec
}

var realProgs = []*engine.Program{fib10, fib15, loop100, mix20, objs30}

// genState turns arbitrary bytes into a valid state and its meta.
func genState(t testing.TB, data []byte) (codec.Meta, *engine.State) {
	var in genInput
	fuzz.NewFromGoFuzz(data).NilChance(0.1).NumElements(0, 12).Fuzz(&in)
	st := codectest.Build(&in.Spec)
	if in.Real {
		p := realProgs[int(in.Prog)%len(realProgs)]
		limits := smallHeap
		if in.Quota%4 != 0 {
			limits.MaxSteps = uint64(in.Quota % 3000)
		}
		var err error
		if st, err = codectest.Run(p, limits, int64(in.Budget)); err != nil {
			t.Fatal(err)
		}
	}
	if err := engine.CheckState(mustResolve(t, st.Program), st, engine.Limits{}); err != nil {
		t.Fatalf("BUG: generated an invalid state: %v", err)
	}
	return in.Meta, st
}

// FuzzRoundTrip: a valid state, encoded in either form and decoded from an
// aligned or misaligned buffer, comes back equal, with the same hash, and
// re-encodes to the same bytes.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("a state of the synthetic program with a few objects...."))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 1, 3, 0, 200, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, st := genState(t, data)
		enc := codec.AppendEncode(nil, m, st)
		bufs, _ := codec.EncodeBuffers(nil, nil, m, st)
		if !bytes.Equal(concat(bufs), enc) {
			t.Fatal("vectored and appended encodings differ")
		}
		for _, skew := range []int{0, len(data) % 8} {
			gm, got, err := codec.Decode(aligned(enc, skew), resolve)
			if err != nil {
				t.Fatalf("skew %d: %v", skew, err)
			}
			if want := (codec.Meta{Isolate: m.Isolate, Epoch: m.Epoch, Hash: st.Hash()}); gm != want {
				t.Fatalf("meta %+v, want %+v", gm, want)
			}
			if ok, diff := codectest.Equal(got, st); !ok {
				t.Fatalf("skew %d: decoded state differs: %s", skew, diff)
			}
			if got.Hash() != st.Hash() {
				t.Fatal("state hash differs")
			}
			checkCaps(t, got)
			if !bytes.Equal(codec.AppendEncode(nil, gm, got), enc) {
				t.Fatal("re-encoding differs")
			}
		}
	})
}

// decodeLimits keep what a fuzzed state may claim, and what running it may
// allocate, small.
var decodeLimits = engine.Limits{MaxHeap: 1 << 20, MaxOutput: 1 << 16, MaxDepth: 1000}

// FuzzDecode: arbitrary bytes either fail with a *codec.Error or decode to a
// state that re-encodes to exactly those bytes and resumes safely. The
// decoder allocates no more than a small multiple of the input's size. With
// seal, the header check is recomputed first, so that mutations of the table
// and meta reach the checks behind it.
func FuzzDecode(f *testing.F) {
	for _, st := range sampleStates(f) {
		enc := codec.AppendEncode(nil, codec.Meta{Isolate: 3, Epoch: 4}, st)
		f.Add(enc, false)
		f.Add(enc, true)
	}
	f.Add([]byte("KNCS"), false)
	f.Add([]byte("KNCS\x02\x00\x00\x00"), false)
	f.Fuzz(func(t *testing.T, data []byte, seal bool) {
		buf := aligned(data, 0)
		if seal {
			codec.SealHeader(buf)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		m, st, err := codec.DecodeOptions{SkipVerify: true, Limits: decodeLimits}.Decode(buf, resolve)
		runtime.ReadMemStats(&ms)
		if n := ms.TotalAlloc - before; n > uint64(2*len(buf))+16<<10 {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(buf), n)
		}
		if err != nil {
			var ce *codec.Error
			if !errors.As(err, &ce) || st != nil || strings.Contains(err.Error(), "BUG") {
				t.Fatalf("error %v is not a *codec.Error, came with a state, or is a bug", err)
			}
			return
		}
		trailer := [32]byte(buf[len(buf)-codec.TrailerLen:])
		if re := codec.AppendEncodeSum(nil, m, st, &trailer); !bytes.Equal(re, buf) {
			t.Fatalf("decoded state re-encodes differently:\n got %x\nwant %x", re, buf)
		}
		_, _, verr := codec.DecodeOptions{Limits: decodeLimits}.Decode(aligned(buf, 0), resolve)
		if (verr == nil) != (st.Hash() == trailer) {
			t.Fatalf("verifying decode says %v, but hash match is %v", verr, st.Hash() == trailer)
		}
		// A state that passed validation must be safe to run.
		prog := mustResolve(t, st.Program)
		iso, err := engine.Resume(prog, st, decodeLimits)
		if err != nil {
			t.Fatalf("decoded state does not resume: %v", err)
		}
		if iso.Run(10000) == engine.Faulted && errors.Is(iso.Err(), engine.ErrInternal) {
			t.Fatalf("decoded state faulted inside the VM: %v", iso.Err())
		}
	})
}

// FuzzTamper: flipping any bits of any byte of a valid encoding is caught.
// Nothing is exempt: canonical padding is checked to be zero, the header
// check covers the table and meta, and the state hash covers the rest.
// Without hash verification only flips inside the state sections or the
// trailer can go unnoticed.
func FuzzTamper(f *testing.F) {
	f.Add([]byte{}, uint32(0), byte(1))
	f.Add([]byte("tamper with a synthetic state"), uint32(130), byte(0x80))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 1, 3, 0, 200, 0, 0}, uint32(9999), byte(4))
	f.Fuzz(func(t *testing.T, data []byte, pos uint32, mask byte) {
		m, st := genState(t, data)
		b := codec.AppendEncode(nil, m, st)
		if mask == 0 {
			mask = 1
		}
		i := int(pos % uint32(len(b)))
		b[i] ^= mask
		if _, _, err := codec.Decode(aligned(b, 0), resolve); err == nil {
			t.Fatalf("flip of %#02x at %d of %d went unnoticed", mask, i, len(b))
		}
		_, got, err := codec.DecodeNoVerify(aligned(b, 0), resolve)
		if err == nil && (i < codec.HeaderLen || i < len(b)-codec.TrailerLen && got.Hash() == st.Hash()) {
			t.Fatalf("flip of %#02x at %d of %d went unnoticed without verification", mask, i, len(b))
		}
	})
}

// TestWriteSeeds regenerates the seed corpora in testdata/fuzz when
// CODEC_WRITE_SEEDS is set.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("CODEC_WRITE_SEEDS") == "" {
		t.Skip("set CODEC_WRITE_SEEDS=1 to regenerate testdata/fuzz")
	}
	r := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	write := func(name string, i int, args ...string) {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := "go test fuzz v1\n"
		for _, a := range args {
			body += a + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lit := func(b []byte) string { return "[]byte(" + strconv.Quote(string(b)) + ")" }
	for i := range 8 {
		d := random(32 + 48*i)
		d[24] = byte(i & 1) // Real, roughly
		write("FuzzRoundTrip", i, lit(d))
		write("FuzzTamper", i, lit(d), fmt.Sprintf("uint32(%d)", r.Uint32()), fmt.Sprintf("byte(%d)", 1+r.IntN(255)))
	}
	for i, st := range sampleStates(t) {
		write("FuzzDecode", i, lit(codec.AppendEncode(nil, codec.Meta{Isolate: uint64(i), Epoch: 1}, st)), "bool(true)")
	}
}
