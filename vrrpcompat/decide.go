package vrrpcompat

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// RefillFactor is how much slower the untrusted allowance comes back than
// it is used: after the bound is used up, untrusted masters are ignored
// until none has stood in raftvip's way for RefillFactor × the bound (5
// minutes for the default 30 s). An attacker who forges a master can thus
// keep raftvip from the VIP for at most 1/(1+RefillFactor) of the time in
// the long run, and only in one piece of at most the bound, never in a
// string of short flaps: once used up, the allowance must be full again
// before it is spent.
const RefillFactor = 10

// Allowance is what is left of the time that VRRP masters not in
// vrrp.trusted_routers may keep raftvip from the VIP. Step it with the
// time; the zero Allowance is full.
type Allowance struct {
	// Used is how much of the bound has been spent. It grows while an
	// untrusted master stands in the way and shrinks by 1/RefillFactor of
	// the time while none does.
	Used time.Duration `json:"used"`
	// Exhausted: Used reached the bound; untrusted masters are ignored
	// until Used is back to 0.
	Exhausted bool      `json:"exhausted"`
	Since     time.Time `json:"since,omitzero"` // when it was exhausted
	// By is the master that was in the way when the allowance ran out.
	By   netip.Addr `json:"by,omitzero"`
	Last time.Time  `json:"-"` // the previous Step; zero before the first
}

// AllowanceEvent is what a Step changed, for the log.
type AllowanceEvent int

// Allowance events.
const (
	AllowanceSame      AllowanceEvent = iota
	AllowanceExhausted                // untrusted masters are ignored from now on
	AllowanceRestored                 // they are heeded again (within the bound)
)

// Step accounts for the time since the previous Step: spent if an untrusted
// master (by) stood in the way at now, refilled otherwise. The time
// between two Steps counts as one or the other as a whole; the speaker
// steps at every decision of the agent (a few per second), so the error
// is a fraction of a second.
func (a Allowance) Step(now time.Time, inWay bool, by netip.Addr, bound time.Duration) (Allowance, AllowanceEvent) {
	var dt time.Duration
	if !a.Last.IsZero() && now.After(a.Last) {
		dt = now.Sub(a.Last)
	}
	if now.After(a.Last) || a.Last.IsZero() {
		a.Last = now
	}
	if inWay {
		a.Used = min(a.Used+dt, bound)
		if !a.Exhausted && a.Used >= bound {
			a.Exhausted, a.Since, a.By = true, now, by
			return a, AllowanceExhausted
		}
		return a, AllowanceSame
	}
	a.Used = max(a.Used-dt/RefillFactor, 0)
	if a.Exhausted && a.Used == 0 {
		a.Exhausted, a.Since, a.By = false, time.Time{}, netip.Addr{}
		return a, AllowanceRestored
	}
	return a, AllowanceSame
}

// Left is how long untrusted masters may still keep raftvip from the VIP.
func (a Allowance) Left(bound time.Duration) time.Duration {
	if a.Exhausted {
		return 0
	}
	return max(bound-a.Used, 0)
}

// Situation is everything Decide looks at: the speaker's state at Now.
type Situation struct {
	Now time.Time
	// Start and ListenWindow: a starting node listens for one master-down
	// interval before it may hold the VIP.
	Start        time.Time
	ListenWindow time.Duration
	// Priority and Source are our advert's; SourceErr is set when the
	// interface's address is unknown (then every master counts as
	// outranking us: no VIP rather than two).
	Priority  uint8
	Source    netip.Addr
	SourceErr error
	Version   int
	// Routers is the Table as of Now (Table.Routers).
	Routers []Router
	// Own are raftvip's peers' addresses (see SpeakerConfig.Own).
	Own []netip.Addr
	// Trusted is vrrp.trusted_routers: masters from these addresses are
	// heeded without a time limit. Empty: every master is heeded, but only
	// within the Allowance.
	Trusted []netip.Addr
	// Advertising: we sent an advert within the last two of our intervals.
	// A weaker master only wastes our time if it keeps advertising while
	// it hears us; until we advertise, it has no reason to yield.
	Advertising bool
	Bound       time.Duration // vrrp.untrusted_block_max
	Allowance   Allowance
}

