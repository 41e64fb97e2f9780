package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/knotencore/knoten/bench/machine"
	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/cluster/loadgen"
	"github.com/knotencore/knoten/cluster/member"
	"github.com/knotencore/knoten/engine"
)

// The chaos of --chaos: an action every chaosMinInterval to
// chaosMaxInterval; a pause lasts the failure detector's timeout and
// chaosMinPause to chaosMaxPause more.
const (
	chaosMinInterval = 250 * time.Millisecond
	chaosMaxInterval = time.Second
	chaosMinPause    = 100 * time.Millisecond
	chaosMaxPause    = 400 * time.Millisecond
	// chaosActionsPerNode bounds the chaos: it ends after this many
	// actions per node of --nodes, and the load then finishes in peace.
	chaosActionsPerNode = 4
)

// Limits of a --procs load's requests.
const (
	procSubmitters     = 4                      // submissions in flight at once
	procMigrateFlight  = 8                      // forced migrations in flight at once
	procMigrateWait    = time.Second            // a forced migration whose holder does not answer in this long is given up
	procAuditPeriod    = 200 * time.Millisecond // how often the ledger is read for the isolates not completed yet
	procLedgerTimeout  = 5 * time.Second        // one ledger read
	procAccountTimeout = 30 * time.Second       // all the final accounting's reads
)

// procIso is one submitted isolate, as the coordinator follows it.
type procIso struct {
	id       string
	job      *loadgen.Job
	node     cluster.NodeID // submitted to
	answered time.Time      // when the submission was answered
	where    cluster.NodeID // where it was last seen: submitted to, or arrived on
	results  []*cluster.Completion
	resultAt time.Time
	killed   bool // the ledger named a killed node its owner, the last time it was read
}

// procJobStat is the per-workload part of the report.
type procJobStat struct {
	Name       string `json:"name"`
	Isolates   int    `json:"isolates"`
	Completed  int    `json:"completed"`
	Correct    int    `json:"correct"`
	LostKilled int    `json:"lost_with_killed_node"`
	Known      string `json:"known"`
	Straight   string `json:"straight_result"`
	Steps      uint64 `json:"steps"`
}

// chaosAction is one thing --chaos did.
type chaosAction struct {
	At       time.Duration `json:"at_ns"` // since the first submission
	Kind     string        `json:"kind"`  // "kill" or "pause"
	Node     string        `json:"node"`
	Replaced string        `json:"replaced_by,omitempty"` // a kill's replacement
	Paused   time.Duration `json:"paused_ns,omitempty"`
}

// procLoadReport is a --procs load's outcome; --json prints it.
type procLoadReport struct {
	Nodes       int     `json:"nodes"`
	Workers     int     `json:"workers"`
	Isolates    int     `json:"isolates"` // asked for
	Size        string  `json:"size"`
	Seed        uint64  `json:"seed"`
	MigrateRate float64 `json:"migrate_rate"`
	Quantum     int64   `json:"quantum"`
	Chaos       bool    `json:"chaos"`
	Transport   string  `json:"transport"`
	Server      string  `json:"server"`

	Elapsed    time.Duration `json:"elapsed_ns"` // first submission to the last completion
	Throughput float64       `json:"throughput"` // completions per second of Elapsed
	// Submitted counts the isolates: the submissions a node answered with
	// an id. The others failed: because their node was killed (counted),
	// or otherwise (listed; they fail the run).
	Submitted          int      `json:"submitted"`
	SubmitFailedKilled int      `json:"submit_failed_killed"`
	SubmitFailed       []string `json:"submit_failed"`
	Completed          int      `json:"completed"`
	Correct            int      `json:"correct"`
	Wrong              []string `json:"wrong"`
	Duplicated         []string `json:"duplicated"`
	// LostKilled are the isolates the ledger names a killed node the
	// owner of (running, or finished without a published completion).
	LostKilled []string `json:"lost_with_killed_node"`
	// Unexplained are the losses of the protocol: "<id>: why".
	Unexplained []string `json:"lost_by_protocol"`
	// Orphans count the completions of isolates whose submission failed
	// because their node was killed after it spawned them.
	Orphans int `json:"orphan_completions"`

	Migrations   int           `json:"migrations"` // "arrived" events
	Fenced       int           `json:"fenced"`     // "fenced" events
	ForcedAsked  int           `json:"forced_asked"`
	ForcedDone   int           `json:"forced_done"`
	Downtime     cluster.Dist  `json:"downtime_ns"`           // from the "arrived" events, wall clock across processes
	Latency      cluster.Dist  `json:"completion_latency_ns"` // submission answered → completion, at the coordinator
	Kills        int           `json:"kills"`
	Pauses       int           `json:"pauses"`
	Restarts     int           `json:"restarts"`
	NodesStarted int           `json:"nodes_started"`
	Actions      []chaosAction `json:"chaos_actions"`
	Problems     []string      `json:"problems"` // nodes that exited on their own, failed restarts, the timeout
	TimedOut     bool          `json:"timed_out"`

	Jobs    []procJobStat     `json:"jobs"`
	Machine map[string]string `json:"machine"`
	Verdict string            `json:"verdict"`

	lines []machine.Line
	void  map[string]bool
	desc  string
}

