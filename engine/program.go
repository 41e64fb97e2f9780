package engine

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strconv"

	"github.com/zeebo/blake3"
)

// Kind is the static type class of a value, as far as the machine cares.
type Kind uint8

const (
	KindVoid Kind = iota
	KindInt
	KindFloat
	KindBool
	KindString
	KindArray // a slice
	KindRef   // any other heap reference: a struct, pointer, map or function value
	numKinds
)

var kindNames = [numKinds]string{"void", "int", "float", "bool", "string", "array", "ref"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind" + strconv.Itoa(int(k))
}

// IsRef reports whether values of the kind are heap references.
func (k Kind) IsRef() bool { return k == KindString || k == KindArray || k == KindRef }

// Pos is a source position, 1-based. The zero Pos means unknown.
type Pos struct{ Line, Col uint32 }

// Func describes one function's slice of the code and its register window.
type Func struct {
	Name    string
	Entry   uint32   // first instruction
	End     uint32   // one past the last instruction
	NParams uint32   // parameters arrive in registers 0..NParams-1
	NRegs   uint32   // size of the register window, at most MaxA+1
	RefRegs []uint64 // bit i set: register i always holds a ref (guides the GC)
	Result  Kind     // kind of the returned value; KindVoid for none, or when Results is set
	// Results are the kinds of the results of a function that returns two
	// or more (RETN returns them; a CALL receives them in consecutive
	// registers from its B operand on). Nil for a function with one
	// result or none.
	Results []Kind
}

// results returns the kinds of f's results.
func (f *Func) results() []Kind {
	switch {
	case len(f.Results) > 0:
		return f.Results
	case f.Result == KindVoid:
		return nil
	}
	return []Kind{f.Result}
}

// IsRef reports whether register r of the function holds refs.
func (f *Func) IsRef(r int) bool { return bitSet(f.RefRegs, r) }

// Program is a compiled Knoten program. Build it, then call Validate once; from
// then on it is immutable and may be shared by any number of isolates and
// goroutines. Its identity is Hash, the BLAKE3 digest of MarshalBinary.
type Program struct {
	Name       string // source file name, used in positions
	Code       []Instr
	Pos        []Pos // source position of each instruction
	Consts     []uint64
	Strings    []string
	Funcs      []Func
	NumGlobals uint32
	GlobalRefs []uint64 // bit g set: global g holds a ref
	Entry      uint32   // function New starts; it takes no parameters

	hash      [32]byte
	validated bool
	funcOf    []uint32 // function index of each pc
	shapes    []uint32 // of each function: an id of its parameters' and results' kinds (see CALLF)
}

// Hash returns the program's content hash. It is valid after Validate.
func (p *Program) Hash() [32]byte { return p.hash }

// Result is the kind of value the entry function returns.
func (p *Program) Result() Kind { return p.Funcs[p.Entry].Result }

// PosAt returns the source position of pc, or the zero Pos.
func (p *Program) PosAt(pc int) Pos {
	if pc >= 0 && pc < len(p.Pos) {
		return p.Pos[pc]
	}
	return Pos{}
}

// FuncAt returns the index of the function holding pc. pc must be in range.
func (p *Program) FuncAt(pc int) int { return int(p.funcOf[pc]) }

func bitSet(set []uint64, i int) bool {
	return i >= 0 && i/64 < len(set) && set[i/64]&(1<<(i%64)) != 0
}

func bitWords(n uint32) int { return int((uint64(n) + 63) / 64) }

// Validate checks that the program can run safely and seals it: every operand
// in range and of the kind its opcode needs, every jump inside its function and
// in its declared direction (so every loop passes a safepoint), every function
// ending in a terminator, and call signatures consistent. Only validated
// programs run.
func (p *Program) Validate() error {
	if p.validated {
		return nil
	}
	if err := p.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadProgram, err)
	}
	p.hash = blake3.Sum256(p.MarshalBinary())
	p.validated = true
	return nil
}

