package lang

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"

	"github.com/knotencore/knoten/engine"
)

// Maps (see engine's maps.go): a map is a ref to a map object. m[k] finds
// the key's entry (MAPFIND, -1 when absent) and reads its value (MAPVAL, the
// zero value for -1); m[k] = v finds or appends the entry (MAPINS) and
// sets its value (MAPSET), with nothing between the two that could move
// the entry. A struct value in a map is an object the map owns: reading
// one copies it, storing one stores a copy.

func mapOf(t types.Type) *types.Map { return under(t).(*types.Map) }

// mapInfo is NEWMAP's B operand for map type t.
func mapInfo(t types.Type) int {
	m := mapOf(t)
	info := 0
	if isString(m.Key()) {
		info |= engine.MapStringKeys
	}
	if isRef(m.Elem()) {
		info |= engine.MapRefValues
	}
	return info
}

// isMapIndex reports whether e is m[k] for a map m.
func (f *fgen) isMapIndex(e ast.Expr) bool {
	ix, ok := ast.Unparen(e).(*ast.IndexExpr)
	return ok && isMap(f.g.typeOf(ix.X))
}

// newMap emits make(map[K]V, R[hint]) into d.
func (f *fgen) newMap(d int, t types.Type, hint int, pos token.Pos) {
	f.emit(engine.NEWMAP, d, mapInfo(t), hint, pos)
}

// makeMap compiles make(map[K]V[, hint]).
func (f *fgen) makeMap(e *ast.CallExpr, t types.Type, dst int) int {
	var hint operand
	if len(e.Args) == 2 {
		hint = f.expr(e.Args[1])
	} else {
		hint = operand{f.alloc(kScalar), true}
		f.emit(engine.LOADI, hint.reg, 0, 0, e.Lparen)
	}
	f.free(hint)
	d := f.dest(dst, kRef)
	f.newMap(d, t, hint.reg, e.Fun.Pos())
	return d
}

// find emits R[e] = the entry of key R[k] in map R[m].
func (f *fgen) find(e, m, k int, t types.Type, pos token.Pos) {
	op := engine.MAPFIND
	if isString(mapOf(t).Key()) {
		op = engine.MAPFINDS
	}
	f.emit(op, e, m, k, pos)
}

// mapValue emits R[d] = the value of entry R[e] of map R[m] of type t: a
// copy of a struct, and a new zero struct for a missing entry.
func (f *fgen) mapValue(d, m, e int, t types.Type, pos token.Pos) {
	vt := mapOf(t).Elem()
	if !isRef(vt) {
		f.emit(engine.MAPVAL, d, m, e, pos)
		return
	}
	f.emit(engine.MAPVALR, d, m, e, pos)
	if isStruct(vt) {
		zero, end := newLabel(), newLabel()
		f.jumpTo(engine.JLTK, e, 0, zero, pos)
		f.emit(engine.CLONE, d, d, 0, pos)
		f.jmp(end, pos)
		f.bind(zero)
		f.newZero(d, vt, pos)
		f.bind(end)
	}
}

// mapIndex compiles m[k].
func (f *fgen) mapIndex(x *ast.IndexExpr, dst int) int {
	t := f.g.typeOf(x.X)
	m := f.expr(x.X)
	k := f.expr(x.Index)
	e := f.alloc(kScalar)
	f.find(e, m.reg, k.reg, t, x.Lbrack)
	f.free(k)
	d := f.dest(dst, regKind(mapOf(t).Elem()))
	f.mapValue(d, m.reg, e, t, x.Lbrack)
	f.freeReg(e)
	f.free(m)
	return d
}

// commaOk compiles v, ok := m[k] into a run of two fresh registers.
func (f *fgen) commaOk(x *ast.IndexExpr) int {
	t := f.g.typeOf(x.X)
	vt := mapOf(t).Elem()
	m := f.expr(x.X)
	k := f.expr(x.Index)
	run := f.allocRun([]uint8{regKind(vt), kScalar})
	f.find(run+1, m.reg, k.reg, t, x.Lbrack)
	f.free(k)
	f.mapValue(run, m.reg, run+1, t, x.Lbrack)
	f.free(m)
	// ok = entry >= 0
	no := newLabel()
	f.jumpTo(engine.JLTK, run+1, 0, no, x.Lbrack)
	f.emit(engine.LOADI, run+1, 0, 1, x.Lbrack)
	end := newLabel()
	f.jmp(end, x.Lbrack)
	f.bind(no)
	f.emit(engine.LOADI, run+1, 0, 0, x.Lbrack)
	f.bind(end)
	return run
}

// mapStore emits m[k] = R[v]: find or append the entry, then set it.
func (f *fgen) mapStore(m, k, v int, t types.Type, pos token.Pos) {
	e := f.alloc(kScalar)
	op := engine.MAPINS
	if isString(mapOf(t).Key()) {
		op = engine.MAPINSS
	}
	f.emit(op, e, m, k, pos)
	if isRef(mapOf(t).Elem()) {
		f.emit(engine.MAPSETR, m, e, v, pos)
	} else {
		f.emit(engine.MAPSET, m, e, v, pos)
	}
	f.freeReg(e)
}

