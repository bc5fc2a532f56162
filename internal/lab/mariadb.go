package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Credentials of the two MariaDB users the lab creates on both servers.
// They are lab-only values; the check password is what raftvip's DSN uses.
const (
	CheckUser     = "raftvip"
	CheckPassword = "checkpw"
	AppUser       = "app"
	AppPassword   = "apppw"
	// ReplUser is the replication user each server's IO thread logs in
	// with on the other (the seed's 'rep').
	ReplUser     = "repl"
	ReplPassword = "replpw"
)

// replicationTimeout bounds the wait for both servers' IO and SQL threads at
// lab start-up and in WaitReplicating.
const replicationTimeout = 30 * time.Second

// MariaDB is the database server of one DB host.
type MariaDB struct {
	Host    *Host
	Dir     string
	Config  string // generated my.cnf
	DataDir string
	Socket  string
	PidFile string
	LogPath string

	cnf  myCnfParams // what Config was generated from (SetSemiSync rewrites it)
	mu   sync.Mutex
	proc *Process
}

func (l *Lab) startMariaDBs(ctx context.Context) error {
	tmpl, err := l.installTemplate(ctx)
	if err != nil {
		return err
	}
	errs := make(chan error, 2)
	for _, h := range l.DBHosts() {
		go func(h *Host) {
			m, err := l.newMariaDB(ctx, h, tmpl)
			if err == nil {
				l.mu.Lock()
				l.mariadb[h.Name] = m
				l.mu.Unlock()
				err = m.Start(ctx)
			}
			errs <- err
		}(h)
	}
	var first error
	for range 2 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	return l.startReplication(ctx)
}

// startReplication points each server at the other (the seed's steps 3.1,
// with GTID) and waits until both replicate. Both datadirs are copies of one
// template and nothing was written yet, so no dump is needed: each IO thread
// starts from the first binlog of the other server. The replication
// configuration is kept in master.info, so a restarted mariadbd starts its
// slave threads again by itself.
func (l *Lab) startReplication(ctx context.Context) error {
	for _, h := range l.DBHosts() {
		m := l.MariaDB(h.Name)
		peer := l.Host(l.Other(h.Name))
		// MASTER_CONNECT_RETRY=1: the lab kills and restarts servers, and
		// the default (60 s) would leave a server unreplicated for a minute.
		q := fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', "+
			"MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;",
			peer.IP, MySQLPort, ReplUser, ReplPassword)
		if _, err := m.SQL(ctx, q); err != nil {
			return fmt.Errorf("mariadb %s: start replication from %s: %w", h.NodeID, peer.NodeID, err)
		}
	}
	start := time.Now()
	if err := l.WaitReplicating(ctx); err != nil {
		return err
	}
	l.log.Debug("replication running both ways", "took", time.Since(start))
	return nil
}

