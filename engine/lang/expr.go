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

// regExpr returns an expression of type t whose value is already in
// register r: compound assignments are ordinary binary expressions over
// one.
func (f *fgen) regExpr(r int, t types.Type, pos token.Pos) ast.Expr {
	id := &ast.Ident{Name: "·reg", NamePos: pos}
	f.regIdents[id] = r
	return f.synth(id, t)
}

// synth records the type of a synthesized expression.
func (f *fgen) synth(e ast.Expr, t types.Type) ast.Expr {
	f.g.info.Types[e] = types.TypeAndValue{Type: t}
	return e
}

// localReg returns the register of e when e is a local variable that
// lives in a register (so that reading it needs no instruction).
func (f *fgen) localReg(e ast.Expr) (int, bool) {
	switch x := e.(type) {
	case *ast.Ident:
		if f.g.constOf(x) != nil {
			return 0, false
		}
		if r, ok := f.regIdents[x]; ok {
			return r, true
		}
		if v, ok := f.g.info.Uses[x].(*types.Var); ok && !f.g.boxed[v] {
			r, ok := f.vars[v]
			return r, ok
		}
	}
	return 0, false
}

// expr compiles e into some register: a local's own register when e is a
// local variable (or a hoisted constant), else a fresh temp.
func (f *fgen) expr(e ast.Expr) operand {
	e = ast.Unparen(e)
	if r, ok := f.hoist[e]; ok {
		return operand{r, false}
	}
	if f.g.constOf(e) != nil {
		if r, ok := f.pooled(e); ok {
			return operand{r, false}
		}
	}
	if r, ok := f.localReg(e); ok {
		return operand{r, false}
	}
	if call, ok := e.(*ast.CallExpr); ok && f.g.constOf(e) == nil && f.isUserCall(call) {
		return operand{f.call(call, -1), true}
	}
	return operand{f.compute(e, -1), true}
}

// exprTo compiles e into register dst. Every form reads all of its operands
// before it first writes dst, except composite literals, so dst may be one
// of the variables e reads only when e is not a composite literal.
func (f *fgen) exprTo(e ast.Expr, dst int) {
	e = ast.Unparen(e)
	var r int
	if h, ok := f.hoist[e]; ok {
		r = h
	} else if l, ok := f.localReg(e); ok {
		r = l
	} else {
		r = f.compute(e, dst)
	}
	f.mov(dst, r, f.g.typeOf(e), e.Pos())
}

// dest returns dst, or a fresh temp of kind k when dst < 0.
func (f *fgen) dest(dst int, k uint8) int {
	if dst >= 0 {
		return dst
	}
	return f.alloc(k)
}

// compute evaluates e into dst (a fresh temp if dst < 0) and returns the
// register. e is not a local variable in a register.
func (f *fgen) compute(e ast.Expr, dst int) int {
	t := f.g.typeOf(e)
	if cv := f.g.constOf(e); cv != nil {
		d := f.dest(dst, regKind(t))
		f.loadConst(d, t, cv, e.Pos())
		return d
	}
	switch x := e.(type) {
	case *ast.Ident:
		obj := f.g.info.Uses[x]
		switch obj := obj.(type) {
		case *types.Var:
			return f.readVar(obj, dst, x.Pos())
		case *types.Nil:
			d := f.dest(dst, kRef)
			f.emit(engine.LOADNIL, d, 0, 0, x.Pos())
			return d
		case *types.Func:
			return f.funcValue(obj, dst, x.Pos())
		}
		panic(fmt.Sprintf("BUG: identifier %s (%T)", x.Name, obj))
	case *ast.UnaryExpr:
		if x.Op == token.AND {
			a := f.addrOf(x.X)
			f.free(a)
			d := f.dest(dst, kRef)
			f.mov(d, a.reg, t, x.OpPos)
			return d
		}
		return f.unary(x, dst)
	case *ast.SelectorExpr:
		if sel := f.g.info.Selections[x]; sel != nil && sel.Kind() == types.MethodVal {
			return f.methodValue(x, dst)
		}
		return f.selector(x, dst)
	case *ast.FuncLit:
		return f.funcLit(x, dst)
	case *ast.StarExpr:
		return f.deref(x, dst)
	case *ast.BinaryExpr:
		return f.binary(x, dst)
	case *ast.IndexExpr:
		if isMap(f.g.typeOf(x.X)) {
			return f.mapIndex(x, dst)
		}
		return f.index(x, dst)
	case *ast.SliceExpr:
		return f.sliceExpr(x, dst)
	case *ast.CallExpr:
		if tv := f.g.info.Types[x.Fun]; tv.IsType() {
			return f.conversion(x, dst)
		}
		r := f.call(x, dst)
		if r < 0 {
			panic("BUG: value of a call without results")
		}
		return r
	case *ast.CompositeLit:
		return f.compositeLit(x, t, dst)
	}
	panic(fmt.Sprintf("BUG: compute %T", e))
}

