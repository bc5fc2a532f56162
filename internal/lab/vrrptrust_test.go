package lab

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVRRPTrustedRouters (issue 9, "VRRP during a migration"): VRRPv2's
// password is clear text, so the client host c can forge a perfect advert
// (VRID 51, PASS 1111, TTL 255, the VIP) at priority 254, above raftvip's
// 250.
//
//  1. With trusted_routers = [k]: the forged adverts from c are dropped and
//     counted as untrusted on both DB nodes and the VIP stays where it is;
//     the same advert sent from k (trusted) still makes raftvip give the
//     VIP up, and raftvip takes it back once k falls silent.
//  2. With trusted_routers empty and untrusted_block_max = "5s": c's
//     forgery makes raftvip give the VIP up, but only for the bound: raftvip
//     takes it back while c is still advertising, warns in its log and says
//     so in status.
//
// The VIP monitor must never see two holders.
func TestVRRPTrustedRouters(t *testing.T) {
	bin := requireLab(t)
	vrrp := VRRPSettings{Mode: "active", TrustedRouters: []string{kaAddr}}
	l := newTestLab(t, Options{RaftvipBin: bin, WithKeepalivedHost: true, Agent: AgentSettings{VRRP: &vrrp}})
	ctx := within(t, 5*time.Minute)
	m := l.Monitor()
	begin := time.Now()

	status := func(t *testing.T, host string) *Status {
		t.Helper()
		st, err := l.Agent(host).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.VRRP == nil {
			t.Fatalf("%s: no VRRP view\n%s", host, st.Raw)
		}
		return st
	}
	raftvipHolder := func(t *testing.T, d time.Duration) string {
		t.Helper()
		hs, err := m.WaitFor(within(t, d), func(h []string) bool { return len(h) == 1 && (h[0] == "a" || h[0] == "b") })
		if err != nil {
			t.Fatalf("no raftvip holder: %v (holders %v)", err, m.Holders())
		}
		return hs[0]
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
	if err := l.StartRaftvip(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("1 trusted_routers: a forged master from the client host is dropped; the trusted one is heeded", func(t *testing.T) {
		holder := raftvipHolder(t, 30*time.Second)
		before := map[string]*Status{"a": status(t, "a"), "b": status(t, "b")}
		for _, h := range []string{"a", "b"} {
			if !slices.Equal(before[h].VRRP.TrustedRouters, []string{kaAddr}) || before[h].VRRP.Untrusted != nil {
				t.Fatalf("%s: trusted %v untrusted %+v, want [%s] and no allowance", h, before[h].VRRP.TrustedRouters, before[h].VRRP.Untrusted, kaAddr)
			}
		}
		tF := time.Now()
		const n = 30
		// 3 s of a master at 254: accepted, it would make the holder
		// release at its next step (100 ms).
		if err := l.SendVRRP(ctx, "c", VRRPAdvert(254), 255, n, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		for _, h := range []string{"a", "b"} {
			st := status(t, h)
			if d := st.VRRP.Stats.Dropped["untrusted"] - before[h].VRRP.Stats.Dropped["untrusted"]; d != n {
				t.Errorf("%s counted %d adverts dropped as untrusted, want %d (stats %+v)", h, d, n, st.VRRP.Stats)
			}
			if r, ok := st.VRRP.Router(clientAddr); ok {
				t.Errorf("%s lists the forger: %+v", h, r)
			}
			if st.VRRP.Master != nil {
				t.Errorf("%s sees a master on the wire: %+v", h, *st.VRRP.Master)
			}
		}
		if hs := m.Holders(); !slices.Equal(hs, []string{holder}) || len(m.Acquisitions(holder, tF)) != 0 {
			t.Fatalf("VIP changed hands after forged adverts (want %s throughout):\n%s", holder, m.Timeline())
		}
		if max, _, min := m.HolderCountsBetween(tF, time.Now()); max != 1 || min != 1 {
			t.Fatalf("VIP not held throughout the forgery:\n%s", m.Timeline())
		}
		t.Logf("%d forged adverts from %s dropped as untrusted; %s held the VIP throughout", n, clientAddr, holder)

		// The same advert from k, which is trusted: raftvip gives way.
		tK := time.Now()
		done := make(chan error, 1)
		go func() { done <- l.SendVRRP(ctx, "k", VRRPAdvert(254), 255, 50, 100*time.Millisecond) }()
		if _, err := m.WaitFor(within(t, 3*time.Second), func(h []string) bool { return len(h) == 0 }); err != nil {
			t.Fatalf("raftvip kept the VIP while trusted %s advertised 254: %v\n%s", kaAddr, err, m.Timeline())
		}
		lost, _ := m.LastLoss(holder)
		t.Logf("trusted master %s at 254: %s gave the VIP up %v after its first advert", kaAddr, holder, lost.Sub(tK).Round(time.Millisecond))
		st := status(t, holder)
		if st.VRRP.Master == nil || st.VRRP.Master.Source != kaAddr || st.VRRP.Master.Priority != 254 {
			t.Errorf("%s: master on the wire %+v, want %s at 254", holder, st.VRRP.Master, kaAddr)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// k falls silent (no priority 0): raftvip takes over after its
		// master-down interval.
		now := raftvipHolder(t, 15*time.Second)
		if got := m.Acquisitions(now, tK); len(got) == 0 || got[0].From.Before(tK.Add(5*time.Second)) {
			t.Errorf("%s took the VIP back at %v, before the trusted master's adverts ended:\n%s", now, got, m.Timeline())
		}
		noTwoHolders(t, tF)
	})

	t.Run("2 no trusted_routers: a forged master blocks raftvip for untrusted_block_max only", func(t *testing.T) {
		s := l.opts.Agent
		v := VRRPSettings{Mode: "active", UntrustedBlockMax: "5s"}
		s.VRRP = &v
		holder, _ := m.Holder()
		for _, h := range []string{l.Other(holder), holder} {
			if err := l.StopAgent(h); err != nil {
				t.Fatal(err)
			}
		}
		for _, h := range []string{"a", "b"} {
			if err := l.ReconfigureAgent(h, s); err != nil {
				t.Fatal(err)
			}
			if err := l.StartAgent(h); err != nil {
				t.Fatal(err)
			}
		}
		holder = raftvipHolder(t, 30*time.Second)
		time.Sleep(time.Second)
		if u := status(t, holder).VRRP.Untrusted; u == nil || u.BlockMax != "5s" || u.Exhausted {
			t.Fatalf("%s: untrusted allowance %+v, want 5s and not used up", holder, u)
		}
		tF := time.Now()
		// 20 s of a forged master at 254, one advert every 400 ms.
		done := make(chan error, 1)
		go func() { done <- l.SendVRRP(ctx, "c", VRRPAdvert(254), 255, 50, 400*time.Millisecond) }()
		if _, err := m.WaitFor(within(t, 3*time.Second), func(h []string) bool { return len(h) == 0 }); err != nil {
			t.Fatalf("raftvip kept the VIP while an untrusted master at 254 was within its allowance: %v\n%s", err, m.Timeline())
		}
		lost, _ := m.LastLoss(holder)
		back := raftvipHolder(t, 15*time.Second)
		got := m.Acquisitions(back, tF)
		if len(got) == 0 {
			t.Fatalf("no acquisition by %s after the forgery began", back)
		}
		select {
		case err := <-done:
			t.Fatalf("the forgery ended (%v) before raftvip took the VIP back: the bound was not what freed it", err)
		default:
		}
		gap := got[0].From.Sub(lost)
		t.Logf("forged master at 254 from %s: VIP off %s at +%v, on %s at +%v (%v without it; bound 5s)", clientAddr, holder,
			lost.Sub(tF).Round(time.Millisecond), back, got[0].From.Sub(tF).Round(time.Millisecond), gap.Round(time.Millisecond))
		if gap < 4*time.Second {
			t.Errorf("raftvip heeded the untrusted master for only %v, want the 5s bound", gap)
		}
		st := status(t, back)
		if u := st.VRRP.Untrusted; u == nil || !u.Exhausted || u.Ignored != clientAddr || u.By != clientAddr || u.Left != "0s" {
			t.Errorf("%s: untrusted %+v, want used up by and ignoring %s", back, u, clientAddr)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// The forgery is over; the VIP stayed with back all along.
		if hs := m.Holders(); !slices.Equal(hs, []string{back}) || len(m.Acquisitions(back, got[0].From.Add(time.Millisecond))) != 0 {
			t.Fatalf("VIP moved again while the forged master was ignored:\n%s", m.Timeline())
		}
		log, err := os.ReadFile(l.Agent(back).LogPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(log), "untrusted VRRP master kept raftvip from the VIP for vrrp.untrusted_block_max") {
			t.Errorf("%s logged no WARN about the ignored master", back)
		}
		noTwoHolders(t, tF)
	})

	t.Run("whole run: never two holders", func(t *testing.T) {
		noTwoHolders(t, begin)
	})
}
