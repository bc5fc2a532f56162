package vrrpcompat

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests run Debian's keepalived (2.2.7) in a lab namespace, configured
// like the seed (VRID 51, priority 101, advert_int 1, auth PASS 1111, VIP
// 10.99.0.10/24, state BACKUP, nopreempt), against a Conn in another host.

func needKeepalived(t *testing.T, lab string) {
	t.Helper()
	needRoot(t, "creates network namespaces rvtest-vrrp-<pid>-"+lab+"-* and runs keepalived in them")
	keepalivedPath(t)
}

// seedFor is the advert matching keepalived's configuration o, at priority.
func seedFor(o kaOptions, priority uint8) Advert {
	a := Advert{Version: o.version, VRID: 51, Priority: priority, Interval: time.Second, Addresses: []netip.Addr{vip1}}
	if o.version == 2 && o.auth != "" {
		a.AuthType, a.AuthData = AuthPass, AuthData(o.auth)
	}
	return a
}

// (a) keepalived, once MASTER, is in the Table with its source, priority
// and version: VRRP v2 and v3, multicast and unicast.
func TestKeepalivedListen(t *testing.T) {
	needKeepalived(t, "ls*")
	t.Parallel()
	for _, c := range []struct {
		name string
		o    kaOptions
	}{
		{"v2-multicast", kaOptions{version: 2, auth: "1111", priority: 101}},
		{"v3-multicast", kaOptions{version: 3, priority: 101}},
		{"v2-unicast", kaOptions{version: 2, auth: "1111", unicast: true, priority: 101}},
		{"v3-unicast", kaOptions{version: 3, unicast: true, priority: 101}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, "ls"+strings.ReplaceAll(c.name, "-", ""), map[string]string{"k": addrK, "r": addrR})
			var peers []netip.Addr
			if c.o.unicast {
				peers = []netip.Addr{netip.MustParseAddr(addrK)}
			}
			conn := l.openConn(t, "r", peers...)
			tab, got := listen(t, conn, ExpectFor(seedFor(c.o, 250), c.o.unicast), 250)
			k := startKeepalived(t, l.ns["k"], c.o)

			// Nobody else advertises: keepalived goes MASTER after its
			// master-down interval (3.6 s).
			var first Received
			select {
			case first = <-got:
			case <-time.After(10 * time.Second):
				t.Fatalf("no advert from keepalived within 10s (state %v, stats %+v)", k.states(), tab.Stats())
			}
			wantDst := MulticastGroup
			if c.o.unicast {
				wantDst = netip.MustParseAddr(addrR)
			}
			if first.Source != netip.MustParseAddr(addrK) || first.TTL != TTL || first.Destination != wantDst ||
				first.Advert.Version != c.o.version || first.Advert.Priority != 101 || len(first.Mismatches) != 0 {
				t.Errorf("first advert %+v from %s to %s TTL %d, mismatches %v", first.Advert, first.Source, first.Destination, first.TTL, first.Mismatches)
			}
			m, ok := tab.Master(time.Now())
			if !ok || m.Source != netip.MustParseAddr(addrK) || m.Priority != 101 || m.Version != c.o.version ||
				m.Interval != time.Second || !slices.Equal(m.Addresses, []netip.Addr{vip1}) || len(m.Mismatches) != 0 {
				t.Errorf("Master = %+v, %v", m, ok)
			}
			if r, ok := tab.Outranking(time.Now(), netip.MustParseAddr(addrR)); ok {
				t.Errorf("keepalived at 101 outranks us at 250: %+v", r)
			}
			if _, ok := eventually(3*time.Second, 50*time.Millisecond, func() bool { return k.state() == "MASTER" && k.holdsVIP(t) }); !ok {
				t.Errorf("keepalived advertises but is not MASTER with the VIP: states %v", k.states())
			}
			// Keep listening for a few adverts: all accepted, none dropped.
			for i := 0; i < 2; i++ {
				select {
				case <-got:
				case <-time.After(3 * time.Second):
					t.Fatalf("keepalived stopped advertising; stats %+v", tab.Stats())
				}
			}
			if st := tab.Stats(); st.Accepted < 3 || len(st.Dropped) != 0 {
				t.Errorf("stats %+v, want every keepalived advert accepted", st)
			}
			if rs := tab.Routers(time.Now()); len(rs) != 1 {
				t.Errorf("routers %+v, want keepalived only", rs)
			}
		})
	}
}

