package lang

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"

	"github.com/knotencore/knoten/engine"
)

// callee describes what a call calls.
type callee struct {
	fi   *funcInfo        // a user function or method
	recv ast.Expr         // the receiver of a method call
	sel  *types.Selection // the method selection
	fv   ast.Expr         // or a function value (called with CALLF)
	sig  *types.Signature // the function value's signature
}

// calleeOf resolves the callee of a call of a user function or method.
func (f *fgen) calleeOf(e *ast.CallExpr) (callee, bool) {
	switch fun := ast.Unparen(e.Fun).(type) {
	case *ast.Ident:
		if fn, ok := f.g.info.Uses[fun].(*types.Func); ok {
			if fi := f.g.funcs[fn]; fi != nil {
				return callee{fi: fi}, true
			}
		}
	case *ast.SelectorExpr:
		if sel := f.g.info.Selections[fun]; sel != nil && sel.Kind() == types.MethodVal {
			if fi := f.g.funcs[sel.Obj().(*types.Func)]; fi != nil {
				return callee{fi: fi, recv: fun.X, sel: sel}, true
			}
		}
	}
	tv := f.g.info.Types[ast.Unparen(e.Fun)]
	if sig, ok := under(tv.Type).(*types.Signature); ok && !tv.IsType() && !tv.IsBuiltin() && f.g.u.preludeCall(e) == pNone {
		return callee{fv: e.Fun, sig: sig}, true
	}
	return callee{}, false
}

// isUserCall reports whether e calls a user function or method, whose
// result can go straight into a register of the caller's choosing.
func (f *fgen) isUserCall(e *ast.CallExpr) bool {
	_, ok := f.calleeOf(e)
	return ok
}

// call compiles a call of a user function, builtin, prelude function or
// conversion with at most one result. The result goes straight to dst
// when dst >= 0. It returns the register holding the result, or -1 for no
// result.
func (f *fgen) call(e *ast.CallExpr, dst int) int {
	if tv := f.g.info.Types[ast.Unparen(e.Fun)]; tv.IsType() {
		return f.conversion(e, dst)
	} else if tv.IsBuiltin() {
		return f.builtin(e, dst)
	}
	if p := f.g.u.preludeCall(e); p != pNone {
		return f.preludeCall(e, p, dst)
	}
	c, ok := f.calleeOf(e)
	if !ok {
		panic(fmt.Sprintf("BUG: call of %T", e.Fun))
	}
	return f.userCall(e, c, dst, false)
}

// callTuple compiles a call with several results into a run of fresh
// registers and returns the first; freeTuple frees them.
func (f *fgen) callTuple(e *ast.CallExpr) int {
	c, ok := f.calleeOf(e)
	if !ok {
		panic("BUG: tuple call of a non-function")
	}
	return f.userCall(e, c, -1, true)
}

func (f *fgen) freeTuple(base int, e *ast.CallExpr) {
	t := f.g.typeOf(e).(*types.Tuple)
	for i := 0; i < t.Len(); i++ {
		f.freeReg(base + i)
	}
}

// userCall passes the receiver and arguments in a run of consecutive free
// registers (the callee's window follows the caller's, so they need not be
// the highest ones) and names the result register: dst if there is one.
// With tuple, it returns the first of a run of fresh registers receiving
// every result.
func (f *fgen) userCall(e *ast.CallExpr, c callee, dst int, tuple bool) int {
	var sig *types.Signature
	var ks []uint8
	if c.fv != nil {
		sig = c.sig
		ks = append(ks, kRef) // the closure
	} else {
		sig = c.fi.sig
	}
	if c.recv != nil {
		ks = append(ks, regKind(sig.Recv().Type()))
	}
	for i := 0; i < sig.Params().Len(); i++ {
		ks = append(ks, regKind(sig.Params().At(i).Type()))
	}
	base := -1
	if len(ks) > 0 {
		base = f.allocRun(ks)
	}
	i := 0
	if c.fv != nil {
		f.exprTo(c.fv, base)
		i++
	}
	if c.recv != nil {
		f.receiver(c, base)
		i++
	}
	if len(e.Args) == 1 && sig.Params().Len() > 1 {
		// f(g()): g's results are the arguments.
		call := ast.Unparen(e.Args[0]).(*ast.CallExpr)
		t := f.callTuple(call)
		for j := 0; j < sig.Params().Len(); j++ {
			f.mov(base+i+j, t+j, sig.Params().At(j).Type(), call.Pos())
		}
		f.freeTuple(t, call)
	} else {
		for _, a := range e.Args {
			f.valueTo(a, base+i)
			i++
		}
	}
	res := sig.Results()
	var r int
	switch {
	case tuple:
		for j := range ks {
			f.freeReg(base + j)
		}
		rk := make([]uint8, res.Len())
		for j := range rk {
			rk[j] = regKind(res.At(j).Type())
		}
		r = f.allocRun(rk)
	case dst >= 0:
		r = dst
	case base >= 0 && (res.Len() == 0 || ks[0] == regKind(res.At(0).Type())):
		// A call without a result still names one register, which the
		// engine zeroes: the first argument's, which is free after.
		r = base
	case res.Len() == 0:
		r = f.alloc(kNone)
	default:
		r = f.alloc(regKind(res.At(0).Type()))
	}
	a := base
	if a < 0 {
		a = r // no arguments: A only has to name a register
	}
	if c.fv != nil {
		f.emit(engine.CALLF, a, r, f.g.proto(sig).index, e.Fun.Pos())
	} else {
		f.emit(engine.CALL, a, r, c.fi.index, e.Fun.Pos())
	}
	if !tuple {
		for j := range ks {
			if base+j != r {
				f.freeReg(base + j)
			}
		}
	}
	if res.Len() == 0 && !tuple {
		if r != dst {
			f.freeReg(r)
		}
		return -1
	}
	return r
}