// mapLit compiles map[K]V{k: v, ...}.
func (f *fgen) mapLit(e *ast.CompositeLit, t types.Type, dst int) int {
	n := f.alloc(kScalar)
	f.loadInt(n, int64(len(e.Elts)), e.Lbrace)
	// As for slices: the entries are evaluated before the map is in dst.
	m := f.alloc(kRef)
	f.newMap(m, t, n, e.Lbrace)
	f.freeReg(n)
	mt := mapOf(t)
	for _, elt := range e.Elts {
		kv := elt.(*ast.KeyValueExpr)
		k := f.elementValue(kv.Key, mt.Key())
		v := f.elementValue(kv.Value, mt.Elem())
		f.mapStore(m, k.reg, v.reg, t, kv.Colon)
		f.free(v)
		f.free(k)
	}
	if dst < 0 {
		return m
	}
	f.freeReg(m)
	f.mov(dst, m, t, e.Lbrace)
	return dst
}

// elementValue compiles an element of a composite literal of element type
// et, whose own type may be elided.
func (f *fgen) elementValue(e ast.Expr, et types.Type) operand {
	if isElidedLit(e) {
		return operand{f.compositeLit(ast.Unparen(e).(*ast.CompositeLit), et, -1), true}
	}
	if u, ok := ast.Unparen(e).(*ast.UnaryExpr); ok && u.Op == token.AND && isElidedLit(u.X) {
		return operand{f.compositeLit(ast.Unparen(u.X).(*ast.CompositeLit), et, -1), true}
	}
	return f.value(e)
}

// deleteCall compiles delete(m, k).
func (f *fgen) deleteCall(e *ast.CallExpr) {
	t := f.g.typeOf(e.Args[0])
	m := f.expr(e.Args[0])
	k := f.expr(e.Args[1])
	op := engine.MAPDEL
	if isString(mapOf(t).Key()) {
		op = engine.MAPDELS
	}
	f.emit(op, m.reg, k.reg, 0, e.Fun.Pos())
	f.free(k)
	f.free(m)
}

// rangeMap compiles for k, v := range m over a snapshot of the keys in
// entry order, looking each up as it comes (a key deleted in the meantime
// is skipped).
func (f *fgen) rangeMap(s *ast.RangeStmt, name string) {
	t := f.g.typeOf(s.X)
	mt := mapOf(t)
	pos := s.For
	m := f.stableExpr(s.X, true)
	keys := f.alloc(kRef)
	f.emit(engine.MAPKEYS, keys, m.reg, 0, pos)
	n := f.alloc(kScalar)
	f.emit(engine.LEN, n, keys, 0, pos)
	i := f.alloc(kScalar)
	f.emit(engine.LOADI, i, 0, 0, pos)
	body := func() {
		f.openScope()
		k := f.alloc(regKind(mt.Key()))
		if isRef(mt.Key()) {
			f.emit(engine.AGETR, k, keys, i, pos)
		} else {
			f.emit(engine.AGET, k, keys, i, pos)
		}
		e := f.alloc(kScalar)
		f.find(e, m.reg, k, t, pos)
		f.jumpTo(engine.JLTK, e, 0, f.targets[len(f.targets)-1].cont, pos)
		if s.Key != nil {
			f.rangeAssign(s, s.Key, k, pos)
		}
		if s.Value != nil && !isBlank(s.Value) {
			v := f.alloc(regKind(mt.Elem()))
			f.mapValue(v, m.reg, e, t, pos)
			f.rangeAssignOwned(s, s.Value, v, pos)
		}
		f.freeReg(e)
		f.freeReg(k)
		f.stmt(s.Body)
		f.closeScope()
	}
	f.loop(pos, name, nil, func(top *label) { f.regJump(token.LSS, i, n, top, pos) }, body,
		func() { f.emit(engine.ADDK, i, i, 1, pos) })
	f.freeReg(i)
	f.freeReg(n)
	f.freeReg(keys)
	f.free(m)
}

// printMap prints the map in register x as fmt does: map[k:v ...], its
// keys sorted.
func (f *fgen) printMap(x int, t types.Type, pos token.Pos) {
	mt := mapOf(t)
	f.printString("map[", pos)
	keys := f.alloc(kRef)
	f.emit(engine.MAPKEYS, keys, x, 0, pos)
	f.emit(engine.SORT, keys, 0, 0, pos)
	f.printElems(keys, mt.Key(), pos, func(k int) {
		f.printReg(k, mt.Key(), 1, pos)
		f.printString(":", pos)
		e := f.alloc(kScalar)
		f.find(e, x, k, t, pos)
		v := f.alloc(regKind(mt.Elem()))
		f.mapValue(v, x, e, t, pos)
		f.printReg(v, mt.Elem(), 1, pos)
		f.freeReg(v)
		f.freeReg(e)
	})
	f.freeReg(keys)
	f.printString("]", pos)
}

// one is the constant 1 of type t, for ++ and --.
func (f *fgen) one(t types.Type, pos token.Pos) ast.Expr {
	lit := &ast.BasicLit{ValuePos: pos, Kind: token.INT, Value: "1"}
	f.g.info.Types[lit] = types.TypeAndValue{Type: t, Value: constant.MakeInt64(1)}
	return lit
}
