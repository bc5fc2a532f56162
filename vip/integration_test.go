package vip

import (
	"context"
	"errors"
	"fmt"
	"github.com/raftvip/raftvip/internal/nsexec"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/vishvananda/netlink"
)

// lab is two network namespaces made by the test, joined by a veth pair whose
// ends are both called eth0: a holds the VIP, b listens as a neighbour.
type lab struct {
	a, b string
}

const (
	labAddrA = "10.99.0.1/24"
	labAddrB = "10.99.0.2/24"
)

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces rvtest-vip-<pid>-a/b joined by a veth pair")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("iproute2 'ip' is needed to build the namespace lab: %v", err)
	}
	pid := os.Getpid()
	l := &lab{a: fmt.Sprintf("rvtest-vip-%d-a", pid), b: fmt.Sprintf("rvtest-vip-%d-b", pid)}
	for _, ns := range []string{l.a, l.b} {
		ipCmd(t, "netns", "add", ns)
		// Registered per namespace right after it exists, so that a failure
		// later in the setup still removes exactly what was made. Deleting a
		// namespace also destroys its end of the veth pair.
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("cleanup: ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	// Created inside a with its peer directly in b: nothing touches the root
	// namespace.
	ipCmd(t, "-n", l.a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", l.b)
	ipCmd(t, "-n", l.a, "addr", "add", labAddrA, "dev", "eth0")
	ipCmd(t, "-n", l.b, "addr", "add", labAddrB, "dev", "eth0")
	for _, ns := range []string{l.a, l.b} {
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
		ipCmd(t, "-n", ns, "link", "set", "eth0", "up")
	}
	return l
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if err := nsexec.IP(args...); err != nil {
		t.Fatal(err)
	}
}

// in runs fn inside namespace ns (see nsexec.Do).
func in(ns string, fn func() error) error { return nsexec.Do(ns, fn) }

// must is in() for the test goroutine.
func must(t *testing.T, ns string, fn func() error) {
	t.Helper()
	if err := in(ns, fn); err != nil {
		t.Fatal(err)
	}
}

// kernelAddrs reads eth0's IPv4 addresses in ns straight from netlink,
// independently of Netlink.Held.
func kernelAddrs(t *testing.T, ns string) map[netip.Prefix]netlink.Addr {
	t.Helper()
	out := map[netip.Prefix]netlink.Addr{}
	must(t, ns, func() error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, ok := vvPrefix(a); ok {
				out[p] = a
			}
		}
		return nil
	})
	return out
}

func held(t *testing.T, ns string, n *Netlink) bool {
	t.Helper()
	var h bool
	must(t, ns, func() (err error) { h, err = n.Held(); return err })
	return h
}