func (p *Program) check() error {
	n := len(p.Code)
	switch {
	case n == 0:
		return fmt.Errorf("no code")
	case n > MaxPCs:
		return fmt.Errorf("code has %d instructions, limit %d", n, MaxPCs)
	case len(p.Pos) != n:
		return fmt.Errorf("%d positions for %d instructions", len(p.Pos), n)
	case len(p.Funcs) == 0 || len(p.Funcs) > MaxC+1:
		return fmt.Errorf("%d functions", len(p.Funcs))
	case int(p.Entry) >= len(p.Funcs):
		return fmt.Errorf("entry function %d out of range", p.Entry)
	case p.Funcs[p.Entry].NParams != 0:
		return fmt.Errorf("entry function %s takes parameters", p.Funcs[p.Entry].Name)
	case len(p.Funcs[p.Entry].Results) != 0:
		return fmt.Errorf("entry function %s has several results", p.Funcs[p.Entry].Name)
	case len(p.Consts) > MaxC+1 || len(p.Strings) > MaxC+1 || p.NumGlobals > MaxC+1:
		return fmt.Errorf("constant, string or global table too large")
	case len(p.GlobalRefs) != bitWords(p.NumGlobals):
		return fmt.Errorf("global ref map has %d words, want %d", len(p.GlobalRefs), bitWords(p.NumGlobals))
	}
	// Functions must tile the code exactly, in order of entry.
	order := make([]int, len(p.Funcs))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return p.Funcs[order[i]].Entry < p.Funcs[order[j]].Entry })
	funcOf := make([]uint32, n)
	next := uint32(0)
	for _, fi := range order {
		f := &p.Funcs[fi]
		switch {
		case f.Entry != next:
			return fmt.Errorf("func %s starts at %d, want %d (functions must tile the code)", f.Name, f.Entry, next)
		case f.End <= f.Entry || int(f.End) > n:
			return fmt.Errorf("func %s has bad range [%d,%d)", f.Name, f.Entry, f.End)
		case f.NRegs > MaxA+1 || f.NParams > f.NRegs:
			return fmt.Errorf("func %s has %d params in %d registers", f.Name, f.NParams, f.NRegs)
		case len(f.RefRegs) != bitWords(f.NRegs):
			return fmt.Errorf("func %s ref map has %d words, want %d", f.Name, len(f.RefRegs), bitWords(f.NRegs))
		case f.Result >= numKinds:
			return fmt.Errorf("func %s has bad result kind %d", f.Name, f.Result)
		case len(f.Results) == 1 || len(f.Results) > 0 && f.Result != KindVoid:
			return fmt.Errorf("func %s has results %v and result %s: use Result for one", f.Name, f.Results, f.Result)
		case len(f.Results) > MaxA:
			return fmt.Errorf("func %s has %d results", f.Name, len(f.Results))
		}
		for _, k := range f.Results {
			if k == KindVoid || k >= numKinds {
				return fmt.Errorf("func %s has bad result kind %d", f.Name, k)
			}
		}
		if extra := f.NRegs % 64; extra != 0 && f.RefRegs[len(f.RefRegs)-1]>>extra != 0 {
			return fmt.Errorf("func %s ref map marks registers beyond %d", f.Name, f.NRegs)
		}
		for pc := f.Entry; pc < f.End; pc++ {
			funcOf[pc] = uint32(fi)
		}
		next = f.End
	}
	if int(next) != n {
		return fmt.Errorf("instructions %d..%d belong to no function", next, n-1)
	}
	if extra := p.NumGlobals % 64; extra != 0 && p.GlobalRefs[len(p.GlobalRefs)-1]>>extra != 0 {
		return fmt.Errorf("global ref map marks globals beyond %d", p.NumGlobals)
	}
	p.shapes = funcShapes(p.Funcs)
	for pc := 0; pc < n; pc++ {
		if err := p.checkInstr(pc, &p.Funcs[funcOf[pc]]); err != nil {
			return fmt.Errorf("pc %d (%s): %w", pc, p.Code[pc].Op(), err)
		}
	}
	for fi := range p.Funcs {
		f := &p.Funcs[fi]
		switch p.Code[f.End-1].Op() {
		case RET, RETR, RET0, RETN, JMP, LOOP:
		default:
			return fmt.Errorf("func %s does not end in a return or jump", f.Name)
		}
	}
	p.funcOf = funcOf
	return nil
}

