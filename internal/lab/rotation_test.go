package lab

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/internal/pki"
)

// Certificate rotation by SIGHUP (issue 9): every node's certificate and key
// are reissued in place (`raftvip tls add -force` does the same) and each
// agent is sent SIGHUP. The VIP does not move (same holder, same epoch),
// the leader and term stay, and each node's port then presents its new
// certificate.
func TestCertificateRotationKeepsVIPAndLeader(t *testing.T) {
	l, ctx, before := settledRaftvipLab(t)

	dir := l.TLSDir()
	caPEM, err := os.ReadFile(pki.CAFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	serials := map[string]string{}
	for _, h := range l.agentHosts() {
		if _, err := pki.AddWith(dir, h.NodeID, []net.IP{net.ParseIP(h.IP)}, pki.Options{Force: true}); err != nil {
			t.Fatal(err)
		}
		kp, err := tls.LoadX509KeyPair(pki.CertFile(dir, h.NodeID), pki.KeyFile(dir, h.NodeID))
		if err != nil {
			t.Fatal(err)
		}
		serials[h.NodeID] = fmt.Sprintf("%x", kp.Leaf.SerialNumber)
	}
	for _, h := range l.agentHosts() {
		a := l.Agent(h.Name)
		if err := a.Process().Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		want := "tls certificate reloaded (" + h.NodeID + ", serial " + serials[h.NodeID]
		eventually(t, 10*time.Second, h.NodeID+" logs the reload", func() error {
			b, err := os.ReadFile(a.LogPath)
			if err != nil {
				return err
			}
			if !bytes.Contains(b, []byte(want)) {
				return fmt.Errorf("no %q in its log", want)
			}
			return nil
		})
	}
	// A new connection to each node, as hosta (its new certificate), from
	// the client host: the server presents its new certificate.
	me, err := tls.LoadX509KeyPair(pki.CertFile(dir, "hosta"), pki.KeyFile(dir, "hosta"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range l.agentHosts() {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := DialInNamespace(dctx, l.Host("c").NS, "tcp", fmt.Sprintf("%s:%d", h.IP, RaftPort))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: h.NodeID, Certificates: []tls.Certificate{me}, MinVersion: tls.VersionTLS13})
		err = tc.HandshakeContext(dctx)
		cancel()
		if err != nil {
			t.Fatalf("handshake with %s after the rotation: %v", h.NodeID, err)
		}
		got := fmt.Sprintf("%x", tc.ConnectionState().PeerCertificates[0].SerialNumber)
		tc.Close()
		if got != serials[h.NodeID] {
			t.Errorf("%s presents serial %s, want its new certificate's %s", h.NodeID, got, serials[h.NodeID])
		}
	}
	// Longer than an election timeout: a node disturbed by the reload
	// would have started an election by now.
	time.Sleep(3 * time.Second)
	after := clusterViews(t, l)
	t.Logf("after: %v", after)
	if after.String() != before.String() {
		t.Errorf("the rotation changed the cluster:\nbefore %v\nafter  %v", before, after)
	}
	for _, h := range l.agentHosts() {
		st, err := l.Agent(h.Name).Status(within(t, 15*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range st.Nodes {
			if !n.Reachable {
				t.Errorf("%s's status after the rotation: %s unreachable", h.NodeID, n.ID)
			}
		}
		if w := strings.Join(st.Warnings, "; "); strings.Contains(w, "TLS certificate") {
			t.Errorf("%s's status warns about certificates: %s", h.NodeID, w)
		}
	}
}
