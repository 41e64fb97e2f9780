package lang

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"math"

	"github.com/knotencore/knoten/engine"
)

// Register kinds. A register is a scalar or a ref register for its whole
// function; a register that never gets a kind is a scalar.
const (
	kNone uint8 = iota
	kScalar
	kRef
)

// gen builds the program.
type gen struct {
	u      *unit
	info   *types.Info
	errs   *errorSink
	prog   *engine.Program
	consts map[uint64]int
	strs   map[string]int

	globals map[*types.Var]int        // global index of each package-level variable
	gpos    map[*types.Var]token.Pos  // where each global is declared: its var, or its spec in a group
	funcs   map[*types.Func]*funcInfo // user functions and methods
	pending []*funcInfo               // functions in index order, generated in that order
	printer []typedFunc               // the print function of each composite type

	boxed     map[*types.Var]bool // variables that live in cells (see vars.go)
	maskPairs map[[2]uint64]int   // struct masks in the constant pool (see masks)

	captures     map[*ast.FuncLit][]*types.Var // what each function literal captures
	lits         map[*ast.FuncLit]*funcInfo
	nlits        map[string]int // function literals so far in each function, for names
	thunks       map[*types.Func]*funcInfo
	methodThunks map[*types.Func]*funcInfo
	protos       map[string]*funcInfo // by shape
}

// typedFunc is a function the compiler made for a type.
type typedFunc struct {
	t  types.Type
	fi *funcInfo
}

// lookupTyped returns the function in list made for a type identical to t.
func lookupTyped(list []typedFunc, t types.Type) *funcInfo {
	for _, tf := range list {
		if types.Identical(tf.t, t) {
			return tf.fi
		}
	}
	return nil
}

// funcInfo is one function of the program.
type funcInfo struct {
	index int
	name  string
	decl  *ast.FuncDecl // a declared function or method
	sig   *types.Signature
	body  func(f *fgen) // a function the compiler makes (prints, <init>), with its sig
}

// limit reports a compile-time limit the program exceeds and stops.
func (g *gen) limit(pos token.Pos, format string, args ...any) {
	g.errs.add(g.u.fset.Position(pos), fmt.Sprintf(format, args...))
	panic(bailout{})
}

func (g *gen) konst(v uint64, pos token.Pos) int {
	return intern(g, g.consts, &g.prog.Consts, v, pos, "constants")
}

func (g *gen) str(s string, pos token.Pos) int {
	return intern(g, g.strs, &g.prog.Strings, s, pos, "string constants")
}

// intern returns v's index in pool, appending it the first time; index
// remembers where each value went. A pool holds at most engine.MaxC+1
// values, since C operands address it.
func intern[V comparable](g *gen, index map[V]int, pool *[]V, v V, pos token.Pos, what string) int {
	if k, ok := index[v]; ok {
		return k
	}
	if len(*pool) > engine.MaxC {
		g.limit(pos, "too many %s (limit %d)", what, engine.MaxC+1)
	}
	index[v] = len(*pool)
	*pool = append(*pool, v)
	return index[v]
}

// typeOf returns the type of e as the checker recorded it.
func (g *gen) typeOf(e ast.Expr) types.Type {
	tv, ok := g.info.Types[e]
	if !ok {
		panic(fmt.Sprintf("BUG: no type for %T at %v", e, g.u.fset.Position(e.Pos())))
	}
	return tv.Type
}

// constOf returns the constant value of e, or nil.
func (g *gen) constOf(e ast.Expr) constant.Value { return g.info.Types[e].Value }

