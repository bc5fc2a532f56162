package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/raftvip/raftvip/internal/mtls"
)

// tlsHint says how to make the certificates for the peers of cfg.
func tlsHint(cfg *Config) string {
	ids := make([]string, len(cfg.Peers))
	for i, p := range cfg.Peers {
		ids[i] = p.ID
	}
	nodes := strings.Join(ids, ",")
	if nodes == "" {
		nodes = "hosta,hostb,witness"
	}
	return fmt.Sprintf("make the files with `raftvip tls init /etc/raftvip/tls -nodes %s` and copy ca.pem, NODE.pem and NODE-key.pem to each node", nodes)
}

// buildTLS decodes the tls block and insecure_plaintext: exactly one of
// them. The files are read here, so `validate` catches a certificate that
// the peers would refuse (another CA, another node's, expired) at its line.
func buildTLS(c *collector, cfg *Config, raw *rawFile, top hcl.Range, filename string, nodeOK bool) {
	plain, plainSt := c.boolean(raw.InsecurePlaintext, "insecure_plaintext")
	cfg.InsecurePlaintext = plainSt == valid && plain
	for i := 1; i < len(raw.TLS); i++ {
		c.at(raw.TLS[i].DefRange, "only one tls block is allowed (the first is at %s)", fmtRange(raw.TLS[0].DefRange))
	}
	if len(raw.TLS) == 0 {
		if plainSt == invalid || cfg.InsecurePlaintext {
			if cfg.InsecurePlaintext {
				c.warn(raw.InsecurePlaintext.Range, "insecure_plaintext = true: the cluster port (bind) accepts anyone who can reach it; anyone on the network can command the VIP. Use a tls block")
			}
			return
		}
		where := top
		if raw.InsecurePlaintext != nil {
			where = raw.InsecurePlaintext.Range
		}
		c.at(where, `the cluster port needs a tls block { ca_file, cert_file, key_file } for mutual TLS between the peers (%s), or insecure_plaintext = true to run it without authentication (anyone who can reach it can then command the cluster)`, tlsHint(cfg))
		return
	}
	rt := &raw.TLS[0]
	if cfg.InsecurePlaintext {
		c.at(raw.InsecurePlaintext.Range, "insecure_plaintext = true and a tls block (at %s): set one of them; remove insecure_plaintext to use TLS", fmtRange(rt.DefRange))
	}
	t := &TLS{}
	file := func(a *hcl.Attribute, key, what string) (string, bool) {
		s, st := c.nonEmptyStr(a, "tls."+key)
		if st == absent {
			c.at(rt.DefRange, "tls: %s is required: %s; %s", key, what, tlsHint(cfg))
		}
		if st != valid {
			return "", false
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(filepath.Dir(filename), s)
		}
		return s, true
	}
	var caOK, certOK, keyOK bool
	t.CAFile, caOK = file(rt.CAFile, "ca_file", "the PEM file of the CA that signs every peer's certificate (ca.pem)")
	t.CertFile, certOK = file(rt.CertFile, "cert_file", "this node's certificate (NODE.pem)")
	t.KeyFile, keyOK = file(rt.KeyFile, "key_file", "this node's private key (NODE-key.pem)")
	cfg.TLS = t
	if !caOK || !certOK || !keyOK {
		return
	}
	unreadable := false
	for _, f := range []struct {
		a    *hcl.Attribute
		key  string
		path string
	}{{rt.CAFile, "ca_file", t.CAFile}, {rt.CertFile, "cert_file", t.CertFile}, {rt.KeyFile, "key_file", t.KeyFile}} {
		if _, err := os.ReadFile(f.path); err != nil {
			c.at(f.a.Range, "tls.%s: cannot read %q: %v", f.key, f.path, unwrapPath(err))
			unreadable = true
		}
	}
	if unreadable {
		return
	}
	pool, _, err := mtls.ReadCA(t.CAFile)
	if err != nil {
		c.at(rt.CAFile.Range, "tls.ca_file %q: %v", t.CAFile, unwrapPath(err))
		return
	}
	cert, err := mtls.ReadKeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		// Either file: name both, the error says which part failed.
		c.at(rt.CertFile.Range, "tls.cert_file %q with key_file %q: %v", t.CertFile, t.KeyFile, unwrapPath(err))
		return
	}
	id, err := mtls.CheckLeaf(cert.Leaf, pool, time.Now())
	if err != nil {
		c.at(rt.CertFile.Range, "tls.cert_file %q: %v (ca_file %q)", t.CertFile, err, t.CAFile)
		return
	}
	if nodeOK && id != cfg.NodeID {
		c.at(rt.CertFile.Range, "tls.cert_file %q is node %q's certificate, but node_id is %q; use %s.pem", t.CertFile, id, cfg.NodeID, cfg.NodeID)
	}
	if left := time.Until(cert.Leaf.NotAfter); left < mtls.ExpiryWarning {
		c.warn(rt.CertFile.Range, "tls.cert_file %q expires %s (in %d days): issue a new one (raftvip tls add DIR -node %s -force where ca-key.pem is kept), put it in place and reload (SIGHUP)", t.CertFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339), int(left.Hours()/24), id)
	}
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
