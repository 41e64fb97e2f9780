package lang

import (
	"cmp"
	"math"
	"strconv"
	"unicode/utf8"
)

// maxConstString bounds the length of a folded string constant.
const maxConstString = 1 << 20

// checker resolves names, computes and checks types, and folds constants.
type checker struct {
	errs    *errorSink
	pkg     *scope
	funcs   []*funcObj // user functions in declaration order
	globals []*object  // global variables; index = global index
	gdecls  []*VarDecl // their declarations, same order
	main    *funcObj

	scope      *scope
	cur        *funcObj // function being checked; nil in global initializers
	loops      int      // enclosing loops
	initGlobal int      // while checking global i's initializer: i, else -1
}

func (c *checker) errorf(pos Pos, format string, args ...any) { c.errs.errorf(pos, format, args...) }

func check(f *File, errs *errorSink) *checker {
	c := &checker{errs: errs, initGlobal: -1}
	c.pkg = newScope(universe())
	c.scope = c.pkg
	// 1. Declare every top-level name.
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *FuncDecl:
			fo := &funcObj{decl: d, name: d.Name.Name, index: len(c.funcs) + 1} // 0 is <init>
			d.obj = c.declare(d.Name, &object{kind: objFunc, fn: fo, global: -1})
			c.funcs = append(c.funcs, fo)
		case *VarDecl:
			d.obj = c.declare(d.Name, &object{kind: objVar, global: len(c.globals), decl: d})
			c.globals = append(c.globals, d.obj)
			c.gdecls = append(c.gdecls, d)
		case *ConstDecl:
			d.obj = c.declare(d.Name, &object{kind: objConst, global: -1, decl: d})
		}
	}
	// 2. Function signatures.
	for _, fo := range c.funcs {
		for _, p := range fo.decl.Params {
			fo.params = append(fo.params, c.typeOf(p.Type))
		}
		fo.result = tVoidType
		if fo.decl.Result != nil {
			fo.result = c.typeOf(fo.decl.Result)
		}
		if fo.name == "main" {
			c.main = fo
			if len(fo.params) > 0 {
				c.errorf(fo.decl.Name.NamePos, "func main must have no parameters")
			}
			if fo.result.isArray() {
				c.errorf(fo.decl.Result.Pos(), "func main must return int, float, bool, string or nothing, not %s", fo.result)
			}
		}
	}
	if c.main == nil {
		c.errorf(Pos{1, 1}, "function main is undeclared")
	}
	// 3. Constants and globals, in source order.
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *VarDecl:
			c.resolve(d.obj)
		case *ConstDecl:
			c.resolve(d.obj)
		}
	}
	// 4. Function bodies.
	for _, fo := range c.funcs {
		c.funcBody(fo)
	}
	return c
}

// declare adds obj under id's name to the current scope.
func (c *checker) declare(id *Ident, obj *object) *object {
	obj.name, obj.pos = id.Name, id.NamePos
	id.obj = obj
	if old := c.scope.names[id.Name]; old != nil {
		c.errorf(id.NamePos, "%s redeclared in this block (other declaration at %d:%d)", id.Name, old.pos.Line, old.pos.Col)
		return obj
	}
	if id.Name != "_" {
		c.scope.names[id.Name] = obj
	}
	return obj
}

// resolve checks a top-level constant or variable on first use.
func (c *checker) resolve(obj *object) {
	switch obj.state {
	case 2:
		return
	case 1:
		c.errorf(obj.pos, "initialization cycle: %s refers to itself", obj.name)
		obj.typ = tInvalidType
		obj.state = 2
		return
	}
	obj.state = 1
	saveScope, saveCur, saveLoops, saveInit := c.scope, c.cur, c.loops, c.initGlobal
	c.scope, c.cur, c.loops = c.pkg, nil, 0
	switch d := obj.decl.(type) {
	case *ConstDecl:
		c.initGlobal = -1
		c.constDecl(d, obj)
	case *VarDecl:
		c.initGlobal = obj.global
		obj.typ = c.varType(d, "variable declaration")
	}
	c.scope, c.cur, c.loops, c.initGlobal = saveScope, saveCur, saveLoops, saveInit
	obj.state = 2
}

