package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/member"
	"github.com/knotencore/knoten/engine"
)

// procSub is the coordinator's subscription to every completion and
// migration event the nodes publish. It reads the raw messages itself,
// rather than through member.Client's Results and Events, so that after
// a flush of the connection every message the server delivered is in
// hand.
type procSub struct {
	results, events chan *nats.Msg
	subs            []*nats.Subscription
}

// startSubscribed starts n node processes (startProcs) and subscribes to
// their completions and events (subscribe), as both --procs runs do; on
// failure nothing is left running.
func startSubscribed(ctx context.Context, o *options, n int) (*procNet, *procSub, error) {
	pn, err := startProcs(ctx, o, n)
	if err != nil {
		return nil, nil, err
	}
	sub, err := pn.subscribe()
	if err != nil {
		return nil, nil, errors.Join(err, pn.close())
	}
	return pn, sub, nil
}

func (pn *procNet) subscribe() (*procSub, error) {
	s := &procSub{results: make(chan *nats.Msg, 1<<16), events: make(chan *nats.Msg, 1<<16)}
	nc := pn.client.Conn()
	for _, x := range []struct {
		subj string
		ch   chan *nats.Msg
	}{{member.DoneSubject(natsClusterName, "*", "*"), s.results}, {member.EventSubject(natsClusterName, "*"), s.events}} {
		sub, err := nc.ChanSubscribe(x.subj, x.ch)
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("--procs: subscribing to %s: %w", x.subj, err)
		}
		s.subs = append(s.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		s.stop()
		return nil, fmt.Errorf("--procs: subscribing: %w", err)
	}
	return s, nil
}

func (s *procSub) stop() {
	for _, sub := range s.subs {
		sub.Unsubscribe()
	}
}

// statusOf reads an engine.Status back from its name.
func statusOf(name string) (engine.Status, bool) {
	for s := engine.Status(0); s < 32; s++ {
		if s.String() == name {
			return s, true
		}
	}
	return 0, false
}

// completionOf reads a published completion.
func completionOf(m *nats.Msg) (member.Result, *cluster.Completion, error) {
	var r member.Result
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return r, nil, fmt.Errorf("a completion that does not decode: %v", err)
	}
	id, err := member.ParseID(r.ID)
	if err != nil {
		return r, nil, err
	}
	c := &cluster.Completion{ID: id, Node: cluster.NodeID(r.Node), Result: r.Result, Err: r.Err, Steps: r.Steps, Epoch: r.Epoch, Count: 1}
	st, ok := statusOf(r.Status)
	if !ok {
		return r, nil, fmt.Errorf("isolate %s: unknown status %q", r.ID, r.Status)
	}
	c.Status = st
	if h, err := hex.DecodeString(r.Hash); err != nil || len(h) != len(c.Hash) {
		return r, nil, fmt.Errorf("isolate %s: bad state hash %q", r.ID, r.Hash)
	} else {
		copy(c.Hash[:], h)
	}
	return r, c, nil
}

// eventKinds are the migration events a member publishes, by name.
var eventKinds = map[string]cluster.EventKind{
	cluster.EvHalted.String(): cluster.EvHalted, cluster.EvArrived.String(): cluster.EvArrived,
	cluster.EvMigrated.String(): cluster.EvMigrated, cluster.EvResumed.String(): cluster.EvResumed,
	cluster.EvFenced.String(): cluster.EvFenced,
}

// eventOf reads a published migration event; at is when it came.
func eventOf(m *nats.Msg, at time.Duration) (member.Event, cluster.Event, bool) {
	var e member.Event
	if json.Unmarshal(m.Data, &e) != nil {
		return e, cluster.Event{}, false
	}
	kind, ok := eventKinds[e.Kind]
	id, err := member.ParseID(e.ID)
	if !ok || err != nil {
		return e, cluster.Event{}, false
	}
	ce := cluster.Event{Kind: kind, Node: cluster.NodeID(e.Node), Peer: cluster.NodeID(e.Peer), ID: id, Epoch: e.Epoch,
		PC: e.PC, Steps: e.Steps, Bytes: e.Bytes, Downtime: time.Duration(e.DowntimeNS), At: at}
	if h, err := hex.DecodeString(e.Hash); err == nil && len(h) == len(ce.Hash) {
		copy(ce.Hash[:], h)
	}
	return e, ce, true
}

// hopFeed puts the isolate's events from the nodes in the order the
// hopTracker needs: every event of an attempt after its halt. Events from
// different processes reach the coordinator in the order the server
// relays them, which is the order they happened in on one server; the
// feed holds back any that came early all the same. A member publishes
// no "running" event: its "arrived" comes once the ledger moved the
// isolate to the target and it is runnable there, with the downtime, so
// it stands for both.
type hopFeed struct {
	halted map[uint64]bool
	early  map[uint64][]cluster.Event
}

