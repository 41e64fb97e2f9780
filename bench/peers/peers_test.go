package peers

import (
	"errors"
	"strconv"
	"testing"

	"github.com/knotencore/knoten/engine/workloads"
)

// TestEngines checks every engine on every workload against native Go at
// the test sizes. An engine that cannot express a workload must say so
// with ErrUnsupported; any other error or a wrong result fails.
func TestEngines(t *testing.T) {
	for _, w := range Workloads {
		n := TestSizes[w]
		want, err := Want(w, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range Engines() {
			t.Run(w+"/"+e.Name, func(t *testing.T) {
				r, err := e.Prepare(w, n)
				if errors.Is(err, ErrUnsupported) {
					t.Skipf("%s cannot express %s", e.Name, w)
				}
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				// Twice: a runner must give the same result on every run.
				for range 2 {
					if err := Check(e.Name, w, n, r, want); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// TestWorkloadTwins checks this package's native Go workloads against
// engine/workloads' own native twins, at the test and full sizes.
func TestWorkloadTwins(t *testing.T) {
	for _, w := range Workloads {
		for _, n := range []int{TestSizes[w], FullSizes[w]} {
			if testing.Short() && n == FullSizes[w] {
				continue
			}
			wl, err := workloads.Sized(w, n)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Want(w, n); err != nil || got != wl.Result {
				t.Errorf("%s(%d) = %s, %v; engine/workloads' twin says %s", w, n, got, err, wl.Result)
			}
		}
	}
}

// TestNativeKnown pins native Go, the reference, to published values.
func TestNativeKnown(t *testing.T) {
	for _, c := range []struct {
		w    string
		n    int
		want string
	}{
		{Fib, 30, "832040"},
		{Fib, 15, "610"},
		{Sieve, 1000, "168"},
		{Sieve, 2_000_000, "148933"},
		{NBody, 1000, "-169087605"},
	} {
		got, err := Want(c.w, c.n)
		if err != nil || got != c.want {
			t.Errorf("native %s(%d) = %q, %v; want %s", c.w, c.n, got, err, c.want)
		}
	}
	// The published energies, to nine decimals.
	for n, want := range map[int]string{0: "-0.169075164", 1000: "-0.169087605"} {
		if _, e := workloads.NBody(n); strconv.FormatFloat(e, 'f', 9, 64) != want {
			got := strconv.FormatFloat(e, 'f', 9, 64)
			t.Errorf("native nbody(%d) energy = %s, want %s", n, got, want)
		}
	}
}
