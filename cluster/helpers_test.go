package cluster

import (
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

// testProg is a compiled test program and the end of its straight run.
type testProg struct {
	name   string
	prog   *engine.Program
	result string
	status engine.Status
	steps  uint64
	hash   [32]byte
}

var (
	progsOnce sync.Once
	progs     map[string]*testProg
	progsErr  error
)

// testProgs compiles testdata/*.kn once and runs each straight through.
func testProgs(t testing.TB) map[string]*testProg {
	t.Helper()
	progsOnce.Do(func() {
		progs = make(map[string]*testProg)
		files, _ := filepath.Glob("testdata/*.kn")
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				progsErr = err
				return
			}
			p, err := lang.Compile(filepath.Base(f), src)
			if err != nil {
				progsErr = err
				return
			}
			iso, _ := engine.New(p, engine.Limits{})
			iso.Run(1 << 62)
			name := filepath.Base(f[:len(f)-3])
			progs[name] = &testProg{name: name, prog: p, result: iso.Result(), status: iso.Status(), steps: iso.Steps(), hash: iso.State().Hash()}
		}
	})
	if progsErr != nil {
		t.Fatal(progsErr)
	}
	return progs
}

// progList returns the test programs sorted by name.
func progList(t testing.TB) []*testProg {
	m := testProgs(t)
	var l []*testProg
	for _, p := range m {
		l = append(l, p)
	}
	sort.Slice(l, func(i, j int) bool { return l[i].name < l[j].name })
	return l
}

// checkOutcome fails unless every isolate completed exactly once with its
// straight-run result, status and final state hash, except those a crash
// explains (when allowLoss).
func checkOutcome(t testing.TB, o *Outcome, want map[IsolateID]*testProg, allowCrashLoss bool) {
	t.Helper()
	if len(o.Duplicated) > 0 {
		t.Errorf("isolates published more than once: %v", o.Duplicated)
	}
	if lost := o.Lost(); len(lost) > 0 {
		t.Errorf("isolates lost with no crash to explain it: %v", lost)
	}
	if !allowCrashLoss && len(o.Missing) > 0 {
		t.Errorf("isolates missing: %v", o.Missing)
	}
	for _, c := range o.Completed {
		p := want[c.ID]
		if p == nil {
			t.Errorf("completion of unknown isolate %d", c.ID)
			continue
		}
		if c.Result != p.result || c.Status != p.status || c.Steps != p.steps || c.Hash != p.hash {
			t.Errorf("isolate %d (%s): got %s %q after %d steps, want %s %q after %d steps (hash match %v)",
				c.ID, p.name, c.Status, c.Result, c.Steps, p.status, p.result, p.steps, c.Hash == p.hash)
		}
	}
}
