package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
)

// The keeper drives this node's own server: read_only stays ON unless the
// loop says this node holds the VIP, and then turns OFF only after the
// catch-up (docs/safety.md, rules 9 and 10). It runs beside the loop: a
// hung server must never stall a lease renewal. The loop owns the wish
// (want); the keeper owns the server and publishes what it achieved
// (DataStatus) for status.

// DataStatus is what the keeper last did to its server.
type DataStatus struct {
	// Mode is "read-only", "catching-up", "writable" or "stuck-read-only"
	// (caught-up wait timed out with on_catchup_timeout = stay_read_only,
	// or a planned move whose position has not been applied yet).
	Mode     string    `json:"mode"`
	Epoch    uint64    `json:"epoch,omitempty"`     // the epoch it is writable (or catching up) for
	Since    time.Time `json:"since,omitempty"`     // when Mode began
	WaitGTID string    `json:"wait_gtid,omitempty"` // the position the catch-up waits for
	Detail   string    `json:"detail,omitempty"`
	Error    string    `json:"error,omitempty"` // the last failure talking to the server
	// ReadOnlyConfirmed is when read_only was last set (or confirmed) ON.
	ReadOnlyConfirmed time.Time `json:"read_only_confirmed,omitempty"`
}

// Keeper modes.
const (
	DataReadOnly      = "read-only"
	DataCatchingUp    = "catching-up"
	DataWritable      = "writable"
	DataStuckReadOnly = "stuck-read-only"
)

// dataWant is the loop's wish.
type dataWant struct {
	writable bool
	epoch    uint64
	// gtid is a planned move's handoff position to apply first; "" waits
	// for what this server's IO thread received (unplanned).
	gtid    string
	planned bool
	since   time.Time
	// source is the old holder's server address (this server's
	// replication source): made read-only too, best effort.
	source string
}

// keeperDBTimeout bounds one statement that should be instant.
const keeperDBTimeout = 2 * time.Second

type keeper struct {
	db     DB
	remote func(addr string) (DB, error) // nil: no fencing of the old server
	opt    DataOptions
	every  time.Duration
	log    hclog.Logger
	now    func() time.Time
	// report hands a catch-up result to the agent loop (it commits it).
	report func(fsm.WritableCmd)
	node   string // this node's id, for the fence table row

	mu     sync.Mutex
	want   dataWant
	gen    uint64             // bumps on every change of want
	cancel context.CancelFunc // ends a catch-up wait for an older want
	kick   chan struct{}
	// ops: one statement that changes the server at a time, so a fence
	// (read_only ON) is never overtaken by a catch-up's read_only OFF.
	ops chan struct{}

	st atomic.Pointer[DataStatus]
}

func newKeeper(node string, db DB, remote func(string) (DB, error), opt DataOptions, every time.Duration, log hclog.Logger, now func() time.Time, report func(fsm.WritableCmd)) *keeper {
	if opt.CatchupTimeout <= 0 {
		opt.CatchupTimeout = 10 * time.Second
	}
	if opt.OnCatchupTimeout == "" {
		opt.OnCatchupTimeout = OnCatchupWritable
	}
	if every <= 0 {
		every = time.Second
	}
	k := &keeper{node: node, db: db, remote: remote, opt: opt, every: every, log: log, now: now, report: report,
		kick: make(chan struct{}, 1), ops: make(chan struct{}, 1)}
	k.st.Store(&DataStatus{Mode: DataReadOnly, Since: now()})
	return k
}

// Status is the keeper's last published state.
func (k *keeper) Status() DataStatus { return *k.st.Load() }

func (k *keeper) publish(f func(*DataStatus)) {
	s := *k.st.Load()
	f(&s)
	k.st.Store(&s)
}

// Want sets the wish; a change wakes the keeper and ends a catch-up wait
// for an older wish.
func (k *keeper) Want(w dataWant) {
	k.mu.Lock()
	same := k.want.writable == w.writable && k.want.epoch == w.epoch
	if !same {
		k.want = w
		k.gen++
		if k.cancel != nil {
			k.cancel()
			k.cancel = nil
		}
	}
	k.mu.Unlock()
	if !same {
		select {
		case k.kick <- struct{}{}:
		default:
		}
	}
}

// ReadOnlyWanted tells the keeper this node does not hold the VIP.
func (k *keeper) ReadOnlyWanted() { k.Want(dataWant{}) }

func (k *keeper) wanted() (dataWant, uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.want, k.gen
}

