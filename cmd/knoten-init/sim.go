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
var hopPlan = [...]struct {
	to       cluster.NodeID
	fraction float64
}{{1, 0.25}, {2, 0.60}}

// simHop is one migration as the report shows it.
type simHop struct {
	From          cluster.NodeID `json:"from"`
	To            cluster.NodeID `json:"to"`
	PC            uint32         `json:"pc"`
	Steps         uint64         `json:"instructions"`
	Bytes         int            `json:"bytes"`
	SentHash      string         `json:"state_hash"`
	ArrivedHash   string         `json:"verified_hash"`
	Verified      bool           `json:"verified"`
	Downtime      time.Duration  `json:"downtime_ns"`
	Epoch         uint64         `json:"epoch"`
	SourceDropped bool           `json:"source_dropped"`
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
	hops, err := followHops(c, events, id, job.Steps)
	r.Hops = hops
	if err != nil {
		problem("%v", err)
	}
	from := cluster.NodeID(0)
	if len(hops) > 0 {
		from = hops[len(hops)-1].To
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

// followHops plans every hop of hopPlan in one request (a route: each node
// plans the next stop as it takes the isolate, so no request has to catch
// the isolate between hops) and follows the handoffs to their first quantum
// on the target. A hop's halt point is exact: the worker shortens the
// quantum to stop at the first safepoint at or after the planned
// instruction count.
func followHops(c *cluster.Cluster, events <-chan cluster.Event, id cluster.IsolateID, total uint64) ([]simHop, error) {
	hops := make([]simHop, len(hopPlan))
	var sent, got [len(hopPlan)][32]byte
	from := cluster.NodeID(0)
	for i, hp := range hopPlan {
		hops[i].From, hops[i].To = from, hp.to
		from = hp.to
	}
	stopAt := func(i int) uint64 { return uint64(hopPlan[i].fraction * float64(total)) }
	var then []cluster.Stop
	for i := 1; i < len(hopPlan); i++ {
		then = append(then, cluster.Stop{To: hopPlan[i].to, At: stopAt(i)})
	}
	if err := c.MigrateAt(id, hopPlan[0].to, stopAt(0), then...); err != nil {
		return nil, err
	}
	hop := func(epoch uint64) int { return int(epoch) - 1 } // the isolate starts at epoch 0
	done := 0
	running, dropped := make([]bool, len(hopPlan)), make([]bool, len(hopPlan))
	timeout := time.After(time.Minute)
	for done < len(hopPlan) {
		select {
		case e := <-events:
			if e.ID != id {
				continue
			}
			i := hop(e.Epoch)
			if e.Kind != cluster.EvCompleted && (i < 0 || i >= len(hops)) {
				continue
			}
			switch e.Kind {
			case cluster.EvHalted:
				hops[i].PC, hops[i].Steps, hops[i].Bytes, hops[i].Epoch = e.PC, e.Steps, e.Bytes, e.Epoch
				sent[i] = e.Hash
			case cluster.EvArrived:
				if e.Node != hops[i].To {
					return hops[:i], fmt.Errorf("hop %d arrived on %v, not %v", i+1, e.Node, hops[i].To)
				}
				got[i] = e.Hash
			case cluster.EvRunning:
				hops[i].Downtime = e.Downtime
				running[i] = true
			case cluster.EvMigrated:
				hops[i].SourceDropped = true
				dropped[i] = true
			case cluster.EvResumed:
				return hops[:i], fmt.Errorf("hop %d failed: %v resumed the isolate", i+1, e.Node)
			case cluster.EvCompleted:
				return hops[:done], fmt.Errorf("the isolate completed on %v before hop %d", e.Node, done+1)
			}
			if running[done] && dropped[done] {
				done++
			}
		case <-timeout:
			return hops[:done], fmt.Errorf("hop %d did not finish", done+1)
		}
	}
	for i := range hops {
		hops[i].SentHash, hops[i].ArrivedHash = shortHash(sent[i]), shortHash(got[i])
		hops[i].Verified = sent[i] == got[i] && sent[i] != [32]byte{}
	}
	return hops, nil
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
	t.Header("hop", "move", "halted at", "epoch", "bytes", "state hash", "verified", "downtime")
	for i, h := range r.Hops {
		v := "no"
		if h.Verified {
			v = "yes"
		}
		t.Append(fmt.Sprint(i+1), fmt.Sprintf("%v -> %v", h.From, h.To),
			fmt.Sprintf("pc %d, instruction %d", h.PC, h.Steps), fmt.Sprint(h.Epoch), fmt.Sprint(h.Bytes),
			h.SentHash, v, fmtDur(h.Downtime))
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
