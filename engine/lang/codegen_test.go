package lang

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/knotencore/knoten/engine"
)

// listing returns the instructions of function fn, one per line, as
// "op a b c" from the raw operand fields, independent of the disassembler's
// format: immediates sign-extended, jump targets relative to the function's
// entry ("@3"), callees by name. Unused fields are 0.
func listing(t *testing.T, src, fn string) string {
	t.Helper()
	p, err := Compile("shape.kn", []byte(src))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	fi := -1
	for i := range p.Funcs {
		if p.Funcs[i].Name == fn {
			fi = i
		}
	}
	if fi < 0 {
		t.Fatalf("no function %s", fn)
	}
	f := p.Funcs[fi]
	var out []string
	for pc := f.Entry; pc < f.End; pc++ {
		in := p.Code[pc]
		op := in.Op()
		b := strconv.Itoa(in.B())
		c := strconv.Itoa(in.C())
		switch op {
		case engine.JEQK, engine.JNEK, engine.JLTK, engine.JLEK, engine.JGTK, engine.JGEK:
			b = strconv.FormatInt(in.SB(), 10)
		case engine.LOADI, engine.ADDK, engine.MULK, engine.DIVK, engine.MODK:
			c = strconv.FormatInt(in.SC(), 10)
		case engine.CALL:
			c = p.Funcs[in.C()].Name
		}
		switch op {
		case engine.JMP, engine.JT, engine.JF, engine.JEQ, engine.JNE, engine.JLT, engine.JLE,
			engine.JEQK, engine.JNEK, engine.JLTK, engine.JLEK, engine.JGTK, engine.JGEK,
			engine.LOOP, engine.LOOPT, engine.LOOPLT, engine.LOOPLE:
			c = "@" + strconv.Itoa(in.C()-int(f.Entry))
		}
		out = append(out, fmt.Sprintf("%s %d %s %s", op, in.A(), b, c))
	}
	return strings.Join(out, "\n")
}

