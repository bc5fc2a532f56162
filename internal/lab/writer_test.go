package lab

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestWriterAndDataCheck exercises the writer and the data check on a lab
// without raftvip (the VIP and read_only moved by hand, as an operator
// would): with semi-sync on, the writer's rows go to the VIP holder only
// and are acknowledged by the other server; a clean run checks clean; then
// a row written on the server without the VIP, an acknowledged row deleted
// on the final holder alone, a counter set back and a conflicting row that
// stops replication are each reported.
func TestWriterAndDataCheck(t *testing.T) {
	requireLab(t)
	l := newTestLab(t, Options{SemiSync: true})
	ctx := within(t, 3*time.Minute)
	a, b := l.MariaDB("a"), l.MariaDB("b")
	if err := l.WaitSemiSync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.SetupDataSchema(ctx); err != nil {
		t.Fatal(err)
	}
	grants := mustSQL(ctx, t, b, "SHOW GRANTS FOR '"+WriterUser+"'@'%'")
	for _, bad := range []string{"SUPER", "READ ONLY ADMIN", "READ_ONLY ADMIN", "ALL PRIVILEGES"} {
		if strings.Contains(grants, bad) {
			t.Fatalf("the writer's user may bypass read_only: %s", grants)
		}
	}
	// read_only fences the writer's user (hostb is read-only, as both are
	// at start): the data check's "rows on a non-holder" are rows a server
	// accepted though it should have been fenced.
	if out, err := b.sql(ctx, "-u", WriterUser, "-p"+WriterPassw, "-e", "INSERT INTO "+RowsTable+" VALUES (-1, @@server_id, NOW(6))"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("hostb (read_only) let the writer's user insert: err=%v out=%q", err, out)
	}

	// hosta holds the VIP and is writable.
	mustSQL(ctx, t, a, "SET GLOBAL read_only = 0")
	if err := l.AddVIP(ctx, "a", 0); err != nil {
		t.Fatal(err)
	}
	if err := l.SendGARP("a"); err != nil {
		t.Fatal(err)
	}
	w, err := l.StartWriter(WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	waitAcks(ctx, t, w, 1, 20)
	yes := mustSQL(ctx, t, a, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_yes_tx'")
	if f := strings.Fields(yes); len(f) != 2 || f[1] == "0" {
		t.Fatalf("hosta: %q: the writer's commits were not acknowledged by hostb's semi-sync slave", yes)
	}

	// The VIP moved by hand: fence hosta first, then move the address.
	tMove := time.Now()
	mustSQL(ctx, t, a, "SET GLOBAL read_only = 1")
	if err := l.RemoveVIP(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	mustSQL(ctx, t, b, "SET GLOBAL read_only = 0")
	if err := l.AddVIP(ctx, "b", 0); err != nil {
		t.Fatal(err)
	}
	if err := l.SendGARP("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WaitAck(ctx, 2, tMove); err != nil {
		t.Fatal(err)
	}
	waitAcks(ctx, t, w, 2, 20)
	w.Stop()

	d := l.CheckData(ctx, "by hand", w, []FaultMark{{At: tMove, ServerID: 2}})
	t.Log(d.String())
	if d.FinalHolder != "hostb" || len(d.Missing) != 0 || len(d.MissingOther) != 0 || len(d.NonHolder) != 0 ||
		len(d.ReplErrors) != 0 || !d.TablesAgree || !d.RunAgrees || d.CounterShort != 0 || d.RowsAcked < 40 ||
		d.IncAcked < 40 || len(d.FirstWrite) != 1 || !d.OK() {
		t.Fatalf("a clean run does not check clean: %s", d.String())
	}
	if d.Counter["hosta"] != int64(d.IncAcked) || d.Counter["hostb"] != int64(d.IncAcked) {
		t.Fatalf("counters %v, want both at the %d acknowledged increments (every increment here was acknowledged)", d.Counter, d.IncAcked)
	}
	if !strings.Contains(d.MarkdownRow(), "| by hand | 1 |") {
		t.Fatalf("markdown row %q", d.MarkdownRow())
	}

	if err := l.SetSemiSync(ctx, false); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*MariaDB{a, b} {
		st, err := m.SemiSyncStatus(ctx)
		if err != nil || st["Rpl_semi_sync_master_status"] != "OFF" || st["Rpl_semi_sync_slave_status"] != "OFF" {
			t.Fatalf("%s after SetSemiSync(false): %v %v", m.Host.NodeID, st, err)
		}
	}

	// Three faults made by hand.
	_, last := w.SeqRange()
	forged := last // in the writer's range, never written by it
	mustSQL(ctx, t, a, fmt.Sprintf("INSERT INTO %s VALUES (%d, @@server_id, NOW(6))", RowsTable, forged))
	var victim int64
	for _, x := range w.Writes() {
		if x.RowOK {
			victim = x.Seq
			break
		}
	}
	mustSQL(ctx, t, b, fmt.Sprintf("SET sql_log_bin = 0; DELETE FROM %s WHERE seq = %d; UPDATE %s SET n = n - 3 WHERE id = 1",
		RowsTable, victim, CounterTbl))
	d = l.CheckData(ctx, "tampered", w, nil)
	t.Log(d.String())
	if len(d.Missing) != 1 || d.Missing[0] != victim || len(d.MissingOther) != 0 {
		t.Errorf("missing %v on the final holder, %v on the other; want [%d] and none", d.Missing, d.MissingOther, victim)
	}
	if len(d.NonHolder) != 1 || d.NonHolder[0].Seq != forged || d.NonHolder[0].Host != "hosta" || d.NonHolder[0].Acked {
		t.Errorf("rows on a non-holder %+v, want seq %d on hosta, not acknowledged", d.NonHolder, forged)
	}
	if d.CounterShort != 3 || d.TablesAgree || d.RunAgrees || len(d.ReplErrors) != 0 || d.OK() {
		t.Errorf("counter short %d (want 3), tables agree %v / %v (want false), replication errors %v (want none), OK %v",
			d.CounterShort, d.TablesAgree, d.RunAgrees, d.ReplErrors, d.OK())
	}

	// A row hostb has (unlogged) and hosta then writes too: hostb's SQL
	// thread stops on the duplicate key.
	mustSQL(ctx, t, b, fmt.Sprintf("SET sql_log_bin = 0; INSERT INTO %s VALUES (%d, @@server_id, NOW(6))", RowsTable, forged-1))
	mustSQL(ctx, t, a, fmt.Sprintf("INSERT INTO %s VALUES (%d, @@server_id, NOW(6))", RowsTable, forged-1))
	eventually(t, 15*time.Second, "hostb's SQL thread stops", func() error {
		st, err := b.SlaveStatus(ctx)
		if err != nil {
			return err
		}
		if st["Slave_SQL_Running"] != "No" {
			return fmt.Errorf("Slave_SQL_Running=%s", st["Slave_SQL_Running"])
		}
		return nil
	})
	start := time.Now()
	d = l.CheckData(ctx, "replication broken", w, nil)
	t.Logf("%s (checked in %v)", d.String(), time.Since(start).Round(time.Millisecond))
	if !strings.Contains(strings.Join(d.ReplErrors, " "), "hostb: Last_SQL_Errno 1062") || d.OK() {
		t.Errorf("replication errors %v, want hostb's Last_SQL_Errno 1062", d.ReplErrors)
	}
}

// waitAcks waits until n more rows executed by serverID are acknowledged.
func waitAcks(ctx context.Context, t *testing.T, w *Writer, serverID, n int) {
	t.Helper()
	after := time.Now()
	for i := 0; i < n; i++ {
		x, err := w.WaitAck(ctx, serverID, after)
		if err != nil {
			t.Fatal(err)
		}
		after = x.Start.Add(time.Nanosecond)
	}
}
