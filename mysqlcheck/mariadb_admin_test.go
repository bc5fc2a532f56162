package mysqlcheck

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
)

const appPassword = "app-Pw-3xQ9"

// adminGrant and fenceGrant are docs/replication.md's GRANTs for raftvip's
// user.
const (
	adminGrant = "GRANT BINLOG MONITOR, SLAVE MONITOR, READ_ONLY ADMIN, CONNECTION ADMIN, PROCESS, REPLICATION SLAVE ADMIN ON *.* TO 'raftvip'@'127.0.0.1'"
	fenceGrant = "GRANT CREATE, SELECT, INSERT, UPDATE ON raftvip.* TO 'raftvip'@'127.0.0.1'"
)

// dualMaster is two real MariaDB servers replicating both ways as
// docs/replication.md sets them up (GTID, log_slave_updates, one domain).
type dualMaster struct {
	a, b     *mariaDB
	adb, bdb *sql.DB // root on each
}

func startDualMaster(t *testing.T) *dualMaster {
	t.Helper()
	opts := []string{"--log-slave-updates", "--gtid-domain-id=0", "--binlog-format=ROW", "--slave-net-timeout=10"}
	d := &dualMaster{a: startMariaDB(t, 1, opts...), b: startMariaDB(t, 2, opts...)}
	d.adb, d.bdb = d.a.admin(), d.b.admin()
	t.Cleanup(func() { d.adb.Close(); d.bdb.Close() })
	// Users and the application's table are made on a and reach b by
	// replication.
	mustExec(t, d.adb,
		fmt.Sprintf("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '%s'", replPassword),
		"GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'",
		fmt.Sprintf("CREATE USER 'raftvip'@'127.0.0.1' IDENTIFIED BY '%s'", testPassword),
		adminGrant,
		fmt.Sprintf("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '%s'", appPassword),
		"GRANT SELECT, INSERT, UPDATE, DELETE, LOCK TABLES ON app.* TO 'app'@'127.0.0.1'",
		"CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)")
	changeMaster := func(db *sql.DB, port int) {
		mustExec(t, db, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='repl', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			port, replPassword), "START SLAVE")
	}
	changeMaster(d.bdb, d.a.port)
	d.waitApplied(t, d.bdb, binlogPos(t, d.adb))
	changeMaster(d.adb, d.b.port)
	d.waitRunning(t, d.adb)
	return d
}

// waitApplied waits until db's gtid_slave_pos is pos.
func (d *dualMaster) waitApplied(t *testing.T, db *sql.DB, pos string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got string
		if err := db.QueryRow("SELECT @@gtid_slave_pos").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == pos {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gtid_slave_pos %q, not %q within 20s", got, pos)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRunning waits until db's slave IO and SQL threads run.
func (d *dualMaster) waitRunning(t *testing.T, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		row, _, err := readFirstRow(context.Background(), db, "SHOW SLAVE STATUS")
		if err != nil {
			t.Fatal(err)
		}
		if row["slave_io_running"] == "Yes" && row["slave_sql_running"] == "Yes" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slave threads not running within 20s: io %q sql %q, %s %s", row["slave_io_running"], row["slave_sql_running"], row["last_io_error"], row["last_sql_error"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuffer collects an Admin's logs, to look for the password.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestAdmin is an Admin as raftvip's user on m; at the end of the test
// its logs must not hold the password.
func newTestAdmin(t *testing.T, m *mariaDB) *Admin {
	t.Helper()
	logs := &logBuffer{}
	// readTimeout and loc as an operator's DSN may have them: neither may
	// cut a wait short or shift the fence table's times.
	a, err := NewAdmin(fmt.Sprintf("raftvip:%s@tcp(127.0.0.1:%d)/?readTimeout=1s&loc=Asia%%2FTokyo", testPassword, m.port),
		hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		if strings.Contains(logs.String(), testPassword) {
			t.Errorf("logs hold the password:\n%s", logs)
		}
	})
	return a
}

// noSecret fails the test when err shows the password.
func noSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testPassword) {
		t.Fatalf("error shows the password: %v", err)
	}
}

func globalBool(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var v int
	if err := db.QueryRow("SELECT @@GLOBAL." + name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v == 1
}

// appConn is one application session on m.
func appConn(t *testing.T, m *mariaDB) *sql.Conn {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = "app", appPassword, "tcp", fmt.Sprintf("127.0.0.1:%d", m.port)
	cfg.Logger = &mysql.NopLogger{}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() }) // before db.Close (cleanups run last first)
	return c
}

