package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
)

// healthyStatus is a cluster with nothing to report: hosta holds, hostb
// replicates 0s behind, all three voters answer.
func healthyStatus() agent.Status {
	lag := int64(0)
	return agent.Status{Node: "hosta", Leader: "hosta", Holder: "hosta", Epoch: 7, Nodes: []agent.NodeView{
		{ID: "hosta", Role: "db", Suffrage: "voter", Reachable: true, Healthy: true, CheckClass: "ok", Holding: true},
		{ID: "hostb", Role: "db", Suffrage: "voter", Reachable: true, Healthy: true, CheckClass: "ok",
			Replication: &mysqlcheck.Replication{Configured: true, SecondsBehind: &lag}},
		{ID: "witness", Role: "witness", Suffrage: "voter", Reachable: true},
	}}
}

func TestCheckStatus(t *testing.T) {
	node := func(st *agent.Status, id string) *agent.NodeView {
		for i := range st.Nodes {
			if st.Nodes[i].ID == id {
				return &st.Nodes[i]
			}
		}
		panic(id)
	}
	for _, tc := range []struct {
		name string
		edit func(*agent.Status)
		code int
		frag string // in the summary
	}{
		{"all well", func(*agent.Status) {}, nagiosOK, "RAFTVIP OK - hosta holds the VIP (epoch 7, leader hosta), 3/3 voters reachable"},
		{"nobody holds", func(s *agent.Status) {
			s.Holder, node(s, "hosta").Holding = "", false
			s.Note = "no healthy db node: nobody holds the VIP"
		}, nagiosCritical, "RAFTVIP CRITICAL - no healthy db node: nobody holds the VIP"},
		{"holder's mysql unhealthy", func(s *agent.Status) { node(s, "hosta").Healthy, node(s, "hosta").CheckClass = false, "refused" },
			nagiosCritical, "holder hosta's MySQL is unhealthy (refused)"},
		{"holder read-only", func(s *agent.Status) {
			node(s, "hosta").Data = &agent.DataStatus{Mode: agent.DataStuckReadOnly, Detail: "catch-up timed out"}
		}, nagiosCritical, "holder hosta's MySQL is read-only while holding the VIP: catch-up timed out"},
		{"no leader", func(s *agent.Status) { s.Leader = ""; s.Warnings = []string{"this node knows no leader"} },
			nagiosCritical, "RAFTVIP CRITICAL - no raft leader"},
		{"no quorum", func(s *agent.Status) {
			for _, id := range []string{"hostb", "witness"} {
				node(s, id).Reachable = false
			}
		}, nagiosCritical, "no quorum: 1 of 3 voters reachable"},
		{"fenced", func(s *agent.Status) { s.Fence = &fsm.Fence{Holder: "hostb", Epoch: 6} },
			nagiosCritical, "fenced, waiting for hostb's lease (epoch 6)"},
		{"two holders", func(s *agent.Status) {
			node(s, "hostb").Holding = true
			s.Warnings = []string{"2 nodes report holding the VIP"}
		}, nagiosCritical, "2 nodes report holding the VIP"},
		{"a voter unreachable", func(s *agent.Status) { node(s, "witness").Reachable = false },
			nagiosWarning, "RAFTVIP WARNING - voter witness unreachable"},
		{"standby stale", func(s *agent.Status) { node(s, "hostb").Stale = "replication 40s behind (max_lag 10s)" },
			nagiosWarning, "standby hostb is stale: replication 40s behind (max_lag 10s)"},
		{"standby unhealthy", func(s *agent.Status) { node(s, "hostb").Healthy, node(s, "hostb").CheckClass = false, "timeout" },
			nagiosWarning, "standby hostb's MySQL is unhealthy (timeout): no failover target"},
		{"maintenance", func(s *agent.Status) {
			s.Maintenance = fsm.Maintenance{On: true, Reason: "kernel upgrade"}
			s.Warnings = []string{"MAINTENANCE MODE since ...: no automatic VIP moves"}
		}, nagiosWarning, "RAFTVIP WARNING - maintenance mode on: kernel upgrade"},
		{"certificate expires", func(s *agent.Status) {
			s.Warnings = []string{"hostb: TLS certificate /etc/raftvip/tls/hostb.pem expires 2026-12-20T00:00:00Z (in 19 days): issue a new one"}
		}, nagiosWarning, "hostb: TLS certificate /etc/raftvip/tls/hostb.pem expires"},
		{"errant transactions", func(s *agent.Status) { node(s, "hostb").Data = &agent.DataStatus{Errant: "0-2-17"} },
			nagiosWarning, "hostb has errant transactions: 0-2-17"},
		{"critical before warning", func(s *agent.Status) {
			node(s, "witness").Reachable = false
			node(s, "hosta").Healthy = false
		}, nagiosCritical, "RAFTVIP CRITICAL - holder hosta's MySQL is unhealthy (ok); voter witness unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := healthyStatus()
			tc.edit(&st)
			r := checkStatus(st)
			if r.Code != tc.code || !strings.Contains(r.Summary, tc.frag) {
				t.Errorf("code %d %q; want %d with %q", r.Code, r.Summary, tc.code, tc.frag)
			}
			if strings.Contains(r.Summary, "\n") {
				t.Errorf("summary is not one line: %q", r.Summary)
			}
		})
	}
	r := checkStatus(healthyStatus())
	if want := "epoch=7 holders=1;;1:1;0 voters_reachable=3;3:;2:;0;3 'lag_hostb'=0s;;;0"; r.Perfdata != want {
		t.Errorf("perfdata %q, want %q", r.Perfdata, want)
	}
	// A standby whose MySQL is down has no lag to graph (its reading is
	// from its last good check).
	st := healthyStatus()
	node(&st, "hostb").Healthy = false
	if r := checkStatus(st); strings.Contains(r.Perfdata, "lag_hostb") {
		t.Errorf("perfdata %q has the lag of a server that does not answer", r.Perfdata)
	}
}

