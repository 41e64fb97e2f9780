package natsnet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
)

// A Member is an identity in a cluster: the NKey user key pair it
// authenticates with, its role and, for a node, its NodeID. The server
// knows only the public key; the seed is the holder's secret.
type Member struct {
	Role      Role           // RoleMember (the zero value) or RoleClient
	Node      cluster.NodeID // a member's node; 0 for a client
	PublicKey string         // "U…", what the server's configuration lists
	Seed      []byte         // "SU…", the private key; keep it secret
}

// Role says what an identity may do: run a node (FullMemberPermissions),
// or ask the nodes (ClientPermissions).
type Role uint8

// The roles.
const (
	RoleMember Role = iota // a node of the cluster
	RoleClient             // a command such as knoten submit, ps, migrate, drain
)

func (r Role) String() string {
	switch r {
	case RoleMember:
		return "member"
	case RoleClient:
		return "client"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// NewMember generates a fresh NKey user key pair for node.
func NewMember(node cluster.NodeID) (Member, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return Member{}, fmt.Errorf("natsnet: nkey for node %d: %w", node, err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return Member{}, err
	}
	seed, err := kp.Seed()
	if err != nil {
		return Member{}, err
	}
	// Wipe zeroes the key pair's own seed, which Seed returned: keep a copy.
	return Member{Node: node, PublicKey: pub, Seed: append([]byte(nil), seed...)}, nil
}

// WriteSeedFile writes m's seed alone to path, readable only by its
// owner. WriteCreds writes the seed with the role and node id, which
// ReadCreds needs nothing else to read.
func (m Member) WriteSeedFile(path string) error {
	return writeSecret(path, append(append([]byte(nil), m.Seed...), '\n'))
}

// ReadMember reads node's seed from a file written by WriteSeedFile and
// derives its public key.
func ReadMember(node cluster.NodeID, path string) (Member, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Member{}, err
	}
	seed := []byte(strings.TrimSpace(string(b)))
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return Member{}, fmt.Errorf("natsnet: %s: %w", path, err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return Member{}, err
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return Member{}, fmt.Errorf("natsnet: %s holds no user seed", path)
	}
	return Member{Node: node, PublicKey: pub, Seed: seed}, nil
}

// NewClient generates a fresh NKey user key pair for a client.
func NewClient() (Member, error) {
	m, err := NewMember(0)
	if err != nil {
		return Member{}, fmt.Errorf("natsnet: client nkey: %w", errors.Unwrap(err))
	}
	m.Role = RoleClient
	return m, nil
}

// NewMembers generates a member for each node.
func NewMembers(nodes ...cluster.NodeID) ([]Member, error) {
	ms := make([]Member, 0, len(nodes))
	for _, n := range nodes {
		m, err := NewMember(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// MemberPermissions returns what the transport of node needs on the
// server of cluster clusterName: publish only as itself
// (knoten.<c>.to.*.from.<node>, and its chunks), and subscribe only to
// what is addressed to it (knoten.<c>.to.<node>.>). Nothing else: no
// request/reply inboxes, since the transport has none, and no other
// member's traffic. A node needs more (its heartbeats, control requests,
// the ledger): FullMemberPermissions.
func MemberPermissions(clusterName string, node cluster.NodeID) *server.Permissions {
	prefix := subjectPrefix(clusterName)
	id := strconv.FormatUint(uint64(node), 10)
	from := prefix + "*.from." + id
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{from, from + chunkSuffix}},
		Subscribe: &server.SubjectPermission{Allow: []string{prefix + id + ".>"}},
	}
}

// TLSFiles names a certificate and its key in PEM files.
type TLSFiles struct {
	CertFile string // also the CA a client trusts, for a self-signed certificate
	KeyFile  string
}

// GenerateTLS writes a self-signed ECDSA P-256 certificate for 127.0.0.1,
// ::1 and localhost, and for hosts (IP addresses or DNS names: what nodes
// on other machines dial), valid for a year, and its key into dir
// (cert.pem, key.pem, the key readable only by its owner). The
// certificate is its own CA: a client trusts it by loading CertFile as a
// root.
func GenerateTLS(dir string, hosts ...string) (TLSFiles, error) {
	ips, names := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, []string{"localhost"}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else if h != "" {
			names = append(names, h)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return TLSFiles{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return TLSFiles{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"KnotenCore"}, CommonName: "knoten embedded nats"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           ips,
		DNSNames:              names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return TLSFiles{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return TLSFiles{}, err
	}
	files := TLSFiles{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(files.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return TLSFiles{}, err
	}
	if err := os.WriteFile(files.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return TLSFiles{}, err
	}
	return files, nil
}

// EmbeddedOptions configures StartEmbedded.
type EmbeddedOptions struct {
	// Cluster names the cluster whose subjects the members' permissions
	// cover; required with Members.
	Cluster string
	// Members, if any, are with Clients the only users the server admits,
	// each with FullMemberPermissions. Without members the server admits
	// anyone, with no limits.
	Members []Member
	// Clients are admitted with ClientPermissions, if there are Members.
	// Each must have RoleClient.
	Clients []Member
	// LedgerBucket names the ownership ledger's KV bucket that members
	// may write and clients read; ledger.DefaultBucket if empty.
	LedgerBucket string
	// TransportOnly gives members MemberPermissions instead of
	// FullMemberPermissions: the transport's subjects and nothing else.
	TransportOnly bool
	// JetStream enables JetStream, storing in StoreDir.
	JetStream bool
	// StoreDir is where JetStream keeps its data. If empty, StartEmbedded
	// makes a temporary directory and removes it when the server shuts
	// down.
	StoreDir string
	// TLS, if set, makes the server require TLS with this certificate
	// (see GenerateTLS).
	TLS *TLSFiles
	// MaxPayload, if positive, replaces the server's max_payload (1 MiB).
	MaxPayload int32
	// Logs enables the server's log on stderr (off by default).
	Logs bool
	// Host and Port are where the server listens for clients (and Host
	// for routes too): 127.0.0.1 and a port the kernel picks by default.
	// Another machine's nodes need a Host they can reach (0.0.0.0 for
	// every interface); use TLS and members then.
	Host string
	Port int

	// ServerName names the server. Each server of a NATS cluster that
	// runs JetStream needs its own; empty lets the server make one up.
	ServerName string
	// RouteCluster, if set, makes the server one of a NATS cluster of that
	// name: it listens for routes from its peers on 127.0.0.1:RoutePort
	// (0: a port the kernel picks) and connects to Routes
	// ("nats-route://127.0.0.1:port" URLs; listing itself is harmless).
	// A clustered server keeps its system account, which clustered
	// JetStream needs for its Raft traffic.
	RouteCluster string
	RoutePort    int
	Routes       []string
	// MemberExtra, if set, adds to each member's permissions the subjects
	// it returns for that node: what another package on the same
	// connection needs beyond FullMemberPermissions (or MemberPermissions,
	// with TransportOnly).
	MemberExtra func(node cluster.NodeID) (publish, subscribe []string)
}

// StartEmbedded starts a NATS server in this process, listening on
// o.Host:o.Port (127.0.0.1 on a port the kernel picks by default), and
// returns it with its client URL once it accepts connections. The caller
// shuts it down (Shutdown, then WaitForShutdown).
func StartEmbedded(o EmbeddedOptions) (*server.Server, string, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = server.RANDOM_PORT
	}
	opts := &server.Options{
		Host:       o.Host,
		Port:       o.Port,
		NoLog:      !o.Logs,
		NoSigs:     true,
		MaxPayload: o.MaxPayload,
		// No system account: nothing here uses it, and it would be one
		// more account for members to reach.
		NoSystemAccount: true,
	}
	if o.ServerName != "" {
		opts.ServerName = o.ServerName
	}
	if o.RouteCluster != "" {
		opts.NoSystemAccount = false
		opts.Cluster = server.ClusterOpts{Name: o.RouteCluster, Host: o.Host, Port: o.RoutePort}
		if o.RoutePort == 0 {
			opts.Cluster.Port = server.RANDOM_PORT
		}
		for _, r := range o.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, "", fmt.Errorf("natsnet: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	if len(o.Members) == 0 && len(o.Clients) > 0 {
		// Without members the server admits anyone: the clients'
		// limits would mean nothing.
		return nil, "", errors.New("natsnet: clients without members")
	}
	if len(o.Members) > 0 {
		if err := checkToken(o.Cluster); err != nil {
			return nil, "", fmt.Errorf("natsnet: cluster name: %w", err)
		}
		seen := make(map[cluster.NodeID]bool, len(o.Members))
		keys := make(map[string]bool, len(o.Members)+len(o.Clients))
		for _, m := range o.Members {
			if m.Role != RoleMember {
				return nil, "", fmt.Errorf("natsnet: node %d: a %v among the members", m.Node, m.Role)
			}
			if seen[m.Node] {
				return nil, "", fmt.Errorf("natsnet: node %d listed twice among the members", m.Node)
			}
			seen[m.Node] = true
			if !nkeys.IsValidPublicUserKey(m.PublicKey) {
				return nil, "", fmt.Errorf("natsnet: node %d: %q is not an NKey user public key", m.Node, m.PublicKey)
			}
			if keys[m.PublicKey] {
				return nil, "", fmt.Errorf("natsnet: node %d: key %s listed twice", m.Node, m.PublicKey)
			}
			keys[m.PublicKey] = true
			perms := FullMemberPermissions(o.Cluster, m.Node, o.LedgerBucket)
			if o.TransportOnly {
				perms = MemberPermissions(o.Cluster, m.Node)
			}
			if o.MemberExtra != nil {
				pub, sub := o.MemberExtra(m.Node)
				perms.Publish.Allow = append(perms.Publish.Allow, pub...)
				perms.Subscribe.Allow = append(perms.Subscribe.Allow, sub...)
			}
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: m.PublicKey, Permissions: perms})
		}
		for _, c := range o.Clients {
			if c.Role != RoleClient {
				return nil, "", fmt.Errorf("natsnet: a %v among the clients", c.Role)
			}
			if !nkeys.IsValidPublicUserKey(c.PublicKey) {
				return nil, "", fmt.Errorf("natsnet: client %q is not an NKey user public key", c.PublicKey)
			}
			if keys[c.PublicKey] {
				return nil, "", fmt.Errorf("natsnet: client key %s listed twice", c.PublicKey)
			}
			keys[c.PublicKey] = true
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: c.PublicKey, Permissions: ClientPermissions(o.Cluster, c.PublicKey, o.LedgerBucket)})
		}
	}
	if o.TLS != nil {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.TLS.CertFile, KeyFile: o.TLS.KeyFile})
		if err != nil {
			return nil, "", fmt.Errorf("natsnet: tls: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = tc, true, 2
	}
	var tempDir string
	if o.JetStream {
		opts.JetStream = true
		opts.StoreDir = o.StoreDir
		if opts.StoreDir == "" {
			d, err := os.MkdirTemp("", "knoten-nats-*")
			if err != nil {
				return nil, "", err
			}
			tempDir, opts.StoreDir = d, d
		}
	}
	removeTemp := func() {
		if tempDir != "" {
			os.RemoveAll(tempDir)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		removeTemp()
		return nil, "", fmt.Errorf("natsnet: embedded server: %w", err)
	}
	if o.Logs {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		removeTemp()
		return nil, "", errors.New("natsnet: embedded server not ready after 10s")
	}
	if tempDir != "" {
		go func() {
			s.WaitForShutdown()
			removeTemp()
		}()
	}
	return s, s.ClientURL(), nil
}

// Credentials are what a node or a client connects with.
type Credentials struct {
	// Member, if set, authenticates the connection with its NKey seed,
	// and sets the reply-inbox prefix its permissions allow:
	// ledger.InboxPrefix(Node) for a member, ClientInboxPrefix for a
	// client.
	Member *Member
	// CAFile, if set, is the root certificate the server's must chain to
	// (for a self-signed one, its CertFile); it turns TLS on.
	CAFile string
	// Name labels the connection in the server's monitoring.
	Name string
}

// Connect opens a connection to the NATS server at url with creds. extra
// options follow Connect's own, so they can override them (an
// ErrorHandler, to see permission violations, for instance).
func Connect(url string, creds Credentials, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{
		// A node keeps trying forever: the protocol above rides out a
		// server's absence like any other loss.
		nats.MaxReconnects(-1),
		// The messages a node sends while it is disconnected: about a few
		// states. Past it, Send drops and counts; the protocol resends.
		nats.ReconnectBufSize(64 << 20),
	}
	if creds.Name != "" {
		opts = append(opts, nats.Name(creds.Name))
	}
	if m := creds.Member; m != nil {
		kp, err := nkeys.FromSeed(m.Seed)
		if err != nil {
			return nil, fmt.Errorf("natsnet: node %d seed: %w", m.Node, err)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, err
		}
		// The connection signs the server's nonce whenever it (re)connects,
		// so it keeps the key pair for its life.
		opts = append(opts, nats.Nkey(pub, kp.Sign))
		// nats.go's default inbox, _INBOX.<random>, is outside every
		// identity's permissions: the answers to its requests go to the
		// one inbox it may read.
		inbox := ledger.InboxPrefix(ledger.NodeID(m.Node))
		if m.Role == RoleClient {
			inbox = ClientInboxPrefix(pub)
		}
		opts = append(opts, nats.CustomInboxPrefix(inbox))
	}
	if creds.CAFile != "" {
		pem, err := os.ReadFile(creds.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("natsnet: no certificate in %s", creds.CAFile)
		}
		opts = append(opts, nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("natsnet: connect %s: %w", url, err)
	}
	return nc, nil
}
