package engine

import (
	"encoding/binary"
	"math"
	"strconv"
)

var le = binary.LittleEndian

// exec is the dispatch loop. It runs until the entry function returns, a fault
// traps, or a safepoint decides to stop. pc, steps and the current register
// window r live in locals; the frame stack and the register file live in the
// isolate, so the allocator and the collector see them. Every exit path
// stores pc and steps back.
//
// Run sets State.Steps to 0 before calling exec and adds the count exec
// leaves there to the state's real counter afterwards (saturating, see
// addSteps), so steps counts this call's instructions only: it cannot wrap
// whatever counter a state arrives with, and the loop stays as cheap as
// ever.
//
// A safepoint costs one compare of two locals: once steps reaches limit, exec
// returns at the next safepoint and Run decides whether to stop (halt
// request, budget, quota) or to call exec again. Returning rather than
// calling out keeps every hot local in a register: no value is live across
// a call in the loop.
func (iso *Isolate) exec(limit uint64) {
	p := iso.prog
	code := p.Code
	consts := p.Consts
	funcs := p.Funcs
	globals := iso.st.Globals
	pc := int(iso.st.PC)
	steps := iso.st.Steps
	top := iso.st.Frames[len(iso.st.Frames)-1]
	base := int(top.Base)
	r := iso.regs[base : base+int(funcs[top.Fn].NRegs)]

	for {
		in := code[pc]
		pc++
		steps++
		switch in.Op() {
		case NOP:
		case MOV, MOVR:
			r[in.A()] = r[in.B()]
		case LOADI:
			r[in.A()] = uint64(in.SC())
		case LOADK:
			r[in.A()] = consts[in.C()]
		case LOADNIL:
			r[in.A()] = 0
		case GETG, GETGR:
			r[in.A()] = globals[in.C()]
		case SETG, SETGR:
			globals[in.C()] = r[in.A()]

		case ADD:
			r[in.A()] = r[in.B()] + r[in.C()]
		case SUB:
			r[in.A()] = r[in.B()] - r[in.C()]
		case MUL:
			r[in.A()] = r[in.B()] * r[in.C()]
		case DIV:
			d := int64(r[in.C()])
			if d == 0 {
				iso.trap(faultDivideByZero, pc-1, steps)
			}
			r[in.A()] = uint64(int64(r[in.B()]) / d)
		case MOD:
			d := int64(r[in.C()])
			if d == 0 {
				iso.trap(faultDivideByZero, pc-1, steps)
			}
			r[in.A()] = uint64(int64(r[in.B()]) % d)
		case ADDK:
			r[in.A()] = r[in.B()] + uint64(in.SC())
		case MULK:
			r[in.A()] = r[in.B()] * uint64(in.SC())
		case DIVK:
			r[in.A()] = uint64(int64(r[in.B()]) / in.SC())
		case MODK:
			r[in.A()] = uint64(int64(r[in.B()]) % in.SC())
		case NEG:
			r[in.A()] = -r[in.B()]
		case AND:
			r[in.A()] = r[in.B()] & r[in.C()]
		case OR:
			r[in.A()] = r[in.B()] | r[in.C()]
		case XOR:
			r[in.A()] = r[in.B()] ^ r[in.C()]
		case SHL:
			n := r[in.C()]
			if int64(n) < 0 {
				iso.trap(faultNegativeShift, pc-1, steps)
			}
			r[in.A()] = r[in.B()] << n // Go: 0 once n >= 64
		case SHR:
			n := r[in.C()]
			if int64(n) < 0 {
				iso.trap(faultNegativeShift, pc-1, steps)
			}
			r[in.A()] = uint64(int64(r[in.B()]) >> n) // Go: sign fill once n >= 64

		case EXT:
			if b := in.SC(); b > 0 {
				r[in.A()] = r[in.B()] & (1<<b - 1)
			} else {
				r[in.A()] = uint64(int64(r[in.B()]<<(64+b)) >> (64 + b))
			}

		case FADD:
			r[in.A()] = math.Float64bits(math.Float64frombits(r[in.B()]) + math.Float64frombits(r[in.C()]))
		case FSUB:
			r[in.A()] = math.Float64bits(math.Float64frombits(r[in.B()]) - math.Float64frombits(r[in.C()]))
		case FMUL:
			r[in.A()] = math.Float64bits(math.Float64frombits(r[in.B()]) * math.Float64frombits(r[in.C()]))
		case FDIV:
			r[in.A()] = math.Float64bits(math.Float64frombits(r[in.B()]) / math.Float64frombits(r[in.C()]))
		case FNEG:
			r[in.A()] = r[in.B()] ^ (1 << 63)
		case SQRT:
			r[in.A()] = math.Float64bits(math.Sqrt(math.Float64frombits(r[in.B()])))
		case ITOF:
			r[in.A()] = math.Float64bits(float64(int64(r[in.B()])))
		case FTOI:
			f := math.Float64frombits(r[in.B()])
			if !(f >= -0x1p63 && f < 0x1p63) { // also false for NaN
				iso.trap(faultFloatToInt, pc-1, steps)
			}
			r[in.A()] = uint64(int64(f))

		case EQ:
			r[in.A()] = b2u(r[in.B()] == r[in.C()])
		case NE:
			r[in.A()] = b2u(r[in.B()] != r[in.C()])
		case LT:
			r[in.A()] = b2u(int64(r[in.B()]) < int64(r[in.C()]))
		case LE:
			r[in.A()] = b2u(int64(r[in.B()]) <= int64(r[in.C()]))
		case FEQ:
			r[in.A()] = b2u(math.Float64frombits(r[in.B()]) == math.Float64frombits(r[in.C()]))
		case FNE:
			r[in.A()] = b2u(math.Float64frombits(r[in.B()]) != math.Float64frombits(r[in.C()]))
		case FLT:
			r[in.A()] = b2u(math.Float64frombits(r[in.B()]) < math.Float64frombits(r[in.C()]))
		case FLE:
			r[in.A()] = b2u(math.Float64frombits(r[in.B()]) <= math.Float64frombits(r[in.C()]))
		case SEQ:
			r[in.A()] = b2u(iso.compareStrings(r[in.B()], r[in.C()], pc-1, steps) == 0)
		case SLT:
			r[in.A()] = b2u(iso.compareStrings(r[in.B()], r[in.C()], pc-1, steps) < 0)
		case SLE:
			r[in.A()] = b2u(iso.compareStrings(r[in.B()], r[in.C()], pc-1, steps) <= 0)
		case NOT:
			r[in.A()] = r[in.B()] ^ 1

		case JMP:
			pc = in.C()
		case JT:
			if r[in.A()] != 0 {
				pc = in.C()
			}
		case JF:
			if r[in.A()] == 0 {
				pc = in.C()
			}
		case JEQ:
			if r[in.A()] == r[in.B()] {
				pc = in.C()
			}
		case JNE:
			if r[in.A()] != r[in.B()] {
				pc = in.C()
			}
		case JLT:
			if int64(r[in.A()]) < int64(r[in.B()]) {
				pc = in.C()
			}
		case JLE:
			if int64(r[in.A()]) <= int64(r[in.B()]) {
				pc = in.C()
			}
		case JEQK:
			if int64(r[in.A()]) == in.SB() {
				pc = in.C()
			}
		case JNEK:
			if int64(r[in.A()]) != in.SB() {
				pc = in.C()
			}
		case JLTK:
			if int64(r[in.A()]) < in.SB() {
				pc = in.C()
			}
		case JLEK:
			if int64(r[in.A()]) <= in.SB() {
				pc = in.C()
			}
		case JGTK:
			if int64(r[in.A()]) > in.SB() {
				pc = in.C()
			}
		case JGEK:
			if int64(r[in.A()]) >= in.SB() {
				pc = in.C()
			}

		// Backward branches are safepoints: every loop passes one.
		case LOOP:
			pc = in.C()
			if safepoints && steps >= limit {
				iso.st.PC, iso.st.Steps = uint32(pc), steps
				return
			}
		case LOOPT:
			if r[in.A()] != 0 {
				pc = in.C()
				if safepoints && steps >= limit {
					iso.st.PC, iso.st.Steps = uint32(pc), steps
					return
				}
			}
		case LOOPLT:
			if int64(r[in.A()]) < int64(r[in.B()]) {
				pc = in.C()
				if safepoints && steps >= limit {
					iso.st.PC, iso.st.Steps = uint32(pc), steps
					return
				}
			}
		case LOOPLE:
			if int64(r[in.A()]) <= int64(r[in.B()]) {
				pc = in.C()
				if safepoints && steps >= limit {
					iso.st.PC, iso.st.Steps = uint32(pc), steps
					return
				}
			}

		// Calls: the callee's window starts right after the caller's. The
		// arguments are copied in and the rest of the window is cleared, so a
		// ref register never holds a stale scalar and states stay canonical.
		case CALL, CALLF:
			fi := in.C()
			if in.Op() == CALLF {
				fi = iso.closureFunc(r[in.A()], fi, pc-1, steps)
			}
			callee := &funcs[fi]
			if len(iso.st.Frames) >= iso.limits.MaxDepth {
				iso.trap(faultCallDepth, pc-1, steps)
			}
			a := in.A()
			newBase := base + len(r)
			need := newBase + int(callee.NRegs)
			if need > len(iso.regs) {
				// Only a growing file can pass the quota: len(iso.regs) <= MaxRegs.
				if need > iso.limits.MaxRegs {
					iso.trap(faultStackQuota, pc-1, steps)
				}
				iso.growRegs(need)
			}
			window := iso.regs[newBase:need]
			np := int(callee.NParams)
			for i := 0; i < np; i++ {
				window[i] = r[a+i]
			}
			for i := np; i < len(window); i++ {
				window[i] = 0
			}
			iso.st.Frames = append(iso.st.Frames, Frame{Fn: uint32(fi), Base: uint32(newBase), RetPC: uint32(pc), RetReg: uint32(base + in.B())})
			base, r, pc = newBase, window, int(callee.Entry)
			if safepoints && steps >= limit {
				iso.st.PC, iso.st.Steps = uint32(pc), steps
				return
			}
		case RET, RETR:
			v := r[in.A()]
			frames := iso.st.Frames
			fr := frames[len(frames)-1]
			if fr.RetPC == NoReturn {
				iso.finish(v, steps)
				return
			}
			frames = frames[:len(frames)-1]
			iso.st.Frames = frames
			iso.regs[fr.RetReg] = v
			caller := frames[len(frames)-1]
			base = int(caller.Base)
			r = iso.regs[base : base+int(funcs[caller.Fn].NRegs)]
			pc = int(fr.RetPC)
		case RETN:
			frames := iso.st.Frames
			fr := frames[len(frames)-1]
			// Validate admits RETN only in functions with Results, and the
			// entry function has none: this frame has a caller.
			n := len(funcs[fr.Fn].Results)
			copy(iso.regs[fr.RetReg:int(fr.RetReg)+n], r[in.A():in.A()+n])
			frames = frames[:len(frames)-1]
			iso.st.Frames = frames
			caller := frames[len(frames)-1]
			base = int(caller.Base)
			r = iso.regs[base : base+int(funcs[caller.Fn].NRegs)]
			pc = int(fr.RetPC)
		case RET0:
			frames := iso.st.Frames
			fr := frames[len(frames)-1]
			if fr.RetPC == NoReturn {
				iso.finish(0, steps)
				return
			}
			frames = frames[:len(frames)-1]
			iso.st.Frames = frames
			iso.regs[fr.RetReg] = 0
			caller := frames[len(frames)-1]
			base = int(caller.Base)
			r = iso.regs[base : base+int(funcs[caller.Fn].NRegs)]
			pc = int(fr.RetPC)

		// Heap operations may collect garbage, which rewrites the refs in the
		// registers: read operands after allocating, never before.
		case NEWARR, NEWARRR:
			kind := uint64(objScalars)
			if in.Op() == NEWARRR {
				kind = objRefs
			}
			n := int64(r[in.B()])
			if n < 0 {
				iso.trap(faultNegativeLength, pc-1, steps)
			}
			r[in.A()] = iso.newArray(kind, uint64(n), uint64(n), pc-1, steps)
		case NEWSLICE:
			r[in.A()] = iso.newSlice(objScalars, r, in.A(), int64(r[in.B()]), int64(r[in.C()]), pc-1, steps)
		case NEWSLICER:
			r[in.A()] = iso.newSlice(objRefs, r, in.A(), int64(r[in.B()]), int64(r[in.C()]), pc-1, steps)
		case LEN:
			r[in.A()] = iso.length(r[in.B()], pc-1, steps)
		case CAP:
			_, _, _, c := iso.anyView(r[in.B()], pc-1, steps)
			r[in.A()] = c
		case AGET:
			r[in.A()] = iso.arrayGet(objScalars, r[in.B()], r[in.C()], pc-1, steps)
		case AGETR:
			r[in.A()] = iso.arrayGet(objRefs, r[in.B()], r[in.C()], pc-1, steps)
		case ASET:
			iso.arraySet(objScalars, r[in.A()], r[in.B()], r[in.C()], pc-1, steps)
		case ASETR:
			iso.arraySet(objRefs, r[in.A()], r[in.B()], r[in.C()], pc-1, steps)
		case APPEND:
			r[in.A()] = iso.appendElem(objScalars, r, in.A(), in.B(), in.C(), pc-1, steps)
		case APPENDR:
			r[in.A()] = iso.appendElem(objRefs, r, in.A(), in.B(), in.C(), pc-1, steps)
		case APPENDSL:
			r[in.A()] = iso.appendSlice(r, in.A(), in.B(), in.C(), pc-1, steps)
		case APPENDST:
			r[in.A()] = iso.appendString(r, in.A(), in.B(), in.C(), pc-1, steps)
		case SLICE:
			c := in.C()
			r[in.A()] = iso.sliceOf(r, in.B(), r[c], r[c+1], 0, false, pc-1, steps)
		case SLICE3:
			c := in.C()
			r[in.A()] = iso.sliceOf(r, in.B(), r[c], r[c+1], r[c+2], true, pc-1, steps)
		case SSLICE:
			c := in.C()
			r[in.A()] = iso.sliceString(r, in.B(), r[c], r[c+1], pc-1, steps)
		case COPY:
			r[in.A()] = iso.copySlice(r[in.B()], r[in.C()], pc-1, steps)
		case COPYS:
			r[in.A()] = iso.copyString(r[in.B()], r[in.C()], pc-1, steps)
		case STOB:
			r[in.A()] = iso.bytesOfString(r, in.B(), pc-1, steps)
		case BTOS:
			r[in.A()] = iso.stringOfBytes(r, in.B(), pc-1, steps)
		case RTOS:
			r[in.A()] = iso.stringOfRune(r[in.B()], pc-1, steps)
		case RUNE:
			a := in.A()
			r[a], r[a+1] = iso.decodeRune(r[in.B()], r[in.C()], pc-1, steps)
		case ISNIL:
			r[in.A()] = b2u(r[in.B()] == 0)
		case REQ:
			r[in.A()] = b2u(r[in.B()] == r[in.C()])
		case NEWSTRUCT:
			c := in.C()
			r[in.A()] = iso.newStruct(in.B(), consts[c], consts[c+1], pc-1, steps)
		case GETF:
			r[in.A()] = le.Uint64(iso.heap[iso.field(r[in.B()], in.C(), 0, pc-1, steps):])
		case GETFR:
			r[in.A()] = le.Uint64(iso.heap[iso.field(r[in.B()], in.C(), 1, pc-1, steps):])
		case SETF:
			iso.put(iso.field(r[in.A()], in.B(), 0, pc-1, steps), r[in.C()])
		case SETFR:
			iso.put(iso.field(r[in.A()], in.B(), 1, pc-1, steps), r[in.C()])
		case CLONE:
			r[in.A()] = iso.cloneValue(r, in.B(), false, pc-1, steps)
		case SCOPY:
			iso.assignValue(r[in.A()], r[in.B()], 0, pc-1, steps)
		case APPENDV:
			r[in.A()] = iso.appendValue(r, in.A(), in.B(), in.C(), pc-1, steps)
		case APPENDSLV:
			r[in.A()] = iso.appendValues(r, in.A(), in.B(), in.C(), pc-1, steps)
		case COPYV:
			r[in.A()] = iso.copyValues(r[in.B()], r[in.C()], pc-1, steps)
		case NEWMAP:
			r[in.A()] = iso.newMap(r, in.A(), uint64(in.B()), int64(r[in.C()]), pc-1, steps)
		case MAPFIND:
			r[in.A()] = uint64(iso.mapFind(iso.mapAt(r[in.B()], 0, pc-1, steps), r[in.C()], 0, pc-1, steps))
		case MAPFINDS:
			r[in.A()] = uint64(iso.mapFind(iso.mapAt(r[in.B()], mapStringKeys, pc-1, steps), r[in.C()], mapStringKeys, pc-1, steps))
		case MAPVAL:
			r[in.A()] = iso.mapValue(r[in.B()], int64(r[in.C()]), 0, pc-1, steps)
		case MAPVALR:
			r[in.A()] = iso.mapValue(r[in.B()], int64(r[in.C()]), mapRefValues, pc-1, steps)
		case MAPINS:
			r[in.A()] = iso.mapInsert(r, in.B(), in.C(), 0, pc-1, steps)
		case MAPINSS:
			r[in.A()] = iso.mapInsert(r, in.B(), in.C(), mapStringKeys, pc-1, steps)
		case MAPSET:
			iso.mapSet(r[in.A()], r[in.B()], r[in.C()], 0, pc-1, steps)
		case MAPSETR:
			iso.mapSet(r[in.A()], r[in.B()], r[in.C()], mapRefValues, pc-1, steps)
		case MAPDEL:
			iso.mapDelete(r[in.A()], r[in.B()], 0, pc-1, steps)
		case MAPDELS:
			iso.mapDelete(r[in.A()], r[in.B()], mapStringKeys, pc-1, steps)
		case MAPKEYS:
			r[in.A()] = iso.mapKeys(r, in.B(), pc-1, steps)
		case SORT:
			iso.sortSlice(r[in.A()], pc-1, steps)
		case FILLV:
			if r[in.A()] != 0 {
				iso.view(objRefs, r[in.A()], pc-1, steps)
				iso.fillValues(r, in.A(), in.B(), 0, 0, pc-1, steps)
			}
		case SCONST:
			r[in.A()] = iso.newString(p.Strings[in.C()], pc-1, steps)
		case CONCAT:
			r[in.A()] = iso.concat(r, in.B(), in.C(), pc-1, steps)
		case SGET:
			r[in.A()] = iso.stringByte(r[in.B()], r[in.C()], pc-1, steps)
		case ITOS:
			var buf [24]byte
			r[in.A()] = iso.newStringBytes(strconv.AppendInt(buf[:0], int64(r[in.B()]), 10), pc-1, steps)
		case FTOS:
			var buf [32]byte
			r[in.A()] = iso.newStringBytes(strconv.AppendFloat(buf[:0], math.Float64frombits(r[in.B()]), 'g', -1, 64), pc-1, steps)

		case PRINT:
			iso.print(r[in.A()], in.B(), pc-1, steps)
		case PRINTS:
			iso.printString(r[in.A()], pc-1, steps)
		case PRINTP:
			iso.printPointer(r[in.A()], pc-1, steps)
		case PRINTSP:
			iso.printByte(' ', pc-1, steps)
		case PRINTNL:
			iso.printByte('\n', pc-1, steps)
		default:
			iso.trap(faultInternal, pc-1, steps) // BUG: Validate admits only known opcodes
		}
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// closureFunc returns the function a closure names, which must have the
// shape of proto, the function a CALLF names as its signature: a function
// value in a state is an index, and the check makes any index safe to call.
func (iso *Isolate) closureFunc(clo uint64, proto int, pc int, steps uint64) int {
	if clo == 0 {
		iso.trap(faultNilDeref, pc, steps)
	}
	hdr := le.Uint64(iso.heap[clo:])
	if hdr>>56 != objStruct || hdr&lenMask == 0 || le.Uint64(iso.heap[clo+8:])&1 != 0 {
		iso.trap(faultKindMismatch, pc, steps)
	}
	p := iso.prog
	fi := le.Uint64(iso.heap[clo+structHeader:])
	if fi >= uint64(len(p.Funcs)) || p.shapes[fi] != p.shapes[proto] {
		iso.trap(faultKindMismatch, pc, steps)
	}
	return int(fi)
}

// finish ends the isolate with the entry function's result.
func (iso *Isolate) finish(v uint64, steps uint64) {
	iso.st.Status = Finished
	iso.st.Result = v
	iso.st.PC = 0
	iso.st.Steps = steps
	iso.st.Frames = iso.st.Frames[:0]
}

// growRegs grows the register file to at least need words (need <=
// MaxRegs), doubling so that deep recursion copies in amortized O(1).
func (iso *Isolate) growRegs(need int) {
	n := min(max(need, 2*len(iso.regs)), iso.limits.MaxRegs)
	regs := make([]uint64, n)
	copy(regs, iso.regs)
	iso.regs = regs
}

func (iso *Isolate) checkOutput(prev int, pc int, steps uint64) {
	if len(iso.st.Output) > iso.limits.MaxOutput {
		iso.st.Output = iso.st.Output[:prev]
		iso.trap(faultOutputQuota, pc, steps)
	}
}

func (iso *Isolate) print(v uint64, format int, pc int, steps uint64) {
	prev := len(iso.st.Output)
	switch format {
	case PrintInt:
		iso.st.Output = strconv.AppendInt(iso.st.Output, int64(v), 10)
	case PrintFloat:
		iso.st.Output = strconv.AppendFloat(iso.st.Output, math.Float64frombits(v), 'g', -1, 64)
	default:
		iso.st.Output = strconv.AppendBool(iso.st.Output, v != 0)
	}
	iso.checkOutput(prev, pc, steps)
}

func (iso *Isolate) printString(ref uint64, pc int, steps uint64) {
	prev := len(iso.st.Output)
	iso.st.Output = append(iso.st.Output, iso.stringBytes(ref, pc, steps)...)
	iso.checkOutput(prev, pc, steps)
}

// printPointer prints a reference as fmt's %v prints a pointer inside a
// value: in hex, or <nil>. It is the heap offset, where Go prints an
// address: deterministic, and the same in a resumed isolate.
func (iso *Isolate) printPointer(ref uint64, pc int, steps uint64) {
	prev := len(iso.st.Output)
	if ref == 0 {
		iso.st.Output = append(iso.st.Output, "<nil>"...)
	} else {
		iso.st.Output = strconv.AppendUint(append(iso.st.Output, "0x"...), ref, 16)
	}
	iso.checkOutput(prev, pc, steps)
}

func (iso *Isolate) printByte(c byte, pc int, steps uint64) {
	prev := len(iso.st.Output)
	iso.st.Output = append(iso.st.Output, c)
	iso.checkOutput(prev, pc, steps)
}
