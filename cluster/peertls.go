package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/raftvip/raftvip/internal/mtls"
)

// Mutual TLS on the cluster port. Both ends present a certificate signed by
// the cluster's CA whose identity (CommonName = DNS SAN) is a node id of
// the group; the RPC's caller is that identity. Go's own verification of a
// server's name checks a host name against the SANs, but a peer is named
// by node id and dialed by address, so both ends verify the chain and the
// identity themselves (mtls.Verify) in VerifyConnection.

// Members returns the node ids of the group with the address each is
// dialed at: the config's peers and the Raft configuration, so a node added
// at run time (raftvip peers add) is admitted as soon as it is in it.
type Members func() map[string]string

// tlsHeader is the first byte of a TLS record carrying a handshake
// (a ClientHello); anything else is plaintext or garbage.
const tlsHeader byte = 0x16

// peerAuth is the TLS side of the mux and its dialers.
type peerAuth struct {
	store   *mtls.Store
	members Members
	now     func() time.Time
}

// PeerConn is a connection whose far end proved to be node PeerID.
type PeerConn interface {
	net.Conn
	PeerID() string
}

type peerConn struct {
	net.Conn
	id string
	// raw is the TCP connection under a dialed TLS one (nil on the
	// server side). After a failed write, crypto/tls has used up a
	// record sequence number for bytes that never left, so a close_notify
	// sent then reaches the peer as "bad record MAC": such a connection
	// is closed at the TCP level instead.
	raw    net.Conn
	broken atomic.Bool
}

func (p *peerConn) PeerID() string { return p.id }

func (p *peerConn) Write(b []byte) (int, error) {
	n, err := p.Conn.Write(b)
	if err != nil {
		p.broken.Store(true)
	}
	return n, err
}

func (p *peerConn) Close() error {
	if p.raw != nil && p.broken.Load() {
		return p.raw.Close()
	}
	return p.Conn.Close()
}

// errNotMember names an authenticated stranger.
type errNotMember struct{ id string }

func (e errNotMember) Error() string {
	return fmt.Sprintf("certificate of %q, which is not a node of this cluster", e.id)
}

func (a *peerAuth) member(id string) bool {
	_, ok := a.members()[id]
	return ok
}

func (a *peerAuth) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The chain is checked against the current CA in VerifyConnection,
		// so a reloaded CA applies to the next handshake.
		ClientAuth: tls.RequireAnyClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &a.store.Current().Cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := mtls.Verify(cs.PeerCertificates, a.store.Current().Pool, x509.ExtKeyUsageClientAuth, a.now())
			if err != nil {
				return err
			}
			if !a.member(id) {
				return errNotMember{id}
			}
			return nil
		},
	}
}

// idAt is the node expected at address, "" when no node or several are.
func (a *peerAuth) idAt(address string) string {
	id := ""
	for i, addr := range a.members() {
		if addr == address {
			if id != "" {
				return ""
			}
			id = i
		}
	}
	return id
}

func (a *peerAuth) clientConfig(address string) *tls.Config {
	want := a.idAt(address)
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Verified below: against the cluster's CA, by node id rather
		// than host name.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &a.store.Current().Cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := mtls.Verify(cs.PeerCertificates, a.store.Current().Pool, x509.ExtKeyUsageServerAuth, a.now())
			if err != nil {
				return fmt.Errorf("server certificate: %w", err)
			}
			if want != "" && id != want {
				return fmt.Errorf("dialed %s for node %q, but its certificate names %q", address, want, id)
			}
			if !a.member(id) {
				return errNotMember{id}
			}
			return nil
		},
	}
}

// dial opens a connection to address carrying header: TLS when a is set.
func (a *peerAuth) dial(address string, header byte, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", address, timeout)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	conn := c
	id := ""
	if a != nil {
		tc := tls.Client(c, a.clientConfig(address))
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", address, err)
		}
		id, _ = mtls.Identity(tc.ConnectionState().PeerCertificates[0])
		conn = tc
	}
	if _, err := conn.Write([]byte{header}); err != nil {
		c.Close() // not conn: see peerConn.raw
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	if a != nil {
		return &peerConn{Conn: conn, id: id, raw: c}, nil
	}
	return conn, nil
}

// refusal sorts why a connection was refused, for the rate-limited log.
func refusal(err error) string {
	var nm errNotMember
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case strings.Contains(err.Error(), "didn't provide a certificate"):
		return "no-certificate" // crypto/tls has no error type for it
	case errors.As(err, &nm):
		return "non-member"
	case errors.As(err, &ua):
		return "unknown-ca"
	case errors.As(err, &ci):
		return "invalid-certificate"
	}
	return "handshake"
}
