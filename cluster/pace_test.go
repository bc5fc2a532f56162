package cluster

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// countingTransport counts the heartbeats (AppendEntries without entries
// and without a commit, sent outside the pipeline) a node sends.
type countingTransport struct {
	*raft.InmemTransport
	heartbeats atomic.Int64
}

func (t *countingTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if len(args.Entries) == 0 && args.LeaderCommitIndex == 0 && args.PrevLogEntry == 0 {
		t.heartbeats.Add(1)
	}
	return t.InmemTransport.AppendEntries(id, target, args, resp)
}

// The leader heartbeats at HeartbeatPace (every pace to 2·pace) while
// every other node keeps the configured HeartbeatTimeout, and a node that
// stops leading goes back to it at once.
func TestLeaderHeartbeatsAtItsPace(t *testing.T) {
	const ht, pace = 200 * time.Millisecond, 60 * time.Millisecond
	timing := Timing{HeartbeatTimeout: ht, ElectionTimeout: ht, LeaderLeaseTimeout: 150 * time.Millisecond,
		HeartbeatPace: pace, CommitTimeout: time.Hour}
	var trans []*countingTransport
	cs := inmemCluster(t, timing, func(int) raft.FSM { return &countFSM{} }, func(tr *raft.InmemTransport) raft.Transport {
		c := &countingTransport{InmemTransport: tr}
		trans = append(trans, c)
		return c
	}, false)
	check := func(leader *Cluster) {
		t.Helper()
		waitFor(t, "heartbeat timeouts did not settle: the leader's 10·pace, the others' as configured", func() bool {
			for _, c := range cs {
				want := ht
				if c == leader {
					want = 10 * pace
				}
				if c.raft.ReloadableConfig().HeartbeatTimeout != want {
					return false
				}
			}
			return true
		})
	}
	leader := nudgeLeader(t, cs)
	check(leader)

	// Over a window, the leader sends each follower at most one heartbeat
	// per pace (late timers only send fewer); raft's own spacing,
	// HT/10..HT/5 = 20–40 ms, would send at least one per 40 ms.
	var li int
	for i, c := range cs {
		if c == leader {
			li = i
		}
	}
	const window = 3 * time.Second
	before := trans[li].heartbeats.Load()
	time.Sleep(window)
	if !leader.IsLeader() {
		t.Fatal("leadership moved in an idle in-memory cluster")
	}
	sent := trans[li].heartbeats.Load() - before
	if most := 2 * int64(window/pace+1); sent > most {
		t.Fatalf("the leader sent %d heartbeats to 2 followers in %s; at pace %s it sends at most %d", sent, window, pace, most)
	}
	if sent == 0 {
		t.Fatal("the leader sent no heartbeats at all")
	}

	if err := leader.raft.LeadershipTransfer().Error(); err != nil {
		t.Fatal(err)
	}
	next := nudgeLeader(t, cs)
	for next == leader {
		time.Sleep(10 * time.Millisecond)
		next = nudgeLeader(t, cs)
	}
	check(next)
}
