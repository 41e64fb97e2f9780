package engine

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

// escape is where capsOf's slices go, so that they live in the heap: the
// gc compiler backs the first growth of a slice that does not escape with
// a 32-byte buffer on the stack, which is not the growth rule append has.
var escape any

// capsOf appends to a nil []T one element at a time, then k at a time,
// and returns the capacity after each append: what Go's growth rule gives.
func capsOf[T any](n, k int) []uint64 {
	var s []T
	var caps []uint64
	var zero T
	for i := 0; i < n; i++ {
		s = append(s, zero)
		escape = s
		caps = append(caps, uint64(cap(s)))
	}
	more := make([]T, k)
	for i := 0; i < 20; i++ {
		s = append(s, more...)
		escape = s
		caps = append(caps, uint64(cap(s)))
	}
	return caps
}

// ourCaps replays capsOf's appends with growCap.
func ourCaps(n, k int, esize uint64, noscan bool) []uint64 {
	var caps []uint64
	length, c := uint64(0), uint64(0)
	step := func(m uint64) {
		if length+m > c {
			c = growCap(length+m, c, esize, noscan, 1<<40)
		}
		length += m
		caps = append(caps, c)
	}
	for i := 0; i < n; i++ {
		step(1)
	}
	for i := 0; i < 20; i++ {
		step(uint64(k))
	}
	return caps
}

// TestGrowCapMatchesGo: append gives the capacities Go's runtime gives, for
// element sizes on every path of growslice and roundupsize (1 byte, the
// pointer size, powers of two, odd sizes, pointerful elements past the
// malloc header threshold, large objects).
func TestGrowCapMatchesGo(t *testing.T) {
	type s3 [3]byte
	type s24 [3]int
	type s40 [5]int
	type s100 [100]byte
	type p608 [76]*int
	type s4000 [500]int
	cases := []struct {
		name   string
		n, k   int // capsOf's arguments
		caps   func(n, k int) []uint64
		esize  uintptr
		noscan bool
	}{
		{"byte", 3000, 1000, capsOf[byte], 1, true},
		{"int32", 3000, 700, capsOf[int32], 4, true},
		{"int", 3000, 333, capsOf[int], 8, true},
		{"pointer", 3000, 5, capsOf[*int], 8, false},
		{"string", 3000, 999, capsOf[string], unsafe.Sizeof(""), false},
		{"slice", 2000, 7, capsOf[[]int], unsafe.Sizeof([]int(nil)), false},
		{"[3]byte", 2000, 1, capsOf[s3], 3, true},
		{"struct of 3 ints", 2000, 100, capsOf[s24], 24, true},
		{"[5]int", 2000, 13, capsOf[s40], 40, true},
		{"[100]byte", 500, 3, capsOf[s100], 100, true},
		{"pointerful 608 bytes", 300, 2, capsOf[p608], unsafe.Sizeof(p608{}), false},
		{"[500]int", 100, 9, capsOf[s4000], 4000, true},
		{"struct{}", 100, 5, capsOf[struct{}], 0, true},
	}
	for _, c := range cases {
		want := c.caps(c.n, c.k)
		got := ourCaps(c.n, c.k, uint64(c.esize), c.noscan)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: append %d: cap %d, Go gives %d", c.name, i, got[i], want[i])
				break
			}
		}
	}
}

