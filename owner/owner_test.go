package owner

import (
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func members() map[string]fsm.Member {
	return map[string]fsm.Member{
		"hosta":   {ID: "hosta", Role: fsm.RoleDB},
		"hostb":   {ID: "hostb", Role: fsm.RoleDB},
		"witness": {ID: "witness", Role: fsm.RoleWitness},
	}
}

func health(healthy ...string) map[string]fsm.Health {
	h := map[string]fsm.Health{}
	for _, id := range []string{"hosta", "hostb"} {
		h[id] = fsm.Health{Node: id, Healthy: false, Class: "refused"}
	}
	for _, id := range healthy {
		h[id] = fsm.Health{Node: id, Healthy: true, Class: "ok"}
	}
	return h
}

func state(holder string, healthy ...string) fsm.State {
	return fsm.State{Members: members(), Health: health(healthy...), Holder: holder, Epoch: 7}
}

// base is hosta, leader for 10 s, healthy, lease fresh.
func base() Input {
	return Input{
		Self: "hosta", Role: fsm.RoleDB, Leader: true, LeaderSince: t0.Add(-10 * time.Second), Now: t0,
		LocalHealthy: true, LeaseFresh: true, FenceWait: 900 * time.Millisecond,
		State: state("", "hosta", "hostb"),
	}
}

func TestDecide(t *testing.T) {
	fenced := func(deadline time.Time) func(*Input) {
		return func(in *Input) {
			in.State.Holder = "hostb"
			in.State.Fence = &fsm.Fence{Epoch: 7, Holder: "hostb", Wait: time.Second}
			in.FenceDeadline = deadline
		}
	}
	cases := []struct {
		name   string
		mod    func(*Input)
		want   Action
		target string
	}{
		{"leader healthy, VIP free: acquire", func(in *Input) {}, Acquire, ""},
		{"leader healthy holding: renew", func(in *Input) { in.State.Holder = "hosta"; in.Holding = true }, Renew, ""},
		{"follower holding: drop at once", func(in *Input) { in.Leader = false; in.Holding = true; in.State.Holder = "hosta" }, Drop, ""},
		{"follower not holding: nothing", func(in *Input) { in.Leader = false }, None, ""},
		{"holder with stale lease proof: drop", func(in *Input) { in.State.Holder = "hosta"; in.Holding = true; in.LeaseFresh = false }, Drop, ""},
		{"holder mysql unhealthy: release first", func(in *Input) { in.State.Holder = "hosta"; in.Holding = true; in.LocalHealthy = false }, Release, ""},
		{"released and unhealthy: transfer to healthy peer", func(in *Input) { in.LocalHealthy = false; in.State.Health = health("hostb") }, Transfer, "hostb"},
		{"unhealthy, peer unhealthy too: hold nothing, stay", func(in *Input) { in.LocalHealthy = false; in.State.Health = health() }, None, ""},
		{"never transfer to a node the FSM shows unhealthy", func(in *Input) { in.LocalHealthy = false; in.State.Health = health("hosta") }, None, ""},
		{"witness leader: transfer to healthy db", func(in *Input) {
			in.Self, in.Role, in.LocalHealthy = "witness", fsm.RoleWitness, false
			in.State.Health = health("hostb")
		}, Transfer, "hostb"},
		{"witness leader, no healthy db: nothing", func(in *Input) {
			in.Self, in.Role, in.LocalHealthy = "witness", fsm.RoleWitness, false
			in.State.Health = health()
		}, None, ""},
		{"witness never acquires even if 'healthy'", func(in *Input) {
			in.Self, in.Role = "witness", fsm.RoleWitness
			in.State.Health = health()
		}, None, ""},
		{"restart: FSM says we hold, not configured: record release", func(in *Input) { in.State.Holder = "hosta" }, RecordRelease, ""},
		{"unclean loss of holder: fence with HT credit", func(in *Input) {
			in.State.Holder = "hostb"
			in.LeaderSince = t0.Add(-100 * time.Millisecond)
		}, Fence, "hostb"},
		{"fence pending, deadline ahead: wait", fenced(t0.Add(300 * time.Millisecond)), Wait, "hostb"},
		{"fence pending, deadline passed: expire", fenced(t0), ExpireFence, "hostb"},
		{"fence pending, witness: transfer now, target keeps waiting", func(in *Input) {
			fenced(t0.Add(time.Second))(in)
			in.Self, in.Role, in.LocalHealthy = "witness", fsm.RoleWitness, false
			in.State.Holder = "hosta"
			in.State.Fence.Holder = "hosta"
			in.State.Health = health("hostb")
		}, Transfer, "hostb"},
		{"fence pending, unhealthy, no target: wait", func(in *Input) {
			fenced(t0.Add(time.Second))(in)
			in.LocalHealthy = false
			in.State.Health = health()
		}, Wait, "hostb"},
		{"FSM gives VIP to another node while we hold: drop", func(in *Input) { in.State.Holder = "hostb"; in.Holding = true }, Drop, ""},
		{"nopreempt: holder keeps VIP when other node recovers", func(in *Input) {
			in.Self = "hostb"
			in.State.Holder = "hostb"
			in.Holding = true
			in.Preferred = "hosta"
		}, Renew, ""},
		{"preempt: holder releases to healthy preferred", func(in *Input) {
			in.Self = "hostb"
			in.State.Holder = "hostb"
			in.Holding = true
			in.Preempt, in.Preferred = true, "hosta"
		}, Release, "hosta"},
		{"preempt: preferred unhealthy: keep", func(in *Input) {
			in.Self = "hostb"
			in.State.Holder = "hostb"
			in.State.Health = health("hostb")
			in.Holding = true
			in.Preempt, in.Preferred = true, "hosta"
		}, Renew, ""},
		{"preempt: released, preferred healthy: transfer instead of acquire", func(in *Input) {
			in.Self = "hostb"
			in.Preempt, in.Preferred = true, "hosta"
		}, Transfer, "hosta"},
		{"preempt: preferred is self: acquire", func(in *Input) { in.Preempt, in.Preferred = true, "hosta" }, Acquire, ""},
		{"preempt transfer backing off: acquire meanwhile", func(in *Input) {
			in.Self = "hostb"
			in.Preempt, in.Preferred = true, "hosta"
			in.TransferBackoff = true
		}, Acquire, ""},
		{"unhealthy, transfer backing off: nothing", func(in *Input) {
			in.LocalHealthy = false
			in.TransferBackoff = true
		}, None, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(&in)
			d := Decide(in)
			if d.Action != tc.want || d.Target != tc.target {
				t.Fatalf("Decide = %v target %q (%s); want %v target %q", d.Action, d.Target, d.Reason, tc.want, tc.target)
			}
			if d.Reason == "" {
				t.Errorf("decision %v has no reason; status and logs need one", d.Action)
			}
		})
	}
}

