package lang

import (
	"errors"
	"fmt"
	"github.com/knotencore/knoten/internal/golden"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/knotencore/knoten/engine"
)

// FuzzCompile checks that any input either compiles to a program that passes
// Validate and runs without an internal fault, or yields a well-formed
// ErrorList, and that the compiler never panics. The seed corpus is in
// testdata/fuzz/FuzzCompile (written by go test -run TestFuzzSeeds -update)
// plus the error test files.
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob("testdata/errors/*.kn")
	for _, file := range files {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Compile("fuzz.kn", src)
		if err != nil {
			if errors.Is(err, ErrInternal) {
				t.Fatalf("internal error: %v\nsource:\n%s", err, src)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || len(list) > MaxErrors {
				t.Fatalf("not a proper ErrorList: %#v", err)
			}
			for _, e := range list {
				if e.Line < 1 || e.Col < 1 || e.Msg == "" || strings.Contains(e.Msg, "BUG") {
					t.Fatalf("bad error %q", e)
				}
			}
			return
		}
		// Compiled code must never trip the engine's internal checks (ref
		// and scalar kinds, array kinds); run it for a bounded time.
		iso, err := engine.New(p, engine.Limits{MaxSteps: 20000, MaxDepth: 200, MaxHeap: 1 << 20, MaxOutput: 1 << 12})
		if err != nil {
			t.Fatal(err)
		}
		for iso.Run(5000).Runnable() {
		}
		if errors.Is(iso.Err(), engine.ErrInternal) {
			t.Fatalf("internal fault: %v\nsource:\n%s", iso.Err(), src)
		}
	})
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// TestFuzzSeeds writes the run tests as fuzz seeds when -update is set.
func TestFuzzSeeds(t *testing.T) {
	if !golden.Update() {
		t.Skip("use -update to rewrite the seeds")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzCompile")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, src string) {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", src)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range runTests {
		write("run-"+strings.Trim(nonName.ReplaceAllString(tc.name, "-"), "-"), tc.src)
	}
	// The differential corpus: every feature of the language.
	corpus, _ := filepath.Glob("testdata/corpus/*.kn")
	for _, file := range corpus {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		write("corpus-"+strings.TrimSuffix(filepath.Base(file), ".kn"), string(src))
	}
	// The workload programs, with small sizes so that the fuzzer's runs of
	// them stay short.
	programs, _ := filepath.Glob("../workloads/programs/*.kn")
	for _, file := range programs {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		small := regexp.MustCompile(`(?m)^const N = \d+$`).ReplaceAllString(string(src), "const N = 3")
		write("workload-"+strings.TrimSuffix(filepath.Base(file), ".kn"), small)
	}
}
