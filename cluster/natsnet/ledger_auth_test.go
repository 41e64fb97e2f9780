package natsnet

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/knotencore/knoten/cluster/ledger"
)

// This test lives here, not in package ledger, because it needs natsnet's
// members and server: package cluster imports ledger, and natsnet imports
// cluster, so ledger's tests cannot import natsnet.

// testCtx bounds a test's ledger calls by the hang guard.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// refused runs a ledger call that the server must refuse: the refusal
// arrives as a permission violation on the connection (errs, from
// asyncErrors), and the call, whose request went nowhere, is then
// cancelled.
func refused(t *testing.T, ctx context.Context, what string, errs chan error, call func(context.Context) error) {
	t.Helper()
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- call(cctx) }()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("%s: %v, want a permission violation", what, err)
		}
	case <-ctx.Done():
		t.Fatalf("%s: no permission violation", what)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatalf("%s succeeded", what)
	}
}

// TestJetStreamMembers: on a server that admits only member NKeys, each
// with FullMemberPermissions (which include ledger.MemberSubjects), members
// use the ledger, connected as Connect sets them up; a member cannot read
// another's replies or reach another bucket.
func TestJetStreamMembers(t *testing.T) {
	members, err := NewMembers(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	url := startServer(t, EmbeddedOptions{
		Cluster:   testCluster,
		Members:   members,
		JetStream: true,
		StoreDir:  t.TempDir(),
	})
	ctx := testCtx(t)
	// member returns a member's connection, with Connect's options and
	// extra's, and the errors its handler reports (permission violations
	// among them).
	member := func(m Member, extra ...nats.Option) (jetstream.JetStream, *nats.Conn, chan error) {
		errs, handler := asyncErrors()
		nc := connect(t, url, Credentials{Member: &m}, append(extra, handler)...)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js, nc, errs
	}
	js1, _, _ := member(members[0])
	js2, nc2, errs2 := member(members[1])
	l1, err := ledger.OpenJetStream(ctx, js1, ledger.JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := ledger.OpenJetStream(ctx, js2, ledger.JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := l1.ReserveIDs(ctx, 1, 16)
	if err != nil {
		t.Fatal(err)
	}
	held, err := l1.Create(ctx, first, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Commit(ctx, l2, first, 1, 1, 2); err != nil {
		t.Fatal(err)
	}
	if keep, _, err := ledger.Settle(ctx, l1, first, held); err != nil || keep {
		t.Fatalf("Settle: keep %v, %v", keep, err)
	}
	if h, err := l1.KV().History(ctx, ledger.Key(first)); err != nil || len(h) != 1 {
		t.Fatalf("History as a member: %d entries, %v", len(h), err)
	}

	// A subscription is refused asynchronously: the violation is the
	// answer, and the subscription receives nothing.
	if _, err := nc2.SubscribeSync(ledger.InboxPrefix(1) + ".>"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs2:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("subscribing to another member's inbox: %v, want a permission violation", err)
		}
	case <-ctx.Done():
		t.Fatal("subscribing to another member's inbox: no permission violation")
	}
	refused(t, ctx, "a bucket outside the permissions", errs2, func(ctx context.Context) error {
		_, err := ledger.OpenJetStream(ctx, js2, ledger.JetStreamConfig{Bucket: "other"})
		return err
	})
	jsBad, _, errsBad := member(members[1], nats.CustomInboxPrefix(ledger.InboxPrefix(1)))
	refused(t, ctx, "the ledger through another member's inbox", errsBad, func(ctx context.Context) error {
		_, err := ledger.OpenJetStream(ctx, jsBad, ledger.JetStreamConfig{})
		return err
	})
}
