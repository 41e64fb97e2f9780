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
// allocation reserve the whole quota.
func TestHeapCapClaimReservesNothing(t *testing.T) {
	p := garbageProgram(t, 1000)
	iso, _ := New(p, Limits{})
	if st := iso.Run(10); st != Yielded {
		t.Fatalf("run: %s", st)
	}
	st := iso.Snapshot()
	st.HeapCap = DefaultLimits.MaxHeap
	r, err := Resume(p, st, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	before := len(r.State().Heap)
	if st := r.Run(100); st != Yielded {
		t.Fatalf("resumed run: %s", st)
	}
	if len(r.State().Heap) <= before {
		t.Fatal("the resumed run allocated nothing")
	}
	if c := cap(r.heap); c >= 1<<20 {
		t.Fatalf("heap of %d bytes reserved an arena of %d", len(r.State().Heap), c)
	}
	if f := r.Footprint(); f >= 1<<20 || f < int64(cap(r.heap)) {
		t.Fatalf("Footprint %d, arena capacity %d", f, cap(r.heap))
	}
	// The collection trigger is the state's, whatever was reserved.
	if r.State().HeapCap != DefaultLimits.MaxHeap {
		t.Fatalf("HeapCap changed to %d", r.State().HeapCap)
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
	st.HeapCap = quota
	r, err := Resume(p, st, Limits{MaxHeap: quota})
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
