package mysqlcheck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func s(v string) *string { return &v }

// varRows makes a SHOW VARIABLES answer from name, value pairs.
func varRows(kv ...string) fakeResult {
	res := fakeResult{cols: []string{"Variable_name", "Value"}}
	for i := 0; i+1 < len(kv); i += 2 {
		res.rows = append(res.rows, []*string{s(kv[i]), s(kv[i+1])})
	}
	return res
}

// statusRow makes a one-row SHOW SLAVE/REPLICA STATUS answer; a value
// "NULL" is sent as SQL NULL.
func statusRow(kv ...string) fakeResult {
	res := fakeResult{}
	var row []*string
	for i := 0; i+1 < len(kv); i += 2 {
		res.cols = append(res.cols, kv[i])
		if kv[i+1] == "NULL" {
			row = append(row, nil)
		} else {
			row = append(row, s(kv[i+1]))
		}
	}
	res.rows = [][]*string{row}
	return res
}

// checkFake runs one full check (health query and replication) against fs.
func checkFake(t *testing.T, fs *fakeServer) (*Replication, error) {
	t.Helper()
	c, err := New(Config{DSN: fmt.Sprintf("checker:%s@tcp(%s)/", testPassword, fs.addr), Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(switching{c})
	defer db.Close()
	return c.checkAll(context.Background(), db)
}

func i64(n int64) *int64 { return &n }
func bp(b bool) *bool    { return &b }

func TestReplicationMariaDBReplica(t *testing.T) {
	fs := startFakeServer(t)
	fs.answer("SHOW GLOBAL VARIABLES", varRows("version", "10.11.6-MariaDB-0+deb12u1-log", "read_only", "ON",
		"gtid_slave_pos", "0-1-40", "gtid_binlog_pos", "0-2-7,0-1-40"))
	// Extra columns (as the real server has dozens) are read and ignored.
	fs.answer("SHOW SLAVE STATUS", statusRow("Slave_IO_State", "Waiting for master to send event",
		"Master_Host", "10.0.0.1", "Master_User", "repl", "Master_Port", "3306",
		"Slave_IO_Running", "Yes", "Slave_SQL_Running", "No", "Last_Errno", "1062", "Last_Error", "dup",
		"Seconds_Behind_Master", "NULL", "Last_IO_Errno", "0", "Last_IO_Error", "",
		"Last_SQL_Errno", "1062", "Last_SQL_Error", "Duplicate entry '5' for key 'PRIMARY'",
		"Using_Gtid", "Slave_Pos", "Gtid_IO_Pos", "0-1-45"))
	r, err := checkFake(t, fs)
	if err != nil {
		t.Fatal(err)
	}
	want := &Replication{Flavor: FlavorMariaDB, Version: "10.11.6-MariaDB-0+deb12u1-log", Configured: true,
		Source: "10.0.0.1:3306", IORunning: "Yes", SQLRunning: false, SecondsBehind: nil,
		LastSQLErrno: 1062, LastSQLError: "Duplicate entry '5' for key 'PRIMARY'",
		ReceivedGTID: "0-1-45", ExecutedGTID: "0-1-40", BinlogGTID: "0-2-7,0-1-40", ReadOnly: bp(true)}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got  %+v\nwant %+v", r, want)
	}
	sum := r.Summary()
	for _, part := range []string{"from 10.0.0.1:3306", "io Yes", "sql No", "lag unknown", "received 0-1-45", "executed 0-1-40",
		"read-only ON", "SQL error 1062: Duplicate entry"} {
		if !strings.Contains(sum, part) {
			t.Errorf("summary %q lacks %q", sum, part)
		}
	}
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), "repl\"") || strings.Contains(string(b), testPassword) {
		t.Errorf("json carries the replication user or a password: %s", b)
	}
}

