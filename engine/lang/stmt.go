package lang

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"

	"github.com/knotencore/knoten/engine"
)

func (f *fgen) stmts(list []ast.Stmt) {
	for _, s := range list {
		f.stmt(s)
	}
}

func (f *fgen) stmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.DeclStmt:
		if gd, ok := s.Decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				f.define(vs.Names, vs.Values, vs.Pos())
			}
		}
	case *ast.AssignStmt:
		f.assignStmt(s)
	case *ast.IncDecStmt:
		op := token.ADD
		if s.Tok == token.DEC {
			op = token.SUB
		}
		f.opAssign(s.X, op, f.one(f.g.typeOf(s.X), s.TokPos), s.TokPos)
	case *ast.ExprStmt:
		f.exprStmt(s.X)
	case *ast.BlockStmt:
		f.openScope()
		f.stmts(s.List)
		f.closeScope()
	case *ast.IfStmt:
		f.ifStmt(s)
	case *ast.ForStmt:
		f.forStmt(s, "")
	case *ast.RangeStmt:
		f.rangeStmt(s, "")
	case *ast.SwitchStmt:
		f.switchStmt(s, "")
	case *ast.LabeledStmt:
		switch inner := s.Stmt.(type) {
		case *ast.ForStmt:
			f.forStmt(inner, s.Label.Name)
		case *ast.RangeStmt:
			f.rangeStmt(inner, s.Label.Name)
		case *ast.SwitchStmt:
			f.switchStmt(inner, s.Label.Name)
		default:
			f.stmt(inner)
		}
	case *ast.BranchStmt:
		f.branchStmt(s)
	case *ast.ReturnStmt:
		f.returnStmt(s)
	case *ast.EmptyStmt:
	default:
		panic(fmt.Sprintf("BUG: statement %T", s))
	}
}

func (f *fgen) exprStmt(e ast.Expr) {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		panic("BUG: expression statement is not a call")
	}
	if t, ok := f.g.typeOf(call).(*types.Tuple); ok && t.Len() > 1 {
		f.freeTuple(f.callTuple(call), call)
		return
	}
	if r := f.call(call, -1); r >= 0 {
		f.freeReg(r)
	}
}

// owned evaluates e into a register that the caller owns: a new variable
// can live there.
func (f *fgen) owned(e ast.Expr) int {
	op := f.value(e)
	if op.temp {
		return op.reg
	}
	r := f.alloc(regKind(f.g.typeOf(e)))
	f.mov(r, op.reg, f.g.typeOf(e), e.Pos())
	return r
}

// define declares the variables names (with var or :=) from values: one
// per name, one call with a result per name, or none (zero values). With
// :=, names that already exist are assigned instead. Every value is
// evaluated before any name comes into scope.
func (f *fgen) define(names []*ast.Ident, values []ast.Expr, pos token.Pos) {
	regs := make([]int, len(names))
	switch {
	case len(values) == 0:
		for i, id := range names {
			regs[i] = -1
			if v, ok := f.g.info.Defs[id].(*types.Var); ok && id.Name != "_" {
				regs[i] = f.alloc(regKind(v.Type()))
				f.zero(regs[i], v.Type(), id.Pos())
			}
		}
	case len(values) == len(names):
		for i, e := range values {
			regs[i] = f.owned(e)
		}
	case f.isMapIndex(values[0]):
		base := f.commaOk(ast.Unparen(values[0]).(*ast.IndexExpr))
		for i := range names {
			regs[i] = base + i
		}
	default:
		call := ast.Unparen(values[0]).(*ast.CallExpr)
		base := f.callTuple(call)
		for i := range names {
			regs[i] = base + i
		}
	}
	for i, id := range names {
		r := regs[i]
		if r < 0 {
			continue
		}
		if v, ok := f.g.info.Defs[id].(*types.Var); ok && id.Name != "_" {
			f.declareVar(v, r, id.Pos())
			continue
		}
		if id.Name != "_" {
			f.store(f.lvalue(id, false), r, id.Pos())
		}
		f.freeReg(r)
	}
}

