package arpwatch

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// fakeClock is driven by the test: After registers a waiter and tells the
// test (waiting), Advance fires the waiters that are due.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []fakeTimer
	waiting chan time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), waiting: make(chan time.Duration, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	c.mu.Unlock()
	c.waiting <- d
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// fakeNet answers, for each address, with the MACs the test sets; it
// records every request, and the asking node's own MAC is among the
// answers too (its requests echoed back), as on a real packet socket.
type fakeNet struct {
	mu       sync.Mutex
	own      net.HardwareAddr
	answers  map[netip.Addr][]net.HardwareAddr
	requests map[netip.Addr]int
	openErr  error
	opens    int
	conns    []*fakeConn
	closed   int
}

func (n *fakeNet) set(ip netip.Addr, macs ...net.HardwareAddr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.answers[ip] = macs
}

func (n *fakeNet) open() (Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.openErr != nil {
		return nil, n.openErr
	}
	n.opens++
	c := &fakeConn{n: n}
	n.conns = append(n.conns, c)
	return c, nil
}

type fakeConn struct {
	n       *fakeNet
	pending []Answer
}

func (c *fakeConn) Request(ip netip.Addr) error {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	if c.n.openErr != nil {
		// The interface is gone: a kept socket fails too (ENXIO).
		return c.n.openErr
	}
	c.n.requests[ip]++
	c.pending = append(c.pending, Answer{IP: ip, MAC: c.n.own})
	for _, m := range c.n.answers[ip] {
		c.pending = append(c.pending, Answer{IP: ip, MAC: m})
	}
	return nil
}

func (c *fakeConn) Receive(time.Time) (Answer, error) {
	if len(c.pending) == 0 {
		return Answer{}, os.ErrDeadlineExceeded
	}
	a := c.pending[0]
	c.pending = c.pending[1:]
	return a, nil
}

func (c *fakeConn) HardwareAddr() net.HardwareAddr { return c.n.own }
func (c *fakeConn) Close() error {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	c.n.closed++
	return nil
}

// queue puts an answer on the newest socket as if it had arrived between
// rounds.
func (n *fakeNet) queue(a Answer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.conns[len(n.conns)-1]
	c.pending = append(c.pending, a)
}

// harness runs a watcher over the fakes; step lets one round run.
type harness struct {
	t     *testing.T
	clock *fakeClock
	net   *fakeNet
	w     *Watcher
	logs  *strings.Builder
	logMu *sync.Mutex

	mu  sync.Mutex
	exp Expectation
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

var vip1, vip2 = netip.MustParseAddr("10.99.0.100"), netip.MustParseAddr("10.99.0.101")

func newHarness(t *testing.T, addrs ...netip.Addr) *harness {
	h := &harness{t: t, clock: newFakeClock(), logs: &strings.Builder{}, logMu: &sync.Mutex{},
		net: &fakeNet{own: macK, answers: map[netip.Addr][]net.HardwareAddr{}, requests: map[netip.Addr]int{}}}
	log := hclog.New(&hclog.LoggerOptions{Output: lockedWriter{h.logMu, h.logs}, Level: hclog.Info})
	w, err := New(Config{Interface: "eth0", Addresses: addrs, Interval: time.Second, Open: h.net.open, Clock: h.clock, Log: log,
		Expect: func(context.Context) Expectation {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.exp
		}})
	if err != nil {
		t.Fatal(err)
	}
	h.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); h.clock.Advance(time.Hour); <-done })
	h.wait() // the first round ran at once
	return h
}

func (h *harness) expect(e Expectation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.exp = e
}

// wait returns once the loop has finished a round and waits for the next.
func (h *harness) wait() {
	h.t.Helper()
	select {
	case d := <-h.clock.waiting:
		if d != time.Second {
			h.t.Fatalf("the loop waits %s between rounds, want 1s", d)
		}
	case <-time.After(10 * time.Second):
		h.t.Fatal("the watcher did not finish a round")
	}
}

// step advances one interval and waits for that round to finish.
func (h *harness) step() Report {
	h.t.Helper()
	h.clock.Advance(time.Second)
	h.wait()
	return h.w.Report()
}

func (h *harness) log() string {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.logs.String()
}

func (h *harness) errorLines() int { return strings.Count(h.log(), "[ERROR]") }

