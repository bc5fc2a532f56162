package agent

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
	"github.com/raftvip/raftvip/vip/viptest"
)

// newDataCluster is the in-process cluster with a fake server per db node
// that the agents drive.
func newDataCluster(t *testing.T, tune func(*node, *Options)) (*testCluster, *dbWorld) {
	t.Helper()
	w := &dbWorld{}
	// Made before any node starts: keepers read the map (remote).
	dbs := map[string]*fakeDB{"hosta": newFakeDB(w, "hosta"), "hostb": newFakeDB(w, "hostb")}
	dbs["hosta"].pos.ServerID, dbs["hostb"].pos.ServerID = 1, 2
	prep := func(n *node) {
		if n.role == fsm.RoleDB {
			n.db = dbs[n.id]
		}
	}
	prep2 := func(n *node) {
		prep(n)
		if n.role == fsm.RoleDB {
			n.health.SetReplication(mysqlcheck.Replication{Flavor: mysqlcheck.FlavorMariaDB, Configured: true,
				Source: otherDB(n.id) + ":3306", IORunning: "Yes", SQLRunning: true, SecondsBehind: new(int64)})
		}
	}
	remote := func(addr string) (DB, error) {
		id, _, _ := strings.Cut(addr, ":")
		if db := dbs[id]; db != nil {
			return db, nil
		}
		return nil, fmt.Errorf("no server at %s", addr)
	}
	tc := newTestClusterPrep(t, false, func(n *node) {
		prep2(n)
		n.remoteDB = remote
	}, func(n *node, o *Options) {
		o.Data.KillSessions = true
		if tune != nil {
			tune(n, o)
		}
	})
	return tc, w
}

func otherDB(id string) string {
	if id == "hosta" {
		return "hostb"
	}
	return "hosta"
}

// assertWritesFenced: never two servers writable at once, and a server is
// writable only inside its own node's VIP holding (it turned writable after
// the VIP was added, read-only before the VIP was removed).
func assertWritesFenced(t *testing.T, tc *testCluster, w *dbWorld) {
	t.Helper()
	if n := w.maxWritable(); n > 1 {
		t.Fatalf("%d servers writable at once: %+v", n, w.spans())
	}
	var held []span
	open := map[string]time.Time{}
	for _, e := range tc.tl.Events() {
		switch e.Op {
		case viptest.OpAcquire:
			if _, ok := open[e.Node]; !ok {
				open[e.Node] = e.Time
			}
		case viptest.OpRelease:
			if from, ok := open[e.Node]; ok {
				held = append(held, span{e.Node, from, e.Time})
				delete(open, e.Node)
			}
		}
	}
	for n, from := range open {
		held = append(held, span{n, from, time.Time{}})
	}
	for _, s := range w.spans() {
		inside := false
		for _, h := range held {
			if h.node == s.node && !s.from.Before(h.from) && (h.to.IsZero() || (!s.to.IsZero() && !s.to.After(h.to))) {
				inside = true
			}
		}
		if !inside {
			t.Fatalf("%s's server was writable %s..%s outside its VIP holding %+v", s.node, s.from.Format("15:04:05.000"), s.to.Format("15:04:05.000"), held)
		}
	}
}

func (tc *testCluster) other(id string) string {
	if id == "hosta" {
		return "hostb"
	}
	return "hosta"
}

