package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/cluster/natsnet"
	"github.com/knotencore/knoten/engine"
)

// Client talks to a cluster's members over NATS: what knoten submit, ps,
// migrate and drain do. Results and state come back through NATS only.
type Client struct {
	nc      *nats.Conn
	cluster string
}

// Dial connects a client to the cluster c (default "knoten") at url.
func Dial(url, c string, creds natsnet.Credentials) (*Client, error) {
	if c == "" {
		c = "knoten"
	}
	if err := CheckClusterName(c); err != nil {
		return nil, err
	}
	if creds.Name == "" {
		creds.Name = "knoten client"
	}
	opts := []nats.Option{nats.MaxReconnects(5), quietErrors}
	if creds.Member == nil {
		// Members answer only into client inboxes (natsnet.IsClientInbox);
		// with credentials natsnet.Connect sets the client's own.
		opts = append(opts, nats.CustomInboxPrefix(natsnet.ClientInboxPrefix("anonymous")))
	}
	nc, err := natsnet.Connect(url, creds, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{nc: nc, cluster: c}, nil
}

// Close closes the client's connection.
func (c *Client) Close() { c.nc.Close() }

// Conn returns the client's connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// AnyNode, as Submit's node, lets one of the members take the program.
const AnyNode = -1

// Submit hands prog to node (AnyNode: whichever member answers first)
// and returns the new isolate's id once it runs there.
func (c *Client) Submit(ctx context.Context, prog *engine.Program, node int, route ...cluster.Stop) (string, error) {
	to := "any"
	if node >= 0 {
		to = strconv.Itoa(node)
	}
	var r SubmitReply
	req := SubmitRequest{Program: prog.MarshalBinary(), Route: route}
	if d, ok := ctx.Deadline(); ok {
		req.DeadlineNS = d.UnixNano()
	}
	if err := c.request(ctx, ctlSubject(c.cluster, to, "submit"), req, &r); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("submit: no answer in time (%w); a member that got the request after its deadline refuses it, but one that got it in time and whose answer was lost runs it: check knoten ps before submitting again", err)
		}
		return "", fmt.Errorf("submit: %w", err)
	}
	if r.Error != "" {
		if r.ID != "" {
			return r.ID, fmt.Errorf("submit: node %d spawned %s: %s", r.Node, r.ID, r.Error)
		}
		return "", fmt.Errorf("submit: node %d: %s", r.Node, r.Error)
	}
	return r.ID, nil
}

func (c *Client) request(ctx context.Context, subj string, req, reply any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	m, err := c.nc.RequestWithContext(ctx, subj, b)
	if errors.Is(err, nats.ErrNoResponders) {
		return errors.New("no member answers (is a node running, in this cluster?)")
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(m.Data, reply)
}

// Results subscribes to every completion the cluster publishes from now
// on. Call it before Submit, so that no result can come before it
// listens. stop ends the subscription and closes the channel. A result
// whose Node disagrees with the node its subject names (which the server
// lets only that node publish on) is dropped; Verify checks the rest
// against the ledger.
func (c *Client) Results() (results <-chan Result, stop func(), err error) {
	prefix := natsnet.DonePrefix(c.cluster) + "."
	return subscribeJSON(c.nc, DoneSubject(c.cluster, "*", "*"), func(subject string, r Result) bool {
		node, _, _ := strings.Cut(strings.TrimPrefix(subject, prefix), ".")
		return node == strconv.FormatUint(uint64(r.Node), 10)
	})
}

// Events subscribes to every node's migration events from now on.
func (c *Client) Events() (events <-chan Event, stop func(), err error) {
	prefix := natsnet.EventPrefix(c.cluster) + "."
	return subscribeJSON(c.nc, EventSubject(c.cluster, "*"), func(subject string, e Event) bool {
		return strings.TrimPrefix(subject, prefix) == strconv.FormatUint(uint64(e.Node), 10)
	})
}

// Verify checks a result against the ownership ledger: the isolate must be
// recorded finished, by the node the result names, at its epoch. A member
// may publish completions only as itself, but it could still publish one
// for an isolate it does not hold; the ledger tells.
func (c *Client) Verify(ctx context.Context, r Result) error {
	id, err := ParseID(r.ID)
	if err != nil {
		return err
	}
	js, err := jetstream.New(c.nc)
	if err != nil {
		return err
	}
	l, err := ledger.BindJetStream(ctx, js, LedgerBucket(c.cluster))
	if err != nil {
		return fmt.Errorf("verify %s: the ledger: %w", r.ID, err)
	}
	e, err := l.Get(ctx, ledger.IsolateID(id))
	if err != nil {
		return fmt.Errorf("verify %s: %w", r.ID, err)
	}
	if e.State != ledger.Finished || e.Owner != ledger.NodeID(r.Node) || e.Epoch != r.Epoch {
		return fmt.Errorf("verify %s: the result claims node %d at epoch %d, the ledger has %v", r.ID, r.Node, r.Epoch, e)
	}
	return nil
}

// subscribeJSON delivers the messages on subj that decode as T and that
// ok accepts given their subject.
func subscribeJSON[T any](nc *nats.Conn, subj string, ok func(subject string, v T) bool) (<-chan T, func(), error) {
	raw := make(chan *nats.Msg, 1<<16)
	sub, err := nc.ChanSubscribe(subj, raw)
	if err != nil {
		return nil, nil, err
	}
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, nil, err
	}
	out := make(chan T, 1<<10)
	done := make(chan struct{})
	go func() {
		defer close(out)
		for {
			select {
			case m := <-raw:
				var v T
				if json.Unmarshal(m.Data, &v) == nil && ok(m.Subject, v) {
					select {
					case out <- v:
					case <-done:
						return
					}
				}
			case <-done:
				return
			}
		}
	}()
	stopped := false
	return out, func() {
		if !stopped {
			stopped = true
			sub.Unsubscribe()
			close(done)
		}
	}, nil
}