func (f *fgen) assignStmt(s *ast.AssignStmt) {
	switch s.Tok {
	case token.DEFINE:
		f.define(identList(s.Lhs), s.Rhs, s.TokPos)
	case token.ASSIGN:
		if len(s.Lhs) == 1 && len(s.Rhs) == 1 {
			f.assign1(s.Lhs[0], s.Rhs[0], s.TokPos)
			return
		}
		f.assignN(s)
	default:
		op := map[token.Token]token.Token{
			token.ADD_ASSIGN: token.ADD, token.SUB_ASSIGN: token.SUB, token.MUL_ASSIGN: token.MUL,
			token.QUO_ASSIGN: token.QUO, token.REM_ASSIGN: token.REM, token.AND_ASSIGN: token.AND,
			token.OR_ASSIGN: token.OR, token.XOR_ASSIGN: token.XOR, token.SHL_ASSIGN: token.SHL,
			token.SHR_ASSIGN: token.SHR, token.AND_NOT_ASSIGN: token.AND_NOT,
		}[s.Tok]
		f.opAssign(s.Lhs[0], op, s.Rhs[0], s.TokPos)
	}
}

func identList(exprs []ast.Expr) []*ast.Ident {
	ids := make([]*ast.Ident, len(exprs))
	for i, e := range exprs {
		ids[i] = e.(*ast.Ident)
	}
	return ids
}

// lvalue is an assignable place whose operands have been evaluated.
type lvalue struct {
	kind     uint8
	t        types.Type
	reg      int     // lvLocal
	global   int     // lvGlobal
	arr, idx operand // lvIndex; arr is the object of lvField and lvStruct, the cell of lvCell
	field    int     // lvField
	pos      token.Pos
}

const (
	lvBlank  uint8 = iota
	lvLocal        // a variable in a register
	lvGlobal       // a global
	lvIndex        // an element of a slice
	lvCell         // the value in a cell: a variable that lives in one, or *p
	lvField        // a field
	lvStruct       // a struct place: assigning copies into its object
	lvMap          // m[k]: arr is the map, idx the key
)

// lvalue evaluates the operands of the place e. With stable, they are
// copied out of variables, so that assignments made before the store
// cannot change them (x, a[x] = 1, 2 indexes with the old x).
func (f *fgen) lvalue(e ast.Expr, stable bool) lvalue {
	e = ast.Unparen(e)
	t := f.g.info.Types[e].Type
	if t == nil {
		if v := f.g.varOf(e); v != nil {
			t = v.Type() // a name that := declares anew has no recorded type
		}
	}
	lv := lvalue{t: t, pos: e.Pos()}
	if id, ok := e.(*ast.Ident); ok && id.Name == "_" {
		return lv
	}
	if ix, ok := e.(*ast.IndexExpr); ok && isMap(f.g.typeOf(ix.X)) {
		lv.kind, lv.pos = lvMap, ix.Lbrack
		lv.arr = f.stableExpr(ix.X, stable)
		lv.idx = f.stableExpr(ix.Index, stable)
		lv.t = f.g.typeOf(ix.X) // the map's type: load and store need it
		return lv
	}
	if isStruct(t) {
		lv.kind, lv.arr = lvStruct, f.addrOf(e)
		return lv
	}
	switch x := e.(type) {
	case *ast.Ident:
		v := f.g.varOf(x)
		switch kind, at := f.loc(v); kind {
		case locReg:
			lv.kind, lv.reg = lvLocal, at
		case locGlobal:
			lv.kind, lv.global = lvGlobal, at
		default:
			lv.kind, lv.arr = lvCell, f.cellOf(v, x.Pos())
		}
		return lv
	case *ast.IndexExpr:
		lv.kind = lvIndex
		lv.arr = f.stableExpr(x.X, stable)
		lv.idx = f.stableExpr(x.Index, stable)
		lv.pos = x.Lbrack
		return lv
	case *ast.SelectorExpr:
		lv.kind = lvField
		lv.arr = f.stableExpr(x.X, stable)
		lv.field = f.g.info.Selections[x].Index()[0]
		lv.pos = x.Sel.Pos()
		return lv
	case *ast.StarExpr:
		lv.kind, lv.arr, lv.pos = lvCell, f.stableExpr(x.X, stable), x.Star
		return lv
	}
	panic(fmt.Sprintf("BUG: assignment to %T", e))
}

