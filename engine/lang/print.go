package lang

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"

	"github.com/knotencore/knoten/engine"
)

// print prints each operand as fmt.Println does, in fmt's %v form: numbers,
// bools and strings as themselves, a slice as [e0 e1 ...], a struct as
// {f0 f1 ...}, a pointer to a struct as &{...} (at the top level; inside a
// value, as fmt does, a pointer prints as an address: Knoten prints the
// object's heap offset in hex, which is deterministic but not what Go
// prints), and nil pointers as <nil>.

// printValue prints the value of e.
func (f *fgen) printValue(e ast.Expr, pos token.Pos) {
	t := f.g.typeOf(e)
	x := f.expr(e)
	f.printReg(x.reg, t, 0, pos)
	f.free(x)
}

// printReg prints the value of type t in register r; depth is how deep in
// another value it is.
func (f *fgen) printReg(r int, t types.Type, depth int, pos token.Pos) {
	switch {
	case isString(t):
		f.emit(engine.PRINTS, r, 0, 0, pos)
	case isFloat(t):
		f.emit(engine.PRINT, r, engine.PrintFloat, 0, pos)
	case isBool(t):
		f.emit(engine.PRINT, r, engine.PrintBool, 0, pos)
	case isInt(t):
		f.emit(engine.PRINT, r, engine.PrintInt, 0, pos)
	case isFunc(t) || isPointer(t) && (depth > 0 || !isStruct(under(t).(*types.Pointer).Elem())):
		f.emit(engine.PRINTP, r, 0, 0, pos)
	case isSlice(t) || isStruct(t) || isPointer(t) || isMap(t):
		fi := f.g.printFunc(t)
		a := f.alloc(kRef)
		f.mov(a, r, t, pos)
		f.emit(engine.CALL, a, a, fi.index, pos)
		f.freeReg(a)
	default:
		f.g.errs.add(f.g.u.fset.Position(pos), fmt.Sprintf("cannot print a value of type %s in Knoten", t))
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
// t, making it the first time.
func (g *gen) printFunc(t types.Type) *funcInfo {
	if fi := lookupTyped(g.printer, t); fi != nil {
		return fi
	}
	param := types.NewParam(token.NoPos, nil, "x", t)
	fi := &funcInfo{name: "print·" + types.TypeString(t, nil), sig: types.NewSignatureType(nil, nil, nil, types.NewTuple(param), nil, false)}
	fi.body = func(f *fgen) {
		x := f.alloc(kRef) // the parameter
		pos := token.NoPos
		switch u := under(t).(type) {
		case *types.Slice:
			f.printSlice(x, u.Elem(), pos)
		case *types.Struct:
			f.printStruct(x, u, pos)
		case *types.Map:
			f.printMap(x, t, pos)
		case *types.Pointer: // to a struct, at the top level
			null := newLabel()
			c := f.alloc(kScalar)
			f.emit(engine.ISNIL, c, x, 0, pos)
			f.jumpTo(engine.JT, c, 0, null, pos)
			f.freeReg(c)
			f.printString("&", pos)
			f.printStruct(x, under(u.Elem()).(*types.Struct), pos)
			f.emit(engine.RET0, 0, 0, 0, pos)
			f.bind(null)
			f.printString("<nil>", pos)
		}
		f.emit(engine.RET0, 0, 0, 0, pos)
		f.finish(1, nil, fi.sig.Results())
	}
	g.printer = append(g.printer, typedFunc{t, fi})
	g.newFunc(fi)
	return fi
}

// printSlice prints the slice in register x as [e0 e1 ...].
func (f *fgen) printSlice(x int, et types.Type, pos token.Pos) {
	f.printString("[", pos)
	f.printElems(x, et, pos, func(e int) { f.printReg(e, et, 1, pos) })
	f.printString("]", pos)
}

// printElems loads each element of the array or slice in register x, of
// type et, in turn and calls each with its register, a space printed
// between two: the loop that prints a slice's elements or a map's keys.
func (f *fgen) printElems(x int, et types.Type, pos token.Pos, each func(e int)) {
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
		each(e)
		f.freeReg(e)
	}
	f.loop(pos, "", nil, func(top *label) { f.regJump(token.LSS, i, n, top, pos) }, body,
		func() { f.emit(engine.ADDK, i, i, 1, pos) })
	f.freeReg(i)
	f.freeReg(n)
}

// printStruct prints the struct in register x as {f0 f1 ...}.
func (f *fgen) printStruct(x int, st *types.Struct, pos token.Pos) {
	f.printString("{", pos)
	for i := 0; i < st.NumFields(); i++ {
		if i > 0 {
			f.emit(engine.PRINTSP, 0, 0, 0, pos)
		}
		ft := st.Field(i).Type()
		r := f.alloc(regKind(ft))
		f.getField(r, x, i, ft, pos)
		f.printReg(r, ft, 1, pos)
		f.freeReg(r)
	}
	f.printString("}", pos)
}
