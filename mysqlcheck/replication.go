package mysqlcheck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Flavors of server, told apart by @@version.
const (
	FlavorMariaDB = "mariadb"
	FlavorMySQL   = "mysql"
)

// Replication is what a server says about its replication, read after a
// successful check (Config.ReplicationInterval says how often). It is information only: it never changes the health
// verdict. It carries no secrets (no replication user or password).
type Replication struct {
	Flavor  string `json:"flavor"`  // FlavorMariaDB or FlavorMySQL
	Version string `json:"version"` // @@version
	// Configured is false when the server replicates from nobody (no row
	// in SHOW SLAVE/REPLICA STATUS): "no replication".
	Configured bool   `json:"configured"`
	Source     string `json:"source,omitempty"` // host:port it replicates from
	// IORunning is the IO thread's state as the server says it: "Yes",
	// "No" or "Connecting".
	IORunning  string `json:"io_running,omitempty"`
	SQLRunning bool   `json:"sql_running"`
	// SecondsBehind is nil when the server does not know (NULL: the SQL
	// thread is stopped or the IO thread is not connected).
	SecondsBehind *int64 `json:"seconds_behind"`
	LastIOErrno   int    `json:"last_io_errno,omitempty"`
	LastIOError   string `json:"last_io_error,omitempty"`
	LastSQLErrno  int    `json:"last_sql_errno,omitempty"`
	LastSQLError  string `json:"last_sql_error,omitempty"`
	// ReceivedGTID is what the IO thread received (MariaDB Gtid_IO_Pos,
	// MySQL Retrieved_Gtid_Set); ExecutedGTID what was applied (MariaDB
	// @@gtid_slave_pos, MySQL @@gtid_executed); BinlogGTID what this
	// server wrote to its binary log (MariaDB @@gtid_binlog_pos).
	ReceivedGTID string `json:"received_gtid,omitempty"`
	ExecutedGTID string `json:"executed_gtid,omitempty"`
	BinlogGTID   string `json:"binlog_gtid,omitempty"`
	// ReadOnly and SuperReadOnly are nil when the server lacks the
	// variable (super_read_only on MariaDB).
	ReadOnly      *bool     `json:"read_only,omitempty"`
	SuperReadOnly *bool     `json:"super_read_only,omitempty"`
	SemiSync      *SemiSync `json:"semi_sync,omitempty"` // nil when neither side is enabled
	// Missing names the columns and variables this server did not have
	// (another version): their fields are left zero.
	Missing []string `json:"missing,omitempty"`
	// Error is why reading failed (e.g. missing privilege); the fields
	// read before it are kept.
	Error string `json:"error,omitempty"`
	// ReadAt is when it was read: a server that stopped answering keeps
	// its last reading, which status then shows as old.
	ReadAt time.Time `json:"read_at,omitempty"`
	// ReadEvery is the checker's ReplicationInterval when it was read: a
	// steady reading is this old at most (plus a check) while MySQL
	// answers. In JSON, nanoseconds.
	ReadEvery time.Duration `json:"read_every_ns,omitempty"`
}

// SemiSync is the semi-synchronous replication state, per side.
type SemiSync struct {
	MasterEnabled bool `json:"master_enabled"`
	MasterActive  bool `json:"master_active"` // Rpl_semi_sync_master_status: ON when semi-sync is in effect, not fallen back to async
	SlaveEnabled  bool `json:"slave_enabled"`
	SlaveActive   bool `json:"slave_active"`
}

