package lang

// The syntax tree. The checker fills in the info of every expression (its
// type and, for constant expressions, its value) and resolves identifiers to
// objects; the code generator relies on both.

type (
	// Expr is an expression.
	Expr interface {
		Pos() Pos // the position a fault or error in the expression reports
		info() *exprInfo
	}

	exprInfo struct {
		typ Type
		cv  *constVal // non-nil for constant expressions
	}

	Ident struct {
		exprInfo
		NamePos Pos
		Name    string
		obj     *object
	}

	BasicLit struct {
		exprInfo
		ValuePos Pos
		Kind     token // tInt, tFloat, tChar or tString
		Value    string
	}

	// CompositeLit is []T{...}; Type is nil for an element literal {...}
	// whose type is elided.
	CompositeLit struct {
		exprInfo
		Type   *ArrayType
		Lbrace Pos
		Elts   []Expr
	}

	ParenExpr struct {
		exprInfo
		Lparen Pos
		X      Expr
	}

	IndexExpr struct {
		exprInfo
		X      Expr
		Lbrack Pos
		Index  Expr
	}

	CallExpr struct {
		exprInfo
		Fun    Expr
		Lparen Pos
		Args   []Expr
	}

	UnaryExpr struct {
		exprInfo
		OpPos Pos
		Op    token
		X     Expr
	}

	BinaryExpr struct {
		exprInfo
		X     Expr
		OpPos Pos
		Op    token
		Y     Expr
	}

	// ArrayType is []Elem. It is an expression only as make's first argument.
	ArrayType struct {
		exprInfo
		Lbrack Pos
		Elem   Expr // *Ident or *ArrayType
	}
)

func (e *Ident) Pos() Pos        { return e.NamePos }
func (e *BasicLit) Pos() Pos     { return e.ValuePos }
func (e *CompositeLit) Pos() Pos { return e.Lbrace }
func (e *ParenExpr) Pos() Pos    { return e.X.Pos() }
func (e *IndexExpr) Pos() Pos    { return e.Lbrack }
func (e *CallExpr) Pos() Pos     { return e.Fun.Pos() }
func (e *UnaryExpr) Pos() Pos    { return e.OpPos }
func (e *BinaryExpr) Pos() Pos   { return e.OpPos }
func (e *ArrayType) Pos() Pos    { return e.Lbrack }

func (e *exprInfo) info() *exprInfo { return e }

// start returns the position of the first token of e, for error messages
// about the expression as a whole.
func start(e Expr) Pos {
	switch e := e.(type) {
	case *ParenExpr:
		return e.Lparen
	case *IndexExpr:
		return start(e.X)
	case *CallExpr:
		return start(e.Fun)
	case *BinaryExpr:
		return start(e.X)
	case *CompositeLit:
		if e.Type != nil {
			return e.Type.Lbrack
		}
	}
	return e.Pos()
}

type (
	// Stmt is a statement.
	Stmt interface{ stmtPos() Pos }

	// VarDecl is var Name Type = Value, or Name := Value when Define is set.
	VarDecl struct {
		VarPos Pos
		Name   *Ident
		Type   Expr // nil if omitted
		Value  Expr // nil if omitted
		Define bool
		obj    *object
	}

	ConstDecl struct {
		ConstPos Pos
		Name     *Ident
		Type     Expr // nil if omitted
		Value    Expr
		obj      *object
	}

	// AssignStmt is Lhs Op Rhs with Op one of = += -= etc.
	AssignStmt struct {
		Lhs   Expr
		OpPos Pos
		Op    token
		Rhs   Expr
	}

	IncDecStmt struct {
		X     Expr
		OpPos Pos
		Inc   bool
	}

	ExprStmt struct{ X Expr }

	BlockStmt struct {
		Lbrace Pos
		List   []Stmt
		Rbrace Pos
	}

	IfStmt struct {
		IfPos Pos
		Init  Stmt // may be nil
		Cond  Expr
		Then  *BlockStmt
		Else  Stmt // nil, *IfStmt or *BlockStmt
	}

	ForStmt struct {
		ForPos Pos
		Init   Stmt // may be nil
		Cond   Expr // nil means forever
		Post   Stmt // may be nil
		Body   *BlockStmt
	}

	BranchStmt struct {
		TokPos Pos
		Tok    token // tBreak or tContinue
	}

	ReturnStmt struct {
		ReturnPos Pos
		Result    Expr // may be nil
	}

	EmptyStmt struct{ Semi Pos }
)

func (s *VarDecl) stmtPos() Pos    { return s.VarPos }
func (s *ConstDecl) stmtPos() Pos  { return s.ConstPos }
func (s *AssignStmt) stmtPos() Pos { return start(s.Lhs) }
func (s *IncDecStmt) stmtPos() Pos { return start(s.X) }
func (s *ExprStmt) stmtPos() Pos   { return start(s.X) }
func (s *BlockStmt) stmtPos() Pos  { return s.Lbrace }
func (s *IfStmt) stmtPos() Pos     { return s.IfPos }
func (s *ForStmt) stmtPos() Pos    { return s.ForPos }
func (s *BranchStmt) stmtPos() Pos { return s.TokPos }
func (s *ReturnStmt) stmtPos() Pos { return s.ReturnPos }
func (s *EmptyStmt) stmtPos() Pos  { return s.Semi }

// Param is one function parameter.
type Param struct {
	Name *Ident
	Type Expr
	obj  *object
}

// FuncDecl is a top-level function.
type FuncDecl struct {
	FuncPos Pos
	Name    *Ident
	Params  []*Param
	Result  Expr // nil for none
	Body    *BlockStmt
	obj     *object
}

// File is a parsed source file: its top-level declarations in source order,
// each a *FuncDecl, *VarDecl or *ConstDecl.
type File struct {
	Name  string
	Decls []any
}
