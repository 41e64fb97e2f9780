package peers

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// prepareWazero hand-assembles workload w as a wasm module exporting
// run(n i64) and instantiates it once in wazero's interpreter (not its
// compiler: KnotenCore is an interpreter too, and the compiler is not
// available on every platform).
func prepareWazero(w string, n int) (Runner, error) {
	mod, err := wasmModule(w, n)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	inst, err := rt.Instantiate(ctx, mod.encode())
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("wazero %s: %w", w, err)
	}
	fn := inst.ExportedFunction("run")
	stack := make([]uint64, 1)
	run := func() (string, error) {
		stack[0] = uint64(n)
		if err := fn.CallWithStack(ctx, stack); err != nil {
			return "", err
		}
		if w == NBody {
			return energyResult(api.DecodeF64(stack[0])), nil
		}
		return strconv.FormatInt(int64(stack[0]), 10), nil
	}
	return canonRunner(w, run, func() error { return rt.Close(ctx) }), nil
}

// wasmModule builds the module of workload w; sizes only matter for the
// sieve's memory.
func wasmModule(w string, n int) (*wmodule, error) {
	switch w {
	case Fib:
		return &wmodule{funcs: []*wfunc{wasmFib()}}, nil
	case Loop:
		return &wmodule{funcs: []*wfunc{wasmLoop()}}, nil
	case Sieve:
		if n < 0 || n > 1<<30 {
			return nil, fmt.Errorf("sieve size %d out of range", n)
		}
		return &wmodule{funcs: []*wfunc{wasmSieve()}, memPages: uint32(max(1, (n+65535)/65536))}, nil
	case NBody:
		init := make([]byte, 0, 35*8)
		for _, v := range nbodyInitFlat() {
			init = binary.LittleEndian.AppendUint64(init, math.Float64bits(v))
		}
		return &wmodule{
			funcs:    []*wfunc{wasmNBody()},
			memPages: 1,
			data:     []wdata{{offset: nbodyInitAt, bytes: init}},
		}, nil
	case BinTrees, WordFreq, ClosureSort, ByteBuild:
		// A hand-assembled module would need its own allocator, hash
		// table and indirect calls: not the comparison with a language
		// runtime that these workloads make.
		return nil, fmt.Errorf("wazero %s: %w", w, ErrUnsupported)
	}
	return nil, fmt.Errorf("unknown workload %q", w)
}

// fib(n i64) i64: if n < 2 { n } else { fib(n-1) + fib(n-2) }
func wasmFib() *wfunc {
	f := &wfunc{params: []byte{wI64}, results: []byte{wI64}, export: "run"}
	c := &f.code
	c.get(0)
	c.i64(2)
	c.op(opI64LtS, opIf, wI64)
	c.get(0)
	c.op(opElse)
	c.get(0)
	c.i64(1)
	c.op(opI64Sub)
	c.call(0)
	c.get(0)
	c.i64(2)
	c.op(opI64Sub)
	c.call(0)
	c.op(opI64Add, opEnd)
	return f
}

// loop(n i64) i64: s = (s + i*i) % 1000003 for i in [0, n)
func wasmLoop() *wfunc {
	const n, s, i = 0, 1, 2
	f := &wfunc{params: []byte{wI64}, results: []byte{wI64}, locals: []byte{wI64, wI64}, export: "run"}
	c := &f.code
	c.while(func() { c.get(i); c.get(n); c.op(opI64LtS) }, func() {
		c.get(s)
		c.get(i)
		c.get(i)
		c.op(opI64Mul, opI64Add)
		c.i64(1000003)
		c.op(opI64RemS)
		c.set(s)
		c.get(i)
		c.i64(1)
		c.op(opI64Add)
		c.set(i)
	})
	c.get(s)
	return f
}

// sieve(n i64) i64: clear n bytes of memory, then count the primes below
// n, marking composites with 1. i and j are i64 like Go's int, so i*i
// cannot wrap; addresses are their low 32 bits.
func wasmSieve() *wfunc {
	const n, i, j, count = 0, 1, 2, 3
	f := &wfunc{params: []byte{wI64}, results: []byte{wI64}, locals: []byte{wI64, wI64, wI64}, export: "run"}
	c := &f.code
	lt := func(a, b uint32) func() { return func() { c.get(a); c.get(b); c.op(opI64LtS) } }
	inc := func(l uint32, by func()) { c.get(l); by(); c.op(opI64Add); c.set(l) }
	one := func() { c.i64(1) }
	// The memory must be clear on every call, as make([]bool, n) is.
	c.while(lt(i, n), func() {
		c.get(i)
		c.op(opWrap)
		c.i32(0)
		c.mem(opI32St8, 0, 0)
		inc(i, one)
	})
	c.i64(2)
	c.set(i)
	c.while(lt(i, n), func() {
		c.get(i)
		c.op(opWrap)
		c.mem(opI32Ld8U, 0, 0)
		c.op(opI32Eqz, opIf, wVoid)
		inc(count, one)
		c.get(i)
		c.get(i)
		c.op(opI64Mul)
		c.set(j)
		c.while(lt(j, n), func() {
			c.get(j)
			c.op(opWrap)
			c.i32(1)
			c.mem(opI32St8, 0, 0)
			inc(j, func() { c.get(i) })
		})
		c.op(opEnd)
		inc(i, one)
	})
	c.get(count)
	return f
}

