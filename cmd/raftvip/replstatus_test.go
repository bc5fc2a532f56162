package main

import (
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/mysqlcheck"
)

func TestStatusShowsReplicationPerDBNode(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	lag, ro, off := int64(12), true, false
	st := agent.Status{Node: "hosta", Time: now, Leader: "hosta", Holder: "hosta", Nodes: []agent.NodeView{
		{ID: "hosta", Role: "db", Reachable: true, Healthy: true, CheckClass: "ok", Holding: true,
			Replication: &mysqlcheck.Replication{Flavor: mysqlcheck.FlavorMariaDB, BinlogGTID: "0-1-40", ReadOnly: &off}},
		{ID: "hostb", Role: "db", Reachable: true, Healthy: true, CheckClass: "ok",
			Replication: &mysqlcheck.Replication{Flavor: mysqlcheck.FlavorMariaDB, Configured: true, Source: "10.0.0.1:3306",
				IORunning: "Yes", SQLRunning: false, SecondsBehind: &lag, ReceivedGTID: "0-1-45", ExecutedGTID: "0-1-40",
				ReadOnly: &ro, LastSQLErrno: 1062, LastSQLError: "Duplicate entry '5'"}},
		{ID: "hostc", Role: "db", Reachable: false, Error: "dial: refused"},
		{ID: "hostd", Role: "db", Reachable: true},
		{ID: "witness", Role: "witness", Reachable: true},
	}}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	for _, want := range []string{
		"\nreplication:\n",
		"  hosta: no replication, binlog 0-1-40, read-only OFF\n",
		"  hostb: from 10.0.0.1:3306, io Yes, sql No, lag 12s, received 0-1-45, executed 0-1-40, read-only ON, SQL error 1062: Duplicate entry '5'\n",
		"  hostc: unknown (node unreachable)\n",
		"  hostd: unknown (not read yet)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "witness: ") {
		t.Errorf("a witness has a replication line:\n%s", out)
	}
}

// A steady replication is read every mysql.replication_interval, so a
// reading is called old only past twice that plus 1 s; one from an agent
// that does not say (it read on every check) after 3 s as before.
func TestStatusReplicationOldAfterItsInterval(t *testing.T) {
	reading := func(age, every time.Duration) *mysqlcheck.Replication {
		return &mysqlcheck.Replication{Flavor: mysqlcheck.FlavorMariaDB, ReadAt: time.Now().Add(-age), ReadEvery: every}
	}
	st := agent.Status{Node: "hosta", Time: time.Now(), Nodes: []agent.NodeView{
		{ID: "steady", Role: "db", Reachable: true, Replication: reading(4*time.Second, 2*time.Second)},
		{ID: "silent", Role: "db", Reachable: true, Replication: reading(6*time.Second, 2*time.Second)},
		{ID: "older", Role: "db", Reachable: true, Replication: reading(4*time.Second, 0)},
	}}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	for _, line := range strings.Split(out, "\n") {
		old := strings.Contains(line, "MySQL has not answered since")
		switch {
		case strings.HasPrefix(line, "  steady: ") && old:
			t.Errorf("a 4s old reading taken every 2s is called old: %q", line)
		case strings.HasPrefix(line, "  silent: ") && !old:
			t.Errorf("a 6s old reading taken every 2s is not called old: %q", line)
		case strings.HasPrefix(line, "  older: ") && !old:
			t.Errorf("a 4s old reading without read_every is not called old: %q", line)
		}
	}
	if !strings.Contains(out, "  silent: ") || !strings.Contains(out, "  steady: ") || !strings.Contains(out, "  older: ") {
		t.Fatalf("status lacks a replication line:\n%s", out)
	}
}