// conversion compiles T(x).
func (f *fgen) conversion(e *ast.CallExpr, dst int) int {
	to := f.g.typeOf(e)
	arg := e.Args[0]
	from := f.g.typeOf(arg)
	pos := e.Lparen
	switch {
	case f.isNil(arg):
		d := f.dest(dst, kRef)
		f.emit(engine.LOADNIL, d, 0, 0, pos)
		return d
	case isInt(from) && isString(to):
		x := f.expr(arg)
		f.free(x)
		d := f.dest(dst, kRef)
		f.emit(engine.RTOS, d, x.reg, 0, pos)
		return d
	case isSlice(from) && isString(to):
		x := f.expr(arg)
		f.free(x)
		d := f.dest(dst, kRef)
		f.emit(engine.BTOS, d, x.reg, 0, pos)
		return d
	case isString(from) && isSlice(to):
		x := f.expr(arg)
		f.free(x)
		d := f.dest(dst, kRef)
		f.emit(engine.STOB, d, x.reg, 0, pos)
		return d
	case isInt(from) && isInt(to):
		x := f.expr(arg)
		f.free(x)
		d := f.dest(dst, kScalar)
		if w := intWidth(to); w != 0 && w != intWidth(from) {
			f.emit(engine.EXT, d, x.reg, w, pos)
		} else {
			f.mov(d, x.reg, to, pos)
		}
		return d
	case isInt(from) && isFloat(to):
		x := f.expr(arg)
		f.free(x)
		d := f.dest(dst, kScalar)
		f.emit(engine.ITOF, d, x.reg, 0, pos)
		return d
	case isFloat(from) && isInt(to):
		x := f.expr(arg)
		f.free(x)
		d := f.dest(dst, kScalar)
		f.emit(engine.FTOI, d, x.reg, 0, pos)
		f.normalize(d, to, pos)
		return d
	case types.Identical(under(from), under(to)):
		x := f.expr(arg)
		f.free(x)
		d := f.dest(dst, regKind(to))
		f.mov(d, x.reg, to, pos)
		return d
	}
	f.g.errs.add(f.g.u.fset.Position(e.Pos()), fmt.Sprintf("conversion from %s to %s is not supported in Knoten", from, to))
	return f.dest(dst, regKind(to))
}

// builtin compiles a call of one of Go's builtins.
func (f *fgen) builtin(e *ast.CallExpr, dst int) int {
	id := ast.Unparen(e.Fun).(*ast.Ident)
	pos := e.Fun.Pos()
	switch id.Name {
	case "len", "cap":
		x := f.expr(e.Args[0])
		f.free(x)
		d := f.dest(dst, kScalar)
		op := engine.LEN
		if id.Name == "cap" {
			op = engine.CAP
		}
		f.emit(op, d, x.reg, 0, pos)
		return d
	case "append":
		return f.appendCall(e, dst)
	case "make":
		return f.makeCall(e, dst)
	case "new":
		return f.newCall(e, dst)
	case "delete":
		f.deleteCall(e)
		return -1
	case "copy":
		x := f.expr(e.Args[0])
		y := f.expr(e.Args[1])
		f.free(y)
		f.free(x)
		d := f.dest(dst, kScalar)
		op := engine.COPY
		if isString(f.g.typeOf(e.Args[1])) {
			op = engine.COPYS
		} else if isStruct(elemOf(f.g.typeOf(e.Args[0]))) {
			op = engine.COPYV
		}
		f.emit(op, d, x.reg, y.reg, pos)
		return d
	case "min", "max":
		return f.minMax(e, id.Name == "min", dst)
	}
	panic("BUG: builtin " + id.Name)
}