func TestFenceWaitUsesElectionCredit(t *testing.T) {
	in := base()
	in.State.Holder = "hostb"
	in.FenceWait = 900 * time.Millisecond

	in.LeaderSince = t0.Add(-300 * time.Millisecond)
	if d := Decide(in); d.Action != Fence || d.Wait != 600*time.Millisecond {
		t.Fatalf("300ms into leadership: got %v wait %v, want fence wait 600ms", d.Action, d.Wait)
	}
	in.LeaderSince = t0.Add(-5 * time.Second)
	if d := Decide(in); d.Action != Fence || d.Wait != 0 {
		t.Fatalf("long-time leader: got %v wait %v, want fence wait 0", d.Action, d.Wait)
	}
}

// TestNeverTwoHolders walks every combination of the boolean inputs for two
// nodes that might both believe they lead (a stale leader and a new one) and
// checks the rule never lets a node without a fresh proof keep or add the VIP.
func TestNoHoldWithoutLeadershipProof(t *testing.T) {
	for _, leader := range []bool{false, true} {
		for _, holding := range []bool{false, true} {
			for _, fresh := range []bool{false, true} {
				for _, healthy := range []bool{false, true} {
					for _, holder := range []string{"", "hosta", "hostb"} {
						in := base()
						in.Leader, in.Holding, in.LeaseFresh, in.LocalHealthy = leader, holding, fresh, healthy
						in.State.Holder = holder
						d := Decide(in)
						keeps := d.Action == Renew || d.Action == Acquire
						if keeps && !leader {
							t.Errorf("leader=%v holding=%v fresh=%v healthy=%v holder=%q: %v without leadership", leader, holding, fresh, healthy, holder, d.Action)
						}
						if d.Action == Renew && (!fresh || !healthy || holder != "hosta") {
							t.Errorf("renew with fresh=%v healthy=%v holder=%q", fresh, healthy, holder)
						}
						if d.Action == Acquire && holder != "" {
							t.Errorf("acquire while FSM holder is %q", holder)
						}
						if holding && !leader && d.Action != Drop {
							t.Errorf("non-leader holding: %v, want drop", d.Action)
						}
					}
				}
			}
		}
	}
}

