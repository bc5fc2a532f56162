package mysqlcheck

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The exclusion filter over process lists as MariaDB 10.11 and MySQL 8
// show them.
func TestKillable(t *testing.T) {
	const own = 42
	for _, tc := range []struct {
		name string
		s    session
		want bool
	}{
		{"idle application session", session{ID: 7, User: "app", Host: "10.0.0.5:51234", Command: "Sleep"}, true},
		{"running application query", session{ID: 8, User: "app", Host: "10.0.0.5:51235", Command: "Query"}, true},
		{"administrator", session{ID: 9, User: "root", Host: "localhost", Command: "Sleep"}, true},
		{"replication user logged in by hand", session{ID: 10, User: "repl", Host: "10.0.0.6:40000", Command: "Query"}, true},
		{"this connection", session{ID: own, User: "raftvip", Host: "127.0.0.1:1", Command: "Query"}, false},
		{"raftvip's checker", session{ID: 11, User: "raftvip", Host: "127.0.0.1:2", Command: "Sleep"}, false},
		{"MariaDB dump thread", session{ID: 12, User: "repl", Host: "10.0.0.6:40001", Command: "Binlog Dump"}, false},
		{"MySQL dump thread", session{ID: 13, User: "repl", Host: "10.0.0.6:40002", Command: "Binlog Dump GTID"}, false},
		{"MariaDB slave IO", session{ID: 14, User: "system user", Command: "Slave_IO"}, false},
		{"MariaDB slave SQL", session{ID: 15, User: "system user", Command: "Slave_SQL"}, false},
		{"MariaDB parallel worker", session{ID: 16, User: "system user", Command: "Slave_worker"}, false},
		{"MySQL replica thread", session{ID: 17, User: "system user", Command: "Connect"}, false},
		{"MariaDB slave background", session{ID: 18, User: "system user", Command: "Daemon"}, false},
		{"event scheduler", session{ID: 19, User: "event_scheduler", Host: "localhost", Command: "Daemon"}, false},
		{"MySQL's own daemon", session{ID: 20, User: "event_scheduler", Command: "Daemon"}, false},
	} {
		if got := killable(tc.s, own, "raftvip"); got != tc.want {
			t.Errorf("%s: killable(%+v) = %v, want %v", tc.name, tc.s, got, tc.want)
		}
	}
}

