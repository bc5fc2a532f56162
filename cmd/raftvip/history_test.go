package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/fsm"
)

// TestHistoryShowsFailoverTimeline: `raftvip history` prints the event
// table, then one block per failover with each phase's offset from the
// fault's detection; `-json` carries the phases' raw fields.
func TestHistoryShowsFailoverTimeline(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	st := agent.Status{Node: "hostb", Holder: "hostb", Epoch: 2, Time: t0.Add(time.Minute), History: []fsm.Event{
		{Epoch: 1, Op: fsm.OpAcquire, Node: "hosta", By: "hosta", Time: t0, Reason: "leader, db, mysql healthy, VIP free"},
		{Epoch: 1, Op: fsm.OpAdded, Node: "hosta", By: "hosta", Time: t0.Add(ms), GARP: ms},
		{Epoch: 1, Op: fsm.OpRelease, Node: "hosta", By: "hosta", Time: t0.Add(10030 * ms), Reason: "mysql unhealthy", Detection: 30 * ms},
		{Epoch: 2, Op: fsm.OpAcquire, Node: "hostb", By: "hostb", Time: t0.Add(10050 * ms), Reason: "leader, db, mysql healthy, VIP free", Handover: 20 * ms, Leader: 8 * ms},
		{Epoch: 2, Op: fsm.OpAdded, Node: "hostb", By: "hostb", Time: t0.Add(10052 * ms), GARP: 2 * ms},
		{Epoch: 2, Op: fsm.OpWritable, Node: "hostb", By: "hostb", Time: t0.Add(10070 * ms), Reason: "writable", Wait: 18 * ms},
	}}
	sock := serveFakeStatus(t, st)

	code, stdout, stderr := runCLI("history", "-admin", sock)
	if code != exitOK {
		t.Fatalf("history: %d %s", code, stderr)
	}
	_, blocks, ok := strings.Cut(stdout, "\nfailover: ")
	if !ok {
		t.Fatalf("history has no failover block:\n%s", stdout)
	}
	want := []string{
		"epoch 1 hosta -> epoch 2 hostb: mysql unhealthy",
		"+0s  detected  hosta  12:00:10.000",
		"+30ms  released  hosta  12:00:10.030",
		"+42ms  leadership moved  hostb  12:00:10.042",
		"+50ms  acquired  hostb  12:00:10.050",
		"+52ms  VIP added  hostb  12:00:10.052",
		"+54ms  first GARP  hostb  12:00:10.054",
		"+70ms  writable  hostb  12:00:10.070  writable",
	}
	lines := strings.Split(strings.TrimSpace(blocks), "\n")
	if len(lines) != len(want) {
		t.Fatalf("failover block has %d lines, want %d:\n%s", len(lines), len(want), blocks)
	}
	for i, w := range want {
		if got := strings.Join(strings.Fields(lines[i]), "  "); !strings.Contains(got, strings.Join(strings.Fields(w), "  ")) {
			t.Errorf("line %d: %q, want %q", i, lines[i], w)
		}
	}
	if strings.Count(stdout, "\nfailover: ") != 1 {
		t.Errorf("one failover, several blocks:\n%s", stdout)
	}
	// The table keeps its rows; the added events are the blocks' phases.
	table, _, _ := strings.Cut(stdout, "\nfailover: ")
	if strings.Contains(table, "added") || !strings.Contains(table, "detected in 30ms") || !strings.Contains(table, "VIP free for 20ms") {
		t.Errorf("event table:\n%s", table)
	}

	code, stdout, stderr = runCLI("history", "-json", "-admin", sock)
	if code != exitOK {
		t.Fatalf("history -json: %d %s", code, stderr)
	}
	var evs []fsm.Event
	if err := json.Unmarshal([]byte(stdout), &evs); err != nil {
		t.Fatal(err)
	}
	f := fsm.Failovers(evs)
	if len(f) != 1 || len(f[0].Phases) != 7 {
		t.Fatalf("failovers from -json: %+v", f)
	}
	for _, key := range []string{`"detection_ns":30000000`, `"leader_ns":8000000`, `"op":"added"`, `"garp_ns":2000000`, `"wait_ns":18000000`} {
		if !strings.Contains(strings.ReplaceAll(stdout, " ", ""), key) {
			t.Errorf("history -json lacks %s", key)
		}
	}
}
