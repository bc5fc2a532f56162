package keepalived

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocExampleIsCurrent keeps the seed example in docs/import-keepalived.md
// equal to what the import really prints for it.
func TestDocExampleIsCurrent(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "seed-hosta.conf"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "import-keepalived.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), string(src)) {
		t.Errorf("docs/import-keepalived.md does not show testdata/seed-hosta.conf as it is")
	}
	// As in the doc: the file is named keepalived.conf, and the DSN file is
	// the default one.
	tr, err := Parse(src, "keepalived.conf")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := Decode(tr)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(kc, Options{NodeID: "hosta", Peers: []Peer{peerB, peerWitness}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```hcl\n"+string(res.HCL)+"```") {
		t.Errorf("docs/import-keepalived.md does not show the current output; it is now:\n%s", res.HCL)
	}
}
