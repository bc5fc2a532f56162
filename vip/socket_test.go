package vip

import (
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// sockets are the process's open sockets (fd -> "socket:[inode]").
func sockets(t *testing.T) map[string]string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			out[fd.Name()] = l
		}
	}
	return out
}

// Issue 11 (idle cost): a leader renews several times a second, and a new
// netlink socket per call (socket, bind, getsockname, close) was most of
// each renewal's system calls. The first call opens one socket; every later
// call reuses it, and Close gives it back.
func TestNetlinkReusesOneSocket(t *testing.T) {
	l := newLab(t)
	n, err := NewNetlink(Config{Interface: "eth0", Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.10/24")}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	before := sockets(t)
	must(t, l.a, func() error { return n.Acquire(30 * time.Second) })
	after := sockets(t)
	var opened []string
	for fd, s := range after {
		if before[fd] != s {
			opened = append(opened, fd)
		}
	}
	if len(opened) != 1 {
		t.Fatalf("Acquire left %d new sockets open (%v), want its one netlink socket kept for reuse", len(opened), opened)
	}
	for range 5 {
		must(t, l.a, func() error { return n.Renew(30 * time.Second) })
		if _, err := n.Held(); err != nil {
			t.Fatal(err)
		}
	}
	if now := sockets(t); !maps.Equal(now, after) {
		t.Fatalf("renewing changed the open sockets:\n before %v\n after  %v", slices.Sorted(maps.Values(after)), slices.Sorted(maps.Values(now)))
	}
	// Held above ran on a thread of the root namespace, yet answered for
	// the lab's eth0: the socket stays where it was opened.
	if held, err := n.Held(); err != nil || !held {
		t.Fatalf("Held from another thread = %v, %v; want true (the socket is in the lab namespace)", held, err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if now := sockets(t); !maps.Equal(now, before) {
		t.Fatalf("Close left sockets open: %v, was %v", now, before)
	}
}
