package lang

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"

	"github.com/knotencore/knoten/engine"
)

// printValue prints the value of e as fmt's %v does.
func (f *fgen) printValue(e ast.Expr, pos token.Pos) {
	t := f.g.typeOf(e)
	x := f.expr(e)
	f.printReg(x.reg, t, pos)
	f.free(x)
}

// printReg prints the value of type t in register r.
func (f *fgen) printReg(r int, t types.Type, pos token.Pos) {
	switch {
	case isString(t):
		f.emit(engine.PRINTS, r, 0, 0, pos)
	case isFloat(t):
		f.emit(engine.PRINT, r, engine.PrintFloat, 0, pos)
	case isBool(t):
		f.emit(engine.PRINT, r, engine.PrintBool, 0, pos)
	case isInt(t):
		f.emit(engine.PRINT, r, engine.PrintInt, 0, pos)
	case isSlice(t):
		fi := f.g.printFunc(t)
		a := f.alloc(kRef)
		f.mov(a, r, t, pos)
		f.emit(engine.CALL, a, a, fi.index, pos)
		f.freeReg(a)
	default:
		f.g.errs.add(f.g.u.fset.Position(pos), fmt.Sprintf("cannot print a value of type %s in Knoten yet", t))
	}
}

// printString prints a constant string.
func (f *fgen) printString(s string, pos token.Pos) {
	r := f.alloc(kRef)
	f.emit(engine.SCONST, r, 0, f.g.str(s, pos), pos)
	f.emit(engine.PRINTS, r, 0, 0, pos)
	f.freeReg(r)
}

// printFunc returns the function that prints values of the composite type
// t, making it the first time: a slice prints as [e0 e1 ...].
func (g *gen) printFunc(t types.Type) *funcInfo {
	if fi := lookupTyped(g.printer, t); fi != nil {
		return fi
	}
	param := types.NewParam(token.NoPos, nil, "x", t)
	fi := &funcInfo{name: "print·" + types.TypeString(t, nil), sig: types.NewSignatureType(nil, nil, nil, types.NewTuple(param), nil, false)}
	fi.body = func(f *fgen) {
		x := f.alloc(kRef) // the parameter
		pos := token.NoPos
		switch {
		case isSlice(t):
			et := elemOf(t)
			f.printString("[", pos)
			n := f.alloc(kScalar)
			i := f.alloc(kScalar)
			f.emit(engine.LEN, n, x, 0, pos)
			f.emit(engine.LOADI, i, 0, 0, pos)
			body := func() {
				first := newLabel()
				f.jumpTo(engine.JEQK, i, 0, first, pos)
				f.emit(engine.PRINTSP, 0, 0, 0, pos)
				f.bind(first)
				e := f.alloc(regKind(et))
				if isRef(et) {
					f.emit(engine.AGETR, e, x, i, pos)
				} else {
					f.emit(engine.AGET, e, x, i, pos)
				}
				f.printReg(e, et, pos)
				f.freeReg(e)
			}
			f.loop(pos, "", nil, func(top *label) { f.regJump(token.LSS, i, n, top, pos) }, body,
				func() { f.emit(engine.ADDK, i, i, 1, pos) })
			f.printString("]", pos)
		}
		f.emit(engine.RET0, 0, 0, 0, pos)
		f.finish(1, nil, fi.sig.Results())
	}
	g.printer = append(g.printer, typedFunc{t, fi})
	g.newFunc(fi)
	return fi
}
