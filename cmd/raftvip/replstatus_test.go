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
