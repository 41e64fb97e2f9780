package ledger

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/knotencore/knoten/cluster/natsnet"
)

// startJetStream starts one embedded server with JetStream, its store in
// the test's temp dir, and returns a JetStream context on a connection to
// it.
func startJetStream(t testing.TB) (*server.Server, jetstream.JetStream) {
	t.Helper()
	s, url, err := natsnet.StartEmbedded(natsnet.EmbeddedOptions{JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, connectJS(t, url)
}

func connectJS(t testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestJetStreamConformance(t *testing.T) {
	_, js := startJetStream(t)
	var n atomic.Int32
	runConformance(t, func(t *testing.T) Ledger {
		l, err := OpenJetStream(testCtx(t), js, JetStreamConfig{Bucket: fmt.Sprintf("conf-%d", n.Add(1)), Memory: true})
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestJetStreamFileStorageAndReopen(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testCtx(t)
	l, err := OpenJetStream(ctx, js, JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	id := MakeID(2, 5)
	e, err := l.Create(ctx, id, 2)
	if err != nil {
		t.Fatal(err)
	}
	if e, err = l.Transfer(ctx, id, e, 3); err != nil {
		t.Fatal(err)
	}
	// A second process opens the same bucket and sees the same entry.
	l2, err := OpenJetStream(ctx, js, JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l2.Get(ctx, id); err != nil || got != e {
		t.Fatalf("reopened: %v, %v; want %v", got, err, e)
	}
	for _, bad := range []JetStreamConfig{{Replicas: 6}, {Replicas: -1}, {History: 65}} {
		if _, err := OpenJetStream(ctx, js, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestJetStreamCorruptValue: bytes in the bucket that are not an entry
// (another writer, a bug, an attack by a member) are reported, never
// trusted, and a CAS over them is still a CAS.
func TestJetStreamCorruptValue(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testCtx(t)
	l, err := OpenJetStream(ctx, js, JetStreamConfig{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	id := MakeID(1, 1)
	e, err := l.Create(ctx, id, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.KV().Put(ctx, Key(id), []byte("0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get(ctx, id); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of garbage: %v, want ErrCorrupt", err)
	}
	if _, err := l.Transfer(ctx, id, e, 2); !errors.Is(err, ErrConflict) {
		t.Fatalf("Transfer over garbage: %v, want ErrConflict", err)
	}
	if _, err := l.KV().Put(ctx, counterKey(4), []byte{0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReserveIDs(ctx, 4, 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReserveIDs over a corrupt counter: %v, want ErrCorrupt", err)
	}
	// The bucket refuses large values.
	if _, err := l.KV().Put(ctx, Key(id), make([]byte, maxMessage+1)); err == nil {
		t.Fatalf("bucket took a %d-byte value", maxMessage+1)
	}
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		defer ln.Close()
	}
	return ports
}

// startCluster starts three embedded servers with JetStream, clustered
// over loopback routes, and waits until JetStream has a meta leader.
func startCluster(t testing.TB) ([]*server.Server, []string) {
	t.Helper()
	ports := freePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	servers := make([]*server.Server, 3)
	urls := make([]string, 3)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range servers {
		wg.Go(func() {
			servers[i], urls[i], errs[i] = natsnet.StartEmbedded(natsnet.EmbeddedOptions{
				JetStream:    true,
				StoreDir:     t.TempDir(),
				ServerName:   fmt.Sprintf("s%d", i),
				RouteCluster: "knoten-test",
				RoutePort:    ports[i],
				Routes:       routes,
			})
		})
	}
	wg.Wait()
	for i, s := range servers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	return servers, urls
}
