package owner

import (
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// The agent-local parts of the rule: when a step that the rule chose may run
// now (observe mode, backoff after a failed add, renewal cadence), where
// leadership goes at shutdown, and whether a peer may be removed. They are
// here, not in package agent, so that every decision has a table test.

// TouchesVIP reports whether carrying out a changes the VIP on this host or
// speaks VRRP for it.
func TouchesVIP(a Action) bool {
	switch a {
	case Acquire, AddVIP, Renew, Release, Drop, Advertise:
		return true
	}
	return false
}

// gate turns a step that may not run now into None, saying why: in VRRP
// observe mode (step one of a migration) keepalived owns the VIP, so raftvip
// only says what it would do; after a failed add the next add waits out its
// backoff, so a broken interface does not churn epochs.
func gate(in Input, d Decision) Decision {
	if in.Observe && TouchesVIP(d.Action) {
		return Decision{Action: None, Target: d.Target, Reason: "observe mode, VIP untouched: would " + d.Action.String() + ": " + d.Reason}
	}
	if in.AcquireBackoff && (d.Action == Acquire || d.Action == AddVIP) {
		return Decision{Action: None, Reason: "the last VIP add failed; waiting before the next attempt: " + d.Reason}
	}
	return d
}

// RenewDue reports whether a holder should renew now: every lease/3, so a
// renewal can miss twice before the kernel lifetime runs out.
func RenewDue(now, lastRenew time.Time, lease time.Duration) bool {
	return !now.Before(RenewAt(lastRenew, lease))
}

// RenewAt is when the renewal after lastRenew is due (RenewDue).
func RenewAt(lastRenew time.Time, lease time.Duration) time.Time {
	return lastRenew.Add(lease / 3)
}

// HandoverTarget is where a leader that shuts down hands leadership: a
// healthy, reachable db peer, and only from a clean state (the VIP released,
// or a fence pending that the target keeps waiting on; docs/safety.md rule
// 7). "" means no handover.
func HandoverTarget(st fsm.State, self, preferred string, unreachable map[string]bool) string {
	if st.Holder != "" && st.Fence == nil {
		return ""
	}
	return TransferTarget(Input{Self: self, Role: fsm.RoleWitness, State: st, Preferred: preferred, Unreachable: unreachable})
}

// RemoveQuorum describes removing voter id from voters: how many voters
// remain, how many of those answer the leader now, and how many make a
// quorum of the remainder.
type RemoveQuorum struct {
	Remaining, Up, Need int
}

// NoQuorum: the remaining voters that answer cannot make a quorum.
func (q RemoveQuorum) NoQuorum() bool { return q.Remaining < 1 || q.Up < q.Need }

// Fragile: fewer than three voters remain, so one more failure stops the
// cluster and nobody may hold the VIP.
func (q RemoveQuorum) Fragile() bool { return q.Remaining < 3 }

// QuorumAfterRemove computes RemoveQuorum for removing id (a voter) from
// voters, given the voters the leader cannot reach.
func QuorumAfterRemove(voters []string, unreachable map[string]bool, id string) RemoveQuorum {
	var q RemoveQuorum
	for _, v := range voters {
		if v == id {
			continue
		}
		q.Remaining++
		if !unreachable[v] {
			q.Up++
		}
	}
	q.Need = q.Remaining/2 + 1
	return q
}
