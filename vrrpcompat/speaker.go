package vrrpcompat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Speaker is what the agent uses: one Conn, one Table, our own advert, and
// the two questions the ownership rule asks — "may we hold the VIP?" and
// "is there a weaker master that must yield first?". The answers are pure
// functions of the table (Block, Yield), so they are tested without sockets.
type Speaker struct {
	conn  *Conn
	table *Table
	ours  Advert
	own   []netip.Addr // raftvip peers' addresses: Raft arbitrates among them, not VRRP
	start time.Time
	now   func() time.Time
	// source is our advert's source address (the interface's primary
	// address), for the equal-priority tie-break.
	source  func() (netip.Addr, error)
	iface   string
	unicast bool

	trusted []netip.Addr  // vrrp.trusted_routers
	bound   time.Duration // vrrp.untrusted_block_max
	log     hclog.Logger

	mu        sync.Mutex
	lastSent  time.Time
	sent      uint64
	released  uint64
	allowance Allowance
}

// SpeakerConfig configures a Speaker.
type SpeakerConfig struct {
	Conn Config
	// Ours is what raftvip advertises while it holds the VIP: it must carry
	// the same VIP list, (v2) interval and password as the keepalived
	// routers, or they drop it and become master too (keepalived 2.2.7
	// vrrp_check_packet).
	Ours Advert
	// Own are the addresses of raftvip's own peers. An advert from one of
	// them at raftvip's priority (or 0) is raftvip's own; any other priority
	// from the same address is a keepalived running beside raftvip on that
	// host (the middle of a migration) and counts as foreign. raftvip's
	// priority must therefore differ from every keepalived's.
	Own []netip.Addr
	// Trusted is vrrp.trusted_routers: adverts from other sources (Own's
	// at raftvip's priority excepted) are dropped and counted as
	// untrusted. Empty: all are heard, within UntrustedBlockMax.
	Trusted []netip.Addr
	// UntrustedBlockMax is vrrp.untrusted_block_max (see Decide); zero
	// means DefaultUntrustedBlockMax.
	UntrustedBlockMax time.Duration
}

// DefaultUntrustedBlockMax is config.DefaultUntrustedBlockMax, for a
// SpeakerConfig that leaves it zero.
const DefaultUntrustedBlockMax = 30 * time.Second

// NewSpeaker opens the socket (in the calling thread's network namespace).
func NewSpeaker(cfg SpeakerConfig) (*Speaker, error) {
	if cfg.Ours.Version != 2 && cfg.Ours.Version != 3 {
		return nil, fmt.Errorf("vrrp: version %d: want 2 or 3", cfg.Ours.Version)
	}
	c, err := Open(cfg.Conn)
	if err != nil {
		return nil, err
	}
	return newSpeaker(c, cfg), nil
}

func newSpeaker(c *Conn, cfg SpeakerConfig) *Speaker {
	bound := cfg.UntrustedBlockMax
	if bound == 0 {
		bound = DefaultUntrustedBlockMax
	}
	return &Speaker{conn: c, table: NewTable(cfg.Ours.Priority), ours: cfg.Ours, own: slices.Clone(cfg.Own), start: time.Now(), now: time.Now,
		source: c.Source, iface: c.Interface(), unicast: c.Unicast(),
		trusted: slices.Clone(cfg.Trusted), bound: bound, log: c.log}
}

// expect is what Receive checks adverts against.
func (s *Speaker) expect() Expect {
	e := ExpectFor(s.ours, s.conn.Unicast())
	e.Trusted, e.Own = s.trusted, s.own
	return e
}

