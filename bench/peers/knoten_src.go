package peers

import "fmt"

// TEMPORARY until engine/workloads lands.
func knotenSource(w string, n int) (string, []byte, error) {
	var src string
	switch w {
	case Fib:
		src = `func fib(n int) int {
	if n < 2 { return n }
	return fib(n-1) + fib(n-2)
}
func main() int { return fib(N) }
`
	case Loop:
		src = `func main() int {
	s := 0
	for i := 0; i < N; i++ { s = (s + i*i) % 1000003 }
	return s
}
`
	default:
		return "", nil, ErrUnsupported
	}
	return w + ".kn", []byte(fmt.Sprintf("const N = %d\n", n) + src), nil
}
