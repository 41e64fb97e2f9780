package fuzz

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"

	gofuzz "github.com/google/gofuzz"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/engine"
)

// hop is one migration: run K mod 2048 instructions (to the next safepoint
// after them), or halt before running when Halt is set, then move the state.
// The small workloads run for a few thousand instructions, so up to 8 hops
// land all over them.
type hop struct {
	K    uint16
	Halt bool
}

// plan is what gofuzz fills from the fuzzer's bytes.
type plan struct {
	Workload uint8
	Limits   uint8 // mod 4: defaults, tiny initial heap, instruction quota, heap quota
	Quota    uint16
	Hops     []hop
	Skew     uint8 // misalignment of the receive buffer, mod 8 (0: aliasing decode)
	Vectored bool  // send with EncodeBuffers rather than AppendEncode
}

func (p *plan) limits() engine.Limits {
	switch p.Limits % 4 {
	case 1:
		return engine.Limits{InitialHeap: 64}
	case 2:
		return engine.Limits{InitialHeap: 128, MaxSteps: 1 + uint64(p.Quota)%30000}
	case 3:
		return engine.Limits{InitialHeap: 64, MaxHeap: 1024 + 8*uint64(p.Quota%2048)}
	}
	return engine.Limits{}
}

type outcome struct {
	status engine.Status
	err    string
	result string
	output string
	steps  uint64
	hash   [32]byte
}

func finish(iso *engine.Isolate) outcome {
	for iso.Run(1 << 40).Runnable() {
	}
	o := outcome{status: iso.Status(), result: iso.Result(), output: string(iso.Output()), steps: iso.Steps(), hash: iso.State().Hash()}
	if err := iso.Err(); err != nil {
		o.err = err.Error()
	}
	return o
}

// receive copies the sent bytes into a fresh buffer at the given
// misalignment, as a transport would.
func receive(parts [][]byte, n, skew int) []byte {
	words := make([]uint64, (n+skew+7)/8+1)
	all := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	buf := all[skew : skew : skew+n]
	for _, p := range parts {
		buf = append(buf, p...)
	}
	return buf
}

// FuzzResumeEquivalence checks invariant 2 of the design: a workload halted
// after k instructions, encoded, decoded and resumed (any number of times)
// gives the same status, fault, result, output, step count and final state
// hash as the same workload run straight.
func FuzzResumeEquivalence(f *testing.F) {
	ws := loadWorkloads(f)
	for i := range ws {
		f.Add([]byte{byte(i), 1, 0, 0, 0, 0, 0, 0, 0, 3, 0x10, 0x27, 1, 0x40})
	}
	resolve := func(h [32]byte) (*engine.Program, error) {
		for _, w := range ws {
			if w.prog.Hash() == h {
				return w.prog, nil
			}
		}
		return nil, fmt.Errorf("unknown program %x", h[:4])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p plan
		gofuzz.NewFromGoFuzz(data).NilChance(0).NumElements(1, 8).Fuzz(&p)
		checkHops(t, ws[int(p.Workload)%len(ws)], p, resolve)
	})
}

// checkHops runs w straight and with the hops of p, and compares.
func checkHops(t *testing.T, w workload, p plan, resolve codec.Resolver) {
	limits := p.limits()
	iso, err := engine.New(w.prog, limits)
	if err != nil {
		t.Fatal(err)
	}
	want := finish(iso)

	iso, _ = engine.New(w.prog, limits)
	var bufs [][]byte
	var scratch []byte
	for epoch, h := range p.Hops {
		if h.Halt {
			iso.Halt()
		}
		if !iso.Run(int64(h.K % 2048)).Runnable() {
			break
		}
		st := iso.State()
		m := codec.Meta{Isolate: 42, Epoch: uint64(epoch)}
		var wire []byte
		if p.Vectored {
			bufs, scratch = codec.EncodeBuffers(bufs, scratch, m, st)
			wire = receive(bufs, codec.EncodedSize(st), int(p.Skew%8))
		} else {
			wire = receive([][]byte{codec.AppendEncode(nil, m, st)}, codec.EncodedSize(st), int(p.Skew%8))
		}
		sentHash := st.Hash()
		// Odd hops take the receiving node's path: decode checked, resume
		// without a second check.
		if epoch%2 == 0 {
			gm, got, err := codec.DecodeOptions{Limits: limits}.Decode(wire, resolve)
			if err != nil {
				t.Fatalf("%s hop %d at step %d: decode: %v", w.name, epoch, st.Steps, err)
			}
			if gm.Isolate != m.Isolate || gm.Epoch != m.Epoch || gm.Hash != sentHash || got.Hash() != sentHash {
				t.Fatalf("%s hop %d: meta or hash changed in transit", w.name, epoch)
			}
			if iso, err = engine.Resume(w.prog, got, limits); err != nil {
				t.Fatalf("%s hop %d: resume: %v", w.name, epoch, err)
			}
			continue
		}
		gm, chk, err := codec.DecodeOptions{Limits: limits}.DecodeChecked(wire, resolve)
		if err != nil {
			t.Fatalf("%s hop %d at step %d: decode: %v", w.name, epoch, st.Steps, err)
		}
		if gm.Isolate != m.Isolate || gm.Epoch != m.Epoch || gm.Hash != sentHash || chk.Steps() != st.Steps || chk.Program() != w.prog {
			t.Fatalf("%s hop %d: meta or hash changed in transit", w.name, epoch)
		}
		if iso, err = engine.ResumeChecked(&chk); err != nil {
			t.Fatalf("%s hop %d: resume: %v", w.name, epoch, err)
		}
		if iso.State().Hash() != sentHash {
			t.Fatalf("%s hop %d: resumed state hash changed in transit", w.name, epoch)
		}
	}
	if got := finish(iso); got != want {
		t.Fatalf("%s with limits %+v and hops %+v:\n got %+v\nwant %+v", w.name, limits, p.Hops, got, want)
	}
}

// TestResumeEquivalenceSweep is a deterministic sweep of hop sizes over
// every workload and limit setting.
func TestResumeEquivalenceSweep(t *testing.T) {
	ws := loadWorkloads(t)
	resolve := func(h [32]byte) (*engine.Program, error) {
		for _, w := range ws {
			if w.prog.Hash() == h {
				return w.prog, nil
			}
		}
		return nil, fmt.Errorf("unknown program %x", h[:4])
	}
	for _, w := range ws {
		for lim := range uint8(4) {
			for _, k := range []uint16{1, 250, 3000} {
				hops := make([]hop, 16)
				for i := range hops {
					hops[i] = hop{K: k, Halt: i%5 == 4}
				}
				checkHops(t, w, plan{Limits: lim, Quota: 5000, Hops: hops, Skew: uint8(k), Vectored: k%2 == 0}, resolve)
			}
		}
	}
}

// TestWriteSeeds regenerates testdata/fuzz when FUZZ_WRITE_SEEDS is set.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("FUZZ_WRITE_SEEDS") == "" {
		t.Skip("set FUZZ_WRITE_SEEDS=1 to regenerate testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzResumeEquivalence")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 12 {
		d := make([]byte, 24+8*i)
		for j := range d {
			d[j] = byte(r.Uint32())
		}
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(d)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
