package natsnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"

	"github.com/knotencore/knoten/cluster"
)

// Defaults for Config's zero fields.
const (
	DefaultMaxMessage        = 64 << 20
	DefaultMaxReassembly     = 256 << 20
	DefaultReassemblyTimeout = 5 * time.Second
	DefaultFlushTimeout      = 5 * time.Second
)

// Config configures a Transport.
type Config struct {
	// Cluster names the cluster; it is a subject token, so it may not be
	// empty or contain '.', '*', '>' or white space.
	Cluster string
	// MaxMessage bounds one chunked message: a message claiming more is
	// dropped at its first chunk. Default DefaultMaxMessage.
	MaxMessage int
	// MaxReassembly bounds the buffers a receiving node holds for all its
	// unfinished chunked messages together. Default DefaultMaxReassembly.
	MaxReassembly int
	// ReassemblyTimeout is how long an unfinished message waits for its next
	// chunk before it is dropped. Default DefaultReassemblyTimeout.
	ReassemblyTimeout time.Duration
	// ChunkSize, if positive, caps the NATS payloads this transport
	// publishes below the server's max_payload (tests use it to cut small
	// messages into many chunks). It must exceed the 24-byte chunk header.
	ChunkSize int
	// FlushTimeout bounds how long Join waits for the server to confirm a
	// node's subscription. Default DefaultFlushTimeout.
	FlushTimeout time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if err := checkToken(c.Cluster); err != nil {
		return c, fmt.Errorf("natsnet: cluster name: %w", err)
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.MaxReassembly <= 0 {
		c.MaxReassembly = DefaultMaxReassembly
	}
	if c.ReassemblyTimeout <= 0 {
		c.ReassemblyTimeout = DefaultReassemblyTimeout
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = DefaultFlushTimeout
	}
	if c.ChunkSize != 0 && c.ChunkSize <= chunkHeaderLen {
		return c, fmt.Errorf("natsnet: chunk size %d does not exceed the %d-byte chunk header", c.ChunkSize, chunkHeaderLen)
	}
	return c, nil
}

// checkToken reports whether s can be one token of a subject.
func checkToken(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(s, ".*> \t\r\n") {
		return fmt.Errorf("%q contains '.', '*', '>' or white space", s)
	}
	return nil
}

// Stats counts what a Transport did. Drops count messages or chunks the
// transport threw away; the protocol above resends.
type Stats struct {
	Sent           uint64 // messages published whole or in chunks
	SentChunks     uint64 // chunks published, counted in Sent once per message
	SentBytes      uint64 // message bytes published, without chunk headers
	SendErrors     uint64 // messages the connection refused to take (closed, reconnect buffer full, ...)
	SendTooLarge   uint64 // messages over MaxMessage, which a receiver would drop: not sent
	NoConnection   uint64 // messages sent from a node that has not joined
	Delivered      uint64 // messages handed to a receiver
	DeliveredBytes uint64
	BadSubject     uint64 // messages on a subject outside the scheme
	BadEnvelope    uint64 // messages with a reply subject or headers, which a transport never sends
	NoReceiver     uint64 // messages for a node with no Listen yet

	DropMalformed  uint64 // chunks whose header contradicts itself or its message
	DropTooLarge   uint64 // chunked messages claiming more than MaxMessage
	DropOutOfOrder uint64 // chunks that did not continue their sender's message
	DropOverBudget uint64 // chunks that would take reassembly past MaxReassembly
	DropSuperseded uint64 // unfinished messages replaced by their sender's next one
	DropExpired    uint64 // unfinished messages that waited past ReassemblyTimeout

	ReassemblyBytes int64 // what unfinished messages hold now, summed over nodes
}

// Transport is a cluster.Transport over NATS core. Each node in this
// process joins with its own connection; in a real deployment a process
// holds one node and one connection. See the package documentation.
//
// Transport is safe for concurrent use.
type Transport struct {
	cfg  Config
	pool bufferPool

	mu    sync.RWMutex
	nodes map[cluster.NodeID]*endpoint

	sent, sentChunks, sentBytes, sendErrors, noConn   atomic.Uint64
	sendTooLarge                                      atomic.Uint64
	delivered, deliveredBytes, badSubject, noReceiver atomic.Uint64
	badEnvelope                                       atomic.Uint64
}

var (
	_ cluster.Transport = (*Transport)(nil)
	_ cluster.Recycler  = (*Transport)(nil)
)

// endpoint is one node's side of the transport: its connection, the
// subscription for its messages, and its receiver.
type endpoint struct {
	t  *Transport
	id cluster.NodeID

	nc      atomic.Pointer[nats.Conn] // nil until Join
	sub     *nats.Subscription
	deliver atomic.Pointer[func(cluster.NodeID, []byte)]
	inbound string // "knoten.<cluster>.to.<id>.from."

	// The subscription's goroutine is the only user of re, but a Join that
	// failed may leave a goroutine finishing its last message while the
	// next Join's starts: the lock (never contended otherwise) keeps them
	// apart.
	reMu sync.Mutex
	re   *reassembler

	seq atomic.Uint64 // the number of this node's last chunked message

	subjMu   sync.RWMutex
	subjects map[cluster.NodeID]*[2]string // whole, chunk subject per destination

	sendMu  sync.Mutex // serializes use of scratch
	scratch []byte     // one chunk: header, then piece
}

// New returns a Transport with no nodes; Join adds them.
func New(cfg Config) (*Transport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Transport{cfg: cfg, nodes: make(map[cluster.NodeID]*endpoint)}
	// Keep about one largest message's worth of buffers for reuse.
	t.pool.maxBytes = cfg.MaxMessage
	return t, nil
}

// endpoint returns node id's endpoint, creating it if asked.
func (t *Transport) endpoint(id cluster.NodeID, create bool) *endpoint {
	t.mu.RLock()
	ep := t.nodes[id]
	t.mu.RUnlock()
	if ep != nil || !create {
		return ep
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ep = t.nodes[id]; ep == nil {
		ep = &endpoint{
			t:        t,
			id:       id,
			inbound:  subjectPrefix(t.cfg.Cluster) + strconv.FormatUint(uint64(id), 10) + ".from.",
			re:       newReassembler(t.cfg.MaxMessage, t.cfg.MaxReassembly, t.cfg.ReassemblyTimeout, &t.pool),
			subjects: make(map[cluster.NodeID]*[2]string),
		}
		// A random start keeps a restarted sender's chunks from continuing
		// a message its previous life left unfinished at a receiver.
		ep.seq.Store(rand.Uint64() >> 1)
		t.nodes[id] = ep
	}
	return ep
}

// Join makes nc node id's connection: id sends on it and receives on it.
// The caller keeps ownership of nc and closes it after Close. Join returns
// once the server has confirmed the node's subscription, so a message
// published after Join returns reaches it. A node joins once.
func (t *Transport) Join(id cluster.NodeID, nc *nats.Conn) error {
	ep := t.endpoint(id, true)
	if !ep.nc.CompareAndSwap(nil, nc) {
		return fmt.Errorf("natsnet: node %d has joined already", id)
	}
	fail := func(err error) error {
		ep.nc.Store(nil)
		return fmt.Errorf("natsnet: node %d: %w", id, err)
	}
	subject := ep.inbound + ">"
	sub, err := nc.Subscribe(subject, ep.receive)
	if err != nil {
		return fail(err)
	}
	// The client's default pending limits (64 MiB) would drop a chunked
	// message in bursts; allow what reassembly may hold, plus one message.
	if err := sub.SetPendingLimits(-1, t.cfg.MaxReassembly+t.cfg.MaxMessage); err != nil {
		sub.Unsubscribe()
		return fail(err)
	}
	// The server answers a flush after it has registered the subscription,
	// or refused it: a refusal (-ERR) comes before the answer on the same
	// connection, so LastError holds it by then.
	if err := nc.FlushTimeout(t.cfg.FlushTimeout); err != nil {
		sub.Unsubscribe()
		return fail(fmt.Errorf("server did not confirm the subscription: %w", err))
	}
	if err := nc.LastError(); err != nil && errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
		sub.Unsubscribe()
		return fail(err)
	}
	t.mu.Lock()
	ep.sub = sub
	t.mu.Unlock()
	return nil
}

// Close unsubscribes every node. Connections stay open: they are the
// caller's.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, ep := range t.nodes {
		if ep.sub != nil {
			errs = append(errs, ep.sub.Unsubscribe())
			ep.sub = nil
		}
	}
	return errors.Join(errs...)
}

