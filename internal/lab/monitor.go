package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// VIPEvent is a change of one host's hold on the VIP as seen by netlink.
type VIPEvent struct {
	Time     time.Time
	Host     string
	Added    bool // RTM_NEWADDR; false: RTM_DELADDR (removed or expired)
	ValidLft int  // seconds left, as the kernel reported on add
	Initial  bool // from the dump taken when the monitor started
}

// Interval is a span during which a host held the VIP. To is zero while the
// host still holds it.
type Interval struct {
	Host     string
	From, To time.Time
}

// Monitor follows every host's netlink address events (one subscription per
// namespace) and records who held the VIP when, to the millisecond. Adds,
// renewals (RTM_NEWADDR again), deletions and kernel expiry of valid_lft
// (which the kernel reports as RTM_DELADDR) are all seen.
type Monitor struct {
	vip  net.IP
	log  hclog.Logger
	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	since    map[string]time.Time // hosts holding now -> since when
	closed   []Interval
	events   []VIPEvent
	renewals map[string]int
	// lifetimes is the valid_lft the kernel last reported per holder (on
	// an add or a renewal): raftvip adds the VIP with its lease, keepalived
	// forever, which tells the two apart on a host running both.
	lifetimes map[string]int
	errs      []error
	changed   chan struct{} // closed and replaced at every change
	stopOnce  sync.Once
}

// maxMonitorEvents bounds the event log of a long bench run.
const maxMonitorEvents = 100000

// StartMonitor subscribes to address events in each namespace (host name ->
// namespace name) and seeds its state from an initial dump of addresses.
func StartMonitor(namespaces map[string]string, vip string, log hclog.Logger) (*Monitor, error) {
	m, err := newMonitor(vip, log)
	if err != nil {
		return nil, err
	}
	for host, ns := range namespaces {
		if err := m.subscribe(host, ns); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// newMonitor makes a Monitor of vip that follows no namespace yet: it
// records what its subscriptions (or a group's, scaling.go) feed it.
func newMonitor(vip string, log hclog.Logger) (*Monitor, error) {
	ip := net.ParseIP(vip)
	if ip == nil {
		return nil, fmt.Errorf("monitor: bad VIP %q", vip)
	}
	return &Monitor{
		vip:      ip,
		log:      log.Named("monitor"),
		done:     make(chan struct{}),
		since:    map[string]time.Time{},
		renewals: map[string]int{},
		changed:  make(chan struct{}),
	}, nil
}

func (m *Monitor) subscribe(host, ns string) error {
	return subscribeAddrs(ns, m.done, &m.wg, func(u netlink.AddrUpdate, at time.Time, initial bool) {
		if u.LinkAddress.IP.Equal(m.vip) {
			m.record(host, u.NewAddr, u.ValidLft, at, initial)
		}
	}, func(err error) {
		m.mu.Lock()
		m.errs = append(m.errs, fmt.Errorf("monitor %s (%s): %w", host, ns, err))
		m.mu.Unlock()
	})
}

// subscribeAddrs calls fn, on one goroutine counted in wg, for every address
// event in namespace ns until done is closed, with the time it arrived and
// whether it came with the dump of the addresses present at the start;
// onErr receives the subscription's failures (for example a buffer
// overrun: events may have been missed).
func subscribeAddrs(ns string, done chan struct{}, wg *sync.WaitGroup, fn func(u netlink.AddrUpdate, at time.Time, initial bool), onErr func(error)) error {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("monitor: open namespace %s: %w", ns, err)
	}
	defer h.Close() // the socket stays in the namespace once created
	ch := make(chan netlink.AddrUpdate, 256)
	err = netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{
		Namespace:         &h,
		ListExisting:      true,
		ReceiveBufferSize: 1 << 20,
		ErrorCallback: func(err error) {
			select {
			case <-done: // closing the socket on shutdown ends Receive
				return
			default:
			}
			onErr(err)
		},
	})
	if err != nil {
		return fmt.Errorf("monitor: subscribe to addresses in %s: %w", ns, err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The dump (ListExisting) arrives first; until its end marker we
		// cannot tell it apart, so the first burst is tagged by time.
		start := time.Now()
		for u := range ch {
			fn(u, time.Now(), time.Since(start) < 50*time.Millisecond)
		}
	}()
	return nil
}

func (m *Monitor) record(host string, added bool, validLft int, t time.Time, initial bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, holding := m.since[host]
	if m.lifetimes == nil {
		m.lifetimes = map[string]int{}
	}
	if added {
		m.lifetimes[host] = validLft
	} else {
		delete(m.lifetimes, host)
	}
	switch {
	case added && holding:
		m.renewals[host]++
		return
	case !added && !holding:
		return
	case added:
		m.since[host] = t
	default:
		m.closed = append(m.closed, Interval{Host: host, From: m.since[host], To: t})
		delete(m.since, host)
	}
	if len(m.events) < maxMonitorEvents {
		m.events = append(m.events, VIPEvent{Time: t, Host: host, Added: added, ValidLft: validLft, Initial: initial})
	}
	if len(m.since) > 1 {
		m.log.Warn("VIP on more than one host", "holders", strings.Join(sortedKeys(m.since), ","))
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

// Close ends the subscriptions.
func (m *Monitor) Close() {
	m.stopOnce.Do(func() { close(m.done) })
	m.wg.Wait()
}

// Err reports subscription failures (for example a netlink buffer overrun):
// after one, the recorded timeline may miss events.
func (m *Monitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.errs...)
}

// Holders lists the hosts holding the VIP now, sorted.
func (m *Monitor) Holders() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sortedKeys(m.since)
}

// Holder returns the single current holder; ok is false when none or
// several hold the VIP.
func (m *Monitor) Holder() (host string, ok bool) {
	h := m.Holders()
	if len(h) != 1 {
		return "", false
	}
	return h[0], true
}

// Intervals returns every holding span seen, ordered by start; spans still
// open have a zero To.
func (m *Monitor) Intervals() []Interval {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]Interval(nil), m.closed...)
	for h, t := range m.since {
		out = append(out, Interval{Host: h, From: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out
}

// Events returns the recorded changes (acquire and loss), in order.
func (m *Monitor) Events() []VIPEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]VIPEvent(nil), m.events...)
}

