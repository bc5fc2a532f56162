package vrrpcompat

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"
)

const (
	// maxRouters bounds the table: sources are not authenticated (a
	// password in clear proves little), so a flood of forged sources must
	// not grow memory without limit. A real VRID has a handful of routers.
	maxRouters = 64
	// forgetAfter is how long an expired router stays listed (not live)
	// so that `status` can still say who was there a moment ago.
	forgetAfter = 5 * time.Minute
)

// Router is one foreign VRRP router heard for our virtual router, as shown
// by `raftvip status`.
type Router struct {
	Source    netip.Addr    `json:"source"`
	Version   int           `json:"version"`
	Priority  uint8         `json:"priority"`
	Interval  time.Duration `json:"-"` // JSON: "interval" as a Go duration string
	Addresses []netip.Addr  `json:"addresses"`
	FirstSeen time.Time     `json:"first_seen"`
	LastSeen  time.Time     `json:"last_seen"`
	Adverts   uint64        `json:"adverts"` // accepted adverts from this source
	// Mismatches are the differences from our configuration in its last
	// advert (see Check), rendered for people.
	Mismatches []string `json:"mismatches,omitempty"`
	// Live is true while the router is within its master-down interval
	// (3 × its interval + our skew time) of its last advert. Expires is
	// when that ends.
	Live    bool      `json:"live"`
	Expires time.Time `json:"expires"`
}

type routerJSON struct {
	routerAlias
	Interval string `json:"interval"`
}

type routerAlias Router

// MarshalJSON writes the interval as a duration string ("1s").
func (r Router) MarshalJSON() ([]byte, error) {
	return json.Marshal(routerJSON{routerAlias: routerAlias(r), Interval: r.Interval.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Router) UnmarshalJSON(b []byte) error {
	var j routerJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Router(j.routerAlias)
	if j.Interval != "" {
		d, err := time.ParseDuration(j.Interval)
		if err != nil {
			return fmt.Errorf("vrrp router %s: interval: %w", j.Source, err)
		}
		r.Interval = d
	}
	return nil
}

// Stats counts what the receiver did with the packets it read.
type Stats struct {
	Accepted uint64            `json:"accepted"`
	Dropped  map[Reason]uint64 `json:"dropped"`
}

// Table is the set of foreign VRRP routers heard for our virtual router,
// keyed by source address, with counters of accepted and dropped packets.
// It is safe for concurrent use. All methods take the current time as an
// argument so decisions can be tested without clocks.
type Table struct {
	priority uint8

	mu       sync.Mutex
	routers  map[netip.Addr]*Router
	accepted uint64
	dropped  map[Reason]uint64
}

// NewTable returns an empty table for a router that advertises with
// ourPriority. The priority sets the skew time in the liveness of foreign
// routers: like a VRRP backup of that priority, raftvip considers a silent
// master gone after 3 × its interval + SkewTime(ourPriority).
func NewTable(ourPriority uint8) *Table {
	return &Table{
		priority: ourPriority,
		routers:  map[netip.Addr]*Router{},
		dropped:  map[Reason]uint64{},
	}
}

// Observe records an accepted advert a from src received at now, with the
// mismatches Check reported. It returns the router's entry as it was before
// (zero Router if unknown) and whether it was live then, so the caller can
// log appearances and changes.
func (t *Table) Observe(now time.Time, src netip.Addr, a Advert, mm []Mismatch) (before Router, wasLive bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.accepted++
	t.forget(now)
	r, ok := t.routers[src]
	if ok {
		before = t.view(r, now)
		wasLive = before.Live
	} else {
		if len(t.routers) >= maxRouters {
			t.evictOldest()
		}
		r = &Router{Source: src, FirstSeen: now}
		t.routers[src] = r
	}
	r.Version = a.Version
	r.Priority = a.Priority
	r.Interval = a.Interval
	r.Addresses = slices.Clone(a.Addresses)
	r.LastSeen = now
	r.Adverts++
	r.Mismatches = nil
	for _, m := range mm {
		r.Mismatches = append(r.Mismatches, m.String())
	}
	return before, wasLive
}

// Drop counts a packet dropped for reason.
func (t *Table) Drop(reason Reason) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropped[reason]++
}

// Outranking returns the strongest live foreign router that beats us
// (ForeignWins) at our priority from ourAddr, if any. While there is one,
// raftvip must not hold the VIP.
func (t *Table) Outranking(now time.Time, ourAddr netip.Addr) (Router, bool) {
	m, ok := t.Master(now)
	if !ok || !ForeignWins(t.priority, ourAddr, m.Priority, m.Source) {
		return Router{}, false
	}
	return m, true
}

// Master returns the live foreign router that wins the election among the
// foreign routers (who is VRRP master on the wire, leaving us out), if any
// is live with a priority above 0.
func (t *Table) Master(now time.Time) (Router, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var best *Router
	for _, r := range t.routers {
		if r.Priority == 0 || !t.live(r, now) {
			continue
		}
		if best == nil || ForeignWins(best.Priority, best.Source, r.Priority, r.Source) {
			best = r
		}
	}
	if best == nil {
		return Router{}, false
	}
	return t.view(best, now), true
}

// Routers returns every router heard in the last minutes (live or not),
// sorted by source address, as of now.
func (t *Table) Routers(now time.Time) []Router {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forget(now)
	out := make([]Router, 0, len(t.routers))
	for _, r := range t.routers {
		out = append(out, t.view(r, now))
	}
	slices.SortFunc(out, func(a, b Router) int { return a.Source.Compare(b.Source) })
	return out
}

// Stats returns the packet counters.
func (t *Table) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{Accepted: t.accepted, Dropped: maps.Clone(t.dropped)}
}

func (t *Table) expires(r *Router) time.Time {
	return r.LastSeen.Add(MasterDownInterval(r.Version, r.Interval, t.priority))
}

func (t *Table) live(r *Router, now time.Time) bool {
	return now.Before(t.expires(r))
}

// view is a copy of r that shares nothing with the table.
func (t *Table) view(r *Router, now time.Time) Router {
	v := *r
	v.Addresses = slices.Clone(r.Addresses)
	v.Mismatches = slices.Clone(r.Mismatches)
	v.Expires = t.expires(r)
	v.Live = now.Before(v.Expires)
	return v
}

func (t *Table) forget(now time.Time) {
	for src, r := range t.routers {
		if now.Sub(t.expires(r)) > forgetAfter {
			delete(t.routers, src)
		}
	}
}

func (t *Table) evictOldest() {
	var oldest *Router
	for _, r := range t.routers {
		if oldest == nil || r.LastSeen.Before(oldest.LastSeen) {
			oldest = r
		}
	}
	if oldest != nil {
		delete(t.routers, oldest.Source)
	}
}
