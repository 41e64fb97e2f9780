package engine

import "testing"

// asmFunc is a hand-assembled function for tests that must not depend on the
// compiler.
type asmFunc struct {
	name    string
	nparams uint32
	nregs   uint32
	refs    []int
	result  Kind
	code    []Instr
}

// assemble lays out funcs in order; entry names the entry function's index.
func assemble(t testing.TB, entry int, consts []uint64, strs []string, globals int, globalRefs []int, funcs ...asmFunc) *Program {
	t.Helper()
	p := &Program{Name: "asm.kn", Consts: consts, Strings: strs, Entry: uint32(entry), NumGlobals: uint32(globals)}
	p.GlobalRefs = make([]uint64, bitWords(uint32(globals)))
	for _, g := range globalRefs {
		p.GlobalRefs[g/64] |= 1 << (g % 64)
	}
	for _, f := range funcs {
		fn := Func{Name: f.name, Entry: uint32(len(p.Code)), NParams: f.nparams, NRegs: f.nregs, Result: f.result}
		fn.RefRegs = make([]uint64, bitWords(f.nregs))
		for _, r := range f.refs {
			fn.RefRegs[r/64] |= 1 << (r % 64)
		}
		for i, in := range f.code {
			p.Code = append(p.Code, in)
			p.Pos = append(p.Pos, Pos{Line: uint32(len(p.Funcs) + 1), Col: uint32(i + 1)})
		}
		fn.End = uint32(len(p.Code))
		p.Funcs = append(p.Funcs, fn)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// fibProgram computes fib(n) recursively; entry is function 1.
func fibProgram(t testing.TB, n int) *Program {
	return assemble(t, 1, nil, nil, 0, nil,
		asmFunc{name: "fib", nparams: 1, nregs: 3, result: KindInt, code: []Instr{
			Encode(JGEK, 0, 2, 2),
			Encode(RET, 0, 0, 0),
			Encode(ADDK, 1, 0, -1),
			Encode(CALL, 1, 1, 0),
			Encode(ADDK, 2, 0, -2),
			Encode(CALL, 2, 2, 0),
			Encode(ADD, 1, 1, 2),
			Encode(RET, 1, 0, 0),
		}},
		asmFunc{name: "main", nregs: 1, result: KindInt, code: []Instr{
			Encode(LOADI, 0, 0, n),
			Encode(CALL, 0, 0, 0),
			Encode(RET, 0, 0, 0),
		}},
	)
}

// loopProgram computes s = (s + i*i) % 1000003 for i in [0, n).
func loopProgram(t testing.TB, n int) *Program {
	return assemble(t, 0, []uint64{uint64(n)}, nil, 0, nil,
		asmFunc{name: "main", nregs: 4, result: KindInt, code: []Instr{
			Encode(LOADI, 0, 0, 0),
			Encode(LOADI, 1, 0, 0),
			Encode(LOADK, 2, 0, 0),
			Encode(JMP, 0, 0, 8),
			Encode(MUL, 3, 1, 1),
			Encode(ADD, 3, 0, 3),
			Encode(MODK, 0, 3, 1000003),
			Encode(ADDK, 1, 1, 1),
			Encode(LOOPLT, 1, 2, 4),
			Encode(RET, 0, 0, 0),
		}},
	)
}
