package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/knotencore/knoten/cluster"
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
var hopPlan = []struct {
	to       cluster.NodeID
	fraction float64
}{{1, 0.25}, {2, 0.60}}

// simHop is one migration as the report shows it.
type simHop struct {
	From         cluster.NodeID `json:"from"`
	To           cluster.NodeID `json:"to"`
	PC           uint32         `json:"pc"`
	Steps        uint64         `json:"instructions"`
	Bytes        int            `json:"bytes"`
	SentHash     string         `json:"state_hash"`
	ArrivedHash  string         `json:"verified_hash"`
	Verified     bool           `json:"verified"`
	HaltLatency  time.Duration  `json:"halt_latency_ns"`
	Downtime     time.Duration  `json:"downtime_ns"`
	Epoch        uint64         `json:"epoch"`
	SourceDroped bool           `json:"source_dropped"`
}

// simReport is the outcome of --cluster-sim.
type simReport struct {
	Nodes        int      `json:"nodes"`
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
	Problems     []string `json:"problems"`
	Verdict      string   `json:"verdict"`
}

func shortHash(h [32]byte) string { return hex.EncodeToString(h[:8]) }

func runSim(o *options, w io.Writer) error {
	if o.nodes < 3 {
		return fmt.Errorf("--cluster-sim needs at least 3 nodes, got %d", o.nodes)
	}
	var (
		job  *cluster.Job
		desc string
		err  error
	)
	if o.program != "" {
		job, err = cluster.FileJob(o.program)
		desc = "program from " + o.program
	} else {
		var wl workloads.Workload
		if wl, err = workloads.Sized(defaultSimWorkload, defaultSimN); err == nil {
			job, err = cluster.NewJob(wl.Name, wl.Filename(), wl.Source, wl.Result)
			desc = workloads.Describe(defaultSimWorkload)
		}
	}
	if err != nil {
		return err
	}

	events := make(chan cluster.Event, 4096)
	c := cluster.New(cluster.Config{
		Nodes: o.nodes, Workers: o.workers, Quantum: o.quantum, Link: o.link(), Seed: o.seed,
		NoSteal: true, // the isolate goes only where this run sends it
		OnEvent: func(e cluster.Event) {
			select {
			case events <- e:
			default:
			}
		},
	})
	defer c.Close()
	r := &simReport{Nodes: o.nodes, Program: job.Name, Description: desc, Known: job.Known, Straight: job.Result,
		StraightHash: shortHash(job.Hash), Steps: job.Steps}
	problem := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }

	id, err := c.Spawn(0, job.Prog)
	if err != nil {
		return err
	}
	from := cluster.NodeID(0)
	for _, hp := range hopPlan {
		h, err := migrateOnce(c, events, id, from, hp.to, uint64(hp.fraction*float64(job.Steps)))
		if err != nil {
			problem("hop %v → %v: %v", from, hp.to, err)
			break
		}
		r.Hops = append(r.Hops, h)
		from = hp.to
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := c.Wait(ctx)
	if err != nil {
		problem("waiting for the result: %v", err)
	}
	switch {
	case len(out.Completed) != 1:
		problem("%d completions, want 1", len(out.Completed))
	default:
		comp := out.Completed[0]
		r.Result, r.ResultNode, r.FinalHash = comp.Result, comp.Node.String(), shortHash(comp.Hash)
		if err := job.Check(comp); err != nil {
			problem("%v", err)
		}
		if comp.Count != 1 {
			problem("completed %d times", comp.Count)
		}
		if comp.Node != from {
			problem("completed on %v, not on %v", comp.Node, from)
		}
	}
	for i, h := range r.Hops {
		if !h.Verified {
			problem("hop %d: state hash not verified", i+1)
		}
		if h.Steps == 0 || h.Steps >= job.Steps {
			problem("hop %d: halted after %d of %d instructions, not mid-run", i+1, h.Steps, job.Steps)
		}
	}
	if len(r.Hops) != len(hopPlan) {
		problem("%d of %d hops done", len(r.Hops), len(hopPlan))
	}
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
	if len(r.Problems) > 0 {
		return fmt.Errorf("cluster-sim: %s", strings.Join(r.Problems, "; "))
	}
	return nil
}

