package mysqlcheck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
)

// Admin is what raftvip does to its own server besides checking it: the
// write fence (read_only, killing client sessions, the fence table) and
// the GTID positions for promotion and catch-up. It implements agent.DB.
//
// Each call runs its statements on one connection of the pool (one
// session: CONNECTION_ID(), session variables). It keeps its own small pool (at most 2 connections, so a hung server
// costs it no more) with the checker's DSN and user. Every call is bounded:
// by its context and by opTimeout (WaitApplied: by its wait plus
// opTimeout). When the bound passes, the driver closes the connection, so
// a frozen server cannot hold a call; that is the read timeout, and it is
// per call so that WaitApplied's can outlast its wait. The password never
// appears in its errors or logs.
type Admin struct {
	db    *sql.DB
	log   hclog.Logger
	scrub scrubber
	user  string // the DSN's user: raftvip's own sessions are never killed
	addr  string // "net:addr", for logs

	mu      sync.Mutex
	version string // @@version once read; the flavor follows from it
}

const (
	// opTimeout bounds one call (connect included) unless its context is
	// shorter: all of them are a few small statements.
	opTimeout = 5 * time.Second
	// connectTimeout bounds dialling when the DSN does not say.
	connectTimeout = 2 * time.Second
)

// NewAdmin prepares an Admin for dsn (the checker's go-sql-driver DSN); it
// connects on first use. log may be nil.
func NewAdmin(dsn string, log hclog.Logger) (*Admin, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	scrub := newScrubber(dsn, "")
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, errors.New(scrub.scrub(fmt.Sprintf("mysqlcheck: parse DSN %q: %v", Redact(dsn), err)))
	}
	scrub = newScrubber(dsn, cfg.Passwd)
	if cfg.Timeout == 0 {
		cfg.Timeout = connectTimeout
	}
	// The DSN's readTimeout/writeTimeout suit the health check; here the
	// per-call bound replaces them (a 1 s read timeout would cut every
	// WaitApplied short).
	cfg.ReadTimeout, cfg.WriteTimeout = 0, 0
	l := log.Named("mysqladmin")
	cfg.Logger = driverLogger{log: l, scrub: scrub}
	// Arguments are quoted by the driver into the statement: one round
	// trip, not prepare, execute and close. It refuses that for a few
	// multi-byte collations, where prepared statements remain.
	cfg.InterpolateParams = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		cfg.InterpolateParams = false
		connector, err = mysql.NewConnector(cfg)
	}
	if err != nil {
		return nil, errors.New(scrub.scrub(fmt.Sprintf("mysqlcheck: DSN %q: %v", Redact(dsn), err)))
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(1)
	// An idle connection is not kept long: after a failover the server
	// behind it may be another process.
	db.SetConnMaxIdleTime(30 * time.Second)
	return &Admin{db: db, log: l, scrub: scrub, user: cfg.User, addr: cfg.Net + ":" + cfg.Addr}, nil
}

// Close closes the pool.
func (a *Admin) Close() error { return a.db.Close() }

// fail wraps err with what was being done, scrubbed of the password.
func (a *Admin) fail(what string, err error) error {
	return errors.New(a.scrub.scrub(fmt.Sprintf("mysqlcheck: %s on %s: %v", what, a.addr, err)))
}

// flavor reads @@version once (a server replaced by another flavor behind
// the same address is not a case raftvip supports) and returns FlavorMariaDB
// or FlavorMySQL and the version.
func (a *Admin) flavor(ctx context.Context, c *sql.Conn) (string, string, error) {
	a.mu.Lock()
	v := a.version
	a.mu.Unlock()
	if v == "" {
		if err := c.QueryRowContext(ctx, "SELECT @@version").Scan(&v); err != nil {
			return "", "", err
		}
		a.mu.Lock()
		a.version = v
		a.mu.Unlock()
	}
	return flavorOf(v), v, nil
}

// readOnlyIs reports whether the server's read_only (and, where it exists,
// super_read_only) already say on.
func readOnlyIs(ctx context.Context, c *sql.Conn, on, super bool) (bool, error) {
	var ro, sro bool
	if super {
		if err := c.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only, @@GLOBAL.super_read_only").Scan(&ro, &sro); err != nil {
			return false, fmt.Errorf("read read_only: %w", err)
		}
		return ro == on && sro == on, nil
	}
	if err := c.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only").Scan(&ro); err != nil {
		return false, fmt.Errorf("read read_only: %w", err)
	}
	return ro == on, nil
}

