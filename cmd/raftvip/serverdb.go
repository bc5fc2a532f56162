package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/mysqlcheck"
)

// serverDB is the agent's hold on this node's own MySQL server
// (agent.DB: read_only, sessions, catch-up, fence table): a
// mysqlcheck.Admin for the configured DSN. A reload that changes the DSN
// (a rotated password in dsn_file) replaces the Admin, so fencing logs in
// as the health check does; without that, the first fence after the old
// password is dropped would fail.
type serverDB struct {
	log hclog.Logger

	mu  sync.Mutex
	dsn string // a secret: never logged
	adm *mysqlcheck.Admin
}

var _ agent.DB = (*serverDB)(nil)

func newServerDB(dsn string, log hclog.Logger) (*serverDB, error) {
	adm, err := mysqlcheck.NewAdmin(dsn, log)
	if err != nil {
		return nil, err
	}
	return &serverDB{log: log, dsn: dsn, adm: adm}, nil
}

// SetDSN switches to dsn from the next call on; calls in flight finish
// on the old connection pool, which is then closed.
func (s *serverDB) SetDSN(dsn string) error {
	adm, err := mysqlcheck.NewAdmin(dsn, s.log)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.adm
	s.dsn, s.adm = dsn, adm
	s.mu.Unlock()
	go old.Close() // waits for its statements in flight
	return nil
}

func (s *serverDB) current() *mysqlcheck.Admin {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adm
}

// Close closes the current pool (at shutdown, after the agent's last fence).
func (s *serverDB) Close() error { return s.current().Close() }

func (s *serverDB) SetReadOnly(ctx context.Context, on bool) error {
	return s.current().SetReadOnly(ctx, on)
}

func (s *serverDB) KillClientSessions(ctx context.Context) (int, error) {
	return s.current().KillClientSessions(ctx)
}

func (s *serverDB) Positions(ctx context.Context) (mysqlcheck.Positions, error) {
	return s.current().Positions(ctx)
}

func (s *serverDB) WaitApplied(ctx context.Context, gtid string, timeout time.Duration) error {
	return s.current().WaitApplied(ctx, gtid, timeout)
}

func (s *serverDB) WriteFence(ctx context.Context, table string, epoch uint64, node string, at time.Time) error {
	return s.current().WriteFence(ctx, table, epoch, node, at)
}

func (s *serverDB) KillReplicaDumps(ctx context.Context, host string) (int, error) {
	return s.current().KillReplicaDumps(ctx, host)
}

func (s *serverDB) StopReplication(ctx context.Context) error {
	return s.current().StopReplication(ctx)
}

func (s *serverDB) StartReplication(ctx context.Context) error {
	return s.current().StartReplication(ctx)
}

// Remote opens another node's server at addr (host:port, this server's
// replication source) with this node's DSN, its address replaced: a new
// holder makes the old holder's server read-only too, when it can reach
// it (agent.SetDB). The caller closes it.
func (s *serverDB) Remote(addr string) (agent.DB, error) {
	s.mu.Lock()
	dsn := s.dsn
	s.mu.Unlock()
	rdsn, err := remoteDSN(dsn, addr)
	if err != nil {
		return nil, err
	}
	return mysqlcheck.NewAdmin(rdsn, s.log)
}

// remoteDSN is dsn with its server replaced by addr over TCP; user,
// password and parameters (TLS included) are kept.
func remoteDSN(dsn, addr string) (string, error) {
	if addr == "" {
		return "", errors.New("no address")
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The config checked the DSN; the driver's message may quote it.
		return "", errors.New("this node's DSN does not parse")
	}
	cfg.Net, cfg.Addr = "tcp", addr
	return cfg.FormatDSN(), nil
}