// Verdict is Decide's answer.
type Verdict struct {
	// Block says why raftvip may not hold the VIP now ("" = it may): the
	// listen window, or a live foreign master that outranks raftvip.
	Block string
	// Yield names a weaker foreign master that still advertises: raftvip
	// advertises until it yields, then adds the VIP.
	Yield     string
	Allowance Allowance
	Event     AllowanceEvent
	// Master is the foreign master Block or Yield is about (or that is
	// ignored), if any.
	Master *Router
	// Ignored: Master is untrusted and the allowance is used up, so it
	// neither blocks nor is waited for.
	Ignored bool
}

// trusted: the router is listed in trusted_routers. With an empty list no
// router is trusted: all are heard, but within the allowance.
func (s Situation) trusted(r Router) bool {
	return slices.Contains(s.Trusted, r.Source)
}

// isOwn: the advert comes from a raftvip node (a peer's address, raftvip's
// priority), not from a keepalived.
func (s Situation) isOwn(r Router) bool {
	return slices.Contains(s.Own, r.Source) && (r.Priority == s.Priority || r.Priority == 0)
}

// foreignMaster is the live foreign master with a priority above 0,
// leaving out raftvip's own peers, and (when skipUntrusted) routers not in
// Trusted.
func (s Situation) foreignMaster(skipUntrusted bool) (Router, bool) {
	var best *Router
	for i := range s.Routers {
		r := &s.Routers[i]
		if !r.Live || r.Priority == 0 || s.isOwn(*r) || (skipUntrusted && !s.trusted(*r)) {
			continue
		}
		if best == nil || ForeignWins(best.Priority, best.Source, r.Priority, r.Source) {
			best = r
		}
	}
	if best == nil {
		return Router{}, false
	}
	return *best, true
}

func (s Situation) outranks(m Router) bool {
	return s.SourceErr != nil || ForeignWins(s.Priority, s.Source, m.Priority, m.Source)
}

// stillAdvertising: the master advertised within the last 1.5 of its
// intervals, so it still holds the VIP.
func (s Situation) stillAdvertising(m Router) bool {
	return s.Now.Sub(m.LastSeen) <= m.Interval*3/2
}

// Decide answers the two questions of the ownership rule for VRRP (see
// owner.Input.VRRPBlock and VRRPYield) and accounts for the untrusted
// allowance.
//
// A master in Trusted blocks raftvip (if it outranks it) or is waited for
// (if weaker and still advertising) for as long as it keeps advertising,
// as in VRRP. Any other master, which can only be heard while Trusted is
// empty (Conn drops the others' adverts), does the same only while the
// allowance lasts: the time it stands in the way (outranking raftvip, or
// advertising on while raftvip advertises) is spent from it. Once used up,
// untrusted masters are ignored until the allowance is full again, so a
// forged advert costs the VIP at most Bound at a time. A real keepalived
// never needs that long: it yields within one advert of hearing raftvip's
// higher priority.
func Decide(s Situation) Verdict {
	v := Verdict{Allowance: s.Allowance}
	if s.Now.Sub(s.Start) < s.ListenWindow {
		// Nobody is kept from the VIP by a master yet: the window would
		// hold raftvip back anyway.
		v.Block = fmt.Sprintf("listening for VRRP masters for %s after start before taking the VIP", s.ListenWindow.Round(time.Millisecond))
		return v
	}
	m, ok := s.foreignMaster(false)
	trusted := ok && s.trusted(m)
	inWay := ok && !trusted && (s.outranks(m) || (s.stillAdvertising(m) && s.Advertising))
	v.Allowance, v.Event = s.Allowance.Step(s.Now, inWay, m.Source, s.Bound)
	if ok && !trusted && v.Allowance.Exhausted {
		ignored := m
		v.Master, v.Ignored = &ignored, true
		// Trusted masters still count (in practice there are none here:
		// with a trusted list the others never reach the table).
		if m, ok = s.foreignMaster(true); !ok {
			return v
		}
		trusted = true
	}
	if !ok {
		return v
	}
	note := ""
	if !trusted {
		// Fixed text: the agent logs every change of a decision's reason,
		// so what is left goes to status, not here.
		note = fmt.Sprintf("; not in vrrp.trusted_routers, so heeded for at most %s in all (vrrp.untrusted_block_max)", s.Bound)
	}
	switch {
	case s.outranks(m):
		v.Block = fmt.Sprintf("VRRP master %s (priority %d, VRRPv%d) outranks raftvip (priority %d)%s", m.Source, m.Priority, m.Version, s.Priority, note)
	case s.stillAdvertising(m):
		v.Yield = m.Source.String()
	default:
		return v
	}
	if !v.Ignored {
		v.Master = &m
	}
	return v
}
