package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/cluster/natsnet"
)

// The transports --transport names.
const (
	transportSim  = "sim"  // the Live simulated network, in this process
	transportNATS = "nats" // NATS core over loopback sockets (or --nats URL)
)

// natsClusterName is the cluster's subject token (knoten.init.to.…), and
// natsLedgerBucket its ledger's KV bucket, named as cluster/member names a
// cluster's.
const (
	natsClusterName  = "init"
	natsLedgerBucket = "knoten-" + natsClusterName + "-ledger"
)

// simOnly are the flags that configure the simulated network, which a run
// over NATS does not have: its sockets decide.
var simOnly = []string{"latency", "jitter", "bandwidth", "loss"}

// maxAsyncErrors bounds the asynchronous connection errors a run keeps to
// report; it counts the rest.
const maxAsyncErrors = 10

// natsNet is what a run over NATS sets up around its cluster: a server
// (embedded, unless --nats names one), one connection per node, the
// transport they joined, the ownership ledger (a JetStream KV bucket with
// one replica), and the temporary directory that holds the server's
// JetStream data and, with --tls, its certificate. close takes all of it
// down again.
//
// A Cluster takes one ledger for all its nodes, so the ledger goes
// through n0's connection: with --auth its writes are n0's, which the
// members' permissions allow (they are per bucket, not per key: members
// are trusted to run the protocol). Every node's connection reads its
// replies on its own inbox (ledger.InboxPrefix), as the permissions
// require.
type natsNet struct {
	url      string
	embedded bool
	auth     bool
	tls      bool

	dir   string         // the temporary directory; "" if none was made
	srv   *server.Server // nil with --nats
	conns []*nats.Conn
	tr    *natsnet.Transport
	led   *ledger.JetStream

	mu        sync.Mutex
	asyncErrs []string // the connections' asynchronous errors (a permissions violation, a slow consumer)
	moreErrs  int      // past maxAsyncErrors
}

// startNATS starts (or, with --nats, reaches) the server and joins nodes
// nodes to a transport over it, each on its own connection. It checks ctx
// between steps; on any error it takes down what it has set up.
func startNATS(ctx context.Context, o *options, nodes int) (n *natsNet, err error) {
	n = &natsNet{url: o.natsURL, embedded: o.natsURL == "", auth: o.auth, tls: o.tls}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.close())
			n = nil
		}
	}()
	var creds []natsnet.Credentials
	for i := 0; i < nodes; i++ {
		creds = append(creds, natsnet.Credentials{Name: "knoten-init " + cluster.NodeID(i).String()})
	}
	if n.embedded {
		if n.dir, err = os.MkdirTemp("", "knoten-init-nats-*"); err != nil {
			return n, fmt.Errorf("nats: %w", err)
		}
		eo := natsnet.EmbeddedOptions{Cluster: natsClusterName, JetStream: true, StoreDir: filepath.Join(n.dir, "jetstream"),
			MemberExtra: func(node cluster.NodeID) (publish, subscribe []string) {
				return ledger.MemberSubjects(natsLedgerBucket, ledger.NodeID(node))
			}}
		if o.auth {
			ids := make([]cluster.NodeID, nodes)
			for i := range ids {
				ids[i] = cluster.NodeID(i)
			}
			if eo.Members, err = natsnet.NewMembers(ids...); err != nil {
				return n, fmt.Errorf("--auth: %w", err)
			}
			for i := range creds {
				creds[i].Member = &eo.Members[i]
			}
		}
		if o.tls {
			files, err := natsnet.GenerateTLS(n.dir)
			if err != nil {
				return n, fmt.Errorf("--tls: generating a certificate: %w", err)
			}
			eo.TLS = &files
			for i := range creds {
				creds[i].CAFile = files.CertFile
			}
		}
		if n.srv, n.url, err = natsnet.StartEmbedded(eo); err != nil {
			return n, err
		}
	}
	if err := ctx.Err(); err != nil {
		return n, timedOut(o, "while starting the NATS server", "")
	}
	if n.tr, err = natsnet.New(natsnet.Config{Cluster: natsClusterName}); err != nil {
		return n, err
	}
	for i, cr := range creds {
		id := cluster.NodeID(i)
		nc, err := natsnet.Connect(n.url, cr, nats.CustomInboxPrefix(ledger.InboxPrefix(ledger.NodeID(id))),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				n.asyncError(id, err)
			}))
		if err != nil {
			return n, fmt.Errorf("connecting %v to NATS: %w", id, err)
		}
		n.conns = append(n.conns, nc)
		if err := n.tr.Join(id, nc); err != nil {
			return n, fmt.Errorf("joining %v to the transport: %w", id, err)
		}
		if ctx.Err() != nil {
			return n, timedOut(o, "while connecting the nodes to NATS", fmt.Sprintf(" (%d of %d connected)", i+1, nodes))
		}
	}
	js, err := jetstream.New(n.conns[0])
	if err != nil {
		return n, fmt.Errorf("opening the ledger: %w", err)
	}
	if n.led, err = ledger.OpenJetStream(ctx, js, ledger.JetStreamConfig{Bucket: natsLedgerBucket, Replicas: 1}); err != nil {
		if ctx.Err() != nil {
			return n, timedOut(o, "while opening the ledger", "")
		}
		hint := ""
		if !n.embedded {
			hint = " (the server needs JetStream)"
		}
		return n, fmt.Errorf("opening the ledger on %s: %w%s", n.url, err, hint)
	}
	return n, nil
}

