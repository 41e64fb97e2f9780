// Package lang is the front end of Knoten: a practical subset of Go, with
// Go's semantics wherever it has the feature. Compile turns one source file
// into a validated engine.Program.
//
// # Language
//
// A Knoten program is one Go file: go/parser parses it and go/types checks
// it (the package clause may be left out), so its syntax, typing, constant
// arithmetic and error messages are Go's own. What a Knoten program adds:
//
//   - func main may return an integer, float, bool or string: that value is
//     the isolate's result.
//   - Builtins, predeclared beside the program's own names (see
//     preludeSource): print(x...) prints as fmt.Println does; str(x) is
//     fmt.Sprint of one number, bool or string; sqrt(f) is math.Sqrt;
//     abs(x) is the absolute value of an integer or float (Knoten's own:
//     Go has no abs); float is another name for float64.
//   - Runtime faults instead of panics: division by zero, an index or slice
//     bound out of range, a negative length or shift count, converting a
//     float outside the int64 range (Go gives an unspecified value), and the
//     machine's quotas end the isolate as Faulted, with the source position.
//
// The types are bool; int, int8, int16, int32 (rune), int64, uint8 (byte),
// uint16, uint32; float64; string; slices, structs (of at most 64 fields)
// and pointers of any of them; and named types over these, with methods
// on value and pointer receivers. Integers wrap as in Go. A struct is a
// value: assigning, passing, returning, appending or ranging over one
// copies it, and &x, &s[i], &x.f, &T{...} and new(T) point at the very
// struct, which outlives its frame. A pointer may also point at a variable
// of any other type (&x); dereferencing nil faults, with the position.
// Maps map[K]V take integer, bool and string keys: literals, m[k], the
// comma-ok form, delete, len, and for k, v := range m, which visits the
// entries in insertion order (a deleted and re-inserted key moves to the
// end). Go's order is random, so insertion order is one Go allows, and it
// depends only on what the program did, so a resumed isolate iterates
// exactly as the original would; print sorts the keys, as fmt does.
// Functions are values: function literals are closures that share the
// variables they capture (which then live in cells on the heap), and a
// declared function or a method (x.M, with its receiver bound) can be
// used as a value. A function value in a state names its function by its
// index in the program, which the state's program hash pins down. A slice is Go's (array, length,
// capacity): slicing shares the array, append writes into spare capacity
// and otherwise grows to the capacity Go's runtime gives, and copy, cap,
// make([]T, n, c), x[i:j] and x[i:j:k] are Go's (see engine's Slices for
// how the machine holds them). Strings are immutable bytes: indexing gives a
// byte, slicing makes a string, []byte(s) and string(b) convert,
// string(rune) encodes UTF-8, and for i, r := range s decodes runes as Go
// does.
//
// The statements are Go's: declarations with var, const (with iota) and
// :=, multiple assignment, multiple results and named results, if, for
// (with Go 1.22's variable per iteration), for range over integers,
// slices, strings and maps, switch with and without a tag and fallthrough, labelled
// break and continue, and return. Globals are initialized in Go's
// dependency order, then init functions run in source order, then main.
// The builtins len, cap, append, make, copy, min and max are Go's.
//
// # Left out of Go
//
// Packages and imports (a program is one file); interfaces, and with them
// type switches, type assertions and the error type; goroutines, channels,
// select; defer, panic and recover; goto; generics; variadic functions;
// arrays ([N]T: use a slice); uint, uint64, uintptr, float32 and complex
// numbers; embedded fields; method expressions; comparing structs with ==;
// pointers into slices and fields of other than struct type (&a[i] for a
// []int); maps with other keys; String methods (print does not call
// them); slices of elements Go makes 32 KiB or larger; []rune(s). Each is
// reported where it appears.
//
// # Grammar
//
// Go's, restricted as above (EBNF after the Go specification; newlines end
// statements by Go's semicolon rule):
//
//	SourceFile    = [ "package" identifier ";" ] { TopLevelDecl ";" } .
//	TopLevelDecl  = ConstDecl | VarDecl | TypeDecl | FunctionDecl | MethodDecl .
//	ConstDecl     = "const" ( ConstSpec | "(" { ConstSpec ";" } ")" ) .
//	ConstSpec     = IdentifierList [ [ Type ] "=" ExpressionList ] .
//	VarDecl       = "var" ( VarSpec | "(" { VarSpec ";" } ")" ) .
//	VarSpec       = IdentifierList ( Type [ "=" ExpressionList ] | "=" ExpressionList ) .
//	TypeDecl      = "type" ( TypeSpec | "(" { TypeSpec ";" } ")" ) .
//	TypeSpec      = identifier [ "=" ] Type .
//	FunctionDecl  = "func" identifier Signature Block .
//	MethodDecl    = "func" "(" [ identifier ] [ "*" ] TypeName ")" identifier Signature Block .
//	Signature     = "(" [ ParameterList ] ")" [ Type | "(" ParameterList ")" ] .
//	ParameterList = [ IdentifierList ] Type { "," [ IdentifierList ] Type } .
//	Type          = TypeName | "[" "]" Type | "*" Type | StructType
//	              | "map" "[" Type "]" Type | "func" Signature | "(" Type ")" .
//	StructType    = "struct" "{" { IdentifierList Type ";" } "}" .
//	Block         = "{" { Statement ";" } "}" .
//	Statement     = ConstDecl | VarDecl | TypeDecl | SimpleStmt | Block | IfStmt | ForStmt
//	              | SwitchStmt | LabeledStmt | "return" [ ExpressionList ]
//	              | "break" [ identifier ] | "continue" [ identifier ] | "fallthrough" .
//	SimpleStmt    = Expression | IncDecStmt | Assignment | ShortVarDecl .
//	Assignment    = ExpressionList assign_op ExpressionList .
//	ShortVarDecl  = IdentifierList ":=" ExpressionList .
//	IfStmt        = "if" [ SimpleStmt ";" ] Expression Block [ "else" ( IfStmt | Block ) ] .
//	ForStmt       = "for" [ Expression | ForClause | RangeClause ] Block .
//	ForClause     = [ SimpleStmt ] ";" [ Expression ] ";" [ SimpleStmt ] .
//	RangeClause   = [ ExpressionList ( "=" | ":=" ) ] "range" Expression .
//	SwitchStmt    = "switch" [ SimpleStmt ";" ] [ Expression ] "{" { CaseClause } "}" .
//	CaseClause    = ( "case" ExpressionList | "default" ) ":" { Statement ";" } .
//	LabeledStmt   = identifier ":" Statement .
//	Expression    = UnaryExpr | Expression binary_op Expression .
//	UnaryExpr     = PrimaryExpr | ( "+" | "-" | "!" | "^" | "*" | "&" ) UnaryExpr .
//	PrimaryExpr   = Operand | Conversion | PrimaryExpr Selector | PrimaryExpr Index
//	              | PrimaryExpr Slice | PrimaryExpr Arguments .
//	Operand       = Literal | identifier | "(" Expression ")" .
//	Literal       = int_lit | float_lit | rune_lit | string_lit | CompositeLit | FunctionLit .
//	FunctionLit   = "func" Signature Block .
//	CompositeLit  = Type "{" [ Element { "," Element } [ "," ] ] "}" .
//	Element       = [ Key ":" ] ( Expression | "{" ... "}" ) .
//	Key           = Expression | identifier .
//	Index         = "[" Expression "]" .
//	Slice         = "[" [ Expression ] ":" [ Expression ] "]"
//	              | "[" [ Expression ] ":" Expression ":" Expression "]" .
//	Arguments     = "(" [ ExpressionList [ "..." ] [ "," ] ] ")" .
//
// # Code generation
//
// Compile emits a synthesized entry function "<init>" (function 0) that
// stores the global initializers and calls the init functions and main,
// then the user functions and methods in source order, then functions the
// compiler makes (one per composite type that is printed). Locals live in
// fixed registers for their scope and temporaries are freed after use;
// every register is either a scalar or a ref register for its whole
// function. A call passes its arguments in a run of consecutive free
// registers and names its result register, which is the assignment's
// target when there is one (x = f(y) needs no move); a call with several
// results delivers them into a run of registers. Immediate forms (ADDK,
// MULK, DIVK, MODK, J*K) are used for small constants, conditions compile
// to fused compare-and-branch instructions, and loops are tested at the
// bottom, with constant bounds hoisted into a register, so that
// `for i := 0; i < n; i++ { s = (s + i*i) % 1000003 }` runs five
// instructions per iteration. Other constants that a loop body needs in
// registers are loaded once, in a preheader placed after the loop. The
// narrow integer types are kept sign- or zero-extended in their registers
// by an EXT after each operation that can leave their range. Every
// instruction carries the source position a fault there reports: the
// operator of an arithmetic operation, the '[' of an index, the callee of a
// call.
package lang
