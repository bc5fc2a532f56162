package mysqlcheck

import (
	"context"
	"errors"
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
