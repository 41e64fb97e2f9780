package peers

import (
	"github.com/knotencore/knoten/engine/workloads"
)

// knotenSource returns the engine's own workload program (embedded in
// engine/workloads) at size n: the full variant as is, any other size
// through workloads.Sized, which rewrites the program's "const N" line.
func knotenSource(w string, n int) (string, []byte, error) {
	if wl, ok := workloads.Get(w); ok && wl.N == n {
		return wl.Filename(), wl.Source, nil
	}
	wl, err := workloads.Sized(w, n)
	if err != nil {
		return "", nil, err
	}
	return wl.Filename(), wl.Source, nil
}

// fullSize returns the size of workload w's full variant in
// engine/workloads, so the peers run at the engine's benchmark sizes.
func fullSize(w string) int {
	wl, ok := workloads.Get(w)
	if !ok {
		panic("BUG: peers: engine/workloads has no workload " + w)
	}
	return wl.N
}
