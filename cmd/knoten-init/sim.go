package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/loadgen"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/workloads"
)

// defaultSimWorkload is the computation --cluster-sim runs unless told
// otherwise: s = (s + i*i) % 1000003 for i < N, about 5 instructions per
// iteration, with its known result from the native twin.
const (
	defaultSimWorkload = "loop"
	defaultSimN        = 1_000_000
)

// hopPlan says when each migration happens: after the given fraction of the
// straight run's instructions, to node To.
var hopPlan = [...]struct {
	to       cluster.NodeID
	fraction float64
}{{1, 0.25}, {2, 0.60}}

// Outcomes of a planned hop.
const (
	hopDone        = "done"         // halted, verified by the target, running there, source copy dropped
	hopNotPossible = "not possible" // the straight run ends before a safepoint at or after the planned stop
	hopNotTaken    = "not taken"    // the isolate finished, or its route ended, before the hop
	hopFailed      = "failed"       // the handoff failed and the source resumed the isolate
	hopTimedOut    = "timed out"    // halted, but the handoff had not ended when --timeout ran out
)

// simHop is one planned migration as the report shows it.
type simHop struct {
	From          cluster.NodeID `json:"-"`
	To            cluster.NodeID `json:"-"`
	FromNode      string         `json:"from"` // From as the report names nodes: n0
	ToNode        string         `json:"to"`
	Outcome       string         `json:"outcome"`
	Note          string         `json:"note,omitempty"`
	Stop          uint64         `json:"planned_stop"`        // park at the first safepoint at or after this instruction count
	PlannedAt     uint64         `json:"planned_at"`          // where the straight run reaches that safepoint; 0: it does not
	PC            uint32         `json:"pc"`                  // where the isolate halted
	Steps         uint64         `json:"instructions"`        // how many instructions it had run then
	Bytes         int            `json:"bytes"`               // the OFFER's size
	SentHash      string         `json:"state_hash"`          // the state hash the source sent
	ArrivedHash   string         `json:"verified_hash"`       // the state hash the target verified
	StraightHash  string         `json:"straight_state_hash"` // the straight run's state hash at the same instruction
	Verified      bool           `json:"verified"`            // the target verified the hash the source sent
	Straight      bool           `json:"matches_straight"`    // and it is the straight run's
	Downtime      time.Duration  `json:"downtime_ns"`
	Epoch         uint64         `json:"epoch"`
	SourceDropped bool           `json:"source_dropped"`
	Attempts      int            `json:"attempts"`                  // handoff attempts made (halts); the fields above are the last one's
	Failed        []failedTry    `json:"failed_attempts,omitempty"` // the attempts that failed safely (the last too, if it did)

	plannedHash [32]byte // the straight run's state hash at PlannedAt
	sent, got   [32]byte
	halted      bool
	arrived     bool
	running     bool
	resumed     bool
	wrongNode   cluster.NodeID
	haltedAt    time.Duration // clock readings of the last attempt's halt and resume
	resumedAt   time.Duration
	retry       retryState // what became of the request for the next attempt, once the last failed
	retryErr    error
}

// failedTry is one failed attempt of a hop: the source halted the isolate
// and offered it, the target never took it, and the source resumed it.
type failedTry struct {
	Attempt int            `json:"attempt"`
	Epoch   uint64         `json:"epoch"`
	PC      uint32         `json:"pc"`
	Steps   uint64         `json:"instructions"`
	After   time.Duration  `json:"failed_after_ns"` // halt → the source resumed the isolate
	Source  cluster.NodeID `json:"-"`
	Why     string         `json:"why"`
}

// retryState is what became of the request for a hop's next attempt.
type retryState uint8

const (
	retryNone   retryState = iota // none asked: no attempt failed, or none is left
	retryAsked                    // the source took the request; the isolate halts for it at its next safepoint, unless it finishes first
	retryGone                     // the isolate had finished when the request came
	retryFailed                   // the request failed (retryErr)
)

// simReport is the outcome of --cluster-sim.
type simReport struct {
	Nodes        int      `json:"nodes"`
	Transport    string   `json:"transport"`        // sim or nats
	Server       string   `json:"server,omitempty"` // with nats: the server's URL
	Program      string   `json:"program"`
	Description  string   `json:"description"`
	Known        string   `json:"known_result"`
	Straight     string   `json:"straight_result"`
	StraightHash string   `json:"straight_state_hash"`
	Steps        uint64   `json:"instructions"`
	Hops         []simHop `json:"hops"`
	Result       string   `json:"result"`
	ResultNode   string   `json:"completed_on"`
	FinalHash    string   `json:"final_state_hash"`
	Notes        []string `json:"notes"`
	Problems     []string `json:"problems"`
	Verdict      string   `json:"verdict"`
	// NATS is, with nats, what the transport did. Its connections'
	// asynchronous errors (a permissions violation, say) are listed, not
	// problems: the hops' checks decide whether the run passes.
	NATS *natsStats `json:"nats,omitempty"`
	// Ledger is, with nats, the isolate's entry in the ownership ledger
	// once it completed.
	Ledger *ledgerEntry `json:"ledger,omitempty"`

	void    bool   // main returns nothing: results print as (none)
	network string // the header's account of the network: the simulated link, or the NATS server
}

