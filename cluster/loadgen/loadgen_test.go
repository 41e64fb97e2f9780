package loadgen

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
	"github.com/knotencore/knoten/engine/workloads"
)

// tinySource runs about 60 000 instructions.
const tinySource = `func main() int {
	a := []int{}
	for i := 0; i < 200; i++ {
		a = append(a, i*7%13)
	}
	s := 0
	for r := 0; r < 40; r++ {
		for i := 0; i < len(a); i++ {
			s = (s*31 + a[i] + r) % 1000003
		}
	}
	return s
}
`

func tinyJobs(t *testing.T) []*Job {
	j, err := NewJob("tiny", "tiny.kn", []byte(tinySource), "")
	if err != nil {
		t.Fatal(err)
	}
	return []*Job{j}
}

// testdataJob is the job of one of package cluster's test programs.
func testdataJob(t *testing.T, name string) *Job {
	j, err := FileJob("../testdata/" + name + ".kn")
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != name || j.Known != "" || j.Status != engine.Finished || j.Steps == 0 || j.Duration <= 0 {
		t.Fatalf("FileJob: %+v", j)
	}
	return j
}

func TestRunAudit(t *testing.T) {
	jobs := []*Job{testdataJob(t, "sieve"), testdataJob(t, "words")}
	r, err := Run(context.Background(), Config{Cluster: cluster.Config{Nodes: 3, Workers: 2, Quantum: 5000,
		Link: cluster.LinkConfig{Latency: 50 * time.Microsecond, Loss: 0.05}}, Jobs: jobs, Isolates: 20, MigrateRate: 2000, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Completed != 20 || r.Correct != 20 || r.Unfinished != 0 {
		t.Fatalf("%+v", r)
	}
	// A deadline leaves isolates unfinished but accounted for.
	p, err := lang.Compile("forever.kn", []byte(`func main() int {
	a := make([]int, 64)
	s := 0
	for r := 0; r < 4000000000; r++ {
		s = (s + a[r % len(a)] + r) % 1000003
		a[r % len(a)] = s
	}
	return s
}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err = Run(context.Background(), Config{Cluster: cluster.Config{Nodes: 2, Quantum: 5000}, Duration: 20 * time.Millisecond,
		Jobs: []*Job{{Name: "forever", Prog: p}}, Isolates: 4, MigrateRate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// Issue 12, item 14(e): a deadline run says how many it left unchecked.
	if !r.OK() || r.Completed != 0 || r.Unfinished != 4 || len(r.UnfinishedIDs) != 4 {
		t.Fatalf("completed %d, unfinished %d %v, lost %v, duplicated %v", r.Completed, r.Unfinished, r.UnfinishedIDs, r.Lost, r.Duplicated)
	}
	if _, err := Run(context.Background(), Config{Jobs: jobs}); err == nil {
		t.Fatal("a load with no isolates ran")
	}
}

func TestJobCheck(t *testing.T) {
	j := testdataJob(t, "loop")
	j.Known = j.Result
	good := &cluster.Completion{Status: j.Status, Result: j.Result, Steps: j.Steps, Hash: j.Hash}
	if err := j.Check(good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []cluster.Completion{
		{Status: j.Status, Result: "1", Steps: j.Steps, Hash: j.Hash},
		{Status: j.Status, Result: j.Result, Steps: j.Steps + 1, Hash: j.Hash},
		{Status: j.Status, Result: j.Result, Steps: j.Steps},
	} {
		if err := j.Check(&bad); err == nil {
			t.Errorf("%+v passed", bad)
		}
	}
	j.Known = "wrong"
	if err := j.Check(good); err == nil {
		t.Error("a result that differs from the known value passed")
	}
}

// TestWorkloads: sizes small and medium give every workload, each with
// its known result, which its straight run gave.
func TestWorkloads(t *testing.T) {
	for _, size := range []string{"small", "medium"} {
		jobs, err := Workloads(size)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != len(workloads.Names()) {
			t.Fatalf("%s: %d jobs", size, len(jobs))
		}
		for _, j := range jobs {
			if j.Known == "" || j.Result != j.Known || j.Status != engine.Finished || j.Steps == 0 ||
				strings.HasSuffix(j.Name, "-small") != (size == "small") {
				t.Errorf("%s: %+v", size, j)
			}
		}
	}
	if _, err := Workloads("huge"); err == nil {
		t.Fatal("an unknown size gave jobs")
	}
	if _, err := NewJob("bad", "bad.kn", []byte(`func main() int { return 1 }`), "2"); err == nil {
		t.Fatal("a straight run that differs from the known result made a job")
	}
}

// TestElapsedFromFirstSpawn (issue 12, item 14a): every isolate finishes
// before the next is spawned, so all the work happens while spawning.
// Elapsed used to start after the last spawn, and came out far below the
// makespan.
func TestElapsedFromFirstSpawn(t *testing.T) {
	r, err := Run(context.Background(), Config{Cluster: cluster.Config{Nodes: 2}, Jobs: tinyJobs(t), Isolates: 4,
		afterSpawn: func(c *cluster.Cluster, _ int, _ cluster.IsolateID) {
			if _, err := c.Wait(context.Background()); err != nil {
				t.Error(err)
			}
		}})
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

// TestEventDropsReported (issue 12, item 14b): the report's event_drops is
// the cluster's EventDrops. Package cluster's TestEventDrops makes an
// event inbox overflow and checks that EventDrops counts it.
func TestEventDropsReported(t *testing.T) {
	var c *cluster.Cluster
	r, err := Run(context.Background(), Config{Cluster: cluster.Config{Nodes: 2}, Jobs: tinyJobs(t), Isolates: 8, MigrateRate: 1000,
		afterSpawn: func(cl *cluster.Cluster, _ int, _ cluster.IsolateID) { c = cl }})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Completed != 8 {
		t.Fatalf("%+v", r)
	}
	if r.EventDrops != c.EventDrops() {
		t.Fatalf("report: %d event drops; the cluster: %d", r.EventDrops, c.EventDrops())
	}
}

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// TestReportJSONSnakeCase (issue 12, item 14f): every key of a load
// report's JSON, at every depth, is snake_case.
func TestReportJSONSnakeCase(t *testing.T) {
	r := &Report{Wrong: []string{"x"}, UnfinishedIDs: []cluster.IsolateID{1}, Lost: []cluster.IsolateID{2}, Duplicated: []cluster.IsolateID{3},
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