// normalize keeps a narrow integer in r in its range after arithmetic.
func (f *fgen) normalize(r int, t types.Type, pos token.Pos) {
	if w := intWidth(t); w != 0 {
		f.emit(engine.EXT, r, r, w, pos)
	}
}

func (f *fgen) unary(e *ast.UnaryExpr, dst int) int {
	t := f.g.typeOf(e)
	switch e.Op {
	case token.ADD:
		x := f.expr(e.X)
		f.free(x)
		d := f.dest(dst, kScalar)
		f.mov(d, x.reg, t, e.OpPos)
		return d
	case token.SUB, token.NOT:
		x := f.expr(e.X)
		f.free(x)
		d := f.dest(dst, kScalar)
		op := engine.NEG
		if isFloat(t) {
			op = engine.FNEG
		} else if e.Op == token.NOT {
			op = engine.NOT
		}
		f.emit(op, d, x.reg, 0, e.OpPos)
		if op == engine.NEG {
			f.normalize(d, t, e.OpPos)
		}
		return d
	case token.XOR:
		x := f.expr(e.X)
		m := f.alloc(kScalar)
		f.loadInt(m, -1, e.OpPos)
		f.freeReg(m)
		f.free(x)
		d := f.dest(dst, kScalar)
		f.emit(engine.XOR, d, x.reg, m, e.OpPos)
		f.normalize(d, t, e.OpPos)
		return d
	}
	panic("BUG: unary " + e.Op.String())
}

var intOps = map[token.Token]engine.Opcode{
	token.ADD: engine.ADD, token.SUB: engine.SUB, token.MUL: engine.MUL, token.QUO: engine.DIV, token.REM: engine.MOD,
	token.AND: engine.AND, token.OR: engine.OR, token.XOR: engine.XOR, token.SHL: engine.SHL, token.SHR: engine.SHR,
}

var floatOps = map[token.Token]engine.Opcode{
	token.ADD: engine.FADD, token.SUB: engine.FSUB, token.MUL: engine.FMUL, token.QUO: engine.FDIV,
}

// immOp returns the immediate form of x op k for ints, if there is one.
func immOp(op token.Token, k int64) (engine.Opcode, int64, bool) {
	switch op {
	case token.ADD:
		return engine.ADDK, k, fits24(k)
	case token.SUB:
		return engine.ADDK, -k, k != math.MinInt64 && fits24(-k)
	case token.MUL:
		return engine.MULK, k, fits24(k)
	case token.QUO:
		return engine.DIVK, k, k != 0 && fits24(k)
	case token.REM:
		return engine.MODK, k, k != 0 && fits24(k)
	}
	return 0, 0, false
}

// needsNormalize reports whether op can take a narrow integer out of its
// range.
func needsNormalize(op token.Token, t types.Type) bool {
	switch op {
	case token.ADD, token.SUB, token.MUL, token.QUO, token.SHL:
		return true
	case token.AND_NOT:
		return isUnsigned(t)
	}
	return false
}