// WaitReplicating waits (at most replicationTimeout) until both servers'
// IO and SQL threads run; the error names the server and its last errors.
func (l *Lab) WaitReplicating(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, replicationTimeout)
	defer cancel()
	for _, h := range l.DBHosts() {
		m := l.MariaDB(h.Name)
		for {
			st, err := m.SlaveStatus(ctx)
			if err == nil && st.Running() {
				break
			}
			select {
			case <-ctx.Done():
				if err == nil {
					err = fmt.Errorf("Slave_IO_Running=%s Slave_SQL_Running=%s Last_IO_Error=%q Last_SQL_Error=%q",
						st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Last_IO_Error"], st["Last_SQL_Error"])
				}
				return fmt.Errorf("mariadb %s: replication not running after %s: %w", h.NodeID, replicationTimeout, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// SlaveStatus is one server's SHOW SLAVE STATUS, field name to value; empty
// when no replication is configured.
type SlaveStatus map[string]string

// Running reports whether both the IO and the SQL thread run.
func (s SlaveStatus) Running() bool {
	return s["Slave_IO_Running"] == "Yes" && s["Slave_SQL_Running"] == "Yes"
}

// SlaveStatus reads SHOW SLAVE STATUS through the server's socket.
func (m *MariaDB) SlaveStatus(ctx context.Context) (SlaveStatus, error) {
	out, err := m.sql(ctx, "-E", "-e", "SHOW SLAVE STATUS")
	if err != nil {
		return nil, err
	}
	st := SlaveStatus{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(strings.TrimSpace(k), "*") {
			continue
		}
		st[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return st, nil
}

// SQL runs statements as the server's root user (unix-socket login, which
// is exempt from read_only: it has READ ONLY ADMIN) and returns the rows,
// tab-separated, without column names.
func (m *MariaDB) SQL(ctx context.Context, query string) (string, error) {
	return m.sql(ctx, "-N", "-B", "-e", query)
}

func (m *MariaDB) sql(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	argv := append([]string{"--no-defaults", "--socket=" + m.Socket, "-u", "root", "--connect-timeout=2"}, args...)
	cmd := exec.CommandContext(ctx, mustTool("mariadb"), argv...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("mariadb %s: %w: %s", m.Host.NodeID, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// installTemplate runs mariadb-install-db once; both hosts get a copy, which
// halves the start-up time of the lab.
func (l *Lab) installTemplate(ctx context.Context) (string, error) {
	dir, err := l.hostDir("mariadb-template", "")
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(tmpDirOf(data), 0o755); err != nil {
		return "", fmt.Errorf("mariadb template: %w", err)
	}
	cnf := filepath.Join(dir, "my.cnf")
	if err := os.WriteFile(cnf, []byte(myCnf(myCnfParams{DataDir: data, Socket: filepath.Join(dir, "install.sock"),
		PidFile: filepath.Join(dir, "install.pid"), ServerID: 1, Bind: "127.0.0.1"})), 0o644); err != nil {
		return "", fmt.Errorf("mariadb template: %w", err)
	}
	start := time.Now()
	out, err := run(ctx, mustTool("mariadb-install-db"), "--defaults-file="+cnf,
		"--auth-root-authentication-method=socket", "--skip-test-db")
	if err != nil {
		return "", fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
	}
	l.log.Debug("mariadb template installed", "took", time.Since(start))
	return data, nil
}

func (l *Lab) newMariaDB(ctx context.Context, h *Host, template string) (*MariaDB, error) {
	dir, err := l.hostDir(h.Name, "mysql")
	if err != nil {
		return nil, err
	}
	m := &MariaDB{
		Host:    h,
		Dir:     dir,
		Config:  filepath.Join(dir, "my.cnf"),
		DataDir: filepath.Join(dir, "data"),
		Socket:  filepath.Join(dir, "mysqld.sock"),
		PidFile: filepath.Join(dir, "mysqld.pid"),
		LogPath: filepath.Join(l.Dir, h.Name, "mariadbd.log"),
	}
	if _, err := run(ctx, "cp", "-a", template, m.DataDir); err != nil {
		return nil, fmt.Errorf("mariadb %s: copy datadir: %w", h.NodeID, err)
	}
	if err := os.MkdirAll(tmpDirOf(m.DataDir), 0o755); err != nil {
		return nil, fmt.Errorf("mariadb %s: %w", h.NodeID, err)
	}
	initSQL := filepath.Join(dir, "init.sql")
	if err := os.WriteFile(initSQL, []byte(initSQLText), 0o600); err != nil {
		return nil, fmt.Errorf("mariadb %s: %w", h.NodeID, err)
	}
	m.cnf = myCnfParams{DataDir: m.DataDir, Socket: m.Socket, PidFile: m.PidFile, ServerID: h.ServerID,
		Bind: strings.Join(append([]string{h.IP, VIP}, l.opts.ExtraVIPs...), ","), InitFile: initSQL, Replication: true, SemiSync: l.opts.SemiSync}
	if err := os.WriteFile(m.Config, []byte(myCnf(m.cnf)), 0o644); err != nil {
		return nil, fmt.Errorf("mariadb %s: %w", h.NodeID, err)
	}
	return m, nil
}

// initSQLText runs at every server start (init-file), so the users exist
// after a fresh install and after any restart, without a separate step.
// raftvip's user gets docs/replication.md's GRANT: replication status now,
// read_only and session kills when issue 10's fencing lands; no table
// privileges.
// sql_log_bin = 0: both servers create the same users themselves, so these
// statements stay out of the binlog; otherwise every restart would add a
// transaction the other server has to replicate, and the GTID positions of
// an idle pair would not agree.
const initSQLText = `SET sql_log_bin = 0;
CREATE USER IF NOT EXISTS '` + CheckUser + `'@'%' IDENTIFIED BY '` + CheckPassword + `';
GRANT BINLOG MONITOR, SLAVE MONITOR, READ_ONLY ADMIN, CONNECTION ADMIN, PROCESS, REPLICATION SLAVE ADMIN ON *.* TO '` + CheckUser + `'@'%';
CREATE USER IF NOT EXISTS '` + AppUser + `'@'%' IDENTIFIED BY '` + AppPassword + `';
GRANT SELECT ON *.* TO '` + AppUser + `'@'%';
CREATE USER IF NOT EXISTS '` + ReplUser + `'@'%' IDENTIFIED BY '` + ReplPassword + `';
GRANT REPLICATION SLAVE ON *.* TO '` + ReplUser + `'@'%';
`

type myCnfParams struct {
	DataDir, Socket, PidFile, Bind, InitFile string
	ServerID                                 int
	// Replication adds the dual-master settings (binlog, GTID, offsets,
	// read_only); the install template goes without them.
	Replication bool
	// SemiSync turns on semi-synchronous replication both ways (with
	// Replication).
	SemiSync bool
}

// SemiSyncTimeout is the lab's rpl_semi_sync_master_timeout: a commit on
// the holder waits this long for the other server's acknowledgement before
// the holder falls back to asynchronous replication. It outlasts the lab's
// faults on the old holder until the new holder takes over (a hung server
// is detected in about 2.5 s), so an acknowledged write is on the other
// server. The price: while the other server is hung or unreachable but
// still connected, the holder's first commits wait this long.
const SemiSyncTimeout = 10 * time.Second

// semiSyncCnf are the my.cnf lines of Options.SemiSync. MariaDB 10.3.3 and
// later has semi-sync built in (no plugin to load). AFTER_SYNC: the holder
// waits for the acknowledgement before committing in its engine, so no
// client (not even another session) sees a row the other server may lack.
// wait_no_slave OFF: with no semi-sync slave connected (the other server
// is down) the holder does not wait the timeout on every commit but goes
// on asynchronously at once, until the other server is back and caught up;
// a hung or unreachable slave still holds commits for the timeout.
func semiSyncCnf() string {
	return fmt.Sprintf(`# semi-synchronous replication both ways (lab option SemiSync)
rpl_semi_sync_master_enabled = ON
rpl_semi_sync_slave_enabled = ON
rpl_semi_sync_master_timeout = %d
rpl_semi_sync_master_wait_point = AFTER_SYNC
rpl_semi_sync_master_wait_no_slave = OFF
`, SemiSyncTimeout.Milliseconds())
}

// tmpDirOf is the server's temporary directory, next to its datadir.
func tmpDirOf(dataDir string) string { return filepath.Join(filepath.Dir(dataDir), "tmp") }

func myCnf(p myCnfParams) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# generated by raftvip lab
[mariadbd]
user = root
datadir = %s
# the lab's own temporary directory: other MariaDB servers on this machine
# (other labs, the mysqlcheck tests) must not share temporary files with it
tmpdir = %s
socket = %s
pid-file = %s
port = %d
# host address and VIP: MariaDB binds the VIP before it is on the host
# (IP_FREEBIND), so the server answers as soon as the VIP arrives.
bind-address = %s
server_id = %d
skip-name-resolve
# the client's short timeouts during failovers count as connect errors;
# without this the server would block the client's address.
host_cache_size = 0
max_connect_errors = 4294967295
max_connections = 500
# small and quick to restart: this is a lab, not a benchmark of MariaDB
innodb_buffer_pool_size = 16M
innodb_log_file_size = 8M
innodb_flush_log_at_trx_commit = 2
performance_schema = OFF
`, p.DataDir, tmpDirOf(p.DataDir), p.Socket, p.PidFile, MySQLPort, p.Bind, p.ServerID)
	if p.InitFile != "" {
		fmt.Fprintf(&b, "init-file = %s\n", p.InitFile)
	}
	if p.Replication {
		fmt.Fprintf(&b, `# dual-master replication (docs/replication.md): each server logs its
# own and replicated transactions, so either can be the other's master.
log_bin = mariadb-bin
relay_log = relay-bin
log_slave_updates = ON
binlog_format = ROW
# one GTID domain: only the VIP holder writes, so the pair has one history.
gtid_domain_id = 0
# odd ids on server 1, even on server 2: rows written on both never collide.
auto_increment_increment = 2
auto_increment_offset = %d
# a server that (re)starts is read-only until raftvip makes the VIP holder
# writable; replication and READ ONLY ADMIN users are exempt.
read_only = ON
# notice a dead master in seconds, not the default minute
slave_net_timeout = 10
`, p.ServerID)
		if p.SemiSync {
			b.WriteString(semiSyncCnf())
		}
	}
	return b.String()
}

// MariaDB returns the server of DB host a or b.
func (l *Lab) MariaDB(host string) *MariaDB {
	h := l.byName[host]
	if h == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mariadb[h.Name]
}

// Start runs mariadbd in the host's namespace and waits until it answers on
// its socket.
func (m *MariaDB) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.proc != nil && !m.proc.Exited() {
		m.mu.Unlock()
		return fmt.Errorf("mariadb %s: already running (pid %d)", m.Host.NodeID, m.proc.Pid())
	}
	p, err := startProcess("mariadbd@"+m.Host.Name, m.Host.NS, m.LogPath,
		mustTool("mariadbd"), "--defaults-file="+m.Config)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	m.proc = p
	m.mu.Unlock()
	return m.waitReady(ctx, p)
}

func (m *MariaDB) waitReady(ctx context.Context, p *Process) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if p.Exited() {
			return fmt.Errorf("mariadb %s: mariadbd exited during start (%v); log %s:\n%s",
				m.Host.NodeID, p.ExitErr(), m.LogPath, TailFile(m.LogPath, 20))
		}
		if m.Ping(ctx) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mariadb %s: not answering on %s: %w; log %s:\n%s",
				m.Host.NodeID, m.Socket, ctx.Err(), m.LogPath, TailFile(m.LogPath, 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Ping asks the server through its unix socket whether it is alive.
func (m *MariaDB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mustTool("mariadb-admin"), "--no-defaults", "--socket="+m.Socket,
		"--connect-timeout=1", "ping")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("mariadb %s: ping: %w: %s", m.Host.NodeID, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Process is the running mariadbd, or nil.
func (m *MariaDB) Process() *Process {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

func (m *MariaDB) running() (*Process, error) {
	p := m.Process()
	if p == nil || p.Exited() {
		return nil, fmt.Errorf("mariadb %s: not running", m.Host.NodeID)
	}
	return p, nil
}

// Kill sends SIGKILL to mariadbd (the crash of the seed's test).
func (m *MariaDB) Kill() error {
	p, err := m.running()
	if err != nil {
		return err
	}
	return p.Kill()
}

// Hang stops mariadbd with SIGSTOP: it still listens and accepts TCP
// connections (the kernel completes the handshake) but never answers.
func (m *MariaDB) Hang() error {
	p, err := m.running()
	if err != nil {
		return err
	}
	return p.Pause()
}

// Resume continues a hung mariadbd.
func (m *MariaDB) Resume() error {
	p, err := m.running()
	if err != nil {
		return err
	}
	return p.Resume()
}

// Restart kills mariadbd if it still runs (hung or not) and starts it again.
func (m *MariaDB) Restart(ctx context.Context) error {
	if p := m.Process(); p != nil && !p.Exited() {
		if err := p.Kill(); err != nil {
			return err
		}
	}
	return m.Start(ctx)
}

// Running reports whether mariadbd runs and is not paused.
func (m *MariaDB) Running() bool {
	p := m.Process()
	return p != nil && !p.Exited() && !p.Paused()
}
