package lang

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// listing returns the instructions of function fn as "op operands" lines,
// with jump targets written relative to the function's entry ("@3") so that
// the expectations do not depend on the functions before it.
func listing(t *testing.T, src, fn string) string {
	t.Helper()
	p, err := Compile("shape.kn", []byte(src))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var buf bytes.Buffer
	if err := p.Disassemble(&buf); err != nil {
		t.Fatal(err)
	}
	entry := -1
	for i := range p.Funcs {
		if p.Funcs[i].Name == fn {
			entry = int(p.Funcs[i].Entry)
		}
	}
	if entry < 0 {
		t.Fatalf("no function %s", fn)
	}
	var out []string
	in := false
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "func ") {
			in = strings.HasPrefix(line, "func "+fn+" ")
			continue
		}
		if !in || strings.TrimSpace(line) == "" {
			continue
		}
		if i := strings.Index(line, ";"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		s := strings.Join(f[1:], " ")
		s = target.ReplaceAllStringFunc(s, func(m string) string {
			n, _ := strconv.Atoi(m[2:])
			return "@" + strconv.Itoa(n-entry)
		})
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

var target = regexp.MustCompile(`->\d+`)

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
jgek r0, #2, @2
ret r0
addk r1, r0, #-1
call r1, fib
addk r2, r0, #-2
call r2, fib
add r1, r1, r2
ret r1`},
		{"loop", `func main() int {
	s := 0
	for i := 0; i < 10000000; i++ {
		s = (s + i*i) % 1000003
	}
	return s
}`, "main", `
loadi r0, #0
loadi r1, #0
loadk r2, k0(10000000)
jmp @8
mul r3, r1, r1
add r3, r0, r3
modk r0, r3, #1000003
addk r1, r1, #1
looplt r1, r2, @4
ret r0`},
		{"countdown loop with local bound", `func f(n int) int {
	s := 0
	for i := n; i >= 0; i-- {
		s += i
	}
	return s
}
func main() int { return f(3) }`, "f", `
loadi r1, #0
mov r2, r0
loadi r3, #0
jmp @6
add r1, r1, r2
addk r2, r2, #-1
loople r3, r2, @4
ret r1`},
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
loadi r0, #0
jmp @3
addk r0, r0, #1
jeqk r0, #10, @5
loop @2
addk r0, r0, #-1
jnek r0, #0, @8
jmp @9
loop @5
ret r0`},
		{"short circuit condition", `func f(a int, b int) int {
	if a > 0 && b < a || b == 7 {
		return 1
	}
	return 0
}
func main() int { return f(1, 2) }`, "f", `
jlek r0, #0, @2
jlt r1, r0, @3
jnek r1, #7, @5
loadi r2, #1
ret r2
loadi r2, #0
ret r2`},
		{"constant folding", `const K = 6
func main() int {
	x := K * 7 + (1 << 4) - len("abc")
	return x
}`, "main", `
loadi r0, #55
ret r0`},
		{"immediates", `func f(x int) int {
	return x*3 + 5 - x/4 + x%7 + 2*x + (x - 8388608) + (x + 8388608)
}
func main() int { return f(1) }`, "f", `
mulk r1, r0, #3
addk r1, r1, #5
divk r2, r0, #4
sub r1, r1, r2
modk r2, r0, #7
add r1, r1, r2
mulk r2, r0, #2
add r1, r1, r2
addk r2, r0, #-8388608
add r1, r1, r2
loadk r2, k0(8388608)
add r2, r0, r2
add r1, r1, r2
ret r1`},
		{"direct destination", `func main() int {
	a := 1
	b := 2
	a = a*b + b
	b = -a
	a += b * 4
	return a
}`, "main", `
loadi r0, #1
loadi r1, #2
mul r2, r0, r1
add r0, r2, r1
neg r1, r0
mulk r2, r1, #4
add r0, r0, r2
ret r0`},
		{"ref and scalar registers", `func f(s string, n int) string {
	t := s + str(n)
	return t
}
func main() string { return f("a", 1) }`, "f", `
itos r2, r1
concat r2, r0, r2
retr r2`},
		{"globals", `var g int = 5
var names []string
func main() int {
	g += 2
	names = append(names, "x")
	return g + len(names)
}`, "main", `
getg r0, g0
addk r0, r0, #2
setg r0, g0
getgr r1, g1
sconst r2, s0("x")
appendr r1, r1, r2
setgr r1, g1
getg r0, g0
getgr r1, g1
len r3, r1
add r0, r0, r3
ret r0`},
		{"init", `var a = 3
var s = "x"
func main() {}`, "<init>", `
loadi r0, #3
setg r0, g0
sconst r1, s0("x")
setgr r1, g1
call r0, main
ret0`},
		{"array literal and index", `func main() float {
	a := []float{1.5, 2.5}
	a[1] *= 2.0
	return a[0] + a[1]
}`, "main", `
loadi r1, #2
newarr r0, r1
loadk r2, k0(4609434218613702656)
loadi r1, #0
aset r0, r1, r2
loadk r2, k1(4612811918334230528)
loadi r1, #1
aset r0, r1, r2
loadi r1, #1
aget r2, r0, r1
loadk r3, k2(4611686018427387904)
fmul r2, r2, r3
aset r0, r1, r2
loadi r1, #0
aget r1, r0, r1
loadi r2, #1
aget r2, r0, r2
fadd r1, r1, r2
ret r1`},
		{"print", `func main() { print("n", 1, 2.0 < 3.0) }`, "main", `
sconst r0, s0("n")
prints r0
printsp
loadi r1, #1
print r1, int
printsp
loadi r1, #1
print r1, bool
printnl
ret0`},
		{"void and missing final return", `func f(n int) {
	if n > 0 {
		print(n)
	}
}
func main() { f(1) }`, "f", `
jlek r0, #0, @3
print r0, int
printnl
ret0`},
		{"if else both return", `func f(n int) int {
	if n > 0 {
		return 1
	} else {
		return 2
	}
}
func main() int { return f(1) }`, "f", `
jlek r0, #0, @3
loadi r1, #1
ret r1
loadi r1, #2
ret r1`},
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
