package compare

import (
	"bytes"
	"github.com/knotencore/knoten/internal/golden"
	"os"
	"path/filepath"
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
