package vrrpcompat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"
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

	mu       sync.Mutex
	lastSent time.Time
	sent     uint64
	released uint64
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
}

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
	return &Speaker{conn: c, table: NewTable(cfg.Ours.Priority), ours: cfg.Ours, own: slices.Clone(cfg.Own), start: time.Now(), now: time.Now,
		source: c.Source, iface: c.Interface(), unicast: c.Unicast()}
}

// Run receives adverts until ctx is done.
func (s *Speaker) Run(ctx context.Context) error {
	s.mu.Lock()
	s.start = s.now()
	s.mu.Unlock()
	err := s.conn.Receive(ctx, ExpectFor(s.ours, s.conn.Unicast()), s.table, nil)
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

// isOwn: the advert comes from a raftvip node (a peer's address, raftvip's
// priority), not from a keepalived.
func (s *Speaker) isOwn(r Router) bool {
	return slices.Contains(s.own, r.Source) && (r.Priority == s.ours.Priority || r.Priority == 0)
}

// foreignMaster is the live foreign master with a priority above 0, leaving
// out raftvip's own peers.
func (s *Speaker) foreignMaster(now time.Time) (Router, bool) {
	var best *Router
	routers := s.table.Routers(now)
	for i := range routers {
		r := &routers[i]
		if !r.Live || r.Priority == 0 || s.isOwn(*r) {
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

// Block says why raftvip may not hold the VIP now ("" = it may): the listen
// window after start has not passed, or a live foreign master outranks us.
func (s *Speaker) Block(now time.Time) string {
	s.mu.Lock()
	start := s.start
	s.mu.Unlock()
	if w := s.ListenWindow(); now.Sub(start) < w {
		return fmt.Sprintf("listening for VRRP masters for %s after start before taking the VIP", w.Round(time.Millisecond))
	}
	m, ok := s.foreignMaster(now)
	if !ok {
		return ""
	}
	src, err := s.source()
	if err != nil || ForeignWins(s.ours.Priority, src, m.Priority, m.Source) {
		return fmt.Sprintf("VRRP master %s (priority %d, VRRPv%d) outranks raftvip (priority %d)", m.Source, m.Priority, m.Version, s.ours.Priority)
	}
	return ""
}

// Yield names a foreign master that raftvip outranks but that advertised
// within the last 1.5 of its intervals: it still holds the VIP and must
// hear our advert (and turn backup) before we add it. "" when none.
func (s *Speaker) Yield(now time.Time) string {
	m, ok := s.foreignMaster(now)
	if !ok {
		return ""
	}
	if now.Sub(m.LastSeen) > m.Interval*3/2 {
		return ""
	}
	if src, err := s.source(); err != nil || ForeignWins(s.ours.Priority, src, m.Priority, m.Source) {
		return "" // it outranks us: Block says so
	}
	return m.Source.String()
}

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
}

// Status reports the table and counters. No password is included.
func (s *Speaker) Status(now time.Time) SpeakerStatus {
	st := SpeakerStatus{Interface: s.iface, Version: s.ours.Version, VRID: s.ours.VRID, Priority: s.ours.Priority,
		Unicast: s.unicast, Stats: s.table.Stats(), Routers: []Router{}}
	for _, r := range s.table.Routers(now) {
		if !s.isOwn(r) {
			st.Routers = append(st.Routers, r)
		}
	}
	if m, ok := s.foreignMaster(now); ok {
		st.Master = &m
	}
	s.mu.Lock()
	st.Sent, st.Released, st.LastSent = s.sent, s.released, s.lastSent
	s.mu.Unlock()
	return st
}
