package lang

import (
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/knotencore/knoten/engine"
)

// A differential test of the code generator: random int, float and bool
// expressions over three variables are compiled into functions, run on the
// engine for several argument tuples, and compared with a Go evaluation of
// the same trees. The expressions mix variables with constants of every
// immediate width, so they exercise constant folding, the K forms, the fused
// compare-and-branch forms with their negations and mirrors, and the
// backward-branch forms of loop conditions.

type env struct{ a, b, c int64 }

type iexpr struct {
	src   string
	eval  func(env) int64
	konst bool // a constant expression: Go folds it exactly, at compile time
}

type bexpr struct {
	src  string
	eval func(env) bool
}

type fexpr struct {
	src   string
	eval  func(env) float64
	konst bool
}

var intConsts = []int64{0, 1, -1, 2, 3, 7, 100, -100, 32767, 32768, -32768, -32769,
	8388607, 8388608, -8388608, -8388609, 1 << 40, -(1 << 40), math.MaxInt64, math.MinInt64}

func lit(v int64) string {
	if v < 0 {
		return "(" + strconv.FormatInt(v, 10) + ")"
	}
	return strconv.FormatInt(v, 10)
}

type exprGen struct{ r *rand.Rand }

func (g *exprGen) int(depth int) iexpr {
	if depth <= 0 || g.r.Intn(4) == 0 {
		switch g.r.Intn(4) {
		case 0:
			return iexpr{"a", func(e env) int64 { return e.a }, false}
		case 1:
			return iexpr{"b", func(e env) int64 { return e.b }, false}
		case 2:
			return iexpr{"c", func(e env) int64 { return e.c }, false}
		}
		v := intConsts[g.r.Intn(len(intConsts))]
		return iexpr{lit(v), func(env) int64 { return v }, true}
	}
	x, y := g.int(depth-1), g.int(depth-1)
	// Go folds constant expressions exactly and refuses one that
	// overflows: an operation on two constants reads one through the
	// global z (always 0), which keeps it out of the folder.
	if x.konst && y.konst {
		x.src, x.konst = "("+x.src+" + z)", false
	}
	switch g.r.Intn(12) {
	case 0:
		return iexpr{"(" + x.src + " + " + y.src + ")", func(e env) int64 { return x.eval(e) + y.eval(e) }, false}
	case 1:
		return iexpr{"(" + x.src + " - " + y.src + ")", func(e env) int64 { return x.eval(e) - y.eval(e) }, false}
	case 2:
		return iexpr{"(" + x.src + " * " + y.src + ")", func(e env) int64 { return x.eval(e) * y.eval(e) }, false}
	case 3: // divisors are made odd, so never zero
		return iexpr{"(" + x.src + " / (" + y.src + " | 1))", func(e env) int64 { return x.eval(e) / (y.eval(e) | 1) }, false}
	case 4:
		return iexpr{"(" + x.src + " % (" + y.src + " | 1))", func(e env) int64 { return x.eval(e) % (y.eval(e) | 1) }, false}
	case 5:
		return iexpr{"(" + x.src + " & " + y.src + ")", func(e env) int64 { return x.eval(e) & y.eval(e) }, false}
	case 6:
		return iexpr{"(" + x.src + " | " + y.src + ")", func(e env) int64 { return x.eval(e) | y.eval(e) }, false}
	case 7:
		return iexpr{"(" + x.src + " ^ " + y.src + ")", func(e env) int64 { return x.eval(e) ^ y.eval(e) }, false}
	case 8:
		return iexpr{"(" + x.src + " << (" + y.src + " & 63))", func(e env) int64 { return x.eval(e) << (uint64(y.eval(e)) & 63) }, false}
	case 9:
		return iexpr{"(" + x.src + " >> (" + y.src + " & 63))", func(e env) int64 { return x.eval(e) >> (uint64(y.eval(e)) & 63) }, false}
	case 10:
		if x.konst { // -MinInt64 would overflow the folder
			x.src, x.konst = "("+x.src+" + z)", false
		}
		return iexpr{"(-" + x.src + ")", func(e env) int64 { return -x.eval(e) }, false}
	}
	return iexpr{"(^" + x.src + ")", func(e env) int64 { return ^x.eval(e) }, x.konst}
}

