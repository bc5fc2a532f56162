package mysqlcheck

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mariaDB is one private mariadbd: own datadir, socket, pid file and port.
type mariaDB struct {
	t       *testing.T
	binary  string
	dir     string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped bool // SIGSTOPped by the test
	// serverID, when set, starts the server with a binary log and this
	// server_id (a replication test); otherwise with no binary log.
	serverID int
	extra    []string // more mariadbd options
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("needs MariaDB: %s not installed (apt-get install mariadb-server)", name)
	return ""
}

func (m *mariaDB) socket() string { return filepath.Join(m.dir, "s.sock") }

func (m *mariaDB) start() {
	t := m.t
	t.Helper()
	logFile, err := os.OpenFile(filepath.Join(m.dir, "mariadbd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	m.cmd = exec.Command(m.binary, "--no-defaults",
		"--datadir="+filepath.Join(m.dir, "data"), "--socket="+m.socket(),
		"--pid-file="+filepath.Join(m.dir, "p.pid"), "--log-error="+filepath.Join(m.dir, "err.log"),
		"--port="+strconv.Itoa(m.port), "--bind-address=127.0.0.1", "--user=root",
		"--skip-name-resolve", "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=4M")
	if m.serverID != 0 {
		m.cmd.Args = append(m.cmd.Args, "--log-bin="+filepath.Join(m.dir, "data", "bin"), "--server-id="+strconv.Itoa(m.serverID))
	} else {
		m.cmd.Args = append(m.cmd.Args, "--skip-log-bin")
	}
	m.cmd.Args = append(m.cmd.Args, m.extra...)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start mariadbd: %v", err)
	}
	m.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(m.cmd, m.exited)

	// Ready when root can log in over the socket.
	deadline := time.Now().Add(20 * time.Second)
	for {
		db := m.admin()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		db.Close()
		if err == nil {
			return
		}
		select {
		case <-m.exited:
			t.Fatalf("mariadbd exited during start-up; see %s", filepath.Join(m.dir, "err.log"))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mariadbd not ready within 20s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// admin connects as root over the unix socket (root has no password).
func (m *mariaDB) admin() *sql.DB {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", m.socket()
	cfg.Logger = &mysql.NopLogger{}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		m.t.Fatal(err)
	}
	return sql.OpenDB(connector)
}

func (m *mariaDB) signal(sig syscall.Signal) {
	m.t.Helper()
	if err := m.cmd.Process.Signal(sig); err != nil {
		m.t.Fatalf("signal %v to mariadbd pid %d: %v", sig, m.cmd.Process.Pid, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		m.stopped = true
	case syscall.SIGCONT:
		m.stopped = false
	}
}

func (m *mariaDB) kill() {
	m.t.Helper()
	if m.stopped {
		m.signal(syscall.SIGCONT)
	}
	m.signal(syscall.SIGKILL)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		m.t.Fatalf("mariadbd pid %d did not exit after SIGKILL", m.cmd.Process.Pid)
	}
}

// startMariaDB installs a fresh datadir and starts a private mariadbd on
// it (serverID: see mariaDB.serverID; extra: more mariadbd options),
// killed at the end of the test.
func startMariaDB(t *testing.T, serverID int, extra ...string) *mariaDB {
	t.Helper()
	m := &mariaDB{t: t, binary: lookTool(t, "mariadbd"), dir: t.TempDir(), port: freeTCPPort(t), serverID: serverID, extra: extra}
	installDB := lookTool(t, "mariadb-install-db")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, installDB, "--no-defaults", "--datadir="+filepath.Join(m.dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db", "--user=root",
		"--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	m.start()
	t.Cleanup(func() {
		select {
		case <-m.exited:
		default:
			m.kill()
		}
	})
	return m
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRealMariaDB checks a real server through kill, pause and restart.
func TestRealMariaDB(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs a private mariadbd with --user=root")
	}
	m := startMariaDB(t, 0)

	admin := m.admin()
	defer admin.Close()
	if _, err := admin.Exec(fmt.Sprintf("CREATE USER 'rvcheck'@'127.0.0.1' IDENTIFIED BY '%s'", testPassword)); err != nil {
		t.Fatalf("create check user: %v", err)
	}
	admin.Close()

	// Interval is far longer than every deadline below: quick detections can
	// only come from the watched connection and the follow-up checks.
	const timeout = time.Second
	h := startChecker(t, Config{
		DSN:      fmt.Sprintf("rvcheck:%s@tcp(127.0.0.1:%d)/", testPassword, m.port),
		Interval: 30 * time.Second, Timeout: timeout, Fall: 2, Rise: 1,
	})
	if st := h.nextChange(5 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}

	// Wrong password is an auth failure, reported without the password.
	bad, err := New(Config{DSN: fmt.Sprintf("rvcheck:wrong-%s@tcp(127.0.0.1:%d)/", testPassword, m.port)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(switching{bad})
	err = bad.check(context.Background(), db)
	db.Close()
	if Classify(err) != ClassAuth {
		t.Fatalf("wrong password: class %q (%v), want auth", Classify(err), err)
	}

	// SIGSTOP: the kernel still completes TCP handshakes, nothing answers.
	m.signal(syscall.SIGSTOP)
	h.c.CheckNow()
	st := h.nextChange(2*timeout + 5*time.Second)
	if st.Healthy || st.Class != ClassTimeout {
		t.Fatalf("paused server: change %+v, want unhealthy timeout", st)
	}
	m.signal(syscall.SIGCONT)
	waitHealthyAgain(h, "after SIGCONT")

	// SIGKILL: the watched connection sees the close at once.
	killed := time.Now()
	m.kill()
	st = h.nextChange(3 * time.Second)
	t.Logf("SIGKILL detected after %v (class %s)", time.Since(killed), st.Class)
	if st.Healthy || (st.Class != ClassRefused && st.Class != ClassClosed) {
		t.Fatalf("killed server: change %+v, want unhealthy refused/closed", st)
	}

	m.start()
	waitHealthyAgain(h, "after restart")
	h.noMoreChanges()

	// Password rotation: the server takes a new password, the check fails
	// on auth until the checker gets the new DSN, then is healthy again
	// without a restart. (The new password contains testPassword, so the
	// harness's leak check covers it too.)
	rotated := testPassword + "-rotated"
	admin = m.admin()
	defer admin.Close()
	if _, err := admin.Exec(fmt.Sprintf("ALTER USER 'rvcheck'@'127.0.0.1' IDENTIFIED BY '%s'", rotated)); err != nil {
		t.Fatalf("rotate password: %v", err)
	}
	h.c.CheckNow()
	if st := h.nextChange(5 * time.Second); st.Healthy || st.Class != ClassAuth {
		t.Fatalf("old password after rotation: %+v, want unhealthy auth", st)
	}
	if err := h.c.Reconfigure(Config{DSN: fmt.Sprintf("rvcheck:%s@tcp(127.0.0.1:%d)/", rotated, m.port)}); err != nil {
		t.Fatal(err)
	}
	waitHealthyAgain(h, "after the new DSN")
	h.noMoreChanges()
}

// waitHealthyAgain requests checks until the next change, which must be
// healthy.
func waitHealthyAgain(h *harness, when string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.c.CheckNow()
		select {
		case st := <-h.c.Changes():
			h.seen = append(h.seen, st)
			if !st.Healthy {
				h.t.Fatalf("%s: change %+v, want healthy", when, st)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	h.t.Fatalf("%s: not healthy within 10s; current %+v", when, h.c.Current())
}