// globalPlace is the place of global v.
func (f *fgen) globalPlace(v *types.Var) lvalue {
	id := &ast.Ident{Name: v.Name(), NamePos: v.Pos()}
	f.g.info.Uses[id] = v
	f.synth(id, v.Type())
	return f.lvalue(id, false)
}

// stableExpr is expr, copied into a temp when stable and e is a variable.
func (f *fgen) stableExpr(e ast.Expr, stable bool) operand {
	op := f.expr(e)
	if !stable || op.temp {
		return op
	}
	t := f.g.typeOf(e)
	r := f.alloc(regKind(t))
	f.mov(r, op.reg, t, e.Pos())
	return operand{r, true}
}

// load reads the place lv (not a struct place) into register r.
func (f *fgen) load(lv lvalue, r int) {
	switch lv.kind {
	case lvLocal:
		f.mov(r, lv.reg, lv.t, lv.pos)
	case lvGlobal:
		f.getGlobal(r, lv.global, lv.t, lv.pos)
	case lvIndex:
		if isRef(lv.t) {
			f.emit(engine.AGETR, r, lv.arr.reg, lv.idx.reg, lv.pos)
		} else {
			f.emit(engine.AGET, r, lv.arr.reg, lv.idx.reg, lv.pos)
		}
	case lvCell:
		f.getField(r, lv.arr.reg, 0, lv.t, lv.pos)
	case lvField:
		f.getField(r, lv.arr.reg, lv.field, lv.t, lv.pos)
	case lvMap:
		e := f.alloc(kScalar)
		f.find(e, lv.arr.reg, lv.idx.reg, lv.t, lv.pos)
		f.mapValue(r, lv.arr.reg, e, lv.t, lv.pos)
		f.freeReg(e)
	default:
		panic("BUG: load of a place of kind " + fmt.Sprint(lv.kind))
	}
}

// store stores register r into the place lv and frees lv's operands.
func (f *fgen) store(lv lvalue, r int, pos token.Pos) {
	switch lv.kind {
	case lvLocal:
		f.mov(lv.reg, r, lv.t, pos)
	case lvGlobal:
		f.setGlobal(r, lv.global, lv.t, pos)
	case lvIndex:
		if isRef(lv.t) {
			f.emit(engine.ASETR, lv.arr.reg, lv.idx.reg, r, lv.pos)
		} else {
			f.emit(engine.ASET, lv.arr.reg, lv.idx.reg, r, lv.pos)
		}
	case lvCell:
		f.setField(lv.arr.reg, 0, r, lv.t, lv.pos)
	case lvField:
		f.setField(lv.arr.reg, lv.field, r, lv.t, lv.pos)
	case lvStruct:
		f.emit(engine.SCOPY, lv.arr.reg, r, 0, pos)
	case lvMap:
		f.mapStore(lv.arr.reg, lv.idx.reg, r, lv.t, lv.pos)
	}
	f.free(lv.idx)
	f.free(lv.arr)
}

// assign1 compiles lhs = rhs.
func (f *fgen) assign1(lhs, rhs ast.Expr, pos token.Pos) {
	lhs = ast.Unparen(lhs)
	lv := f.lvalue(lhs, false)
	switch lv.kind {
	case lvBlank:
		f.free(f.expr(rhs))
	case lvLocal:
		f.exprTo(rhs, lv.reg)
	case lvStruct:
		// SCOPY copies: the value needs no copy of its own.
		v := f.expr(rhs)
		f.store(lv, v.reg, pos)
		f.free(v)
	default:
		v := f.value(rhs)
		f.store(lv, v.reg, pos)
		f.free(v)
	}
}

