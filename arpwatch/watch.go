package arpwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Conn is the network side of one round: one ARP socket on the watched
// interface.
type Conn interface {
	// Request sends one ARP request "who has ip".
	Request(ip netip.Addr) error
	// Receive returns the next ARP reply, or an error wrapping
	// os.ErrDeadlineExceeded once deadline has passed.
	Receive(deadline time.Time) (Answer, error)
	// HardwareAddr is this host's MAC on the interface: its own frames
	// are never counted as answers.
	HardwareAddr() net.HardwareAddr
	Close() error
}

// Answer is one ARP reply: MAC says it has IP.
type Answer struct {
	IP  netip.Addr
	MAC net.HardwareAddr
}

// Expectation is what the cluster says at the start of a round.
type Expectation struct {
	// Skip, when not "", is why this round is not judged: this node holds
	// the VIP, no leader is known, an epoch change is in progress.
	Skip string
	// Holder is the node the replicated state names ("" = nobody).
	Holder string
	// HolderMAC is the holder's interface MAC as it published it (nil:
	// not known).
	HolderMAC net.HardwareAddr
	// Epoch is the epoch of the replicated state: an alarm must persist
	// within one epoch.
	Epoch uint64
	// VRRP: this node runs with vrrp.mode observe or active (a migration
	// from keepalived), so keepalived may serve the VIP while raftvip
	// holds nothing (see Judge).
	VRRP bool
}

// Clock is the time the loop runs by (a fake in tests).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Defaults.
const (
	// MinInterval bounds the rate: one request per address per second.
	MinInterval = time.Second
	// DefaultWindow is how long a round waits for replies after its
	// requests: a host on the segment answers in well under a millisecond.
	DefaultWindow = 250 * time.Millisecond
	// DefaultConfirm is how many consecutive rounds within one epoch an
	// alarm must be seen before it is reported (docs/arpwatch.md).
	DefaultConfirm = 2
	// relog: how often a standing alarm is logged again.
	relog = time.Minute
	// maxAnswers bounds the replies one round reads (a flood of ARP
	// traffic must not keep the round busy).
	maxAnswers = 256
	// reopenEvery rounds a kept socket is opened anew: a changed source
	// address on the interface (chosen at open) is used within a minute
	// at the default interval, even when nothing failed.
	reopenEvery = 60
	// drainWait is how long a round reads what queued on the kept socket
	// since the last round (late replies, others' ARP traffic) before its
	// own requests: those are not answers to this round.
	drainWait = time.Millisecond
)

// Config is a Watcher's settings.
type Config struct {
	Interface string
	Addresses []netip.Addr
	Interval  time.Duration // at least MinInterval
	Window    time.Duration // default DefaultWindow; less than Interval
	Confirm   int           // default DefaultConfirm
	// Open opens the watcher's socket. It is kept between rounds (an
	// open was most of an idle db node's ARP-watch cost: an interface
	// lookup, its addresses, a socket and its filter, every second) and
	// opened again after any error, after reopenEvery rounds, and after
	// a round that was skipped, so an interface recreated or readdressed
	// is picked up within one of those.
	Open func() (Conn, error)
	// Expect says, at the start of each round, what the cluster expects.
	Expect func(ctx context.Context) Expectation
	Clock  Clock
	Log    hclog.Logger
}

// AddressReport is the watcher's view of one VIP address.
type AddressReport struct {
	Address string  `json:"address"`
	Verdict Verdict `json:"verdict"`
	// Answerers are the MACs that answered in the last judged round.
	Answerers []string `json:"answerers,omitempty"`
	Holder    string   `json:"holder,omitempty"`
	HolderMAC string   `json:"holder_mac,omitempty"`
	Detail    string   `json:"detail,omitempty"`
	// Rounds is how many consecutive rounds of this epoch had an alarm
	// verdict; Alarm is Rounds >= the confirm count, since Since.
	Rounds int       `json:"rounds,omitempty"`
	Alarm  bool      `json:"alarm"`
	Since  time.Time `json:"since,omitempty"`
	// ForeignAnswers counts the foreign MACs seen over all judged rounds
	// (one per MAC per round).
	ForeignAnswers uint64 `json:"foreign_answers"`
}

// Report is the watcher's state, for status and metrics.
type Report struct {
	Interface string          `json:"interface"`
	MAC       string          `json:"mac,omitempty"` // the asking node's own
	Interval  time.Duration   `json:"interval"`
	Checked   time.Time       `json:"checked,omitempty"` // start of the last round
	Skipped   string          `json:"skipped,omitempty"` // why the last round was not judged
	Error     string          `json:"error,omitempty"`   // why the last round could not ask
	Addresses []AddressReport `json:"addresses"`
}

