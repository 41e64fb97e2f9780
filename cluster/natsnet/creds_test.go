package natsnet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

// Credentials files round-trip for both roles, are written 0600 even over
// a file others could read, and connect as what they hold.
func TestCreds(t *testing.T) {
	r := startRoles(t)
	dir := t.TempDir()
	for _, m := range []Member{r.members[2], r.client} {
		path := filepath.Join(dir, m.Role.String()+".creds")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := m.WriteCreds(path); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%v creds file %v, %v: want mode 0600", m.Role, fi, err)
		}
		got, err := ReadCreds(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Role != m.Role || got.Node != m.Node || got.PublicKey != m.PublicKey || string(got.Seed) != string(m.Seed) {
			t.Fatalf("read back %v %d %s, want %v %d %s", got.Role, got.Node, got.PublicKey, m.Role, m.Node, m.PublicKey)
		}
		// Connect gives the connection the inbox its role may read: a
		// request's answer arrives.
		nc, _ := r.conn(t, got)
		if _, err := nc.Request("$JS.API.INFO", nil, hangGuard); err != nil {
			t.Errorf("%v: a request over the credentials read back: %v", m.Role, err)
		}
	}
	if first, _, _ := strings.Cut(mustRead(t, filepath.Join(dir, "member.creds")), "\n"); first != "knoten-member 3" {
		t.Errorf("member creds start %q, want %q", first, "knoten-member 3")
	}
	if first, _, _ := strings.Cut(mustRead(t, filepath.Join(dir, "client.creds")), "\n"); first != "knoten-client" {
		t.Errorf("client creds start %q, want %q", first, "knoten-client")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Anything but the two forms is refused, with a message that says why.
func TestReadCredsRejects(t *testing.T) {
	m, err := NewMember(3)
	if err != nil {
		t.Fatal(err)
	}
	seed := string(m.Seed)
	akp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	aseed, err := akp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct{ text, why string }{
		{"", "2 lines"},
		{seed + "\n", "2 lines"}, // a bare seed file (WriteSeedFile's)
		{"knoten-member 3\n" + seed, "2 lines"},
		{"knoten-member 3\n" + seed + "\n\n", "2 lines"},
		{"knoten-member 3\r\n" + seed + "\r\n", "node id"},
		{"knoten-member\n" + seed + "\n", "node id"},
		{"knoten-member 03\n" + seed + "\n", "node id"},
		{"knoten-member -1\n" + seed + "\n", "node id"},
		{"knoten-member 4294967296\n" + seed + "\n", "node id"},
		{"knoten-member 3 4\n" + seed + "\n", "node id"},
		{"knoten-client 3\n" + seed + "\n", "neither"},
		{"knoten-admin\n" + seed + "\n", "neither"},
		{"knoten-client\nSUnot-a-seed\n", "seed"},
		{"knoten-client\n" + string(aseed) + "\n", "not a user's"},
	} {
		path := filepath.Join(dir, "bad.creds")
		if err := os.WriteFile(path, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadCreds(path)
		if err == nil {
			t.Errorf("%q read as %v %d", c.text, got.Role, got.Node)
			continue
		}
		if !strings.Contains(err.Error(), c.why) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v; want an error naming the file and saying %q", c.text, err, c.why)
		}
	}
	if _, err := ReadCreds(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file read")
	}
	bad := m
	bad.Role = 7
	if err := bad.WriteCreds(filepath.Join(dir, "role7")); err == nil {
		t.Error("credentials written for role 7")
	}
}
