package lang

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"runtime/debug"
	"strings"

	"github.com/knotencore/knoten/engine"
)

// Limits on the source that keep every pass's recursion shallow: bracket
// nesting, and the binary operators in one run (they nest to the left).
const (
	maxNesting = 500
	maxChain   = 10000
	maxTokens  = 1 << 20
)

// Compile compiles the Knoten source file src, named filename in positions
// and errors, into a validated program. A program that does not compile
// yields an ErrorList with the first MaxErrors errors in source order.
// Compile never panics; an error wrapping ErrInternal means a compiler bug.
func Compile(filename string, src []byte) (prog *engine.Program, err error) {
	errs := &errorSink{file: filename}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				prog, err = nil, fmt.Errorf("%w: %s: %v\n%s", ErrInternal, filename, r, debug.Stack())
				return
			}
			prog, err = nil, errs.sorted()
		}
	}()
	fset := token.NewFileSet()
	u := parseUnit(fset, filename, src, errs)
	if len(errs.list) > 0 {
		return nil, errs.sorted()
	}
	typeCheck(u, errs)
	if len(errs.list) > 0 {
		return nil, errs.sorted()
	}
	restrict(u, errs)
	if len(errs.list) > 0 {
		return nil, errs.sorted()
	}
	prog = generate(u, errs)
	if len(errs.list) > 0 {
		return nil, errs.sorted()
	}
	if err := validateGenerated(filename, prog); err != nil {
		return nil, err
	}
	return prog, nil
}

// unit is one compilation: the user's file, the prelude that declares
// Knoten's own builtins beside it, and what the type checker found.
type unit struct {
	filename string
	fset     *token.FileSet
	file     *ast.File
	prelude  *ast.File
	pkg      *types.Package
	info     *types.Info
}

// validateGenerated validates what the code generator made. A failure is a
// compiler bug: the error wraps both ErrInternal and the engine's error
// (engine.ErrBadProgram).
func validateGenerated(filename string, prog *engine.Program) error {
	if err := prog.Validate(); err != nil {
		return fmt.Errorf("%w: %s: generated code does not validate: %w", ErrInternal, filename, err)
	}
	return nil
}

// parseUnit parses src. A file without a package clause gets one, followed
// by a line directive, so that every position still names the user's text.
func parseUnit(fset *token.FileSet, filename string, src []byte, errs *errorSink) *unit {
	if !limitSource(fset, filename, src, errs) {
		return nil
	}
	text, name := src, filename
	if !hasPackageClause(src) {
		// The file is parsed under the name "", so that the directive's
		// name is taken as it is (a relative name in a directive is
		// relative to the directory of the file that holds it).
		text = append([]byte("package main;/*line "+lineName(filename)+":1:1*/"), src...)
		name = ""
	}
	f, err := parser.ParseFile(fset, name, text, parser.SkipObjectResolution)
	if err != nil {
		var list scanner.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				errs.add(e.Pos, e.Msg)
			}
		} else {
			errs.add(token.Position{Filename: filename, Line: 1, Column: 1}, err.Error())
		}
		return nil
	}
	for _, imp := range f.Imports {
		errs.add(fset.Position(imp.Pos()), "imports are not supported: a Knoten program is one file, with its builtins predeclared")
	}
	pf, err := parser.ParseFile(fset, "<knoten>", preludeSource, parser.SkipObjectResolution)
	if err != nil {
		panic("BUG: prelude: " + err.Error())
	}
	return &unit{fset: fset, file: f, prelude: pf, filename: filename}
}

// lineName is filename as a line directive can carry it.
func lineName(filename string) string {
	if filename == "" || strings.ContainsAny(filename, "\n*") {
		return "source.kn"
	}
	return filename
}

// hasPackageClause reports whether the first token of src is "package".
func hasPackageClause(src []byte) bool {
	var s scanner.Scanner
	fset := token.NewFileSet()
	s.Init(fset.AddFile("", -1, len(src)), src, nil, 0)
	_, tok, _ := s.Scan()
	return tok == token.PACKAGE
}

