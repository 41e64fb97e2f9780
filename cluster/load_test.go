package cluster

import (
	"context"
	"encoding/json"
	"regexp"
	"runtime"
	"testing"
	"time"
)

// Issue 12, item 14: the --load report must tell the truth.

func tinyJobs(t *testing.T) []*Job {
	p := tinyProg(t)
	return []*Job{{Name: "tiny", Prog: p.prog, Status: p.status, Result: p.result, Steps: p.steps, Hash: p.hash, Duration: time.Millisecond}}
}

// waitAllDone waits until every isolate spawned on c has completed.
func waitAllDone(c *Cluster) {
	for {
		n, ch := c.col.pending()
		if n == 0 {
			return
		}
		<-ch
	}
}

// TestLoadElapsedFromFirstSpawn (a): every isolate finishes before the next
// is spawned, so all the work happens while spawning. Elapsed used to start
// after the last spawn, and came out far below the makespan.
func TestLoadElapsedFromFirstSpawn(t *testing.T) {
	r, err := RunLoad(context.Background(), LoadConfig{Cluster: Config{Nodes: 2}, Jobs: tinyJobs(t), Isolates: 4,
		afterSpawn: func(c *Cluster, _ int, _ IsolateID) { waitAllDone(c) }})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Completed != 4 {
		t.Fatalf("%+v", r)
	}
	if r.Makespan <= 0 || r.Elapsed < r.Makespan {
		t.Fatalf("elapsed %v < makespan %v: elapsed does not start at the first spawn", r.Elapsed, r.Makespan)
	}
	if want := float64(r.Completed) / r.Elapsed.Seconds(); r.Throughput != want {
		t.Fatalf("throughput %g, want completions / elapsed = %g", r.Throughput, want)
	}
}

// TestLoadEventDrops (b): messages that a full event inbox dropped reach
// the report. The test holds node 1's driver and feeds it heartbeats until
// its inbox overflows.
func TestLoadEventDrops(t *testing.T) {
	var caused int64
	r, err := RunLoad(context.Background(), LoadConfig{Cluster: Config{Nodes: 2}, Jobs: tinyJobs(t), Isolates: 2,
		afterSpawn: func(c *Cluster, i int, _ IsolateID) {
			if i != 0 {
				return
			}
			n := c.nodes[1]
			for !n.driving.CompareAndSwap(false, true) {
				runtime.Gosched()
			}
			for n.dropped.Load() < 3 {
				n.receive(0, appendHeartbeat(nil, Load{}))
			}
			caused = n.dropped.Load()
			n.driving.Store(false)
			n.drive()
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Completed != 2 {
		t.Fatalf("%+v", r)
	}
	if caused < 3 || r.EventDrops < caused {
		t.Fatalf("the test made node 1 drop %d messages; the report says %d", caused, r.EventDrops)
	}
}

// TestSimDowntimeApartFromQueueWait (c, d): an isolate migrates to a node
// whose only worker is busy with a spinner for long quanta. Its downtime
// (halt request → taken and runnable on the target) stays about one link
// latency; the wait behind the spinner is reported as queue wait, and every
// summary carries its sample count.
func TestSimDowntimeApartFromQueueWait(t *testing.T) {
	spin := spinProg(t)
	p := tinyProg(t)
	const lat = 100 * time.Microsecond
	const quantum = 1_000_000 // 1 ms at 1 ns per instruction
	var running []Event
	s := NewSim(Config{Nodes: 2, Workers: 1, Quantum: quantum, NoSteal: true, Seed: 3, Link: LinkConfig{Latency: lat},
		OnEvent: func(e Event) {
			if e.Kind == EvRunning {
				running = append(running, e)
			}
		}})
	if _, err := s.Spawn(1, p.prog); err != nil { // caches the program on n1
		t.Fatal(err)
	}
	if _, err := s.Spawn(1, spin); err != nil {
		t.Fatal(err)
	}
	id, err := s.Spawn(0, p.prog)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MigrateAt(id, 1, 10000); err != nil {
		t.Fatal(err)
	}
	done := func() bool { return s.col.result(id) != nil }
	if !s.RunUntil(done, time.Second) {
		t.Fatal("the migrated isolate did not finish")
	}
	if len(running) != 1 {
		t.Fatalf("%d EvRunning events, want 1", len(running))
	}
	e := running[0]
	m := s.Metrics().Snapshot()
	if e.Downtime <= 0 || e.Downtime > 3*lat || e.QueueWait < 100*time.Microsecond {
		t.Fatalf("downtime %v (want about the %v link), queue wait %v (want the wait behind a 1 ms quantum)", e.Downtime, lat, e.QueueWait)
	}
	if m.Downtime.Count != 1 || m.QueueWait.Count != 1 || m.Downtime.Max > int64(3*lat) || m.QueueWait.Max < int64(100*time.Microsecond) {
		t.Fatalf("downtime %+v, queue wait %+v", m.Downtime, m.QueueWait)
	}
	if m.HaltLatency.Count != 1 || m.Completion.Count != m.Completions || m.Completions < 1 || m.OfferBytes.Count != 1 {
		t.Fatalf("sample counts: halt %d, completion %d, offers %d", m.HaltLatency.Count, m.Completion.Count, m.OfferBytes.Count)
	}
}

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// TestLoadReportJSONSnakeCase (f): every key of a load report's JSON, at
// every depth, is snake_case.
func TestLoadReportJSONSnakeCase(t *testing.T) {
	r := &LoadReport{Wrong: []string{"x"}, UnfinishedIDs: []IsolateID{1}, Lost: []IsolateID{2}, Duplicated: []IsolateID{3},
		Jobs: []JobStat{{Name: "j"}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				n++
				if !snakeKey.MatchString(k) {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	walk("", v)
	if n < 40 {
		t.Fatalf("only %d keys in %s", n, b)
	}
}
