package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/member"
	"github.com/knotencore/knoten/cluster/natsnet"
)

// defaultListen is where knoten nats and knoten node --embedded listen.
const defaultListen = "127.0.0.1:4222"

// listenAddr is a checked --listen HOST:PORT.
type listenAddr struct {
	host string
	port int // 0: one the kernel picks
}

// parseListen checks a --listen HOST:PORT, and that it is free now: the
// embedded server, told a port it cannot have, would only say that it is
// not ready, after 10 s.
func parseListen(cmd, s string) (listenAddr, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return listenAddr{}, fmt.Errorf("%s: --listen %q: want HOST:PORT, such as 127.0.0.1:4222, or 0.0.0.0:4222 for every interface", cmd, s)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return listenAddr{}, fmt.Errorf("%s: --listen %q: port %q is not a number from 0 to 65535", cmd, s, port)
	}
	l, err := net.Listen("tcp", s)
	if errors.Is(err, syscall.EADDRINUSE) {
		return listenAddr{}, fmt.Errorf("%s: --listen %s: the port is taken (another server? --listen %s:0 takes a free one)", cmd, s, host)
	}
	if err != nil {
		return listenAddr{}, fmt.Errorf("%s: --listen %s: %w", cmd, s, err)
	}
	l.Close()
	return listenAddr{host: host, port: int(n)}, nil
}

// certHosts are the names a certificate for a server listening at a must
// carry besides loopback: its host, or, listening on every interface,
// this machine's name and every address of its interfaces.
func certHosts(a listenAddr) []string {
	if !a.everywhere() {
		return []string{a.host}
	}
	var hosts []string
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				hosts = append(hosts, ipn.IP.String())
			}
		}
	}
	return hosts
}

// everywhere reports whether the server listens on every interface.
func (a listenAddr) everywhere() bool {
	ip := net.ParseIP(a.host)
	return ip != nil && ip.IsUnspecified()
}

// localURL is the server's client URL as this machine reaches it: a server
// listening on every interface is reached on loopback, which its
// certificate names.
func localURL(serverURL string, a listenAddr) string {
	if !a.everywhere() {
		return serverURL
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return serverURL
	}
	loop := "127.0.0.1"
	if net.ParseIP(a.host).To4() == nil {
		loop = "::1"
	}
	u.Host = net.JoinHostPort(loop, u.Port())
	return u.String()
}

// authDir is what knoten nats --auth keeps in its DIR: a member's
// credentials per node (n<id>.creds), the client's (client.creds) and,
// with --tls, the server's certificate and key.
type authDir struct {
	dir     string // absolute
	members []natsnet.Member
	client  natsnet.Member
	tls     *natsnet.TLSFiles
	made    int // how many files were made now; the others were there
}

func (d *authDir) memberFile(node cluster.NodeID) string {
	return filepath.Join(d.dir, "n"+strconv.Itoa(int(node))+".creds")
}

func (d *authDir) clientFile() string { return filepath.Join(d.dir, "client.creds") }

// openAuthDir reads the credentials of nodes 0..members-1 and of the
// client from dir, making those it lacks (and dir, if need be), and with
// withTLS the server's certificate too: a server restarted on the same
// dir admits the same nodes and clients, which trust the same
// certificate.
func openAuthDir(dir string, members int, withTLS bool, hosts []string) (*authDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("nats: --auth %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("nats: --auth: %w", err)
	}
	d := &authDir{dir: abs}
	for i := range members {
		node := cluster.NodeID(i)
		m, err := d.creds(d.memberFile(node), func() (natsnet.Member, error) { return natsnet.NewMember(node) })
		if err != nil {
			return nil, err
		}
		if m.Role != natsnet.RoleMember || m.Node != node {
			return nil, fmt.Errorf("nats: --auth: %s holds %s, not node %d's: move it away to have a new one made", d.memberFile(node), whose(m), node)
		}
		d.members = append(d.members, m)
	}
	if d.client, err = d.creds(d.clientFile(), natsnet.NewClient); err != nil {
		return nil, err
	}
	if d.client.Role != natsnet.RoleClient {
		return nil, fmt.Errorf("nats: --auth: %s holds %s, not a client's: move it away to have a new one made", d.clientFile(), whose(d.client))
	}
	if withTLS {
		if d.tls, err = d.certificate(hosts); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// creds reads the credentials file at path, or makes one there.
func (d *authDir) creds(path string, fresh func() (natsnet.Member, error)) (natsnet.Member, error) {
	m, err := natsnet.ReadCreds(path)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return natsnet.Member{}, fmt.Errorf("nats: --auth: %w", err)
	}
	if m, err = fresh(); err != nil {
		return natsnet.Member{}, fmt.Errorf("nats: --auth: %w", err)
	}
	if err := m.WriteCreds(path); err != nil {
		return natsnet.Member{}, fmt.Errorf("nats: --auth: %w", err)
	}
	d.made++
	return m, nil
}

// certificate returns the server's certificate in the directory, made now
// for hosts (besides loopback) if it has none.
func (d *authDir) certificate(hosts []string) (*natsnet.TLSFiles, error) {
	files := natsnet.TLSFiles{CertFile: filepath.Join(d.dir, "cert.pem"), KeyFile: filepath.Join(d.dir, "key.pem")}
	_, certErr := os.Stat(files.CertFile)
	_, keyErr := os.Stat(files.KeyFile)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		made, err := natsnet.GenerateTLS(d.dir, hosts...)
		if err != nil {
			return nil, fmt.Errorf("nats: --tls: %w", err)
		}
		d.made += 2
		return &made, nil
	case certErr != nil:
		return nil, fmt.Errorf("nats: --tls: %w (with %s: remove both to have a new pair made)", certErr, files.KeyFile)
	case keyErr != nil:
		return nil, fmt.Errorf("nats: --tls: %w (with %s: remove both to have a new pair made)", keyErr, files.CertFile)
	}
	pair, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("nats: --tls: %s and %s: %w", files.CertFile, files.KeyFile, err)
	}
	if pair.Leaf != nil && time.Now().After(pair.Leaf.NotAfter) {
		return nil, fmt.Errorf("nats: --tls: %s expired on %s: remove it and %s to have a new pair made (and give the nodes the new one)",
			files.CertFile, pair.Leaf.NotAfter.Format(time.DateOnly), files.KeyFile)
	}
	for _, h := range hosts {
		if pair.Leaf != nil && pair.Leaf.VerifyHostname(h) != nil {
			return nil, fmt.Errorf("nats: --tls: %s does not name %s, where nodes will dial: remove it and %s to have a new pair made (and give the nodes the new one)",
				files.CertFile, h, files.KeyFile)
		}
	}
	return &files, nil
}