// Run receives adverts until ctx is done.
func (s *Speaker) Run(ctx context.Context) error {
	s.mu.Lock()
	s.start = s.now()
	s.mu.Unlock()
	err := s.conn.Receive(ctx, s.expect(), s.table, nil)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close closes the socket.
func (s *Speaker) Close() error { return s.conn.Close() }

// ListenWindow is how long a starting node listens before it may hold the
// VIP: a VRRP backup's master-down interval at our priority, so a master
// already on the wire is heard first.
func (s *Speaker) ListenWindow() time.Duration {
	return MasterDownInterval(s.ours.Version, s.ours.Interval, s.ours.Priority)
}

// situation is the input of Decide as of now.
func (s *Speaker) situation(now time.Time) Situation {
	src, err := s.source()
	s.mu.Lock()
	defer s.mu.Unlock()
	return Situation{Now: now, Start: s.start, ListenWindow: s.ListenWindow(),
		Priority: s.ours.Priority, Source: src, SourceErr: err, Version: s.ours.Version,
		Routers: s.table.Routers(now), Own: s.own, Trusted: s.trusted,
		Advertising: !s.lastSent.IsZero() && now.Sub(s.lastSent) <= 2*s.ours.Interval,
		Bound:       s.boundOrDefault(), Allowance: s.allowance}
}

func (s *Speaker) boundOrDefault() time.Duration {
	if s.bound <= 0 {
		return DefaultUntrustedBlockMax
	}
	return s.bound
}

func (s *Speaker) logger() hclog.Logger {
	if s.log == nil {
		return hclog.NewNullLogger()
	}
	return s.log
}

// decide runs Decide and keeps the allowance it returns. Block and Yield
// both call it; the second call at the same instant changes nothing.
func (s *Speaker) decide(now time.Time) Verdict {
	v := Decide(s.situation(now))
	s.mu.Lock()
	// Only a step forward in time is kept: Block and Yield of an older
	// instant, racing with a newer one, must not undo its accounting.
	if !v.Allowance.Last.Before(s.allowance.Last) {
		s.allowance = v.Allowance
	}
	s.mu.Unlock()
	switch v.Event {
	case AllowanceExhausted:
		s.logger().Warn("untrusted VRRP master kept raftvip from the VIP for vrrp.untrusted_block_max; ignoring VRRP masters not in vrrp.trusted_routers until none has stood in the way for a while (list the keepalived routers in vrrp.trusted_routers to heed them without a limit)",
			"interface", s.iface, "source", v.Allowance.By, "untrusted_block_max", s.boundOrDefault(), "ignored_until_quiet_for", s.boundOrDefault()*RefillFactor)
	case AllowanceRestored:
		s.logger().Info("no untrusted VRRP master stood in the way for a while: heeding them again, within vrrp.untrusted_block_max", "interface", s.iface, "untrusted_block_max", s.boundOrDefault())
	}
	return v
}

// Block says why raftvip may not hold the VIP now ("" = it may): the listen
// window after start has not passed, or a live foreign master outranks us
// (see Decide).
func (s *Speaker) Block(now time.Time) string { return s.decide(now).Block }

// Yield names a foreign master that raftvip outranks but that advertised
// within the last 1.5 of its intervals: it still holds the VIP and must
// hear our advert (and turn backup) before we add it. "" when none.
func (s *Speaker) Yield(now time.Time) string { return s.decide(now).Yield }

// Send sends our advert (while holding the VIP, every interval).
func (s *Speaker) Send() error {
	err := s.conn.Send(s.ours)
	s.mu.Lock()
	if err == nil {
		s.sent++
		s.lastSent = s.now()
	}
	s.mu.Unlock()
	return err
}

// SendRelease sends our advert with priority 0: "master is giving up", so
// backups take over after their skew time instead of 3 intervals.
func (s *Speaker) SendRelease() error {
	err := s.conn.SendRelease(s.ours)
	if err == nil {
		s.mu.Lock()
		s.released++
		s.mu.Unlock()
	}
	return err
}

// Interval is our advert interval.
func (s *Speaker) Interval() time.Duration { return s.ours.Interval }

// SpeakerStatus is shown by `raftvip status`.
type SpeakerStatus struct {
	Interface string    `json:"interface"`
	Version   int       `json:"version"`
	VRID      uint8     `json:"virtual_router_id"`
	Priority  uint8     `json:"priority"`
	Unicast   bool      `json:"unicast"`
	Master    *Router   `json:"master,omitempty"` // foreign master on the wire, if any
	Routers   []Router  `json:"routers"`          // foreign routers (raftvip peers left out)
	Stats     Stats     `json:"stats"`
	Sent      uint64    `json:"adverts_sent"`
	Released  uint64    `json:"releases_sent"`
	LastSent  time.Time `json:"last_sent,omitempty"`
	// TrustedRouters is vrrp.trusted_routers: the keepalived routers
	// raftvip heeds. Empty: every router, within Untrusted's allowance.
	TrustedRouters []netip.Addr `json:"trusted_routers"`
	// Untrusted is the allowance of untrusted masters; nil when
	// TrustedRouters is set (then other routers' adverts are dropped).
	Untrusted *UntrustedStatus `json:"untrusted,omitempty"`
}

// UntrustedStatus shows how long untrusted VRRP masters may still keep
// raftvip from the VIP (durations as Go duration strings).
type UntrustedStatus struct {
	BlockMax  string     `json:"block_max"` // vrrp.untrusted_block_max
	Left      string     `json:"left"`      // 0s while exhausted
	Exhausted bool       `json:"exhausted"` // untrusted masters are ignored
	Since     time.Time  `json:"since,omitzero"`
	By        netip.Addr `json:"by,omitzero"` // the master in the way when it ran out
	// Ignored is the live untrusted master raftvip ignores now, if any.
	Ignored *netip.Addr `json:"ignored,omitempty"`
	// RefillIn is how long no untrusted master must stand in the way
	// before they are heeded again (while exhausted).
	RefillIn string `json:"refill_in,omitempty"`
}

// Status reports the table and counters. No password is included. It
// does not step the allowance: asking does not change the answer.
func (s *Speaker) Status(now time.Time) SpeakerStatus {
	sit := s.situation(now)
	st := SpeakerStatus{Interface: s.iface, Version: s.ours.Version, VRID: s.ours.VRID, Priority: s.ours.Priority,
		Unicast: s.unicast, Stats: s.table.Stats(), Routers: []Router{}, TrustedRouters: slices.Clone(s.trusted)}
	if st.TrustedRouters == nil {
		st.TrustedRouters = []netip.Addr{}
	}
	for _, r := range sit.Routers {
		if !sit.isOwn(r) {
			st.Routers = append(st.Routers, r)
		}
	}
	if m, ok := sit.foreignMaster(false); ok {
		st.Master = &m
	}
	if len(s.trusted) == 0 {
		v := Decide(sit)
		a := v.Allowance
		u := &UntrustedStatus{BlockMax: sit.Bound.String(), Left: a.Left(sit.Bound).Round(time.Millisecond).String(),
			Exhausted: a.Exhausted, Since: a.Since, By: a.By}
		if v.Ignored {
			src := v.Master.Source
			u.Ignored = &src
		}
		if a.Exhausted {
			u.RefillIn = (a.Used * RefillFactor).Round(time.Second).String()
		}
		st.Untrusted = u
	}
	s.mu.Lock()
	st.Sent, st.Released, st.LastSent = s.sent, s.released, s.lastSent
	s.mu.Unlock()
	return st
}
