package osgroup

import (
	"os/user"
	"strconv"
	"strings"
	"testing"
)

func TestGID(t *testing.T) {
	// root's group is in /etc/group on every Debian host.
	g, err := user.LookupGroupId("0")
	if err != nil {
		t.Skipf("no group 0 in /etc/group here: %v", err)
	}
	if gid, err := GID(g.Name); err != nil || gid != 0 {
		t.Fatalf("GID(%q) = %d, %v; want 0", g.Name, gid, err)
	}
	if gid, err := GID("4242"); err != nil || gid != 4242 {
		t.Fatalf("a numeric gid: GID(\"4242\") = %d, %v", gid, err)
	}
	for _, bad := range []string{"no-such-group-raftvip", "-3"} {
		gid, err := GID(bad)
		if err == nil || gid != -1 || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Fatalf("GID(%q) = %d, %v; want -1 and an error naming it", bad, gid, err)
		}
	}
}
