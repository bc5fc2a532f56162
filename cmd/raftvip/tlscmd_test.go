package main

// Tests of the tls init / tls add subcommands (tls.go); tls_test.go tests the agent with TLS.

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/internal/pki"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTLSInitAndAdd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	code, out, errOut := runCLI("tls", "init", dir, "-nodes", "hosta,hostb,witness", "-ip", "hosta=10.0.0.1,hostb=10.0.0.2", "-ip", "hosta=fd00::1")
	if code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	for _, f := range []string{"ca.pem", "ca-key.pem", "hosta.pem", "hosta-key.pem", "hostb.pem", "hostb-key.pem", "witness.pem", "witness-key.pem"} {
		p := filepath.Join(dir, f)
		if !strings.Contains(out, "wrote "+p+"\n") {
			t.Errorf("output does not name %s:\n%s", p, out)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, "-key.pem") && st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, st.Mode().Perm())
		}
	}
	wantBlock := "# hostb\ntls {\n  ca_file   = \"" + dir + "/ca.pem\"\n  cert_file = \"" + dir + "/hostb.pem\"\n  key_file  = \"" + dir + "/hostb-key.pem\"\n}\n"
	if !strings.Contains(out, wantBlock) {
		t.Errorf("output lacks the block\n%s\nin\n%s", wantBlock, out)
	}
	if !strings.Contains(out, "ca-key.pem private") {
		t.Errorf("output does not say to keep the CA key private:\n%s", out)
	}
	a := readCert(t, filepath.Join(dir, "hosta.pem"))
	if len(a.IPAddresses) != 2 || !a.IPAddresses[0].Equal(net.ParseIP("10.0.0.1")) || !a.IPAddresses[1].Equal(net.ParseIP("fd00::1")) {
		t.Errorf("hosta IP SANs %v", a.IPAddresses)
	}
	if w := readCert(t, filepath.Join(dir, "witness.pem")); len(w.IPAddresses) != 0 {
		t.Errorf("witness IP SANs %v", w.IPAddresses)
	}

	code, out, errOut = runCLI("tls", "-node", "hostc", "add", dir, "-ip", "10.0.0.3", "-days", "30")
	if code != exitOK {
		t.Fatalf("add: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "cert_file = \""+dir+"/hostc.pem\"") {
		t.Errorf("add output:\n%s", out)
	}
	c := readCert(t, filepath.Join(dir, "hostc.pem"))
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, filepath.Join(dir, "ca.pem")))
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Error(err)
	}
	if id, _ := pki.Identity(c); id != "hostc" || len(c.IPAddresses) != 1 {
		t.Errorf("hostc: id %q, IPs %v", id, c.IPAddresses)
	}
	if d := c.NotAfter.Sub(c.NotBefore); d < 30*24*3600e9 || d > 30*24*3600e9+2*3600e9 {
		t.Errorf("hostc -days 30 valid for %s", d)
	}

	// Again: refused, exit 1, nothing changed.
	before, _ := os.ReadFile(filepath.Join(dir, "hostc-key.pem"))
	code, _, errOut = runCLI("tls", "add", dir, "-node", "hostc")
	if code != exitFailure || !strings.Contains(errOut, "already exist") || !strings.Contains(errOut, "-force") {
		t.Errorf("add over hostc: exit %d: %s", code, errOut)
	}
	code, _, errOut = runCLI("tls", "init", dir, "-nodes", "hostd")
	if code != exitFailure || !strings.Contains(errOut, "ca.pem") {
		t.Errorf("init over a CA: exit %d: %s", code, errOut)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "hostc-key.pem"))
	if string(before) != string(after) {
		t.Error("a refused add changed the key")
	}
	// -force reissues.
	if code, _, errOut = runCLI("tls", "add", dir, "-node", "hostc", "-force"); code != exitOK {
		t.Fatalf("add -force: exit %d: %s", code, errOut)
	}
	after, _ = os.ReadFile(filepath.Join(dir, "hostc-key.pem"))
	if string(before) == string(after) {
		t.Error("add -force kept the key")
	}
}

func TestTLSAddWithoutCA(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI("tls", "add", dir, "-node", "hostc")
	if code != exitFailure || !strings.Contains(errOut, filepath.Join(dir, "ca.pem")) || !strings.Contains(errOut, "tls init") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(out, "wrote") {
		t.Errorf("stdout %q", out)
	}
}

func TestTLSUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tls"}, "want init or add"},
		{[]string{"tls", "make", dir}, "unknown verb"},
		{[]string{"tls", "init", "-nodes", "a"}, "want one directory"},
		{[]string{"tls", "init", dir, "x", "-nodes", "a"}, "want one directory"},
		{[]string{"tls", "init", dir}, "-nodes is required"},
		{[]string{"tls", "init", dir, "-nodes", "a", "-node", "b"}, "-node is for add"},
		{[]string{"tls", "init", dir, "-nodes", "a,../b"}, "only letters"},
		{[]string{"tls", "init", dir, "-nodes", "a", "-ip", "10.0.0.1"}, "want NODE=ADDR"},
		{[]string{"tls", "init", dir, "-nodes", "a", "-ip", "b=10.0.0.1"}, `"b" is not one of -nodes`},
		{[]string{"tls", "init", dir, "-nodes", "a", "-ip", "a=hosta"}, "not an IP address"},
		{[]string{"tls", "init", dir, "-nodes", "a", "-days", "0"}, "-days"},
		{[]string{"tls", "add", dir}, "-node NAME is required"},
		{[]string{"tls", "add", dir, "-node", "a", "-nodes", "a"}, "-nodes is for init"},
		{[]string{"tls", "add", dir, "-node", "ca"}, "clash"},
		{[]string{"tls", "add", dir, "-node", "a", "-ip", "a=10.0.0.1"}, "not an IP address"},
		{[]string{"tls", "add", dir, "-bogus"}, "flag provided but not defined"},
	} {
		code, _, errOut := runCLI(tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("bad usage wrote %d files", len(ents))
	}
	code, out, errOut := runCLI("tls", "-h")
	if code != exitOK || !strings.Contains(errOut+out, "raftvip tls init DIR -nodes") || !strings.Contains(errOut+out, "tls add DIR -node NAME") {
		t.Errorf("-h: exit %d: %s%s", code, out, errOut)
	}
}