func (c *checker) constDecl(d *ConstDecl, obj *object) {
	t := c.value(d.Value)
	obj.typ = t
	if d.Type != nil {
		want := c.typeOf(d.Type)
		if t.valid() && want.valid() && t != want {
			c.errorf(start(d.Value), "cannot use %s as %s in constant declaration", t, want)
		}
		obj.typ = want
	}
	if !t.valid() {
		obj.typ = tInvalidType
		return
	}
	cv := d.Value.info().cv
	if cv == nil {
		c.errorf(start(d.Value), "value of constant %s is not constant", d.Name.Name)
		obj.typ = tInvalidType
		return
	}
	if obj.typ.isArray() {
		c.errorf(d.Name.NamePos, "invalid constant type %s", obj.typ)
		obj.typ = tInvalidType
		return
	}
	obj.cv = cv
}

// varType checks a variable declaration's type and initializer.
func (c *checker) varType(d *VarDecl, context string) Type {
	var t Type
	if d.Type != nil {
		t = c.typeOf(d.Type)
	}
	if d.Value != nil {
		vt := c.value(d.Value)
		if d.Type == nil {
			t = vt
		} else if vt.valid() && t.valid() && vt != t {
			c.errorf(start(d.Value), "cannot use %s as %s in %s", vt, t, context)
		}
	}
	return t
}

// typeOf resolves a type expression.
func (c *checker) typeOf(e Expr) Type {
	switch e := e.(type) {
	case *Ident:
		obj := c.scope.lookup(e.Name)
		if obj == nil {
			c.errorf(e.NamePos, "undefined: %s", e.Name)
			return tInvalidType
		}
		if obj.kind != objType {
			c.errorf(e.NamePos, "%s is not a type", e.Name)
			return tInvalidType
		}
		return obj.typ
	case *ArrayType:
		t := c.typeOf(e.Elem)
		if !t.valid() {
			return t
		}
		if t.Dims >= maxDims {
			c.errorf(e.Lbrack, "array type nesting too deep (limit %d)", maxDims)
			return tInvalidType
		}
		e.typ = t.arrayOf()
		return e.typ
	}
	c.errorf(e.Pos(), "expected type")
	return tInvalidType
}

func (c *checker) funcBody(fo *funcObj) {
	d := fo.decl
	c.cur = fo
	c.scope = newScope(c.pkg)
	for i, p := range d.Params {
		p.obj = c.declare(p.Name, &object{kind: objVar, typ: fo.params[i], global: -1})
	}
	c.stmts(d.Body.List)
	if !fo.result.isVoid() && fo.result.valid() && !terminates(d.Body) {
		c.errorf(d.Body.Rbrace, "missing return")
	}
	c.scope = c.pkg
	c.cur = nil
}

// terminates reports whether s is a terminating statement in the sense of
// the Go specification: control cannot fall off its end.
func terminates(s Stmt) bool {
	switch s := s.(type) {
	case *ReturnStmt:
		return true
	case *BlockStmt:
		for i := len(s.List) - 1; i >= 0; i-- {
			if _, empty := s.List[i].(*EmptyStmt); !empty {
				return terminates(s.List[i])
			}
		}
	case *IfStmt:
		return s.Else != nil && terminates(s.Then) && terminates(s.Else)
	case *ForStmt:
		return s.Cond == nil && !hasBreak(s.Body)
	}
	return false
}

// hasBreak reports whether a break in s refers to the enclosing loop.
func hasBreak(s Stmt) bool {
	switch s := s.(type) {
	case *BranchStmt:
		return s.Tok == tBreak
	case *BlockStmt:
		for _, x := range s.List {
			if hasBreak(x) {
				return true
			}
		}
	case *IfStmt:
		return hasBreak(s.Then) || s.Else != nil && hasBreak(s.Else)
	}
	return false // a nested for owns its breaks
}

// Statements.

