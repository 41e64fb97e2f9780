package fuzz

import (
	"testing"

	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

// TODO: use engine/workloads' small variants once that package exists; until
// then these sources, compiled with engine/lang, stand in for them.
var workloadSources = []struct{ name, src string }{
	{"fib", `
func fib(n int) int { if n < 2 { return n }; return fib(n-1) + fib(n-2) }
func main() int { return fib(16) }
`},
	{"loop", `
func main() int { s := 0; for i := 0; i < 5000; i++ { s = (s + i*i) % 1000003 }; return s }
`},
	{"strings", `
var log []string
var total int
func word(i int) string { return "w" + str(i) }
func main() string {
	s := ""
	for i := 0; i < 200; i++ {
		w := word(i)
		log = append(log, w)
		if i % 7 == 0 { print(i, w, len(log)) }
		total += len(w)
		if len(s) < 300 { s = s + w } else { s = w }
	}
	return s + str(total)
}
`},
	{"sieve", `
func main() int {
	n := 3000
	comp := make([]bool, n+1)
	primes := make([]int, 0)
	for i := 2; i <= n; i++ {
		if !comp[i] {
			primes = append(primes, i)
			for j := i * i; j <= n; j += i { comp[j] = true }
		}
	}
	print(len(primes), primes[len(primes)-1])
	return len(primes)
}
`},
	{"matrix", `
func mat(n int, seed float) [][]float {
	m := make([][]float, n)
	for i := 0; i < n; i++ {
		row := make([]float, n)
		for j := 0; j < n; j++ { row[j] = float(i*j) * seed + 1.0 }
		m[i] = row
	}
	return m
}
func main() float {
	a := mat(10, 0.5)
	b := mat(10, 0.25)
	s := 0.0
	for i := 0; i < 10; i++ { for j := 0; j < 10; j++ { for k := 0; k < 10; k++ { s += a[i][k]*b[k][j] } } }
	print(s)
	return s
}
`},
	{"fault", `
func main() int { a := make([]int, 10); s := 0; for i := 0; i < 100; i++ { s += a[i] + i }; return s }
`},
}

type workload struct {
	name string
	prog *engine.Program
}

func loadWorkloads(t testing.TB) []workload {
	t.Helper()
	var ws []workload
	for _, w := range workloadSources {
		p, err := lang.Compile(w.name+".kn", []byte(w.src))
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		ws = append(ws, workload{w.name, p})
	}
	return ws
}

func TestWorkloadsRun(t *testing.T) {
	for _, w := range loadWorkloads(t) {
		iso, err := engine.New(w.prog, engine.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		for iso.Run(1 << 40).Runnable() {
		}
		t.Logf("%s: %s steps=%d result=%q out=%q err=%v heap=%d", w.name, iso.Status(), iso.Steps(), iso.Result(), iso.Output(), iso.Err(), len(iso.State().Heap))
	}
}
