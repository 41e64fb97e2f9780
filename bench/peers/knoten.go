package peers

import (
	"fmt"

	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

// prepareKnoten compiles the workload's .kn source once; each run starts a
// fresh isolate on the program and runs it to the end, as a node would.
func prepareKnoten(w string, n int) (Runner, error) {
	name, src, err := knotenSource(w, n)
	if err != nil {
		return nil, err
	}
	prog, err := lang.Compile(name, src)
	if err != nil {
		return nil, fmt.Errorf("knoten: %w", err)
	}
	run := func() (string, error) {
		iso, err := engine.New(prog, engine.Limits{})
		if err != nil {
			return "", err
		}
		for {
			switch st := iso.Run(1 << 62); st {
			case engine.Finished:
				return iso.Result(), nil
			case engine.Yielded:
				continue
			default:
				return "", fmt.Errorf("knoten %s: %v: %v", w, st, iso.Err())
			}
		}
	}
	return canonRunner(w, run, nil), nil
}
