package cluster

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// inmemCluster starts three in-memory nodes, n1..n3, with timing, the FSM
// fsm(i) makes for node i and the transport wrap makes of its in-memory
// one (nil: as is). Each is closed at the test's end, unless keepOpen:
// then the caller closes them (a test whose FSMs may block does so after
// unblocking them).
func inmemCluster(t *testing.T, timing Timing, fsm func(i int) raft.FSM, wrap func(*raft.InmemTransport) raft.Transport, keepOpen bool) []*Cluster {
	t.Helper()
	ids := []string{"n1", "n2", "n3"}
	peers := make([]Peer, len(ids))
	trans := make([]*raft.InmemTransport, len(ids))
	for i, id := range ids {
		peers[i] = Peer{ID: id, Address: id}
		_, trans[i] = raft.NewInmemTransport(raft.ServerAddress(id))
	}
	for i := range trans {
		for j := range trans {
			if i != j {
				trans[i].Connect(raft.ServerAddress(ids[j]), trans[j])
			}
		}
	}
	rpc := NewInmemRPC()
	var cs []*Cluster
	for i, id := range ids {
		store := raft.NewInmemStore()
		var tr raft.Transport = trans[i]
		if wrap != nil {
			tr = wrap(trans[i])
		}
		c, err := OpenWith(Config{NodeID: id, Peers: peers, Timing: timing, Logger: hclog.NewNullLogger()},
			fsm(i), tr, store, store, raft.NewInmemSnapshotStore(), rpc.From(id))
		if err != nil {
			t.Fatal(err)
		}
		if !keepOpen {
			t.Cleanup(func() { c.Close() })
		}
		cs = append(cs, c)
	}
	return cs
}

// nudgeCluster starts three in-memory nodes whose commit timeout is an
// hour: followers can learn of a commit only from a later entry.
func nudgeCluster(t *testing.T) ([]*Cluster, []*countFSM) {
	t.Helper()
	timing := Timing{HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond, CommitTimeout: time.Hour}
	fsms := []*countFSM{{}, {}, {}}
	cs := inmemCluster(t, timing, func(i int) raft.FSM { return fsms[i] }, nil, false)
	return cs, fsms
}

func nudgeLeader(t *testing.T, cs []*Cluster) *Cluster {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, c := range cs {
			if c.IsLeader() {
				return c
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader elected")
	return nil
}

// waitFor polls cond for a generous while; it asserts an outcome, not a
// speed (with an hour's commit timeout, without the nudge it never comes).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Followers apply a committed command without waiting for the commit
// timeout, and once they have, their applied index is the leader's: the
// agent compares the two (switchover's catch-up, status after a restart).
func TestFollowersApplyCommitsWithoutCommitTimeout(t *testing.T) {
	cs, fsms := nudgeCluster(t)
	leader := nudgeLeader(t, cs)
	for round := int64(1); round <= 3; round++ {
		var err error
		waitFor(t, "the leader did not apply the command", func() bool {
			if !leader.IsLeader() {
				leader = nudgeLeader(t, cs)
			}
			_, err = leader.Apply([]byte("cmd"), time.Second)
			return err == nil
		})
		want := leader.AppliedIndex()
		for i, c := range cs {
			if c == leader {
				continue
			}
			waitFor(t, "a follower did not apply the committed command", func() bool { return fsms[i].n.Load() >= round })
			waitFor(t, "a follower's applied index stayed below the leader's", func() bool { return c.AppliedIndex() >= want })
		}
		if got := leader.AppliedIndex(); got != want {
			// Only a nudge may follow the command, and it is not counted.
			t.Fatalf("the leader's applied index moved from %d to %d with no new command", want, got)
		}
	}
}

// A new leader's no-op entry and a barrier are made known to the
// followers too.
func TestFollowersCatchUpWithBarrier(t *testing.T) {
	cs, _ := nudgeCluster(t)
	leader := nudgeLeader(t, cs)
	if err := leader.Barrier(time.Second); err != nil {
		t.Fatal(err)
	}
	want := leader.AppliedIndex()
	if want == 0 {
		t.Fatal("the leader applied nothing after a barrier")
	}
	for _, c := range cs {
		waitFor(t, "a follower's applied index stayed below the leader's after a barrier", func() bool { return c.AppliedIndex() >= want })
	}
}