// generate compiles a checked file. The entry function <init> is function
// 0; user functions and methods follow in declaration order.
func generate(u *unit, errs *errorSink) *engine.Program {
	g := &gen{u: u, info: u.info, errs: errs, consts: map[uint64]int{}, strs: map[string]int{},
		globals: map[*types.Var]int{}, gpos: map[*types.Var]token.Pos{}, funcs: map[*types.Func]*funcInfo{},
		maskPairs: map[[2]uint64]int{}, lits: map[*ast.FuncLit]*funcInfo{}, nlits: map[string]int{},
		thunks: map[*types.Func]*funcInfo{}, methodThunks: map[*types.Func]*funcInfo{}, protos: map[string]*funcInfo{}}
	g.analyze()
	g.prog = &engine.Program{Name: u.filename}
	// Globals, in declaration order.
	for _, d := range u.file.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			for _, id := range spec.(*ast.ValueSpec).Names {
				if v, ok := g.info.Defs[id].(*types.Var); ok {
					if len(g.globals) > engine.MaxC {
						g.limit(id.Pos(), "too many globals (limit %d)", engine.MaxC+1)
					}
					g.globals[v] = len(g.globals)
					g.gpos[v] = gd.Pos()
					if gd.Lparen.IsValid() {
						g.gpos[v] = spec.Pos()
					}
				}
			}
		}
	}
	g.analyzeClosures()
	g.prog.NumGlobals = uint32(len(g.globals))
	g.prog.GlobalRefs = make([]uint64, (len(g.globals)+63)/64)
	for v, i := range g.globals {
		if isRef(v.Type()) || g.boxed[v] {
			g.prog.GlobalRefs[i/64] |= 1 << (i % 64)
		}
	}
	// Functions: <init>, then the file's functions and methods.
	g.newFunc(&funcInfo{name: "<init>", body: g.initFunc})
	for _, d := range u.file.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name == "_" {
			continue
		}
		fn, _ := g.info.Defs[fd.Name].(*types.Func)
		if fn == nil {
			continue
		}
		name := fd.Name.Name
		if fd.Recv != nil {
			name = recvTypeName(fn) + "." + name
		}
		g.funcs[fn] = g.newFunc(&funcInfo{name: name, decl: fd, sig: fn.Type().(*types.Signature)})
	}
	for i := 0; i < len(g.pending); i++ {
		fi := g.pending[i]
		if fi.body != nil {
			f := g.newFgen(fi)
			f.openScope()
			fi.body(f)
			f.closeScope()
			continue
		}
		g.function(fi)
	}
	g.prog.Entry = 0
	return g.prog
}

// recvTypeName is the name of a method's receiver type, without a star.
func recvTypeName(fn *types.Func) string {
	t := fn.Type().(*types.Signature).Recv().Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := t.(*types.Named); ok {
		return n.Obj().Name()
	}
	return t.String()
}

// newFunc gives fi the next function index.
func (g *gen) newFunc(fi *funcInfo) *funcInfo {
	if len(g.prog.Funcs) > engine.MaxC {
		pos := token.NoPos
		if fi.decl != nil {
			pos = fi.decl.Pos()
		}
		g.limit(pos, "too many functions (limit %d)", engine.MaxC+1)
	}
	fi.index = len(g.prog.Funcs)
	g.prog.Funcs = append(g.prog.Funcs, engine.Func{Name: fi.name})
	g.pending = append(g.pending, fi)
	return fi
}

// initFunc generates <init>: the global initializers in the checker's
// initialization order, the init functions in source order, then main.
func (g *gen) initFunc(f *fgen) {
	// Every global first holds its zero value: a struct its object, a
	// variable that lives in a cell the cell.
	vars := make([]*types.Var, len(g.globals))
	for v, i := range g.globals {
		vars[i] = v
	}
	for i, v := range vars {
		if !isStruct(v.Type()) && !g.boxed[v] {
			continue
		}
		r := f.alloc(kRef)
		if g.boxed[v] {
			f.newCell(r, v.Type(), g.gpos[v])
		} else {
			f.newZero(r, v.Type(), g.gpos[v])
		}
		f.emit(engine.SETGR, r, 0, i, g.gpos[v])
		f.freeReg(r)
	}
	for _, in := range g.info.InitOrder {
		if len(in.Lhs) == 1 {
			v := in.Lhs[0]
			op := f.value(in.Rhs)
			if _, ok := g.globals[v]; ok && v.Name() != "_" {
				f.store(f.globalPlace(v), op.reg, g.gpos[v])
			}
			f.free(op)
			continue
		}
		call, ok := ast.Unparen(in.Rhs).(*ast.CallExpr)
		if !ok {
			panic("BUG: multi-value initializer is not a call")
		}
		base := f.callTuple(call)
		for i, v := range in.Lhs {
			if _, ok := g.globals[v]; ok && v.Name() != "_" {
				f.store(f.globalPlace(v), base+i, g.gpos[v])
			}
		}
		f.freeTuple(base, call)
	}
	var main *funcInfo
	for _, d := range g.u.file.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil {
			continue
		}
		fn, _ := g.info.Defs[fd.Name].(*types.Func)
		switch {
		case fd.Name.Name == "init":
			r := f.alloc(kNone)
			f.emit(engine.CALL, r, r, g.funcs[fn].index, fd.Name.Pos())
			f.freeReg(r)
		case fd.Name.Name == "main" && fn != nil && g.funcs[fn] != nil:
			main = g.funcs[fn]
		}
	}
	if main == nil {
		panic("BUG: no main")
	}
	pos := main.decl.Name.Pos()
	var result types.Type
	if main.sig.Results().Len() == 1 {
		result = main.sig.Results().At(0).Type()
	}
	k := kNone
	if result != nil {
		k = regKind(result)
	}
	base := f.alloc(k)
	f.emit(engine.CALL, base, base, main.index, pos)
	switch {
	case result == nil:
		f.emit(engine.RET0, 0, 0, 0, pos)
	case isRef(result):
		f.emit(engine.RETR, base, 0, 0, pos)
	default:
		f.emit(engine.RET, base, 0, 0, pos)
	}
	f.finish(0, result, nil)
}

