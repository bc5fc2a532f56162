package main

import (
	"fmt"
	"reflect"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/mysqlcheck"
	"github.com/raftvip/raftvip/vip"
)

// reloader applies a re-read config to a running agent (SIGHUP). What can
// change live is applied; what cannot (identity, addresses, Raft timings
// that the fencing bound depends on) is reported and left as it was.
type reloader struct {
	path    string
	cur     *config.Config
	log     hclog.Logger
	checker *mysqlcheck.Checker // nil on a witness
	agent   *agent.Agent
}

// setting is one value that needs a restart to change.
type setting struct {
	name     string
	old, new any
}

// reload returns the lines it logged, for tests.
func (r *reloader) reload() (applied, refused []string, err error) {
	next, err := config.Load(r.path)
	if err != nil {
		r.log.Error("reload: config has errors; keeping the running config", "errors", err.Error())
		return nil, nil, err
	}
	cur := r.cur
	fixed := []setting{
		{"node_id", cur.NodeID, next.NodeID}, {"role", cur.Role, next.Role}, {"data_dir", cur.DataDir, next.DataDir},
		{"bind", cur.Bind, next.Bind}, {"admin", cur.Admin, next.Admin}, {"peer", cur.Peers, next.Peers},
		{"raft", cur.Raft, next.Raft}, {"vrrp", cur.VRRP, next.VRRP},
	}
	if cur.VIP != nil && next.VIP != nil {
		fixed = append(fixed,
			setting{"vip.interface", cur.VIP.Interface, next.VIP.Interface},
			setting{"vip.addresses", cur.VIP.Addresses, next.VIP.Addresses},
			setting{"vip.lease", cur.VIP.Lease, next.VIP.Lease})
	}
	if cur.MySQL != nil && next.MySQL != nil && cur.MySQL.DSN != next.MySQL.DSN {
		refused = append(refused, "mysql.dsn")
	}
	for _, f := range fixed {
		if !reflect.DeepEqual(f.old, f.new) {
			refused = append(refused, f.name)
		}
	}
	if (cur.VIP == nil) != (next.VIP == nil) || (cur.MySQL == nil) != (next.MySQL == nil) {
		refused = append(refused, "vip/mysql blocks")
	}

	if next.LogLevel != cur.LogLevel {
		r.log.SetLevel(hclog.LevelFromString(next.LogLevel))
		applied = append(applied, "log_level="+next.LogLevel)
	}
	if cur.LogJSON != next.LogJSON {
		refused = append(refused, "log_json")
	}
	if r.checker != nil && next.MySQL != nil && !reflect.DeepEqual(*cur.MySQL, *next.MySQL) {
		m := next.MySQL
		if err := r.checker.Reconfigure(mysqlcheck.Config{Query: m.Query, Interval: m.Interval, Timeout: m.Timeout, Fall: m.Fall, Rise: m.Rise}); err != nil {
			refused = append(refused, "mysql: "+err.Error())
		} else {
			applied = append(applied, fmt.Sprintf("mysql interval=%s timeout=%s fall=%d rise=%d", m.Interval, m.Timeout, m.Fall, m.Rise))
		}
	}
	live := agent.Live{Preempt: next.Failover.Preempt, Preferred: next.Failover.Preferred}
	if next.VIP != nil {
		live.GARPRefresh = next.VIP.GARPRefresh
		if cur.VIP != nil && (cur.VIP.GARPCount != next.VIP.GARPCount || cur.VIP.GARPInterval != next.VIP.GARPInterval) {
			vc := vip.Config{Interface: cur.VIP.Interface, Addresses: cur.VIP.Addresses, GARPCount: next.VIP.GARPCount, GARPInterval: next.VIP.GARPInterval}
			if g, err := vip.NewGARP(vc, r.log.Named("garp")); err != nil {
				refused = append(refused, "vip.garp_*: "+err.Error())
			} else {
				live.Announcer = g
				applied = append(applied, fmt.Sprintf("garp_count=%d garp_interval=%s", vc.GARPCount, vc.GARPInterval))
			}
		}
		if cur.VIP != nil && cur.VIP.GARPRefresh != next.VIP.GARPRefresh {
			applied = append(applied, "garp_refresh="+next.VIP.GARPRefresh.String())
		}
	}
	if cur.Failover != next.Failover {
		applied = append(applied, fmt.Sprintf("failover preempt=%t preferred=%q", next.Failover.Preempt, next.Failover.Preferred))
	}
	r.agent.Reconfigure(live)

	// Keep the running values of what was not applied, so the next reload
	// compares against what actually runs.
	merged := *next
	merged.NodeID, merged.Role, merged.DataDir, merged.Bind, merged.Admin = cur.NodeID, cur.Role, cur.DataDir, cur.Bind, cur.Admin
	merged.Peers, merged.Raft, merged.LogJSON, merged.VRRP = cur.Peers, cur.Raft, cur.LogJSON, cur.VRRP
	if cur.VIP != nil && next.VIP != nil {
		v := *next.VIP
		v.Interface, v.Addresses, v.Lease = cur.VIP.Interface, cur.VIP.Addresses, cur.VIP.Lease
		merged.VIP = &v
	} else {
		merged.VIP = cur.VIP
	}
	if cur.MySQL != nil && next.MySQL != nil {
		m := *next.MySQL
		m.DSN, m.DSNFile = cur.MySQL.DSN, cur.MySQL.DSNFile
		merged.MySQL = &m
	} else {
		merged.MySQL = cur.MySQL
	}
	r.cur = &merged
	r.log.Info("reloaded config", "file", r.path, "applied", applied, "not_applied_restart_needed", refused)
	return applied, refused, nil
}
