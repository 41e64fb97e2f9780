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
			tp, err := compileTestProg(filepath.Base(f[:len(f)-3]), src)
			if err != nil {
				progsErr = err
				return
			}
			progs[tp.name] = tp
		}
	})
	if progsErr != nil {
		t.Fatal(progsErr)
	}
	return progs
}

// compileTestProg compiles src and runs it straight through for the
// outcome a migrated run must reproduce.
func compileTestProg(name string, src []byte) (*testProg, error) {
	p, err := lang.Compile(name+".kn", src)
	if err != nil {
		return nil, err
	}
	iso, err := engine.New(p, engine.Limits{})
	if err != nil {
		return nil, err
	}
	iso.Run(1 << 62)
	return &testProg{name: name, prog: p, result: iso.Result(), status: iso.Status(), steps: iso.Steps(), hash: iso.State().Hash()}, nil
}

// longLoop is loop.kn with 40 times the iterations (about 20 M
// instructions): long enough that a test goroutine starved for a while
// cannot miss it running.
var longLoop = sync.OnceValues(func() (*testProg, error) {
	return compileTestProg("longloop", []byte(`func main() int {
	s := 0
	for i := 0; i < 4000000; i++ {
		s = (s + i*i) % 1000003
	}
	return s
}
`))
})

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
