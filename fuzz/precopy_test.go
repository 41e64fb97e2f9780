package fuzz

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/codec/codectest"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
	"github.com/knotencore/knoten/engine/workloads"
)

// pcWorkload is a workload for the pre-copy targets, with its straight
// runs' outcomes under each limit setting.
type pcWorkload struct {
	workload
	unit     int64 // quantum unit: about a 2000th of the straight run
	straight [len(pcLimits)]outcome
}

// pcLimits: the defaults, and small initial heaps, so that collections
// (which shrink the heap and dirty every page) happen during the rounds.
var pcLimits = [...]engine.Limits{{}, {InitialHeap: 64}, {InitialHeap: 16 << 10}}

// pcSized are the multi-page workloads, beside the small variants; each
// runs in a few ms.
var pcSized = []struct {
	base string
	n    int
}{{"sieve", 200_000}, {"sieve", 50_000}, {"cache", 2000}, {"bintrees", 10}, {"wordfreq", 2000}}

var pcOnce = sync.OnceValues(func() ([]*pcWorkload, error) {
	var ws []*pcWorkload
	for _, w := range workloads.Smalls() {
		p, err := lang.Compile(w.Filename(), w.Source)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.Name, err)
		}
		ws = append(ws, &pcWorkload{workload: workload{w.Name, p, w.Result, w.Output}})
	}
	p, err := lang.Compile("fault.kn", []byte(faultSource))
	if err != nil {
		return nil, err
	}
	ws = append(ws, &pcWorkload{workload: workload{name: "fault", prog: p}})
	for _, s := range pcSized {
		w, err := workloads.Sized(s.base, s.n)
		if err != nil {
			return nil, err
		}
		p, err := lang.Compile(w.Filename(), w.Source)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.Name, err)
		}
		ws = append(ws, &pcWorkload{workload: workload{fmt.Sprintf("%s-%d", s.base, s.n), p, w.Result, w.Output}})
	}
	for _, w := range ws {
		for i, l := range pcLimits {
			iso, err := engine.New(w.prog, l)
			if err != nil {
				return nil, err
			}
			w.straight[i] = finish(iso)
		}
		w.unit = max(1, int64(w.straight[0].steps/2000))
	}
	return ws, nil
})

func pcWorkloads(t testing.TB) ([]*pcWorkload, codec.Resolver) {
	ws, err := pcOnce()
	if err != nil {
		t.Fatal(err)
	}
	progs := make([]*engine.Program, len(ws))
	for i, w := range ws {
		progs[i] = w.prog
	}
	return ws, codectest.Resolver(progs...)
}

// pcPlan is one live migration: run Start quanta, then pre-copy for Rounds
// quanta (a chunk of at most Chunk pages from the cursor, with wrap-around,
// after each), then stop and send the final. Quantum i is 1 + Quanta[i]
// units (16 units when Quanta is empty). With Drop set, chunk Drop-1 (mod
// the chunks sent) is lost on the way.
type pcPlan struct {
	Workload uint8
	Limits   uint8
	Start    uint8
	Rounds   uint8
	Chunk    uint8
	Drop     uint8
	Skew     uint8
	Quanta   []byte
}

