package peers

import (
	"fmt"
	"strconv"

	"github.com/knotencore/knoten/engine/workloads"
)

// prepareNative returns the native Go twin of workload w, engine/workloads'
// own: the floor of the ratios and the source of truth for every other
// engine's result. Every engine performs n-body's floating-point operations
// in the twin's order.
func prepareNative(w string, n int) (Runner, error) {
	var run func() string
	switch w {
	case Fib:
		run = func() string { return strconv.Itoa(workloads.Fib(n)) }
	case Loop:
		run = func() string { return strconv.Itoa(workloads.Loop(n)) }
	case Sieve:
		run = func() string { return strconv.Itoa(workloads.Sieve(n)) }
	case NBody:
		run = func() string { _, e := workloads.NBody(n); return energyResult(e) }
	case BinTrees:
		run = func() string { _, r := workloads.BinTrees(n); return strconv.Itoa(r) }
	case WordFreq:
		run = func() string { _, _, _, r := workloads.WordFreq(n); return strconv.Itoa(r) }
	case ClosureSort:
		run = func() string { _, _, _, r := workloads.ClosureSort(n); return strconv.Itoa(r) }
	case ByteBuild:
		run = func() string { _, r := workloads.ByteBuild(n); return strconv.Itoa(r) }
	default:
		return nil, fmt.Errorf("unknown workload %q", w)
	}
	return funcRunner{run: func() (string, error) { return run(), nil }}, nil
}

// The n-body initial conditions (the Computer Language Benchmarks Game),
// exactly as nbody.kn writes them: the sun and the four gas giants, each
// as x, y, z in AU, vx, vy, vz in AU/day and mass in solar masses. Velocities
// are scaled to AU/year and masses by 4π² in float64 arithmetic at run
// time, as nbody.kn does (Go's exact constant arithmetic would round
// differently).
const (
	nbodyPi     = 3.141592653589793
	daysPerYear = 365.24
	nbodyDt     = 0.01
)

// nbodyRaw is the starting system, shared with engine/workloads' twin.
var nbodyRaw = workloads.NBodyStart

// solarMass is 4π² computed as nbody.kn does: (4.0 * pi) * pi in float64.
func solarMass() float64 {
	pi := float64(nbodyPi)
	return 4.0 * pi * pi
}

// nbodyInitFlat returns the scaled initial conditions as 35 float64s,
// body-major.
func nbodyInitFlat() []float64 {
	sm, dpy := solarMass(), float64(daysPerYear)
	out := make([]float64, 0, 35)
	for _, b := range nbodyRaw {
		out = append(out, b[0], b[1], b[2], b[3]*dpy, b[4]*dpy, b[5]*dpy, b[6]*sm)
	}
	return out
}
