package lang

import "fmt"

// maxNesting bounds the nesting of expressions and blocks, and maxChain the
// length of a chain of binary operators or of postfix index and call
// operators (which nest to the left), so that no input can exhaust the stack
// of the recursive passes.
const (
	maxNesting = 500
	maxChain   = 10000
)

// errorSink collects errors and stops compilation after MaxErrors.
type errorSink struct {
	file    string
	list    ErrorList
	perLine bool // report one error per line (syntax errors cascade)
}

func (s *errorSink) add(pos Pos, msg string) {
	for _, e := range s.list {
		if e.Line == pos.Line && (s.perLine || e.Col == pos.Col) {
			return
		}
	}
	s.list = append(s.list, &Error{File: s.file, Line: pos.Line, Col: pos.Col, Msg: msg})
	if len(s.list) >= MaxErrors {
		panic(bailout{})
	}
}

func (s *errorSink) errorf(pos Pos, format string, args ...any) {
	s.add(pos, fmt.Sprintf(format, args...))
}

// syntaxBail unwinds the parser to the top-level declaration loop after a
// syntax error.
type syntaxBail struct{}

type parser struct {
	sc    scanner
	errs  *errorSink
	tok   token
	pos   Pos
	lit   string
	depth int
}

// parse parses a whole file. Syntax errors go to errs.
func parse(filename string, src []byte, errs *errorSink) *File {
	p := &parser{errs: errs}
	p.sc.init(src, errs.add)
	p.next()
	f := &File{Name: filename}
	if p.tok == tPackage {
		p.next()
		p.expectIdent("package name")
		p.expectSemi("after package clause")
	}
	for p.tok != tEOF {
		if d := p.topDecl(); d != nil {
			f.Decls = append(f.Decls, d)
		}
	}
	return f
}

func (p *parser) next() { p.tok, p.pos, p.lit = p.sc.next() }

// found describes the current token for an error message.
func (p *parser) found() string {
	switch p.tok {
	case tSemi:
		if p.lit == "\n" {
			return "newline"
		}
		return "';'"
	case tEOF:
		return "EOF"
	case tIdent:
		return "name " + p.lit
	case tInt, tFloat, tChar, tString:
		lit := p.lit
		if len(lit) > 20 {
			lit = lit[:17] + "..."
		}
		return "literal " + lit
	case tUnsupported:
		return "keyword " + p.lit
	case tIllegal:
		return "illegal character"
	}
	if p.tok >= tBreak && p.tok <= tVar {
		return "keyword " + p.tok.String()
	}
	return "'" + p.tok.String() + "'"
}

// fail reports a syntax error at the current token and unwinds.
func (p *parser) fail(format string, args ...any) {
	p.errs.errorf(p.pos, format, args...)
	panic(syntaxBail{})
}

func (p *parser) expected(what string) {
	if p.tok == tUnsupported {
		p.fail("expected %s but found keyword %s (not supported in Knoten)", what, p.lit)
	}
	p.fail("expected %s but found %s", what, p.found())
}

func (p *parser) expect(tok token) Pos {
	pos := p.pos
	if p.tok != tok {
		p.expected("'" + tok.String() + "'")
	}
	p.next()
	return pos
}

func (p *parser) expectIdent(what string) *Ident {
	if p.tok != tIdent {
		p.expected(what)
	}
	id := &Ident{NamePos: p.pos, Name: p.lit}
	p.next()
	return id
}

// expectSemi accepts the end of a statement or declaration: ';', a newline,
// or a closing ')' or '}' that the caller consumes.
func (p *parser) expectSemi(context string) {
	switch p.tok {
	case tSemi:
		p.next()
	case tRparen, tRbrace, tEOF:
	default:
		p.expected("newline or ';' " + context)
	}
}

func (p *parser) nest() {
	p.depth++
	if p.depth > maxNesting {
		p.fail("nesting too deep (limit %d)", maxNesting)
	}
}

func (p *parser) unnest() { p.depth-- }