// appendCall compiles append(s, v...) and append(s, t...). Several values
// are appended as one slice of them: Go grows the slice once, before it
// writes any, so none of them lands in the old array when it is too small.
func (f *fgen) appendCall(e *ast.CallExpr, dst int) int {
	t := f.g.typeOf(e)
	et := elemOf(t)
	pos := e.Fun.Pos()
	s := f.expr(e.Args[0])
	many := len(e.Args) > 2
	vals := make([]operand, len(e.Args)-1)
	for i, a := range e.Args[1:] {
		if e.Ellipsis.IsValid() {
			vals[i] = f.expr(a) // the elements are copied
		} else {
			vals[i] = f.value(a)
		}
	}
	if many {
		n := f.alloc(kScalar)
		f.loadInt(n, int64(len(vals)), pos)
		tmp := f.alloc(kRef)
		f.newArray(tmp, n, et, pos)
		for i, v := range vals {
			f.loadInt(n, int64(i), pos)
			if isRef(et) {
				f.emit(engine.ASETR, tmp, n, v.reg, pos)
			} else {
				f.emit(engine.ASET, tmp, n, v.reg, pos)
			}
			f.free(v)
		}
		f.freeReg(n)
		vals = []operand{{tmp, true}}
	}
	// The accumulator: dst itself when dst is the slice's own register
	// (s = append(s, v) appends in place, no move); else a fresh one, since
	// dst may hold one of the values.
	acc := dst
	if dst < 0 || dst != s.reg {
		acc = f.alloc(kRef)
		f.mov(acc, s.reg, t, pos)
	}
	size := elemSize(et)
	for i, v := range vals {
		switch spread := e.Ellipsis.IsValid() || many; {
		case spread && !many && isString(f.g.typeOf(e.Args[i+1])):
			f.emit(engine.APPENDST, acc, size, v.reg, pos)
		case spread && isStruct(et):
			f.emit(engine.APPENDSLV, acc, size, v.reg, pos)
		case spread:
			f.emit(engine.APPENDSL, acc, size, v.reg, pos)
		case isStruct(et):
			f.emit(engine.APPENDV, acc, size, v.reg, pos)
		case isRef(et):
			f.emit(engine.APPENDR, acc, size, v.reg, pos)
		default:
			f.emit(engine.APPEND, acc, size, v.reg, pos)
		}
	}
	for i := len(vals) - 1; i >= 0; i-- {
		f.free(vals[i])
	}
	f.free(s)
	if acc == dst {
		return dst
	}
	f.freeReg(acc)
	d := f.dest(dst, kRef)
	f.mov(d, acc, t, pos)
	return d
}

// makeCall compiles make for slices.
func (f *fgen) makeCall(e *ast.CallExpr, dst int) int {
	t := f.g.typeOf(e)
	pos := e.Fun.Pos()
	switch u := under(t).(type) {
	case *types.Slice:
		n := f.expr(e.Args[1])
		var d int
		if len(e.Args) == 3 {
			c := f.expr(e.Args[2])
			f.free(c)
			f.free(n)
			d = f.dest(dst, kRef)
			op := engine.NEWSLICE
			if isRef(u.Elem()) {
				op = engine.NEWSLICER
			}
			f.emit(op, d, n.reg, c.reg, pos)
		} else {
			f.free(n)
			d = f.dest(dst, kRef)
			f.newArray(d, n.reg, u.Elem(), pos)
		}
		if isStruct(u.Elem()) {
			// Every element of an array of structs is a value.
			z := f.alloc(kRef)
			f.newZero(z, u.Elem(), pos)
			f.emit(engine.FILLV, d, z, 0, pos)
			f.freeReg(z)
		}
		return d
	}
	if isMap(t) {
		return f.makeMap(e, t, dst)
	}
	panic("BUG: make of " + t.String())
}