// MarshalJSON gives a main that returns nothing "void": true and null
// results, where the text report shows (none); a result that never came,
// or a known result there is none of, is null too. Nodes are named as in
// the text report: n0.
func (r simReport) MarshalJSON() ([]byte, error) {
	type plain simReport
	out := struct {
		plain
		Known    *string  `json:"known_result"`
		Straight *string  `json:"straight_result"`
		Result   *string  `json:"result"`
		Void     bool     `json:"void"`
		Notes    []string `json:"notes"`
		Problems []string `json:"problems"`
	}{plain: plain(r), Void: r.void, Notes: append([]string{}, r.Notes...), Problems: append([]string{}, r.Problems...)}
	if r.Known != "" {
		out.Known = &r.Known
	}
	if !r.void {
		out.Straight = &r.Straight
		if r.ResultNode != "" {
			out.Result = &r.Result
		}
	}
	out.Hops = append([]simHop(nil), r.Hops...)
	for i := range out.Hops {
		out.Hops[i].FromNode, out.Hops[i].ToNode = out.Hops[i].From.String(), out.Hops[i].To.String()
	}
	return json.Marshal(out)
}

func shortHash(h [32]byte) string { return hex.EncodeToString(h[:8]) }

// simJob is the job --cluster-sim runs: --program or the default workload,
// each run straight under --max-steps and --timeout first.
func simJob(ctx context.Context, o *options) (*loadgen.Job, string, error) {
	if o.program != "" {
		j, err := fileJob(ctx, o, o.program, 1)
		return j, "program from " + o.program, err
	}
	wl, err := workloads.Sized(defaultSimWorkload, defaultSimN)
	if err != nil {
		return nil, "", err
	}
	j, err := boundedJob(ctx, o, wl.Name, wl.Filename(), wl.Source, wl.Result, 1)
	return j, workloads.Describe(defaultSimWorkload), err
}

// planHops finds, in a straight run, where each hop of hopPlan halts: the
// first safepoint at or after its planned stop. A hop's stop comes after
// the halt point of the hop before, so that the isolate runs on every node
// it visits. A hop whose stop the program never reaches at a safepoint is
// not possible, and neither is any after it.
func planHops(ctx context.Context, o *options, job *loadgen.Job) ([]simHop, error) {
	hops := make([]simHop, len(hopPlan))
	from := cluster.NodeID(0)
	for i, hp := range hopPlan {
		hops[i].From, hops[i].To, hops[i].Outcome = from, hp.to, hopNotPossible
		from = hp.to
	}
	stopFor := func(i int, after uint64) uint64 {
		return max(uint64(hopPlan[i].fraction*float64(job.Steps)), after+1)
	}
	i := 0
	hops[0].Stop = stopFor(0, 0)
	_, err := straightRun(ctx, o, job.Prog, hops[0].Stop, func(st *engine.State) uint64 {
		hops[i].PlannedAt, hops[i].plannedHash, hops[i].Outcome = st.Steps, st.Hash(), hopNotTaken
		if i++; i == len(hops) {
			return 0
		}
		hops[i].Stop = stopFor(i, st.Steps)
		return hops[i].Stop
	})
	for ; i < len(hops); i++ {
		if hops[i].Stop == 0 {
			hops[i].Stop = stopFor(i, hops[i-1].PlannedAt)
		}
		hops[i].Note = fmt.Sprintf("the program ends at instruction %d with no safepoint (a call or a backward branch) at or after instruction %d", job.Steps, hops[i].Stop)
		if i > 0 && hops[i-1].Outcome == hopNotPossible {
			hops[i].Note = fmt.Sprintf("hop %d is not possible", i)
		}
	}
	return hops, err
}

// newCluster starts the sim's cluster; a test can stand in for it.
var newCluster = cluster.New

// simHeartbeat is the sim's load gossip period for a cluster of n nodes.
// Every node tells every other its load each period (an idle one every 50
// periods), n² messages: at the default 1 ms, a few hundred nodes keep the
// cores busy with gossip, and n0's driver handles the request for the
// first hop only after the isolate has run past its stop, or finished.
// The sim does not steal, which is what the gossip is for, so the period
// grows with n² to keep the gossip to a small share of a core.
func simHeartbeat(n int) time.Duration {
	return max(time.Millisecond, time.Duration(n*n)*2500*time.Nanosecond)
}