// psQuiet is how long PS waits after the last answer for more, once it
// has as many as the members say there are; psWait bounds the wait for
// those.
const (
	psQuiet = 100 * time.Millisecond
	psWait  = 3 * time.Second
)

// PS asks every member what it holds and returns the answers by node. It
// gathers answers until it has one from every member any answer reports
// up (or psWait has passed), then until none has come for a short while.
func (c *Client) PS(ctx context.Context) ([]PSReply, error) {
	inbox := c.nc.NewRespInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := c.nc.PublishRequest(ctlSubject(c.cluster, "all", "ps"), inbox, []byte("{}")); err != nil {
		return nil, err
	}
	var out []PSReply
	known := map[uint32]bool{} // every member some answer names
	heard := map[uint32]bool{}
	give := time.Now().Add(psWait)
	for {
		wait := psQuiet
		if len(heard) == 0 || len(heard) < len(known) {
			wait = max(time.Until(give), time.Millisecond)
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		m, err := sub.NextMsgWithContext(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			break
		}
		var r PSReply
		if json.Unmarshal(m.Data, &r) != nil || heard[r.Node] {
			continue
		}
		heard[r.Node], known[r.Node] = true, true
		for _, p := range r.PeersUp {
			known[p] = true
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

// Resolve turns a node given by id or by name into its id, by asking the
// members (PS).
func (c *Client) Resolve(ctx context.Context, node string) (cluster.NodeID, error) {
	members, err := c.PS(ctx)
	if err != nil {
		return 0, err
	}
	for _, m := range members {
		if m.Name == node || strconv.Itoa(int(m.Node)) == node {
			return cluster.NodeID(m.Node), nil
		}
	}
	return 0, fmt.Errorf("no member named %q answers (%d members do)", node, len(members))
}

// Migrate asks whichever member holds isolate id to move it to node to.
func (c *Client) Migrate(ctx context.Context, id string, to cluster.NodeID) error {
	if _, err := ParseID(id); err != nil {
		return err
	}
	var r Reply
	if err := c.request(ctx, ctlSubject(c.cluster, "all", "migrate"), MigrateRequest{ID: id, To: uint32(to)}, &r); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("migrate %s: no member holds it (it finished, or never existed)", id)
		}
		return fmt.Errorf("migrate %s: %w", id, err)
	}
	if r.Error != "" {
		return fmt.Errorf("migrate %s: node %d: %s", id, r.Node, r.Error)
	}
	return nil
}

// Drain asks node to move all its isolates to others, and waits until it
// holds none.
func (c *Client) Drain(ctx context.Context, node cluster.NodeID) error {
	var r Reply
	if err := c.request(ctx, ctlSubject(c.cluster, strconv.Itoa(int(node)), "drain"), struct{}{}, &r); err != nil {
		return fmt.Errorf("drain node %d: %w", node, err)
	}
	if r.Error != "" {
		return fmt.Errorf("drain node %d: %s", node, r.Error)
	}
	return nil
}

// Wait waits for the result of isolate id on results (from Results).
func Wait(ctx context.Context, results <-chan Result, id string) (Result, error) {
	for {
		select {
		case r, ok := <-results:
			if !ok {
				return Result{}, errors.New("results subscription ended")
			}
			if r.ID == id {
				return r, nil
			}
		case <-ctx.Done():
			return Result{}, fmt.Errorf("waiting for %s: %w", id, ctx.Err())
		}
	}
}
