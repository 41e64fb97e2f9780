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

var nbodyRaw = [5][7]float64{
	{0, 0, 0, 0, 0, 0, 1},
	{4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
		1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05, 9.54791938424326609e-04},
	{8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
		-2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05, 2.85885980666130812e-04},
	{1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
		2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05, 4.36624404335156298e-05},
	{1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
		2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05, 5.15138902046611451e-05},
}

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
