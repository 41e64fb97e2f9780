package lang

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"

	"github.com/knotencore/knoten/engine"
)

// Structs and pointers (see engine's struct.go for the objects). A struct
// value is a ref to an object that only it holds, so a value copied into a
// new place is cloned (value), a value assigned to a struct place is
// copied into the place's object (SCOPY), and the address of a struct
// place is its object.

// structMasks returns the field count and masks of struct type t: which
// fields are refs, and which are struct values the object owns.
func structMasks(t types.Type) (n int, refMask, valMask uint64) {
	st := under(t).(*types.Struct)
	for i := 0; i < st.NumFields(); i++ {
		ft := st.Field(i).Type()
		if isRef(ft) {
			refMask |= 1 << i
		}
		if isStruct(ft) {
			valMask |= 1 << i
		}
	}
	return st.NumFields(), refMask, valMask
}

// masks returns the index of a pair of consecutive constants holding
// refMask and valMask, for NEWSTRUCT.
func (g *gen) masks(refMask, valMask uint64, pos token.Pos) int {
	key := [2]uint64{refMask, valMask}
	if k, ok := g.maskPairs[key]; ok {
		return k
	}
	if len(g.prog.Consts)+1 > engine.MaxC {
		g.limit(pos, "too many constants (limit %d)", engine.MaxC+1)
	}
	k := len(g.prog.Consts)
	g.prog.Consts = append(g.prog.Consts, refMask, valMask)
	g.maskPairs[key] = k
	return k
}

// newZero emits a zero value of struct type t into r: an object, and one
// for each struct field it holds by value.
func (f *fgen) newZero(r int, t types.Type, pos token.Pos) {
	n, refMask, valMask := structMasks(t)
	f.emit(engine.NEWSTRUCT, r, n, f.g.masks(refMask, valMask, pos), pos)
	st := under(t).(*types.Struct)
	for m := valMask; m != 0; m &= m - 1 {
		i := trailingZero(m)
		c := f.alloc(kRef)
		f.newZero(c, st.Field(i).Type(), pos)
		f.emit(engine.SETFR, r, i, c, pos)
		f.freeReg(c)
	}
}

func trailingZero(m uint64) int {
	i := 0
	for m&1 == 0 {
		m >>= 1
		i++
	}
	return i
}

// isFresh reports whether a struct value e is a new object that nothing
// else holds: a composite literal or a call's result (a function returns
// a copy).
func (f *fgen) isFresh(e ast.Expr) bool {
	switch x := ast.Unparen(e).(type) {
	case *ast.CompositeLit:
		return true
	case *ast.IndexExpr:
		return isMap(f.g.typeOf(x.X)) // a map's value is read as a copy
	case *ast.CallExpr:
		if tv := f.g.info.Types[ast.Unparen(x.Fun)]; tv.IsType() {
			return f.isFresh(x.Args[0])
		}
		return true
	}
	return false
}

// value is expr for a value about to be stored in a new place: a struct
// that is not fresh is cloned.
func (f *fgen) value(e ast.Expr) operand {
	if !isStruct(f.g.typeOf(e)) || f.isFresh(e) {
		return f.expr(e)
	}
	x := f.expr(e)
	f.free(x)
	d := f.alloc(kRef)
	f.emit(engine.CLONE, d, x.reg, 0, e.Pos())
	return operand{d, true}
}

// valueTo is value into register dst.
func (f *fgen) valueTo(e ast.Expr, dst int) {
	if !isStruct(f.g.typeOf(e)) || f.isFresh(e) {
		f.exprTo(e, dst)
		return
	}
	x := f.expr(e)
	f.free(x)
	f.emit(engine.CLONE, dst, x.reg, 0, e.Pos())
}

