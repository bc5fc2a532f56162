package main

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/internal/pki"
)

// keyMaterial returns strings that would show a private key: its PEM body
// lines and its scalar in decimal and hex (how %v of an ecdsa key prints).
func keyMaterial(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if len(l) >= 32 && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		if ek, err2 := x509.ParseECPrivateKey(blk.Bytes); err2 == nil {
			k = ek
		} else {
			t.Fatalf("%s: %v / %v", path, err, err2)
		}
	}
	if ek, ok := k.(*ecdsa.PrivateKey); ok {
		out = append(out, ek.D.String(), ek.D.Text(16))
	}
	return out
}

// Issue 9: no key material in logs, errors, status or history. Three
// agents run with mutual TLS; a client with another CA's certificate is
// refused; the operator runs status, peers, history and maintenance; every
// agent reloads its config and certificate (SIGHUP); validate reports a key
// that does not match its certificate. Then all of it is searched for the
// nodes' and the CA's private keys.
func TestKeyMaterialNeverShown(t *testing.T) {
	dir := t.TempDir()
	pkiDir, otherCA := filepath.Join(dir, "tls"), filepath.Join(dir, "other")
	ids := []string{"hosta", "hostb", "witness"}
	lo := map[string][]net.IP{}
	for _, id := range ids {
		lo[id] = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	if err := pki.Init(pkiDir, ids, lo); err != nil {
		t.Fatal(err)
	}
	if err := pki.Init(otherCA, []string{"hosta"}, map[string][]net.IP{"hosta": lo["hosta"]}); err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, p := range []string{pki.CAKeyFile(pkiDir), pki.CAKeyFile(otherCA), pki.KeyFile(otherCA, "hosta")} {
		secrets = append(secrets, keyMaterial(t, p)...)
	}
	for _, id := range ids {
		secrets = append(secrets, keyMaterial(t, pki.KeyFile(pkiDir, id))...)
	}

	tr := newTrio(t)
	for _, id := range ids {
		c := tr.cfgs[id]
		src, err := os.ReadFile(c.File)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Replace(string(src), "insecure_plaintext = true\n", fmt.Sprintf("tls {\n  ca_file = %q\n  cert_file = %q\n  key_file = %q\n}\n",
			pki.CAFile(pkiDir), pki.CertFile(pkiDir, id), pki.KeyFile(pkiDir, id)), 1)
		if err := os.WriteFile(c.File, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if tr.cfgs[id], err = config.Load(c.File); err != nil {
			t.Fatal(err)
		}
		if tr.cfgs[id].TLS == nil {
			t.Fatalf("%s: config has no tls block", id)
		}
	}
	for _, id := range ids {
		tr.start(id)
	}
	tr.waitLeader(20 * time.Second)

	var printed strings.Builder
	cli := func(args ...string) {
		_, out, errOut := runCLI(args...)
		printed.WriteString(out + errOut)
	}
	// A stranger with another CA's certificate.
	cert, err := tls.LoadX509KeyPair(pki.CertFile(otherCA, "hosta"), pki.KeyFile(otherCA, "hosta"))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := tls.Dial("tcp", tr.cfgs["hosta"].Bind, &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}); err == nil {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = c.Write([]byte("hello"))
		_, rerr := c.Read(make([]byte, 1))
		c.Close()
		if rerr == nil {
			t.Errorf("a certificate of another CA was answered")
		}
	}
	sock := tr.cfgs["hosta"].Admin
	for _, args := range [][]string{{"status"}, {"status", "-json"}, {"peers"}, {"maintenance", "on", "-reason", "keys test"},
		{"maintenance", "off"}, {"history"}, {"history", "-json"}} {
		cli(append(args, "-admin", sock)...)
	}
	// Every agent of this process reloads (config and certificate).
	before := tr.logs["hosta"].String()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(strings.TrimPrefix(tr.logs["hosta"].String(), before), "reloaded config") {
		time.Sleep(50 * time.Millisecond)
	}
	cli("status", "-admin", sock)
	// validate with a key that belongs to another certificate.
	mismatched := filepath.Join(dir, "mismatch.hcl")
	src, _ := os.ReadFile(tr.cfgs["hosta"].File)
	os.WriteFile(mismatched, []byte(strings.Replace(string(src), pki.KeyFile(pkiDir, "hosta"), pki.KeyFile(pkiDir, "hostb"), 1)), 0o600)
	code, out, errOut := runCLI("validate", "-config", mismatched)
	printed.WriteString(out + errOut)
	if code != exitUsage {
		t.Errorf("validate with a mismatched key: code %d, want 2: %s", code, errOut)
	}
	for _, id := range ids {
		tr.stop(id)
	}

	texts := map[string]string{"commands": printed.String()}
	for _, id := range ids {
		texts[id+" log"] = tr.logs[id].String()
	}
	if !strings.Contains(texts["hosta log"], "reloaded config") || !strings.Contains(texts["hosta log"], "tls certificate reloaded") {
		t.Errorf("hosta did not reload its certificate; the search would prove less:\n%s", texts["hosta log"])
	}
	if !strings.Contains(texts["commands"], "maintenance") {
		t.Errorf("the commands printed nothing about maintenance:\n%s", texts["commands"])
	}
	for where, text := range texts {
		for _, s := range secrets {
			if i := strings.Index(text, s); i >= 0 {
				t.Errorf("%s shows private key material %q: …%s…", where, s[:16], text[max(0, i-200):min(len(text), i+40)])
			}
		}
	}
}