// Summary is one line for status: threads, lag, position, read-only, errors.
func (r *Replication) Summary() string {
	if r == nil {
		return "not read yet"
	}
	var parts []string
	if !r.Configured {
		parts = append(parts, "no replication")
	} else {
		parts = append(parts, "from "+r.Source, "io "+orDash(r.IORunning), "sql "+yesNo(r.SQLRunning))
		if r.SecondsBehind != nil {
			parts = append(parts, fmt.Sprintf("lag %ds", *r.SecondsBehind))
		} else {
			parts = append(parts, "lag unknown")
		}
		parts = append(parts, "received "+orDash(r.ReceivedGTID), "executed "+orDash(r.ExecutedGTID))
	}
	if r.BinlogGTID != "" {
		parts = append(parts, "binlog "+r.BinlogGTID)
	}
	if r.ReadOnly != nil {
		ro := "read-only " + onOff(*r.ReadOnly)
		if r.SuperReadOnly != nil {
			ro += ", super-read-only " + onOff(*r.SuperReadOnly)
		}
		parts = append(parts, ro)
	}
	if s := r.SemiSync; s != nil {
		var ss []string
		if s.MasterEnabled {
			ss = append(ss, "master "+activeWord(s.MasterActive))
		}
		if s.SlaveEnabled {
			ss = append(ss, "slave "+activeWord(s.SlaveActive))
		}
		parts = append(parts, "semi-sync "+strings.Join(ss, "/"))
	}
	if r.LastIOErrno != 0 || r.LastIOError != "" {
		parts = append(parts, fmt.Sprintf("IO error %d: %s", r.LastIOErrno, r.LastIOError))
	}
	if r.LastSQLErrno != 0 || r.LastSQLError != "" {
		parts = append(parts, fmt.Sprintf("SQL error %d: %s", r.LastSQLErrno, r.LastSQLError))
	}
	if r.Error != "" {
		parts = append(parts, "not readable: "+r.Error)
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

func activeWord(b bool) string {
	if b {
		return "active"
	}
	return "enabled, inactive"
}

// querier is what readReplication needs: one connection (*sql.Conn).
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// The variables read in one statement; SHOW VARIABLES returns only those
// the server has, so MariaDB and MySQL share it.
const replicationVariables = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version', 'read_only', 'super_read_only', " +
	"'gtid_slave_pos', 'gtid_binlog_pos', 'gtid_executed', " +
	"'rpl_semi_sync_master_enabled', 'rpl_semi_sync_slave_enabled', " +
	"'rpl_semi_sync_source_enabled', 'rpl_semi_sync_replica_enabled')"

const semiSyncStatus = "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status', 'Rpl_semi_sync_slave_status', " +
	"'Rpl_semi_sync_source_status', 'Rpl_semi_sync_replica_status')"

// readReplication reads the replication state over q. A failure is put in
// Error, never returned: replication is not part of the health verdict.
func readReplication(ctx context.Context, q querier) *Replication {
	r := &Replication{}
	vars, err := readNameValues(ctx, q, replicationVariables)
	if err != nil {
		r.Error = "variables: " + err.Error()
		return r
	}
	r.Version = vars["version"]
	r.Flavor = FlavorMySQL
	if strings.Contains(strings.ToLower(r.Version), "mariadb") {
		r.Flavor = FlavorMariaDB
	}
	boolVar := func(name string) *bool {
		v, ok := vars[name]
		if !ok {
			return nil
		}
		b := isOn(v)
		return &b
	}
	r.ReadOnly = boolVar("read_only")
	if r.ReadOnly == nil {
		r.Missing = append(r.Missing, "read_only")
	}
	if r.Flavor == FlavorMySQL {
		r.SuperReadOnly = boolVar("super_read_only")
		if r.SuperReadOnly == nil {
			r.Missing = append(r.Missing, "super_read_only")
		}
		r.ExecutedGTID = vars["gtid_executed"]
	} else {
		r.ExecutedGTID = vars["gtid_slave_pos"]
		r.BinlogGTID = vars["gtid_binlog_pos"]
	}
	masterOn := isOn(vars["rpl_semi_sync_master_enabled"]) || isOn(vars["rpl_semi_sync_source_enabled"])
	slaveOn := isOn(vars["rpl_semi_sync_slave_enabled"]) || isOn(vars["rpl_semi_sync_replica_enabled"])
	if masterOn || slaveOn {
		r.SemiSync = &SemiSync{MasterEnabled: masterOn, SlaveEnabled: slaveOn}
		st, err := readNameValues(ctx, q, semiSyncStatus)
		if err != nil {
			r.Error = "semi-sync status: " + err.Error()
			return r
		}
		r.SemiSync.MasterActive = masterOn && (isOn(st["rpl_semi_sync_master_status"]) || isOn(st["rpl_semi_sync_source_status"]))
		r.SemiSync.SlaveActive = slaveOn && (isOn(st["rpl_semi_sync_slave_status"]) || isOn(st["rpl_semi_sync_replica_status"]))
	}

	stmt, replica := "SHOW SLAVE STATUS", false
	if r.Flavor == FlavorMySQL && versionAtLeast(r.Version, 8, 0, 22) {
		stmt, replica = "SHOW REPLICA STATUS", true
	}
	row, found, err := readFirstRow(ctx, q, stmt)
	if err != nil {
		r.Error = strings.ToLower(stmt) + ": " + err.Error()
		return r
	}
	if !found {
		return r // no replication
	}
	r.Configured = true
	// MySQL ≥ 8.0.22 renamed master/slave to source/replica in the
	// columns; the first name found wins.
	names := func(mariaOld, mysqlNew string) []string {
		if replica {
			return []string{mysqlNew, mariaOld}
		}
		return []string{mariaOld, mysqlNew}
	}
	col := func(alts ...string) (string, bool) {
		for _, a := range alts {
			if v, ok := row[strings.ToLower(a)]; ok {
				return v, true
			}
		}
		r.Missing = append(r.Missing, alts[0])
		return "", false
	}
	intCol := func(alts ...string) int {
		v, ok := col(alts...)
		if !ok || v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0
		}
		return n
	}
	host, _ := col(names("Master_Host", "Source_Host")...)
	port, _ := col(names("Master_Port", "Source_Port")...)
	r.Source = host
	if port != "" {
		r.Source += ":" + port
	}
	r.IORunning, _ = col(names("Slave_IO_Running", "Replica_IO_Running")...)
	sqlRunning, _ := col(names("Slave_SQL_Running", "Replica_SQL_Running")...)
	r.SQLRunning = strings.EqualFold(sqlRunning, "Yes")
	if v, ok := col(names("Seconds_Behind_Master", "Seconds_Behind_Source")...); ok && v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			r.SecondsBehind = &n
		}
	}
	r.LastIOErrno = intCol("Last_IO_Errno")
	r.LastIOError, _ = col("Last_IO_Error")
	r.LastSQLErrno = intCol("Last_SQL_Errno")
	r.LastSQLError, _ = col("Last_SQL_Error")
	if r.Flavor == FlavorMariaDB {
		r.ReceivedGTID, _ = col("Gtid_IO_Pos")
	} else {
		r.ReceivedGTID, _ = col("Retrieved_Gtid_Set")
	}
	// MySQL prints GTID sets over several lines.
	r.ReceivedGTID = strings.ReplaceAll(r.ReceivedGTID, "\n", "")
	r.ExecutedGTID = strings.ReplaceAll(r.ExecutedGTID, "\n", "")
	sort.Strings(r.Missing)
	return r
}