// The holder's server is the only writable one; on an unplanned failover
// the new holder turns writable only after it applied what it received;
// on a switchover the old holder fences (read_only, kill, final position)
// before the VIP leaves, and the target applies that position before it
// turns writable. Never two writable, never writable without the VIP.
func TestOnlyTheHolderIsWritable(t *testing.T) {
	tc, w := newDataCluster(t, nil)
	h := tc.waitHolder(10 * time.Second)
	o := tc.other(h)
	hdb, odb := tc.nodes[h].db, tc.nodes[o].db
	tc.eventually(h+"'s server writable", 5*time.Second, func() bool { return !hdb.isReadOnly() })
	if !odb.isReadOnly() {
		t.Fatalf("%s's server is writable while %s holds the VIP", o, h)
	}
	tc.eventually("peer health replicated", 5*time.Second, func() bool { return tc.nodes[h].fsm.State().Healthy(o) })

	// Unplanned: the holder's MySQL dies. The standby has received more
	// than it applied; it adds the VIP read-only and waits.
	odb.setPos("0-2-5", "0-1-42")
	tc.nodes[h].health.Set(false)
	tc.eventually("VIP moves to "+o, 10*time.Second, func() bool { return tc.holder() == o })
	tc.eventually(o+" waits for what it received", 5*time.Second, func() bool {
		ws := odb.waited()
		return len(ws) > 0 && ws[len(ws)-1] == "0-1-42"
	})
	time.Sleep(200 * time.Millisecond)
	if !odb.isReadOnly() {
		t.Fatalf("%s turned writable before its SQL thread applied what it received", o)
	}
	odb.apply("0-1-42")
	tc.eventually(o+"'s server writable after the catch-up", 5*time.Second, func() bool { return !odb.isReadOnly() })
	if !hdb.isReadOnly() {
		t.Fatalf("the old holder %s's server is still writable", h)
	}
	tc.eventually("the writable record of the catch-up", 5*time.Second, func() bool {
		st := tc.nodes[o].fsm.State()
		e := st.History[len(st.History)-1]
		return e.Op == fsm.OpWritable && e.Node == o && strings.Contains(e.Reason, "caught up with 0-1-42")
	})
	assertWritesFenced(t, tc, w)

	// Planned: back to h, whose MySQL recovered. o fences and hands its
	// final position over; h waits for it.
	tc.nodes[h].health.Set(true)
	tc.eventually("recovery replicated", 5*time.Second, func() bool { return tc.nodes[o].fsm.State().Healthy(h) })
	odb.setPos("0-2-77", "0-1-42")
	swRes := make(chan SwitchoverResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, _ := tc.nodes[o].agent.Switchover(ctx, SwitchoverRequest{To: h, Timeout: 8 * time.Second})
		swRes <- r
	}()
	tc.eventually(h+" waits for the handoff position 0-2-77", 10*time.Second, func() bool {
		ws := hdb.waited()
		return len(ws) > 0 && ws[len(ws)-1] == "0-2-77"
	})
	if !odb.isReadOnly() || odb.killed == 0 {
		t.Fatalf("the old holder did not fence its server (read-only %v, kills %d)", odb.isReadOnly(), odb.killed)
	}
	if !hdb.isReadOnly() {
		t.Fatal("switchover target writable before it applied the handoff position")
	}
	hdb.apply("0-2-77")
	tc.eventually(h+"'s server writable", 5*time.Second, func() bool { return !hdb.isReadOnly() })
	select {
	case r := <-swRes:
		// The epoch's acquire carries the handover, though the VIP's add
		// and the catch-up's end are recorded after it (a CI run printed
		// the switchover without "VIP free for").
		if r.To != h || r.Handover <= 0 {
			t.Fatalf("switchover result %+v, want a move to %s with its handover time", r, h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("switchover did not return")
	}
	if hf := tc.nodes[h].fsm.State().Handoff; hf == nil || hf.From != o || hf.GTID != "0-2-77" {
		t.Fatalf("handoff %+v, want %s's final position 0-2-77", hf, o)
	}
	assertWritesFenced(t, tc, w)
	tc.assertNeverTwo()
}

// A catch-up that does not finish: with on_catchup_timeout = writable the
// holder turns writable and the history says "data at risk"; with
// stay_read_only it stays read-only and says why.
func TestCatchupTimeout(t *testing.T) {
	for _, mode := range []string{OnCatchupWritable, OnCatchupStayReadOnly} {
		t.Run(mode, func(t *testing.T) {
			tc, w := newDataCluster(t, func(n *node, o *Options) {
				o.Data.CatchupTimeout = 300 * time.Millisecond
				o.Data.OnCatchupTimeout = mode
			})
			h := tc.waitHolder(10 * time.Second)
			o := tc.other(h)
			odb := tc.nodes[o].db
			tc.eventually("peer health replicated", 5*time.Second, func() bool { return tc.nodes[h].fsm.State().Healthy(o) })
			odb.setPos("0-2-5", "0-1-99") // never applied
			tc.nodes[h].health.Set(false)
			tc.eventually("VIP moves to "+o, 10*time.Second, func() bool { return tc.holder() == o })
			want := "DATA AT RISK"
			if mode == OnCatchupStayReadOnly {
				want = "staying read-only"
			}
			tc.eventually("the catch-up's end recorded", 5*time.Second, func() bool {
				for _, e := range tc.nodes[o].fsm.State().History {
					if e.Op == fsm.OpWritable && strings.Contains(e.Reason, want) {
						return true
					}
				}
				return false
			})
			time.Sleep(200 * time.Millisecond)
			if ro := odb.isReadOnly(); ro != (mode == OnCatchupStayReadOnly) {
				t.Fatalf("%s: read-only %v after the timeout", mode, ro)
			}
			assertWritesFenced(t, tc, w)
		})
	}
}

func staleReplication() mysqlcheck.Replication {
	return mysqlcheck.Replication{Flavor: mysqlcheck.FlavorMariaDB, Configured: true, IORunning: "Yes", SQLRunning: false,
		ReceivedGTID: "0-1-50", ExecutedGTID: "0-1-45"}
}

// A standby whose SQL thread is stopped is not promoted: the holder's MySQL
// dies, the VIP stays free, the leader says who is stale and why; a forced
// switchover promotes it and the history says data at risk.
func TestStaleStandbyIsNotPromoted(t *testing.T) {
	tc, w := newDataCluster(t, nil)
	h := tc.waitHolder(10 * time.Second)
	o := tc.other(h)
	tc.nodes[o].health.SetReplication(staleReplication())
	tc.eventually(o+"'s stale verdict replicated", 5*time.Second, func() bool {
		return strings.Contains(tc.nodes[h].fsm.State().Health[o].Stale, "SQL thread stopped")
	})
	tc.nodes[h].health.Set(false)
	tc.eventually("the holder releases", 10*time.Second, func() bool { return tc.holder() == "" })
	time.Sleep(3 * testLease)
	if hs := tc.tl.Holders(time.Now()); len(hs) != 0 {
		t.Fatalf("VIP on %v: a stale standby was promoted", hs)
	}
	l := tc.leader()
	if l == nil {
		t.Fatal("no leader")
	}
	if d := l.agent.current().Decision; !strings.Contains(d.Reason, o+" is stale") {
		t.Fatalf("leader %s's decision %q does not name the stale node", l.id, d.Reason)
	}
	// status says who is stale and why.
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	cs := l.agent.ClusterStatus(sctx, 0)
	scancel()
	shown := false
	for _, v := range cs.Nodes {
		shown = shown || (v.ID == o && strings.Contains(v.Stale, "SQL thread stopped"))
	}
	if !shown {
		t.Fatalf("status does not show %s stale: %+v", o, cs.Nodes)
	}
	// Asked without -force: refused, with the reason.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.agent.Switchover(ctx, SwitchoverRequest{To: o, Timeout: 5 * time.Second}); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("switchover to a stale node: %v, want a refusal naming it stale", err)
	}
	if _, err := l.agent.Switchover(ctx, SwitchoverRequest{To: o, Timeout: 5 * time.Second, Force: true}); err != nil {
		t.Fatalf("forced switchover: %v", err)
	}
	tc.eventually("VIP on the forced target "+o, 10*time.Second, func() bool { return tc.holder() == o })
	risk := false
	for _, e := range tc.nodes[o].fsm.State().History {
		risk = risk || (e.Op == "switchover" && strings.Contains(e.Reason, "DATA AT RISK"))
	}
	if !risk {
		t.Fatalf("history does not record the forced promotion as data at risk: %+v", tc.nodes[o].fsm.State().History)
	}
	assertWritesFenced(t, tc, w)
	tc.assertNeverTwo()
}

// A holder replaced by an unplanned move comes back with transactions the
// new holder never received: they are found by GTID comparison and
// reported (status, health), and the new holder, which stopped its
// replication from the old master when it took over, takes nothing from it
// until a check finds none — never applied silently, never discarded.
func TestErrantTransactionsAreReportedNotApplied(t *testing.T) {
	tc, _ := newDataCluster(t, nil)
	h := tc.waitHolder(10 * time.Second)
	o := tc.other(h)
	hdb, odb := tc.nodes[h].db, tc.nodes[o].db
	hid := hdb.pos.ServerID
	own := fmt.Sprintf("0-%d-105", hid)
	hdb.mu.Lock()
	hdb.pos.BinlogState = own // five more of its own than the standby got
	hdb.mu.Unlock()
	odb.mu.Lock()
	odb.pos.BinlogState = fmt.Sprintf("0-%d-100,0-%d-7", hid, odb.pos.ServerID)
	odb.mu.Unlock()
	tc.eventually("peer health replicated", 5*time.Second, func() bool { return tc.nodes[h].fsm.State().Healthy(o) })

	tc.nodes[h].health.Set(false)
	tc.eventually("VIP moves to "+o, 10*time.Second, func() bool { return tc.holder() == o })
	tc.eventually(o+" writable with its replication from "+h+" held", 5*time.Second, func() bool {
		stopped, _ := odb.replState()
		return !odb.isReadOnly() && stopped
	})
	odb.mu.Lock()
	kills := append([]string(nil), odb.dumpKills...)
	odb.mu.Unlock()
	if len(kills) != 1 || kills[0] != h {
		t.Fatalf("binlog dump threads ended for %v, want once for the old holder %s (semi-sync must not wait for its acks)", kills, h)
	}

	// The old holder's MySQL is back: it compares and reports.
	tc.nodes[h].health.Set(true)
	want := fmt.Sprintf("at most 5 transactions: 0-%d-101..0-%d-105", hid, hid)
	tc.eventually("errant transactions reported in the replicated health", 10*time.Second, func() bool {
		return tc.nodes[o].fsm.State().Health[h].Errant == want
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	cs := tc.nodes[o].agent.ClusterStatus(ctx, 0)
	cancel()
	shown := false
	for _, v := range cs.Nodes {
		shown = shown || (v.ID == h && v.Data != nil && v.Data.Errant == want)
	}
	if !shown {
		t.Fatalf("status does not show %s's errant transactions %q", h, want)
	}
	time.Sleep(500 * time.Millisecond)
	if stopped, starts := odb.replState(); !stopped || starts != 0 {
		t.Fatalf("the holder took replication from an old master with errant transactions (stopped %v, starts %d)", stopped, starts)
	}

	// The DBA applied them on the holder: the next check finds none, and
	// the holder's replication from the old master starts again.
	odb.mu.Lock()
	odb.pos.BinlogState = fmt.Sprintf("0-%d-105,0-%d-9", hid, odb.pos.ServerID)
	odb.mu.Unlock()
	tc.eventually("replication from the old master started again", 10*time.Second, func() bool {
		stopped, starts := odb.replState()
		return !stopped && starts == 1
	})
	if e := tc.nodes[o].fsm.State().Health[h].Errant; e != "" {
		t.Fatalf("errant report %q left after the check found none", e)
	}
	tc.assertNeverTwo()
}

// An old master that hung mid-send leaves the standby's last transaction
// half received: Received names it, no wait sees it applied. An SQL thread
// idle at the end of its relay log has applied everything complete, so the
// new holder turns writable then, not after catchup_timeout, and says why.
func TestCatchupEndsAtAPartialTail(t *testing.T) {
	tc, w := newDataCluster(t, func(n *node, o *Options) { o.Data.CatchupTimeout = 30 * time.Second })
	h := tc.waitHolder(10 * time.Second)
	o := tc.other(h)
	odb := tc.nodes[o].db
	tc.eventually("peer health replicated", 5*time.Second, func() bool { return tc.nodes[h].fsm.State().Healthy(o) })
	odb.setPos("0-2-5", "0-1-77") // 0-1-77 only half arrived
	odb.mu.Lock()
	odb.pos.Executed, odb.pos.SQLIdle = "0-1-76", true
	odb.mu.Unlock()
	tc.nodes[h].health.Set(false)
	tc.eventually("VIP moves to "+o, 10*time.Second, func() bool { return tc.holder() == o })
	// Within 10 s of a 30 s catchup_timeout: the wait did not run into it.
	tc.eventually(o+" writable without waiting for the half-received transaction", 10*time.Second, func() bool { return !odb.isReadOnly() })
	// The record is committed right after read_only goes off.
	tc.eventually("the writable record says the rest was a partial transaction", 5*time.Second, func() bool {
		for _, e := range tc.nodes[o].fsm.State().History {
			if e.Op == fsm.OpWritable && e.Node == o && strings.Contains(e.Reason, "arrived only in part") {
				return true
			}
		}
		return false
	})
	assertWritesFenced(t, tc, w)
}
