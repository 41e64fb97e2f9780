package member

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/cluster/natsnet"
	"github.com/knotencore/knoten/engine"
	"github.com/knotencore/knoten/engine/lang"
)

// longSrc runs for seconds: long enough to attack while it runs.
const longSrc = `func main() int {
	s := 0
	for i := 0; i < 400000000; i++ {
		s = (s + i) % 1000003
	}
	return s
}
`

// TestAttacksOnRunningCluster attacks a running, authenticated cluster as
// a client and as a member:
//   - a client request naming the ledger's subject as its reply subject
//     (members answer only into client inboxes, so the ledger is untouched);
//   - a second process started with a member's credentials (it is refused:
//     a node id runs once);
//   - a member publishing a completion as another node (refused by the
//     server) and a completion as itself for an isolate it does not own
//     (Verify refuses it).
func TestAttacksOnRunningCluster(t *testing.T) {
	sec := &secured{}
	url, nodes := startCluster(t, 2, sec, false)
	ctx := testCtx(t)
	c, err := Dial(url, "", sec.creds(&sec.client))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prog, _, _, _ := straight(t, loopSrc)
	long, err := compileSrc(longSrc)
	if err != nil {
		t.Fatal(err)
	}
	idStr, err := c.Submit(ctx, long, int(nodes[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ParseID(idStr)
	l := nodes[0].led
	before, err := l.Get(ctx, ledger.IsolateID(id))
	if err != nil {
		t.Fatal(err)
	}

	// The reply-subject relay: ps and migrate with a $KV reply subject.
	key := "$KV." + LedgerBucket("knoten") + ".iso.0." + "1"
	for _, verb := range []string{"ps", "migrate"} {
		if err := c.Conn().PublishRequest(ctlSubject("knoten", "all", verb), key, []byte(`{"id":"`+idStr+`","to":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PS(ctx); err != nil { // a round trip through both members after the attack
		t.Fatal(err)
	}
	after, err := l.Get(ctx, ledger.IsolateID(id))
	if err != nil || after.Revision != before.Revision && after.Epoch == before.Epoch {
		t.Fatalf("the ledger entry changed under a relayed request: %v -> %v (%v)", before, after, err)
	}

	// A twin of node 1.
	_, err = Start(ctx, Options{URL: url, Creds: sec.creds(&sec.members[1]), MaxNodes: 8, DetectPeriod: 20 * time.Millisecond})
	if !errors.Is(err, ErrTwin) {
		t.Fatalf("a second process with node 1's credentials: %v, want ErrTwin", err)
	}

	// Forged completions, from member 1's credentials.
	results, stop, err := c.Results()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	denied := make(chan error, 4)
	m1, err := natsnet.Connect(url, sec.creds(&sec.members[1]), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	forged := Result{ID: idStr, Node: 0, Status: "finished", Result: "42"}
	b, _ := json.Marshal(forged)
	m1.Publish(DoneSubject("knoten", "0", idStr), b) // as node 0: the server refuses it
	select {
	case err := <-denied:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("publishing as node 0: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("publishing a completion as another node was not refused")
	}
	forged.Node = 1 // as itself, for an isolate node 0 holds
	b, _ = json.Marshal(forged)
	m1.Publish(DoneSubject("knoten", "1", idStr), b)
	r, err := Wait(ctx, results, idStr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Node != 1 || r.Result != "42" {
		t.Fatalf("got %+v, want the forgery", r)
	}
	if err := c.Verify(ctx, r); err == nil {
		t.Fatal("Verify accepted a completion the ledger does not record")
	}

	// The cluster still works: a genuine result verifies.
	id2, err := c.Submit(ctx, prog, int(nodes[1].ID))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Wait(ctx, results, id2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(ctx, r2); err != nil {
		t.Fatal(err)
	}
}

// TestLedgerLostStopsNode: a ledger bucket made anew under a running node
// (its server restarted without its store) makes the node stop, loudly.
func TestLedgerLostStopsNode(t *testing.T) {
	o := natsnet.EmbeddedOptions{JetStream: true, StoreDir: t.TempDir()}
	s, url, err := natsnet.StartEmbedded(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	ctx := testCtx(t)
	fatal := make(chan error, 1)
	n, err := Start(ctx, Options{URL: url, MaxNodes: 8, DetectPeriod: 20 * time.Millisecond, OnFatal: func(err error) { fatal <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.checkLedger() // a reconnection to the same ledger changes nothing
	select {
	case err := <-fatal:
		t.Fatalf("stopped on an intact ledger: %v", err)
	default:
	}
	js, err := jetstream.New(n.nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteKeyValue(ctx, LedgerBucket("knoten")); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.OpenJetStream(ctx, js, ledger.JetStreamConfig{Bucket: LedgerBucket("knoten")}); err != nil {
		t.Fatal(err)
	}
	n.checkLedger()
	select {
	case err := <-fatal:
		if !errors.Is(err, ErrLedgerLost) {
			t.Fatalf("stopped with %v, want ErrLedgerLost", err)
		}
	case <-ctx.Done():
		t.Fatal("the node ran on under a new ledger")
	}
	if _, err := n.Cluster().Isolates(n.ID); !errors.Is(err, cluster.ErrNodeDown) {
		t.Fatalf("the node still runs: %v", err)
	}
}

func compileSrc(src string) (*engine.Program, error) { return lang.Compile("long.kn", []byte(src)) }
