// Package workloads is KnotenCore's library of Knoten programs with known
// results, used by the tests, the benchmarks and the cluster load
// generator. Each workload exists at a full size, for benchmarks, and a
// small size (name suffix "-small") that runs a few thousand instructions,
// so that tests can halt and resume it at every instruction.
//
// Every program starts with a line "const N = <size>"; Sized rewrites it to
// run a workload at any size. The expected results come from native Go twins
// (Fib, Loop, Sieve, NBody, Matmul, Strings, BinTrees, DeepRec, WordFreq,
// ClosureSort, ByteBuild, Cache), which the
// tests check against the hardcoded table and the engine's results, and which
// the benchmarks use as the native baseline.
package workloads

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"strconv"
)

//go:embed programs/*.kn
var programs embed.FS

// Workload is one program with its expected result.
type Workload struct {
	Name   string // "fib", or "fib-small" for the small variant
	Base   string // the program: "fib"
	N      int    // the size: the value of the program's constant N
	Small  bool   // the small variant, cheap enough to halt at every instruction
	Source []byte // Knoten source
	Result string // expected result, formatted as engine.Isolate.Result formats it
	Output string // expected printed output ("" if the program prints nothing)
}

// Filename is the name to compile the source under, e.g. "fib-small.kn".
func (w Workload) Filename() string { return w.Name + ".kn" }

// Native runs the workload's native Go twin at the workload's size and
// returns its result and output, formatted like the engine's.
func (w Workload) Native() (result, output string) { return twins[w.Base](w.N) }

type spec struct {
	name          string
	full, small   int
	fullResult    string
	fullOutput    string
	smallResult   string
	smallOutput   string
	what          string
	smallestValid int // the least N the program works for
}

// The table of workloads and their known results. The results were computed
// by the native twins and are checked against them by the tests.
var specs = []spec{
	{name: "fib", what: "recursive Fibonacci, fib(N)", full: 30, small: 10,
		fullResult: "832040", smallResult: "55"},
	{name: "loop", what: "s = (s + i*i) % 1000003 for i < N", full: 10_000_000, small: 1000,
		fullResult: "990548", smallResult: "832504"},
	{name: "sieve", what: "number of primes below N", full: 2_000_000, small: 300,
		fullResult: "148933", smallResult: "62"},
	{name: "nbody", what: "five-body simulation, N steps; result is the final energy in 1e-9", full: 100_000, small: 5,
		fullResult: "-169079859", fullOutput: "-0.16907516382852447\n-0.1690798593916698\n",
		smallResult: "-169074104", smallOutput: "-0.16907516382852447\n-0.1690741048829929\n"},
	{name: "matmul", what: "N×N float matrix product; result is the sum in 1e-3", full: 120, small: 6, smallestValid: 1,
		fullResult: "-302393665", fullOutput: "-22.50416662808641\n",
		smallResult: "-26379", smallOutput: "-0.7330246913580246\n"},
	{name: "strings", what: "building and hashing lines of N words", full: 200_000, small: 100,
		fullResult: "378045271", fullOutput: "w993,\n",
		smallResult: "725459049", smallOutput: "w637,w644,w651/23.25,w658,w665,w672/24,w679,w686,w693/24.75,\n"},
	{name: "bintrees", what: "binary trees up to depth N, allocation-heavy", full: 14, small: 3, smallestValid: 2,
		fullResult: "993962", fullOutput: "stretch tree of depth 15 check: 65535\n" +
			"16384 trees of depth 2 check: 114688\n" +
			"4096 trees of depth 4 check: 126976\n" +
			"1024 trees of depth 6 check: 130048\n" +
			"256 trees of depth 8 check: 130816\n" +
			"64 trees of depth 10 check: 131008\n" +
			"16 trees of depth 12 check: 131056\n" +
			"4 trees of depth 14 check: 131068\n" +
			"long lived tree of depth 14 check: 32767\n",
		smallResult: "102", smallOutput: "stretch tree of depth 4 check: 31\n" +
			"8 trees of depth 2 check: 56\n" +
			"long lived tree of depth 3 check: 15\n"},
	{name: "deeprec", what: "recursion N calls deep, 21 times", full: 10_000, small: 50,
		fullResult: "1000129998", smallResult: "25648"},
	{name: "wordfreq", what: "word frequencies of N generated words in a map", full: 200_000, small: 60, smallestValid: 1,
		fullResult: "3725508584", fullOutput: "ka 8501 584\n",
		smallResult: "1052042", smallOutput: "ne 4 42\n"},
	{name: "closuresort", what: "merge sort of N numbers by a comparing closure", full: 20_000, small: 30, smallestValid: 1,
		fullResult: "84883554", fullOutput: "0 999 260925\n",
		smallResult: "560198536", smallOutput: "12 982 113\n"},
	{name: "bytebuild", what: "N numbers written into a growing []byte, hashed", full: 100_000, small: 30, smallestValid: 1,
		fullResult: "648893317", fullOutput: "52489,60408,68327; next\n\n",
		smallResult: "191354", smallOutput: "13807,21726,29645; next\n\n"},
	{name: "cache", what: "direct-mapped cache of N slots of 8 words serving 4N requests, 90% to a hot 1%", full: 1 << 20, small: 16, smallestValid: 1,
		fullResult: "779089158", fullOutput: "hits 3484305 misses 185438 sets 524561\n",
		smallResult: "700958492", smallOutput: "hits 53 misses 4 sets 7\n"},
}