// minMax compiles min and max of ints, floats or strings: the first
// argument, replaced by each later one that is smaller (larger). For
// floats a NaN wins, and min prefers -0 to +0 (max the reverse), as Go's do.
func (f *fgen) minMax(e *ast.CallExpr, isMin bool, dst int) int {
	t := f.g.typeOf(e)
	pos := e.Fun.Pos()
	acc := f.alloc(regKind(t))
	f.exprTo(e.Args[0], acc)
	for _, a := range e.Args[1:] {
		y := f.expr(a)
		take, skip := newLabel(), newLabel()
		switch {
		case isFloat(t):
			c := f.alloc(kScalar)
			x, z := acc, y.reg
			if !isMin {
				x, z = z, x
			}
			f.emit(engine.FLT, c, z, x, pos) // min: y < acc; max: acc < y
			f.jumpTo(engine.JT, c, 0, take, pos)
			f.emit(engine.FNE, c, y.reg, y.reg, pos) // y is NaN
			f.jumpTo(engine.JT, c, 0, take, pos)
			f.emit(engine.FEQ, c, y.reg, acc, pos)
			f.jumpTo(engine.JF, c, 0, skip, pos)
			// Equal: only the zeros differ; take y if its sign is the one wanted.
			if isMin {
				f.jumpTo(engine.JLTK, y.reg, 0, take, pos)
			} else {
				f.jumpTo(engine.JGEK, y.reg, 0, take, pos)
			}
			f.jmp(skip, pos)
			f.freeReg(c)
		case isString(t):
			c := f.alloc(kScalar)
			if isMin {
				f.emit(engine.SLT, c, y.reg, acc, pos)
			} else {
				f.emit(engine.SLT, c, acc, y.reg, pos)
			}
			f.jumpTo(engine.JF, c, 0, skip, pos)
			f.freeReg(c)
		default:
			if isMin {
				f.jumpTo(engine.JLE, acc, y.reg, skip, pos)
			} else {
				f.jumpTo(engine.JLE, y.reg, acc, skip, pos)
			}
		}
		f.bind(take)
		f.mov(acc, y.reg, t, pos)
		f.bind(skip)
		f.free(y)
	}
	f.freeReg(acc)
	d := f.dest(dst, regKind(t))
	f.mov(d, acc, t, pos)
	return d
}

// preludeCall compiles a call of one of Knoten's own builtins.
func (f *fgen) preludeCall(e *ast.CallExpr, p preludeFunc, dst int) int {
	pos := e.Fun.Pos()
	switch p {
	case pPrint:
		if len(e.Args) == 1 {
			if t, ok := f.g.typeOf(e.Args[0]).(*types.Tuple); ok {
				// print(f()) prints each of f's results.
				call := ast.Unparen(e.Args[0]).(*ast.CallExpr)
				base := f.callTuple(call)
				for i := 0; i < t.Len(); i++ {
					if i > 0 {
						f.emit(engine.PRINTSP, 0, 0, 0, pos)
					}
					f.printReg(base+i, t.At(i).Type(), 0, pos)
				}
				f.freeTuple(base, call)
				f.emit(engine.PRINTNL, 0, 0, 0, pos)
				return -1
			}
		}
		for i, a := range e.Args {
			if i > 0 {
				f.emit(engine.PRINTSP, 0, 0, 0, pos)
			}
			f.printValue(a, pos)
		}
		f.emit(engine.PRINTNL, 0, 0, 0, pos)
		return -1
	case pSqrt:
		x := f.expr(e.Args[0])
		f.free(x)
		d := f.dest(dst, kScalar)
		f.emit(engine.SQRT, d, x.reg, 0, pos)
		return d
	case pAbs:
		t := f.g.typeOf(e)
		x := f.expr(e.Args[0])
		f.free(x)
		d := f.dest(dst, kScalar)
		keep := newLabel()
		if isFloat(t) {
			z := f.alloc(kScalar)
			f.emit(engine.LOADI, z, 0, 0, pos)
			c := f.alloc(kScalar)
			f.emit(engine.FLT, c, x.reg, z, pos)
			f.freeReg(c)
			f.freeReg(z)
			f.mov(d, x.reg, t, pos)
			f.jumpTo(engine.JF, c, 0, keep, pos)
			f.emit(engine.FNEG, d, d, 0, pos)
		} else {
			f.mov(d, x.reg, t, pos)
			f.jumpTo(engine.JGEK, d, 0, keep, pos)
			f.emit(engine.NEG, d, d, 0, pos)
			f.normalize(d, t, pos)
		}
		f.bind(keep)
		return d
	case pStr:
		return f.strCall(e.Args[0], dst, pos)
	}
	panic("BUG: prelude call")
}

// strCall compiles str(x).
func (f *fgen) strCall(arg ast.Expr, dst int, pos token.Pos) int {
	t := f.g.typeOf(arg)
	switch {
	case isString(t):
		x := f.expr(arg)
		f.free(x)
		d := f.dest(dst, kRef)
		f.mov(d, x.reg, t, pos)
		return d
	case isBool(t):
		d := f.dest(dst, kRef)
		fls, end := newLabel(), newLabel()
		f.branch(arg, false, fls)
		f.emit(engine.SCONST, d, 0, f.g.str("true", pos), pos)
		f.jmp(end, pos)
		f.bind(fls)
		f.emit(engine.SCONST, d, 0, f.g.str("false", pos), pos)
		f.bind(end)
		return d
	}
	x := f.expr(arg)
	f.free(x)
	d := f.dest(dst, kRef)
	if isFloat(t) {
		f.emit(engine.FTOS, d, x.reg, 0, pos)
	} else {
		f.emit(engine.ITOS, d, x.reg, 0, pos)
	}
	return d
}
