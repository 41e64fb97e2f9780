package natsnet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
)

func TestPermissionTables(t *testing.T) {
	lpub, lsub := ledger.MemberSubjects("b", 7)
	m := FullMemberPermissions("c", 7, "b")
	wantPub := append([]string{
		"knoten.c.to.*.from.7", "knoten.c.to.*.from.7.chunk",
		"knoten.c.alive.7", "knoten.c.done.7.>", "knoten.c.event.7", "_INBOX_client.>",
	}, lpub...)
	wantSub := append([]string{
		"knoten.c.to.7.>", "knoten.c.alive.*", "knoten.c.ctl.7.>", "knoten.c.ctl.any.> knoten", "knoten.c.ctl.all.>",
	}, lsub...)
	if !slices.Equal(m.Publish.Allow, wantPub) || !slices.Equal(m.Subscribe.Allow, wantSub) ||
		m.Publish.Deny != nil || m.Subscribe.Deny != nil || m.Response != nil {
		t.Errorf("member 7: %+v %+v %+v\nwant publish %q\n     subscribe %q", m.Publish, m.Subscribe, m.Response, wantPub, wantSub)
	}
	c := ClientPermissions("c", "UKEY", "b")
	wantPub = append([]string{"knoten.c.ctl.>"}, ledger.ReaderSubjects("b")...)
	wantSub = []string{"_INBOX_client.UKEY.>", "knoten.c.done.>", "knoten.c.event.>"}
	if !slices.Equal(c.Publish.Allow, wantPub) || !slices.Equal(c.Subscribe.Allow, wantSub) ||
		c.Publish.Deny != nil || c.Subscribe.Deny != nil || c.Response != nil {
		t.Errorf("client: %+v %+v %+v\nwant publish %q\n     subscribe %q", c.Publish, c.Subscribe, c.Response, wantPub, wantSub)
	}
	for _, s := range ledger.ReaderSubjects("b") {
		if strings.HasPrefix(s, "$KV.") || strings.Contains(s, "STREAM.CREATE") || strings.Contains(s, "STREAM.UPDATE") {
			t.Errorf("a reader may publish on %s, a write", s)
		}
	}
}

// roles is a server that admits members 1, 2 and 3 with
// FullMemberPermissions and one client, with JetStream.
type roles struct {
	url     string
	members []Member
	client  Member
}

func startRoles(t *testing.T) roles {
	t.Helper()
	ms, err := NewMembers(1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	url := startServer(t, EmbeddedOptions{
		Cluster: testCluster, Members: ms, Clients: []Member{c},
		JetStream: true, StoreDir: t.TempDir(),
	})
	return roles{url, ms, c}
}

// conn connects as m and returns the connection with the asynchronous
// errors it reports.
func (r roles) conn(t *testing.T, m Member) (*nats.Conn, chan error) {
	t.Helper()
	errs, handler := asyncErrors()
	return connect(t, r.url, Credentials{Member: &m}, handler), errs
}

// violation waits for a permissions violation naming subject on errs.
func violation(t *testing.T, errs chan error, subject string) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), `"`+subject+`"`) {
			t.Fatalf("%s: %v, want a permissions violation naming it", subject, err)
		}
	case <-timeout():
		t.Fatalf("%s: no permissions violation", subject)
	}
}

// A member cannot beat as another: the server refuses, and another node's
// detector hears only what the member sent as itself.
func TestAttackForgedHeartbeat(t *testing.T) {
	r := startRoles(t)
	nc2, _ := r.conn(t, r.members[1])
	rep := make(reports, 8)
	d, err := StartDetector(nc2, DetectorConfig{Cluster: testCluster, Self: 2}, rep.report)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	nc3, errs3 := r.conn(t, r.members[2])
	forged := AliveSubject(testCluster, 1)
	if err := nc3.Publish(forged, appendHeartbeat(nil, 1, "one")); err != nil {
		t.Fatal(err)
	}
	violation(t, errs3, forged)
	// Node 3 as itself, after the refusal: had the forgery passed, node 2
	// would have heard of node 1 first.
	if err := nc3.Publish(AliveSubject(testCluster, 3), appendHeartbeat(nil, 3, "three")); err != nil {
		t.Fatal(err)
	}
	rep.expect(t, 3, true)
	if ps := d.Members(); len(ps) != 1 || ps[0].ID != 3 {
		t.Fatalf("node 2 knows %+v, want node 3 alone", ps)
	}
}

