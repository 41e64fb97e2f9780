package engine

import "testing"

// steadyProgram makes, every time round an endless loop, a map (inserts,
// finds, a key snapshot, a sort), structs (CLONE, SCOPY, fields), slices
// (make with a capacity, appends into it and past it, slicing, copy) and a
// closure call: every kind of object, all garbage after each round, so
// that its live heap stays small.
func steadyProgram(t testing.TB) *Program {
	return assemble(t, 1, []uint64{0b10, 0, 0, 0}, nil, 0, nil,
		asmFunc{name: "double", nparams: 2, nregs: 3, refs: []int{0}, result: KindInt, code: []Instr{
			Encode(ADD, 2, 1, 1), // R2 = x + x
			Encode(RET, 2, 0, 0),
		}},
		asmFunc{name: "main", nregs: 14, refs: []int{0, 1, 2, 3, 4, 5}, code: []Instr{
			Encode(LOADI, 6, 0, 0),      // 0: i = 0
			Encode(LOADI, 7, 0, 16),     // 1: loop: keys
			Encode(NEWMAP, 0, 0, 7),     // 2: m = make(map[int]int, 16)
			Encode(LOADI, 8, 0, 0),      // 3: k = 0
			Encode(MAPINS, 9, 0, 8),     // 4: inner: e = entry(m, k)
			Encode(MAPSET, 0, 9, 6),     // 5: m[k] = i
			Encode(ADDK, 8, 8, 1),       // 6
			Encode(LOOPLT, 8, 7, 6),     // 7 (pcs are absolute: main starts at 2)
			Encode(MAPFIND, 9, 0, 6),    // 8
			Encode(MAPVAL, 10, 0, 9),    // 9
			Encode(MAPKEYS, 1, 0, 0),    // 10
			Encode(SORT, 1, 0, 0),       // 11
			Encode(NEWSTRUCT, 2, 2, 0),  // 12: s = {i, ref}
			Encode(SETF, 2, 0, 6),       // 13
			Encode(SETFR, 2, 1, 1),      // 14
			Encode(CLONE, 3, 2, 0),      // 15
			Encode(SCOPY, 3, 2, 0),      // 16
			Encode(LOADI, 11, 0, 1),     // 17
			Encode(LOADI, 12, 0, 4),     // 18
			Encode(NEWSLICE, 4, 11, 12), // 19: a = make([]int, 1, 4)
			Encode(APPEND, 4, 8, 6),     // 20
			Encode(APPEND, 4, 8, 6),     // 21
			Encode(APPEND, 4, 8, 6),     // 22
			Encode(APPEND, 4, 8, 6),     // 23: grows
			Encode(SLICE, 5, 4, 11),     // 24: a[1:4]
			Encode(COPY, 13, 4, 5),      // 25
			Encode(NEWSTRUCT, 5, 1, 2),  // 26: a closure of double
			Encode(LOADI, 13, 0, 0),     // 27
			Encode(SETF, 5, 0, 13),      // 28
			Encode(MOV, 13, 6, 0),       // 29: the closure call's argument
			Encode(CALLF, 5, 13, 0),     // 30: r13 = double(closure, i)... window r5, r6
			Encode(ADDK, 6, 6, 1),       // 31: i++
			Encode(LOOP, 0, 0, 3),       // 32
		}})
}

// TestNewObjectsAllocFree: once warm, a program making and dropping maps,
// structs, slices and closures allocates no Go memory: the arena and its
// spare semispace are reused at every collection.
func TestNewObjectsAllocFree(t *testing.T) {
	iso, err := New(steadyProgram(t), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	iso.Run(2_000_000) // warm: the heap reaches its steady size
	if st := iso.Status(); st != Yielded {
		t.Fatalf("status %s: %v", st, iso.Err())
	}
	if allocs := testing.AllocsPerRun(100, func() { iso.Run(10_000) }); allocs != 0 {
		t.Errorf("%.1f allocs per Run", allocs)
	}
}
