// Package fsm is raftvip's replicated state: the cluster's members and roles,
// the last health report of every node, and the VIP's epochs (who acquired or
// released it, when and why). It is the hashicorp/raft FSM and nothing else:
// it imports no network or kernel code, and Apply is deterministic — every
// time and value in the state comes from the command, never from the local
// clock — so all nodes hold the same state after the same log.
package fsm

import (
	"sort"
	"time"
)

// HistoryLimit is how many epoch events the state keeps (oldest dropped first).
const HistoryLimit = 1000

// Roles a member can have.
const (
	RoleDB      = "db"
	RoleWitness = "witness"
)

// Event operations in the history.
const (
	OpAcquire = "acquire"
	OpRelease = "release"
	OpFence   = "fence"
	// OpWritable: the holder turned read_only off after its catch-up (or
	// recorded why it stays read-only).
	OpWritable = "writable"
	// OpAdded: the holder added the VIP (and sent its first GARP).
	OpAdded = "added"
)

// Member is one node of the cluster as the FSM knows it.
type Member struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Role    string `json:"role"`
}

// Health is a node's last reported MySQL health.
type Health struct {
	Node    string    `json:"node"`
	Healthy bool      `json:"healthy"`
	Class   string    `json:"class"`   // error class of the last check: ok, refused, timeout, auth, ...
	Checked time.Time `json:"checked"` // when the node made the check that decided this state
	Since   time.Time `json:"since"`   // when the node's verdict last changed
	// Boot and Seq order the reports (see FSM.Apply): Boot is chosen at
	// random when the reporting process starts, Seq counts its reports
	// from 1. Neither can go backwards as a wall clock can. Both are empty
	// in entries written by versions before them.
	Boot string `json:"boot,omitempty"`
	Seq  uint64 `json:"seq,omitempty"`

	// Data safety (issue 10). Stale says why this node's server is not
	// caught up with the holder ("" when it is, or has no replication):
	// a stale node is promoted only when forced (docs/safety.md, rule 8).
	Stale string `json:"stale,omitempty"`
	// NoReplication: the server replicates from nobody (shared storage,
	// a single server): eligible as before, shown as such in status.
	NoReplication bool `json:"no_replication,omitempty"`
	// ReplDownSince is when (reporter's clock) its replication IO thread
	// was first seen not running; zero while it runs. A standby whose
	// replication was down for more than max_lag before the holder
	// stopped missed that much of the holder's writes.
	ReplDownSince time.Time `json:"repl_down_since,omitempty"`
	// Errant lists this node's own transactions that the holder of epoch
	// ErrantEpoch never received ("" when it checked and found none):
	// found by GTID comparison when a replaced holder comes back.
	Errant      string `json:"errant,omitempty"`
	ErrantEpoch uint64 `json:"errant_epoch,omitempty"`
}

// supersedes reports whether report h may replace the stored report old.
// Within one boot a lower counter is stale (reports can arrive out of
// order: forwarded by followers, retried). A report from another boot is a
// restarted process and replaces the old one: boot ids are not ordered, and
// the restarted reporter compares the FSM with its own verdict and sends
// again if a late report of its previous life overwrote it. Only entries
// without a boot id (written by older versions) are still ordered by the
// reporter's clock, among themselves, so replaying an old log gives the
// same state as before.
func (h Health) supersedes(old Health) bool {
	switch {
	case h.Boot != "" && h.Boot == old.Boot:
		return h.Seq >= old.Seq
	case h.Boot == "" && old.Boot == "":
		return !h.Checked.Before(old.Checked)
	}
	return true
}

