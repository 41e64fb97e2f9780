// Package peers runs KnotenCore's workloads side by side on KnotenCore and
// on the runtimes one would otherwise embed in a Go program: native Go (the
// floor), gopher-lua, tengo, goja and wazero in interpreter mode.
//
// It is a nested module (its own go.mod) so that the peer runtimes stay out
// of the main module's dependencies.
//
// Every engine runs the same algorithm at the same size, and every result
// is checked against native Go's before a time counts. KnotenCore runs the
// programs of engine/workloads, whose full sizes are FullSizes:
//
//	fib    recursive fib(n)                               fib(30) = 832040
//	loop   s = (s + i*i) % 1000003 for i in [0, n)        n = 10M
//	sieve  count the primes below n (Eratosthenes)        n = 2M: 148933
//	nbody  the 5-body simulation, n steps of dt = 0.01,   int(e * 1e9) of the
//	       energy e after the last step                   n = 100k: -169079859
//	bintrees     binary trees of pointers, built and      the sum of the checks
//	             walked (allocation and GC)               n = 14: 993962
//	wordfreq     word counts of n generated words in a    a checksum of the
//	             map (Lua tables, JS Maps, tengo maps)    counts
//	closuresort  merge sort of n numbers by a counting    a checksum of the
//	             comparator closure                       order
//	bytebuild    n numbers written into a growing buffer  length and hash
//	             (Go []byte, Lua table.concat, JS
//	             arrays joined, tengo strings joined)
//
// An engine that cannot express a workload returns ErrUnsupported from
// Prepare; the table shows "n/a" there.
package peers

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrUnsupported is returned by Engine.Prepare for a workload the engine
// cannot express.
var ErrUnsupported = errors.New("peers: workload not expressible on this engine")

// Workload names, in table order.
const (
	Fib         = "fib"
	Loop        = "loop"
	Sieve       = "sieve"
	NBody       = "nbody"
	BinTrees    = "bintrees"
	WordFreq    = "wordfreq"
	ClosureSort = "closuresort"
	ByteBuild   = "bytebuild"
)

// Workloads lists the workload names in table order.
var Workloads = []string{Fib, Loop, Sieve, NBody, BinTrees, WordFreq, ClosureSort, ByteBuild}

// Sizes holds the size parameter n of each workload.
type Sizes map[string]int

// FullSizes are the sizes of engine/workloads' full variants, which the
// performance targets in DESIGN.md use: fib 30, loop 10M, sieve 2M and
// nbody 100k at the time of writing.
var FullSizes = Sizes{Fib: fullSize(Fib), Loop: fullSize(Loop), Sieve: fullSize(Sieve), NBody: fullSize(NBody),
	BinTrees: fullSize(BinTrees), WordFreq: fullSize(WordFreq), ClosureSort: fullSize(ClosureSort), ByteBuild: fullSize(ByteBuild)}

// QuickSizes are a few times smaller, for a fast look.
var QuickSizes = Sizes{Fib: 25, Loop: 1_000_000, Sieve: 200_000, NBody: 10_000,
	BinTrees: 10, WordFreq: 20_000, ClosureSort: 2_000, ByteBuild: 10_000}

// TestSizes are tiny, for the correctness tests.
var TestSizes = Sizes{Fib: 15, Loop: 1000, Sieve: 1000, NBody: 100,
	BinTrees: 4, WordFreq: 300, ClosureSort: 100, ByteBuild: 100}

// SizesByName returns the sizes called name: full, quick or test.
func SizesByName(name string) (Sizes, error) {
	switch name {
	case "full":
		return FullSizes, nil
	case "quick":
		return QuickSizes, nil
	case "test":
		return TestSizes, nil
	}
	return nil, fmt.Errorf("unknown sizes %q (want full, quick or test)", name)
}

// Runner runs one prepared workload once and returns its result in the
// workload's canonical form (see Canonical). It is not safe for
// concurrent use.
type Runner interface {
	Run() (string, error)
	Close() error
}

// Engine is one runtime. Prepare compiles workload w at size n (untimed);
// the returned Runner's Run is what is timed.
type Engine struct {
	Name    string
	Prepare func(w string, n int) (Runner, error)
}

// Ref is the name of the reference engine of the ratios and plots.
const Ref = "knoten"

// Native is the name of the native Go engine, the floor.
const Native = "go"

// Engines lists every engine in table order.
func Engines() []Engine {
	return []Engine{
		{Native, prepareNative},
		{Ref, prepareKnoten},
		{"wazero", prepareWazero},
		{"tengo", prepareTengo},
		{"gopher-lua", prepareLua},
		{"goja", prepareGoja},
	}
}

// EngineByName returns the engine called name.
func EngineByName(name string) (Engine, bool) {
	for _, e := range Engines() {
		if e.Name == name {
			return e, true
		}
	}
	return Engine{}, false
}

// Canonical puts a raw result in the canonical form of every workload's
// result, a decimal integer: engines whose only numbers are floats may
// give "832040", "832040.0" or "8.3204e+05".
func Canonical(w, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return "", fmt.Errorf("%s: result %q is not a number", w, raw)
	}
	if i, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return strconv.FormatInt(i, 10), nil
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return "", fmt.Errorf("%s: result %q is not an integer", w, raw)
	}
	return strconv.FormatInt(int64(f), 10), nil
}

// Want returns native Go's result for w at size n: the result every other
// engine must match.
func Want(w string, n int) (string, error) {
	r, err := prepareNative(w, n)
	if err != nil {
		return "", err
	}
	return r.Run()
}

// Check runs r once and compares its result with want.
func Check(engine, w string, n int, r Runner, want string) error {
	got, err := r.Run()
	if err != nil {
		return fmt.Errorf("%s %s(%d): %w", engine, w, n, err)
	}
	if got != want {
		return fmt.Errorf("%s %s(%d): wrong result %s, want %s (native Go)", engine, w, n, got, want)
	}
	return nil
}

// funcRunner adapts a function to Runner.
type funcRunner struct {
	run   func() (string, error)
	close func() error
}

func (f funcRunner) Run() (string, error) { return f.run() }

func (f funcRunner) Close() error {
	if f.close == nil {
		return nil
	}
	return f.close()
}

// energyResult is the n-body result of energy e, as nbody.kn computes it:
// int(e * 1e9), truncated toward zero.
func energyResult(e float64) string { return strconv.FormatInt(int64(e*1e9), 10) }

// canonRunner wraps a runner's raw results with Canonical.
func canonRunner(w string, run func() (string, error), close func() error) Runner {
	return funcRunner{func() (string, error) {
		raw, err := run()
		if err != nil {
			return "", err
		}
		return Canonical(w, raw)
	}, close}
}
