package mtls_test

import (
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/internal/mtls"
	"github.com/raftvip/raftvip/internal/mtls/mtlstest"
)

func TestVerify(t *testing.T) {
	ca := mtlstest.NewCA(t, "CA")
	other := mtlstest.NewCA(t, "other CA")
	pool, _, err := mtls.ReadCA(ca.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(c *mtlstest.CA, id string, o mtlstest.Opts) *x509.Certificate {
		cert, key := c.Issue(t, id, o)
		kp, err := mtls.ReadKeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return kp.Leaf
	}
	now := time.Now()
	if id, err := mtls.Verify([]*x509.Certificate{leaf(ca, "hosta", mtlstest.Opts{})}, pool, x509.ExtKeyUsageClientAuth, now); err != nil || id != "hosta" {
		t.Fatalf("good certificate: %q %v", id, err)
	}
	bad := []struct {
		name  string
		cert  *x509.Certificate
		usage x509.ExtKeyUsage
		frag  string
	}{
		{"other CA", leaf(other, "hosta", mtlstest.Opts{}), x509.ExtKeyUsageClientAuth, "unknown authority"},
		{"server-only certificate as a client", leaf(ca, "hosta", mtlstest.Opts{ServerOnly: true, Suffix: "-srv"}), x509.ExtKeyUsageClientAuth, "key usage"},
		{"expired", leaf(ca, "hosta", mtlstest.Opts{NotAfter: now.Add(-time.Minute), Suffix: "-old"}), x509.ExtKeyUsageServerAuth, "expired"},
		{"CommonName not a SAN", leaf(ca, "hosta", mtlstest.Opts{NoSAN: true, Suffix: "-nosan"}), x509.ExtKeyUsageServerAuth, "not among its DNS SANs"},
	}
	for _, b := range bad {
		if _, err := mtls.Verify([]*x509.Certificate{b.cert}, pool, b.usage, now); err == nil || !strings.Contains(err.Error(), b.frag) {
			t.Errorf("%s: %v, want an error with %q", b.name, err, b.frag)
		}
	}
	if _, err := mtls.Verify(nil, pool, x509.ExtKeyUsageClientAuth, now); err == nil {
		t.Error("no certificate accepted")
	}
}

func TestStoreReloadAndWarnings(t *testing.T) {
	ca := mtlstest.NewCA(t, "CA")
	cert, key := ca.Issue(t, "hosta", mtlstest.Opts{NotAfter: time.Now().Add(400 * 24 * time.Hour)})
	s, err := mtls.NewStore(mtls.Files{CA: ca.CAFile(), Cert: cert, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if w := s.Warnings(time.Now()); len(w) != 0 {
		t.Fatalf("warnings for a certificate good for 400 days: %v", w)
	}
	if w := s.Warnings(time.Now().Add(390 * 24 * time.Hour)); len(w) != 1 || !strings.Contains(w[0], "expires") {
		t.Fatalf("10 days before the end: %v", w)
	}
	if w := s.Warnings(time.Now().Add(500 * 24 * time.Hour)); len(w) != 1 || !strings.Contains(w[0], "expired") {
		t.Fatalf("after the end: %v", w)
	}
	copyOver := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(to, b, 0o600)
	}
	first := s.Current()
	// Another node's certificate: refused, the old one stays.
	bc, bk := ca.Issue(t, "hostb", mtlstest.Opts{})
	copyOver(bc, cert)
	copyOver(bk, key)
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), `names "hostb", this node is "hosta"`) {
		t.Fatalf("reload with hostb's certificate: %v", err)
	}
	// A half-written rotation (the new certificate, another key): refused too.
	nc, nk := ca.Issue(t, "hosta", mtlstest.Opts{Suffix: "-new"})
	copyOver(nc, cert)
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Fatalf("reload with a key of another certificate: %v", err)
	}
	if s.Current() != first {
		t.Fatal("a refused reload replaced the material")
	}
	copyOver(nk, key)
	m, err := s.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if s.Current() != m || m.Cert.Leaf.SerialNumber.Cmp(first.Cert.Leaf.SerialNumber) == 0 || m.ID != "hosta" {
		t.Fatalf("after the rotation: %+v", m.Cert.Leaf.SerialNumber)
	}
}