func (c *checker) stmts(list []Stmt) {
	for _, s := range list {
		c.stmt(s)
	}
}

func (c *checker) openScope()  { c.scope = newScope(c.scope) }
func (c *checker) closeScope() { c.scope = c.scope.parent }

func (c *checker) stmt(s Stmt) {
	switch s := s.(type) {
	case *VarDecl:
		if s.Define {
			if old := c.scope.names[s.Name.Name]; old != nil {
				c.errorf(s.Name.NamePos, "no new variables on left side of :=")
			}
		}
		t := c.varType(s, "variable declaration")
		if t.isVoid() {
			t = tInvalidType
		}
		s.obj = c.declare(s.Name, &object{kind: objVar, typ: t, global: -1})
	case *ConstDecl:
		obj := &object{kind: objConst, global: -1, state: 2}
		c.constDecl(s, obj)
		s.obj = c.declare(s.Name, obj)
	case *AssignStmt:
		c.assign(s)
	case *IncDecStmt:
		t := c.expr(s.X)
		if !t.valid() {
			return
		}
		c.assignable(s.X)
		if !t.isInt() && !t.isFloat() {
			op := "++"
			if !s.Inc {
				op = "--"
			}
			c.errorf(s.OpPos, "invalid operation: %s on %s (int or float required)", op, t)
		}
	case *ExprStmt:
		t := c.expr(s.X)
		call, isCall := unparen(s.X).(*CallExpr)
		if !t.valid() {
			return
		}
		if isCall && !isConversion(call) {
			if id, ok := unparen(call.Fun).(*Ident); !ok || id.obj == nil || id.obj.kind != objBuiltin || id.obj.builtin == bPrint {
				return
			}
		}
		c.errorf(start(s.X), "value of type %s is not used", t)
	case *BlockStmt:
		c.openScope()
		c.stmts(s.List)
		c.closeScope()
	case *IfStmt:
		c.openScope()
		if s.Init != nil {
			c.stmt(s.Init)
		}
		c.cond(s.Cond, "if")
		c.stmt(s.Then)
		if s.Else != nil {
			c.stmt(s.Else)
		}
		c.closeScope()
	case *ForStmt:
		c.openScope()
		if s.Init != nil {
			c.stmt(s.Init)
		}
		if s.Cond != nil {
			c.cond(s.Cond, "for")
		}
		if s.Post != nil {
			c.stmt(s.Post)
		}
		c.loops++
		c.stmt(s.Body)
		c.loops--
		c.closeScope()
	case *BranchStmt:
		if c.loops == 0 {
			c.errorf(s.TokPos, "%s is not in a loop", s.Tok)
		}
	case *ReturnStmt:
		want := c.cur.result
		if s.Result == nil {
			if !want.isVoid() && want.valid() {
				c.errorf(s.ReturnPos, "not enough return values: have (), want (%s)", want)
			}
			return
		}
		t := c.value(s.Result)
		switch {
		case want.isVoid():
			c.errorf(start(s.Result), "too many return values: have (%s), want ()", t)
		case t.valid() && want.valid() && t != want:
			c.errorf(start(s.Result), "cannot use %s as %s in return statement", t, want)
		}
	case *EmptyStmt:
	}
}

func isConversion(call *CallExpr) bool {
	switch f := unparen(call.Fun).(type) {
	case *ArrayType:
		return true
	case *Ident:
		return f.obj != nil && f.obj.kind == objType
	}
	return false
}

