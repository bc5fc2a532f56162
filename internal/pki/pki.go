// Package pki makes the certificates of a raftvip cluster: one private CA
// and a certificate per node, with Go's crypto/x509 (no openssl).
//
// Everything lives in one directory:
//
//	ca.pem        the CA certificate (public; every node's tls.ca_file)
//	ca-key.pem    the CA key (0600; needed only to issue, keep it off the nodes)
//	NODE.pem      NODE's certificate (public; NODE's tls.cert_file)
//	NODE-key.pem  NODE's key (0600; NODE's tls.key_file, on NODE only)
//
// Keys are ECDSA P-256. A node certificate names its node id as the Subject
// CommonName and as a DNS SAN (Identity reads it back), carries the IP SANs
// it was given, and is good for both TLS server and client auth, because a
// peer both dials and accepts on the one cluster port.
//
// Nothing is ever overwritten unless Options.Force is set: a second "init"
// over a live directory would otherwise replace the CA and cut every node
// off at its next reload.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File names inside the directory.
const (
	CAName    = "ca.pem"
	CAKeyName = "ca-key.pem"
)

// Default lifetimes. The CA outlives many node certificates so that a
// rotation (tls add -force + SIGHUP) never needs a new CA.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultNodeValidity = 365 * 24 * time.Hour
)

// Modes of what is written. Certificates are public; keys are the node's
// (or, for the CA key, the cluster's) only secret.
const (
	certMode fs.FileMode = 0o644
	keyMode  fs.FileMode = 0o600
	dirMode  fs.FileMode = 0o700
)

// clockSkew backdates NotBefore so a node whose clock is a little behind
// the issuer's accepts a fresh certificate.
const clockSkew = time.Hour