func (p *Program) checkInstr(pc int, f *Func) error {
	in := p.Code[pc]
	op := in.Op()
	if op >= numOpcodes {
		return fmt.Errorf("unknown opcode %d", uint8(op))
	}
	for i, fld := range in.fields() {
		name := "abc"[i : i+1]
		var bad bool
		switch fld.kind {
		case none:
			bad = fld.u != 0
		case sreg:
			bad = fld.u >= int(f.NRegs) || f.IsRef(fld.u)
		case rreg:
			bad = fld.u >= int(f.NRegs) || !f.IsRef(fld.u)
		case imm:
		case nzimm:
			bad = fld.s == 0
		case konst:
			bad = fld.u >= len(p.Consts)
		case str:
			bad = fld.u >= len(p.Strings)
		case sglobal:
			bad = fld.u >= int(p.NumGlobals) || bitSet(p.GlobalRefs, fld.u)
		case rglobal:
			bad = fld.u >= int(p.NumGlobals) || !bitSet(p.GlobalRefs, fld.u)
		case fwd:
			bad = fld.u <= pc || fld.u >= int(f.End)
		case back:
			bad = fld.u > pc || fld.u < int(f.Entry)
		case fn:
			bad = fld.u >= len(p.Funcs)
		case pformat:
			bad = fld.u > PrintBool
		case argwin, resreg:
			bad = fld.u >= int(f.NRegs) // the CALL check below covers the rest
		case esize:
		case nfields:
			bad = fld.u > maxFields
		case konst2:
			bad = fld.u+1 >= len(p.Consts)
		case fieldno:
			bad = fld.u >= maxFields
		case mapinfo:
			bad = fld.u&^mapInfoMask != 0
		case sreg2, sreg3:
			n := 2
			if fld.kind == sreg3 {
				n = 3
			}
			for r := fld.u; r < fld.u+n; r++ {
				bad = bad || r >= int(f.NRegs) || f.IsRef(r)
			}
		default:
			return fmt.Errorf("BUG: operand kind %d", fld.kind)
		}
		if bad {
			return fmt.Errorf("operand %s=%d is not a valid %s", name, fld.u, operandNames[fld.kind])
		}
	}
	switch op {
	case CALL, CALLF:
		callee := &p.Funcs[in.C()]
		if op == CALLF && (callee.NParams == 0 || !callee.IsRef(0) || in.A()+1 > int(f.NRegs) || !f.IsRef(in.A())) {
			return fmt.Errorf("closure call of the shape of %s: the closure must be a ref parameter 0", callee.Name)
		}
		a := in.A()
		if a+int(callee.NParams) > int(f.NRegs) {
			return fmt.Errorf("call of %s: argument window r%d+%d exceeds %d registers", callee.Name, a, callee.NParams, f.NRegs)
		}
		for i := 0; i < int(callee.NParams); i++ {
			if f.IsRef(a+i) != callee.IsRef(i) {
				return fmt.Errorf("call of %s: argument %d kind mismatch", callee.Name, i)
			}
		}
		for i, k := range callee.results() {
			r := in.B() + i
			if r >= int(f.NRegs) || k.IsRef() != f.IsRef(r) {
				return fmt.Errorf("call of %s: result register kind mismatch", callee.Name)
			}
		}
	case RETN:
		if len(f.Results) == 0 {
			return fmt.Errorf("multiple return from a function with %s result", f.Result)
		}
		for i, k := range f.Results {
			r := in.A() + i
			if r >= int(f.NRegs) || k.IsRef() != f.IsRef(r) {
				return fmt.Errorf("return of result %d: register kind mismatch", i)
			}
		}
	case EXT:
		if b := in.SC(); b == 0 || b > 63 || b < -63 {
			return fmt.Errorf("extension to %d bits", b)
		}
	case NEWSTRUCT:
		n := in.B()
		refMask, valMask := p.Consts[in.C()], p.Consts[in.C()+1]
		if n < 64 && refMask>>n != 0 || valMask&^refMask != 0 {
			return fmt.Errorf("struct masks %#x, %#x do not fit %d fields", refMask, valMask, n)
		}
	case RET:
		if f.Result == KindVoid || f.Result.IsRef() {
			return fmt.Errorf("scalar return from %s function", f.Result)
		}
	case RETR:
		if !f.Result.IsRef() {
			return fmt.Errorf("ref return from %s function", f.Result)
		}
	case RET0:
		if len(f.results()) != 0 {
			return fmt.Errorf("empty return from %s function", f.Result)
		}
	}
	return nil
}

