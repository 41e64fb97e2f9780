package natsnet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/knotencore/knoten/cluster"
)

// authServer starts a server that admits only members 1, 2 and 3.
func authServer(t *testing.T, o EmbeddedOptions) (string, []Member) {
	t.Helper()
	ms, err := NewMembers(1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	o.Cluster, o.Members = testCluster, ms
	return startServer(t, o), ms
}

// asyncErrors collects a connection's asynchronous errors.
func asyncErrors() (chan error, nats.Option) {
	ch := make(chan error, 16)
	return ch, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case ch <- err:
		default:
		}
	})
}

func TestAuthRefusesStrangers(t *testing.T) {
	url, _ := authServer(t, EmbeddedOptions{})
	if nc, err := Connect(url, Credentials{}); err == nil {
		nc.Close()
		t.Fatal("a connection without credentials was admitted")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("unauthenticated: %v, want an authorization violation", err)
	}
	stranger, err := NewMember(1) // a key pair the server does not list
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := Connect(url, Credentials{Member: &stranger}); err == nil {
		nc.Close()
		t.Fatal("a connection with an unknown key was admitted")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("unknown key: %v, want an authorization violation", err)
	}
}

// Member 3 tries to publish as member 1, and to listen to member 2's
// messages. The server refuses both and says so through the error handler;
// node 2 receives only what node 3 sent as itself.
func TestAuthMemberCannotPoseAsAnother(t *testing.T) {
	url, ms := authServer(t, EmbeddedOptions{})
	tr2, tr3 := newTransport(t, Config{}), newTransport(t, Config{})
	in2 := inbox(tr2, 2)
	join(t, tr2, 2, url, Credentials{Member: &ms[1]})
	errs, handler := asyncErrors()
	nc3 := join(t, tr3, 3, url, Credentials{Member: &ms[2]}, handler)

	// Forged sender subject, whole and chunked.
	for _, subj := range []string{"knoten.test.to.2.from.1", "knoten.test.to.2.from.1.chunk"} {
		if err := nc3.Publish(subj, []byte("ACK, signed node 1")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), subj) {
				t.Errorf("publish on %s: async error %v, want a permissions violation naming it", subj, err)
			}
		case <-timeout():
			t.Fatalf("no permissions violation reported for %s", subj)
		}
	}
	// Eavesdropping on node 2.
	if _, err := nc3.SubscribeSync("knoten.test.to.2.>"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("subscribe: async error %v, want a permissions violation", err)
		}
	case <-timeout():
		t.Fatal("no permissions violation reported for the subscription")
	}
	// Node 3 as itself gets through. Messages from one connection keep
	// their order, so had a forgery passed, it would have come first.
	tr3.Send(3, 2, []byte("hello as 3"))
	d := receive(t, in2)
	if d.from != 3 || string(d.msg) != "hello as 3" {
		t.Fatalf("node 2 got %q from %d, want node 3's own message first and only", d.msg, d.from)
	}
	select {
	case d := <-in2:
		t.Fatalf("node 2 got a further message %q from %d", d.msg, d.from)
	default:
	}
	// The transport itself, told to send as node 1 over node 3's
	// connection, has no connection for node 1 and sends nothing.
	tr3.Send(1, 2, []byte("as 1"))
	if s := tr3.Stats(); s.NoConnection != 1 {
		t.Errorf("NoConnection %d, want 1", s.NoConnection)
	}
}

// A node that joins under another member's id with its own credentials
// cannot subscribe to that member's messages: Join reports the server's
// refusal, and the node can then join as itself on the same connection.
func TestAuthJoinAsAnotherRefused(t *testing.T) {
	url, ms := authServer(t, EmbeddedOptions{})
	tr := newTransport(t, Config{})
	_, quiet := asyncErrors()
	nc := connect(t, url, Credentials{Member: &ms[2]}, quiet)
	err := tr.Join(1, nc)
	if !errors.Is(err, nats.ErrPermissionViolation) {
		t.Fatalf("joining as node 1 with node 3's key: %v, want a permissions violation", err)
	}
	if err := tr.Join(3, nc); err != nil {
		t.Fatalf("joining as itself after the refusal: %v", err)
	}
}

