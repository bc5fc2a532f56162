package mysqlcheck

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const replPassword = "repl-Pw-7kQ2"

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func binlogPos(t *testing.T, db *sql.DB) string {
	t.Helper()
	var pos string
	if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	return pos
}

// TestRealMariaDBReplication runs a GTID primary and a replica of it and
// reads what the checker reports on each: threads running and caught up,
// a stopped SQL thread with the received position ahead of the executed
// one, a failed SQL thread with its error, and lag (MASTER_DELAY). Health
// stays ok throughout.
func TestRealMariaDBReplication(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs private mariadbd servers with --user=root")
	}
	primary := startMariaDB(t, 1)
	replica := startMariaDB(t, 2)
	pdb, rdb := primary.admin(), replica.admin()
	defer pdb.Close()
	defer rdb.Close()

	// The check user needs no privilege but SLAVE MONITOR (MariaDB ≥ 10.5)
	// to see SHOW SLAVE STATUS. IF NOT EXISTS: the primary's statement
	// reaches the replica, which has the user already.
	for _, db := range []*sql.DB{rdb, pdb} {
		mustExec(t, db, fmt.Sprintf("CREATE USER IF NOT EXISTS 'rvcheck'@'127.0.0.1' IDENTIFIED BY '%s'", testPassword),
			"GRANT SLAVE MONITOR ON *.* TO 'rvcheck'@'127.0.0.1'")
	}
	mustExec(t, pdb, fmt.Sprintf("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '%s'", replPassword),
		"GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'",
		"CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)")
	mustExec(t, rdb, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='repl', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
		primary.port, replPassword), "START SLAVE")

	checker := func(m *mariaDB) func() *Replication {
		c, err := New(Config{DSN: fmt.Sprintf("rvcheck:%s@tcp(127.0.0.1:%d)/", testPassword, m.port), Timeout: 2 * time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(switching{c})
		t.Cleanup(func() { db.Close() })
		return func() *Replication {
			t.Helper()
			r, err := c.checkAll(context.Background(), db)
			if err != nil {
				t.Fatalf("health check failed: %v", err)
			}
			if r.Error != "" {
				t.Fatalf("replication not readable: %s", r.Error)
			}
			for _, secret := range []string{testPassword, replPassword} {
				if strings.Contains(fmt.Sprintf("%+v", *r), secret) {
					t.Fatalf("replication read carries a password: %+v", *r)
				}
			}
			return r
		}
	}
	checkPrimary, checkReplica := checker(primary), checker(replica)
	waitFor := func(what string, cond func(*Replication) bool) *Replication {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			r := checkReplica()
			if cond(r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20s; last read %+v (%s)", what, *r, r.Summary())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// The primary replicates from nobody.
	p := checkPrimary()
	if p.Configured || p.Flavor != FlavorMariaDB || p.BinlogGTID == "" || p.ReadOnly == nil || *p.ReadOnly {
		t.Fatalf("primary: %+v, want no replication, a binlog position, read_only off", *p)
	}
	t.Logf("primary: %s", p.Summary())

	// Running and caught up.
	pos := binlogPos(t, pdb)
	r := waitFor("replica running and caught up", func(r *Replication) bool {
		return r.IORunning == "Yes" && r.SQLRunning && r.ExecutedGTID == pos && r.ReceivedGTID == pos
	})
	if !r.Configured || r.Source != fmt.Sprintf("127.0.0.1:%d", primary.port) || r.SecondsBehind == nil || *r.SecondsBehind != 0 ||
		r.LastIOErrno != 0 || r.LastSQLErrno != 0 || len(r.Missing) != 0 {
		t.Fatalf("caught-up replica: %+v", *r)
	}
	t.Logf("replica running: %s", r.Summary())

	// SQL thread stopped: rows arrive but are not applied.
	mustExec(t, rdb, "STOP SLAVE SQL_THREAD")
	mustExec(t, pdb, "INSERT INTO app.t VALUES (2)", "INSERT INTO app.t VALUES (3)")
	pos2 := binlogPos(t, pdb)
	r = waitFor("stopped SQL thread, rows received", func(r *Replication) bool { return r.ReceivedGTID == pos2 })
	if r.SQLRunning || r.IORunning != "Yes" || r.ExecutedGTID != pos || r.ExecutedGTID == r.ReceivedGTID || r.SecondsBehind != nil {
		t.Fatalf("stopped SQL thread: %+v, want io Yes, sql No, executed %s behind received %s, lag unknown", *r, pos, pos2)
	}
	if s := r.Summary(); !strings.Contains(s, "sql No") || !strings.Contains(s, "lag unknown") {
		t.Fatalf("summary %q", s)
	}
	t.Logf("SQL thread stopped: %s", r.Summary())

	// A conflicting row written on the replica stops the SQL thread with
	// an error once the primary's copy arrives.
	mustExec(t, rdb, "INSERT INTO app.t VALUES (100)", "START SLAVE SQL_THREAD")
	mustExec(t, pdb, "INSERT INTO app.t VALUES (100)")
	r = waitFor("SQL thread failed on the duplicate", func(r *Replication) bool { return r.LastSQLErrno != 0 && !r.SQLRunning })
	if r.LastSQLErrno != 1062 || !strings.Contains(r.LastSQLError, "Duplicate entry") || r.IORunning != "Yes" {
		t.Fatalf("failed SQL thread: %+v, want error 1062", *r)
	}
	t.Logf("SQL thread failed: %s", r.Summary())

	// Lag: the conflict resolved, the replica applies events 3 s late
	// (MASTER_DELAY); while it waits, seconds behind is reported.
	mustExec(t, rdb, "DELETE FROM app.t WHERE id = 100", "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 3", "START SLAVE")
	waitFor("replica running again", func(r *Replication) bool { return r.SQLRunning && r.LastSQLErrno == 0 })
	mustExec(t, pdb, "INSERT INTO app.t VALUES (4)")
	pos3 := binlogPos(t, pdb)
	r = waitFor("lag reported", func(r *Replication) bool { return r.SecondsBehind != nil && *r.SecondsBehind >= 1 })
	if r.ExecutedGTID == pos3 || !r.SQLRunning {
		t.Fatalf("delayed replica: %+v, want running and behind %s", *r, pos3)
	}
	if s := r.Summary(); !strings.Contains(s, fmt.Sprintf("lag %ds", *r.SecondsBehind)) {
		t.Fatalf("summary %q", s)
	}
	t.Logf("delayed: %s", r.Summary())
	waitFor("delayed replica catches up", func(r *Replication) bool { return r.ExecutedGTID == pos3 })

	// What reading replication costs a check: the same checker, health
	// query alone and health query plus replication, on this host.
	c, err := New(Config{DSN: fmt.Sprintf("rvcheck:%s@tcp(127.0.0.1:%d)/", testPassword, replica.port), Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(switching{c})
	defer db.Close()
	db.SetMaxIdleConns(0) // as in Run: a fresh connection per check
	db.SetMaxOpenConns(1)
	const n = 100
	var healthOnly, withRepl time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := c.check(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		healthOnly += time.Since(start)
		start = time.Now()
		if _, err := c.checkAll(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		withRepl += time.Since(start)
	}
	t.Logf("check duration over %d checks: health query alone %v, with replication %v", n, healthOnly/n, withRepl/n)
}
