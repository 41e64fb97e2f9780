package engine

import (
	"errors"
	"testing"
)

// programFromBytes builds a valid-by-construction program from fuzz input:
// one entry function with scalar registers r0-r3 and ref registers r4-r7, each
// instruction's operands chosen to fit their kinds. It exercises the VM, the
// collector and CheckState on code no compiler would write.
func programFromBytes(data []byte) *Program {
	const n = 8
	ninstr := len(data)/4 + 1
	p := &Program{
		Name: "fuzz.kn",
		// k0, k1 are numbers; k2..k5 are pairs of struct masks for
		// NEWSTRUCT: 2 fields (field 1 a ref), and 1 field holding a ref.
		Consts:     []uint64{7, 0x4000000000000000, 0b10, 0, 0b1, 0},
		Strings:    []string{"", "knoten"},
		NumGlobals: 2, GlobalRefs: []uint64{1 << 1},
		Funcs: []Func{{Name: "main", NRegs: n, RefRegs: []uint64{0xF0}, Result: KindVoid, End: uint32(ninstr)}},
	}
	for pc := 0; pc < ninstr-1; pc++ {
		w := data[pc*4 : pc*4+4]
		op := Opcode(w[0] % uint8(numOpcodes))
		info := opInfo[op]
		field := func(k operand, x byte) int {
			switch k {
			case sreg:
				return int(x % 4)
			case rreg:
				return 4 + int(x%4)
			case argwin, resreg:
				return int(x % n)
			case imm:
				return int(int8(x))
			case nzimm:
				if x == 0 {
					return 3
				}
				return int(int8(x))
			case konst, str:
				return int(x % 2)
			case konst2:
				return 2 + 2*int(x%2)
			case nfields:
				return int(x%2) + 1
			case fieldno:
				return int(x % 2)
			case mapinfo:
				return int(x % 4)
			case sglobal:
				return 0
			case rglobal:
				return 1
			case fwd:
				return pc + 1 + int(x)%(ninstr-pc-1)
			case back:
				return int(x) % (pc + 1)
			case pformat:
				return int(x % 3)
			case esize:
				return int(x) | int(x&1)<<15
			case sreg2:
				return int(x % 3)
			case sreg3:
				return int(x % 2)
			}
			return 0
		}
		p.Code = append(p.Code, Encode(op, field(info.a, w[1]), field(info.b, w[2]), field(info.c, w[3])))
	}
	p.Code = append(p.Code, Encode(RET0, 0, 0, 0))
	p.Pos = make([]Pos, ninstr)
	return p
}

func FuzzExec(f *testing.F) {
	f.Add([]byte{byte(LOADI), 0, 0, 5, byte(ITOS), 4, 0, 0, byte(APPENDR), 5, 5, 4, byte(LOOPLT), 1, 0, 0})
	f.Add([]byte{byte(NEWARR), 4, 0, 0, byte(SCONST), 5, 0, 1, byte(CONCAT), 6, 5, 5, byte(CALL), 2, 0, 0})
	// Structs, maps, slices and closures.
	f.Add([]byte{byte(NEWSTRUCT), 4, 1, 0, byte(SCONST), 5, 0, 1, byte(SETFR), 4, 1, 5, byte(CLONE), 6, 4, 0, byte(SCOPY), 6, 4, 0, byte(GETFR), 7, 4, 1})
	f.Add([]byte{byte(NEWMAP), 4, 1, 0, byte(SCONST), 5, 0, 1, byte(MAPINSS), 0, 4, 5, byte(MAPSET), 4, 0, 1, byte(MAPKEYS), 6, 4, 0, byte(SORT), 6, 0, 0, byte(MAPDELS), 4, 5, 0})
	f.Add([]byte{byte(LOADI), 0, 0, 3, byte(NEWSLICE), 4, 1, 0, byte(APPEND), 4, 8, 1, byte(SLICE), 5, 4, 1, byte(COPY), 2, 4, 5, byte(STOB), 6, 5, 0, byte(LOOPLT), 1, 0, 0})
	f.Add([]byte{byte(NEWSTRUCT), 4, 0, 0, byte(CALLF), 4, 0, 0, byte(APPENDV), 5, 8, 4, byte(FILLV), 5, 4, 0, byte(COPYV), 0, 5, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4*256 {
			return
		}
		p := programFromBytes(data)
		if err := p.Validate(); err != nil {
			t.Skip(err) // construction should make this rare: only the CALL result kind can clash
		}
		limits := Limits{MaxSteps: 5000, MaxHeap: 64 << 10, InitialHeap: 256, MaxDepth: 50, MaxOutput: 1 << 12}
		straight := runStraight(t, p, limits)
		if errors.Is(straight.Err(), ErrInternal) {
			t.Fatalf("internal fault: %v", straight.Err())
		}
		iso, err := New(p, limits)
		if err != nil {
			t.Fatal(err)
		}
		for iso.Run(3).Runnable() {
			st := iso.Snapshot()
			if err := CheckState(p, st, limits); err != nil {
				t.Fatalf("state at a stop fails its own check: %v", err)
			}
			if iso, err = Resume(p, st, limits); err != nil {
				t.Fatal(err)
			}
		}
		assertSameEnd(t, straight, iso)
	})
}
