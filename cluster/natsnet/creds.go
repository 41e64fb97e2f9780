package natsnet

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nats-io/nkeys"
)

// A credentials file holds one identity in two lines:
//
//	knoten-member <node id>     or     knoten-client
//	SU…                                SU…
//
// the role (and a member's node id, decimal as in the subjects), then the
// NKey user seed, each line ended by a newline. Nothing else is accepted:
// no blank lines, comments or carriage returns, so that a file meant for
// something else is refused, not half understood.
const (
	credsMember = "knoten-member"
	credsClient = "knoten-client"
)

// WriteCreds writes m's credentials file to path, readable only by its
// owner: the file a node or a command is started with (--creds FILE).
func (m Member) WriteCreds(path string) error {
	var first string
	switch m.Role {
	case RoleMember:
		first = credsMember + " " + strconv.FormatUint(uint64(m.Node), 10)
	case RoleClient:
		first = credsClient
	default:
		return fmt.Errorf("natsnet: credentials for a %v", m.Role)
	}
	if _, err := seedKey(m.Seed); err != nil {
		return err
	}
	return writeSecret(path, []byte(first+"\n"+string(m.Seed)+"\n"))
}

// ReadCreds reads a credentials file written by WriteCreds: the identity,
// its role, its node if a member, and its key pair.
func ReadCreds(path string) (Member, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Member{}, err
	}
	bad := func(format string, args ...any) (Member, error) {
		return Member{}, fmt.Errorf("natsnet: credentials file %s: "+format, append([]any{path}, args...)...)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) != 3 || lines[2] != "" {
		return bad("want 2 lines (%q or %q, then the seed), each ended by a newline", credsMember+" <node id>", credsClient)
	}
	var m Member
	switch head, id, _ := strings.Cut(lines[0], " "); {
	case lines[0] == credsClient:
		m.Role = RoleClient
	case head == credsMember:
		node, ok := parseID(id)
		if !ok {
			return bad("member node id %q is not a decimal below 2^32 without leading zeros", id)
		}
		m.Role, m.Node = RoleMember, node
	default:
		return bad("first line %q is neither %q nor %q", lines[0], credsMember+" <node id>", credsClient)
	}
	m.Seed = []byte(lines[1])
	if m.PublicKey, err = seedKey(m.Seed); err != nil {
		return bad("%v", err)
	}
	return m, nil
}

// seedKey returns the public key of an NKey user seed.
func seedKey(seed []byte) (string, error) {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return "", fmt.Errorf("natsnet: seed: %w", err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return "", err
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("natsnet: the seed is not a user's")
	}
	return pub, nil
}

// writeSecret writes b to path, readable and writable by its owner only,
// whether or not path existed (os.WriteFile keeps an existing file's
// mode, which might let others read it).
func writeSecret(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// Before the secret goes in.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
