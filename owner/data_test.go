package owner

import (
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

func lag(s int64) *int64 { return &s }

func TestJudge(t *testing.T) {
	now := t0
	running := Replica{Configured: true, IORunning: "Yes", SQLRunning: true, SecondsBehind: lag(0), Received: "0-1-10", Executed: "0-1-10"}
	cases := []struct {
		name      string
		prev      Freshness
		mod       func(*Replica)
		nilRead   bool
		wantStale string // substring; "" = fresh
		wantNoRep bool
		wantDown  bool
	}{
		{"running, no lag: fresh", Freshness{}, func(r *Replica) {}, false, "", false, false},
		{"lag within max_lag: fresh", Freshness{}, func(r *Replica) { r.SecondsBehind = lag(10) }, false, "", false, false},
		{"lag beyond max_lag: stale", Freshness{}, func(r *Replica) { r.SecondsBehind = lag(11) }, false, "11s behind", false, false},
		{"SQL thread stopped while IO runs: stale", Freshness{}, func(r *Replica) { r.SQLRunning = false; r.SecondsBehind = nil; r.Received = "0-1-15" }, false, "SQL thread stopped", false, false},
		{"SQL thread error: stale with the error", Freshness{}, func(r *Replica) { r.SQLRunning = false; r.SQLErrno = 1062; r.SQLError = "Duplicate entry" }, false, "error 1062: Duplicate entry", false, false},
		{"no replication configured", Freshness{}, func(r *Replica) { *r = Replica{} }, false, "", true, false},
		{"unreadable state is stale, never assumed fresh", Freshness{}, func(r *Replica) { r.ReadError = "Access denied; you need SLAVE MONITOR" }, false, "unreadable", false, false},
		{"holder died (IO down): the verdict while it ran stands", Freshness{}, func(r *Replica) { r.IORunning = "Connecting"; r.SecondsBehind = nil; r.Received = "0-1-12" }, false, "", false, true},
		{"holder died, previously stale for lag: still stale", Freshness{Stale: "replication 30s behind"}, func(r *Replica) { r.IORunning = "Connecting"; r.SecondsBehind = nil; r.Received = "0-1-12" }, false, "30s behind", false, true},
		{"stale, IO down, everything received applied: caught up since", Freshness{Stale: "replication 30s behind"}, func(r *Replica) { r.IORunning = "Connecting"; r.SecondsBehind = nil }, false, "", false, true},
		{"SQL stopped, IO down, all applied: caught up since", Freshness{Stale: "replication SQL thread stopped"}, func(r *Replica) { r.IORunning = "No"; r.SQLRunning = false; r.SecondsBehind = nil }, false, "", false, true},
		{"no reading (MySQL down): previous verdict", Freshness{Stale: "x"}, nil, true, "x", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := running
			var rp *Replica
			if !c.nilRead {
				c.mod(&r)
				rp = &r
			}
			got := Judge(c.prev, rp, 10*time.Second, now)
			if c.wantStale == "" && got.Stale != "" || c.wantStale != "" && !strings.Contains(got.Stale, c.wantStale) {
				t.Errorf("stale = %q, want %q", got.Stale, c.wantStale)
			}
			if got.NoReplication != c.wantNoRep {
				t.Errorf("no replication = %v, want %v", got.NoReplication, c.wantNoRep)
			}
			if down := !got.IODownSince.IsZero(); down != c.wantDown {
				t.Errorf("io down since = %v, want set=%v", got.IODownSince, c.wantDown)
			}
		})
	}
	// IODownSince keeps the first sighting.
	down := Replica{Configured: true, IORunning: "Connecting", SQLRunning: true, Received: "0-1-12", Executed: "0-1-10"}
	f := Judge(Freshness{}, &down, 10*time.Second, now)
	f = Judge(f, &down, 10*time.Second, now.Add(5*time.Second))
	if !f.IODownSince.Equal(now) {
		t.Fatalf("IODownSince moved to %v, want the first sighting %v", f.IODownSince, now)
	}
}

func TestSameGTIDs(t *testing.T) {
	if !SameGTIDs("0-1-5,0-2-7", " 0-2-7, 0-1-5") || SameGTIDs("0-1-5", "0-1-6") || !SameGTIDs("", " ") {
		t.Fatal("SameGTIDs is not an order-insensitive comparison")
	}
}