func TestWatcherAlarmNeedsTwoRounds(t *testing.T) {
	h := newHarness(t, vip1)
	h.expect(Expectation{Holder: "a", HolderMAC: macA, Epoch: 3})
	h.net.set(vip1, macA)
	if r := h.step(); r.Addresses[0].Verdict != OK || r.Addresses[0].Alarm {
		t.Fatalf("holder alone: %+v", r.Addresses[0])
	}
	if r := h.w.Report(); r.MAC != macK.String() || len(r.Addresses[0].Answerers) != 1 {
		t.Fatalf("own MAC %q, answerers %v: the asking node's own MAC must be left out", r.MAC, r.Addresses[0].Answerers)
	}

	h.net.set(vip1, macA, macB) // a second host takes the address
	r := h.step()
	a := r.Addresses[0]
	if a.Verdict != TwoHolders || a.Alarm || a.Rounds != 1 {
		t.Fatalf("first round with two MACs must not alarm yet: %+v", a)
	}
	if h.errorLines() != 0 {
		t.Fatalf("ERROR logged after one round:\n%s", h.log())
	}
	a = h.step().Addresses[0]
	if a.Verdict != TwoHolders || !a.Alarm || a.Rounds != 2 || a.Since.IsZero() {
		t.Fatalf("second round with two MACs must alarm: %+v", a)
	}
	if len(h.w.Report().Alarms()) != 1 {
		t.Fatal("Alarms() does not list it")
	}
	if got := strings.Join(a.Answerers, ","); got != macA.String()+","+macB.String() {
		t.Errorf("answerers %s", got)
	}
	if a.ForeignAnswers != 2 {
		t.Errorf("foreign answers %d, want 2 (macB in two rounds)", a.ForeignAnswers)
	}
	if n := h.errorLines(); n != 1 || !strings.Contains(h.log(), macB.String()) || !strings.Contains(h.log(), "10.99.0.100") {
		t.Fatalf("want one ERROR naming the address and the foreign MAC, got %d:\n%s", n, h.log())
	}
	// It lasts: no log storm, one line a minute.
	for range 30 {
		h.step()
	}
	if n := h.errorLines(); n != 1 {
		t.Fatalf("%d ERROR lines after 30 more rounds of the same alarm, want 1:\n%s", n, h.log())
	}
	for range 30 {
		h.step()
	}
	if n := h.errorLines(); n != 2 {
		t.Fatalf("%d ERROR lines after a minute of the same alarm, want 2", n)
	}
	if h.net.requests[vip1] != 64 {
		t.Errorf("%d requests in 64 rounds, want one per round", h.net.requests[vip1])
	}

	h.net.set(vip1, macA) // removed again
	a = h.step().Addresses[0]
	if a.Verdict != OK || a.Alarm || a.Rounds != 0 || !a.Since.IsZero() {
		t.Fatalf("after the second host let go: %+v", a)
	}
	if !strings.Contains(h.log(), "VIP answered as expected again") {
		t.Errorf("the end of the alarm is not logged:\n%s", h.log())
	}
}

func TestWatcherForeignAndNobody(t *testing.T) {
	h := newHarness(t, vip1, vip2)
	h.expect(Expectation{Holder: "a", HolderMAC: macA, Epoch: 3})
	h.net.set(vip1, macA)
	h.net.set(vip2, macB) // a host configured with the second address by hand
	h.step()
	r := h.step()
	if a := r.Addresses[0]; a.Verdict != OK || a.Alarm {
		t.Errorf("%s: %+v", a.Address, a)
	}
	if a := r.Addresses[1]; a.Verdict != Foreign || !a.Alarm || a.Address != "10.99.0.101" {
		t.Errorf("%s: %+v", a.Address, a)
	}

	// Nobody holds the VIP: any answer is foreign.
	h.expect(Expectation{Holder: "", Epoch: 4})
	h.net.set(vip2)
	r = h.step()
	if a := r.Addresses[0]; a.Verdict != Foreign || a.Alarm {
		t.Errorf("nobody holds, a answers, first round of epoch 4: %+v", a)
	}
	if a := r.Addresses[1]; a.Verdict != Silent || a.Alarm {
		t.Errorf("nobody answers: %+v", a)
	}
	if a := h.step().Addresses[0]; !a.Alarm || !strings.Contains(a.Detail, "nobody holds") {
		t.Errorf("nobody holds, a answers, second round: %+v", a)
	}
}

// An overlap during a failover: the old and the new holder answer in one
// round, the epoch changes under it, then only the new one answers. Nothing
// is reported, and rounds the agent skips (an epoch change in progress)
// count for nothing.
func TestWatcherFailoverOverlapIsNoAlarm(t *testing.T) {
	h := newHarness(t, vip1)
	h.expect(Expectation{Holder: "a", HolderMAC: macA, Epoch: 3})
	h.net.set(vip1, macA)
	h.step()
	h.net.set(vip1, macA, macB) // b already answers, a not gone yet
	if a := h.step().Addresses[0]; a.Rounds != 1 || a.Alarm {
		t.Fatalf("%+v", a)
	}
	h.expect(Expectation{Skip: "epoch change in progress"})
	r := h.step()
	if a := r.Addresses[0]; a.Verdict != Skipped || a.Rounds != 0 || r.Skipped != "epoch change in progress" {
		t.Fatalf("skipped round: %+v %q", a, r.Skipped)
	}
	if h.net.requests[vip1] != 3 {
		t.Errorf("%d requests: a skipped round must not ask", h.net.requests[vip1])
	}
	h.expect(Expectation{Holder: "b", HolderMAC: macB, Epoch: 4})
	if a := h.step().Addresses[0]; a.Rounds != 1 || a.Alarm {
		t.Fatalf("a still answers in the first round of epoch 4: one round, no alarm: %+v", a)
	}
	h.net.set(vip1, macB)
	if a := h.step().Addresses[0]; a.Verdict != OK || a.Alarm {
		t.Fatalf("%+v", a)
	}
	// The epoch changes between two alarm rounds: the count starts again.
	h.net.set(vip1, macA, macB)
	h.step()
	h.expect(Expectation{Holder: "b", HolderMAC: macB, Epoch: 5})
	if a := h.step().Addresses[0]; a.Rounds != 1 || a.Alarm {
		t.Fatalf("new epoch: %+v", a)
	}
	if h.errorLines() != 0 {
		t.Fatalf("ERROR logged:\n%s", h.log())
	}
}

