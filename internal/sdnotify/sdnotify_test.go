package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen plays systemd's side: a unixgram socket at name (a path or "@x").
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return string(buf[:n])
}

// none says no datagram is waiting.
func none(t *testing.T, c *net.UnixConn) {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("unexpected datagram %q", buf[:n])
	}
}

func TestSendPathAndAbstract(t *testing.T) {
	for _, name := range []string{
		filepath.Join(t.TempDir(), "notify"),
		fmt.Sprintf("@raftvip-sdnotify-test-%d", os.Getpid()),
	} {
		c := listen(t, name)
		t.Setenv("NOTIFY_SOCKET", name)
		t.Setenv("WATCHDOG_USEC", "")
		n, err := FromEnv()
		if err != nil || n == nil {
			t.Fatalf("%s: FromEnv: %v %v", name, n, err)
		}
		if v, ok := os.LookupEnv("NOTIFY_SOCKET"); ok {
			t.Errorf("NOTIFY_SOCKET=%q still set: children would inherit it", v)
		}
		if err := n.Send(Ready, "STATUS=up"); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, c); got != "READY=1\nSTATUS=up" {
			t.Errorf("%s: got %q", name, got)
		}
		if err := n.Send("STATUS=a\nb"); err == nil {
			t.Errorf("a newline inside a line was sent")
		}
	}
}

func TestFromEnvWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n, err := FromEnv()
	if n != nil || err != nil {
		t.Fatalf("got %v, %v", n, err)
	}
	// A nil notifier is usable: outside systemd the same calls do nothing.
	if err := n.Send(Ready); err != nil {
		t.Fatal(err)
	}
	n.Loop().Pass(time.Now(), "x")
	if n.Watchdog() != 0 || n.Loop().Stop() != nil {
		t.Fatal("nil notifier does something")
	}
	t.Setenv("NOTIFY_SOCKET", "vsock:2:1234")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "NOTIFY_SOCKET") {
		t.Fatalf("vsock address: %v", err)
	}
}

func TestWatchdogFor(t *testing.T) {
	cases := []struct {
		usec, pid string
		want      time.Duration
		err       string
	}{
		{"", "", 0, ""},
		{"10000000", "", 10 * time.Second, ""},
		{"10000000", "42", 10 * time.Second, ""},
		{"10000000", "43", 0, ""}, // meant for another process
		{"0", "", 0, "WATCHDOG_USEC"},
		{"ten", "", 0, "WATCHDOG_USEC"},
		{"10000000", "x", 0, "WATCHDOG_PID"},
	}
	for _, c := range cases {
		got, err := watchdogFor(c.usec, c.pid, 42)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("usec %q pid %q: %v, %v; want %v, error naming %q", c.usec, c.pid, got, err, c.want, c.err)
		}
	}
}

// Loop: READY once, on the first pass, with the first ping; then a ping
// only once half the period has passed since the last; STATUS= on change.
func TestLoopReadyPingsStatus(t *testing.T) {
	name := filepath.Join(t.TempDir(), "notify")
	c := listen(t, name)
	n, err := New(name, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l := n.Loop()
	t0 := time.Unix(1000, 0)
	l.Pass(t0, "follower")
	if got := recv(t, c); got != "STATUS=follower\nREADY=1\nWATCHDOG=1" {
		t.Fatalf("first pass: %q", got)
	}
	l.Pass(t0.Add(4*time.Second), "follower")
	none(t, c)
	l.Pass(t0.Add(5*time.Second), "follower")
	if got := recv(t, c); got != "WATCHDOG=1" {
		t.Fatalf("pass after half the period: %q", got)
	}
	l.Pass(t0.Add(6*time.Second), "holds the VIP")
	if got := recv(t, c); got != "STATUS=holds the VIP" {
		t.Fatalf("status change: %q", got)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c); got != "STOPPING=1\nWATCHDOG=1" {
		t.Fatalf("stop: %q", got)
	}
}

func TestLoopWithoutWatchdogSendsNoPings(t *testing.T) {
	name := filepath.Join(t.TempDir(), "notify")
	c := listen(t, name)
	n, _ := New(name, 0)
	l := n.Loop()
	l.Pass(time.Unix(0, 0), "")
	if got := recv(t, c); got != "READY=1" {
		t.Fatalf("first pass: %q", got)
	}
	l.Pass(time.Unix(3600, 0), "")
	none(t, c)
	l.Stop()
	if got := recv(t, c); got != "STOPPING=1" {
		t.Fatalf("stop: %q", got)
	}
}

func TestLoopReportsSendErrors(t *testing.T) {
	n, _ := New(filepath.Join(t.TempDir(), "gone"), 0)
	l := n.Loop()
	var errs []error
	l.OnError = func(err error) { errs = append(errs, err) }
	l.Pass(time.Now(), "")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "gone") {
		t.Fatalf("errors: %v", errs)
	}
}
