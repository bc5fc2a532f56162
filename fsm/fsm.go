package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Errors returned (as Result.Err) for commands the state refuses. They are
// not failures of the log: the entry is committed and every node refuses it
// the same way.
var (
	ErrHeld        = errors.New("the VIP is held by another node")
	ErrFenced      = errors.New("a fence is pending for an unreleased holder")
	ErrNotHolder   = errors.New("node does not hold that epoch")
	ErrBadCommand  = errors.New("malformed command")
	ErrUnknownType = errors.New("unknown command type")
)

// Result is what Apply returns for every entry (raft.ApplyFuture.Response).
type Result struct {
	Epoch uint64
	Err   error
}

// FSM implements raft.FSM over State.
type FSM struct {
	mu    sync.RWMutex
	state State
	// fenceDeadline is local, not replicated: the local time at which the
	// pending fence's Wait runs out, counted from when this node applied the
	// fence. The fence's proposer committed it before any node applied it,
	// so every node's deadline is at or after the proposer's: waiting on
	// it is never shorter than the safety argument needs, and needs no
	// clock agreement between hosts.
	fenceDeadline time.Time
	// switchoverDeadline is local like fenceDeadline: when the pending
	// switchover's window ends, counted from when this node applied it.
	switchoverDeadline time.Time
	// lastIndex is the raft index of the last command applied, or of the
	// last one before the snapshot restored; indexUnknown is set by a
	// restore from a snapshot written before snapshots recorded it (see
	// LastApplied).
	lastIndex    uint64
	indexUnknown bool
	now          func() time.Time
	changed      chan struct{}
}

// New returns an empty FSM.
func New() *FSM {
	return &FSM{state: newState(), now: time.Now, changed: make(chan struct{}, 1)}
}

// Changed is signalled (coalesced) after every applied entry or restore.
func (f *FSM) Changed() <-chan struct{} { return f.changed }

func (f *FSM) notify() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// State returns a deep copy of the current state.
func (f *FSM) State() State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.clone()
}

// Current returns a copy of the state without History: what the agent's
// loop reads several times a second. The history (up to 1,000 events) is
// only copied by State, for status and history.
func (f *FSM) Current() State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.copyWith(false)
}

// Pending reports, without copying the state (Current copies every map,
// and the agent loop asks on every pass), whether a fence or a switchover
// is recorded, and the maintenance setting.
func (f *FSM) Pending() (fence, switchover bool, maintenance Maintenance) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state.Fence != nil, f.state.Switchover != nil, f.state.Maintenance
}

// FenceDeadline returns the local time before which the pending fence forbids
// adding the VIP; ok is false when no fence is pending.
func (f *FSM) FenceDeadline() (deadline time.Time, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.state.Fence == nil {
		return time.Time{}, false
	}
	return f.fenceDeadline, true
}

// SwitchoverDeadline returns the local time at which the recorded
// switchover's window ends; ok is false when none is recorded.
func (f *FSM) SwitchoverDeadline() (deadline time.Time, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.state.Switchover == nil {
		return time.Time{}, false
	}
	return f.switchoverDeadline, true
}

// Apply implements raft.FSM.
func (f *FSM) Apply(l *raft.Log) interface{} {
	if l.Type != raft.LogCommand {
		return Result{}
	}
	cmd, err := Decode(l.Data)
	f.mu.Lock()
	if l.Index > f.lastIndex {
		f.lastIndex, f.indexUnknown = l.Index, false
	}
	if err != nil {
		f.mu.Unlock()
		return Result{Err: err}
	}
	res := f.applyLocked(cmd)
	f.mu.Unlock()
	f.notify()
	return res
}

// LastApplied is the raft index of the last command this FSM applied (a
// malformed one included: it was handled), so the cluster can tell raft's
// applied index, which runs ahead of the FSM, from the FSM's own. known is
// false only after a restore from a snapshot that predates the record,
// until the next command.
func (f *FSM) LastApplied() (index uint64, known bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.lastIndex, !f.indexUnknown
}

// ApplyCommand applies a command directly (tests and tools); the same code
// path as Apply.
func (f *FSM) ApplyCommand(c Command) Result {
	b, err := Encode(c)
	if err != nil {
		return Result{Err: err}
	}
	r, _ := f.Apply(&raft.Log{Type: raft.LogCommand, Data: b}).(Result)
	return r
}

func (f *FSM) applyLocked(c Command) Result {
	res := f.applyChange(c)
	// An operator's command is recorded with the change it made, in the
	// same entry, so the history never shows a change nobody asked for or
	// a request that changed nothing.
	if o := c.Operator; o != nil && res.Err == nil {
		f.state.record(Event{Epoch: f.state.Epoch, Op: o.Command, Node: o.Node, By: o.By, Time: o.Time,
			Reason: o.Detail, Via: o.Via, UID: o.UID})
	}
	return res
}

