package lab

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReplicationBothWays: the lab's two servers are a dual-master pair as
// in the seed (steps 3.1, with GTID): a row written on either appears on the
// other, both come up read-only, auto-increment ids do not collide, and a
// server the lab kills and restarts rejoins replication both ways.
func TestReplicationBothWays(t *testing.T) {
	requireLab(t)
	l := newTestLab(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, b := l.MariaDB("a"), l.MariaDB("b")

	for _, m := range []*MariaDB{a, b} {
		st, err := m.SlaveStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Running() || st["Using_Gtid"] != "Slave_Pos" {
			t.Fatalf("%s: Slave_IO_Running=%q Slave_SQL_Running=%q Using_Gtid=%q, want Yes, Yes, Slave_Pos",
				m.Host.NodeID, st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Using_Gtid"])
		}
		// raftvip's user (docs/replication.md's GRANT) reads the same status.
		out, err := m.sql(ctx, "-u", CheckUser, "-p"+CheckPassword, "-E", "-e", "SHOW SLAVE STATUS")
		if err != nil || !strings.Contains(out, "Slave_SQL_Running: Yes") {
			t.Fatalf("%s: SHOW SLAVE STATUS as %s: err=%v out=%q", m.Host.NodeID, CheckUser, err, out)
		}
		wantMaster := l.Host(l.Other(m.Host.Name)).IP
		if st["Master_Host"] != wantMaster {
			t.Fatalf("%s replicates from %q, want %s", m.Host.NodeID, st["Master_Host"], wantMaster)
		}
		got := strings.Fields(mustSQL(ctx, t, m, "SELECT @@server_id, @@read_only, @@auto_increment_increment, @@auto_increment_offset, @@log_slave_updates"))
		want := []string{strconv.Itoa(m.Host.ServerID), "1", "2", strconv.Itoa(m.Host.ServerID), "1"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%s: server_id read_only auto_increment_increment auto_increment_offset log_slave_updates = %v, want %v",
				m.Host.NodeID, got, want)
		}
	}

	// The schema is made on a and must reach b before b writes into it.
	mustSQL(ctx, t, a, "CREATE DATABASE labrepl; CREATE TABLE labrepl.t (id INT AUTO_INCREMENT PRIMARY KEY, origin VARCHAR(16) NOT NULL)")
	waitSQL(ctx, t, b, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='labrepl' AND table_name='t'", "1")

	// read_only really refuses an ordinary user with INSERT on the table,
	// on both servers (the user is created on a and replicated to b).
	mustSQL(ctx, t, a, "CREATE USER 'writer'@'localhost' IDENTIFIED BY 'writerpw'; GRANT INSERT, SELECT ON labrepl.* TO 'writer'@'localhost'")
	for _, m := range []*MariaDB{a, b} {
		waitSQL(ctx, t, m, "SELECT COUNT(*) FROM mysql.user WHERE user='writer'", "1")
		out, err := m.sql(ctx, "-u", "writer", "-pwriterpw", "-e", "INSERT INTO labrepl.t (origin) VALUES ('writer')")
		if err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("%s: INSERT as a user without READ ONLY ADMIN: err=%v out=%q, want a read-only refusal", m.Host.NodeID, err, out)
		}
	}

	insertBoth := func(tag string) {
		t.Helper()
		for _, m := range []*MariaDB{a, b} {
			origin := tag + "-" + m.Host.Name
			id := mustSQL(ctx, t, m, fmt.Sprintf("INSERT INTO labrepl.t (origin) VALUES ('%s'); SELECT LAST_INSERT_ID()", origin))
			n, err := strconv.Atoi(strings.TrimSpace(id))
			if err != nil {
				t.Fatalf("%s: LAST_INSERT_ID %q: %v", m.Host.NodeID, id, err)
			}
			// offsets 1 and 2 with increment 2: a's ids are odd, b's even
			if n%2 != m.Host.ServerID%2 {
				t.Fatalf("%s: row %s got id %d, want an id ≡ %d mod 2", m.Host.NodeID, origin, n, m.Host.ServerID%2)
			}
		}
		for _, m := range []*MariaDB{a, b} {
			for _, src := range []string{"a", "b"} {
				waitSQL(ctx, t, m, fmt.Sprintf("SELECT COUNT(*) FROM labrepl.t WHERE origin='%s-%s'", tag, src), "1")
			}
		}
	}
	insertBoth("before")

	// The lab kills b's server; a row written on a meanwhile reaches b
	// after the restart, and b (read-only again) replicates both ways.
	if err := l.KillMySQL("b"); err != nil {
		t.Fatal(err)
	}
	mustSQL(ctx, t, a, "INSERT INTO labrepl.t (origin) VALUES ('while-b-down')")
	if err := l.RestartMySQL(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(mustSQL(ctx, t, b, "SELECT @@read_only")); got != "1" {
		t.Fatalf("hostb after restart: read_only=%s, want 1", got)
	}
	if err := l.WaitReplicating(ctx); err != nil {
		t.Fatal(err)
	}
	waitSQL(ctx, t, b, "SELECT COUNT(*) FROM labrepl.t WHERE origin='while-b-down'", "1")
	insertBoth("after")

	// Both servers end with the same rows.
	q := "SELECT GROUP_CONCAT(id, origin ORDER BY id) FROM labrepl.t"
	if ra, rb := mustSQL(ctx, t, a, q), mustSQL(ctx, t, b, q); ra != rb {
		t.Fatalf("tables differ:\nhosta: %s\nhostb: %s", ra, rb)
	}
}

func mustSQL(ctx context.Context, t *testing.T, m *MariaDB, q string) string {
	t.Helper()
	out, err := m.SQL(ctx, q)
	if err != nil {
		t.Fatalf("%s: %s: %v", m.Host.NodeID, q, err)
	}
	return out
}

// waitSQL polls q on m until it returns want (bounded: replication in the
// lab takes milliseconds; 15 s means it is broken).
func waitSQL(ctx context.Context, t *testing.T, m *MariaDB, q, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := m.SQL(ctx, q)
		if err == nil && strings.TrimSpace(out) == want {
			return
		}
		if time.Now().After(deadline) {
			st, _ := m.SlaveStatus(ctx)
			t.Fatalf("%s: %s = %q (err %v), want %q after 15 s; Last_IO_Error=%q Last_SQL_Error=%q",
				m.Host.NodeID, q, out, err, want, st["Last_IO_Error"], st["Last_SQL_Error"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
