package lang

import (
	"go/ast"
	"go/types"
)

// preludeSource declares Knoten's own builtins. It is checked with every
// program as a second file of its package, so its names are package-level
// names beside the program's own (a program may not redeclare them at the
// top level, and may shadow them in a function). The code generator
// compiles calls of these functions itself; their bodies here only give
// the checker something to check. A Go program that declares the same
// names (the differential test's prelude does, with fmt) runs the same
// Knoten text under the Go toolchain.
const preludeSource = `package knoten

// float is Knoten's name for float64.
type float = float64

// print prints its operands as fmt.Println does: %v forms separated by
// spaces, then a newline.
func print(args ...any) {}

// str is the decimal form of an integer, the shortest 'g' form of a float,
// true or false, or the string itself: fmt.Sprint of one operand.
func str[T ~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~float64 | ~bool | ~string](x T) string {
	return ""
}

// sqrt is math.Sqrt.
func sqrt(x float64) float64 { return x }

// abs is the absolute value: -x when x < 0, else x (so abs of the most
// negative int is itself, as in two's complement).
func abs[T ~int | ~int8 | ~int16 | ~int32 | ~int64 | ~float64](x T) T { return x }
`

// preludeFunc names a prelude function.
type preludeFunc uint8

const (
	pNone preludeFunc = iota
	pPrint
	pStr
	pSqrt
	pAbs
)

var preludeFuncs = map[string]preludeFunc{"print": pPrint, "str": pStr, "sqrt": pSqrt, "abs": pAbs}

// preludeCall returns which prelude function call e calls, if any.
func (u *unit) preludeCall(e *ast.CallExpr) preludeFunc {
	id, ok := ast.Unparen(e.Fun).(*ast.Ident)
	if !ok {
		if ix, ok := ast.Unparen(e.Fun).(*ast.IndexExpr); ok { // str[int](x)
			id, _ = ix.X.(*ast.Ident)
		}
		if id == nil {
			return pNone
		}
	}
	fn, ok := u.info.Uses[id].(*types.Func)
	if !ok || !u.inPrelude(fn) {
		return pNone
	}
	return preludeFuncs[fn.Name()]
}

// inPrelude reports whether obj is declared by the prelude.
func (u *unit) inPrelude(obj types.Object) bool {
	return obj != nil && obj.Pos().IsValid() && u.fset.File(obj.Pos()) == u.fset.File(u.prelude.Pos())
}
