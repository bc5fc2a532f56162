package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
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
	// ReplicationHeld: this holder stopped its replication from the old
	// master after an unplanned move, until the old master reports that it
	// has nothing this server lacks (see checkErrant).
	ReplicationHeld bool `json:"replication_held,omitempty"`
	// Errant (on a replaced holder that came back): its own transactions
	// that the holder of ErrantEpoch never received; ErrantChecked is when
	// it last compared.
	Errant        string    `json:"errant,omitempty"`
	ErrantEpoch   uint64    `json:"errant_epoch,omitempty"`
	ErrantChecked time.Time `json:"errant_checked,omitempty"`
}

// markFencing records a failed read_only ON: a server that was writable,
// or catching up, is now only wanted read-only.
func (s *DataStatus) markFencing(now time.Time, why string, err error) {
	s.Error = err.Error()
	if s.Mode != DataReadOnly && s.Mode != DataFencing {
		s.Mode, s.Since, s.Epoch, s.WaitGTID, s.Detail = DataFencing, now, 0, "", why
	}
}

// Keeper modes.
const (
	DataReadOnly      = "read-only"
	DataCatchingUp    = "catching-up"
	DataWritable      = "writable"
	DataStuckReadOnly = "stuck-read-only"
	// DataFencing: read-only is wanted but the server has not confirmed it
	// (down, hung, refusing): it is not writable through raftvip.
	DataFencing = "fencing"
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
	// holdReplication: an unplanned move; stop replication from the old
	// master before turning writable (it may come back with transactions
	// this server never received, which must not arrive silently).
	holdReplication bool
	// takenFrom is the node the VIP was taken from (the old master), for
	// a hold: lifted when that node holds the VIP again.
	takenFrom string
	// holder is, on a read-only wish, who holds the VIP now ("" nobody).
	holder string
	// errantEpoch, when set on a read-only wish, asks this replaced holder
	// to compare its own transactions with the holder's server at source.
	errantEpoch uint64
}

// keeperDBTimeout bounds one statement that should be instant.
const keeperDBTimeout = 2 * time.Second

type keeper struct {
	db     DB
	remote func(addr string) (DB, error) // nil: no fencing of the old server
	opt    DataOptions
	every  time.Duration
	// errantEvery and errantCleanEvery pace the errant check (checkErrant);
	// tests shorten them.
	errantEvery, errantCleanEvery time.Duration
	log                           hclog.Logger
	now                           func() time.Time
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
	// resume is the epoch whose held replication may start again (the old
	// master reported nothing errant); set by the loop.
	resume atomic.Uint64
	// onErrant hands an errant check's result to the loop (health report).
	onErrant func(epoch uint64, errant string)
	pubMu    sync.Mutex // serialises publish
	// errantBusy: an errant check runs (beside the loop: the holder's
	// server may be unreachable, and its timeout must not delay this
	// server's next wish); errantStop ends it (loop only).
	errantBusy atomic.Bool
	errantStop context.CancelFunc
	// held is the replication this keeper stopped (loop only), also kept
	// in StateDir: an agent restarted meanwhile must still lift it.
	held replicationHold
}

// ResumeReplication allows a holder of epoch to start the replication it
// held: its old master has nothing it lacks.
func (k *keeper) ResumeReplication(epoch uint64) {
	if k.resume.Swap(epoch) != epoch {
		select {
		case k.kick <- struct{}{}:
		default:
		}
	}
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
		errantEvery: errantEvery, errantCleanEvery: errantCleanEvery,
		kick: make(chan struct{}, 1), ops: make(chan struct{}, 1)}
	k.st.Store(&DataStatus{Mode: DataReadOnly, Since: now()})
	return k
}

// Status is the keeper's last published state.
func (k *keeper) Status() DataStatus { return *k.st.Load() }

func (k *keeper) publish(f func(*DataStatus)) {
	// The errant check and the old server's fence run beside the loop.
	k.pubMu.Lock()
	defer k.pubMu.Unlock()
	s := *k.st.Load()
	f(&s)
	k.st.Store(&s)
}

