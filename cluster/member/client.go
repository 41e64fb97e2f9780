package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/knotencore/knoten/cluster"
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
	nc, err := natsnet.Connect(url, creds, nats.MaxReconnects(5), quietErrors)
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
	if err := c.request(ctx, ctlSubject(c.cluster, to, "submit"), SubmitRequest{Program: prog.MarshalBinary(), Route: route}, &r); err != nil {
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
// listens. stop ends the subscription and closes the channel.
func (c *Client) Results() (results <-chan Result, stop func(), err error) {
	return subscribeJSON[Result](c.nc, DoneSubject(c.cluster, "*"))
}

// Events subscribes to every node's migration events from now on.
func (c *Client) Events() (events <-chan Event, stop func(), err error) {
	return subscribeJSON[Event](c.nc, EventSubject(c.cluster, "*"))
}

func subscribeJSON[T any](nc *nats.Conn, subj string) (<-chan T, func(), error) {
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
				if json.Unmarshal(m.Data, &v) == nil {
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

// psQuiet is how long PS waits after the last answer for more.
const psQuiet = 300 * time.Millisecond

// PS asks every member what it holds and returns the answers by node. It
// gathers answers until none has come for a short while.
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
	wait := 2 * time.Second // the first answer may take a while
	for {
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
		if json.Unmarshal(m.Data, &r) == nil {
			out = append(out, r)
		}
		wait = psQuiet
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
