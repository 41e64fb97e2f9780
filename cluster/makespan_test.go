package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/loadgen"
)

// BenchmarkMakespan is in the external test package because its live
// variant runs on cluster/loadgen, which imports cluster; it stays in
// cluster's test binary so that its results keep the package line of the
// baselines in results/.

// BenchmarkMakespan spawns every isolate on node 0 of 4 and compares the
// makespan with the ideal (total work ÷ total workers) and with stealing
// switched off, in the same run. The Sim variant runs in virtual time, so
// four one-worker nodes really have four workers; the Live variant runs on
// this machine's cores, where the ideal is bounded by GOMAXPROCS too.
// Targets: <= 1.2x ideal and >= 3x better than without stealing.
func BenchmarkMakespan(b *testing.B) {
	b.Run("sim", func(b *testing.B) {
		var steal, noSteal float64
		for i := 0; i < b.N; i++ {
			steal = cluster.MakespanRun(b, 64, false)
			noSteal = cluster.MakespanRun(b, 64, true)
		}
		b.ReportMetric(steal, "makespan/ideal")
		b.ReportMetric(noSteal, "nosteal-makespan/ideal")
		b.ReportMetric(noSteal/steal, "nosteal/steal")
	})
	b.Run("live", func(b *testing.B) {
		jobs, err := loadgen.Workloads("medium")
		if err != nil {
			b.Fatal(err)
		}
		run := func(noSteal bool) *loadgen.Report {
			r, err := loadgen.Run(context.Background(), loadgen.Config{Cluster: cluster.Config{Nodes: 4, NoSteal: noSteal}, Jobs: jobs, Isolates: 96, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			if !r.OK() || r.Completed != 96 {
				b.Fatalf("load not verified: %+v", r)
			}
			return r
		}
		var steal, noSteal *loadgen.Report
		for i := 0; i < b.N; i++ {
			steal, noSteal = run(false), run(true)
		}
		b.ReportMetric(ratio(steal.Makespan, steal.IdealWorkers), "makespan/ideal")
		b.ReportMetric(ratio(steal.Makespan, steal.IdealCores), "makespan/ideal-cores")
		b.ReportMetric(ratio(noSteal.Makespan, steal.Makespan), "nosteal/steal")
	})
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}