// ok reports whether every isolate is accounted for: none duplicated,
// wrong or lost by the protocol, and nothing else went wrong.
func (r *procLoadReport) ok() bool {
	return len(r.Wrong) == 0 && len(r.Duplicated) == 0 && len(r.Unexplained) == 0 && len(r.SubmitFailed) == 0 && len(r.Problems) == 0
}

// runProcsLoad is --cluster-sim --load --procs [--chaos].
func runProcsLoad(ctx context.Context, o *options, w io.Writer) (err error) {
	jobs, err := loadJobs(ctx, o)
	if err != nil {
		return err
	}
	pn, sub, err := startSubscribed(ctx, o, o.nodes)
	if err != nil {
		return err
	}
	defer func() { sub.stop(); err = errors.Join(err, pn.close()) }()
	l := &procLoad{o: o, pn: pn, jobs: jobs, sub: sub, isos: map[string]*procIso{}, early: map[string][]*cluster.Completion{}}
	if err := l.run(ctx); err != nil {
		return err
	}
	r := l.report()
	if o.json {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	} else {
		writeProcLoadReport(w, o, r)
	}
	if !r.ok() {
		var why []string
		if r.TimedOut {
			why = append(why, fmt.Sprintf("--timeout %v ran out", o.timeout))
		}
		why = append(why, fmt.Sprintf("%d duplicated, %d wrong, %d lost by the protocol", len(r.Duplicated), len(r.Wrong), len(r.Unexplained)))
		if n := len(r.SubmitFailed); n > 0 {
			why = append(why, fmt.Sprintf("%d submissions failed", n))
		}
		if n := len(r.Problems) - btoi(r.TimedOut); n > 0 {
			why = append(why, fmt.Sprintf("%d other %s", n, plural(n, "problem")))
		}
		return fmt.Errorf("load: FAIL (%s; in the report)", strings.Join(why, "; "))
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// procLoad is a --procs load in progress. Its maps are the main loop's
// alone; the submitters, the chaos and the forced migrations report to it
// over channels.
type procLoad struct {
	o    *options
	pn   *procNet
	jobs []*loadgen.Job
	sub  *procSub

	start   time.Time
	isos    map[string]*procIso
	order   []string                         // the submitted ids, in the order their answers came
	early   map[string][]*cluster.Completion // completions that came before their submission's answer
	lastRes time.Time
	audited time.Time // the last reading of the ledger for the isolates not completed

	submitFailedKilled int
	submitFailed       []string
	migrations, fenced int
	downtimes          []int64
	forcedAsked        int
	forcedDone         int
	actions            []chaosAction
	timedOut           bool
	problems           []string
}

// submission is what a submitter reports.
type submission struct {
	job  *loadgen.Job
	node cluster.NodeID
	id   string
	err  error
	at   time.Time
}

// run submits the isolates, forces migrations and lets the chaos loose,
// until every isolate is completed or lost with a killed node, or ctx
// ends; then it stops the nodes and takes in what they published.
func (l *procLoad) run(ctx context.Context) error {
	o, pn := l.o, l.pn
	rng := rand.New(rand.NewPCG(o.seed, 0x10ad))
	order := rng.Perm(o.isolates)
	l.start = time.Now()

	// The submitters: round robin over the running nodes.
	subs := make(chan submission, 64)
	var next, rr atomic.Int64
	var swg sync.WaitGroup
	for range procSubmitters {
		swg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= o.isolates {
					return
				}
				nodes := pn.running()
				for len(nodes) == 0 && ctx.Err() == nil {
					pn.await(ctx)
					nodes = pn.running()
				}
				if ctx.Err() != nil {
					return
				}
				s := submission{job: l.jobs[order[i]%len(l.jobs)], node: nodes[int(rr.Add(1)-1)%len(nodes)]}
				sctx, cancel := context.WithTimeout(ctx, procRequestTimeout)
				s.id, s.err = pn.client.Submit(sctx, s.job.Prog, int(s.node))
				cancel()
				s.at = time.Now()
				subs <- s
			}
		})
	}
	go func() { swg.Wait(); close(subs) }()

	// The chaos.
	actions := make(chan chaosAction, 256)
	stopChaos := make(chan struct{})
	chaosDone := make(chan struct{})
	if o.chaos {
		go func() {
			defer close(chaosDone)
			l.chaos(stopChaos, actions, rand.New(rand.NewPCG(o.seed, 0xc4a05)))
		}()
	} else {
		close(chaosDone)
	}

	// Forced migrations.
	var migrate <-chan time.Time
	if o.migrateRate > 0 {
		tk := time.NewTicker(time.Duration(float64(time.Second) / o.migrateRate))
		defer tk.Stop()
		migrate = tk.C
	}
	migrated := make(chan bool, procMigrateFlight)
	inFlight := 0
	var mwg sync.WaitGroup
	audit := time.NewTicker(procAuditPeriod)
	defer audit.Stop()

	submitting := subs // nil once every submission is answered
	for submitting != nil || !l.accounted(ctx) {
		select {
		case s, ok := <-submitting:
			if !ok {
				submitting = nil
				continue
			}
			l.submitted(s)
		case m := <-l.sub.results:
			l.result(m)
		case m := <-l.sub.events:
			l.event(m)
		case a := <-actions:
			l.actions = append(l.actions, a)
		case <-migrate:
			if inFlight >= procMigrateFlight {
				continue
			}
			id, to, ok := l.pickMigration(rng)
			if !ok {
				continue
			}
			inFlight++
			l.forcedAsked++
			mwg.Go(func() {
				mctx, cancel := context.WithTimeout(ctx, procMigrateWait)
				defer cancel()
				migrated <- pn.client.Migrate(mctx, id, to) == nil
			})
		case ok := <-migrated:
			inFlight--
			if ok {
				l.forcedDone++
			}
		case <-audit.C:
			if o.progress != nil {
				drawProgress(o.progress, l.settledCount(), o.isolates)
			}
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	if o.progress != nil {
		fmt.Fprint(o.progress, "\r\033[K")
	}
	// Wind down: the chaos (it continues the paused nodes), the forced
	// migrations, the submitters; then the nodes, and what they published
	// to the last.
	close(stopChaos)
	<-chaosDone
	for a := range drain(actions) {
		l.actions = append(l.actions, a)
	}
	go func() { mwg.Wait(); close(migrated) }()
	for ok := range migrated {
		if ok {
			l.forcedDone++
		}
	}
	for s := range subs { // ctx ended, or they are done: subs closes
		l.submitted(s)
	}
	pn.stopChildren()
	if err := pn.settleServer(); err != nil {
		l.problems = append(l.problems, fmt.Sprintf("flushing the coordinator's connection: %v", err))
	}
	for m := range drain(l.sub.results) {
		l.result(m)
	}
	for m := range drain(l.sub.events) {
		l.event(m)
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		l.timedOut = true
		l.problems = append(l.problems, fmt.Sprintf("--timeout %v ran out before every isolate was accounted for", o.timeout))
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted while running (%d of %d isolates accounted for)", l.settledCount(), o.isolates)
	}
	return nil
}

// drain yields what ch holds now, without waiting.
func drain[T any](ch <-chan T) func(func(T) bool) {
	return func(yield func(T) bool) {
		for {
			select {
			case v, ok := <-ch:
				if !ok || !yield(v) {
					return
				}
			default:
				return
			}
		}
	}
}

func (l *procLoad) submitted(s submission) {
	if s.err != nil {
		if l.pn.killedNode(s.node) {
			l.submitFailedKilled++
		} else {
			l.submitFailed = append(l.submitFailed, fmt.Sprintf("to %v: %v", s.node, s.err))
		}
		return
	}
	x := &procIso{id: s.id, job: s.job, node: s.node, answered: s.at, where: s.node}
	l.isos[s.id] = x
	l.order = append(l.order, s.id)
	for _, c := range l.early[s.id] {
		l.complete(x, c, s.at)
	}
	delete(l.early, s.id)
}

func (l *procLoad) result(m *nats.Msg) {
	res, c, err := completionOf(m)
	if err != nil {
		l.problems = append(l.problems, err.Error())
		return
	}
	now := time.Now()
	l.lastRes = now
	if x := l.isos[res.ID]; x != nil {
		l.complete(x, c, now)
		return
	}
	l.early[res.ID] = append(l.early[res.ID], c)
}

func (l *procLoad) complete(x *procIso, c *cluster.Completion, at time.Time) {
	if len(x.results) == 0 {
		x.resultAt = at
	}
	x.results = append(x.results, c)
}

func (l *procLoad) event(m *nats.Msg) {
	e, ce, ok := eventOf(m, 0)
	if !ok {
		return
	}
	switch ce.Kind {
	case cluster.EvArrived:
		l.migrations++
		if e.DowntimeNS > 0 {
			l.downtimes = append(l.downtimes, e.DowntimeNS)
		}
		if x := l.isos[e.ID]; x != nil {
			x.where = ce.Node
		}
	case cluster.EvFenced:
		l.fenced++
	}
}

// pickMigration picks a random submitted isolate not completed yet, and
// a random running node other than where it was last seen.
func (l *procLoad) pickMigration(rng *rand.Rand) (string, cluster.NodeID, bool) {
	if len(l.order) == 0 {
		return "", 0, false
	}
	nodes := l.pn.running()
	for range 8 {
		x := l.isos[l.order[rng.IntN(len(l.order))]]
		if len(x.results) > 0 || x.killed || len(nodes) < 2 {
			continue
		}
		to := nodes[rng.IntN(len(nodes))]
		if to != x.where {
			return x.id, to, true
		}
	}
	return "", 0, false
}

// settledCount is how many isolates are completed or, as far as the
// ledger said at its last reading, lost with a killed node.
func (l *procLoad) settledCount() int {
	n := 0
	for _, x := range l.isos {
		if len(x.results) > 0 || x.killed {
			n++
		}
	}
	return n
}

// accounted reports whether every submitted isolate is completed or lost
// with a killed node: each one not completed is looked up in the ledger,
// at most every procAuditPeriod.
func (l *procLoad) accounted(ctx context.Context) bool {
	if n := l.settledCount(); n == len(l.isos) {
		return true
	}
	if time.Since(l.audited) < procAuditPeriod {
		return false
	}
	l.audited = time.Now()
	all := true
	for _, x := range l.isos {
		if len(x.results) > 0 || x.killed {
			continue
		}
		e, err := l.read(ctx, x)
		x.killed = err == nil && l.pn.killedNode(cluster.NodeID(e.Owner))
		all = all && x.killed
	}
	return all
}

// read reads x's ledger entry.
func (l *procLoad) read(ctx context.Context, x *procIso) (ledger.Entry, error) {
	id, err := member.ParseID(x.id)
	if err != nil {
		return ledger.Entry{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, procLedgerTimeout)
	defer cancel()
	return l.pn.led.Get(rctx, ledger.IsolateID(id))
}

// chaos kills or pauses a random running node at random intervals, never
// leaving fewer than minChaosNodes-1 running nor acting on a node
// continued less than the failure detector's timeout ago, which is still
// catching up, and stops after chaosActionsPerNode actions per node. A
// killed node is replaced by a new one with the next unused id (while
// there are ids left), a paused one continued after longer than the
// failure detector's timeout. It reports each action on actions, and
// returns once it is done or stop is closed, every paused node continued.
func (l *procLoad) chaos(stop <-chan struct{}, actions chan<- chaosAction, rng *rand.Rand) {
	pn := l.pn
	var paused sync.WaitGroup
	resumeNow := make(chan struct{})
	defer func() {
		close(resumeNow)
		paused.Wait()
	}()
	for acted := 0; acted < chaosActionsPerNode*l.o.nodes; {
		t := time.NewTimer(chaosMinInterval + time.Duration(rng.Int64N(int64(chaosMaxInterval-chaosMinInterval))))
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		victims := pn.victims()
		if len(pn.running()) < minChaosNodes || len(victims) == 0 {
			continue
		}
		victim := victims[rng.IntN(len(victims))]
		a := chaosAction{At: time.Since(l.start), Node: victim.String()}
		if rng.IntN(2) == 0 && pn.idsLeft() {
			a.Kind = "kill"
			if err := pn.kill(victim); err != nil {
				pn.problem("killing %v: %v", victim, err)
				continue
			}
			c, err := pn.spawn()
			if err != nil {
				pn.problem("starting a node in place of %v: %v", victim, err)
			} else {
				a.Replaced = c.id.String()
			}
		} else {
			a.Kind = "pause"
			a.Paused = procDetectTimeout + chaosMinPause + time.Duration(rng.Int64N(int64(chaosMaxPause-chaosMinPause)))
			if err := pn.pause(victim); err != nil {
				pn.problem("pausing %v: %v", victim, err)
				continue
			}
			paused.Go(func() {
				t := time.NewTimer(a.Paused)
				select {
				case <-t.C:
				case <-resumeNow:
					t.Stop()
				}
				if err := pn.resume(victim); err != nil {
					pn.problem("continuing %v: %v", victim, err)
				}
			})
		}
		actions <- a
		acted++
	}
}

// report does the final accounting, the nodes stopped: every isolate
// completed once with the straight run's result, or lost with a node the
// chaos killed, as the ledger has it; anything else is the protocol's.
func (l *procLoad) report() *procLoadReport {
	o, pn := l.o, l.pn
	r := &procLoadReport{Nodes: o.nodes, Workers: o.workers, Isolates: o.isolates, Size: o.size, Seed: o.seed,
		MigrateRate: o.migrateRate, Quantum: pn.quantum, Chaos: o.chaos, Transport: transportNATS, Server: pn.url,
		Submitted: len(l.isos), SubmitFailedKilled: l.submitFailedKilled, SubmitFailed: l.submitFailed,
		Migrations: l.migrations, Fenced: l.fenced, ForcedAsked: l.forcedAsked, ForcedDone: l.forcedDone,
		Downtime: distOfSamples(l.downtimes), Actions: l.actions, TimedOut: l.timedOut,
		lines: machine.Lines(), void: map[string]bool{}, desc: pn.describe()}
	r.Problems = append(append(r.Problems, l.problems...), pn.problemList()...)
	pn.mu.Lock()
	r.NodesStarted = int(pn.next)
	pn.mu.Unlock()
	for _, a := range l.actions {
		switch a.Kind {
		case "kill":
			r.Kills++
			if a.Replaced != "" {
				r.Restarts++
			}
		case "pause":
			r.Pauses++
		}
	}
	stats := map[*loadgen.Job]*procJobStat{}
	for _, j := range l.jobs {
		stats[j] = &procJobStat{Name: j.Name, Known: j.Known, Straight: j.Result, Steps: j.Steps}
		r.void[j.Name] = j.Prog.Result() == engine.KindVoid
	}
	// The nodes are stopped: the ledger is final. Its reads are bounded
	// all together, so that a ledger that no longer answers cannot hold
	// the report for each isolate in turn.
	ctx, cancel := context.WithTimeout(context.Background(), procAccountTimeout)
	defer cancel()
	var latencies []int64
	for _, id := range l.order {
		x := l.isos[id]
		st := stats[x.job]
		st.Isolates++
		switch len(x.results) {
		case 0:
			e, err := l.read(ctx, x)
			switch {
			case errors.Is(err, ledger.ErrNotFound):
				r.Unexplained = append(r.Unexplained, fmt.Sprintf("%s: not in the ledger, though %v answered its submission", id, x.node))
			case err != nil:
				r.Unexplained = append(r.Unexplained, fmt.Sprintf("%s: reading the ledger: %v", id, err))
			case pn.killedNode(cluster.NodeID(e.Owner)):
				r.LostKilled = append(r.LostKilled, id)
				st.LostKilled++
			case e.State == ledger.Finished:
				r.Unexplained = append(r.Unexplained, fmt.Sprintf("%s: finished by %v at epoch %d, which was not killed, but its completion never came",
					id, cluster.NodeID(e.Owner), e.Epoch))
			default:
				r.Unexplained = append(r.Unexplained, fmt.Sprintf("%s: %s on %v at epoch %d, which was not killed, and it did not complete",
					id, e.State, cluster.NodeID(e.Owner), e.Epoch))
			}
			continue
		case 1:
		default:
			r.Duplicated = append(r.Duplicated, fmt.Sprintf("%s: %d completions", id, len(x.results)))
		}
		r.Completed++
		st.Completed++
		latencies = append(latencies, int64(x.resultAt.Sub(x.answered)))
		bad := false
		for _, c := range x.results {
			if err := x.job.Check(c); err != nil && !bad {
				r.Wrong = append(r.Wrong, fmt.Sprintf("isolate %s: %v", id, err))
				bad = true
			}
		}
		if !bad {
			r.Correct++
			st.Correct++
		}
	}
	// Completions of isolates no submission was answered with: spawned by
	// a node the chaos killed before it answered, they are orphans;
	// anything else is unexplained.
	for id, cs := range l.early {
		sid, err := member.ParseID(id)
		if err == nil && pn.killedNode(cluster.NodeID(ledger.IsolateID(sid).Spawner())) {
			r.Orphans += len(cs)
			continue
		}
		r.Unexplained = append(r.Unexplained, fmt.Sprintf("%s: %d completions of an isolate no submission was answered with", id, len(cs)))
	}
	slices.Sort(r.Unexplained)
	r.Latency = distOfSamples(latencies)
	if !l.lastRes.IsZero() {
		r.Elapsed = l.lastRes.Sub(l.start)
	}
	if r.Elapsed > 0 {
		r.Throughput = float64(r.Completed) / r.Elapsed.Seconds()
	}
	for _, j := range l.jobs {
		if stats[j].Isolates > 0 {
			r.Jobs = append(r.Jobs, *stats[j])
		}
	}
	r.Machine = map[string]string{}
	for _, ln := range r.lines {
		r.Machine[ln.Key] = ln.Value
	}
	r.Verdict = "PASS"
	if !r.ok() {
		r.Verdict = "FAIL"
	}
	return r
}

// distOfSamples is the distribution of samples (nearest rank).
func distOfSamples(s []int64) cluster.Dist {
	if len(s) == 0 {
		return cluster.Dist{}
	}
	s = slices.Clone(s)
	slices.Sort(s)
	at := func(q float64) int64 {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	var sum float64
	for _, v := range s {
		sum += float64(v)
	}
	return cluster.Dist{Count: int64(len(s)), Mean: sum / float64(len(s)), P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999), Max: s[len(s)-1]}
}

// writeProcLoadReport writes the text report.
func writeProcLoadReport(w io.Writer, o *options, r *procLoadReport) {
	what := fmt.Sprintf("%d workloads, %s", len(r.Jobs), o.size)
	if o.program != "" {
		what = o.program
	}
	fmt.Fprintf(w, "knoten-init --cluster-sim --load --procs: %d isolates (%s) on %d node processes x %d workers, submitted round robin, seed %d\n",
		r.Isolates, what, r.Nodes, r.Workers, r.Seed)
	fmt.Fprintf(w, "transport %s; stealing on; forced migrations %g/s; quantum %d instructions; failure detector: heartbeat %v, timeout %v\n",
		r.desc, r.MigrateRate, r.Quantum, procDetectPeriod, procDetectTimeout)
	if r.Chaos {
		fmt.Fprintf(w, "chaos: %d actions, every %v to %v: SIGKILL a running node (a node with a new id takes its place) or SIGSTOP one for %v to %v; at least %d running\n",
			chaosActionsPerNode*r.Nodes, chaosMinInterval, chaosMaxInterval, procDetectTimeout+chaosMinPause, procDetectTimeout+chaosMaxPause, minChaosNodes-1)
	}
	fmt.Fprintln(w)
	t := newTable(w)
	t.Header("figure", "value")
	row := func(k string, format string, args ...any) { t.Append(k, fmt.Sprintf(format, args...)) }
	row("elapsed (first submission to last completion)", "%s", fmtDur(r.Elapsed))
	row("throughput", "%.1f isolates/s", r.Throughput)
	row("submitted (failed: node killed / otherwise)", "%d of %d (%d / %d)", r.Submitted, r.Isolates, r.SubmitFailedKilled, len(r.SubmitFailed))
	row("completed", "%d of %d", r.Completed, r.Submitted)
	row("correct (= straight run, = known value)", "%d of %d", r.Correct, r.Completed)
	row("lost with a killed node (the ledger's owner)", "%d", len(r.LostKilled))
	row("lost by the protocol / duplicated / wrong", "%d / %d / %d", len(r.Unexplained), len(r.Duplicated), len(r.Wrong))
	row("completions of submissions whose node was killed", "%d", r.Orphans)
	row("migrations (arrived) / fenced", "%d / %d", r.Migrations, r.Fenced)
	row("forced migrations (asked / done)", "%d / %d", r.ForcedAsked, r.ForcedDone)
	if r.Chaos {
		row("chaos (kills / pauses / restarts)", "%d / %d / %d", r.Kills, r.Pauses, r.Restarts)
	}
	row("node processes started", "%d", r.NodesStarted)
	t.Render()

	fmt.Fprintln(w)
	t = newTable(w)
	t.Header("distribution", "samples", "p50", "p90", "p99", "max")
	ns := func(v int64) string { return fmtDur(time.Duration(v)) }
	for _, d := range []struct {
		name string
		d    cluster.Dist
	}{
		{"migration downtime (halt request to runnable on the target, wall clock)", r.Downtime},
		{"completion latency (submission answered to completion, at the coordinator)", r.Latency},
	} {
		t.Append(d.name, fmt.Sprint(d.d.Count), ns(d.d.P50), ns(d.d.P90), ns(d.d.P99), ns(d.d.Max))
	}
	t.Render()

	fmt.Fprintln(w)
	t = newTable(w)
	t.Header("workload", "isolates", "completed", "correct", "lost (killed node)", "known", "straight run", "instructions")
	for _, j := range r.Jobs {
		known, straight := j.Known, j.Straight
		if known == "" {
			known = "-"
		}
		if r.void[j.Name] {
			straight = "(none)"
		}
		t.Append(j.Name, fmt.Sprint(j.Isolates), fmt.Sprint(j.Completed), fmt.Sprint(j.Correct), fmt.Sprint(j.LostKilled), known, straight, fmt.Sprint(j.Steps))
	}
	t.Render()

	fmt.Fprintln(w)
	t = newTable(w)
	t.Header("machine", "")
	for _, ln := range r.lines {
		t.Append(ln.Key, ln.Value)
	}
	t.Render()

	for _, a := range r.Actions {
		switch a.Kind {
		case "kill":
			by := "no node id left to replace it"
			if a.Replaced != "" {
				by = a.Replaced + " started in its place"
			}
			fmt.Fprintf(w, "chaos:    %s SIGKILL %s; %s\n", fmtDur(a.At), a.Node, by)
		case "pause":
			fmt.Fprintf(w, "chaos:    %s SIGSTOP %s, SIGCONT after %s\n", fmtDur(a.At), a.Node, fmtDur(a.Paused))
		}
	}
	list := func(label string, l []string) {
		for i, s := range l {
			if i == 10 {
				fmt.Fprintf(w, "%s ... and %d more\n", label, len(l)-10)
				break
			}
			fmt.Fprintf(w, "%s %s\n", label, s)
		}
	}
	list("submit:  ", r.SubmitFailed)
	list("wrong:   ", r.Wrong)
	list("duplicated:", r.Duplicated)
	list("lost:    ", r.Unexplained)
	list("problem: ", r.Problems)
	fmt.Fprintf(w, "\naccounting: %d submitted = %d completed + %d lost with a killed node + %d lost by the protocol; %d duplicated, %d wrong\n",
		r.Submitted, r.Completed, len(r.LostKilled), len(r.Unexplained), len(r.Duplicated), len(r.Wrong))
	fmt.Fprintf(w, "verdict:  %s\n", r.Verdict)
}
