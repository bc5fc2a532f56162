package cluster

import "github.com/hashicorp/raft"

// hashicorp/raft records an entry as applied when its main loop hands the
// batch to the FSM goroutine (a channel of 128), before FSM.Apply has run.
// Until the FSM goroutine catches up, raft's AppliedIndex is ahead of the
// FSM: a restarted node handed its whole log at once showed the empty
// state it started with while reporting the leader's index. Every caller
// of AppliedIndex reads the FSM right after comparing indices, so the
// index it is given must be the FSM's.

// AppliedReporter is an FSM that knows the index of the last command it
// applied. known is false when it cannot tell (restored from a snapshot
// that did not record it); the cluster then goes by raft's index alone.
type AppliedReporter interface {
	LastApplied() (index uint64, known bool)
}

// maxBehindScan bounds the log entries fsmBehind reads. Past it the FSM is
// taken to be behind: only a large backlog puts that many entries between
// the FSM's last command and raft's index (a snapshot's trailing barriers
// and configuration entries are a handful).
const maxBehindScan = 256

// fsmBehind reports whether a command at or below raft's index a is not yet
// applied by the FSM, and if so the FSM's index: every command up to it is
// applied. Entries in between that are not commands (no-ops, barriers,
// nudges, configuration changes) never reach FSM.Apply, so only commands
// count; an entry missing from the store was compacted into a snapshot the
// FSM was restored from.
func (c *Cluster) fsmBehind(a uint64) (done uint64, behind bool) {
	if c.fsmIndex == nil {
		return 0, false
	}
	done, known := c.fsmIndex.LastApplied()
	if !known || done >= a {
		return 0, false
	}
	if a-done > maxBehindScan {
		return done, true
	}
	var l raft.Log
	for i := a; i > done; i-- {
		if err := c.logs.GetLog(i, &l); err != nil {
			continue
		}
		if l.Type == raft.LogCommand {
			return done, true
		}
	}
	return 0, false
}
