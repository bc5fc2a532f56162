package main

import (
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/config"
)

// dataOptions are the agent's data-safety settings (issue 10) from the
// config: failover's on every node, the fence table only where there is
// a mysql block (a witness has none, and writes no fence).
func dataOptions(cfg *config.Config) agent.DataOptions {
	f := cfg.Failover
	d := agent.DataOptions{
		MaxLag:           f.MaxLag,
		PromoteStale:     f.PromoteStale,
		CatchupTimeout:   f.CatchupTimeout,
		OnCatchupTimeout: onCatchupTimeout(f.OnCatchupTimeout),
		KillSessions:     f.KillSessions,
		// A replication hold must outlive a restart (agent/keeper.go).
		StateDir: cfg.DataDir,
	}
	if cfg.MySQL != nil {
		d.FenceTable = cfg.MySQL.FenceTable
	}
	return d
}

// onCatchupTimeout maps the config's word to the agent's constant; config
// accepts no other word.
func onCatchupTimeout(s string) string {
	if s == config.OnCatchupStayReadOnly {
		return agent.OnCatchupStayReadOnly
	}
	return agent.OnCatchupWritable
}