// Listen sets the function that receives the messages addressed to node
// id; see cluster.Transport. It may come before or after Join. deliver is
// called from the node's subscription goroutine, one message at a time, and
// owns msg.
func (t *Transport) Listen(id cluster.NodeID, deliver func(from cluster.NodeID, msg []byte)) {
	ep := t.endpoint(id, true)
	if deliver == nil {
		ep.deliver.Store(nil)
		return
	}
	ep.deliver.Store(&deliver)
}

// Recycle takes back a delivered buffer for reassembling a later chunked
// message; see cluster.Recycler.
func (t *Transport) Recycle(msg []byte) { t.pool.put(msg) }

// Send publishes msg from node from to node to, whole if it fits the
// server's max_payload, in chunks otherwise; see cluster.Transport. It does
// not wait for the receiver: nats.go copies msg into the connection's
// buffer (so the caller may reuse msg at once) and its flusher writes it
// out. It blocks only while a connection's buffer is being written to the
// socket, as a large message does. If from has not joined, msg is larger
// than MaxMessage (and than one payload), or the connection refuses it, it
// is dropped and counted.
func (t *Transport) Send(from, to cluster.NodeID, msg []byte) {
	ep := t.endpoint(from, false)
	var nc *nats.Conn
	if ep != nil {
		nc = ep.nc.Load()
	}
	if nc == nil {
		t.noConn.Add(1)
		return
	}
	subj := ep.subjectsTo(to)
	limit := int(nc.MaxPayload())
	if t.cfg.ChunkSize > 0 {
		limit = min(limit, t.cfg.ChunkSize)
	}
	var err error
	switch {
	case len(msg) <= limit:
		err = nc.Publish(subj[0], msg)
	case len(msg) > t.cfg.MaxMessage:
		// Receivers configured alike would drop it at its first chunk.
		t.sendTooLarge.Add(1)
		return
	default:
		err = ep.sendChunks(nc, subj[1], msg, limit)
	}
	if err != nil {
		t.sendErrors.Add(1)
		return
	}
	t.sent.Add(1)
	t.sentBytes.Add(uint64(len(msg)))
}

