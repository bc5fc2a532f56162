package agent

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftvip/raftvip/vip/viptest"
)

// renewals counts node's renewals on the shared timeline.
func (tc *testCluster) renewals(node string) int {
	n := 0
	for _, e := range tc.tl.Events() {
		if e.Node == node && e.Op == viptest.OpRenew {
			n++
		}
	}
	return n
}

// A quiet node's loop runs at IdleTick, not at the busy Tick, and a quiet
// holder wakes for its renewals: it keeps renewing every lease/3 while its
// passes are a fraction of the busy pace. Before idle.go every node ran a
// pass every Tick (here 20 ms: 150 in the window).
func TestQuietNodesTickSlowly(t *testing.T) {
	passes := map[string]*atomic.Int64{"hosta": {}, "hostb": {}, "witness": {}}
	tc := newTestClusterWith(t, false, func(n *node, o *Options) {
		o.IdleTick = 500 * time.Millisecond
		count := passes[n.id]
		o.AfterPass = func(View) { count.Add(1) }
	})
	h := tc.waitHolder(10 * time.Second)
	// Let the start-up settle: reports committed, the leader's barrier,
	// the first renewals.
	time.Sleep(2 * time.Second)
	before := map[string]int64{}
	for id, c := range passes {
		before[id] = c.Load()
	}
	renewsBefore := tc.renewals(h)
	const window = 3 * time.Second
	time.Sleep(window)
	if tc.holder() != h {
		t.Fatalf("the VIP moved from %s during an idle window", h)
	}
	busy := int64(window / (20 * time.Millisecond))
	for id, c := range passes {
		n := c.Load() - before[id]
		// A holder wakes for each renewal (9 in the window) and the
		// events around it; the others twice a second (6).
		t.Logf("%s: %d passes in %s", id, n, window)
		if n > busy/5 {
			t.Errorf("%s ran %d passes in %s of idle (the busy pace would be %d); want at most %d", id, n, window, busy, busy/5)
		}
	}
	// lease/3 = 333 ms: 9 renewals in the window; late timers only make
	// fewer, and a holder that skipped its wake-ups would make none.
	if got := tc.renewals(h) - renewsBefore; got < 5 {
		t.Fatalf("the holder renewed %d times in %s of idle; want a renewal every lease/3", got, window)
	}
}

// A quiet holder times its renewals by its followers' contact: each proof
// follows a heartbeat a follower just accepted, so it needs no VerifyLeader
// round (cluster.Prove's short way). The renewals keep their pace (at least
// one per lease/3 + renewContactWait), and the VIP stays put.
func TestRenewalsFollowAContact(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	time.Sleep(2 * time.Second)
	cl := tc.nodes[h].cl
	renewsBefore, shortBefore := tc.renewals(h), cl.ShortProofs()
	const window = 3 * time.Second
	time.Sleep(window)
	if tc.holder() != h {
		t.Fatalf("the VIP moved from %s during an idle window", h)
	}
	renews := tc.renewals(h) - renewsBefore
	short := int(cl.ShortProofs() - shortBefore)
	t.Logf("%d renewals, %d short proofs in %s", renews, short, window)
	if slowest := int(window / (testLease/3 + renewContactWait(testLease))); renews < slowest {
		t.Errorf("the holder renewed %d times in %s; want at least %d (one per lease/3 + the contact wait)", renews, window, slowest)
	}
	if short < renews*3/4 {
		t.Errorf("%d of %d renewals took the short proof; want nearly all (a heartbeat every 30–60 ms, a wait of %s)", short, renews, renewContactWait(testLease))
	}
}