// eventually polls cond every 100ms until it holds or the (generous) timeout
// passes, and reports how long it took.
func eventually(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestNamespaceIntegration(t *testing.T) {
	l := newLab(t)

	vip10 := netip.MustParsePrefix("10.99.0.10/24")
	vip11 := netip.MustParsePrefix("10.99.0.11/24")
	own := netip.MustParsePrefix(labAddrA)
	cfg := Config{Interface: "eth0", Addresses: []netip.Prefix{vip10}, GARPCount: 3, GARPInterval: 50 * time.Millisecond}
	newNetlink := func(t *testing.T, cfg Config) *Netlink {
		t.Helper()
		n, err := NewNetlink(cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	release := func(t *testing.T, n *Netlink) {
		t.Helper()
		must(t, l.a, n.Release)
	}

	t.Run("acquire sets the kernel lifetime", func(t *testing.T) {
		n := newNetlink(t, cfg)
		if held(t, l.a, n) {
			t.Fatal("Held() = true before Acquire")
		}
		must(t, l.a, func() error { return n.Acquire(30 * time.Second) })
		t.Cleanup(func() { release(t, n) })
		a, ok := kernelAddrs(t, l.a)[vip10]
		if !ok {
			t.Fatalf("%s not on eth0 after Acquire", vip10)
		}
		if a.ValidLft < 28 || a.ValidLft > 30 || a.PreferedLft < 28 || a.PreferedLft > 30 {
			t.Fatalf("valid_lft=%d preferred_lft=%d after Acquire(30s); want both in [28,30]", a.ValidLft, a.PreferedLft)
		}
		if !held(t, l.a, n) {
			t.Fatal("Held() = false with the address on eth0")
		}
	})

	t.Run("renew resets the lifetime", func(t *testing.T) {
		n := newNetlink(t, cfg)
		must(t, l.a, func() error { return n.Acquire(30 * time.Second) })
		t.Cleanup(func() { release(t, n) })
		// Let the kernel's countdown visibly run first.
		var before int
		if took, ok := eventually(10*time.Second, func() bool {
			before = kernelAddrs(t, l.a)[vip10].ValidLft
			return before <= 28
		}); !ok {
			t.Fatalf("valid_lft still %d after %s; the kernel is not counting down", before, took)
		}
		must(t, l.a, func() error { return n.Renew(30 * time.Second) })
		a := kernelAddrs(t, l.a)[vip10]
		if a.ValidLft < 29 || a.PreferedLft < 29 {
			t.Fatalf("after Renew(30s): valid_lft=%d preferred_lft=%d (was %d); want >= 29", a.ValidLft, a.PreferedLft, before)
		}
		must(t, l.a, func() error { return n.Renew(90 * time.Second) })
		if a := kernelAddrs(t, l.a)[vip10]; a.ValidLft < 88 || a.ValidLft > 90 {
			t.Fatalf("after Renew(90s): valid_lft=%d; want in [88,90]", a.ValidLft)
		}
	})

	t.Run("address expires without renew", func(t *testing.T) {
		n := newNetlink(t, cfg)
		must(t, l.a, func() error { return n.Acquire(time.Second) })
		t.Cleanup(func() { release(t, n) })
		took, ok := eventually(5*time.Second, func() bool {
			_, present := kernelAddrs(t, l.a)[vip10]
			return !present
		})
		if !ok {
			t.Fatalf("%s still on eth0 %s after Acquire(1s) without renew", vip10, took)
		}
		t.Logf("kernel removed the address %s after Acquire(1s)", took.Round(10*time.Millisecond))
		if held(t, l.a, n) {
			t.Fatal("Held() = true after the kernel expired the address")
		}
		// Releasing what the kernel already removed is not an error.
		must(t, l.a, n.Release)
	})

	t.Run("release removes only the VIP and is idempotent", func(t *testing.T) {
		n := newNetlink(t, cfg)
		must(t, l.a, func() error { return n.Acquire(30 * time.Second) })
		must(t, l.a, n.Release)
		addrs := kernelAddrs(t, l.a)
		if _, ok := addrs[vip10]; ok {
			t.Fatalf("%s still on eth0 after Release", vip10)
		}
		if _, ok := addrs[own]; !ok {
			t.Fatalf("Release removed the interface's own address %s", own)
		}
		if held(t, l.a, n) {
			t.Fatal("Held() = true after Release")
		}
		must(t, l.a, n.Release) // second Release: nothing to do, no error
	})

	t.Run("held needs every address", func(t *testing.T) {
		cfg2 := cfg
		cfg2.Addresses = []netip.Prefix{vip10, vip11}
		n2 := newNetlink(t, cfg2)
		must(t, l.a, func() error { return n2.Acquire(30 * time.Second) })
		t.Cleanup(func() { release(t, n2) })
		if !held(t, l.a, n2) {
			t.Fatal("Held() = false with both addresses on eth0")
		}
		// Someone else removes one of the two.
		must(t, l.a, func() error {
			link, err := netlink.LinkByName("eth0")
			if err != nil {
				return err
			}
			return netlink.AddrDel(link, vvAddr(vip11))
		})
		if held(t, l.a, n2) {
			t.Fatal("Held() = true with only one of two addresses on eth0")
		}
		must(t, l.a, n2.Release) // one present, one absent: still fine
		addrs := kernelAddrs(t, l.a)
		for _, p := range cfg2.Addresses {
			if _, ok := addrs[p]; ok {
				t.Fatalf("%s still on eth0 after Release", p)
			}
		}
	})

	t.Run("gratuitous ARP reaches the neighbour", func(t *testing.T) {
		cfg2 := cfg
		cfg2.Addresses = []netip.Prefix{vip10, vip11}
		n2 := newNetlink(t, cfg2)
		g, err := NewGARP(cfg2, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		must(t, l.a, func() error { return n2.Acquire(30 * time.Second) })
		t.Cleanup(func() { release(t, n2) })

		var macA net.HardwareAddr
		must(t, l.a, func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			macA = ifi.HardwareAddr
			return nil
		})
		// The listening socket is opened inside b; reading it afterwards
		// works from any thread.
		var c *arp.Client
		must(t, l.b, func() error {
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			c, err = arp.Dial(ifi)
			return err
		})
		defer c.Close()

		type frame struct {
			p   *arp.Packet
			eth *ethernet.Frame
		}
		vips := map[netip.Addr]bool{vip10.Addr(): true, vip11.Addr(): true}
		// Bounded: the reader stops at a fixed deadline well after the
		// announcement ((count-1) x interval = 100ms) is over, so that extra or
		// duplicate frames would be counted too.
		if err := c.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
			t.Fatal(err)
		}
		got := make(chan []frame, 1)
		go func() {
			var frames []frame
			for {
				p, eth, err := c.Read()
				if err != nil {
					got <- frames
					return
				}
				if vips[p.SenderIP] {
					frames = append(frames, frame{p, eth})
				}
			}
		}()

		must(t, l.a, func() error { return g.Announce(context.Background()) })

		frames := <-got
		type key struct {
			op arp.Operation
			ip netip.Addr
		}
		counts := map[key]int{}
		for _, f := range frames {
			op, ip := checkGARP(t, f.p, f.eth, macA, vips)
			counts[key{op, ip}]++
		}
		want := cfg2.GARPCount * len(cfg2.Addresses) * 2
		if len(frames) != want {
			t.Errorf("captured %d gratuitous ARPs in b; want GARPCount(%d) x addresses(%d) x 2 = %d", len(frames), cfg2.GARPCount, len(cfg2.Addresses), want)
		}
		for ip := range vips {
			for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
				if c := counts[key{op, ip}]; c != cfg2.GARPCount {
					t.Errorf("captured %d %s for %s; want %d", c, op, ip, cfg2.GARPCount)
				}
			}
		}
	})

	t.Run("announce stops when cancelled", func(t *testing.T) {
		cfg2 := cfg
		cfg2.GARPCount, cfg2.GARPInterval = 1000, time.Second
		g, err := NewGARP(cfg2, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- in(l.a, func() error { return g.Announce(ctx) }) }()
		time.Sleep(200 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Announce = %v; want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Announce still running 10s after its context was cancelled")
		}
	})
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: testWriter{t}})
}

