package lang

import (
	"strings"

	"github.com/knotencore/knoten/engine"
)

// Base is the element type at the bottom of a Type.
type Base uint8

const (
	BaseInvalid Base = iota // the type of an expression that has an error
	BaseVoid                // the "type" of a call to a function without a result
	BaseInt
	BaseFloat
	BaseBool
	BaseString
)

var baseNames = [...]string{"invalid type", "no value", "int", "float", "bool", "string"}

// maxDims bounds the nesting of array types.
const maxDims = 64

// Type is a Knoten type: Dims levels of array ([]) around Base. The zero Type
// is invalid.
type Type struct {
	Base Base
	Dims uint8
}

var (
	tInvalidType = Type{}
	tVoidType    = Type{Base: BaseVoid}
	tIntType     = Type{Base: BaseInt}
	tFloatType   = Type{Base: BaseFloat}
	tBoolType    = Type{Base: BaseBool}
	tStringType  = Type{Base: BaseString}
)

func (t Type) String() string {
	if t.Base >= Base(len(baseNames)) {
		return "?"
	}
	return strings.Repeat("[]", int(t.Dims)) + baseNames[t.Base]
}

func (t Type) valid() bool    { return t.Base != BaseInvalid }
func (t Type) isVoid() bool   { return t.Base == BaseVoid && t.Dims == 0 }
func (t Type) isArray() bool  { return t.Dims > 0 }
func (t Type) isInt() bool    { return t == tIntType }
func (t Type) isFloat() bool  { return t == tFloatType }
func (t Type) isBool() bool   { return t == tBoolType }
func (t Type) isString() bool { return t == tStringType }

// isRef reports whether values of the type live in the heap.
func (t Type) isRef() bool { return t.Dims > 0 || t.Base == BaseString }

// elem returns the element type of an array type.
func (t Type) elem() Type { return Type{Base: t.Base, Dims: t.Dims - 1} }

func (t Type) arrayOf() Type { return Type{Base: t.Base, Dims: t.Dims + 1} }

// kind maps the type to the engine's value kind.
func (t Type) kind() engine.Kind {
	switch {
	case t.Dims > 0:
		return engine.KindArray
	case t.Base == BaseInt:
		return engine.KindInt
	case t.Base == BaseFloat:
		return engine.KindFloat
	case t.Base == BaseBool:
		return engine.KindBool
	case t.Base == BaseString:
		return engine.KindString
	}
	return engine.KindVoid
}

// constVal is the value of a constant expression; which field is meaningful
// depends on the expression's type.
type constVal struct {
	i int64
	f float64
	s string
	b bool
}

type objKind uint8

const (
	objVar objKind = iota
	objConst
	objFunc
	objBuiltin
	objType
)

type builtinID uint8

const (
	bLen builtinID = iota
	bAppend
	bPrint
	bSqrt
	bStr
	bMake
)

// object is what a name denotes.
type object struct {
	kind    objKind
	name    string
	pos     Pos
	typ     Type
	cv      *constVal // constants
	global  int       // global index of a global variable, else -1
	fn      *funcObj  // functions
	builtin builtinID
	decl    any   // top-level *VarDecl or *ConstDecl, resolved lazily
	state   uint8 // top-level resolution: 0 not started, 1 in progress, 2 done
	reg     int   // code generation: register of a local variable
}

type funcObj struct {
	decl   *FuncDecl
	name   string
	params []Type
	result Type
	index  int // function index in the program
}

type scope struct {
	parent *scope
	names  map[string]*object
}

func newScope(parent *scope) *scope { return &scope{parent: parent, names: map[string]*object{}} }

func (s *scope) lookup(name string) *object {
	for ; s != nil; s = s.parent {
		if o := s.names[name]; o != nil {
			return o
		}
	}
	return nil
}

func universe() *scope {
	u := newScope(nil)
	for _, t := range []Type{tIntType, tFloatType, tBoolType, tStringType} {
		u.names[t.String()] = &object{kind: objType, name: t.String(), typ: t, global: -1}
	}
	u.names["true"] = &object{kind: objConst, name: "true", typ: tBoolType, cv: &constVal{b: true}, global: -1, state: 2}
	u.names["false"] = &object{kind: objConst, name: "false", typ: tBoolType, cv: &constVal{}, global: -1, state: 2}
	for name, id := range map[string]builtinID{"len": bLen, "append": bAppend, "print": bPrint, "sqrt": bSqrt, "str": bStr, "make": bMake} {
		u.names[name] = &object{kind: objBuiltin, name: name, builtin: id, global: -1}
	}
	return u
}