// assignN compiles a, b = x, y and a, b = f(): the places' operands and
// the values first, then the stores, left to right.
func (f *fgen) assignN(s *ast.AssignStmt) {
	lvs := make([]lvalue, len(s.Lhs))
	for i, e := range s.Lhs {
		lvs[i] = f.lvalue(e, true)
	}
	regs := make([]int, len(s.Lhs))
	var call *ast.CallExpr
	if len(s.Rhs) == 1 && f.isMapIndex(s.Rhs[0]) {
		base := f.commaOk(ast.Unparen(s.Rhs[0]).(*ast.IndexExpr))
		for i := range regs {
			regs[i] = base + i
		}
	} else if len(s.Rhs) == 1 {
		call = ast.Unparen(s.Rhs[0]).(*ast.CallExpr)
		base := f.callTuple(call)
		for i := range regs {
			regs[i] = base + i
		}
	} else {
		for i, e := range s.Rhs {
			regs[i] = f.owned(e)
		}
	}
	for i, lv := range lvs {
		f.store(lv, regs[i], s.TokPos)
	}
	for _, r := range regs {
		f.freeReg(r)
	}
}

// opAssign compiles lhs op= rhs (and ++, --): the place is evaluated once.
func (f *fgen) opAssign(lhs ast.Expr, op token.Token, rhs ast.Expr, pos token.Pos) {
	lhs = ast.Unparen(lhs)
	t := f.g.typeOf(lhs)
	lv := f.lvalue(lhs, false)
	bin := func(x ast.Expr) ast.Expr {
		return f.synth(&ast.BinaryExpr{X: x, OpPos: pos, Op: op, Y: rhs}, t)
	}
	switch lv.kind {
	case lvLocal:
		f.exprTo(bin(lhs), lv.reg)
	case lvBlank, lvStruct:
		panic("BUG: op-assignment to blank or struct")
	default:
		r := f.alloc(regKind(t))
		f.load(lv, r)
		f.exprTo(bin(f.regExpr(r, t, lv.pos)), r)
		f.store(lv, r, pos)
		f.freeReg(r)
	}
}

func (f *fgen) ifStmt(s *ast.IfStmt) {
	f.openScope()
	if s.Init != nil {
		f.stmt(s.Init)
	}
	els, end := newLabel(), newLabel()
	f.branch(s.Cond, false, els)
	f.stmt(s.Body)
	if s.Else != nil {
		if f.fallsThrough() {
			f.jmp(end, s.Body.Rbrace)
		}
		f.bind(els)
		f.stmt(s.Else)
	} else {
		f.bind(els)
	}
	f.bind(end)
	f.closeScope()
}

func (f *fgen) forStmt(s *ast.ForStmt, name string) {
	f.openScope()
	if s.Init != nil {
		f.stmt(s.Init)
	}
	// Go 1.22: each iteration has its own loop variables. Only those that
	// live in a cell can tell: each iteration after the first gets a new
	// cell, holding the value the previous one ended with.
	var fresh []*types.Var
	if init, ok := s.Init.(*ast.AssignStmt); ok && init.Tok == token.DEFINE {
		for _, l := range init.Lhs {
			if v, ok := f.g.info.Defs[l.(*ast.Ident)].(*types.Var); ok && f.g.boxed[v] {
				fresh = append(fresh, v)
			}
		}
	}
	var post func()
	if s.Post != nil || len(fresh) > 0 {
		post = func() {
			for _, v := range fresh {
				cell := f.vars[v]
				x := f.alloc(regKind(v.Type()))
				f.getField(x, cell, 0, v.Type(), s.For)
				f.newCell(cell, v.Type(), s.For)
				f.setField(cell, 0, x, v.Type(), s.For)
				f.freeReg(x)
			}
			if s.Post != nil {
				f.stmt(s.Post)
			}
		}
	}
	f.loop(s.For, name, s.Cond, nil, func() { f.stmt(s.Body) }, post)
	f.closeScope()
}