// topDecl parses one top-level declaration. After a syntax error it skips to
// the next "func" and returns nil.
func (p *parser) topDecl() (d any) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(syntaxBail); !ok {
				panic(r)
			}
			p.depth = 0
			for p.tok != tEOF {
				p.next()
				if p.tok == tFunc {
					break
				}
			}
			d = nil
		}
	}()
	switch p.tok {
	case tFunc:
		d = p.funcDecl()
	case tVar:
		d = p.varDecl()
	case tConst:
		d = p.constDecl()
	case tSemi:
		p.next()
		return nil
	default:
		p.expected("declaration (func, var or const)")
	}
	p.expectSemi("after top-level declaration")
	return d
}

func (p *parser) funcDecl() *FuncDecl {
	fd := &FuncDecl{FuncPos: p.expect(tFunc)}
	fd.Name = p.expectIdent("function name")
	p.expect(tLparen)
	var pending []*Ident
	for p.tok != tRparen {
		name := p.expectIdent("parameter name")
		pending = append(pending, name)
		if p.tok == tComma {
			p.next()
			continue
		}
		if p.tok == tRparen {
			p.expected("parameter type")
		}
		typ := p.typ()
		for _, n := range pending {
			fd.Params = append(fd.Params, &Param{Name: n, Type: typ})
		}
		pending = nil
		if p.tok != tComma {
			break
		}
		p.next()
	}
	if len(pending) > 0 {
		p.expected("parameter type")
	}
	p.expect(tRparen)
	if p.tok != tLbrace {
		if p.tok == tLparen {
			p.fail("multiple return values are not supported")
		}
		fd.Result = p.typ()
	}
	if p.tok != tLbrace {
		p.expected("'{'")
	}
	fd.Body = p.block()
	return fd
}

// varDecl parses var x T, var x T = e or var x = e. A parenthesized group
// is not supported; every var declares one name.
func (p *parser) varDecl() *VarDecl {
	d := &VarDecl{VarPos: p.expect(tVar)}
	if p.tok == tLparen {
		p.fail("grouped var declarations are not supported; declare one variable per var")
	}
	d.Name = p.expectIdent("variable name")
	if p.tok == tComma {
		p.fail("declare one variable per var")
	}
	if p.tok != tAssign {
		d.Type = p.typ()
	}
	if p.tok == tAssign {
		p.next()
		d.Value = p.expr()
	}
	return d
}

func (p *parser) constDecl() *ConstDecl {
	d := &ConstDecl{ConstPos: p.expect(tConst)}
	if p.tok == tLparen {
		p.fail("grouped const declarations are not supported; declare one constant per const")
	}
	d.Name = p.expectIdent("constant name")
	if p.tok != tAssign {
		d.Type = p.typ()
	}
	if p.tok != tAssign {
		p.expected("'=' in constant declaration")
	}
	p.next()
	d.Value = p.expr()
	return d
}

func (p *parser) typ() Expr {
	switch p.tok {
	case tIdent:
		return p.expectIdent("type")
	case tLbrack:
		return p.arrayType()
	}
	p.expected("type")
	return nil
}

func (p *parser) arrayType() *ArrayType {
	t := &ArrayType{Lbrack: p.expect(tLbrack)}
	if p.tok != tRbrack {
		p.fail("expected ']' but found %s (fixed-size arrays are not supported; use []T)", p.found())
	}
	p.next()
	p.nest()
	t.Elem = p.typ()
	p.unnest()
	return t
}

func (p *parser) block() *BlockStmt {
	p.nest()
	b := &BlockStmt{Lbrace: p.expect(tLbrace)}
	for p.tok != tRbrace && p.tok != tEOF {
		b.List = append(b.List, p.stmt())
		if p.tok == tRbrace {
			break
		}
		p.expectSemi("at end of statement")
	}
	b.Rbrace = p.expect(tRbrace)
	p.unnest()
	return b
}

