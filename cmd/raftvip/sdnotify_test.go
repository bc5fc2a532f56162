package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/config"
)

// The agent under systemd's Type=notify, with the test as systemd: READY=1
// only once the agent is up (after the start delay, with the admin socket
// answering), watchdog pings at half WATCHDOG_USEC, STOPPING=1 at SIGTERM.
func TestAgentNotifiesSystemd(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load(witnessConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	// A start delay of 1.5s, recorded by an "earlier run": the agent is
	// not up before it has passed.
	const delay = 1500 * time.Millisecond
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "max_heartbeat_timeout"), []byte(delay.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "400000") // pings every 200ms
	t.Setenv("WATCHDOG_PID", "")

	var logs syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- serveAgent(ctx, cfg, log, false) }()

	read := func(within time.Duration) (string, bool) {
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(within))
		n, err := c.Read(buf)
		if err != nil {
			return "", false
		}
		return string(buf[:n]), true
	}
	first, ok := read(10 * time.Second)
	if !ok {
		t.Fatal("no notify message within 10s of the start")
	}
	took := time.Since(start)
	if !strings.Contains(first, "READY=1") || !strings.Contains(first, "WATCHDOG=1") || !strings.Contains(first, "STATUS=raft follower") {
		t.Fatalf("first message %q: want READY=1, a first ping and the status", first)
	}
	if took < delay {
		t.Errorf("READY=1 %v after the start, within the %v start delay (raft not up yet)", took, delay)
	}
	// Up means serving: the admin socket answers at once.
	if code, stdout, stderr := runCLI("status", "-admin", cfg.Admin, "-json"); code != exitOK || !strings.Contains(stdout, `"node": "witness"`) {
		t.Fatalf("status right after READY=1: exit %d\n%s%s", code, stdout, stderr)
	}
	// systemctl reload (ExecReload=/bin/kill -HUP $MAINPID) right after
	// READY=1: the agent reloads, it does not die of the signal.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "reloaded config"); {
		if time.Now().After(deadline) {
			t.Fatalf("no reload within 5s of SIGHUP:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if os.Getenv("NOTIFY_SOCKET") != "" {
		t.Error("NOTIFY_SOCKET left in the agent's environment (notify scripts would inherit it)")
	}
	pings := 0
	for deadline := time.Now().Add(2 * time.Second); pings < 3 && time.Now().Before(deadline); {
		m, ok := read(time.Until(deadline))
		if !ok {
			break
		}
		if strings.Contains(m, "READY=1") {
			t.Fatalf("READY=1 again: %q", m)
		}
		if strings.Contains(m, "WATCHDOG=1") {
			pings++
		}
	}
	if pings < 3 {
		t.Fatalf("%d watchdog pings in 2s with WATCHDOG_USEC=400000", pings)
	}
	cancel()
	stopping := false
	for !stopping {
		m, ok := read(5 * time.Second)
		if !ok {
			break
		}
		stopping = strings.Contains(m, "STOPPING=1")
	}
	if !stopping {
		t.Error("no STOPPING=1 at shutdown")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "systemd notify: READY after the first loop pass") {
		t.Errorf("start log does not mention systemd notify:\n%s", logs.String())
	}
}