// sliceProgram exercises slice headers: it makes a := make([]int, 3, 10),
// b := append(a, 1), c := append(b, 2), d := append(b, 3), and returns
// len(b)*1e6 + c[4]*1e4 + d[4]*100 + cap(a[1:2])... (see the comments).
// It then builds a []string by appending str(i) n times, with garbage in
// between, so collections move arrays and headers, and adds up lengths.
func sliceProgram(t testing.TB, n int) *Program {
	return assemble(t, 0, nil, []string{"x"}, 0, nil,
		asmFunc{name: "main", nregs: 16, refs: []int{0, 1, 2, 3, 4, 5, 6}, result: KindInt, code: []Instr{
			Encode(LOADI, 8, 0, 3),          // 0
			Encode(LOADI, 9, 0, 10),         // 1
			Encode(NEWSLICE, 0, 8, 9),       // 2: a = make([]int, 3, 10)
			Encode(LOADI, 10, 0, 1),         // 3
			Encode(MOVR, 1, 0, 0),           // 4
			Encode(APPEND, 1, 8, 10),        // 5: b = append(a, 1)
			Encode(LOADI, 10, 0, 2),         // 6
			Encode(MOVR, 2, 1, 0),           // 7
			Encode(APPEND, 2, 8, 10),        // 8: c = append(b, 2)
			Encode(LOADI, 10, 0, 3),         // 9
			Encode(MOVR, 3, 1, 0),           // 10
			Encode(APPEND, 3, 8, 10),        // 11: d = append(b, 3): overwrites c[4]
			Encode(LEN, 11, 1, 0),           // 12: len(b) = 4
			Encode(MULK, 11, 11, 1000000),   // 13
			Encode(LOADI, 10, 0, 4),         // 14
			Encode(AGET, 12, 2, 10),         // 15: c[4] = 3
			Encode(MULK, 12, 12, 10000),     // 16
			Encode(ADD, 11, 11, 12),         // 17
			Encode(AGET, 12, 3, 10),         // 18: d[4] = 3
			Encode(MULK, 12, 12, 100),       // 19
			Encode(ADD, 11, 11, 12),         // 20
			Encode(LOADI, 13, 0, 1),         // 21
			Encode(LOADI, 14, 0, 2),         // 22
			Encode(SLICE, 4, 0, 13),         // 23: e = a[1:2]
			Encode(CAP, 12, 4, 0),           // 24: cap(e) = 9
			Encode(ADD, 11, 11, 12),         // 25
			Encode(LOADI, 13, 0, 0),         // 26
			Encode(NEWARRR, 5, 13, 0),       // 27: ss = make([]string, 0)
			Encode(LOADI, 13, 0, 0),         // 28: i = 0
			Encode(LOADI, 14, 0, n),         // 29
			Encode(ITOS, 6, 13, 0),          // 30: loop: s = str(i)
			Encode(APPENDR, 5, 1<<15|16, 6), // 31: ss = append(ss, s)
			Encode(LOADI, 15, 0, 50),        // 32
			Encode(NEWARR, 6, 15, 0),        // 33: garbage
			Encode(ADDK, 13, 13, 1),         // 34
			Encode(LOOPLT, 13, 14, 30),      // 35
			Encode(LOADI, 13, 0, 0),         // 36: i = 0
			Encode(LEN, 14, 5, 0),           // 37
			Encode(AGETR, 6, 5, 13),         // 38: loop: s = ss[i]
			Encode(LEN, 15, 6, 0),           // 39
			Encode(ADD, 11, 11, 15),         // 40
			Encode(ADDK, 13, 13, 1),         // 41
			Encode(LOOPLT, 13, 14, 38),      // 42
			Encode(RET, 11, 0, 0),           // 43
		}})
}

func TestSliceSemantics(t *testing.T) {
	const n = 2000
	digits := 0
	for i := 0; i < n; i++ {
		digits += len(itoa(i))
	}
	want := itoa(4*1000000 + 3*10000 + 3*100 + 9 + digits)
	p := sliceProgram(t, n)
	limits := Limits{InitialHeap: 1024, MaxHeap: 1 << 20}
	straight := runStraight(t, p, limits)
	if straight.Status() != Finished || straight.Result() != want {
		t.Fatalf("status %s result %s err %v, want %s", straight.Status(), straight.Result(), straight.Err(), want)
	}
	halted, stops := runHalting(t, p, limits, 1)
	if stops < n {
		t.Fatalf("only %d stops", stops)
	}
	assertSameEnd(t, straight, halted)
}