// rangeStmt compiles for range over an integer, a slice or a string. The
// range expression is evaluated once; a key or value declared with := is
// a new variable in each iteration, so the hidden counter is the key
// variable itself only when the body never assigns it.
func (f *fgen) rangeStmt(s *ast.RangeStmt, name string) {
	if isMap(f.g.typeOf(s.X)) {
		f.openScope()
		f.rangeMap(s, name)
		f.closeScope()
		return
	}
	f.openScope()
	xt := f.g.typeOf(s.X)
	pos := s.For
	x := f.stableExpr(s.X, true)
	n := x
	if !isInt(xt) {
		n = operand{f.alloc(kScalar), true}
		f.emit(engine.LEN, n.reg, x.reg, 0, pos)
	}
	// The counter.
	var keyVar *types.Var
	if id, ok := s.Key.(*ast.Ident); ok && s.Tok == token.DEFINE && id.Name != "_" {
		keyVar, _ = f.g.info.Defs[id].(*types.Var)
	}
	var i int
	direct := keyVar != nil && !isString(xt) && !assignedIn(f.g.info, s.Body, keyVar)
	if direct {
		i = f.alloc(kScalar)
		f.declare(keyVar, i)
	} else {
		i = f.alloc(kScalar)
	}
	f.emit(engine.LOADI, i, 0, 0, pos)
	var rw int // rune and width, for strings
	if isString(xt) {
		rw = f.allocRun([]uint8{kScalar, kScalar})
	}
	body := func() {
		f.openScope()
		if isString(xt) {
			f.emit(engine.RUNE, rw, x.reg, i, pos)
		}
		if s.Key != nil && !direct {
			f.rangeAssign(s, s.Key, i, pos)
		}
		if s.Value != nil && !isBlank(s.Value) {
			vt := elemType(xt)
			var r int
			if isString(xt) {
				r = rw
			} else {
				r = f.alloc(regKind(vt))
				if isRef(vt) {
					f.emit(engine.AGETR, r, x.reg, i, pos)
				} else {
					f.emit(engine.AGET, r, x.reg, i, pos)
				}
			}
			f.rangeAssign(s, s.Value, r, pos)
			if !isString(xt) {
				f.freeReg(r)
			}
		}
		f.stmt(s.Body)
		f.closeScope()
	}
	post := func() {
		if isString(xt) {
			f.emit(engine.ADD, i, i, rw+1, pos)
		} else {
			f.emit(engine.ADDK, i, i, 1, pos)
		}
	}
	test := func(top *label) { f.regJump(token.LSS, i, n.reg, top, pos) }
	f.loop(pos, name, nil, test, body, post)
	if isString(xt) {
		f.freeReg(rw)
		f.freeReg(rw + 1)
	}
	if !direct {
		f.freeReg(i)
	}
	f.free(n)
	if n != x {
		f.free(x)
	}
	f.closeScope()
}

func isBlank(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "_"
}

// elemType is the type of the values a range over type t produces.
func elemType(t types.Type) types.Type {
	switch u := under(t).(type) {
	case *types.Slice:
		return u.Elem()
	case *types.Basic:
		if u.Kind() == types.String {
			return types.Typ[types.Int32]
		}
	}
	return t
}

// rangeAssign gives the range key or value e the value in register r: a
// new variable (:=) or an assignment (=).
func (f *fgen) rangeAssign(s *ast.RangeStmt, e ast.Expr, r int, pos token.Pos) {
	if id, ok := e.(*ast.Ident); ok && id.Name == "_" {
		return
	}
	if s.Tok == token.DEFINE {
		v, _ := f.g.info.Defs[e.(*ast.Ident)].(*types.Var)
		if v == nil {
			return
		}
		own := f.alloc(regKind(v.Type()))
		if isStruct(v.Type()) {
			f.emit(engine.CLONE, own, r, 0, pos) // the variable is a copy
		} else {
			f.mov(own, r, v.Type(), pos)
		}
		f.declareVar(v, own, pos)
		return
	}
	f.store(f.lvalue(e, false), r, pos)
}