// settle waits, within ctx, until n0's driver answers a request within
// settleRTT, asking it for the isolates it holds (none yet) at a time, at
// most settleProbes times: a new cluster's nodes start with a burst of
// heartbeats, and a request that waits behind it reaches n0 after the
// isolate has run past its first stop. The probe is the path the hops'
// request takes, an event posted to n0 and answered by its driver, and
// nothing else: a spawn would time the ledger's round trip too, over
// NATS. It gives up quietly: the hops then halt late, and the notes say
// by how much.
func settle(ctx context.Context, c *cluster.Cluster) error {
	for i := 0; i < settleProbes && ctx.Err() == nil; i++ {
		t0 := time.Now()
		if _, err := c.Isolates(0); err != nil {
			return err
		}
		if time.Since(t0) < settleRTT {
			break
		}
	}
	return nil
}

const (
	settleRTT    = 200 * time.Microsecond
	settleProbes = 1000
)

func runSim(ctx context.Context, o *options, w io.Writer) (err error) {
	job, desc, err := simJob(ctx, o)
	if err != nil {
		return err
	}
	hops, err := planHops(ctx, o, job)
	if err != nil {
		return err
	}
	// Over NATS the server and the nodes' connections come up before the
	// cluster and go down after it (defers run last first), on every path.
	var nn *natsNet
	if o.transport == transportNATS {
		if nn, err = startNATS(ctx, o, o.nodes); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, nn.close()) }()
	}

	events := make(chan cluster.Event, 4096)
	cfg := cluster.Config{
		Nodes: o.nodes, Workers: o.workers, Quantum: o.quantum, Link: o.link(), Seed: o.seed, Limits: o.limits(),
		NoSteal:   true, // the isolate goes only where this run sends it
		Heartbeat: simHeartbeat(o.nodes),
		OnEvent: func(e cluster.Event) {
			select {
			case events <- e:
			default:
			}
		},
	}
	if nn != nil {
		cfg.Transport, cfg.Ledger = nn.tr, nn.led
	}
	// Starting, spawning on and closing a cluster of thousands of nodes
	// takes seconds and no context: under --timeout each runs in a
	// goroutine, abandoned if the time runs out.
	start := newCluster
	c, err := inPhase(ctx, o, fmt.Sprintf("while starting the cluster of %d nodes", o.nodes), func() (*cluster.Cluster, error) {
		return start(cfg), nil
	})
	if err != nil {
		return err
	}
	defer func() {
		if ctx.Err() != nil {
			go c.Close()
			return
		}
		c.Close()
	}()
	r := &simReport{Nodes: o.nodes, Transport: o.transport, Program: job.Name, Description: desc, Known: job.Known, Straight: job.Result,
		StraightHash: shortHash(job.Hash), Steps: job.Steps, Hops: hops, void: job.Prog.Result() == engine.KindVoid,
		network: "link " + linkString(o.link())}
	if nn != nil {
		r.Server, r.network = nn.url, "transport "+nn.describe()
	}
	problem := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }

	var route []simHop // the possible hops
	for _, h := range hops {
		if h.Outcome != hopNotPossible {
			route = append(route, h)
		}
	}
	// The first stop is asked for after the spawn, and a worker may run the
	// isolate meanwhile: a short program can pass the stop, or finish,
	// before the request takes effect. Those are explained, not failures.
	// ask asks for hop i and plans the hops after it in the same request,
	// as a route: the isolate carries it on. A failed hop ends the route,
	// and asking for it again plans the rest again. A stop the isolate has
	// passed (a retry's) parks it at its next safepoint.
	ask := func(id cluster.IsolateID, i int) error {
		var then []cluster.Stop
		for _, h := range route[i+1:] {
			then = append(then, cluster.Stop{To: h.To, At: h.Stop})
		}
		return c.MigrateAt(id, route[i].To, route[i].Stop, then...)
	}
	var late why
	id, err := inPhase(ctx, o, "while spawning the isolate", func() (cluster.IsolateID, error) {
		if err := settle(ctx, c); err != nil {
			return 0, err
		}
		id, err := c.Spawn(0, job.Prog)
		if err != nil || len(route) == 0 {
			return id, err
		}
		late.quantum, late.stop, late.steps = c.Config().Quantum, route[0].PlannedAt, job.Steps
		switch err := ask(id, 0); {
		case err == nil:
			late.asked = true
		case errors.Is(err, cluster.ErrNoSuchIsolate):
			late.gone = true
			route = nil
		default:
			return 0, fmt.Errorf("planning the hops: %w", err)
		}
		return id, nil
	})
	if err != nil {
		return err
	}
	track := newHopTracker(id, hops[:len(route)], o.hopAttempts, c.Config().OfferTimeout)
	comp, err := followHops(ctx, o, events, track, func(i int) error { return ask(id, i) })
	if err != nil {
		problem("%v", err)
	}
	if errors.Is(err, errTimeout) {
		late.timeout = fmt.Sprintf("--timeout %v ran out before the isolate reached the hop", o.timeout)
	}
	var done *cluster.Completion
	if comp.Kind == cluster.EvCompleted {
		for _, c := range c.Outcome().Completed {
			if c.ID == id {
				done = c
			}
		}
		if done == nil {
			problem("no completion recorded")
		}
	}
	checkHops(ctx, o, r, job, done, late, problem)
	if nn != nil {
		r.NATS = nn.stats()
		if done != nil {
			r.Ledger = checkLedger(ctx, nn.led, done, r.Hops, problem)
		}
	}

	return reportSim(w, o, r)
}