func TestTransferSkipsUnreachablePeers(t *testing.T) {
	in := base()
	in.Self, in.Role, in.LocalHealthy = "witness", fsm.RoleWitness, false
	in.Unreachable = map[string]bool{"hosta": true}
	if d := Decide(in); d.Action != Transfer || d.Target != "hostb" {
		t.Fatalf("got %v %q, want transfer to reachable hostb", d.Action, d.Target)
	}
	in.Unreachable["hostb"] = true
	if d := Decide(in); d.Action != None {
		t.Fatalf("all db peers unreachable: got %v %q, want none", d.Action, d.Target)
	}
	// Preempt never hands back to an unreachable preferred node.
	in = base()
	in.Self, in.State.Holder, in.Holding = "hostb", "hostb", true
	in.Preempt, in.Preferred = true, "hosta"
	in.Unreachable = map[string]bool{"hosta": true}
	if d := Decide(in); d.Action != Renew {
		t.Fatalf("preempt to unreachable preferred: got %v", d.Action)
	}
}

func TestMaintenanceAndSwitchover(t *testing.T) {
	cases := []struct {
		name   string
		mod    func(*Input)
		want   Action
		target string
	}{
		{"maintenance: unhealthy holder keeps the VIP", func(in *Input) {
			in.State.Holder, in.Holding, in.LocalHealthy, in.Maintenance = "hosta", true, false, true
		}, Renew, ""},
		{"maintenance: no preemption", func(in *Input) {
			in.Self, in.State.Holder, in.Holding, in.Maintenance = "hostb", "hostb", true, true
			in.Preempt, in.Preferred = true, "hosta"
		}, Renew, ""},
		{"maintenance: safety still drops a stale lease", func(in *Input) {
			in.State.Holder, in.Holding, in.LeaseFresh, in.Maintenance = "hosta", true, false, true
		}, Drop, ""},
		{"maintenance: follower holding still drops", func(in *Input) {
			in.Leader, in.Holding, in.Maintenance = false, true, true
		}, Drop, ""},
		{"switchover: holder releases first", func(in *Input) {
			in.State.Holder, in.Holding, in.SwitchoverTo = "hosta", true, "hostb"
		}, Release, "hostb"},
		{"switchover: then transfers", func(in *Input) { in.SwitchoverTo = "hostb" }, Transfer, "hostb"},
		{"switchover works in maintenance mode", func(in *Input) {
			in.State.Holder, in.Holding, in.SwitchoverTo, in.Maintenance = "hosta", true, "hostb", true
		}, Release, "hostb"},
		{"switchover to unhealthy target: ignored", func(in *Input) {
			in.State.Holder, in.Holding, in.SwitchoverTo = "hosta", true, "hostb"
			in.State.Health = health("hosta")
		}, Renew, ""},
		{"switchover to the witness: ignored", func(in *Input) {
			in.State.Holder, in.Holding, in.SwitchoverTo = "hosta", true, "witness"
		}, Renew, ""},
		{"switchover to self when free: acquire", func(in *Input) { in.SwitchoverTo = "hosta" }, Acquire, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(&in)
			d := Decide(in)
			if d.Action != tc.want || d.Target != tc.target {
				t.Fatalf("Decide = %v target %q (%s); want %v target %q", d.Action, d.Target, d.Reason, tc.want, tc.target)
			}
		})
	}
}