// sendChunks publishes msg in chunks of at most limit bytes, header included.
func (ep *endpoint) sendChunks(nc *nats.Conn, subj string, msg []byte, limit int) error {
	piece := limit - chunkHeaderLen
	if piece <= 0 {
		return fmt.Errorf("natsnet: max payload %d leaves no room for a chunk", limit)
	}
	count := (len(msg) + piece - 1) / piece
	if uint64(count) > 1<<32-1 {
		return errors.New("natsnet: message needs too many chunks")
	}
	h := chunkHeader{seq: ep.seq.Add(1), total: uint64(len(msg)), count: uint32(count)}
	ep.sendMu.Lock()
	defer ep.sendMu.Unlock()
	for off := 0; off < len(msg); off += piece {
		end := min(off+piece, len(msg))
		ep.scratch = append(appendChunkHeader(ep.scratch[:0], h), msg[off:end]...)
		// Publish copies the chunk into the connection's buffer, so the
		// scratch buffer is free again when it returns.
		if err := nc.Publish(subj, ep.scratch); err != nil {
			return err
		}
		ep.t.sentChunks.Add(1)
		h.index++
	}
	return nil
}

// subjectsTo returns the subjects this node sends to node to on, building
// them once.
func (ep *endpoint) subjectsTo(to cluster.NodeID) *[2]string {
	ep.subjMu.RLock()
	s := ep.subjects[to]
	ep.subjMu.RUnlock()
	if s != nil {
		return s
	}
	whole := subjectPrefix(ep.t.cfg.Cluster) + strconv.FormatUint(uint64(to), 10) + ".from." + strconv.FormatUint(uint64(ep.id), 10)
	s = &[2]string{whole, whole + chunkSuffix}
	ep.subjMu.Lock()
	ep.subjects[to] = s
	ep.subjMu.Unlock()
	return s
}

