package natsnet

import (
	"fmt"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster"
)

var benchSizes = []int{128, 64 << 10, 1 << 20, 4 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// roundTrips sends msg from node 1 to node 2, which sends it back, b.N
// times, and waits for each return. Both receivers recycle what they are
// done with, as the cluster does. Bytes per op are one message: MB/s is
// what one direction of a round trip carries.
func roundTrips(b *testing.B, tr cluster.Transport, msg []byte) {
	recycle := func([]byte) {}
	if r, ok := tr.(cluster.Recycler); ok {
		recycle = r.Recycle
	}
	back := make(chan struct{}, 1)
	tr.Listen(2, func(from cluster.NodeID, m []byte) {
		tr.Send(2, from, m)
		recycle(m)
	})
	tr.Listen(1, func(_ cluster.NodeID, m []byte) {
		recycle(m)
		back <- struct{}{}
	})
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tr.Send(1, 2, msg)
		select {
		case <-back:
		case <-time.After(hangGuard):
			b.Fatal("no round trip within the hang guard")
		}
	}
}

// BenchmarkNATSSend measures a round trip over NATS core on loopback: two
// nodes, each on its own connection to an embedded server, messages over
// max_payload (1 MiB) in chunks.
func BenchmarkNATSSend(b *testing.B) {
	url := startServer(b, EmbeddedOptions{})
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			tr := newTransport(b, Config{})
			join(b, tr, 1, url, Credentials{})
			join(b, tr, 2, url, Credentials{})
			roundTrips(b, tr, make([]byte, n))
		})
	}
}

// BenchmarkLiveSend is the same round trip over the in-process simulated
// network (cluster.Live) with an instant link, which delivers a copy inline
// in the sender's goroutine: the floor the NATS transport is measured
// against.
func BenchmarkLiveSend(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			live := cluster.NewLive(1, cluster.LinkConfig{})
			defer live.Close()
			roundTrips(b, live, make([]byte, n))
		})
	}
}