// A member's seed saved to a file and read back connects as that member.
func TestSeedFile(t *testing.T) {
	url, ms := authServer(t, EmbeddedOptions{})
	path := filepath.Join(t.TempDir(), "n2.seed")
	if err := ms[1].WriteSeedFile(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("seed file %v, %v: want mode 0600", fi, err)
	}
	m, err := ReadMember(2, path)
	if err != nil {
		t.Fatal(err)
	}
	if m.PublicKey != ms[1].PublicKey {
		t.Fatalf("read back %s, want %s", m.PublicKey, ms[1].PublicKey)
	}
	tr := newTransport(t, Config{})
	join(t, tr, 2, url, Credentials{Member: &m})
	if err := os.WriteFile(path, []byte("SUnot-a-seed"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMember(2, path); err == nil {
		t.Error("a garbled seed file was read")
	}
}

func TestMemberPermissions(t *testing.T) {
	p := MemberPermissions("c", 7)
	want := []string{"knoten.c.to.*.from.7", "knoten.c.to.*.from.7.chunk"}
	if len(p.Publish.Allow) != 2 || p.Publish.Allow[0] != want[0] || p.Publish.Allow[1] != want[1] || len(p.Publish.Deny) != 0 {
		t.Errorf("publish %+v, want %v", p.Publish, want)
	}
	if len(p.Subscribe.Allow) != 1 || p.Subscribe.Allow[0] != "knoten.c.to.7.>" {
		t.Errorf("subscribe %+v, want knoten.c.to.7.>", p.Subscribe)
	}
}

// TLS with the generated self-signed certificate, with members: a node
// that trusts the certificate connects and exchanges messages; one that
// does not is refused.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	files, err := GenerateTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(files.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %v, %v: want mode 0600", fi, err)
	}
	url, ms := authServer(t, EmbeddedOptions{TLS: &files})
	if !strings.HasPrefix(url, "tls://") {
		t.Errorf("url %s, want tls://", url)
	}
	tr := newTransport(t, Config{})
	in := inbox(tr, 2)
	nc := join(t, tr, 1, url, Credentials{Member: &ms[0], CAFile: files.CertFile})
	join(t, tr, 2, url, Credentials{Member: &ms[1], CAFile: files.CertFile})
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Errorf("connection is not TLS: %v", err)
	}
	tr.Send(1, 2, []byte("over tls"))
	if d := receive(t, in); d.from != 1 || string(d.msg) != "over tls" {
		t.Fatalf("got %q from %d", d.msg, d.from)
	}
	if nc, err := Connect(url, Credentials{Member: &ms[2]}); err == nil {
		nc.Close()
		t.Error("a client that does not trust the certificate connected")
	}
	other, err := GenerateTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := Connect(url, Credentials{Member: &ms[2], CAFile: other.CertFile}); err == nil {
		nc.Close()
		t.Error("a client trusting another certificate connected")
	}
}

// JetStream comes up in a temporary store directory, which goes away with
// the server; given a directory, it stores there.
func TestEmbeddedJetStream(t *testing.T) {
	dir := t.TempDir()
	ms, err := NewMembers(1)
	if err != nil {
		t.Fatal(err)
	}
	s, url, err := StartEmbedded(EmbeddedOptions{JetStream: true, StoreDir: dir, Cluster: testCluster, Members: ms})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.Shutdown()
		s.WaitForShutdown()
	}()
	if !s.JetStreamEnabled() {
		t.Fatal("JetStream is not enabled")
	}
	if got := s.StoreDir(); !strings.HasPrefix(got, dir) {
		t.Errorf("store dir %s, want under %s", got, dir)
	}
	nc := connect(t, url, Credentials{Member: &ms[0]})
	if nc.MaxPayload() <= 0 {
		t.Error("no max payload")
	}

	s2, _, err := StartEmbedded(EmbeddedOptions{JetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	tmp := s2.StoreDir()
	if !strings.Contains(tmp, string(filepath.Separator)+"knoten-nats-") {
		t.Errorf("store dir %s is not a temporary knoten-nats-* directory", tmp)
	}
	s2.Shutdown()
	s2.WaitForShutdown()
}

// Members listed twice, or with a key that is not a user key, are refused.
func TestEmbeddedRejectsBadMembers(t *testing.T) {
	ms, err := NewMembers(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s, _, err := StartEmbedded(EmbeddedOptions{Cluster: testCluster, Members: ms}); err == nil {
		s.Shutdown()
		t.Error("a node listed twice was accepted")
	}
	ms[1].Node, ms[1].PublicKey = 2, "not a key"
	if s, _, err := StartEmbedded(EmbeddedOptions{Cluster: testCluster, Members: ms}); err == nil {
		s.Shutdown()
		t.Error("a bad public key was accepted")
	}
	if s, _, err := StartEmbedded(EmbeddedOptions{Cluster: "a.b", Members: ms[:1]}); err == nil {
		s.Shutdown()
		t.Error("a cluster name with a dot was accepted")
	}
	if _, err := New(Config{Cluster: "x>"}); err == nil {
		t.Error("New took a cluster name with a wildcard")
	}
	var _ cluster.Transport = (*Transport)(nil)
}