// receive handles one NATS message for this node. nats.go calls it from the
// subscription's goroutine, one message at a time.
func (ep *endpoint) receive(m *nats.Msg) {
	t := ep.t
	from, chunked, ok := parseFrom(m.Subject, ep.inbound)
	if !ok {
		t.badSubject.Add(1)
		return
	}
	if foreign(m) {
		t.badEnvelope.Add(1)
		return
	}
	msg := m.Data
	if chunked {
		ep.reMu.Lock()
		msg = ep.re.add(from, msg, time.Now())
		ep.reMu.Unlock()
		if msg == nil {
			return
		}
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(msg)))&7 != 0 {
		// nats.go hands over a fresh allocation, 8-aligned, and a
		// reassembled message or a lone chunk's piece (after a 24-byte
		// header) is too; only a message that carried NATS headers could
		// be off, and those were dropped above. The check stays, cheap,
		// since the codec needs the alignment to view an OFFER's state in
		// place.
		msg = append(make([]byte, 0, len(msg)), msg...)
	}
	deliver := ep.deliver.Load()
	if deliver == nil {
		t.noReceiver.Add(1)
		return
	}
	t.delivered.Add(1)
	t.deliveredBytes.Add(uint64(len(msg)))
	(*deliver)(from, msg)
}

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	s := Stats{
		Sent:           t.sent.Load(),
		SentChunks:     t.sentChunks.Load(),
		SentBytes:      t.sentBytes.Load(),
		SendErrors:     t.sendErrors.Load(),
		SendTooLarge:   t.sendTooLarge.Load(),
		NoConnection:   t.noConn.Load(),
		Delivered:      t.delivered.Load(),
		DeliveredBytes: t.deliveredBytes.Load(),
		BadSubject:     t.badSubject.Load(),
		BadEnvelope:    t.badEnvelope.Load(),
		NoReceiver:     t.noReceiver.Load(),
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, ep := range t.nodes {
		d := &ep.re.drops
		s.DropMalformed += d[dropMalformed].Load()
		s.DropTooLarge += d[dropTooLarge].Load()
		s.DropOutOfOrder += d[dropOutOfOrder].Load()
		s.DropOverBudget += d[dropOverBudget].Load()
		s.DropSuperseded += d[dropSuperseded].Load()
		s.DropExpired += d[dropExpired].Load()
		s.ReassemblyBytes += ep.re.heldNow.Load()
	}
	return s
}

// foreign reports whether m carries what no transport or detector
// publishes: a reply subject or headers. The server publishes such
// messages on subjects its requesters choose, unchecked by their
// permissions: a JetStream API request's answer goes to the request's
// reply subject (a direct get's with headers), a push consumer delivers
// to the subject its creator named (with a reply subject for acks). So a
// member or client allowed to read the ledger could have the server
// publish on knoten.<C>.to.X.from.Y; dropping these leaves it only the
// API's JSON answers, which parse as no cluster message or heartbeat.
func foreign(m *nats.Msg) bool { return m.Reply != "" || len(m.Header) > 0 }

// chunkSuffix ends the subject of a chunk.
const chunkSuffix = ".chunk"

// subjectPrefix is what every subject of the cluster starts with, up to the
// destination.
func subjectPrefix(clusterName string) string { return "knoten." + clusterName + ".to." }

// parseFrom reads the sender out of subject, which the subscription matched
// as inbound + ">": "<from>" for a whole message, "<from>.chunk" for a
// chunk. from is decimal, without sign or leading zeros, below 2^32.
func parseFrom(subject, inbound string) (from cluster.NodeID, chunked, ok bool) {
	rest, ok := strings.CutPrefix(subject, inbound)
	if !ok {
		return 0, false, false
	}
	if r, c := strings.CutSuffix(rest, chunkSuffix); c {
		rest, chunked = r, true
	}
	from, ok = parseID(rest)
	return from, chunked, ok
}

// parseID reads a node id as the subjects write it: decimal, without sign
// or leading zeros, below 2^32. Anything else is refused, so that one node
// has one subject.
func parseID(s string) (cluster.NodeID, bool) {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-1 {
		return 0, false
	}
	return cluster.NodeID(n), true
}
