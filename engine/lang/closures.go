package lang

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"github.com/knotencore/knoten/engine"
)

// Function values and closures. A function value is a ref to a closure
// object, a struct whose field 0 is the index of the function it calls
// and whose other fields are the cells of the variables it captured (a
// captured struct variable is its own cell). Every function a value can
// name takes the closure as its parameter 0: a function literal reads its
// captured cells from it, and a declared function or a method used as a
// value gets a thunk that calls it (a method value's closure also holds
// its receiver). A call of a function value is a CALLF, which checks that
// the function the closure names has the shape of the call's signature.
// Captured variables are shared, not copied, as Go's are, and Go 1.22's
// loop variables are new in each iteration, so each closure made in a loop
// captures its own.

// analyzeClosures finds what each function literal captures: the local
// variables of enclosing functions that it (or a literal inside it) uses.
// They live in cells.
func (g *gen) analyzeClosures() {
	g.captures = map[*ast.FuncLit][]*types.Var{}
	ast.Inspect(g.u.file, func(n ast.Node) bool {
		lit, ok := n.(*ast.FuncLit)
		if !ok {
			return true
		}
		seen := map[*types.Var]bool{}
		var caps []*types.Var
		ast.Inspect(lit.Body, func(m ast.Node) bool {
			id, ok := m.(*ast.Ident)
			if !ok {
				return true
			}
			v, ok := g.info.Uses[id].(*types.Var)
			if !ok || seen[v] || v.IsField() {
				return true
			}
			if _, global := g.globals[v]; global || v.Pos() >= lit.Pos() && v.Pos() < lit.End() {
				return true
			}
			seen[v] = true
			caps = append(caps, v)
			if !isStruct(v.Type()) {
				g.boxed[v] = true
			}
			return true
		})
		g.captures[lit] = caps
		return true
	})
}

// litFunc returns the function of a function literal, made the first time.
func (g *gen) litFunc(lit *ast.FuncLit, outer string) *funcInfo {
	if fi := g.lits[lit]; fi != nil {
		return fi
	}
	g.nlits[outer]++
	fi := &funcInfo{name: fmt.Sprintf("%s.func%d", outer, g.nlits[outer]), sig: g.typeOf(lit).(*types.Signature)}
	caps := g.captures[lit]
	fi.body = func(f *fgen) {
		clo := f.alloc(kRef)
		var regs []int
		for i := 0; i < fi.sig.Params().Len(); i++ {
			regs = append(regs, f.alloc(regKind(fi.sig.Params().At(i).Type())))
		}
		for i := 0; i < fi.sig.Params().Len(); i++ {
			if p := fi.sig.Params().At(i); p.Name() != "" && p.Name() != "_" {
				f.declareVar(p, regs[i], lit.Pos())
			}
		}
		for i, v := range caps {
			r := f.alloc(kRef)
			f.emit(engine.GETFR, r, clo, i+1, lit.Pos())
			f.declare(v, r)
		}
		f.body(lit.Body, 1+len(regs))
	}
	g.lits[lit] = fi
	g.newFunc(fi)
	return fi
}

// funcLit compiles a function literal: a closure of its captured cells.
func (f *fgen) funcLit(lit *ast.FuncLit, dst int) int {
	fi := f.g.litFunc(lit, f.fi.name)
	caps := f.g.captures[lit]
	fields := make([]int, len(caps))
	for i, v := range caps {
		r, ok := f.vars[v]
		if !ok {
			panic("BUG: captured variable " + v.Name() + " is not in scope")
		}
		fields[i] = r
	}
	return f.closure(fi, fields, nil, dst, lit.Pos())
}

// closure emits a closure of fi whose fields after the function are the
// refs in registers refs, then the values in regs vals (of the types
// valTypes give).
func (f *fgen) closure(fi *funcInfo, refs []int, vals []typedReg, dst int, pos token.Pos) int {
	n := 1 + len(refs) + len(vals)
	refMask := uint64(1)<<(1+len(refs)) - 2
	for i, v := range vals {
		if isRef(v.t) {
			refMask |= 1 << (1 + len(refs) + i)
		}
	}
	obj := f.alloc(kRef)
	f.emit(engine.NEWSTRUCT, obj, n, f.g.masks(refMask, 0, pos), pos)
	k := f.alloc(kScalar)
	f.emit(engine.LOADI, k, 0, fi.index, pos)
	f.emit(engine.SETF, obj, 0, k, pos)
	f.freeReg(k)
	for i, r := range refs {
		f.emit(engine.SETFR, obj, 1+i, r, pos)
	}
	for i, v := range vals {
		f.setField(obj, 1+len(refs)+i, v.reg, v.t, pos)
	}
	if dst < 0 {
		return obj
	}
	f.freeReg(obj)
	f.emit(engine.MOVR, dst, obj, 0, pos)
	return dst
}

// typedReg is a value of type t in register reg.
type typedReg struct {
	reg int
	t   types.Type
}

// funcValue compiles a declared function used as a value: a closure of a
// thunk that calls it.
func (f *fgen) funcValue(fn *types.Func, dst int, pos token.Pos) int {
	return f.closure(f.g.thunk(fn), nil, nil, dst, pos)
}

