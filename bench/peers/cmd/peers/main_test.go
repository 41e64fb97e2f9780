package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/knotencore/knoten/bench/benchplot"
	"github.com/knotencore/knoten/bench/compare"
	"github.com/knotencore/knoten/bench/peers"
)

// TestRun runs the command at the test sizes and checks the table and the
// raw file, which bench/compare must parse into one series per workload
// and engine with -count values each.
func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "peers.txt")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-sizes", "test", "-count", "2", "-o", out}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	table := stdout.String()
	for _, e := range peers.Engines() {
		if !strings.Contains(table, " "+e.Name+" ") {
			t.Errorf("table lacks engine %s:\n%s", e.Name, table)
		}
	}
	set, err := compare.ParseFile(out)
	if err != nil {
		t.Fatal(err)
	}
	suffix := ""
	if p := runtime.GOMAXPROCS(0); p > 1 {
		suffix = fmt.Sprintf("-%d", p)
	}
	for _, w := range peers.Workloads {
		for _, e := range peers.Engines() {
			if r, err := e.Prepare(w, peers.TestSizes[w]); errors.Is(err, peers.ErrUnsupported) {
				continue // an engine that cannot express it has no runs
			} else if err == nil {
				r.Close()
			}
			s := set.Lookup("github.com/knotencore/knoten/bench/peers", peers.BenchName(w, e.Name)+suffix, "sec/op")
			if s == nil || len(s.Values) != 2 {
				t.Errorf("%s: %v", peers.BenchName(w, e.Name), s)
			}
		}
	}
	if got := set.Get("cores"); got == "" {
		t.Errorf("no machine configuration lines in %s", out)
	}
	if err := benchplot.PeerRatios(set.Series, peers.Ref, filepath.Join(t.TempDir(), "peers.svg")); err != nil {
		t.Errorf("benchplot.PeerRatios: %v", err)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-sizes", "huge"},
		{"-count", "0"},
		{"-clock", "sundial"},
		{"-engines", "cobol"},
		{"-workloads", "fizzbuzz"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(args, &stdout, &stderr); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