// structLit compiles T{...} (and the T{...} of &T{...}).
func (f *fgen) structLit(e *ast.CompositeLit, t types.Type, dst int) int {
	st := under(t).(*types.Struct)
	n, refMask, valMask := structMasks(t)
	vals := make([]ast.Expr, n)
	for i, elt := range e.Elts {
		if kv, ok := elt.(*ast.KeyValueExpr); ok {
			name := kv.Key.(*ast.Ident).Name
			for j := 0; j < n; j++ {
				if st.Field(j).Name() == name {
					vals[j] = kv.Value
				}
			}
			continue
		}
		vals[i] = elt
	}
	// The fields are evaluated before the object is in dst: dst may be a
	// variable they read.
	obj := f.alloc(kRef)
	f.emit(engine.NEWSTRUCT, obj, n, f.g.masks(refMask, valMask, e.Lbrace), e.Lbrace)
	for i, v := range vals {
		ft := st.Field(i).Type()
		var op operand
		switch {
		case v == nil && isStruct(ft):
			op = operand{f.alloc(kRef), true}
			f.newZero(op.reg, ft, e.Lbrace)
		case v == nil:
			continue // NEWSTRUCT zeroed it
		default:
			if lit, ok := v.(*ast.CompositeLit); ok && lit.Type == nil {
				op = operand{f.compositeLit(lit, ft, -1), true}
			} else {
				op = f.value(v)
			}
		}
		f.setField(obj, i, op.reg, ft, e.Lbrace)
		f.free(op)
	}
	if dst < 0 {
		return obj
	}
	f.freeReg(obj)
	f.mov(dst, obj, t, e.Lbrace)
	return dst
}

// selector compiles x.f, a field of a struct or of the struct a pointer
// points at (both are refs to its object). A field that is a struct is
// the object the outer one owns.
func (f *fgen) selector(e *ast.SelectorExpr, dst int) int {
	sel := f.g.info.Selections[e]
	if sel == nil || sel.Kind() != types.FieldVal {
		panic(fmt.Sprintf("BUG: selector %s", e.Sel.Name))
	}
	ft := sel.Type()
	obj := f.expr(e.X)
	f.free(obj)
	d := f.dest(dst, regKind(ft))
	f.getField(d, obj.reg, sel.Index()[0], ft, e.Sel.Pos())
	return d
}

// deref compiles *p.
func (f *fgen) deref(e *ast.StarExpr, dst int) int {
	t := f.g.typeOf(e)
	p := f.expr(e.X)
	f.free(p)
	d := f.dest(dst, regKind(t))
	if isStruct(t) {
		// The pointer is the object; reading a field of nil faults there,
		// and copying it (CLONE) faults here.
		f.mov(d, p.reg, t, e.Star)
		return d
	}
	f.getField(d, p.reg, 0, t, e.Star)
	return d
}

// addrOf compiles &e: the object of a struct place, or the cell of a
// variable that lives in one.
func (f *fgen) addrOf(e ast.Expr) operand {
	e = ast.Unparen(e)
	t := f.g.typeOf(e)
	switch x := e.(type) {
	case *ast.CompositeLit:
		return operand{f.compute(x, -1), true}
	case *ast.StarExpr:
		return f.expr(x.X)
	case *ast.Ident:
		if v := f.g.varOf(x); v != nil {
			if isStruct(t) {
				return f.expr(x)
			}
			return f.cellOf(v, x.Pos())
		}
	case *ast.SelectorExpr, *ast.IndexExpr:
		if isStruct(t) {
			return f.expr(x)
		}
	}
	f.g.errs.add(f.g.u.fset.Position(e.Pos()), fmt.Sprintf("cannot take the address of %s in Knoten: only of variables, of struct values (fields and elements too) and of composite literals", types.ExprString(e)))
	return operand{f.alloc(kRef), true}
}

// newCall compiles new(T): a zero struct, or a cell holding T's zero.
func (f *fgen) newCall(e *ast.CallExpr, dst int) int {
	t := f.g.typeOf(e).(*types.Pointer).Elem()
	d := f.dest(dst, kRef)
	if isStruct(t) {
		f.newZero(d, t, e.Lparen)
		return d
	}
	f.newCell(d, t, e.Lparen)
	return d
}

// receiver evaluates a method call's receiver into register r: the
// address for a pointer receiver (taken when the call names a variable),
// a copy of the value for a value receiver (dereferenced when the call
// names a pointer).
func (f *fgen) receiver(c callee, r int) {
	xt := f.g.typeOf(c.recv)
	if pointerRecv(c.sel) {
		if isPointer(xt) {
			f.exprTo(c.recv, r)
			return
		}
		a := f.addrOf(c.recv)
		f.free(a)
		f.mov(r, a.reg, types.NewPointer(xt), c.recv.Pos())
		return
	}
	if !isPointer(xt) {
		f.valueTo(c.recv, r)
		return
	}
	p := f.expr(c.recv)
	f.free(p)
	if isStruct(under(xt).(*types.Pointer).Elem()) {
		f.emit(engine.CLONE, r, p.reg, 0, c.recv.Pos())
		return
	}
	f.getField(r, p.reg, 0, under(xt).(*types.Pointer).Elem(), c.recv.Pos())
}
