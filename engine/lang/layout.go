package lang

import (
	"go/types"

	"github.com/knotencore/knoten/engine"
)

// How Go values live in the machine. Every value is one 64-bit word:
//
//	bool, the int types, float64   a scalar: 0 or 1, the integer (the
//	                               narrow types kept sign- or
//	                               zero-extended), IEEE-754 bits
//	string                         a ref to a string object ("" is nil)
//	slice                          a ref to an array or a slice header
//	struct value                   a ref to a struct object that the
//	                               variable, field or element owns
//	pointer                        a ref to a struct object, or to a
//	                               one-field cell holding the pointee
//	map                            a ref to a map object
//	func                           a ref to a closure object
//
// So a register is a scalar or a ref register for its whole function, and
// every container holds one word per element.

// sizes are the sizes Go gives types on the 64-bit targets, which decide
// append's growth.
var sizes = types.SizesFor("gc", "amd64")

// under returns the underlying type, with untyped basic types replaced by
// their default types.
func under(t types.Type) types.Type {
	u := t.Underlying()
	if b, ok := u.(*types.Basic); ok && b.Info()&types.IsUntyped != 0 {
		return types.Default(b).Underlying()
	}
	return u
}

// isRef reports whether values of type t are heap references.
func isRef(t types.Type) bool {
	switch u := under(t).(type) {
	case *types.Basic:
		return u.Kind() == types.String || u.Kind() == types.UntypedNil
	case *types.Slice, *types.Map, *types.Pointer, *types.Struct, *types.Signature:
		return true
	}
	return false
}

// regKind is the register kind that holds values of type t.
func regKind(t types.Type) uint8 {
	if isRef(t) {
		return kRef
	}
	return kScalar
}

func basicKind(t types.Type) types.BasicKind {
	if b, ok := under(t).(*types.Basic); ok {
		return b.Kind()
	}
	return types.Invalid
}

func isString(t types.Type) bool { return basicKind(t) == types.String }
func isFloat(t types.Type) bool  { return basicKind(t) == types.Float64 }
func isBool(t types.Type) bool   { return basicKind(t) == types.Bool }

// isInt reports whether t is one of the integer types.
func isInt(t types.Type) bool {
	b, ok := under(t).(*types.Basic)
	return ok && b.Info()&types.IsInteger != 0
}

// intWidth returns the EXT operand that keeps a value of integer type t
// normalized after arithmetic: -bits for the narrow signed types, bits for
// the unsigned ones, 0 for the 64-bit types, which wrap by themselves.
func intWidth(t types.Type) int {
	switch basicKind(t) {
	case types.Int8:
		return -8
	case types.Int16:
		return -16
	case types.Int32:
		return -32
	case types.Uint8:
		return 8
	case types.Uint16:
		return 16
	case types.Uint32:
		return 32
	}
	return 0
}

// isUnsigned reports whether t is an unsigned integer type.
func isUnsigned(t types.Type) bool {
	b, ok := under(t).(*types.Basic)
	return ok && b.Info()&types.IsUnsigned != 0
}

func isSlice(t types.Type) bool {
	_, ok := under(t).(*types.Slice)
	return ok
}

func isStruct(t types.Type) bool {
	_, ok := under(t).(*types.Struct)
	return ok
}

func isMap(t types.Type) bool {
	_, ok := under(t).(*types.Map)
	return ok
}

func isPointer(t types.Type) bool {
	_, ok := under(t).(*types.Pointer)
	return ok
}

func isFunc(t types.Type) bool {
	_, ok := under(t).(*types.Signature)
	return ok
}

// elemOf returns the element type of a slice type.
func elemOf(t types.Type) types.Type { return under(t).(*types.Slice).Elem() }

// elemSize is the B operand of the append instructions for slices of
// element type t: Go's size of t and whether t holds pointers.
func elemSize(t types.Type) int {
	n := int(sizes.Sizeof(t))
	if n > 1<<15-1 {
		n = 1<<15 - 1 // refused by restrict; keeps the operand in range
	}
	if hasPointers(t) {
		n |= 1 << 15
	}
	return n
}

// hasPointers reports whether Go's representation of t holds pointers,
// which makes its allocation size classes differ (see engine growCap).
func hasPointers(t types.Type) bool {
	switch u := under(t).(type) {
	case *types.Basic:
		return u.Kind() == types.String
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			if hasPointers(u.Field(i).Type()) {
				return true
			}
		}
		return false
	case *types.Array:
		return u.Len() > 0 && hasPointers(u.Elem())
	}
	return true // slices, maps, pointers, funcs, chans, interfaces
}

// engineKind is the engine's kind of a result of type t.
func engineKind(t types.Type) engine.Kind {
	switch u := under(t).(type) {
	case *types.Basic:
		switch {
		case u.Kind() == types.String:
			return engine.KindString
		case u.Kind() == types.Bool:
			return engine.KindBool
		case u.Info()&types.IsFloat != 0:
			return engine.KindFloat
		case u.Info()&types.IsInteger != 0:
			return engine.KindInt
		}
	case *types.Slice:
		return engine.KindArray
	}
	return engine.KindRef
}
