package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// namesBoth reports whether s names the typo and the right address.
func namesBoth(s, typo, right string) bool {
	return strings.Contains(s, `"`+typo+`"`) && strings.Contains(s, `"`+right+`"`)
}

// A typo in one host's peer list (case 13) is an ERROR in the log, once, and
// a warning in every node's status naming both addresses; a switchover to
// that host reports what happened (the VIP moved) instead of a false
// timeout.
func TestWrongPeerAddressIsReported(t *testing.T) {
	const typo = "hosta-typo"
	tc := newTestClusterPrep(t, false, func(n *node) {
		if n.id == "hostb" {
			n.peers = []Peer{{"hosta", typo, fsm.RoleDB}, {"hostb", "hostb", fsm.RoleDB}, {"witness", "witness", fsm.RoleWitness}}
			// Unhealthy at first, so that hosta (right addresses)
			// leads: while hostb leads, hosta hears nothing and its
			// health never reaches the FSM.
			n.health.Set(false)
		}
	}, nil)
	tc.eventually("hosta leads and holds the VIP", 20*time.Second, func() bool {
		if l := tc.leader(); l != nil && l.id == "hostb" {
			// hostb cannot reach hosta to hand over; the witness can.
			_ = l.cl.TransferTo("witness")
			time.Sleep(100 * time.Millisecond)
		}
		l := tc.leader()
		return l != nil && l.id == "hosta" && tc.holder() == "hosta"
	})
	tc.nodes["hostb"].health.Set(true)
	tc.eventually("hostb's recovery replicated to hosta", 5*time.Second, func() bool {
		return tc.nodes["hosta"].fsm.State().Healthy("hostb")
	})

	// Every node's status warns, naming both addresses.
	for _, id := range []string{"hosta", "hostb", "witness"} {
		n := tc.nodes[id]
		tc.eventually("status on "+id+" warns of the wrong address", 5*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			for _, w := range n.agent.ClusterStatus(ctx, 0).Warnings {
				if namesBoth(w, typo, "hosta") {
					return true
				}
			}
			return false
		})
	}
	// The mismatch is an ERROR in hostb's log, once per change, not once a
	// tick: nothing new while nothing changes.
	hostbErrors := func() int {
		tc.logMu.Lock()
		defer tc.logMu.Unlock()
		n := 0
		for _, line := range strings.Split(tc.logs.String(), "\n") {
			if strings.Contains(line, "[ERROR]") && strings.Contains(line, "hostb.agent") && strings.Contains(line, typo) {
				n++
			}
		}
		return n
	}
	before := hostbErrors()
	time.Sleep(time.Second)
	if after := hostbErrors(); before == 0 || after != before {
		t.Fatalf("ERROR lines on hostb about the wrong address: %d, then %d a second later; want some, then no more", before, after)
	}

	// A switchover to hostb moves the VIP; hostb, now leader, cannot reach
	// hosta at the wrong address, so hosta never applies the acquire. The
	// result must say what happened, not time out.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	res, err := tc.nodes["hosta"].agent.Switchover(ctx, SwitchoverRequest{To: "hostb", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("switchover after %s: %v (VIP on %q)", time.Since(start), err, tc.holder())
	}
	if tc.holder() != "hostb" || res.To != "hostb" || res.Epoch < 2 {
		t.Fatalf("switchover result %+v, VIP on %q", res, tc.holder())
	}
	var warned bool
	for _, w := range res.Warnings {
		warned = warned || namesBoth(w, typo, "hosta")
	}
	if !warned {
		t.Fatalf("switchover result does not name the wrong address: %+v", res)
	}
	tc.assertNeverTwo()
}
