package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorpusMigrates runs every program of the language's differential
// corpus (engine/lang/testdata/corpus, each also checked against Go) through
// --cluster-sim --program: halted at two planned stops, migrated twice,
// resumed, and checked against its straight run (result, final state hash,
// and the state hash at every hop). Every one must PASS, and most must
// really move: only programs too short to reach a safepoint past the first
// stop may run where they started.
func TestCorpusMigrates(t *testing.T) {
	files, err := filepath.Glob("../../engine/lang/testdata/corpus/*.kn")
	if err != nil || len(files) < 60 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	moved := 0
	for _, f := range files {
		var out, errOut bytes.Buffer
		if err := run([]string{"--cluster-sim", "--program", f}, &out, &errOut); err != nil {
			t.Errorf("%s: %v\n%s%s", filepath.Base(f), err, out.String(), errOut.String())
			continue
		}
		if !strings.Contains(out.String(), "verdict:  PASS") {
			t.Errorf("%s: no PASS\n%s", filepath.Base(f), out.String())
		}
		if strings.Contains(out.String(), "| yes      | yes") {
			moved++
		}
	}
	if moved < len(files)*3/4 {
		t.Errorf("only %d of %d corpus programs migrated mid-run", moved, len(files))
	}
	t.Logf("%d of %d corpus programs migrated mid-run", moved, len(files))
}
