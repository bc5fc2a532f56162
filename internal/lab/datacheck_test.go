package lab

import (
	"strings"
	"testing"
	"time"
)

func TestHeldAt(t *testing.T) {
	ivs := []Interval{{Host: "a", From: at(0), To: at(1000)}, {Host: "b", From: at(1000), To: at(2000)}, {Host: "a", From: at(3000)}}
	tests := []struct {
		host string
		ms   int
		want bool
	}{
		{"a", 500, true},
		{"a", 1000, true}, // the instant of the release
		{"a", 1001, false},
		{"b", 1000 - int(holdTolerance/time.Millisecond), true}, // stamped a little late by the monitor
		{"b", 1000 - int(holdTolerance/time.Millisecond) - 1, false},
		{"b", 2500, false},
		{"a", 2500, false},
		{"a", 99999, true}, // still holding
		{"c", 500, false},
	}
	for _, tt := range tests {
		if got := heldAt(ivs, tt.host, at(tt.ms)); got != tt.want {
			t.Errorf("heldAt(%s, %d ms) = %v, want %v", tt.host, tt.ms, got, tt.want)
		}
	}
}

func TestAnalyzeData(t *testing.T) {
	ha := &Host{Name: "a", NodeID: "hosta", ServerID: 1}
	hb := &Host{Name: "b", NodeID: "hostb", ServerID: 2}
	ivs := []Interval{{Host: "a", From: at(0), To: at(1000)}, {Host: "b", From: at(1100)}}
	writes := []Write{
		{Seq: 1, Start: at(100), End: at(110), ServerID: 1, RowOK: true, IncOK: true},
		{Seq: 2, Start: at(900), End: at(1200), ServerID: 1, RowOK: true, IncOK: true}, // acked, lost in the failover
		{Seq: 3, Start: at(950), End: at(1950), Err: "timeout"},
		{Seq: 4, Start: at(1000), End: at(1300), ServerID: 2, RowOK: true}, // increment not acknowledged
		{Seq: 5, Start: at(1400), End: at(1410), ServerID: 2, RowOK: true, IncOK: true},
	}
	rowsB := map[int64]LabRow{
		1: {Seq: 1, Srv: 1, At: at(101)},
		3: {Seq: 3, Srv: 1, At: at(1500)}, // hosta executed it after losing the VIP
		4: {Seq: 4, Srv: 2, At: at(1150)},
		5: {Seq: 5, Srv: 2, At: at(1401)},
	}
	rowsA := map[int64]LabRow{1: rowsB[1], 2: {Seq: 2, Srv: 1, At: at(901)}, 3: rowsB[3], 4: rowsB[4], 5: rowsB[5]}
	in := dataInput{
		Label: "unit", Writes: writes, Faults: []FaultMark{{At: at(950), ServerID: 2}}, Intervals: ivs, FinalHolder: hb,
		Servers: []serverData{
			{Host: ha, Rows: rowsA, Counter: 4, Checksums: "x", RunSum: "p", Slave: SlaveStatus{"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Last_SQL_Errno": "0", "Last_IO_Errno": "0"}},
			{Host: hb, Rows: rowsB, Counter: 2, Checksums: "y", RunSum: "q", Slave: SlaveStatus{"Slave_IO_Running": "Yes", "Slave_SQL_Running": "No", "Last_SQL_Errno": "1032", "Last_SQL_Error": "row not found", "Last_IO_Errno": "0"}},
		},
	}
	d := analyzeData(in)
	if d.Attempts != 5 || d.RowsAcked != 4 || d.IncAcked != 3 {
		t.Errorf("attempts %d rows acked %d increments acked %d, want 5 4 3", d.Attempts, d.RowsAcked, d.IncAcked)
	}
	if len(d.Missing) != 1 || d.Missing[0] != 2 || len(d.MissingOther) != 0 {
		t.Errorf("missing %v (final holder) %v (other), want [2] []", d.Missing, d.MissingOther)
	}
	if d.CounterShort != 1 || d.Counter["hosta"] != 4 || d.Counter["hostb"] != 2 {
		t.Errorf("counter %v short %d, want hosta 4 hostb 2 short 1", d.Counter, d.CounterShort)
	}
	if len(d.NonHolder) != 1 || d.NonHolder[0].Seq != 3 || d.NonHolder[0].Host != "hosta" || d.NonHolder[0].Acked {
		t.Errorf("non-holder rows %+v, want seq 3 on hosta (counted once though both servers have it), not acknowledged", d.NonHolder)
	}
	if len(d.ReplErrors) != 2 || !strings.Contains(d.ReplErrors[1], "hostb: Last_SQL_Errno 1032: row not found") {
		t.Errorf("replication errors %q", d.ReplErrors)
	}
	if d.TablesAgree || d.RunAgrees || d.OK() {
		t.Errorf("tables agree %v run agrees %v OK %v, want all false", d.TablesAgree, d.RunAgrees, d.OK())
	}
	// First write after the fault at 950 ms: seq 5 (seq 4's increment was
	// not acknowledged), ended at 1410 ms.
	if len(d.FirstWrite) != 1 || d.FirstWrite[0] != 460*time.Millisecond || d.NoWriteAfter != 0 {
		t.Errorf("first write %v (none after %d), want [460ms]", d.FirstWrite, d.NoWriteAfter)
	}
	row := d.MarkdownRow()
	if !strings.HasPrefix(row, "| unit | 1 | 4 | 1 | 3 | 1 | 1 | 0 | 2 | no (no) | p50 0.46 s, max 0.46 s |") {
		t.Errorf("markdown row %q", row)
	}
	if s := d.String(); !strings.Contains(s, "1 missing on the final holder (seq 2)") || !strings.Contains(s, "[seq 3 on hosta") {
		t.Errorf("String() = %q", s)
	}

	// The same servers in agreement and healthy: OK, and a fault with no
	// write after it is counted, not hidden.
	healthy := map[int64]LabRow{1: rowsA[1], 2: rowsA[2], 4: rowsA[4], 5: rowsA[5]}
	for i := range in.Servers {
		in.Servers[i].Rows = healthy
		in.Servers[i].Counter = 3
		in.Servers[i].Checksums, in.Servers[i].RunSum = "x", "p"
		in.Servers[i].Slave = SlaveStatus{"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Last_SQL_Errno": "0", "Last_IO_Errno": "0"}
	}
	in.Faults = append(in.Faults, FaultMark{At: at(5000)})
	d = analyzeData(in)
	if !d.OK() || len(d.Missing) != 0 || len(d.MissingOther) != 0 || len(d.NonHolder) != 0 || d.CounterShort != 0 ||
		len(d.FirstWrite) != 1 || d.NoWriteAfter != 1 {
		t.Errorf("healthy: %s", d.String())
	}
}
