// Package viptest provides recording fakes of vip.Addresser and
// vip.Announcer for unit tests of other packages: no root, no kernel.
//
// Several nodes' fakes share one Timeline, which records what every node did
// and when, so a test can ask who held the VIP at a given instant and whether
// two nodes ever held it at once. The fake Addresser simulates the kernel
// lifetime: an address whose lease ran out is gone, and an "expire" event is
// recorded at the instant it ran out. Expiry is computed lazily when the
// timeline is next looked at, so no goroutine or timer is involved.
package viptest

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/raftvip/raftvip/vip"
)

// Event operations.
const (
	OpAcquire  = "acquire"
	OpRenew    = "renew"
	OpRelease  = "release"
	OpExpire   = "expire"
	OpAnnounce = "announce"
)

// Event is one thing that happened to a node's fake address.
type Event struct {
	Time time.Time
	Node string
	Op   string // OpAcquire, OpRenew, OpRelease, OpExpire or OpAnnounce
	// Lease is the lifetime given to acquire/renew, and for expire the
	// lifetime that ran out; zero otherwise.
	Lease time.Duration
}

// Timeline is the shared record of all nodes' fakes. It is safe for
// concurrent use.
type Timeline struct {
	now func() time.Time

	mu         sync.Mutex
	events     []Event // in recording order; Events sorts by time
	addressers map[string]*FakeAddresser
	announcers map[string]*FakeAnnouncer
}

// NewTimeline returns an empty timeline on the wall clock.
func NewTimeline() *Timeline { return NewTimelineClock(time.Now) }

// NewTimelineClock returns an empty timeline that reads time from now, so a
// test can drive expiry with a manual clock instead of sleeping.
func NewTimelineClock(now func() time.Time) *Timeline {
	return &Timeline{
		now:        now,
		addressers: map[string]*FakeAddresser{},
		announcers: map[string]*FakeAnnouncer{},
	}
}

// Addresser returns node's fake address. Asking again for the same node
// returns the same fake, the way a restarted agent finds the kernel state its
// predecessor left.
func (t *Timeline) Addresser(node string) *FakeAddresser {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.addressers[node]
	if !ok {
		a = &FakeAddresser{tl: t, node: node}
		t.addressers[node] = a
	}
	return a
}

// Announcer returns node's fake announcer (the same one for the same node).
func (t *Timeline) Announcer(node string) *FakeAnnouncer {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.announcers[node]
	if !ok {
		a = &FakeAnnouncer{tl: t, node: node}
		t.announcers[node] = a
	}
	return a
}

// Events returns a copy of everything recorded so far, including expiries
// that have already happened, in time order (ties in recording order).
func (t *Timeline) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settleLocked(t.now())
	return t.sortedLocked()
}

// Holders returns the nodes, sorted, whose fake address was present at the
// instant at: acquired or renewed at or before it, and neither released nor
// expired by then. An instant in the future is answered from the current
// leases, as if nobody did anything until then.
func (t *Timeline) Holders(at time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settleLocked(t.now())
	var out []string
	for _, iv := range t.intervalsLocked() {
		if !at.Before(iv.start) && at.Before(iv.end) {
			out = append(out, iv.node)
		}
	}
	sort.Strings(out)
	return out
}

// MaxConcurrentHolders returns the largest number of nodes that held the
// address at the same instant over the whole timeline, taking expiry into
// account. A safe system never exceeds 1.
func (t *Timeline) MaxConcurrentHolders() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settleLocked(t.now())
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, iv := range t.intervalsLocked() {
		edges = append(edges, edge{iv.start, +1}, edge{iv.end, -1})
	}
	// Intervals are half-open: at an instant where one node's address goes
	// away and another's appears, they were not both present.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	cur, peak := 0, 0
	for _, e := range edges {
		cur += e.delta
		peak = max(peak, cur)
	}
	return peak
}

// interval is a half-open span [start, end) during which node held its address.
type interval struct {
	node       string
	start, end time.Time
}

// intervalsLocked replays the events into holding intervals. Non-empty
// intervals only: an acquire and release at the same instant held nothing.
func (t *Timeline) intervalsLocked() []interval {
	type state struct {
		holding bool
		start   time.Time
		expires time.Time
	}
	states := map[string]*state{}
	var out []interval
	closeAt := func(node string, s *state, end time.Time) {
		if s.holding && s.start.Before(end) {
			out = append(out, interval{node, s.start, end})
		}
		s.holding = false
	}
	for _, e := range t.sortedLocked() {
		s := states[e.Node]
		if s == nil {
			s = &state{}
			states[e.Node] = s
		}
		switch e.Op {
		case OpAcquire, OpRenew:
			if !s.holding {
				s.holding, s.start = true, e.Time
			}
			s.expires = e.Time.Add(e.Lease)
		case OpRelease, OpExpire:
			closeAt(e.Node, s, e.Time)
		}
	}
	for node, s := range states {
		// Still held: it will last until its lease runs out.
		closeAt(node, s, s.expires)
	}
	return out
}

func (t *Timeline) sortedLocked() []Event {
	out := slices.Clone(t.events)
	slices.SortStableFunc(out, func(a, b Event) int { return a.Time.Compare(b.Time) })
	return out
}

// settleLocked records the expiry of every address whose lease ran out at or
// before now, at the instant it ran out, like the kernel removing it.
func (t *Timeline) settleLocked(now time.Time) {
	for _, a := range t.addressers {
		a.settleLocked(now)
	}
}

func (t *Timeline) recordLocked(e Event) { t.events = append(t.events, e) }