// funcShapes gives each function an id of its shape: its parameter count,
// which parameters are refs and its result kinds. Two functions of one
// shape can be called from one call site: CALLF checks it.
func funcShapes(funcs []Func) []uint32 {
	ids := map[string]uint32{}
	shapes := make([]uint32, len(funcs))
	for i := range funcs {
		f := &funcs[i]
		key := make([]byte, 0, 16)
		key = binary.LittleEndian.AppendUint32(key, f.NParams)
		for r := 0; r < int(f.NParams); r++ {
			key = append(key, b2byte(f.IsRef(r)))
		}
		key = append(key, byte(f.Result))
		for _, k := range f.Results {
			key = append(key, byte(k))
		}
		id, ok := ids[string(key)]
		if !ok {
			id = uint32(len(ids))
			ids[string(key)] = id
		}
		shapes[i] = id
	}
	return shapes
}

func b2byte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// field is one operand of an instruction: its kind for the opcode and its
// value read unsigned (u) and signed (s).
type field struct {
	kind operand
	u    int
	s    int64
}

// fields returns the A, B and C operands of a known opcode.
func (in Instr) fields() [3]field {
	info := opInfo[in.Op()]
	return [3]field{{info.a, in.A(), int64(in.A())}, {info.b, in.B(), in.SB()}, {info.c, in.C(), in.SC()}}
}

var operandNames = [...]string{
	none: "unused (zero) field", sreg: "scalar register", rreg: "ref register",
	imm: "immediate", nzimm: "non-zero immediate", konst: "constant", str: "string constant",
	sglobal: "scalar global", rglobal: "ref global", fwd: "forward target", back: "backward target",
	fn: "function", pformat: "print format", argwin: "argument window", resreg: "result register",
	esize: "element size", sreg2: "pair of scalar registers", sreg3: "triple of scalar registers",
	nfields: "field count", konst2: "pair of constants", fieldno: "field index",
	mapinfo: "map kind",
}

// Program encoding, used for the content hash and to ship a program to a node
// that lacks it. Little-endian throughout:
//
//	"KNPG" version:u32 name:str entry:u32 nglobals:u32 globalrefs:[]u64
//	code:[]u64 pos:[](u32 u32) consts:[]u64 strings:[]str
//	funcs:[](name:str entry:u32 end:u32 nparams:u32 nregs:u32 result:u32 refregs:[]u64 results:[]u32)
//
// where []T is a u32 count followed by the elements and str is []byte.
const (
	programMagic   = "KNPG"
	ProgramVersion = 2
)

// MarshalBinary returns the canonical encoding of the program.
func (p *Program) MarshalBinary() []byte {
	var e enc
	e.b = append(e.b, programMagic...)
	e.u32(ProgramVersion)
	e.str(p.Name)
	e.u32(p.Entry)
	e.u32(p.NumGlobals)
	e.u64s(p.GlobalRefs)
	e.u32(uint32(len(p.Code)))
	for _, in := range p.Code {
		e.u64(uint64(in))
	}
	e.u32(uint32(len(p.Pos)))
	for _, ps := range p.Pos {
		e.u32(ps.Line)
		e.u32(ps.Col)
	}
	e.u64s(p.Consts)
	e.u32(uint32(len(p.Strings)))
	for _, s := range p.Strings {
		e.str(s)
	}
	e.u32(uint32(len(p.Funcs)))
	for i := range p.Funcs {
		f := &p.Funcs[i]
		e.str(f.Name)
		e.u32(f.Entry)
		e.u32(f.End)
		e.u32(f.NParams)
		e.u32(f.NRegs)
		e.u32(uint32(f.Result))
		e.u64s(f.RefRegs)
		e.u32(uint32(len(f.Results)))
		for _, k := range f.Results {
			e.u32(uint32(k))
		}
	}
	return e.b
}