// reportSim gives the verdict and writes the report, as JSON with --json.
func reportSim(w io.Writer, o *options, r *simReport) error {
	r.Verdict = "PASS"
	if len(r.Problems) > 0 {
		r.Verdict = "FAIL"
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		writeSimReport(w, o, r)
	}
	if n := len(r.Problems); n > 0 { // the report lists them
		return fmt.Errorf("cluster-sim: FAIL (%d %s, in the report)", n, plural(n, "problem"))
	}
	return nil
}

// hopTracker follows the isolate's events hop by hop and attempt by
// attempt, and decides when a hop is asked for again: a handoff that
// fails safely (the source resumes the isolate) is retried, as soon as its
// resume is seen, until the hop has made maxAttempts attempts. Events are
// matched to attempts by epoch, which every attempt bumps: a node emits
// the halt of an epoch before anything else of it happens (the target's
// arrival and run follow the OFFER the halt sent), so the halt is always
// seen first. It only decides; followHops places the requests.
type hopTracker struct {
	id           cluster.IsolateID
	hops         []simHop // the possible hops, in route order
	maxAttempts  int
	offerTimeout time.Duration  // the source aborts a handoff no ACK answered in this long
	byEpoch      map[uint64]int // the hop of the attempt that halted at each epoch
	next         int            // the first hop that may still halt
	comp         cluster.Event  // the completion, once seen
}

func newHopTracker(id cluster.IsolateID, hops []simHop, maxAttempts int, offerTimeout time.Duration) *hopTracker {
	return &hopTracker{id: id, hops: hops, maxAttempts: max(maxAttempts, 1), offerTimeout: offerTimeout, byEpoch: map[uint64]int{}}
}

// observe takes the next event and returns the hop to ask for again, or -1.
func (t *hopTracker) observe(e cluster.Event) int {
	if e.ID != t.id {
		return -1
	}
	switch e.Kind {
	case cluster.EvCompleted:
		t.comp = e
		return -1
	case cluster.EvHalted:
		i := t.hopOf(e)
		if i < 0 {
			return -1
		}
		h := &t.hops[i]
		h.Attempts++
		h.halted, h.PC, h.Steps, h.Bytes, h.Epoch, h.sent, h.haltedAt = true, e.PC, e.Steps, e.Bytes, e.Epoch, e.Hash, e.At
		h.arrived, h.running, h.resumed, h.SourceDropped = false, false, false, false
		h.got, h.Downtime, h.wrongNode, h.resumedAt, h.retry, h.retryErr = [32]byte{}, 0, 0, 0, retryNone, nil
		t.byEpoch[e.Epoch], t.next = i, i
		return -1
	}
	i, ok := t.byEpoch[e.Epoch]
	if !ok || t.hops[i].Epoch != e.Epoch {
		return -1
	}
	h := &t.hops[i]
	switch e.Kind {
	case cluster.EvArrived:
		h.arrived, h.got = true, e.Hash
		if e.Node != h.To {
			h.wrongNode = e.Node + 1
		}
	case cluster.EvRunning:
		h.running, h.Downtime = true, e.Downtime
	case cluster.EvMigrated:
		h.SourceDropped = true
	case cluster.EvResumed:
		if h.resumed {
			return -1
		}
		h.resumed, h.resumedAt = true, e.At
		h.Failed = append(h.Failed, failedTry{Attempt: h.Attempts, Epoch: h.Epoch, PC: h.PC, Steps: h.Steps,
			After: h.resumedAt - h.haltedAt, Source: e.Node, Why: t.whyFailed(h)})
		if h.Attempts < t.maxAttempts {
			h.retry = retryAsked // until retried says otherwise
			return i
		}
	}
	return -1
}