// StartDetector reports the server's refusal: with TransportOnly, members
// may not hear heartbeats; and node 3 may not beat as node 1.
func TestDetectorRefusedWithoutPermission(t *testing.T) {
	for what, c := range map[string]struct {
		o    EmbeddedOptions
		self cluster.NodeID
	}{
		"transport only":        {EmbeddedOptions{TransportOnly: true}, 3},
		"another member's beat": {EmbeddedOptions{}, 1},
	} {
		url, ms := authServer(t, c.o)
		_, quiet := asyncErrors()
		nc := connect(t, url, Credentials{Member: &ms[2]}, quiet)
		d, err := StartDetector(nc, DetectorConfig{Cluster: testCluster, Self: c.self}, func(cluster.NodeID, bool) {})
		if err == nil {
			d.Close()
			t.Errorf("%s: the detector started", what)
		} else if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("%s: %v, want a permissions violation", what, err)
		}
	}
}

// A client can neither send the cluster's messages as a node, nor beat,
// nor listen to a node's messages or requests.
func TestAttackClientAsNode(t *testing.T) {
	r := startRoles(t)
	tr := newTransport(t, Config{})
	in2 := inbox(tr, 2)
	join(t, tr, 2, r.url, Credentials{Member: &r.members[1]})
	join(t, tr, 3, r.url, Credentials{Member: &r.members[2]})
	nc, errs := r.conn(t, r.client)
	for _, subj := range []string{"knoten.test.to.2.from.1", "knoten.test.to.2.from.1.chunk", AliveSubject(testCluster, 1)} {
		if err := nc.Publish(subj, []byte("ACK, signed node 1")); err != nil {
			t.Fatal(err)
		}
		violation(t, errs, subj)
	}
	for _, subj := range []string{"knoten.test.to.2.>", ControlPrefix(testCluster, 1) + ".>", "knoten.test.alive.*", ledger.InboxPrefix(1) + ".>"} {
		if _, err := nc.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
		violation(t, errs, subj)
	}
	// Node 2's first message is node 3's, sent after the refusals.
	tr.Send(3, 2, []byte("from 3"))
	if d := receive(t, in2); d.from != 3 || string(d.msg) != "from 3" {
		t.Fatalf("node 2 got %q from %d first", d.msg, d.from)
	}
}

