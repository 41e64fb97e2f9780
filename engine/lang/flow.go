package lang

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"

	"github.com/knotencore/knoten/engine"
)

// Conditions compile to fused compare-and-branch instructions where they
// can, and loops are tested at the bottom, so that
// `for i := 0; i < n; i++ { s = (s + i*i) % 1000003 }` runs five
// instructions per iteration.

// target is an enclosing statement that break (and, for loops, continue)
// can leave: a loop, a switch.
type target struct {
	name      string // its label, or ""
	brk, cont *label // cont is nil for a switch
}

// negate returns the comparison that is true exactly when op is false (ints).
func negate(op token.Token) token.Token {
	switch op {
	case token.EQL:
		return token.NEQ
	case token.NEQ:
		return token.EQL
	case token.LSS:
		return token.GEQ
	case token.GEQ:
		return token.LSS
	case token.LEQ:
		return token.GTR
	case token.GTR:
		return token.LEQ
	}
	panic("BUG: negate " + op.String())
}

// mirror returns op with its operands swapped: a op b == b mirror(op) a.
func mirror(op token.Token) token.Token {
	switch op {
	case token.LSS:
		return token.GTR
	case token.GTR:
		return token.LSS
	case token.LEQ:
		return token.GEQ
	case token.GEQ:
		return token.LEQ
	}
	return op
}

// branch emits code that jumps to l when cond evaluates to want and falls
// through otherwise. A bound l means a backward jump.
func (f *fgen) branch(cond ast.Expr, want bool, l *label) {
	cond = ast.Unparen(cond)
	if cv := f.g.constOf(cond); cv != nil {
		if _, hoisted := f.hoist[cond]; !hoisted {
			if constant.BoolVal(cv) == want {
				f.jmp(l, cond.Pos())
			}
			return
		}
	}
	switch e := cond.(type) {
	case *ast.UnaryExpr:
		if e.Op == token.NOT {
			f.branch(e.X, !want, l)
			return
		}
	case *ast.BinaryExpr:
		switch e.Op {
		case token.LAND, token.LOR:
			if (e.Op == token.LAND) == want {
				skip := newLabel()
				f.branch(e.X, !want, skip)
				f.branch(e.Y, want, l)
				f.bind(skip)
			} else {
				f.branch(e.X, want, l)
				f.branch(e.Y, want, l)
			}
			return
		case token.EQL, token.NEQ, token.LSS, token.LEQ, token.GTR, token.GEQ:
			t := f.g.typeOf(e.X)
			if isInt(t) || isBool(t) {
				op := e.Op
				if !want {
					op = negate(op)
				}
				f.cmpJump(op, e.X, e.Y, l, e.OpPos)
				return
			}
		}
	}
	r := f.expr(cond)
	f.free(r)
	f.testJump(r.reg, want, l, cond.Pos())
}

// testJump jumps to l when register r (a bool) equals want.
func (f *fgen) testJump(r int, want bool, l *label, pos token.Pos) {
	switch {
	case l.pc < 0 && want:
		f.jumpTo(engine.JT, r, 0, l, pos)
	case l.pc < 0:
		f.jumpTo(engine.JF, r, 0, l, pos)
	case want:
		f.jumpTo(engine.LOOPT, r, 0, l, pos)
	default:
		skip := newLabel()
		f.jumpTo(engine.JT, r, 0, skip, pos)
		f.jmp(l, pos)
		f.bind(skip)
	}
}

// smallConst returns the value of e as an int (bools as 0 or 1) when e is a
// constant that fits a 16-bit immediate and is not hoisted into a register.
func (f *fgen) smallConst(e ast.Expr) (int64, bool) {
	e = ast.Unparen(e)
	cv := f.g.constOf(e)
	if cv == nil {
		return 0, false
	}
	if _, hoisted := f.hoist[e]; hoisted {
		return 0, false
	}
	v := int64(constBits(f.g.typeOf(e), cv))
	return v, fits16(v)
}

var kJumps = map[token.Token]engine.Opcode{
	token.EQL: engine.JEQK, token.NEQ: engine.JNEK, token.LSS: engine.JLTK, token.LEQ: engine.JLEK, token.GTR: engine.JGTK, token.GEQ: engine.JGEK,
}

var regJumps = map[token.Token]engine.Opcode{token.EQL: engine.JEQ, token.NEQ: engine.JNE, token.LSS: engine.JLT, token.LEQ: engine.JLE}

// cmpJump jumps to l when x op y holds, for int or bool operands.
func (f *fgen) cmpJump(op token.Token, x, y ast.Expr, l *label, pos token.Pos) {
	if k, ok := f.smallConst(y); ok {
		f.kJump(op, x, k, l, pos)
		return
	}
	if k, ok := f.smallConst(x); ok {
		f.kJump(mirror(op), y, k, l, pos)
		return
	}
	xr := f.expr(x)
	yr := f.expr(y)
	f.free(yr)
	f.free(xr)
	f.regJump(op, xr.reg, yr.reg, l, pos)
}

// regJump jumps to l when R[a] op R[b] holds, for ints.
func (f *fgen) regJump(op token.Token, a, b int, l *label, pos token.Pos) {
	if op == token.GTR || op == token.GEQ {
		op, a, b = mirror(op), b, a
	}
	if l.pc < 0 {
		f.jumpTo(regJumps[op], a, b, l, pos)
		return
	}
	switch op {
	case token.LSS:
		f.jumpTo(engine.LOOPLT, a, b, l, pos)
	case token.LEQ:
		f.jumpTo(engine.LOOPLE, a, b, l, pos)
	default:
		skip := newLabel()
		f.jumpTo(regJumps[negate(op)], a, b, skip, pos)
		f.jmp(l, pos)
		f.bind(skip)
	}
}