// UnmarshalProgram decodes and validates a program encoded by MarshalBinary.
// It never panics, and allocates in proportion to len(b) only.
func UnmarshalProgram(b []byte) (*Program, error) {
	d := dec{b: b}
	if len(b) < 8 || string(b[:4]) != programMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrBadProgram)
	}
	d.off = 4
	if v := d.u32(); v != ProgramVersion {
		return nil, fmt.Errorf("%w: version mismatch: read %d, want %d", ErrBadProgram, v, ProgramVersion)
	}
	p := &Program{}
	p.Name = d.str()
	p.Entry = d.u32()
	p.NumGlobals = d.u32()
	p.GlobalRefs = d.u64s()
	if n := d.count(8); n >= 0 {
		p.Code = make([]Instr, n)
		for i := range p.Code {
			p.Code[i] = Instr(d.u64())
		}
	}
	if n := d.count(8); n >= 0 {
		p.Pos = make([]Pos, n)
		for i := range p.Pos {
			p.Pos[i] = Pos{d.u32(), d.u32()}
		}
	}
	p.Consts = d.u64s()
	if n := d.count(4); n >= 0 {
		p.Strings = make([]string, n)
		for i := range p.Strings {
			p.Strings[i] = d.str()
		}
	}
	if n := d.count(28); n >= 0 {
		p.Funcs = make([]Func, n)
		for i := range p.Funcs {
			f := &p.Funcs[i]
			f.Name = d.str()
			f.Entry, f.End, f.NParams, f.NRegs = d.u32(), d.u32(), d.u32(), d.u32()
			r := d.u32()
			if r >= uint32(numKinds) {
				d.fail("bad result kind")
			}
			f.Result = Kind(r)
			f.RefRegs = d.u64s()
			if n := d.count(4); n > 0 {
				f.Results = make([]Kind, n)
				for i := range f.Results {
					r := d.u32()
					if r >= uint32(numKinds) {
						d.fail("bad result kind")
					}
					f.Results[i] = Kind(r)
				}
			}
		}
	}
	if d.err == nil && d.off != len(b) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %w at offset %d", ErrBadProgram, d.err, d.off)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

type enc struct{ b []byte }

func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) str(s string) { e.u32(uint32(len(s))); e.b = append(e.b, s...) }
func (e *enc) u64s(v []uint64) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.u64(x)
	}
}

// dec reads little-endian values; after the first error every read returns 0.
type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s", msg)
	}
}

func (d *dec) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.b)-d.off < n {
		d.fail("truncated")
		return false
	}
	return true
}

func (d *dec) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *dec) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// count reads an element count and checks that the input could hold that many
// elements of at least minSize bytes, so a lying count cannot force a large
// allocation. It returns -1 after an error.
func (d *dec) count(minSize int) int {
	n := d.u32()
	if d.err != nil {
		return -1
	}
	if hi, lo := bits.Mul64(uint64(n), uint64(minSize)); hi != 0 || lo > uint64(len(d.b)-d.off) {
		d.fail("count exceeds input")
		return -1
	}
	return int(n)
}

