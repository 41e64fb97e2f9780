package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestOpcodeTables keeps the opcode list, its effect comments and opInfo in
// step: every opcode has a unique lowercase name equal to its constant's
// name, an effect comment, and operand kinds Validate knows.
func TestOpcodeTables(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "opcodes.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for _, name := range vs.Names {
				if name.Name != strings.ToUpper(name.Name) {
					continue
				}
				if strings.HasPrefix(name.Name, "Max") || strings.HasPrefix(name.Name, "Min") {
					continue
				}
				if vs.Comment == nil || strings.TrimSpace(vs.Comment.Text()) == "" {
					t.Errorf("opcode %s has no effect comment", name.Name)
				}
				declared[name.Name] = true
			}
		}
	}
	seen := map[string]bool{}
	for op := Opcode(0); op < numOpcodes; op++ {
		info := opInfo[op]
		if info.name == "" {
			t.Errorf("opcode %d has no opInfo entry", op)
			continue
		}
		if seen[info.name] {
			t.Errorf("opcode name %q used twice", info.name)
		}
		seen[info.name] = true
		if !declared[strings.ToUpper(info.name)] {
			t.Errorf("opInfo name %q does not match a declared opcode constant", info.name)
		}
		for _, k := range []operand{info.a, info.b, info.c} {
			if int(k) >= len(operandNames) || operandNames[k] == "" {
				t.Errorf("%s: operand kind %d unknown", info.name, k)
			}
		}
	}
	if len(declared) != int(numOpcodes) {
		t.Errorf("%d opcode constants declared, %d in opInfo", len(declared), numOpcodes)
	}
}

func TestInstrFields(t *testing.T) {
	in := Encode(JLTK, MaxA, -5, MaxC)
	if in.Op() != JLTK || in.A() != MaxA || in.SB() != -5 || in.C() != MaxC {
		t.Fatalf("fields: %v", in)
	}
	in = Encode(ADDK, 1, 2, MinSC)
	if in.SC() != MinSC || in.B() != 2 {
		t.Fatalf("signed C: %d", in.SC())
	}
}