// function generates a function or method declaration.
func (g *gen) function(fi *funcInfo) {
	d := fi.decl
	f := g.newFgen(fi)
	f.openScope()
	nparams := 0
	var params []*types.Var
	if d.Recv != nil {
		params = append(params, fi.sig.Recv())
	}
	for i := 0; i < fi.sig.Params().Len(); i++ {
		params = append(params, fi.sig.Params().At(i))
	}
	regs := make([]int, len(params))
	for i, p := range params {
		regs[i] = f.alloc(regKind(p.Type()))
		nparams++
	}
	for i, p := range params {
		if p.Name() != "" && p.Name() != "_" {
			f.declareVar(p, regs[i], d.Pos())
		}
	}
	f.body(d.Body, nparams)
	f.closeScope()
}

// body compiles a function's body after its parameters: its named results
// are locals that start at zero, and a body whose end is reachable gets a
// return there.
func (f *fgen) body(body *ast.BlockStmt, nparams int) {
	res := f.fi.sig.Results()
	for i := 0; i < res.Len(); i++ {
		if v := res.At(i); v.Name() != "" {
			r := f.alloc(regKind(v.Type()))
			f.zero(r, v.Type(), v.Pos())
			f.declareVar(v, r, v.Pos())
			f.named = append(f.named, v)
		}
	}
	f.stmts(body.List)
	if f.fallsThrough() {
		// The end is reachable only in functions without results, or with
		// named results (the checker reports a missing return otherwise);
		// Validate wants every function to end in a return.
		f.returnStmt(&ast.ReturnStmt{Return: body.Rbrace})
	}
	f.finish(nparams, nil, res)
}

// fgen generates one function.
type fgen struct {
	g       *gen
	fi      *funcInfo
	entry   int
	kinds   []uint8
	used    []bool
	scopes  [][]int // registers of the locals of each open block
	vars    map[*types.Var]int
	targets []*target // enclosing breakable statements, innermost last
	hoist   map[ast.Expr]int
	pools   []*constPool // per enclosing loop; nil for a loop without a condition
	named   []*types.Var // named results
	target  int          // pc that a bound label with jumps to it points at, else -1

	regIdents map[*ast.Ident]int // synthesized identifiers naming registers (see regExpr)
}

func (g *gen) newFgen(fi *funcInfo) *fgen {
	return &fgen{g: g, fi: fi, entry: len(g.prog.Code), vars: map[*types.Var]int{}, hoist: map[ast.Expr]int{}, target: -1,
		regIdents: map[*ast.Ident]int{}}
}

// finish seals the function's code into its entry of prog.Funcs. result
// is the type of a single result (<init>'s), or results the tuple.
func (f *fgen) finish(nparams int, result types.Type, results *types.Tuple) {
	p := f.g.prog
	fn := &p.Funcs[f.fi.index]
	fn.Entry = uint32(f.entry)
	fn.End = uint32(len(p.Code))
	fn.NParams = uint32(nparams)
	fn.NRegs = uint32(len(f.kinds))
	fn.RefRegs = make([]uint64, (len(f.kinds)+63)/64)
	for r, k := range f.kinds {
		if k == kRef {
			fn.RefRegs[r/64] |= 1 << (r % 64)
		}
	}
	switch {
	case result != nil:
		fn.Result = engineKind(result)
	case results != nil && results.Len() == 1:
		fn.Result = engineKind(results.At(0).Type())
	case results != nil && results.Len() > 1:
		for i := 0; i < results.Len(); i++ {
			fn.Results = append(fn.Results, engineKind(results.At(i).Type()))
		}
	}
}

