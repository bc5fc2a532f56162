package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mustInit(t *testing.T, nodes ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	if err := Init(dir, nodes, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(t *testing.T, dir, node string) (*x509.Certificate, *x509.CertPool) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(CertFile(dir, node), KeyFile(dir, node))
	if err != nil {
		t.Fatalf("node %s: %v", node, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(CAFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem has no certificate")
	}
	return cert, pool
}

func verify(cert *x509.Certificate, pool *x509.CertPool, usage x509.ExtKeyUsage) error {
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

func TestInitRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	ips := map[string][]net.IP{"hosta": {net.ParseIP("10.0.0.1"), net.ParseIP("fd00::1")}}
	written, err := InitWith(dir, []string{"hosta", "hostb", "witness"}, ips, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ca.pem", "ca-key.pem", "hosta.pem", "hosta-key.pem", "hostb.pem", "hostb-key.pem", "witness.pem", "witness-key.pem"}
	if len(written) != len(want) {
		t.Fatalf("written %v, want %v", written, want)
	}
	for i, w := range want {
		if written[i] != filepath.Join(dir, w) {
			t.Errorf("written[%d] = %s, want %s", i, written[i], w)
		}
	}
	for _, n := range []string{"hosta", "hostb", "witness"} {
		cert, pool := load(t, dir, n)
		for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if err := verify(cert, pool, u); err != nil {
				t.Errorf("%s usage %v: %v", n, u, err)
			}
		}
		id, err := Identity(cert)
		if err != nil || id != n {
			t.Errorf("Identity(%s) = %q, %v", n, id, err)
		}
		if err := cert.VerifyHostname(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		if cert.IsCA {
			t.Errorf("%s is a CA", n)
		}
	}
	a, _ := load(t, dir, "hosta")
	if len(a.IPAddresses) != 2 || !a.IPAddresses[0].Equal(net.ParseIP("10.0.0.1")) || !a.IPAddresses[1].Equal(net.ParseIP("fd00::1")) {
		t.Errorf("hosta IP SANs = %v", a.IPAddresses)
	}
	if err := a.VerifyHostname("10.0.0.1"); err != nil {
		t.Error(err)
	}
	b, _ := load(t, dir, "hostb")
	if len(b.IPAddresses) != 0 {
		t.Errorf("hostb IP SANs = %v, want none", b.IPAddresses)
	}
	if d := time.Until(b.NotAfter); d < DefaultNodeValidity-2*time.Hour || d > DefaultNodeValidity {
		t.Errorf("hostb valid for %s more, want about %s", d, DefaultNodeValidity)
	}
}

// A real mutual-TLS handshake between two nodes, each verifying the other
// against ca.pem, as the agent does.
func TestHandshake(t *testing.T) {
	dir := mustInit(t, "hosta", "hostb")
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(CAFile(dir))
	pool.AppendCertsFromPEM(caPEM)
	pair := func(n string) tls.Certificate {
		p, err := tls.LoadX509KeyPair(CertFile(dir, n), KeyFile(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	c1, c2 := net.Pipe()
	server := tls.Server(c1, &tls.Config{Certificates: []tls.Certificate{pair("hosta")}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13})
	client := tls.Client(c2, &tls.Config{Certificates: []tls.Certificate{pair("hostb")}, RootCAs: pool, ServerName: "hosta", MinVersion: tls.VersionTLS13})
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if id, err := Identity(server.ConnectionState().PeerCertificates[0]); id != "hostb" || err != nil {
		t.Errorf("server sees %q, %v", id, err)
	}
	client.Close()
	server.Close()
}

func TestModes(t *testing.T) {
	old := syscall.Umask(0) // the modes must come from the code, not the umask
	defer syscall.Umask(old)
	dir := mustInit(t, "hosta")
	if err := Add(dir, "hostc", nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		"ca.pem": 0o644, "ca-key.pem": 0o600,
		"hosta.pem": 0o644, "hosta-key.pem": 0o600,
		"hostc.pem": 0o644, "hostc-key.pem": 0o600,
	}
	for n, m := range want {
		st, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != m {
			t.Errorf("%s mode %v, want %v", n, st.Mode().Perm(), m)
		}
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", st.Mode().Perm())
	}
	// A forced reissue keeps the modes (and never widens an old key's).
	if err := os.Chmod(KeyFile(dir, "hostc"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := AddWith(dir, "hostc", nil, Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	st, _ = os.Stat(KeyFile(dir, "hostc"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("reissued key mode %v, want 0600", st.Mode().Perm())
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.tmp*"))
	if len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestRefusesToOverwrite(t *testing.T) {
	dir := mustInit(t, "hosta", "hostb")
	caBefore, _ := os.ReadFile(CAFile(dir))
	keyBefore, _ := os.ReadFile(KeyFile(dir, "hosta"))

	// init again, even with one new node: refused, nothing written.
	err := Init(dir, []string{"hostc", "hosta"}, nil)
	if err == nil || !strings.Contains(err.Error(), "already exist") || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("second init: %v", err)
	}
	if _, err := os.Stat(CertFile(dir, "hostc")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused init wrote hostc.pem (%v)", err)
	}
	if err := Add(dir, "hosta", nil); err == nil || !strings.Contains(err.Error(), CertFile(dir, "hosta")) {
		t.Fatalf("add over hosta: %v", err)
	}
	caAfter, _ := os.ReadFile(CAFile(dir))
	keyAfter, _ := os.ReadFile(KeyFile(dir, "hosta"))
	if string(caAfter) != string(caBefore) || string(keyAfter) != string(keyBefore) {
		t.Fatal("a refused call changed files")
	}

	// With Force: a reissued hosta, still signed by the same CA.
	if _, err := AddWith(dir, "hosta", nil, Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	keyAfter, _ = os.ReadFile(KeyFile(dir, "hosta"))
	if string(keyAfter) == string(keyBefore) {
		t.Error("forced add kept the old key")
	}
	cert, pool := load(t, dir, "hosta")
	if err := verify(cert, pool, x509.ExtKeyUsageClientAuth); err != nil {
		t.Error(err)
	}
	// A forced init makes a new CA: the old node certificates no longer verify.
	if _, err := InitWith(dir, []string{"hostb"}, nil, Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	_, newPool := load(t, dir, "hostb")
	if err := verify(cert, newPool, x509.ExtKeyUsageClientAuth); err == nil {
		t.Error("hosta of the old CA verifies against the new one")
	}
}

func TestAddWithoutCA(t *testing.T) {
	dir := t.TempDir()
	err := Add(dir, "hostc", nil)
	if err == nil || !strings.Contains(err.Error(), CAFile(dir)) || !strings.Contains(err.Error(), "tls init") {
		t.Fatalf("Add without CA: %v", err)
	}
	if _, err := os.Stat(KeyFile(dir, "hostc")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Add without a CA wrote a key")
	}
	// A certificate but no key (the key is kept elsewhere).
	d2 := mustInit(t, "hosta")
	os.Remove(CAKeyFile(d2))
	if err := Add(d2, "hostc", nil); err == nil || !strings.Contains(err.Error(), CAKeyFile(d2)) {
		t.Fatalf("Add without CA key: %v", err)
	}
	// A key of another CA.
	d3 := mustInit(t, "hosta")
	other, _ := os.ReadFile(CAKeyFile(d3))
	os.WriteFile(CAKeyFile(d2), other, 0o600)
	if err := Add(d2, "hostc", nil); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("Add with a mismatched CA key: %v", err)
	}
}

func TestAddIPs(t *testing.T) {
	dir := mustInit(t, "hosta")
	if err := Add(dir, "hostc", []net.IP{net.ParseIP("192.0.2.7")}); err != nil {
		t.Fatal(err)
	}
	cert, pool := load(t, dir, "hostc")
	if err := verify(cert, pool, x509.ExtKeyUsageServerAuth); err != nil {
		t.Fatal(err)
	}
	if len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("192.0.2.7")) {
		t.Errorf("IP SANs %v", cert.IPAddresses)
	}
}

func TestOptionsNowAndValidity(t *testing.T) {
	dir := mustInit(t, "hosta")
	now := time.Now()
	if _, err := AddWith(dir, "soon", nil, Options{Validity: 10 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	c, _ := load(t, dir, "soon")
	if d := c.NotAfter.Sub(now); d < 10*24*time.Hour-time.Minute || d > 10*24*time.Hour+time.Minute {
		t.Errorf("valid for %s", d)
	}
	if _, err := AddWith(dir, "old", nil, Options{Now: now.Add(-48 * time.Hour), Validity: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	c, pool := load(t, dir, "old")
	if err := verify(c, pool, x509.ExtKeyUsageClientAuth); err == nil {
		t.Error("an expired certificate verifies")
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		nodes []string
		ips   map[string][]net.IP
		want  string
	}{
		{nil, nil, "no nodes"},
		{[]string{"a", "a"}, nil, "twice"},
		{[]string{"a", ""}, nil, "empty"},
		{[]string{"../x"}, nil, "only letters"},
		{[]string{"a b"}, nil, "only letters"},
		{[]string{"-a"}, nil, "only letters"},
		{[]string{"ca"}, nil, "clash"},
		{[]string{"a-key"}, nil, "clash"},
		{[]string{strings.Repeat("x", 65)}, nil, "64"},
		{[]string{"a"}, map[string][]net.IP{"b": {net.ParseIP("10.0.0.1")}}, "b, which is not one of the nodes"},
	} {
		err := Init(dir, tc.nodes, tc.ips)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Init(%q, %v) = %v, want %q", tc.nodes, tc.ips, err, tc.want)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("bad input wrote %d files", len(ents))
	}
	if err := Add(dir, "a/b", nil); err == nil || !strings.Contains(err.Error(), "only letters") {
		t.Errorf("Add(a/b) = %v", err)
	}
}

func TestIdentity(t *testing.T) {
	dir := mustInit(t, "hosta")
	c, _ := load(t, dir, "hosta")
	if _, err := Identity(nil); err == nil {
		t.Error("nil certificate has an identity")
	}
	cc := *c
	cc.DNSNames = []string{"other"}
	if _, err := Identity(&cc); err == nil || !strings.Contains(err.Error(), "not among its DNS names") {
		t.Errorf("CN not in SANs: %v", err)
	}
	cc = *c
	cc.Subject.CommonName = ""
	if _, err := Identity(&cc); err == nil || !strings.Contains(err.Error(), "CommonName") {
		t.Errorf("no CN: %v", err)
	}
	ca, _, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Identity(ca); err == nil {
		t.Error("the CA certificate has a node identity")
	}
}
