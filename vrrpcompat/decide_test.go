package vrrpcompat

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

var (
	dKA    = netip.MustParseAddr("10.99.0.14")  // a keepalived router
	dForge = netip.MustParseAddr("10.99.0.100") // a client host forging adverts
	dPeer  = netip.MustParseAddr("10.99.0.12")  // a raftvip peer
	dUs    = netip.MustParseAddr("10.99.0.11")  // our advert's source
)

func TestCheckSource(t *testing.T) {
	trusted := Expect{Trusted: []netip.Addr{dKA}, Own: []netip.Addr{dPeer, dUs}, Priority: 250}
	cases := []struct {
		name string
		src  netip.Addr
		prio uint8
		want Expect
		ok   bool
	}{
		{"no list: anyone", dForge, 254, Expect{Priority: 250}, true},
		{"listed keepalived", dKA, 254, trusted, true},
		{"listed keepalived giving up", dKA, 0, trusted, true},
		{"forged from a client host", dForge, 254, trusted, false},
		{"forged weaker master from a client host", dForge, 100, trusted, false},
		{"forged priority 0 from a client host", dForge, 0, trusted, false},
		{"raftvip peer's own advert", dPeer, 250, trusted, true},
		{"raftvip peer's own priority-0 advert", dPeer, 0, trusted, true},
		{"keepalived beside raftvip on a peer host, not listed", dPeer, 101, trusted, false},
		{"keepalived beside raftvip on a peer host, listed", dPeer, 101, Expect{Trusted: []netip.Addr{dKA, dPeer}, Own: []netip.Addr{dPeer}, Priority: 250}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := spkAdvert(c.prio)
			err := CheckSource(c.src, a, c.want)
			if (err == nil) != c.ok {
				t.Fatalf("CheckSource(%s, priority %d) = %v, want ok=%v", c.src, c.prio, err, c.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrUntrusted) || ReasonOf(err) != ReasonUntrusted {
					t.Errorf("error %v counts as %s, want %s", err, ReasonOf(err), ReasonUntrusted)
				}
				if !strings.Contains(err.Error(), c.src.String()) {
					t.Errorf("error %q does not name the source", err)
				}
			}
		})
	}
}

// TestAllowanceStep: time in the way is spent, time out of it refills at
// 1/RefillFactor; once used up it must be full again before it is spent.
func TestAllowanceStep(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	const bound = 30 * time.Second
	type step struct {
		at    time.Duration // since t0
		inWay bool
		used  time.Duration
		exh   bool
		ev    AllowanceEvent
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"first step spends nothing", []step{{0, true, 0, false, AllowanceSame}}},
		{"in the way 29s: not yet", []step{{0, true, 0, false, AllowanceSame}, {29 * time.Second, true, 29 * time.Second, false, AllowanceSame}}},
		{"in the way 30s: exhausted", []step{{0, true, 0, false, AllowanceSame}, {10 * time.Second, true, 10 * time.Second, false, AllowanceSame},
			{30 * time.Second, true, bound, true, AllowanceExhausted}, {40 * time.Second, true, bound, true, AllowanceSame}}},
		{"out of the way refills at a tenth", []step{{0, true, 0, false, AllowanceSame}, {20 * time.Second, true, 20 * time.Second, false, AllowanceSame},
			{120 * time.Second, false, 10 * time.Second, false, AllowanceSame}}},
		{"refill never below zero", []step{{0, true, 0, false, AllowanceSame}, {time.Second, true, time.Second, false, AllowanceSame},
			{time.Hour, false, 0, false, AllowanceSame}}},
		// An attacker pausing between forgeries does not start afresh:
		// 20s, a 4s pause (0.4s back), 20s more runs it out.
		{"short pauses do not reset it", []step{{0, true, 0, false, AllowanceSame}, {20 * time.Second, true, 20 * time.Second, false, AllowanceSame},
			{24 * time.Second, false, 19600 * time.Millisecond, false, AllowanceSame}, {34 * time.Second, true, 29600 * time.Millisecond, false, AllowanceSame},
			{35 * time.Second, true, bound, true, AllowanceExhausted}}},
		// Once used up, a short quiet spell does not make untrusted
		// masters count again (no flapping): only a full refill does.
		{"exhausted until full again", []step{{0, true, 0, false, AllowanceSame}, {30 * time.Second, true, bound, true, AllowanceExhausted},
			{60 * time.Second, false, 27 * time.Second, true, AllowanceSame}, {61 * time.Second, true, 28 * time.Second, true, AllowanceSame},
			{341 * time.Second, false, 0, false, AllowanceRestored}}},
		{"time going back spends nothing", []step{{10 * time.Second, true, 0, false, AllowanceSame}, {5 * time.Second, true, 0, false, AllowanceSame},
			{11 * time.Second, true, time.Second, false, AllowanceSame}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var a Allowance
			for i, s := range c.steps {
				var ev AllowanceEvent
				a, ev = a.Step(t0.Add(s.at), s.inWay, dForge, bound)
				if a.Used != s.used || a.Exhausted != s.exh || ev != s.ev {
					t.Fatalf("step %d (+%s, in the way %v): used %s exhausted %v event %d; want %s %v %d", i, s.at, s.inWay, a.Used, a.Exhausted, ev, s.used, s.exh, s.ev)
				}
				if a.Exhausted && (a.By != dForge || a.Since.IsZero() || a.Left(bound) != 0) {
					t.Fatalf("step %d: exhausted allowance %+v does not say by whom and since when", i, a)
				}
			}
		})
	}
}