func flavorOf(version string) string {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return FlavorMariaDB
	}
	return FlavorMySQL
}

// hasSuperReadOnly: MySQL has super_read_only since 5.7.8; MariaDB never.
func hasSuperReadOnly(flavor, version string) bool {
	return flavor == FlavorMySQL && versionAtLeast(version, 5, 7, 8)
}

// SetReadOnly sets read_only, and on MySQL super_read_only too (which also
// stops users with SUPER): on, read_only then super_read_only; off,
// super_read_only then read_only (MySQL refuses read_only = OFF while
// super_read_only is ON). Setting what is already set is a no-op.
//
// Turning read_only on waits for sessions holding table locks or a commit
// in progress; the wait is bounded by lock_wait_timeout, set on this
// session to the call's bound, so a blocked call fails with the server's
// lock wait timeout error. Killing the client sessions and calling again
// gets through.
func (a *Admin) SetReadOnly(ctx context.Context, on bool) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	what := "set read_only = OFF"
	if on {
		what = "set read_only = ON"
	}
	c, err := a.db.Conn(ctx)
	if err != nil {
		return a.fail(what, err)
	}
	defer c.Close()
	flavor, version, err := a.flavor(ctx, c)
	if err != nil {
		return a.fail(what, err)
	}
	super := hasSuperReadOnly(flavor, version)
	// The keeper asks every second; reading first makes the usual answer
	// one round trip instead of two (a SET of the value it already has
	// changes nothing on the server either).
	if done, err := readOnlyIs(ctx, c, on, super); err != nil {
		return a.fail(what, err)
	} else if done {
		return nil
	}
	// Leave a margin below the context so the server's own error (which
	// says what it waited for) arrives before the connection is cut.
	wait := 1
	if dl, ok := ctx.Deadline(); ok {
		wait = max(1, int(time.Until(dl).Seconds())-1)
	}
	stmts := []string{fmt.Sprintf("SET SESSION lock_wait_timeout = %d", wait)}
	switch {
	case on && super:
		stmts = append(stmts, "SET GLOBAL read_only = ON", "SET GLOBAL super_read_only = ON")
	case on:
		stmts = append(stmts, "SET GLOBAL read_only = ON")
	case super:
		stmts = append(stmts, "SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF")
	default:
		stmts = append(stmts, "SET GLOBAL read_only = OFF")
	}
	for _, q := range stmts {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return a.fail(what, fmt.Errorf("%s: %w", q, err))
		}
	}
	return nil
}

// session is one row of information_schema.PROCESSLIST.
type session struct {
	ID      uint64
	User    string
	Host    string
	Command string
}

// replicationCommands are the COMMAND values of replication's and the
// server's own threads: a master's dump threads (MySQL and MariaDB), a
// replica's IO, SQL and worker threads (MariaDB; MySQL shows them as user
// "system user"), and daemons (the event scheduler, MariaDB's slave
// background thread).
var replicationCommands = map[string]bool{
	"binlog dump":      true,
	"binlog dump gtid": true,
	"register slave":   true,
	"register replica": true,
	"slave_io":         true,
	"slave_sql":        true,
	"slave_worker":     true,
	"daemon":           true,
}

// systemUsers are the USER values of the server's own threads.
var systemUsers = map[string]bool{
	"system user":     true,
	"event_scheduler": true,
}

// killable says whether KillClientSessions ends s: every client session
// but this one (own), raftvip's (the DSN's user, also the checker's
// sessions), replication's and the server's own threads.
func killable(s session, own uint64, raftvipUser string) bool {
	switch {
	case s.ID == own:
		return false
	case s.User == raftvipUser:
		return false
	case systemUsers[strings.ToLower(s.User)]:
		return false
	case replicationCommands[strings.ToLower(s.Command)]:
		return false
	}
	return true
}

// MariaDB's and MySQL's "Unknown thread id": the session ended by itself
// between the listing and the KILL.
const errUnknownThread = 1094

// KillClientSessions ends every client session but raftvip's own (the
// DSN's user: this pool and the checker), replication's (dump threads,
// a replica's IO and SQL threads) and the server's own threads (event
// scheduler, daemons), with KILL CONNECTION, and returns how many it
// ended. A session already gone is not an error; one that cannot be killed
// (no CONNECTION ADMIN) is, after the others were killed. An application that uses
// raftvip's user is spared with it: give raftvip a user of its own.
func (a *Admin) KillClientSessions(ctx context.Context) (int, error) {
	return a.killWhere(ctx, "kill client sessions", func(s session, own uint64) bool { return killable(s, own, a.user) })
}

