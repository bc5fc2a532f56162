package agent

import (
	"time"

	"github.com/raftvip/raftvip/owner"
)

// The loop looks again on every event (a health verdict, a Raft or FSM
// change, an operator command, a deadline a decision asked for) and, when
// nothing wakes it, on a tick. The tick is only a fallback for work that
// retries (a report the FSM does not show yet, a removal that failed, a
// suspect to probe again); on a node with none of that, ten passes a
// second did nothing but cost an idle agent about a tenth of its CPU
// (docs/bench/idle-cost.md). A quiet node therefore ticks at IdleTick, and
// a quiet holder wakes when its next renewal is due.
//
// Nothing here decides safety: a holder that stops renewing loses the VIP
// to its kernel lifetime whatever the loop does, a lost leadership wakes
// the loop through Raft's change notification (owner.Drop runs at once),
// and every decision that waits for a time returns that time.

// renewWakeMargin puts the quiet holder's wake-up just after its renewal is
// due (owner.RenewDue), not a hair before it, which would cost a pass and
// a busy tick.
const renewWakeMargin = 5 * time.Millisecond

// renewContactWait is how long a due renewal waits for a follower's
// contact before it proves the full way (renew): a sixth of the lease, so
// a renewal happens by half the lease after the last (167 ms at the
// default 1 s, where the leader's pace gives each follower a heartbeat
// every 150–300 ms).
func renewContactWait(lease time.Duration) time.Duration { return lease / 6 }

// quiet reports whether nothing in flight needs the busy tick: the last
// decision was to do nothing (or, holding, to renew), no report, removal,
// add or probe is pending, and, on the leader, no fence, switchover or
// timed maintenance is running. VRRP interop keeps the busy pace: its
// adverts and its peers' are timed by the loop.
func (a *Agent) quiet() bool {
	if a.reportPending || a.removePending || a.pendingAdd != 0 || len(a.suspects) > 0 {
		return false
	}
	if a.opt.VRRPMode != "" && a.opt.VRRPMode != VRRPOff {
		return false
	}
	switch a.lastDecision.Action {
	case owner.None:
		if a.holding {
			return false
		}
	case owner.Renew:
		if !a.holding {
			return false
		}
	default:
		return false
	}
	if a.raft.IsLeader() {
		if !a.leaderReady {
			return false
		}
		fence, switchover, m := a.fsm.Pending()
		if fence || switchover || (m.On && !m.Until.IsZero()) {
			return false
		}
	}
	return true
}

// pace is the loop's tick after a pass at now.
func (a *Agent) pace(now time.Time) time.Duration {
	if !a.quiet() {
		return a.opt.Tick
	}
	if a.holding {
		due := owner.RenewAt(a.lastRenew, a.opt.Lease).Add(renewWakeMargin)
		if !a.renewBy.IsZero() {
			// Waiting for a contact (renew): it wakes the loop itself.
			due = a.renewBy
		}
		return min(max(due.Sub(now), a.opt.Tick), a.opt.IdleTick)
	}
	return a.opt.IdleTick
}
