package engine

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// peakRSS returns the process's peak resident set (VmHWM) in bytes, or -1
// where /proc/self/status is missing.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// BenchmarkHeapNearQuota runs garbageProgram, whose live heap grows while it
// makes garbage, to a live heap of about 200 MiB under a quota of 256 MiB,
// and reports the process's peak RSS against the quota. VmHWM is per process and never goes down, so
// run it alone and once:
//
//	go test -run '^$' -bench 'HeapNearQuota' -benchtime 1x ./engine
func BenchmarkHeapNearQuota(b *testing.B) {
	const quota = 256 << 20
	if peakRSS() < 0 {
		b.Skip("no /proc/self/status")
	}
	p := garbageProgram(b, 5_500_000)
	var iso *Isolate
	for b.Loop() {
		iso, _ = New(p, Limits{MaxHeap: quota})
		for iso.Run(1 << 62).Runnable() {
		}
	}
	if iso.Status() != Finished {
		b.Fatalf("status %s, err %v", iso.Status(), iso.Err())
	}
	runtime.KeepAlive(iso)
	rss := peakRSS()
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(rss)/quota, "peak-RSS/quota")
	b.ReportMetric(float64(iso.State().HeapCap)/(1<<20), "heapcap-MiB")
}

// Issue 12 item 2: memory follows the live heap, not the HeapCap a state
// claims. A small state that says HeapCap = MaxHeap used to make its first
// allocation reserve the whole cap; then, with the reservation lazy, it
// still set the collection trigger: a 344-byte state of a garbage-making
// program grew to the quota and a second semispace (256 MiB Footprint)
// before it collected. A run never reaches a HeapCap above max(InitialHeap,
// 2×used) rounded up to InitialHeap×2^k, so CheckState refuses one, and a
// claim at that bound costs about what a straight run's heap does.
func TestHeapCapClaimBounded(t *testing.T) {
	p := garbageProgram(t, 1000)
	iso, _ := New(p, Limits{})
	if st := iso.Run(10); st != Yielded {
		t.Fatalf("run: %s", st)
	}
	st := iso.Snapshot()
	used := uint64(len(st.Heap))
	bound := max(DefaultLimits.InitialHeap, 2*used) // a heap of 968 bytes: 64 KiB
	for _, hc := range []uint64{bound + 8, 2 * bound, DefaultLimits.MaxHeap} {
		bad := st.Clone()
		bad.HeapCap = hc
		if _, err := Resume(p, bad, Limits{}); !errors.Is(err, ErrBadState) {
			t.Fatalf("HeapCap %d on a heap of %d bytes: %v", hc, used, err)
		}
	}
	// At the bound it resumes, and stays small.
	ok := st.Clone()
	ok.HeapCap = bound
	r, err := Resume(p, ok, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var peak int64
	for r.Run(10000) == Yielded {
		peak = max(peak, r.Footprint())
	}
	if r.Status() != Finished || peak >= 1<<20 {
		t.Fatalf("claim at the bound: %s, peak Footprint %d", r.Status(), peak)
	}
	// A smaller quota or initial heap on the receiver lowers the bound.
	if err := CheckState(p, st, Limits{InitialHeap: 4096}); !errors.Is(err, ErrBadState) {
		t.Fatalf("InitialHeap 4096 on the receiver, HeapCap %d, heap %d: %v", st.HeapCap, used, err)
	}
}

// Every state a run stops in satisfies CheckState's HeapCap bound, so the
// bound refuses no honest state; and the trigger follows the live heap down:
// once the live data is dropped, HeapCap falls back.
func TestHeapTriggerFollowsLiveHeap(t *testing.T) {
	limits := Limits{InitialHeap: 4096, MaxHeap: 64 << 20}
	p := garbageProgram(t, 30000)
	iso, _ := New(p, limits)
	var c StateChecker
	var maxCap uint64
	for iso.Run(997) == Yielded {
		st := iso.State()
		if err := c.Check(p, st, limits); err != nil {
			t.Fatalf("at step %d: %v", st.Steps, err)
		}
		// At most twice the heap, rounded up to InitialHeap×2^k.
		if hc, used := st.HeapCap, uint64(len(st.Heap)); hc > limits.InitialHeap && hc >= 4*used {
			t.Fatalf("at step %d: HeapCap %d, heap %d", st.Steps, hc, used)
		}
		maxCap = max(maxCap, st.HeapCap)
	}
	if iso.Status() != Finished {
		t.Fatalf("%s %v", iso.Status(), iso.Err())
	}

	// Live data of about 1 MiB, then dropped; garbage afterwards keeps the
	// collector running, and the trigger must come back down.
	q := garbageDrop(t)
	iso, _ = New(q, limits)
	var high, last uint64
	for iso.Run(997) == Yielded {
		high = max(high, iso.State().HeapCap)
		last = iso.State().HeapCap
	}
	if iso.Status() != Finished {
		t.Fatalf("%s %v", iso.Status(), iso.Err())
	}
	if high < 1<<20 || last > 64<<10 {
		t.Fatalf("HeapCap peaked at %d and ended at %d", high, last)
	}
}

// Footprint follows the arena as it grows, and allocates nothing.
func TestFootprint(t *testing.T) {
	iso, _ := New(garbageProgram(t, 20000), Limits{InitialHeap: 4096})
	f0 := iso.Footprint()
	if f0 < 4096 {
		t.Fatalf("new isolate: Footprint %d", f0)
	}
	runToEnd(t, iso)
	f1 := iso.Footprint()
	if want := int64(cap(iso.heap) + cap(iso.spare)); f1 < want || f1 <= f0 {
		t.Fatalf("Footprint %d after the run (was %d), heap and spare hold %d", f1, f0, want)
	}
	if a := testing.AllocsPerRun(100, func() { _ = iso.Footprint() }); a != 0 {
		t.Fatalf("Footprint allocates %.1f times", a)
	}
}

// Nor does a request the claimed HeapCap cannot hold make the collection
// reserve a to-space of HeapCap: it copies only the live heap.
func TestHeapCapClaimCollectsSmall(t *testing.T) {
	const quota = 64 << 20
	n := quota/8 - 2 // an array of exactly the quota: it cannot fit beside the nil word
	p := assemble(t, 0, []uint64{uint64(n)}, nil, 0, nil,
		asmFunc{name: "main", nregs: 2, refs: []int{0}, result: KindInt, code: []Instr{
			Encode(LOADK, 1, 0, 0),
			Encode(NEWARR, 0, 1, 0),
			Encode(LEN, 1, 0, 0),
			Encode(RET, 1, 0, 0),
		}},
	)
	iso, _ := New(p, Limits{MaxHeap: quota})
	st := iso.Snapshot()
	st.HeapCap = quota // allowed: the receiver's InitialHeap is the quota
	r, err := Resume(p, st, Limits{MaxHeap: quota, InitialHeap: quota})
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Run(1 << 40); s != Faulted || !errors.Is(r.Err(), ErrHeapQuota) {
		t.Fatalf("run: %s %v", s, r.Err())
	}
	if f := r.Footprint(); f >= 1<<20 {
		t.Fatalf("Footprint %d after collecting a heap of %d bytes", f, len(r.State().Heap))
	}
}

// garbageDrop keeps a 1 MiB array live while it makes 5000 arrays of
// garbage, drops it, and makes 5000 more.
func garbageDrop(t testing.TB) *Program {
	return assemble(t, 0, nil, nil, 0, nil,
		asmFunc{name: "main", nregs: 6, refs: []int{3, 4}, result: KindInt, code: []Instr{
			Encode(LOADI, 5, 0, 131072), // 0
			Encode(NEWARR, 4, 5, 0),     // 1: live, 1 MiB
			Encode(LOADI, 5, 0, 100),    // 2
			Encode(LOADI, 1, 0, 0),      // 3: i = 0
			Encode(LOADI, 2, 0, 5000),   // 4: n
			Encode(JMP, 0, 0, 8),        // 5
			Encode(NEWARR, 3, 5, 0),     // 6: garbage
			Encode(ADDK, 1, 1, 1),       // 7
			Encode(LOOPLT, 1, 2, 6),     // 8
			Encode(LOADNIL, 4, 0, 0),    // 9: drop the live array
			Encode(LOADI, 1, 0, 0),      // 10
			Encode(JMP, 0, 0, 14),       // 11
			Encode(NEWARR, 3, 5, 0),     // 12: garbage
			Encode(ADDK, 1, 1, 1),       // 13
			Encode(LOOPLT, 1, 2, 12),    // 14
			Encode(RET, 1, 0, 0),        // 15
		}},
	)
}

// A checker readied with Reserve checks heaps up to that size without
// allocating: a live migration's target readies it while the pages arrive,
// and its stop does not pay for the bitmap.
func TestCheckerReserve(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not exact under -race")
	}
	// One array of 2^18 words, then a loop: a 2 MiB heap of one object,
	// as a live migration's large heaps are.
	p := assemble(t, 0, nil, nil, 0, nil,
		asmFunc{name: "main", nregs: 4, refs: []int{1}, result: KindInt, code: []Instr{
			Encode(LOADI, 0, 0, 1<<18), // 0: n
			Encode(NEWARR, 1, 0, 0),    // 1: a = make([]int, n)
			Encode(LOADI, 2, 0, 0),     // 2: i = 0
			Encode(ADDK, 2, 2, 1),      // 3: i++
			Encode(LOOPLT, 2, 0, 3),    // 4: while i < n
			Encode(RET, 2, 0, 0),       // 5
		}},
	)
	iso, _ := New(p, Limits{})
	iso.Run(100)
	st := iso.State()
	if len(st.Heap) < 2<<20 {
		t.Fatalf("heap of %d bytes, want the 2 MiB array", len(st.Heap))
	}
	// The first check is the one that would allocate: count its own
	// allocations (AllocsPerRun warms up with a call it does not count),
	// the least of a few fresh checkers, since the count is the process's
	// and a stray allocation elsewhere may land in it.
	least := uint64(1 << 62)
	for range 5 {
		var c StateChecker
		c.Reserve(len(st.Heap))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := c.Check(p, st, Limits{})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		least = min(least, after.Mallocs-before.Mallocs)
	}
	if least != 0 {
		t.Fatalf("the first Check of a %d-byte heap after Reserve: %d allocations, want 0", len(st.Heap), least)
	}
}

// Reserve called for a heap that grows a page at a time, as a live
// migration's target calls it, allocates a bounded multiple of the final
// bitmap in all, not the sum of every size on the way.
func TestCheckerReserveGrowsGeometrically(t *testing.T) {
	const pages = 4096 // a 32 MiB heap of 8 KiB pages: a 512 KiB bitmap
	var c StateChecker
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for p := 1; p <= pages; p++ {
		c.Reserve(p * PageSize)
	}
	runtime.ReadMemStats(&after)
	final := uint64(pages * PageSize / 64)
	if got := after.TotalAlloc - before.TotalAlloc; got > 4*final {
		t.Fatalf("Reserve up to %d pages allocated %d bytes in all, want at most %d (4x the final bitmap)", pages, got, 4*final)
	}
}