// migrateOnce waits until the isolate has executed at least at
// instructions, migrates it to node to and follows the handoff to its first
// quantum there.
func migrateOnce(c *cluster.Cluster, events <-chan cluster.Event, id cluster.IsolateID, from, to cluster.NodeID, at uint64) (simHop, error) {
	h := simHop{From: from, To: to}
	deadline := time.Now().Add(time.Minute)
	for c.Steps(id) < at {
		if c.Pending() == 0 {
			return h, fmt.Errorf("the isolate finished before %d instructions", at)
		}
		if time.Now().After(deadline) {
			return h, fmt.Errorf("the isolate did not reach %d instructions", at)
		}
		time.Sleep(20 * time.Microsecond)
	}
	asked := c.Now()
	if err := c.Migrate(id, to); err != nil {
		return h, err
	}
	var sent, got [32]byte
	timeout := time.After(time.Minute)
	for running, dropped := false, false; !running || !dropped; {
		select {
		case e := <-events:
			if e.ID != id {
				continue
			}
			switch e.Kind {
			case cluster.EvHalted:
				h.PC, h.Steps, h.Bytes, h.Epoch = e.PC, e.Steps, e.Bytes, e.Epoch
				h.HaltLatency = e.At - asked
				sent = e.Hash
			case cluster.EvArrived:
				if e.Node != to {
					return h, fmt.Errorf("arrived on %v", e.Node)
				}
				got = e.Hash
			case cluster.EvRunning:
				if e.Node == to {
					h.Downtime = e.Downtime
					running = true
				}
			case cluster.EvMigrated:
				h.SourceDroped = true
				dropped = true
			case cluster.EvResumed:
				return h, fmt.Errorf("handoff failed; %v resumed the isolate", e.Node)
			case cluster.EvCompleted:
				return h, fmt.Errorf("the isolate completed on %v before it moved", e.Node)
			}
		case <-timeout:
			return h, fmt.Errorf("handoff did not finish")
		}
	}
	h.SentHash, h.ArrivedHash = shortHash(sent), shortHash(got)
	h.Verified = sent == got && sent != [32]byte{}
	return h, nil
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
	fmt.Fprintf(w, "knoten-init --cluster-sim: %d nodes, link %s\n", r.Nodes, linkString(o.link()))
	fmt.Fprintf(w, "program:  %s (%s), %d instructions\n", r.Program, r.Description, r.Steps)
	known := r.Known
	if known == "" {
		known = "none (straight run only)"
	}
	fmt.Fprintf(w, "known:    %s\n", known)
	fmt.Fprintf(w, "straight: %s, final state hash %s\n\n", r.Straight, r.StraightHash)
	t := newTable(w)
	t.Header("hop", "move", "halted at", "epoch", "bytes", "state hash", "verified", "halt latency", "downtime")
	for i, h := range r.Hops {
		v := "no"
		if h.Verified {
			v = "yes"
		}
		t.Append(fmt.Sprint(i+1), fmt.Sprintf("%v -> %v", h.From, h.To),
			fmt.Sprintf("pc %d, instruction %d", h.PC, h.Steps), fmt.Sprint(h.Epoch), fmt.Sprint(h.Bytes),
			h.SentHash, v, fmtDur(h.HaltLatency), fmtDur(h.Downtime))
	}
	t.Render()
	fmt.Fprintf(w, "\nresult:   %s on %s, final state hash %s\n", r.Result, r.ResultNode, r.FinalHash)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem:  %s\n", p)
	}
	if r.Verdict == "PASS" {
		what := "result = straight run"
		if r.Known != "" {
			what = "result = known value = straight run"
		}
		fmt.Fprintf(w, "verdict:  PASS (%s; final state hash = straight run's; state hash verified at %d of %d hops)\n", what, len(r.Hops), len(r.Hops))
	} else {
		fmt.Fprintf(w, "verdict:  FAIL\n")
	}
}

func linkString(l cluster.LinkConfig) string {
	bw := "unlimited"
	if l.Bandwidth > 0 {
		bw = fmt.Sprintf("%.3g B/s", l.Bandwidth)
	}
	return fmt.Sprintf("latency %s, jitter %s, bandwidth %s, loss %g", fmtDur(l.Latency), fmtDur(l.Jitter), bw, l.Loss)
}
