package vrrpcompat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/raftvip/raftvip/internal/nsexec"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The namespace lab of this package: a switch namespace with a bridge
// (multicast snooping off, so 224.0.0.18 floods like on a dumb switch) and
// one namespace per host, each with a veth "eth0" on the bridge, in
// 10.99.0.0/24. The root namespace gets no lab address. Every name starts
// with rvtest-vrrp-<pid>-<lab>-, and cleanup removes exactly those.

const (
	addrK = "10.99.0.11" // keepalived
	addrR = "10.99.0.12" // raftvip's Conn
	addrX = "10.99.0.13" // a crafting sender
)

type vlab struct {
	prefix string
	ns     map[string]string // host name -> namespace
}

func needRoot(t *testing.T, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + what)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("iproute2 'ip' is needed to build the namespace lab: %v", err)
	}
}

// newLab builds a lab named tag with the given hosts (name -> address).
func newLab(t *testing.T, tag string, hosts map[string]string) *vlab {
	t.Helper()
	l := &vlab{prefix: fmt.Sprintf("rvtest-vrrp-%d-%s", os.Getpid(), tag), ns: map[string]string{}}
	sw := l.prefix + "-sw"
	addNS(t, sw)
	ipCmd(t, "-n", sw, "link", "set", "lo", "up")
	ipCmd(t, "-n", sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	ipCmd(t, "-n", sw, "link", "set", "br0", "up")
	for name, addr := range hosts {
		ns := l.prefix + "-" + name
		addNS(t, ns)
		l.ns[name] = ns
		// Created in the switch with the peer straight in the host: the
		// root namespace never sees the link.
		port := "p-" + name
		ipCmd(t, "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ipCmd(t, "-n", sw, "link", "set", port, "master", "br0", "up")
		ipCmd(t, "-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
		ipCmd(t, "-n", ns, "link", "set", "eth0", "up")
	}
	return l
}

func addNS(t *testing.T, ns string) {
	t.Helper()
	ipCmd(t, "netns", "add", ns)
	// Registered right after creation so a later setup failure still
	// removes exactly what was made. Deleting the namespace removes its
	// veth ends too.
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("cleanup: ip netns del %s: %v: %s", ns, err, out)
		}
	})
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if err := nsexec.IP(args...); err != nil {
		t.Fatal(err)
	}
}

// in runs fn inside namespace ns (see nsexec.Do).
func in(ns string, fn func() error) error { return nsexec.Do(ns, fn) }

// openConn opens a Conn on eth0 of host in l, closed at cleanup.
func (l *vlab) openConn(t *testing.T, host string, peers ...netip.Addr) *Conn {
	t.Helper()
	var c *Conn
	err := in(l.ns[host], func() (err error) {
		c, err = Open(Config{
			Interface: "eth0",
			Peers:     peers,
			Exclude:   []netip.Addr{vip1},
			Logger:    hclog.New(&hclog.LoggerOptions{Name: "test-" + host, Level: hclog.Info, Output: testWriter{t}}),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testWriter sends the package log to t.Log, so it shows with -v or on
// failure only.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// listen runs c.Receive in the background until cleanup and returns the
// table and the channel of accepted adverts.
func listen(t *testing.T, c *Conn, want Expect, ourPriority uint8) (*Table, <-chan Received) {
	t.Helper()
	tab := NewTable(ourPriority)
	out := make(chan Received, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Receive(ctx, want, tab, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Receive ended with %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Receive did not return within 5s of cancel")
		}
	})
	return tab, out
}

// speak sends a every a.Interval (the first one at once) until stop is
// called or max adverts were sent. stop waits for the loop to end and
// returns how many were sent.
func speak(t *testing.T, c *Conn, a Advert, max int) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		sent := 0
		tick := time.NewTicker(a.Interval)
		defer tick.Stop()
		for sent < max {
			if err := c.Send(a); err != nil {
				t.Errorf("Send: %v", err)
			}
			sent++
			select {
			case <-ctx.Done():
				done <- sent
				return
			case <-tick.C:
			}
		}
		done <- sent
	}()
	var n int
	stopped := false
	stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			n = <-done
		}
		return n
	}
	t.Cleanup(func() { stop() })
	return stop
}

// eventually polls cond every step until it holds or timeout passes, and
// returns how long it took.
func eventually(timeout, step time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(step)
	}
}

// keepalived is a Debian keepalived 2.2.7 the test started in a namespace,
// VRRP subsystem only, in the foreground, with its own pid files, logging
// to a file and reporting its state through a notify script.
type keepalived struct {
	ns        string
	dir       string
	logPath   string
	statePath string
	cmd       *exec.Cmd
	done      chan struct{}
	vipNL     *netlink.Handle
}

