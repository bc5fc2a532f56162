package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/mtls"
	"github.com/raftvip/raftvip/internal/mtls/mtlstest"
)

// tlsWitnessConfig is witnessConfig with a tls block instead of
// insecure_plaintext.
func tlsWitnessConfig(t *testing.T, dir string, ca *mtlstest.CA, cert, key string) string {
	t.Helper()
	path := witnessConfig(t, dir)
	b, _ := os.ReadFile(path)
	src := strings.Replace(string(b), "insecure_plaintext = true\n",
		fmt.Sprintf("tls {\n  ca_file = %q\n  cert_file = %q\n  key_file = %q\n}\n", ca.CAFile(), cert, key), 1)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAgentWithTLS(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t, "test CA")
	cert, key := ca.Issue(t, "witness", mtlstest.Opts{NotAfter: time.Now().Add(20 * 24 * time.Hour)})
	cfg, err := config.Load(tlsWitnessConfig(t, dir, ca, cert, key))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveAgent(ctx, cfg, log, false) }()
	defer func() { cancel(); <-done }()
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if code, stdout, _ := runCLI("status", "-admin", cfg.Admin, "-json"); code == exitOK {
			out = stdout
			break
		}
	}
	if !strings.Contains(out, `"node": "witness"`) || strings.Contains(out, "INSECURE") {
		t.Fatalf("status of a TLS witness: %s", out)
	}
	if !strings.Contains(out, "witness: TLS certificate "+cert+" expires") {
		t.Errorf("status does not warn of the certificate ending in 20 days: %s", out)
	}
	if !strings.Contains(logs.String(), "cluster port: mutual TLS: identity=witness") {
		t.Errorf("start-up log does not say TLS:\n%s", logs.String())
	}
}

// SIGHUP reads the certificate and key again (rotation without a restart).
func TestReloadRotatesCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t, "test CA")
	cert, key := ca.Issue(t, "witness", mtlstest.Opts{})
	path := tlsWitnessConfig(t, dir, ca, cert, key)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	store, err := mtls.NewStore(mtls.Files{CA: cfg.TLS.CAFile, Cert: cfg.TLS.CertFile, Key: cfg.TLS.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	a := agent.New(agent.Options{NodeID: cfg.NodeID, Role: cfg.Role}, nil, fsm.New(), nil, nil, nil, log)
	r := &reloader{path: path, cur: cfg, log: log, agent: a, certs: store}
	old := store.Current().Cert.Leaf.SerialNumber

	newCert, newKey := ca.Issue(t, "witness", mtlstest.Opts{Suffix: "-new"})
	for _, f := range [][2]string{{newCert, cert}, {newKey, key}} {
		b, _ := os.ReadFile(f[0])
		os.WriteFile(f[1], b, 0o600)
	}
	applied, refused, err := r.reload()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(applied, ";"), "tls certificate reloaded (witness, serial") || len(refused) != 0 {
		t.Fatalf("applied %q, refused %q", applied, refused)
	}
	if store.Current().Cert.Leaf.SerialNumber.Cmp(old) == 0 {
		t.Fatal("the store still has the old certificate")
	}

	// Another node's certificate in the file: the reload is refused and
	// the running certificate stays.
	other, otherKey := ca.Issue(t, "hosta", mtlstest.Opts{})
	running := store.Current()
	for _, f := range [][2]string{{other, cert}, {otherKey, key}} {
		b, _ := os.ReadFile(f[0])
		os.WriteFile(f[1], b, 0o600)
	}
	if _, _, err := r.reload(); err == nil || !strings.Contains(err.Error(), `node "hosta"'s certificate`) {
		t.Fatalf("reload with hosta's certificate: %v", err)
	}
	if store.Current() != running {
		t.Fatal("a refused reload replaced the certificate")
	}
}