// asyncError keeps a connection's asynchronous error for the report.
func (n *natsNet) asyncError(id cluster.NodeID, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.asyncErrs) == maxAsyncErrors {
		n.moreErrs++
		return
	}
	// One line each: the report prints one per line.
	n.asyncErrs = append(n.asyncErrs, fmt.Sprintf("%v: %s", id, strings.ReplaceAll(err.Error(), "\n", " ")))
}

// asyncErrors returns the connections' asynchronous errors so far, the ones
// past maxAsyncErrors summed up in a last line.
func (n *natsNet) asyncErrors() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := append([]string{}, n.asyncErrs...)
	if n.moreErrs > 0 {
		out = append(out, fmt.Sprintf("and %d more", n.moreErrs))
	}
	return out
}

// close takes down, in order, the nodes' subscriptions, their connections
// and the embedded server, and removes the temporary directory. The
// cluster must be closed first (or abandoned: its nodes' sends then fail
// and are counted). It is safe on a natsNet that startNATS left half set
// up.
func (n *natsNet) close() error {
	var errs []error
	if n.tr != nil {
		if err := n.tr.Close(); err != nil {
			errs = append(errs, fmt.Errorf("nats: unsubscribing: %w", err))
		}
	}
	for _, nc := range n.conns {
		nc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
	if n.dir != "" {
		if err := os.RemoveAll(n.dir); err != nil {
			errs = append(errs, fmt.Errorf("nats: removing the temporary directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// describe names the transport for a report's header: the server's URL
// and how the run reaches it.
func (n *natsNet) describe() string {
	if !n.embedded {
		return fmt.Sprintf("nats, server %s (external, JetStream ledger)", n.url)
	}
	var how []string
	how = append(how, "embedded, JetStream ledger")
	if n.auth {
		how = append(how, "NKey per node")
	}
	if n.tls {
		how = append(how, "TLS, self-signed")
	}
	return fmt.Sprintf("nats, server %s (%s)", n.url, strings.Join(how, "; "))
}

// natsStats is what the transport did, as the reports show it.
type natsStats struct {
	Sent           uint64 `json:"sent"`
	SentChunks     uint64 `json:"sent_chunks"`
	SentBytes      uint64 `json:"sent_bytes"`
	SendErrors     uint64 `json:"send_errors"` // refused by the connection, too large, or from a node without one
	Delivered      uint64 `json:"delivered"`
	DeliveredBytes uint64 `json:"delivered_bytes"`
	Dropped        uint64 `json:"dropped"` // on receipt: bad subject, no receiver, or a chunk dropped with its message
	// AsyncErrors are the connections' asynchronous errors (at most 10,
	// then a count), each "n1: ...".
	AsyncErrors []string `json:"async_errors"`
}

func (n *natsNet) stats() *natsStats {
	s := n.tr.Stats()
	return &natsStats{
		Sent: s.Sent, SentChunks: s.SentChunks, SentBytes: s.SentBytes,
		SendErrors: s.SendErrors + s.SendTooLarge + s.NoConnection,
		Delivered:  s.Delivered, DeliveredBytes: s.DeliveredBytes,
		Dropped: s.BadSubject + s.NoReceiver + s.DropMalformed + s.DropTooLarge + s.DropOutOfOrder +
			s.DropOverBudget + s.DropSuperseded + s.DropExpired,
		AsyncErrors: n.asyncErrors(),
	}
}

// String is the stats line of a text report.
func (s *natsStats) String() string {
	return fmt.Sprintf("%d messages sent (%s, %d chunks), %d delivered (%s), %d send errors, %d dropped on receipt",
		s.Sent, fmtBytes(int64(s.SentBytes)), s.SentChunks, s.Delivered, fmtBytes(int64(s.DeliveredBytes)), s.SendErrors, s.Dropped)
}

// ledgerEntry is an isolate's entry in the ledger, as the report shows it.
type ledgerEntry struct {
	Isolate string `json:"isolate"` // "<spawning node>-<seq>"
	State   string `json:"state"`
	Owner   string `json:"owner"` // n2
	Epoch   uint64 `json:"epoch"`
}

func (e *ledgerEntry) String() string {
	return fmt.Sprintf("isolate %s %s on %s at epoch %d", e.Isolate, e.State, e.Owner, e.Epoch)
}

// checkLedger reads the completed isolate's entry from the ledger and
// checks it against the completion and the hops: finished, by the node
// it completed on, at the epoch it completed at, which is the last hop
// attempt's (every attempt moves the entry on, to the target that took
// the isolate or back to the source that reclaimed it).
func checkLedger(ctx context.Context, led ledger.Ledger, done *cluster.Completion, hops []simHop, problem func(string, ...any)) *ledgerEntry {
	// The read comes after the run, --timeout or not: the isolate is done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	id := ledger.IsolateID(done.ID)
	e, err := led.Get(ctx, id)
	if err != nil {
		problem("ledger: reading isolate %v: %v", id, err)
		return nil
	}
	var last uint64
	for _, h := range hops {
		last = max(last, h.Epoch)
	}
	if e.State != ledger.Finished || cluster.NodeID(e.Owner) != done.Node || e.Epoch != done.Epoch || e.Epoch != last {
		problem("ledger: isolate %v is %s by %v at epoch %d; it completed on %v at epoch %d, and the last hop attempt's epoch is %d",
			id, e.State, cluster.NodeID(e.Owner), e.Epoch, done.Node, done.Epoch, last)
	}
	return &ledgerEntry{Isolate: id.String(), State: e.State.String(), Owner: cluster.NodeID(e.Owner).String(), Epoch: e.Epoch}
}
