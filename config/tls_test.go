package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/internal/mtls/mtlstest"
)

// withTLS appends a tls block to base ("tls {" at line 24, then ca_file,
// cert_file, key_file at 25-27).
func withTLS(ca, cert, key string) string {
	return base + fmt.Sprintf("tls {\n  ca_file   = %q\n  cert_file = %q\n  key_file  = %q\n}\n", ca, cert, key)
}

func TestTLSBlock(t *testing.T) {
	ca := mtlstest.NewCA(t, "raftvip test CA")
	cert, key := ca.Issue(t, "hosta", mtlstest.Opts{})
	cfg, err := Parse([]byte(withTLS(ca.CAFile(), cert, key)), "t.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS == nil || cfg.TLS.CAFile != ca.CAFile() || cfg.TLS.CertFile != cert || cfg.TLS.KeyFile != key || cfg.InsecurePlaintext {
		t.Fatalf("TLS = %+v, insecure_plaintext %v", cfg.TLS, cfg.InsecurePlaintext)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}

	// Relative paths are relative to the config file.
	path := filepath.Join(ca.Dir, "raftvip.hcl")
	if err := os.WriteFile(path, []byte(withTLS("ca.pem", "hosta.pem", "hosta-key.pem")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.CertFile != cert || cfg.TLS.CAFile != ca.CAFile() {
		t.Errorf("relative paths: %+v", cfg.TLS)
	}

	// Expiring within 30 days: accepted, with a warning at cert_file.
	soon, soonKey := ca.Issue(t, "hosta", mtlstest.Opts{NotAfter: time.Now().Add(10 * 24 * time.Hour), Suffix: "-soon"})
	cfg, err = Parse([]byte(withTLS(ca.CAFile(), soon, soonKey)), "t.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0].Error(), "t.hcl:26:3: tls.cert_file") || !strings.Contains(cfg.Warnings[0].Msg, "expires") ||
		// tls add refuses to replace an existing certificate without -force.
		!strings.Contains(cfg.Warnings[0].Msg, "raftvip tls add DIR -node hosta -force") {
		t.Errorf("expiring certificate: warnings %v", cfg.Warnings)
	}
}

func TestInsecurePlaintextWarns(t *testing.T) {
	cfg, err := Parse([]byte(base+"insecure_plaintext = true\n"), "p.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.InsecurePlaintext || cfg.TLS != nil {
		t.Fatalf("insecure_plaintext %v, TLS %+v", cfg.InsecurePlaintext, cfg.TLS)
	}
	if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0].Error(), "p.hcl:24:1: insecure_plaintext = true") {
		t.Errorf("warnings %v, want one at p.hcl:24:1", cfg.Warnings)
	}
}

func TestBadTLS(t *testing.T) {
	ca := mtlstest.NewCA(t, "raftvip test CA")
	other := mtlstest.NewCA(t, "another CA")
	cert, key := ca.Issue(t, "hosta", mtlstest.Opts{})
	hostbCert, hostbKey := ca.Issue(t, "hostb", mtlstest.Opts{})
	foreign, foreignKey := other.Issue(t, "hosta", mtlstest.Opts{})
	expired, expiredKey := ca.Issue(t, "hosta", mtlstest.Opts{NotAfter: time.Now().Add(-time.Minute), Suffix: "-old"})
	noSAN, noSANKey := ca.Issue(t, "hosta", mtlstest.Opts{NoSAN: true, Suffix: "-nosan"})
	missing := filepath.Join(t.TempDir(), "nope.pem")
	tests := []struct {
		name, src, pos, frag string
	}{
		{"neither tls nor insecure_plaintext", base, "bad.hcl:1:1",
			"the cluster port needs a tls block { ca_file, cert_file, key_file } for mutual TLS between the peers (make the files with `raftvip tls init /etc/raftvip/tls -nodes hosta,hostb,witness`"},
		{"insecure_plaintext = false", base + "insecure_plaintext = false\n", "bad.hcl:24:1", "or insecure_plaintext = true to run it without authentication"},
		{"insecure_plaintext quoted", base + `insecure_plaintext = "true"` + "\n", "bad.hcl:24:1", "insecure_plaintext: want true or false"},
		{"both", withTLS(ca.CAFile(), cert, key) + "insecure_plaintext = true\n", "bad.hcl:29:1", "insecure_plaintext = true and a tls block (at bad.hcl:24:1): set one of them"},
		{"two tls blocks", withTLS(ca.CAFile(), cert, key) + "tls {\n}\n", "bad.hcl:29:1", "only one tls block is allowed"},
		{"tls without key_file", base + fmt.Sprintf("tls {\n  ca_file = %q\n  cert_file = %q\n}\n", ca.CAFile(), cert), "bad.hcl:24:1", "tls: key_file is required"},
		{"ca_file missing", withTLS(missing, cert, key), "bad.hcl:25:3", `tls.ca_file: cannot read "` + missing + `": no such file or directory`},
		{"key_file missing", withTLS(ca.CAFile(), cert, missing), "bad.hcl:27:3", `tls.key_file: cannot read "` + missing + `"`},
		{"ca_file is no certificate", withTLS(key, cert, key), "bad.hcl:25:3", "no PEM CERTIFICATE block"},
		{"ca_file is a node certificate", withTLS(cert, cert, key), "bad.hcl:25:3", "is not a CA certificate"},
		{"key of another certificate", withTLS(ca.CAFile(), cert, hostbKey), "bad.hcl:26:3", "private key does not match public key"},
		{"another node's certificate", withTLS(ca.CAFile(), hostbCert, hostbKey), "bad.hcl:26:3", `is node "hostb"'s certificate, but node_id is "hosta"`},
		{"another CA", withTLS(ca.CAFile(), foreign, foreignKey), "bad.hcl:26:3", "peers would refuse this certificate"},
		{"expired", withTLS(ca.CAFile(), expired, expiredKey), "bad.hcl:26:3", "certificate is not valid now"},
		{"no SAN", withTLS(ca.CAFile(), noSAN, noSANKey), "bad.hcl:26:3", "not among its DNS SANs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.src), "bad.hcl")
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			list := err.(*Errors).List
			for _, e := range list {
				if strings.HasPrefix(e.Error(), tt.pos+": ") && strings.Contains(e.Msg, tt.frag) {
					return
				}
			}
			t.Errorf("no error at %s containing %q; got:\n%v", tt.pos, tt.frag, err)
		})
	}
}