func TestReplicationMySQL8Replica(t *testing.T) {
	fs := startFakeServer(t)
	fs.answer("SHOW GLOBAL VARIABLES", varRows("version", "8.0.36", "read_only", "ON", "super_read_only", "OFF",
		"gtid_executed", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1-5",
		"rpl_semi_sync_replica_enabled", "ON"))
	fs.answer("SHOW GLOBAL STATUS", varRows("Rpl_semi_sync_replica_status", "ON"))
	fs.answer("SHOW REPLICA STATUS", statusRow("Source_Host", "db1", "Source_Port", "3306",
		"Replica_IO_Running", "Connecting", "Replica_SQL_Running", "Yes", "Seconds_Behind_Source", "3",
		"Last_IO_Errno", "2003", "Last_IO_Error", "error connecting to source 'repl@db1:3306'",
		"Last_SQL_Errno", "0", "Last_SQL_Error", "",
		"Retrieved_Gtid_Set", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-80"))
	// An old-style answer must not be asked for on 8.0.22+.
	fs.answer("SHOW SLAVE STATUS", fakeResult{errCode: 1064, errMsg: "not this one"})
	r, err := checkFake(t, fs)
	if err != nil {
		t.Fatal(err)
	}
	want := &Replication{Flavor: FlavorMySQL, Version: "8.0.36", Configured: true, Source: "db1:3306",
		IORunning: "Connecting", SQLRunning: true, SecondsBehind: i64(3),
		LastIOErrno: 2003, LastIOError: "error connecting to source 'repl@db1:3306'",
		ReceivedGTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-80",
		ExecutedGTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77,4e11fa47-71ca-11e1-9e33-c80aa9429562:1-5",
		ReadOnly:     bp(true), SuperReadOnly: bp(false), SemiSync: &SemiSync{SlaveEnabled: true, SlaveActive: true}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got  %+v\nwant %+v", r, want)
	}
	sum := r.Summary()
	for _, part := range []string{"io Connecting", "sql Yes", "lag 3s", "read-only ON, super-read-only OFF", "semi-sync slave active", "IO error 2003"} {
		if !strings.Contains(sum, part) {
			t.Errorf("summary %q lacks %q", sum, part)
		}
	}
}

// Before 8.0.22 MySQL has only SHOW SLAVE STATUS and the Slave_* names.
func TestReplicationOldMySQLUsesSlaveStatus(t *testing.T) {
	fs := startFakeServer(t)
	fs.answer("SHOW GLOBAL VARIABLES", varRows("version", "8.0.21-log", "read_only", "OFF", "super_read_only", "OFF",
		"gtid_executed", "a:1-3", "rpl_semi_sync_master_enabled", "ON"))
	fs.answer("SHOW GLOBAL STATUS", varRows("Rpl_semi_sync_master_status", "OFF"))
	fs.answer("SHOW REPLICA STATUS", fakeResult{errCode: 1064, errMsg: "syntax"})
	fs.answer("SHOW SLAVE STATUS", statusRow("Master_Host", "db2", "Master_Port", "3306",
		"Slave_IO_Running", "Yes", "Slave_SQL_Running", "Yes", "Seconds_Behind_Master", "0",
		"Last_IO_Errno", "0", "Last_IO_Error", "", "Last_SQL_Errno", "0", "Last_SQL_Error", "", "Retrieved_Gtid_Set", "a:1-3"))
	r, err := checkFake(t, fs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != "" || !r.Configured || !r.SQLRunning || r.IORunning != "Yes" || r.SecondsBehind == nil || *r.SecondsBehind != 0 ||
		r.ReceivedGTID != "a:1-3" || r.ExecutedGTID != "a:1-3" || r.SemiSync == nil || !r.SemiSync.MasterEnabled || r.SemiSync.MasterActive {
		t.Fatalf("got %+v", r)
	}
	if sum := r.Summary(); !strings.Contains(sum, "semi-sync master enabled, inactive") {
		t.Errorf("summary %q does not say semi-sync fell back", sum)
	}
}

func TestReplicationNotConfigured(t *testing.T) {
	fs := startFakeServer(t)
	fs.answer("SHOW GLOBAL VARIABLES", varRows("version", "10.11.6-MariaDB", "read_only", "OFF", "gtid_slave_pos", "", "gtid_binlog_pos", "0-1-9"))
	fs.answer("SHOW SLAVE STATUS", fakeResult{cols: []string{"Slave_IO_State", "Master_Host"}}) // no row
	r, err := checkFake(t, fs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Configured || r.Error != "" || r.BinlogGTID != "0-1-9" || r.ReadOnly == nil || *r.ReadOnly {
		t.Fatalf("got %+v", r)
	}
	if sum := r.Summary(); !strings.HasPrefix(sum, "no replication") || !strings.Contains(sum, "read-only OFF") {
		t.Fatalf("summary %q", sum)
	}
}

func TestReplicationMissingColumns(t *testing.T) {
	fs := startFakeServer(t)
	fs.answer("SHOW GLOBAL VARIABLES", varRows("version", "10.11.6-MariaDB")) // no read_only either
	fs.answer("SHOW SLAVE STATUS", statusRow("Master_Host", "db1", "Slave_IO_Running", "Yes", "Slave_SQL_Running", "Yes"))
	r, err := checkFake(t, fs)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Configured || !r.SQLRunning || r.IORunning != "Yes" || r.Source != "db1" || r.Error != "" || r.ReadOnly != nil {
		t.Fatalf("got %+v", r)
	}
	want := []string{"Gtid_IO_Pos", "Last_IO_Errno", "Last_IO_Error", "Last_SQL_Errno", "Last_SQL_Error", "Master_Port", "Seconds_Behind_Master", "read_only"}
	if !reflect.DeepEqual(r.Missing, want) {
		t.Fatalf("missing %q, want %q", r.Missing, want)
	}
}

// A replication read that fails (no privilege) is reported in
// Replication.Error and leaves the health verdict alone.
func TestReplicationErrorKeepsHealth(t *testing.T) {
	fs := startFakeServer(t)
	fs.answer("SHOW GLOBAL VARIABLES", varRows("version", "10.11.6-MariaDB", "read_only", "ON"))
	fs.answer("SHOW SLAVE STATUS", fakeResult{errCode: 1227, errMsg: "Access denied; you need (at least one of) the SUPER, SLAVE MONITOR privilege(s) for this operation"})
	r, err := checkFake(t, fs)
	if err != nil {
		t.Fatalf("health failed because of replication: %v", err)
	}
	if !strings.Contains(r.Error, "show slave status") || !strings.Contains(r.Error, "1227") || r.ReadOnly == nil || !*r.ReadOnly {
		t.Fatalf("got %+v", r)
	}
	if sum := r.Summary(); !strings.Contains(sum, "not readable: show slave status") {
		t.Fatalf("summary %q", sum)
	}

	// Through Run: healthy, and Status carries the replication read.
	h := startChecker(t, Config{DSN: fmt.Sprintf("checker:%s@tcp(%s)/", testPassword, fs.addr), Interval: time.Hour})
	st := h.nextChange(5 * time.Second)
	if !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.c.Current().Replication == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if cur := h.c.Current(); cur.Replication == nil || !strings.Contains(cur.Replication.Error, "1227") || !cur.Healthy {
		t.Fatalf("current %+v, want healthy with the replication error", cur)
	}
}

// A failed health query reads no replication: nothing is known then.
func TestReplicationNotReadWhenUnhealthy(t *testing.T) {
	fs := startFakeServer(t)
	fs.setMode(modeAuthFail)
	r, err := checkFake(t, fs)
	if err == nil || r != nil {
		t.Fatalf("got %+v, %v; want an auth error and no replication", r, err)
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		v    string
		want bool
	}{{"8.0.22", true}, {"8.0.21-log", false}, {"8.4.0", true}, {"5.7.44", false}, {"9.0.1-commercial", true}, {"8.0", false}} {
		if got := versionAtLeast(c.v, 8, 0, 22); got != c.want {
			t.Errorf("versionAtLeast(%q, 8.0.22) = %v, want %v", c.v, got, c.want)
		}
	}
}