// nbody memory: the 5 bodies at 0 as 7 float64s each (x, y, z, vx, vy, vz,
// mass, 56 bytes a body), and their initial values at nbodyInitAt, copied
// to 0 on every call.
const (
	nbodyInitAt = 512
	bodySize    = 56
	bodiesEnd   = 5 * bodySize
)

// nbody(n i64) f64, in the n-body twin's order of operations.
func wasmNBody() *wfunc {
	const (
		n, k, pi, pj                          = 0, 1, 2, 3                       // param i64, i64, i32 body addresses
		dx, dy, dz, d2, mag, m, e, px, py, pz = 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 // f64
	)
	f := &wfunc{params: []byte{wI64}, results: []byte{wF64}, export: "run",
		locals: []byte{wI64, wI32, wI32, wF64, wF64, wF64, wF64, wF64, wF64, wF64, wF64, wF64, wF64}}
	c := &f.code
	load := func(p uint32, field uint32) { c.get(p); c.mem(opF64Load, 3, field*8) }
	// each body: for p := start; p < bodiesEnd; p += bodySize { body }
	each := func(p uint32, start func(), body func()) {
		start()
		c.set(p)
		c.while(func() { c.get(p); c.i32(bodiesEnd); c.op(opI32LtS) }, func() {
			body()
			c.get(p)
			c.i32(bodySize)
			c.op(opI32Add)
			c.set(p)
		})
	}
	zero := func() { c.i32(0) }
	afterPi := func() { c.get(pi); c.i32(bodySize); c.op(opI32Add) }
	// dx, dy, dz = bi - bj for x, y, z
	deltas := func() {
		for fld, l := range []uint32{dx, dy, dz} {
			load(pi, uint32(fld))
			load(pj, uint32(fld))
			c.op(opF64Sub)
			c.set(l)
		}
	}
	// dx*dx + dy*dy + dz*dz
	sumSquares := func(a, b, cc func()) {
		a()
		a()
		c.op(opF64Mul)
		b()
		b()
		c.op(opF64Mul, opF64Add)
		cc()
		cc()
		c.op(opF64Mul, opF64Add)
	}
	loc := func(l uint32) func() { return func() { c.get(l) } }

	// Reset the bodies: copy 35 float64s from nbodyInitAt to 0.
	each(pi, zero, func() {
		for fld := range uint32(7) {
			c.get(pi)
			load(pi, nbodyInitAt/8+fld)
			c.mem(opF64Stor, 3, fld*8)
		}
	})
	// Offset the momentum.
	each(pi, zero, func() {
		for fld, l := range []uint32{px, py, pz} {
			c.get(l)
			load(pi, 3+uint32(fld))
			load(pi, 6)
			c.op(opF64Mul, opF64Add)
			c.set(l)
		}
	})
	for fld, l := range []uint32{px, py, pz} {
		c.i32(0)
		c.get(l)
		c.op(opF64Neg)
		c.f64(solarMass())
		c.op(opF64Div)
		c.mem(opF64Stor, 3, 8*(3+uint32(fld)))
	}
	// Advance n steps.
	c.while(func() { c.get(k); c.get(n); c.op(opI64LtS) }, func() {
		each(pi, zero, func() {
			each(pj, afterPi, func() {
				deltas()
				sumSquares(loc(dx), loc(dy), loc(dz))
				c.set(d2)
				c.f64(nbodyDt)
				c.get(d2)
				c.get(d2)
				c.op(opF64Sqrt, opF64Mul, opF64Div)
				c.set(mag)
				// bi.v -= d * (bj.mass * mag); bj.v += d * (bi.mass * mag)
				for _, side := range []struct {
					self, other uint32
					op          byte
				}{{pi, pj, opF64Sub}, {pj, pi, opF64Add}} {
					load(side.other, 6)
					c.get(mag)
					c.op(opF64Mul)
					c.set(m)
					for fld, d := range []uint32{dx, dy, dz} {
						c.get(side.self)
						load(side.self, 3+uint32(fld))
						c.get(d)
						c.get(m)
						c.op(opF64Mul, side.op)
						c.mem(opF64Stor, 3, 8*(3+uint32(fld)))
					}
				}
			})
		})
		each(pi, zero, func() {
			for fld := range uint32(3) {
				c.get(pi)
				load(pi, fld)
				c.f64(nbodyDt)
				load(pi, 3+fld)
				c.op(opF64Mul, opF64Add)
				c.mem(opF64Stor, 3, 8*fld)
			}
		})
		c.get(k)
		c.i64(1)
		c.op(opI64Add)
		c.set(k)
	})
	// Energy.
	each(pi, zero, func() {
		c.get(e)
		c.f64(0.5)
		load(pi, 6)
		c.op(opF64Mul)
		v := func(fld uint32) func() { return func() { load(pi, fld) } }
		sumSquares(v(3), v(4), v(5))
		c.op(opF64Mul, opF64Add)
		c.set(e)
		each(pj, afterPi, func() {
			deltas()
			c.get(e)
			load(pi, 6)
			load(pj, 6)
			c.op(opF64Mul)
			sumSquares(loc(dx), loc(dy), loc(dz))
			c.op(opF64Sqrt, opF64Div, opF64Sub)
			c.set(e)
		})
	})
	c.get(e)
	return f
}
