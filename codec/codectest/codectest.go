// Package codectest provides hand-assembled programs and generators of valid
// engine states for the codec's tests, fuzz targets and benchmarks, and for
// the cross-package fuzz targets. It depends only on the engine, so it does
// not wait for the compiler.
package codectest

import (
	"encoding/binary"
	"fmt"

	"github.com/knotencore/knoten/engine"
)

// Func is one hand-assembled function. Jump targets in Code are absolute pcs.
type Func struct {
	Name    string
	NParams uint32
	NRegs   uint32
	Refs    []int // registers that hold refs
	Result  engine.Kind
	Code    []engine.Instr
}

// Assemble lays out funcs in order and validates the program.
func Assemble(name string, entry int, consts []uint64, strs []string, globals int, globalRefs []int, funcs ...Func) (*engine.Program, error) {
	p := &engine.Program{Name: name, Consts: consts, Strings: strs, Entry: uint32(entry), NumGlobals: uint32(globals)}
	p.GlobalRefs = make([]uint64, (globals+63)/64)
	for _, g := range globalRefs {
		p.GlobalRefs[g/64] |= 1 << (g % 64)
	}
	for _, f := range funcs {
		fn := engine.Func{Name: f.Name, Entry: uint32(len(p.Code)), NParams: f.NParams, NRegs: f.NRegs, Result: f.Result}
		fn.RefRegs = make([]uint64, (f.NRegs+63)/64)
		for _, r := range f.Refs {
			fn.RefRegs[r/64] |= 1 << (r % 64)
		}
		for i, in := range f.Code {
			p.Code = append(p.Code, in)
			p.Pos = append(p.Pos, engine.Pos{Line: uint32(len(p.Funcs) + 1), Col: uint32(i + 1)})
		}
		fn.End = uint32(len(p.Code))
		p.Funcs = append(p.Funcs, fn)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// StringElem is the B operand of APPENDR for a []string: Go's element size
// of a string, 16 bytes, and the flag that it holds pointers.
const StringElem = 1<<15 | 16

func must(p *engine.Program, err error) *engine.Program {
	if err != nil {
		panic("BUG: codectest program: " + err.Error())
	}
	return p
}

var fibFunc = Func{Name: "fib", NParams: 1, NRegs: 3, Result: engine.KindInt, Code: []engine.Instr{
	engine.Encode(engine.JGEK, 0, 2, 2),
	engine.Encode(engine.RET, 0, 0, 0),
	engine.Encode(engine.ADDK, 1, 0, -1),
	engine.Encode(engine.CALL, 1, 1, 0),
	engine.Encode(engine.ADDK, 2, 0, -2),
	engine.Encode(engine.CALL, 2, 2, 0),
	engine.Encode(engine.ADD, 1, 1, 2),
	engine.Encode(engine.RET, 1, 0, 0),
}}

// Fib computes fib(n) recursively.
func Fib(n int) *engine.Program {
	return must(Assemble("fib.kn", 1, nil, nil, 0, nil, fibFunc,
		Func{Name: "main", NRegs: 1, Result: engine.KindInt, Code: []engine.Instr{
			engine.Encode(engine.LOADI, 0, 0, n),
			engine.Encode(engine.CALL, 0, 0, 0),
			engine.Encode(engine.RET, 0, 0, 0),
		}}))
}

// Loop computes s = (s + i*i) % 1000003 for i in [0, n).
func Loop(n int) *engine.Program {
	return must(Assemble("loop.kn", 0, []uint64{uint64(n)}, nil, 0, nil,
		Func{Name: "main", NRegs: 4, Result: engine.KindInt, Code: []engine.Instr{
			engine.Encode(engine.LOADI, 0, 0, 0),
			engine.Encode(engine.LOADI, 1, 0, 0),
			engine.Encode(engine.LOADK, 2, 0, 0),
			engine.Encode(engine.JMP, 0, 0, 8),
			engine.Encode(engine.MUL, 3, 1, 1),
			engine.Encode(engine.ADD, 3, 0, 3),
			engine.Encode(engine.MODK, 0, 3, 1000003),
			engine.Encode(engine.ADDK, 1, 1, 1),
			engine.Encode(engine.LOOPLT, 1, 2, 4),
			engine.Encode(engine.RET, 0, 0, 0),
		}}))
}

// Mix exercises everything a state holds: for i in [0, n) it appends str(i)
// to a ref array kept in a ref global, prints str(i)+"x", calls fib(i%12)
// and adds the result to a scalar global, which it returns. Its heap holds
// strings and ref arrays, its frames go 13 deep, and it produces output.
func Mix(n int) *engine.Program {
	const m = 8 // main's entry pc, after fib
	return must(Assemble("mix.kn", 1, nil, []string{"x"}, 2, []int{1}, fibFunc,
		Func{Name: "main", NRegs: 8, Refs: []int{2, 3, 5}, Result: engine.KindInt, Code: []engine.Instr{
			engine.Encode(engine.LOADI, 0, 0, n),
			engine.Encode(engine.LOADI, 1, 0, 0),
			engine.Encode(engine.LOADI, 4, 0, 0),
			engine.Encode(engine.NEWARRR, 2, 4, 0),
			engine.Encode(engine.ITOS, 3, 1, 0), // m+4: loop
			engine.Encode(engine.APPENDR, 2, StringElem, 3),
			engine.Encode(engine.SCONST, 5, 0, 0),
			engine.Encode(engine.CONCAT, 3, 3, 5),
			engine.Encode(engine.PRINTS, 3, 0, 0),
			engine.Encode(engine.PRINTNL, 0, 0, 0),
			engine.Encode(engine.MODK, 6, 1, 12),
			engine.Encode(engine.CALL, 6, 6, 0),
			engine.Encode(engine.GETG, 4, 0, 0),
			engine.Encode(engine.ADD, 4, 4, 6),
			engine.Encode(engine.SETG, 4, 0, 0),
			engine.Encode(engine.SETGR, 2, 0, 1),
			engine.Encode(engine.ADDK, 1, 1, 1),
			engine.Encode(engine.LOOPLT, 1, 0, m+4),
			engine.Encode(engine.GETG, 4, 0, 0),
			engine.Encode(engine.RET, 4, 0, 0),
		}}))
}

// Strings appends str(i) to a ref array for i in [0, n), then sums the
// lengths of its elements, read back with AGETR. It is the program whose
// code reads references out of an array, so that the fuzz targets reach
// states in which an array's kind disagrees with the code that indexes it.
func Strings(n int) *engine.Program {
	return must(Assemble("strings.kn", 0, nil, nil, 0, nil,
		Func{Name: "main", NRegs: 7, Refs: []int{2, 3}, Result: engine.KindInt, Code: []engine.Instr{
			engine.Encode(engine.LOADI, 0, 0, n),            // 0: n
			engine.Encode(engine.LOADI, 1, 0, 0),            // 1: i = 0
			engine.Encode(engine.LOADI, 4, 0, 0),            // 2
			engine.Encode(engine.NEWARRR, 2, 4, 0),          // 3: a = make([]string, 0)
			engine.Encode(engine.ITOS, 3, 1, 0),             // 4: loop: s = str(i)
			engine.Encode(engine.APPENDR, 2, StringElem, 3), // 5: a = append(a, s)
			engine.Encode(engine.ADDK, 1, 1, 1),             // 6: i++
			engine.Encode(engine.LOOPLT, 1, 0, 4),           // 7
			engine.Encode(engine.LOADI, 1, 0, 0),            // 8: i = 0
			engine.Encode(engine.LOADI, 5, 0, 0),            // 9: sum = 0
			engine.Encode(engine.AGETR, 3, 2, 1),            // 10: loop: s = a[i]
			engine.Encode(engine.LEN, 6, 3, 0),              // 11: sum += len(s)
			engine.Encode(engine.ADD, 5, 5, 6),              // 12
			engine.Encode(engine.ADDK, 1, 1, 1),             // 13: i++
			engine.Encode(engine.LOOPLT, 1, 0, 10),          // 14
			engine.Encode(engine.RET, 5, 0, 0),              // 15
		}}))
}

// Objects makes every kind of heap object there is, n times round a
// loop: a map of string keys to structs {i, str(i)} (map object, key,
// value and index arrays, struct objects, strings), a []string grown by
// append (arrays and slice headers), a slice of it (a header), and a
// closure (a struct naming a function). States stopped inside it carry
// every object kind the wire format knows.
func Objects(n int) *engine.Program {
	return must(Assemble("objects.kn", 0, []uint64{0b10, 0}, nil, 0, nil,
		Func{Name: "main", NRegs: 13, Refs: []int{0, 1, 2, 3, 4, 11, 12}, Result: engine.KindInt, Code: []engine.Instr{
			engine.Encode(engine.LOADI, 5, 0, 0),                                         // 0: hint 0
			engine.Encode(engine.NEWMAP, 0, engine.MapStringKeys|engine.MapRefValues, 5), // 1: m = map[string]T{}
			engine.Encode(engine.NEWARRR, 1, 5, 0),                                       // 2: a = []string{}
			engine.Encode(engine.LOADI, 6, 0, n),                                         // 3
			engine.Encode(engine.NEWSTRUCT, 11, 2, 0),                                    // 4: a closure-shaped struct {fn, ref}
			engine.Encode(engine.LOADI, 8, 0, 1),                                         // 5
			engine.Encode(engine.LOADI, 9, 0, 4),                                         // 6
			engine.Encode(engine.NEWSLICE, 12, 8, 9),                                     // 7: c = make([]int, 1, 4)
			engine.Encode(engine.ITOS, 2, 5, 0),                                          // 8: loop: s = str(i)
			engine.Encode(engine.NEWSTRUCT, 3, 2, 0),                                     // 9: v = T{}
			engine.Encode(engine.SETF, 3, 0, 5),                                          // 10: v.i = i
			engine.Encode(engine.SETFR, 3, 1, 2),                                         // 11: v.s = s
			engine.Encode(engine.MAPINSS, 7, 0, 2),                                       // 12
			engine.Encode(engine.MAPSETR, 0, 7, 3),                                       // 13: m[s] = v
			engine.Encode(engine.APPENDR, 1, StringElem, 2),                              // 14: a = append(a, s)
			engine.Encode(engine.LOADI, 8, 0, 0),                                         // 15
			engine.Encode(engine.LEN, 9, 1, 0),                                           // 16
			engine.Encode(engine.SLICE, 4, 1, 8),                                         // 17: b = a[0:len(a)]
			engine.Encode(engine.SETFR, 11, 1, 4),                                        // 18
			engine.Encode(engine.ADDK, 5, 5, 1),                                          // 19: i++
			engine.Encode(engine.LOOPLT, 5, 6, 8),                                        // 20
			engine.Encode(engine.LEN, 10, 0, 0),                                          // 21: len(m)
			engine.Encode(engine.RET, 10, 0, 0),                                          // 22
		}}))
}

// Synth is the program that synthesized states (Build, BigState) belong to.
// main (8 registers, r0..r3 refs) calls f (3 registers, r1 a ref), which
// calls itself; there are 4 globals, g0 and g1 refs. Its code only spins,
// but any register, global and heap contents of the right kinds form a valid
// state, so a generator can reach every corner of the wire format.
var Synth = must(Assemble("synth.kn", 0, nil, nil, 4, []int{0, 1},
	Func{Name: "main", NRegs: 8, Refs: []int{0, 1, 2, 3}, Code: []engine.Instr{
		engine.Encode(engine.NOP, 0, 0, 0),
		engine.Encode(engine.CALL, 4, 4, 1),
		engine.Encode(engine.LOOP, 0, 0, 0),
	}},
	Func{Name: "f", NRegs: 3, Refs: []int{1}, Code: []engine.Instr{
		engine.Encode(engine.NOP, 0, 0, 0),
		engine.Encode(engine.CALL, 0, 0, 1),
		engine.Encode(engine.RET0, 0, 0, 0),
	}},
))

// Resolver returns a resolver that knows progs.
func Resolver(progs ...*engine.Program) func([32]byte) (*engine.Program, error) {
	m := make(map[[32]byte]*engine.Program, len(progs))
	for _, p := range progs {
		m[p.Hash()] = p
	}
	return func(h [32]byte) (*engine.Program, error) {
		if p := m[h]; p != nil {
			return p, nil
		}
		return nil, fmt.Errorf("no program %x", h) // h, not h[:8]: slicing would move h to the heap on every call
	}
}

// Object describes one heap object of a synthesized state.
type Object struct {
	Kind  uint8    // mod 3: string, scalar array, ref array
	Bytes []byte   // string contents
	Words []uint64 // scalar array elements
	Len   uint8    // ref array length, mod 8
	Slack uint8    // array capacity beyond the length, mod 4
}

// Spec describes a synthesized state of Synth. Every Spec builds a valid
// state; the fields are reduced into range rather than rejected.
type Spec struct {
	Status   uint8 // mod 5
	Fault    uint8 // the fault code when Faulted, reduced into range
	PC       uint8 // mod the top function's length
	Depth    uint8 // frames of f above main, mod 32
	Steps    uint64
	Result   uint64
	CapSlack uint16 // HeapCap beyond the used heap, in words, mod 4096
	Scalars  []uint64
	Picks    []uint16 // choose the objects that refs point at
	Objects  []Object
	Output   []byte
}

// Build returns the state that spec describes.
func Build(spec *Spec) *engine.State {
	st := &engine.State{Program: Synth.Hash(), Steps: spec.Steps}
	heap := make([]byte, 8, 64)
	var starts []uint64
	var refArrays []uint64
	for _, o := range spec.Objects {
		off := uint64(len(heap))
		starts = append(starts, off)
		switch o.Kind % 3 {
		case 0:
			heap = le64(heap, 1<<56|uint64(len(o.Bytes)))
			heap = append(heap, o.Bytes...)
			for len(heap)%8 != 0 {
				heap = append(heap, 0)
			}
		case 1:
			n := uint64(len(o.Words))
			heap = le64(heap, 2<<56|n)
			heap = le64(heap, n+uint64(o.Slack%4))
			for _, w := range o.Words {
				heap = le64(heap, w)
			}
			for i := 0; i < int(o.Slack%4); i++ {
				heap = le64(heap, 0)
			}
		case 2:
			n := uint64(o.Len % 8)
			heap = le64(heap, 3<<56|n)
			heap = le64(heap, n+uint64(o.Slack%4))
			for i := uint64(0); i < n+uint64(o.Slack%4); i++ {
				heap = le64(heap, 0)
			}
			if n > 0 {
				refArrays = append(refArrays, off)
			}
		}
	}
	np, ns := 0, 0
	pick := func() uint64 {
		if len(spec.Picks) == 0 || len(starts) == 0 {
			return 0
		}
		p := int(spec.Picks[np%len(spec.Picks)])
		np++
		if p%(len(starts)+1) == len(starts) {
			return 0
		}
		return starts[p%(len(starts)+1)]
	}
	scalar := func() uint64 {
		if len(spec.Scalars) == 0 {
			return 0
		}
		ns++
		return spec.Scalars[(ns-1)%len(spec.Scalars)]
	}
	for _, off := range refArrays {
		n := le.Uint64(heap[off:]) & (1<<56 - 1)
		for i := uint64(0); i < n; i++ {
			le.PutUint64(heap[off+16+8*i:], pick())
		}
	}
	st.Heap = heap
	st.HeapCap = uint64(len(heap)) + 8*uint64(spec.CapSlack%4096)
	st.Globals = []uint64{pick(), pick(), scalar(), scalar()}
	st.Output = spec.Output

	st.Status = engine.Status(spec.Status % 5)
	if st.Status == engine.Faulted {
		st.Fault = 1 + uint32(spec.Fault)%(engine.NumFaultCodes-1)
	}
	if st.Status == engine.Finished {
		st.Result = spec.Result
		return st
	}
	main, f := &Synth.Funcs[0], &Synth.Funcs[1]
	st.Frames = []engine.Frame{{Fn: 0, RetPC: engine.NoReturn}}
	st.Regs = []uint64{pick(), pick(), pick(), pick(), scalar(), scalar(), scalar(), scalar()}
	top := main
	for i := 0; i < int(spec.Depth%32); i++ {
		caller := st.Frames[len(st.Frames)-1]
		fr := engine.Frame{Fn: 1, Base: uint32(len(st.Regs)), RetPC: top.Entry + 2, RetReg: caller.Base + 4}
		if i > 0 {
			fr.RetReg = caller.Base
		}
		st.Frames = append(st.Frames, fr)
		st.Regs = append(st.Regs, scalar(), pick(), scalar())
		top = f
	}
	st.PC = top.Entry + uint32(spec.PC)%(top.End-top.Entry)
	return st
}

// BigState returns a valid state of Synth whose heap is exactly heapBytes
// (a multiple of 8, at least 24) long: one scalar array filled from seed,
// referenced from a register, with a few frames and some output.
func BigState(heapBytes int, seed uint64) *engine.State {
	n := (heapBytes - 24) / 8
	words := make([]uint64, n)
	x := seed | 1
	for i := range words {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		words[i] = x
	}
	out := make([]byte, 300)
	for i := range out {
		out[i] = byte('a' + i%26)
	}
	return Build(&Spec{
		Status:  uint8(engine.Halted),
		Depth:   4,
		PC:      1,
		Steps:   123456789,
		Scalars: []uint64{1, 2, 3, 4, 5},
		Picks:   []uint16{0},
		Objects: []Object{{Kind: 1, Words: words}},
		Output:  out,
	})
}

// Run starts prog and runs it with budget (see engine.Isolate.Run): it stops
// at the first safepoint after budget instructions, or finishes or faults
// first. It returns a deep copy of the state.
func Run(prog *engine.Program, limits engine.Limits, budget int64) (*engine.State, error) {
	iso, err := engine.New(prog, limits)
	if err != nil {
		return nil, err
	}
	iso.Run(budget)
	return iso.Snapshot(), nil
}

// Equal reports whether two states are equal, treating nil and empty slices
// alike; it returns a description of the first difference.
func Equal(a, b *engine.State) (bool, string) {
	switch {
	case a.Program != b.Program:
		return false, "program"
	case a.Status != b.Status || a.Fault != b.Fault || a.PC != b.PC:
		return false, fmt.Sprintf("status/fault/pc %v/%d/%d vs %v/%d/%d", a.Status, a.Fault, a.PC, b.Status, b.Fault, b.PC)
	case a.Steps != b.Steps || a.Result != b.Result || a.HeapCap != b.HeapCap:
		return false, "steps/result/heapcap"
	case !eq(a.Frames, b.Frames):
		return false, "frames"
	case !eq(a.Regs, b.Regs):
		return false, "regs"
	case !eq(a.Globals, b.Globals):
		return false, "globals"
	case !eq(a.Heap, b.Heap):
		return false, "heap"
	case !eq(a.Output, b.Output):
		return false, "output"
	}
	return true, ""
}

func eq[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var le = binary.LittleEndian

func le64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}
