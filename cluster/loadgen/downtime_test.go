package loadgen

import (
	"fmt"
	"testing"

	"github.com/knotencore/knoten/cluster"
)

// BenchmarkMigrationDowntime moves one running isolate back and forth
// between two idle nodes over a zero-latency link, one migration per
// iteration, by stop-and-copy and by pre-copy (default options with
// AutoConverge), side by side for each heap size: the mutator keeps a hot
// set of 1 % of its pages and writes about 1 % of its pages each
// millisecond (MutatorProgram).
//
// It reports the downtime (the halt, or for pre-copy the end of the last
// quantum on the source, to the first quantum on the target) p50/p90/p99,
// the bytes sent per migration (the OFFER and every PAGES message), that
// over the heap, and the rounds per migration. Targets (DESIGN.md):
// pre-copy p50 <= 1 ms at 64 MiB, its p50 at 256 MiB within 3x of its p50
// at 1 MiB, and at most 1.5x the heap sent.
func BenchmarkMigrationDowntime(b *testing.B) {
	for _, h := range DowntimeHeaps {
		for _, mode := range []string{"stop-and-copy", "precopy"} {
			b.Run(fmt.Sprintf("mode=%s/heap=%s", mode, h.Name), func(b *testing.B) {
				r, err := Downtime(h.Bytes, b.N, mode == "precopy", cluster.PreCopy{AutoConverge: true}, b.ResetTimer)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				n := float64(b.N)
				b.ReportMetric(float64(r.Quantile(0.50).Nanoseconds()), "downtime-p50-ns")
				b.ReportMetric(float64(r.Quantile(0.90).Nanoseconds()), "downtime-p90-ns")
				b.ReportMetric(float64(r.Quantile(0.99).Nanoseconds()), "downtime-p99-ns")
				b.ReportMetric(float64(r.Sent)/n, "sent-B/op")
				b.ReportMetric(float64(r.Sent)/n/float64(h.Bytes), "sent/heap")
				b.ReportMetric(float64(r.Rounds)/n, "rounds/op")
				b.ReportMetric(float64(r.Forced)/n, "forced/op")
				b.ReportMetric(float64(r.FinalPages)/n, "final-pages/op")
			})
		}
	}
}
