// Package owner is the rule that decides who may hold the VIP. It is a pure
// function of what one node knows at one instant — its Raft role, its MySQL
// health, the replicated state — and returns the single next step. It does
// no I/O, so it is tested as a table; the agent's loop around it is thin and
// calls Decide again after every step.
//
// The rule (see docs/safety.md for why it is safe):
//  1. Only the Raft leader, only a db node, only while its MySQL is healthy
//     and its quorum lease is fresh, holds the VIP.
//  2. An unhealthy holder releases first (VIP removed, release committed),
//     then hands leadership to a db peer the FSM shows healthy; when that
//     peer is healthy but its Raft heartbeats fail (the db-to-db link is
//     down), it hands leadership to the witness, which may reach it; with
//     none, it stays leader and holds nothing.
//  3. A witness leader hands leadership to a healthy db node at once.
//  4. Leadership never goes to a node the FSM shows unhealthy.
//  5. preempt=false: nothing is taken back. preempt=true: the holder hands
//     over to `preferred` once the FSM shows it healthy (rise checks passed),
//     except while a recorded switchover's window is open.
//  6. A leader that finds the VIP unreleased by another node (it lost the
//     old holder uncleanly) commits a fence and waits until the old holder's
//     kernel lease must have run out before anyone adds the VIP.
package owner