func unparen(e Expr) Expr {
	for {
		p, ok := e.(*ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

func (c *checker) cond(e Expr, what string) {
	t := c.value(e)
	if t.valid() && !t.isBool() {
		c.errorf(start(e), "non-boolean condition in %s statement", what)
	}
}

// assignable checks that e may be assigned to.
func (c *checker) assignable(e Expr) bool {
	switch x := unparen(e).(type) {
	case *Ident:
		if x.obj == nil {
			return false
		}
		if x.obj.kind == objVar {
			return true
		}
		c.errorf(x.NamePos, "cannot assign to %s (neither a variable nor an array element)", x.Name)
	case *IndexExpr:
		if t := x.X.info().typ; t.isString() {
			c.errorf(start(e), "cannot assign to a byte of a string (strings are immutable)")
			return false
		}
		return true
	default:
		c.errorf(start(e), "cannot assign to this expression (neither a variable nor an array element)")
	}
	return false
}

var assignOps = map[token]token{
	tAddAssign: tAdd, tSubAssign: tSub, tMulAssign: tMul, tQuoAssign: tQuo, tRemAssign: tRem,
	tAndAssign: tAnd, tOrAssign: tOr, tXorAssign: tXor, tShlAssign: tShl, tShrAssign: tShr,
}

func (c *checker) assign(s *AssignStmt) {
	lt := c.expr(s.Lhs)
	rt := c.value(s.Rhs)
	if !lt.valid() || !rt.valid() {
		return
	}
	if !c.assignable(s.Lhs) {
		return
	}
	if s.Op == tAssign {
		if lt != rt {
			c.errorf(start(s.Rhs), "cannot use %s as %s in assignment", rt, lt)
		}
		return
	}
	op := assignOps[s.Op]
	if t := c.binaryType(op, s.OpPos, lt, rt); t.valid() && t != lt {
		c.errorf(s.OpPos, "cannot use %s as %s in assignment", t, lt)
	}
	if cv := s.Rhs.info().cv; cv != nil && lt.isInt() && (op == tQuo || op == tRem) && cv.i == 0 {
		c.errorf(start(s.Rhs), "invalid operation: division by zero")
	}
}

// Expressions.

// value checks an expression that must produce a value.
func (c *checker) value(e Expr) Type {
	t := c.expr(e)
	if t.isVoid() {
		c.errorf(start(e), "function call (no value) used as value")
		e.info().typ = tInvalidType
		return tInvalidType
	}
	return t
}

// expr checks e and records its type (and constant value) in e.
func (c *checker) expr(e Expr) Type {
	inf := e.info()
	inf.typ = c.expr1(e)
	if !inf.typ.valid() {
		inf.cv = nil
	}
	return inf.typ
}

func (c *checker) expr1(e Expr) Type {
	switch e := e.(type) {
	case *Ident:
		return c.ident(e)
	case *BasicLit:
		return c.basicLit(e, false)
	case *ParenExpr:
		t := c.expr(e.X)
		e.cv = e.X.info().cv
		return t
	case *UnaryExpr:
		return c.unary(e)
	case *BinaryExpr:
		return c.binary(e)
	case *IndexExpr:
		return c.index(e)
	case *CallExpr:
		return c.call(e)
	case *CompositeLit:
		if e.Type == nil {
			c.errorf(e.Lbrace, "missing type in array literal")
			return tInvalidType
		}
		return c.compositeLit(e, c.typeOf(e.Type))
	case *ArrayType:
		t := c.typeOf(e)
		if t.valid() {
			c.errorf(e.Lbrack, "%s (type) is not an expression", t)
		}
		return tInvalidType
	}
	return tInvalidType
}

func (c *checker) ident(e *Ident) Type {
	obj := c.scope.lookup(e.Name)
	if obj == nil || e.Name == "_" {
		c.errorf(e.NamePos, "undefined: %s", e.Name)
		return tInvalidType
	}
	e.obj = obj
	switch obj.kind {
	case objVar:
		if obj.global >= 0 {
			if c.initGlobal >= 0 && obj.global >= c.initGlobal {
				c.errorf(e.NamePos, "initializer refers to %s, which is declared later", e.Name)
				return tInvalidType
			}
			c.resolve(obj)
		}
		return obj.typ
	case objConst:
		c.resolve(obj)
		e.cv = obj.cv
		return obj.typ
	case objType:
		c.errorf(e.NamePos, "%s (type) is not an expression", e.Name)
	case objFunc:
		c.errorf(e.NamePos, "%s (func) must be called", e.Name)
	case objBuiltin:
		c.errorf(e.NamePos, "%s (built-in function) must be called", e.Name)
	}
	return tInvalidType
}

func (c *checker) basicLit(e *BasicLit, negated bool) Type {
	switch e.Kind {
	case tInt:
		u, err := strconv.ParseUint(e.Value, 0, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				c.errorf(e.ValuePos, "constant %s overflows int", e.Value)
			} else {
				c.errorf(e.ValuePos, "invalid integer literal %s", e.Value)
			}
			return tInvalidType
		}
		if u > 1<<63 || u == 1<<63 && !negated {
			c.errorf(e.ValuePos, "constant %s overflows int", e.Value)
			return tInvalidType
		}
		e.cv = &constVal{i: int64(u)}
		return tIntType
	case tFloat:
		f, err := strconv.ParseFloat(e.Value, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && !math.IsInf(f, 0) {
				// Underflow to zero or a denormal is fine.
			} else if ok && ne.Err == strconv.ErrRange {
				c.errorf(e.ValuePos, "constant %s overflows float", e.Value)
				return tInvalidType
			} else {
				c.errorf(e.ValuePos, "invalid float literal %s", e.Value)
				return tInvalidType
			}
		}
		e.cv = &constVal{f: f}
		return tFloatType
	case tChar:
		s, err := strconv.Unquote(e.Value)
		r, size := utf8.DecodeRuneInString(s)
		if err != nil || size != len(s) || len(s) == 0 {
			c.errorf(e.ValuePos, "invalid rune literal %s", e.Value)
			return tInvalidType
		}
		e.cv = &constVal{i: int64(r)}
		return tIntType
	case tString:
		s, err := strconv.Unquote(e.Value)
		if err != nil {
			c.errorf(e.ValuePos, "invalid string literal (bad escape or invalid UTF-8)")
			return tInvalidType
		}
		e.cv = &constVal{s: s}
		return tStringType
	}
	return tInvalidType
}

func (c *checker) unary(e *UnaryExpr) Type {
	if lit, ok := e.X.(*BasicLit); ok && e.Op == tSub && lit.Kind == tInt {
		// -9223372036854775808 is a valid int literal.
		t := c.basicLit(lit, true)
		lit.typ = t
		if t.valid() {
			e.cv = &constVal{i: -lit.cv.i}
		}
		return t
	}
	t := c.value(e.X)
	if !t.valid() {
		return t
	}
	x := e.X.info().cv
	switch e.Op {
	case tAdd, tSub:
		if !t.isInt() && !t.isFloat() {
			c.errorf(e.OpPos, "invalid operation: operator %s not defined on %s", e.Op, t)
			return tInvalidType
		}
		if x != nil {
			v := *x
			if e.Op == tSub {
				v.i, v.f = -v.i, -v.f
			}
			e.cv = &v
		}
	case tNot:
		if !t.isBool() {
			c.errorf(e.OpPos, "invalid operation: operator ! not defined on %s", t)
			return tInvalidType
		}
		if x != nil {
			e.cv = &constVal{b: !x.b}
		}
	case tXor:
		if !t.isInt() {
			c.errorf(e.OpPos, "invalid operation: operator ^ not defined on %s", t)
			return tInvalidType
		}
		if x != nil {
			e.cv = &constVal{i: ^x.i}
		}
	}
	return t
}

func isComparison(op token) bool {
	switch op {
	case tEql, tNeq, tLss, tLeq, tGtr, tGeq:
		return true
	}
	return false
}

// binaryType returns the result type of x op y, reporting errors at pos.
func (c *checker) binaryType(op token, pos Pos, x, y Type) Type {
	if !x.valid() || !y.valid() {
		return tInvalidType
	}
	if x != y {
		c.errorf(pos, "invalid operation: mismatched types %s and %s", x, y)
		return tInvalidType
	}
	t := x
	ok := false
	switch op {
	case tLAnd, tLOr:
		ok = t.isBool()
	case tEql, tNeq:
		ok = !t.isArray()
		if !ok {
			c.errorf(pos, "invalid operation: arrays cannot be compared")
			return tInvalidType
		}
	case tLss, tLeq, tGtr, tGeq:
		ok = t.isInt() || t.isFloat() || t.isString()
	case tAdd:
		ok = t.isInt() || t.isFloat() || t.isString()
	case tSub, tMul, tQuo:
		ok = t.isInt() || t.isFloat()
	case tRem, tAnd, tOr, tXor, tShl, tShr:
		ok = t.isInt()
	}
	if !ok {
		c.errorf(pos, "invalid operation: operator %s not defined on %s", op, t)
		return tInvalidType
	}
	if isComparison(op) {
		return tBoolType
	}
	return t
}

func (c *checker) binary(e *BinaryExpr) Type {
	xt := c.value(e.X)
	yt := c.value(e.Y)
	t := c.binaryType(e.Op, e.OpPos, xt, yt)
	if !t.valid() {
		return t
	}
	y := e.Y.info().cv
	if xt.isInt() && (e.Op == tQuo || e.Op == tRem) && y != nil && y.i == 0 {
		c.errorf(e.OpPos, "invalid operation: division by zero")
		return tInvalidType
	}
	x := e.X.info().cv
	if x != nil && y != nil {
		v, ok := fold(e.Op, xt, *x, *y)
		if !ok {
			c.errorf(e.OpPos, "constant string too long")
			return tInvalidType
		}
		e.cv = &v
	}
	return t
}

// compare evaluates a comparison operator on two ordered constants.
func compare[T cmp.Ordered](op token, a, b T) bool {
	switch op {
	case tEql:
		return a == b
	case tNeq:
		return a != b
	case tLss:
		return a < b
	case tLeq:
		return a <= b
	case tGtr:
		return a > b
	case tGeq:
		return a >= b
	}
	return false
}

// fold evaluates x op y for constants of operand type t, with exactly the
// semantics of the machine instructions (wrapping ints, shift counts masked
// to 6 bits, IEEE floats, bytewise strings). Division by zero is excluded by
// the caller.
func fold(op token, t Type, x, y constVal) (constVal, bool) {
	var v constVal
	switch {
	case t.isInt():
		a, b := x.i, y.i
		switch op {
		case tAdd:
			v.i = a + b
		case tSub:
			v.i = a - b
		case tMul:
			v.i = a * b
		case tQuo:
			v.i = a / b
		case tRem:
			v.i = a % b
		case tAnd:
			v.i = a & b
		case tOr:
			v.i = a | b
		case tXor:
			v.i = a ^ b
		case tShl:
			v.i = a << (uint64(b) & 63)
		case tShr:
			v.i = a >> (uint64(b) & 63)
		default:
			v.b = compare(op, a, b)
		}
	case t.isFloat():
		a, b := x.f, y.f
		switch op {
		case tAdd:
			v.f = a + b
		case tSub:
			v.f = a - b
		case tMul:
			v.f = a * b
		case tQuo:
			v.f = a / b
		default:
			v.b = compare(op, a, b)
		}
	case t.isString():
		a, b := x.s, y.s
		switch op {
		case tAdd:
			if len(a)+len(b) > maxConstString {
				return v, false
			}
			v.s = a + b
		default:
			v.b = compare(op, a, b)
		}
	case t.isBool():
		a, b := x.b, y.b
		switch op {
		case tLAnd:
			v.b = a && b
		case tLOr:
			v.b = a || b
		case tEql:
			v.b = a == b
		case tNeq:
			v.b = a != b
		}
	}
	return v, true
}

func (c *checker) index(e *IndexExpr) Type {
	xt := c.value(e.X)
	it := c.value(e.Index)
	if !xt.valid() || !it.valid() {
		return tInvalidType
	}
	if !it.isInt() {
		c.errorf(start(e.Index), "invalid argument: index of type %s must be int", it)
		return tInvalidType
	}
	idx := e.Index.info().cv
	if idx != nil && idx.i < 0 {
		c.errorf(start(e.Index), "invalid argument: index %d must not be negative", idx.i)
		return tInvalidType
	}
	switch {
	case xt.isArray():
		return xt.elem()
	case xt.isString():
		if s := e.X.info().cv; s != nil && idx != nil {
			if idx.i >= int64(len(s.s)) {
				c.errorf(start(e.Index), "invalid argument: index %d out of bounds [0:%d]", idx.i, len(s.s))
				return tInvalidType
			}
			e.cv = &constVal{i: int64(s.s[idx.i])}
		}
		return tIntType
	}
	c.errorf(e.Lbrack, "invalid operation: cannot index %s", xt)
	return tInvalidType
}

func (c *checker) compositeLit(e *CompositeLit, t Type) Type {
	if !t.valid() {
		return t
	}
	e.typ = t
	et := t.elem()
	for _, elt := range e.Elts {
		if lit, ok := elt.(*CompositeLit); ok && lit.Type == nil {
			if !et.isArray() {
				c.errorf(lit.Lbrace, "invalid array literal: element type %s is not an array", et)
				continue
			}
			lit.typ = c.compositeLit(lit, et)
			continue
		}
		vt := c.value(elt)
		if vt.valid() && vt != et {
			c.errorf(start(elt), "cannot use %s as %s in array literal", vt, et)
		}
	}
	return t
}

func (c *checker) call(e *CallExpr) Type {
	var obj *object
	switch f := unparen(e.Fun).(type) {
	case *Ident:
		obj = c.scope.lookup(f.Name)
		if obj == nil {
			c.errorf(f.NamePos, "undefined: %s", f.Name)
			c.args(e.Args)
			return tInvalidType
		}
		f.obj = obj
	case *ArrayType:
		t := c.typeOf(f)
		c.args(e.Args)
		if t.valid() {
			c.errorf(e.Lparen, "cannot convert to %s", t)
		}
		return tInvalidType
	default:
		c.expr(e.Fun)
		c.args(e.Args)
		if e.Fun.info().typ.valid() {
			c.errorf(e.Lparen, "invalid operation: cannot call non-function")
		}
		return tInvalidType
	}
	switch obj.kind {
	case objType:
		return c.conversion(e, obj.typ)
	case objBuiltin:
		return c.builtin(e, obj)
	case objFunc:
		fo := obj.fn
		ts := c.args(e.Args)
		if len(ts) != len(fo.params) {
			what := "not enough"
			if len(ts) > len(fo.params) {
				what = "too many"
			}
			c.errorf(e.Lparen, "%s arguments in call to %s: have (%s), want (%s)", what, fo.name, typeList(ts), typeList(fo.params))
			return fo.result
		}
		for i, t := range ts {
			if t.valid() && fo.params[i].valid() && t != fo.params[i] {
				c.errorf(start(e.Args[i]), "cannot use %s as %s in argument to %s", t, fo.params[i], fo.name)
			}
		}
		return fo.result
	}
	c.args(e.Args)
	c.errorf(e.Lparen, "invalid operation: cannot call non-function %s", obj.name)
	return tInvalidType
}

func (c *checker) args(args []Expr) []Type {
	ts := make([]Type, len(args))
	for i, a := range args {
		ts[i] = c.value(a)
	}
	return ts
}

func typeList(ts []Type) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t.String()
	}
	return s
}