func (f *FSM) applyChange(c Command) Result {
	s := &f.state
	switch c.Type {
	case CmdHealth:
		h := c.Health
		if h == nil || h.Node == "" {
			return Result{Err: fmt.Errorf("%w: health without node", ErrBadCommand)}
		}
		// Reports can arrive out of order (forwarded by followers, retried);
		// an older report never overwrites a newer one. Order is by boot
		// id and counter, never the reporter's clock (a clock stepped
		// back would make every new report look stale).
		if old, ok := s.Health[h.Node]; ok && !h.supersedes(old) {
			return Result{Epoch: s.Epoch}
		}
		s.Health[h.Node] = *h
		return Result{Epoch: s.Epoch}

	case CmdAcquire:
		a := c.Acquire
		if a == nil || a.Node == "" {
			return Result{Err: fmt.Errorf("%w: acquire without node", ErrBadCommand)}
		}
		if s.Holder != "" {
			return Result{Epoch: s.Epoch, Err: fmt.Errorf("%w: %s holds epoch %d", ErrHeld, s.Holder, s.Epoch)}
		}
		if s.Fence != nil {
			return Result{Epoch: s.Epoch, Err: fmt.Errorf("%w: epoch %d of %s", ErrFenced, s.Fence.Epoch, s.Fence.Holder)}
		}
		if s.LastHolder != a.Node {
			// A holder that acquires again after its own release (a lapsed
			// lease, a restart) keeps what it took over from: its
			// replication from that node may still be held until the node
			// reports no errant transaction.
			s.TakenFrom = s.LastHolder
			s.Planned = s.Handoff != nil && s.Handoff.Epoch == s.Epoch && s.Handoff.From != a.Node
		}
		s.Epoch++
		s.Holder = a.Node
		s.Acquired = a.Time
		s.HolderTerms = a.Terms
		if sw := s.Switchover; sw != nil && sw.To == a.Node {
			sw.Done = true
		}
		e := Event{Epoch: s.Epoch, Op: OpAcquire, Node: a.Node, By: a.By, Time: a.Time, Reason: a.Reason, Leader: a.Leader}
		if !s.Released.IsZero() && a.Time.After(s.Released) {
			e.Handover = a.Time.Sub(s.Released)
		}
		s.record(e)
		return Result{Epoch: s.Epoch}

	case CmdRelease:
		r := c.Release
		if r == nil || r.Node == "" {
			return Result{Err: fmt.Errorf("%w: release without node", ErrBadCommand)}
		}
		if s.Holder != r.Node || s.Epoch != r.Epoch {
			return Result{Epoch: s.Epoch, Err: fmt.Errorf("%w: %s epoch %d (holder %q, epoch %d)", ErrNotHolder, r.Node, r.Epoch, s.Holder, s.Epoch)}
		}
		s.Holder = ""
		s.Released = r.Time
		s.LastHolder = r.Node
		s.Fence = nil
		s.Handoff = nil
		if (r.GTID != "" || r.Fenced) && r.By == r.Node {
			s.Handoff = &Handoff{Epoch: r.Epoch, From: r.Node, GTID: r.GTID, Time: r.Time}
		}
		f.fenceDeadline = time.Time{}
		s.record(Event{Epoch: r.Epoch, Op: OpRelease, Node: r.Node, By: r.By, Time: r.Time, Reason: r.Reason, Detection: r.Detection})
		return Result{Epoch: s.Epoch}

	case CmdFence:
		fc := c.Fence
		if fc == nil || fc.Holder == "" {
			return Result{Err: fmt.Errorf("%w: fence without holder", ErrBadCommand)}
		}
		if s.Holder != fc.Holder || s.Epoch != fc.Epoch {
			return Result{Epoch: s.Epoch, Err: fmt.Errorf("%w: fence for %s epoch %d (holder %q, epoch %d)", ErrNotHolder, fc.Holder, fc.Epoch, s.Holder, s.Epoch)}
		}
		if s.Fence != nil {
			// The first fence stands: a later leader keeps its deadline.
			return Result{Epoch: s.Epoch}
		}
		s.Fence = &Fence{Epoch: fc.Epoch, Holder: fc.Holder, By: fc.By, Time: fc.Time, Wait: fc.Wait}
		f.fenceDeadline = f.now().Add(fc.Wait)
		s.record(Event{Epoch: fc.Epoch, Op: OpFence, Node: fc.Holder, By: fc.By, Time: fc.Time, Reason: fc.Reason, Wait: fc.Wait, Election: fc.Election})
		return Result{Epoch: s.Epoch}

	case CmdSwitchover:
		sw := c.Switchover
		if sw == nil {
			return Result{Err: fmt.Errorf("%w: switchover without payload", ErrBadCommand)}
		}
		if sw.To == "" {
			s.Switchover = nil
			f.switchoverDeadline = time.Time{}
			return Result{Epoch: s.Epoch}
		}
		v := *sw
		v.Done = false
		s.Switchover = &v
		f.switchoverDeadline = f.now().Add(v.For)
		return Result{Epoch: s.Epoch}

	case CmdWritable:
		w := c.Writable
		if w == nil || w.Node == "" {
			return Result{Err: fmt.Errorf("%w: writable without node", ErrBadCommand)}
		}
		if s.Holder != w.Node || s.Epoch != w.Epoch {
			return Result{Epoch: s.Epoch, Err: fmt.Errorf("%w: writable for %s epoch %d (holder %q, epoch %d)", ErrNotHolder, w.Node, w.Epoch, s.Holder, s.Epoch)}
		}
		s.record(Event{Epoch: w.Epoch, Op: OpWritable, Node: w.Node, By: w.Node, Time: w.Time, Reason: w.Result, Wait: w.Waited})
		return Result{Epoch: s.Epoch}

	case CmdAdded:
		ad := c.Added
		if ad == nil || ad.Node == "" {
			return Result{Err: fmt.Errorf("%w: added without node", ErrBadCommand)}
		}
		if s.Holder != ad.Node || s.Epoch != ad.Epoch {
			return Result{Epoch: s.Epoch, Err: fmt.Errorf("%w: added for %s epoch %d (holder %q, epoch %d)", ErrNotHolder, ad.Node, ad.Epoch, s.Holder, s.Epoch)}
		}
		e := Event{Epoch: ad.Epoch, Op: OpAdded, Node: ad.Node, By: ad.Node, Time: ad.Time}
		if !ad.GARP.IsZero() && ad.GARP.After(ad.Time) {
			e.GARP = ad.GARP.Sub(ad.Time)
		}
		s.record(e)
		return Result{Epoch: s.Epoch}

	case CmdMaintenance:
		m := c.Maintenance
		if m == nil {
			return Result{Err: fmt.Errorf("%w: maintenance without payload", ErrBadCommand)}
		}
		s.Maintenance = *m
		return Result{Epoch: s.Epoch}

	case CmdTimings:
		t := c.Timings
		if t == nil || t.Node == "" {
			return Result{Err: fmt.Errorf("%w: timings without node", ErrBadCommand)}
		}
		if t.HeartbeatTimeout < 0 || t.Terms.Lease < 0 || t.Terms.Slack < 0 || t.Terms.Margin < 0 {
			return Result{Err: fmt.Errorf("%w: negative timing from %s", ErrBadCommand, t.Node)}
		}
		s.Timings[t.Node] = *t
		return Result{Epoch: s.Epoch}

	case CmdMembers:
		m := c.Members
		if m == nil {
			return Result{Err: fmt.Errorf("%w: members without payload", ErrBadCommand)}
		}
		for _, mem := range m.Set {
			if mem.ID == "" {
				return Result{Err: fmt.Errorf("%w: member without id", ErrBadCommand)}
			}
		}
		for _, mem := range m.Set {
			s.Members[mem.ID] = mem
		}
		for _, id := range m.Remove {
			delete(s.Members, id)
			delete(s.Health, id)
			delete(s.Timings, id)
		}
		return Result{Epoch: s.Epoch}
	}
	return Result{Err: fmt.Errorf("%w: %q", ErrUnknownType, c.Type)}
}