// Alarms are the addresses with a confirmed alarm.
func (r Report) Alarms() []AddressReport {
	var out []AddressReport
	for _, a := range r.Addresses {
		if a.Alarm {
			out = append(out, a)
		}
	}
	return out
}

// Watcher asks, every interval, who answers ARP for each address.
type Watcher struct {
	cfg Config
	log hclog.Logger

	mu  sync.Mutex // guards rep (Report runs in other goroutines)
	rep Report

	// owned by the loop
	epoch     uint64
	holder    string
	judged    bool // a round was judged since the last skip
	logged    map[string]time.Time
	loggedSet map[string]string
	openErr   string
	conn      Conn // the kept socket, nil when closed
	connUsed  int  // rounds asked on conn
}

// New checks cfg and returns a watcher; Run starts it.
func New(cfg Config) (*Watcher, error) {
	if len(cfg.Addresses) == 0 {
		return nil, errors.New("arpwatch: no addresses to watch")
	}
	if cfg.Interval < MinInterval {
		return nil, fmt.Errorf("arpwatch: interval %s is below %s (one request per address per second at most)", cfg.Interval, MinInterval)
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Window >= cfg.Interval {
		return nil, fmt.Errorf("arpwatch: answer window %s must be shorter than the interval %s", cfg.Window, cfg.Interval)
	}
	if cfg.Confirm <= 0 {
		cfg.Confirm = DefaultConfirm
	}
	if cfg.Open == nil || cfg.Expect == nil {
		return nil, errors.New("arpwatch: Open and Expect are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	w := &Watcher{cfg: cfg, log: cfg.Log, logged: map[string]time.Time{}, loggedSet: map[string]string{}}
	w.rep = Report{Interface: cfg.Interface, Interval: cfg.Interval}
	for _, a := range cfg.Addresses {
		w.rep.Addresses = append(w.rep.Addresses, AddressReport{Address: a.String(), Verdict: Skipped})
	}
	return w, nil
}

// Report returns a copy of the watcher's state.
func (w *Watcher) Report() Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.rep
	r.Addresses = make([]AddressReport, len(w.rep.Addresses))
	for i, a := range w.rep.Addresses {
		a.Answerers = append([]string(nil), a.Answerers...)
		r.Addresses[i] = a
	}
	return r
}

// Run asks every interval until ctx ends. Rounds start at least Interval
// apart, whatever a round cost.
func (w *Watcher) Run(ctx context.Context) {
	defer w.closeConn()
	for {
		start := w.cfg.Clock.Now()
		w.round(ctx)
		wait := w.cfg.Interval - w.cfg.Clock.Now().Sub(start)
		if wait < 0 {
			wait = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-w.cfg.Clock.After(wait):
		}
	}
}

// round is one round: expectation, requests, replies, judgement.
func (w *Watcher) round(ctx context.Context) {
	now := w.cfg.Clock.Now()
	exp := w.cfg.Expect(ctx)
	if ctx.Err() != nil {
		return
	}
	if exp.Skip != "" {
		w.closeConn() // often for long (this node holds): no socket left queueing
		w.skip(now, exp.Skip)
		return
	}
	answers, own, err := w.ask(now)
	if err != nil {
		if w.openErr != err.Error() {
			w.log.Warn("cannot ask who answers ARP for the VIP", "interface", w.cfg.Interface, "error", err)
			w.openErr = err.Error()
		}
		w.mu.Lock()
		w.rep.Checked, w.rep.Skipped, w.rep.Error = now, "", err.Error()
		for i := range w.rep.Addresses {
			a := &w.rep.Addresses[i]
			a.Verdict, a.Detail, a.Rounds, a.Alarm, a.Since, a.Answerers = Failed, err.Error(), 0, false, time.Time{}, nil
		}
		w.mu.Unlock()
		w.judged = false
		return
	}
	if w.openErr != "" {
		w.log.Info("asking who answers ARP for the VIP again", "interface", w.cfg.Interface)
		w.openErr = ""
	}
	// An alarm must persist within one epoch and holder: a change starts
	// the count again.
	same := w.judged && exp.Epoch == w.epoch && exp.Holder == w.holder
	w.epoch, w.holder, w.judged = exp.Epoch, exp.Holder, true

	w.mu.Lock()
	defer w.mu.Unlock()
	w.rep.Checked, w.rep.Skipped, w.rep.Error = now, "", ""
	if own != nil {
		w.rep.MAC = own.String()
	}
	for i, ip := range w.cfg.Addresses {
		a := &w.rep.Addresses[i]
		j := Judge(answers[ip], exp)
		a.Verdict, a.Detail, a.Holder = j.Verdict, j.Detail, exp.Holder
		a.HolderMAC = ""
		if exp.HolderMAC != nil {
			a.HolderMAC = exp.HolderMAC.String()
		}
		a.Answerers = a.Answerers[:0]
		for _, m := range j.Answerers {
			a.Answerers = append(a.Answerers, m.String())
		}
		a.ForeignAnswers += uint64(len(j.Foreign))
		was := a.Alarm
		switch {
		case !j.Verdict.Alarm():
			a.Rounds = 0
		case same:
			a.Rounds++
		default:
			a.Rounds = 1
		}
		a.Alarm = a.Rounds >= w.cfg.Confirm
		switch {
		case a.Alarm && !was:
			a.Since = now
		case !a.Alarm:
			a.Since = time.Time{}
		}
		w.logAlarm(now, *a, was)
	}
}

// ask sends one request per address and collects the replies until the
// window ends, by address, without the asking node's own MAC.
func (w *Watcher) ask(now time.Time) (map[netip.Addr][]net.HardwareAddr, net.HardwareAddr, error) {
	if w.conn == nil {
		c, err := w.cfg.Open()
		if err != nil {
			return nil, nil, err
		}
		w.conn, w.connUsed = c, 0
	}
	c := w.conn
	w.connUsed++
	out, own, err := w.askOn(c, now)
	if err != nil || w.connUsed >= reopenEvery {
		w.closeConn()
	}
	return out, own, err
}

func (w *Watcher) closeConn() {
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
}

func (w *Watcher) askOn(c Conn, now time.Time) (map[netip.Addr][]net.HardwareAddr, net.HardwareAddr, error) {
	own := c.HardwareAddr()
	if w.connUsed > 1 {
		drainUntil := w.cfg.Clock.Now().Add(drainWait)
		for range maxAnswers {
			_, err := c.Receive(drainUntil)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return nil, own, fmt.Errorf("ARP replies on %s: %w", w.cfg.Interface, err)
			}
		}
	}
	for _, ip := range w.cfg.Addresses {
		if err := c.Request(ip); err != nil {
			return nil, own, fmt.Errorf("ARP request for %s on %s: %w", ip, w.cfg.Interface, err)
		}
	}
	watched := map[netip.Addr]bool{}
	for _, ip := range w.cfg.Addresses {
		watched[ip] = true
	}
	out := map[netip.Addr][]net.HardwareAddr{}
	deadline := now.Add(w.cfg.Window)
	for range maxAnswers {
		ans, err := c.Receive(deadline)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			return nil, own, fmt.Errorf("ARP replies on %s: %w", w.cfg.Interface, err)
		}
		if !watched[ans.IP] || bytes.Equal(own, ans.MAC) {
			continue
		}
		out[ans.IP] = append(out[ans.IP], ans.MAC)
	}
	return out, own, nil
}