func (c *checker) conversion(e *CallExpr, to Type) Type {
	if len(e.Args) != 1 {
		c.args(e.Args)
		c.errorf(e.Lparen, "conversion to %s takes exactly one argument", to)
		return tInvalidType
	}
	from := c.value(e.Args[0])
	if !from.valid() {
		return tInvalidType
	}
	x := e.Args[0].info().cv
	switch {
	case from == to:
		e.cv = x
	case from.isFloat() && to.isInt():
		if x != nil && x.f >= -0x1p63 && x.f < 0x1p63 {
			e.cv = &constVal{i: int64(x.f)}
		}
	case from.isInt() && to.isFloat():
		if x != nil {
			e.cv = &constVal{f: float64(x.i)}
		}
	case to.isString():
		c.errorf(e.Lparen, "cannot convert %s to string (use str)", from)
		return tInvalidType
	default:
		c.errorf(e.Lparen, "cannot convert %s to %s", from, to)
		return tInvalidType
	}
	return to
}

func (c *checker) nargs(e *CallExpr, name string, n int) bool {
	if len(e.Args) != n {
		c.args(e.Args)
		what := "not enough"
		if len(e.Args) > n {
			what = "too many"
		}
		c.errorf(e.Lparen, "%s arguments for %s (expected %d, found %d)", what, name, n, len(e.Args))
		return false
	}
	return true
}

