package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

// Issue 9: every changing command is logged on the leader with who asked
// (the node that took it and, for a local operator, the uid) and is in the
// history of every node.
func TestOperatorCommandsRecordWhoAsked(t *testing.T) {
	tc := newTestCluster(t, false)
	from := tc.waitHolder(10 * time.Second)
	tc.waitAllHealthy(from)
	lead := tc.leader()
	var follower *node
	for _, n := range tc.nodes {
		if n != lead {
			follower = n
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := follower.agent.SetMaintenance(WithLocalUID(ctx, 4321), MaintenanceRequest{On: true, Reason: "kernel update"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lead.agent.SetMaintenance(ctx, MaintenanceRequest{On: false}); err != nil {
		t.Fatal(err)
	}
	find := func(n *node, op string, via string) *fsm.Event {
		for _, e := range n.fsm.State().History {
			if e.Op == op && e.Via == via {
				return &e
			}
		}
		return nil
	}
	for _, n := range tc.nodes {
		tc.eventually("operator events applied on "+n.id, 5*time.Second, func() bool {
			return find(n, OpMaintenance, follower.id) != nil && find(n, OpMaintenance, lead.id) != nil
		})
		on := find(n, OpMaintenance, follower.id)
		if on.UID == nil || *on.UID != 4321 || on.By != lead.id || !strings.Contains(on.Reason, "kernel update") {
			t.Errorf("%s: maintenance on recorded as %+v; want via %s, uid 4321, by the leader %s, with the reason", n.id, on, follower.id, lead.id)
		}
		if off := find(n, OpMaintenance, lead.id); off.UID != nil || !strings.Contains(off.Reason, "off") {
			t.Errorf("%s: maintenance off asked on the leader without a uid recorded as %+v", n.id, off)
		}
	}
	tc.logMu.Lock()
	logs := tc.logs.String()
	tc.logMu.Unlock()
	want := fmt.Sprintf("%s.agent: operator command: command=maintenance detail=\"on: kernel update\" asked_via=%s uid=4321", lead.id, follower.id)
	if !strings.Contains(logs, want) {
		t.Errorf("leader's log has no line %q", want)
	}

	// A command the cluster refuses changes nothing and records nothing,
	// and is logged all the same.
	before := len(lead.fsm.State().History)
	if _, err := follower.agent.Switchover(WithLocalUID(ctx, 4321), SwitchoverRequest{To: "witness", Timeout: time.Second}); !errors.Is(err, ErrRefused) {
		t.Fatalf("switchover to the witness: %v, want refused", err)
	}
	if after := len(lead.fsm.State().History); after != before {
		t.Errorf("a refused switchover added %d history events", after-before)
	}

	// A switchover records who asked with the change.
	to := other(from)
	if _, err := follower.agent.Switchover(WithLocalUID(ctx, 0), SwitchoverRequest{To: to, Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	tc.eventually("switchover event on "+to, 5*time.Second, func() bool { return find(tc.nodes[to], OpSwitchover, follower.id) != nil })
	if e := find(tc.nodes[to], OpSwitchover, follower.id); e.UID == nil || *e.UID != 0 || e.Node != to {
		t.Errorf("switchover recorded as %+v; want via %s, uid 0, node %s", e, follower.id, to)
	}
}

// A switchover timeout from the cluster RPC is capped like one from the
// admin socket: a peer cannot hold preemption off for hours.
func TestSwitchoverTimeoutCappedOverRPC(t *testing.T) {
	tc := newTestCluster(t, false)
	from := tc.waitHolder(10 * time.Second)
	tc.waitAllHealthy(from)
	lead := tc.leader()
	args, _ := json.Marshal(SwitchoverRequest{To: other(from), Timeout: 3 * time.Hour})
	resp := lead.agent.HandleRPC(context.Background(), cluster.Request{V: cluster.RPCVersion, Op: OpSwitchover, From: "witness", Args: args})
	if !resp.Refused || !strings.Contains(resp.Err, "more than the maximum 5m0s") {
		t.Fatalf("switchover with -timeout 3h over RPC: %+v; want refused naming the 5m maximum", resp)
	}
	if st := lead.fsm.State(); st.Switchover != nil {
		t.Fatalf("a refused switchover was recorded: %+v", st.Switchover)
	}
}