func isOn(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "ON", "1", "YES", "TRUE":
		return true
	}
	return false
}

// versionAtLeast compares the leading "X.Y.Z" of a MySQL version string.
func versionAtLeast(version string, want ...int) bool {
	v := version
	if i := strings.IndexAny(v, "-+ "); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	for i, w := range want {
		n := 0
		if i < len(parts) {
			n, _ = strconv.Atoi(parts[i])
		}
		if n != w {
			return n > w
		}
	}
	return true
}

// readNameValues reads a two-column (name, value) result, names lowered.
func readNameValues(ctx context.Context, q querier, stmt string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, stmt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, value sql.NullString
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		out[strings.ToLower(name.String)] = value.String
	}
	return out, rows.Err()
}

// readFirstRow reads the first row of stmt as column name (lowered) ->
// value, NULL as "". The other rows are read too (not discarded unread),
// but only the first is returned: SHOW SLAVE STATUS shows the default
// connection only.
func readFirstRow(ctx context.Context, q querier, stmt string) (map[string]string, bool, error) {
	rows, err := q.QueryContext(ctx, stmt)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, false, err
	}
	var first map[string]string
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, false, err
		}
		if first == nil {
			first = make(map[string]string, len(cols))
			for i, c := range cols {
				first[strings.ToLower(c)] = vals[i].String
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return first, first != nil, nil
}

// Positions are a server's GTID positions, read for promotion and catch-up.
type Positions struct {
	Flavor     string `json:"flavor"`
	Configured bool   `json:"configured"` // it replicates from somebody
	// Binlog is what this server wrote to its binary log (MariaDB
	// @@gtid_binlog_pos, MySQL @@gtid_executed).
	Binlog string `json:"binlog"`
	// Executed is what its SQL thread applied (MariaDB @@gtid_slave_pos,
	// MySQL @@gtid_executed).
	Executed string `json:"executed"`
	// Received is what its IO thread received (MariaDB Gtid_IO_Pos, MySQL
	// Retrieved_Gtid_Set); "" when not configured.
	Received string `json:"received"`
	// BinlogState is every (domain, server) last GTID in its binary log
	// (MariaDB @@gtid_binlog_state, MySQL @@gtid_executed): what
	// divergence is computed from.
	BinlogState string `json:"binlog_state,omitempty"`
	ServerID    uint32 `json:"server_id"` // @@server_id
	// SQLIdle: the SQL thread has applied everything in its relay log and
	// waits for more (Slave_SQL_Running_State). With the IO thread still
	// connected to a hung master, Received may name a transaction only
	// partly received, which no wait will see applied.
	SQLIdle bool `json:"sql_idle,omitempty"`
}

// ErrWaitTimeout: a wait for a GTID position ended by its timeout.
var ErrWaitTimeout = errors.New("timed out waiting for the GTID position to be applied")
