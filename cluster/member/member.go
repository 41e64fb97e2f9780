package member

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/cluster/natsnet"
	"github.com/knotencore/knoten/engine"
)

// Options configure a member node.
type Options struct {
	URL     string // the NATS server
	Cluster string // names the cluster's subjects and buckets; default "knoten"
	Name    string // a label for ps; default "n<id>"
	// Creds authenticate the connection. With a Member, the node's id is
	// the member's; without, the node takes the next free id from the
	// cluster's nodes bucket.
	Creds   natsnet.Credentials
	Workers int   // default 1
	Quantum int64 // default cluster.DefaultQuantum()
	// MaxNodes bounds the node ids of the cluster (ids 0..MaxNodes-1),
	// default 64: a node keeps a few words of state per possible peer.
	MaxNodes int
	// Replicas is how many servers hold the ledger: 1 on one server, 3 on
	// a NATS cluster. Default 1.
	Replicas int
	// DetectPeriod and DetectTimeout configure the failure detector:
	// a heartbeat every period, a peer silent for the timeout is down.
	// Defaults 100 ms and 1 s.
	DetectPeriod, DetectTimeout time.Duration
	// Limits apply to every isolate the node runs.
	Limits engine.Limits
	// OnFatal, if set, learns why a running node stopped itself: another
	// process runs with its id (ErrTwin), or the cluster's ledger was
	// lost and made anew under it (ErrLedgerLost). The node has closed
	// by then; its isolates are gone with it.
	OnFatal func(error)
}

