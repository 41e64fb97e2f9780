package workloads

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The native Go twins of the workloads. Each computes what its .kn program
// computes, written as a Go programmer would but performing the same
// floating-point operations in the same order, so that results agree to the
// bit. Every product is wrapped in float64(...) because Go may otherwise
// fuse x*y + z into one FMA instruction, which the VM never does. The twins
// are the independent source of truth for the expected results and the
// baseline the benchmarks compare the engine against.

// Fib returns fib(n), computed recursively.
//
//go:noinline
func Fib(n int) int {
	if n < 2 {
		return n
	}
	return Fib(n-1) + Fib(n-2)
}

// Loop returns s after s = (s + i*i) % 1000003 for i in [0, n).
//
//go:noinline
func Loop(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s = (s + i*i) % 1000003
	}
	return s
}

// Sieve returns the number of primes below n.
//
//go:noinline
func Sieve(n int) int {
	composite := make([]bool, n)
	count := 0
	for i := 2; i < n; i++ {
		if !composite[i] {
			count++
			for j := i * i; j < n; j += i {
				composite[j] = true
			}
		}
	}
	return count
}

type body struct{ x, y, z, vx, vy, vz, m float64 }

// NBodyStart is the n-body system as nbody.kn and every peer start it (the
// Computer Language Benchmarks Game's): the sun and the four gas giants,
// each as x, y, z in AU, vx, vy, vz in AU/day and mass in solar masses,
// before scaling velocities to AU/year and masses by 4π².
var NBodyStart = [5][7]float64{
	{0, 0, 0, 0, 0, 0, 1},
	{4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
		1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05, 9.54791938424326609e-04},
	{8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
		-2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05, 2.85885980666130812e-04},
	{1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
		2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05, 4.36624404335156298e-05},
	{1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
		2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05, 5.15138902046611451e-05},
}

// NBody simulates n steps of the five-body system and returns the energy
// before and after.
//
//go:noinline
func NBody(n int) (before, after float64) {
	pi, daysPerYear := 3.141592653589793, 365.24
	solarMass := float64(4.0*pi) * pi
	bs := make([]body, len(NBodyStart))
	for i, b := range NBodyStart {
		bs[i] = body{b[0], b[1], b[2], b[3], b[4], b[5], b[6]}
	}
	for i := range bs {
		b := &bs[i]
		b.vx *= daysPerYear
		b.vy *= daysPerYear
		b.vz *= daysPerYear
		b.m *= solarMass
	}
	var px, py, pz float64
	for _, b := range bs {
		px += float64(b.vx * b.m)
		py += float64(b.vy * b.m)
		pz += float64(b.vz * b.m)
	}
	bs[0].vx = -px / solarMass
	bs[0].vy = -py / solarMass
	bs[0].vz = -pz / solarMass
	before = energy(bs)
	for step := 0; step < n; step++ {
		advance(bs, 0.01)
	}
	return before, energy(bs)
}

func advance(bs []body, dt float64) {
	for i := range bs {
		bi := &bs[i]
		for j := i + 1; j < len(bs); j++ {
			bj := &bs[j]
			dx := bi.x - bj.x
			dy := bi.y - bj.y
			dz := bi.z - bj.z
			d2 := float64(float64(dx*dx)+float64(dy*dy)) + float64(dz*dz)
			mag := dt / float64(d2*math.Sqrt(d2))
			mj := bj.m * mag
			bi.vx -= float64(dx * mj)
			bi.vy -= float64(dy * mj)
			bi.vz -= float64(dz * mj)
			mi := bi.m * mag
			bj.vx += float64(dx * mi)
			bj.vy += float64(dy * mi)
			bj.vz += float64(dz * mi)
		}
	}
	for i := range bs {
		b := &bs[i]
		b.x += float64(dt * b.vx)
		b.y += float64(dt * b.vy)
		b.z += float64(dt * b.vz)
	}
}

func energy(bs []body) float64 {
	e := 0.0
	for i, b := range bs {
		e += float64(float64(0.5*b.m) * float64(float64(float64(b.vx*b.vx)+float64(b.vy*b.vy))+float64(b.vz*b.vz)))
		for j := i + 1; j < len(bs); j++ {
			dx := b.x - bs[j].x
			dy := b.y - bs[j].y
			dz := b.z - bs[j].z
			e -= float64(b.m*bs[j].m) / math.Sqrt(float64(float64(dx*dx)+float64(dy*dy))+float64(dz*dz))
		}
	}
	return e
}

