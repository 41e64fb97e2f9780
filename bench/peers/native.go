package peers

import (
	"fmt"
	"math"
	"strconv"
)

// prepareNative returns the native Go twin of workload w: the floor of the
// ratios and the source of truth for every other engine's result.
func prepareNative(w string, n int) (Runner, error) {
	var run func() string
	switch w {
	case Fib:
		run = func() string { return strconv.Itoa(nativeFib(n)) }
	case Loop:
		run = func() string { return strconv.FormatInt(nativeLoop(int64(n)), 10) }
	case Sieve:
		run = func() string { return strconv.Itoa(nativeSieve(n)) }
	case NBody:
		run = func() string { return energyResult(nativeNBody(n)) }
	default:
		return nil, fmt.Errorf("unknown workload %q", w)
	}
	return funcRunner{run: func() (string, error) { return run(), nil }}, nil
}

//go:noinline
func nativeFib(n int) int {
	if n < 2 {
		return n
	}
	return nativeFib(n-1) + nativeFib(n-2)
}

//go:noinline
func nativeLoop(n int64) int64 {
	var s int64
	for i := int64(0); i < n; i++ {
		s = (s + i*i) % 1000003
	}
	return s
}

//go:noinline
func nativeSieve(n int) int {
	composite := make([]bool, n)
	count := 0
	for i := 2; i < n; i++ {
		if !composite[i] {
			count++
			for j := i * i; j < n; j += i {
				composite[j] = true
			}
		}
	}
	return count
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

type body struct{ x, y, z, vx, vy, vz, mass float64 }

// nativeNBody is the reference for every engine's n-body: offset the
// momentum, advance n steps, return the energy. Every engine performs the
// floating-point operations in this order.
//
//go:noinline
func nativeNBody(n int) float64 {
	var bs [5]body
	init := nbodyInitFlat()
	for i := range bs {
		b := init[7*i:]
		bs[i] = body{b[0], b[1], b[2], b[3], b[4], b[5], b[6]}
	}
	var px, py, pz float64
	for i := range bs {
		px += bs[i].vx * bs[i].mass
		py += bs[i].vy * bs[i].mass
		pz += bs[i].vz * bs[i].mass
	}
	sm := solarMass()
	bs[0].vx = -px / sm
	bs[0].vy = -py / sm
	bs[0].vz = -pz / sm
	for range n {
		for i := 0; i < 5; i++ {
			bi := &bs[i]
			for j := i + 1; j < 5; j++ {
				bj := &bs[j]
				dx := bi.x - bj.x
				dy := bi.y - bj.y
				dz := bi.z - bj.z
				d2 := dx*dx + dy*dy + dz*dz
				mag := nbodyDt / (d2 * math.Sqrt(d2))
				mj := bj.mass * mag
				bi.vx -= dx * mj
				bi.vy -= dy * mj
				bi.vz -= dz * mj
				mi := bi.mass * mag
				bj.vx += dx * mi
				bj.vy += dy * mi
				bj.vz += dz * mi
			}
		}
		for i := range bs {
			b := &bs[i]
			b.x += nbodyDt * b.vx
			b.y += nbodyDt * b.vy
			b.z += nbodyDt * b.vz
		}
	}
	e := 0.0
	for i := 0; i < 5; i++ {
		bi := &bs[i]
		e += 0.5 * bi.mass * (bi.vx*bi.vx + bi.vy*bi.vy + bi.vz*bi.vz)
		for j := i + 1; j < 5; j++ {
			bj := &bs[j]
			dx := bi.x - bj.x
			dy := bi.y - bj.y
			dz := bi.z - bj.z
			e -= bi.mass * bj.mass / math.Sqrt(dx*dx+dy*dy+dz*dz)
		}
	}
	return e
}