func TestVRRPCoexistence(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Input)
		want Action
	}{
		{"foreign master outranks: holder releases", func(in *Input) {
			in.State.Holder, in.Holding, in.VRRPBlock = "hosta", true, "VRRP master 10.99.0.21 (priority 255) outranks raftvip (250)"
		}, Release},
		{"foreign master outranks: free VIP stays free", func(in *Input) { in.VRRPBlock = "outranked" }, None},
		{"listen window not over: no acquire", func(in *Input) { in.VRRPBlock = "listening for VRRP masters" }, None},
		{"lower foreign master live: advertise first", func(in *Input) { in.VRRPYield = "10.99.0.21" }, Advertise},
		{"lower master gone: acquire", func(in *Input) {}, Acquire},
		{"outranked even in maintenance: release", func(in *Input) {
			in.State.Holder, in.Holding, in.Maintenance, in.VRRPBlock = "hosta", true, true, "outranked"
		}, Release},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(&in)
			if d := Decide(in); d.Action != tc.want {
				t.Fatalf("Decide = %v (%s), want %v", d.Action, d.Reason, tc.want)
			}
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	in := base()
	in.State.Holder, in.Holding = "hosta", true
	for i := 0; i < b.N; i++ {
		Decide(in)
	}
}

func TestSuspectHolds(t *testing.T) {
	report := fsm.Health{Node: "hostb", Healthy: true, Class: "ok", Checked: t0.Add(-time.Second)}
	s := Suspect{Since: t0, Report: report, Resumed: 2}
	newer := report
	newer.Checked = t0.Add(50 * time.Millisecond)
	cases := []struct {
		name    string
		mod     func(*Suspect)
		now     time.Time
		report  fsm.Health
		resumed uint64
		want    bool
	}{
		{"right after the failed probe: barred", nil, t0.Add(100 * time.Millisecond), report, 2, true},
		{"answered a later probe: cleared", func(s *Suspect) { s.Answered = true }, t0.Add(100 * time.Millisecond), report, 2, false},
		{"raft heartbeats resumed: cleared", nil, t0.Add(100 * time.Millisecond), report, 3, false},
		{"new health report in the FSM: cleared", nil, t0.Add(100 * time.Millisecond), newer, 2, false},
		{"report gone (member removed): cleared", nil, t0.Add(100 * time.Millisecond), fsm.Health{}, 2, false},
		{"no sign of life, max passed: cleared", nil, t0.Add(3 * time.Second), report, 2, false},
		{"no sign of life, just before max: barred", nil, t0.Add(3*time.Second - time.Millisecond), report, 2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s
			if tc.mod != nil {
				tc.mod(&s)
			}
			if got := SuspectHolds(s, tc.now, tc.report, tc.resumed, 3*time.Second); got != tc.want {
				t.Fatalf("SuspectHolds = %v, want %v", got, tc.want)
			}
		})
	}
}