// thunk returns the function that calls fn with the arguments it gets
// after the closure, made the first time.
func (g *gen) thunk(fn *types.Func) *funcInfo {
	if fi := g.thunks[fn]; fi != nil {
		return fi
	}
	target := g.funcs[fn]
	sig := fn.Type().(*types.Signature)
	fi := &funcInfo{name: target.name + "·fn", sig: sig}
	fi.body = func(f *fgen) {
		f.alloc(kRef) // the closure
		f.forward(target, sig, -1, false, token.NoPos)
	}
	g.thunks[fn] = fi
	g.newFunc(fi)
	return fi
}

// forward emits the body of a thunk: call target with the receiver (from
// the closure's field 1, when recv is set) and this function's
// parameters, and return its results.
func (f *fgen) forward(target *funcInfo, sig *types.Signature, clo int, recv bool, pos token.Pos) {
	params := make([]int, sig.Params().Len())
	for i := range params {
		params[i] = f.alloc(regKind(sig.Params().At(i).Type()))
	}
	var ks []uint8
	if recv {
		ks = append(ks, regKind(target.sig.Recv().Type()))
	}
	for i := range params {
		ks = append(ks, regKind(sig.Params().At(i).Type()))
	}
	base := -1
	if len(ks) > 0 {
		base = f.allocRun(ks)
	}
	i := 0
	if recv {
		rt := target.sig.Recv().Type()
		f.getField(base, clo, 1, rt, pos)
		if isStruct(rt) {
			f.emit(engine.CLONE, base, base, 0, pos) // each call gets its own copy
		}
		i++
	}
	for j, p := range params {
		f.mov(base+i+j, p, sig.Params().At(j).Type(), pos)
	}
	res := sig.Results()
	rk := make([]uint8, res.Len())
	for j := range rk {
		rk[j] = regKind(res.At(j).Type())
	}
	r := base
	if res.Len() > 0 {
		r = f.allocRun(rk)
	} else if r < 0 {
		r = f.alloc(kNone)
	}
	a := base
	if a < 0 {
		a = r
	}
	f.emit(engine.CALL, a, r, target.index, pos)
	if res.Len() == 0 {
		f.emit(engine.RET0, 0, 0, 0, pos)
	} else {
		f.emitReturn(r, res, pos)
	}
	nparams := 1 + len(params)
	f.finish(nparams, nil, res)
}

// methodValue compiles x.M used as a value: a closure holding the
// receiver (its address for a pointer receiver, a copy of it for a value
// receiver) and a thunk that calls the method with it.
func (f *fgen) methodValue(e *ast.SelectorExpr, dst int) int {
	sel := f.g.info.Selections[e]
	fn := sel.Obj().(*types.Func)
	target := f.g.funcs[fn]
	rt := target.sig.Recv().Type()
	r := f.alloc(regKind(rt))
	f.receiver(callee{fi: target, recv: e.X, sel: sel}, r)
	d := f.closure(f.g.methodThunk(fn), nil, []typedReg{{r, rt}}, dst, e.Sel.Pos())
	f.freeReg(r)
	return d
}

// methodThunk returns the function behind method values of fn.
func (g *gen) methodThunk(fn *types.Func) *funcInfo {
	if fi := g.methodThunks[fn]; fi != nil {
		return fi
	}
	target := g.funcs[fn]
	sig := fn.Type().(*types.Signature)
	plain := types.NewSignatureType(nil, nil, nil, sig.Params(), sig.Results(), false)
	fi := &funcInfo{name: target.name + "·fm", sig: plain}
	fi.body = func(f *fgen) {
		clo := f.alloc(kRef)
		f.forward(target, plain, clo, true, token.NoPos)
	}
	g.methodThunks[fn] = fi
	g.newFunc(fi)
	return fi
}

// proto returns a function of the shape a call of a value of signature
// sig needs, for CALLF's check: a stub that is never called.
func (g *gen) proto(sig *types.Signature) *funcInfo {
	var b strings.Builder
	b.WriteString("r")
	for i := 0; i < sig.Params().Len(); i++ {
		b.WriteString(fmt.Sprint(regKind(sig.Params().At(i).Type())))
	}
	b.WriteString("->")
	for i := 0; i < sig.Results().Len(); i++ {
		fmt.Fprint(&b, engineKind(sig.Results().At(i).Type()))
	}
	key := b.String()
	if fi := g.protos[key]; fi != nil {
		return fi
	}
	fi := &funcInfo{name: "<shape " + key + ">", sig: sig}
	fi.body = func(f *fgen) {
		f.alloc(kRef)
		for i := 0; i < sig.Params().Len(); i++ {
			f.alloc(regKind(sig.Params().At(i).Type()))
		}
		f.returnZeros(sig.Results(), token.NoPos)
		f.finish(1+sig.Params().Len(), nil, sig.Results())
	}
	g.protos[key] = fi
	g.newFunc(fi)
	return fi
}

// returnZeros returns the zero values of results.
func (f *fgen) returnZeros(res *types.Tuple, pos token.Pos) {
	if res.Len() == 0 {
		f.emit(engine.RET0, 0, 0, 0, pos)
		return
	}
	run := f.resultRun(res)
	for i := 0; i < res.Len(); i++ {
		f.zero(run+i, res.At(i).Type(), pos)
	}
	f.emitReturn(run, res, pos)
	f.freeRun(run, res)
}