// snapshotFormat versions the snapshot encoding.
type snapshotFile struct {
	Version int   `json:"version"`
	State   State `json:"state"`
	// Index is LastApplied when the snapshot was taken; absent in
	// snapshots written before it was recorded.
	Index *uint64 `json:"index,omitempty"`
}

// Snapshot implements raft.FSM. The copy is taken under the lock; writing it
// out happens later, off the apply path.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := &snapshot{state: f.state.clone()}
	if !f.indexUnknown {
		index := f.lastIndex
		s.index = &index
	}
	return s, nil
}

// Restore implements raft.FSM.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var sf snapshotFile
	if err := json.NewDecoder(rc).Decode(&sf); err != nil {
		return fmt.Errorf("fsm: restore snapshot: %w", err)
	}
	if sf.Version != 1 {
		return fmt.Errorf("fsm: restore snapshot: unknown version %d", sf.Version)
	}
	st := sf.State
	if st.Members == nil {
		st.Members = map[string]Member{}
	}
	if st.Health == nil {
		st.Health = map[string]Health{}
	}
	if st.Timings == nil {
		st.Timings = map[string]Timings{}
	}
	f.mu.Lock()
	f.state = st
	f.lastIndex, f.indexUnknown = 0, sf.Index == nil
	if sf.Index != nil {
		f.lastIndex = *sf.Index
	}
	f.fenceDeadline = time.Time{}
	if st.Fence != nil {
		// The proposer's clock is not ours; start the full wait now, which
		// is never earlier than the original deadline.
		f.fenceDeadline = f.now().Add(st.Fence.Wait)
	}
	f.switchoverDeadline = time.Time{}
	if st.Switchover != nil {
		// Likewise: the whole window from now. The leader clears the
		// record once its own window has ended.
		f.switchoverDeadline = f.now().Add(st.Switchover.For)
	}
	f.mu.Unlock()
	f.notify()
	return nil
}

type snapshot struct {
	state State
	index *uint64
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(snapshotFile{Version: 1, State: s.state, Index: s.index}); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("fsm: persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *snapshot) Release() {}
