package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
)

// TestCorpusHaltEveryInstruction runs every program of the language's
// differential corpus with knoten run, straight and with --halt-every 1
// (halted, encoded, decoded, verified and resumed after every instruction
// that reaches a safepoint), with --stats: the output, the result and the
// final state hash must be the same.
func TestCorpusHaltEveryInstruction(t *testing.T) {
	files, err := filepath.Glob("../../engine/lang/testdata/corpus/*.kn")
	if err != nil || len(files) < 60 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	for _, f := range files {
		var straight, halted, sErr, hErr bytes.Buffer
		if err := runContext(context.Background(), []string{"run", "--stats", f}, &straight, &sErr); err != nil {
			t.Errorf("%s straight: %v", filepath.Base(f), err)
			continue
		}
		if err := runContext(context.Background(), []string{"run", "--stats", "--halt-every", "1", f}, &halted, &hErr); err != nil {
			t.Errorf("%s --halt-every 1: %v", filepath.Base(f), err)
			continue
		}
		if straight.String() != halted.String() {
			t.Errorf("%s: output differs\nstraight:\n%s\nhalted:\n%s", filepath.Base(f), straight.String(), halted.String())
		}
		if a, b := statsHash(sErr.Bytes()), statsHash(hErr.Bytes()); a == "" || a != b {
			t.Errorf("%s: final state hash %q straight, %q halted every instruction", filepath.Base(f), a, b)
		}
	}
}

// statsHash picks the final state hash out of --stats output ("... state
// HASH").
func statsHash(stats []byte) string {
	f := bytes.Fields(stats)
	for i := 0; i+1 < len(f); i++ {
		if string(f[i]) == "state" {
			return string(f[i+1])
		}
	}
	return ""
}