// A client asks a given member and any member through the control
// subjects, and hears completions; members answer in the queue group only
// and cannot take another member's requests.
func TestControlRequests(t *testing.T) {
	r := startRoles(t)
	nc1, _ := r.conn(t, r.members[0])
	nc2, _ := r.conn(t, r.members[1])
	nc3, errs3 := r.conn(t, r.members[2])
	answer := func(nc *nats.Conn, subj, queue, text string) {
		t.Helper()
		if _, err := nc.QueueSubscribe(subj, queue, func(m *nats.Msg) { m.Respond([]byte(text)) }); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	answer(nc1, ControlPrefix(testCluster, 1)+".>", "", "1 here")
	answer(nc2, ControlAnyPrefix(testCluster)+".>", ControlQueue, "2 here")
	for _, subj := range []string{ControlAnyPrefix(testCluster) + ".>", ControlPrefix(testCluster, 1) + ".>"} {
		if _, err := nc3.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
		violation(t, errs3, subj)
	}
	if _, err := nc3.QueueSubscribeSync(ControlAnyPrefix(testCluster)+".>", "other"); err != nil {
		t.Fatal(err)
	}
	violation(t, errs3, ControlAnyPrefix(testCluster)+".>")

	client, _ := r.conn(t, r.client)
	done, err := client.SubscribeSync(DonePrefix(testCluster) + ".>")
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Flush(); err != nil {
		t.Fatal(err)
	}
	for subj, want := range map[string]string{
		ControlPrefix(testCluster, 1) + ".ps":  "1 here",
		ControlAnyPrefix(testCluster) + ".run": "2 here",
	} {
		m, err := client.Request(subj, nil, hangGuard)
		if err != nil || string(m.Data) != want {
			t.Fatalf("request on %s: %v, %v; want %q", subj, m, err, want)
		}
	}
	if err := nc1.Publish(DonePrefix(testCluster)+".1.1-1", []byte("finished")); err != nil { // node 1 publishes below done.1 only
		t.Fatal(err)
	}
	if m, err := done.NextMsg(hangGuard); err != nil || string(m.Data) != "finished" {
		t.Fatalf("completion: %v, %v", m, err)
	}
}

// A client that names a node's subject as its request's reply subject
// cannot make a member's answer arrive there as another node's message:
// members answer only into clients' inboxes.
func TestAttackReplySubject(t *testing.T) {
	r := startRoles(t)
	tr := newTransport(t, Config{})
	in2 := inbox(tr, 2)
	join(t, tr, 2, r.url, Credentials{Member: &r.members[1]})
	errs1, handler := asyncErrors()
	nc1 := join(t, tr, 1, r.url, Credentials{Member: &r.members[0]}, handler)
	if _, err := nc1.Subscribe(ControlPrefix(testCluster, 1)+".>", func(m *nats.Msg) { m.Respond([]byte("answer")) }); err != nil {
		t.Fatal(err)
	}
	if err := nc1.Flush(); err != nil {
		t.Fatal(err)
	}
	client, _ := r.conn(t, r.client)
	forged := "knoten.test.to.2.from.3"
	if err := client.PublishRequest(ControlPrefix(testCluster, 1)+".ps", forged, nil); err != nil {
		t.Fatal(err)
	}
	violation(t, errs1, forged)
	tr.Send(1, 2, []byte("from 1"))
	if d := receive(t, in2); d.from != 1 || string(d.msg) != "from 1" {
		t.Fatalf("node 2 got %q from %d first", d.msg, d.from)
	}
}

// A client reads the ledger and cannot write it.
func TestClientReadsLedger(t *testing.T) {
	r := startRoles(t)
	ctx := testCtx(t)
	nc1, _ := r.conn(t, r.members[0])
	js1, err := jetstream.New(nc1)
	if err != nil {
		t.Fatal(err)
	}
	l1, err := ledger.OpenJetStream(ctx, js1, ledger.JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	id := ledger.MakeID(1, 1)
	e, err := l1.Create(ctx, id, 1)
	if err != nil {
		t.Fatal(err)
	}

	nc, errs := r.conn(t, r.client)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.BindJetStream(ctx, js, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l.Get(ctx, id); err != nil || got != e {
		t.Fatalf("client Get: %v, %v; want %v", got, err, e)
	}
	keys, err := l.KV().ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for k := range keys.Keys() {
		all = append(all, k)
	}
	if !slices.Equal(all, []string{ledger.Key(id)}) {
		t.Fatalf("client lists %q, want %q", all, ledger.Key(id))
	}
	refused(t, ctx, "a client's transfer", errs, func(ctx context.Context) error {
		_, err := l.Transfer(ctx, id, e, 2)
		return err
	})
	refused(t, ctx, "a client's delete", errs, func(ctx context.Context) error {
		return l.KV().Delete(ctx, ledger.Key(id))
	})
	refused(t, ctx, "a client's bucket update", errs, func(ctx context.Context) error {
		_, err := ledger.OpenJetStream(ctx, js, ledger.JetStreamConfig{})
		return err
	})
	if got, err := l1.Get(ctx, id); err != nil || got != e {
		t.Fatalf("after the client's attempts: %v, %v; want %v", got, err, e)
	}
}

// Clients need members; identities go in the list of their role, once.
func TestEmbeddedRejectsBadClients(t *testing.T) {
	ms, err := NewMembers(1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient()
	if err != nil {
		t.Fatal(err)
	}
	asMember := c
	asMember.Role = RoleMember
	for what, o := range map[string]EmbeddedOptions{
		"clients without members":    {Cluster: testCluster, Clients: []Member{c}},
		"a member among the clients": {Cluster: testCluster, Members: ms, Clients: []Member{ms[0]}},
		"a client among the members": {Cluster: testCluster, Members: []Member{c}},
		"a key twice":                {Cluster: testCluster, Members: []Member{asMember}, Clients: []Member{c}},
		"a client twice":             {Cluster: testCluster, Members: ms, Clients: []Member{c, c}},
	} {
		if s, _, err := StartEmbedded(o); err == nil {
			s.Shutdown()
			t.Errorf("%s: accepted", what)
		}
	}
}