// The link between the db hosts is down: a db leader that cannot hold the
// VIP relays leadership to the witness, which may reach the healthy db node
// (issue 8 case 9); nothing relays in a loop.
func TestRelayAroundCutDBLink(t *testing.T) {
	// hosta leads, its MySQL is down, hostb healthy in the FSM.
	down := func(in *Input) {
		in.LocalHealthy = false
		in.State.Health = health("hostb")
	}
	cases := []struct {
		name   string
		mod    func(*Input)
		want   Action
		target string
		reason string
	}{
		{"hostb cut off from the leader: relay to the witness", func(in *Input) {
			down(in)
			in.Unreachable = map[string]bool{"hostb": true}
		}, Transfer, "witness", "hostb is healthy but unreachable from the leader; handing leadership to witness"},
		{"fence pending, hostb cut off: relay, the fence goes with it", func(in *Input) {
			down(in)
			in.State.Holder = "hostb"
			in.State.Fence = &fsm.Fence{Epoch: 7, Holder: "hostb", Wait: time.Second}
			in.FenceDeadline = t0.Add(time.Second)
			in.Unreachable = map[string]bool{"hostb": true}
		}, Transfer, "witness", "handing leadership to witness"},
		{"witness unreachable too: nothing, and say why", func(in *Input) {
			down(in)
			in.Unreachable = map[string]bool{"hostb": true, "witness": true}
		}, None, "", "hostb is healthy but unreachable from the leader"},
		{"hostb only failed a probe (raft reaches it): no relay, wait for its answer", func(in *Input) {
			down(in)
			in.Suspects = map[string]bool{"hostb": true}
		}, None, "", "hostb is healthy but unreachable from the leader"},
		{"relay backing off: nothing", func(in *Input) {
			down(in)
			in.Unreachable = map[string]bool{"hostb": true}
			in.TransferBackoff = true
		}, None, "", "waiting to retry transfer to witness"},
		{"healthy leader with hostb cut off: acquire, no relay", func(in *Input) {
			in.Unreachable = map[string]bool{"hostb": true}
		}, Acquire, "", ""},
		{"both unhealthy: no healthy db node", func(in *Input) {
			in.LocalHealthy = false
			in.State.Health = health()
			in.Unreachable = map[string]bool{"hostb": true}
		}, None, "", "no healthy db node"},
		{"witness leads, cannot reach healthy hostb: never relays back", func(in *Input) {
			in.Self, in.Role, in.LocalHealthy = "witness", fsm.RoleWitness, false
			in.State.Health = health("hostb")
			in.Unreachable = map[string]bool{"hostb": true}
		}, None, "", "hostb is healthy but unreachable from the leader"},
		{"witness leads, reaches healthy hostb: transfer to it", func(in *Input) {
			in.Self, in.Role, in.LocalHealthy = "witness", fsm.RoleWitness, false
			in.State.Health = health("hostb")
			in.Unreachable = map[string]bool{"hosta": true}
		}, Transfer, "hostb", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(&in)
			d := Decide(in)
			if d.Action != tc.want || d.Target != tc.target || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("Decide = %v target %q (%s); want %v target %q reason containing %q", d.Action, d.Target, d.Reason, tc.want, tc.target, tc.reason)
			}
		})
	}
}

func TestMaintenanceActive(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		m    fsm.Maintenance
		want bool
	}{
		{"off", fsm.Maintenance{}, false},
		{"on, no end", fsm.Maintenance{On: true}, true},
		{"on, end ahead", fsm.Maintenance{On: true, Until: now.Add(time.Minute)}, true},
		{"on, end now", fsm.Maintenance{On: true, Until: now}, false},
		{"on, end passed", fsm.Maintenance{On: true, Until: now.Add(-time.Second)}, false},
		{"off with a stale end", fsm.Maintenance{Until: now.Add(time.Hour)}, false},
	} {
		if got := MaintenanceActive(c.m, now); got != c.want {
			t.Errorf("%s: MaintenanceActive = %v, want %v", c.name, got, c.want)
		}
	}
}