func (p *parser) stmt() Stmt {
	switch p.tok {
	case tVar:
		return p.varDecl()
	case tConst:
		return p.constDecl()
	case tLbrace:
		return p.block()
	case tIf:
		return p.ifStmt()
	case tFor:
		return p.forStmt()
	case tBreak, tContinue:
		s := &BranchStmt{TokPos: p.pos, Tok: p.tok}
		p.next()
		if p.tok == tIdent {
			p.fail("labeled %s is not supported", s.Tok)
		}
		return s
	case tReturn:
		s := &ReturnStmt{ReturnPos: p.pos}
		p.next()
		if p.tok != tSemi && p.tok != tRbrace {
			s.Result = p.expr()
			if p.tok == tComma {
				p.fail("multiple return values are not supported")
			}
		}
		return s
	case tSemi:
		return &EmptyStmt{Semi: p.pos}
	case tFunc:
		p.fail("expected statement but found keyword func (nested functions are not supported)")
	}
	return p.simpleStmt()
}

func (p *parser) simpleStmt() Stmt {
	x := p.expr()
	switch p.tok {
	case tDefine:
		pos := p.pos
		id, ok := x.(*Ident)
		if !ok {
			p.errs.errorf(start(x), "non-name on left side of :=")
			panic(syntaxBail{})
		}
		p.next()
		return &VarDecl{VarPos: pos, Name: id, Value: p.expr(), Define: true}
	case tAssign, tAddAssign, tSubAssign, tMulAssign, tQuoAssign, tRemAssign,
		tAndAssign, tOrAssign, tXorAssign, tShlAssign, tShrAssign:
		s := &AssignStmt{Lhs: x, OpPos: p.pos, Op: p.tok}
		p.next()
		s.Rhs = p.expr()
		return s
	case tInc, tDec:
		s := &IncDecStmt{X: x, OpPos: p.pos, Inc: p.tok == tInc}
		p.next()
		return s
	case tComma:
		p.fail("multiple assignment is not supported")
	}
	return &ExprStmt{X: x}
}

func (p *parser) ifStmt() *IfStmt {
	s := &IfStmt{IfPos: p.expect(tIf)}
	if p.tok == tLbrace {
		p.fail("missing condition in if statement")
	}
	init := p.simpleStmt()
	if p.tok == tSemi {
		p.next()
		s.Init = init
		if p.tok == tLbrace {
			p.fail("missing condition in if statement")
		}
		s.Cond = p.expr()
	} else {
		s.Cond = p.condOf(init, "if")
	}
	if p.tok != tLbrace {
		p.expected("'{' after if condition")
	}
	s.Then = p.block()
	if p.tok == tElse {
		p.next()
		switch p.tok {
		case tIf:
			p.nest()
			s.Else = p.ifStmt()
			p.unnest()
		case tLbrace:
			s.Else = p.block()
		default:
			p.expected("if statement or block after else")
		}
	}
	return s
}

// condOf returns the expression of a statement that must be a condition.
func (p *parser) condOf(s Stmt, what string) Expr {
	if es, ok := s.(*ExprStmt); ok {
		return es.X
	}
	p.errs.errorf(s.stmtPos(), "cannot use statement as value in %s condition", what)
	panic(syntaxBail{})
}

func (p *parser) forStmt() *ForStmt {
	s := &ForStmt{ForPos: p.expect(tFor)}
	if p.tok != tLbrace {
		var first Stmt
		if p.tok != tSemi {
			first = p.simpleStmt()
		}
		if p.tok == tSemi {
			p.next()
			s.Init = first
			if p.tok != tSemi {
				s.Cond = p.expr()
			}
			p.expect(tSemi)
			if p.tok != tLbrace {
				s.Post = p.simpleStmt()
				if _, ok := s.Post.(*VarDecl); ok {
					p.errs.errorf(s.Post.stmtPos(), "cannot declare in post statement of for loop")
					panic(syntaxBail{})
				}
			}
		} else {
			s.Cond = p.condOf(first, "for")
		}
	}
	if p.tok != tLbrace {
		p.expected("'{' after for clause")
	}
	s.Body = p.block()
	return s
}

