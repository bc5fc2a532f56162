package cluster

import (
	"time"

	"github.com/hashicorp/raft"
)

// Followers learn that an entry is committed only from a later
// AppendEntries that carries the leader's commit index; hashicorp/raft's
// heartbeats carry none. Without more entries that is the next commit
// timeout, so a short raft.commit_timeout (50 ms before) was what kept the
// followers' FSM (their status, `switchover` waiting for the target to catch
// up, a restarted node's status) current — at the price of an empty
// AppendEntries to every follower every 50–100 ms forever, the largest part
// of an idle leader's CPU after the heartbeats.
//
// Instead, once an entry this node appended as leader is committed, and
// nudgeDelay later nothing has been appended after it, it appends one
// barrier (the nudge): sending it carries the commit index, so the
// followers apply the entry a round trip later whatever the commit timeout,
// and the commit timeout can be long. An idle cluster commits nothing, so
// nudges cost nothing at idle. Within a burst (a failover, a switchover:
// release, transfer, acquire, records) every next entry carries the commit
// index already, so no nudge is appended there, none delays the burst's
// entries (each one is a disk write on every node), and the burst's last
// entry gets one.
//
// The nudge itself is then the one entry the followers do not yet know is
// committed. It has no effect on the FSM, so AppliedIndex reports the index
// before it: a follower that applied everything up to the nudge has the
// leader's state, and comparisons of applied indices (see AppliedIndex's
// callers) do not wait for the commit timeout.
//
// A new leader's own no-op entry gets no nudge of its own: the agent calls
// Barrier as soon as it leads (before it acts on its FSM), and that nudges.

const (
	// nudgeDelay is how long the last entry waits for a successor before
	// it gets a nudge: short against the agent's polls of applied indices
	// (5–50 ms), long against the gaps within a burst.
	nudgeDelay = 10 * time.Millisecond
	// nudgeTimeout bounds enqueuing one nudge; a leader that cannot
	// enqueue in that time has lost leadership or is shutting down.
	nudgeTimeout = time.Second
)

// nudge asks for a nudge after the committed entry at index (coalesced:
// the highest index asked for wins). The entry is applied here.
func (c *Cluster) nudge(index uint64) {
	for {
		cur := c.appliedHere.Load()
		if index <= cur || c.appliedHere.CompareAndSwap(cur, index) {
			break
		}
	}
	for {
		cur := c.nudgeAt.Load()
		if index <= cur || c.nudgeAt.CompareAndSwap(cur, index) {
			break
		}
	}
	select {
	case c.nudgeCh <- struct{}{}:
	default:
	}
}

func (c *Cluster) nudger() {
	defer c.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.nudgeCh:
		}
		t.Reset(nudgeDelay)
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if c.raft.State() != raft.Leader || c.raft.LastIndex() > c.nudgeAt.Load() {
			// Not leading, or a later entry went out carrying the commit
			// index (it asks for its own nudge once committed).
			continue
		}
		f := c.raft.Barrier(nudgeTimeout)
		if f.Error() != nil {
			continue
		}
		if i, ok := f.(raft.IndexFuture); ok {
			c.lastNudge.Store(i.Index())
		}
	}
}

// appliedIndex is raft's applied index, less a trailing nudge (see above).
// Raft records the index only after it handed the entries to the FSM, so
// an Apply can return before raft's index shows it: the index of the last
// entry this node saw applied counts too, or the leader would tell an
// asking follower an index below the entry it just committed for it.
func (c *Cluster) appliedIndex() uint64 {
	a := max(c.raft.AppliedIndex(), c.appliedHere.Load())
	if done, behind := c.fsmBehind(a); behind {
		return done
	}
	if a > 0 && a == c.lastNudge.Load() {
		return a - 1
	}
	return a
}
