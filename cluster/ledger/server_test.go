package ledger

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// serverOptions says what startServer starts: the few knobs the ledger's
// tests need. The package starts nats-server itself rather than through
// natsnet.StartEmbedded: natsnet imports cluster, and cluster imports
// this package, so importing natsnet here, even from a test, would make
// an import cycle.
type serverOptions struct {
	// Name names the server; each server of a JetStream cluster needs its
	// own. Empty lets the server make one up.
	Name string
	// RoutePort and Routes, if Routes is set, make the server one of the
	// NATS cluster "knoten-test": it listens for routes on
	// 127.0.0.1:RoutePort and connects to Routes
	// ("nats-route://127.0.0.1:port", itself included, harmlessly).
	RoutePort int
	Routes    []string
}

// startServer starts a nats-server with JetStream, its store in the
// test's temp dir, listening on 127.0.0.1 on a port the kernel picks, and
// returns it with its client URL once it accepts connections. The server
// is shut down when the test ends.
func startServer(t testing.TB, o serverOptions) (*server.Server, string) {
	t.Helper()
	s, err := newServer(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, s.ClientURL()
}

// newServer is startServer without a testing.TB, so that it can run in
// goroutines that must not call t.Fatal.
func newServer(storeDir string, o serverOptions) (*server.Server, error) {
	opts := &server.Options{
		ServerName: o.Name,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoLog:      true,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   storeDir,
		// A lone server needs no system account; a clustered one keeps
		// it, since clustered JetStream runs its Raft traffic there.
		NoSystemAccount: len(o.Routes) == 0,
	}
	if len(o.Routes) > 0 {
		opts.Cluster = server.ClusterOpts{Name: "knoten-test", Host: "127.0.0.1", Port: o.RoutePort}
		for _, r := range o.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	go s.Start()
	// ReadyForConnections waits for the listener (it returns as soon as
	// the server is ready, the duration is only the limit).
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("server %q not ready after 10s", o.Name)
	}
	return s, nil
}
