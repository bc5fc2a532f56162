package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// requireLab skips unless the lab can run: root (namespaces) and
// RAFTVIP_BIN set, which `make test` does; plain `go test ./...` skips.
func requireLab(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the lab builds network namespaces and a bridge (run `make test` as root)")
	}
	bin := os.Getenv("RAFTVIP_BIN")
	if bin == "" {
		t.Skip("lab integration tests need RAFTVIP_BIN=/path/to/raftvip (make test sets it)")
	}
	if err := CheckPrerequisites(); err != nil {
		t.Fatal(err)
	}
	return bin
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var labSeq atomic.Int32

// newTestLab brings a lab up for t and tears it down at the end of t; when t
// failed, the lab's notes, VIP timeline and log tails are printed first.
func newTestLab(t *testing.T, opts Options) *Lab {
	t.Helper()
	opts.Prefix = fmt.Sprintf("rvt%dn%d", os.Getpid(), labSeq.Add(1))
	opts.Dir = t.TempDir()
	opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "lab", Level: hclog.Info, Output: testWriter{t}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := Up(ctx, opts)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(l.Report(80))
		}
		if err := l.Close(); err != nil {
			t.Errorf("lab close: %v", err)
		}
		for _, ns := range l.Namespaces() {
			if _, err := os.Stat("/run/netns/" + ns); err == nil {
				t.Errorf("namespace %s still exists after Close", ns)
			}
		}
	})
	return l
}

func within(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startAgentsWith starts the agents with configs (by host), waits for a
// stable holder and every node healthy, and returns the holder and the
// other DB host.
func startAgentsWith(ctx context.Context, t *testing.T, l *Lab, configs map[string]string) (holder, other string) {
	t.Helper()
	if err := l.StartRaftvipConfigs(ctx, configs); err != nil {
		t.Fatal(err)
	}
	holder, err := l.WaitStableHolder(within(t, 45*time.Second), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitAllHealthy(within(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	return holder, l.Other(holder)
}
