package lab

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/vrrpcompat"
)

// keepalived on the spare host k, and where it sends unicast adverts.
const (
	kaAddr = "10.99.0.14"
	// clientAddr is where crafted adverts come from: a host that is neither
	// a raftvip peer (whose adverts raftvip ignores as its own) nor a
	// keepalived.
	clientAddr = "10.99.0.100"
)

// TestVRRPInterop runs raftvip agents in active VRRP mode next to Debian's
// keepalived 2.2.7 on host k (VRID 51, advert_int 1, PASS 1111, nopreempt,
// state BACKUP, no MySQL check: k has no database), the checks of issue 4
// "Tests against the real keepalived", on one lab:
//
//  3. a keepalived MASTER above raftvip's priority keeps the VIP; raftvip
//     adds it only once that master stopped (and says why meanwhile);
//  1. raftvip holds the VIP and advertises 250: keepalived at 101 stays
//     BACKUP and never adds the VIP for over 10 advert intervals;
//  2. both raftvip DB nodes lose MySQL: keepalived takes the VIP within
//     its skew time of raftvip's release (the priority-0 advert);
//     then, MySQL back, raftvip makes that weaker keepalived master yield
//     before it adds the VIP;
//  5. adverts with a wrong password, VRID or TTL are dropped, counted, and
//     change nothing;
//  4. raftvip lists keepalived (address, priority, version) in
//     `status -json` for VRRPv2 and v3, multicast and unicast.
//
// The VIP monitor must never see two holders.
func TestVRRPInterop(t *testing.T) {
	bin := requireLab(t)
	vrrp := VRRPSettings{Mode: "active"}
	l := newTestLab(t, Options{RaftvipBin: bin, WithKeepalivedHost: true, Agent: AgentSettings{VRRP: &vrrp}})
	ctx := within(t, 6*time.Minute)
	m := l.Monitor()
	begin := time.Now()

	status := func(t *testing.T, host string) *Status {
		t.Helper()
		st, err := l.Agent(host).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.VRRP == nil || st.VRRPMode != "active" {
			t.Fatalf("%s: vrrp_mode %q, vrrp %v: want active with a VRRP view\n%s", host, st.VRRPMode, st.VRRP, st.Raw)
		}
		return st
	}
	noTwoHolders := func(t *testing.T, from time.Time) {
		t.Helper()
		if max, at, _ := m.HolderCountsBetween(from, time.Now()); max > 1 {
			t.Errorf("%d hosts held the VIP at once at %s\n%s", max, at.Format(timeFmt), m.Timeline())
		}
		if err := m.Err(); err != nil {
			t.Errorf("monitor: %v", err)
		}
	}
	// raftvipHolder waits until a or b alone holds the VIP.
	raftvipHolder := func(t *testing.T, d time.Duration) string {
		t.Helper()
		hs, err := m.WaitFor(within(t, d), func(h []string) bool { return len(h) == 1 && (h[0] == "a" || h[0] == "b") })
		if err != nil {
			t.Fatalf("no raftvip holder: %v (holders %v)", err, m.Holders())
		}
		return hs[0]
	}
	// listed asserts that host's agent lists keepalived on k as it is
	// configured.
	listed := func(t *testing.T, host string, version, priority int, unicast bool) {
		t.Helper()
		st := status(t, host)
		r, ok := st.VRRP.Router(kaAddr)
		if !ok {
			t.Fatalf("%s does not list keepalived %s: %+v", host, kaAddr, st.VRRP.Routers)
		}
		if r.Version != version || r.Priority != priority || !slices.Equal(r.Addresses, []string{VIP}) || r.Interval != "1s" || len(r.Mismatches) != 0 {
			t.Fatalf("%s lists keepalived as %+v, want VRRPv%d priority %d, VIPs [%s], interval 1s, no mismatches", host, r, version, priority, VIP)
		}
		if st.VRRP.Version != version || st.VRRP.Unicast != unicast || st.VRRP.Priority != 250 || st.VRRP.VRID != 51 {
			t.Fatalf("%s speaks %+v, want VRRPv%d unicast=%v priority 250 VRID 51", host, *st.VRRP, version, unicast)
		}
		t.Logf("%s lists keepalived: source %s, VRRPv%d, priority %d, VIPs %v, %d adverts (unicast=%v)", host, r.Source, r.Version, r.Priority, r.Addresses, r.Adverts, unicast)
	}
	kaStates := func() []string { return l.Keepalived("k").States() }

	t.Run("3 keepalived master above raftvip's priority keeps the VIP", func(t *testing.T) {
		if _, err := l.StartKeepalivedOn(ctx, "k", KeepalivedOptions{Priority: 254}); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitKeepalivedState(within(t, 15*time.Second), "k", "MASTER"); err != nil {
			t.Fatal(err)
		}
		if err := m.WaitHolder(within(t, 5*time.Second), "k"); err != nil {
			t.Fatal(err)
		}
		tStart := time.Now()
		if err := l.StartRaftvip(ctx); err != nil {
			t.Fatal(err)
		}
		// The DB leader must say why it holds nothing.
		eventually(t, 30*time.Second, "a DB node blocked by keepalived's master", func() error {
			st, err := l.AnyStatus(ctx)
			if err != nil {
				return err
			}
			for _, n := range st.Nodes {
				if n.Role == "db" && strings.Contains(n.Reason, "outranks raftvip") && strings.Contains(n.Reason, kaAddr) {
					t.Logf("%s (%s): %s: %s", n.ID, n.RaftState, n.Decision, n.Reason)
					return nil
				}
			}
			return errString("no DB node says it is outranked: " + string(st.Raw))
		})
		for _, h := range []string{"a", "b"} {
			st := status(t, h)
			if st.VRRP.Master == nil || st.VRRP.Master.Source != kaAddr || st.VRRP.Master.Priority != 254 {
				t.Fatalf("%s: master on the wire %+v, want keepalived %s at 254", h, st.VRRP.Master, kaAddr)
			}
			listed(t, h, 2, 254, false)
		}
		// Well past the agents' listen window (~3 s) and Raft's election.
		time.Sleep(time.Until(tStart.Add(12 * time.Second)))
		for _, h := range []string{"a", "b"} {
			if acq := m.Acquisitions(h, tStart); len(acq) != 0 {
				t.Fatalf("%s added the VIP while keepalived (254) was master: %v\n%s", h, acq, m.Timeline())
			}
		}
		if hs := m.Holders(); !slices.Equal(hs, []string{"k"}) {
			t.Fatalf("holders %v, want keepalived on k only", hs)
		}
		if st := kaStates(); st[len(st)-1] != "MASTER" {
			t.Fatalf("keepalived states %v, want it still MASTER", st)
		}

		// keepalived stops: a MASTER removes the VIP and sends priority 0;
		// raftvip takes over.
		tStop := time.Now()
		if err := l.StopKeepalivedOn("k"); err != nil {
			t.Fatal(err)
		}
		holder := raftvipHolder(t, 15*time.Second)
		lost, _ := m.LastLoss("k")
		got := m.Acquisitions(holder, tStop)
		if len(got) == 0 {
			t.Fatalf("no acquisition by %s after keepalived stopped", holder)
		}
		t.Logf("keepalived (254) stopped: VIP off k at +%v, on %s at +%v (gap %v)", lost.Sub(tStop).Round(time.Millisecond),
			holder, got[0].From.Sub(tStop).Round(time.Millisecond), got[0].From.Sub(lost).Round(time.Millisecond))
		noTwoHolders(t, tStart)
	})

	t.Run("1 raftvip holds and advertises 250: keepalived at 101 stays BACKUP", func(t *testing.T) {
		holder := raftvipHolder(t, 15*time.Second)
		sent0 := status(t, holder).VRRP.AdvertsSent
		t1 := time.Now()
		if _, err := l.StartKeepalivedOn(ctx, "k", KeepalivedOptions{Priority: 101}); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitKeepalivedState(within(t, 10*time.Second), "k", "BACKUP"); err != nil {
			t.Fatal(err)
		}
		// keepalived's master-down interval is 3 × 1 s + skew 0.6 s: 11 s
		// is three of them and more than 10 advert intervals.
		time.Sleep(time.Until(t1.Add(11 * time.Second)))
		if st := kaStates(); slices.Contains(st, "MASTER") || len(st) == 0 {
			t.Fatalf("keepalived states %v while raftvip advertised, want BACKUP only\n%s", st, l.Keepalived("k").LogSince())
		}
		if p := l.Keepalived("k").Process(); p.Exited() {
			t.Fatalf("keepalived exited: %v", p.ExitErr())
		}
		if acq := m.Acquisitions("k", t1); len(acq) != 0 {
			t.Fatalf("keepalived added the VIP: %v", acq)
		}
		if max, _, min := m.HolderCountsBetween(t1, time.Now()); max != 1 || min != 1 || len(m.Acquisitions(holder, t1)) != 0 {
			t.Fatalf("VIP not held by %s alone throughout:\n%s", holder, m.Timeline())
		}
		sent := status(t, holder).VRRP.AdvertsSent - sent0
		if sent < 10 {
			t.Fatalf("%s sent %d adverts in 11 s, want at least 10", holder, sent)
		}
		t.Logf("keepalived stayed BACKUP for %v while %s held the VIP and sent %d adverts", time.Since(t1).Round(time.Millisecond), holder, sent)
	})

	t.Run("2 both raftvip DB nodes lose MySQL: keepalived takes over within its skew time", func(t *testing.T) {
		holder := raftvipHolder(t, 5*time.Second)
		other := l.Other(holder)
		rel0 := status(t, holder).VRRP.ReleasesSent
		if err := l.KillMySQL(other); err != nil {
			t.Fatal(err)
		}
		eventually(t, 15*time.Second, "raftvip sees "+other+"'s MySQL down", func() error {
			st, err := l.Agent(holder).Status(ctx)
			if err != nil {
				return err
			}
			if n, _ := st.Node(l.Host(other).NodeID); n.Healthy {
				return errString(other + " still healthy")
			}
			return nil
		})
		if acq := m.Acquisitions("k", begin); len(m.Holders()) != 1 || m.Holders()[0] != holder || len(acq) > 1 {
			t.Fatalf("VIP moved before the holder's MySQL died:\n%s", m.Timeline())
		}
		tKill := time.Now()
		if err := l.KillMySQL(holder); err != nil {
			t.Fatal(err)
		}
		if err := m.WaitHolder(within(t, 20*time.Second), "k"); err != nil {
			t.Fatal(err)
		}
		lost, _ := m.LastLoss(holder)
		acq := m.Acquisitions("k", tKill)
		if len(acq) == 0 || lost.Before(tKill) {
			t.Fatalf("no handover %s -> k after the kill:\n%s", holder, m.Timeline())
		}
		gap := acq[0].From.Sub(lost)
		t.Logf("MySQL killed on both: VIP off %s at +%v, keepalived added it %v later (keepalived skew time at 101: %v)",
			holder, lost.Sub(tKill).Round(time.Millisecond), gap.Round(time.Millisecond), vrrpcompat.SkewTime(2, time.Second, 101).Round(time.Millisecond))
		// Without the priority-0 advert keepalived would wait its
		// master-down interval (3.6 s) after raftvip's last regular advert,
		// which came at most 1 s before the release: at least 2.6 s after
		// it. The issue asks for 1.5 s; allow a loaded machine some slack
		// but stay below what a missing priority-0 advert would give.
		if gap > 2500*time.Millisecond {
			t.Errorf("keepalived took the VIP %v after raftvip released it, want well under 2.6 s (priority-0 advert)", gap)
		}
		if rel := status(t, holder).VRRP.ReleasesSent - rel0; rel < 1 {
			t.Errorf("%s sent no priority-0 advert on release", holder)
		}
		if log := l.Keepalived("k").LogSince(); !strings.Contains(log, "Backup received priority 0 advertisement") {
			t.Errorf("keepalived did not log the priority-0 advert:\n%s", log)
		}
		if st := kaStates(); st[len(st)-1] != "MASTER" {
			t.Fatalf("keepalived states %v, want MASTER last", st)
		}
		noTwoHolders(t, tKill)

		t.Run("MySQL back: raftvip makes the weaker keepalived master yield first", func(t *testing.T) {
			tBack := time.Now()
			for _, h := range []string{holder, other} {
				if err := l.RestartMySQL(ctx, h); err != nil {
					t.Fatal(err)
				}
			}
			now := raftvipHolder(t, 30*time.Second)
			got := m.Acquisitions(now, tBack)
			lostK, _ := m.LastLoss("k")
			if len(got) == 0 || got[0].From.Before(lostK) {
				t.Fatalf("%s added the VIP before keepalived removed it:\n%s", now, m.Timeline())
			}
			eventually(t, 5*time.Second, "keepalived BACKUP", func() error {
				if st := kaStates(); st[len(st)-1] != "BACKUP" {
					return errString("keepalived states " + strings.Join(st, ","))
				}
				return nil
			})
			t.Logf("keepalived yielded: VIP off k, on %s %v later", now, got[0].From.Sub(lostK).Round(time.Millisecond))
			noTwoHolders(t, tBack)
		})
	})

	t.Run("5 adverts with a wrong password, VRID or TTL are dropped and counted", func(t *testing.T) {
		holder := raftvipHolder(t, 5*time.Second)
		before := map[string]*Status{"a": status(t, "a"), "b": status(t, "b")}
		tE := time.Now()
		const n = 5
		// Each would outrank raftvip (254 > 250) if it were accepted.
		wrongAuth := VRRPAdvert(254)
		wrongAuth.AuthData = vrrpcompat.AuthData("2222")
		wrongVRID := VRRPAdvert(254)
		wrongVRID.VRID = 52
		for _, c := range []struct {
			a   vrrpcompat.Advert
			ttl int
		}{{wrongAuth, 255}, {wrongVRID, 255}, {VRRPAdvert(254), 64}} {
			if err := l.SendVRRP(ctx, "c", c.a, c.ttl, n, 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
		// An accepted master at 254 would make the holder release at its
		// next step (100 ms); give it plenty.
		time.Sleep(2 * time.Second)
		for _, h := range []string{"a", "b"} {
			st := status(t, h)
			for _, reason := range []string{"auth", "vrid", "ttl"} {
				if d := st.VRRP.Stats.Dropped[reason] - before[h].VRRP.Stats.Dropped[reason]; d != n {
					t.Errorf("%s counted %d adverts dropped for %s, want %d (stats %+v)", h, d, reason, n, st.VRRP.Stats)
				}
			}
			if r, ok := st.VRRP.Router(clientAddr); ok {
				t.Errorf("%s lists a crafted router: %+v", h, r)
			}
			if st.VRRP.Master != nil {
				t.Errorf("%s sees a master on the wire: %+v", h, *st.VRRP.Master)
			}
		}
		if hs := m.Holders(); !slices.Equal(hs, []string{holder}) || len(m.Acquisitions(holder, tE)) != 0 {
			t.Fatalf("VIP changed hands after dropped adverts (want %s throughout):\n%s", holder, m.Timeline())
		}
		if max, _, min := m.HolderCountsBetween(tE, time.Now()); max != 1 || min != 1 {
			t.Fatalf("VIP not held throughout:\n%s", m.Timeline())
		}

		// The same sender with a correct advert (at 100, below raftvip, so
		// it changes nothing either) is heard: the drops above were for
		// the faults in the packets, not for the sender.
		acc0 := status(t, holder).VRRP.Stats.Accepted
		if err := l.SendVRRP(ctx, "c", VRRPAdvert(100), 255, 1, 0); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, holder+" lists the correct crafted advert", func() error {
			st, err := l.Agent(holder).Status(ctx)
			if err != nil {
				return err
			}
			if r, ok := st.VRRP.Router(clientAddr); !ok || r.Priority != 100 || st.VRRP.Stats.Accepted <= acc0 {
				return errString("not listed: " + string(st.Raw))
			}
			return nil
		})
		if hs := m.Holders(); !slices.Equal(hs, []string{holder}) {
			t.Fatalf("holders %v after a weaker advert, want %s", hs, holder)
		}
		noTwoHolders(t, tE)
	})

	t.Run("4 raftvip lists keepalived for VRRPv2 and v3, multicast and unicast", func(t *testing.T) {
		// VRRPv2 multicast was checked in 3. Each other combination:
		// keepalived on k becomes MASTER first, then the agents start in
		// active mode, list it, and make it yield.
		for _, c := range []struct {
			name    string
			version int
			unicast bool
		}{{"v2 unicast", 2, true}, {"v3 multicast", 3, false}, {"v3 unicast", 3, true}} {
			t.Run(c.name, func(t *testing.T) {
				holder, _ := m.Holder()
				for _, h := range []string{l.Other(holder), holder} {
					if err := l.StopAgent(h); err != nil {
						t.Fatal(err)
					}
				}
				if err := l.StopKeepalivedOn("k"); err != nil {
					t.Fatal(err)
				}
				ko := KeepalivedOptions{Priority: 101, Version: c.version}
				s := l.opts.Agent
				v := VRRPSettings{Mode: "active", Version: c.version}
				if c.unicast {
					ko.UnicastPeers = []string{l.Host("a").IP, l.Host("b").IP}
					v.UnicastPeers = []string{kaAddr}
				}
				s.VRRP = &v
				for _, h := range []string{"a", "b"} {
					if err := l.ReconfigureAgent(h, s); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := l.StartKeepalivedOn(ctx, "k", ko); err != nil {
					t.Fatal(err)
				}
				if err := l.WaitKeepalivedState(within(t, 15*time.Second), "k", "MASTER"); err != nil {
					t.Fatal(err)
				}
				if err := m.WaitHolder(within(t, 5*time.Second), "k"); err != nil {
					t.Fatal(err)
				}
				tF := time.Now()
				for _, h := range []string{"a", "b"} {
					if err := l.StartAgent(h); err != nil {
						t.Fatal(err)
					}
				}
				now := raftvipHolder(t, 30*time.Second)
				for _, h := range []string{"a", "b"} {
					listed(t, h, c.version, 101, c.unicast)
				}
				eventually(t, 5*time.Second, "keepalived BACKUP", func() error {
					if st := kaStates(); st[len(st)-1] != "BACKUP" {
						return errString("keepalived states " + strings.Join(st, ","))
					}
					return nil
				})
				// keepalived must keep accepting raftvip's adverts: longer
				// than its master-down interval (3.6 s).
				n0 := len(kaStates())
				time.Sleep(5 * time.Second)
				if st := kaStates(); len(st) != n0 {
					t.Fatalf("keepalived changed state while %s advertised: %v\n%s", now, st, l.Keepalived("k").LogSince())
				}
				if hs := m.Holders(); !slices.Equal(hs, []string{now}) {
					t.Fatalf("holders %v, want %s", hs, now)
				}
				noTwoHolders(t, tF)
			})
		}
	})

	t.Run("whole run: never two holders", func(t *testing.T) {
		noTwoHolders(t, begin)
	})
}

type errString string

func (e errString) Error() string { return string(e) }
