package agent

import (
	"context"
	"time"

	"github.com/raftvip/raftvip/mysqlcheck"
	"github.com/raftvip/raftvip/owner"
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
	// StopReplication and StartReplication stop and start the server's
	// replication threads (STOP/START SLAVE, REPLICA on MySQL 8): a new
	// holder after an unplanned move takes nothing more from the old
	// master until it is known to have nothing the holder lacks.
	StopReplication(ctx context.Context) error
	StartReplication(ctx context.Context) error
	// KillReplicaDumps ends the binlog dump threads serving the replica
	// at host: a new holder under semi-sync must not wait for the acks of
	// an old master that hung with its connection open.
	KillReplicaDumps(ctx context.Context, host string) (int, error)
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
	// StateDir keeps what must outlive the agent process (a replication
	// hold, keeper.go); "" keeps it in memory only (tests).
	StateDir string
}

// Fence budgets: how long a release waits for read_only ON before it
// removes the VIP anyway. A planned move (switchover, preemption,
// shutdown) is worth a wait: the server is healthy and the position it
// yields is the handoff. An unplanned one is not: the server is dead or
// hung, and every millisecond is outage; its kernel lease and the
// successor's catch-up carry the safety instead.
const (
	plannedFenceBudget   = 2 * time.Second
	unplannedFenceBudget = 300 * time.Millisecond
)

// fenceWrites makes this node's server read-only before the VIP leaves
// (docs/safety.md, rule 9). It returns the handoff position of a planned
// move ("" when unplanned or when any step failed).
func (a *Agent) fenceWrites(planned bool, why string) (gtid string, handoff bool) {
	if a.keeper == nil {
		return "", false
	}
	budget := unplannedFenceBudget
	if planned {
		budget = plannedFenceBudget
	}
	if !planned && a.health != nil && a.localHealth().Class == mysqlcheck.ClassTimeout {
		// The server does not answer (hung): no statement gets through,
		// and waiting would only add the budget to the outage. The
		// keeper keeps trying in the background; the lease and the
		// successor's catch-up carry the safety (docs/safety.md, rule 11).
		a.keeper.ReadOnlyWanted()
		a.log.Info("not waiting to fence a server that does not answer; the VIP goes first", "why", why)
		return "", false
	}
	gtid, err := a.keeper.Fence(budget, why)
	if err != nil {
		a.log.Warn("could not fence this node's server before releasing the VIP; releasing anyway (the lease bounds the VIP, the successor's catch-up the data)", "error", err, "budget", budget)
		return "", false
	}
	if !planned {
		return "", false
	}
	// Fenced: gtid is the handoff, also when empty (nothing written yet).
	return gtid, true
}

// openWrites tells the keeper this node now holds epoch (VIP added at
// added): it turns the server writable after the catch-up. A planned
// move's successor waits for its predecessor's handoff position; after an
// unplanned one it waits for what its own IO thread received.
func (a *Agent) openWrites(epoch uint64, added time.Time) {
	if a.keeper == nil {
		return
	}
	st := a.fsm.Current()
	w := dataWant{writable: true, epoch: epoch, since: added}
	if h := st.Handoff; h != nil && h.Epoch+1 == epoch && h.From != a.opt.NodeID {
		w.gtid, w.planned = h.GTID, true
	}
	r := a.localHealth().Replication
	if r != nil {
		w.source = r.Source
	}
	// After an unplanned move the old master may come back with
	// transactions this server never received: take nothing more from it
	// until it has compared (steerKeeper, keeper.checkErrant).
	w.holdReplication = !w.planned && st.TakenFrom != "" && st.TakenFrom != a.opt.NodeID && (r == nil || r.Configured)
	w.takenFrom = st.TakenFrom
	a.keeper.Want(w)
}

// steerKeeper keeps the keeper's wish in line with the loop's state: read-
// only unless holding; on a replaced holder, the errant check against the
// holder's server; on a holder whose replication is held, its release
// once the old master reported nothing errant.
func (a *Agent) steerKeeper() {
	st := a.fsm.Current()
	if a.holding && a.pendingAdd == 0 {
		if from := st.TakenFrom; from != "" && st.Holder == a.opt.NodeID {
			if h, ok := st.Health[from]; ok && h.ErrantEpoch == st.Epoch && h.Errant == "" {
				a.keeper.ResumeReplication(st.Epoch)
			}
		}
		return
	}
	w := dataWant{holder: st.Holder}
	if st.Holder != "" && st.Holder != a.opt.NodeID && st.TakenFrom == a.opt.NodeID {
		w.errantEpoch = st.Epoch
		if r := a.localHealth().Replication; r != nil {
			w.source = r.Source
		}
	}
	a.keeper.Want(w)
}

// judgeReplication updates this node's verdict on its own replication
// from a finished check.
func (a *Agent) judgeReplication(s mysqlcheck.Status) {
	var r *owner.Replica
	if rep := s.Replication; rep != nil {
		r = &owner.Replica{Configured: rep.Configured, IORunning: rep.IORunning,
			SQLRunning: rep.SQLRunning, SQLErrno: rep.LastSQLErrno, SQLError: rep.LastSQLError,
			SecondsBehind: rep.SecondsBehind, Received: rep.ReceivedGTID, Executed: rep.ExecutedGTID}
		if !rep.Configured && rep.Error != "" {
			// SHOW SLAVE STATUS itself failed (a missing privilege): no
			// verdict, and no assumption of a fresh one.
			r = &owner.Replica{ReadError: rep.Error}
		}
	}
	maxLag := a.opt.Data.MaxLag
	if maxLag <= 0 {
		maxLag = 10 * time.Second
	}
	prev := a.fresh
	a.fresh = owner.Judge(prev, r, maxLag, a.now())
	if a.fresh.Stale != prev.Stale {
		if a.fresh.Stale != "" {
			a.log.Warn("this node's server is stale: not a promotion candidate", "why", a.fresh.Stale)
		} else if prev.Stale != "" {
			a.log.Info("this node's server caught up: a promotion candidate again")
		}
	}
}
