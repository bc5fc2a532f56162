package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/config"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// witnessConfig is a witness whose peers are not running: enough to start,
// serve status and shut down without root, MySQL or a network namespace.
func witnessConfig(t *testing.T, dir string) string {
	t.Helper()
	p := freePort(t)
	src := fmt.Sprintf(`node_id = "witness"
role = "witness"
insecure_plaintext = true
data_dir = %q
bind = "127.0.0.1:%d"
admin = %q
peer "hosta" {
  address = "127.0.0.1:1"
  role = "db"
}
peer "hostb" {
  address = "127.0.0.1:2"
  role = "db"
}
peer "witness" {
  address = "127.0.0.1:%d"
  role = "witness"
}
`, filepath.Join(dir, "data"), p, filepath.Join(dir, "admin.sock"), p)
	path := filepath.Join(dir, "witness.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAgentStartsServesAndStopsQuickly(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load(witnessConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveAgent(ctx, cfg, log, false) }()

	deadline := time.Now().Add(10 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		code, stdout, _ := runCLI("status", "-admin", cfg.Admin, "-json")
		if code == exitOK {
			out = stdout
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out, `"node": "witness"`) || !strings.Contains(out, `"raft_state": "unreachable"`) {
		t.Fatalf("status of a lone witness: %s", out)
	}
	if !strings.Contains(out, `witness: INSECURE: the cluster port 127.0.0.1:`) {
		t.Errorf("status of an insecure_plaintext node does not warn: %s", out)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("agent did not stop within 5s of SIGTERM")
	}
	t.Logf("stopped in %v", time.Since(start))
	if _, err := os.Stat(cfg.Admin); !os.IsNotExist(err) {
		t.Errorf("admin socket left behind: %v", err)
	}
	// Restart resumes from data_dir instead of bootstrapping again.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- serveAgent(ctx2, cfg, log, false) }()
	time.Sleep(500 * time.Millisecond)
	cancel2()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "resuming from existing raft state") {
		t.Fatalf("restart did not resume:\n%s", logs.String())
	}
}

func TestAgentBrokenDataDir(t *testing.T) {
	dir := t.TempDir()
	path := witnessConfig(t, dir)
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	garbage := bytes.Repeat([]byte("not a bolt file "), 512)
	db := filepath.Join(data, "raft.db")
	os.WriteFile(db, garbage, 0o600)

	code, _, stderr := runCLI("agent", "-config", path)
	if code != exitFailure {
		t.Fatalf("broken data dir: exit %d, want 1; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, db) {
		t.Fatalf("error does not name %s:\n%s", db, stderr)
	}
	after, _ := os.ReadFile(db)
	if !bytes.Equal(after, garbage) {
		t.Fatal("the broken raft.db was modified")
	}
}

func TestAgentBadConfigExits2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.hcl")
	os.WriteFile(path, []byte(`node_id = 1`), 0o600)
	if code, _, stderr := runCLI("agent", "-config", path); code != exitUsage || !strings.Contains(stderr, path+":1:") {
		t.Fatalf("bad config: exit %d stderr %q", code, stderr)
	}
}