// Event is one entry of the history: an epoch event (acquire, release,
// fence) or an operator's command (see Operator).
type Event struct {
	Epoch  uint64    `json:"epoch"`
	Op     string    `json:"op"`   // acquire, release, fence, or an operator command
	Node   string    `json:"node"` // the holder the event is about (operator: target or peer)
	By     string    `json:"by"`   // the leader that committed it
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
	// Detection is, for a release, how long it took from the first sign of
	// trouble (first failed check, leader loss) to the release.
	Detection time.Duration `json:"detection_ns,omitempty"`
	// Handover is, for an acquire, how long the VIP was held by nobody: from
	// the previous release (or fence start) to this acquire.
	Handover time.Duration `json:"handover_ns,omitempty"`
	// Wait is, for a fence, how long the leader must wait from the fence's
	// commit before the unreleased holder's kernel lease has surely run out.
	Wait time.Duration `json:"wait_ns,omitempty"`
	// Election is, for a fence, how long before it the fencer's election
	// began (FenceCmd.Election).
	Election time.Duration `json:"election_ns,omitempty"`
	// Leader is, for an acquire, how long the new holder had been leader
	// when it proposed it (AcquireCmd.Leader).
	Leader time.Duration `json:"leader_ns,omitempty"`
	// GARP is, for an added event, how long after the VIP was added its
	// first gratuitous ARP went out (0: none).
	GARP time.Duration `json:"garp_ns,omitempty"`
	// Via and UID say who asked for an operator command: the node whose
	// admin socket took it, and the local operator's uid there.
	Via string  `json:"via,omitempty"`
	UID *uint32 `json:"uid,omitempty"`
}

// Fence records that a leader found the VIP unreleased by a holder it cannot
// hear from: nobody may add the VIP until Wait has passed since the fence was
// applied locally (see State.FenceDeadline).
type Fence struct {
	Epoch  uint64        `json:"epoch"`
	Holder string        `json:"holder"`
	By     string        `json:"by"`
	Time   time.Time     `json:"time"`
	Wait   time.Duration `json:"wait_ns"`
}

// HoldTerms bound how long a holder's VIP can outlive its last proof of
// leadership: every kernel lifetime it sets ends before
// proof + Slack + Lease + Margin (docs/safety.md, rule 1). They are the
// holder's own settings, carried in its acquire record, because the node that
// fences it later may run with different ones.
type HoldTerms struct {
	Lease  time.Duration `json:"lease_ns"`
	Slack  time.Duration `json:"slack_ns"`
	Margin time.Duration `json:"margin_ns"`
}

// Exposure is Slack + Lease + Margin: how long after its last proof a
// holder's VIP may still be configured.
func (t HoldTerms) Exposure() time.Duration { return t.Slack + t.Lease + t.Margin }

// Timings are one node's settings that the safety argument depends on, as
// the node itself reported them.
type Timings struct {
	Node             string        `json:"node"`
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout_ns"`
	Terms            HoldTerms     `json:"terms"` // zero on a witness (it never holds)
}

// State is the whole replicated state. Values returned by FSM.State are deep
// copies and safe to use without locks.
type State struct {
	Members  map[string]Member `json:"members"`
	Health   map[string]Health `json:"health"`
	Epoch    uint64            `json:"epoch"`  // the newest epoch number ever handed out
	Holder   string            `json:"holder"` // node holding epoch Epoch; "" when released
	Acquired time.Time         `json:"acquired,omitempty"`
	// HolderTerms are the current (or last) holder's lifetime terms, from
	// its acquire record; zero for records written before they existed.
	HolderTerms HoldTerms `json:"holder_terms"`
	// Timings are every node's reported timings, by node id.
	Timings  map[string]Timings `json:"timings,omitempty"`
	Released time.Time          `json:"released,omitempty"` // when the last holder released (for handover times)
	// LastHolder is who held the epoch last released ("" before any).
	LastHolder string `json:"last_holder,omitempty"`
	// TakenFrom is, for the current epoch, the holder before it
	// (LastHolder when it was acquired); Planned says the move had its
	// handoff position (a clean, fenced release of epoch Epoch-1).
	TakenFrom string  `json:"taken_from,omitempty"`
	Planned   bool    `json:"planned,omitempty"`
	Fence     *Fence  `json:"fence,omitempty"`
	History   []Event `json:"history"`
	// Maintenance, while On, stops every automatic move of the VIP.
	Maintenance Maintenance `json:"maintenance"`
	// Switchover is the operator's planned move, while its window may
	// still be open (see FSM.SwitchoverDeadline); nil when none.
	Switchover *Switchover `json:"switchover,omitempty"`
	// Handoff is the final position of the last holder that released
	// cleanly with its server read-only: its successor applies it before
	// turning writable, so a planned move loses nothing.
	Handoff *Handoff `json:"handoff,omitempty"`
}

