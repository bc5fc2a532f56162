package agent

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/mysqlcheck"
)

// setReplication gives the fake checker's status a replication read,
// keeping its health.
func (f *fakeHealth) setReplication(r *mysqlcheck.Replication) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Replication = r
}

// Each DB node's replication read travels in its NodeStatus (over RPC for
// the other nodes) into the cluster status, and does not change health.
func TestStatusCarriesReplication(t *testing.T) {
	tc := newTestCluster(t, false)
	first := tc.waitHolder(10 * time.Second)
	tc.waitAllHealthy(first)
	lag := int64(4)
	ro := true
	want := map[string]*mysqlcheck.Replication{}
	for id, n := range tc.nodes {
		if n.role != "db" {
			continue
		}
		r := &mysqlcheck.Replication{Flavor: mysqlcheck.FlavorMariaDB, Configured: true, Source: "peer-of-" + id + ":3306",
			IORunning: "Yes", SQLRunning: false, SecondsBehind: &lag, ReceivedGTID: "0-1-9", ExecutedGTID: "0-1-5", ReadOnly: &ro,
			LastSQLErrno: 1062, LastSQLError: "dup"}
		if id == first {
			r = &mysqlcheck.Replication{Flavor: mysqlcheck.FlavorMariaDB, BinlogGTID: "0-1-9"} // no replication
		}
		n.health.setReplication(r)
		want[id] = r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := tc.nodes["witness"].agent.ClusterStatus(ctx, 0)
	seen := 0
	for _, v := range st.Nodes {
		w, db := want[v.ID]
		if !db {
			if v.Replication != nil {
				t.Errorf("%s (%s) shows replication %+v", v.ID, v.Role, v.Replication)
			}
			continue
		}
		seen++
		got, _ := json.Marshal(v.Replication)
		exp, _ := json.Marshal(w)
		if string(got) != string(exp) {
			t.Errorf("%s: replication %s, want %s", v.ID, got, exp)
		}
		if !v.Healthy {
			t.Errorf("%s: a stopped SQL thread made the node unhealthy; replication is information only", v.ID)
		}
	}
	if seen != len(want) || seen == 0 {
		t.Fatalf("saw %d db nodes with replication, want %d", seen, len(want))
	}
	b, _ := json.Marshal(st)
	if !strings.Contains(string(b), `"sql_running":false`) || !strings.Contains(string(b), `"seconds_behind":4`) {
		t.Fatalf("status json lacks replication fields: %s", b)
	}
}