// whose says whose credentials m are.
func whose(m natsnet.Member) string {
	if m.Role == natsnet.RoleClient {
		return "a client's credentials"
	}
	return "node " + strconv.Itoa(int(m.Node)) + "'s member credentials"
}

// connFlags are the flags of every command that connects to a server.
type connFlags struct {
	cmd   string
	creds string
	ca    string
}

// credentials reads --creds and --ca for a connection as role: a node
// needs a member's credentials, the other commands a client's.
func (f *connFlags) credentials(role natsnet.Role) (natsnet.Credentials, error) {
	var c natsnet.Credentials
	if f.creds != "" {
		m, err := natsnet.ReadCreds(f.creds)
		if err != nil {
			return c, fmt.Errorf("%s: --creds: %w", f.cmd, err)
		}
		if m.Role != role {
			need := "a client's, client.creds"
			if role == natsnet.RoleMember {
				need = "its node's, n<id>.creds"
			}
			return c, fmt.Errorf("%s: --creds %s holds %s; knoten %s needs %s (knoten nats --auth made both)", f.cmd, f.creds, whose(m), f.cmd, need)
		}
		c.Member = &m
	}
	if f.ca != "" {
		b, err := os.ReadFile(f.ca)
		if err != nil {
			return c, fmt.Errorf("%s: --ca: %w", f.cmd, err)
		}
		if block, _ := pem.Decode(b); block == nil || block.Type != "CERTIFICATE" {
			return c, fmt.Errorf("%s: --ca %s: no PEM certificate in it (knoten nats --tls printed the file to give)", f.cmd, f.ca)
		}
		c.CAFile = f.ca
	}
	return c, nil
}

// connErr explains why connecting to the server at url failed, if it is
// for want of the right credentials or certificate.
func (f *connFlags) connErr(url string, err error) error {
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	switch {
	case errors.Is(err, nats.ErrAuthorization) && f.creds == "":
		return fmt.Errorf("%s: the server at %s admits only the identities it knows: give --creds FILE (knoten nats --auth made them)", f.cmd, url)
	case errors.Is(err, nats.ErrAuthorization):
		return fmt.Errorf("%s: the server at %s does not admit the identity in %s (made for another server's --auth DIR?)", f.cmd, url, f.creds)
	case errors.Is(err, nats.ErrSecureConnRequired):
		return fmt.Errorf("%s: the server at %s requires TLS: give --ca FILE (the certificate knoten nats --tls printed)", f.cmd, url)
	case errors.Is(err, nats.ErrSecureConnWanted):
		return fmt.Errorf("%s: the server at %s does not use TLS: drop --ca", f.cmd, url)
	case errors.As(err, &unknownCA) && f.ca == "":
		return fmt.Errorf("%s: the server at %s uses TLS with a certificate nothing here trusts: give --ca FILE (the certificate knoten nats --tls printed)", f.cmd, url)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%s: the server at %s has a certificate --ca %s did not sign (made for another server?)", f.cmd, url, f.ca)
	case errors.As(err, &badHost):
		return fmt.Errorf("%s: the server's certificate is not for the host in %s: %v", f.cmd, url, badHost.Error())
	}
	return fmt.Errorf("%s: %w", f.cmd, err)
}

// maxMembers is how many members knoten nats --auth admits at most: a node
// has member.DefaultMaxNodes ids.
const maxMembers = member.DefaultMaxNodes