func TestValidFenceTable(t *testing.T) {
	for _, ok := range []string{"", "raftvip.fence", "a.b", "Db_1.t$2", strings.Repeat("x", 64) + ".t"} {
		if err := ValidFenceTable(ok); err != nil {
			t.Errorf("ValidFenceTable(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"fence", "raftvip.", ".fence", "a.b.c", "a-b.c", "a.`b`", "a. b", "a.b;DROP TABLE x", "é.t", strings.Repeat("x", 65) + ".t"} {
		err := ValidFenceTable(bad)
		if err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("ValidFenceTable(%q) = %v, want an error naming it", bad, err)
		}
	}
	// WriteFence checks it before touching the server (there is none).
	a, err := NewAdmin("raftvip:"+testPassword+"@tcp(127.0.0.1:1)/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = a.WriteFence(context.Background(), "no-dot", 1, "n1", time.Now())
	if err == nil || !strings.Contains(err.Error(), `"no-dot"`) {
		t.Fatalf("WriteFence with a bad table: %v", err)
	}
	if err := a.WriteFence(context.Background(), "", 1, "n1", time.Now()); err != nil {
		t.Fatalf("WriteFence with no table: %v, want a no-op", err)
	}
	if err := a.WaitApplied(context.Background(), "", time.Hour); err != nil {
		t.Fatalf("WaitApplied(\"\"): %v, want nil at once", err)
	}
}

func TestNewAdminHidesPassword(t *testing.T) {
	// Malformed DSNs (see TestNewBadDSNHidesPassword: the driver's
	// errors echo the password for some).
	const pw = testPassword
	for _, dsn := range []string{
		"raftvip:" + pw + "/db",
		"raftvip:" + pw + "@tcp(127.0.0.1:3306/db",
		"raftvip:" + pw + "@tcp(127.0.0.1)/db?timeout=" + pw,
		"raftvip:" + pw + "@tcp(127.0.0.1)/db?tls=" + pw,
	} {
		_, err := NewAdmin(dsn, nil)
		if err == nil || strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "DSN") {
			t.Errorf("NewAdmin(%q): %v, want a DSN error without the password", Redact(dsn), err)
		}
	}
	// No server: the connect error names the server, not the password.
	a, err := NewAdmin("raftvip:"+testPassword+"@tcp(127.0.0.1:1)/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = a.SetReadOnly(context.Background(), true)
	if err == nil || strings.Contains(err.Error(), testPassword) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("SetReadOnly without a server: %v", err)
	}
	// Every error goes through fail, which scrubs what a server or driver
	// might echo.
	err = a.fail("set read_only = ON", errors.New("driver said: raftvip:"+testPassword+" is bad"))
	if strings.Contains(err.Error(), testPassword) || !strings.Contains(err.Error(), "set read_only = ON on tcp:127.0.0.1:1: driver said") {
		t.Fatalf("fail: %v", err)
	}
}

// fakeAdmin is an Admin on a fake server that calls itself version.
func fakeAdmin(t *testing.T, version string) (*Admin, *fakeServer) {
	t.Helper()
	fs := startFakeServer(t)
	fs.answer("SELECT @@version", fakeResult{cols: []string{"@@version"}, rows: [][]*string{{s(version)}}})
	a, err := NewAdmin("raftvip:"+testPassword+"@tcp("+fs.addr+")/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, fs
}

// setStatements are the SET GLOBAL statements among queries.
func setStatements(queries []string) []string {
	var out []string
	for _, q := range queries {
		if strings.HasPrefix(q, "SET GLOBAL") {
			out = append(out, q)
		}
	}
	return out
}

// readOnly makes the fake server answer the read-only query with on.
func readOnly(fs *fakeServer, super, on bool) {
	v := s("0")
	if on {
		v = s("1")
	}
	if super {
		fs.answer("SELECT @@GLOBAL.read_only, @@GLOBAL.super_read_only", fakeResult{cols: []string{"ro", "sro"}, rows: [][]*string{{v, v}}})
		return
	}
	fs.answer("SELECT @@GLOBAL.read_only", fakeResult{cols: []string{"ro"}, rows: [][]*string{{v}}})
}

// MySQL has super_read_only since 5.7.8: on, after read_only; off, before
// it (MySQL refuses read_only = OFF while super_read_only is ON). There is
// no MySQL server on the test machines; the statements are what is checked.
func TestSetReadOnlyMySQL(t *testing.T) {
	for _, tc := range []struct {
		version string
		on, off []string
	}{
		{"8.0.36", []string{"SET GLOBAL read_only = ON", "SET GLOBAL super_read_only = ON"},
			[]string{"SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF"}},
		{"5.7.8-log", []string{"SET GLOBAL read_only = ON", "SET GLOBAL super_read_only = ON"},
			[]string{"SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF"}},
		{"5.6.51", []string{"SET GLOBAL read_only = ON"}, []string{"SET GLOBAL read_only = OFF"}},
		{"10.11.6-MariaDB-0+deb12u1", []string{"SET GLOBAL read_only = ON"}, []string{"SET GLOBAL read_only = OFF"}},
	} {
		a, fs := fakeAdmin(t, tc.version)
		readOnly(fs, len(tc.on) == 2, false)
		if err := a.SetReadOnly(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		if got := setStatements(fs.queriesSeen()); !reflect.DeepEqual(got, tc.on) {
			t.Errorf("%s: SetReadOnly(true) sent %q, want %q", tc.version, got, tc.on)
		}
		// Already on: read, nothing set (the keeper asks every second).
		readOnly(fs, len(tc.on) == 2, true)
		if err := a.SetReadOnly(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		if got := setStatements(fs.queriesSeen()); len(got) != 0 {
			t.Errorf("%s: SetReadOnly(true) on a read-only server sent %q, want nothing", tc.version, got)
		}
		if err := a.SetReadOnly(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		if got := setStatements(fs.queriesSeen()); !reflect.DeepEqual(got, tc.off) {
			t.Errorf("%s: SetReadOnly(false) sent %q, want %q", tc.version, got, tc.off)
		}
	}
}

func TestPositionsMySQL(t *testing.T) {
	a, fs := fakeAdmin(t, "8.0.36")
	fs.answer("SELECT @@server_id, @@GLOBAL.gtid_executed", fakeResult{cols: []string{"a", "b"},
		rows: [][]*string{{s("3"), s(uuidA + ":1-105,\n" + uuidB + ":1-3")}}})
	fs.answer("SHOW REPLICA STATUS", statusRow("Source_Host", "10.0.0.2", "Retrieved_Gtid_Set", uuidB+":1-3,\n"+uuidA+":1-100"))
	p, err := a.Positions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	exec := uuidA + ":1-105," + uuidB + ":1-3"
	want := Positions{Flavor: FlavorMySQL, Configured: true, Binlog: exec, Executed: exec, BinlogState: exec,
		Received: uuidB + ":1-3," + uuidA + ":1-100", ServerID: 3}
	if p != want {
		t.Fatalf("Positions = %+v\nwant %+v", p, want)
	}
	// Before 8.0.22 it is SHOW SLAVE STATUS; no row is no replication.
	a, fs = fakeAdmin(t, "8.0.21")
	fs.answer("SELECT @@server_id, @@GLOBAL.gtid_executed", fakeResult{cols: []string{"a", "b"}, rows: [][]*string{{s("3"), s(uuidA + ":1-5")}}})
	fs.answer("SHOW SLAVE STATUS", fakeResult{cols: []string{"Master_Host"}})
	fs.answer("SHOW REPLICA STATUS", fakeResult{errCode: 1064, errMsg: "syntax error"})
	if p, err = a.Positions(context.Background()); err != nil || p.Configured || p.Received != "" || p.Executed != uuidA+":1-5" {
		t.Fatalf("MySQL 8.0.21 without replication: %+v, %v", p, err)
	}
}

func TestWaitAppliedMySQL(t *testing.T) {
	a, fs := fakeAdmin(t, "8.0.36")
	one := func(v string) fakeResult { return fakeResult{cols: []string{"r"}, rows: [][]*string{{s(v)}}} }
	gtid := uuidA + ":1-105"
	for _, tc := range []struct {
		timeout time.Duration
		answer  string // the function's result
		query   string // what was asked
		want    error
	}{
		{2500 * time.Millisecond, "1", "SELECT WAIT_FOR_EXECUTED_GTID_SET('" + gtid + "', 3)", ErrWaitTimeout},
		{10 * time.Second, "0", "SELECT WAIT_FOR_EXECUTED_GTID_SET('" + gtid + "', 10)", nil},
		// Under a second: a look, since 0 s would wait forever.
		{0, "1", "SELECT 1 - GTID_SUBSET('" + gtid + "', @@GLOBAL.gtid_executed)", ErrWaitTimeout},
		{300 * time.Millisecond, "0", "SELECT 1 - GTID_SUBSET('" + gtid + "', @@GLOBAL.gtid_executed)", nil},
	} {
		fs.answer("SELECT WAIT_FOR_EXECUTED_GTID_SET(", one(tc.answer))
		fs.answer("SELECT 1 - GTID_SUBSET(", one(tc.answer))
		err := a.WaitApplied(context.Background(), gtid, tc.timeout)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("WaitApplied(%v) with answer %s: %v, want %v", tc.timeout, tc.answer, err, tc.want)
		}
		if q := fs.queriesSeen(); !slices.Contains(q, tc.query) {
			t.Errorf("WaitApplied(%v) asked %q, want %q", tc.timeout, q, tc.query)
		}
	}
	// MariaDB: -1 is the timeout, the wait in seconds with fractions.
	a, fs = fakeAdmin(t, "10.11.6-MariaDB")
	fs.answer("SELECT MASTER_GTID_WAIT(", one("-1"))
	if err := a.WaitApplied(context.Background(), "0-1-5", 1500*time.Millisecond); !errors.Is(err, ErrWaitTimeout) {
		t.Errorf("MariaDB -1: %v, want ErrWaitTimeout", err)
	}
	if q := fs.queriesSeen(); !slices.Contains(q, "SELECT MASTER_GTID_WAIT('0-1-5', 1.5)") {
		t.Errorf("asked %q", q)
	}
}