func (o Options) withDefaults() (Options, error) {
	if o.Cluster == "" {
		o.Cluster = "knoten"
	}
	if err := CheckClusterName(o.Cluster); err != nil {
		return o, err
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.MaxNodes <= 0 {
		o.MaxNodes = DefaultMaxNodes
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.DetectPeriod <= 0 {
		o.DetectPeriod = 100 * time.Millisecond
	}
	if o.DetectTimeout <= 0 {
		o.DetectTimeout = time.Second
	}
	return o, nil
}

// DefaultMaxNodes is Options.MaxNodes' default.
const DefaultMaxNodes = 64

// Node is a member node running in this process.
type Node struct {
	ID   cluster.NodeID
	Name string

	opts Options
	nc   *nats.Conn
	tr   *natsnet.Transport
	led  *ledger.JetStream
	cl   *cluster.Cluster
	det  *natsnet.Detector
	subs []*nats.Subscription

	incarnation uint64    // this life of the node: its start time, ns since 1970
	ledgerBorn  time.Time // when the ledger's bucket was created, as the server says
	js          jetstream.JetStream
	twin        chan uint64 // incarnations of older processes heard on this node's id
	submitAny   *nats.Subscription

	mu       sync.Mutex
	draining bool
	closed   bool
	peersUp  map[cluster.NodeID]bool // the detector's reports before the runtime started
}

// Start joins the cluster at o.URL as a new node and returns once the node
// runs and answers its control subjects.
func Start(ctx context.Context, o Options) (*Node, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{opts: o, incarnation: uint64(time.Now().UnixNano()), twin: make(chan uint64, 1), peersUp: map[cluster.NodeID]bool{}}
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	extra := []nats.Option{quietErrors, nats.ReconnectHandler(func(*nats.Conn) { go n.checkLedger() })}
	if m := o.Creds.Member; m != nil {
		if int(m.Node) >= o.MaxNodes {
			return nil, fmt.Errorf("member: node id %d from the credentials, but the cluster has at most %d nodes", m.Node, o.MaxNodes)
		}
		n.ID = m.Node // natsnet.Connect sets the inbox its permissions allow
	}
	if o.Creds.Name == "" {
		o.Creds.Name = "knoten node " + o.Name
	}
	if n.nc, err = natsnet.Connect(o.URL, o.Creds, extra...); err != nil {
		return nil, err
	}
	if err := checkPermissions(n.nc); err != nil {
		return nil, err
	}
	js, err := jetstream.New(n.nc)
	if err != nil {
		return nil, err
	}
	n.js = js
	if o.Creds.Member == nil {
		if err = whileForming(ctx, func() (err error) { n.ID, err = allocateID(ctx, js, o); return }); err != nil {
			return nil, err
		}
	}
	n.Name = o.Name
	if n.Name == "" {
		n.Name = "n" + strconv.Itoa(int(n.ID))
	}
	if err = whileForming(ctx, func() (err error) {
		n.led, err = ledger.OpenJetStream(ctx, js, ledger.JetStreamConfig{Bucket: LedgerBucket(o.Cluster), Replicas: o.Replicas})
		return
	}); err != nil {
		return nil, fmt.Errorf("member: open the ledger: %w", err)
	}
	if n.ledgerBorn, err = ledgerCreated(ctx, js, o.Cluster); err != nil {
		return nil, err
	}
	// The detector first, and a wait of two heartbeats: a process already
	// running with this id would be heard, and this one must not start.
	n.det, err = natsnet.StartDetector(n.nc, natsnet.DetectorConfig{
		Cluster: o.Cluster, Self: n.ID, Name: n.Name, Period: o.DetectPeriod, Timeout: o.DetectTimeout,
		Incarnation: n.incarnation, OnTwin: n.onTwin,
	}, n.report)
	if err != nil {
		return nil, err
	}
	select {
	case inc := <-n.twin:
		return nil, fmt.Errorf("%w (it started at %s)", ErrTwin, time.Unix(0, int64(inc)).Format(time.RFC3339))
	case <-time.After(2*o.DetectPeriod + 50*time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if n.tr, err = natsnet.New(natsnet.Config{Cluster: o.Cluster}); err != nil {
		return nil, err
	}
	if err := n.tr.Join(n.ID, n.nc); err != nil {
		return nil, err
	}
	cl := cluster.New(cluster.Config{
		Nodes: o.MaxNodes, Local: []cluster.NodeID{n.ID}, Workers: o.Workers, Quantum: o.Quantum,
		Transport: n.tr, Ledger: n.led, Limits: o.Limits,
		OnComplete: n.publishResult, OnEvent: n.publishEvent,
	})
	n.mu.Lock()
	n.cl = cl
	for peer, up := range n.peersUp { // what the detector said before
		cl.SetPeer(peer, up)
	}
	n.peersUp = nil
	n.mu.Unlock()
	go n.watchTwin()
	self := strconv.Itoa(int(n.ID))
	for _, s := range []struct {
		subj, queue string
		h           nats.MsgHandler
	}{
		{ctlSubject(o.Cluster, "any", "submit"), natsnet.ControlQueue, n.onSubmit},
		{ctlSubject(o.Cluster, self, "submit"), "", n.onSubmit},
		{ctlSubject(o.Cluster, "all", "ps"), "", n.onPS},
		{ctlSubject(o.Cluster, "all", "migrate"), "", n.onMigrate},
		{ctlSubject(o.Cluster, self, "drain"), "", n.onDrain},
	} {
		sub, err := n.nc.QueueSubscribe(s.subj, s.queue, s.h)
		if err != nil {
			return nil, fmt.Errorf("member: subscribe %s: %w", s.subj, err)
		}
		n.subs = append(n.subs, sub)
		if s.queue != "" {
			n.submitAny = sub // a draining node leaves the queue group
		}
	}
	if err := n.nc.FlushTimeout(5 * time.Second); err != nil {
		return nil, fmt.Errorf("member: subscribe: %w", err)
	}
	ok = true
	return n, nil
}

// ErrTwin: another process runs with this node's id. The ledger names
// owners by id, so two processes with one id would both believe they own
// its isolates: the younger one stops (at start, or as soon as it hears
// the older).
var ErrTwin = errors.New("member: another process runs with this node's id")

// ErrLedgerLost: the cluster's ledger bucket was made anew while the node
// ran (its server restarted without its store, say). What the node holds
// is no longer recorded anywhere, and ids would be handed out again, so
// the node stops rather than run on without a ledger.
var ErrLedgerLost = errors.New("member: the cluster's ledger was lost and made anew (a server restarted without its store?)")

// report takes the detector's word about a peer.
func (n *Node) report(peer cluster.NodeID, up bool) {
	if int(peer) >= n.opts.MaxNodes {
		return
	}
	n.mu.Lock()
	cl := n.cl
	if cl == nil {
		n.peersUp[peer] = up
	}
	n.mu.Unlock()
	if cl != nil {
		cl.SetPeer(peer, up)
	}
}

// onTwin hears another process on this node's id; only an older one
// (started first) makes this one stop.
func (n *Node) onTwin(inc uint64) {
	if inc < n.incarnation {
		select {
		case n.twin <- inc:
		default:
		}
	}
}

func (n *Node) watchTwin() {
	inc, ok := <-n.twin
	if ok {
		n.fatal(fmt.Errorf("%w (it started at %s)", ErrTwin, time.Unix(0, int64(inc)).Format(time.RFC3339)))
	}
}

// fatal stops the node and reports why.
func (n *Node) fatal(err error) {
	n.Close()
	if n.opts.OnFatal != nil {
		n.opts.OnFatal(err)
	}
}

// ledgerCreated returns when the cluster's ledger bucket was created.
func ledgerCreated(ctx context.Context, js jetstream.JetStream, c string) (time.Time, error) {
	s, err := js.Stream(ctx, "KV_"+LedgerBucket(c))
	if err != nil {
		return time.Time{}, fmt.Errorf("member: the ledger's stream: %w", err)
	}
	return s.CachedInfo().Created, nil
}

// checkLedger runs after every reconnection: a ledger bucket created since
// the node started means the old one, and everything it recorded, is gone.
func (n *Node) checkLedger() {
	if n.ledgerBorn.IsZero() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	born, err := ledgerCreated(ctx, n.js, n.opts.Cluster)
	if errors.Is(err, jetstream.ErrStreamNotFound) || err == nil && !born.Equal(n.ledgerBorn) {
		n.fatal(ErrLedgerLost)
	}
}

// ErrCredentials: the server admitted the connection but refuses it what
// its identity needs: credentials presented for another node's id, or for
// another cluster.
var ErrCredentials = errors.New("member: the server refuses this identity its own inbox: are the credentials this node's, for this cluster?")

// quietErrors keeps nats.go from printing asynchronous errors on stderr:
// the one that matters here, a permission violation, becomes
// ErrCredentials, and the rest show as failed calls.
var quietErrors = nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})

// checkPermissions fails at once if the server refuses the connection
// the subscriptions its identity needs (its reply inbox): credentials
// presented for another node's id, or a server configured for another
// cluster. Without this check every JetStream call would time out instead.
func checkPermissions(nc *nats.Conn) error {
	sub, err := nc.SubscribeSync(nc.NewRespInbox())
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	// The server answers the flush's PING after it has refused the
	// subscription, so the refusal is in by then.
	if err := nc.FlushTimeout(10 * time.Second); err != nil {
		return fmt.Errorf("member: %w", err)
	}
	if err := nc.LastError(); errors.Is(err, nats.ErrPermissionViolation) {
		return fmt.Errorf("%w (%v)", ErrCredentials, err)
	}
	return nil
}

// allocateID takes the next free node id from the cluster's nodes bucket,
// by compare-and-set on a counter, so that two nodes joining at once never
// share one. Ids are never reused: a restarted node is a new node.
func allocateID(ctx context.Context, js jetstream.JetStream, o Options) (cluster.NodeID, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: NodesBucket(o.Cluster), Description: "KnotenCore node ids", Replicas: o.Replicas, MaxValueSize: 64,
	})
	if err != nil {
		return 0, fmt.Errorf("member: nodes bucket: %w", err)
	}
	for {
		e, err := kv.Get(ctx, "next")
		var next uint64
		var rev uint64
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return 0, fmt.Errorf("member: read the node counter: %w", err)
		default:
			if len(e.Value()) != 8 {
				return 0, fmt.Errorf("member: node counter of %d bytes", len(e.Value()))
			}
			next, rev = binary.LittleEndian.Uint64(e.Value()), e.Revision()
		}
		if next >= uint64(o.MaxNodes) {
			return 0, fmt.Errorf("member: all %d node ids are taken (ids are never reused; start a new cluster name or raise the maximum)", o.MaxNodes)
		}
		val := binary.LittleEndian.AppendUint64(nil, next+1)
		if rev == 0 {
			_, err = kv.Create(ctx, "next", val)
		} else {
			_, err = kv.Update(ctx, "next", val, rev)
		}
		if err == nil {
			return cluster.NodeID(next), nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSequence(err) {
			return 0, fmt.Errorf("member: take a node id: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// whileForming calls f until it succeeds, or fails with an error that is
// not a NATS cluster still forming (JetStream has too few peers yet for the
// replicas asked, or no meta leader), or ctx ends: a node started together
// with its servers waits for them rather than failing.
func whileForming(ctx context.Context, f func() error) error {
	wait := 10 * time.Millisecond
	for {
		err := f()
		var apiErr *jetstream.APIError
		forming := errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrNoResponders) ||
			errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil ||
			errors.As(err, &apiErr) && (apiErr.Code == 503 || apiErr.ErrorCode == errCodeNoSuitablePeers)
		if err == nil || !forming {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (the NATS cluster is still forming: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// Cluster returns the node's runtime.
func (n *Node) Cluster() *cluster.Cluster { return n.cl }

// Close stops the node: its subscriptions, detector, runtime and
// connection. Isolates it held are gone with it, as with a crash; drain
// first to keep them.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.mu.Lock()
	subs := n.subs
	n.mu.Unlock()
	for _, s := range subs {
		s.Unsubscribe()
	}
	if n.det != nil {
		n.det.Close() // waits for its goroutine: no onTwin after this
	}
	close(n.twin) // ends watchTwin
	if n.cl != nil {
		n.cl.Close()
	}
	if n.tr != nil {
		n.tr.Close()
	}
	if n.nc != nil {
		n.nc.Close()
	}
	return nil
}

func (n *Node) publishResult(c cluster.Completion) {
	b, _ := json.Marshal(resultOf(c))
	n.nc.Publish(DoneSubject(n.opts.Cluster, strconv.Itoa(int(n.ID)), FormatID(c.ID)), b)
}

func (n *Node) publishEvent(e cluster.Event) {
	switch e.Kind {
	case cluster.EvHalted, cluster.EvArrived, cluster.EvMigrated, cluster.EvResumed, cluster.EvFenced:
		b, _ := json.Marshal(eventOf(e))
		n.nc.Publish(EventSubject(n.opts.Cluster, strconv.Itoa(int(n.ID))), b)
	}
}

// respond answers a request, but only into a client's inbox: a member may
// publish on the ledger's subjects, and a request naming one of those as
// its reply subject must not make the member write there.
func (n *Node) respond(m *nats.Msg, v any) {
	if !natsnet.IsClientInbox(m.Reply) {
		return
	}
	b, _ := json.Marshal(v)
	m.Respond(b)
}

func (n *Node) onSubmit(m *nats.Msg) {
	var req SubmitRequest
	reply := SubmitReply{Node: uint32(n.ID)}
	if err := json.Unmarshal(m.Data, &req); err != nil {
		reply.Error = "bad request: " + err.Error()
		n.respond(m, reply)
		return
	}
	if req.DeadlineNS != 0 && time.Now().UnixNano() > req.DeadlineNS {
		return // the client has given up: it gets no answer, and nothing runs
	}
	n.mu.Lock()
	draining := n.draining
	n.mu.Unlock()
	if draining {
		reply.Error = "node is draining: it takes no new isolates"
		n.respond(m, reply)
		return
	}
	prog, err := engine.UnmarshalProgram(req.Program)
	if err != nil {
		reply.Error = err.Error()
		n.respond(m, reply)
		return
	}
	id, err := n.cl.SpawnRoute(n.ID, prog, req.Route...)
	if err != nil {
		reply.Error = err.Error()
	}
	if id != 0 {
		reply.ID = FormatID(id)
	}
	n.respond(m, reply)
}

func (n *Node) onPS(m *nats.Msg) {
	l, err := n.cl.Isolates(n.ID)
	if err != nil {
		return
	}
	n.mu.Lock()
	r := PSReply{Node: uint32(n.ID), Name: n.Name, Draining: n.draining, Isolates: make([]Isolate, len(l))}
	n.mu.Unlock()
	for i, x := range l {
		r.Isolates[i] = Isolate{ID: FormatID(x.ID), Node: uint32(x.Node), Epoch: x.Epoch, Steps: x.Steps, State: x.State}
	}
	for _, p := range n.det.Members() {
		if p.Up {
			r.PeersUp = append(r.PeersUp, uint32(p.ID))
		}
	}
	n.respond(m, r)
}

func (n *Node) onMigrate(m *nats.Msg) {
	var req MigrateRequest
	if json.Unmarshal(m.Data, &req) != nil {
		return
	}
	id, err := ParseID(req.ID)
	if err != nil {
		return
	}
	l, err := n.cl.Isolates(n.ID)
	if err != nil {
		return
	}
	for _, x := range l {
		if x.ID == id { // only the holder answers
			r := Reply{Node: uint32(n.ID)}
			if err := n.cl.Migrate(id, cluster.NodeID(req.To)); err != nil {
				r.Error = err.Error()
			}
			n.respond(m, r)
			return
		}
	}
}

// drainTimeout bounds how long a drain request waits for the node to
// empty before it answers with the error.
const drainTimeout = 2 * time.Minute

func (n *Node) onDrain(m *nats.Msg) {
	n.mu.Lock()
	n.draining = true
	n.mu.Unlock()
	// Out of the submit queue group: submissions to any node go elsewhere.
	if n.submitAny != nil {
		n.submitAny.Unsubscribe()
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		r := Reply{Node: uint32(n.ID)}
		if err := n.cl.Drain(ctx, n.ID); err != nil {
			r.Error = err.Error()
			if errors.Is(err, cluster.ErrNoTarget) { // nothing changed: the node runs and takes work as before
				n.mu.Lock()
				n.draining = false
				n.mu.Unlock()
				n.rejoinSubmit()
			}
		}
		n.respond(m, r)
	}()
}

// rejoinSubmit puts the node back in the submit queue group after a drain
// that changed nothing.
func (n *Node) rejoinSubmit() {
	sub, err := n.nc.QueueSubscribe(ctlSubject(n.opts.Cluster, "any", "submit"), natsnet.ControlQueue, n.onSubmit)
	if err == nil {
		n.mu.Lock()
		n.submitAny = sub
		n.subs = append(n.subs, sub)
		n.mu.Unlock()
	}
}

// Peers returns the other members as the node's failure detector sees
// them.
func (n *Node) Peers() []natsnet.Peer { return n.det.Members() }

// errCodeNoSuitablePeers is JetStream's "no suitable peers for placement":
// the servers a replicated bucket needs have not all joined yet.
const errCodeNoSuitablePeers jetstream.ErrorCode = 10005
