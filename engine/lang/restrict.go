package lang

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
)

// restrict reports, after type checking, every use of a Go feature that
// Knoten leaves out (see the package doc), at the position where it
// appears. What passes is what the code generator compiles.
func restrict(u *unit, errs *errorSink) {
	r := &restricter{u: u, errs: errs, seen: map[types.Type]bool{}, calls: map[ast.Expr]bool{}}
	if fn, ok := u.pkg.Scope().Lookup("main").(*types.Func); !ok || u.inPrelude(fn) {
		errs.add(u.fset.Position(u.file.Package), "function main is undeclared")
	}
	ast.Inspect(u.file, r.node)
	// The checker's maps in source order, so that the errors reported
	// (which stop at MaxErrors) do not depend on map order.
	ids := make([]*ast.Ident, 0, len(u.info.Defs))
	for id := range u.info.Defs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Pos() < ids[j].Pos() })
	for _, id := range ids {
		obj := u.info.Defs[id]
		if obj == nil || u.inPrelude(obj) {
			continue
		}
		switch obj := obj.(type) {
		case *types.Var:
			r.checkType(id.Pos(), obj.Type())
		case *types.TypeName:
			r.checkType(id.Pos(), obj.Type())
		case *types.Func:
			r.checkType(id.Pos(), obj.Type())
		}
	}
	exprs := make([]ast.Expr, 0, len(u.info.Types))
	for e := range u.info.Types {
		exprs = append(exprs, e)
	}
	sort.Slice(exprs, func(i, j int) bool {
		if exprs[i].Pos() != exprs[j].Pos() {
			return exprs[i].Pos() < exprs[j].Pos()
		}
		return exprs[i].End() > exprs[j].End() // the outer expression first
	})
	for _, e := range exprs {
		tv := u.info.Types[e]
		if tv.IsType() || tv.IsBuiltin() {
			continue
		}
		if id, ok := e.(*ast.Ident); ok {
			if obj := u.info.Uses[id]; obj != nil && u.inPrelude(obj) {
				continue
			}
		}
		if ix, ok := e.(*ast.IndexExpr); ok { // an instantiated prelude generic: str[int]
			if id, ok := ix.X.(*ast.Ident); ok && u.inPrelude(u.info.Uses[id]) {
				continue
			}
		}
		if u.fset.File(e.Pos()) != u.fset.File(u.file.Pos()) {
			continue
		}
		r.checkType(e.Pos(), tv.Type)
	}
}

type restricter struct {
	u     *unit
	errs  *errorSink
	seen  map[types.Type]bool
	calls map[ast.Expr]bool // the callee expressions of the calls seen so far
}

// errorf reports an error, one per line: the first thing on a line that
// Knoten lacks says enough.
func (r *restricter) errorf(pos token.Pos, format string, args ...any) {
	p := r.u.fset.Position(pos)
	for _, e := range r.errs.list {
		if e.Line == p.Line {
			return
		}
	}
	r.errs.add(p, fmt.Sprintf(format, args...))
}