// Expressions.

func precedence(t token) int {
	switch t {
	case tLOr:
		return 1
	case tLAnd:
		return 2
	case tEql, tNeq, tLss, tLeq, tGtr, tGeq:
		return 3
	case tAdd, tSub, tOr, tXor:
		return 4
	case tMul, tQuo, tRem, tShl, tShr, tAnd:
		return 5
	}
	return 0
}

func (p *parser) expr() Expr { return p.binaryExpr(1) }

func (p *parser) binaryExpr(prec1 int) Expr {
	p.nest()
	defer p.unnest()
	x := p.unaryExpr()
	for n := 0; ; n++ {
		prec := precedence(p.tok)
		if prec < prec1 {
			return x
		}
		if n == maxChain {
			p.fail("expression too long (more than %d operators in a row)", maxChain)
		}
		b := &BinaryExpr{X: x, OpPos: p.pos, Op: p.tok}
		p.next()
		b.Y = p.binaryExpr(prec + 1)
		x = b
	}
}

func (p *parser) unaryExpr() Expr {
	switch p.tok {
	case tAdd, tSub, tNot, tXor:
		u := &UnaryExpr{OpPos: p.pos, Op: p.tok}
		p.next()
		p.nest()
		u.X = p.unaryExpr()
		p.unnest()
		return u
	case tAnd, tMul:
		p.fail("pointers are not supported")
	}
	return p.primaryExpr()
}

func (p *parser) primaryExpr() Expr {
	x := p.operand()
	for n := 0; ; n++ {
		if n == maxChain {
			p.fail("expression too long (more than %d index or call operators in a row)", maxChain)
		}
		switch p.tok {
		case tLbrack:
			ix := &IndexExpr{X: x, Lbrack: p.pos}
			p.next()
			if p.tok == tColon {
				p.fail("slice expressions are not supported")
			}
			ix.Index = p.expr()
			if p.tok == tColon {
				p.fail("slice expressions are not supported")
			}
			p.expect(tRbrack)
			x = ix
		case tLparen:
			call := &CallExpr{Fun: x, Lparen: p.pos}
			p.next()
			for p.tok != tRparen {
				call.Args = append(call.Args, p.expr())
				if p.tok != tComma {
					if p.tok != tRparen {
						p.expected("',' or ')' in argument list")
					}
					break
				}
				p.next()
			}
			p.expect(tRparen)
			x = call
		case tPeriod:
			p.fail("selector expressions are not supported")
		default:
			return x
		}
	}
}

func (p *parser) operand() Expr {
	switch p.tok {
	case tIdent:
		return p.expectIdent("name")
	case tInt, tFloat, tChar, tString:
		lit := &BasicLit{ValuePos: p.pos, Kind: p.tok, Value: p.lit}
		p.next()
		return lit
	case tLparen:
		lparen := p.pos
		p.next()
		p.nest()
		x := p.expr()
		p.unnest()
		p.expect(tRparen)
		return &ParenExpr{Lparen: lparen, X: x}
	case tLbrack:
		t := p.arrayType()
		if p.tok == tLbrace {
			return p.compositeLit(t)
		}
		return t
	case tFunc:
		p.fail("expected expression but found keyword func (function literals are not supported)")
	}
	p.expected("expression")
	return nil
}

func (p *parser) compositeLit(t *ArrayType) *CompositeLit {
	p.nest()
	defer p.unnest()
	lit := &CompositeLit{Type: t, Lbrace: p.expect(tLbrace)}
	for p.tok != tRbrace {
		var elt Expr
		if p.tok == tLbrace {
			elt = p.compositeLit(nil)
		} else {
			elt = p.expr()
		}
		lit.Elts = append(lit.Elts, elt)
		if p.tok != tComma {
			if p.tok != tRbrace {
				p.expected("',' or '}' in array literal")
			}
			break
		}
		p.next()
	}
	p.expect(tRbrace)
	return lit
}
