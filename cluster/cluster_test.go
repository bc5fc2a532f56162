package cluster

import (
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) interface{}         { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, nil }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

// A restarted voter knows no leader, so Raft grants the first vote request
// it sees. With a StartDelay it must grant none before the delay has passed
// since it was started: the fence wait counts on every voter of a new
// quorum having heard nothing from the old leader for a heartbeat timeout.
func TestRestartedVoterGrantsNoVoteWithinStartDelay(t *testing.T) {
	const delay = 800 * time.Millisecond
	store := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	peers := []Peer{{"n1", "n1"}, {"n2", "n2"}, {"n3", "n3"}}
	timing := Timing{HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond, CommitTimeout: 10 * time.Millisecond}

	// First run: the node gets state (it was a voter before the "crash").
	_, t0 := raft.NewInmemTransport("n1")
	c, err := OpenWith(Config{NodeID: "n1", Peers: peers, Timing: timing, Logger: hclog.NewNullLogger()},
		nopFSM{}, t0, store, store, snaps, NewInmemRPC().From("n1"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Restart, asking for votes as n2 (a higher term, a longer log) from
	// the first instant on.
	start := time.Now()
	_, t1 := raft.NewInmemTransportWithTimeout("n1", 100*time.Millisecond)
	_, t2 := raft.NewInmemTransportWithTimeout("n2", 100*time.Millisecond)
	t1.Connect("n2", t2)
	t2.Connect("n1", t1)
	var cl atomic.Pointer[Cluster]
	go func() {
		c, err := OpenWith(Config{NodeID: "n1", Peers: peers, Timing: timing, Logger: hclog.NewNullLogger(), StartDelay: delay},
			nopFSM{}, t1, store, store, snaps, NewInmemRPC().From("n1"))
		if err != nil {
			t.Error(err)
			return
		}
		cl.Store(c)
	}()
	defer func() {
		if c := cl.Load(); c != nil {
			c.Close()
		}
	}()
	var granted time.Time
	for term := uint64(100); time.Since(start) < 5*time.Second; term++ {
		req := &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("n2"), Addr: t2.EncodePeer("n2", "n2")},
			Term: term, LastLogIndex: 1 << 20, LastLogTerm: 1 << 20}
		var resp raft.RequestVoteResponse
		if err := t2.RequestVote("n1", "n1", req, &resp); err == nil && resp.Granted {
			granted = time.Now()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if granted.IsZero() {
		t.Fatal("the restarted node granted no vote at all (the test cannot tell a delay from a dead node)")
	}
	if got := granted.Sub(start); got < delay {
		t.Fatalf("restarted voter granted a vote %v after its start, within its start delay %v", got, delay)
	}
	t.Logf("first vote granted %v after the restart (delay %v)", granted.Sub(start).Round(time.Millisecond), delay)
}

func TestStartDelayRemembersTheLargestHeartbeatTimeout(t *testing.T) {
	dir := t.TempDir()
	d, err := StartDelay(dir, 500*time.Millisecond)
	if err != nil || d != 500*time.Millisecond {
		t.Fatalf("first start: %v %v, want 500ms", d, err)
	}
	// A peer with a longer timeout becomes known: remembered.
	if d, err := RememberHeartbeatTimeout(dir, 2*time.Second); err != nil || d != 2*time.Second {
		t.Fatalf("remember 2s: %v %v", d, err)
	}
	// The next start with a lowered own timeout still waits the largest.
	if d, err := StartDelay(dir, 200*time.Millisecond); err != nil || d != 2*time.Second {
		t.Fatalf("restart with 200ms: %v %v, want 2s", d, err)
	}
	if err := os.WriteFile(filepath.Join(dir, heartbeatFile), []byte("soon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := StartDelay(dir, time.Second); err == nil {
		t.Fatal("a corrupt record is accepted silently")
	}
}
