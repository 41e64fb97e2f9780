package lang

import (
	"errors"
	"fmt"
	"github.com/knotencore/knoten/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorsGolden compiles every testdata/errors/*.kn and compares the error
// list with the .err file beside it. Run with -update to rewrite them.
func TestErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.kn")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(filepath.Base(file), src)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("want an ErrorList, got %v", err)
			}
			got := list.String()
			golden.Check(t, strings.TrimSuffix(file, ".kn")+".err", []byte(got))
		})
	}
}

func TestErrorListFormat(t *testing.T) {
	_, err := Compile("x.kn", []byte("func main() {\n\ty := 1\n\tx = y\n\tz = 3\n}\n"))
	// Issue 12 item 15: every error, each on its own line.
	if err == nil || err.Error() != "x.kn:3:2: undefined: x\nx.kn:4:2: undefined: z" {
		t.Fatalf("got %q", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 || e.Col != 2 || e.File != "x.kn" {
		t.Fatalf("errors.As: %+v", e)
	}
	if errors.Is(err, ErrInternal) {
		t.Fatal("user error reported as internal")
	}
}

func TestMaxErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("func main() {\n")
	for i := 0; i < 50; i++ {
		b.WriteString("\tundefinedName = 1\n")
	}
	b.WriteString("}\n")
	_, err := Compile("many.kn", []byte(b.String()))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != MaxErrors {
		t.Fatalf("got %d errors: %v", len(list), err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != MaxErrors+1 || lines[MaxErrors] != "too many errors: stopped after 10" {
		t.Fatalf("got %q", err)
	}
	for i, line := range lines[:MaxErrors] {
		if want := fmt.Sprintf("many.kn:%d:2: undefined: undefinedName", i+2); line != want {
			t.Errorf("line %d: %q, want %q", i, line, want)
		}
	}
}
