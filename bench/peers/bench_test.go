package peers

import (
	"errors"
	"flag"
	"testing"
)

var benchSizes = flag.String("peers.sizes", "full", "workload sizes of BenchmarkPeers: full, quick or test")

// BenchmarkPeers runs every workload on every engine in one process:
// BenchmarkPeers/workload=W/engine=E. The result is checked before timing
// and after it; an engine that cannot express a workload is skipped.
func BenchmarkPeers(b *testing.B) {
	sizes, err := SizesByName(*benchSizes)
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range Workloads {
		n := sizes[w]
		want, err := Want(w, n)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range Engines() {
			b.Run("workload="+w+"/engine="+e.Name, func(b *testing.B) {
				r, err := e.Prepare(w, n)
				if errors.Is(err, ErrUnsupported) {
					b.Skipf("%s cannot express %s", e.Name, w)
				}
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				if err := Check(e.Name, w, n, r, want); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				var got string
				for b.Loop() {
					if got, err = r.Run(); err != nil {
						b.Fatal(err)
					}
				}
				if got != want {
					b.Fatalf("%s %s(%d): wrong result %s, want %s (native Go)", e.Name, w, n, got, want)
				}
			})
		}
	}
}
