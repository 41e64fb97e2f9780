package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/knotencore/knoten/cluster/loadgen"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

// sliceSteps is how many instructions a straight run executes between two
// looks at its context, about 2 ms.
const sliceSteps = 1 << 20

// errTimeout is the error of a run that --timeout ended.
var errTimeout = errors.New("timed out")

// straightRun runs prog from its start in one isolate under the run's
// limits, in slices, until it finishes, faults or ctx ends. With a stop
// (> 0), it calls reached with the state at the first safepoint at or after
// it, which is where a cluster worker parks an isolate planned to stop
// there; reached returns the next stop, or 0 to end the run there. The
// state is a view, valid during the call. A run that does not finish (a
// fault, the instruction quota, ctx) is an error that says why.
func straightRun(ctx context.Context, o *options, prog *engine.Program, stop uint64, reached func(st *engine.State) uint64) (*engine.Isolate, error) {
	iso, err := engine.New(prog, o.limits())
	if err != nil {
		return nil, err
	}
	for {
		budget := int64(sliceSteps)
		if stop > 0 {
			budget = min(budget, int64(stop-min(stop, iso.Steps())))
		}
		st := iso.Run(max(budget, 1))
		if stop > 0 && st == engine.Yielded && iso.Steps() >= stop {
			if stop = reached(iso.State()); stop == 0 {
				return iso, nil
			}
		}
		switch {
		case st == engine.Finished:
			return iso, nil
		case st != engine.Yielded:
			return iso, notFinished(o, prog, iso, iso.Err())
		case ctx.Err() != nil:
			return iso, notFinished(o, prog, iso, ctx.Err())
		}
	}
}

// notFinished explains why a straight run of prog did not finish.
func notFinished(o *options, prog *engine.Program, iso *engine.Isolate, err error) error {
	switch {
	case errors.Is(err, engine.ErrInstructionQuota):
		return fmt.Errorf("%s did not finish within --max-steps %d instructions (it may loop forever; raise --max-steps if it should finish)", prog.Name, o.maxSteps)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s did not finish within --timeout %v (%d instructions run; it may loop forever): %w", prog.Name, o.timeout, iso.Steps(), errTimeout)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: interrupted after %d instructions", prog.Name, iso.Steps())
	}
	return fmt.Errorf("straight run of %s: %w", prog.Name, err)
}

// boundedJob compiles src and runs it straight runs times (the best time
// counts), each bounded by --max-steps and ctx: loadgen.NewJob would run a
// program that never ends forever.
func boundedJob(ctx context.Context, o *options, name, filename string, src []byte, known string, runs int) (*loadgen.Job, error) {
	p, err := lang.Compile(filename, src)
	if err != nil {
		return nil, err
	}
	j := &loadgen.Job{Name: name, Prog: p, Known: known}
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		iso, err := straightRun(ctx, o, p, 0, nil)
		if err != nil {
			return nil, err
		}
		if d := time.Since(t0); i == 0 || d < j.Duration {
			j.Duration = d
		}
		st := iso.State()
		j.Status, j.Result, j.Steps, j.Hash = st.Status, iso.Result(), st.Steps, st.Hash()
	}
	if known != "" && j.Result != known {
		return nil, fmt.Errorf("%s: straight run gave %q, known result %q", name, j.Result, known)
	}
	return j, nil
}

// fileJob is boundedJob for a .kn file.
func fileJob(ctx context.Context, o *options, path string, runs int) (*loadgen.Job, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return boundedJob(ctx, o, strings.TrimSuffix(filepath.Base(path), ".kn"), filepath.Base(path), src, "", runs)
}
