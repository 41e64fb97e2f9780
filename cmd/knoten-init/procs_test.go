package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/cluster/loadgen"
	"github.com/knotencore/knoten/cluster/member"
	"github.com/knotencore/knoten/cluster/natsnet"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
	"github.com/knotencore/knoten/internal/golden"
)

// The node processes of a --procs run are this program run as
// `knoten-init member`. The test binary is not that program: the tests
// build it once (go build, without -race, so that the nodes run at full
// speed) into a directory TestMain makes and removes, and point
// procExecutable at it.
var procBin struct {
	dir  string
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "knoten-init-test-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	procBin.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// useProcBinary builds knoten-init (once per test binary) and makes the
// --procs runs of t start their nodes with it.
func useProcBinary(t *testing.T) {
	t.Helper()
	procBin.once.Do(func() {
		procBin.path = filepath.Join(procBin.dir, "knoten-init")
		out, err := exec.Command("go", "build", "-o", procBin.path, ".").CombinedOutput()
		if err != nil {
			procBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if procBin.err != nil {
		t.Fatal(procBin.err)
	}
	old := procExecutable
	procExecutable = func() (string, error) { return procBin.path, nil }
	t.Cleanup(func() { procExecutable = old })
}

// The flags of --procs and --chaos, as parsed: a hop has one attempt
// under --procs, and --chaos runs the full-size workloads unless --size
// says otherwise.
func TestProcsFlags(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		size     string
		attempts int
	}{
		{[]string{"--cluster-sim", "--transport", "nats", "--procs"}, "medium", 1},
		{[]string{"--cluster-sim", "--transport", "nats", "--procs", "--auth", "--tls"}, "medium", 1},
		{[]string{"--cluster-sim", "--load", "--transport", "nats", "--procs"}, "medium", 1},
		{[]string{"--cluster-sim", "--load", "--transport", "nats", "--procs", "--chaos"}, "large", 1},
		{[]string{"--cluster-sim", "--load", "--transport", "nats", "--procs", "--chaos", "--size", "small"}, "small", 1},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !o.procs || o.size != tc.size || o.hopAttempts != tc.attempts {
			t.Errorf("%q: procs %v, size %q, hop attempts %d", tc.args, o.procs, o.size, o.hopAttempts)
		}
	}
}

// The 2-hop verification with each node a process: the same report as in
// this process, but for its header, and nothing left behind.
func TestProcsClusterSim(t *testing.T) {
	useProcBinary(t)
	clean := emptyTempDir(t)
	out, stderr, err := runCmd(t, "--cluster-sim", "--transport", "nats", "--procs")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	clean()
	golden.Check(t, filepath.Join("testdata", "cluster-sim-procs.golden"), []byte(normalizeNATS(out)))
}

// The same over TLS, as JSON: the hops verified, the ledger's entry
// finished on n2 at the last hop's epoch.
func TestProcsClusterSimTLSJSON(t *testing.T) {
	useProcBinary(t)
	r, err := simJSON(t, "--transport", "nats", "--procs", "--tls", "--program", "testdata/sum.kn", "--quantum", "2000")
	if err != nil || r.Verdict != "PASS" || len(r.Problems) > 0 {
		t.Fatalf("error %v, report %+v", err, r)
	}
	if !strings.HasPrefix(r.Server, "tls://") || r.ResultNode != "n2" || r.FinalHash != r.StraightHash {
		t.Errorf("server %s, result on %s, final hash %s, straight %s", r.Server, r.ResultNode, r.FinalHash, r.StraightHash)
	}
	if l := r.Ledger; l == nil || l.State != "finished" || l.Owner != "n2" || l.Epoch != 2 {
		t.Errorf("ledger entry %+v, want finished on n2 at epoch 2", l)
	}
	checkHopsExplained(t, r)
}

// A load over node processes without chaos: every isolate completes once
// with the straight run's result.
func TestProcsLoad(t *testing.T) {
	useProcBinary(t)
	clean := emptyTempDir(t)
	out, stderr, err := runCmd(t, "--cluster-sim", "--load", "--transport", "nats", "--procs", "--isolates", "24", "--nodes", "3",
		"--size", "small", "--migrate-rate", "200")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	clean()
	golden.Check(t, filepath.Join("testdata", "load-procs.golden"), []byte(normalizeAll(serverRE.ReplaceAllString(out, "$1://SERVER"))))
	want := "accounting: 24 submitted = 24 completed + 0 lost with a killed node + 0 lost by the protocol; 0 duplicated, 0 wrong"
	if !strings.Contains(out, want) {
		t.Errorf("report lacks %q:\n%s", want, out)
	}
}

// The same as JSON: every figure under a snake_case key, durations in ns.
func TestProcsLoadJSON(t *testing.T) {
	useProcBinary(t)
	out, stderr, err := runCmd(t, "--cluster-sim", "--load", "--transport", "nats", "--procs", "--isolates", "6", "--size", "small", "--json")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	var r struct {
		Verdict   string `json:"verdict"`
		Submitted int    `json:"submitted"`
		Completed int    `json:"completed"`
		Correct   int    `json:"correct"`
		Latency   struct {
			Count int64 `json:"count"`
			P50   int64 `json:"p50"`
		} `json:"completion_latency_ns"`
		Lost     []string          `json:"lost_by_protocol"`
		Machine  map[string]string `json:"machine"`
		Server   string            `json:"server"`
		Problems []string          `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Verdict != "PASS" || r.Submitted != 6 || r.Completed != 6 || r.Correct != 6 || r.Latency.Count != 6 || r.Latency.P50 <= 0 ||
		len(r.Lost) != 0 || len(r.Problems) != 0 || r.Machine["goos"] == "" || !strings.HasPrefix(r.Server, "nats://127.0.0.1:") {
		t.Errorf("%+v", r)
	}
}

var (
	accountingRE = regexp.MustCompile(`(?m)^accounting: (\d+) submitted = (\d+) completed \+ (\d+) lost with a killed node \+ 0 lost by the protocol; 0 duplicated, 0 wrong$`)
	submittedRE  = regexp.MustCompile(`\| submitted \(failed: node killed / otherwise\) +\| (\d+) of 40 \((\d+) / 0\) +\|`)
)

// A small load under chaos: every isolate completed once and correct, or
// lost with a node the chaos killed; none lost by the protocol.
func TestProcsLoadChaos(t *testing.T) {
	useProcBinary(t)
	clean := emptyTempDir(t)
	out, stderr, err := runCmd(t, "--cluster-sim", "--load", "--transport", "nats", "--procs", "--chaos", "--isolates", "40", "--nodes", "3", "--seed", "7",
		"--program", "testdata/spin.kn")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	clean()
	m := accountingRE.FindStringSubmatch(out)
	s := submittedRE.FindStringSubmatch(out)
	if m == nil || s == nil {
		t.Fatalf("no accounting line, or no submissions row:\n%s", out)
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	if n(m[1]) != n(m[2])+n(m[3]) || n(m[1]) != n(s[1]) || n(s[1])+n(s[2]) != 40 {
		t.Errorf("the accounting does not add up:\n%s", out)
	}
	if !strings.Contains(out, "verdict:  PASS") {
		t.Errorf("no PASS:\n%s", out)
	}
	t.Logf("%s", strings.Join(regexp.MustCompile(`(?m)^(accounting|chaos): .*$`).FindAllString(out, -1), "\n"))
}

// A node process that cannot start fails the run with one line naming
// it, and the run takes down the server and its temporary directory.
func TestProcsChildFails(t *testing.T) {
	bin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1) here")
	}
	old := procExecutable
	procExecutable = func() (string, error) { return bin, nil }
	t.Cleanup(func() { procExecutable = old })
	clean := emptyTempDir(t)
	out, _, err := runCmd(t, "--cluster-sim", "--transport", "nats", "--procs", "--program", "testdata/return42.kn")
	if err == nil || !strings.HasPrefix(err.Error(), "--procs: n") || !strings.Contains(err.Error(), "exited before it was ready (exit status 1)") ||
		strings.Contains(err.Error(), "\n") || out != "" {
		t.Fatalf("error %v, output %q", err, out)
	}
	clean()
}

// The member subcommand starts its node with the credentials file the
// server binds to its id, tells "ready", then the peers it sees up, and
// ends when its stdin closes.
func TestMemberCommand(t *testing.T) {
	keys, err := natsnet.NewMembers(0)
	if err != nil {
		t.Fatal(err)
	}
	coord, err := natsnet.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	srv, url, err := natsnet.StartEmbedded(natsnet.EmbeddedOptions{Cluster: natsClusterName, Members: keys, Clients: []natsnet.Member{coord},
		LedgerBucket: member.LedgerBucket(natsClusterName), JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	creds := filepath.Join(t.TempDir(), "n0.creds")
	if err := keys[0].WriteCreds(creds); err != nil {
		t.Fatal(err)
	}
	stdinR, stdinW := io.Pipe()
	old := memberStdin
	memberStdin = stdinR
	t.Cleanup(func() { memberStdin = old })
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runMember([]string{"--nats", url, "--creds", creds, "--max-nodes", "1"}, outW)
		outW.Close()
	}()
	sc := bufio.NewScanner(outR)
	if !sc.Scan() || sc.Text() != "ready" {
		t.Fatalf("first line %q, want ready (%v)", sc.Text(), sc.Err())
	}
	// The coordinator's client identity may ask it.
	c, err := member.Dial(url, natsClusterName, natsnet.Credentials{Member: &coord})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ps, err := c.PS(testCtx(t))
	if err != nil || len(ps) != 1 || ps[0].Node != 0 {
		t.Fatalf("ps: %+v, %v", ps, err)
	}
	if !sc.Scan() || sc.Text() != "peers " {
		t.Fatalf("second line %q, want the empty peer list", sc.Text())
	}
	go io.Copy(io.Discard, outR)
	stdinW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The final accounting: a completion checked against the straight run;
// two completions a duplicate; an isolate that did not complete lost
// with its node if the ledger names a killed node its owner, the
// protocol's loss if a live one; a completion of an isolate no
// submission was answered with an orphan if a killed node spawned it.
func TestProcsAccounting(t *testing.T) {
	ctx := testCtx(t)
	led := ledger.NewMemory()
	pn := &procNet{o: &options{}, led: led, changed: make(chan struct{}), children: map[cluster.NodeID]*child{}}
	for id, killed := range map[cluster.NodeID]bool{0: false, 1: true, 2: false} {
		pn.children[id] = &child{id: id, killed: killed, exited: make(chan struct{})}
	}
	prog, err := lang.Compile("j.kn", []byte("func main() int {\n\treturn 7\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	job := &loadgen.Job{Name: "j", Prog: prog, Known: "7", Status: engine.Finished, Result: "7", Steps: 100, Hash: [32]byte{7}}
	l := &procLoad{o: &options{isolates: 6, size: "small"}, pn: pn, jobs: []*loadgen.Job{job}, isos: map[string]*procIso{},
		early: map[string][]*cluster.Completion{}, start: time.Now()}
	right := func(id ledger.IsolateID) *cluster.Completion {
		return &cluster.Completion{ID: cluster.IsolateID(id), Status: engine.Finished, Result: "7", Steps: 100, Hash: [32]byte{7}, Count: 1}
	}
	submit := func(node ledger.NodeID, seq uint32, owner ledger.NodeID) ledger.IsolateID {
		id := ledger.MakeID(node, seq)
		if _, err := led.Create(ctx, id, owner); err != nil {
			t.Fatal(err)
		}
		l.submitted(submission{job: job, node: cluster.NodeID(node), id: id.String(), at: time.Now()})
		return id
	}
	done := submit(0, 1, 0)
	l.complete(l.isos[done.String()], right(done), time.Now())
	twice := submit(0, 2, 0)
	l.complete(l.isos[twice.String()], right(twice), time.Now())
	l.complete(l.isos[twice.String()], right(twice), time.Now())
	wrong := submit(2, 1, 2)
	bad := right(wrong)
	bad.Result = "8"
	l.complete(l.isos[wrong.String()], bad, time.Now())
	killed := submit(1, 1, 1)
	moved := submit(0, 3, 0)
	if _, err := led.Transfer(ctx, moved, ledger.Entry{Owner: 0, State: ledger.Running, Revision: mustRev(t, led, moved)}, 1); err != nil {
		t.Fatal(err)
	}
	stuck := submit(2, 2, 2)
	l.submitted(submission{job: job, node: 1, err: fmt.Errorf("no member answers")})
	l.submitted(submission{job: job, node: 2, err: fmt.Errorf("timeout")})
	orphan := ledger.MakeID(1, 9)
	l.early[orphan.String()] = []*cluster.Completion{right(orphan)}
	r := l.report()
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"submitted", r.Submitted, 6},
		{"completed", r.Completed, 3},
		{"correct", r.Correct, 2}, // the duplicate's completions are both right
		{"duplicated", r.Duplicated, []string{twice.String() + ": 2 completions"}},
		{"wrong", len(r.Wrong), 1},
		{"lost with a killed node", r.LostKilled, []string{killed.String(), moved.String()}},
		{"lost by the protocol", r.Unexplained, []string{stuck.String() + ": running on n2 at epoch 0, which was not killed, and it did not complete"}},
		{"failed submissions", r.SubmitFailedKilled, 1},
		{"other failed submissions", r.SubmitFailed, []string{"to n2: timeout"}},
		{"orphans", r.Orphans, 1},
		{"verdict", r.Verdict, "FAIL"},
	} {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

func mustRev(t *testing.T, led ledger.Ledger, id ledger.IsolateID) uint64 {
	t.Helper()
	e, err := led.Get(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return e.Revision
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
