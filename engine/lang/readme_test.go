package lang

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeExample keeps the README's one-screen Knoten program compiling
// and giving what it should: fib(20) and the printed line.
func TestReadmeExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## The Knoten language in one screen\n\n```go\n")
	src, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("README has no Knoten example under its heading")
	}
	iso := run(t, src)
	if err := iso.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := iso.Result(), "6765"; got != want {
		t.Errorf("result %s, want %s", got, want)
	}
	if got, want := string(iso.Output()), "3 w2 100 1.4142135623730951 3 7\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}