// hopOf returns the hop a halt is an attempt of: the first hop, from the
// one in progress on, that moves from the halting node to its peer.
func (t *hopTracker) hopOf(e cluster.Event) int {
	for i := t.next; i < len(t.hops); i++ {
		if t.hops[i].From == e.Node && t.hops[i].To == e.Peer {
			return i
		}
	}
	return -1
}

// whyFailed says why hop h's last attempt, just resumed, failed. The
// source resumes only on the target's NACK (it refused the isolate) or
// after its offer timeout, an ABORT and the target's ABORTED (it had not
// taken it); the events do not say which, the time it took does: a NACK
// comes in about a round trip, unless its copies were lost too.
func (t *hopTracker) whyFailed(h *simHop) string {
	after := h.resumedAt - h.haltedAt
	how := fmt.Sprintf("%v refused the OFFER (NACK) after %s", h.To, fmtDur(after))
	switch {
	case t.offerTimeout <= 0:
		how = fmt.Sprintf("%v did not take it (a NACK, or no ACK within the offer timeout); the handoff failed after %s", h.To, fmtDur(after))
	case after >= t.offerTimeout:
		how = fmt.Sprintf("no ACK from %v within the offer timeout (%s), so %v aborted, and %v answered it had not taken the isolate; the handoff failed after %s", h.To, fmtDur(t.offerTimeout), h.From, h.To, fmtDur(after))
	case after >= t.offerTimeout/2:
		how = fmt.Sprintf("%v did not take it (a NACK, or no ACK within the offer timeout of %s); the handoff failed after %s", h.To, fmtDur(t.offerTimeout), fmtDur(after))
	}
	return fmt.Sprintf("halted at instruction %d (epoch %d); %s; %v kept the isolate and resumed it", h.Steps, h.Epoch, how, h.From)
}

// retried records what became of the request for hop i's next attempt.
func (t *hopTracker) retried(i int, err error) {
	h := &t.hops[i]
	switch {
	case err == nil:
		h.retry = retryAsked
	case errors.Is(err, cluster.ErrNoSuchIsolate):
		h.retry = retryGone
	default:
		h.retry, h.retryErr = retryFailed, err
	}
}

// inFlight says whether hop h's last attempt has not ended: halted, and
// neither resumed nor arrived, running and dropped by its source.
func (h *simHop) inFlight() bool {
	return h.halted && !h.resumed && !(h.arrived && h.running && h.SourceDropped)
}

// settled says whether the isolate has completed and every attempt that
// started has ended. Events from different nodes may come in any order
// (the completion on a target before its source's drop), so nothing is
// concluded until all of them are in. A retry asked for halts, if it
// does, before the isolate can complete.
func (t *hopTracker) settled() bool {
	if t.comp.Kind != cluster.EvCompleted {
		return false
	}
	for i := range t.hops {
		if t.hops[i].inFlight() {
			return false
		}
	}
	return true
}

// waitingFor says what the isolate's events have yet to tell.
func (t *hopTracker) waitingFor() string {
	for i := range t.hops {
		h := &t.hops[i]
		switch {
		case h.inFlight():
			return fmt.Sprintf("the end of hop %d, attempt %d (arrived %s, running %s, source dropped %s)", i+1, h.Attempts, yesNo(h.arrived), yesNo(h.running), yesNo(h.SourceDropped))
		case h.resumed && h.retry == retryAsked:
			return fmt.Sprintf("hop %d's attempt %d, asked for after attempt %d failed", i+1, h.Attempts+1, h.Attempts)
		}
	}
	return "the isolate's completion"
}

// followHops follows the isolate's events until it has completed and every
// hop attempt that started has ended, asking for a hop again (with retry)
// when the tracker says so. It returns the completion event, or an error
// if ctx ends first.
func followHops(ctx context.Context, o *options, events <-chan cluster.Event, t *hopTracker, retry func(hop int) error) (cluster.Event, error) {
	for !t.settled() {
		select {
		case e := <-events:
			if i := t.observe(e); i >= 0 {
				t.retried(i, retry(i))
			}
		case <-ctx.Done():
			what := t.waitingFor()
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return t.comp, fmt.Errorf("interrupted waiting for %s: %w", what, ctx.Err())
			}
			return t.comp, timeoutError(fmt.Sprintf("timed out after %v (--timeout) waiting for %s", o.timeout, what))
		}
	}
	return t.comp, nil
}