// rangeAssignOwned is rangeAssign for a value in a register the variable
// may take over (a struct copy made for it).
func (f *fgen) rangeAssignOwned(s *ast.RangeStmt, e ast.Expr, r int, pos token.Pos) {
	if s.Tok == token.DEFINE {
		if v, ok := f.g.info.Defs[e.(*ast.Ident)].(*types.Var); ok {
			f.declareVar(v, r, pos)
			return
		}
		f.freeReg(r)
		return
	}
	f.store(f.lvalue(e, false), r, pos)
	f.freeReg(r)
}

// assignedIn reports whether the body assigns v or takes its address.
func assignedIn(info *types.Info, body ast.Node, v *types.Var) bool {
	found := false
	is := func(e ast.Expr) bool {
		id, ok := ast.Unparen(e).(*ast.Ident)
		return ok && info.Uses[id] == v
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for _, l := range n.Lhs {
				found = found || is(l)
			}
		case *ast.IncDecStmt:
			found = found || is(n.X)
		case *ast.UnaryExpr:
			found = found || n.Op == token.AND && is(n.X)
		case *ast.RangeStmt:
			found = found || n.Tok == token.ASSIGN && (n.Key != nil && is(n.Key) || n.Value != nil && is(n.Value))
		case *ast.FuncLit:
			ast.Inspect(n, func(m ast.Node) bool {
				if id, ok := m.(*ast.Ident); ok && info.Uses[id] == v {
					found = true
				}
				return !found
			})
		}
		return !found
	})
	return found
}

// switchStmt compiles a switch with or without a tag: the case tests in
// order, each jumping to its clause's body, then the bodies in source
// order, so that fallthrough is a fall into the next one.
func (f *fgen) switchStmt(s *ast.SwitchStmt, name string) {
	f.openScope()
	if s.Init != nil {
		f.stmt(s.Init)
	}
	var tag operand
	var tagType types.Type
	if s.Tag != nil {
		tagType = f.g.typeOf(s.Tag)
		tag = f.stableExpr(s.Tag, true)
	}
	end := newLabel()
	bodies := make([]*label, len(s.Body.List))
	deflt := -1
	for i, c := range s.Body.List {
		bodies[i] = newLabel()
		cc := c.(*ast.CaseClause)
		if cc.List == nil {
			deflt = i
		}
		for _, e := range cc.List {
			if s.Tag == nil {
				f.branch(e, true, bodies[i])
				continue
			}
			f.caseTest(tag.reg, tagType, e, bodies[i])
		}
	}
	if deflt >= 0 {
		f.jmp(bodies[deflt], s.Switch)
	} else {
		f.jmp(end, s.Switch)
	}
	f.targets = append(f.targets, &target{name: name, brk: end})
	for i, c := range s.Body.List {
		cc := c.(*ast.CaseClause)
		f.bind(bodies[i])
		f.openScope()
		f.stmts(cc.Body)
		f.closeScope()
		fall := len(cc.Body) > 0
		if fall {
			b, ok := cc.Body[len(cc.Body)-1].(*ast.BranchStmt)
			fall = ok && b.Tok == token.FALLTHROUGH
		}
		if !fall && i < len(s.Body.List)-1 && f.fallsThrough() {
			f.jmp(end, cc.Colon)
		}
	}
	f.targets = f.targets[:len(f.targets)-1]
	f.bind(end)
	f.free(tag)
	f.closeScope()
}