// skip records a round that was not judged: every count starts again.
func (w *Watcher) skip(now time.Time, why string) {
	w.judged = false
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rep.Checked, w.rep.Skipped, w.rep.Error = now, why, ""
	for i := range w.rep.Addresses {
		a := &w.rep.Addresses[i]
		if a.Alarm {
			w.log.Info("ARP watch paused; the alarm is no longer reported", "address", a.Address, "why", why)
			delete(w.logged, a.Address)
		}
		a.Verdict, a.Detail, a.Rounds, a.Alarm, a.Since, a.Answerers = Skipped, why, 0, false, time.Time{}, nil
	}
}

// logAlarm logs a confirmed alarm when it starts, when its MACs change, and
// once a minute while it lasts; its end at INFO. Never more: one line per
// address per minute at most while nothing changes.
func (w *Watcher) logAlarm(now time.Time, a AddressReport, was bool) {
	set := fmt.Sprint(a.Answerers)
	switch {
	case a.Alarm:
		last, ok := w.logged[a.Address]
		if ok && w.loggedSet[a.Address] == set && now.Sub(last) < relog {
			return
		}
		w.logged[a.Address], w.loggedSet[a.Address] = now, set
		w.log.Error("VIP answered from outside raftvip's control", "address", a.Address, "verdict", string(a.Verdict),
			"answerers", a.Answerers, "holder", orNobody(a.Holder), "holder_mac", a.HolderMAC, "detail", a.Detail,
			"since", a.Since.Format(time.RFC3339))
	case was:
		delete(w.logged, a.Address)
		w.log.Info("VIP answered as expected again", "address", a.Address, "verdict", string(a.Verdict), "detail", a.Detail)
	}
}

func orNobody(s string) string {
	if s == "" {
		return "(nobody)"
	}
	return s
}
