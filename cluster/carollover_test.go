package cluster

import (
	"crypto/tls"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/raftvip/raftvip/internal/mtls/mtlstest"
	"github.com/raftvip/raftvip/internal/pki"
)

// TestTLSCARolloverKeepsLeader follows docs/security.md's CA rollover on a
// running cluster, with SIGHUP's reload (Store.Reload) at each step:
// (1) a new CA and certificates from `tls init` (internal/pki), (2) every
// ca_file holds both CAs, (3) every node its new certificate, (4) ca_file
// the new CA alone. After every step each node can open a new connection
// to each other (both ends check the other's certificate), and at the end
// a certificate of the old CA is refused. The leader and the terms never
// change. It also shows why step 2 comes first: a new certificate
// presented before its CA is trusted is refused.
func TestTLSCARolloverKeepsLeader(t *testing.T) {
	ids := []string{"hosta", "hostb", "hostc"}
	tc := newTLSCluster(t, false, ids...)
	before := tc.settled(t)
	oldCA, err := os.ReadFile(tc.ca.CAFile())
	if err != nil {
		t.Fatal(err)
	}

	// Every node dials every other afresh: the handshakes use what each
	// store holds now.
	allDial := func(step string) {
		t.Helper()
		for _, from := range tc.nodes {
			for _, to := range tc.nodes {
				if from == to {
					continue
				}
				c, err := from.c.mux.Dialer()(to.addr, headerRPC, 2*time.Second)
				if err != nil {
					t.Fatalf("%s: %s cannot connect to %s: %v", step, from.id, to.id, err)
				}
				c.Close()
			}
		}
		l := tc.leader(t)
		if _, err := l.c.Apply([]byte(step), 5*time.Second); err != nil {
			t.Fatalf("%s: apply: %v", step, err)
		}
	}
	reloadAll := func(step string) {
		t.Helper()
		for _, n := range tc.nodes {
			if _, err := n.store.Reload(); err != nil {
				t.Fatalf("%s: reload of %s: %v", step, n.id, err)
			}
		}
	}
	writeFile := func(path string, data []byte, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	// stranger presents cert/key to node `to` as a raft peer would.
	present := func(certFile, keyFile string, to *tlsNode) error {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return appendEntries(t, tlsStream{conf: &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}, to, 0)
	}

	// 1. The new CA and certificates.
	newDir := t.TempDir() + "/tls-2"
	if err := pki.Init(newDir, ids, nil); err != nil {
		t.Fatal(err)
	}
	newCA, err := os.ReadFile(pki.CAFile(newDir))
	if err != nil {
		t.Fatal(err)
	}
	hostb := tc.nodes[1]
	if err := present(pki.CertFile(newDir, "hosta"), pki.KeyFile(newDir, "hosta"), hostb); err == nil {
		t.Fatal("a certificate of the new CA was accepted before any ca_file held the new CA")
	}

	// 2. Both CAs in every ca_file (the nodes share one path here).
	writeFile(tc.ca.CAFile(), append(append([]byte(nil), oldCA...), newCA...), 0o644)
	reloadAll("step 2")
	allDial("step 2")
	if err := present(pki.CertFile(newDir, "hosta"), pki.KeyFile(newDir, "hosta"), hostb); err != nil {
		t.Fatalf("step 2: a new-CA certificate is refused although ca_file holds both CAs: %v", err)
	}

	// 3. Each node its new certificate and key, one at a time.
	for _, n := range tc.nodes {
		for _, f := range []struct {
			from, to string
			mode     os.FileMode
		}{{pki.CertFile(newDir, n.id), n.cert, 0o644}, {pki.KeyFile(newDir, n.id), n.key, 0o600}} {
			b, err := os.ReadFile(f.from)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(f.to, b, f.mode)
		}
		m, err := n.store.Reload()
		if err != nil {
			t.Fatalf("step 3: reload of %s: %v", n.id, err)
		}
		if m.Cert.Leaf.Issuer.CommonName != "raftvip CA" {
			t.Fatalf("step 3: %s presents a certificate of %q", n.id, m.Cert.Leaf.Issuer.CommonName)
		}
		allDial("step 3, " + n.id)
	}

	// 4. The new CA alone: the old CA's certificates are refused.
	stolenCert, stolenKey := tc.ca.Issue(t, "hosta", mtlstest.Opts{Suffix: "-stolen"})
	if err := present(stolenCert, stolenKey, hostb); err != nil {
		t.Fatalf("before step 4 an old-CA certificate should still be accepted (control): %v", err)
	}
	writeFile(tc.ca.CAFile(), newCA, 0o644)
	reloadAll("step 4")
	allDial("step 4")
	if err := present(stolenCert, stolenKey, hostb); err == nil {
		t.Fatal("step 4: a certificate of the old CA is still accepted")
	}

	after := tc.snap()
	if after.leader != before.leader || fmt.Sprint(after.terms) != fmt.Sprint(before.terms) {
		t.Fatalf("the rollover moved leadership:\n before %s\n after  %s", before, after)
	}
}
