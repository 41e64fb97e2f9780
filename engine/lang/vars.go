package lang

import (
	"go/ast"
	"go/token"
	"go/types"

	"github.com/knotencore/knoten/engine"
)

// Where a variable lives. A local lives in a register; a global in a
// global slot. A variable whose address is taken (&x, or a method with a
// pointer receiver called on it) and that is not a struct lives in a cell,
// a one-field object whose ref the register or global holds, so that a
// pointer to it can outlive the frame. A struct variable needs no cell:
// its register already holds a ref to the object that is its value, and
// assignments copy into that object.

const (
	locReg uint8 = iota
	locCell
	locGlobal
	locGlobalCell
)

// analyze finds the variables that live in cells.
func (g *gen) analyze() {
	g.boxed = map[*types.Var]bool{}
	box := func(e ast.Expr) {
		if v := g.varOf(e); v != nil && !isStruct(v.Type()) {
			g.boxed[v] = true
		}
	}
	ast.Inspect(g.u.file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.UnaryExpr:
			if n.Op == token.AND {
				box(n.X)
			}
		case *ast.SelectorExpr:
			if sel := g.info.Selections[n]; sel != nil && sel.Kind() == types.MethodVal && pointerRecv(sel) && !isPointer(g.typeOf(n.X)) {
				box(n.X)
			}
		}
		return true
	})
}

// pointerRecv reports whether the selected method has a pointer receiver.
func pointerRecv(sel *types.Selection) bool {
	_, ok := sel.Obj().Type().(*types.Signature).Recv().Type().(*types.Pointer)
	return ok
}

// varOf returns the variable e names, or nil.
func (g *gen) varOf(e ast.Expr) *types.Var {
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return nil
	}
	v, _ := g.info.Uses[id].(*types.Var)
	if v == nil {
		v, _ = g.info.Defs[id].(*types.Var)
	}
	return v
}

// loc returns where v lives: its register or global index.
func (f *fgen) loc(v *types.Var) (kind uint8, at int) {
	if r, ok := f.vars[v]; ok {
		if f.g.boxed[v] {
			return locCell, r
		}
		return locReg, r
	}
	if i, ok := f.g.globals[v]; ok {
		if f.g.boxed[v] {
			return locGlobalCell, i
		}
		return locGlobal, i
	}
	panic("BUG: variable " + v.Name() + " has no place")
}

// cellMasks returns the masks of a cell holding a value of type t.
func cellMasks(t types.Type) (refMask, valMask uint64) {
	if isRef(t) {
		return 1, 0
	}
	return 0, 0
}

// newCell emits a cell for a value of type t into r.
func (f *fgen) newCell(r int, t types.Type, pos token.Pos) {
	refMask, valMask := cellMasks(t)
	f.emit(engine.NEWSTRUCT, r, 1, f.g.masks(refMask, valMask, pos), pos)
}

// getField emits R[d] = R[obj].f[i] for a field of type t.
func (f *fgen) getField(d, obj, i int, t types.Type, pos token.Pos) {
	if isRef(t) {
		f.emit(engine.GETFR, d, obj, i, pos)
	} else {
		f.emit(engine.GETF, d, obj, i, pos)
	}
}

// setField emits R[obj].f[i] = R[v] for a field of type t.
func (f *fgen) setField(obj, i, v int, t types.Type, pos token.Pos) {
	if isRef(t) {
		f.emit(engine.SETFR, obj, i, v, pos)
	} else {
		f.emit(engine.SETF, obj, i, v, pos)
	}
}

// readVar compiles a read of v into dst (a fresh temp if dst < 0).
func (f *fgen) readVar(v *types.Var, dst int, pos token.Pos) int {
	t := v.Type()
	kind, at := f.loc(v)
	d := f.dest(dst, regKind(t))
	switch kind {
	case locReg:
		f.mov(d, at, t, pos)
	case locCell:
		f.getField(d, at, 0, t, pos)
	case locGlobal:
		f.getGlobal(d, at, t, pos)
	case locGlobalCell:
		c := f.alloc(kRef)
		f.emit(engine.GETGR, c, 0, at, pos)
		f.getField(d, c, 0, t, pos)
		f.freeReg(c)
	}
	return d
}

// cellOf returns a register holding the cell of a variable that lives in
// one.
func (f *fgen) cellOf(v *types.Var, pos token.Pos) operand {
	kind, at := f.loc(v)
	switch kind {
	case locCell:
		return operand{at, false}
	case locGlobalCell:
		c := f.alloc(kRef)
		f.emit(engine.GETGR, c, 0, at, pos)
		return operand{c, true}
	}
	panic("BUG: " + v.Name() + " has no cell")
}

// declareVar makes v a new local whose value is in register r, which the
// variable takes over (a cell is made for it if it needs one).
func (f *fgen) declareVar(v *types.Var, r int, pos token.Pos) {
	if !f.g.boxed[v] {
		f.declare(v, r)
		return
	}
	c := f.alloc(kRef)
	f.newCell(c, v.Type(), pos)
	f.setField(c, 0, r, v.Type(), pos)
	f.freeReg(r)
	f.declare(v, c)
}