// TestDecide: which master blocks raftvip or is waited for, trusted or not,
// within the allowance or past it.
func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	now := t0.Add(time.Minute)
	router := func(src netip.Addr, prio uint8, ago time.Duration) Router {
		last := now.Add(-ago)
		exp := last.Add(MasterDownInterval(2, time.Second, 250))
		return Router{Source: src, Version: 2, Priority: prio, Interval: time.Second, LastSeen: last, Live: now.Before(exp), Expires: exp}
	}
	exhausted := Allowance{Used: 30 * time.Second, Exhausted: true, Since: now.Add(-10 * time.Second), By: dForge, Last: now.Add(-100 * time.Millisecond)}
	nearly := Allowance{Used: 30*time.Second - 50*time.Millisecond, Last: now.Add(-100 * time.Millisecond)}
	cases := []struct {
		name        string
		routers     []Router
		trusted     []netip.Addr
		advertising bool
		allowance   Allowance
		srcErr      error
		block       string // fragment; "" = may hold
		notBlock    string // must not be in Block
		yield       string
		ignored     bool
		used        time.Duration // allowance after
	}{
		{"nobody", nil, nil, false, Allowance{}, nil, "", "", "", false, 0},
		{"trusted keepalived outranks: no limit", []Router{router(dKA, 254, 100*time.Millisecond)}, []netip.Addr{dKA}, false, exhausted, nil,
			"VRRP master 10.99.0.14 (priority 254, VRRPv2) outranks raftvip (priority 250)", "trusted_routers", "", false, 30*time.Second - 10*time.Millisecond},
		{"trusted weaker keepalived must yield: no limit", []Router{router(dKA, 101, 100*time.Millisecond)}, []netip.Addr{dKA}, true, exhausted, nil,
			"", "", "10.99.0.14", false, 30*time.Second - 10*time.Millisecond},
		{"no list: outranking master blocks within the allowance", []Router{router(dForge, 254, 100*time.Millisecond)}, nil, false, Allowance{Last: now.Add(-time.Second)}, nil,
			"outranks raftvip (priority 250); not in vrrp.trusted_routers, so heeded for at most 30s", "", "", false, time.Second},
		{"no list: outranking master past the allowance is ignored", []Router{router(dForge, 254, 100*time.Millisecond)}, nil, false, nearly, nil,
			"", "", "", true, 30 * time.Second},
		{"no list: exhausted, forger still there: ignored", []Router{router(dForge, 254, 100*time.Millisecond)}, nil, false, exhausted, nil,
			"", "", "", true, 30 * time.Second},
		{"no list: weaker master waited for while we advertise, spending", []Router{router(dKA, 101, 100*time.Millisecond)}, nil, true, Allowance{Last: now.Add(-time.Second)}, nil,
			"", "", "10.99.0.14", false, time.Second},
		// Until raftvip advertises, a weaker master has no reason to yield:
		// that time is not its fault and is not spent.
		{"no list: weaker master while we do not advertise: not spent", []Router{router(dKA, 101, 100*time.Millisecond)}, nil, false, Allowance{Used: 5 * time.Second, Last: now.Add(-time.Second)}, nil,
			"", "", "10.99.0.14", false, 5*time.Second - 100*time.Millisecond},
		{"no list: weaker master that keeps advertising past the allowance: not waited for", []Router{router(dForge, 101, 100*time.Millisecond)}, nil, true, nearly, nil,
			"", "", "", true, 30 * time.Second},
		{"no list: unknown source address: every master outranks, within the allowance", []Router{router(dKA, 101, 100*time.Millisecond)}, nil, false, Allowance{Last: now.Add(-time.Second)}, errors.New("no address"),
			"outranks", "", "", false, time.Second},
		{"raftvip peer's advert is neither", []Router{router(dPeer, 250, 100*time.Millisecond)}, nil, true, Allowance{Last: now.Add(-time.Second)}, nil,
			"", "", "", false, 0},
		{"expired master: refills", []Router{router(dForge, 254, 10*time.Second)}, nil, false, Allowance{Used: 10 * time.Second, Last: now.Add(-10 * time.Second)}, nil,
			"", "", "", false, 9 * time.Second},
		// With a list the receiver drops the others; should one be in the
		// table anyway, it is ignored past the allowance while a trusted
		// master still counts.
		{"exhausted: a trusted master still blocks", []Router{router(dForge, 254, 100*time.Millisecond), router(dKA, 253, 100*time.Millisecond)}, []netip.Addr{dKA}, false, exhausted, nil,
			"VRRP master 10.99.0.14 (priority 253", "", "", true, 30 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Decide(Situation{Now: now, Start: t0, ListenWindow: 3 * time.Second, Priority: 250, Source: dUs, SourceErr: c.srcErr, Version: 2,
				Routers: c.routers, Own: []netip.Addr{dPeer}, Trusted: c.trusted, Advertising: c.advertising, Bound: 30 * time.Second, Allowance: c.allowance})
			if (c.block == "") != (v.Block == "") || !strings.Contains(v.Block, c.block) {
				t.Errorf("Block = %q, want %q", v.Block, c.block)
			}
			if c.notBlock != "" && strings.Contains(v.Block, c.notBlock) {
				t.Errorf("Block = %q mentions %q", v.Block, c.notBlock)
			}
			if v.Yield != c.yield {
				t.Errorf("Yield = %q, want %q", v.Yield, c.yield)
			}
			if v.Ignored != c.ignored || (v.Ignored && (v.Master == nil || v.Master.Source != dForge)) {
				t.Errorf("Ignored = %v (master %+v), want %v", v.Ignored, v.Master, c.ignored)
			}
			if v.Allowance.Used != c.used {
				t.Errorf("allowance used %s, want %s", v.Allowance.Used, c.used)
			}
		})
	}
}

func TestDecideListenWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	v := Decide(Situation{Now: t0.Add(time.Second), Start: t0, ListenWindow: 3 * time.Second, Priority: 250, Source: dUs, Bound: 30 * time.Second})
	if !strings.Contains(v.Block, "listening for VRRP masters for 3s") || v.Allowance.Last != (time.Time{}) {
		t.Errorf("in the listen window: %+v", v)
	}
}

// TestSpeakerTrustedRouters: with trusted_routers set, an advert forged
// from another host (right VRID, password, TTL: only the source is wrong)
// is dropped, counted as untrusted and makes raftvip neither yield nor
// wait; the same advert from a listed router still makes raftvip give way.
func TestSpeakerTrustedRouters(t *testing.T) {
	needRoot(t, "creates network namespaces rvtest-vrrp-<pid>-trust-* on a bridge and raw sockets")
	t.Parallel()
	l := newLab(t, "trust", map[string]string{"k": addrK, "r": addrR, "x": addrX})
	k, x := netip.MustParseAddr(addrK), netip.MustParseAddr(addrX)
	ours := seedV2
	ours.Priority = 250
	var sp *Speaker
	if err := in(l.ns["r"], func() (err error) {
		sp, err = NewSpeaker(SpeakerConfig{Conn: Config{Interface: "eth0", Exclude: []netip.Addr{vip1}}, Ours: ours, Trusted: []netip.Addr{k}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The listen window is not what this test is about: started a minute ago.
	sp.now = func() time.Time { return time.Now().Add(-time.Minute) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sp.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		sp.Close()
	})
	forger, keepalived := l.openConn(t, "x"), l.openConn(t, "k")
	strong, weak := seedV2, seedV2
	strong.Priority, weak.Priority = 254, 101
	const n = 3
	for i := 0; i < n; i++ {
		for _, a := range []Advert{strong, weak} {
			if err := forger.Send(a); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Then the trusted router's advert: packets are handled in order, so
	// once it is in, the forged ones were handled.
	if err := keepalived.Send(weak); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sp.Status(time.Now()).Stats.Accepted < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the trusted advert did not arrive; status %+v", sp.Status(time.Now()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	now := time.Now()
	st := sp.Status(now)
	if st.Stats.Dropped[ReasonUntrusted] != 2*n || st.Stats.Accepted != 1 {
		t.Errorf("stats %+v, want %d dropped as untrusted and 1 accepted", st.Stats, 2*n)
	}
	if len(st.Routers) != 1 || st.Routers[0].Source != k {
		t.Errorf("routers %+v, want only the trusted %s", st.Routers, k)
	}
	if st.Untrusted != nil || len(st.TrustedRouters) != 1 || st.TrustedRouters[0] != k {
		t.Errorf("status trusted %v untrusted %+v, want [%s] and no allowance", st.TrustedRouters, st.Untrusted, k)
	}
	for _, r := range st.Routers {
		if r.Source == x {
			t.Errorf("the forger %s is listed: %+v", x, r)
		}
	}
	// The forger's 254 would outrank raftvip: it must not block. The
	// trusted weaker router is waited for.
	if b, y := sp.Block(now), sp.Yield(now); b != "" || y != addrK {
		t.Errorf("Block %q Yield %q, want no block and a yield to %s", b, y, addrK)
	}
	if err := keepalived.Send(strong); err != nil {
		t.Fatal(err)
	}
	for sp.Status(time.Now()).Stats.Accepted < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the trusted strong advert did not arrive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b := sp.Block(time.Now()); !strings.Contains(b, "VRRP master "+addrK+" (priority 254, VRRPv2) outranks raftvip") || strings.Contains(b, "trusted_routers") {
		t.Errorf("Block = %q, want the trusted master to outrank raftvip without a limit", b)
	}
}

// TestSpeakerUntrustedBound: without trusted_routers a forged master that
// outranks raftvip blocks it for untrusted_block_max in all, then is
// ignored (WARN, status) although it goes on advertising; and the
// allowance comes back only after RefillFactor × the bound without one.
func TestSpeakerUntrustedBound(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := testSpeaker(t0)
	s.bound = 30 * time.Second
	var logs strings.Builder
	s.log = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	blockedFor := time.Duration(0)
	var freed time.Time
	// The forger advertises 254 every second for 10 minutes; the agent
	// asks every 100 ms.
	for at := 4 * time.Second; at < 10*time.Minute; at += 100 * time.Millisecond {
		now := t0.Add(at)
		if at%time.Second == 0 {
			s.table.Observe(now, dForge, spkAdvert(254), nil)
		}
		b := s.Block(now)
		switch {
		case b != "" && freed.IsZero():
			blockedFor += 100 * time.Millisecond
			if !strings.Contains(b, "outranks raftvip") {
				t.Fatalf("+%s: Block %q", at, b)
			}
		case b == "" && freed.IsZero():
			freed = now
		case b != "":
			t.Fatalf("+%s: blocked again after being freed at %s: %q", at, freed.Sub(t0), b)
		}
	}
	if blockedFor < 29*time.Second || blockedFor > 31*time.Second {
		t.Errorf("the forged master blocked raftvip for %s, want the bound (30s)", blockedFor)
	}
	now := t0.Add(10 * time.Minute)
	st := s.Status(now)
	if st.Untrusted == nil || !st.Untrusted.Exhausted || st.Untrusted.Ignored == nil || *st.Untrusted.Ignored != dForge ||
		st.Untrusted.By != dForge || st.Untrusted.BlockMax != "30s" || st.Untrusted.Left != "0s" || st.Untrusted.RefillIn != "5m0s" {
		t.Errorf("status untrusted %+v, want exhausted by and ignoring %s", st.Untrusted, dForge)
	}
	if n := strings.Count(logs.String(), "[WARN]  untrusted VRRP master kept raftvip from the VIP"); n != 1 {
		t.Errorf("%d WARN lines, want 1:\n%s", n, logs.String())
	}
	// The forger stops. Four minutes later untrusted masters are still
	// ignored: a short pause does not give it a fresh 30 s.
	var at time.Duration
	for at = 0; at < 4*time.Minute; at += 100 * time.Millisecond {
		s.Block(now.Add(at))
	}
	s.table.Observe(now.Add(at), dForge, spkAdvert(254), nil)
	if b := s.Block(now.Add(at)); b != "" {
		t.Fatalf("blocked again after a 4-minute pause: %q", b)
	}
	// After 5 quiet minutes in all it is heeded again (a real keepalived
	// may need it), within the bound.
	later := now.Add(at + 5*time.Minute + time.Second)
	for t1 := now.Add(at); t1.Before(later); t1 = t1.Add(100 * time.Millisecond) {
		s.Block(t1)
	}
	if !strings.Contains(logs.String(), "no untrusted VRRP master stood in the way for a while") {
		t.Errorf("no INFO line when the allowance came back:\n%s", logs.String())
	}
	s.table.Observe(later, dForge, spkAdvert(254), nil)
	if b := s.Block(later); !strings.Contains(b, "outranks raftvip") {
		t.Errorf("Block after the refill = %q, want the master heeded again", b)
	}
	// 100 ms of it spent by the Block just now.
	if st := s.Status(later); st.Untrusted.Exhausted || st.Untrusted.Left != "29.9s" || st.Untrusted.Ignored != nil {
		t.Errorf("status after the refill %+v", st.Untrusted)
	}
}

// TestSpeakerUntrustedWeakerMaster: a weaker master is waited for only
// while raftvip advertises at it; one that keeps advertising anyway (a
// forgery: keepalived yields within an advert) stops being waited for
// after the bound.
func TestSpeakerUntrustedWeakerMaster(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := testSpeaker(t0)
	s.bound = 30 * time.Second
	// Not advertising (no healthy MySQL, say) for ten minutes: keepalived
	// holds the VIP all along, and that uses nothing up.
	for at := 4 * time.Second; at < 10*time.Minute; at += 100 * time.Millisecond {
		now := t0.Add(at)
		if at%time.Second == 0 {
			s.table.Observe(now, dKA, spkAdvert(101), nil)
		}
		if y := s.Yield(now); y != dKA.String() {
			t.Fatalf("+%s: Yield %q, want %s", at, y, dKA)
		}
	}
	// Now raftvip advertises (every 200 ms, as the agent does) and the
	// weaker master goes on regardless.
	start := t0.Add(10 * time.Minute)
	var waited time.Duration
	for at := time.Duration(0); at < 2*time.Minute; at += 100 * time.Millisecond {
		now := start.Add(at)
		if at%(200*time.Millisecond) == 0 {
			s.mu.Lock()
			s.lastSent = now
			s.mu.Unlock()
		}
		if at%time.Second == 0 {
			s.table.Observe(now, dKA, spkAdvert(101), nil)
		}
		if s.Yield(now) != "" {
			waited += 100 * time.Millisecond
		}
	}
	if waited < 29*time.Second || waited > 31*time.Second {
		t.Errorf("waited %s for a weaker master that never yields, want the bound (30s)", waited)
	}
}