func TestWatcherOpenErrorLoggedOnce(t *testing.T) {
	h := newHarness(t, vip1)
	h.expect(Expectation{Holder: "a", HolderMAC: macA, Epoch: 3})
	h.net.mu.Lock()
	h.net.openErr = errors.New("no such interface")
	h.net.mu.Unlock()
	for range 5 {
		if r := h.step(); r.Error == "" || r.Addresses[0].Verdict != Failed {
			t.Fatalf("%+v", r)
		}
	}
	// One WARN when the kept socket fails, one when opening a new one
	// fails; then nothing more while the error lasts.
	if n := strings.Count(h.log(), "[WARN]"); n != 2 {
		t.Fatalf("%d WARN lines for one lasting error over 5 rounds, want 2 (the kept socket, then the open):\n%s", n, h.log())
	}
	h.net.mu.Lock()
	h.net.openErr = nil
	h.net.mu.Unlock()
	h.net.set(vip1, macA)
	if r := h.step(); r.Error != "" || r.Addresses[0].Verdict != OK {
		t.Fatalf("%+v", r)
	}
}

func TestNewRefusesFastInterval(t *testing.T) {
	_, err := New(Config{Addresses: []netip.Addr{vip1}, Interval: 500 * time.Millisecond,
		Open: func() (Conn, error) { return nil, nil }, Expect: func(context.Context) Expectation { return Expectation{} }})
	if err == nil || !strings.Contains(err.Error(), "below 1s") {
		t.Fatalf("err %v", err)
	}
}

// The socket is kept between rounds (opening one was most of the watch's
// idle cost), what queued on it between rounds is not counted as an
// answer, it is opened anew after reopenEvery rounds and after an error,
// and closed while rounds are skipped.
func TestWatcherKeepsItsSocket(t *testing.T) {
	h := newHarness(t, vip1)
	h.expect(Expectation{Holder: "a", HolderMAC: macA, Epoch: 3})
	h.net.set(vip1, macA)
	for range 5 {
		if r := h.step(); r.Addresses[0].Verdict != OK {
			t.Fatalf("%+v", r)
		}
	}
	h.net.mu.Lock()
	opens := h.net.opens
	h.net.mu.Unlock()
	if opens != 1 {
		t.Fatalf("%d sockets opened for 6 rounds, want 1 kept", opens)
	}
	// A foreign answer that arrived between rounds (late, or anybody's
	// ARP traffic) is drained, not judged as this round's.
	for range 3 {
		h.net.queue(Answer{IP: vip1, MAC: macB})
		if r := h.step(); r.Addresses[0].Verdict != OK || r.Addresses[0].ForeignAnswers != 0 {
			t.Fatalf("a reply queued before the round was counted: %+v", r.Addresses[0])
		}
	}
	// An error closes the socket; the next round opens a new one.
	h.net.mu.Lock()
	h.net.openErr = errors.New("no such device")
	h.net.mu.Unlock()
	if r := h.step(); r.Error == "" {
		t.Fatalf("a failing socket was not reported: %+v", r)
	}
	h.net.mu.Lock()
	h.net.openErr = nil
	h.net.mu.Unlock()
	if r := h.step(); r.Error != "" || r.Addresses[0].Verdict != OK {
		t.Fatalf("%+v", r)
	}
	h.net.mu.Lock()
	opens, closed := h.net.opens, h.net.closed
	h.net.mu.Unlock()
	if opens != 2 || closed != 1 {
		t.Fatalf("after an error: %d opened, %d closed; want 2 and 1", opens, closed)
	}
	for range reopenEvery {
		h.step()
	}
	h.net.mu.Lock()
	opens = h.net.opens
	h.net.mu.Unlock()
	if opens != 3 {
		t.Fatalf("%d sockets opened after %d more rounds, want a new one every %d", opens, reopenEvery, reopenEvery)
	}
	h.expect(Expectation{Skip: "this node holds the VIP"})
	h.step()
	h.net.mu.Lock()
	opens, closed = h.net.opens, h.net.closed
	h.net.mu.Unlock()
	if closed != opens {
		t.Fatalf("a skipped round left a socket open: %d opened, %d closed", opens, closed)
	}
}