// why explains a hop that halted late or did not take place.
type why struct {
	// The first hop's request: n0 took it (asked), or the isolate had
	// finished (gone). A worker parks the isolate for it between quanta.
	asked, gone bool
	quantum     int64  // instructions per quantum
	stop        uint64 // the first hop's planned safepoint
	steps       uint64 // the isolate's instructions to the end
	timeout     string // why a hop the isolate did not reach did not take place: --timeout ran out
}

// quanta says how many quanta n instructions are.
func (l why) quanta(n uint64) string {
	return fmt.Sprintf("≈%.1f quanta of %d instructions", float64(n)/float64(max(l.quantum, 1)), l.quantum)
}

// halt explains why the first hop halted at instruction at, after its
// planned safepoint: within a quantum of it, the request came during the
// quantum in which the isolate passed that point; later, it came late.
func (l why) halt(at uint64) string {
	past := at - l.stop
	if past <= uint64(l.quantum) {
		return fmt.Sprintf("the request reached n0 during the quantum (%d instructions) in which the isolate passed that point", l.quantum)
	}
	return fmt.Sprintf("the request reached n0 about %d instructions (%s) after the planned stop, within a quantum of the halt", past, l.quanta(past))
}

// missed explains why the first hop did not take place, or is "".
func (l why) missed() string {
	after := l.steps - min(l.steps, l.stop)
	switch {
	case l.gone:
		return fmt.Sprintf("the request reached n0 after the isolate had finished there (%d instructions), %d instructions (%s) after the planned stop", l.steps, after, l.quanta(after))
	case l.asked && after <= uint64(l.quantum):
		return fmt.Sprintf("the request reached n0 during the quantum (%d instructions) in which the isolate passed the planned stop, and it finished in that quantum", l.quantum)
	case l.asked:
		early := after - uint64(l.quantum)
		return fmt.Sprintf("the request reached n0 during the isolate's last quantum (%d instructions), at least %d instructions (%s) after the planned stop, and it finished in that quantum", l.quantum, early, l.quanta(early))
	}
	return ""
}