// limitSource refuses source whose brackets nest deeper than maxNesting,
// with more than maxChain binary operators in one expression run, or more
// than maxTokens tokens, before any recursive pass sees it.
func limitSource(fset *token.FileSet, filename string, src []byte, errs *errorSink) bool {
	var s scanner.Scanner
	file := fset.AddFile(filename, -1, len(src))
	s.Init(file, src, nil, 0)
	depth, chain := 0, 0
	for n := 0; ; n++ {
		pos, tok, _ := s.Scan()
		switch {
		case tok == token.EOF:
			return true
		case n > maxTokens:
			errs.add(file.Position(pos), fmt.Sprintf("program too large (more than %d tokens)", maxTokens))
			return false
		case tok == token.LPAREN || tok == token.LBRACK || tok == token.LBRACE:
			depth++
			chain = 0
			if depth > maxNesting {
				errs.add(file.Position(pos), fmt.Sprintf("nesting too deep (limit %d)", maxNesting))
				return false
			}
		case tok == token.RPAREN || tok == token.RBRACK || tok == token.RBRACE:
			depth--
		case tok == token.SEMICOLON || tok == token.COMMA || tok == token.COLON:
			chain = 0
		case tok.IsOperator() && tok.Precedence() > 0:
			chain++
			if chain > maxChain {
				errs.add(file.Position(pos), fmt.Sprintf("expression too long (more than %d operators in a row)", maxChain))
				return false
			}
		}
	}
}

// typeCheck runs go/types over the file and the prelude. The package is
// not named main, whatever the file says: Knoten's main may return a
// result, which the checker would refuse in package main.
func typeCheck(u *unit, errs *errorSink) {
	u.file.Name.Name = "knoten"
	u.info = &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Defs:       map[*ast.Ident]types.Object{},
		Uses:       map[*ast.Ident]types.Object{},
		Implicits:  map[ast.Node]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
		Scopes:     map[ast.Node]*types.Scope{},
		Instances:  map[*ast.Ident]types.Instance{},
	}
	conf := types.Config{
		GoVersion: "go1.22",
		Sizes:     types.SizesFor("gc", "amd64"),
		Error: func(err error) {
			var te types.Error
			if !errors.As(err, &te) {
				errs.add(token.Position{Line: 1, Column: 1}, err.Error())
				return
			}
			if strings.HasPrefix(te.Msg, "\t") && len(errs.list) > 0 {
				// A continuation ("\tother declaration of x"): it belongs
				// to the error just reported, as the go command prints it.
				last := errs.list[len(errs.list)-1]
				pos := u.fset.Position(te.Pos)
				last.Msg += fmt.Sprintf("\n\t%s:%d:%d: %s", pos.Filename, pos.Line, pos.Column, strings.TrimPrefix(te.Msg, "\t"))
				return
			}
			errs.add(u.fset.Position(te.Pos), te.Msg)
		},
	}
	u.pkg, _ = conf.Check("knoten", u.fset, []*ast.File{u.file, u.prelude}, u.info)
}

// errorSink collects errors and stops compilation after MaxErrors.
type errorSink struct {
	file string // for positions without a file name (the package clause Compile adds)
	list ErrorList
}

func (s *errorSink) add(pos token.Position, msg string) {
	if len(s.list) >= MaxErrors {
		panic(bailout{}) // again: a caller swallowed the first one
	}
	if pos.Line < 1 || pos.Filename == "" {
		pos.Filename, pos.Line, pos.Column = s.file, 1, 1
	}
	if pos.Column < 1 {
		pos.Column = 1
	}
	for _, e := range s.list {
		if e.Line == pos.Line && e.Col == pos.Column {
			return
		}
	}
	s.list = append(s.list, &Error{File: pos.Filename, Line: pos.Line, Col: pos.Column, Msg: msg})
	if len(s.list) >= MaxErrors {
		panic(bailout{})
	}
}

func (s *errorSink) sorted() ErrorList {
	l := append(ErrorList(nil), s.list...)
	l.sort()
	return l
}