// lock takes the right to change the server within ctx.
func (k *keeper) lock(ctx context.Context) bool {
	select {
	case k.ops <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (k *keeper) unlock() { <-k.ops }

// Fence makes the server read-only before the VIP leaves: the wish becomes
// read-only, then within budget read_only is set, client sessions are
// killed (failover.kill_sessions) and the final binlog position is read.
// gtid is that position, "" when any step failed: only a fully fenced
// server's position is a handoff (a later write could follow it).
func (k *keeper) Fence(budget time.Duration, why string) (gtid string, err error) {
	k.ReadOnlyWanted()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	if !k.lock(ctx) {
		return "", fmt.Errorf("server busy for %s (a statement in flight did not return)", budget)
	}
	defer k.unlock()
	t0 := k.now()
	if err := k.db.SetReadOnly(ctx, true); err != nil {
		k.publish(func(s *DataStatus) { s.Error = err.Error() })
		return "", fmt.Errorf("read_only ON: %w", err)
	}
	k.publish(func(s *DataStatus) {
		s.Mode, s.Epoch, s.Since, s.WaitGTID, s.Detail, s.Error = DataReadOnly, 0, k.now(), "", why, ""
		s.ReadOnlyConfirmed = k.now()
	})
	killed := 0
	if k.opt.KillSessions {
		n, err := k.db.KillClientSessions(ctx)
		if err != nil {
			return "", fmt.Errorf("read_only ON, but killing client sessions failed: %w", err)
		}
		killed = n
	}
	pos, err := k.db.Positions(ctx)
	if err != nil {
		return "", fmt.Errorf("read_only ON, but reading the final position failed: %w", err)
	}
	k.log.Info("server fenced: read_only ON", "why", why, "sessions_killed", killed, "gtid_binlog_pos", pos.Binlog, "took", k.now().Sub(t0))
	return pos.Binlog, nil
}

// Run drives the server until ctx ends.
func (k *keeper) Run(ctx context.Context) {
	var lastEnforce time.Time
	var writableEpoch uint64 // the epoch whose catch-up has finished (read_only OFF)
	for ctx.Err() == nil {
		w, gen := k.wanted()
		switch {
		case !w.writable:
			writableEpoch = 0
			if k.now().Sub(lastEnforce) >= k.every || k.Status().Mode != DataReadOnly {
				k.enforceReadOnly(ctx)
				lastEnforce = k.now()
			}
		case writableEpoch != w.epoch:
			if k.catchUp(ctx, w, gen) {
				writableEpoch = w.epoch
				lastEnforce = k.now()
			}
			continue // look at the wish again at once
		default:
			// Holding and caught up: a server restarted under us comes up
			// read-only from its my.cnf; turn it back.
			if k.now().Sub(lastEnforce) >= k.every {
				k.enforceWritable(ctx, w, gen)
				lastEnforce = k.now()
			}
		}
		t := time.NewTimer(k.every)
		select {
		case <-ctx.Done():
		case <-k.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

func (k *keeper) enforceReadOnly(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, keeperDBTimeout)
	defer cancel()
	if !k.lock(cctx) {
		return
	}
	defer k.unlock()
	if w, _ := k.wanted(); w.writable {
		return // the wish changed meanwhile
	}
	if err := k.db.SetReadOnly(cctx, true); err != nil {
		if k.Status().Error != err.Error() {
			k.log.Warn("could not set read_only ON on this node's server; retrying", "error", err)
		}
		k.publish(func(s *DataStatus) { s.Error = err.Error() })
		return
	}
	k.publish(func(s *DataStatus) {
		if s.Mode != DataReadOnly {
			s.Mode, s.Since, s.Epoch, s.WaitGTID, s.Detail = DataReadOnly, k.now(), 0, "", "not the VIP holder"
		}
		s.Error, s.ReadOnlyConfirmed = "", k.now()
	})
}

func (k *keeper) enforceWritable(ctx context.Context, w dataWant, gen uint64) {
	cctx, cancel := context.WithTimeout(ctx, keeperDBTimeout)
	defer cancel()
	if !k.lock(cctx) {
		return
	}
	defer k.unlock()
	if _, g := k.wanted(); g != gen {
		return
	}
	if err := k.db.SetReadOnly(cctx, false); err != nil {
		k.publish(func(s *DataStatus) { s.Error = err.Error() })
		return
	}
	k.publish(func(s *DataStatus) { s.Error = "" })
}

// catchUp waits until this server has applied what it must have before
// taking writes, then turns read_only off: a planned move's handoff
// position (never given up on: a switchover loses nothing), or, unplanned,
// everything its IO thread received, within catchup_timeout. It reports
// true once the server is writable for w.epoch.
func (k *keeper) catchUp(ctx context.Context, w dataWant, gen uint64) bool {
	k.mu.Lock()
	if k.gen != gen {
		k.mu.Unlock()
		return false
	}
	wctx, cancel := context.WithCancel(ctx)
	k.cancel = cancel
	k.mu.Unlock()
	defer cancel()

	start := k.now()
	target := w.gtid
	if !w.planned {
		pctx, pcancel := context.WithTimeout(wctx, keeperDBTimeout)
		pos, err := k.db.Positions(pctx)
		pcancel()
		if err != nil {
			k.publish(func(s *DataStatus) { s.Error = "reading positions for the catch-up: " + err.Error() })
			return k.sleep(wctx)
		}
		target = pos.Received
		if !pos.Configured {
			target = ""
		}
	}
	k.publish(func(s *DataStatus) {
		s.Mode, s.Epoch, s.Since, s.WaitGTID, s.Error = DataCatchingUp, w.epoch, start, target, ""
		s.Detail = "applying what the old holder wrote before turning read_only off"
	})
	result := "caught up"
	var err error
	if target != "" {
		err = k.db.WaitApplied(wctx, target, k.opt.CatchupTimeout)
	}
	switch {
	case err == nil:
		if target != "" {
			result = fmt.Sprintf("caught up with %s in %s", target, k.now().Sub(start).Round(time.Millisecond))
		} else {
			result = "nothing to catch up (no replication)"
		}
	case errors.Is(err, mysqlcheck.ErrWaitTimeout):
		if w.planned || k.opt.OnCatchupTimeout == OnCatchupStayReadOnly {
			why := fmt.Sprintf("not caught up with %s after %s: staying read-only until it is (%s)", target, k.opt.CatchupTimeout, k.stayWhy(w))
			if k.Status().Mode != DataStuckReadOnly {
				k.log.Warn("catch-up timed out; staying read-only", "epoch", w.epoch, "gtid", target, "timeout", k.opt.CatchupTimeout)
				k.report(fsm.WritableCmd{Epoch: w.epoch, Time: k.now(), Waited: k.now().Sub(start), Result: why})
			}
			k.publish(func(s *DataStatus) { s.Mode, s.Detail = DataStuckReadOnly, why })
			if k.now().Sub(start) < k.every {
				k.sleep(wctx) // a wait that gave up at once must not spin
			}
			return false // the next round waits again
		}
		result = fmt.Sprintf("DATA AT RISK: not caught up with %s after %s; writable anyway (failover.on_catchup_timeout = writable)", target, k.opt.CatchupTimeout)
		k.log.Warn("catch-up timed out; turning writable anyway (data at risk)", "epoch", w.epoch, "gtid", target, "timeout", k.opt.CatchupTimeout)
	default:
		if wctx.Err() != nil {
			return false // the wish changed
		}
		k.publish(func(s *DataStatus) { s.Error = "catch-up: " + err.Error() })
		return k.sleep(wctx)
	}
	waited := k.now().Sub(start)

	lctx, lcancel := context.WithTimeout(wctx, keeperDBTimeout)
	defer lcancel()
	if !k.lock(lctx) {
		return false
	}
	if _, g := k.wanted(); g != gen {
		k.unlock()
		return false // released meanwhile: stay read-only
	}
	if err := k.db.WriteFence(lctx, k.opt.FenceTable, w.epoch, k.nodeID(), k.now()); err != nil {
		k.log.Warn("could not write the fence table row", "table", k.opt.FenceTable, "epoch", w.epoch, "error", err)
	}
	if err := k.db.SetReadOnly(lctx, false); err != nil {
		k.unlock()
		k.publish(func(s *DataStatus) { s.Error = "read_only OFF: " + err.Error() })
		return false
	}
	k.unlock()
	at := k.now()
	k.publish(func(s *DataStatus) {
		s.Mode, s.Since, s.Detail, s.Error = DataWritable, at, result, ""
	})
	k.log.Info("server writable: read_only OFF", "epoch", w.epoch, "result", result, "since_vip_added", at.Sub(w.since))
	k.report(fsm.WritableCmd{Epoch: w.epoch, Time: at, Waited: waited, Result: result})
	if w.source != "" && k.remote != nil {
		go k.fenceRemote(ctx, w.source)
	}
	return true
}

func (k *keeper) stayWhy(w dataWant) string {
	if w.planned {
		return "planned move: a switchover never loses a write"
	}
	return "failover.on_catchup_timeout = stay_read_only"
}

// nodeID is set by the agent (for the fence table row).
func (k *keeper) nodeID() string { return k.node }

// fenceRemote makes the old holder's server read-only too, when this node
// can reach it (its agent may be dead while its server runs).
func (k *keeper) fenceRemote(ctx context.Context, addr string) {
	db, err := k.remote(addr)
	if err != nil {
		k.log.Debug("old holder's server not fenced from here", "address", addr, "error", err)
		return
	}
	if c, ok := db.(interface{ Close() error }); ok {
		defer c.Close()
	}
	cctx, cancel := context.WithTimeout(ctx, keeperDBTimeout)
	defer cancel()
	if err := db.SetReadOnly(cctx, true); err != nil {
		k.log.Info("could not make the old holder's server read-only from here (its own agent does when it runs)", "address", addr, "error", err)
		return
	}
	n := 0
	if k.opt.KillSessions {
		n, _ = db.KillClientSessions(cctx)
	}
	k.log.Info("old holder's server made read-only from the new holder", "address", addr, "sessions_killed", n)
}

func (k *keeper) sleep(ctx context.Context) bool {
	t := time.NewTimer(k.every)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}
