package engine

import (
	"errors"
	"strings"
	"testing"
)

// structProgram builds outer{n int; in inner{s string}} values: a = outer;
// a.in.s = "x"; b = clone(a); b.in.s = "y"; a and b keep their own inner
// objects; then c := outer, SCOPY c = b, and it returns len(a.in.s)*100 +
// len(c.in.s)*10 + a.n (after b.n = 7 and a.n = 3). Then a loop makes
// garbage so collections move everything, halting at every instruction.
func structProgram(t testing.TB, n int) *Program {
	// consts: k0, k1 = outer masks (field 1 is a ref and a value);
	// k2, k3 = inner masks (field 0 a ref).
	return assemble(t, 0, []uint64{0b10, 0b10, 0b1, 0}, []string{"x", "yy"}, 0, nil,
		asmFunc{name: "main", nregs: 12, refs: []int{0, 1, 2, 3, 4, 5}, result: KindInt, code: []Instr{
			Encode(NEWSTRUCT, 0, 2, 0), // 0: a = outer{}
			Encode(NEWSTRUCT, 1, 1, 2), // 1: inner{}
			Encode(SETFR, 0, 1, 1),     // 2: a.in = inner
			Encode(SCONST, 2, 0, 0),    // 3
			Encode(SETFR, 1, 0, 2),     // 4: a.in.s = "x"
			Encode(CLONE, 3, 0, 0),     // 5: b = a
			Encode(GETFR, 4, 3, 1),     // 6: b.in
			Encode(SCONST, 2, 0, 1),    // 7
			Encode(SETFR, 4, 0, 2),     // 8: b.in.s = "yy"
			Encode(LOADI, 6, 0, 7),     // 9
			Encode(SETF, 3, 0, 6),      // 10: b.n = 7
			Encode(LOADI, 6, 0, 3),     // 11
			Encode(SETF, 0, 0, 6),      // 12: a.n = 3
			Encode(NEWSTRUCT, 5, 2, 0), // 13: c = outer{}
			Encode(NEWSTRUCT, 1, 1, 2), // 14
			Encode(SETFR, 5, 1, 1),     // 15: c.in = inner{}
			Encode(SCOPY, 5, 3, 0),     // 16: c = b
			Encode(LOADI, 7, 0, 0),     // 17: i = 0
			Encode(LOADI, 8, 0, n),     // 18
			Encode(CLONE, 1, 0, 0),     // 19: loop: garbage
			Encode(ADDK, 7, 7, 1),      // 20
			Encode(LOOPLT, 7, 8, 19),   // 21
			Encode(GETFR, 4, 0, 1),     // 22: a.in
			Encode(GETFR, 2, 4, 0),     // 23: a.in.s
			Encode(LEN, 9, 2, 0),       // 24
			Encode(MULK, 9, 9, 100),    // 25
			Encode(GETFR, 4, 5, 1),     // 26: c.in
			Encode(GETFR, 2, 4, 0),     // 27: c.in.s
			Encode(LEN, 10, 2, 0),      // 28
			Encode(MULK, 10, 10, 10),   // 29
			Encode(ADD, 9, 9, 10),      // 30
			Encode(GETF, 10, 0, 0),     // 31: a.n
			Encode(ADD, 9, 9, 10),      // 32
			Encode(GETF, 10, 5, 0),     // 33: c.n (7)
			Encode(MULK, 10, 10, 1000), // 34
			Encode(ADD, 9, 9, 10),      // 35
			Encode(RET, 9, 0, 0),       // 36
		}})
}

func TestStructValues(t *testing.T) {
	p := structProgram(t, 300)
	limits := Limits{InitialHeap: 512, MaxHeap: 1 << 20}
	straight := runStraight(t, p, limits)
	if straight.Status() != Finished || straight.Result() != "7123" {
		t.Fatalf("status %s result %s err %v, want 7123", straight.Status(), straight.Result(), straight.Err())
	}
	halted, _ := runHalting(t, p, limits, 1)
	assertSameEnd(t, straight, halted)
}