// checkPreCopy runs p and compares the migrated run with the straight one.
// It returns what it checked: "" when the workload ended before the stop,
// "moved" or "refused" (a lost chunk).
func checkPreCopy(t *testing.T, ws []*pcWorkload, resolve codec.Resolver, p pcPlan) string {
	w := ws[int(p.Workload)%len(ws)]
	li := int(p.Limits) % len(pcLimits)
	limits := pcLimits[li]
	q := 0
	quantum := func() int64 {
		n := int64(16)
		if len(p.Quanta) > 0 {
			n = int64(p.Quanta[q%len(p.Quanta)])
		}
		q++
		return (1 + n) * w.unit
	}
	iso, err := engine.New(w.prog, limits)
	if err != nil {
		t.Fatal(err)
	}
	for range p.Start % 64 {
		if !iso.Run(quantum()).Runnable() {
			return "" // finished before the migration: nothing to move
		}
	}
	const session = 0x1234
	iso.MarkAllDirty()
	var chunks [][]byte
	var pages []uint32
	cursor := 0
	maxPages := 1 + int(p.Chunk%16)
	for range p.Rounds {
		st := iso.State()
		n := engine.NumPages(len(st.Heap))
		pages, cursor = iso.TakeDirty(pages[:0], cursor, n, maxPages)
		if len(pages) > 0 {
			h := codec.PagesHeader{Isolate: 9, Session: session, Seq: uint32(len(chunks))}
			chunks = append(chunks, codec.AppendPages(nil, h, st.Heap, pages))
		}
		if cursor >= n {
			cursor = 0
		}
		if !iso.Run(quantum()).Runnable() {
			return "" // finished during the rounds: the source would not stop it
		}
	}
	// The stop: every page still dirty, and the state hash kept current.
	st := iso.State()
	all := engine.NumPages(len(st.Heap))
	pages, _ = iso.TakeDirty(pages[:0], 0, all, all)
	sum := iso.Hash()
	if sum != st.Hash() {
		t.Fatalf("%s: the incremental state hash differs from the one-pass hash", w.name)
	}
	m := codec.Meta{Isolate: 9, Epoch: 3}
	fin := codec.AppendFinal(nil, m, st, session, uint32(len(chunks)), pages, &sum)
	if len(fin) != codec.FinalSize(st, pages) {
		t.Fatalf("%s: final of %d bytes, FinalSize says %d", w.name, len(fin), codec.FinalSize(st, pages))
	}
	src := st.Clone()

	// The target.
	dropped := -1
	if p.Drop != 0 && len(chunks) > 0 {
		dropped = int(p.Drop-1) % len(chunks)
	}
	a := codec.NewAssembler(9, session, limits)
	var addErr error
	for i, c := range chunks {
		if i == dropped {
			continue
		}
		if err := a.Add(receive([][]byte{c}, len(c), int(p.Skew%8))); err != nil && addErr == nil {
			addErr = err
		}
	}
	if dropped < 0 && addErr != nil {
		t.Fatalf("%s: chunk rejected: %v", w.name, addErr)
	}
	if dropped >= 0 && dropped < len(chunks)-1 && !errors.Is(addErr, codec.ErrSequence) {
		t.Fatalf("%s: the chunk after a lost one: %v, want ErrSequence", w.name, addErr)
	}
	gm, chk, err := codec.DecodeOptions{Limits: limits}.DecodeFinal(a, receive([][]byte{fin}, len(fin), int(p.Skew%8)), resolve)
	if dropped >= 0 {
		if !errors.Is(err, codec.ErrSequence) {
			t.Fatalf("%s: final after losing chunk %d of %d: %v, want ErrSequence", w.name, dropped, len(chunks), err)
		}
		return "refused"
	}
	if err != nil {
		t.Fatalf("%s: final after %d chunks (%d pages of %d): %v", w.name, len(chunks), len(pages), all, err)
	}
	if gm.Hash != sum || gm.Isolate != m.Isolate || gm.Epoch != m.Epoch {
		t.Fatalf("%s: meta %+v", w.name, gm)
	}
	moved, err := engine.ResumeChecked(&chk)
	if err != nil {
		t.Fatalf("%s: resume: %v", w.name, err)
	}
	if ok, diff := codectest.Equal(moved.State(), src); !ok {
		t.Fatalf("%s: the assembled state differs from the source's: %s", w.name, diff)
	}
	if got, want := finish(moved), w.straight[li]; got != want {
		t.Fatalf("%s (limits %d) migrated live after %d chunks:\n got %+v\nwant %+v", w.name, li, len(chunks), got, want)
	}
	return "moved"
}

// FuzzPreCopyResume: a workload migrated live (rounds of dirty pages while
// it runs, then the stop) ends exactly as it does run straight: output,
// result, steps and final state hash. A lost chunk makes the final fail
// with ErrSequence, never resume a wrong state.
func FuzzPreCopyResume(f *testing.F) {
	ws, resolve := pcWorkloads(f)
	for i := range ws {
		f.Add(uint8(i), uint8(i), uint8(1), uint8(40), uint8(3), uint8(0), uint8(i), []byte{7, 0, 200})
	}
	f.Add(uint8(len(ws)-5), uint8(2), uint8(3), uint8(250), uint8(1), uint8(4), uint8(1), []byte{0, 1, 255})
	f.Fuzz(func(t *testing.T, wl, lim, start, rounds, chunk, drop, skew uint8, quanta []byte) {
		if len(quanta) > 64 {
			quanta = quanta[:64]
		}
		checkPreCopy(t, ws, resolve, pcPlan{Workload: wl, Limits: lim, Start: start, Rounds: rounds, Chunk: chunk, Drop: drop, Skew: skew, Quanta: quanta})
	})
}

// TestPreCopyResumeGrid is FuzzPreCopyResume over a fixed grid: every
// workload and limit setting, with short and long quanta, small and large
// chunks, stops early and late, and a lost chunk.
func TestPreCopyResumeGrid(t *testing.T) {
	ws, resolve := pcWorkloads(t)
	var mu sync.Mutex
	count := map[string]int{}
	t.Cleanup(func() {
		t.Logf("%v", count)
		if count["moved"] < count[""] || count["refused"] == 0 {
			t.Errorf("the grid moved too little: %v", count)
		}
	})
	for i, w := range ws {
		t.Run(strings.ReplaceAll(w.name, "/", "_"), func(t *testing.T) {
			for lim := range uint8(len(pcLimits)) {
				for _, g := range []struct {
					start, rounds, chunk, drop uint8
					quanta                     []byte
				}{
					{0, 1, 0, 0, nil},
					{1, 5, 2, 0, []byte{0, 3}},
					{10, 30, 7, 0, []byte{1}},
					{2, 200, 15, 0, []byte{0, 0, 9}},
					{3, 12, 1, 2, []byte{2}},
					{0, 60, 3, 1, []byte{200, 0}},
				} {
					r := checkPreCopy(t, ws, resolve, pcPlan{Workload: uint8(i), Limits: lim, Start: g.start, Rounds: g.rounds, Chunk: g.chunk, Drop: g.drop, Skew: lim + g.chunk, Quanta: g.quanta})
					mu.Lock()
					count[r]++
					mu.Unlock()
				}
			}
		})
	}
}