// Renewals counts RTM_NEWADDR events for an address already held (lease
// renewals), per host.
func (m *Monitor) Renewals(host string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.renewals[host]
}

// Lifetime is the valid_lft the kernel reported when host last added or
// renewed the VIP: seconds, or forever (keepalived adds it that way; raftvip
// with its lease). ok is false when host does not hold the VIP.
func (m *Monitor) Lifetime(host string) (seconds int, forever, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, holding := m.since[host]; !holding {
		return 0, false, false
	}
	v := m.lifetimes[host]
	return v, v < 0 || uint32(v) == 0xffffffff, true
}

// MaxConcurrentHolders is the largest number of hosts that held the VIP at
// the same instant since the monitor started.
func (m *Monitor) MaxConcurrentHolders() int {
	n, _, _ := m.HolderCountsBetween(time.Time{}, time.Now().Add(time.Hour))
	return n
}

// HolderCountsBetween returns the largest number of simultaneous holders in
// [from, to], when that maximum was first reached, and the smallest number.
func (m *Monitor) HolderCountsBetween(from, to time.Time) (max int, maxAt time.Time, min int) {
	return holderCounts(m.Intervals(), from, to)
}

// Acquisitions lists holding spans of host that began at or after t.
func (m *Monitor) Acquisitions(host string, after time.Time) []Interval {
	var out []Interval
	for _, iv := range m.Intervals() {
		if iv.Host == host && !iv.From.Before(after) {
			out = append(out, iv)
		}
	}
	return out
}

// LastLoss returns when host last stopped holding the VIP.
func (m *Monitor) LastLoss(host string) (time.Time, bool) {
	var t time.Time
	for _, iv := range m.Intervals() {
		if iv.Host == host && !iv.To.IsZero() && iv.To.After(t) {
			t = iv.To
		}
	}
	return t, !t.IsZero()
}

// MoveAfter says when, after t0, the VIP first left from and first arrived
// on to (0: not seen).
func (m *Monitor) MoveAfter(t0 time.Time, from, to string) (gone, added time.Duration) {
	for _, iv := range m.Intervals() {
		if iv.Host == from && !iv.To.IsZero() && iv.To.After(t0) && gone == 0 {
			gone = iv.To.Sub(t0)
		}
		if iv.Host == to && iv.From.After(t0) && added == 0 {
			added = iv.From.Sub(t0)
		}
	}
	return gone, added
}

