package mtls_test

import (
	"path/filepath"
	"testing"

	"github.com/raftvip/raftvip/internal/mtls"
	"github.com/raftvip/raftvip/internal/pki"
)

// What `raftvip tls init` writes is what the cluster port serves with.
func TestLoadsWhatPKIWrites(t *testing.T) {
	dir := t.TempDir()
	if err := pki.Init(dir, []string{"hosta", "hostb", "witness"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := pki.Add(dir, "hostd", nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"hosta", "hostb", "witness", "hostd"} {
		m, err := mtls.Load(mtls.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, id+".pem"), Key: filepath.Join(dir, id+"-key.pem")})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if m.ID != id {
			t.Fatalf("%s: identity %q", id, m.ID)
		}
		if pid, err := pki.Identity(m.Cert.Leaf); err != nil || pid != id {
			t.Fatalf("pki.Identity: %q %v", pid, err)
		}
	}
}