// Matmul multiplies the two generated n×n matrices and returns the middle
// element of the product and the sum of all its elements.
//
//go:noinline
func Matmul(n int) (mid, sum float64) {
	gen := func(seed float64) [][]float64 {
		m := make([][]float64, n)
		tmp := seed / float64(n) / float64(n)
		for i := range m {
			m[i] = make([]float64, n)
			for j := range m[i] {
				m[i][j] = float64(tmp*float64(i-j)) * float64(i+j)
			}
		}
		return m
	}
	a, b := gen(1.0), gen(2.0)
	c := make([][]float64, n)
	for i := range c {
		c[i] = make([]float64, n)
		for j := range c[i] {
			s := 0.0
			for k := 0; k < n; k++ {
				s += float64(a[i][k] * b[k][j])
			}
			c[i][j] = s
		}
	}
	for i := range c {
		for j := range c[i] {
			sum += c[i][j]
		}
	}
	return c[n/2][n/2], sum
}

// Strings builds and hashes the lines of words of the strings workload and
// returns the last, unhashed line and the result.
//
//go:noinline
func Strings(n int) (last string, result int) {
	checksum := func(s string) int {
		h := 0
		for i := 0; i < len(s); i++ {
			h = (h*31 + int(s[i])) % 1000000007
		}
		return h
	}
	total, words := 0, 0
	var line strings.Builder
	for i := 0; i < n; i++ {
		line.WriteString("w")
		line.WriteString(strconv.Itoa(i * 7 % 1000))
		if i%3 == 0 {
			line.WriteString("/")
			line.WriteString(strconv.FormatFloat(float64(i)/4.0, 'g', -1, 64))
		}
		line.WriteString(",")
		words++
		if line.Len() > 60 {
			total = (total + checksum(line.String())) % 1000000007
			line.Reset()
		}
	}
	return line.String(), (total + checksum(line.String()) + words) % 1000000007
}

type node struct{ left, right *node }

func bottomUp(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	return &node{bottomUp(depth - 1), bottomUp(depth - 1)}
}

func (n *node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

// BinTrees runs the binary-trees benchmark with pointer trees and returns
// its report and the sum of all checks.
//
//go:noinline
func BinTrees(n int) (output string, result int) {
	var out strings.Builder
	minDepth, maxDepth := 2, n
	stretch := bottomUp(maxDepth + 1).check()
	fmt.Fprintf(&out, "stretch tree of depth %d check: %d\n", maxDepth+1, stretch)
	long := bottomUp(maxDepth)
	total := stretch
	for d := minDepth; d <= maxDepth; d += 2 {
		iters := 1 << (maxDepth - d + minDepth)
		chk := 0
		for i := 0; i < iters; i++ {
			chk += bottomUp(d).check()
		}
		fmt.Fprintf(&out, "%d trees of depth %d check: %d\n", iters, d, chk)
		total += chk
	}
	lc := long.check()
	fmt.Fprintf(&out, "long lived tree of depth %d check: %d\n", maxDepth, lc)
	return out.String(), total + lc
}

// DeepRec returns 20 times the sum 1..n plus the sum of k%7 for k in 1..n.
//
//go:noinline
func DeepRec(n int) int {
	var sum func(int) int
	sum = func(k int) int {
		if k == 0 {
			return 0
		}
		return k + sum(k-1)
	}
	total := 0
	for r := 0; r < 20; r++ {
		total += sum(n)
	}
	for k := n; k > 0; k-- {
		total += k % 7
	}
	return total
}

var syllables = []string{"ka", "to", "ri", "ne", "mo", "su", "la", "vi"}

// WordFreq counts the n generated words of the wordfreq workload and
// returns the most frequent word, its count, the number of distinct words
// and the result (a checksum that does not depend on map order).
//
//go:noinline
func WordFreq(n int) (best string, bestN, distinct, result int) {
	seed := 42
	next := func() int {
		seed = (seed*1103515245 + 12345) % 2147483648
		return seed >> 8
	}
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		k := 1 + next()%3
		w := ""
		for j := 0; j < k; j++ {
			w += syllables[next()%len(syllables)]
		}
		counts[w]++
	}
	sum := 0
	for w, c := range counts {
		if c > bestN || c == bestN && w < best {
			best, bestN = w, c
		}
		sum = (sum + c*len(w)*len(w)) % 1000000007
	}
	return best, bestN, len(counts), sum*1000 + len(counts)
}

func mergeSort(xs, tmp []int, less func(a, b int) bool) {
	if len(xs) < 2 {
		return
	}
	m := len(xs) / 2
	mergeSort(xs[:m], tmp[:m], less)
	mergeSort(xs[m:], tmp[m:], less)
	i, j, k := 0, m, 0
	for i < m && j < len(xs) {
		if less(xs[j], xs[i]) {
			tmp[k] = xs[j]
			j++
		} else {
			tmp[k] = xs[i]
			i++
		}
		k++
	}
	k += copy(tmp[k:], xs[i:m])
	k += copy(tmp[k:], xs[j:])
	copy(xs, tmp[:k])
}

