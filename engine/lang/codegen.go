package lang

import (
	"fmt"
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

func kindOf(t Type) uint8 {
	if t.isRef() {
		return kRef
	}
	return kScalar
}

// gen builds the program.
type gen struct {
	c      *checker
	errs   *errorSink
	prog   *engine.Program
	consts map[uint64]int
	strs   map[string]int
}

func (g *gen) limit(pos Pos, format string, args ...any) {
	g.errs.errorf(pos, format, args...)
	panic(bailout{})
}

func (g *gen) konst(v uint64, pos Pos) int {
	return intern(g, g.consts, &g.prog.Consts, v, pos, "constants")
}

func (g *gen) str(s string, pos Pos) int {
	return intern(g, g.strs, &g.prog.Strings, s, pos, "string constants")
}

// intern returns v's index in pool, appending it the first time; index
// remembers where each value went. A pool holds at most engine.MaxC+1
// values, since C operands address it.
func intern[V comparable](g *gen, index map[V]int, pool *[]V, v V, pos Pos, what string) int {
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

// generate compiles a checked file. The entry function <init> is function
// 0; user functions follow in declaration order.
func generate(filename string, c *checker) *engine.Program {
	g := &gen{c: c, errs: c.errs, consts: map[uint64]int{}, strs: map[string]int{}}
	g.prog = &engine.Program{Name: filename}
	if len(c.globals) > engine.MaxC+1 {
		g.limit(c.globals[len(c.globals)-1].pos, "too many globals (limit %d)", engine.MaxC+1)
	}
	if len(c.funcs)+1 > engine.MaxC+1 {
		g.limit(c.funcs[len(c.funcs)-1].decl.FuncPos, "too many functions (limit %d)", engine.MaxC)
	}
	g.prog.NumGlobals = uint32(len(c.globals))
	g.prog.GlobalRefs = make([]uint64, (len(c.globals)+63)/64)
	for i, obj := range c.globals {
		if obj.typ.isRef() {
			g.prog.GlobalRefs[i/64] |= 1 << (i % 64)
		}
	}
	g.initFunc()
	for _, fo := range c.funcs {
		g.function(fo)
	}
	g.prog.Entry = 0
	return g.prog
}

// fgen generates one function.
type fgen struct {
	g      *gen
	name   string
	entry  int
	kinds  []uint8
	used   []bool
	scopes [][]int // registers of the locals of each open block
	loops  []loopLabels
	hoist  map[Expr]int
	pools  []*constPool // per enclosing loop; nil for a loop without a condition
	target int          // pc that a bound label with jumps to it points at, else -1
}

// constPool collects the constants a loop body needs in registers. Each gets
// a register never used before in the function, reserved until the loop
// ends, and loaded once in the loop's preheader.
type constPool struct {
	regs  map[constKey]int
	loads []pendingLoad
}

type constKey struct {
	t Type
	v constVal
}

type pendingLoad struct {
	reg int
	t   Type
	cv  *constVal
	pos Pos
}

// maxPooled bounds the registers one loop reserves for constants.
const maxPooled = 8

// pooled returns a register holding constant e for the innermost loop with a
// pool, if there is one with room.
func (f *fgen) pooled(e Expr) (int, bool) {
	var pool *constPool
	for i := len(f.pools) - 1; i >= 0 && pool == nil; i-- {
		pool = f.pools[i]
	}
	if pool == nil {
		return 0, false
	}
	inf := e.info()
	key := constKey{inf.typ, *inf.cv}
	if r, ok := pool.regs[key]; ok {
		return r, true
	}
	if len(pool.loads) == maxPooled {
		return 0, false
	}
	r := f.grow(kindOf(inf.typ))
	pool.regs[key] = r
	pool.loads = append(pool.loads, pendingLoad{r, inf.typ, inf.cv, e.Pos()})
	return r, true
}

type loopLabels struct{ brk, cont *label }

func (g *gen) newFgen(name string) *fgen {
	return &fgen{g: g, name: name, entry: len(g.prog.Code), hoist: map[Expr]int{}, target: -1}
}

// finish seals the function's code into prog.Funcs.
func (f *fgen) finish(nparams int, result Type) {
	p := f.g.prog
	fn := engine.Func{
		Name:    f.name,
		Entry:   uint32(f.entry),
		End:     uint32(len(p.Code)),
		NParams: uint32(nparams),
		NRegs:   uint32(len(f.kinds)),
		RefRegs: make([]uint64, (len(f.kinds)+63)/64),
		Result:  result.kind(),
	}
	for r, k := range f.kinds {
		if k == kRef {
			fn.RefRegs[r/64] |= 1 << (r % 64)
		}
	}
	p.Funcs = append(p.Funcs, fn)
}

func (g *gen) initFunc() {
	f := g.newFgen("<init>")
	for i, d := range g.c.gdecls {
		if d.Value == nil {
			continue // globals start zero
		}
		op := f.expr(d.Value)
		f.free(op)
		if d.obj.typ.isRef() {
			f.emit(engine.SETGR, op.reg, 0, i, d.VarPos)
		} else {
			f.emit(engine.SETG, op.reg, 0, i, d.VarPos)
		}
	}
	main := g.c.main
	pos := main.decl.Name.NamePos
	base := f.alloc(f.resultKind(main.result))
	f.emit(engine.CALL, base, base, main.index, pos)
	switch {
	case main.result.isVoid():
		f.emit(engine.RET0, 0, 0, 0, pos)
	case main.result.isRef():
		f.emit(engine.RETR, base, 0, 0, pos)
	default:
		f.emit(engine.RET, base, 0, 0, pos)
	}
	f.finish(0, main.result)
}

func (f *fgen) resultKind(t Type) uint8 {
	if t.isVoid() {
		return kNone
	}
	return kindOf(t)
}

func (g *gen) function(fo *funcObj) {
	d := fo.decl
	f := g.newFgen(fo.name)
	nparams := len(fo.params)
	f.openScope()
	for i, p := range d.Params {
		p.obj.reg = f.alloc(kindOf(fo.params[i]))
	}
	f.stmts(d.Body.List)
	f.closeScope()
	if f.fallsThrough() {
		// The end is reachable only in void functions (the checker reports
		// a missing return otherwise), but Validate wants every function
		// to end in a return, so give the others a zero result.
		pos := d.Body.Rbrace
		switch {
		case fo.result.isVoid():
			f.emit(engine.RET0, 0, 0, 0, pos)
		case fo.result.isRef():
			r := f.alloc(kRef)
			f.emit(engine.LOADNIL, r, 0, 0, pos)
			f.emit(engine.RETR, r, 0, 0, pos)
		default:
			r := f.alloc(kScalar)
			f.emit(engine.LOADI, r, 0, 0, pos)
			f.emit(engine.RET, r, 0, 0, pos)
		}
	}
	f.finish(nparams, fo.result)
}

// Emission.

func (f *fgen) emit(op engine.Opcode, a, b, c int, pos Pos) int {
	p := f.g.prog
	if len(p.Code) >= engine.MaxPCs {
		f.g.limit(pos, "program too large (limit %d instructions)", engine.MaxPCs)
	}
	p.Code = append(p.Code, engine.Encode(op, a, b, c))
	p.Pos = append(p.Pos, engine.Pos{Line: uint32(pos.Line), Col: uint32(pos.Col)})
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
	case engine.RET, engine.RETR, engine.RET0, engine.JMP, engine.LOOP:
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
		f.g.limit(f.posHint(), "function %s needs too many registers (limit %d)", f.name, engine.MaxA+1)
	}
	f.kinds = append(f.kinds, k)
	f.used = append(f.used, true)
	return len(f.kinds) - 1
}

func (f *fgen) posHint() Pos {
	if ps := f.g.prog.Pos; len(ps) > 0 {
		return Pos{int(ps[len(ps)-1].Line), int(ps[len(ps)-1].Col)}
	}
	return Pos{1, 1}
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

func (f *fgen) local(obj *object, r int) {
	obj.reg = r
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
func (f *fgen) jumpTo(op engine.Opcode, a, b int, l *label, pos Pos) {
	if l.pc >= 0 {
		f.emit(op, a, b, l.pc, pos)
		return
	}
	l.refs = append(l.refs, f.emit(op, a, b, 0, pos))
}

// jmp jumps to l unconditionally.
func (f *fgen) jmp(l *label, pos Pos) {
	if l.pc >= 0 {
		f.jumpTo(engine.LOOP, 0, 0, l, pos)
	} else {
		f.jumpTo(engine.JMP, 0, 0, l, pos)
	}
}

func fits16(v int64) bool { return v >= engine.MinSB && v <= engine.MaxSB }
func fits24(v int64) bool { return v >= engine.MinSC && v <= engine.MaxSC }

// negate returns the comparison that is true exactly when op is false (ints).
func negate(op token) token {
	switch op {
	case tEql:
		return tNeq
	case tNeq:
		return tEql
	case tLss:
		return tGeq
	case tGeq:
		return tLss
	case tLeq:
		return tGtr
	case tGtr:
		return tLeq
	}
	panic("BUG: negate " + op.String())
}

// mirror returns op with its operands swapped: a op b == b mirror(op) a.
func mirror(op token) token {
	switch op {
	case tLss:
		return tGtr
	case tGtr:
		return tLss
	case tLeq:
		return tGeq
	case tGeq:
		return tLeq
	}
	return op
}

// branch emits code that jumps to l when cond evaluates to want and falls
// through otherwise. It uses fused compare-and-branch instructions where it
// can; a bound l means a backward jump.
func (f *fgen) branch(cond Expr, want bool, l *label) {
	cond = unparen(cond)
	if cv := cond.info().cv; cv != nil {
		if _, hoisted := f.hoist[cond]; !hoisted {
			if cv.b == want {
				f.jmp(l, cond.Pos())
			}
			return
		}
	}
	switch e := cond.(type) {
	case *UnaryExpr:
		if e.Op == tNot {
			f.branch(e.X, !want, l)
			return
		}
	case *BinaryExpr:
		switch e.Op {
		case tLAnd, tLOr:
			if (e.Op == tLAnd) == want {
				skip := newLabel()
				f.branch(e.X, !want, skip)
				f.branch(e.Y, want, l)
				f.bind(skip)
			} else {
				f.branch(e.X, want, l)
				f.branch(e.Y, want, l)
			}
			return
		case tEql, tNeq, tLss, tLeq, tGtr, tGeq:
			t := e.X.info().typ
			if t.isInt() || t.isBool() {
				op := e.Op
				if !want {
					op = negate(op)
				}
				f.cmpJump(op, e.X, e.Y, l, e.OpPos)
				return
			}
		}
	}
	r := f.expr(cond)
	f.free(r)
	f.testJump(r.reg, want, l, cond.Pos())
}

// testJump jumps to l when register r (a bool) equals want.
func (f *fgen) testJump(r int, want bool, l *label, pos Pos) {
	switch {
	case l.pc < 0 && want:
		f.jumpTo(engine.JT, r, 0, l, pos)
	case l.pc < 0:
		f.jumpTo(engine.JF, r, 0, l, pos)
	case want:
		f.jumpTo(engine.LOOPT, r, 0, l, pos)
	default:
		skip := newLabel()
		f.jumpTo(engine.JT, r, 0, skip, pos)
		f.jmp(l, pos)
		f.bind(skip)
	}
}

// smallConst returns the value of e as an int (bools as 0 or 1) when e is a
// constant that fits a 16-bit immediate and is not hoisted into a register.
func (f *fgen) smallConst(e Expr) (int64, bool) {
	e = unparen(e)
	cv := e.info().cv
	if cv == nil {
		return 0, false
	}
	if _, hoisted := f.hoist[e]; hoisted {
		return 0, false
	}
	v := cv.i
	if e.info().typ.isBool() {
		v = 0
		if cv.b {
			v = 1
		}
	}
	return v, fits16(v)
}

var kJumps = map[token]engine.Opcode{
	tEql: engine.JEQK, tNeq: engine.JNEK, tLss: engine.JLTK, tLeq: engine.JLEK, tGtr: engine.JGTK, tGeq: engine.JGEK,
}

// cmpJump jumps to l when x op y holds, for int or bool operands.
func (f *fgen) cmpJump(op token, x, y Expr, l *label, pos Pos) {
	if k, ok := f.smallConst(y); ok {
		f.kJump(op, x, k, l, pos)
		return
	}
	if k, ok := f.smallConst(x); ok {
		f.kJump(mirror(op), y, k, l, pos)
		return
	}
	xr := f.expr(x)
	yr := f.expr(y)
	f.free(yr)
	f.free(xr)
	a, b := xr.reg, yr.reg
	if op == tGtr || op == tGeq {
		op, a, b = mirror(op), b, a
	}
	if l.pc < 0 {
		f.jumpTo(map[token]engine.Opcode{tEql: engine.JEQ, tNeq: engine.JNE, tLss: engine.JLT, tLeq: engine.JLE}[op], a, b, l, pos)
		return
	}
	switch op {
	case tLss:
		f.jumpTo(engine.LOOPLT, a, b, l, pos)
	case tLeq:
		f.jumpTo(engine.LOOPLE, a, b, l, pos)
	default:
		skip := newLabel()
		f.jumpTo(map[token]engine.Opcode{tEql: engine.JNE, tNeq: engine.JEQ}[op], a, b, skip, pos)
		f.jmp(l, pos)
		f.bind(skip)
	}
}

func (f *fgen) kJump(op token, x Expr, k int64, l *label, pos Pos) {
	xr := f.expr(x)
	f.free(xr)
	if l.pc < 0 {
		f.jumpTo(kJumps[op], xr.reg, int(k), l, pos)
		return
	}
	skip := newLabel()
	f.jumpTo(kJumps[negate(op)], xr.reg, int(k), skip, pos)
	f.jmp(l, pos)
	f.bind(skip)
}

// hoistCond loads the constant operands of the ordered int comparisons that
// a bottom-tested loop condition branches back on into registers before the
// loop, so that the loop closes with one LOOPLT or LOOPLE. It returns the
// registers to free after the loop.
func (f *fgen) hoistCond(cond Expr, regs []int) []int {
	switch e := unparen(cond).(type) {
	case *BinaryExpr:
		switch e.Op {
		case tLAnd:
			return f.hoistCond(e.Y, regs)
		case tLOr:
			return f.hoistCond(e.Y, f.hoistCond(e.X, regs))
		case tLss, tLeq, tGtr, tGeq:
			if !e.X.info().typ.isInt() || e.cv != nil {
				return regs
			}
			x, y := unparen(e.X), unparen(e.Y)
			for _, side := range []Expr{x, y} {
				if cv := side.info().cv; cv != nil {
					r := f.alloc(kScalar)
					f.loadInt(r, cv.i, side.Pos())
					f.hoist[side] = r
					regs = append(regs, r)
				}
			}
		}
	}
	return regs
}

// Statements.

func (f *fgen) stmts(list []Stmt) {
	for _, s := range list {
		f.stmt(s)
	}
}

func (f *fgen) stmt(s Stmt) {
	switch s := s.(type) {
	case *VarDecl:
		f.varDecl(s)
	case *ConstDecl, *EmptyStmt:
	case *AssignStmt:
		f.assign(s.Lhs, s.Op, s.Rhs, s.OpPos)
	case *IncDecStmt:
		t := s.X.info().typ
		one := &BasicLit{ValuePos: s.OpPos, Kind: tInt}
		one.typ, one.cv = t, &constVal{i: 1, f: 1}
		op := tAddAssign
		if !s.Inc {
			op = tSubAssign
		}
		f.assign(s.X, op, one, s.OpPos)
	case *ExprStmt:
		f.exprStmt(s.X)
	case *BlockStmt:
		f.openScope()
		f.stmts(s.List)
		f.closeScope()
	case *IfStmt:
		f.ifStmt(s)
	case *ForStmt:
		f.forStmt(s)
	case *BranchStmt:
		if len(f.loops) == 0 {
			panic("BUG: branch outside loop")
		}
		lp := f.loops[len(f.loops)-1]
		if s.Tok == tBreak {
			f.jmp(lp.brk, s.TokPos)
		} else {
			f.jmp(lp.cont, s.TokPos)
		}
	case *ReturnStmt:
		if s.Result == nil {
			f.emit(engine.RET0, 0, 0, 0, s.ReturnPos)
			return
		}
		op := f.expr(s.Result)
		f.free(op)
		if s.Result.info().typ.isRef() {
			f.emit(engine.RETR, op.reg, 0, 0, s.ReturnPos)
		} else {
			f.emit(engine.RET, op.reg, 0, 0, s.ReturnPos)
		}
	default:
		panic(fmt.Sprintf("BUG: statement %T", s))
	}
}

func (f *fgen) varDecl(s *VarDecl) {
	t := s.obj.typ
	if s.Value == nil {
		r := f.alloc(kindOf(t))
		f.zero(r, t, s.VarPos)
		f.local(s.obj, r)
		return
	}
	op := f.expr(s.Value)
	r := op.reg
	if !op.temp {
		r = f.alloc(kindOf(t))
		f.mov(r, op.reg, t, s.VarPos)
	}
	f.local(s.obj, r)
}

func (f *fgen) zero(r int, t Type, pos Pos) {
	if t.isRef() {
		f.emit(engine.LOADNIL, r, 0, 0, pos)
	} else {
		f.emit(engine.LOADI, r, 0, 0, pos)
	}
}

func (f *fgen) mov(dst, src int, t Type, pos Pos) {
	if dst == src {
		return
	}
	if t.isRef() {
		f.emit(engine.MOVR, dst, src, 0, pos)
	} else {
		f.emit(engine.MOV, dst, src, 0, pos)
	}
}

// regExpr is a value already in a register, used to build compound
// assignments out of ordinary binary expressions.
type regExpr struct {
	exprInfo
	reg int
	pos Pos
}

func (e *regExpr) Pos() Pos { return e.pos }

// assign compiles lhs op rhs for = and the compound operators.
func (f *fgen) assign(lhs Expr, op token, rhs Expr, pos Pos) {
	lhs = unparen(lhs)
	t := lhs.info().typ
	// value builds the expression to store; x is the current value.
	value := func(x Expr) Expr {
		if op == tAssign {
			return rhs
		}
		b := &BinaryExpr{X: x, OpPos: pos, Op: assignOps[op], Y: rhs}
		b.typ = t
		return b
	}
	switch x := lhs.(type) {
	case *Ident:
		if x.obj.global < 0 {
			v := value(x)
			if _, lit := unparen(v).(*CompositeLit); lit {
				// The literal's elements are stored after the new array is
				// created; they might read the variable's old value.
				op := f.expr(v)
				f.free(op)
				f.mov(x.obj.reg, op.reg, t, pos)
				return
			}
			f.exprTo(v, x.obj.reg)
			return
		}
		var v Expr = rhs
		if op != tAssign {
			r := f.alloc(kindOf(t))
			f.getGlobal(r, x.obj, x.NamePos)
			v = value(&regExpr{exprInfo: exprInfo{typ: t}, reg: r, pos: x.NamePos})
			f.exprTo(v, r)
			f.setGlobal(r, x.obj, pos)
			f.freeReg(r)
			return
		}
		val := f.expr(v)
		f.free(val)
		f.setGlobal(val.reg, x.obj, pos)
	case *IndexExpr:
		arr := f.expr(x.X)
		idx := f.expr(x.Index)
		var val operand
		if op == tAssign {
			val = f.expr(rhs)
		} else {
			r := f.alloc(kindOf(t))
			f.aget(r, arr.reg, idx.reg, t, x.Lbrack)
			f.exprTo(value(&regExpr{exprInfo: exprInfo{typ: t}, reg: r, pos: x.Lbrack}), r)
			val = operand{r, true}
		}
		if t.isRef() {
			f.emit(engine.ASETR, arr.reg, idx.reg, val.reg, x.Lbrack)
		} else {
			f.emit(engine.ASET, arr.reg, idx.reg, val.reg, x.Lbrack)
		}
		f.free(val)
		f.free(idx)
		f.free(arr)
	default:
		panic(fmt.Sprintf("BUG: assignment to %T", lhs))
	}
}

func (f *fgen) getGlobal(r int, obj *object, pos Pos) {
	if obj.typ.isRef() {
		f.emit(engine.GETGR, r, 0, obj.global, pos)
	} else {
		f.emit(engine.GETG, r, 0, obj.global, pos)
	}
}

func (f *fgen) setGlobal(r int, obj *object, pos Pos) {
	if obj.typ.isRef() {
		f.emit(engine.SETGR, r, 0, obj.global, pos)
	} else {
		f.emit(engine.SETG, r, 0, obj.global, pos)
	}
}

func (f *fgen) aget(dst, arr, idx int, elem Type, pos Pos) {
	if elem.isRef() {
		f.emit(engine.AGETR, dst, arr, idx, pos)
	} else {
		f.emit(engine.AGET, dst, arr, idx, pos)
	}
}

func (f *fgen) exprStmt(e Expr) {
	call, ok := unparen(e).(*CallExpr)
	if !ok {
		panic("BUG: expression statement is not a call")
	}
	if r := f.call(call, -1); r >= 0 {
		f.freeReg(r)
	}
}

func (f *fgen) ifStmt(s *IfStmt) {
	f.openScope()
	if s.Init != nil {
		f.stmt(s.Init)
	}
	els, end := newLabel(), newLabel()
	f.branch(s.Cond, false, els)
	f.stmt(s.Then)
	if s.Else != nil {
		if f.fallsThrough() {
			f.jmp(end, s.Then.Rbrace)
		}
		f.bind(els)
		f.stmt(s.Else)
	} else {
		f.bind(els)
	}
	f.bind(end)
	f.closeScope()
}

// forStmt compiles a loop with its test at the bottom:
//
//	init; [hoisted bounds]; JMP test; top: body; cont: post; test: branch-if-true top; brk:
//
// so that one iteration of a counting loop costs the body plus an ADDK and
// a LOOPLT. A loop without a condition closes with LOOP. Constants that the
// body needs in registers are loaded once, in a preheader after the loop,
// since they are known only once the body is compiled:
//
//	init; JMP pre; top: ...; test: branch-if-true top; JMP brk; pre: loads; LOOP test; brk:
func (f *fgen) forStmt(s *ForStmt) {
	f.openScope()
	if s.Init != nil {
		f.stmt(s.Init)
	}
	var hoisted []int
	top, test, entry := newLabel(), newLabel(), newLabel()
	lp := loopLabels{brk: newLabel(), cont: newLabel()}
	var pool *constPool
	if s.Cond != nil {
		hoisted = f.hoistCond(s.Cond, nil)
		f.jmp(entry, s.ForPos)
		pool = &constPool{regs: map[constKey]int{}}
	}
	f.pools = append(f.pools, pool)
	f.bind(top)
	f.loops = append(f.loops, lp)
	f.stmt(s.Body)
	f.loops = f.loops[:len(f.loops)-1]
	f.bind(lp.cont)
	if s.Post != nil {
		f.stmt(s.Post)
	}
	f.bind(test)
	if s.Cond != nil {
		f.branch(s.Cond, true, top)
		if len(pool.loads) == 0 {
			f.bindAt(entry, test.pc)
		}
	} else {
		f.jmp(top, s.ForPos)
	}
	f.pools = f.pools[:len(f.pools)-1]
	if pool != nil && len(pool.loads) > 0 {
		f.jmp(lp.brk, s.ForPos)
		f.bind(entry)
		for _, ld := range pool.loads {
			f.loadConst(ld.reg, ld.t, ld.cv, ld.pos)
		}
		f.jmp(test, s.ForPos)
		for _, ld := range pool.loads {
			f.freeReg(ld.reg)
		}
	}
	f.bind(lp.brk)
	for _, r := range hoisted {
		f.freeReg(r)
	}
	f.closeScope()
}

// Expressions.

// expr compiles e into some register: a local's own register when e is a
// local variable (or a hoisted constant), else a fresh temp.
func (f *fgen) expr(e Expr) operand {
	e = unparen(e)
	if r, ok := f.hoist[e]; ok {
		return operand{r, false}
	}
	if e.info().cv != nil {
		if r, ok := f.pooled(e); ok {
			return operand{r, false}
		}
	}
	switch x := e.(type) {
	case *Ident:
		if x.cv == nil && x.obj.global < 0 {
			return operand{x.obj.reg, false}
		}
	case *regExpr:
		return operand{x.reg, false}
	case *CallExpr:
		if x.cv == nil && isUserCall(x) {
			return operand{f.call(x, -1), true}
		}
	}
	return operand{f.compute(e, -1), true}
}

func isUserCall(e *CallExpr) bool {
	id, ok := unparen(e.Fun).(*Ident)
	return ok && id.obj != nil && id.obj.kind == objFunc
}

// exprTo compiles e into register dst. Every form reads all of its operands
// before it first writes dst, except array literals, so dst may be one of
// the variables e reads.
func (f *fgen) exprTo(e Expr, dst int) {
	e = unparen(e)
	op := f.expr0(e, dst)
	if op != dst {
		f.mov(dst, op, e.info().typ, e.Pos())
	}
}

// expr0 compiles e into dst if it can do so directly, returning the
// register that holds the value.
func (f *fgen) expr0(e Expr, dst int) int {
	if r, ok := f.hoist[e]; ok {
		return r
	}
	switch x := e.(type) {
	case *Ident:
		if x.cv == nil && x.obj.global < 0 {
			return x.obj.reg
		}
	case *regExpr:
		return x.reg
	}
	return f.compute(e, dst)
}

// dest returns dst, or a fresh temp of kind k when dst < 0.
func (f *fgen) dest(dst int, k uint8) int {
	if dst >= 0 {
		return dst
	}
	return f.alloc(k)
}

// compute evaluates e into dst (a fresh temp if dst < 0) and returns the
// register. e is not a local variable.
func (f *fgen) compute(e Expr, dst int) int {
	t := e.info().typ
	if cv := e.info().cv; cv != nil {
		d := f.dest(dst, kindOf(t))
		f.loadConst(d, t, cv, e.Pos())
		return d
	}
	switch x := e.(type) {
	case *Ident:
		d := f.dest(dst, kindOf(t))
		f.getGlobal(d, x.obj, x.NamePos)
		return d
	case *UnaryExpr:
		return f.unary(x, dst)
	case *BinaryExpr:
		return f.binary(x, dst)
	case *IndexExpr:
		a := f.expr(x.X)
		i := f.expr(x.Index)
		f.free(i)
		f.free(a)
		d := f.dest(dst, kindOf(t))
		if x.X.info().typ.isString() {
			f.emit(engine.SGET, d, a.reg, i.reg, x.Lbrack)
		} else {
			f.aget(d, a.reg, i.reg, t, x.Lbrack)
		}
		return d
	case *CallExpr:
		return f.call(x, dst)
	case *CompositeLit:
		return f.compositeLit(x, dst)
	}
	panic(fmt.Sprintf("BUG: compute %T", e))
}

func (f *fgen) loadInt(r int, v int64, pos Pos) {
	if fits24(v) {
		f.emit(engine.LOADI, r, 0, int(v), pos)
	} else {
		f.emit(engine.LOADK, r, 0, f.g.konst(uint64(v), pos), pos)
	}
}

func (f *fgen) loadConst(r int, t Type, cv *constVal, pos Pos) {
	switch {
	case t.isInt():
		f.loadInt(r, cv.i, pos)
	case t.isFloat():
		bits := math.Float64bits(cv.f)
		if bits == 0 {
			f.emit(engine.LOADI, r, 0, 0, pos)
		} else {
			f.emit(engine.LOADK, r, 0, f.g.konst(bits, pos), pos)
		}
	case t.isBool():
		v := 0
		if cv.b {
			v = 1
		}
		f.emit(engine.LOADI, r, 0, v, pos)
	case t.isString():
		if cv.s == "" {
			f.emit(engine.LOADNIL, r, 0, 0, pos)
		} else {
			f.emit(engine.SCONST, r, 0, f.g.str(cv.s, pos), pos)
		}
	default:
		panic("BUG: constant of type " + t.String())
	}
}

func (f *fgen) unary(e *UnaryExpr, dst int) int {
	t := e.typ
	switch e.Op {
	case tAdd:
		x := f.expr(e.X)
		f.free(x)
		d := f.dest(dst, kScalar)
		f.mov(d, x.reg, t, e.OpPos)
		return d
	case tSub, tNot:
		x := f.expr(e.X)
		f.free(x)
		d := f.dest(dst, kScalar)
		op := engine.NEG
		if t.isFloat() {
			op = engine.FNEG
		} else if e.Op == tNot {
			op = engine.NOT
		}
		f.emit(op, d, x.reg, 0, e.OpPos)
		return d
	case tXor:
		x := f.expr(e.X)
		m := f.alloc(kScalar)
		f.loadInt(m, -1, e.OpPos)
		f.freeReg(m)
		f.free(x)
		d := f.dest(dst, kScalar)
		f.emit(engine.XOR, d, x.reg, m, e.OpPos)
		return d
	}
	panic("BUG: unary " + e.Op.String())
}

var intOps = map[token]engine.Opcode{
	tAdd: engine.ADD, tSub: engine.SUB, tMul: engine.MUL, tQuo: engine.DIV, tRem: engine.MOD,
	tAnd: engine.AND, tOr: engine.OR, tXor: engine.XOR, tShl: engine.SHL, tShr: engine.SHR,
}

var floatOps = map[token]engine.Opcode{
	tAdd: engine.FADD, tSub: engine.FSUB, tMul: engine.FMUL, tQuo: engine.FDIV,
}

// immOp returns the immediate form of x op k for ints, if there is one.
func immOp(op token, k int64) (engine.Opcode, int64, bool) {
	switch op {
	case tAdd:
		return engine.ADDK, k, fits24(k)
	case tSub:
		return engine.ADDK, -k, k != math.MinInt64 && fits24(-k)
	case tMul:
		return engine.MULK, k, fits24(k)
	case tQuo:
		return engine.DIVK, k, k != 0 && fits24(k)
	case tRem:
		return engine.MODK, k, k != 0 && fits24(k)
	}
	return 0, 0, false
}

func (f *fgen) binary(e *BinaryExpr, dst int) int {
	xt := e.X.info().typ
	switch e.Op {
	case tLAnd, tLOr:
		// Short circuit: branch on the whole condition, then materialize.
		d := f.dest(dst, kScalar)
		fls, end := newLabel(), newLabel()
		f.branch(e, false, fls)
		f.emit(engine.LOADI, d, 0, 1, e.OpPos)
		f.jmp(end, e.OpPos)
		f.bind(fls)
		f.emit(engine.LOADI, d, 0, 0, e.OpPos)
		f.bind(end)
		return d
	case tEql, tNeq, tLss, tLeq, tGtr, tGeq:
		return f.compare(e, dst)
	}
	if xt.isInt() {
		if cv := unparen(e.Y).info().cv; cv != nil {
			if op, k, ok := immOp(e.Op, cv.i); ok {
				x := f.expr(e.X)
				f.free(x)
				d := f.dest(dst, kScalar)
				f.emit(op, d, x.reg, int(k), e.OpPos)
				return d
			}
		}
		if cv := unparen(e.X).info().cv; cv != nil && (e.Op == tAdd || e.Op == tMul) {
			if op, k, ok := immOp(e.Op, cv.i); ok {
				y := f.expr(e.Y)
				f.free(y)
				d := f.dest(dst, kScalar)
				f.emit(op, d, y.reg, int(k), e.OpPos)
				return d
			}
		}
	}
	x := f.expr(e.X)
	y := f.expr(e.Y)
	f.free(y)
	f.free(x)
	var op engine.Opcode
	switch {
	case xt.isInt():
		op = intOps[e.Op]
	case xt.isFloat():
		op = floatOps[e.Op]
	case xt.isString() && e.Op == tAdd:
		d := f.dest(dst, kRef)
		f.emit(engine.CONCAT, d, x.reg, y.reg, e.OpPos)
		return d
	default:
		panic("BUG: binary " + e.Op.String() + " on " + xt.String())
	}
	d := f.dest(dst, kScalar)
	f.emit(op, d, x.reg, y.reg, e.OpPos)
	return d
}

// compare materializes a comparison as a bool.
func (f *fgen) compare(e *BinaryExpr, dst int) int {
	t := e.X.info().typ
	x := f.expr(e.X)
	y := f.expr(e.Y)
	f.free(y)
	f.free(x)
	d := f.dest(dst, kScalar)
	a, b := x.reg, y.reg
	op := e.Op
	if op == tGtr || op == tGeq {
		op, a, b = mirror(op), b, a
	}
	var code engine.Opcode
	not := false
	switch {
	case t.isInt() || t.isBool():
		code = map[token]engine.Opcode{tEql: engine.EQ, tNeq: engine.NE, tLss: engine.LT, tLeq: engine.LE}[op]
	case t.isFloat():
		code = map[token]engine.Opcode{tEql: engine.FEQ, tNeq: engine.FNE, tLss: engine.FLT, tLeq: engine.FLE}[op]
	case t.isString():
		code = map[token]engine.Opcode{tEql: engine.SEQ, tNeq: engine.SEQ, tLss: engine.SLT, tLeq: engine.SLE}[op]
		not = op == tNeq
	default:
		panic("BUG: compare " + t.String())
	}
	f.emit(code, d, a, b, e.OpPos)
	if not {
		f.emit(engine.NOT, d, d, 0, e.OpPos)
	}
	return d
}

// call compiles a call of a user function, builtin or conversion. For user
// functions the arguments go to a fresh run of consecutive registers (the
// callee's window follows the caller's, so they need not be the highest
// ones) and the result goes straight to dst when dst >= 0. It returns the
// register holding the result, or -1 for no result.
func (f *fgen) call(e *CallExpr, dst int) int {
	id, _ := unparen(e.Fun).(*Ident)
	if id == nil || id.obj == nil {
		panic("BUG: call of non-identifier")
	}
	switch id.obj.kind {
	case objType:
		return f.conversion(e, id.obj.typ, dst)
	case objBuiltin:
		return f.builtin(e, id.obj.builtin, dst)
	}
	fo := id.obj.fn
	ks := make([]uint8, len(fo.params))
	for i, t := range fo.params {
		ks[i] = kindOf(t)
	}
	base := -1
	if len(ks) > 0 {
		base = f.allocRun(ks)
	}
	for i, a := range e.Args {
		f.exprTo(a, base+i)
	}
	// The result register: the destination if there is one, else the
	// first argument register when its kind fits, else a fresh temp. A void
	// call still names one; the engine zeroes it, so it must be free.
	res := dst
	if res < 0 {
		switch {
		case base >= 0 && (fo.result.isVoid() || ks[0] == kindOf(fo.result)):
			res = base
		default:
			res = f.alloc(f.resultKind(fo.result))
		}
	}
	if base < 0 {
		base = res // no arguments: A only has to name a register
	}
	f.emit(engine.CALL, base, res, fo.index, e.Fun.Pos())
	for i := range ks {
		if base+i != res {
			f.freeReg(base + i)
		}
	}
	if fo.result.isVoid() {
		if res != dst {
			f.freeReg(res)
		}
		return -1
	}
	return res
}

func (f *fgen) conversion(e *CallExpr, to Type, dst int) int {
	arg := e.Args[0]
	from := arg.info().typ
	x := f.expr(arg)
	f.free(x)
	d := f.dest(dst, kindOf(to))
	switch {
	case from == to:
		f.mov(d, x.reg, to, e.Lparen)
	case from.isFloat() && to.isInt():
		f.emit(engine.FTOI, d, x.reg, 0, e.Lparen)
	case from.isInt() && to.isFloat():
		f.emit(engine.ITOF, d, x.reg, 0, e.Lparen)
	default:
		panic("BUG: conversion")
	}
	return d
}

func (f *fgen) builtin(e *CallExpr, id builtinID, dst int) int {
	pos := e.Fun.Pos()
	switch id {
	case bLen:
		x := f.expr(e.Args[0])
		f.free(x)
		d := f.dest(dst, kScalar)
		f.emit(engine.LEN, d, x.reg, 0, pos)
		return d
	case bSqrt:
		x := f.expr(e.Args[0])
		f.free(x)
		d := f.dest(dst, kScalar)
		f.emit(engine.SQRT, d, x.reg, 0, pos)
		return d
	case bStr:
		t := e.Args[0].info().typ
		if t.isString() {
			x := f.expr(e.Args[0])
			f.free(x)
			d := f.dest(dst, kRef)
			f.mov(d, x.reg, t, pos)
			return d
		}
		if t.isBool() {
			d := f.dest(dst, kRef)
			fls, end := newLabel(), newLabel()
			f.branch(e.Args[0], false, fls)
			f.emit(engine.SCONST, d, 0, f.g.str("true", pos), pos)
			f.jmp(end, pos)
			f.bind(fls)
			f.emit(engine.SCONST, d, 0, f.g.str("false", pos), pos)
			f.bind(end)
			return d
		}
		x := f.expr(e.Args[0])
		f.free(x)
		d := f.dest(dst, kRef)
		if t.isFloat() {
			f.emit(engine.FTOS, d, x.reg, 0, pos)
		} else {
			f.emit(engine.ITOS, d, x.reg, 0, pos)
		}
		return d
	case bMake:
		t := e.typ
		n := f.expr(e.Args[1])
		f.free(n)
		d := f.dest(dst, kRef)
		if t.elem().isRef() {
			f.emit(engine.NEWARRR, d, n.reg, 0, pos)
		} else {
			f.emit(engine.NEWARR, d, n.reg, 0, pos)
		}
		return d
	case bAppend:
		t := e.typ
		arr := f.expr(e.Args[0])
		vals := make([]operand, len(e.Args)-1)
		for i, a := range e.Args[1:] {
			vals[i] = f.expr(a)
		}
		acc := f.alloc(kRef) // not dst: a value may live there
		for i := len(vals) - 1; i >= 0; i-- {
			f.free(vals[i])
		}
		f.mov(acc, arr.reg, t, pos)
		op, size := engine.APPEND, 8
		if t.elem().isRef() {
			op, size = engine.APPENDR, 1<<15|16
		}
		for _, v := range vals {
			f.emit(op, acc, size, v.reg, pos)
		}
		f.freeReg(acc)
		f.free(arr)
		d := f.dest(dst, kRef)
		f.mov(d, acc, t, pos)
		return d
	case bPrint:
		for i, a := range e.Args {
			if i > 0 {
				f.emit(engine.PRINTSP, 0, 0, 0, pos)
			}
			x := f.expr(a)
			f.free(x)
			switch t := a.info().typ; {
			case t.isString():
				f.emit(engine.PRINTS, x.reg, 0, 0, pos)
			case t.isFloat():
				f.emit(engine.PRINT, x.reg, engine.PrintFloat, 0, pos)
			case t.isBool():
				f.emit(engine.PRINT, x.reg, engine.PrintBool, 0, pos)
			default:
				f.emit(engine.PRINT, x.reg, engine.PrintInt, 0, pos)
			}
		}
		f.emit(engine.PRINTNL, 0, 0, 0, pos)
		return -1
	}
	panic("BUG: builtin")
}

func (f *fgen) compositeLit(e *CompositeLit, dst int) int {
	t := e.typ
	d := f.dest(dst, kRef)
	if len(e.Elts) == 0 {
		f.emit(engine.LOADNIL, d, 0, 0, e.Lbrace)
		return d
	}
	n := f.alloc(kScalar)
	f.loadInt(n, int64(len(e.Elts)), e.Lbrace)
	if t.elem().isRef() {
		f.emit(engine.NEWARRR, d, n, 0, e.Lbrace)
	} else {
		f.emit(engine.NEWARR, d, n, 0, e.Lbrace)
	}
	idx := n // reuse the length register for the index
	for i, elt := range e.Elts {
		v := f.expr(elt)
		f.loadInt(idx, int64(i), elt.Pos())
		if t.elem().isRef() {
			f.emit(engine.ASETR, d, idx, v.reg, elt.Pos())
		} else {
			f.emit(engine.ASET, d, idx, v.reg, elt.Pos())
		}
		f.free(v)
	}
	f.freeReg(n)
	return d
}
