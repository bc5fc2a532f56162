package agent

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

// healthCommits counts the committed health reports of node in n's log.
func healthCommits(t *testing.T, n *node, node string) int {
	t.Helper()
	first, err := n.logs.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := n.logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for i := first; i <= last && i > 0; i++ {
		var l raft.Log
		if err := n.logs.GetLog(i, &l); err != nil || l.Type != raft.LogCommand {
			continue
		}
		c, err := fsm.Decode(l.Data)
		if err == nil && c.Type == fsm.CmdHealth && c.Health != nil && c.Health.Node == node {
			count++
		}
	}
	return count
}

// A node whose clock steps back one hour is believed at once (case 10):
// reports are ordered by boot id and counter, not by the reporter's wall
// clock, and a report is committed once, not re-sent in a loop.
func TestHealthBelievedAfterClockStepsBack(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	o := other(h)
	tc.eventually("both db nodes' health replicated", 5*time.Second, func() bool {
		st := tc.nodes["witness"].fsm.State()
		return st.Healthy("hosta") && st.Healthy("hostb")
	})
	leader := tc.leader()
	before := healthCommits(t, leader, o)

	fh := tc.nodes[o].health
	fh.mu.Lock()
	fh.skew = -time.Hour
	fh.mu.Unlock()
	fh.Set(false)
	tc.eventually(o+"'s failure believed by the leader", 2*time.Second, func() bool {
		return !leader.fsm.State().Healthy(o)
	})
	fh.Set(true)
	tc.eventually(o+"'s recovery believed by the leader", 2*time.Second, func() bool {
		return leader.fsm.State().Healthy(o)
	})
	// Give a resend loop time to show (old code: 4-5 commits a second).
	time.Sleep(time.Second)
	if got := healthCommits(t, leader, o) - before; got > 4 {
		t.Fatalf("%d health commits for %s for two changes: reports are re-sent in a loop", got, o)
	}
	// The stepped clock does not cost the VIP: the holder fails and the
	// VIP moves to the node whose clock is behind.
	tc.nodes[h].health.Set(false)
	tc.eventually("VIP moves to "+o, 10*time.Second, func() bool { return tc.holder() == o })
	tc.assertNeverTwo()
}
