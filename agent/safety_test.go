package agent

// Regression tests for the paths to two holders found by review (issue 8,
// "Safety: never two holders"). Each one made two nodes hold the VIP at the
// same instant, or recorded a release while the VIP was still up, on the
// code before the fix.

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/owner"
	"github.com/raftvip/raftvip/vip/viptest"
)

// holdFirst makes hosta the first holder: hostb is unhealthy until hosta
// holds, then healthy, so the failover that follows has a target.
func holdFirst(tc *testCluster) {
	tc.t.Helper()
	tc.nodes["hostb"].health.Set(false)
	tc.eventually("hosta holds the VIP", 10*time.Second, func() bool {
		return tc.holder() == "hosta" && tc.nodes["hosta"].fsm.State().Holder == "hosta"
	})
	tc.nodes["hostb"].health.Set(true)
	tc.eventually("hostb's health replicated", 5*time.Second, func() bool {
		return tc.nodes["hosta"].fsm.State().Healthy("hostb")
	})
}

// Case 1, a rolling lease change: the holder runs lease 3s, the others 1s.
// The fencer used to wait by its own lease, so hostb added the VIP while the
// frozen holder's 3 s kernel lifetime still ran.
func TestFenceWaitsForTheHoldersLease(t *testing.T) {
	tc := newTestClusterWith(t, false, func(n *node, o *Options) {
		if n.id == "hosta" {
			o.Lease = 3 * time.Second
		}
	})
	holdFirst(tc)
	tc.eventually("hosta's timings replicated", 5*time.Second, func() bool {
		return tc.nodes["hostb"].fsm.State().Timings["hosta"].Terms.Lease == 3*time.Second
	})
	time.Sleep(400 * time.Millisecond) // a renewal or two at 3 s
	tc.freeze(tc.nodes["hosta"])
	tc.eventually("hostb holds the VIP", 15*time.Second, func() bool {
		return tc.holder() == "hostb"
	})
	tc.assertNeverTwo()
	if w := tc.nodes["hostb"].fsm.State().History; len(w) == 0 {
		t.Fatal("no history")
	}
}

