package lang

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/knotencore/knoten/engine"
)

// run compiles and runs src to the end and returns the isolate.
func run(t testing.TB, src string) *engine.Isolate {
	t.Helper()
	p, err := Compile("test.kn", []byte(src))
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, src)
	}
	iso, err := engine.New(p, engine.Limits{MaxSteps: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	for iso.Run(1 << 30).Runnable() {
	}
	return iso
}

var runTests = []struct {
	name, src, result, output string
}{
	{"int arithmetic", `func main() int { a := 7; b := -3; return a*b + a/b*100 + a%b*10000 }`, fmt.Sprint(-21 - 200 + 10000), ""},
	{"negative div mod", `func main() { a := -7; b := 2; print(a/b, a%b, 7/-2, 7%-2, -7/-2, -7%-2) }`, "", "-3 -1 -3 1 3 -1\n"},
	{"div mod by imm", `func main() { a := -7; print(a/2, a%2, a/-2, a%-2, a*3, a-5) }`, "", "-3 -1 3 -1 -21 -12\n"},
	{"min int", `func main() { m := -9223372036854775808; d := -1; print(m, m/d, m%d, m-1, -m) }`, "", "-9223372036854775808 -9223372036854775808 0 9223372036854775807 -9223372036854775808\n"},
	{"big consts", `func main() int { x := 1 << 40; y := 123456789012; return x + y + 8388608 - 8388607 }`, fmt.Sprint(1<<40 + 123456789012 + 1), ""},
	{"const folding", `const K = 3 * 7 + 1
func main() int { return K*2 - (10 % 4) + (1 << 3) + (-8 >> 1) + (6 & 3) + (6 | 1) + (6 ^ 3) + ^0 }`, fmt.Sprint(44 - 2 + 8 - 4 + 2 + 7 + 5 - 1), ""},
	{"shifts", `func main() { x := 1; n := 65; m := -16; s := 2; print(x << n, m >> s, m << 60, x << 63, m >> 70) }`, "", "0 -4 0 -9223372036854775808 -1\n"},
	{"bitwise", `func main() { a := 12; b := 10; print(a & b, a | b, a ^ b, ^a) }`, "", "8 14 6 -13\n"},
	{"float arithmetic", `func main() float { x := 1.5; y := 0.25; return x*y + x/y - x + -y }`, "4.625", ""},
	{"float formatting", `func main() { z := 0.0; print(0.1+0.2, 1e21, 1e-7, 100.0, 1.0/3.0, -0.5, 1.0/z, -1.0/z, z/z, 2.5e300*(z+1e10)) }`, "", "0.3 1e+21 1e-07 100 0.3333333333333333 -0.5 +Inf -Inf NaN +Inf\n"},
	{"float compare", `func main() { z := 0.0; n := z / z; a := 1.5; print(a < 2.0, a >= 2.0, n == n, n != n, n < a, !(n < a), a == 1.5) }`, "", "true false false true false true true\n"},
	{"conversions", `func main() { f := 3.99; g := -3.99; i := 7; print(int(f), int(g), float(i) / 2.0, int(float(i)), str(i) + str(f), str(1 < 2), str(false), sqrt(16.0)) }`, "", "3 -3 3.5 7 73.99 true false 4\n"},
	{"str of floats", `func main() string { return str(0.1) + "|" + str(1e100) + "|" + str(-2.0) + "|" + str(123456789.0) }`, "0.1|1e+100|-2|1.23456789e+08", ""},
	{"strings", `func main() string {
	s := "hello"
	t := s + ", " + "world"
	print(len(t), t[0], t[len(t)-1], 'w', s < t, s == "hello", s != "hello", "b" > "abc", "" == "", "ab" <= "ab")
	return t
}`, "hello, world", "12 104 100 119 true true false true true true\n"},
	{"string escapes", "func main() string { return \"a\\tb\\n\\\"q\\\"\\x41\\u00e9\" + `raw\\n` }", "a\tb\n\"q\"A\u00e9raw\\n", ""},
	{"empty string", `func main() int { s := ""; t := s + s; var u string; if s == t && t == u { return len(u) + 1 } ; return 0 }`, "1", ""},
	{"bools", `func main() { t := true; f := false; print(t && f, t || f, !t, t == f, t != f, t == true) }`, "", "false true false false true true\n"},
	{"short circuit", `var calls int
func yes() bool { calls++; return true }
func no() bool { calls += 10; return false }
func main() int {
	if no() && yes() { return -1 }
	if yes() || no() { calls += 100 }
	b := no() || (yes() && !no())
	c := yes() && no()
	if b && !c { calls += 1000 }
	return calls
}`, fmt.Sprint(10 + 1 + 100 + 10 + 1 + 10 + 1 + 10 + 1000), ""},
	{"if else chain", `func cls(n int) string {
	if n < 0 { return "neg" } else if n == 0 { return "zero" } else if n < 10 { return "small" }
	return "big"
}
func main() { print(cls(-5), cls(0), cls(3), cls(10), cls(-32768), cls(32767), cls(40000)) }`, "", "neg zero small big neg big big\n"},
	{"if init", `func main() int { if x := 5; x > 3 { return x * 2 } else { return x } }`, "10", ""},
	{"for loops", `func main() int {
	s := 0
	for i := 0; i < 10; i++ { s += i }
	j := 0
	for j < 5 { j++ }
	k := 100
	for { k--; if k < 90 { break } }
	for i := 10; i > 0; i -= 3 { s += 1000 }
	for i := 0; i <= 3; i++ { s += 10000 }
	for i := 3; i >= 0; i-- { s += 100000 }
	for ; false; { s = -1 }
	return s + j + k
}`, fmt.Sprint(45 + 4000 + 40000 + 400000 + 5 + 89), ""},
	{"break continue", `func main() int {
	s := 0
	for i := 0; i < 100; i++ {
		if i % 2 == 0 { continue }
		if i > 20 { break }
		for j := 0; j < 100; j++ {
			if j == 3 { break }
			if j == 1 { continue }
			s += j
		}
		s += i * 100
	}
	return s
}`, fmt.Sprint(10*2 + 100*(1+3+5+7+9+11+13+15+17+19)), ""},
	{"loop conditions", `func main() int {
	n := 5
	a := []int{1, 2, 3}
	s := 0
	for i := 0; i < n && i != 3; i++ { s += 1 }
	for i := 0; i == 0 || i < 2; i++ { s += 10 }
	for i := 0; i < len(a); i++ { s += 100 * a[i] }
	for i := 0; i != 4; i++ { s += 1000 }
	for i := 0; !(i >= 2); i++ { s += 10000 }
	for i := 0.0; i < 3.0; i = i + 1.0 { s += 100000 }
	for i := 70000; i < 70002; i++ { s += 1000000 }
	for i := 0; 2 > i; i++ { s += 10000000 }
	return s
}`, fmt.Sprint(3 + 20 + 600 + 4000 + 20000 + 300000 + 2000000 + 20000000), ""},
	{"recursion", `func fib(n int) int { if n < 2 { return n }; return fib(n-1) + fib(n-2) }
func ack(m int, n int) int {
	if m == 0 { return n + 1 }
	if n == 0 { return ack(m-1, 1) }
	return ack(m-1, ack(m, n-1))
}
func main() int { return fib(20)*1000 + ack(2, 3) }`, fmt.Sprint(6765*1000 + 9), ""},
	{"multiple params and kinds", `func f(a int, s string, x float, b bool, xs []int) string {
	if b { return s + str(a) + str(x) + str(len(xs)) }
	return "no"
}
func g(s string, n int) int { return len(s) * n }
func h(n int, s string) string { return str(n) + s }
func main() string { return f(1, "s", 2.5, true, []int{1, 2}) + f(1, "s", 2.5, false, nil0()) + str(g("abc", 3)) + h(4, "x") }
func nil0() []int { var x []int; return x }`, "s12.52no94x", ""},
	{"void functions", `var g int
func inc(n int) { g += n; if g > 100 { return }; g++ }
func main() int { inc(5); inc(200); inc(1); return g }`, fmt.Sprint(5 + 1 + 200 + 1), ""},
	{"globals", `var a int = 10
var b = a * 2
var s string = "x" + str(b)
var xs []int
var fs = []float{1.5, 2.5}
var flag bool
func bump() int { a++; return a }
func main() string {
	xs = append(xs, bump())
	xs = append(xs, bump())
	flag = !flag
	b -= 3
	fs[1] *= 2.0
	return s + str(a) + str(b) + str(xs[0]) + str(xs[1]) + str(len(xs)) + str(flag) + str(fs[1])
}`, "x20121711122true5", ""},
	{"arrays", `func main() int {
	a := make([]int, 5)
	for i := 0; i < len(a); i++ { a[i] = i * i }
	b := a
	b[0] = 100
	a[1] += 5
	a[2]++
	a[3]--
	m := [][]int{{1, 2}, {3, 4, 5}, {}}
	m[1][2] = 50
	m[2] = append(m[2], 7)
	return a[0] + a[1] + a[2] + a[3] + a[4] + m[1][2] + len(m) + len(m[2]) + m[2][0] + m[0][1]
}`, fmt.Sprint(100 + 6 + 5 + 8 + 16 + 50 + 3 + 1 + 7 + 2), ""},
	{"nested arrays of strings and floats", `func main() string {
	g := make([][]float, 3)
	for i := 0; i < 3; i++ {
		g[i] = make([]float, 2)
		g[i][1] = float(i) * 0.5
	}
	names := []string{"a", "b"}
	names = append(names, "c", "d")
	names[0] += "!"
	return names[0] + names[3] + str(len(names)) + str(g[2][1] + g[1][1])
}`, "a!d41.5", ""},
	{"append aliasing", `func main() {
	a := make([]int, 0)
	a = append(a, 1)
	b := a
	b[0] = 7
	a = append(a, 2, 3)
	print(len(a), a[0], a[1], a[2])
	var d []int
	e := append(d, 9)
	print(len(d), len(e), e[0])
	f := []int{1, 2}
	g := append(f, 3)
	print(len(f), len(g), g[2])
}`, "", "3 7 2 3\n0 1 9\n2 3 3\n"},
	{"array literal self reference", `func main() int { a := []int{1, 2}; a = []int{a[1], a[0], len(a)}; return a[0]*100 + a[1]*10 + a[2] }`, "212", ""},
	{"assign self", `func main() int { x := 3; y := 4; x = y - x; y = x * y; x = x; return x*10 + y }`, "14", ""},
	{"bool result", `func main() bool { return 3 > 2 && "a" < "b" }`, "true", ""},
	{"no result", `func main() { print() }`, "", "\n"},
	{"shadowing", `var x = 1
func main() int {
	r := x
	x := 10
	{ x := 100; r += x }
	if x := 1000; x > 0 { r += x }
	for x := 0; x < 1; x++ { r += 10000 }
	return r + x
}`, "11111", ""},
	{"rune and hex literals", `func main() int { return 'a' + 0x10 + 0b11 + 0o7 + 1_000 + '\n' }`, fmt.Sprint(97 + 16 + 3 + 7 + 1000 + 10), ""},
	{"string bytes loop", `func main() int {
	s := "Hello, World"
	n := 0
	for i := 0; i < len(s); i++ { if s[i] >= 'A' && s[i] <= 'Z' { n++ } }
	return n
}`, "2", ""},
	{"local const", `func main() int { const n = 4; const m int = n * n; return m + n }`, "20", ""},
	{"unary", `func main() { x := 5; f := 2.5; b := true; print(-x, +x, -f, +f, !b, ^x, -(-x)) }`, "", "-5 5 -2.5 2.5 false -6 5\n"},
	{"deep recursion", `func sum(n int) int { if n == 0 { return 0 }; return n + sum(n-1) }
func main() int { return sum(10000) }`, "50005000", ""},
	{"call in args", `func add(a int, b int) int { return a + b }
func main() int { return add(add(1, 2), add(add(3, 4), 5)) }`, "15", ""},
	{"string result of ref-first func", `func rep(s string, n int) string { r := ""; for i := 0; i < n; i++ { r += s }; return r }
func main() string { return rep("ab", 3) }`, "ababab", ""},
	{"compound float and string", `func main() string { f := 1.0; f += 2.0; f *= 3.0; f -= 1.0; f /= 4.0; f++; s := "a"; s += "b"; return s + str(f) }`, "ab3", ""},
	{"loop constants", `func main() string {
	s := ""
	total := 0
	for i := 0; i < 3; i++ {
		s = s + "ab"
		for j := 0; j < 1000000; j++ {
			if j == 2 { break }
			total += 1000000 * j + 5
			k := 0
			for {
				k += 1000000
				if k > 2500000 { break }
				if k == 1000000 { continue }
				total += 7000000
			}
		}
		total += 3000000
	}
	for i := 0; i < 2; i++ {
		x := 0.25
		x = x * 1.5
		total += int(x * 1000.0)
	}
	return s + str(total)
}`, "ababab54000780", ""},
	{"gc pressure", `func main() int {
	keep := make([][]int, 0)
	total := 0
	for i := 0; i < 20000; i++ {
		a := make([]int, 20)
		a[19] = i
		total += a[19]
		if i % 1000 == 0 { keep = append(keep, a) }
	}
	for i := 0; i < len(keep); i++ { total += keep[i][19] }
	return total
}`, fmt.Sprint(19999*20000/2 + 190000), ""},
}

func TestRun(t *testing.T) {
	for _, tc := range runTests {
		t.Run(tc.name, func(t *testing.T) {
			iso := run(t, tc.src)
			if iso.Status() != engine.Finished {
				t.Fatalf("status %s: %v", iso.Status(), iso.Err())
			}
			want := tc.result
			if got := iso.Result(); got != want {
				t.Errorf("result %q, want %q", got, want)
			}
			if got := string(iso.Output()); got != tc.output {
				t.Errorf("output %q, want %q", got, tc.output)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name, src string
		err       error
		line, col uint32
	}{
		{"div by zero", "func main() int {\n\tx := 0\n\treturn 10 / x\n}", engine.ErrDivideByZero, 3, 12},
		{"mod by zero", "func main() int {\n\tx := 0\n\treturn 10 % x\n}", engine.ErrDivideByZero, 3, 12},
		{"index", "func main() int {\n\ta := []int{1}\n\treturn a[1]\n}", engine.ErrIndexOutOfRange, 3, 10},
		{"negative index", "func main() int {\n\ta := []int{1}\n\ti := -1\n\treturn a[i]\n}", engine.ErrIndexOutOfRange, 4, 10},
		{"index set", "func main() {\n\ta := make([]int, 2)\n\ta[2] = 1\n}", engine.ErrIndexOutOfRange, 3, 3},
		{"string index", "func main() int {\n\ts := \"ab\"\n\treturn int(s[5])\n}", engine.ErrIndexOutOfRange, 3, 14},
		{"nil array", "func main() int {\n\tvar a []int\n\treturn a[0]\n}", engine.ErrIndexOutOfRange, 3, 10},
		{"negative make", "func main() int {\n\tn := -1\n\treturn len(make([]int, n))\n}", engine.ErrNegativeLength, 3, 13},
		{"float to int", "func main() int {\n\tf := 1e300\n\treturn int(f)\n}", engine.ErrFloatToInt, 3, 12},
		{"call depth", "func f(n int) int {\n\treturn f(n+1) + 1\n}\nfunc main() int { return f(0) }", engine.ErrCallDepth, 2, 9},
		{"instruction quota", "func main() {\n\tfor {\n\t}\n}", engine.ErrInstructionQuota, 2, 2},
		{"nil field", "type T struct{ x int }\nfunc main() int {\n\tvar p *T\n\treturn p.x\n}", engine.ErrNilDeref, 4, 11},
		{"nil store", "type T struct{ x int }\nfunc main() {\n\tvar p *T\n\tp.x = 1\n}", engine.ErrNilDeref, 4, 4},
		{"nil pointer", "func main() int {\n\tvar p *int\n\treturn *p\n}", engine.ErrNilDeref, 3, 9},
		{"nil copy", "type T struct{ x int }\nfunc main() {\n\tvar p *T\n\tv := *p\n\tprint(v)\n}", engine.ErrNilDeref, 4, 7},
		{"slice bounds", "func main() {\n\ta := []int{1, 2}\n\ti := 3\n\tprint(a[1:i])\n}", engine.ErrSliceBounds, 4, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iso := run(t, tc.src)
			var fe *engine.FaultError
			if iso.Status() != engine.Faulted || !errors.As(iso.Err(), &fe) || !errors.Is(fe, tc.err) {
				t.Fatalf("status %s err %v, want %v", iso.Status(), iso.Err(), tc.err)
			}
			if fe.Pos.Line != tc.line || fe.Pos.Col != tc.col {
				t.Errorf("fault at %d:%d, want %d:%d (%v)", fe.Pos.Line, fe.Pos.Col, tc.line, tc.col, fe)
			}
		})
	}
}

// Issue 12 item 15: an index fault says which index and what length, as Go
// does, and a fault without them still reads as before.
func TestFaultMessages(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"func main() int {\n\ta := []int{1, 2, 3}\n\ti := 5\n\treturn a[i]\n}", "m.kn:4:10: index out of range [5] with length 3 (in main, pc "},
		{"func main() int {\n\ta := []int{1}\n\ti := -1\n\treturn a[i]\n}", "m.kn:4:10: index out of range [-1] with length 1 (in main, pc "},
		{"func main() {\n\ta := make([]int, 2)\n\ta[2] = 1\n}", "m.kn:3:3: index out of range [2] with length 2 (in main, pc "},
		{"func main() int {\n\ts := \"ab\"\n\treturn int(s[5])\n}", "m.kn:3:14: index out of range [5] with length 2 (in main, pc "},
		{"func main() int {\n\tvar a []int\n\treturn a[0]\n}", "m.kn:3:10: index out of range [0] with length 0 (in main, pc "},
		{"func main() int {\n\tx := 0\n\treturn 10 / x\n}", "m.kn:3:12: integer divide by zero (in main, pc "},
	} {
		prog, err := Compile("m.kn", []byte(tc.src))
		if err != nil {
			t.Fatal(err)
		}
		iso, _ := engine.New(prog, engine.Limits{})
		iso.Run(1 << 40)
		if msg := fmt.Sprint(iso.Err()); !strings.HasPrefix(msg, tc.want) {
			t.Errorf("fault %q, want it to start %q", msg, tc.want)
		}
	}
}