// Emission.

func (f *fgen) emit(op engine.Opcode, a, b, c int, pos token.Pos) int {
	p := f.g.prog
	if len(p.Code) >= engine.MaxPCs {
		f.g.limit(pos, "program too large (limit %d instructions)", engine.MaxPCs)
	}
	p.Code = append(p.Code, engine.Encode(op, a, b, c))
	ps := f.g.u.fset.Position(pos)
	p.Pos = append(p.Pos, engine.Pos{Line: uint32(max(ps.Line, 0)), Col: uint32(max(ps.Column, 0))})
	return len(p.Code) - 1
}

// fallsThrough reports whether control can reach the current end of the code.
func (f *fgen) fallsThrough() bool {
	code := f.g.prog.Code
	n := len(code)
	if n == f.entry || f.target == n {
		return true
	}
	switch code[n-1].Op() {
	case engine.RET, engine.RETR, engine.RET0, engine.RETN, engine.JMP, engine.LOOP:
		return false
	}
	return true
}

// Registers.

// alloc returns the lowest free register that can hold kind k (kNone: a
// register that only ever receives zero, which suits either kind).
func (f *fgen) alloc(k uint8) int {
	for r := range f.used {
		if !f.used[r] && (k == kNone || f.kinds[r] == kNone || f.kinds[r] == k) {
			f.used[r] = true
			if k != kNone {
				f.kinds[r] = k
			}
			return r
		}
	}
	return f.grow(k)
}

func (f *fgen) grow(k uint8) int {
	if len(f.kinds) > engine.MaxA {
		f.g.limit(f.posHint(), "function %s needs too many registers (limit %d)", f.fi.name, engine.MaxA+1)
	}
	f.kinds = append(f.kinds, k)
	f.used = append(f.used, true)
	return len(f.kinds) - 1
}

func (f *fgen) posHint() token.Pos {
	if f.fi.decl != nil {
		return f.fi.decl.Pos()
	}
	return token.NoPos
}

