package natsnet_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster"
)

// BenchmarkMigrationNATS moves one running isolate back and forth between
// two idle nodes, one migration per iteration, over NATS (an embedded
// server on loopback, each node on its own authenticated connection), with
// the JetStream ownership ledger (nats+ledger: the path a cluster of
// processes takes; each migration then commits and settles in the ledger)
// and without it (nats), and, side by side in the same run, over the
// simulated Live network with a zero-latency link. Downtime is measured as cluster's
// BenchmarkMigrationRoundTrip measures it: halt request to the first
// quantum on the target (the EvRunning event's Downtime plus QueueWait).
// It reports its p50/p90/p99, the state's size on the wire and
// migrations/s.
func BenchmarkMigrationNATS(b *testing.B) {
	for _, words := range []int{16, 8192, 1 << 17} { // heap 128 B, 64 KiB, 1 MiB
		for _, over := range []string{"nats+ledger", "nats", "live"} {
			b.Run(fmt.Sprintf("heap=%dB/%s", words*8, over), func(b *testing.B) {
				migrationRoundTrip(b, words, over)
			})
		}
	}
}

func migrationRoundTrip(b *testing.B, words int, over string) {
	running := make(chan cluster.Event, 16)
	cfg := cluster.Config{Nodes: 2, NoSteal: true, OnEvent: func(e cluster.Event) {
		if e.Kind == cluster.EvRunning {
			select {
			case running <- e:
			default: // OnEvent must not block; the wait below fails instead
			}
		}
	}}
	var c *cluster.Cluster
	if over != "live" {
		c, _ = natsClusterLedger(b, cfg, over == "nats+ledger")
	} else {
		c = cluster.New(cfg)
		defer c.Close()
	}
	prog := compileOnly(b, heapSource(words, 4_000_000_000)) // runs practically forever
	id, err := c.Spawn(0, prog)
	if err != nil {
		b.Fatal(err)
	}
	// Park it once past the set-up loop, so every timed move carries the
	// whole heap; waiting for that first arrival needs no sleep.
	if err := c.MigrateAt(id, 1, uint64(10*words+1000)); err != nil {
		b.Fatal(err)
	}
	stuck := time.NewTimer(hangGuard)
	defer stuck.Stop()
	next := func(what string) cluster.Event {
		stuck.Reset(hangGuard)
		select {
		case e := <-running:
			return e
		case <-stuck.C:
			b.Fatalf("%s did not reach its first quantum", what)
			return cluster.Event{}
		}
	}
	for e := next("the first move"); e.Node != 1; e = next("the first move") {
	}
	var downs []time.Duration
	at := cluster.NodeID(1)
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		to := 1 - at
		for {
			err := c.Migrate(id, to)
			if err == nil {
				break
			}
			if !errors.Is(err, cluster.ErrBusy) { // ErrBusy: the last hop awaits its CONFIRM
				b.Fatal(err)
			}
			time.Sleep(time.Microsecond)
		}
		e := next(fmt.Sprintf("migration %d", i))
		for e.Node != to {
			e = next(fmt.Sprintf("migration %d", i))
		}
		downs = append(downs, e.Downtime+e.QueueWait)
		at = to
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(cluster.Quantile(downs, 0.50).Nanoseconds()), "downtime-p50-ns")
	b.ReportMetric(float64(cluster.Quantile(downs, 0.90).Nanoseconds()), "downtime-p90-ns")
	b.ReportMetric(float64(cluster.Quantile(downs, 0.99).Nanoseconds()), "downtime-p99-ns")
	b.ReportMetric(float64(c.Metrics().Snapshot().OfferBytes.Max), "state-B")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "migrations/s")
}