// FakeAddresser is one node's fake vip.Addresser.
type FakeAddresser struct {
	tl   *Timeline
	node string

	// Guarded by tl.mu.
	held        bool
	expires     time.Time
	lease       time.Duration
	failNext    error
	failAll     error         // every call fails while set (FailAll)
	failRelease error         // every Release fails while set (FailRelease)
	partialNext error         // the next Acquire adds, then returns this (PartialNext)
	delay       time.Duration // Acquire and Renew take this long (Delay)
}

// FailRelease makes every Release fail with err until FailRelease(nil),
// while Acquire and Renew keep working: an address that cannot be removed.
func (a *FakeAddresser) FailRelease(err error) {
	a.tl.mu.Lock()
	defer a.tl.mu.Unlock()
	a.failRelease = err
}

// PartialNext makes the next Acquire add the address and then return err,
// like a group of addresses of which only the first could be added.
func (a *FakeAddresser) PartialNext(err error) {
	a.tl.mu.Lock()
	defer a.tl.mu.Unlock()
	a.partialNext = err
}

// Delay makes Acquire and Renew take d before the address (and its
// lifetime) takes effect, like a netlink call processed late under CPU or
// RTNL contention.
func (a *FakeAddresser) Delay(d time.Duration) {
	a.tl.mu.Lock()
	defer a.tl.mu.Unlock()
	a.delay = d
}

var _ vip.Addresser = (*FakeAddresser)(nil)

// FailNext makes the next Acquire, Renew, Release or Held return err without
// doing or recording anything, like a failed netlink call.
func (a *FakeAddresser) FailNext(err error) {
	a.tl.mu.Lock()
	defer a.tl.mu.Unlock()
	a.failNext = err
}

// Acquire adds the fake address with the given lifetime.
func (a *FakeAddresser) Acquire(lease time.Duration) error { return a.replace(OpAcquire, lease) }

// Renew is Acquire recorded as "renew": like the kernel's replace, it also
// re-adds an address that already expired.
func (a *FakeAddresser) Renew(lease time.Duration) error { return a.replace(OpRenew, lease) }

func (a *FakeAddresser) replace(op string, lease time.Duration) error {
	// Same validation as the real Addresser, so fake-based tests catch leases
	// the kernel path would refuse.
	if _, err := vip.LeaseSeconds(lease); err != nil {
		return err
	}
	a.tl.mu.Lock()
	d := a.delay
	a.tl.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
	a.tl.mu.Lock()
	defer a.tl.mu.Unlock()
	if err := a.takeFailLocked(); err != nil {
		return err
	}
	now := a.tl.now()
	a.settleLocked(now)
	a.held, a.expires, a.lease = true, now.Add(lease), lease
	a.tl.recordLocked(Event{Time: now, Node: a.node, Op: op, Lease: lease})
	if op == OpAcquire && a.partialNext != nil {
		err := a.partialNext
		a.partialNext = nil
		return err
	}
	return nil
}

// Release removes the fake address; releasing an absent one is fine and is
// still recorded.
func (a *FakeAddresser) Release() error {
	a.tl.mu.Lock()
	defer a.tl.mu.Unlock()
	if err := a.takeFailLocked(); err != nil {
		return err
	}
	if a.failRelease != nil {
		return a.failRelease
	}
	now := a.tl.now()
	a.settleLocked(now)
	a.held = false
	a.tl.recordLocked(Event{Time: now, Node: a.node, Op: OpRelease})
	return nil
}

// Held reports whether the fake address is present now (lease not run out).
func (a *FakeAddresser) Held() (bool, error) {
	a.tl.mu.Lock()
	defer a.tl.mu.Unlock()
	if err := a.takeFailLocked(); err != nil {
		return false, err
	}
	a.settleLocked(a.tl.now())
	return a.held, nil
}

func (a *FakeAddresser) takeFailLocked() error {
	if a.failAll != nil {
		return a.failAll
	}
	err := a.failNext
	a.failNext = nil
	return err
}

// FailAll makes every call fail with err until FailAll(nil): a broken
// interface rather than one failed call.
func (a *FakeAddresser) FailAll(err error) {
	a.tl.mu.Lock()
	defer a.tl.mu.Unlock()
	a.failAll = err
}

func (a *FakeAddresser) settleLocked(now time.Time) {
	if a.held && !a.expires.After(now) {
		a.held = false
		a.tl.recordLocked(Event{Time: a.expires, Node: a.node, Op: OpExpire, Lease: a.lease})
	}
}

// FakeAnnouncer is one node's fake vip.Announcer. It records an "announce"
// event immediately instead of sending rounds over time.
type FakeAnnouncer struct {
	tl   *Timeline
	node string

	failNext error // guarded by tl.mu
}

var _ vip.Announcer = (*FakeAnnouncer)(nil)

// FailNext makes the next Announce return err without recording anything.
func (a *FakeAnnouncer) FailNext(err error) {
	a.tl.mu.Lock()
	defer a.tl.mu.Unlock()
	a.failNext = err
}

// Announce records an "announce" event, or returns ctx.Err() if ctx is done.
func (a *FakeAnnouncer) Announce(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.tl.mu.Lock()
	if err := a.failNext; err != nil {
		a.failNext = nil
		a.tl.mu.Unlock()
		return err
	}
	now := a.tl.now()
	a.tl.settleLocked(now)
	a.tl.recordLocked(Event{Time: now, Node: a.node, Op: OpAnnounce})
	a.tl.mu.Unlock()
	vip.FirstSent(ctx, now) // unlocked: the callback may read the timeline's clock
	return nil
}