// checkHops says what became of each hop and checks the run against the
// straight one.
func checkHops(ctx context.Context, o *options, r *simReport, job *loadgen.Job, out *cluster.Completion, late why, problem func(string, ...any)) {
	note := func(format string, args ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, args...)) }
	where := cluster.NodeID(0) // where the isolate should complete
	ended := ""                // why the route ended, if a hop failed
	taken := 0
	for i := range r.Hops {
		h := &r.Hops[i]
		switch {
		case h.Outcome == hopNotPossible:
			note("hop %d not possible: %s", i+1, h.Note)
			continue
		case ended != "":
			h.Outcome, h.Note = hopNotTaken, ended
		case !h.halted && i > 0 && r.Hops[i-1].Outcome == hopTimedOut:
			h.Outcome, h.Note = hopNotTaken, fmt.Sprintf("--timeout %v ran out before hop %d ended", o.timeout, i)
		case !h.halted && late.timeout != "" && (i == 0 || r.Hops[i-1].Outcome == hopDone):
			h.Outcome, h.Note = hopNotTaken, late.timeout
		case h.inFlight():
			// Only --timeout ends the wait for a hop that has not ended:
			// the one problem says so.
			h.Outcome, h.Note = hopTimedOut, fmt.Sprintf("the handoff had not ended when --timeout %v ran out", o.timeout)
		case !h.halted && i == 0 && late.missed() != "":
			h.Outcome, h.Note = hopNotTaken, late.missed()
		case !h.halted && i > 0 && r.Hops[i-1].Outcome != hopDone:
			h.Outcome, h.Note = hopNotTaken, fmt.Sprintf("hop %d did not take place", i)
		case !h.halted:
			h.Outcome, h.Note = hopNotTaken, "the isolate finished before the hop"
			problem("hop %d: not taken although hop %d was: the route was lost", i+1, i)
		case h.resumed && h.retry == retryNone: // no attempt left
			h.Outcome, h.Note = hopFailed, fmt.Sprintf("the handoff failed at %s; %v kept the isolate", attemptsString(h.Attempts), h.From)
			ended = fmt.Sprintf("hop %d failed, which ends the route", i+1)
			problem("hop %d failed: the handoff from %v to %v failed at %s (--hop-attempts %d; see the notes); %v kept the isolate and ran it on",
				i+1, h.From, h.To, attemptsString(h.Attempts), o.hopAttempts, h.From)
		case h.resumed && h.retry == retryFailed:
			h.Outcome, h.Note = hopFailed, fmt.Sprintf("attempt %d failed, and asking for attempt %d failed: %v", h.Attempts, h.Attempts+1, h.retryErr)
			ended = fmt.Sprintf("hop %d failed, which ends the route", i+1)
			problem("hop %d failed: attempt %d failed, and asking for attempt %d failed: %v", i+1, h.Attempts, h.Attempts+1, h.retryErr)
		case h.resumed && out == nil && late.timeout != "":
			h.Outcome, h.Note = hopTimedOut, fmt.Sprintf("attempt %d failed, and --timeout %v ran out before attempt %d halted the isolate", h.Attempts, o.timeout, h.Attempts+1)
		case h.resumed:
			// The isolate finished on the source before the next attempt's
			// request reached it, or before the next safepoint after it.
			h.Outcome, h.Note = hopNotTaken, fmt.Sprintf("attempt %d failed, and the isolate finished on %v before attempt %d could halt it", h.Attempts, h.From, h.Attempts+1)
		default:
			h.Outcome = hopDone
			where = h.To
			taken++
		}
		if h.Note != "" && h.Outcome != hopFailed { // a failure is a problem
			note("hop %d %s: %s", i+1, h.Outcome, h.Note)
		}
		for _, f := range h.Failed {
			again := "; asked for again"
			if f.Attempt == h.Attempts {
				again = ""
			}
			note("hop %d attempt %d of %d failed: %s%s", i+1, f.Attempt, o.hopAttempts, f.Why, again)
		}
		if h.Attempts > 1 && h.Outcome == hopDone {
			note("hop %d attempt %d of %d done: halted at instruction %d, the first safepoint at or after where its request found the isolate (attempt %d halted at instruction %d)",
				i+1, h.Attempts, o.hopAttempts, h.Steps, h.Attempts-1, h.Failed[h.Attempts-2].Steps)
		}
		if !h.halted {
			continue
		}
		h.SentHash, h.ArrivedHash = shortHash(h.sent), shortHash(h.got)
		h.Verified = h.arrived && h.sent == h.got && h.sent != [32]byte{}
		if h.wrongNode != 0 {
			problem("hop %d arrived on %v, not %v", i+1, h.wrongNode-1, h.To)
		}
		if h.arrived && !h.Verified {
			problem("hop %d: the target verified state hash %s, the source sent %s", i+1, h.ArrivedHash, h.SentHash)
		}
		if h.Steps == 0 || h.Steps >= job.Steps {
			problem("hop %d: halted after %d of %d instructions, not mid-run", i+1, h.Steps, job.Steps)
		}
		// Where the hop should halt: at its planned safepoint, unless the
		// isolate was already past it (the first hop's request came late,
		// or the hop before halted late), when it parks at once.
		want, since := h.PlannedAt, uint64(0)
		if i > 0 {
			since = r.Hops[i-1].Steps
		}
		if since >= h.Stop {
			want = since
		}
		switch {
		case h.Attempts > 1:
			// A retry parks the isolate where its request finds it: after
			// the attempt before, which halted at or after the stop.
			if prev := h.Failed[h.Attempts-2].Steps; h.Steps < prev {
				problem("hop %d attempt %d halted at instruction %d, before attempt %d's halt at instruction %d", i+1, h.Attempts, h.Steps, h.Attempts-1, prev)
			}
		case h.Steps == want:
		case i == 0 && h.Steps > want && late.asked:
			note("hop 1 halted at instruction %d, after its planned safepoint at instruction %d: %s", h.Steps, want, late.halt(h.Steps))
		case i > 0 && r.Hops[i-1].Steps > r.Hops[i-1].PlannedAt && h.Steps > want:
			note("hop %d halted at instruction %d, not %d, because hop %d did", i+1, h.Steps, want, i)
		default:
			problem("hop %d halted at instruction %d, want %d (the first safepoint at or after instruction %d)", i+1, h.Steps, want, h.Stop)
		}
		// The state sent must be the straight run's at the same instruction.
		straight := h.plannedHash
		if h.Steps != h.PlannedAt {
			var ok bool
			straight, ok = straightHashAt(ctx, o, job, h.Steps)
			if !ok {
				problem("hop %d: the straight run has no safepoint at instruction %d", i+1, h.Steps)
			}
		}
		h.StraightHash, h.Straight = shortHash(straight), straight == h.sent
		if !h.Straight {
			problem("hop %d: the state sent at instruction %d is not the straight run's there", i+1, h.Steps)
		}
	}
	// The default workload is there to be migrated: a lifecycle check
	// without a migration checks nothing. A --program may be too short.
	if taken == 0 && o.program == "" && late.timeout == "" {
		problem("none of the %d planned hops took place (see the notes), so no migration was checked", len(r.Hops))
	}
	if out == nil {
		return
	}
	r.Result, r.ResultNode, r.FinalHash = out.Result, out.Node.String(), shortHash(out.Hash)
	if err := job.Check(out); err != nil {
		problem("%v", err)
	}
	if out.Count != 1 {
		problem("completed %d times", out.Count)
	}
	if out.Node != where {
		problem("completed on %v, not on %v", out.Node, where)
	}
}