// Want sets the wish; a change wakes the keeper and ends a catch-up wait
// for an older wish.
func (k *keeper) Want(w dataWant) {
	k.mu.Lock()
	same := k.want.writable == w.writable && k.want.epoch == w.epoch
	if same && !w.writable && (k.want.errantEpoch != w.errantEpoch || k.want.source != w.source || k.want.holder != w.holder) {
		// Not a change of mode: no catch-up to end, no kick needed (a
		// new holder is seen at the next pass, within every).
		k.want.errantEpoch, k.want.source, k.want.holder = w.errantEpoch, w.source, w.holder
	}
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
		k.publish(func(s *DataStatus) { s.markFencing(k.now(), why, err) })
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
	var lastEnforce, lastErrant time.Time
	var writableEpoch uint64 // the epoch whose catch-up has finished (read_only OFF)
	k.loadHold()
	for ctx.Err() == nil {
		w, gen := k.wanted()
		switch {
		case !w.writable:
			writableEpoch = 0
			if k.held.Epoch != 0 && w.holder != "" && w.holder == k.held.From {
				// The old master holds the VIP again: what it has is the
				// holder's data now, and this server is its standby.
				k.startHeld(ctx, "the old holder "+w.holder+" holds the VIP again")
			}
			if k.now().Sub(lastEnforce) >= k.every || k.Status().Mode != DataReadOnly {
				k.enforceReadOnly(ctx)
				lastEnforce = k.now()
			}
			if w.errantEpoch != 0 && w.source != "" && k.remote != nil && k.now().Sub(lastErrant) >= k.errantPace(w.errantEpoch) && !k.errantBusy.Load() {
				ectx, stop := context.WithCancel(ctx)
				k.errantStop = stop
				k.errantBusy.Store(true)
				go func(epoch uint64, source string) {
					defer k.errantBusy.Store(false)
					defer stop()
					k.checkErrant(ectx, epoch, source)
				}(w.errantEpoch, w.source)
				lastErrant = k.now()
			}
		case writableEpoch != w.epoch:
			if k.errantStop != nil {
				k.errantStop() // this node holds again: no errant check to finish
				k.errantStop = nil
			}
			if k.catchUp(ctx, w, gen) {
				writableEpoch = w.epoch
				lastEnforce = k.now()
			}
			continue // look at the wish again at once
		case k.held.Epoch == w.epoch && k.held.Epoch != 0 && k.resume.Load() == w.epoch:
			k.startHeld(ctx, "it has no transaction this server lacks")
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
		k.publish(func(s *DataStatus) { s.markFencing(k.now(), "not the VIP holder", err) })
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
	configured := true
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
		configured = pos.Configured
	}
	k.publish(func(s *DataStatus) {
		s.Mode, s.Epoch, s.Since, s.WaitGTID, s.Error = DataCatchingUp, w.epoch, start, target, ""
		s.Detail = "applying what the old holder wrote before turning read_only off"
	})
	result := "caught up"
	var err error
	switch {
	case target == "":
	case w.planned:
		err = k.db.WaitApplied(wctx, target, k.opt.CatchupTimeout)
	default:
		err = k.waitReceived(wctx, target, k.opt.CatchupTimeout)
	}
	switch {
	case errors.Is(err, errPartialTail):
		err = nil
		result = fmt.Sprintf("applied every transaction received completely in %s; the last one named in %s arrived only in part from the old master (never acknowledged under semi-sync; lost under async)",
			k.now().Sub(start).Round(time.Millisecond), target)
	case err == nil:
		if target != "" {
			result = fmt.Sprintf("caught up with %s in %s", target, k.now().Sub(start).Round(time.Millisecond))
		} else if configured {
			result = "nothing to catch up (its replication has received nothing)"
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
	if w.holdReplication {
		if host := sourceHost(w.source); host != "" {
			if n, err := k.db.KillReplicaDumps(lctx, host); err != nil {
				k.log.Warn("could not end the old holder's binlog dump threads; under semi-sync the first commits may wait for its ack", "error", err)
			} else if n > 0 {
				k.log.Info("ended the old holder's binlog dump threads (its replication reconnects when it runs again)", "host", host, "threads", n)
			}
		}
		if err := k.db.StopReplication(lctx); err != nil {
			k.log.Warn("could not stop replication from the old holder; its late transactions may arrive unchecked", "error", err)
		} else {
			k.setHold(replicationHold{Epoch: w.epoch, From: w.takenFrom, Source: w.source})
			k.log.Info("replication from the old holder stopped until it reports nothing this server lacks", "epoch", w.epoch, "old_holder", w.takenFrom)
		}
	}
	// The fence row goes in before read_only goes off, so no write of the
	// epoch precedes it (raftvip's user may write on a read-only MariaDB);
	// MySQL's super_read_only stops every user, so there it goes in right
	// after.
	fenceErr := k.db.WriteFence(lctx, k.opt.FenceTable, w.epoch, k.nodeID(), k.now())
	if err := k.db.SetReadOnly(lctx, false); err != nil {
		k.unlock()
		k.publish(func(s *DataStatus) { s.Error = "read_only OFF: " + err.Error() })
		return false
	}
	if fenceErr != nil {
		if err := k.db.WriteFence(lctx, k.opt.FenceTable, w.epoch, k.nodeID(), k.now()); err != nil {
			k.log.Warn("could not write the fence table row", "table", k.opt.FenceTable, "epoch", w.epoch, "error", err)
		}
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

// errantEvery is how often a replaced holder compares its transactions
// with the holder's until a check of the current epoch found none.
const errantEvery = 2 * time.Second

// errantCleanEvery is the pace after that: the holder resumed its
// replication from here on the first clean result (steerKeeper), and this
// server, read-only, can only gain errant transactions from a user who
// bypasses read_only, which a later check still reports. At errantEvery
// each check (a new login to the holder's server and two reads) cost a
// replaced holder's idle agent about 7 % of its CPU, for as long as the
// epoch lasts.
const errantCleanEvery = 30 * time.Second

// errantPace is how long after the last errant check the next one is due.
func (k *keeper) errantPace(epoch uint64) time.Duration {
	if st := k.Status(); st.ErrantEpoch == epoch && st.Errant == "" && !st.ErrantChecked.IsZero() {
		return k.errantCleanEvery
	}
	return k.errantEvery
}

// checkErrant compares this server's own transactions (its server_id in
// its binary log) with what the holder's server at addr has: what it has
// and the holder lacks is errant (acknowledged on this server, never
// received there). The result goes to the loop, which reports it with the
// node's health; the holder keeps its replication from here stopped until
// a check finds none.
func (k *keeper) checkErrant(ctx context.Context, epoch uint64, addr string) {
	cctx, cancel := context.WithTimeout(ctx, keeperDBTimeout)
	defer cancel()
	mine, err := k.db.Positions(cctx)
	if err != nil {
		return // down: checked when it is back
	}
	db, err := k.remote(addr)
	if err != nil {
		return
	}
	if c, ok := db.(interface{ Close() error }); ok {
		defer c.Close()
	}
	theirs, err := db.Positions(cctx)
	if err != nil {
		k.log.Debug("could not read the holder's positions for the errant check", "address", addr, "error", err)
		return
	}
	var e mysqlcheck.Errant
	if mine.Flavor == mysqlcheck.FlavorMySQL {
		e, err = mysqlcheck.MySQLErrant(mine.BinlogState, theirs.BinlogState)
	} else {
		e, err = mysqlcheck.MariaDBErrant(mine.BinlogState, theirs.BinlogState, mine.ServerID)
	}
	if err != nil {
		k.log.Warn("errant transaction check failed", "error", err)
		return
	}
	text := e.String()
	prev := k.Status()
	k.publish(func(s *DataStatus) { s.Errant, s.ErrantEpoch, s.ErrantChecked = text, epoch, k.now() })
	if text != "" && (prev.Errant != text || prev.ErrantEpoch != epoch) {
		k.log.Warn("this server has transactions the VIP holder never received: not applied there, not discarded here; see docs/replication.md (errant transactions)",
			"errant", text, "holder_server", addr, "epoch", epoch)
	}
	if k.onErrant != nil {
		k.onErrant(epoch, text)
	}
}

// errPartialTail: the SQL thread has applied its whole relay log, and
// what is still missing of the target can only be a transaction the IO
// thread received in part (the old master hung mid-send): no wait brings
// it.
var errPartialTail = errors.New("the rest was received only in part")

// partialTailAfter is how long the SQL thread must have sat idle, without
// progress, short of the target, before the rest counts as a partial tail.
const partialTailAfter = time.Second

// waitReceived waits until what the IO thread received (target) is applied,
// within timeout. Received (Gtid_IO_Pos) names a transaction as soon as its
// first event arrives; an old master that hung mid-send leaves it
// incomplete in the relay log for good. So the wait looks between short
// waits: an SQL thread idle at the end of its relay log, with nothing
// applied for partialTailAfter, has applied everything complete.
func (k *keeper) waitReceived(ctx context.Context, target string, timeout time.Duration) error {
	deadline := k.now().Add(timeout)
	var idleSince time.Time
	var lastExecuted string
	for {
		step := min(250*time.Millisecond, deadline.Sub(k.now()))
		if step <= 0 {
			return mysqlcheck.ErrWaitTimeout
		}
		err := k.db.WaitApplied(ctx, target, step)
		if !errors.Is(err, mysqlcheck.ErrWaitTimeout) {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, keeperDBTimeout)
		pos, perr := k.db.Positions(pctx)
		cancel()
		switch {
		case perr != nil || !pos.SQLIdle || pos.Executed != lastExecuted:
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = k.now()
		case k.now().Sub(idleSince) >= partialTailAfter:
			return errPartialTail
		}
		if perr == nil {
			lastExecuted = pos.Executed
		}
	}
}

// sourceHost is the host of a replication source "host:port".
func sourceHost(source string) string {
	if h, _, err := net.SplitHostPort(source); err == nil {
		return h
	}
	return source
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

// replicationHold is replication this keeper stopped after an unplanned
// move: taken over in Epoch from node From (its server at Source).
type replicationHold struct {
	Epoch  uint64 `json:"epoch"`
	From   string `json:"from"`
	Source string `json:"source,omitempty"`
}

// holdFile is where a hold outlives the process (DataOptions.StateDir).
const holdFile = "replication-held.json"

func (k *keeper) setHold(h replicationHold) {
	k.held = h
	k.publish(func(s *DataStatus) { s.ReplicationHeld = true })
	if k.opt.StateDir == "" {
		return
	}
	b, _ := json.Marshal(h)
	path := filepath.Join(k.opt.StateDir, holdFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		k.log.Warn("could not record the replication hold; a restarted agent will not know to lift it", "path", path, "error", err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		k.log.Warn("could not record the replication hold; a restarted agent will not know to lift it", "path", path, "error", err)
	}
}

// loadHold reads a hold an earlier run of the agent left.
func (k *keeper) loadHold() {
	if k.opt.StateDir == "" {
		return
	}
	path := filepath.Join(k.opt.StateDir, holdFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var h replicationHold
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err != nil || h.Epoch == 0 {
		k.log.Warn("unreadable replication hold record; ignored (check this server's replication by hand)", "path", path, "error", err)
		return
	}
	k.held = h
	k.publish(func(s *DataStatus) { s.ReplicationHeld = true })
	k.log.Info("replication stopped by an earlier run (after an unplanned move) stays stopped until it can be lifted", "epoch", h.Epoch, "old_holder", h.From)
}

// startHeld starts the replication the hold stopped and forgets the hold.
func (k *keeper) startHeld(ctx context.Context, why string) {
	cctx, cancel := context.WithTimeout(ctx, keeperDBTimeout)
	err := k.db.StartReplication(cctx)
	cancel()
	if err != nil {
		k.publish(func(s *DataStatus) { s.Error = "starting replication again: " + err.Error() })
		return
	}
	h := k.held
	k.held = replicationHold{}
	k.publish(func(s *DataStatus) { s.ReplicationHeld = false })
	if k.opt.StateDir != "" {
		if err := os.Remove(filepath.Join(k.opt.StateDir, holdFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			k.log.Warn("could not remove the replication hold record", "error", err)
		}
	}
	k.log.Info("replication from the old holder started again", "why", why, "epoch", h.Epoch, "old_holder", h.From)
}
