package fuzz

import (
	"testing"

	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
	"github.com/knotencore/knoten/engine/workloads"
)

// faultSource is added to the workloads so that a faulting run is covered
// too: it indexes past the end of an array after a few dozen steps.
const faultSource = `
func main() int { a := make([]int, 10); s := 0; for i := 0; i < 100; i++ { s += a[i] + i }; return s }
`

type workload struct {
	name           string
	prog           *engine.Program
	result, output string // expected, "" when unknown
}

// loadWorkloads compiles the small variants of engine/workloads, plus a
// program that faults.
func loadWorkloads(t testing.TB) []workload {
	t.Helper()
	var ws []workload
	for _, w := range workloads.Smalls() {
		p, err := lang.Compile(w.Filename(), w.Source)
		if err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		ws = append(ws, workload{w.Name, p, w.Result, w.Output})
	}
	p, err := lang.Compile("fault.kn", []byte(faultSource))
	if err != nil {
		t.Fatal(err)
	}
	return append(ws, workload{name: "fault", prog: p})
}

func TestWorkloadsRun(t *testing.T) {
	for _, w := range loadWorkloads(t) {
		iso, err := engine.New(w.prog, engine.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		o := finish(iso)
		t.Logf("%s: %s steps=%d heap=%d err=%v", w.name, o.status, o.steps, len(iso.State().Heap), o.err)
		if w.result != "" && (o.result != w.result || o.output != w.output) {
			t.Errorf("%s: result %q output %q, want %q %q", w.name, o.result, o.output, w.result, w.output)
		}
	}
}
