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

// checkSessions returns, per connection id, the last query id of every
// session of user (MariaDB's PROCESSLIST.QUERY_ID grows with each
// statement the session runs).
func checkSessions(t *testing.T, db *sql.DB, user string) map[int64]int64 {
	t.Helper()
	rows, err := db.Query("SELECT ID, QUERY_ID FROM information_schema.PROCESSLIST WHERE USER = ?", user)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int64]int64{}
	for rows.Next() {
		var id, qid int64
		if err := rows.Scan(&id, &qid); err != nil {
			t.Fatal(err)
		}
		got[id] = qid
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// keptSession waits for the checks to run and returns the id of the one
// session of user that ran statements meanwhile (the kept connection; the
// watched one runs none). Both must be the only sessions of user, and the
// same before and after.
func keptSession(t *testing.T, db *sql.DB, user string, checks func() int64) int64 {
	t.Helper()
	before := checkSessions(t, db, user)
	from := checks()
	eventually(t, 5*time.Second, "ten checks", func() bool { return checks() >= from+10 })
	after := checkSessions(t, db, user)
	if len(before) != 2 || len(after) != 2 {
		t.Fatalf("sessions of %s: %v, then %v; want two (kept and watched)", user, before, after)
	}
	var busy []int64
	for id, qid := range after {
		prev, ok := before[id]
		if !ok {
			t.Fatalf("sessions of %s changed across ten checks: %v, then %v", user, before, after)
		}
		if qid != prev {
			busy = append(busy, id)
		}
	}
	if len(busy) != 1 {
		t.Fatalf("sessions that ran the ten checks: %v (of %v), want exactly one", busy, after)
	}
	return busy[0]
}

// TestRealMariaDBKeptConnection: the checks run on one session
// (CONNECTION_ID stays the same, the server's Connections counter does not
// move), raftvip's own KillClientSessions spares it, and a KILL of it from
// outside is recovered on the next check with no failure, even with
// fall = 1.
func TestRealMariaDBKeptConnection(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs a private mariadbd with --user=root")
	}
	m := startMariaDB(t, 0)
	admin := m.admin()
	defer admin.Close()
	admin.SetMaxOpenConns(1) // one session: the Connections counter below counts only the checker
	for _, q := range []string{
		fmt.Sprintf("CREATE USER 'rvcheck'@'127.0.0.1' IDENTIFIED BY '%s'", testPassword),
		"GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'rvcheck'@'127.0.0.1'",
		"CREATE USER 'app'@'127.0.0.1'",
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	dsn := fmt.Sprintf("rvcheck:%s@tcp(127.0.0.1:%d)/", testPassword, m.port)
	h := startChecker(t, Config{DSN: dsn, Interval: 50 * time.Millisecond, Timeout: time.Second,
		Fall: 1, Rise: 1, FailAfter: time.Second, FreshEvery: time.Hour})
	checks := countChecks(h)
	if st := h.nextChange(5 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	eventually(t, 5*time.Second, "kept and watched sessions", func() bool { return len(checkSessions(t, admin, "rvcheck")) == 2 })

	connections := func() int64 {
		var name string
		var n int64
		if err := admin.QueryRow("SHOW GLOBAL STATUS LIKE 'Connections'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	c0, n0 := connections(), checks.Load()
	kept := keptSession(t, admin, "rvcheck", checks.Load)
	if n, c := checks.Load()-n0, connections()-c0; c != 0 {
		t.Fatalf("%d checks opened %d connections, want 0", n, c)
	}
	t.Logf("kept session %d ran %d checks; the server's Connections did not move", kept, checks.Load()-n0)

	// raftvip's keeper fences with KillClientSessions as the checker's
	// user: it ends the application's session and spares the checker's.
	adm, err := NewAdmin(dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	app, err := sql.Open("mysql", fmt.Sprintf("app@tcp(127.0.0.1:%d)/", m.port))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	appConn, err := app.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer appConn.Close()
	if n, err := adm.KillClientSessions(context.Background()); err != nil || n != 2 {
		t.Fatalf("KillClientSessions = %d, %v; want the application's session and this test's root one", n, err)
	}
	if err := appConn.PingContext(context.Background()); err == nil {
		t.Fatal("the application's session survived KillClientSessions")
	}
	adm.Close() // its own session is raftvip's user's too
	eventually(t, 5*time.Second, "the Admin's session closed", func() bool { return len(checkSessions(t, admin, "rvcheck")) == 2 })
	if got := keptSession(t, admin, "rvcheck", checks.Load); got != kept {
		t.Fatalf("after KillClientSessions the checks run on session %d, not %d", got, kept)
	}
	h.noMoreChanges()

	// A KILL from outside (a DBA, a tool): the next check finds the
	// session gone, checks again on a fresh one at once, and that one
	// answers: no failure is recorded, so nothing flips with fall = 1.
	if _, err := admin.Exec(fmt.Sprintf("KILL CONNECTION %d", kept)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a new kept session", func() bool {
		s := checkSessions(t, admin, "rvcheck")
		_, old := s[kept]
		return len(s) == 2 && !old
	})
	again := keptSession(t, admin, "rvcheck", checks.Load)
	if again == kept {
		t.Fatalf("session %d still in use after its KILL", kept)
	}
	if st := h.c.Current(); !st.Healthy || st.Class != ClassOK || st.Failures != 0 {
		t.Fatalf("after the KILL: %+v, want healthy ok", st)
	}
	if !strings.Contains(h.logs.String(), "kept connection failed; checking on a fresh one") {
		t.Fatal("no check found the killed session: the retry on a fresh connection was not exercised")
	}
	h.noMoreChanges()
	t.Logf("KILL CONNECTION %d: the checks moved to session %d without a failed check", kept, again)
}