// Through the admin socket as `status` does: the line, perfdata and exit
// code; UNKNOWN (3) when the agent cannot be asked and for usage errors,
// not the CLI's usual 1 and 2 (a monitoring system reads 2 as CRITICAL).
func TestCheckCommand(t *testing.T) {
	st := healthyStatus()
	st.Time = time.Now()
	sock := serveFakeStatus(t, st)
	code, stdout, stderr := runCLI("check", "-admin", sock)
	if code != nagiosOK || stdout != "RAFTVIP OK - hosta holds the VIP (epoch 7, leader hosta), 3/3 voters reachable | epoch=7 holders=1;;1:1;0 voters_reachable=3;3:;2:;0;3 'lag_hostb'=0s;;;0\n" {
		t.Errorf("check: %d %q %q", code, stdout, stderr)
	}
	code, stdout, _ = runCLI("check", "-json", "-admin", sock)
	var r checkResult
	if err := json.Unmarshal([]byte(stdout), &r); code != nagiosOK || err != nil || r.State != "OK" {
		t.Errorf("check -json: %d %v %q", code, err, stdout)
	}
	for _, args := range [][]string{
		{"check", "-admin", filepath.Join(t.TempDir(), "none.sock")}, // no agent
		{"check", "-config", filepath.Join(t.TempDir(), "missing.hcl")},
		{"check", "-bogus"},
		{"check", "extra", "-admin", sock},
	} {
		code, stdout, _ := runCLI(args...)
		if code != nagiosUnknown || !strings.HasPrefix(stdout, "RAFTVIP UNKNOWN - ") {
			t.Errorf("%v: code %d, stdout %q; want 3 and an UNKNOWN line", args, code, stdout)
		}
	}
	if code, _, _ := runCLI("check", "-h"); code != exitOK {
		t.Errorf("check -h: %d", code)
	}
}