// testWriter sends the package's logs to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// TestReleaseLeftoversKeepsForeignAddresses: at start an agent in VRRP mode
// removes only VIPs with a finite lifetime (its own, from before a crash);
// one with an infinite lifetime belongs to another owner (keepalived beside
// raftvip during a migration) and stays.
func TestReleaseLeftoversKeepsForeignAddresses(t *testing.T) {
	l := newLab(t)
	ours, theirs := netip.MustParsePrefix("10.99.0.10/24"), netip.MustParsePrefix("10.99.0.20/24")
	ipCmd(t, "-n", l.a, "addr", "add", ours.String(), "dev", "eth0", "valid_lft", "30", "preferred_lft", "30")
	ipCmd(t, "-n", l.a, "addr", "add", theirs.String(), "dev", "eth0")
	var kept, foreign []netip.Prefix
	must(t, l.a, func() error {
		n, err := NewNetlink(Config{Interface: "eth0", Addresses: []netip.Prefix{ours, theirs}}, testLogger(t))
		if err != nil {
			return err
		}
		if foreign, err = n.Foreign(); err != nil {
			return err
		}
		kept, err = n.ReleaseLeftovers()
		return err
	})
	if len(foreign) != 1 || foreign[0] != theirs {
		t.Errorf("Foreign() = %v, want [%s]", foreign, theirs)
	}
	got := kernelAddrs(t, l.a)
	if _, ok := got[ours]; ok {
		t.Errorf("%s (finite lifetime, a raftvip leftover) is still there", ours)
	}
	if _, ok := got[theirs]; !ok {
		t.Errorf("%s (infinite lifetime, another owner's) was removed", theirs)
	}
	if len(kept) != 1 || kept[0] != theirs {
		t.Errorf("kept %v, want [%s]", kept, theirs)
	}
}

// Issue 8, case 7: a missing interface used to count as released, although
// its addresses live on under the interface's new name.
func TestReleaseOfARenamedInterfaceIsNoRelease(t *testing.T) {
	l := newLab(t)
	vipAddr := netip.MustParsePrefix("10.99.0.10/24")
	var n *Netlink
	must(t, l.a, func() (err error) {
		n, err = NewNetlink(Config{Interface: "eth0", Addresses: []netip.Prefix{vipAddr}}, testLogger(t))
		if err != nil {
			return err
		}
		return n.Acquire(5 * time.Second)
	})
	ipCmd(t, "-n", l.a, "link", "set", "dev", "eth0", "down")
	ipCmd(t, "-n", l.a, "link", "set", "dev", "eth0", "name", "lan0")
	ipCmd(t, "-n", l.a, "link", "set", "dev", "lan0", "up")
	err := in(l.a, n.Release)
	if !errors.Is(err, ErrInterfaceGone) {
		t.Fatalf("Release with eth0 renamed to lan0 = %v, want ErrInterfaceGone", err)
	}
	var still bool
	must(t, l.a, func() error {
		link, err := netlink.LinkByName("lan0")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		for _, a := range addrs {
			if p, ok := vvPrefix(a); ok && p == vipAddr {
				still = true
			}
		}
		return err
	})
	if !still {
		t.Fatalf("%s is not on lan0: the test did not keep the address alive under the new name", vipAddr)
	}
}
