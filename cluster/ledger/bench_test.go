package ledger

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// BenchmarkLedgerTransfer measures a handoff's commit: Transfer of an
// isolate to the other of two nodes, compare-and-set on the revision the
// previous commit returned. "serial" is one caller, one commit at a time
// (latency); "parallel" is 8 callers, each on its own isolate, on one
// connection (throughput). Reported: commits/s, and the latency of one
// commit at p50 and p99 in µs.
func BenchmarkLedgerTransfer(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		benchTransfer(b, NewMemory())
	})
	b.Run("jetstream-r1", func(b *testing.B) {
		_, js := startJetStream(b)
		l, err := OpenJetStream(context.Background(), js, JetStreamConfig{Bucket: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		benchTransfer(b, l)
	})
	b.Run("jetstream-r3", func(b *testing.B) {
		if testing.Short() {
			b.Skip("three clustered servers: not under -short")
		}
		_, urls := startCluster(b)
		js := connectJS(b, urls[0], nats.MaxReconnects(-1))
		var l *JetStream
		var err error
		for range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			l, err = OpenJetStream(ctx, js, JetStreamConfig{Bucket: "bench", Replicas: 3})
			cancel()
			if err == nil {
				break
			}
		}
		if err != nil {
			b.Fatal(err)
		}
		waitBucketLeader(b, l)
		benchTransfer(b, l)
	})
}

func benchTransfer(b *testing.B, l Ledger) {
	var seq uint32
	newKey := func() (IsolateID, Entry) {
		seq++
		id := MakeID(1, seq)
		// Right after its election a stream leader may not answer yet.
		var err error
		for range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			var e Entry
			e, err = l.Create(ctx, id, 1)
			cancel()
			if err == nil {
				return id, e
			}
			if errors.Is(err, ErrExists) {
				e, err = l.Get(context.Background(), id)
				if err == nil {
					return id, e
				}
			}
		}
		b.Fatal(err)
		return 0, Entry{}
	}
	b.Run("serial", func(b *testing.B) {
		id, e := newKey()
		ctx := context.Background()
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			next, err := l.Transfer(ctx, id, e, NodeID(1+i%2))
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			e = next
		}
		report(b, lat, time.Since(start))
	})
	b.Run("parallel", func(b *testing.B) {
		const callers = 8
		ids := make([]IsolateID, callers)
		held := make([]Entry, callers)
		for c := range callers {
			ids[c], held[c] = newKey()
		}
		per := make([][]time.Duration, callers)
		ctx := context.Background()
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for c := range callers {
			n := b.N / callers
			if c < b.N%callers {
				n++
			}
			wg.Go(func() {
				lat := make([]time.Duration, 0, n)
				e := held[c]
				for i := range n {
					t0 := time.Now()
					next, err := l.Transfer(ctx, ids[c], e, NodeID(1+i%2))
					lat = append(lat, time.Since(t0))
					if err != nil {
						b.Error(err)
						return
					}
					e = next
				}
				per[c] = lat
			})
		}
		wg.Wait()
		report(b, slices.Concat(per...), time.Since(start))
	})
}

func report(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "commits/s")
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}