// A switchover away from the preferred node wins against preemption while
// its window is open (issue 8 case 21).
func TestSwitchoverHoldsOffPreemption(t *testing.T) {
	preempt := func(in *Input) { in.Preempt, in.Preferred = true, "hosta" }
	cases := []struct {
		name   string
		mod    func(*Input)
		want   Action
		target string
	}{
		{"switchover target leads, VIP free, window open: acquire, not hand back", func(in *Input) {
			preempt(in)
			in.Self, in.SwitchoverOpen = "hostb", true
		}, Acquire, ""},
		{"switchover target holds, window open: renew", func(in *Input) {
			preempt(in)
			in.Self, in.State.Holder, in.Holding, in.SwitchoverOpen = "hostb", "hostb", true, true
		}, Renew, ""},
		{"window over: preemption again", func(in *Input) {
			preempt(in)
			in.Self, in.State.Holder, in.Holding = "hostb", "hostb", true
		}, Release, "hosta"},
		{"preferred holder, switchover pending: releases to the target", func(in *Input) {
			preempt(in)
			in.State.Holder, in.Holding, in.SwitchoverTo, in.SwitchoverOpen = "hosta", true, "hostb", true
		}, Release, "hostb"},
		{"preferred node leads again inside the window: hands on to the target", func(in *Input) {
			preempt(in)
			in.SwitchoverTo, in.SwitchoverOpen = "hostb", true
		}, Transfer, "hostb"},
		{"target done, preferred leads inside the window: keeps it, no move back", func(in *Input) {
			preempt(in)
			in.SwitchoverOpen = true
		}, Acquire, ""},
		{"witness leads with a fence pending: target before preferred", func(in *Input) {
			preempt(in)
			in.Self, in.Role, in.LocalHealthy = "witness", fsm.RoleWitness, false
			in.State.Holder = "hosta"
			in.State.Fence = &fsm.Fence{Epoch: 7, Holder: "hosta", Wait: time.Second}
			in.FenceDeadline = t0.Add(time.Second)
			in.SwitchoverTo, in.SwitchoverOpen = "hostb", true
		}, Transfer, "hostb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(&in)
			d := Decide(in)
			if d.Action != tc.want || d.Target != tc.target {
				t.Fatalf("Decide = %v target %q (%s); want %v target %q", d.Action, d.Target, d.Reason, tc.want, tc.target)
			}
		})
	}
}

func TestSwitchoverView(t *testing.T) {
	sw := &fsm.Switchover{To: "hostb", For: 30 * time.Second}
	done := &fsm.Switchover{To: "hostb", For: 30 * time.Second, Done: true}
	dl := t0.Add(30 * time.Second)
	cases := []struct {
		name          string
		sw            *fsm.Switchover
		now           time.Time
		to            string
		open, expired bool
	}{
		{"none", nil, t0, "", false, false},
		{"asked, not done: move and hold", sw, t0, "hostb", true, false},
		{"done: hold only", done, t0.Add(29 * time.Second), "", true, false},
		{"window over: clear", done, dl, "", false, true},
		{"window over, never done: clear", sw, dl.Add(time.Second), "", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			to, open, expired := SwitchoverView(tc.sw, dl, tc.now)
			if to != tc.to || open != tc.open || expired != tc.expired {
				t.Fatalf("SwitchoverView = %q %v %v, want %q %v %v", to, open, expired, tc.to, tc.open, tc.expired)
			}
		})
	}
}

func TestVouchFenceWait(t *testing.T) {
	terms := fsm.HoldTerms{Lease: time.Second, Slack: 100 * time.Millisecond, Margin: 300 * time.Millisecond}
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		name                     string
		holder                   fsm.HoldTerms
		vouched, since, leaderAt time.Time
		want                     time.Duration
	}{
		// The pulled cable: the last vouch 0.9 s before the election, the
		// voters unchanged for long. Lifetime ends at vouch + 1.4 s.
		{"cable", terms, t0, t0.Add(-time.Hour), t0.Add(900 * time.Millisecond), 500 * time.Millisecond},
		{"long over", terms, t0, t0.Add(-time.Hour), t0.Add(3 * time.Second), 0},
		// A voter set seen only just now: a removed voter's last answer
		// may be a proof timeout (lease/3, counted as lease/2) after that.
		{"new voters", terms, t0, t0.Add(800 * time.Millisecond), t0.Add(900 * time.Millisecond), 1800 * time.Millisecond},
		// Missing terms come from the fallback (this node's own).
		{"old record", fsm.HoldTerms{}, t0, t0.Add(-time.Hour), t0.Add(time.Second), 400 * time.Millisecond},
		// The holder's own, longer lease counts, not this node's.
		{"holder's lease", fsm.HoldTerms{Lease: 3 * time.Second}, t0, t0.Add(-time.Hour), t0.Add(time.Second), 2400 * time.Millisecond},
	} {
		if got := VouchFenceWait(c.holder, terms, c.vouched, c.since, c.leaderAt); got != c.want {
			t.Errorf("%s: VouchFenceWait = %v, want %v", c.name, got, c.want)
		}
	}
}