func (g *exprGen) bool(depth int) bexpr {
	if depth <= 0 || g.r.Intn(3) == 0 {
		x, y := g.int(1), g.int(1)
		if g.r.Intn(3) == 0 { // compare with a constant, on either side
			v := intConsts[g.r.Intn(len(intConsts))]
			y = iexpr{lit(v), func(env) int64 { return v }, true}
			if g.r.Intn(2) == 0 {
				x, y = y, x
			}
		}
		ops := []string{"==", "!=", "<", "<=", ">", ">="}
		op := ops[g.r.Intn(len(ops))]
		return bexpr{"(" + x.src + " " + op + " " + y.src + ")", func(e env) bool {
			a, b := x.eval(e), y.eval(e)
			switch op {
			case "==":
				return a == b
			case "!=":
				return a != b
			case "<":
				return a < b
			case "<=":
				return a <= b
			case ">":
				return a > b
			}
			return a >= b
		}}
	}
	x, y := g.bool(depth-1), g.bool(depth-1)
	switch g.r.Intn(5) {
	case 0:
		return bexpr{"(" + x.src + " && " + y.src + ")", func(e env) bool { return x.eval(e) && y.eval(e) }}
	case 1:
		return bexpr{"(" + x.src + " || " + y.src + ")", func(e env) bool { return x.eval(e) || y.eval(e) }}
	case 2:
		return bexpr{"(!" + x.src + ")", func(e env) bool { return !x.eval(e) }}
	case 3:
		return bexpr{"(" + x.src + " == " + y.src + ")", func(e env) bool { return x.eval(e) == y.eval(e) }}
	}
	f, h := g.float(2), g.float(2)
	return bexpr{"(" + f.src + " < " + h.src + ")", func(e env) bool { return f.eval(e) < h.eval(e) }}
}

var floatConsts = []float64{0, 1, -1, 0.5, 2.5, 1e300, -1e-300, 3.141592653589793}

func (g *exprGen) float(depth int) fexpr {
	if depth <= 0 || g.r.Intn(4) == 0 {
		switch g.r.Intn(3) {
		case 0:
			return fexpr{"float(a)", func(e env) float64 { return float64(e.a) }, false}
		case 1:
			return fexpr{"float(b)", func(e env) float64 { return float64(e.b) }, false}
		}
		v := floatConsts[g.r.Intn(len(floatConsts))]
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return fexpr{"(" + s + ")", func(env) float64 { return v }, true}
	}
	x, y := g.float(depth-1), g.float(depth-1)
	if x.konst && y.konst {
		x.src, x.konst = "("+x.src+" + fz)", false
	}
	if y.konst { // a constant divisor of zero is a compile error
		y.src, y.konst = "("+y.src+" + fz)", false
	}
	switch g.r.Intn(5) {
	case 0:
		return fexpr{"(" + x.src + " + " + y.src + ")", func(e env) float64 { return float64(x.eval(e) + y.eval(e)) }, false}
	case 1:
		return fexpr{"(" + x.src + " - " + y.src + ")", func(e env) float64 { return float64(x.eval(e) - y.eval(e)) }, false}
	case 2:
		return fexpr{"(" + x.src + " * " + y.src + ")", func(e env) float64 { return float64(x.eval(e) * y.eval(e)) }, false}
	case 3:
		return fexpr{"(" + x.src + " / " + y.src + ")", func(e env) float64 { return float64(x.eval(e) / y.eval(e)) }, false}
	}
	if x.konst { // exact constant arithmetic has no negative zero
		return fexpr{"(-" + x.src + ")", func(e env) float64 { return 0 - x.eval(e) }, true}
	}
	return fexpr{"(-" + x.src + ")", func(e env) float64 { return -x.eval(e) }, false}
}

