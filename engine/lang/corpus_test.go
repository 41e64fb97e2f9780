package lang

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knotencore/knoten/codec"
	"github.com/knotencore/knoten/engine"
)

// The differential corpus: every program in testdata/corpus is both a
// Knoten program and a Go program (beside goPrelude, which gives Go
// Knoten's builtins), and must print exactly what the Go toolchain's build
// of the same text prints. Each also runs halted at every safepoint,
// encoded, decoded and resumed there, and must end with the output, result,
// instruction count and state hash of its straight run.

// goPrelude declares Knoten's builtins for the Go toolchain, as
// preludeSource declares them for the checker.
const goPrelude = `package main

import (
	"fmt"
	"math"
)

type float = float64

func print(args ...any) { fmt.Println(args...) }

func str[T ~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~float64 | ~bool | ~string](x T) string {
	return fmt.Sprint(x)
}

func sqrt(x float64) float64 { return math.Sqrt(x) }

func abs[T ~int | ~int8 | ~int16 | ~int32 | ~int64 | ~float64](x T) T {
	if x < 0 {
		return -x
	}
	return x
}
`

// minCorpus is the least number of programs the corpus holds.
const minCorpus = 60

var corpusLimits = engine.Limits{MaxSteps: 200_000_000, InitialHeap: 4 << 10}

func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.kn")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < minCorpus {
		t.Errorf("the corpus has %d programs, want at least %d", len(files), minCorpus)
	}
	goOut, why := goOutputs(t, files)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".kn")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := Compile(filepath.Base(file), src)
			if err != nil {
				t.Fatal(err)
			}
			straight, err := engine.New(prog, corpusLimits)
			if err != nil {
				t.Fatal(err)
			}
			for straight.Run(1 << 40).Runnable() {
			}
			if straight.Status() != engine.Finished {
				t.Fatalf("%s: %v", straight.Status(), straight.Err())
			}
			out := string(straight.Output())
			if goOut == nil {
				t.Logf("not compared with Go: %s", why)
			} else if want, ok := goOut[name]; !ok {
				t.Errorf("no Go output")
			} else if out != want {
				t.Errorf("Knoten and Go print differently:\n%s", lineDiff(out, want))
			}
			halted, stops := runHaltingCodec(t, prog)
			a, b := straight.State(), halted.State()
			if string(b.Output) != out || straight.Result() != halted.Result() || a.Steps != b.Steps || a.Hash() != b.Hash() {
				t.Fatalf("halted %d times: output, result, steps or hash differ (steps %d vs %d)", stops, a.Steps, b.Steps)
			}
		})
	}
}

// runHaltingCodec runs prog with a budget of one instruction, so that it
// stops at every safepoint, and each time encodes its state, decodes it
// and resumes a new isolate from what was decoded, as knoten run
// --halt-every 1 does.
func runHaltingCodec(t *testing.T, prog *engine.Program) (*engine.Isolate, int) {
	iso, err := engine.New(prog, corpusLimits)
	if err != nil {
		t.Fatal(err)
	}
	resolve := func([32]byte) (*engine.Program, error) { return prog, nil }
	stops := 0
	var buf []byte
	for iso.Run(1).Runnable() {
		stops++
		buf = codec.AppendEncode(buf[:0], codec.Meta{Isolate: 1, Epoch: uint64(stops)}, iso.State())
		// Decoding takes the buffer: the state aliases it.
		_, st, err := codec.Decode(bytes.Clone(buf), resolve)
		if err != nil {
			t.Fatalf("stop %d: %v", stops, err)
		}
		if iso, err = engine.Resume(prog, st, corpusLimits); err != nil {
			t.Fatalf("stop %d: %v", stops, err)
		}
	}
	return iso, stops
}

// goOutputs builds every corpus program with the Go toolchain that runs
// this test (one module, one go build for all of them, offline) and runs
// each, returning what each printed. Without a toolchain it returns nil
// and the reason.
func goOutputs(t *testing.T, files []string) (map[string]string, string) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, "no Go toolchain on this machine"
	}
	// The toolchain's own GOROOT (go env GOROOT), offline.
	rootOut, err := exec.Command(goBin, "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Sprintf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(rootOut))
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "go.mod"), "module corpus\n\ngo 1.22\n")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(file), ".kn")
		write(filepath.Join(dir, name, "main.go"), string(src))
		write(filepath.Join(dir, name, "prelude.go"), goPrelude)
	}
	bin := filepath.Join(dir, "bin")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin+string(filepath.Separator), "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local", "GOWORK=off", "GOROOT="+goroot)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the corpus: %v\n%s", err, out)
	}
	outs := map[string]string{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".kn")
		run := exec.CommandContext(ctx, filepath.Join(bin, name))
		var stdout, stderr bytes.Buffer
		run.Stdout, run.Stderr = &stdout, &stderr
		if err := run.Run(); err != nil {
			t.Errorf("%s under Go: %v\n%s", name, err, stderr.String())
			continue
		}
		outs[name] = stdout.String()
	}
	return outs, ""
}

// lineDiff shows the first lines where got and want differ.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\nknoten: %q\ngo:     %q", i+1, gl, wl)
		}
	}
	return "(equal)"
}