func (f *fgen) binary(e *ast.BinaryExpr, dst int) int {
	xt := f.g.typeOf(e.X)
	t := f.g.typeOf(e)
	switch e.Op {
	case token.LAND, token.LOR:
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
	case token.EQL, token.NEQ, token.LSS, token.LEQ, token.GTR, token.GEQ:
		return f.compare(e, dst)
	case token.AND_NOT:
		// x &^ y is x & ^y.
		x := f.expr(e.X)
		y := f.expr(e.Y)
		m := f.alloc(kScalar)
		f.loadInt(m, -1, e.OpPos)
		f.emit(engine.XOR, m, y.reg, m, e.OpPos)
		f.freeReg(m)
		f.free(y)
		f.free(x)
		d := f.dest(dst, kScalar)
		f.emit(engine.AND, d, x.reg, m, e.OpPos)
		return d
	}
	if isInt(xt) && e.Op != token.SHL && e.Op != token.SHR {
		if cv := f.g.constOf(ast.Unparen(e.Y)); cv != nil {
			if op, k, ok := immOp(e.Op, int64(constBits(t, cv))); ok {
				x := f.expr(e.X)
				f.free(x)
				d := f.dest(dst, kScalar)
				f.emit(op, d, x.reg, int(k), e.OpPos)
				if needsNormalize(e.Op, t) {
					f.normalize(d, t, e.OpPos)
				}
				return d
			}
		}
		if cv := f.g.constOf(ast.Unparen(e.X)); cv != nil && (e.Op == token.ADD || e.Op == token.MUL) {
			if op, k, ok := immOp(e.Op, int64(constBits(t, cv))); ok {
				y := f.expr(e.Y)
				f.free(y)
				d := f.dest(dst, kScalar)
				f.emit(op, d, y.reg, int(k), e.OpPos)
				f.normalize(d, t, e.OpPos)
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
	case isInt(xt):
		op = intOps[e.Op]
	case isFloat(xt):
		op = floatOps[e.Op]
	case isString(xt) && e.Op == token.ADD:
		d := f.dest(dst, kRef)
		f.emit(engine.CONCAT, d, x.reg, y.reg, e.OpPos)
		return d
	default:
		panic("BUG: binary " + e.Op.String() + " on " + xt.String())
	}
	d := f.dest(dst, kScalar)
	f.emit(op, d, x.reg, y.reg, e.OpPos)
	if isInt(xt) && needsNormalize(e.Op, t) {
		f.normalize(d, t, e.OpPos)
	}
	return d
}

// compare materializes a comparison as a bool.
func (f *fgen) compare(e *ast.BinaryExpr, dst int) int {
	t := f.g.typeOf(e.X)
	if isRef(t) && !isString(t) {
		// A slice, map, pointer or function against nil (or pointers
		// against each other).
		other, nilSide := e.Y, e.X
		if f.isNil(e.Y) {
			other, nilSide = e.X, e.Y
		}
		x := f.expr(other)
		var y operand
		if !f.isNil(nilSide) {
			y = f.expr(nilSide)
		}
		f.free(y)
		f.free(x)
		d := f.dest(dst, kScalar)
		if f.isNil(nilSide) {
			f.emit(engine.ISNIL, d, x.reg, 0, e.OpPos)
		} else {
			f.emit(engine.REQ, d, x.reg, y.reg, e.OpPos)
		}
		if e.Op == token.NEQ {
			f.emit(engine.NOT, d, d, 0, e.OpPos)
		}
		return d
	}
	x := f.expr(e.X)
	y := f.expr(e.Y)
	f.free(y)
	f.free(x)
	d := f.dest(dst, kScalar)
	a, b := x.reg, y.reg
	op := e.Op
	if op == token.GTR || op == token.GEQ {
		op, a, b = mirror(op), b, a
	}
	var code engine.Opcode
	not := false
	switch {
	case isInt(t) || isBool(t):
		code = map[token.Token]engine.Opcode{token.EQL: engine.EQ, token.NEQ: engine.NE, token.LSS: engine.LT, token.LEQ: engine.LE}[op]
	case isFloat(t):
		code = map[token.Token]engine.Opcode{token.EQL: engine.FEQ, token.NEQ: engine.FNE, token.LSS: engine.FLT, token.LEQ: engine.FLE}[op]
	case isString(t):
		code = map[token.Token]engine.Opcode{token.EQL: engine.SEQ, token.NEQ: engine.SEQ, token.LSS: engine.SLT, token.LEQ: engine.SLE}[op]
		not = op == token.NEQ
	default:
		panic("BUG: compare " + t.String())
	}
	f.emit(code, d, a, b, e.OpPos)
	if not {
		f.emit(engine.NOT, d, d, 0, e.OpPos)
	}
	return d
}

// isNil reports whether e is the predeclared nil.
func (f *fgen) isNil(e ast.Expr) bool {
	return f.g.info.Types[ast.Unparen(e)].IsNil()
}

// index compiles x[i] for slices and strings.
func (f *fgen) index(e *ast.IndexExpr, dst int) int {
	t := f.g.typeOf(e)
	xt := f.g.typeOf(e.X)
	a := f.expr(e.X)
	i := f.expr(e.Index)
	f.free(i)
	f.free(a)
	d := f.dest(dst, regKind(t))
	switch {
	case isString(xt):
		f.emit(engine.SGET, d, a.reg, i.reg, e.Lbrack)
	case isRef(t):
		f.emit(engine.AGETR, d, a.reg, i.reg, e.Lbrack)
	default:
		f.emit(engine.AGET, d, a.reg, i.reg, e.Lbrack)
	}
	return d
}

// sliceExpr compiles x[lo:hi] and x[lo:hi:max].
func (f *fgen) sliceExpr(e *ast.SliceExpr, dst int) int {
	xt := f.g.typeOf(e.X)
	x := f.expr(e.X)
	n := 2
	if e.Slice3 {
		n = 3
	}
	ks := make([]uint8, n)
	for i := range ks {
		ks[i] = kScalar
	}
	run := f.allocRun(ks)
	if e.Low != nil {
		f.exprTo(e.Low, run)
	} else {
		f.emit(engine.LOADI, run, 0, 0, e.Lbrack)
	}
	if e.High != nil {
		f.exprTo(e.High, run+1)
	} else {
		f.emit(engine.LEN, run+1, x.reg, 0, e.Lbrack)
	}
	if e.Slice3 {
		f.exprTo(e.Max, run+2)
	}
	for i := 0; i < n; i++ {
		f.freeReg(run + i)
	}
	f.free(x)
	d := f.dest(dst, kRef)
	switch {
	case isString(xt):
		f.emit(engine.SSLICE, d, x.reg, run, e.Lbrack)
	case e.Slice3:
		f.emit(engine.SLICE3, d, x.reg, run, e.Lbrack)
	default:
		f.emit(engine.SLICE, d, x.reg, run, e.Lbrack)
	}
	return d
}

// compositeLit compiles a composite literal of type t. An element literal
// whose type is elided as &T is a T literal: the pointer is its object.
func (f *fgen) compositeLit(e *ast.CompositeLit, t types.Type, dst int) int {
	if p, ok := under(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	switch under(t).(type) {
	case *types.Slice:
		return f.sliceLit(e, t, dst)
	case *types.Struct:
		return f.structLit(e, t, dst)
	case *types.Map:
		return f.mapLit(e, t, dst)
	}
	panic("BUG: composite literal of type " + t.String())
}

// sliceLit compiles []T{...}, with keys if any: its length is one past the
// largest index.
func (f *fgen) sliceLit(e *ast.CompositeLit, t types.Type, dst int) int {
	et := elemOf(t)
	d := f.dest(dst, kRef)
	if len(e.Elts) == 0 {
		// []T{} is empty but not nil.
		n := f.alloc(kScalar)
		f.emit(engine.LOADI, n, 0, 0, e.Lbrace)
		f.newArray(d, n, et, e.Lbrace)
		f.freeReg(n)
		return d
	}
	idx := make([]int64, len(e.Elts))
	length, next := int64(0), int64(0)
	for i, elt := range e.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok {
			k, _ := constant.Int64Val(constant.ToInt(f.g.constOf(kv.Key)))
			next = k
		}
		idx[i] = next
		next++
		length = max(length, next)
	}
	n := f.alloc(kScalar)
	f.loadInt(n, length, e.Lbrace)
	// When d is given, the elements are evaluated before the array exists
	// in d: d may be a variable they read.
	arr := d
	if dst >= 0 {
		arr = f.alloc(kRef)
	}
	f.newArray(arr, n, et, e.Lbrace)
	if isStruct(et) && length > int64(len(e.Elts)) {
		// Keys leave gaps: every element of an array of structs is a value.
		z := f.alloc(kRef)
		f.newZero(z, et, e.Lbrace)
		f.emit(engine.FILLV, arr, z, 0, e.Lbrace)
		f.freeReg(z)
	}
	for i, elt := range e.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok {
			elt = kv.Value
		}
		var v operand
		if lit, ok := ast.Unparen(elt).(*ast.CompositeLit); ok && lit.Type == nil {
			v = operand{f.compositeLit(lit, et, -1), true}
		} else if u, ok := ast.Unparen(elt).(*ast.UnaryExpr); ok && u.Op == token.AND && isElidedLit(u.X) {
			v = operand{f.compositeLit(ast.Unparen(u.X).(*ast.CompositeLit), et, -1), true}
		} else {
			v = f.value(elt)
		}
		f.loadInt(n, idx[i], elt.Pos())
		if isRef(et) {
			// (A struct element is the fresh value itself.)
			f.emit(engine.ASETR, arr, n, v.reg, elt.Pos())
		} else {
			f.emit(engine.ASET, arr, n, v.reg, elt.Pos())
		}
		f.free(v)
	}
	f.freeReg(n)
	if arr != d {
		f.freeReg(arr)
		f.mov(d, arr, t, e.Lbrace)
	}
	return d
}

// isElidedLit reports whether e is a composite literal without its type.
func isElidedLit(e ast.Expr) bool {
	lit, ok := ast.Unparen(e).(*ast.CompositeLit)
	return ok && lit.Type == nil
}

// newArray emits make([]et, R[n]) into d.
func (f *fgen) newArray(d, n int, et types.Type, pos token.Pos) {
	if isRef(et) {
		f.emit(engine.NEWARRR, d, n, 0, pos)
	} else {
		f.emit(engine.NEWARR, d, n, 0, pos)
	}
}
