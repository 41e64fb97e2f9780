// Package lang is the front end of Knoten, a small statically typed language
// with Go-like syntax. Compile turns one source file into a validated
// engine.Program.
//
// # Language
//
// Types are int (64-bit, wrapping), float (IEEE-754 double), bool, string
// (immutable bytes) and arrays []T of any type, nested to any depth. There is
// no implicit conversion: int and float never mix without int(x) or
// float(x). Every type has a zero value (0, 0.0, false, "", empty array);
// variables declared without a value start at zero.
//
// Arrays are reference values: assignment and passing share one array, and
// a[i] = v is seen through every reference to it. Unlike a Go slice, the
// length belongs to the array, not to the reference. append(a, v) appends in
// place when a has spare capacity, so a itself grows and every reference to
// a sees the new length and element, and it returns a. When a is full,
// append returns a new, larger array holding a's elements and v, and a stays
// as it was. Capacity is not observable, so always use the result
// (a = append(a, v)) and never rely on whether a given append aliased. The
// empty array and the empty string are both the nil reference.
//
// Grammar (EBNF; newlines end statements as Go's semicolon rule says):
//
//	File       = [ "package" ident ";" ] { TopDecl ";" } .
//	TopDecl    = FuncDecl | VarDecl | ConstDecl .
//	FuncDecl   = "func" ident "(" [ Params ] ")" [ Type ] Block .
//	Params     = ident { "," ident } Type { "," ident { "," ident } Type } .
//	VarDecl    = "var" ident ( Type [ "=" Expr ] | "=" Expr ) .
//	ConstDecl  = "const" ident [ Type ] "=" Expr .
//	Type       = "int" | "float" | "bool" | "string" | "[" "]" Type .
//	Block      = "{" { Stmt ";" } "}" .
//	Stmt       = VarDecl | ConstDecl | SimpleStmt | Block | IfStmt | ForStmt
//	           | "break" | "continue" | "return" [ Expr ] .
//	SimpleStmt = Expr | ident ":=" Expr | Expr AssignOp Expr | Expr ( "++" | "--" ) .
//	AssignOp   = "=" | "+=" | "-=" | "*=" | "/=" | "%=" | "&=" | "|=" | "^=" | "<<=" | ">>=" .
//	IfStmt     = "if" [ SimpleStmt ";" ] Expr Block [ "else" ( IfStmt | Block ) ] .
//	ForStmt    = "for" [ Expr | [ SimpleStmt ] ";" [ Expr ] ";" [ SimpleStmt ] ] Block .
//	Expr       = UnaryExpr | Expr binary_op Expr .
//	UnaryExpr  = PrimaryExpr | ( "-" | "+" | "!" | "^" ) UnaryExpr .
//	PrimaryExpr = Operand { "[" Expr "]" | "(" [ Expr { "," Expr } [ "," ] ] ")" } .
//	Operand    = ident | int_lit | float_lit | rune_lit | string_lit | "(" Expr ")"
//	           | ArrayType [ "{" [ Element { "," Element } [ "," ] ] "}" ] .
//	Element    = Expr | "{" [ Element { "," Element } [ "," ] ] "}" .
//
// Binary operators by precedence, loosest first: ||; &&; == != < <= > >=;
// + - | ^; * / % << >> &. Literals are Go's: 42, 0x2a, 1_000, 1.5, 1e9,
// 'a' (an int), "esc\n" and `raw`. Comparisons take two operands of the same
// type: ==, != on int, float, bool and string; the ordered ones on int, float
// and string (bytewise). % and the bitwise operators take ints. + also
// concatenates strings. Integer / truncates and % takes the sign of the
// dividend; both fault on a zero divisor at run time (a constant zero divisor
// is a compile error). Shift counts are taken modulo 64 and >> is arithmetic.
// && and || short-circuit. s[i] is the byte of string s at i, as an int.
// Indexing out of range faults.
//
// Builtins:
//
//	len(x)            length of a string or array
//	append(a, v...)   a with the values appended (see aliasing above)
//	make([]T, n)      a new array of n zero elements
//	print(x...)       prints its arguments separated by spaces, then a newline
//	sqrt(f)           square root of a float
//	int(f), float(i)  conversions; int truncates toward zero and faults when
//	                  the float is NaN or out of range
//	str(x)            decimal string of an int, shortest 'g' form of a float,
//	                  "true"/"false" of a bool
//
// Not in the language: structs, maps, pointers, closures, methods, switch,
// for-range, multiple assignment or results, slicing, and packages (a file
// may start with a package clause, which is ignored).
//
// A program has a func main without parameters. Globals are initialized in
// source order before main runs; a global's initializer may use earlier
// globals and call functions. What main returns (int, float, bool, string or
// nothing) is the isolate's result.
//
// # Code generation
//
// Compile emits a synthesized entry function "<init>" (function 0) that
// stores the global initializers and calls main, then the user functions in
// source order. Locals live in fixed registers for their scope and
// temporaries are freed after use; every register is either a scalar or a
// ref register for its whole function. A call passes its arguments in a run
// of consecutive free registers and names its result register, which is the
// assignment's target when there is one (x = f(y) needs no move). Constant
// expressions are folded with the machine's own semantics. Immediate forms
// (ADDK, MULK, DIVK, MODK, J*K) are used for small constants, conditions
// compile to fused compare-and-branch instructions, and loops are tested at
// the bottom, with constant bounds hoisted into a register, so that
// `for i := 0; i < n; i++ { s = (s + i*i) % 1000003 }` runs five
// instructions per iteration. Other constants that a loop body needs in
// registers are loaded once, in a preheader placed after the loop. Every
// instruction carries the source position a fault there reports: the
// operator of an arithmetic operation, the '[' of an index, the callee of a
// call.
package lang
