package mysqlcheck

import (
	"strings"
	"testing"
	"time"
)

// steadyRepl is a replica reading with nothing wrong or moving.
func steadyRepl(readAt time.Time) *Replication {
	return &Replication{Flavor: FlavorMariaDB, Configured: true, IORunning: "Yes", SQLRunning: true,
		SecondsBehind: i64(0), ReadAt: readAt}
}

func TestReplicationDue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const every, interval = 2 * time.Second, 500 * time.Millisecond
	with := func(f func(r *Replication)) *Replication {
		r := steadyRepl(t0)
		f(r)
		return r
	}
	cases := []struct {
		name    string
		last    *Replication
		age     time.Duration
		trigger string
		flipped bool
		want    bool
	}{
		{"no reading yet", nil, 0, "timer", false, true},
		{"steady, 1st check after", steadyRepl(t0), 500 * time.Millisecond, "timer", false, false},
		{"steady, 3rd check after", steadyRepl(t0), 1500*time.Millisecond + 5*time.Millisecond, "timer", false, false},
		// Checks come interval plus their latency apart: the 4th is
		// a little over 2 s, but also one a little early is due.
		{"steady, 4th check after", steadyRepl(t0), 2*time.Second + 5*time.Millisecond, "timer", false, true},
		{"steady, 4th check a little early", steadyRepl(t0), 1800 * time.Millisecond, "timer", false, true},
		{"steady, just under the tolerance", steadyRepl(t0), 1749 * time.Millisecond, "timer", false, false},
		{"steady, follow-up", steadyRepl(t0), 25 * time.Millisecond, "follow-up", false, true},
		{"steady, requested", steadyRepl(t0), 25 * time.Millisecond, "requested", false, true},
		{"steady, watched connection", steadyRepl(t0), 25 * time.Millisecond, "watched-connection", false, true},
		{"steady, verdict changed", steadyRepl(t0), 500 * time.Millisecond, "timer", true, true},
		{"not configured is steady", &Replication{ReadAt: t0}, 500 * time.Millisecond, "timer", false, false},
		{"read error", with(func(r *Replication) { r.Error = "show slave status: denied" }), 500 * time.Millisecond, "timer", false, true},
		{"read error, not configured", &Replication{ReadAt: t0, Error: "variables: denied"}, 500 * time.Millisecond, "timer", false, true},
		{"IO thread connecting", with(func(r *Replication) { r.IORunning = "Connecting" }), 500 * time.Millisecond, "timer", false, true},
		{"IO thread stopped", with(func(r *Replication) { r.IORunning = "No" }), 500 * time.Millisecond, "timer", false, true},
		{"SQL thread stopped", with(func(r *Replication) { r.SQLRunning = false }), 500 * time.Millisecond, "timer", false, true},
		{"lag unknown", with(func(r *Replication) { r.SecondsBehind = nil }), 500 * time.Millisecond, "timer", false, true},
		{"lagging", with(func(r *Replication) { r.SecondsBehind = i64(1) }), 500 * time.Millisecond, "timer", false, true},
		{"IO error", with(func(r *Replication) { r.LastIOErrno = 2003 }), 500 * time.Millisecond, "timer", false, true},
		{"SQL error", with(func(r *Replication) { r.LastSQLErrno = 1062 }), 500 * time.Millisecond, "timer", false, true},
		{"semi-sync active both sides", with(func(r *Replication) {
			r.SemiSync = &SemiSync{MasterEnabled: true, MasterActive: true, SlaveEnabled: true, SlaveActive: true}
		}), 500 * time.Millisecond, "timer", false, false},
		{"semi-sync master fell back to async", with(func(r *Replication) {
			r.SemiSync = &SemiSync{MasterEnabled: true, MasterActive: false}
		}), 500 * time.Millisecond, "timer", false, true},
		{"semi-sync slave inactive, not configured", &Replication{ReadAt: t0, SemiSync: &SemiSync{SlaveEnabled: true}}, 500 * time.Millisecond, "timer", false, true},
	}
	for _, tc := range cases {
		if got := replicationDue(tc.last, t0.Add(tc.age), every, interval, tc.trigger, tc.flipped); got != tc.want {
			t.Errorf("%s: replicationDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// replReads counts the replication reads (one SHOW SLAVE STATUS each) in
// the queries fs received since the last call.
func replReads(fs *fakeServer) int {
	n := 0
	for _, q := range fs.queriesSeen() {
		if strings.HasPrefix(q, "SHOW SLAVE STATUS") {
			n++
		}
	}
	return n
}

// A steady replication state is read every ReplicationInterval (every 4th
// check at 50 ms and 200 ms), kept between readings as the same pointer;
// a reading that shows the SQL thread stopped makes every check read.
func TestReplicationReadByTime(t *testing.T) {
	fs := startFakeServer(t)
	fs.answer("SHOW GLOBAL VARIABLES", varRows("version", "10.11.6-MariaDB", "read_only", "ON", "gtid_slave_pos", "0-1-40"))
	steady := statusRow("Master_Host", "10.0.0.1", "Master_Port", "3306", "Slave_IO_Running", "Yes", "Slave_SQL_Running", "Yes",
		"Seconds_Behind_Master", "0", "Last_IO_Errno", "0", "Last_SQL_Errno", "0", "Gtid_IO_Pos", "0-1-40")
	fs.answer("SHOW SLAVE STATUS", steady)
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 50 * time.Millisecond, Timeout: time.Second,
		Fall: 1, Rise: 1, FreshEvery: time.Hour, ReplicationInterval: 200 * time.Millisecond})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	eventually(t, 2*time.Second, "kept and watched connections open", func() bool { return keptIdle(fs) })
	eventually(t, 2*time.Second, "a steady reading", func() bool {
		r := h.c.Current().Replication
		return r != nil && r.steady()
	})

	// Steady: about every 4th check reads (the bounds leave room for a
	// slow machine, where checks come further apart; every check reading
	// is far outside them).
	replReads(fs)
	checks := countChecks(h)
	kept := map[*Replication]map[time.Time]bool{} // reading -> the checks that showed it
	for checks.Load() < 24 {
		st := h.c.Current()
		if kept[st.Replication] == nil {
			kept[st.Replication] = map[time.Time]bool{}
		}
		kept[st.Replication][st.Checked] = true
		time.Sleep(5 * time.Millisecond)
	}
	n, reads := checks.Load(), replReads(fs)
	if reads > int(n)/3+1 || reads < int(n)/6 {
		t.Fatalf("%d periodic checks read replication %d times; want about every 4th (%d)", n, reads, n/4)
	}
	shared := false
	for _, seen := range kept {
		shared = shared || len(seen) >= 2
	}
	if !shared {
		t.Fatalf("no reading was kept across checks (%d readings seen): Status.Replication must stay the same pointer between reads", len(kept))
	}
	if r := h.c.Current().Replication; r.ReadEvery != 200*time.Millisecond {
		t.Fatalf("ReadEvery = %v, want the ReplicationInterval 200ms", r.ReadEvery)
	}

	// The SQL thread stops: the next reading shows it, and from then on
	// every check reads.
	fs.answer("SHOW SLAVE STATUS", statusRow("Master_Host", "10.0.0.1", "Master_Port", "3306", "Slave_IO_Running", "Yes",
		"Slave_SQL_Running", "No", "Seconds_Behind_Master", "NULL", "Last_IO_Errno", "0", "Last_SQL_Errno", "0", "Gtid_IO_Pos", "0-1-40"))
	eventually(t, 2*time.Second, "a reading with the SQL thread stopped", func() bool {
		r := h.c.Current().Replication
		return r != nil && r.Configured && !r.SQLRunning
	})
	replReads(fs)
	checks = countChecks(h)
	eventually(t, 5*time.Second, "12 more checks", func() bool { return checks.Load() >= 12 })
	n, reads = checks.Load(), replReads(fs)
	if int64(reads) < n-1 {
		t.Fatalf("with the SQL thread stopped %d checks read replication %d times; want every check", n, reads)
	}

	// Repaired: seen at once (the broken reading is read every check),
	// then steady again.
	fs.answer("SHOW SLAVE STATUS", steady)
	eventually(t, 2*time.Second, "the repair seen", func() bool {
		r := h.c.Current().Replication
		return r != nil && r.steady()
	})
	replReads(fs)
	checks = countChecks(h)
	eventually(t, 5*time.Second, "24 more checks", func() bool { return checks.Load() >= 24 })
	if n, reads := checks.Load(), replReads(fs); reads > int(n)/3+1 {
		t.Fatalf("steady again: %d checks read replication %d times; want about every 4th", n, reads)
	}
	h.noMoreChanges()
}