// straightHashAt returns the straight run's state hash at the safepoint at
// instruction steps, and whether it has one there.
func straightHashAt(ctx context.Context, o *options, job *loadgen.Job, steps uint64) ([32]byte, bool) {
	var h [32]byte
	ok := false
	_, err := straightRun(ctx, o, job.Prog, steps, func(st *engine.State) uint64 {
		h, ok = st.Hash(), st.Steps == steps
		return 0
	})
	return h, ok && err == nil
}

func newTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithSymbols(tw.NewSymbols(tw.StyleASCII)),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithHeaderAlignment(tw.AlignLeft))
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

func writeSimReport(w io.Writer, o *options, r *simReport) {
	result := func(s string) string {
		if r.void {
			return "(none)"
		}
		return s
	}
	fmt.Fprintf(w, "knoten-init --cluster-sim: %d nodes, %s\n", r.Nodes, r.network)
	fmt.Fprintf(w, "program:  %s (%s), %d instructions\n", r.Program, r.Description, r.Steps)
	known := r.Known
	if known == "" {
		known = "none (straight run only)"
	}
	fmt.Fprintf(w, "known:    %s\n", known)
	fmt.Fprintf(w, "straight: %s, final state hash %s\n\n", result(r.Straight), r.StraightHash)
	t := newTable(w)
	t.Header("hop", "move", "planned stop", "attempts", "halted at", "epoch", "bytes", "state hash", "verified", "= straight", "downtime")
	taken := 0
	for i, h := range r.Hops {
		move := fmt.Sprintf("%v -> %v", h.From, h.To)
		stop := fmt.Sprintf("instruction %d", h.Stop)
		if h.Steps == 0 {
			t.Append(fmt.Sprint(i+1), move, stop, "-", h.Outcome, "-", "-", "-", "-", "-", "-")
			continue
		}
		if h.Outcome == hopDone {
			taken++
		}
		at := fmt.Sprintf("pc %d, instruction %d", h.PC, h.Steps)
		if h.Outcome != hopDone {
			at += " (" + h.Outcome + ")"
		}
		t.Append(fmt.Sprint(i+1), move, stop, fmt.Sprint(h.Attempts), at, fmt.Sprint(h.Epoch), fmt.Sprint(h.Bytes),
			h.SentHash, yesNo(h.Verified), yesNo(h.Straight), fmtDur(h.Downtime))
	}
	t.Render()
	res := "-"
	if r.ResultNode != "" {
		res = fmt.Sprintf("%s on %s, final state hash %s", result(r.Result), r.ResultNode, r.FinalHash)
	}
	fmt.Fprintf(w, "\nresult:   %s\n", res)
	if r.Ledger != nil {
		fmt.Fprintf(w, "ledger:   %s\n", r.Ledger)
	}
	if r.NATS != nil {
		fmt.Fprintf(w, "nats:     %s\n", r.NATS)
		for _, e := range r.NATS.AsyncErrors {
			fmt.Fprintf(w, "nats:     asynchronous error on %s\n", e)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note:     %s\n", n)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem:  %s\n", p)
	}
	if r.Verdict != "PASS" {
		fmt.Fprintf(w, "verdict:  FAIL\n")
		return
	}
	what := "result = straight run"
	if r.Known != "" {
		what = "result = known value = straight run"
	}
	hops := fmt.Sprintf("state hash verified and = straight run's at %d of %d hops", taken, taken)
	switch {
	case taken == 0:
		hops = fmt.Sprintf("none of the %d planned hops took place: see the notes", len(r.Hops))
	case taken < len(r.Hops):
		hops += fmt.Sprintf("; %d of %d planned hops did not take place: see the notes", len(r.Hops)-taken, len(r.Hops))
	}
	fmt.Fprintf(w, "verdict:  PASS (%s; final state hash = straight run's; %s)\n", what, hops)
}

// attemptsString is "its only attempt" or "all 5 attempts".
func attemptsString(n int) string {
	if n == 1 {
		return "its only attempt"
	}
	return fmt.Sprintf("all %d attempts", n)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func linkString(l cluster.LinkConfig) string {
	bw := "unlimited"
	if l.Bandwidth > 0 {
		bw = fmt.Sprintf("%.3g B/s", l.Bandwidth)
	}
	return fmt.Sprintf("latency %s, jitter %s, bandwidth %s, loss %g", fmtDur(l.Latency), fmtDur(l.Jitter), bw, l.Loss)
}
