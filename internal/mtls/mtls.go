// Package mtls holds the mutual-TLS material of the cluster port: the CA
// that signs every peer's certificate, this node's certificate and key, and
// the rule that names a peer (its certificate's identity). The cluster's mux
// and the config check both use it, so a file that `raftvip validate`
// accepts is one the agent can serve with.
//
// A node certificate's identity is its Subject CommonName, which must also
// be one of its DNS SANs (see internal/pki, which issues them): Go's own
// hostname check looks only at SANs, an operator's eye at the CommonName,
// and the two must not disagree.
package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"
)

// ExpiryWarning is how long before a certificate's end status warns.
const ExpiryWarning = 30 * 24 * time.Hour

// Identity returns the node id a certificate names: its CommonName, which
// must also be a DNS SAN.
func Identity(cert *x509.Certificate) (string, error) {
	cn := cert.Subject.CommonName
	if cn == "" {
		return "", errors.New("certificate has no CommonName (the node id)")
	}
	if !slices.Contains(cert.DNSNames, cn) {
		return "", fmt.Errorf("certificate CommonName %q is not among its DNS SANs %v", cn, cert.DNSNames)
	}
	return cn, nil
}

// ReadCA reads a PEM file of one or more CA certificates.
func ReadCA(path string) (*x509.CertPool, []*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	var certs []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("not a valid certificate: %v", err)
		}
		if !c.IsCA {
			return nil, nil, fmt.Errorf("certificate %q is not a CA certificate", c.Subject.CommonName)
		}
		pool.AddCert(c)
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("no PEM CERTIFICATE block in it")
	}
	return pool, certs, nil
}

// ReadKeyPair reads a node's certificate and its private key.
func ReadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		// The stdlib's message never quotes key material.
		return tls.Certificate{}, err
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return tls.Certificate{}, err
		}
		cert.Leaf = leaf
	}
	return cert, nil
}

// Verify checks a peer's certificate chain against the CA pool at now, for
// usage (ServerAuth when this node dialed, ClientAuth when it accepted), and
// returns the node id it names.
func Verify(chain []*x509.Certificate, pool *x509.CertPool, usage x509.ExtKeyUsage, now time.Time) (string, error) {
	if len(chain) == 0 {
		return "", errors.New("no certificate presented")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return "", err
	}
	return Identity(chain[0])
}

// Material is one loaded set of files.
type Material struct {
	Cert tls.Certificate
	Pool *x509.CertPool
	ID   string // the identity of Cert
}

// Files names the three PEM files.
type Files struct {
	CA, Cert, Key string
}

// Load reads and checks the files: the certificate is signed by the CA,
// valid now, good for both ends of a connection, and names an identity.
func Load(f Files) (*Material, error) {
	pool, _, err := ReadCA(f.CA)
	if err != nil {
		return nil, fmt.Errorf("ca_file %s: %w", f.CA, err)
	}
	cert, err := ReadKeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("cert_file %s / key_file %s: %w", f.Cert, f.Key, err)
	}
	id, err := CheckLeaf(cert.Leaf, pool, time.Now())
	if err != nil {
		return nil, fmt.Errorf("cert_file %s: %w", f.Cert, err)
	}
	return &Material{Cert: cert, Pool: pool, ID: id}, nil
}

// CheckLeaf checks a node's own certificate as its peers will.
func CheckLeaf(leaf *x509.Certificate, pool *x509.CertPool, now time.Time) (string, error) {
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := Verify([]*x509.Certificate{leaf}, pool, u, now); err != nil {
			var inv x509.CertificateInvalidError
			if errors.As(err, &inv) && inv.Reason == x509.Expired {
				return "", fmt.Errorf("certificate is not valid now (valid %s to %s)", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
			}
			return "", fmt.Errorf("peers would refuse this certificate: %w", err)
		}
	}
	return Identity(leaf)
}

// Store holds the current material; Reload swaps it atomically, so
// connections already up keep theirs and new ones get the new one.
type Store struct {
	files Files
	cur   atomic.Pointer[Material]
}

// NewStore loads f.
func NewStore(f Files) (*Store, error) {
	m, err := Load(f)
	if err != nil {
		return nil, err
	}
	s := &Store{files: f}
	s.cur.Store(m)
	return s, nil
}

// Current is the material in use.
func (s *Store) Current() *Material { return s.cur.Load() }

// Reload reads the files again (a rotated certificate, key or CA). A new
// certificate must name the same node; on any error the old material stays.
func (s *Store) Reload() (*Material, error) {
	m, err := Load(s.files)
	if err != nil {
		return nil, err
	}
	if old := s.cur.Load(); old != nil && old.ID != m.ID {
		return nil, fmt.Errorf("cert_file %s: the new certificate names %q, this node is %q", s.files.Cert, m.ID, old.ID)
	}
	s.cur.Store(m)
	return m, nil
}

// Warnings are status lines about the material at now: a certificate that
// ends within ExpiryWarning.
func (s *Store) Warnings(now time.Time) []string {
	m := s.cur.Load()
	if m == nil || m.Cert.Leaf == nil {
		return nil
	}
	end := m.Cert.Leaf.NotAfter
	if left := end.Sub(now); left < ExpiryWarning {
		if left <= 0 {
			return []string{fmt.Sprintf("TLS certificate %s expired at %s: peers refuse it; issue a new one (raftvip tls add DIR -node %s -force where ca-key.pem is kept), put it in place and send SIGHUP", s.files.Cert, end.UTC().Format(time.RFC3339), m.ID)}
		}
		return []string{fmt.Sprintf("TLS certificate %s expires %s (in %d days): issue a new one (raftvip tls add DIR -node %s -force where ca-key.pem is kept), put it in place and send SIGHUP", s.files.Cert, end.UTC().Format(time.RFC3339), int(left.Hours()/24), m.ID)}
	}
	return nil
}