func (r *restricter) node(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.GoStmt:
		r.errorf(n.Pos(), "go statements are not supported in Knoten")
	case *ast.DeferStmt:
		r.errorf(n.Pos(), "defer is not supported in Knoten")
	case *ast.SelectStmt:
		r.errorf(n.Pos(), "select is not supported in Knoten")
	case *ast.SendStmt:
		r.errorf(n.Pos(), "channels are not supported in Knoten")
	case *ast.TypeSwitchStmt:
		r.errorf(n.Pos(), "type switches are not supported in Knoten (it has no interfaces)")
	case *ast.TypeAssertExpr:
		r.errorf(n.Pos(), "type assertions are not supported in Knoten (it has no interfaces)")
	case *ast.BranchStmt:
		if n.Tok == token.GOTO {
			r.errorf(n.Pos(), "goto is not supported in Knoten")
		}
	case *ast.FuncDecl:
		if n.Body == nil {
			r.errorf(n.Name.Pos(), "missing function body")
		}
		if n.Type.TypeParams != nil {
			r.errorf(n.Type.TypeParams.Pos(), "generic functions are not supported in Knoten")
		}
		if n.Name.Name == "main" && n.Recv == nil {
			r.mainSignature(n)
		}
	case *ast.TypeSpec:
		if n.TypeParams != nil {
			r.errorf(n.TypeParams.Pos(), "generic types are not supported in Knoten")
		}
	case *ast.FuncType:
		if n.Params != nil {
			for _, p := range n.Params.List {
				if _, ok := p.Type.(*ast.Ellipsis); ok {
					r.errorf(p.Type.Pos(), "variadic functions are not supported in Knoten")
				}
			}
		}
	case *ast.StructType:
		for _, f := range n.Fields.List {
			if len(f.Names) == 0 {
				r.errorf(f.Pos(), "embedded fields are not supported in Knoten")
			}
		}
	case *ast.RangeStmt:
		t := r.u.info.Types[n.X].Type
		if t != nil {
			switch under(t).(type) {
			case *types.Basic, *types.Slice, *types.Map:
			default:
				r.errorf(n.X.Pos(), "cannot range over %s in Knoten (slices, strings, maps and integers only)", t)
			}
		}
	case *ast.SelectorExpr:
		if sel := r.u.info.Selections[n]; sel != nil && sel.Kind() == types.MethodExpr {
			r.errorf(n.Pos(), "method expressions are not supported in Knoten")
		}

	case *ast.Ident:
		if fn, ok := r.u.info.Uses[n].(*types.Func); ok && r.u.inPrelude(fn) && !r.calls[n] {
			r.errorf(n.Pos(), "%s is a builtin: it must be called", n.Name)
		}
	case *ast.CallExpr:
		r.conversion(n)
		r.calls[ast.Unparen(n.Fun)] = true
		if ix, ok := ast.Unparen(n.Fun).(*ast.IndexExpr); ok {
			r.calls[ix.X] = true // str[int](x)
		}
		if tv, ok := r.u.info.Types[ast.Unparen(n.Fun)]; ok && tv.IsBuiltin() {
			id, _ := ast.Unparen(n.Fun).(*ast.Ident)
			if id != nil {
				switch id.Name {
				case "len", "cap", "append", "make", "new", "copy", "delete", "min", "max":
				default:
					r.errorf(n.Pos(), "the built-in function %s is not supported in Knoten", id.Name)
				}
			}
		}
		if n.Ellipsis.IsValid() && r.u.preludeCall(n) != pNone {
			r.errorf(n.Ellipsis, "cannot pass a slice to %s with ...", ast.Unparen(n.Fun))
		}
	case *ast.BinaryExpr:
		if n.Op == token.EQL || n.Op == token.NEQ {
			if t := r.u.info.Types[n.X].Type; t != nil && isStruct(t) {
				r.errorf(n.OpPos, "comparing structs is not supported in Knoten")
			}
		}
	}
	return true
}

// mainSignature checks that main takes nothing and returns at most one
// value of a kind a result can be (it is the isolate's result).
func (r *restricter) mainSignature(d *ast.FuncDecl) {
	fn, _ := r.u.info.Defs[d.Name].(*types.Func)
	if fn == nil {
		return
	}
	sig := fn.Type().(*types.Signature)
	if sig.Params().Len() > 0 {
		r.errorf(d.Name.Pos(), "func main must have no parameters")
	}
	switch {
	case sig.Results().Len() > 1:
		r.errorf(d.Type.Results.Pos(), "func main must return at most one value")
	case sig.Results().Len() == 1:
		t := sig.Results().At(0).Type()
		if b, ok := under(t).(*types.Basic); !ok || b.Kind() == types.UntypedNil {
			r.errorf(d.Type.Results.Pos(), "func main must return an integer, float, bool, string or nothing, not %s", t)
		}
	}
}

// checkType reports the first part of t that Knoten does not support.
func (r *restricter) checkType(pos token.Pos, t types.Type) {
	if msg := r.unsupported(t); msg != "" {
		r.errorf(pos, "%s", msg)
	}
}