// Options are the less common knobs of InitWith and AddWith.
type Options struct {
	// Force overwrites existing files (a new CA with Init; a reissued
	// node certificate and key with Add). Without it an existing file is
	// an error and nothing is written.
	Force bool
	// Validity of node certificates (DefaultNodeValidity when 0).
	Validity time.Duration
	// Now is the issue time (time.Now when zero); tests use it to make
	// expired or expiring certificates.
	Now time.Time
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func (o Options) validity() time.Duration {
	if o.Validity <= 0 {
		return DefaultNodeValidity
	}
	return o.Validity
}

// CAFile, CAKeyFile, CertFile and KeyFile are the paths of the files in dir.
func CAFile(dir string) string         { return filepath.Join(dir, CAName) }
func CAKeyFile(dir string) string      { return filepath.Join(dir, CAKeyName) }
func CertFile(dir, node string) string { return filepath.Join(dir, node+".pem") }
func KeyFile(dir, node string) string  { return filepath.Join(dir, node+"-key.pem") }

// Init makes a new CA in dir and a certificate for each node; ips gives a
// node's IP SANs (nodes not in it get none). See InitWith.
func Init(dir string, nodes []string, ips map[string][]net.IP) error {
	_, err := InitWith(dir, nodes, ips, Options{})
	return err
}

// InitWith is Init with options; it returns the paths written, CA first.
// It checks everything (names, duplicates, existing files) before it writes
// anything, so a refusal leaves dir as it was.
func InitWith(dir string, nodes []string, ips map[string][]net.IP, o Options) ([]string, error) {
	if len(nodes) == 0 {
		return nil, errors.New("pki: no nodes given")
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		if err := CheckNodeName(n); err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, fmt.Errorf("pki: node %q given twice", n)
		}
		seen[n] = true
	}
	var unknown []string
	for n := range ips {
		if !seen[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("pki: IP addresses given for %s, which is not one of the nodes (%s)", strings.Join(unknown, ", "), strings.Join(nodes, ", "))
	}
	files := []string{CAFile(dir), CAKeyFile(dir)}
	for _, n := range nodes {
		files = append(files, CertFile(dir, n), KeyFile(dir, n))
	}
	if !o.Force {
		if err := refuseExisting(files); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	ca, caKey, err := newCA(o.now())
	if err != nil {
		return nil, err
	}
	var written []string
	if err := writeCertKey(CAFile(dir), CAKeyFile(dir), ca.Raw, caKey, o.Force); err != nil {
		return written, err
	}
	written = append(written, CAFile(dir), CAKeyFile(dir))
	for _, n := range nodes {
		if err := issue(dir, n, ips[n], ca, caKey, o); err != nil {
			return written, err
		}
		written = append(written, CertFile(dir, n), KeyFile(dir, n))
	}
	return written, nil
}

// Add issues a certificate for one more node with the CA in dir. See AddWith.
func Add(dir, node string, ips []net.IP) error {
	_, err := AddWith(dir, node, ips, Options{})
	return err
}

// AddWith is Add with options; it returns the paths written. With Force it
// reissues an existing node's certificate and key (rotation).
func AddWith(dir, node string, ips []net.IP, o Options) ([]string, error) {
	if err := CheckNodeName(node); err != nil {
		return nil, err
	}
	files := []string{CertFile(dir, node), KeyFile(dir, node)}
	if !o.Force {
		if err := refuseExisting(files); err != nil {
			return nil, err
		}
	}
	ca, caKey, err := LoadCA(dir)
	if err != nil {
		return nil, err
	}
	if err := issue(dir, node, ips, ca, caKey, o); err != nil {
		return nil, err
	}
	return files, nil
}

// LoadCA reads and checks the CA certificate and key in dir.
func LoadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(CAFile(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("pki: %s: no CA certificate there; make one with 'raftvip tls init %s -nodes ...'", CAFile(dir), dir)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := os.ReadFile(CAKeyFile(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("pki: %s: no CA key there (only the CA's keeper can issue certificates; run 'tls add' where ca-key.pem is kept)", CAKeyFile(dir))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	ca, err := parseCert(CAFile(dir), certPEM)
	if err != nil {
		return nil, nil, err
	}
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("pki: %s: not a CA certificate", CAFile(dir))
	}
	key, err := parseKey(CAKeyFile(dir), keyPEM)
	if err != nil {
		return nil, nil, err
	}
	if pub, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(key.Public()) {
		return nil, nil, fmt.Errorf("pki: %s does not belong to %s", CAKeyFile(dir), CAFile(dir))
	}
	return ca, key, nil
}

// Identity is the node id a verified peer certificate names: its Subject
// CommonName, which must also be one of its DNS SANs (both are set by Add
// and Init; a certificate with only one of them was not made for raftvip).
// It does not check the signature; the TLS handshake does that.
func Identity(cert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", errors.New("pki: no certificate")
	}
	cn := cert.Subject.CommonName
	if cn == "" {
		return "", errors.New("pki: certificate has no Subject CommonName (the node id)")
	}
	for _, d := range cert.DNSNames {
		if d == cn {
			return cn, nil
		}
	}
	return "", fmt.Errorf("pki: certificate CommonName %q is not among its DNS names %v", cn, cert.DNSNames)
}

// CheckNodeName refuses node ids that cannot be file names here: they must
// be 1-64 letters, digits, '.', '_' or '-', start with a letter or digit,
// and not clash with the CA's files or another node's key ("ca", "*-key").
func CheckNodeName(n string) error {
	if n == "" {
		return errors.New("pki: empty node id")
	}
	if len(n) > 64 {
		return fmt.Errorf("pki: node id %q is longer than 64 characters (the limit of a certificate's CommonName)", n)
	}
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && (r == '.' || r == '_' || r == '-')
		if !ok {
			return fmt.Errorf("pki: node id %q: only letters, digits, '.', '_' and '-' (not first) can name a certificate file", n)
		}
	}
	if n == "ca" || strings.HasSuffix(n, "-key") {
		return fmt.Errorf("pki: node id %q would clash with %s or a key file name", n, CAName)
	}
	return nil
}

func refuseExisting(files []string) error {
	var there []string
	for _, f := range files {
		if _, err := os.Lstat(f); err == nil {
			there = append(there, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pki: %w", err)
		}
	}
	if len(there) > 0 {
		return fmt.Errorf("pki: %s already exist; nothing written (use -force to replace)", strings.Join(there, ", "))
	}
	return nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generating a key: %w", err)
	}
	return k, nil
}

func serial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "raftvip CA", Organization: []string{"raftvip"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(DefaultCAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// It signs node certificates only, never another CA.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: making the CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	return ca, key, nil
}

func issue(dir, node string, ips []net.IP, ca *x509.Certificate, caKey *ecdsa.PrivateKey, o Options) error {
	key, err := newKey()
	if err != nil {
		return err
	}
	sn, err := serial()
	if err != nil {
		return err
	}
	now := o.now()
	notAfter := now.Add(o.validity())
	if notAfter.After(ca.NotAfter) {
		// A node certificate outliving its CA would fail verification
		// anyway; cap it so the expiry warning names the real date.
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: node, Organization: []string{"raftvip"}},
		DNSNames:     []string{node},
		IPAddresses:  ips,
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Each peer is a TLS server (it accepts) and a client (it dials).
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("pki: issuing %s: %w", node, err)
	}
	return writeCertKey(CertFile(dir, node), KeyFile(dir, node), der, key, o.Force)
}

// writeCertKey writes the key first: a certificate without its key is of
// no use, and a crash in between leaves a key that the next -force replaces.
func writeCertKey(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey, force bool) error {
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), keyMode, force); err != nil {
		return err
	}
	return writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), certMode, force)
}

// writeFile creates path with mode from the start (open with O_EXCL and
// the mode, so no other reader ever sees a key with wider permissions).
// With force an existing file is replaced by renaming a fresh one over
// it, so an old key's mode or hard links never carry over and a reader
// sees the old file or the new one, never half of one.
func writeFile(path string, data []byte, mode fs.FileMode, force bool) error {
	target := path
	if force {
		target = fmt.Sprintf("%s.tmp%d", path, os.Getpid())
		os.Remove(target) // a leftover of an earlier crashed run
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("pki: %s already exists; nothing written over it (use -force to replace)", path)
		}
		return fmt.Errorf("pki: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && force {
		err = os.Rename(target, path)
	}
	if err != nil {
		os.Remove(target)
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	return nil
}

func parseCert(path string, data []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("pki: %s: no PEM CERTIFICATE in it", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	return c, nil
}

func parseKey(path string, data []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("pki: %s: no PEM key in it", path)
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("pki: %s: PEM block %q is not a private key", path, b.Type)
	}
	if err != nil {
		// The parser's message never includes key bytes.
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("pki: %s: not an ECDSA key", path)
	}
	return ek, nil
}