// KillReplicaDumps ends the binlog dump threads that serve a replica at
// host (its IO thread's connection here). A new holder under semi-sync
// replication would otherwise wait, on its first commits, for an ack from
// an old master that hung with its connection open
// (rpl_semi_sync_master_timeout, 10 s in the lab). The replica's IO thread
// reconnects by itself when it runs again.
func (a *Admin) KillReplicaDumps(ctx context.Context, host string) (int, error) {
	return a.killWhere(ctx, "kill the old holder's binlog dump threads", func(s session, own uint64) bool {
		cmd := strings.ToLower(s.Command)
		return s.ID != own && (cmd == "binlog dump" || cmd == "binlog dump gtid") && sessionHost(s.Host) == host
	})
}

// sessionHost is the host part of PROCESSLIST's HOST ("10.99.0.11:51234").
func sessionHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

func (a *Admin) killWhere(ctx context.Context, what string, kill func(s session, own uint64) bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	c, err := a.db.Conn(ctx)
	if err != nil {
		return 0, a.fail(what, err)
	}
	defer c.Close()
	var own uint64
	if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&own); err != nil {
		return 0, a.fail(what, err)
	}
	rows, err := c.QueryContext(ctx, "SELECT ID, USER, HOST, COMMAND FROM information_schema.PROCESSLIST")
	if err != nil {
		return 0, a.fail(what, err)
	}
	var victims []session
	for rows.Next() {
		var s session
		var user, host, command sql.NullString
		if err := rows.Scan(&s.ID, &user, &host, &command); err != nil {
			rows.Close()
			return 0, a.fail(what, err)
		}
		s.User, s.Host, s.Command = user.String, host.String, command.String
		if kill(s, own) {
			victims = append(victims, s)
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return 0, a.fail(what, err)
	}
	rows.Close()
	// A session that cannot be killed does not stop the others from
	// being killed; the first failure is returned with the count.
	killed, failed := 0, 0
	var first error
	for _, s := range victims {
		gone, err := killSession(ctx, c, s.ID)
		switch {
		case err != nil:
			failed++
			if first == nil {
				first = fmt.Errorf("KILL CONNECTION %d (user %q from %s): %w", s.ID, s.User, s.Host, err)
			}
		case !gone:
			killed++
			a.log.Debug("killed session", "id", s.ID, "user", s.User, "host", s.Host, "command", s.Command)
		}
	}
	if first != nil {
		return killed, a.fail(what, fmt.Errorf("%d of %d sessions not killed; first: %w", failed, len(victims), first))
	}
	return killed, nil
}

// killSession ends session id; gone says it had ended by itself already.
func killSession(ctx context.Context, c *sql.Conn, id uint64) (gone bool, err error) {
	_, err = c.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id))
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == errUnknownThread {
		return true, nil
	}
	return false, err
}

// sqlIdle: the SQL thread says it has applied its whole relay log
// ("Slave has read all relay log; waiting for more updates", "Replica has
// ...").
func sqlIdle(state string) bool {
	return strings.Contains(strings.ToLower(state), "has read all relay log")
}

// Positions reads the server's GTID positions: on MariaDB @@gtid_binlog_pos,
// @@gtid_slave_pos, @@gtid_binlog_state and Gtid_IO_Pos; on MySQL
// @@gtid_executed and Retrieved_Gtid_Set; and @@server_id. Needs SLAVE MONITOR (MariaDB) or
// REPLICATION CLIENT (MySQL).
func (a *Admin) Positions(ctx context.Context) (Positions, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	const what = "read GTID positions"
	c, err := a.db.Conn(ctx)
	if err != nil {
		return Positions{}, a.fail(what, err)
	}
	defer c.Close()
	flavor, version, err := a.flavor(ctx, c)
	if err != nil {
		return Positions{}, a.fail(what, err)
	}
	p := Positions{Flavor: flavor}
	stmt, received := "SHOW SLAVE STATUS", "gtid_io_pos"
	if flavor == FlavorMariaDB {
		if err := c.QueryRowContext(ctx, "SELECT @@server_id, @@gtid_binlog_pos, @@gtid_slave_pos, @@gtid_binlog_state").
			Scan(&p.ServerID, &p.Binlog, &p.Executed, &p.BinlogState); err != nil {
			return Positions{}, a.fail(what, err)
		}
	} else {
		if err := c.QueryRowContext(ctx, "SELECT @@server_id, @@GLOBAL.gtid_executed").Scan(&p.ServerID, &p.Executed); err != nil {
			return Positions{}, a.fail(what, err)
		}
		p.Executed = strings.ReplaceAll(p.Executed, "\n", "")
		p.Binlog, p.BinlogState = p.Executed, p.Executed
		received = "retrieved_gtid_set"
		if versionAtLeast(version, 8, 0, 22) {
			stmt = "SHOW REPLICA STATUS"
		}
	}
	row, found, err := readFirstRow(ctx, c, stmt)
	if err != nil {
		return Positions{}, a.fail(what, fmt.Errorf("%s: %w", strings.ToLower(stmt), err))
	}
	if found {
		p.Configured = true
		p.Received = strings.ReplaceAll(row[received], "\n", "")
		state := row["slave_sql_running_state"]
		if state == "" {
			state = row["replica_sql_running_state"]
		}
		p.SQLIdle = sqlIdle(state)
	}
	return p, nil
}

