package engine

import (
	"strconv"
	"testing"
)

// garbageProgram allocates a 100-element scratch array per iteration and keeps
// appending i and str(i) to two growing arrays, n times. It returns
// len(strs[n-1]) + ints[n-1] so that a lost or corrupted object shows.
func garbageProgram(t testing.TB, n int) *Program {
	return assemble(t, 0, nil, []string{"#"}, 1, []int{0},
		asmFunc{name: "main", nregs: 10, refs: []int{3, 4, 6, 7, 9}, result: KindInt, code: []Instr{
			Encode(LOADI, 1, 0, 0),                  // 0: i = 0
			Encode(LOADI, 2, 0, n),                  // 1: n
			Encode(LOADI, 5, 0, 100),                // 2: scratch size
			Encode(SCONST, 9, 0, 0),                 // 3: r9 = "#"
			Encode(SETGR, 9, 0, 0),                  // 4: g0 = "#"
			Encode(JMP, 0, 0, 13),                   // 5: -> test
			Encode(NEWARR, 3, 5, 0),                 // 6: garbage
			Encode(APPEND, 4, 8, 1),                 // 7: ints = append(ints, i)
			Encode(ITOS, 7, 1, 0),                   // 8: s = str(i)
			Encode(GETGR, 9, 0, 0),                  // 9: r9 = g0
			Encode(CONCAT, 7, 9, 7),                 // 10: s = "#" + s
			Encode(APPENDR, 6, elemsPointers|16, 7), // 11: strs = append(strs, s)
			Encode(ADDK, 1, 1, 1),                   // 12: i++
			Encode(LOOPLT, 1, 2, 6),                 // 13: test
			Encode(LEN, 1, 6, 0),                    // 14
			Encode(ADDK, 1, 1, -1),                  // 15
			Encode(AGETR, 7, 6, 1),                  // 16: last string
			Encode(AGET, 8, 4, 1),                   // 17: last int
			Encode(LEN, 1, 7, 0),                    // 18
			Encode(ADD, 1, 1, 8),                    // 19
			Encode(RET, 1, 0, 0),                    // 20
		}},
	)
}

func TestCollectorKeepsLiveData(t *testing.T) {
	const n = 20000
	iso, err := New(garbageProgram(t, n), Limits{MaxHeap: 4 << 20, InitialHeap: 4096})
	if err != nil {
		t.Fatal(err)
	}
	runToEnd(t, iso)
	want := len("#"+strconv.Itoa(n-1)) + n - 1
	if iso.Status() != Finished || iso.Result() != strconv.Itoa(want) {
		t.Fatalf("status %s result %s err %v, want %d", iso.Status(), iso.Result(), iso.Err(), want)
	}
	// Without collection the scratch arrays alone would need 16 MB.
	if got := iso.State().HeapCap; got > 4<<20 {
		t.Fatalf("heap grew to %d", got)
	}
}

func TestHeapQuotaFaults(t *testing.T) {
	iso, _ := New(garbageProgram(t, 200000), Limits{MaxHeap: 256 << 10, InitialHeap: 4096})
	runToEnd(t, iso)
	if iso.Status() != Faulted || iso.State().Err() != ErrHeapQuota {
		t.Fatalf("status %s err %v", iso.Status(), iso.Err())
	}
}