func TestStale(t *testing.T) {
	st := func() fsm.State {
		s := state("hosta", "hosta", "hostb")
		return s
	}
	cases := []struct {
		name string
		mod  func(*fsm.State)
		want string // substring; "" = promotable
	}{
		{"fresh standby", func(s *fsm.State) {}, ""},
		{"standby reports stale", func(s *fsm.State) {
			h := s.Health["hostb"]
			h.Stale = "replication SQL thread stopped"
			s.Health["hostb"] = h
		}, "SQL thread stopped"},
		{"replication down 30s while the holder still holds: stale", func(s *fsm.State) {
			h := s.Health["hostb"]
			h.ReplDownSince = t0.Add(-30 * time.Second)
			s.Health["hostb"] = h
		}, "down for 30s"},
		{"replication down 5s (within max_lag) while the holder holds: promotable", func(s *fsm.State) {
			h := s.Health["hostb"]
			h.ReplDownSince = t0.Add(-5 * time.Second)
			s.Health["hostb"] = h
		}, ""},
		{"replication went down when the holder's MySQL died: promotable", func(s *fsm.State) {
			s.Health["hosta"] = fsm.Health{Node: "hosta", Healthy: false, Since: t0.Add(-60 * time.Second)}
			h := s.Health["hostb"]
			h.ReplDownSince = t0.Add(-59 * time.Second)
			s.Health["hostb"] = h
		}, ""},
		{"replication down 30s before the holder's MySQL died: stale", func(s *fsm.State) {
			s.Health["hosta"] = fsm.Health{Node: "hosta", Healthy: false, Since: t0.Add(-60 * time.Second)}
			h := s.Health["hostb"]
			h.ReplDownSince = t0.Add(-90 * time.Second)
			s.Health["hostb"] = h
		}, "down for 30s"},
		{"holder vanished (fenced): counted to the fence", func(s *fsm.State) {
			s.Fence = &fsm.Fence{Epoch: 7, Holder: "hosta", Time: t0.Add(-60 * time.Second)}
			h := s.Health["hostb"]
			h.ReplDownSince = t0.Add(-61 * time.Second)
			s.Health["hostb"] = h
		}, ""},
		{"after a release: counted to the release", func(s *fsm.State) {
			s.Holder = ""
			s.LastHolder, s.Released = "hosta", t0.Add(-60*time.Second)
			h := s.Health["hostb"]
			h.ReplDownSince = t0.Add(-75 * time.Second)
			s.Health["hostb"] = h
		}, "down for 15s"},
		{"no replication: promotable", func(s *fsm.State) {
			h := s.Health["hostb"]
			h.NoReplication = true
			s.Health["hostb"] = h
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := st()
			c.mod(&s)
			got := Stale(s, "hostb", 10*time.Second, t0)
			if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
				t.Errorf("Stale = %q, want %q", got, c.want)
			}
			if own := Stale(s, "hosta", 10*time.Second, t0); own != "" {
				t.Errorf("the holder is stale for itself: %q", own)
			}
		})
	}
}

// A stale standby is never promoted by the rule: the unhealthy holder
// releases, then nobody is handed leadership, and the reason names the
// stale node; the overrides promote it.
func TestDecideStaleStandby(t *testing.T) {
	staleB := func(in *Input) {
		in.LocalHealthy = false
		in.State.Health = health("hostb")
		h := in.State.Health["hostb"]
		h.Stale = "replication SQL thread stopped"
		in.State.Health["hostb"] = h
		in.State.LastHolder, in.State.Released = "hosta", t0
	}
	in := base()
	staleB(&in)
	d := Decide(in)
	if d.Action != None || !strings.Contains(d.Reason, "hostb is stale: replication SQL thread stopped") {
		t.Fatalf("stale standby: %v %q, want none naming hostb stale", d.Action, d.Reason)
	}
	in = base()
	staleB(&in)
	in.PromoteStale = true
	if d := Decide(in); d.Action != Transfer || d.Target != "hostb" {
		t.Fatalf("promote_stale: %v %s, want transfer to hostb", d.Action, d.Target)
	}
	in = base()
	staleB(&in)
	in.ForceTarget = "hostb"
	if d := Decide(in); d.Action != Transfer || d.Target != "hostb" {
		t.Fatalf("forced switchover: %v %s, want transfer to hostb", d.Action, d.Target)
	}
	// The stale node itself, leading with the VIP free, does not acquire.
	in = base()
	in.Self = "hostb"
	in.State = state("", "hostb")
	in.State.LastHolder, in.State.Released = "hosta", t0
	in.LocalStale = "replication SQL thread stopped"
	if d := Decide(in); d.Action != None || !strings.Contains(d.Reason, "stale") {
		t.Fatalf("stale leader: %v %q, want none (stale)", d.Action, d.Reason)
	}
	// promote_stale: the stale leader acquires, and says so.
	in = base()
	in.Self = "hostb"
	in.State = state("", "hostb")
	in.State.LastHolder, in.State.Released = "hosta", t0
	in.LocalStale = "replication SQL thread stopped"
	in.PromoteStale = true
	if d := Decide(in); d.Action != Acquire || !strings.Contains(d.Reason, "DATA AT RISK: promoted by failover.promote_stale although stale (replication SQL thread stopped)") {
		t.Fatalf("promote_stale acquire: %v %q, want acquire recorded as data at risk", d.Action, d.Reason)
	}
	// The last holder is never stale for itself: it takes the VIP back.
	in = base()
	in.State = state("", "hosta")
	in.State.LastHolder, in.State.Released = "hosta", t0
	in.LocalStale = "replication SQL thread stopped"
	if d := Decide(in); d.Action != Acquire {
		t.Fatalf("last holder with broken replication from the standby: %v %q, want acquire", d.Action, d.Reason)
	}
}