// TestStructFaults: fields are read with the kind their mask gives, nil is
// a nil dereference, and SCOPY wants two structs of one shape.
func TestStructFaults(t *testing.T) {
	for _, c := range []struct {
		name string
		code []Instr
		err  error
	}{
		{"scalar read of a ref field", []Instr{Encode(NEWSTRUCT, 0, 2, 0), Encode(GETF, 2, 0, 1), Encode(RET0, 0, 0, 0)}, ErrKindMismatch},
		{"field past the count", []Instr{Encode(NEWSTRUCT, 0, 2, 0), Encode(GETF, 2, 0, 5), Encode(RET0, 0, 0, 0)}, ErrKindMismatch},
		{"nil field", []Instr{Encode(LOADNIL, 0, 0, 0), Encode(GETF, 2, 0, 0), Encode(RET0, 0, 0, 0)}, ErrNilDeref},
		{"nil clone", []Instr{Encode(LOADNIL, 0, 0, 0), Encode(CLONE, 1, 0, 0), Encode(RET0, 0, 0, 0)}, ErrNilDeref},
		{"copy between shapes", []Instr{Encode(NEWSTRUCT, 0, 2, 0), Encode(NEWSTRUCT, 1, 1, 2), Encode(SCOPY, 0, 1, 0), Encode(RET0, 0, 0, 0)}, ErrKindMismatch},
		{"field of a string", []Instr{Encode(SCONST, 0, 0, 0), Encode(GETF, 2, 0, 0), Encode(RET0, 0, 0, 0)}, ErrKindMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := assemble(t, 0, []uint64{0b10, 0, 0, 0}, []string{"s"}, 0, nil,
				asmFunc{name: "main", nregs: 4, refs: []int{0, 1}, code: c.code})
			iso := runStraight(t, p, Limits{})
			if !errors.Is(iso.Err(), c.err) {
				t.Fatalf("err %v, want %v", iso.Err(), c.err)
			}
		})
	}
}

// TestCheckStateRejectsBadStructs: masks must fit the field count, values
// be refs, and ref fields point at objects.
func TestCheckStateRejectsBadStructs(t *testing.T) {
	p := structProgram(t, 50)
	iso, _ := New(p, Limits{})
	if iso.Run(25) != Yielded {
		t.Fatal("did not stop in the loop")
	}
	good := iso.Snapshot()
	if err := CheckState(p, good, Limits{}); err != nil {
		t.Fatal(err)
	}
	var s uint64
	for off := uint64(8); off < uint64(len(good.Heap)); off += objSize(good.Heap, off) {
		if good.Heap[off+7] == objStruct && objLen(good.Heap, off) == 2 {
			s = off
			break
		}
	}
	for _, c := range []struct {
		name   string
		mutate func(heap []byte)
		want   string
	}{
		{"ref mask past the fields", func(heap []byte) { le.PutUint64(heap[s+8:], 0b110) }, "do not fit"},
		{"value field not a ref", func(heap []byte) { le.PutUint64(heap[s+16:], 0b11) }, "do not fit"},
		{"ref field not an object", func(heap []byte) { le.PutUint64(heap[s+structHeader+8:], 12345) }, "is not a reference"},
		{"too many fields", func(heap []byte) { le.PutUint64(heap[s:], objStruct<<56|65) }, "limit of 64"},
	} {
		st := good.Clone()
		c.mutate(st.Heap)
		if err := CheckState(p, st, Limits{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

// TestValueCycleFaults: a state from elsewhere can make a struct own
// itself through its value mask; copying it faults instead of recursing
// without end.
func TestValueCycleFaults(t *testing.T) {
	p := assemble(t, 0, []uint64{1, 1}, nil, 0, nil,
		asmFunc{name: "main", nregs: 4, refs: []int{0, 1}, code: []Instr{
			Encode(LOADI, 3, 0, 2),     // 0
			Encode(NEWSTRUCT, 0, 1, 0), // 1
			Encode(ADDK, 2, 2, 1),      // 2: a safepoint to halt at, once round
			Encode(LOOPLT, 2, 3, 2),    // 3
			Encode(CLONE, 1, 0, 0),     // 4
			Encode(RET0, 0, 0, 0),      // 5
		}})
	iso, _ := New(p, Limits{})
	if iso.Run(1) != Yielded {
		t.Fatal("did not stop")
	}
	st := iso.Snapshot()
	obj := st.Regs[0]
	le.PutUint64(st.Heap[obj+structHeader:], obj) // field 0: the object itself
	res, err := Resume(p, st, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Run(100); !errors.Is(res.Err(), ErrKindMismatch) {
		t.Fatalf("err %v, want ErrKindMismatch", res.Err())
	}
}
