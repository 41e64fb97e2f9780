package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/loadgen"
	"github.com/knotencore/knoten/engine"
)

// safepointAt returns the first safepoint at or after instruction x in
// job's straight run, and the state hash there: where a worker parks the
// isolate for a request that finds it at x.
func safepointAt(t *testing.T, o *options, job *loadgen.Job, x uint64) (uint64, [32]byte) {
	t.Helper()
	var at uint64
	var h [32]byte
	if _, err := straightRun(context.Background(), o, job.Prog, x, func(st *engine.State) uint64 {
		at, h = st.Steps, st.Hash()
		return 0
	}); err != nil || at == 0 {
		t.Fatalf("no safepoint at or after %d: %v", x, err)
	}
	return at, h
}

// hopEvents builds the isolate's events of one hop attempt, as the nodes
// emit them: the halt on the source, then either the target's arrival and
// run and the source's drop, or the source's resume.
type hopEvents struct {
	id  cluster.IsolateID
	at  time.Duration
	out []cluster.Event
}

func (b *hopEvents) add(e cluster.Event, after time.Duration) {
	b.at += after
	e.ID, e.At = b.id, b.at
	b.out = append(b.out, e)
}

func (b *hopEvents) attempt(from, to cluster.NodeID, epoch, steps uint64, hash [32]byte, ok bool, after time.Duration) {
	b.add(cluster.Event{Kind: cluster.EvHalted, Node: from, Peer: to, Epoch: epoch, PC: 7, Steps: steps, Hash: hash, Bytes: 700}, time.Millisecond)
	if !ok {
		b.add(cluster.Event{Kind: cluster.EvResumed, Node: from, Epoch: epoch}, after)
		return
	}
	b.add(cluster.Event{Kind: cluster.EvArrived, Node: to, Peer: from, Epoch: epoch, Steps: steps, Hash: hash}, after)
	b.add(cluster.Event{Kind: cluster.EvRunning, Node: to, Epoch: epoch, Downtime: after}, time.Microsecond)
	b.add(cluster.Event{Kind: cluster.EvMigrated, Node: from, Peer: to, Epoch: epoch}, time.Microsecond)
}

// runTracker feeds events to followHops through its channel, as the
// cluster's OnEvent does, answering every retry it asks for with
// retryErr (an event after the resume that asked for it must be the
// retry's halt, or a completion on the source), and checks the hops.
func runTracker(t *testing.T, o *options, job *loadgen.Job, hops []simHop, events []cluster.Event, retryErr error) (*simReport, []int, []string) {
	t.Helper()
	ch := make(chan cluster.Event, len(events))
	for _, e := range events {
		ch <- e
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a bug, not a flake: every event is queued already
	defer cancel()
	tr := newHopTracker(events[0].ID, hops, o.hopAttempts, 32*time.Millisecond)
	var retries []int
	comp, err := followHops(ctx, o, ch, tr, func(i int) error { retries = append(retries, i); return retryErr })
	if err != nil {
		t.Fatalf("followHops: %v (%d events left)", err, len(ch))
	}
	if len(ch) != 0 {
		t.Fatalf("settled with %d events left", len(ch))
	}
	var out *cluster.Completion
	if comp.Kind == cluster.EvCompleted {
		out = &cluster.Completion{ID: comp.ID, Node: comp.Node, Result: job.Result, Steps: job.Steps, Hash: job.Hash, Count: 1, Status: job.Status}
	}
	r := &simReport{Hops: hops, Steps: job.Steps}
	var problems []string
	late := why{asked: true, quantum: 2000, stop: hops[0].PlannedAt, steps: job.Steps}
	checkHops(context.Background(), o, r, job, out, late, func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	})
	return r, retries, problems
}