func TestDifferential(t *testing.T) {
	const programs, perProgram = 60, 8
	envs := []env{{0, 0, 0}, {1, -1, 2}, {7, 3, -5}, {-32768, 32767, 8388608}, {math.MaxInt64, math.MinInt64, 1},
		{1 << 40, -3, 100}, {-100, 100, -1}, {2, 2, 2}}
	for p := 0; p < programs; p++ {
		g := &exprGen{rand.New(rand.NewSource(int64(p)))}
		var src, want strings.Builder
		src.WriteString("var z = 0\nvar fz = 0.0\n")
		type fn struct {
			name string
			out  func(env) string
		}
		var fns []fn
		for i := 0; i < perProgram; i++ {
			ie, be, fe := g.int(4), g.bool(3), g.float(3)
			lc := g.bool(2)
			fmt.Fprintf(&src, "func i%d(a int, b int, c int) int { return %s }\n", i, ie.src)
			fmt.Fprintf(&src, "func f%d(a int, b int, c int) float { return %s }\n", i, fe.src)
			fmt.Fprintf(&src, "func v%d(a int, b int, c int) bool { return %s }\n", i, be.src)
			fmt.Fprintf(&src, "func j%d(a int, b int, c int) int { if %s { return 1 }; return 0 }\n", i, be.src)
			fmt.Fprintf(&src, "func k%d(a int, b int, c int) int { r := 0; if !%s { r = 1 } else if %s { r = 2 }; return r }\n", i, be.src, lc.src)
			// A loop closed by the condition itself, with c as the counter.
			fmt.Fprintf(&src, "func l%d(a int, b int, c int) int { n := 0; for c = 0; %s && n < 5; c++ { n++ }; return n*100 + c }\n", i, lc.src)
			// A loop body full of constants (hoisted into the preheader).
			fmt.Fprintf(&src, "func m%d(a int, b int, c int) int { acc := 0; for c = 0; c < 3; c++ { acc = (acc * 31) ^ %s; if %s { acc += 1000000 } }; return acc }\n", i, ie.src, be.src)
			fns = append(fns,
				fn{fmt.Sprintf("m%d", i), func(e env) string {
					acc := int64(0)
					for e.c = 0; e.c < 3; e.c++ {
						acc = (acc * 31) ^ ie.eval(e)
						if be.eval(e) {
							acc += 1000000
						}
					}
					return strconv.FormatInt(acc, 10)
				}},
				fn{fmt.Sprintf("i%d", i), func(e env) string { return strconv.FormatInt(ie.eval(e), 10) }},
				fn{fmt.Sprintf("f%d", i), func(e env) string { return strconv.FormatFloat(fe.eval(e), 'g', -1, 64) }},
				fn{fmt.Sprintf("v%d", i), func(e env) string { return strconv.FormatBool(be.eval(e)) }},
				fn{fmt.Sprintf("j%d", i), func(e env) string {
					if be.eval(e) {
						return "1"
					}
					return "0"
				}},
				fn{fmt.Sprintf("k%d", i), func(e env) string {
					switch {
					case !be.eval(e):
						return "1"
					case lc.eval(e):
						return "2"
					}
					return "0"
				}},
				fn{fmt.Sprintf("l%d", i), func(e env) string {
					n := int64(0)
					for e.c = 0; lc.eval(e) && n < 5; e.c++ {
						n++
					}
					return strconv.FormatInt(n*100+e.c, 10)
				}})
		}
		src.WriteString("func main() {\n")
		for _, e := range envs {
			for _, f := range fns {
				fmt.Fprintf(&src, "\tprint(%s(%s, %s, %s))\n", f.name, lit(e.a), lit(e.b), lit(e.c))
				want.WriteString(f.out(e) + "\n")
			}
		}
		src.WriteString("}\n")
		prog, err := Compile("diff.kn", []byte(src.String()))
		if err != nil {
			t.Fatalf("program %d: %v", p, err)
		}
		iso, _ := engine.New(prog, engine.Limits{})
		for iso.Run(1 << 30).Runnable() {
		}
		if iso.Status() != engine.Finished {
			t.Fatalf("program %d: %s %v", p, iso.Status(), iso.Err())
		}
		got, wantS := strings.Split(string(iso.Output()), "\n"), strings.Split(want.String(), "\n")
		for i := range wantS {
			if i >= len(got) || got[i] != wantS[i] {
				call := strings.Split(src.String(), "func main() {\n")[1]
				line := strings.Split(call, "\n")[i]
				name := strings.TrimPrefix(strings.SplitN(line, "(", 3)[1], "")
				var def string
				for _, l := range strings.Split(src.String(), "\n") {
					if strings.HasPrefix(l, "func "+name+"(") {
						def = l
					}
				}
				t.Fatalf("program %d: %s: got %q, want %q\n%s", p, strings.TrimSpace(line), got[i], wantS[i], def)
			}
		}
	}
}