// (b) raftvip advertising priority 250 with the right auth keeps
// keepalived BACKUP without the VIP for more than 10 advert intervals;
// (c) one priority-0 advert then makes keepalived MASTER with the VIP after
// its skew time (155/256 s for priority 101), not 3.6 s.
func TestKeepalivedStaysBackupThenTakesOver(t *testing.T) {
	needKeepalived(t, "bk*")
	t.Parallel()
	for _, c := range []struct {
		name  string
		o     kaOptions
		peers []netip.Addr
	}{
		{"v2-multicast", kaOptions{version: 2, auth: "1111", priority: 101}, nil},
		{"v3-unicast", kaOptions{version: 3, unicast: true, priority: 101}, []netip.Addr{netip.MustParseAddr(addrK)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, "bk"+strings.ReplaceAll(c.name, "-", ""), map[string]string{"k": addrK, "r": addrR})
			conn := l.openConn(t, "r", c.peers...)
			ours := seedFor(c.o, 250)
			tab, _ := listen(t, conn, ExpectFor(ours, c.o.unicast), 250)
			// raftvip holds the VIP and advertises before keepalived starts,
			// as in a migration where keepalived is (re)started on a host.
			stop := speak(t, conn, ours, 30)
			k := startKeepalived(t, l.ns["k"], c.o)
			if _, ok := eventually(5*time.Second, 50*time.Millisecond, func() bool { return k.state() == "BACKUP" }); !ok {
				t.Fatalf("keepalived did not report BACKUP: states %v", k.states())
			}
			const intervals = 11
			deadline := time.Now().Add(intervals * time.Second)
			for time.Now().Before(deadline) {
				if s := k.states(); slices.Contains(s, "MASTER") {
					t.Fatalf("keepalived became MASTER while raftvip advertised 250: states %v", s)
				}
				if k.holdsVIP(t) {
					t.Fatal("keepalived added the VIP while raftvip advertised 250")
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !k.running() {
				t.Fatal("keepalived exited")
			}
			if r, ok := tab.Master(time.Now()); ok {
				t.Errorf("a foreign master advertised while keepalived was BACKUP: %+v", r)
			}
			for _, bad := range []string{"invalid", "mismatch", "unexpected", "wrong", "not present", "Invalid"} {
				if k.logHas(bad) {
					t.Errorf("keepalived logged %q about our adverts:\n%s", bad, k.log())
				}
			}
			sent := stop()
			t.Logf("keepalived stayed BACKUP for %d intervals while we sent %d adverts at priority 250", intervals, sent)

			// (c) Give up.
			if err := conn.SendRelease(ours); err != nil {
				t.Fatal(err)
			}
			released := time.Now()
			var master, vip time.Duration
			_, ok := eventually(5*time.Second, 10*time.Millisecond, func() bool {
				if master == 0 && k.state() == "MASTER" {
					master = time.Since(released)
				}
				if vip == 0 && k.holdsVIP(t) {
					vip = time.Since(released)
				}
				return master != 0 && vip != 0
			})
			if !ok {
				t.Fatalf("keepalived did not take over within 5s of our priority-0 advert: states %v, VIP %v", k.states(), k.holdsVIP(t))
			}
			skew := SkewTime(c.o.version, time.Second, uint8(c.o.priority))
			t.Logf("takeover after priority 0: keepalived MASTER (notify) after %s, VIP on its eth0 after %s (skew time %s; without priority 0 it would be %s)",
				master.Round(time.Millisecond), vip.Round(time.Millisecond), skew, MasterDownInterval(c.o.version, time.Second, uint8(c.o.priority)))
			// Generous bound, below the 3.6 s master-down interval: the
			// takeover must come from the priority-0 advert.
			if vip > 3*time.Second {
				t.Errorf("VIP took %s to appear after the priority-0 advert, want well under the 3.6s master-down interval", vip)
			}
			if !k.logHas("Backup received priority 0 advertisement") {
				t.Errorf("keepalived did not log the priority-0 advert")
			}
			// And we now see keepalived as master.
			if _, ok := eventually(3*time.Second, 50*time.Millisecond, func() bool {
				m, ok := tab.Master(time.Now())
				return ok && m.Source == netip.MustParseAddr(addrK) && m.Priority == 101
			}); !ok {
				t.Errorf("keepalived not in the table as master: %+v", tab.Routers(time.Now()))
			}
		})
	}
}

// keepalived 2.2.7 ignores adverts whose VIP list, (v2) interval or
// password differ from its own and becomes a second master: this is why
// raftvip must advertise exactly what keepalived is configured with, and
// why Check reports those differences.
func TestKeepalivedIgnoresMismatchedAdverts(t *testing.T) {
	needKeepalived(t, "mm*")
	t.Parallel()
	o := kaOptions{version: 2, auth: "1111", priority: 101}
	for _, c := range []struct {
		name      string
		edit      func(*Advert)
		kaLog     string // what keepalived logs about our adverts
		mismatch  string // what our listener reports about keepalived's
		dropsAuth bool
	}{
		{"extra-vip", func(a *Advert) { a.Addresses = append(a.Addresses, vip2) }, "received an unexpected ip number count", "addresses", false},
		{"other-vip", func(a *Advert) { a.Addresses = []netip.Addr{vip2} }, "not present in MASTER advert", "addresses", false},
		{"interval-2s", func(a *Advert) { a.Interval = 2 * time.Second }, "advertisement interval mismatch", "interval", false},
		{"password", func(a *Advert) { a.AuthData = AuthData("2222") }, "received an invalid passwd", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, "mm"+strings.ReplaceAll(c.name, "-", ""), map[string]string{"k": addrK, "r": addrR})
			conn := l.openConn(t, "r")
			ours := seedFor(o, 250)
			ours.Addresses = slices.Clone(ours.Addresses)
			c.edit(&ours)
			tab, _ := listen(t, conn, ExpectFor(ours, false), 250)
			speak(t, conn, ours, 15)
			k := startKeepalived(t, l.ns["k"], o)
			if _, ok := eventually(10*time.Second, 50*time.Millisecond, func() bool { return k.state() == "MASTER" && k.holdsVIP(t) }); !ok {
				t.Fatalf("keepalived did not become MASTER although it must ignore our adverts: states %v", k.states())
			}
			if !k.logHas(c.kaLog) {
				t.Errorf("keepalived log lacks %q", c.kaLog)
			}
			// Our side: keepalived is heard (or, with another password,
			// dropped as auth), and the difference is reported.
			_, ok := eventually(3*time.Second, 50*time.Millisecond, func() bool {
				if c.dropsAuth {
					return tab.Stats().Dropped[ReasonAuth] > 0
				}
				rs := tab.Routers(time.Now())
				return len(rs) == 1 && len(rs[0].Mismatches) == 1 && strings.HasPrefix(rs[0].Mismatches[0], c.mismatch+":")
			})
			if !ok {
				t.Errorf("listener: routers %+v, stats %+v", tab.Routers(time.Now()), tab.Stats())
			}
			if c.dropsAuth && len(tab.Routers(time.Now())) != 0 {
				t.Errorf("keepalived with another password entered the table: %+v", tab.Routers(time.Now()))
			}
			// Mismatched or not, a router advertising the VRID counts: at
			// 101 it does not outrank our 250, so both would hold the VIP.
			if r, ok := tab.Outranking(time.Now(), netip.MustParseAddr(addrR)); ok {
				t.Errorf("keepalived at 101 outranks 250: %+v", r)
			}
		})
	}
}