func (c *checker) builtin(e *CallExpr, obj *object) Type {
	switch obj.builtin {
	case bLen:
		if !c.nargs(e, "len", 1) {
			return tInvalidType
		}
		t := c.value(e.Args[0])
		if !t.valid() {
			return tInvalidType
		}
		if !t.isString() && !t.isArray() {
			c.errorf(start(e.Args[0]), "invalid argument: %s for built-in len", t)
			return tInvalidType
		}
		if x := e.Args[0].info().cv; x != nil {
			e.cv = &constVal{i: int64(len(x.s))}
		}
		return tIntType
	case bAppend:
		if len(e.Args) == 0 {
			c.errorf(e.Lparen, "not enough arguments for append (expected at least 1, found 0)")
			return tInvalidType
		}
		ts := c.args(e.Args)
		t := ts[0]
		if !t.valid() {
			return tInvalidType
		}
		if !t.isArray() {
			c.errorf(start(e.Args[0]), "invalid argument: first argument to append must be an array; have %s", t)
			return tInvalidType
		}
		for i, vt := range ts[1:] {
			if vt.valid() && vt != t.elem() {
				c.errorf(start(e.Args[i+1]), "cannot use %s as %s in argument to append", vt, t.elem())
			}
		}
		return t
	case bPrint:
		for i, t := range c.args(e.Args) {
			if t.isArray() {
				c.errorf(start(e.Args[i]), "cannot print value of type %s", t)
			}
		}
		return tVoidType
	case bSqrt:
		if !c.nargs(e, "sqrt", 1) {
			return tInvalidType
		}
		t := c.value(e.Args[0])
		if !t.valid() {
			return tInvalidType
		}
		if !t.isFloat() {
			c.errorf(start(e.Args[0]), "cannot use %s as float in argument to sqrt", t)
			return tInvalidType
		}
		if x := e.Args[0].info().cv; x != nil {
			e.cv = &constVal{f: math.Sqrt(x.f)}
		}
		return tFloatType
	case bStr:
		if !c.nargs(e, "str", 1) {
			return tInvalidType
		}
		t := c.value(e.Args[0])
		if !t.valid() {
			return tInvalidType
		}
		if t.isArray() {
			c.errorf(start(e.Args[0]), "invalid argument: %s for built-in str", t)
			return tInvalidType
		}
		if x := e.Args[0].info().cv; x != nil {
			switch {
			case t.isInt():
				e.cv = &constVal{s: strconv.FormatInt(x.i, 10)}
			case t.isFloat():
				e.cv = &constVal{s: strconv.FormatFloat(x.f, 'g', -1, 64)}
			case t.isBool():
				e.cv = &constVal{s: strconv.FormatBool(x.b)}
			default:
				e.cv = x
			}
		}
		return tStringType
	case bMake:
		if !c.nargs(e, "make", 2) {
			return tInvalidType
		}
		at, ok := e.Args[0].(*ArrayType)
		if !ok {
			c.value(e.Args[1])
			c.errorf(start(e.Args[0]), "invalid argument: first argument to make must be an array type like []int")
			return tInvalidType
		}
		t := c.typeOf(at)
		nt := c.value(e.Args[1])
		if nt.valid() && !nt.isInt() {
			c.errorf(start(e.Args[1]), "cannot use %s as int in argument to make", nt)
			return tInvalidType
		}
		if n := e.Args[1].info().cv; n != nil && n.i < 0 {
			c.errorf(start(e.Args[1]), "invalid argument: length %d must not be negative", n.i)
			return tInvalidType
		}
		return t
	}
	return tInvalidType
}