func (f *fgen) kJump(op token.Token, x ast.Expr, k int64, l *label, pos token.Pos) {
	xr := f.expr(x)
	f.free(xr)
	if l.pc < 0 {
		f.jumpTo(kJumps[op], xr.reg, int(k), l, pos)
		return
	}
	skip := newLabel()
	f.jumpTo(kJumps[negate(op)], xr.reg, int(k), skip, pos)
	f.jmp(l, pos)
	f.bind(skip)
}

// hoistCond loads the constant operands of the ordered int comparisons that
// a bottom-tested loop condition branches back on into registers before the
// loop, so that the loop closes with one LOOPLT or LOOPLE. It returns the
// registers to free after the loop.
func (f *fgen) hoistCond(cond ast.Expr, regs []int) []int {
	switch e := ast.Unparen(cond).(type) {
	case *ast.BinaryExpr:
		switch e.Op {
		case token.LAND:
			return f.hoistCond(e.Y, regs)
		case token.LOR:
			return f.hoistCond(e.Y, f.hoistCond(e.X, regs))
		case token.LSS, token.LEQ, token.GTR, token.GEQ:
			if !isInt(f.g.typeOf(e.X)) || f.g.constOf(e) != nil {
				return regs
			}
			for _, side := range []ast.Expr{ast.Unparen(e.X), ast.Unparen(e.Y)} {
				if cv := f.g.constOf(side); cv != nil {
					r := f.alloc(kScalar)
					f.loadConst(r, f.g.typeOf(side), cv, side.Pos())
					f.hoist[side] = r
					regs = append(regs, r)
				}
			}
		}
	}
	return regs
}

// constPool collects the constants a loop body needs in registers. Each gets
// a register never used before in the function, reserved until the loop
// ends, and loaded once in the loop's preheader.
type constPool struct {
	regs  map[constKey]int
	loads []pendingLoad
}

type constKey struct {
	t types.Type
	v string // the constant's exact form
}

type pendingLoad struct {
	reg int
	t   types.Type
	v   constant.Value
	pos token.Pos
}

// maxPooled bounds the registers one loop reserves for constants.
const maxPooled = 8

// pooled returns a register holding constant e for the innermost loop with a
// pool, if there is one with room.
func (f *fgen) pooled(e ast.Expr) (int, bool) {
	var pool *constPool
	for i := len(f.pools) - 1; i >= 0 && pool == nil; i-- {
		pool = f.pools[i]
	}
	if pool == nil {
		return 0, false
	}
	t := f.g.typeOf(e)
	cv := f.g.constOf(e)
	key := constKey{t, cv.ExactString()}
	if r, ok := pool.regs[key]; ok {
		return r, true
	}
	if len(pool.loads) == maxPooled {
		return 0, false
	}
	r := f.grow(regKind(t))
	pool.regs[key] = r
	pool.loads = append(pool.loads, pendingLoad{r, t, cv, e.Pos()})
	return r, true
}

// loop compiles a loop with its test at the bottom:
//
//	[hoisted bounds]; JMP test; top: body; cont: post; test: branch-if-true top; brk:
//
// so that one iteration of a counting loop costs the body plus an ADDK and
// a LOOPLT. A loop without a condition closes with LOOP. Constants that the
// body needs in registers are loaded once, in a preheader after the loop,
// since they are known only once the body is compiled:
//
//	JMP pre; top: ...; test: branch-if-true top; JMP brk; pre: loads; LOOP test; brk:
//
// The test is cond, or else test (which jumps back to top while the loop
// goes on), or else there is none. body compiles the body; post, when not
// nil, runs before each test after the first.
func (f *fgen) loop(pos token.Pos, name string, cond ast.Expr, test func(top *label), body func(), post func()) {
	var hoisted []int
	top, testL, entry := newLabel(), newLabel(), newLabel()
	tg := &target{name: name, brk: newLabel(), cont: newLabel()}
	var pool *constPool
	tested := cond != nil || test != nil
	if tested {
		if cond != nil {
			hoisted = f.hoistCond(cond, nil)
		}
		f.jmp(entry, pos)
		pool = &constPool{regs: map[constKey]int{}}
	}
	f.pools = append(f.pools, pool)
	f.bind(top)
	f.targets = append(f.targets, tg)
	body()
	f.targets = f.targets[:len(f.targets)-1]
	f.bind(tg.cont)
	if post != nil {
		post()
	}
	f.bind(testL)
	switch {
	case cond != nil:
		f.branch(cond, true, top)
	case test != nil:
		test(top)
	default:
		f.jmp(top, pos)
	}
	if tested && len(pool.loads) == 0 {
		f.bindAt(entry, testL.pc)
	}
	f.pools = f.pools[:len(f.pools)-1]
	if pool != nil && len(pool.loads) > 0 {
		f.jmp(tg.brk, pos)
		f.bind(entry)
		for _, ld := range pool.loads {
			f.loadConst(ld.reg, ld.t, ld.v, ld.pos)
		}
		f.jmp(testL, pos)
		for _, ld := range pool.loads {
			f.freeReg(ld.reg)
		}
	}
	f.bind(tg.brk)
	for _, r := range hoisted {
		f.freeReg(r)
	}
}