// Names returns the programs' base names in a fixed order.
func Names() []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	return names
}

// All returns every workload, each program's full variant followed by its
// small one.
func All() []Workload {
	ws := make([]Workload, 0, 2*len(specs))
	for _, s := range specs {
		ws = append(ws,
			Workload{Name: s.name, Base: s.name, N: s.full, Source: source(s.name, s.full), Result: s.fullResult, Output: s.fullOutput},
			Workload{Name: s.name + "-small", Base: s.name, N: s.small, Small: true, Source: source(s.name, s.small), Result: s.smallResult, Output: s.smallOutput})
	}
	return ws
}

// Full returns the full-size variants, for benchmarks.
func Full() []Workload { return filter(false) }

// Smalls returns the small variants, for tests.
func Smalls() []Workload { return filter(true) }

func filter(small bool) []Workload {
	var ws []Workload
	for _, w := range All() {
		if w.Small == small {
			ws = append(ws, w)
		}
	}
	return ws
}

// Get returns the workload with the given name ("fib" or "fib-small").
func Get(name string) (Workload, bool) {
	for _, w := range All() {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

// Sized returns program base at size n, named "base-n", with its expected
// result and output computed by the native twin (which takes about as long
// as the native program runs).
func Sized(base string, n int) (Workload, error) {
	for _, s := range specs {
		if s.name != base {
			continue
		}
		if n < s.smallestValid {
			return Workload{}, fmt.Errorf("workloads: %s needs N >= %d, got %d", base, s.smallestValid, n)
		}
		w := Workload{Name: base + "-" + strconv.Itoa(n), Base: base, N: n, Source: source(base, n)}
		w.Result, w.Output = twins[base](n)
		return w, nil
	}
	return Workload{}, fmt.Errorf("workloads: unknown workload %q", base)
}

// Describe returns a one-line description of program base.
func Describe(base string) string {
	for _, s := range specs {
		if s.name == base {
			return s.what
		}
	}
	return ""
}

var sizeLine = regexp.MustCompile(`(?m)^const N = \d+$`)

// source returns the program with its size constant set to n.
func source(name string, n int) []byte {
	src, err := programs.ReadFile("programs/" + name + ".kn")
	if err != nil {
		panic("BUG: workloads: missing program " + name)
	}
	if !sizeLine.Match(src) {
		panic("BUG: workloads: " + name + ".kn lacks a const N line")
	}
	loc := sizeLine.FindIndex(src)
	out := append([]byte(nil), src[:loc[0]]...)
	out = append(out, "const N = "+strconv.Itoa(n)...)
	return append(out, bytes.Clone(src[loc[1]:])...)
}