func (r *restricter) unsupported(t types.Type) string {
	if r.seen[t] {
		return "" // checked, or being checked (a recursive type)
	}
	r.seen[t] = true
	msg := r.unsupported1(t)
	if msg != "" {
		delete(r.seen, t) // report it at every use
	}
	return msg
}

func (r *restricter) unsupported1(t types.Type) string {
	switch t := t.(type) {
	case *types.Named:
		if t.Obj().Pkg() == nil && t.Obj().Name() == "error" {
			return "the error type is not supported in Knoten (it has no interfaces)"
		}
		return r.unsupported(t.Underlying())
	case *types.Alias:
		return r.unsupported(types.Unalias(t))
	case *types.Basic:
		switch t.Kind() {
		case types.Bool, types.Int, types.Int8, types.Int16, types.Int32, types.Int64,
			types.Uint8, types.Uint16, types.Uint32, types.Float64, types.String,
			types.UntypedBool, types.UntypedInt, types.UntypedRune, types.UntypedFloat,
			types.UntypedString, types.UntypedNil, types.Invalid:
			return ""
		case types.Uint, types.Uint64, types.Uintptr:
			return fmt.Sprintf("%s is not supported in Knoten (unsigned integers are limited to 32 bits)", t)
		}
		return fmt.Sprintf("%s is not supported in Knoten", t)
	case *types.Slice:
		if sizes.Sizeof(t.Elem()) >= 1<<15 {
			return fmt.Sprintf("slices of %s are not supported in Knoten: elements of 32 KiB or more", t.Elem())
		}
		return r.unsupported(t.Elem())
	case *types.Tuple:
		for i := 0; i < t.Len(); i++ {
			if msg := r.unsupported(t.At(i).Type()); msg != "" {
				return msg
			}
		}
		return ""
	case *types.Signature:
		if t.Variadic() {
			return "variadic functions are not supported in Knoten"
		}
		if msg := r.unsupported(t.Params()); msg != "" {
			return msg
		}
		return r.unsupported(t.Results())
	case *types.Struct:
		if t.NumFields() > 64 {
			return fmt.Sprintf("a struct of %d fields: Knoten allows at most 64", t.NumFields())
		}
		for i := 0; i < t.NumFields(); i++ {
			if msg := r.unsupported(t.Field(i).Type()); msg != "" {
				return msg
			}
		}
		return ""
	case *types.Pointer:
		return r.unsupported(t.Elem())
	case *types.Map:
		if k := t.Key(); !isInt(k) && !isBool(k) && !isString(k) {
			return fmt.Sprintf("maps with keys of type %s are not supported in Knoten (integers, bools and strings only)", k)
		}
		if msg := r.unsupported(t.Key()); msg != "" {
			return msg
		}
		return r.unsupported(t.Elem())
	case *types.Interface:
		return "interfaces are not supported in Knoten"
	case *types.Array:
		return "arrays are not supported in Knoten (use a slice)"
	case *types.Chan:
		return "channels are not supported in Knoten"
	case *types.TypeParam:
		return "generics are not supported in Knoten"
	}
	return fmt.Sprintf("the type %s is not supported in Knoten", t)
}

// conversion refuses string conversions of slices other than []byte:
// []rune(s) and string(runes) decode and encode UTF-8 in Go, and Knoten
// leaves them out rather than treat runes as bytes.
func (r *restricter) conversion(c *ast.CallExpr) {
	if len(c.Args) != 1 {
		return
	}
	fun := ast.Unparen(c.Fun)
	if tv, ok := r.u.info.Types[fun]; !ok || !tv.IsType() {
		return
	}
	to, from := r.u.info.Types[fun].Type, r.u.info.Types[c.Args[0]].Type
	if from == nil || to == nil {
		return
	}
	s := from
	if isString(from) {
		s = to
	} else if !isString(to) {
		return
	}
	sl, ok := under(s).(*types.Slice)
	if !ok {
		return
	}
	if b, ok := under(sl.Elem()).(*types.Basic); !ok || b.Kind() != types.Byte && b.Kind() != types.Uint8 {
		r.errorf(c.Pos(), "conversion between string and %s is not supported in Knoten (only []byte; []rune is left out)", types.TypeString(s, nil))
	}
}