func (d *dec) str() string {
	n := d.count(1)
	if n < 0 {
		return ""
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	return s
}

func (d *dec) u64s() []uint64 {
	n := d.count(8)
	if n < 0 {
		return nil
	}
	v := make([]uint64, n)
	for i := range v {
		v[i] = d.u64()
	}
	return v
}

// Disassemble writes a readable listing of the program.
func (p *Program) Disassemble(w io.Writer) error {
	ew := &errWriter{w: w}
	h := p.Hash()
	ew.printf("; program %s  hash %x  entry %s\n", p.Name, h[:8], p.funcName(int(p.Entry)))
	for i, k := range p.Consts {
		ew.printf("; k%d = %d (%g)\n", i, int64(k), math.Float64frombits(k))
	}
	for i, s := range p.Strings {
		ew.printf("; s%d = %q\n", i, s)
	}
	for g := 0; g < int(p.NumGlobals); g++ {
		kind := "scalar"
		if bitSet(p.GlobalRefs, g) {
			kind = "ref"
		}
		ew.printf("; g%d %s\n", g, kind)
	}
	for fi := range p.Funcs {
		f := &p.Funcs[fi]
		res := f.Result.String()
		if len(f.Results) > 0 {
			res = fmt.Sprint(f.Results)
		}
		ew.printf("\nfunc %s  params=%d regs=%d result=%s refs=%s\n", f.Name, f.NParams, f.NRegs, res, refList(f))
		for pc := f.Entry; pc < f.End && int(pc) < len(p.Code); pc++ {
			ew.printf("  %5d  %-8s %-28s", pc, p.Code[pc].Op(), p.operands(int(pc)))
			if ps := p.PosAt(int(pc)); ps.Line != 0 {
				ew.printf(" ; %d:%d", ps.Line, ps.Col)
			}
			ew.printf("\n")
		}
	}
	return ew.err
}

func refList(f *Func) string {
	s := ""
	for r := 0; r < int(f.NRegs); r++ {
		if f.IsRef(r) {
			if s != "" {
				s += ","
			}
			s += "r" + strconv.Itoa(r)
		}
	}
	if s == "" {
		return "-"
	}
	return s
}

func (p *Program) funcName(i int) string {
	if i >= 0 && i < len(p.Funcs) {
		return p.Funcs[i].Name
	}
	return "?" + strconv.Itoa(i)
}

func (p *Program) operands(pc int) string {
	in := p.Code[pc]
	op := in.Op()
	if op >= numOpcodes {
		return "?"
	}
	out := ""
	add := func(s string) {
		if out != "" {
			out += ", "
		}
		out += s
	}
	if op == CALL {
		return fmt.Sprintf("r%d <- %s(r%d..)", in.B(), p.funcName(in.C()), in.A())
	}
	if op == CALLF {
		return fmt.Sprintf("r%d <- r%d(r%d..) like %s", in.B(), in.A(), in.A(), p.funcName(in.C()))
	}
	for _, fld := range in.fields() {
		switch fld.kind {
		case none:
		case sreg, rreg:
			add("r" + strconv.Itoa(fld.u))
		case sreg2:
			add(fmt.Sprintf("r%d:r%d", fld.u, fld.u+1))
		case sreg3:
			add(fmt.Sprintf("r%d:r%d:r%d", fld.u, fld.u+1, fld.u+2))
		case esize:
			add(fmt.Sprintf("esize=%d", fld.u&elemSizeMask))
			if fld.u&elemsPointers != 0 {
				add("ptrs")
			}
		case imm, nzimm:
			add("#" + strconv.FormatInt(fld.s, 10))
		case konst:
			if fld.u < len(p.Consts) {
				k := p.Consts[fld.u]
				add(fmt.Sprintf("k%d(%d|%g)", fld.u, int64(k), math.Float64frombits(k)))
			} else {
				add("k" + strconv.Itoa(fld.u))
			}
		case str:
			if fld.u < len(p.Strings) {
				add(fmt.Sprintf("s%d(%.20q)", fld.u, p.Strings[fld.u]))
			} else {
				add("s" + strconv.Itoa(fld.u))
			}
		case sglobal, rglobal:
			add("g" + strconv.Itoa(fld.u))
		case fwd, back:
			add("->" + strconv.Itoa(fld.u))
		case fn:
			add(p.funcName(fld.u))
		case nfields:
			add(strconv.Itoa(fld.u) + " fields")
		case konst2:
			if fld.u+1 < len(p.Consts) {
				add(fmt.Sprintf("refs %#x values %#x", p.Consts[fld.u], p.Consts[fld.u+1]))
			}
		case fieldno:
			add("f" + strconv.Itoa(fld.u))
		case mapinfo:
			add(fmt.Sprintf("strings=%v refs=%v", fld.u&mapStringKeys != 0, fld.u&mapRefValues != 0))
		case pformat:
			add([...]string{"int", "float", "bool"}[min(fld.u, 2)])
		}
	}
	return out
}

type errWriter struct {
	w   io.Writer
	err error
}

func (ew *errWriter) printf(format string, args ...any) {
	if ew.err == nil {
		_, ew.err = fmt.Fprintf(ew.w, format, args...)
	}
}
