package vip

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// "released VIP removed=[]" at every start and stop said nothing (case 16):
// a release logs only when it removed something.
func TestReleaseLogsOnlyWhatItRemoved(t *testing.T) {
	l := newLab(t)
	var out bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info})
	n, err := NewNetlink(Config{Interface: "eth0", Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.10/24")}}, log)
	if err != nil {
		t.Fatal(err)
	}
	must(t, l.a, n.Release) // nothing there: as at every start
	if s := out.String(); strings.Contains(s, "released VIP") {
		t.Fatalf("a release that removed nothing logged:\n%s", s)
	}
	must(t, l.a, func() error { return n.Acquire(30 * time.Second) })
	must(t, l.a, n.Release)
	if s := out.String(); strings.Count(s, "released VIP") != 1 || !strings.Contains(s, "removed=[\"10.99.0.10/24\"]") {
		t.Fatalf("a release that removed the VIP logged:\n%s", s)
	}
}
