package natsnet

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/knotencore/knoten/cluster"
)

// hangGuard bounds every wait in these tests. Nothing waits for it to pass:
// the tests wait on channels, and the guard only turns a hang into a
// failure.
const hangGuard = 30 * time.Second

const testCluster = "test"

// startServer starts an embedded server and shuts it down when t ends.
func startServer(t testing.TB, o EmbeddedOptions) string {
	t.Helper()
	s, url, err := StartEmbedded(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return url
}

// connect opens a connection that t closes when it ends.
func connect(t testing.TB, url string, creds Credentials, extra ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := Connect(url, creds, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// newTransport returns a transport that t closes when it ends.
func newTransport(t testing.TB, cfg Config) *Transport {
	t.Helper()
	if cfg.Cluster == "" {
		cfg.Cluster = testCluster
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// delivery is one message a node received.
type delivery struct {
	from cluster.NodeID
	msg  []byte
}

// inbox makes node id of tr deliver into a channel.
func inbox(tr *Transport, id cluster.NodeID) chan delivery {
	ch := make(chan delivery, 1024)
	tr.Listen(id, func(from cluster.NodeID, msg []byte) { ch <- delivery{from, msg} })
	return ch
}

// timeout fires at the hang guard.
func timeout() <-chan time.Time { return time.After(hangGuard) }

// receive waits for the next delivery on ch.
func receive(t testing.TB, ch chan delivery) delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(hangGuard):
		t.Fatal("no message within the hang guard")
		return delivery{}
	}
}

// join joins node id to tr over a fresh connection.
func join(t testing.TB, tr *Transport, id cluster.NodeID, url string, creds Credentials, extra ...nats.Option) *nats.Conn {
	t.Helper()
	nc := connect(t, url, creds, extra...)
	if err := tr.Join(id, nc); err != nil {
		t.Fatal(err)
	}
	return nc
}
