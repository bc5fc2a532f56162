package agent

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/vip/viptest"
)

func other(id string) string {
	if id == "hosta" {
		return "hostb"
	}
	return "hosta"
}

func (tc *testCluster) waitAllHealthy(on string) {
	tc.t.Helper()
	tc.eventually("health of both db nodes replicated to "+on, 5*time.Second, func() bool {
		st := tc.nodes[on].fsm.State()
		return st.Healthy("hosta") && st.Healthy("hostb")
	})
}

func TestSwitchoverFromAnyNode(t *testing.T) {
	tc := newTestCluster(t, false)
	from := tc.waitHolder(10 * time.Second)
	to := other(from)
	tc.waitAllHealthy(from)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	// Asked on the witness (a follower): forwarded to the leader.
	res, err := tc.nodes["witness"].agent.Switchover(ctx, SwitchoverRequest{To: to, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.From != from || res.To != to || tc.holder() != to {
		t.Fatalf("result %+v, holder now %q", res, tc.holder())
	}
	// The asking follower already shows the move (it caught up before
	// answering), so the operator's next status there is not stale.
	if h := tc.nodes["witness"].fsm.State().Holder; h != to {
		t.Fatalf("witness FSM right after the switchover says holder %q, want %s", h, to)
	}
	if res.Handover <= 0 || res.Handover > 5*time.Second {
		t.Fatalf("handover %v not recorded", res.Handover)
	}
	t.Logf("switchover %s→%s: VIP free %v, command %v", from, to, res.Handover, res.Took)
	tc.assertNeverTwo()
	// No fence: a planned move is a clean handover.
	for _, e := range tc.nodes[to].fsm.State().History {
		if e.Op == fsm.OpFence {
			t.Fatalf("switchover used a fence: %+v", e)
		}
	}
	// Again to the same target: nothing to do.
	res, err = tc.nodes[from].agent.Switchover(ctx, SwitchoverRequest{To: to, Timeout: time.Second})
	if err != nil || !strings.Contains(res.Note, "already holds") {
		t.Fatalf("switchover to the holder: %+v %v", res, err)
	}
	// Refusals: the witness, an unknown node, an unhealthy node.
	for target, why := range map[string]string{"witness": "only db nodes", "nosuch": "not a member"} {
		_, err := tc.nodes[from].agent.Switchover(ctx, SwitchoverRequest{To: target, Timeout: time.Second})
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), why) {
			t.Errorf("switchover to %s: %v, want refusal containing %q", target, err, why)
		}
	}
	tc.nodes[from].health.Set(false)
	tc.eventually("unhealthy replicated", 5*time.Second, func() bool { return !tc.nodes[to].fsm.State().Healthy(from) })
	_, err = tc.nodes["witness"].agent.Switchover(ctx, SwitchoverRequest{To: from, Timeout: time.Second})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "not healthy") {
		t.Fatalf("switchover to unhealthy node: %v", err)
	}
	if tc.holder() != to {
		t.Fatalf("refused switchover moved the VIP to %q", tc.holder())
	}
}

func TestMaintenanceSurvivesLeaderChange(t *testing.T) {
	tc := newTestCluster(t, false)
	first := tc.waitHolder(10 * time.Second)
	tc.waitAllHealthy(first)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := tc.nodes["witness"].agent.SetMaintenance(ctx, MaintenanceRequest{On: true, Reason: "patching"}); err != nil {
		t.Fatal(err)
	}
	if !tc.nodes["witness"].fsm.State().Maintenance.On {
		t.Fatal("the asking node does not show maintenance right after setting it")
	}
	// The holder loses MySQL: in maintenance the VIP stays.
	tc.nodes[first].health.Set(false)
	time.Sleep(3 * testLease)
	if h := tc.holder(); h != first {
		t.Fatalf("maintenance on, unhealthy holder: VIP on %q, want it to stay on %s", h, first)
	}
	st := tc.nodes[first].agent.ClusterStatus(ctx, 5)
	if !st.Maintenance.On || !strings.Contains(strings.Join(st.Warnings, ";"), "MAINTENANCE") {
		t.Fatalf("status does not say maintenance loudly: %+v %v", st.Maintenance, st.Warnings)
	}
	tc.nodes[first].health.Set(true)

	// A leader change (the holder is cut off): safety still moves the VIP,
	// and maintenance is still on for the new leader.
	tc.partition(tc.nodes[first], true)
	second := other(first)
	tc.eventually("VIP on "+second, 15*time.Second, func() bool { return tc.holder() == second })
	tc.partition(tc.nodes[first], false)
	if !tc.nodes[second].fsm.State().Maintenance.On {
		t.Fatal("maintenance lost across the leader change")
	}
	tc.waitAllHealthy(second)
	tc.nodes[second].health.Set(false)
	time.Sleep(3 * testLease)
	if h := tc.holder(); h != second {
		t.Fatalf("maintenance after leader change: VIP on %q, want it to stay on %s", h, second)
	}
	// Off: the unhealthy holder hands over at once.
	if _, err := tc.nodes[first].agent.SetMaintenance(ctx, MaintenanceRequest{On: false}); err != nil {
		t.Fatal(err)
	}
	tc.eventually("VIP moves back to "+first+" after maintenance off", 10*time.Second, func() bool { return tc.holder() == first })
	tc.assertNeverTwo()
}

