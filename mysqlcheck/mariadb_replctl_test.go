package mysqlcheck

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// StopReplication and StartReplication as raftvip's user (docs/replication.md's
// GRANT, REPLICATION SLAVE ADMIN included) on a real dual-master pair: a
// write on a while b's replication is stopped does not reach b; after the
// start it does.
func TestRealMariaDBReplicationControl(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs private mariadbd servers with --user=root")
	}
	d := startDualMaster(t)
	adm := newTestAdmin(t, d.b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := adm.StopReplication(ctx); err != nil {
		noSecret(t, err)
		t.Fatalf("stop replication as raftvip's user: %v", err)
	}
	row, _, err := readFirstRow(ctx, d.bdb, "SHOW SLAVE STATUS")
	if err != nil || row["slave_io_running"] != "No" || row["slave_sql_running"] != "No" {
		t.Fatalf("after StopReplication: io %q sql %q (%v)", row["slave_io_running"], row["slave_sql_running"], err)
	}
	if err := adm.StopReplication(ctx); err != nil {
		t.Fatalf("stopping stopped replication: %v", err)
	}
	mustExec(t, d.adb, "INSERT INTO app.t VALUES (4242)")
	time.Sleep(300 * time.Millisecond)
	var n int
	if err := d.bdb.QueryRow("SELECT COUNT(*) FROM app.t WHERE id = 4242").Scan(&n); err != nil || n != 0 {
		t.Fatalf("a row written on a reached b while its replication was stopped (%d rows, %v)", n, err)
	}
	if err := adm.StartReplication(ctx); err != nil {
		t.Fatalf("start replication: %v", err)
	}
	d.waitRunning(t, d.bdb)
	d.waitApplied(t, d.bdb, binlogPos(t, d.adb))
	if err := d.bdb.QueryRow("SELECT COUNT(*) FROM app.t WHERE id = 4242").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after StartReplication the row is not on b (%d rows, %v)", n, err)
	}
	// All applied, nothing coming: the SQL thread says it is idle at the
	// end of its relay log (what the catch-up's partial-tail rule reads).
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := adm.Positions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.SQLIdle {
			break
		}
		if time.Now().After(deadline) {
			row, _, _ := readFirstRow(ctx, d.bdb, "SHOW SLAVE STATUS")
			t.Fatalf("Positions.SQLIdle false with everything applied; Slave_SQL_Running_State %q", row["slave_sql_running_state"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A server that replicates from nobody (a site without replication): there
// is nothing to stop or start, and neither is an error.
func TestRealMariaDBReplicationControlUnconfigured(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs a private mariadbd with --user=root")
	}
	m := startMariaDB(t, 1)
	db := m.admin()
	defer db.Close()
	mustExec(t, db, fmt.Sprintf("CREATE USER 'raftvip'@'127.0.0.1' IDENTIFIED BY '%s'", testPassword), adminGrant)
	adm := newTestAdmin(t, m)
	ctx := context.Background()
	if err := adm.StopReplication(ctx); err != nil {
		t.Fatalf("StopReplication without replication: %v", err)
	}
	if err := adm.StartReplication(ctx); err != nil {
		t.Fatalf("StartReplication without replication: %v", err)
	}
}

// KillReplicaDumps ends the binlog dump thread that serves a's IO thread
// on b (as raftvip's user), and only that; a's IO thread reconnects.
func TestRealMariaDBKillReplicaDumps(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs private mariadbd servers with --user=root")
	}
	d := startDualMaster(t)
	adm := newTestAdmin(t, d.b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if n, err := adm.KillReplicaDumps(ctx, "10.255.255.1"); err != nil || n != 0 {
		t.Fatalf("dumps for another host: killed %d, %v; want none", n, err)
	}
	n, err := adm.KillReplicaDumps(ctx, "127.0.0.1")
	if err != nil || n != 1 {
		noSecret(t, err)
		t.Fatalf("killed %d dump threads (%v), want 1 (a's IO thread's)", n, err)
	}
	d.waitRunning(t, d.adb) // a's IO thread is back (MASTER_CONNECT_RETRY=1)
	mustExec(t, d.bdb, "INSERT INTO app.t VALUES (777)")
	d.waitApplied(t, d.adb, binlogPos(t, d.bdb))
}