// caseTest jumps to l when the tag in register tag equals e.
func (f *fgen) caseTest(tag int, t types.Type, e ast.Expr, l *label) {
	pos := e.Pos()
	switch {
	case isInt(t) || isBool(t):
		if k, ok := f.smallConst(e); ok {
			f.jumpTo(engine.JEQK, tag, int(k), l, pos)
			return
		}
		y := f.expr(e)
		f.free(y)
		f.jumpTo(engine.JEQ, tag, y.reg, l, pos)
	case isFloat(t) || isString(t):
		y := f.expr(e)
		c := f.alloc(kScalar)
		op := engine.FEQ
		if isString(t) {
			op = engine.SEQ
		}
		f.emit(op, c, tag, y.reg, pos)
		f.freeReg(c)
		f.free(y)
		f.jumpTo(engine.JT, c, 0, l, pos)
	default:
		if f.isNil(e) {
			c := f.alloc(kScalar)
			f.emit(engine.ISNIL, c, tag, 0, pos)
			f.freeReg(c)
			f.jumpTo(engine.JT, c, 0, l, pos)
			return
		}
		panic("BUG: case of type " + t.String())
	}
}

func (f *fgen) branchStmt(s *ast.BranchStmt) {
	switch s.Tok {
	case token.FALLTHROUGH:
		return // the next clause's body follows
	case token.BREAK, token.CONTINUE:
	default:
		panic("BUG: branch " + s.Tok.String())
	}
	for i := len(f.targets) - 1; i >= 0; i-- {
		tg := f.targets[i]
		if s.Label != nil && tg.name != s.Label.Name {
			continue
		}
		if s.Tok == token.CONTINUE {
			if tg.cont == nil {
				continue
			}
			f.jmp(tg.cont, s.Pos())
			return
		}
		f.jmp(tg.brk, s.Pos())
		return
	}
	panic("BUG: branch without a target")
}

func (f *fgen) returnStmt(s *ast.ReturnStmt) {
	res := f.fi.sig.Results()
	pos := s.Return
	switch {
	case res.Len() == 0:
		f.emit(engine.RET0, 0, 0, 0, pos)
	case len(s.Results) == 0 && len(f.named) == 0:
		// Only reached by falling off the end, which the checker allows
		// only where it cannot happen; Validate still wants a return.
		run := f.resultRun(res)
		for i := 0; i < res.Len(); i++ {
			f.zero(run+i, res.At(i).Type(), pos)
		}
		f.emitReturn(run, res, pos)
		f.freeRun(run, res)
	case len(s.Results) == 0:
		run := f.resultRun(res)
		for i, v := range f.named {
			if isStruct(v.Type()) {
				f.emit(engine.CLONE, run+i, f.vars[v], 0, pos)
			} else {
				f.readVar(v, run+i, pos)
			}
		}
		f.emitReturn(run, res, pos)
		f.freeRun(run, res)
	case res.Len() == 1:
		op := f.value(s.Results[0])
		f.free(op)
		f.emitReturn(op.reg, res, pos)
	case len(s.Results) == 1:
		call := ast.Unparen(s.Results[0]).(*ast.CallExpr)
		base := f.callTuple(call)
		f.freeTuple(base, call)
		f.emit(engine.RETN, base, 0, 0, pos)
	default:
		run := f.resultRun(res)
		for i, e := range s.Results {
			op := f.value(e)
			f.mov(run+i, op.reg, res.At(i).Type(), e.Pos())
			f.free(op)
		}
		f.emitReturn(run, res, pos)
		f.freeRun(run, res)
	}
}

// resultRun allocates a run of registers for the results.
func (f *fgen) resultRun(res *types.Tuple) int {
	ks := make([]uint8, res.Len())
	for i := range ks {
		ks[i] = regKind(res.At(i).Type())
	}
	return f.allocRun(ks)
}

func (f *fgen) freeRun(run int, res *types.Tuple) {
	for i := 0; i < res.Len(); i++ {
		f.freeReg(run + i)
	}
}

func (f *fgen) emitReturn(r int, res *types.Tuple, pos token.Pos) {
	switch {
	case res.Len() > 1:
		f.emit(engine.RETN, r, 0, 0, pos)
	case isRef(res.At(0).Type()):
		f.emit(engine.RETR, r, 0, 0, pos)
	default:
		f.emit(engine.RET, r, 0, 0, pos)
	}
}