// ClosureSort sorts the n generated numbers of the closuresort workload
// with a counting comparator and returns the first and last keys, the
// comparisons and the result.
//
//go:noinline
func ClosureSort(n int) (first, last, comparisons, result int) {
	xs := make([]int, n)
	seed := 7
	for i := range xs {
		seed = (seed*1103515245 + 12345) % 2147483648
		xs[i] = seed >> 4
	}
	mergeSort(xs, make([]int, n), func(a, b int) bool {
		comparisons++
		if a%1000 != b%1000 {
			return a%1000 < b%1000
		}
		return a < b
	})
	sum := 0
	for i, x := range xs {
		sum = (sum*31 + x%1000 + i) % 1000000007
	}
	return xs[0] % 1000, xs[n-1] % 1000, comparisons, sum
}

// ByteBuild builds the bytebuild workload's text and returns its last 24
// bytes and the result.
//
//go:noinline
func ByteBuild(n int) (tail string, result int) {
	var buf []byte
	for i := 0; i < n; i++ {
		buf = strconv.AppendInt(buf, int64(i*7919%100003), 10)
		if i%10 == 9 {
			buf = append(buf, "; next\n"...)
		} else {
			buf = append(buf, ',')
		}
	}
	h := 0
	for _, c := range buf {
		h = (h*131 + int(c)) % 1000000007
	}
	return string(buf[max(0, len(buf)-24):]), len(buf)*1000 + h%1000
}

// Cache runs the cache workload with n slots and returns its hits, misses
// and sets and the result, the checksum of the values its GETs hit.
//
//go:noinline
func Cache(n int) (hits, misses, sets, result int) {
	const w = 8
	data := make([]int, n*w)
	for s := 0; s < n; s++ {
		data[s*w] = s
		for j := 1; j < w; j++ {
			data[s*w+j] = (s*31 + j) % 1000003
		}
	}
	hot := max(1, n/100)
	hotBase := n / 3
	seed := int64(42)
	sum := 0
	for r := 0; r < 4*n; r++ {
		seed = seed*6364136223846793005 + 1442695040888963407
		x := int(seed >> 16 & (1<<47 - 1))
		k := x / 800
		key := k % (2 * n)
		if x%100 < 90 {
			key = hotBase + k%hot
		}
		slot := data[key%n*w : key%n*w+w]
		switch {
		case x/100%8 == 0:
			sets++
			slot[0] = key
			for j := 1; j < w; j++ {
				slot[j] = (key*31 + r + j) % 1000003
			}
		case slot[0] == key:
			hits++
			for _, v := range slot[1:] {
				sum = (sum*131 + v) % 1000000007
			}
		default:
			misses++
			slot[0] = key
			for j := 1; j < w; j++ {
				slot[j] = (key*31 + j) % 1000003
			}
		}
	}
	return hits, misses, sets, sum
}

func g(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// twins maps a workload to its native twin, formatted as the engine formats
// the result and output.
var twins = map[string]func(n int) (result, output string){
	"fib":   func(n int) (string, string) { return strconv.Itoa(Fib(n)), "" },
	"loop":  func(n int) (string, string) { return strconv.Itoa(Loop(n)), "" },
	"sieve": func(n int) (string, string) { return strconv.Itoa(Sieve(n)), "" },
	"nbody": func(n int) (string, string) {
		before, after := NBody(n)
		return strconv.FormatInt(int64(after*1e9), 10), g(before) + "\n" + g(after) + "\n"
	},
	"matmul": func(n int) (string, string) {
		mid, sum := Matmul(n)
		return strconv.FormatInt(int64(sum*1000.0), 10), g(mid) + "\n"
	},
	"strings": func(n int) (string, string) {
		last, r := Strings(n)
		return strconv.Itoa(r), last + "\n"
	},
	"bintrees": func(n int) (string, string) {
		out, r := BinTrees(n)
		return strconv.Itoa(r), out
	},
	"deeprec": func(n int) (string, string) { return strconv.Itoa(DeepRec(n)), "" },
	"wordfreq": func(n int) (string, string) {
		best, bestN, distinct, r := WordFreq(n)
		return strconv.Itoa(r), fmt.Sprintln(best, bestN, distinct)
	},
	"closuresort": func(n int) (string, string) {
		first, last, comparisons, r := ClosureSort(n)
		return strconv.Itoa(r), fmt.Sprintln(first, last, comparisons)
	},
	"bytebuild": func(n int) (string, string) {
		tail, r := ByteBuild(n)
		return strconv.Itoa(r), tail + "\n"
	},
	"cache": func(n int) (string, string) {
		hits, misses, sets, r := Cache(n)
		return strconv.Itoa(r), fmt.Sprintln("hits", hits, "misses", misses, "sets", sets)
	},
}
