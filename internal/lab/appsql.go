package lab

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/raftvip/raftvip/mysqlcheck"
)

// Single statements as the application would send them: the writer user
// (table privileges only, no SUPER, no READ ONLY ADMIN, so read_only stops
// it) from the client host, on a new connection each time. The demo and
// the stale-standby test use these to show one row at a time; the Writer
// (writer.go) is the load generator.

// VIPAddr is the VIP's MySQL address, where applications connect.
func VIPAddr() string { return net.JoinHostPort(VIP, strconv.Itoa(MySQLPort)) }

// ServerAddr is host's own MySQL address (what the other server replicates
// from, and what a client that bypasses the VIP reaches).
func (l *Lab) ServerAddr(host string) string {
	return net.JoinHostPort(l.Host(host).IP, strconv.Itoa(MySQLPort))
}

// appTimeout bounds one application statement's connect, write and read.
const appTimeout = 2 * time.Second

// appConn opens one connection to target as the writer user from host c.
func (l *Lab) appConn(ctx context.Context, target string) (*sql.DB, *sql.Conn, error) {
	h, err := l.lookup("c")
	if err != nil {
		return nil, nil, err
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = WriterUser, WriterPassw
	cfg.Net, cfg.Addr = "tcp", target
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = appTimeout, appTimeout, appTimeout
	cfg.Logger = silentLogger{}
	ns := h.NS
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return DialInNamespace(ctx, ns, network, addr)
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, err
	}
	db := sql.OpenDB(connector)
	cctx, cancel := context.WithTimeout(ctx, appTimeout)
	defer cancel()
	conn, err := db.Conn(cctx)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, conn, nil
}

// AppWriteRow inserts row seq into RowsTable through target (VIPAddr, or a
// server's own address) as the writer user, on one new connection, and
// returns the server_id that answered that connection (0 when none did).
// The row's srv is the server's own @@server_id. A server that refused the
// write for read_only returns an error that IsReadOnly recognises.
func (l *Lab) AppWriteRow(ctx context.Context, target string, seq int64) (serverID int, err error) {
	db, conn, err := l.appConn(ctx, target)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, appTimeout)
	defer cancel()
	if err := conn.QueryRowContext(ctx, "SELECT @@server_id").Scan(&serverID); err != nil {
		return 0, err
	}
	_, err = conn.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (seq, srv, at) VALUES (%d, @@server_id, NOW(6))", RowsTable, seq))
	return serverID, err
}

// AppQuery runs query through target as the writer user and returns the
// server_id that answered and the first row's columns as text (nil when
// the query returned no row).
func (l *Lab) AppQuery(ctx context.Context, target, query string) (serverID int, row []string, err error) {
	db, conn, err := l.appConn(ctx, target)
	if err != nil {
		return 0, nil, err
	}
	defer db.Close()
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, appTimeout)
	defer cancel()
	if err := conn.QueryRowContext(ctx, "SELECT @@server_id").Scan(&serverID); err != nil {
		return 0, nil, err
	}
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return serverID, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return serverID, nil, err
	}
	if !rows.Next() {
		return serverID, nil, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return serverID, nil, err
	}
	row = make([]string, len(cols))
	for i, v := range vals {
		row[i] = v.String
		if !v.Valid {
			row[i] = "NULL"
		}
	}
	return serverID, row, nil
}

// IsReadOnly reports whether err is a server's refusal of a write for
// read_only (ER_OPTION_PREVENTS_STATEMENT, 1290).
func IsReadOnly(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1290
}

// RowsPresent returns which of seqs RowsTable has on m (read as root
// through its socket, which works whether or not m is read-only), and the
// srv each was written on.
func (m *MariaDB) RowsPresent(ctx context.Context, seqs []int64) (map[int64]int, error) {
	if len(seqs) == 0 {
		return map[int64]int{}, nil
	}
	list := make([]string, len(seqs))
	for i, s := range seqs {
		list[i] = strconv.FormatInt(s, 10)
	}
	out, err := m.SQL(ctx, fmt.Sprintf("SELECT seq, srv FROM %s WHERE seq IN (%s)", RowsTable, strings.Join(list, ",")))
	if err != nil {
		return nil, err
	}
	got := map[int64]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		seq, err1 := strconv.ParseInt(f[0], 10, 64)
		srv, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mariadb %s: unexpected row %q", m.Host.NodeID, line)
		}
		got[seq] = srv
	}
	return got, nil
}

// NodeData is a DB node's data-safety part of `raftvip status -json`: its
// replication as its agent read it, the leader's stale verdict, and what
// its agent did to its server. It mirrors agent.NodeView's fields (the lab
// decodes only what it uses).
type NodeData struct {
	ID            string                  `json:"id"`
	Stale         string                  `json:"stale"`
	NoReplication bool                    `json:"no_replication"`
	Replication   *mysqlcheck.Replication `json:"replication"`
	Data          *ServerData             `json:"data"`
}

// ServerData mirrors agent.DataStatus: what a node's agent last did to its
// server.
type ServerData struct {
	Mode              string    `json:"mode"` // read-only, catching-up, writable, stuck-read-only
	Epoch             uint64    `json:"epoch"`
	Since             time.Time `json:"since"`
	WaitGTID          string    `json:"wait_gtid"`
	Detail            string    `json:"detail"`
	Error             string    `json:"error"`
	ReadOnlyConfirmed time.Time `json:"read_only_confirmed"`
	ReplicationHeld   bool      `json:"replication_held"`
	Errant            string    `json:"errant"`
	ErrantEpoch       uint64    `json:"errant_epoch"` // the epoch whose holder the errant check compared with
}

// NodeData returns node id's data-safety view from the status document.
func (s *Status) NodeData(id string) (NodeData, bool) {
	var doc struct {
		Nodes []NodeData `json:"nodes"`
	}
	if err := json.Unmarshal(s.Raw, &doc); err != nil {
		return NodeData{}, false
	}
	for _, n := range doc.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return NodeData{}, false
}
