package peers

import (
	"encoding/binary"
	"math"
)

// A tiny WebAssembly encoder: just enough of the binary format (core spec
// 1.0, §5) to hand-assemble the workloads for wazero, since no wasm
// toolchain is available here. It knows the opcodes the workloads use and
// nothing more.

// Value types.
const (
	wI32  byte = 0x7f
	wI64  byte = 0x7e
	wF64  byte = 0x7c
	wVoid byte = 0x40 // the empty block type
)

// Opcodes.
const (
	opBlock   byte = 0x02
	opLoop    byte = 0x03
	opIf      byte = 0x04
	opElse    byte = 0x05
	opEnd     byte = 0x0b
	opBrIf    byte = 0x0d
	opCall    byte = 0x10
	opGet     byte = 0x20
	opSet     byte = 0x21
	opF64Load byte = 0x2b
	opI32Ld8U byte = 0x2d
	opF64Stor byte = 0x39
	opI32St8  byte = 0x3a
	opI32Cnst byte = 0x41
	opI64Cnst byte = 0x42
	opF64Cnst byte = 0x44
	opI32Eqz  byte = 0x45
	opI32LtS  byte = 0x48
	opI64LtS  byte = 0x53
	opI32Add  byte = 0x6a
	opI64Add  byte = 0x7c
	opI64Sub  byte = 0x7d
	opI64Mul  byte = 0x7e
	opI64RemS byte = 0x81
	opF64Neg  byte = 0x9a
	opF64Sqrt byte = 0x9f
	opF64Add  byte = 0xa0
	opF64Sub  byte = 0xa1
	opF64Mul  byte = 0xa2
	opF64Div  byte = 0xa3
	opWrap    byte = 0xa7 // i32.wrap_i64
)

func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// wcode is the body of one function, an instruction sequence.
type wcode struct{ b []byte }

func (c *wcode) op(ops ...byte)    { c.b = append(c.b, ops...) }
func (c *wcode) get(l uint32)      { c.b = uleb(append(c.b, opGet), uint64(l)) }
func (c *wcode) set(l uint32)      { c.b = uleb(append(c.b, opSet), uint64(l)) }
func (c *wcode) brIf(depth uint32) { c.b = uleb(append(c.b, opBrIf), uint64(depth)) }
func (c *wcode) call(f uint32)     { c.b = uleb(append(c.b, opCall), uint64(f)) }
func (c *wcode) i32(v int32)       { c.b = sleb(append(c.b, opI32Cnst), int64(v)) }
func (c *wcode) i64(v int64)       { c.b = sleb(append(c.b, opI64Cnst), v) }
func (c *wcode) f64(v float64) {
	c.b = binary.LittleEndian.AppendUint64(append(c.b, opF64Cnst), math.Float64bits(v))
}

// mem emits a load or store with a static offset; align is log2 bytes.
func (c *wcode) mem(op byte, align, offset uint32) {
	c.b = uleb(uleb(append(c.b, op), uint64(align)), uint64(offset))
}

// while emits a loop that runs body as long as cond (which leaves an i32)
// holds, rotated as compilers emit it, with the test at the bottom:
//
//	block  cond i32.eqz br_if 0  loop  body cond br_if 0  end  end
func (c *wcode) while(cond, body func()) {
	c.op(opBlock, wVoid)
	cond()
	c.op(opI32Eqz)
	c.brIf(0)
	c.op(opLoop, wVoid)
	body()
	cond()
	c.brIf(0)
	c.op(opEnd, opEnd)
}

// wfunc is one function of a module.
type wfunc struct {
	params, results []byte
	locals          []byte // types of the locals after the parameters
	export          string
	code            wcode
}

// wmodule is a module of functions, one optional memory (exported as
// "memory") and optional active data segments.
type wmodule struct {
	funcs    []*wfunc
	memPages uint32 // 0: no memory
	data     []wdata
}

type wdata struct {
	offset int32
	bytes  []byte
}

func section(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = uleb(out, uint64(len(body)))
	return append(out, body...)
}

func vecBytes(b []byte, items []byte) []byte {
	return append(uleb(b, uint64(len(items))), items...)
}

func name(b []byte, s string) []byte { return append(uleb(b, uint64(len(s))), s...) }

// encode returns the module's binary form. Every function gets its own
// type; duplicates are allowed by the format.
func (m *wmodule) encode() []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}

	var b []byte
	b = uleb(b, uint64(len(m.funcs)))
	for _, f := range m.funcs {
		b = append(b, 0x60)
		b = vecBytes(b, f.params)
		b = vecBytes(b, f.results)
	}
	out = section(out, 1, b)

	b = uleb(nil, uint64(len(m.funcs)))
	for i := range m.funcs {
		b = uleb(b, uint64(i))
	}
	out = section(out, 3, b)

	if m.memPages > 0 {
		b = append(uleb(nil, 1), 0x00)
		b = uleb(b, uint64(m.memPages))
		out = section(out, 5, b)
	}

	var exports [][]byte
	for i, f := range m.funcs {
		if f.export != "" {
			exports = append(exports, uleb(append(name(nil, f.export), 0x00), uint64(i)))
		}
	}
	if m.memPages > 0 {
		exports = append(exports, append(name(nil, "memory"), 0x02, 0x00))
	}
	b = uleb(nil, uint64(len(exports)))
	for _, e := range exports {
		b = append(b, e...)
	}
	out = section(out, 7, b)

	b = uleb(nil, uint64(len(m.funcs)))
	for _, f := range m.funcs {
		var body []byte
		body = uleb(body, uint64(len(f.locals)))
		for _, t := range f.locals {
			body = append(uleb(body, 1), t)
		}
		body = append(body, f.code.b...)
		body = append(body, opEnd)
		b = uleb(b, uint64(len(body)))
		b = append(b, body...)
	}
	out = section(out, 10, b)

	if len(m.data) > 0 {
		b = uleb(nil, uint64(len(m.data)))
		for _, d := range m.data {
			b = append(b, 0x00)
			b = sleb(append(b, opI32Cnst), int64(d.offset))
			b = append(b, opEnd)
			b = vecBytes(b, d.bytes)
		}
		out = section(out, 11, b)
	}
	return out
}
