package cluster

import (
	"sync"
	"time"

	"github.com/klauspost/cpuid/v2"

	"github.com/knotencore/knoten/engine"
)

// Fallbacks for cache geometry that cpuid cannot report (0 or -1).
const (
	fallbackCacheLine = 64
	fallbackL1D       = 32 << 10
	fallbackL2        = 1 << 20
)

// Quantum bounds, in instructions.
const (
	minQuantum = 16 << 10
	maxQuantum = 4 << 20
)

// l2HitCost is the assumed cost of refilling one L1 line from L2.
const l2HitCost = 4 * time.Nanosecond

// switchBudget is how many times the cost of one isolate switch a quantum
// lasts: 50 keeps switching overhead near 2 %.
const switchBudget = 50

// Geometry is the cache geometry the quantum is derived from, with
// fallbacks applied.
type Geometry struct {
	CacheLine, L1D, L2 int
	Known              bool // all three came from cpuid
}

// CacheGeometry returns cpuid's cache geometry, replacing unknown (0 or -1)
// figures with fallbacks.
func CacheGeometry() Geometry {
	g := Geometry{CacheLine: cpuid.CPU.CacheLine, L1D: cpuid.CPU.Cache.L1D, L2: cpuid.CPU.Cache.L2, Known: true}
	if g.CacheLine <= 0 {
		g.CacheLine, g.Known = fallbackCacheLine, false
	}
	if g.L1D <= 0 {
		g.L1D, g.Known = fallbackL1D, false
	}
	if g.L2 <= 0 {
		g.L2, g.Known = fallbackL2, false
	}
	return g
}

// QuantumDuration is the wall-clock length a quantum aims for, derived from
// the cache geometry. Switching isolates on a worker costs a few deque
// operations and a Run call (well under a microsecond) plus refilling L1
// with the incoming isolate's registers, frames and hot heap: at worst every
// line of L1D, each an L2 hit. With 48 KiB of L1D in 64-byte lines that is
// 768 × 4 ns ≈ 3 µs. A quantum switchBudget (50) times that keeps switching
// below about 2 % of the worker's time, while staying short enough (about
// 100-150 µs on current parts, never above 1 ms) that a worker's deque turns
// over quickly and an idle sibling finds something to steal. Halting does
// not wait for the quantum: the engine polls halt requests every 1024
// instructions.
func QuantumDuration(g Geometry) time.Duration {
	refill := time.Duration(g.L1D/g.CacheLine) * l2HitCost
	return min(max(switchBudget*refill, 20*time.Microsecond), time.Millisecond)
}

var (
	quantumOnce sync.Once
	quantum     int64
	stepRate    float64
)

// DefaultQuantum returns the instruction budget of one quantum on this
// machine: QuantumDuration(CacheGeometry()) times the instruction rate
// measured on first use (about 2 ms of a loop workload), clamped to
// [16 Ki, 4 Mi] instructions.
func DefaultQuantum() int64 {
	quantumOnce.Do(func() {
		stepRate = measureStepRate()
		q := int64(float64(QuantumDuration(CacheGeometry()).Nanoseconds()) * stepRate)
		quantum = min(max(q, minQuantum), maxQuantum)
	})
	return quantum
}

// StepRate returns the measured interpreter speed, in instructions per
// nanosecond, that DefaultQuantum used.
func StepRate() float64 {
	DefaultQuantum()
	return stepRate
}

// calibrationProgram is the loop the step rate is measured on, assembled
// here so that the cluster does not depend on the compiler. It is what
// the compiler makes of
//
//	func main() int {
//		s := 0
//		for i := 0; i < 1000000000; i++ {
//			s = (s + i*i) % 1000003
//		}
//		return s
//	}
func calibrationProgram() (*engine.Program, error) {
	code := []engine.Instr{
		engine.Encode(engine.LOADI, 0, 0, 0),      // s := 0
		engine.Encode(engine.LOADI, 1, 0, 0),      // i := 0
		engine.Encode(engine.LOADK, 2, 0, 0),      // r2 = k0 (the bound)
		engine.Encode(engine.JMP, 0, 0, 8),        // to the test
		engine.Encode(engine.MUL, 3, 1, 1),        // i*i
		engine.Encode(engine.ADD, 3, 0, 3),        // s + i*i
		engine.Encode(engine.MODK, 0, 3, 1000003), // s = ... % 1000003
		engine.Encode(engine.ADDK, 1, 1, 1),       // i++
		engine.Encode(engine.LOOPLT, 1, 2, 4),     // i < bound: loop
		engine.Encode(engine.RET, 0, 0, 0),        // return s
	}
	p := &engine.Program{
		Name:   "calibrate.kn",
		Code:   code,
		Pos:    make([]engine.Pos, len(code)),
		Consts: []uint64{1_000_000_000},
		Funcs: []engine.Func{{
			Name: "main", Entry: 0, End: uint32(len(code)), NRegs: 4,
			RefRegs: []uint64{0}, Result: engine.KindInt,
		}},
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func measureStepRate() float64 {
	const fallback = 0.5 // instructions per ns
	p, err := calibrationProgram()
	if err != nil {
		return fallback
	}
	iso, err := engine.New(p, engine.Limits{})
	if err != nil {
		return fallback
	}
	iso.Run(100_000) // warm up
	best := 0.0
	for i := 0; i < 4; i++ {
		s0, t0 := iso.Steps(), time.Now()
		iso.Run(500_000)
		if d := time.Since(t0); d > 0 {
			best = max(best, float64(iso.Steps()-s0)/float64(d.Nanoseconds()))
		}
	}
	if best <= 0 {
		return fallback
	}
	return best
}
