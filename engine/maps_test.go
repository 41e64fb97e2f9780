package engine

import (
	"errors"
	"strings"
	"testing"
)

// mapProgram inserts m[i] = i*i for i < n, deletes the even keys, inserts
// m[n+i] = 1 for i < n (so the entry arrays are compacted and grown), then
// walks MAPKEYS and returns sum(key * position) + sum(values) + len(m)*1e9:
// a result that changes if any entry is lost or the order differs.
func mapProgram(t testing.TB, n int) *Program {
	return assemble(t, 0, []uint64{1e9}, nil, 0, nil,
		asmFunc{name: "main", nregs: 12, refs: []int{0, 1}, result: KindInt, code: []Instr{
			Encode(LOADI, 2, 0, 0),   // 0: hint
			Encode(NEWMAP, 0, 0, 2),  // 1: m = make(map[int]int)
			Encode(LOADI, 3, 0, 0),   // 2: i = 0
			Encode(LOADI, 4, 0, n),   // 3
			Encode(MUL, 5, 3, 3),     // 4: loop1: v = i*i
			Encode(MAPINS, 6, 0, 3),  // 5: e = entry(m, i)
			Encode(MAPSET, 0, 6, 5),  // 6: m[i] = v
			Encode(ADDK, 3, 3, 1),    // 7
			Encode(LOOPLT, 3, 4, 4),  // 8
			Encode(LOADI, 3, 0, 0),   // 9: i = 0
			Encode(MAPDEL, 0, 3, 0),  // 10: loop2: delete(m, i)
			Encode(ADDK, 3, 3, 2),    // 11
			Encode(LOOPLT, 3, 4, 10), // 12
			Encode(LOADI, 3, 0, 0),   // 13: i = 0
			Encode(LOADI, 5, 0, 1),   // 14
			Encode(ADD, 7, 3, 4),     // 15: loop3: k = n+i
			Encode(MAPINS, 6, 0, 7),  // 16
			Encode(MAPSET, 0, 6, 5),  // 17: m[k] = 1
			Encode(ADDK, 3, 3, 1),    // 18
			Encode(LOOPLT, 3, 4, 15), // 19
			Encode(MAPKEYS, 1, 0, 0), // 20: keys
			Encode(LEN, 4, 1, 0),     // 21
			Encode(LOADI, 8, 0, 0),   // 22: sum = 0
			Encode(LOADI, 3, 0, 0),   // 23: i = 0
			Encode(AGET, 7, 1, 3),    // 24: loop4: k = keys[i]
			Encode(MUL, 9, 7, 3),     // 25
			Encode(ADD, 8, 8, 9),     // 26: sum += k*i
			Encode(MAPFIND, 6, 0, 7), // 27
			Encode(MAPVAL, 9, 0, 6),  // 28
			Encode(ADD, 8, 8, 9),     // 29: sum += m[k]
			Encode(ADDK, 3, 3, 1),    // 30
			Encode(LOOPLT, 3, 4, 24), // 31
			Encode(LEN, 9, 0, 0),     // 32
			Encode(LOADK, 10, 0, 0),  // 33: 1e9
			Encode(MUL, 9, 9, 10),    // 34
			Encode(ADD, 8, 8, 9),     // 35
			Encode(RET, 8, 0, 0),     // 36
		}})
}

func mapWant(n int) int {
	var keys []int
	vals := map[int]int{}
	for i := 0; i < n; i++ {
		if i%2 == 1 {
			keys = append(keys, i)
			vals[i] = i * i
		}
	}
	for i := 0; i < n; i++ {
		keys = append(keys, n+i)
		vals[n+i] = 1
	}
	sum := 0
	for i, k := range keys {
		sum += k*i + vals[k]
	}
	return sum + len(keys)*1e9
}

func TestMapOrderAndResume(t *testing.T) {
	const n = 300
	p := mapProgram(t, n)
	limits := Limits{InitialHeap: 1024, MaxHeap: 1 << 20}
	straight := runStraight(t, p, limits)
	if want := itoa(mapWant(n)); straight.Status() != Finished || straight.Result() != want {
		t.Fatalf("status %s result %s err %v, want %s", straight.Status(), straight.Result(), straight.Err(), want)
	}
	halted, _ := runHalting(t, p, limits, 1)
	assertSameEnd(t, straight, halted)
}

// TestMapFaults: a nil map reads as empty and faults on a write; the key
// and value kinds an instruction uses must be the map's.
func TestMapFaults(t *testing.T) {
	for _, c := range []struct {
		name string
		code []Instr
		err  error
	}{
		{"write to nil", []Instr{Encode(LOADNIL, 0, 0, 0), Encode(MAPINS, 2, 0, 2), Encode(RET0, 0, 0, 0)}, ErrNilMap},
		{"string key on an int map", []Instr{Encode(NEWMAP, 0, 0, 2), Encode(MAPFINDS, 2, 0, 1), Encode(RET0, 0, 0, 0)}, ErrKindMismatch},
		{"ref value on a scalar map", []Instr{Encode(NEWMAP, 0, 0, 2), Encode(LOADI, 3, 0, 0), Encode(MAPVALR, 1, 0, 3), Encode(RET0, 0, 0, 0)}, ErrKindMismatch},
		{"read of nil", []Instr{Encode(LOADNIL, 0, 0, 0), Encode(MAPFIND, 2, 0, 2), Encode(MAPVAL, 3, 0, 2), Encode(RET0, 0, 0, 0)}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := assemble(t, 0, nil, nil, 0, nil, asmFunc{name: "main", nregs: 4, refs: []int{0, 1}, code: c.code})
			iso := runStraight(t, p, Limits{})
			if c.err == nil && iso.Status() != Finished || c.err != nil && !errors.Is(iso.Err(), c.err) {
				t.Fatalf("status %s err %v, want %v", iso.Status(), iso.Err(), c.err)
			}
		})
	}
}

// TestCheckStateRejectsBadMaps: a map's arrays must exist with its kinds
// and its counts fit them.
func TestCheckStateRejectsBadMaps(t *testing.T) {
	p := mapProgram(t, 40)
	iso, _ := New(p, Limits{})
	if iso.Run(60) != Yielded {
		t.Fatal("did not stop")
	}
	good := iso.Snapshot()
	if err := CheckState(p, good, Limits{}); err != nil {
		t.Fatal(err)
	}
	m := good.Regs[0]
	for _, c := range []struct {
		name   string
		mutate func(heap []byte)
		want   string
	}{
		{"bad info", func(heap []byte) { le.PutUint64(heap[m+mInfo:], 4) }, "bad info"},
		{"keys of strings", func(heap []byte) { le.PutUint64(heap[m+mInfo:], mapStringKeys) }, "not an array of kind"},
		{"no index", func(heap []byte) { le.PutUint64(heap[m+mIndex:], 0) }, "not an array of kind"},
		{"used past the capacity", func(heap []byte) { le.PutUint64(heap[m+mUsed:], 1000) }, "entries"},
		{"count past used", func(heap []byte) { le.PutUint64(heap[m:], objMap<<56|1000) }, "entries"},
		// The review's finding: an index no longer than the keys array
		// (here the keys array itself) was accepted while it held the
		// entries used, and then filled up as the isolate inserted.
		{"index shorter than twice the entries", func(heap []byte) {
			le.PutUint64(heap[m+mIndex:], le.Uint64(heap[m+mKeys:]))
		}, "index"},
	} {
		st := good.Clone()
		c.mutate(st.Heap)
		if err := CheckState(p, st, Limits{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