import (
	"strings"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// Action is the next step for the agent.
type Action int

const (
	// None: nothing to do now.
	None Action = iota
	// Acquire: commit an acquire (new epoch), then add the VIP and announce it.
	Acquire
	// Renew: verify leadership with a quorum, then renew the VIP's lifetime.
	Renew
	// Release: remove the VIP here, then commit the release of our epoch.
	Release
	// Drop: remove the VIP here at once, committing nothing (we are not
	// leader, or our proof of leadership is stale).
	Drop
	// RecordRelease: the FSM says we hold an epoch we no longer hold
	// locally (restart, dropped lease); commit its release.
	RecordRelease
	// Fence: commit a fence for the unreleased holder Target.
	Fence
	// ExpireFence: the fence's wait is over; commit the release of Target's
	// epoch on its behalf.
	ExpireFence
	// Wait: a fence is pending; nothing may be added before Until.
	Wait
	// Transfer: hand Raft leadership to Target.
	Transfer
	// Advertise: send a VRRP advert (without holding the VIP) so a
	// lower-priority foreign master (keepalived) yields before we add it.
	Advertise
	// AddVIP: our acquire is committed but the VIP is not added yet (the
	// proof right after the commit was too slow or failed): prove
	// leadership afresh and add it, keeping the epoch.
	AddVIP
)

var actionNames = [...]string{"none", "acquire", "renew", "release", "drop", "record-release", "fence", "expire-fence", "wait", "transfer", "advertise", "add-vip"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Input is everything the rule looks at.
type Input struct {
	Self string
	Role string // fsm.RoleDB or fsm.RoleWitness

	// Leader is true when this node is Raft leader AND has applied every
	// entry committed before its term (a barrier), so State is current.
	Leader      bool
	LeaderSince time.Time // local time this node first knew it led
	Now         time.Time

	LocalHealthy bool // this node's own checker verdict (rise/fall applied)
	Holding      bool // the VIP is configured here (as far as the agent knows)
	// LeaseFresh: our last proof of leadership (a VerifyLeader or commit
	// that a quorum answered) started less than one VIP lease ago.
	LeaseFresh bool

	State         fsm.State
	FenceDeadline time.Time // local deadline of State.Fence (see fsm)

	// FenceWait is how long after winning an election a leader must wait
	// before the previous holder's kernel lease has surely run out
	// (FenceWait below computes it).
	FenceWait time.Duration

	// Observe: vrrp.mode = observe; keepalived owns the VIP, so no step
	// that touches it runs (the decision says what would be done).
	Observe bool
	// AcquireBackoff: the last VIP add failed recently; no add yet.
	AcquireBackoff bool

	// AddPending: this node committed the acquire of the current epoch but
	// has not added the VIP yet.
	AddPending bool
	// RemovePending: an add failed part-way or a removal failed, so some of
	// the addresses may still be configured here; they must be removed
	// before a release may be recorded.
	RemovePending bool

	Preempt   bool
	Preferred string

	// TransferBackoff: a transfer failed recently; don't start another.
	TransferBackoff bool
	// Unreachable: peers the leader currently fails to heartbeat. Their
	// last health report may be stale, so they are no transfer target.
	Unreachable map[string]bool
	// Suspects: peers that failed the probe before a transfer and have not
	// shown life since (SuspectHolds); no transfer target either. Unlike
	// Unreachable, Raft may still reach them.
	Suspects map[string]bool

	// Maintenance (from the FSM): the holder keeps the VIP whatever its
	// health says; no release for health, no preemption. Safety rules
	// (leadership, lease, fences) still apply.
	Maintenance bool
	// SwitchoverTo is the target of an operator's planned move still to be
	// made (recorded in the FSM, window open, target not yet holding).
	SwitchoverTo string
	// SwitchoverOpen: a recorded switchover's window is open (whether or
	// not its target holds yet): no preemption, or the preferred node
	// would take the VIP straight back (see SwitchoverView).
	SwitchoverOpen bool

	// VRRP coexistence (vrrp.mode = active). VRRPBlock, when set, says why
	// this node may not hold the VIP now: a foreign VRRP master outranks
	// raftvip, or the listen window after start has not passed. VRRPYield
	// names a live foreign master that raftvip outranks: it must stop
	// advertising (become backup) before raftvip adds the VIP.
	VRRPBlock string
	VRRPYield string

	// Data safety (rule 8). MaxLag is failover.max_lag; PromoteStale is
	// failover.promote_stale; ForceTarget is a forced switchover's target
	// (switchover -force), promoted although stale. LocalStale is this
	// node's own verdict (owner.Judge), which it has reported or is about
	// to report.
	MaxLag       time.Duration
	PromoteStale bool
	ForceTarget  string
	LocalStale   string
}

// Decision is the rule's answer.
type Decision struct {
	Action Action
	Target string    // for Transfer, Fence, ExpireFence
	Until  time.Time // for Wait
	Wait   time.Duration
	Reason string
}

// Decide returns the next step.
func Decide(in Input) Decision { return gate(in, decide(in)) }

func decide(in Input) Decision {
	st := in.State
	if !in.Leader {
		if in.Holding {
			return Decision{Action: Drop, Reason: "not the raft leader"}
		}
		return Decision{Action: None, Reason: "follower"}
	}

	switch {
	case st.Holder == in.Self:
		if in.RemovePending {
			return Decision{Action: Drop, Reason: "addresses from a failed add or removal may still be configured; removing them before recording a release"}
		}
		d := holderDecision(in)
		if in.Holding {
			return d
		}
		if in.AddPending && d.Action == Renew {
			return Decision{Action: AddVIP, Reason: "acquire committed; adding the VIP after a fresh proof of leadership"}
		}
		return Decision{Action: RecordRelease, Reason: "this node no longer has the VIP configured (restart or lapsed lease)"}

	case st.Holder != "":
		if in.Holding {
			// Should not happen: we have the VIP but the FSM gives it to
			// someone else. The FSM wins.
			return Decision{Action: Drop, Reason: "the FSM says " + st.Holder + " holds the VIP"}
		}
		if st.Fence == nil {
			wait := in.FenceWait - in.Now.Sub(in.LeaderSince)
			if wait < 0 {
				wait = 0
			}
			return Decision{Action: Fence, Target: st.Holder, Wait: wait,
				Reason: "previous holder " + st.Holder + " did not release; waiting for its kernel lease to run out"}
		}
		if !in.Now.Before(in.FenceDeadline) {
			return Decision{Action: ExpireFence, Target: st.Holder, Reason: "kernel lease of " + st.Holder + " has run out"}
		}
		// The wait is the same wherever leadership goes: a witness or an
		// unhealthy leader hands over now and the target keeps waiting.
		if !canHold(in) && !in.TransferBackoff {
			if t := TransferTarget(in); t != "" {
				return Decision{Action: Transfer, Target: t, Reason: transferReason(in)}
			}
			if r, why := relayTarget(in); r != "" {
				return Decision{Action: Transfer, Target: r, Reason: why}
			}
		}
		return Decision{Action: Wait, Until: in.FenceDeadline, Target: st.Holder,
			Reason: "fenced: waiting for " + st.Holder + "'s kernel lease to run out"}

	default: // released: nobody holds it
		if in.Holding {
			return Decision{Action: Drop, Reason: "the FSM records no holder"}
		}
		if t := in.SwitchoverTo; t != "" && t != in.Self && eligible(in, t) {
			if in.TransferBackoff {
				return Decision{Action: None, Reason: "switchover: waiting to retry transfer to " + t}
			}
			return Decision{Action: Transfer, Target: t, Reason: "switchover to " + t}
		}
		if canHold(in) {
			if p := preemptTarget(in); p != "" && !in.TransferBackoff {
				return Decision{Action: Transfer, Target: p, Reason: "preempt: preferred node " + p + " is healthy"}
			}
			if in.VRRPBlock != "" {
				return Decision{Action: None, Reason: in.VRRPBlock}
			}
			if in.VRRPYield != "" {
				return Decision{Action: Advertise, Target: in.VRRPYield, Reason: "advertising raftvip's higher VRRP priority until " + in.VRRPYield + " yields the VIP"}
			}
			return Decision{Action: Acquire, Reason: "leader, db, mysql healthy, VIP free" + riskNote(in, in.Self)}
		}
		if t := TransferTarget(in); t != "" {
			if in.TransferBackoff {
				return Decision{Action: None, Reason: "waiting to retry transfer to " + t}
			}
			return Decision{Action: Transfer, Target: t, Reason: transferReason(in)}
		}
		if r, why := relayTarget(in); r != "" {
			if in.TransferBackoff {
				return Decision{Action: None, Reason: "waiting to retry transfer to " + r + ": " + why}
			}
			return Decision{Action: Transfer, Target: r, Reason: why}
		}
		if s := stranded(in); len(s) > 0 {
			return Decision{Action: None, Reason: strandedText(s)}
		}
		if why := staleText(in); why != "" {
			return Decision{Action: None, Reason: "no caught-up db node: nobody holds the VIP (" + why + "; switchover -to NODE -force or failover.promote_stale = true promotes it, data at risk)"}
		}
		return Decision{Action: None, Reason: "no healthy db node: nobody holds the VIP"}
	}
}

// holderDecision is the rule for the node the FSM names as holder, as if it
// had the VIP configured.
func holderDecision(in Input) Decision {
	st := in.State
	if f := st.Fence; f != nil && f.Holder == in.Self && f.Epoch == st.Epoch {
		// Another leader fenced our epoch while we were cut off: its
		// deadline assumes our last lifetime ends with our last proof
		// before the fence. Renewing now would outlive that deadline, so
		// give the epoch up cleanly instead (remove, then release).
		return Decision{Action: Release, Reason: "our epoch was fenced by " + f.By + " while we were cut off; never renewing through a fence"}
	}
	if in.Holding && !in.LeaseFresh {
		return Decision{Action: Drop, Reason: "leadership not confirmed by a quorum within the lease"}
	}
	if in.Role != fsm.RoleDB {
		return Decision{Action: Release, Reason: "a witness never holds the VIP"}
	}
	if in.VRRPBlock != "" {
		return Decision{Action: Release, Reason: in.VRRPBlock}
	}
	if t := in.SwitchoverTo; t != "" && t != in.Self && eligible(in, t) {
		return Decision{Action: Release, Target: t, Reason: "switchover to " + t}
	}
	if in.Maintenance {
		if !in.LocalHealthy {
			return Decision{Action: Renew, Reason: "maintenance mode: keeping the VIP although mysql is unhealthy"}
		}
		return Decision{Action: Renew, Reason: "holder, healthy, leader (maintenance mode)"}
	}
	if !in.LocalHealthy {
		return Decision{Action: Release, Reason: "mysql unhealthy"}
	}
	if p := preemptTarget(in); p != "" && !in.TransferBackoff {
		return Decision{Action: Release, Target: p, Reason: "preempt: handing back to preferred node " + p}
	}
	return Decision{Action: Renew, Reason: "holder, healthy, leader"}
}

// FenceWait is how long after LeaderSince a leader that won an election
// must wait before the unreleased holder's kernel lifetime has surely ended
// (docs/safety.md, rules 1–5): the holder's last proof p was at least
// minHeartbeat before LeaderSince (a voter of the new quorum answered p and
// then waited out its own heartbeat timeout before voting), and its
// lifetime ends before p + holder.Exposure(). holder are the terms from the
// holder's acquire record; fallback (this node's own terms) stands in for
// any term the record lacks (records written before terms existed).
// minHeartbeat is the smallest heartbeat timeout among the voters, 0 when
// any voter's is unknown: no credit is taken that a voter may not give.
func FenceWait(holder, fallback fsm.HoldTerms, minHeartbeat time.Duration) time.Duration {
	holder = fillTerms(holder, fallback)
	credit := minHeartbeat
	if credit > holder.Lease {
		credit = holder.Lease
	}
	if credit < 0 {
		credit = 0
	}
	return holder.Exposure() - credit
}

// fillTerms completes a holder's terms from fallback where the record
// lacks them.
func fillTerms(holder, fallback fsm.HoldTerms) fsm.HoldTerms {
	if holder.Lease <= 0 {
		holder.Lease = fallback.Lease
	}
	if holder.Slack <= 0 {
		holder.Slack = fallback.Slack
	}
	if holder.Margin <= 0 {
		holder.Margin = fallback.Margin
	}
	return holder
}

// VouchFenceWait is the fence wait measured rather than assumed
// (docs/safety.md, rule 14), counted from leaderSince like FenceWait. Every
// voter but the holder said when it last vouched for the holder in a proof
// (cluster.LastVouch): no proof of the holder's is later than vouchedAt, so
// its lifetime ends before vouchedAt + Exposure. A voter removed from the
// configuration was not asked; its last answer may be one proof timeout
// (lease/3, counted here as lease/2) after this node first saw the current
// voters, votersSince. Never negative.
func VouchFenceWait(holder, fallback fsm.HoldTerms, vouchedAt, votersSince, leaderSince time.Time) time.Duration {
	holder = fillTerms(holder, fallback)
	bound := vouchedAt
	if r := votersSince.Add(holder.Lease / 2); r.After(bound) {
		bound = r
	}
	if w := bound.Add(holder.Exposure()).Sub(leaderSince); w > 0 {
		return w
	}
	return 0
}

// MinHeartbeat is the smallest heartbeat timeout that the voters reported
// (st.Timings), or 0 when a voter has not reported one.
func MinHeartbeat(st fsm.State, voters []string) time.Duration {
	var lo time.Duration
	for i, id := range voters {
		t, ok := st.Timings[id]
		if !ok || t.HeartbeatTimeout <= 0 {
			return 0
		}
		if i == 0 || t.HeartbeatTimeout < lo {
			lo = t.HeartbeatTimeout
		}
	}
	return lo
}

// TimingMismatch says how the nodes' reported timings differ ("" when they
// agree). Differing timings are safe (FenceWait uses the holder's terms and
// the smallest heartbeat timeout) but cost failover time and usually mean a
// rolling change is half done.
func TimingMismatch(st fsm.State) string {
	var hts, leases []string
	seenHT, seenLease := map[time.Duration]bool{}, map[time.Duration]bool{}
	for _, id := range st.MemberIDs() {
		t, ok := st.Timings[id]
		if !ok {
			continue
		}
		seenHT[t.HeartbeatTimeout] = true
		hts = append(hts, id+"="+t.HeartbeatTimeout.String())
		if m, ok := st.Members[id]; ok && m.Role == fsm.RoleDB {
			seenLease[t.Terms.Lease] = true
			leases = append(leases, id+"="+t.Terms.Lease.String())
		}
	}
	var parts []string
	if len(seenHT) > 1 {
		parts = append(parts, "raft.heartbeat_timeout differs between nodes ("+strings.Join(hts, ", ")+")")
	}
	if len(seenLease) > 1 {
		parts = append(parts, "vip.lease differs between db nodes ("+strings.Join(leases, ", ")+")")
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + ": safe, but fences wait for the longest lease and the shortest heartbeat timeout"
}

// stranded lists the db members, not us, that the FSM shows healthy but the
// leader cannot reach (sorted): they could hold the VIP, but no transfer
// from here reaches them.
func stranded(in Input) []string {
	var out []string
	for _, id := range in.State.MemberIDs() {
		m := in.State.Members[id]
		if id != in.Self && m.Role == fsm.RoleDB && in.State.Healthy(id) && !reachable(in, id) {
			out = append(out, id)
		}
	}
	return out
}

func strandedText(ids []string) string {
	if len(ids) == 1 {
		return ids[0] + " is healthy but unreachable from the leader"
	}
	return strings.Join(ids, " and ") + " are healthy but unreachable from the leader"
}

// relayTarget: a db leader that cannot hold the VIP and reaches no healthy
// db node, while the FSM shows one healthy that its Raft heartbeats do not
// reach (the link between the db hosts is down), hands leadership to a
// reachable witness, which may reach it. A peer that only failed a probe
// (a suspect, Raft still reaches it) is not relayed around: its next answer
// makes it a target again without a leadership change. Only a db leader
// relays, and a witness hands leadership only to a db node it can reach
// that is healthy (TransferTarget), so leadership never bounces between
// relays: the witness either reaches a healthy db node or stays leader and
// holds nothing.
func relayTarget(in Input) (target, reason string) {
	if in.Role != fsm.RoleDB {
		return "", ""
	}
	s := stranded(in)
	cut := false
	for _, id := range s {
		cut = cut || in.Unreachable[id]
	}
	if !cut {
		return "", ""
	}
	for _, id := range in.State.MemberIDs() {
		if id != in.Self && in.State.Members[id].Role == fsm.RoleWitness && reachable(in, id) {
			return id, strandedText(s) + "; handing leadership to " + id + ", which may reach it"
		}
	}
	return "", ""
}

func canHold(in Input) bool {
	return in.Role == fsm.RoleDB && in.LocalHealthy && promotable(in, in.Self)
}

// promotable: id's data lets it take the VIP: it is caught up (not Stale),
// or the operator allowed stale promotion (promote_stale, or a forced
// switchover to it). The node that holds or held last is never stale for
// itself. For ourselves the local verdict counts too: it may be newer
// than the report the FSM has.
func promotable(in Input, id string) bool {
	if in.PromoteStale || (in.ForceTarget != "" && in.ForceTarget == id) {
		return true
	}
	if Stale(in.State, id, in.maxLag(), in.Now) != "" {
		return false
	}
	if id == in.Self && in.LocalStale != "" {
		if h, _ := stoppedAt(in.State); h != id {
			return false
		}
	}
	return true
}

// riskNote is what a decision's reason adds when id is promoted although
// stale (promote_stale, a forced switchover): the history shows it.
func riskNote(in Input, id string) string {
	why := Stale(in.State, id, in.maxLag(), in.Now)
	if why == "" && id == in.Self {
		if h, _ := stoppedAt(in.State); h != id {
			why = in.LocalStale
		}
	}
	if why == "" {
		return ""
	}
	by := "failover.promote_stale"
	if in.ForceTarget == id {
		by = "a forced switchover"
	}
	return "; DATA AT RISK: promoted by " + by + " although stale (" + why + ")"
}

func (in Input) maxLag() time.Duration {
	if in.MaxLag <= 0 {
		return 10 * time.Second
	}
	return in.MaxLag
}

func transferReason(in Input) string {
	if in.Role != fsm.RoleDB {
		return "witness leads: handing leadership to a healthy db node"
	}
	return "mysql unhealthy here: handing leadership to a healthy db node"
}

// staleText names the healthy db nodes barred only by stale data.
func staleText(in Input) string {
	var parts []string
	for _, id := range in.State.MemberIDs() {
		m := in.State.Members[id]
		if m.Role != fsm.RoleDB || promotable(in, id) {
			continue
		}
		healthy := in.State.Healthy(id)
		if id == in.Self {
			healthy = in.LocalHealthy
		}
		if !healthy {
			continue
		}
		why := Stale(in.State, id, in.maxLag(), in.Now)
		if why == "" {
			why = in.LocalStale
		}
		parts = append(parts, id+" is stale: "+why)
	}
	return strings.Join(parts, "; ")
}

// preemptTarget is the preferred node when preemption applies: preempt on,
// preferred set, not us, a db member, and healthy in the FSM.
func preemptTarget(in Input) string {
	p := in.Preferred
	if !in.Preempt || in.Maintenance || in.SwitchoverOpen || p == "" || p == in.Self {
		return ""
	}
	m, ok := in.State.Members[p]
	if !ok || m.Role != fsm.RoleDB || !in.State.Healthy(p) || !reachable(in, p) {
		return ""
	}
	return p
}

// eligible: id may receive leadership to hold the VIP: a db member the FSM
// shows healthy and the leader can reach.
func eligible(in Input, id string) bool {
	m, found := in.State.Members[id]
	return found && m.Role == fsm.RoleDB && in.State.Healthy(id) && reachable(in, id) && promotable(in, id)
}

// reachable: neither Raft's heartbeats nor the last probe failed.
func reachable(in Input, id string) bool { return !in.Unreachable[id] && !in.Suspects[id] }

// Eligible is the exported form of the transfer-target test, for callers
// that must refuse an operator's request early with a clear reason.
func Eligible(in Input, id string) bool { return eligible(in, id) }

// TransferTarget picks a db member, not us, that the FSM shows healthy and
// the leader can reach: a switchover's target first, then the preferred
// node when set, else the lowest id (deterministic).
func TransferTarget(in Input) string {
	st := in.State
	ok := func(id string) bool { return id != in.Self && eligible(in, id) }
	for _, p := range []string{in.SwitchoverTo, in.Preferred} {
		if p != "" && ok(p) {
			return p
		}
	}
	for _, id := range st.MemberIDs() {
		if ok(id) {
			return id
		}
	}
	return ""
}

// Suspect is a peer that failed the liveness probe before a transfer to it:
// what the leader knew of it at that moment.
type Suspect struct {
	Since time.Time // when the probe failed
	// Report is its health report in the FSM at that moment (zero if none).
	Report fsm.Health
	// Resumed is how often the leader's Raft had seen its heartbeats
	// resume after failures, at that moment.
	Resumed uint64
	// Answered: a later probe got a healthy answer from it.
	Answered bool
}

// SuspectHolds reports whether a suspect is still no transfer target. A
// failed probe is one lost answer, not a verdict: the peer is a target again
// as soon as it shows life — a healthy answer to a later probe, Raft's
// heartbeats to it resuming, or a new health report from it in the FSM —
// and at the latest after max. Until then the leader tries another target
// instead of probing a dead one in a loop.
func SuspectHolds(s Suspect, now time.Time, report fsm.Health, resumed uint64, max time.Duration) bool {
	switch {
	case s.Answered, resumed != s.Resumed, report != s.Report:
		return false
	case now.Sub(s.Since) >= max:
		return false
	}
	return true
}

// MaintenanceActive reports whether maintenance m freezes automatic moves at
// now: it is on and its expiry, if it has one, has not passed. Once it has,
// the leader stops honouring it at once and commits it off.
func MaintenanceActive(m fsm.Maintenance, now time.Time) bool {
	return m.On && (m.Until.IsZero() || now.Before(m.Until))
}

// SwitchoverView reads the switchover recorded in the FSM (nil if none) at
// local time now, deadline being its local end (fsm.SwitchoverDeadline):
// to is its target while the move is still to be made, open whether its
// window still holds preemption off, expired whether the leader should
// clear the record. The window is the operator's timeout: preemption waits
// that long after the request, whether the move took 10 ms or failed.
func SwitchoverView(sw *fsm.Switchover, deadline, now time.Time) (to string, open, expired bool) {
	if sw == nil {
		return "", false, false
	}
	if !now.Before(deadline) {
		return "", false, true
	}
	if !sw.Done {
		to = sw.To
	}
	return to, true, false
}