func (f *hopFeed) feed(e cluster.Event, observe func(cluster.Event)) {
	if e.Kind == cluster.EvHalted {
		f.halted[e.Epoch] = true
		observe(e)
		for _, x := range f.early[e.Epoch] {
			f.feed(x, observe)
		}
		delete(f.early, e.Epoch)
		return
	}
	if !f.halted[e.Epoch] {
		f.early[e.Epoch] = append(f.early[e.Epoch], e)
		return
	}
	observe(e)
	if e.Kind == cluster.EvArrived {
		observe(cluster.Event{Kind: cluster.EvRunning, Node: e.Node, ID: e.ID, Epoch: e.Epoch, Downtime: e.Downtime, Steps: e.Steps, At: e.At})
	}
}

// runProcsSim is --cluster-sim --procs: the isolate is submitted to n0
// with its route planned (n1, then n2, at the straight run's halt
// points), its hops followed through the events the nodes publish, its
// result through its completion, and all of it checked against the
// straight run as in this process.
func runProcsSim(ctx context.Context, o *options, w io.Writer) (err error) {
	job, desc, err := simJob(ctx, o)
	if err != nil {
		return err
	}
	hops, err := planHops(ctx, o, job)
	if err != nil {
		return err
	}
	pn, sub, err := startSubscribed(ctx, o, o.nodes)
	if err != nil {
		return err
	}
	defer func() { sub.stop(); err = errors.Join(err, pn.close()) }()
	r := &simReport{Nodes: o.nodes, Transport: o.transport, Server: pn.url, Program: job.Name, Description: desc, Known: job.Known,
		Straight: job.Result, StraightHash: shortHash(job.Hash), Steps: job.Steps, Hops: hops,
		void: job.Prog.Result() == engine.KindVoid, network: "transport " + pn.describe()}
	problem := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }

	// The route goes with the program: n0 sets the first stop before any
	// worker runs the isolate, so no hop can come late.
	var route []simHop
	var stops []cluster.Stop
	for _, h := range hops {
		if h.Outcome != hopNotPossible {
			route = append(route, h)
			stops = append(stops, cluster.Stop{To: h.To, At: h.Stop})
		}
	}
	late := why{asked: true, quantum: pn.quantum, steps: job.Steps}
	if len(route) > 0 {
		late.stop = route[0].PlannedAt
	}
	sctx, cancel := context.WithTimeout(ctx, procRequestTimeout)
	sid, err := pn.client.Submit(sctx, job.Prog, 0, stops...)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return pn.interrupted(ctx, "while submitting the isolate", "")
		}
		return fmt.Errorf("submitting the isolate to n0: %w", err)
	}
	id, err := member.ParseID(sid)
	if err != nil {
		return fmt.Errorf("n0 answered the submission with %w", err)
	}
	start := time.Now()
	track := newHopTracker(id, hops[:len(route)], 1, 10*cluster.DefaultRealRTO)
	feed := &hopFeed{halted: map[uint64]bool{}, early: map[uint64][]cluster.Event{}}
	observe := func(e cluster.Event) { track.observe(e) } // one attempt per hop: nothing is asked again
	var done *cluster.Completion
	take := func(m *nats.Msg) {
		res, c, err := completionOf(m)
		switch {
		case err != nil:
			problem("%v", err)
		case res.ID != sid:
			problem("a completion of isolate %s, which was never submitted", res.ID)
		case done != nil:
			done.Count++
		default:
			done = c
			feed.feed(cluster.Event{Kind: cluster.EvCompleted, Node: c.Node, ID: c.ID, Epoch: c.Epoch, At: time.Since(start)}, observe)
		}
	}
	for !track.settled() {
		select {
		case m := <-sub.events:
			if _, e, ok := eventOf(m, time.Since(start)); ok && e.ID == id {
				feed.feed(e, observe)
			}
		case m := <-sub.results:
			take(m)
		case <-ctx.Done():
			what := track.waitingFor()
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("interrupted waiting for %s", what)
			}
			problem("%v", timeoutError(fmt.Sprintf("timed out after %v (--timeout) waiting for %s", o.timeout, what)))
			late.timeout = fmt.Sprintf("--timeout %v ran out before the isolate reached the hop", o.timeout)
		}
		if ctx.Err() != nil {
			break
		}
	}
	// Stop the nodes, and take in what they published to the last: a
	// second completion would be there now.
	pn.stopChildren()
	if err := pn.settleServer(); err != nil {
		problem("flushing the coordinator's connection: %v", err)
	}
	for drained := false; !drained; {
		select {
		case m := <-sub.results:
			take(m)
		default:
			drained = true
		}
	}
	checkHops(ctx, o, r, job, done, late, problem)
	if done != nil {
		r.Ledger = checkLedger(ctx, pn.led, done, r.Hops, problem)
	}
	for _, p := range pn.problemList() {
		problem("%s", p)
	}
	return reportSim(w, o, r)
}
