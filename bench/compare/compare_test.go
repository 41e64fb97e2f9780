package compare

import (
	"bytes"
	"errors"
	"github.com/knotencore/knoten/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParseFile(t *testing.T, path string) *Set {
	t.Helper()
	s, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTableGolden(t *testing.T) {
	old := mustParseFile(t, "testdata/old.txt")
	new := mustParseFile(t, "testdata/new.txt")
	old.Label, new.Label = "old.txt", "new.txt"
	rep := Compare(old, new, DefaultOptions)
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "table.golden"), buf.Bytes())
}

func TestParseGolden(t *testing.T) {
	f, err := os.Open("testdata/machine.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := Parse(f, "machine.txt")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "parse.golden"), buf.Bytes())

	// Spot checks that do not depend on the golden file.
	if got := s.Get("commit"); got != "e8eba5b-dirty" {
		t.Errorf("commit = %q", got)
	}
	if got := s.Get("l3"); got != "unknown" {
		t.Errorf("l3 = %q", got)
	}
	ser := s.Lookup("github.com/knotencore/knoten/queue", "Deque/push-pop-2", "sec/op")
	if ser == nil || len(ser.Values) != 2 || ser.Values[0] != 4.213e-9 {
		t.Errorf("Deque series = %+v", ser)
	}
	if s.Lookup("github.com/knotencore/knoten/codec", "Codec/heap=4KiB-2", "B/s") == nil {
		t.Error("MB/s not tidied to B/s")
	}
	if len(s.Errors) != 2 {
		t.Errorf("errors = %q, want 2", s.Errors)
	}
}

// Issue 12 item 16: input that holds no benchmark result is an error that
// names the file, not "0 compared benchmarks".
func TestLoadNoBenchmarks(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"README.md":   "# KnotenCore\n\nProse only. `make compare` runs BenchmarkX.\n\ncpu: not a result\n",
		"empty.txt":   "",
		"machine.txt": "goos: linux\ngoarch: amd64\ncpu: AMD EPYC\npkg: example\nBenchmarkX\nPASS\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if !errors.Is(err, ErrNoBenchmarks) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%s) = %v, want ErrNoBenchmarks naming the file", name, err)
		}
	}
	if s, err := Load("testdata/old.txt"); err != nil || len(s.Series) == 0 {
		t.Errorf("Load(testdata/old.txt) = %v, %v", s, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// go test writes "cpu: Oxide Virtual Turin-like Processor" padded with
// spaces, while a machine line or another tool may not: values are
// trimmed, so one machine reads the same either way (and the line that
// names the machines carries no padding).
func TestConfigValuesTrimmed(t *testing.T) {
	const padded = "cpu: Oxide Virtual Turin-like Processor             \nBenchmarkX-2 1 1 ns/op\n"
	const plain = "cpu: Oxide Virtual Turin-like Processor\nBenchmarkX-2 1 2 ns/op\n"
	a, err := Parse(strings.NewReader(padded), "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(strings.NewReader(plain), "b")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Get("cpu"); got != "Oxide Virtual Turin-like Processor" {
		t.Errorf("cpu = %q", got)
	}
	if !SameMachine(a, b) {
		t.Error("padding makes another machine")
	}
}