// allocRun reserves consecutive free registers with the given kinds (kNone:
// any) and returns the first.
func (f *fgen) allocRun(ks []uint8) int {
	n := len(f.kinds)
	for base := 0; base <= n; base++ {
		ok := true
		for i, k := range ks {
			r := base + i
			if r >= n {
				break
			}
			if f.used[r] || k != kNone && f.kinds[r] != kNone && f.kinds[r] != k {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		for i, k := range ks {
			r := base + i
			if r >= len(f.kinds) {
				f.grow(k)
				continue
			}
			f.used[r] = true
			if k != kNone {
				f.kinds[r] = k
			}
		}
		return base
	}
	panic("BUG: allocRun found no window")
}

// operand is a register holding a value; temp registers belong to the
// operand and are freed with it.
type operand struct {
	reg  int
	temp bool
}

func (f *fgen) free(op operand) {
	if op.temp {
		f.used[op.reg] = false
	}
}

func (f *fgen) freeReg(r int) { f.used[r] = false }

func (f *fgen) openScope() { f.scopes = append(f.scopes, nil) }

func (f *fgen) closeScope() {
	for _, r := range f.scopes[len(f.scopes)-1] {
		f.freeReg(r)
	}
	f.scopes = f.scopes[:len(f.scopes)-1]
}

// declare makes r the register of local variable v until its scope closes.
func (f *fgen) declare(v *types.Var, r int) {
	f.vars[v] = r
	f.scopes[len(f.scopes)-1] = append(f.scopes[len(f.scopes)-1], r)
}

// Labels and jumps.

type label struct {
	pc   int // -1 until bound
	refs []int
}

func newLabel() *label { return &label{pc: -1} }

func (f *fgen) bind(l *label) { f.bindAt(l, len(f.g.prog.Code)) }

// bindAt binds l to pc, which may lie before the current end of the code
// but after every jump already emitted to l.
func (f *fgen) bindAt(l *label, pc int) {
	p := f.g.prog
	l.pc = pc
	for _, ref := range l.refs {
		if ref >= pc {
			panic("BUG: label bound before a jump to it")
		}
		in := p.Code[ref]
		p.Code[ref] = engine.Encode(in.Op(), in.A(), in.B(), l.pc)
	}
	if len(l.refs) > 0 && pc == len(p.Code) {
		f.target = pc
	}
	l.refs = nil
}

// jumpTo emits a jump instruction with l as its target; op must be a forward
// jump when l is unbound and a backward one when it is bound.
func (f *fgen) jumpTo(op engine.Opcode, a, b int, l *label, pos token.Pos) {
	if l.pc >= 0 {
		f.emit(op, a, b, l.pc, pos)
		return
	}
	l.refs = append(l.refs, f.emit(op, a, b, 0, pos))
}

// jmp jumps to l unconditionally.
func (f *fgen) jmp(l *label, pos token.Pos) {
	if l.pc >= 0 {
		f.jumpTo(engine.LOOP, 0, 0, l, pos)
	} else {
		f.jumpTo(engine.JMP, 0, 0, l, pos)
	}
}

func fits16(v int64) bool { return v >= engine.MinSB && v <= engine.MaxSB }
func fits24(v int64) bool { return v >= engine.MinSC && v <= engine.MaxSC }

// Constants.

func (f *fgen) loadInt(r int, v int64, pos token.Pos) {
	if fits24(v) {
		f.emit(engine.LOADI, r, 0, int(v), pos)
	} else {
		f.emit(engine.LOADK, r, 0, f.g.konst(uint64(v), pos), pos)
	}
}

// constBits returns the machine word of constant v of type t (a scalar).
func constBits(t types.Type, v constant.Value) uint64 {
	switch {
	case isBool(t):
		if constant.BoolVal(v) {
			return 1
		}
		return 0
	case isFloat(t):
		f, _ := constant.Float64Val(constant.ToFloat(v))
		return math.Float64bits(f)
	}
	i, ok := constant.Int64Val(constant.ToInt(v))
	if !ok {
		panic("BUG: integer constant out of range")
	}
	return uint64(i)
}

// loadConst loads constant v of type t into r.
func (f *fgen) loadConst(r int, t types.Type, v constant.Value, pos token.Pos) {
	if isString(t) {
		s := constant.StringVal(v)
		if s == "" {
			f.emit(engine.LOADNIL, r, 0, 0, pos)
		} else {
			f.emit(engine.SCONST, r, 0, f.g.str(s, pos), pos)
		}
		return
	}
	if isRef(t) { // nil
		f.emit(engine.LOADNIL, r, 0, 0, pos)
		return
	}
	bits := constBits(t, v)
	if isFloat(t) {
		if bits == 0 {
			f.emit(engine.LOADI, r, 0, 0, pos)
		} else {
			f.emit(engine.LOADK, r, 0, f.g.konst(bits, pos), pos)
		}
		return
	}
	f.loadInt(r, int64(bits), pos)
}

// zero loads the zero value of type t into r.
func (f *fgen) zero(r int, t types.Type, pos token.Pos) {
	if isStruct(t) {
		f.newZero(r, t, pos)
		return
	}
	if isRef(t) {
		f.emit(engine.LOADNIL, r, 0, 0, pos)
	} else {
		f.emit(engine.LOADI, r, 0, 0, pos)
	}
}

func (f *fgen) mov(dst, src int, t types.Type, pos token.Pos) {
	if dst == src {
		return
	}
	if isRef(t) {
		f.emit(engine.MOVR, dst, src, 0, pos)
	} else {
		f.emit(engine.MOV, dst, src, 0, pos)
	}
}

func (f *fgen) getGlobal(r, g int, t types.Type, pos token.Pos) {
	if isRef(t) {
		f.emit(engine.GETGR, r, 0, g, pos)
	} else {
		f.emit(engine.GETG, r, 0, g, pos)
	}
}

func (f *fgen) setGlobal(r, g int, t types.Type, pos token.Pos) {
	if isRef(t) {
		f.emit(engine.SETGR, r, 0, g, pos)
	} else {
		f.emit(engine.SETG, r, 0, g, pos)
	}
}
