package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/raftvip/raftvip/cluster"
)

// A restarted agent's FSM is empty (or at its last snapshot) until a leader
// tells it the commit index and it has applied the log up to there: 1-4 s
// in which `status` showed "VIP: (nobody), epoch 0" while another host held
// the VIP. Status therefore first waits, briefly, for the node to catch up.

// statusCatchUpWait bounds that wait.
const statusCatchUpWait = 3 * time.Second

// catchUpForStatus waits until this node's FSM is current — it leads and
// has applied its barrier, or it has applied the log up to the index the
// leader reports — within statusCatchUpWait and ctx (leaving a second of
// ctx for the status fan-out). It returns "" when current, else a note
// saying why the view may be stale. A node that had a leader and lost it
// does not wait: that is an outage, which status reports anyway.
func (a *Agent) catchUpForStatus(ctx context.Context) string {
	deadline := time.Now().Add(statusCatchUpWait)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-time.Second).Before(deadline) {
		deadline = dl.Add(-time.Second)
	}
	var target uint64
	var leaderID, askErr string
	for {
		if a.raft.IsLeader() {
			if a.current().LeaderReady {
				return ""
			}
		} else if id, addr := a.raft.Leader(); addr != "" {
			if target == 0 || id != leaderID {
				leaderID, target, askErr = id, 0, ""
				if idx, err := a.leaderIndex(ctx, addr); err != nil {
					askErr = err.Error()
				} else {
					target = idx
				}
			}
			if target > 0 && a.raft.AppliedIndex() >= target {
				return ""
			}
		} else if lc := a.raft.LastContact(); !lc.IsZero() && time.Since(lc) > a.leaderLostAfter() {
			// It heard from a leader, and has not for a while: an outage,
			// which status reports. A contact just now while no leader is
			// known is Raft between two steps after a restart: wait.
			return ""
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	const stale = "; the VIP and epoch shown may be stale"
	switch {
	case leaderID == "":
		return "catching up: this node has not heard from a leader since it started" + stale
	case target == 0:
		return fmt.Sprintf("catching up: could not ask the leader %s how far the log is (%s)%s", leaderID, askErr, stale)
	}
	return fmt.Sprintf("catching up: this node has applied the log to index %d, the leader %s to %d%s", a.raft.AppliedIndex(), leaderID, target, stale)
}

// leaderIndex asks the leader at addr for its applied index.
func (a *Agent) leaderIndex(ctx context.Context, addr string) (uint64, error) {
	cctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	resp, err := a.raft.Call(cctx, addr, cluster.Request{Op: cluster.OpStatus})
	if err == nil && resp.Err != "" {
		err = fmt.Errorf("%s", resp.Err)
	}
	if err != nil {
		return 0, err
	}
	var ns NodeStatus
	if err := json.Unmarshal(resp.Status, &ns); err != nil {
		return 0, fmt.Errorf("bad status answer: %w", err)
	}
	return ns.AppliedIndex, nil
}

// leaderLostAfter is how long without contact counts as a lost leader.
func (a *Agent) leaderLostAfter() time.Duration {
	if ht := a.opt.HeartbeatTimeout; ht > 0 {
		return 2 * ht
	}
	return 2 * time.Second
}
