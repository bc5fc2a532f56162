package lab

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLabMigrationGuide follows docs/migrating-from-keepalived.md end to
// end on one lab, starting from keepalived on hosta and hostb configured
// like the seed, and asserts what each step promises:
//
//	0 prepare: `raftvip import-keepalived` turns each host's keepalived.conf
//	  into its raftvip config (observe mode), and `raftvip validate` accepts it;
//	1 observe: the agents run, keepalived keeps the VIP, status names
//	  keepalived's master and what raftvip would do, no epochs — also
//	  through a MySQL failure that keepalived handles;
//	2 active (followers first, leader last): the VIP ends on a raftvip
//	  holder, keepalived BACKUP on both hosts, one holder at every instant,
//	  a bounded client outage;
//	  rollback (mode observe again): keepalived takes over after raftvip's
//	  priority-0 advert; then step 2 again;
//	3 keepalived stopped: raftvip keeps the VIP, a MySQL kill still fails
//	  over; rollback (keepalived started again): it stays BACKUP.
func TestLabMigrationGuide(t *testing.T) {
	bin := requireLab(t)
	l := newTestLab(t, Options{RaftvipBin: bin})
	ctx := within(t, 7*time.Minute)
	m := l.Monitor()
	begin := time.Now()

	noTwoHolders := func(t *testing.T, from time.Time) {
		t.Helper()
		if max, at, _ := m.HolderCountsBetween(from, time.Now()); max > 1 {
			t.Errorf("%d hosts held the VIP at once at %s\n%s", max, at.Format(timeFmt), m.Timeline())
		}
		if err := m.Err(); err != nil {
			t.Errorf("monitor: %v", err)
		}
	}
	kaState := func(host string) string { return l.Keepalived(host).State() }
	// waitBackupBoth waits until keepalived on a and b both last logged
	// BACKUP.
	waitBackupBoth := func(t *testing.T, d time.Duration) {
		t.Helper()
		eventually(t, d, "keepalived BACKUP on hosta and hostb", func() error {
			if a, b := kaState("a"), kaState("b"); a != "BACKUP" || b != "BACKUP" {
				return fmt.Errorf("keepalived states: hosta %s, hostb %s", a, b)
			}
			return nil
		})
	}

	// The starting point: the seed's keepalived pair.
	if err := l.StartKeepalived(ctx); err != nil {
		t.Fatal(err)
	}
	kaHolder, err := l.WaitStableHolder(within(t, 30*time.Second), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitKeepalivedState(within(t, 10*time.Second), l.Other(kaHolder), "BACKUP"); err != nil {
		t.Fatal(err)
	}
	c, err := l.StartClient(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	if _, err := c.WaitGood(within(t, 15*time.Second), l.Host(kaHolder).ServerID, time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Logf("start: keepalived MASTER on %s, BACKUP on %s", kaHolder, l.Other(kaHolder))

	configs := map[string]string{}
	blockRE := regexp.MustCompile(`(?m)^\s*(vrrp|vip|mysql)\s*\{`)
	wouldRE := regexp.MustCompile(`^observe mode, VIP untouched: would advertise: `)
	prepared := t.Run("0 prepare: import-keepalived writes every node's config", func(t *testing.T) {
		peerFlag := func(name string) string {
			h := l.Host(name)
			return fmt.Sprintf("%s=%s:%d,%s", h.NodeID, h.IP, RaftPort, h.Role)
		}
		for _, name := range []string{"a", "b", "w"} {
			h := l.Host(name)
			p, err := l.AgentPathsOf(name)
			if err != nil {
				t.Fatal(err)
			}
			// The DB hosts import their own keepalived.conf; the witness,
			// which runs no keepalived, imports hosta's with -role witness.
			src := l.Keepalived("a").Config
			args := []string{"import-keepalived", "-node-id", h.NodeID, "-bind", fmt.Sprintf("%s:%d", h.IP, RaftPort),
				"-data-dir", p.DataDir, "-admin", p.AdminSock, "-o", p.Config}
			for _, o := range []string{"a", "b", "w"} {
				if o != name {
					args = append(args, "-peer", peerFlag(o))
				}
			}
			if h.Role == RoleDB {
				src = l.Keepalived(name).Config
				// The lab's MariaDB listens on the host address and the
				// VIP, not on 127.0.0.1 as in the guide's example.
				args = append(args, "-mysql-dsn", fmt.Sprintf("%s:%s@tcp(%s:%d)/", CheckUser, CheckPassword, h.IP, MySQLPort))
			} else {
				args = append(args, "-role", "witness")
			}
			out, err := exec.CommandContext(ctx, bin, append(args, src)...).CombinedOutput()
			if err != nil {
				t.Fatalf("raftvip %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if strings.Contains(string(out), CheckPassword) {
				t.Errorf("import printed the check password:\n%s", out)
			}
			if out, err := exec.CommandContext(ctx, bin, "validate", "-config", p.Config).CombinedOutput(); err != nil {
				t.Fatalf("raftvip validate -config %s: %v\n%s", p.Config, err, out)
			}
			b, err := os.ReadFile(p.Config)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			if h.Role == RoleDB {
				// What must match keepalived exactly, or it drops raftvip's
				// adverts (the guide's "What makes it work").
				for _, want := range []string{`mode              = "observe"`, `addresses = ["` + VIPCIDR + `"]`, `virtual_router_id = 51`,
					`advert_int        = "1s"`, `auth_pass         = "1111"`, `interface = "eth0"`, `preempt = false`,
					// Only the other host's keepalived is heard (issue 9).
					`trusted_routers   = ["` + l.Host(l.Other(name)).IP + `"]`} {
					if !strings.Contains(text, want) {
						t.Errorf("%s's imported config lacks %s:\n%s", h.NodeID, want, text)
					}
				}
			} else if blockRE.MatchString(text) {
				t.Errorf("witness config has a vrrp, vip or mysql block:\n%s", text)
			}
			configs[name] = text
		}
	})
	if !prepared {
		t.FailNow()
	}

	// setMode edits vrrp.mode in host's config, as the guide tells the
	// operator to.
	modeRE := regexp.MustCompile(`(?m)^(\s*mode\s*=\s*)"[a-z]+"`)
	setMode := func(t *testing.T, host, mode string) {
		t.Helper()
		a := l.Agent(host)
		b, err := os.ReadFile(a.Config)
		if err != nil {
			t.Fatal(err)
		}
		if !modeRE.Match(b) {
			t.Fatalf("%s: no vrrp mode line in %s", host, a.Config)
		}
		if err := a.WriteConfig(modeRE.ReplaceAllString(string(b), `${1}"`+mode+`"`)); err != nil {
			t.Fatal(err)
		}
	}
	// restartInMode sets mode on both DB nodes and restarts them the way
	// the guide says: Raft followers first, the leader last, each back and
	// healthy before the next.
	restartInMode := func(t *testing.T, mode string) {
		t.Helper()
		st, err := l.WaitAllHealthy(within(t, 30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		order := []string{"b", "a"} // the guide: hostb, then hosta
		if st.Leader == l.Host("b").NodeID {
			order = []string{"a", "b"}
		}
		t.Logf("leader %s: restarting %s then %s in %s mode", st.Leader, order[0], order[1], mode)
		for i, h := range order {
			tr := time.Now()
			holders := m.Holders()
			setMode(t, h, mode)
			if err := l.StopAgent(h); err != nil {
				t.Fatal(err)
			}
			if err := l.StartAgent(h); err != nil {
				t.Fatal(err)
			}
			eventually(t, 30*time.Second, l.Host(h).NodeID+" back in "+mode+" mode and healthy", func() error {
				st, err := l.Agent(h).Status(ctx)
				if err != nil {
					return err
				}
				if n, _ := st.Node(l.Host(h).NodeID); st.VRRPMode != mode || !n.Healthy || st.Leader == "" {
					return fmt.Errorf("mode %q, healthy %v, leader %q", st.VRRPMode, n.Healthy, st.Leader)
				}
				return nil
			})
			if i == 0 {
				// A follower's restart changes nothing on the wire: the
				// leader (in the old mode) still decides.
				time.Sleep(time.Second)
				var moved []Interval
				for _, host := range []string{"a", "b"} {
					moved = append(moved, m.Acquisitions(host, tr)...)
				}
				if max, _, min := m.HolderCountsBetween(tr, time.Now()); len(moved) > 0 || max != 1 || min != 1 {
					t.Errorf("restarting follower %s in %s mode moved the VIP (held by %v before):\n%s\n%s's log:\n%s",
						l.Host(h).NodeID, mode, holders, m.Timeline(), l.Host(h).NodeID, TailFile(l.Agent(h).LogPath, 25))
				}
			}
		}
	}

	t.Run("1 observe: keepalived keeps the VIP, status shows its master, no epochs", func(t *testing.T) {
		t1 := time.Now()
		if err := l.StartRaftvipConfigs(ctx, configs); err != nil {
			t.Fatal(err)
		}
		var st *Status
		// keepalived is MASTER (heard on the wire, or holding the VIP on
		// the leader's own host): the leader would advertise until it
		// yields.
		eventually(t, 30*time.Second, "a DB leader saying what it would do", func() error {
			var err error
			if st, err = l.WaitAllHealthy(ctx); err != nil {
				return err
			}
			n, _ := st.Node(st.Leader)
			if n.Role != "db" || !wouldRE.MatchString(n.Reason) {
				return fmt.Errorf("leader %s: %s: %s", st.Leader, n.Decision, n.Reason)
			}
			return nil
		})
		n, _ := st.Node(st.Leader)
		t.Logf("leader %s: %s", st.Leader, n.Reason)
		for _, h := range []string{"a", "b"} {
			st, err := l.Agent(h).Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.VRRPMode != "observe" || st.Holder != "" || st.Epoch != 0 || len(st.History) != 0 {
				t.Fatalf("%s: mode %q, holder %q, epoch %d, history %v: want observe, nobody, no epochs", h, st.VRRPMode, st.Holder, st.Epoch, st.History)
			}
			// The guide: "a VRRP section listing keepalived's master". The
			// witness speaks no VRRP, and keepalived sends with multicast
			// loopback off, so an agent never hears the keepalived on its
			// own host: ask the other DB host.
			ma := st.VRRP.Master
			if h == kaHolder {
				t.Logf("%s (keepalived's master host) sees master %+v, %d routers", h, ma, len(st.VRRP.Routers))
				continue
			}
			if ma == nil || ma.Source != l.Host(kaHolder).IP || ma.Priority != KeepalivedPriority[kaHolder] || ma.Version != 2 || len(ma.Mismatches) != 0 {
				t.Errorf("%s: master on the wire %+v (routers %+v, %d adverts accepted), want keepalived on %s (%s, priority %d, VRRPv2, no mismatches)",
					h, ma, st.VRRP.Routers, st.VRRP.Stats.Accepted, kaHolder, l.Host(kaHolder).IP, KeepalivedPriority[kaHolder])
			}
		}
		text, err := l.Agent("a").StatusText(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"VIP:     (nobody)", "VRRP (observe mode"} {
			if !strings.Contains(text, want) {
				t.Errorf("status lacks %q:\n%s", want, text)
			}
		}
		if out, err := l.Agent("b").Command(ctx, "history"); err != nil || !strings.Contains(out, "no epochs yet") {
			t.Errorf("raftvip history: %v\n%s", err, out)
		}

		// Through a MySQL failure that keepalived handles: raftvip still
		// touches nothing.
		old := kaHolder
		tk := time.Now()
		if err := l.KillMySQL(old); err != nil {
			t.Fatal(err)
		}
		kaHolder = l.Other(old)
		if err := m.WaitHolder(within(t, 20*time.Second), kaHolder); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitGood(within(t, 15*time.Second), l.Host(kaHolder).ServerID, tk); err != nil {
			t.Fatal(err)
		}
		if err := l.RestartMySQL(ctx, old); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitKeepalivedState(within(t, 15*time.Second), old, "BACKUP"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.WaitAllHealthy(within(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"a", "b"} {
			st, err := l.Agent(h).Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Epoch != 0 || len(st.History) != 0 {
				t.Fatalf("raftvip recorded epochs in observe mode: %s", st.Raw)
			}
		}
		// The VIP went only where keepalived put it.
		for _, iv := range m.Intervals() {
			if iv.From.After(t1) && iv.Host != kaHolder {
				t.Fatalf("VIP on %s during observe mode, keepalived had it on %s:\n%s", iv.Host, kaHolder, m.Timeline())
			}
		}
		if hs := m.Holders(); !slices.Equal(hs, []string{kaHolder}) {
			t.Fatalf("holders %v, want keepalived's master %s", hs, kaHolder)
		}
		eventually(t, 10*time.Second, "the other DB host's agent sees keepalived's new master", func() error {
			for _, h := range []string{l.Other(kaHolder)} {
				st, err := l.Agent(h).Status(ctx)
				if err != nil {
					return err
				}
				if ma := st.VRRP.Master; ma == nil || ma.Source != l.Host(kaHolder).IP {
					return fmt.Errorf("%s: master on the wire %+v, want keepalived on %s", h, ma, kaHolder)
				}
			}
			return nil
		})
		noTwoHolders(t, t1)
	})

	// step2 switches to active mode and checks the guide's promises; it
	// returns the raftvip holder.
	step2 := func(t *testing.T) string {
		t2 := time.Now()
		restartInMode(t, "active")
		var holder string
		// On the host where keepalived was MASTER the monitor alone cannot
		// tell whose address it is: keepalived adds the VIP forever,
		// raftvip with its lease.
		raftvipHolds := func() error {
			st, err := l.AnyStatus(ctx)
			if err != nil {
				return err
			}
			h, ok := m.Holder()
			if st.Holder == "" || !ok || l.Host(h).NodeID != st.Holder {
				return fmt.Errorf("raftvip holder %q, monitor %v", st.Holder, m.Holders())
			}
			if secs, forever, _ := m.Lifetime(h); forever {
				return fmt.Errorf("VIP on %s with valid_lft forever (keepalived's), want raftvip's lease", h)
			} else if secs <= 0 {
				return fmt.Errorf("VIP on %s with valid_lft %d", h, secs)
			}
			holder = h
			return nil
		}
		eventually(t, 30*time.Second, "a raftvip holder", raftvipHolds)
		waitBackupBoth(t, 10*time.Second)
		// Settled: still raftvip's, on the same host, 2 s later.
		settle := time.Now()
		time.Sleep(2 * time.Second)
		if err := raftvipHolds(); err != nil {
			t.Fatalf("2 s after raftvip took the VIP: %v\n%s", err, m.Timeline())
		}
		if max, _, min := m.HolderCountsBetween(settle, time.Now()); max != 1 || min != 1 || len(m.Acquisitions(holder, settle)) != 0 {
			t.Fatalf("VIP not held by %s throughout the 2 s after it took it:\n%s", holder, m.Timeline())
		}
		if _, err := c.WaitGood(within(t, 15*time.Second), l.Host(holder).ServerID, time.Now()); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "status: no master on the wire besides raftvip", func() error {
			text, err := l.Agent(holder).StatusText(ctx, false)
			if err != nil {
				return err
			}
			if !strings.Contains(text, "master on the wire: none besides raftvip") || !strings.Contains(text, "VIP:     "+l.Host(holder).NodeID) {
				return fmt.Errorf("status:\n%s", text)
			}
			return nil
		})
		out, ok := c.LongestOutage(t2, time.Now())
		if ok {
			t.Logf("step 2: VIP on %s (raftvip), keepalived BACKUP on both; longest client outage %v (%s to %s)",
				holder, out.Duration.Round(time.Millisecond), out.LastGood.End.Format(timeFmt), out.FirstGood.End.Format(timeFmt))
		}
		// The guide says "about one second"; a yield waits for keepalived
		// to fall silent (1.5 advert intervals). Generous bound.
		if !ok || out.Duration > 5*time.Second {
			t.Errorf("client outage in step 2: %v (measured %v), want a bounded gap", out.Duration, ok)
		}
		noTwoHolders(t, t2)
		return holder
	}

	var holder string
	if !t.Run("2 active: raftvip takes the VRID over, keepalived stays BACKUP", func(t *testing.T) {
		holder = step2(t)
	}) {
		t.FailNow()
	}

	t.Run("2 rollback: observe again, keepalived takes over after priority 0", func(t *testing.T) {
		tr := time.Now()
		restartInMode(t, "observe")
		kh, err := l.WaitStableHolder(within(t, 20*time.Second), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if kaState(kh) != "MASTER" || kaState(l.Other(kh)) != "BACKUP" {
			t.Fatalf("VIP on %s but keepalived states hosta %s, hostb %s", kh, kaState("a"), kaState("b"))
		}
		lost, _ := m.LastLoss(holder)
		got := m.Acquisitions(kh, tr)
		if len(got) == 0 || lost.Before(tr) {
			t.Fatalf("no handover raftvip %s -> keepalived %s:\n%s", holder, kh, m.Timeline())
		}
		gap := got[0].From.Sub(lost)
		t.Logf("rollback: raftvip released the VIP on %s, keepalived on %s added it %v later (after priority 0)", holder, kh, gap.Round(time.Millisecond))
		if !strings.Contains(l.Keepalived(kh).LogSince(), "Backup received priority 0 advertisement") {
			t.Errorf("keepalived on %s did not hear raftvip's priority-0 advert", kh)
		}
		// Without the priority-0 advert: at least 2.6 s (see
		// TestVRRPInterop); the guide promises the skew time (~0.6 s).
		if gap > 2500*time.Millisecond {
			t.Errorf("keepalived took over %v after raftvip released, want its skew time", gap)
		}
		if _, err := c.WaitGood(within(t, 15*time.Second), l.Host(kh).ServerID, tr); err != nil {
			t.Fatal(err)
		}
		st, err := l.WaitAllHealthy(within(t, 20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if st.VRRPMode != "observe" {
			t.Fatalf("mode %q after rollback", st.VRRPMode)
		}
		noTwoHolders(t, tr)
	})

	if !t.Run("2 again", func(t *testing.T) {
		holder = step2(t)
	}) {
		t.FailNow()
	}

	t.Run("3 keepalived removed: raftvip keeps the VIP, a MySQL kill still fails over", func(t *testing.T) {
		t3 := time.Now()
		for _, h := range []string{"b", "a"} {
			if err := l.StopKeepalivedOn(h); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Second)
		if max, _, min := m.HolderCountsBetween(t3, time.Now()); max != 1 || min != 1 || len(m.Acquisitions(holder, t3)) != 0 {
			t.Fatalf("VIP not held by %s throughout keepalived's stop:\n%s", holder, m.Timeline())
		}
		if s := c.SummaryBetween(t3, time.Now()); s.Failed != 0 || s.OK == 0 {
			t.Fatalf("client reads while keepalived stopped: %+v", s)
		}

		other := l.Other(holder)
		tk := time.Now()
		if err := l.KillMySQL(holder); err != nil {
			t.Fatal(err)
		}
		if err := m.WaitHolder(within(t, 20*time.Second), other); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitGood(within(t, 15*time.Second), l.Host(other).ServerID, tk); err != nil {
			t.Fatal(err)
		}
		if out, ok := c.Downtime(tk, l.Host(other).ServerID); ok {
			t.Logf("step 3: MySQL killed on %s, VIP on %s; client outage %v", holder, other, out.Duration.Round(time.Millisecond))
		}
		if err := l.RestartMySQL(ctx, holder); err != nil {
			t.Fatal(err)
		}
		holder = other
		noTwoHolders(t, t3)
	})

	t.Run("3 rollback: keepalived started again stays BACKUP", func(t *testing.T) {
		if _, err := l.WaitAllHealthy(within(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		tr := time.Now()
		for _, h := range []string{"a", "b"} {
			if _, err := l.StartKeepalivedOn(ctx, h, KeepalivedOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		waitBackupBoth(t, 10*time.Second)
		time.Sleep(time.Until(tr.Add(6 * time.Second))) // > keepalived's master-down interval
		for _, h := range []string{"a", "b"} {
			if st := l.Keepalived(h).States(); slices.Contains(st, "MASTER") {
				t.Fatalf("keepalived on %s went %v while raftvip advertised", h, st)
			}
		}
		// keepalived 2.2.7 removes its VIPs from its interface at startup
		// ("(VI_1) removing VIPs."), also on the host where raftvip holds
		// the VIP; raftvip's next renewal adds it back. The guide says so;
		// the blip is measured, not asserted.
		for _, iv := range m.Intervals() {
			if !iv.From.Before(tr) && iv.Host != holder {
				t.Fatalf("VIP on %s after keepalived started, raftvip holds it on %s:\n%s", iv.Host, holder, m.Timeline())
			}
		}
		if hs := m.Holders(); !slices.Equal(hs, []string{holder}) {
			t.Fatalf("holders %v, want raftvip's %s", hs, holder)
		}
		if out, ok := c.LongestOutage(tr, time.Now()); ok {
			t.Logf("keepalived restarted next to raftvip: VIP re-added %d time(s) on %s, longest client outage %v",
				len(m.Acquisitions(holder, tr)), holder, out.Duration.Round(time.Millisecond))
		}
		noTwoHolders(t, tr)
	})

	t.Run("whole run: never two holders", func(t *testing.T) {
		noTwoHolders(t, begin)
	})
}
