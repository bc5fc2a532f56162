package cluster

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestQuietLoggerRateLimitsPeerErrors(t *testing.T) {
	var out bytes.Buffer
	base := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Debug})
	q := newQuietLogger(base).(*quietLogger)
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	q.lim.now = func() time.Time { return clock }
	// Raft derives loggers with With/Named; they share the limiter.
	raftLog := q.Named("raft").With("node", "hosta")
	dialErr := errors.New("dial tcp 10.99.0.12:7400: connect: connection refused")

	// A peer away for 3 s: heartbeats every 10-100 ms, plus appendEntries.
	for i := 0; i < 100; i++ {
		raftLog.Error("failed to heartbeat to", "peer", "10.99.0.12:7400", "backoff time", "10ms", "error", dialErr)
		raftLog.Error("failed to appendEntries to", "peer", "{Voter hostb 10.99.0.12:7400}", "error", dialErr)
		clock = clock.Add(30 * time.Millisecond)
	}
	// Another peer is its own line.
	raftLog.Error("failed to heartbeat to", "peer", "10.99.0.13:7400", "error", dialErr)
	// After the window, one more line with the count left out.
	clock = clock.Add(quietWindow)
	raftLog.Error("failed to heartbeat to", "peer", "10.99.0.12:7400", "error", dialErr)
	// A node's transport shutting down is no error.
	raftLog.Error("failed to decode incoming command", "error", errors.New("transport shutdown"))
	// Anything else keeps its level.
	raftLog.Error("failed to persist vote", "error", errors.New("disk full"))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"[WARN]  raft: failed to heartbeat to: node=hosta peer=10.99.0.12:7400",
		"[WARN]  raft: failed to appendEntries to: node=hosta",
		"[WARN]  raft: failed to heartbeat to: node=hosta peer=10.99.0.13:7400",
		"[WARN]  raft: failed to heartbeat to: node=hosta peer=10.99.0.12:7400 error=\"dial tcp 10.99.0.12:7400: connect: connection refused\" repeated=99",
		"[DEBUG] raft: failed to decode incoming command",
		"[ERROR] raft: failed to persist vote",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d: %s\nwant it to contain %s", i, lines[i], w)
		}
	}
}
