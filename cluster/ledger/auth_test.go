package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/natsnet"
)

// TestJetStreamMembers: on a server that admits only member NKeys, each
// with its transport's permissions plus MemberSubjects, members use the
// ledger; a member cannot read another's replies or reach another bucket.
func TestJetStreamMembers(t *testing.T) {
	members, err := natsnet.NewMembers(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	s, url, err := natsnet.StartEmbedded(natsnet.EmbeddedOptions{
		Cluster:   "c",
		Members:   members,
		JetStream: true,
		StoreDir:  t.TempDir(),
		MemberExtra: func(n cluster.NodeID) ([]string, []string) {
			return MemberSubjects("", NodeID(n))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	ctx := testCtx(t)
	// connect returns a member's connection and the errors its handler
	// reports (permission violations among them).
	connect := func(m natsnet.Member, inbox string) (jetstream.JetStream, *nats.Conn, chan error) {
		errs := make(chan error, 16)
		nc, err := natsnet.Connect(url, natsnet.Credentials{Member: &m}, nats.CustomInboxPrefix(inbox),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				select {
				case errs <- err:
				default:
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return jsOf(t, nc), nc, errs
	}
	// refused runs a ledger call that the server must refuse: the refusal
	// arrives as a permission violation on the connection, and the call,
	// whose request went nowhere, is then cancelled.
	refused := func(what string, errs chan error, call func(context.Context) error) {
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
	js1, _, _ := connect(members[0], InboxPrefix(1))
	js2, nc2, errs2 := connect(members[1], InboxPrefix(2))
	l1, err := OpenJetStream(ctx, js1, JetStreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := OpenJetStream(ctx, js2, JetStreamConfig{})
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
	if _, err := Commit(ctx, l2, first, 1, 1, 2); err != nil {
		t.Fatal(err)
	}
	if keep, _, err := Settle(ctx, l1, first, held); err != nil || keep {
		t.Fatalf("Settle: keep %v, %v", keep, err)
	}
	if h, err := l1.KV().History(ctx, Key(first)); err != nil || len(h) != 1 {
		t.Fatalf("History as a member: %d entries, %v", len(h), err)
	}

	// A subscription is refused asynchronously: the violation is the
	// answer, and the subscription receives nothing.
	if _, err := nc2.SubscribeSync(InboxPrefix(1) + ".>"); err != nil {
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
	refused("a bucket outside the permissions", errs2, func(ctx context.Context) error {
		_, err := OpenJetStream(ctx, js2, JetStreamConfig{Bucket: "other"})
		return err
	})
	jsBad, _, errsBad := connect(members[1], InboxPrefix(1))
	refused("the ledger through another member's inbox", errsBad, func(ctx context.Context) error {
		_, err := OpenJetStream(ctx, jsBad, JetStreamConfig{})
		return err
	})
}

func jsOf(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