// The retry decision, fed the event sequences of a lossy link: a hop whose
// handoff fails safely is asked for again as soon as the source's resume
// is seen, with the rest of the route; its "= straight" check is at the
// instruction where the attempt that succeeded halted; a hop whose every
// attempt fails is a problem that says so, and ends the route.
func TestHopRetry(t *testing.T) {
	o := &options{timeout: defaultTimeout, maxSteps: defaultMaxSteps, program: "testdata/sum.kn"}
	job, _, err := simJob(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	plan := func(t *testing.T) []simHop {
		hops, err := planHops(context.Background(), o, job)
		if err != nil || hops[0].Outcome != hopNotTaken || hops[1].Outcome != hopNotTaken {
			t.Fatalf("planHops: %v %+v", err, hops)
		}
		return hops
	}
	const id = 7

	t.Run("failed attempt then success", func(t *testing.T) {
		o.hopAttempts = 5
		hops := plan(t)
		h1, h2 := hops[0], hops[1]
		// Attempt 1 halts at the planned safepoint and times out; the
		// isolate runs on until the retry's request finds it.
		retryAt, retryHash := safepointAt(t, o, job, h1.PlannedAt+5000)
		b := &hopEvents{id: id}
		b.attempt(0, 1, 1, h1.PlannedAt, h1.plannedHash, false, 35*time.Millisecond)
		b.attempt(0, 1, 2, retryAt, retryHash, true, 2*time.Millisecond)
		b.attempt(1, 2, 3, h2.PlannedAt, h2.plannedHash, true, time.Millisecond)
		// The completion on n2 may come before n1's drop.
		evs := b.out
		evs = append(evs[:len(evs)-1], cluster.Event{Kind: cluster.EvCompleted, Node: 2, ID: id}, evs[len(evs)-1])
		r, retries, problems := runTracker(t, o, job, hops, evs, nil)
		if fmt.Sprint(retries) != "[0]" {
			t.Errorf("retries asked %v, want [0] (hop 1, once)", retries)
		}
		if len(problems) > 0 {
			t.Errorf("problems %q", problems)
		}
		h := r.Hops[0]
		if h.Outcome != hopDone || h.Attempts != 2 || h.Epoch != 2 || h.Steps != retryAt || !h.Verified || !h.Straight ||
			h.StraightHash != shortHash(retryHash) || len(h.Failed) != 1 {
			t.Errorf("hop 1: %+v", h)
		}
		f := h.Failed[0]
		if f.Attempt != 1 || f.Epoch != 1 || f.Steps != h1.PlannedAt || f.After != 35*time.Millisecond || f.Source != 0 {
			t.Errorf("hop 1's failed attempt: %+v", f)
		}
		if h := r.Hops[1]; h.Outcome != hopDone || h.Attempts != 1 || h.Epoch != 3 || !h.Straight || len(h.Failed) != 0 {
			t.Errorf("hop 2: %+v", h)
		}
		want := []string{
			fmt.Sprintf("hop 1 attempt 1 of 5 failed: halted at instruction %d (epoch 1); no ACK from n1 within the offer timeout (32.00ms), so n0 aborted, and n1 answered it had not taken the isolate; the handoff failed after 35.00ms; n0 kept the isolate and resumed it; asked for again", h1.PlannedAt),
			fmt.Sprintf("hop 1 attempt 2 of 5 done: halted at instruction %d, the first safepoint at or after where its request found the isolate (attempt 1 halted at instruction %d)", retryAt, h1.PlannedAt),
		}
		if strings.Join(r.Notes, "\n") != strings.Join(want, "\n") {
			t.Errorf("notes\n%s\nwant\n%s", strings.Join(r.Notes, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("hop 2 refused then success", func(t *testing.T) {
		o.hopAttempts = 5
		hops := plan(t)
		h1, h2 := hops[0], hops[1]
		b := &hopEvents{id: id}
		b.attempt(0, 1, 1, h1.PlannedAt, h1.plannedHash, true, time.Millisecond)
		b.attempt(1, 2, 2, h2.PlannedAt, h2.plannedHash, false, time.Millisecond)
		// A retry that finds the isolate queued parks it where it is.
		b.attempt(1, 2, 3, h2.PlannedAt, h2.plannedHash, true, time.Millisecond)
		b.add(cluster.Event{Kind: cluster.EvCompleted, Node: 2}, time.Millisecond)
		r, retries, problems := runTracker(t, o, job, hops, b.out, nil)
		if fmt.Sprint(retries) != "[1]" || len(problems) > 0 {
			t.Errorf("retries %v (want [1]), problems %q", retries, problems)
		}
		if h := r.Hops[1]; h.Outcome != hopDone || h.Attempts != 2 || h.Steps != h2.PlannedAt || !h.Straight || len(h.Failed) != 1 ||
			!strings.Contains(h.Failed[0].Why, "n2 refused the OFFER (NACK) after 1.00ms; n1 kept the isolate") {
			t.Errorf("hop 2: %+v", h)
		}
	})

	t.Run("all attempts fail", func(t *testing.T) {
		o.hopAttempts = 3
		hops := plan(t)
		h1 := hops[0]
		b := &hopEvents{id: id}
		steps, hash := h1.PlannedAt, h1.plannedHash
		for e := uint64(1); e <= 3; e++ {
			b.attempt(0, 1, e, steps, hash, false, 40*time.Millisecond)
			steps, hash = safepointAt(t, o, job, steps+3000)
		}
		b.add(cluster.Event{Kind: cluster.EvCompleted, Node: 0}, time.Millisecond)
		r, retries, problems := runTracker(t, o, job, hops, b.out, nil)
		if fmt.Sprint(retries) != "[0 0]" {
			t.Errorf("retries asked %v, want [0 0] (hop 1, after attempts 1 and 2)", retries)
		}
		want := []string{"hop 1 failed: the handoff from n0 to n1 failed at all 3 attempts (--hop-attempts 3; see the notes); n0 kept the isolate and ran it on"}
		if fmt.Sprint(problems) != fmt.Sprint(want) {
			t.Errorf("problems %q,\nwant %q", problems, want)
		}
		if h := r.Hops[0]; h.Outcome != hopFailed || h.Attempts != 3 || len(h.Failed) != 3 || h.Verified || !h.Straight || h.Epoch != 3 {
			t.Errorf("hop 1: %+v", h)
		}
		if h := r.Hops[1]; h.Outcome != hopNotTaken || h.Note != "hop 1 failed, which ends the route" {
			t.Errorf("hop 2: %+v", h)
		}
		if len(r.Notes) != 4 || !strings.HasPrefix(r.Notes[2], "hop 1 attempt 3 of 3 failed: ") ||
			strings.HasSuffix(r.Notes[2], "asked for again") || r.ResultNode != "n0" {
			t.Errorf("notes %q, completed on %s", r.Notes, r.ResultNode)
		}
	})

	t.Run("finished before the retry", func(t *testing.T) {
		o.hopAttempts = 5
		hops := plan(t)
		h1 := hops[0]
		b := &hopEvents{id: id}
		b.attempt(0, 1, 1, h1.PlannedAt, h1.plannedHash, false, 40*time.Millisecond)
		b.add(cluster.Event{Kind: cluster.EvCompleted, Node: 0}, time.Millisecond)
		r, retries, problems := runTracker(t, o, job, hops, b.out, cluster.ErrNoSuchIsolate)
		if fmt.Sprint(retries) != "[0]" || len(problems) > 0 {
			t.Errorf("retries %v (want [0]), problems %q", retries, problems)
		}
		if h := r.Hops[0]; h.Outcome != hopNotTaken || h.Note != "attempt 1 failed, and the isolate finished on n0 before attempt 2 could halt it" {
			t.Errorf("hop 1: %+v", h)
		}
		if h := r.Hops[1]; h.Outcome != hopNotTaken || h.Note != "hop 1 did not take place" || r.ResultNode != "n0" {
			t.Errorf("hop 2: %+v, completed on %s", h, r.ResultNode)
		}
	})

	t.Run("asking again fails", func(t *testing.T) {
		o.hopAttempts = 5
		hops := plan(t)
		h1 := hops[0]
		b := &hopEvents{id: id}
		b.attempt(0, 1, 1, h1.PlannedAt, h1.plannedHash, false, 40*time.Millisecond)
		b.add(cluster.Event{Kind: cluster.EvCompleted, Node: 0}, time.Millisecond)
		_, _, problems := runTracker(t, o, job, hops, b.out, errors.New("no way"))
		if want := "hop 1 failed: attempt 1 failed, and asking for attempt 2 failed: no way"; fmt.Sprint(problems) != fmt.Sprint([]string{want}) {
			t.Errorf("problems %q, want %q", problems, want)
		}
	})
}