func TestPeerRemoveRefusesLosingQuorum(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	o := other(h)
	tc.waitAllHealthy(h)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := tc.nodes["witness"].agent

	if _, err := a.RemovePeer(ctx, PeerRequest{ID: h}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "holds the VIP") {
		t.Fatalf("removing the holder: %v", err)
	}
	// Cut o off: removing the witness would leave {h, o} with only h up.
	tc.partition(tc.nodes[o], true)
	tc.eventually("leader notices "+o+" is gone", 5*time.Second, func() bool { return tc.nodes[h].cl.Unreachable()[o] })
	if _, err := a.RemovePeer(ctx, PeerRequest{ID: "witness"}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "no quorum") {
		t.Fatalf("removing the witness while %s is down: %v", o, err)
	}
	// Removing the dead node keeps {h, witness}, both up, but two voters
	// need each other: one more failure would stop the cluster. Refused
	// without -force, and nothing changes.
	if _, err := a.RemovePeer(ctx, PeerRequest{ID: o}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "leaves 2 voters: one more failure stops the cluster") {
		t.Fatalf("removing %s down to two voters without -force: %v", o, err)
	}
	if _, ok := tc.nodes[h].fsm.State().Members[o]; !ok {
		t.Fatalf("a refused remove dropped %s from the member list", o)
	}
	// With -force it goes, and the answer says what was done and how to
	// undo it.
	res, err := a.RemovePeer(ctx, PeerRequest{ID: o, Force: true})
	if err != nil || !res.Changed {
		t.Fatalf("remove %s -force: %+v %v", o, res, err)
	}
	if want := "raftvip peers add " + o + " " + o + " -role db"; res.Undo != want {
		t.Fatalf("undo %q, want %q", res.Undo, want)
	}
	if !strings.Contains(res.Note, "removed "+o) || !strings.Contains(res.Note, "2 voters remain: one more failure stops the cluster") || !strings.Contains(res.Note, "forced past") {
		t.Fatalf("forced remove note does not say what it did: %q", res.Note)
	}
	if res, err := a.RemovePeer(ctx, PeerRequest{ID: o}); err != nil || res.Changed {
		t.Fatalf("second remove is not a no-op: %+v %v", res, err)
	}
	if _, ok := tc.nodes[h].fsm.State().Members[o]; ok {
		t.Fatalf("%s still in the FSM member list", o)
	}
	// Bring it back as a voter: idempotent too.
	tc.partition(tc.nodes[o], false)
	res, err = a.AddPeer(ctx, PeerRequest{ID: o, Address: o, Role: fsm.RoleDB})
	if err != nil || !res.Changed {
		t.Fatalf("re-add %s: %+v %v", o, res, err)
	}
	if res, err := a.AddPeer(ctx, PeerRequest{ID: o, Address: o, Role: fsm.RoleDB}); err != nil || res.Changed {
		t.Fatalf("second add is not a no-op: %+v %v", res, err)
	}
	if _, err := a.AddPeer(ctx, PeerRequest{ID: "x", Address: o, Role: fsm.RoleDB}); !errors.Is(err, ErrRefused) {
		t.Fatalf("adding a second id on %s's address: %v", o, err)
	}
	// The re-added node can take the VIP again.
	tc.waitAllHealthy(h)
	if _, err := a.Switchover(ctx, SwitchoverRequest{To: o, Timeout: 10 * time.Second}); err != nil {
		t.Fatalf("switchover to re-added %s: %v", o, err)
	}
	tc.assertNeverTwo()
	_ = viptest.OpAcquire
}

