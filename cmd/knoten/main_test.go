package main

import (
	"bytes"
	"fmt"
	"github.com/knotencore/knoten/internal/golden"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGolden runs the command as a user would and compares stdout, stderr and
// the error with testdata/NAME.golden.
func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"run", []string{"run", "testdata/sum.kn"}},
		{"run-halt-every-1", []string{"run", "--halt-every", "1", "--stats", "testdata/sum.kn"}},
		{"run-halt-every-777", []string{"run", "--halt-every", "777", "--stats", "testdata/sum.kn"}},
		{"run-fault", []string{"run", "testdata/divzero.kn"}},
		{"run-quota", []string{"run", "--max-steps", "5000", "testdata/sum.kn"}},
		{"compile-error", []string{"run", "testdata/syntax.kn"}},
		{"disasm", []string{"disasm", "testdata/sum.kn"}},
		{"usage", nil},
		{"unknown", []string{"frobnicate"}},
		{"missing-file", []string{"run", "testdata/nope.kn"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(c.args, &stdout, &stderr)
			got := fmt.Sprintf("$ knoten %q\n-- stdout --\n%s-- stderr --\n%s-- error --\n%v\n", c.args, stdout.String(), stderr.String(), err)
			golden.Check(t, filepath.Join("testdata", c.name+".golden"), []byte(got))
		})
	}
}

// Halting every N instructions must not change the output, the result or the
// final state hash.
func TestHaltEveryKeepsStateHash(t *testing.T) {
	hashRE := regexp.MustCompile(`state ([0-9a-f]{64})`)
	var want string
	for _, n := range []string{"0", "1", "3", "1000"} {
		var stdout, stderr bytes.Buffer
		if err := run([]string{"run", "--stats", "--halt-every", n, "testdata/sum.kn"}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		m := hashRE.FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("no state hash in %q", stderr.String())
		}
		// The sum of the squares below 2000, computed here rather than trusted.
		sum := 0
		for i := 0; i < 2000; i++ {
			sum += i * i
		}
		if !strings.HasSuffix(stdout.String(), fmt.Sprintf("result: %d\n", sum)) {
			t.Fatalf("--halt-every %s: output %q does not end in result %d", n, stdout.String(), sum)
		}
		got := stdout.String() + m[1]
		if want == "" {
			want = got
		} else if got != want {
			t.Fatalf("--halt-every %s: got %q, want %q", n, got, want)
		}
	}
}