// Handoff is a clean release's final write position.
type Handoff struct {
	Epoch uint64    `json:"epoch"` // the epoch released
	From  string    `json:"from"`  // its holder
	GTID  string    `json:"gtid"`  // its server's gtid_binlog_pos after read_only and kills
	Time  time.Time `json:"time"`
}

// Switchover is an operator's planned move of the VIP to To. Until For has
// passed since a node applied it, that node's rule moves the VIP to To (until
// To has acquired it: Done) and never preempts, whichever node leads: a
// preferred node must not take the VIP straight back. The window is
// counted from local apply time, as a fence's wait is, so it needs no clock
// agreement between hosts.
type Switchover struct {
	To   string        `json:"to"`
	From string        `json:"from,omitempty"` // the holder when it was asked
	By   string        `json:"by"`             // the leader that committed it
	Time time.Time     `json:"time"`           // the proposer's clock, for display
	For  time.Duration `json:"for_ns"`
	// Done: To acquired an epoch after the switchover was recorded.
	Done bool `json:"done,omitempty"`
	// Force: the operator promoted To although it was stale
	// (switchover -force): recorded as data at risk.
	Force bool `json:"force,omitempty"`
}

// Maintenance is the operator's switch that freezes automatic moves.
type Maintenance struct {
	On     bool      `json:"on"`
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by,omitempty"` // node that committed it
	Since  time.Time `json:"since,omitempty"`
	// Until, when set, is when maintenance ends by itself (the proposing
	// leader's clock): the leader then commits it off (agent).
	Until time.Time `json:"until,omitempty"`
}

func newState() State {
	return State{Members: map[string]Member{}, Health: map[string]Health{}, Timings: map[string]Timings{}}
}

func (s State) clone() State { return s.copyWith(true) }

func (s State) copyWith(history bool) State {
	c := s
	c.Members = make(map[string]Member, len(s.Members))
	for k, v := range s.Members {
		c.Members[k] = v
	}
	c.Health = make(map[string]Health, len(s.Health))
	for k, v := range s.Health {
		c.Health[k] = v
	}
	c.Timings = make(map[string]Timings, len(s.Timings))
	for k, v := range s.Timings {
		c.Timings[k] = v
	}
	if s.Fence != nil {
		f := *s.Fence
		c.Fence = &f
	}
	if s.Switchover != nil {
		sw := *s.Switchover
		c.Switchover = &sw
	}
	if s.Handoff != nil {
		h := *s.Handoff
		c.Handoff = &h
	}
	c.History = nil
	if history {
		c.History = append([]Event(nil), s.History...)
	}
	return c
}

// Healthy reports whether the FSM's last report for node says healthy.
func (s State) Healthy(node string) bool {
	h, ok := s.Health[node]
	return ok && h.Healthy
}

// MemberIDs returns member ids, sorted.
func (s State) MemberIDs() []string {
	ids := make([]string, 0, len(s.Members))
	for id := range s.Members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// LastEvents returns up to n newest history events, newest last.
func (s State) LastEvents(n int) []Event {
	if n <= 0 || n >= len(s.History) {
		return append([]Event(nil), s.History...)
	}
	return append([]Event(nil), s.History[len(s.History)-n:]...)
}

func (s *State) record(e Event) {
	s.History = append(s.History, e)
	if over := len(s.History) - HistoryLimit; over > 0 {
		// Copy so the dropped prefix does not pin the old backing array.
		s.History = append([]Event(nil), s.History[over:]...)
	}
}