func mysqlErrno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// errReadOnly is ER_OPTION_PREVENTS_STATEMENT: "The MariaDB server is
// running with the --read-only option".
const errReadOnly = 1290

// TestRealMariaDBAdmin drives a real dual-master MariaDB pair through the
// Admin as raftvip's user with docs/replication.md's privileges.
func TestRealMariaDBAdmin(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs private mariadbd servers with --user=root")
	}
	d := startDualMaster(t)
	admA, admB := newTestAdmin(t, d.a), newTestAdmin(t, d.b)
	ctx := context.Background()

	t.Run("read_only", func(t *testing.T) {
		app := appConn(t, d.a)
		if _, err := app.ExecContext(ctx, "INSERT INTO app.t VALUES (1)"); err != nil {
			t.Fatalf("writable server refuses the application: %v", err)
		}
		for i := 0; i < 2; i++ { // twice: idempotent
			if err := admA.SetReadOnly(ctx, true); err != nil {
				noSecret(t, err)
				t.Fatalf("SetReadOnly(true) #%d: %v", i+1, err)
			}
			if !globalBool(t, d.adb, "read_only") {
				t.Fatalf("read_only is OFF after SetReadOnly(true) #%d", i+1)
			}
		}
		_, err := app.ExecContext(ctx, "INSERT INTO app.t VALUES (2)")
		if mysqlErrno(err) != errReadOnly {
			t.Fatalf("application insert on a read-only server: %v, want error %d", err, errReadOnly)
		}
		for i := 0; i < 2; i++ {
			if err := admA.SetReadOnly(ctx, false); err != nil {
				t.Fatalf("SetReadOnly(false) #%d: %v", i+1, err)
			}
			if globalBool(t, d.adb, "read_only") {
				t.Fatalf("read_only is ON after SetReadOnly(false) #%d", i+1)
			}
		}
		if _, err := app.ExecContext(ctx, "INSERT INTO app.t VALUES (2)"); err != nil {
			t.Fatalf("application insert after SetReadOnly(false): %v", err)
		}
		// A transaction open across the fence does not commit.
		mustExec(t, d.adb, "SET GLOBAL read_only = OFF")
		for _, q := range []string{"BEGIN", "INSERT INTO app.t VALUES (3)"} {
			if _, err := app.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		start := time.Now()
		if err := admA.SetReadOnly(ctx, true); err != nil {
			t.Fatalf("SetReadOnly(true) with a transaction open: %v", err)
		}
		t.Logf("SetReadOnly(true) with a transaction open took %v", time.Since(start))
		_, err = app.ExecContext(ctx, "COMMIT")
		if mysqlErrno(err) != errReadOnly {
			t.Fatalf("COMMIT of a transaction open across SetReadOnly(true): %v, want error %d", err, errReadOnly)
		}
		var n int
		if err := d.adb.QueryRow("SELECT COUNT(*) FROM app.t WHERE id = 3").Scan(&n); err != nil || n != 0 {
			t.Fatalf("row 3 after the refused commit: %d, %v", n, err)
		}
		if err := admA.SetReadOnly(ctx, false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("read_only blocked by a table lock", func(t *testing.T) {
		app := appConn(t, d.a)
		if _, err := app.ExecContext(ctx, "LOCK TABLES app.t WRITE"); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		start := time.Now()
		err := admA.SetReadOnly(cctx, true)
		cancel()
		t.Logf("SetReadOnly(true) while a session holds LOCK TABLES WRITE: %v after %v", err, time.Since(start))
		// The server's own error, which says why, not a cut connection.
		if !strings.Contains(fmt.Sprint(err), "Error 1205 (HY000): Lock wait timeout exceeded") {
			t.Fatalf("SetReadOnly(true) while a session holds a write lock: %v, want the server's lock wait timeout", err)
		}
		if n, err := admA.KillClientSessions(ctx); err != nil || n < 1 {
			t.Fatalf("KillClientSessions = %d, %v", n, err)
		}
		if err := admA.SetReadOnly(ctx, true); err != nil {
			t.Fatalf("SetReadOnly(true) after the lock holder was killed: %v", err)
		}
		if !globalBool(t, d.adb, "read_only") {
			t.Fatal("read_only is OFF")
		}
		// Already ON, it takes no lock: the agent enforces it on every
		// check, and a lock holder (root may write while read-only) must
		// not hold that up.
		root, err := d.adb.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		if _, err := root.ExecContext(ctx, "LOCK TABLES app.t WRITE"); err != nil {
			t.Fatal(err)
		}
		if err := admA.SetReadOnly(ctx, true); err != nil {
			t.Fatalf("SetReadOnly(true) when already ON, with a table locked: %v", err)
		}
		if _, err := root.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("kill client sessions", func(t *testing.T) {
		// root's pool keeps no idle session, so the count is exact.
		d.adb.SetMaxIdleConns(0)
		mustExec(t, d.adb, "SET GLOBAL event_scheduler = ON")
		app1, app2 := appConn(t, d.a), appConn(t, d.a)
		if _, err := app2.ExecContext(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		// Another session of raftvip's user: the checker's.
		checker := newTestAdmin(t, d.a)
		own, err := checker.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer own.Close()
		// Wait until root's last session has gone (its COM_QUIT may still
		// be on the way).
		deadline := time.Now().Add(10 * time.Second)
		before := processlist(t, own)
		for strings.Contains(before, "root ") {
			if time.Now().After(deadline) {
				t.Fatalf("root's session does not go away:\n%s", before)
			}
			time.Sleep(20 * time.Millisecond)
			before = processlist(t, own)
		}
		n, err := admA.KillClientSessions(ctx)
		if err != nil {
			noSecret(t, err)
			t.Fatal(err)
		}
		after := processlist(t, own)
		t.Logf("before:\n%s\nafter:\n%s", before, after)
		if n != 2 {
			t.Fatalf("killed %d sessions, want the 2 application sessions", n)
		}
		for i, c := range []*sql.Conn{app1, app2} {
			if _, err := c.ExecContext(ctx, "SELECT 1"); err == nil {
				t.Fatalf("application session %d still answers", i+1)
			}
		}
		if _, err := own.ExecContext(ctx, "SELECT 1"); err != nil {
			t.Fatalf("raftvip's own session was killed: %v", err)
		}
		for _, want := range []string{"event_scheduler Daemon", "repl Binlog Dump", "system user Slave_IO", "system user Slave_SQL"} {
			if !strings.Contains(after, want) {
				t.Fatalf("no %q left after the kill:\n%s", want, after)
			}
		}
		if strings.Contains(after, "app ") {
			t.Fatalf("an application session survived:\n%s", after)
		}
		// Replication still runs both ways.
		mustExec(t, d.adb, "INSERT INTO app.t VALUES (10)")
		d.waitApplied(t, d.bdb, binlogPos(t, d.adb))
		mustExec(t, d.bdb, "INSERT INTO app.t VALUES (11)")
		d.waitApplied(t, d.adb, binlogPos(t, d.bdb))
		// A session that ended by itself is no error.
		if gone, err := killSession(ctx, own, 999999); !gone || err != nil {
			t.Fatalf("killSession(no such session) = %v, %v; want gone, no error", gone, err)
		}
		// Without CONNECTION ADMIN nothing can be killed, and the error
		// says so.
		mustExec(t, d.adb, fmt.Sprintf("CREATE USER 'weak'@'127.0.0.1' IDENTIFIED BY '%s'", testPassword), "GRANT PROCESS ON *.* TO 'weak'@'127.0.0.1'")
		weak, err := NewAdmin(fmt.Sprintf("weak:%s@tcp(127.0.0.1:%d)/", testPassword, d.a.port), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer weak.Close()
		victim := appConn(t, d.a)
		if _, err := victim.ExecContext(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		n, err = weak.KillClientSessions(ctx)
		noSecret(t, err)
		// (raftvip's sessions are other users' to weak.)
		if n != 0 || err == nil || !strings.Contains(err.Error(), "sessions not killed") || !strings.Contains(err.Error(), "Error 1095") {
			t.Fatalf("KillClientSessions without CONNECTION ADMIN = %d, %v", n, err)
		}
		t.Logf("without CONNECTION ADMIN: %v", err)
		if n, err := admA.KillClientSessions(ctx); err != nil || n != 2 {
			t.Fatalf("KillClientSessions = %d, %v; want the application's session and weak's idle one", n, err)
		}
		// Nothing left to kill.
		if n, err := admA.KillClientSessions(ctx); err != nil || n != 0 {
			t.Fatalf("second KillClientSessions = %d, %v; want 0", n, err)
		}
	})

	// A planned handoff whose position is the target's own last write,
	// echoed back by the other server (log_slave_updates): the echo moves
	// the target's gtid_slave_pos, so MASTER_GTID_WAIT returns.
	t.Run("wait for own transaction echoed back", func(t *testing.T) {
		mustExec(t, d.bdb, "INSERT INTO app.t VALUES (121)")
		posB := binlogPos(t, d.bdb)
		d.waitApplied(t, d.adb, posB)
		handoff := binlogPos(t, d.adb)
		if handoff != posB {
			t.Fatalf("a's binlog position %s, want b's write %s", handoff, posB)
		}
		if err := admB.WaitApplied(ctx, handoff, 10*time.Second); err != nil {
			t.Fatalf("b WaitApplied(%s), its own write: %v", handoff, err)
		}
	})

	t.Run("positions", func(t *testing.T) {
		mustExec(t, d.bdb, "INSERT INTO app.t VALUES (21)")
		d.waitApplied(t, d.adb, binlogPos(t, d.bdb))
		mustExec(t, d.adb, "INSERT INTO app.t VALUES (20)")
		posA := binlogPos(t, d.adb)
		d.waitApplied(t, d.bdb, posA)
		p, err := admB.Positions(ctx)
		if err != nil {
			noSecret(t, err)
			t.Fatal(err)
		}
		var state string
		if err := d.bdb.QueryRow("SELECT @@gtid_binlog_state").Scan(&state); err != nil {
			t.Fatal(err)
		}
		t.Logf("b: %+v", p)
		if p.Flavor != FlavorMariaDB || p.ServerID != 2 || !p.Configured || p.Binlog != posA || p.Executed != posA || p.Received != posA || p.BinlogState != state ||
			!strings.Contains(state, "0-1-") || !strings.Contains(state, "0-2-") {
			t.Fatalf("b's positions %+v, want binlog, executed and received %s, binlog state %s with both servers", p, posA, state)
		}
		// a stops replicating from b for good: the subtests below need
		// only b's replication from a.
		mustExec(t, d.adb, "STOP SLAVE", "RESET SLAVE ALL")
		p, err = admA.Positions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.ServerID != 1 || p.Configured || p.Received != "" || p.Binlog != posA || p.BinlogState == "" {
			t.Fatalf("a without replication: %+v", p)
		}
	})

	t.Run("wait applied", func(t *testing.T) {
		mustExec(t, d.adb, "INSERT INTO app.t VALUES (30)")
		applied := binlogPos(t, d.adb)
		d.waitApplied(t, d.bdb, applied)
		if err := admB.WaitApplied(ctx, applied, 5*time.Second); err != nil {
			t.Fatalf("WaitApplied(%s) already applied: %v", applied, err)
		}
		// Received but not applied: the SQL thread is stopped.
		mustExec(t, d.bdb, "STOP SLAVE SQL_THREAD")
		mustExec(t, d.adb, "INSERT INTO app.t VALUES (31)")
		pending := binlogPos(t, d.adb)
		deadline := time.Now().Add(20 * time.Second)
		for {
			p, err := admB.Positions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if p.Received == pending {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("b did not receive %s: %+v", pending, p)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The Admin's DSN says readTimeout=1s; a 2 s wait must still get
		// the server's answer.
		start := time.Now()
		err := admB.WaitApplied(ctx, pending, 2*time.Second)
		if !errors.Is(err, ErrWaitTimeout) {
			t.Fatalf("WaitApplied(%s) with the SQL thread stopped: %v, want ErrWaitTimeout", pending, err)
		}
		t.Logf("timed out after %v", time.Since(start))
		// A position never reached at all.
		if err := admB.WaitApplied(ctx, "0-1-999999", 500*time.Millisecond); !errors.Is(err, ErrWaitTimeout) {
			t.Fatalf("WaitApplied(0-1-999999): %v, want ErrWaitTimeout", err)
		}
		// Started while waiting: the wait ends when the row is applied.
		done := make(chan error, 1)
		go func() { done <- admB.WaitApplied(ctx, pending, 20*time.Second) }()
		time.Sleep(200 * time.Millisecond)
		mustExec(t, d.bdb, "START SLAVE SQL_THREAD")
		if err := <-done; err != nil {
			t.Fatalf("WaitApplied(%s) after START SLAVE SQL_THREAD: %v", pending, err)
		}
		var n int
		if err := d.bdb.QueryRow("SELECT COUNT(*) FROM app.t WHERE id = 31").Scan(&n); err != nil || n != 1 {
			t.Fatalf("row 31 on b after the wait: %d, %v", n, err)
		}
		if err := admB.WaitApplied(ctx, "bad", time.Second); err == nil || errors.Is(err, ErrWaitTimeout) {
			t.Fatalf("WaitApplied(bad): %v, want an error", err)
		} else {
			t.Logf("WaitApplied(bad): %v", err)
		}
	})

	t.Run("write fence", func(t *testing.T) {
		const table = "raftvip.fence"
		mustExec(t, d.adb, "SET GLOBAL read_only = ON")
		at := time.Date(2026, 12, 1, 11, 30, 0, 123456000, time.FixedZone("CET", 3600))
		// docs/replication.md's GRANT has no table privilege yet.
		err := admA.WriteFence(ctx, table, 7, "node-a", at)
		if err == nil || !strings.Contains(err.Error(), "denied") {
			t.Fatalf("WriteFence without privileges on the fence table: %v, want access denied", err)
		}
		noSecret(t, err)
		t.Logf("without privileges: %v", err)
		mustExec(t, d.adb, fenceGrant)
		if err := admA.WriteFence(ctx, table, 7, "node-a", at); err != nil {
			t.Fatalf("WriteFence on a read-only server: %v", err)
		}
		if err := admA.WriteFence(ctx, table, 7, "node-b", at.Add(time.Second)); err != nil {
			t.Fatalf("WriteFence again for epoch 7: %v", err)
		}
		if err := admA.WriteFence(ctx, table, 8, "node-a", at.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		want := "7 node-b 2026-12-01 10:30:01.123456\n8 node-a 2026-12-01 10:30:02.123456\n"
		if got := fenceRows(t, d.adb, table); got != want {
			t.Fatalf("fence table on a:\n%s\nwant\n%s", got, want)
		}
		// The rows replicate (b's replication of a is still running).
		d.waitApplied(t, d.bdb, binlogPos(t, d.adb))
		if got := fenceRows(t, d.bdb, table); got != want {
			t.Fatalf("fence table on b:\n%s\nwant\n%s", got, want)
		}
		if !globalBool(t, d.adb, "read_only") {
			t.Fatal("read_only is OFF")
		}
		// A table made in advance (docs/replication.md) needs no CREATE.
		mustExec(t, d.adb, "CREATE DATABASE ops", "CREATE TABLE ops.fence (epoch BIGINT UNSIGNED NOT NULL PRIMARY KEY, "+
			"node VARCHAR(255) NOT NULL, acquired_at DATETIME(6) NOT NULL)",
			"GRANT SELECT, INSERT, UPDATE ON ops.* TO 'raftvip'@'127.0.0.1'")
		if err := admA.WriteFence(ctx, "ops.fence", 9, "node-a", at); err != nil {
			t.Fatalf("WriteFence into a table made in advance: %v", err)
		}
		if got, want := fenceRows(t, d.adb, "ops.fence"), "9 node-a 2026-12-01 10:30:00.123456\n"; got != want {
			t.Fatalf("ops.fence: %q, want %q", got, want)
		}
		// The application cannot write it.
		_, err = appConn(t, d.a).ExecContext(ctx, "INSERT INTO raftvip.fence VALUES (9, 'x', NOW())")
		if err == nil {
			t.Fatal("the application wrote the fence table")
		}
	})
}

// processlist is "user command" per session, sorted by id, but the one
// of q.
func processlist(t *testing.T, q querier) string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), "SELECT USER, COMMAND FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() ORDER BY ID")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var user, command string
		if err := rows.Scan(&user, &command); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s\n", user, command)
	}
	return b.String()
}

func fenceRows(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.Query("SELECT epoch, node, DATE_FORMAT(acquired_at, '%Y-%m-%d %H:%i:%s.%f') FROM " + table + " ORDER BY epoch")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var epoch uint64
		var node, at string
		if err := rows.Scan(&epoch, &node, &at); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d %s %s\n", epoch, node, at)
	}
	return b.String()
}