// WaitApplied waits until the server's SQL thread has applied gtid: MariaDB
// MASTER_GTID_WAIT (which compares with @@gtid_slave_pos, per domain; a
// server's own transactions count once the other server has sent them back,
// with log_slave_updates), MySQL WAIT_FOR_EXECUTED_GTID_SET (in whole
// seconds, rounded up; under 1 s a look without waiting). It returns
// ErrWaitTimeout when timeout passed first, nil at once for "". The call's
// bound is timeout plus opTimeout, so the server's answer arrives before
// the connection is cut.
func (a *Admin) WaitApplied(ctx context.Context, gtid string, timeout time.Duration) error {
	if gtid == "" {
		return nil
	}
	if timeout < 0 {
		timeout = 0
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+opTimeout)
	defer cancel()
	what := fmt.Sprintf("wait for %s to be applied", gtid)
	c, err := a.db.Conn(ctx)
	if err != nil {
		return a.fail(what, err)
	}
	defer c.Close()
	flavor, _, err := a.flavor(ctx, c)
	if err != nil {
		return a.fail(what, err)
	}
	var res sql.NullInt64
	switch {
	case flavor == FlavorMariaDB:
		// 0 reached, -1 timeout (0 s: a look, no wait).
		err = c.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", gtid, timeout.Seconds()).Scan(&res)
		if err == nil && res.Valid && res.Int64 == -1 {
			return ErrWaitTimeout
		}
	case timeout < time.Second:
		// WAIT_FOR_EXECUTED_GTID_SET waits forever for 0 s, and older
		// versions drop fractions: look without waiting instead.
		// GTID_SUBSET is 1 when applied.
		err = c.QueryRowContext(ctx, "SELECT 1 - GTID_SUBSET(?, @@GLOBAL.gtid_executed)", gtid).Scan(&res)
		if err == nil && res.Valid && res.Int64 == 1 {
			return ErrWaitTimeout
		}
	default:
		// 0 reached, 1 timeout; whole seconds, rounded up.
		secs := int64(math.Ceil(timeout.Seconds()))
		err = c.QueryRowContext(ctx, "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", gtid, secs).Scan(&res)
		if err == nil && res.Valid && res.Int64 == 1 {
			return ErrWaitTimeout
		}
	}
	if err != nil {
		return a.fail(what, err)
	}
	if !res.Valid || res.Int64 != 0 {
		return a.fail(what, fmt.Errorf("unexpected answer %v", res))
	}
	return nil
}

// fenceIdent is one identifier of a fence table name, quoted with
// backticks in SQL, so only plain names are allowed.
var fenceIdent = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)

// ValidFenceTable checks a fence table name: "db.table", two identifiers
// of letters, digits, '_' and '$' (at most 64 each); "" (off) is valid.
func ValidFenceTable(table string) error {
	if table == "" {
		return nil
	}
	db, tbl, ok := strings.Cut(table, ".")
	if !ok || !fenceIdent.MatchString(db) || !fenceIdent.MatchString(tbl) {
		return fmt.Errorf("fence table %q: want database.table, each of letters, digits, '_' and '$' (at most 64)", table)
	}
	return nil
}

// MySQL error numbers for a missing database and table.
const (
	errBadDB         = 1049
	errNoSuchTable   = 1146
	maxFenceNodeName = 255
)

