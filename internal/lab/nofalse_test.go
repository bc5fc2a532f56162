package lab

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TestNoFalseFailover is issue 11's "a busy server is not dead": with
// default settings, connection storms (ERR 1040), short stalls (SIGSTOP for
// 600 ms) and a saturating load through the VIP must not move the VIP. Each
// case asserts 0 moves on the lab's VIP monitor (the holder never changes,
// the other host never acquires) and logs what the holder's check saw in
// that time (its debug lines, counted by class).
func TestNoFalseFailover(t *testing.T) {
	bin := requireLab(t)
	l := newTestLab(t, Options{RaftvipBin: bin})
	ctx := within(t, 4*time.Minute)
	m := l.Monitor()
	if err := l.StartRaftvip(ctx); err != nil {
		t.Fatal(err)
	}

	ready := func(t *testing.T) (holder, other string) {
		t.Helper()
		holder, err := l.WaitStableHolder(within(t, 45*time.Second), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.WaitAllHealthy(within(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := l.WaitSettled(within(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		return holder, l.Other(holder)
	}
	// noMove asserts the VIP stayed on holder since t0 and says what the
	// holder's check saw.
	noMove := func(t *testing.T, t0 time.Time, holder, other string) {
		t.Helper()
		// A verdict flip and a move take well under 2 s with defaults:
		// wait that long so a move the fault caused shows up.
		time.Sleep(2 * time.Second)
		classes, slowest := checkClassesSince(t, l.Agent(holder).LogPath, t0)
		t.Logf("%s's checks since the first fault, by class: %v; slowest %v", holder, classes, slowest)
		if acq := m.Acquisitions(other, t0); len(acq) != 0 {
			t.Errorf("VIP moved: %s acquired it %v\n%s", other, acq, m.Timeline())
		}
		// Not moved but dropped and added again is an outage too (a
		// starved lease renewal does that).
		if acq := m.Acquisitions(holder, t0); len(acq) != 0 {
			t.Errorf("VIP dropped and added again on %s %v\n%s", holder, acq, m.Timeline())
		}
		if h, ok := m.Holder(); !ok || h != holder {
			t.Errorf("VIP on %v, want it to stay on %s\n%s", m.Holders(), holder, m.Timeline())
		}
		if max, at, _ := m.HolderCountsBetween(t0, time.Now()); max > 1 {
			t.Errorf("%d hosts held the VIP at once at %s", max, at.Format(timeFmt))
		}
		if t.Failed() {
			if st, err := l.AnyStatus(ctx); err == nil {
				t.Logf("status:\n%s", st.Raw)
			}
			if out, err := l.Agent(holder).Command(ctx, "history"); err == nil {
				t.Logf("history:\n%s", out)
			}
		}
	}

	t.Run("ten 300 ms bursts of ERR 1040 on the holder", func(t *testing.T) {
		holder, other := ready(t)
		db := l.MariaDB(holder)
		orig, err := db.SQL(ctx, "SELECT @@max_connections")
		if err != nil {
			t.Fatal(err)
		}
		orig = strings.TrimSpace(orig)
		// A low limit, so a handful of connections hold every slot.
		if _, err := db.SQL(ctx, "SET GLOBAL max_connections = 8"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := db.SQL(context.Background(), "SET GLOBAL max_connections = "+orig); err != nil {
				t.Errorf("restoring max_connections: %v", err)
			}
		})
		t0 := time.Now()
		var refused int
		for i := 0; i < 10; i++ {
			held, full, err := fillConnections(ctx, l, holder)
			if err != nil {
				t.Fatal(err)
			}
			if !full {
				t.Fatalf("burst %d: %d connections open and the check user still gets in", i+1, len(held))
			}
			if i == 0 {
				t.Logf("burst 1: every slot held with %d connections", len(held))
			}
			refused++
			time.Sleep(300 * time.Millisecond)
			for _, c := range held {
				c.Close()
			}
			time.Sleep(700 * time.Millisecond)
		}
		t.Logf("%d bursts of ERR 1040 on %s", refused, holder)
		noMove(t, t0, holder, other)
	})

	t.Run("mariadbd on the holder stopped for 600 ms, five times", func(t *testing.T) {
		holder, other := ready(t)
		t0 := time.Now()
		for i := 0; i < 5; i++ {
			if err := l.HangMySQL(holder); err != nil {
				t.Fatal(err)
			}
			time.Sleep(600 * time.Millisecond)
			if err := l.ResumeMySQL(holder); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
		}
		noMove(t, t0, holder, other)
	})

	t.Run("a saturating load through the VIP for 60 s", func(t *testing.T) {
		holder, other := ready(t)
		t0 := time.Now()
		c := l.Host("c")
		lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		// mariadb-slap's clients each run the query in a loop; 140 is what
		// the default max_connections (151) leaves room for beside the
		// agents and the lab's own connections. A fresh-clone CI run at
		// 140 once saw the holder's own lease renewals starve on this
		// 2-core lab (servers, agents and slap share the cores): the VIP
		// dropped and came back three times, then moved. The agent now
		// raises its CPU priority (cpu_priority, default high = nice -10;
		// internal/sched). With cpu_priority = "normal" and the machine
		// busy besides (load average 34), this subtest saw five drops and
		// a move in 54 s; with the default, under load average 50, none.
		const concurrency = 140
		q0, err := questions(ctx, l.MariaDB(holder))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(lctx, "ip", "netns", "exec", c.NS, mustTool("mariadb-slap"),
			"--no-defaults", "--host="+VIP, fmt.Sprintf("--port=%d", MySQLPort),
			"--user="+AppUser, "--password="+AppPassword,
			fmt.Sprintf("--concurrency=%d", concurrency), "--iterations=1000000", "--number-of-queries=100000000",
			"--create-schema=mysql", "--no-drop", "--query=SELECT COUNT(*) FROM mysql.user WHERE user LIKE '%a%'")
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		if lctx.Err() == nil {
			t.Fatalf("mariadb-slap ended before 60 s: %v\n%s", err, out)
		}
		if time.Since(t0) < 55*time.Second {
			t.Fatalf("load ran %v only: %s", time.Since(t0), out)
		}
		q1, err := questions(ctx, l.MariaDB(holder))
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(t0)
		t.Logf("mariadb-slap -c %d through the VIP for %v: %s answered %.0f queries/s", concurrency, took.Round(time.Second), holder, float64(q1-q0)/took.Seconds())
		noMove(t, t0, holder, other)
	})
}

// fillConnections opens connections to host's server until it refuses one
// with ERR 1040: first as the application user (the max_connections
// slots), then as the check user, whose CONNECTION ADMIN lets it take the
// one slot MariaDB keeps beyond max_connections. full reports that a
// connection was refused with 1040: every slot is held.
func fillConnections(ctx context.Context, l *Lab, host string) (held []*sql.DB, full bool, err error) {
	open := func(user, pass string) (*sql.DB, error) {
		cfg := mysql.NewConfig()
		cfg.User, cfg.Passwd = user, pass
		cfg.Net, cfg.Addr = "tcp", l.ServerAddr(host)
		cfg.Timeout = 2 * time.Second
		cfg.Logger = silentLogger{}
		ns := l.Host("c").NS
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return DialInNamespace(ctx, ns, network, addr)
		}
		connector, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		db := sql.OpenDB(connector)
		db.SetMaxIdleConns(1)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
	is1040 := func(err error) bool {
		var me *mysql.MySQLError
		return errors.As(err, &me) && me.Number == 1040
	}
	release := func() {
		for _, d := range held {
			d.Close()
		}
	}
	for _, u := range [][2]string{{AppUser, AppPassword}, {CheckUser, CheckPassword}} {
		full = false
		for i := 0; i < 40; i++ {
			db, err := open(u[0], u[1])
			if is1040(err) {
				full = true
				break
			}
			if err != nil {
				release()
				return nil, false, fmt.Errorf("connection %d as %s: %w", len(held)+1, u[0], err)
			}
			held = append(held, db)
		}
	}
	return held, full, nil
}

// checkClassesSince counts the holder's check results (its debug "check"
// lines) by class from the agent's log, from t0 on.
func checkClassesSince(t *testing.T, path string, t0 time.Time) (classes map[string]int, slowest time.Duration) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Logf("agent log: %v", err)
		return nil, 0
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, " check: ") {
			continue
		}
		ts, _, _ := strings.Cut(line, " ")
		at, err := time.Parse("2006-01-02T15:04:05.000Z0700", ts)
		if err != nil || at.Before(t0) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if c, ok := strings.CutPrefix(f, "class="); ok {
				out[c]++
			}
			if v, ok := strings.CutPrefix(f, "latency="); ok {
				if d, err := time.ParseDuration(v); err == nil && d > slowest {
					slowest = d
				}
			}
		}
	}
	return out, slowest
}

// questions is the server's Questions counter (statements it was sent).
func questions(ctx context.Context, m *MariaDB) (int64, error) {
	out, err := m.SQL(ctx, "SHOW GLOBAL STATUS LIKE 'Questions'")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return 0, fmt.Errorf("Questions: unexpected %q", out)
	}
	return strconv.ParseInt(f[1], 10, 64)
}
