package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/config"
)

func withMetricsAddr(t *testing.T, path, addr string) *config.Config {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, fmt.Sprintf("metrics_addr = %q\n", addr)...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func httpGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestAgentServesMetrics: the agent serves metrics_addr; a lone witness is
// alive but not ready (no leader), and says so.
func TestAgentServesMetrics(t *testing.T) {
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := withMetricsAddr(t, witnessConfig(t, dir), addr)
	var logs bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveAgent(ctx, cfg, log, false) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	var code int
	var body string
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if code, body, err = httpGet("http://" + addr + "/metrics"); err == nil {
			break
		}
	}
	if code != 200 || !strings.Contains(body, "raftvip_raft_term ") || !strings.Contains(body, "raftvip_epoch ") {
		t.Fatalf("/metrics: %d %v\n%s", code, err, body)
	}
	if code, body, _ := httpGet("http://" + addr + "/healthz"); code != 200 {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body, _ := httpGet("http://" + addr + "/readyz"); code != 503 || !strings.Contains(body, "no raft leader") {
		t.Errorf("/readyz of a lone witness: %d %q, want 503 naming the missing leader", code, body)
	}
	if code, body, _ := httpGet("http://" + addr + "/"); code != 200 || !strings.Contains(body, "witness") {
		t.Errorf("/: %d\n%s", code, body)
	}
}

// TestAgentMetricsAddrBusy: an address that cannot be bound fails the
// start, naming metrics_addr.
func TestAgentMetricsAddrBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := withMetricsAddr(t, witnessConfig(t, t.TempDir()), ln.Addr().String())
	log := hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = serveAgent(ctx, cfg, log, false)
	if err == nil || !strings.Contains(err.Error(), "metrics_addr") {
		t.Fatalf("serveAgent with a busy metrics_addr: %v, want an error naming metrics_addr", err)
	}
}