// Case 1, the README's common case: DB nodes run lease 2s, the witness has
// no vip block (1 s default), and the witness wins the election. It used to
// fence for its own 1 s lease.
func TestWitnessFencesWithTheHoldersLease(t *testing.T) {
	tc := newTestClusterWith(t, false, func(n *node, o *Options) {
		if n.role == fsm.RoleDB {
			o.Lease = 2 * time.Second
		}
	})
	holdFirst(tc)
	tc.eventually("every node's timings replicated", 5*time.Second, func() bool {
		return len(tc.nodes["hosta"].fsm.State().Timings) == 3
	})
	// Make the witness's log longer than hostb's, so that the witness wins
	// the election after the holder freezes (hostb must vote for it, it
	// cannot win itself): cut hosta–hostb and commit one more entry.
	a, b := tc.nodes["hosta"], tc.nodes["hostb"]
	a.trans.Disconnect(b.addr)
	b.trans.Disconnect(a.addr)
	noop, _ := fsm.Encode(fsm.Command{Type: fsm.CmdMembers, Members: &fsm.MembersCmd{}})
	if _, err := a.cl.Apply(noop, time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	tc.freeze(a)
	tc.eventually("hostb holds the VIP", 15*time.Second, func() bool {
		return tc.holder() == "hostb"
	})
	tc.assertNeverTwo()
	st := tc.nodes["hostb"].fsm.State()
	var fencedBy string
	for _, e := range st.History {
		if e.Op == fsm.OpFence {
			fencedBy = e.By
		}
	}
	if fencedBy != "witness" {
		t.Fatalf("the fence was committed by %q, not the witness: the scenario did not arise", fencedBy)
	}
}

// Case 2: a holder that lost leadership without a committed release, could
// not remove the VIP, was fenced, and got leadership back used to renew
// through the fence; the fence's old deadline then let the next leader add
// the VIP at once, beside the renewed one.
func TestNoRenewThroughAFenceOnOwnEpoch(t *testing.T) {
	tc := newTestCluster(t, false)
	holdFirst(tc)
	a := tc.nodes["hosta"]
	tc.tl.Addresser("hosta").FailRelease(errors.New("RTNETLINK answers: Operation not permitted"))
	tc.partition(a, true)
	var fencer *node
	tc.eventually("hosta's epoch fenced", 10*time.Second, func() bool {
		for _, n := range []*node{tc.nodes["hostb"], tc.nodes["witness"]} {
			if f := n.fsm.State().Fence; f != nil && f.Holder == "hosta" && n.cl.IsLeader() {
				fencer = n
				return true
			}
		}
		return false
	})
	// Heal at once and hand leadership straight back to hosta while its
	// lease is still fresh and the fence pending.
	tc.partition(a, false)
	tc.eventually("leadership back on hosta", 5*time.Second, func() bool {
		if a.cl.IsLeader() {
			return true
		}
		if l := tc.leader(); l != nil && l != a {
			_ = l.cl.TransferTo("hosta")
		}
		return false
	})
	fencedAt := time.Now()
	time.Sleep(500 * time.Millisecond) // the old code renewed here
	// Now lose hosta again: the next leader must not add the VIP while any
	// lifetime hosta set is alive.
	tc.partition(a, true)
	tc.eventually("hostb holds the VIP", 15*time.Second, func() bool { return tc.holder() == "hostb" })
	tc.assertNeverTwo()
	for _, e := range tc.tl.Events() {
		if e.Node == "hosta" && e.Op == viptest.OpRenew && e.Time.After(fencedAt) {
			t.Fatalf("hosta renewed at %s through the fence %s committed on its epoch", e.Time.Format("15:04:05.000"), fencer.id)
		}
	}
}

// Case 3: the freshness check used to come only before the netlink call;
// a call the kernel processed late (CPU or RTNL contention) set a lifetime
// starting after the proof's slack, and the VIP stayed.
func TestLateRenewalDropsTheVIP(t *testing.T) {
	tc := newTestCluster(t, false)
	holdFirst(tc)
	fa := tc.tl.Addresser("hosta")
	fa.Delay(250 * time.Millisecond) // > RenewSlack (100 ms)
	since := time.Now()
	tc.eventually("hosta's late renewal taken off again", 5*time.Second, func() bool {
		var renewed bool
		for _, e := range tc.tl.Events() {
			if e.Node != "hosta" || e.Time.Before(since) {
				continue
			}
			switch e.Op {
			case viptest.OpRenew, viptest.OpAcquire:
				renewed = true
			case viptest.OpRelease:
				if renewed {
					return true
				}
			}
		}
		return false
	})
	// A late lifetime never stays: every renewal after the delay began is
	// followed by a removal before the next renewal.
	fa.Delay(0)
	evs := tc.tl.Events()
	open := false
	for _, e := range evs {
		if e.Node != "hosta" || e.Time.Before(since) {
			continue
		}
		switch e.Op {
		case viptest.OpRenew, viptest.OpAcquire:
			if open {
				t.Fatalf("hosta renewed at %s on top of a late lifetime it never removed", e.Time.Format("15:04:05.000"))
			}
			open = true
		case viptest.OpRelease, viptest.OpExpire:
			open = false
		}
		if e.Time.After(since.Add(2 * time.Second)) {
			break
		}
	}
	tc.assertNeverTwo()
}

// freezingTransport delivers one AppendEntries to peer, then holds its
// answer back for hold and fails every later call to peer: the follower's
// last contact is at the delivery, but the answer reaches the leader later.
type freezingTransport struct {
	raft.Transport
	peer     raft.ServerAddress
	hold     time.Duration
	armed    atomic.Bool
	frozen   atomic.Bool
	delivery chan time.Time
}

func (f *freezingTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if target == f.peer && f.frozen.Load() {
		return errors.New("frozen link")
	}
	if target == f.peer && f.armed.CompareAndSwap(true, false) {
		err := f.Transport.AppendEntries(id, target, args, resp)
		f.frozen.Store(true)
		f.delivery <- time.Now()
		time.Sleep(f.hold)
		return err
	}
	return f.Transport.AppendEntries(id, target, args, resp)
}

// AppendEntriesPipeline is refused so that every AppendEntries, heartbeat
// or not, goes through AppendEntries above.
func (f *freezingTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// Case 4: raft.VerifyLeader counts answers that were in flight when it was
// called, so a proof "from t0" could rest on an answer the follower gave
// before t0. The proof's instant must never be later than the contact the
// quorum's voter really had.
func TestProofInstantIsNotAfterTheVotersContact(t *testing.T) {
	var ft *freezingTransport
	tc := newTestClusterPrep(t, false, func(n *node) {
		if n.id == "hosta" {
			n.wrapTrans = func(tr raft.Transport) raft.Transport {
				ft = &freezingTransport{Transport: tr, peer: "hostb", hold: 60 * time.Millisecond, delivery: make(chan time.Time, 1)}
				return ft
			}
		}
	}, nil)
	holdFirst(tc)
	a := tc.nodes["hosta"]
	// Only hostb can make hosta's quorum now.
	a.trans.Disconnect("witness")
	tc.nodes["witness"].trans.Disconnect("hosta")
	tc.rpc.Isolate("witness", true)
	time.Sleep(100 * time.Millisecond)
	ft.armed.Store(true)
	var delivered time.Time
	select {
	case delivered = <-ft.delivery:
	case <-time.After(5 * time.Second):
		t.Fatal("no AppendEntries to hostb")
	}
	time.Sleep(10 * time.Millisecond) // the proof begins after hostb answered
	p, err := a.cl.Prove(time.Second)
	if err != nil {
		t.Fatalf("proof refused although hostb answers: %v", err)
	}
	contact := tc.nodes["hostb"].cl.LastContact()
	t.Logf("proof instant %s, hostb's last contact %s, delivered %s", p.Format("15:04:05.000000"), contact.Format("15:04:05.000000"), delivered.Format("15:04:05.000000"))
	if p.After(contact) {
		t.Fatalf("proof instant %s is after hostb's last contact %s (delivered %s): hostb may vote %s early",
			p.Format("15:04:05.000"), contact.Format("15:04:05.000"), delivered.Format("15:04:05.000"), p.Sub(contact))
	}
}

// Case 5: an add that failed part-way (one of several addresses up) used
// to be recorded as released while that address was still configured.
func TestPartialAddIsRemovedBeforeTheRelease(t *testing.T) {
	tc := newTestCluster(t, false)
	tc.nodes["hostb"].health.Set(false)
	tc.tl.Addresser("hosta").PartialNext(errors.New("RTNETLINK answers: File exists"))
	tc.eventually("hosta holds the VIP", 15*time.Second, func() bool {
		return tc.holder() == "hosta" && tc.nodes["hosta"].fsm.State().Holder == "hosta"
	})
	st := tc.nodes["hosta"].fsm.State()
	var checked int
	for _, e := range st.History {
		if e.Op != fsm.OpRelease || e.Node != "hosta" {
			continue
		}
		checked++
		for _, h := range tc.tl.Holders(e.Time) {
			if h == "hosta" {
				t.Fatalf("release of epoch %d recorded at %s while hosta's address was up", e.Epoch, e.Time.Format("15:04:05.000"))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no release of hosta recorded: the partial add did not happen")
	}
	tc.assertNeverTwo()
}

// slowLogs makes every log write take d, like a slow or contended disk.
type slowLogs struct {
	raft.LogStore
	d time.Duration
}

func (s slowLogs) StoreLog(l *raft.Log) error {
	time.Sleep(s.d)
	return s.LogStore.StoreLog(l)
}

func (s slowLogs) StoreLogs(ls []*raft.Log) error {
	time.Sleep(s.d)
	return s.LogStore.StoreLogs(ls)
}

// Case 8: an acquire whose commit took longer than the renew slack was
// thrown away and retried at once, so with 60 ms per log write nobody ever
// held the VIP and epochs churned.
func TestSlowDiskStillHoldsTheVIP(t *testing.T) {
	for _, d := range []time.Duration{60 * time.Millisecond, 200 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			// Production's timings: the in-memory transport has no
			// heartbeat fast path, so the test's 200 ms heartbeat timeout
			// would not survive 200 ms log writes on its own.
			timing := cluster.DefaultTiming
			timing.LeaderLeaseTimeout = timing.HeartbeatTimeout
			tc := newTestClusterPrep(t, false, func(n *node) {
				n.timing = &timing
				n.wrapLogs = func(l raft.LogStore) raft.LogStore { return slowLogs{l, d} }
			}, nil)
			h := tc.waitHolder(20 * time.Second)
			st := tc.nodes[h].fsm.State()
			if st.Epoch > 3 {
				t.Fatalf("epoch %d before anyone held the VIP: acquires churn", st.Epoch)
			}
			tc.assertNeverTwo()
		})
	}
}

// Case 24: the start-up log showed the fence wait before New filled in the
// defaults (500 ms logged, 900 ms used).
func TestFenceWaitWithDefaults(t *testing.T) {
	opt := Options{NodeID: "hosta", Role: fsm.RoleDB, Lease: time.Second, HeartbeatTimeout: 500 * time.Millisecond}
	if got := opt.WithDefaults().FenceWait(); got != 900*time.Millisecond {
		t.Fatalf("fence wait with defaults = %s, want 900ms (1s lease − 500ms HT + 100ms slack + 300ms margin)", got)
	}
	a := New(opt, nil, fsm.New(), nil, nil, nil, nil)
	if got, want := a.opt.FenceWait(), opt.WithDefaults().FenceWait(); got != want {
		t.Fatalf("agent runs with fence wait %s, the log shows %s", got, want)
	}
}

// Issue 11, a pulled cable: the fence counts from the voters' last vouch
// for the holder, not from the election. The holder's agent stops renewing
// (its Raft still heartbeats, so the voters' contact stays fresh and the
// election rule gains nothing), then it is cut off. The election rule
// waited Exposure − HT from the election; the voters know the holder's last
// proof is over half a second older than that, and the fence is shorter by
// as much, while the VIP is never on two nodes.
func TestFenceWaitCountsFromTheLastVouch(t *testing.T) {
	tc := newTestCluster(t, false)
	holdFirst(tc)
	// Older than the voter set's start bound (owner.VouchFenceWait): a
	// node that just started cannot know what was removed before.
	time.Sleep(testLease)
	a := tc.nodes["hosta"]
	a.cancel()
	<-a.done
	const quiet = 600 * time.Millisecond
	time.Sleep(quiet)
	tc.partition(a, true)
	tc.eventually("hostb holds the VIP", 15*time.Second, func() bool {
		return tc.holder() == "hostb"
	})
	tc.assertNeverTwo()
	st := tc.nodes["hostb"].fsm.State()
	var fence *fsm.Event
	for i, e := range st.History {
		if e.Op == fsm.OpFence && e.Node == "hosta" {
			fence = &st.History[i]
		}
	}
	if fence == nil {
		t.Fatal("no fence recorded for hosta")
	}
	election := owner.FenceWait(st.HolderTerms, st.HolderTerms, testTiming.HeartbeatTimeout)
	if fence.Wait > election-quiet+100*time.Millisecond {
		t.Fatalf("fence wait %v: want at most the election rule's %v less the %v without a proof (+100ms)", fence.Wait, election, quiet)
	}
	t.Logf("fence wait %v (election rule %v)", fence.Wait, election)
}

// LastVouch is a leader's question, and every voter but the one asked
// about must answer it: any of them may have answered that node's last
// proof. Without one, the fence falls back to the election rule.
func TestLastVouchNeedsEveryOtherVoter(t *testing.T) {
	tc := newTestCluster(t, false)
	holdFirst(tc)
	a, b, w := tc.nodes["hosta"], tc.nodes["hostb"], tc.nodes["witness"]
	if _, err := b.cl.LastVouch("hosta", time.Second); err == nil {
		t.Fatal("LastVouch on a follower: want an error")
	}
	// The followers vouch for the leader as they answer its proofs.
	if r := b.cl.AnswerVouch("hosta"); r.Vouch == nil || r.Vouch.Age > testLease {
		t.Fatalf("hostb's vouch for hosta: %+v, want one younger than a lease", r.Vouch)
	}
	// About a node it never vouched for: counted from its own start, a
	// bound that holds across a restart, not "never".
	if r := b.cl.AnswerVouch("nobody"); r.Vouch == nil || r.Vouch.Age <= 0 {
		t.Fatalf("vouch for a node never followed: %+v", r.Vouch)
	}
	before := time.Now()
	v, err := a.cl.LastVouch("hostb", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody followed hostb: the bound is the voters' start, before now.
	if !v.At.Before(before) {
		t.Fatalf("vouch for hostb at %v, want before %v", v.At, before)
	}
	tc.rpc.Isolate(string(w.addr), true)
	if _, err := a.cl.LastVouch("hostb", 200*time.Millisecond); err == nil {
		t.Fatal("LastVouch with the witness silent: want an error")
	}
}