func TestCodegenShape(t *testing.T) {
	tests := []struct {
		name, src, fn, want string
	}{
		{"fib", `func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}
func main() int { return fib(30) }`, "fib", `
jgek 0 2 @2
ret 0 0 0
addk 1 0 -1
call 1 1 fib
addk 2 0 -2
call 2 2 fib
add 1 1 2
ret 1 0 0`},
		{"loop", `func main() int {
	s := 0
	for i := 0; i < 10000000; i++ {
		s = (s + i*i) % 1000003
	}
	return s
}`, "main", `
loadi 0 0 0
loadi 1 0 0
loadk 2 0 0
jmp 0 0 @8
mul 3 1 1
add 3 0 3
modk 0 3 1000003
addk 1 1 1
looplt 1 2 @4
ret 0 0 0`},
		{"countdown loop with local bound", `func f(n int) int {
	s := 0
	for i := n; i >= 0; i-- {
		s += i
	}
	return s
}
func main() int { return f(3) }`, "f", `
loadi 1 0 0
mov 2 0 0
loadi 3 0 0
jmp 0 0 @6
add 1 1 2
addk 2 2 -1
loople 3 2 @4
ret 1 0 0`},
		{"while and forever", `func main() int {
	i := 0
	for i != 10 {
		i++
	}
	for {
		i--
		if i == 0 {
			break
		}
	}
	return i
}`, "main", `
loadi 0 0 0
jmp 0 0 @3
addk 0 0 1
jeqk 0 10 @5
loop 0 0 @2
addk 0 0 -1
jnek 0 0 @8
jmp 0 0 @9
loop 0 0 @5
ret 0 0 0`},
		{"short circuit condition", `func f(a int, b int) int {
	if a > 0 && b < a || b == 7 {
		return 1
	}
	return 0
}
func main() int { return f(1, 2) }`, "f", `
jlek 0 0 @2
jlt 1 0 @3
jnek 1 7 @5
loadi 2 0 1
ret 2 0 0
loadi 2 0 0
ret 2 0 0`},
		{"constant folding", `const K = 6
func main() int {
	x := K * 7 + (1 << 4) - len("abc")
	return x
}`, "main", `
loadi 0 0 55
ret 0 0 0`},
		{"immediates", `func f(x int) int {
	return x*3 + 5 - x/4 + x%7 + 2*x + (x - 8388608) + (x + 8388608)
}
func main() int { return f(1) }`, "f", `
mulk 1 0 3
addk 1 1 5
divk 2 0 4
sub 1 1 2
modk 2 0 7
add 1 1 2
mulk 2 0 2
add 1 1 2
addk 2 0 -8388608
add 1 1 2
loadk 2 0 0
add 2 0 2
add 1 1 2
ret 1 0 0`},
		{"direct destination", `func main() int {
	a := 1
	b := 2
	a = a*b + b
	b = -a
	a += b * 4
	return a
}`, "main", `
loadi 0 0 1
loadi 1 0 2
mul 2 0 1
add 0 2 1
neg 1 0 0
mulk 2 1 4
add 0 0 2
ret 0 0 0`},
		{"ref and scalar registers", `func f(s string, n int) string {
	t := s + str(n)
	return t
}
func main() string { return f("a", 1) }`, "f", `
itos 2 1 0
concat 2 0 2
retr 2 0 0`},
		{"globals", `var g int = 5
var names []string
func main() int {
	g += 2
	names = append(names, "x")
	return g + len(names)
}`, "main", `
getg 0 0 0
addk 0 0 2
setg 0 0 0
getgr 1 0 1
sconst 2 0 0
movr 3 1 0
appendr 3 32784 2
movr 1 3 0
setgr 1 0 1
getg 0 0 0
getgr 1 0 1
len 4 1 0
add 0 0 4
ret 0 0 0`},
		{"init", `var a = 3
var s = "x"
func main() {}`, "<init>", `
loadi 0 0 3
setg 0 0 0
sconst 1 0 0
setgr 1 0 1
call 0 0 main
ret0 0 0 0`},
		{"array literal and index", `func main() float {
	a := []float{1.5, 2.5}
	a[1] *= 2.0
	return a[0] + a[1]
}`, "main", `
loadi 1 0 2
newarr 0 1 0
loadk 2 0 0
loadi 1 0 0
aset 0 1 2
loadk 2 0 1
loadi 1 0 1
aset 0 1 2
loadi 1 0 1
aget 2 0 1
loadk 3 0 2
fmul 2 2 3
aset 0 1 2
loadi 1 0 0
aget 1 0 1
loadi 2 0 1
aget 2 0 2
fadd 1 1 2
ret 1 0 0`},
		{"print", `func main() { print("n", 1, 2.0 < 3.0) }`, "main", `
sconst 0 0 0
prints 0 0 0
printsp 0 0 0
loadi 1 0 1
print 1 0 0
printsp 0 0 0
loadi 1 0 1
print 1 2 0
printnl 0 0 0
ret0 0 0 0`},
		{"void and missing final return", `func f(n int) {
	if n > 0 {
		print(n)
	}
}
func main() { f(1) }`, "f", `
jlek 0 0 @3
print 0 0 0
printnl 0 0 0
ret0 0 0 0`},
		{"if else both return", `func f(n int) int {
	if n > 0 {
		return 1
	} else {
		return 2
	}
}
func main() int { return f(1) }`, "f", `
jlek 0 0 @3
loadi 1 0 1
ret 1 0 0
loadi 1 0 2
ret 1 0 0`},
		{"call results", `func count(s string) int { return len(s) }
func twice(n int) int { return 2 * n }
func main() int {
	x := 1
	x = twice(x)
	n := count("ab")
	return x + n + twice(n)
}`, "main", `
loadi 0 0 1
mov 1 0 0
call 1 0 twice
sconst 2 0 0
call 2 1 count
add 3 0 1
mov 4 1 0
call 4 4 twice
add 3 3 4
ret 3 0 0`},
		{"loop constants in a preheader", `func main() int {
	n := 100
	a := make([]bool, n)
	x := 0.0
	for i := 0; i < n; i += 3 {
		a[i] = true
		x = x * 0.5 + 1.5
	}
	return int(x)
}`, "main", `
loadi 0 0 100
newarr 1 0 0
loadi 2 0 0
loadi 3 0 0
jmp 0 0 @11
aset 1 3 4
fmul 6 2 5
fadd 2 6 7
addk 3 3 3
looplt 3 0 @5
jmp 0 0 @15
loadi 4 0 1
loadk 5 0 0
loadk 7 0 1
loop 0 0 @9
ftoi 3 2 0
ret 3 0 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := listing(t, tc.src, tc.fn)
			want := strings.TrimSpace(tc.want)
			if got != want {
				t.Errorf("%s:\ngot:\n%s\n\nwant:\n%s", tc.fn, got, want)
			}
		})
	}
}