func TestJoinNewNode(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	tc.waitAllHealthy(h)
	// A fourth node started with -join: no bootstrap, it waits to be added.
	n := &node{id: "witness2", role: fsm.RoleWitness, addr: "witness2", join: true}
	tc.nodes[n.id] = n
	tc.start(n)
	time.Sleep(500 * time.Millisecond)
	if got := n.fsm.State().Epoch; got != 0 {
		t.Fatalf("a joining node has state (epoch %d) before being added", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := tc.nodes["witness"].agent.AddPeer(ctx, PeerRequest{ID: n.id, Address: string(n.addr), Role: fsm.RoleWitness, NonVoter: true})
	if err != nil || !res.Changed {
		t.Fatalf("add: %+v %v", res, err)
	}
	tc.eventually("the new node receives the replicated state", 10*time.Second, func() bool {
		st := n.fsm.State()
		return st.Holder == h && len(st.History) > 0 && st.Members[n.id].Role == fsm.RoleWitness
	})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	var found bool
	for _, v := range tc.leader().agent.ClusterStatus(ctx2, 0).Nodes {
		if v.ID == n.id {
			found = v.Suffrage == "nonvoter" && v.Reachable
		}
	}
	if !found {
		t.Fatal("status does not list the new node as a reachable non-voter")
	}
	tc.assertNeverTwo()
}

// gone asserts that id has vanished from what node on knows: the Raft
// configuration, the replicated members and health, and status (which is
// also what `peers` lists).
func (tc *testCluster) gone(on, id string) {
	tc.t.Helper()
	n := tc.nodes[on]
	st := n.fsm.State()
	if _, ok := st.Members[id]; ok {
		tc.t.Errorf("%s: removed %s is still a replicated member", on, id)
	}
	if _, ok := st.Health[id]; ok {
		tc.t.Errorf("%s: removed %s still has a replicated health report", on, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, v := range n.agent.ClusterStatus(ctx, 0).Nodes {
		if v.ID == id {
			tc.t.Errorf("%s: status/peers still list removed %s: %+v", on, id, v)
		}
	}
}

func TestRemovedPeerVanishesAndStaysRemoved(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	o := other(h)
	tc.waitAllHealthy(h)
	// o is decommissioned: stopped, then removed (two voters are left, so
	// it takes -force).
	tc.stop(tc.nodes[o])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := tc.nodes["witness"].agent.RemovePeer(ctx, PeerRequest{ID: o, Force: true}); err != nil {
		t.Fatal(err)
	}
	tc.eventually("witness applied the removal", 5*time.Second, func() bool {
		_, ok := tc.nodes["witness"].fsm.State().Members[o]
		return !ok
	})
	tc.gone(h, o)
	tc.gone("witness", o)

	// A new leader (the witness, which has o in its static config) does
	// not add it back.
	term := tc.nodes[h].cl.Term()
	if err := tc.nodes[h].cl.TransferTo("witness"); err != nil {
		t.Fatal(err)
	}
	tc.eventually("the VIP is back on "+h+" after the witness led", 15*time.Second, func() bool {
		l := tc.leader()
		return l != nil && l.id == h && l.cl.Term() > term && tc.holder() == h && l.fsm.State().Holder == h
	})
	tc.eventually("witness caught up", 5*time.Second, func() bool {
		return tc.nodes["witness"].cl.AppliedIndex() >= tc.nodes[h].cl.AppliedIndex()
	})
	tc.gone(h, o)
	tc.gone("witness", o)
	tc.assertNeverTwo()
}

// The leader removing itself with -force steps down before it can forget
// itself in the member list; the next leader must do it, and must not try
// to hand leadership to the removed node in a loop.
func TestForcedRemoveOfLeaderForgetsIt(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	o := other(h)
	tc.waitAllHealthy(h)
	tc.waitAllHealthy("witness")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := tc.nodes[h].agent.RemovePeer(ctx, PeerRequest{ID: h, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Undo == "" || !strings.Contains(res.Note, "forced past") {
		t.Fatalf("forced removal of the holder and leader: %+v", res)
	}
	tc.eventually("VIP on "+o, 15*time.Second, func() bool {
		l := tc.leader()
		return l != nil && l.id == o && tc.holder() == o && l.fsm.State().Holder == o
	})
	tc.eventually("witness caught up", 5*time.Second, func() bool {
		return tc.nodes["witness"].cl.AppliedIndex() >= tc.nodes[o].cl.AppliedIndex()
	})
	tc.gone(o, h)
	tc.gone("witness", h)
	tc.logMu.Lock()
	loops := strings.Count(tc.logs.String(), "leadership transfer failed")
	tc.logMu.Unlock()
	if loops > 1 {
		t.Errorf("%d failed leadership transfers: the removed node is picked again and again", loops)
	}
	tc.assertNeverTwo()
}

func TestMaintenanceWithExpiryEndsForEveryNode(t *testing.T) {
	tc := newTestCluster(t, false)
	first := tc.waitHolder(10 * time.Second)
	tc.waitAllHealthy(first)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const window = 2 * time.Second
	if _, err := tc.nodes["witness"].agent.SetMaintenance(ctx, MaintenanceRequest{On: true, Reason: "patching", For: -time.Second}); !errors.Is(err, ErrRefused) {
		t.Fatalf("a negative duration: %v, want a refusal", err)
	}
	m, err := tc.nodes["witness"].agent.SetMaintenance(ctx, MaintenanceRequest{On: true, Reason: "patching", For: window})
	if err != nil {
		t.Fatal(err)
	}
	if !m.On || m.Until.Sub(m.Since) != window {
		t.Fatalf("maintenance %+v: want on, ending %s after it began", m, window)
	}
	for id, n := range tc.nodes {
		if got := n.fsm.State().Maintenance.Until; !got.Equal(m.Until) {
			tc.eventually(id+" has the replicated end", 5*time.Second, func() bool { return n.fsm.State().Maintenance.Until.Equal(m.Until) })
		}
	}
	st := tc.nodes["witness"].agent.ClusterStatus(ctx, 0)
	if w := strings.Join(st.Warnings, ";"); !strings.Contains(w, "MAINTENANCE") || !strings.Contains(w, "left)") {
		t.Fatalf("status does not show the time left: %v", st.Warnings)
	}
	// Within the window an unhealthy holder keeps the VIP.
	tc.nodes[first].health.Set(false)
	for time.Until(m.Until) > 300*time.Millisecond {
		if h := tc.holder(); h != first {
			t.Fatalf("maintenance still on, VIP on %q, want it to stay on %s", h, first)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// After it, maintenance is off on every node (a committed record) and
	// the automatic move happens.
	second := other(first)
	tc.eventually("VIP moves to "+second+" after maintenance expired", 10*time.Second, func() bool { return tc.holder() == second })
	for id, n := range tc.nodes {
		tc.eventually("maintenance off on "+id, 5*time.Second, func() bool {
			mm := n.fsm.State().Maintenance
			return !mm.On && strings.Contains(mm.Reason, "expired")
		})
	}
	tc.assertNeverTwo()
}

// hang makes n look stopped by SIGSTOP to the others: Raft hears nothing
// from it, and RPC calls to it connect but are never answered.
func (tc *testCluster) hang(n *node, on bool) {
	for _, o := range tc.nodes {
		if o == n || o.trans == nil {
			continue
		}
		if on {
			n.trans.Disconnect(o.addr)
			o.trans.Disconnect(n.addr)
		} else {
			n.trans.Connect(o.addr, o.trans)
			o.trans.Connect(n.addr, n.trans)
		}
	}
	tc.rpc.Freeze(string(n.addr), on)
}

// A command asked on a follower whose leader freezes goes to the new leader
// as soon as the follower knows it, instead of waiting out its deadline on
// the frozen one (issue 8, case 23).
func TestForwardedCommandFollowsTheNewLeader(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	tc.waitAllHealthy(h)
	w := tc.nodes["witness"]
	tc.eventually("witness follows "+h, 5*time.Second, func() bool { id, _ := w.cl.Leader(); return id == h })

	tc.hang(tc.nodes[h], true)
	defer tc.hang(tc.nodes[h], false)
	const deadline = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	m, err := w.agent.SetMaintenance(ctx, MaintenanceRequest{On: true, Reason: "leader frozen"})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("forwarded command after %v: %v (deadline %v)", took, err, deadline)
	}
	if !m.On {
		t.Fatalf("answer %+v: maintenance not on", m)
	}
	newLeader, _ := w.cl.Leader()
	if w.cl.IsLeader() {
		newLeader = "witness"
	}
	if newLeader == h {
		t.Fatalf("the command succeeded but the witness still follows frozen %s", h)
	}
	if !tc.nodes[newLeader].fsm.State().Maintenance.On {
		t.Fatalf("new leader %s does not have maintenance on", newLeader)
	}
	t.Logf("forwarded command done via %s %v after the leader froze (deadline %v)", newLeader, took.Round(time.Millisecond), deadline)
}

// A leader that answers "not the leader" (it just lost leadership) is no
// failure for the operator: the command is asked again, of the leader this
// node knows next (here the same node, leader again).
func TestForwardedCommandRetriesAfterNotTheLeader(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	tc.waitAllHealthy(h)
	w := tc.nodes["witness"]
	tc.eventually("witness follows "+h, 5*time.Second, func() bool { id, _ := w.cl.Leader(); return id == h })
	var answered atomic.Bool
	real := tc.nodes[h].agent.HandleRPC
	tc.rpc.Register(string(tc.nodes[h].addr), func(ctx context.Context, req cluster.Request) cluster.Response {
		if req.Op == OpMaintenance && answered.CompareAndSwap(false, true) {
			return cluster.Response{Err: "not the leader (leadership moved; retry)", NotLeader: true}
		}
		return real(ctx, req)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := w.agent.SetMaintenance(ctx, MaintenanceRequest{On: true, Reason: "retry"})
	if err != nil || !m.On {
		t.Fatalf("forwarded command after a 'not the leader' answer: %+v %v", m, err)
	}
	if !answered.Load() {
		t.Fatal("the leader was never asked (the test did not exercise the retry)")
	}
	if !tc.nodes[h].fsm.State().Maintenance.On {
		t.Fatal("maintenance not on at the leader")
	}
}
