package rtnl

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/raftvip/raftvip/internal/nsexec"
)

// netns is a network namespace the test made (rvrtnl<pid>-<n>) with an
// interface rvd0 in it, up; the Conn was dialled inside it.
type netns struct {
	name string
	c    *Conn
}

var nsCount int

func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespace rvrtnl<pid>-<n>")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("iproute2 'ip' is needed: %v", err)
	}
	nsCount++
	n := &netns{name: fmt.Sprintf("rvrtnl%d-%d", os.Getpid(), nsCount)}
	ip(t, "netns", "add", n.name)
	// Deleting the namespace also deletes rvd0 and closes nothing else.
	t.Cleanup(func() {
		if err := nsexec.IP("netns", "del", n.name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	n.addLink(t)
	ip(t, "-n", n.name, "link", "set", "rvd0", "up")
	ip(t, "-n", n.name, "link", "set", "lo", "up")
	if err := nsexec.Do(n.name, func() (err error) { n.c, err = Dial(); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.c.Close() })
	return n
}

// addLink makes rvd0 as one end of a veth pair (rvd1 the other): the dummy
// driver is not on every kernel.
func (n *netns) addLink(t *testing.T) {
	t.Helper()
	ip(t, "-n", n.name, "link", "add", "rvd0", "type", "veth", "peer", "name", "rvd1")
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if err := nsexec.IP(args...); err != nil {
		t.Fatal(err)
	}
}

// index is the interface's index as the Go standard library sees it inside
// the namespace: a second opinion.
func (n *netns) index(t *testing.T, name string) int {
	t.Helper()
	var idx int
	if err := nsexec.Do(n.name, func() error {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		idx = ifi.Index
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return idx
}

// ipAddr is one address as `ip -j addr show` reports it: iproute2's view,
// independent of this package's decoding.
type ipAddr struct {
	Local     string `json:"local"`
	PrefixLen int    `json:"prefixlen"`
	Broadcast string `json:"broadcast"`
	ValidLft  uint64 `json:"valid_life_time"`
	PrefLft   uint64 `json:"preferred_life_time"`
}

func (n *netns) ipAddrs(t *testing.T, dev string) map[string]ipAddr {
	t.Helper()
	out, err := exec.Command("ip", "-j", "-4", "-n", n.name, "addr", "show", "dev", dev).Output()
	if err != nil {
		t.Fatalf("ip addr show: %v", err)
	}
	var links []struct {
		AddrInfo []ipAddr `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("ip -j addr show: %v: %s", err, out)
	}
	m := map[string]ipAddr{}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			m[fmt.Sprintf("%s/%d", a.Local, a.PrefixLen)] = a
		}
	}
	return m
}

// The socket stays in the namespace it was dialled in, whichever thread
// uses it later: rvd0 exists only there.
func TestLinkIndex(t *testing.T) {
	n := newNetns(t)
	got, err := n.c.LinkIndex("rvd0")
	if err != nil {
		t.Fatal(err)
	}
	if want := n.index(t, "rvd0"); got != want {
		t.Fatalf("LinkIndex(rvd0) = %d, want %d", got, want)
	}
	if got, err := n.c.LinkIndex("lo"); err != nil || got != 1 {
		t.Fatalf("LinkIndex(lo) = %d, %v; want 1", got, err)
	}

	_, err = n.c.LinkIndex("rvnosuch0")
	var nf *LinkNotFoundError
	if !errors.As(err, &nf) || nf.Name != "rvnosuch0" || !errors.Is(err, unix.ENODEV) {
		t.Fatalf("LinkIndex(rvnosuch0) error = %#v, want a LinkNotFoundError naming it that is ENODEV", err)
	}

	// Recreated: a new index, and the lookup finds it.
	ip(t, "-n", n.name, "link", "del", "rvd0")
	n.addLink(t)
	again, err := n.c.LinkIndex("rvd0")
	if err != nil {
		t.Fatal(err)
	}
	if again == got || again != n.index(t, "rvd0") {
		t.Fatalf("after recreating rvd0: LinkIndex = %d (was %d), kernel says %d", again, got, n.index(t, "rvd0"))
	}

	// Longer than 15 bytes: only an alternative name can be, and it is
	// looked up as one.
	ip(t, "-n", n.name, "link", "property", "add", "dev", "rvd0", "altname", "rvrtnl-long-altname")
	if alt, err := n.c.LinkIndex("rvrtnl-long-altname"); err != nil || alt != again {
		t.Fatalf("LinkIndex(altname) = %d, %v; want %d", alt, err, again)
	}
}

// Replace adds with the given lifetimes, replaces again to renew, delete
// removes, and the kernel's errors come back as errnos.
func TestAddrLifecycle(t *testing.T) {
	n := newNetns(t)
	idx, err := n.c.LinkIndex("rvd0")
	if err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParseAddr("10.98.0.10")
	addr := func(valid uint32) AddrMessage {
		return AddrMessage{Family: unix.AF_INET, PrefixLen: 24, Index: uint32(idx), Local: vip, Address: vip,
			Broadcast: netip.MustParseAddr("10.98.0.255"), CacheInfo: &CacheInfo{Valid: valid, Preferred: valid}}
	}
	if err := n.c.ReplaceAddr(addr(30)); err != nil {
		t.Fatal(err)
	}
	got, ok := n.ipAddrs(t, "rvd0")["10.98.0.10/24"]
	if !ok || got.Broadcast != "10.98.0.255" || got.ValidLft > 30 || got.ValidLft < 25 || got.PrefLft > 30 || got.PrefLft < 25 {
		t.Fatalf("after ReplaceAddr(valid 30): ip says %+v (present %v)", got, ok)
	}
	if err := n.c.ReplaceAddr(addr(300)); err != nil {
		t.Fatal(err)
	}
	if got := n.ipAddrs(t, "rvd0")["10.98.0.10/24"]; got.ValidLft < 295 || got.ValidLft > 300 {
		t.Fatalf("after renewing to 300 s: valid_lft %d", got.ValidLft)
	}

	// Our own listing agrees, and leaves out other interfaces' addresses.
	ip(t, "-n", n.name, "addr", "add", "127.0.0.2/8", "dev", "lo")
	list, err := n.c.Addrs(unix.AF_INET, idx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Local != vip || list[0].Address != vip || list[0].PrefixLen != 24 ||
		list[0].Index != uint32(idx) || list[0].CacheInfo == nil || list[0].CacheInfo.Valid < 295 || list[0].Label != "rvd0" {
		t.Fatalf("Addrs(rvd0) = %+v", list)
	}
	all, err := n.c.Addrs(unix.AF_INET, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 3 { // 127.0.0.1, 127.0.0.2, the VIP
		t.Fatalf("Addrs(all) = %+v, want lo's two and the VIP", all)
	}
	for _, a := range all {
		if a.Local == netip.MustParseAddr("127.0.0.1") && (a.CacheInfo == nil || a.CacheInfo.Valid != Forever || a.Flags&unix.IFA_F_PERMANENT == 0) {
			t.Fatalf("127.0.0.1: %+v, want permanent, valid forever", a)
		}
	}

	if err := n.c.DeleteAddr(addr(0)); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.ipAddrs(t, "rvd0")["10.98.0.10/24"]; ok {
		t.Fatal("still there after DeleteAddr")
	}
	if err := n.c.DeleteAddr(addr(0)); err != unix.EADDRNOTAVAIL {
		t.Fatalf("second DeleteAddr = %#v, want the bare EADDRNOTAVAIL", err)
	}
	bad := addr(30)
	bad.Index = 999999
	if err := n.c.ReplaceAddr(bad); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("ReplaceAddr on index 999999 = %v, want ENODEV", err)
	}
}

// An answer left on the socket by an earlier request (one that timed out)
// must not be taken for the answer to the next one.
func TestStaleAnswerIsSkipped(t *testing.T) {
	n := newNetns(t)
	body, _ := (&LinkMessage{Name: "lo"}).MarshalBinary()
	stale := Message{Header: Header{Type: unix.RTM_GETLINK, Flags: unix.NLM_F_REQUEST, Sequence: 0xdead}, Data: body}.appendTo(nil)
	if err := n.c.send(stale); err != nil {
		t.Fatal(err)
	}
	got, err := n.c.LinkIndex("rvd0")
	if err != nil {
		t.Fatal(err)
	}
	if want := n.index(t, "rvd0"); got != want {
		t.Fatalf("LinkIndex(rvd0) after a stale answer for lo = %d, want %d", got, want)
	}
}

// A lost answer ends in an error, not a wait without end.
func TestNoAnswerTimesOut(t *testing.T) {
	n := newNetns(t)
	if err := n.c.setTimeout(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// A request that asks for no answer at all: the kernel sends none
	// for a successful request without NLM_F_ACK.
	body, _ := (&AddrMessage{Family: unix.AF_INET, PrefixLen: 32, Index: 1, Local: netip.MustParseAddr("127.0.0.3"), Address: netip.MustParseAddr("127.0.0.3")}).MarshalBinary()
	err := n.c.execute(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, body, answerAck, nil)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("no answer: err = %v, want os.ErrDeadlineExceeded", err)
	}
	// The Conn is still good afterwards.
	if _, err := n.c.LinkIndex("rvd0"); err != nil {
		t.Fatal(err)
	}
}

// vip and vrrpcompat call one Conn from several goroutines (the agent loop,
// the VRRP speaker): each caller gets its own answer.
func TestConcurrentCallers(t *testing.T) {
	n := newNetns(t)
	want := n.index(t, "rvd0")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for range 50 {
				if g%2 == 0 {
					if got, err := n.c.LinkIndex("rvd0"); err != nil || got != want {
						errs <- fmt.Errorf("LinkIndex = %d, %v; want %d", got, err, want)
						return
					}
				} else if _, err := n.c.Addrs(unix.AF_INET, 1); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestClosed(t *testing.T) {
	n := newNetns(t)
	if err := n.c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.c.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := n.c.LinkIndex("rvd0"); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("LinkIndex after Close = %v, want os.ErrClosed", err)
	}
}