// WriteFence records an acquisition in the fence table ("db.table"; ""
// does nothing): the row (epoch, node, acquired_at in UTC) replaces any
// earlier one for the same epoch. The row replicates: it is the other
// server's record of the epoch too. The insert comes first; only when the
// database or table is missing are they created (CREATE DATABASE/TABLE IF
// NOT EXISTS), so with a table made in advance raftvip's user needs INSERT
// and UPDATE on it only, else CREATE on its database too.
//
// On MariaDB raftvip's user writes it while read_only is still ON (READ
// ONLY ADMIN bypasses read_only). On MySQL super_read_only stops every
// user: write the fence after turning the server writable.
func (a *Admin) WriteFence(ctx context.Context, table string, epoch uint64, node string, at time.Time) error {
	if table == "" {
		return nil
	}
	if err := ValidFenceTable(table); err != nil {
		return fmt.Errorf("mysqlcheck: %w", err)
	}
	if epoch > math.MaxInt64 {
		// database/sql refuses uint64 values with the high bit set.
		return fmt.Errorf("mysqlcheck: fence epoch %d is too large", epoch)
	}
	if len(node) > maxFenceNodeName {
		return fmt.Errorf("mysqlcheck: fence node name is %d bytes, at most %d fit", len(node), maxFenceNodeName)
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	what := fmt.Sprintf("write epoch %d to fence table %s", epoch, table)
	c, err := a.db.Conn(ctx)
	if err != nil {
		return a.fail(what, err)
	}
	defer c.Close()
	db, tbl, _ := strings.Cut(table, ".")
	quoted := "`" + db + "`.`" + tbl + "`"
	// As text: the driver would convert a time.Time to the DSN's loc.
	utc := at.UTC().Format("2006-01-02 15:04:05.000000")
	insert := func() error {
		_, err := c.ExecContext(ctx, "INSERT INTO "+quoted+" (epoch, node, acquired_at) VALUES (?, ?, ?) "+
			"ON DUPLICATE KEY UPDATE node = ?, acquired_at = ?", epoch, node, utc, node, utc)
		return err
	}
	err = insert()
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == errBadDB || me.Number == errNoSuchTable) {
		a.log.Info("creating the fence table", "table", table)
		for _, q := range []string{
			"CREATE DATABASE IF NOT EXISTS `" + db + "`",
			"CREATE TABLE IF NOT EXISTS " + quoted + " (epoch BIGINT UNSIGNED NOT NULL PRIMARY KEY, " +
				"node VARCHAR(255) NOT NULL, acquired_at DATETIME(6) NOT NULL)",
		} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				return a.fail(what, fmt.Errorf("%s: %w", q, err))
			}
		}
		err = insert()
	}
	if err != nil {
		return a.fail(what, err)
	}
	return nil
}

// StopReplication stops this server's replication threads (STOP SLAVE;
// STOP REPLICA on MySQL 8.0.22 and later). A new holder after an unplanned
// move takes nothing more from the old master this way until the old
// master has shown it has nothing the holder lacks (see agent's errant
// check). Stopping what is stopped is a no-op; a server that replicates
// from nobody answers with a warning, not an error.
func (a *Admin) StopReplication(ctx context.Context) error {
	return a.replication(ctx, "STOP")
}

// StartReplication starts the threads again. A server that replicates
// from nobody has nothing to start: MariaDB refuses START SLAVE there with
// error 1200 (while STOP SLAVE is only a warning), which is no failure
// here, or a site without replication would report one on every try.
func (a *Admin) StartReplication(ctx context.Context) error {
	return a.replication(ctx, "START")
}

// errNotReplica is ER_BAD_SLAVE: START SLAVE on a server with no source.
const errNotReplica = 1200

func (a *Admin) replication(ctx context.Context, verb string) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	what := strings.ToLower(verb) + " replication"
	c, err := a.db.Conn(ctx)
	if err != nil {
		return a.fail(what, err)
	}
	defer c.Close()
	flavor, version, err := a.flavor(ctx, c)
	if err != nil {
		return a.fail(what, err)
	}
	q := verb + " SLAVE"
	if flavor == FlavorMySQL && versionAtLeast(version, 8, 0, 22) {
		q = verb + " REPLICA"
	}
	_, err = c.ExecContext(ctx, q)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == errNotReplica {
		return nil
	}
	if err != nil {
		return a.fail(what, fmt.Errorf("%s: %w", q, err))
	}
	return nil
}