type kaOptions struct {
	version  int    // 2 or 3
	auth     string // PASS password for v2, "" for none
	unicast  bool   // unicast_src_ip addrK, unicast_peer addrR
	priority int
}

func keepalivedConfig(dir string, o kaOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id rvtest_%d\n  script_user root\n", os.Getpid())
	if o.version == 3 {
		b.WriteString("  vrrp_version 3\n")
	}
	b.WriteString("}\n\nvrrp_instance VI_1 {\n  state BACKUP\n  nopreempt\n  interface eth0\n")
	fmt.Fprintf(&b, "  virtual_router_id 51\n  priority %d\n  advert_int 1\n", o.priority)
	if o.version == 2 && o.auth != "" {
		fmt.Fprintf(&b, "  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", o.auth)
	}
	if o.unicast {
		fmt.Fprintf(&b, "  unicast_src_ip %s\n  unicast_peer {\n    %s\n  }\n", addrK, addrR)
	}
	fmt.Fprintf(&b, "  notify %q\n", filepath.Join(dir, "notify.sh"))
	fmt.Fprintf(&b, "  virtual_ipaddress {\n    %s/24 dev eth0\n  }\n}\n", vip1)
	return b.String()
}

func keepalivedPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("keepalived"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/keepalived"); err == nil {
		return "/usr/sbin/keepalived"
	}
	t.Skip("needs keepalived (Debian package keepalived 2.2.7): not installed")
	return ""
}

// startKeepalived runs keepalived in namespace ns. It is stopped (SIGTERM
// to the pid started here, SIGKILL after 8 s) at cleanup.
func startKeepalived(t *testing.T, ns string, o kaOptions) *keepalived {
	t.Helper()
	bin := keepalivedPath(t)
	dir := t.TempDir()
	k := &keepalived{ns: ns, dir: dir, logPath: filepath.Join(dir, "keepalived.log"), statePath: filepath.Join(dir, "state"), done: make(chan struct{})}
	// The notify script appends the state keepalived enters (its third
	// argument: MASTER, BACKUP, FAULT, STOP).
	script := fmt.Sprintf("#!/bin/sh\necho \"$3\" >> %s\n", k.statePath)
	if err := os.WriteFile(filepath.Join(dir, "notify.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(keepalivedConfig(dir, o)), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(k.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// ip execs keepalived in place, so the pid is keepalived's.
	k.cmd = exec.Command("ip", "netns", "exec", ns, bin,
		"--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"--use-file="+conf,
		"--pid="+filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid="+filepath.Join(dir, "vrrp.pid"),
		"--checkers_pid="+filepath.Join(dir, "checkers.pid"))
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Pdeathsig fires when the forking thread ends, not the process; fork
	// from a thread that lives until keepalived was stopped.
	started := make(chan error)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		started <- k.cmd.Start()
		<-release
	}()
	if err := <-started; err != nil {
		close(release)
		t.Fatalf("start keepalived in %s: %v", ns, err)
	}
	go func() { k.cmd.Wait(); close(k.done) }()
	t.Cleanup(func() {
		defer close(release)
		if err := k.cmd.Process.Signal(syscall.SIGTERM); err == nil {
			select {
			case <-k.done:
			case <-time.After(8 * time.Second):
				k.cmd.Process.Kill()
				<-k.done
			}
		}
		if t.Failed() {
			log, _ := os.ReadFile(k.logPath)
			t.Logf("keepalived log (%s):\n%s", ns, log)
		}
	})
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsh.Close() })
	if k.vipNL, err = netlink.NewHandleAt(nsh); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.vipNL.Close)
	return k
}

func (k *keepalived) running() bool {
	select {
	case <-k.done:
		return false
	default:
		return true
	}
}

// states are the states keepalived entered, in order, from its notify script.
func (k *keepalived) states() []string {
	b, _ := os.ReadFile(k.statePath)
	return strings.Fields(string(b))
}

func (k *keepalived) state() string {
	s := k.states()
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// holdsVIP reads eth0's addresses in keepalived's namespace from netlink.
func (k *keepalived) holdsVIP(t *testing.T) bool {
	t.Helper()
	link, err := k.vipNL.LinkByName("eth0")
	if err != nil {
		t.Fatalf("eth0 in %s: %v", k.ns, err)
	}
	addrs, err := k.vipNL.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatalf("addresses in %s: %v", k.ns, err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && ip == vip1 {
			return true
		}
	}
	return false
}

// logHas reports whether keepalived's log contains s.
func (k *keepalived) logHas(s string) bool {
	b, _ := os.ReadFile(k.logPath)
	return bytes.Contains(b, []byte(s))
}

func (k *keepalived) log() string {
	b, _ := os.ReadFile(k.logPath)
	return string(b)
}