// WaitFor blocks until cond(holders) is true or ctx ends.
func (m *Monitor) WaitFor(ctx context.Context, cond func(holders []string) bool) ([]string, error) {
	for {
		m.mu.Lock()
		holders := sortedKeys(m.since)
		ch := m.changed
		m.mu.Unlock()
		if cond(holders) {
			return holders, nil
		}
		select {
		case <-ctx.Done():
			return holders, fmt.Errorf("VIP holders %v: %w", holders, ctx.Err())
		case <-ch:
		}
	}
}

// WaitHolder waits until exactly host holds the VIP.
func (m *Monitor) WaitHolder(ctx context.Context, host string) error {
	_, err := m.WaitFor(ctx, func(h []string) bool { return len(h) == 1 && h[0] == host })
	if err != nil {
		return fmt.Errorf("waiting for VIP on %s only: %w", host, err)
	}
	return nil
}

// WaitNotHolding waits until host no longer holds the VIP.
func (m *Monitor) WaitNotHolding(ctx context.Context, host string) error {
	_, err := m.WaitFor(ctx, func(h []string) bool {
		for _, x := range h {
			if x == host {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("waiting for VIP to leave %s: %w", host, err)
	}
	return nil
}

// WaitStableHolder waits until exactly one host has held the VIP, with no
// change at all, for stable; it returns that host.
func (m *Monitor) WaitStableHolder(ctx context.Context, stable time.Duration) (string, error) {
	for {
		m.mu.Lock()
		holders := sortedKeys(m.since)
		var since time.Time
		if len(holders) == 1 {
			since = m.since[holders[0]]
		}
		ch := m.changed
		m.mu.Unlock()
		wait := time.Hour
		if len(holders) == 1 {
			if d := time.Since(since); d >= stable {
				return holders[0], nil
			} else {
				wait = stable - d
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting %v for a single stable VIP holder (now %v): %w", stable, holders, ctx.Err())
		case <-ch:
		case <-time.After(wait):
		}
	}
}

// Timeline renders the recorded changes for humans and failure reports.
func (m *Monitor) Timeline() string {
	var b strings.Builder
	for _, e := range m.Events() {
		what := "lost VIP"
		if e.Added {
			what = fmt.Sprintf("acquired VIP (valid_lft %ds)", e.ValidLft)
			if e.ValidLft < 0 || uint32(e.ValidLft) == 0xffffffff {
				what = "acquired VIP (valid_lft forever)"
			}
		}
		if e.Initial {
			what += " [initial dump]"
		}
		fmt.Fprintf(&b, "%s %-8s %s\n", e.Time.Format(timeFmt), e.Host, what)
	}
	if err := m.Err(); err != nil {
		fmt.Fprintf(&b, "monitor errors: %v\n", err)
	}
	return b.String()
}

// holderCounts sweeps the intervals over [from, to] and returns the largest
// number of simultaneous holders (and when first reached) and the smallest.
// An interval ending at the instant another starts does not overlap it.
func holderCounts(ivs []Interval, from, to time.Time) (max int, maxAt time.Time, min int) {
	type point struct {
		t     time.Time
		delta int
	}
	var pts []point
	count := 0
	for _, iv := range ivs {
		end := iv.To
		if end.IsZero() || end.After(to) {
			end = to.Add(time.Nanosecond) // still open at the end of the window
		}
		if !end.After(from) || iv.From.After(to) {
			continue
		}
		if !iv.From.After(from) {
			count++ // held when the window opens
		} else {
			pts = append(pts, point{iv.From, +1})
		}
		if !end.After(to) {
			pts = append(pts, point{end, -1})
		}
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].t.Before(pts[j].t) })
	max, min, maxAt = count, count, from
	// Apply all changes at one instant together: a release and an acquire
	// in the same millisecond are neither an overlap nor a gap.
	for i := 0; i < len(pts); {
		j := i
		for ; j < len(pts) && pts[j].t.Equal(pts[i].t); j++ {
			count += pts[j].delta
		}
		if count > max {
			max, maxAt = count, pts[i].t
		}
		if count < min {
			min = count
		}
		i = j
	}
	return max, maxAt, min
}

func sortedKeys(m map[string]time.Time) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