// TestSliceFaults: bad bounds and capacities fault as Go panics, with Go's
// words.
func TestSliceFaults(t *testing.T) {
	cases := []struct {
		name string
		code []Instr
		err  error
		msg  string
	}{
		{"high past capacity", []Instr{
			Encode(LOADI, 1, 0, 3), Encode(NEWARR, 0, 1, 0), Encode(LOADI, 2, 0, 1), Encode(LOADI, 3, 0, 5),
			Encode(SLICE, 0, 0, 2), Encode(RET0, 0, 0, 0)}, ErrSliceBounds, "slice bounds out of range [:5] with capacity 3"},
		{"low above high", []Instr{
			Encode(LOADI, 1, 0, 3), Encode(NEWARR, 0, 1, 0), Encode(LOADI, 2, 0, 2), Encode(LOADI, 3, 0, 1),
			Encode(SLICE, 0, 0, 2), Encode(RET0, 0, 0, 0)}, ErrSliceBounds, "slice bounds out of range [2:1]"},
		{"max past capacity", []Instr{
			Encode(LOADI, 1, 0, 3), Encode(NEWARR, 0, 1, 0), Encode(LOADI, 2, 0, 0), Encode(LOADI, 3, 0, 1), Encode(LOADI, 4, 0, 4),
			Encode(SLICE3, 0, 0, 2), Encode(RET0, 0, 0, 0)}, ErrSliceBounds, "slice bounds out of range [::4] with capacity 3"},
		{"cap below len", []Instr{
			Encode(LOADI, 1, 0, 3), Encode(LOADI, 2, 0, 2), Encode(NEWSLICE, 0, 1, 2), Encode(RET0, 0, 0, 0)}, ErrCapOutOfRange, "makeslice: cap out of range"},
		{"index past len within cap", []Instr{
			Encode(LOADI, 1, 0, 1), Encode(LOADI, 2, 0, 4), Encode(NEWSLICE, 0, 1, 2), Encode(AGET, 3, 0, 1), Encode(RET0, 0, 0, 0)}, ErrIndexOutOfRange, "index out of range [1] with length 1"},
		{"negative shift", []Instr{
			Encode(LOADI, 1, 0, -1), Encode(SHL, 2, 2, 1), Encode(RET0, 0, 0, 0)}, ErrNegativeShift, "negative shift amount"},
		{"cap of a string", []Instr{
			Encode(SCONST, 0, 0, 0), Encode(CAP, 1, 0, 0), Encode(RET0, 0, 0, 0)}, ErrKindMismatch, "kind mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := assemble(t, 0, nil, []string{"abc"}, 0, nil,
				asmFunc{name: "main", nregs: 6, refs: []int{0}, code: c.code})
			iso := runStraight(t, p, Limits{})
			if !errors.Is(iso.Err(), c.err) || !strings.Contains(iso.Err().Error(), c.msg) {
				t.Fatalf("err %v, want %v saying %q", iso.Err(), c.err, c.msg)
			}
		})
	}
}

// TestCheckStateRejectsBadSlices: a header must name an array of its own
// element kind and a window inside the array's capacity.
func TestCheckStateRejectsBadSlices(t *testing.T) {
	p := sliceProgram(t, 10)
	iso, _ := New(p, Limits{})
	if iso.Run(30) != Yielded {
		t.Fatal("did not stop in the loop")
	}
	good := iso.Snapshot()
	if err := CheckState(p, good, Limits{}); err != nil {
		t.Fatal(err)
	}
	// Find the first header (b = append(a, 1)).
	var h uint64
	for off := uint64(8); off < uint64(len(good.Heap)); off += objSize(good.Heap, off) {
		if good.Heap[off+7] == objSliceS {
			h = off
			break
		}
	}
	if h == 0 {
		t.Fatal("no slice header in the heap")
	}
	for _, c := range []struct {
		name   string
		mutate func(heap []byte)
		want   string
	}{
		{"length above capacity", func(heap []byte) { le.PutUint64(heap[h:], objSliceS<<56|20) }, "exceeds its capacity"},
		{"window past the array", func(heap []byte) { le.PutUint64(heap[h+8:], 11) }, "outside its array"},
		{"unaligned window", func(heap []byte) { le.PutUint64(heap[h+24:], le.Uint64(heap[h+24:])+4) }, "outside its array"},
		{"array of the other kind", func(heap []byte) { heap[h+7] = objSliceR }, "not an array of its kind"},
		{"array is not an object", func(heap []byte) { le.PutUint64(heap[h+16:], le.Uint64(heap[h+16:])+8) }, "not an array of its kind"},
	} {
		st := good.Clone()
		c.mutate(st.Heap)
		if err := CheckState(p, st, Limits{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
