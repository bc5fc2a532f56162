package cluster

import "github.com/hashicorp/raft"

// hashicorp/raft's leader heartbeats each follower every HT/10 to HT/5 of
// its own HeartbeatTimeout: with the default 500 ms that a pulled cable's
// detection needs, 50–100 ms, about 27 heartbeats a second from an idle
// leader, a third of its CPU and, on top, the Go scheduler's share of each
// wake-up (docs/bench/idle-cost.md). A follower only needs a few in each of
// its own timeouts, and the leader's lease check (LeaderLeaseTimeout) one
// answer per lease from a quorum: the default pace (heartbeat_interval
// 150 ms) spaces them 150–300 ms.
//
// A node's HeartbeatTimeout is read by raft only for the job it does in
// the node's current state: as a follower, the timer after which it stops
// following its leader (and refuses votes until then); as the leader, the
// heartbeat spacing and a failure backoff. So the leader runs with
// HeartbeatTimeout = 10·HeartbeatPace (ReloadConfig; ElectionTimeout, which
// only a candidate uses, is raised with it, as raft requires) and every
// other state with the configured values. The fence takes credit for the voters' heartbeat
// timeouts as followers (fsm.Timings, owner.FenceWait): that value is
// unchanged; a node that briefly follows with the leader's longer timeout
// after stepping down only refuses votes longer, which the credit never
// counts on. ReloadConfig to a shorter timeout wakes a follower's timer at
// once, so the switch back takes effect on the spot.

// paceHeartbeats sets raft's HeartbeatTimeout for the state raft is in now
// (not the one an observation named: observations can be dropped, so each
// one reconciles with the truth).
func (c *Cluster) paceHeartbeats() {
	pace := c.cfg.Timing.HeartbeatPace
	ht := c.cfg.Timing.HeartbeatTimeout
	if pace <= 0 || ht <= 0 {
		return
	}
	want, wantET := ht, c.cfg.Timing.ElectionTimeout
	if c.raft.State() == raft.Leader {
		// raft requires ElectionTimeout >= HeartbeatTimeout; a leader
		// runs no election timer, so raising it there costs nothing.
		want = max(ht, 10*pace)
		wantET = max(wantET, want)
	}
	rc := c.raft.ReloadableConfig()
	if rc.HeartbeatTimeout == want && rc.ElectionTimeout == wantET {
		return
	}
	rc.HeartbeatTimeout, rc.ElectionTimeout = want, wantET
	if err := c.raft.ReloadConfig(rc); err != nil {
		c.log.Warn("could not set the heartbeat pace", "heartbeat_timeout", want, "error", err)
		return
	}
	c.log.Debug("heartbeat pace", "state", c.raft.State().String(), "raft_heartbeat_timeout", want, "heartbeats_every", want/10)
}
