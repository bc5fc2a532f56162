package agent

import (
	"context"
	"time"

	"github.com/raftvip/raftvip/mysqlcheck"
)

// Data safety (issue 10): the VIP's holder is the only writable server,
// only a caught-up server is promoted, and a planned move loses nothing.
// The agent drives its own server through DB; mysqlcheck.Admin is the real
// one, tests use a fake.

// DB is what the agent does to its own MySQL server besides checking it.
type DB interface {
	// SetReadOnly sets read_only (and super_read_only on MySQL 8 when on).
	SetReadOnly(ctx context.Context, on bool) error
	// KillClientSessions ends every client session but raftvip's own and
	// replication's, so no write in flight lands after the fence.
	KillClientSessions(ctx context.Context) (int, error)
	// Positions reads the server's GTID positions.
	Positions(ctx context.Context) (mysqlcheck.Positions, error)
	// WaitApplied waits until the server's SQL thread has applied gtid
	// (MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET); it returns
	// mysqlcheck.ErrWaitTimeout when timeout passed first.
	WaitApplied(ctx context.Context, gtid string, timeout time.Duration) error
	// WriteFence records an acquisition in the fence table (no-op when the
	// table is "").
	WriteFence(ctx context.Context, table string, epoch uint64, node string, at time.Time) error
}

// Catch-up outcomes on timeout (config failover.on_catchup_timeout).
const (
	OnCatchupWritable     = "writable"
	OnCatchupStayReadOnly = "stay_read_only"
)

// DataOptions are the data-safety settings (config failover and mysql).
type DataOptions struct {
	// MaxLag: a DB node whose replication lagged more than this at its
	// last check while the holder was alive is stale, not a candidate.
	// Default 10s.
	MaxLag time.Duration
	// PromoteStale lets the leader promote a stale node when no caught-up
	// one is left (recorded as "data at risk").
	PromoteStale bool
	// CatchupTimeout bounds the wait for the relay log before a new holder
	// turns writable. Default 10s.
	CatchupTimeout time.Duration
	// OnCatchupTimeout: OnCatchupWritable (default) or OnCatchupStayReadOnly.
	OnCatchupTimeout string
	// KillSessions: on release, kill client sessions after read_only is
	// set. Default true (set by config; the zero value here means false).
	KillSessions bool
	// FenceTable is "db.table" for the (epoch, node, time) rows; "" = off.
	FenceTable string
}
