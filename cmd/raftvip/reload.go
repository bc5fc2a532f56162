package main

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/internal/mtls"
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
	certs   *mtls.Store // nil without TLS
	db      *serverDB   // nil on a witness and while VRRP is on
}

// setting is one value that needs a restart to change.
type setting struct {
	name     string
	old, new any
}

// mysqlChanges lists the changed mysql settings for the reload line; a DSN
// by its changed parts only (mysqlcheck.DSNChanges: never the password).
func mysqlChanges(cur, next *config.MySQL) []string {
	var out []string
	if cur.DSNFile != next.DSNFile {
		out = append(out, "dsn_file="+next.DSNFile)
	}
	if cur.DSN != next.DSN {
		out = append(out, "dsn ("+strings.Join(mysqlcheck.DSNChanges(cur.DSN, next.DSN), ", ")+")")
	}
	if cur.Query != next.Query {
		out = append(out, fmt.Sprintf("query=%q", next.Query))
	}
	if cur.Expect != next.Expect {
		out = append(out, fmt.Sprintf("expect=%q", next.Expect))
	}
	for _, d := range []struct {
		name      string
		old, next time.Duration
	}{{"interval", cur.Interval, next.Interval}, {"timeout", cur.Timeout, next.Timeout}, {"fail_after", cur.FailAfter, next.FailAfter},
		{"replication_interval", cur.ReplicationInterval, next.ReplicationInterval}} {
		if d.old != d.next {
			out = append(out, d.name+"="+d.next.String())
		}
	}
	for _, n := range []struct {
		name      string
		old, next int
	}{{"fall", cur.Fall, next.Fall}, {"rise", cur.Rise, next.Rise}} {
		if n.old != n.next {
			out = append(out, fmt.Sprintf("%s=%d", n.name, n.next))
		}
	}
	return out
}

// reload returns the lines it logged, for tests.
func (r *reloader) reload() (applied, refused []string, err error) {
	next, err := config.Load(r.path)
	if err == nil {
		if errs := config.CheckPrivate(next); len(errs) > 0 {
			err = &config.Errors{List: errs}
		}
	}
	if err != nil {
		r.log.Error("reload: config has errors; keeping the running config", "errors", err.Error())
		return nil, nil, err
	}
	cur := r.cur
	fixed := []setting{
		{"node_id", cur.NodeID, next.NodeID}, {"role", cur.Role, next.Role}, {"data_dir", cur.DataDir, next.DataDir},
		{"bind", cur.Bind, next.Bind}, {"admin", cur.Admin, next.Admin}, {"admin_group", cur.AdminGroup, next.AdminGroup}, {"peer", cur.Peers, next.Peers},
		{"raft", cur.Raft, next.Raft}, {"vrrp", cur.VRRP, next.VRRP}, {"notify", cur.Notify, next.Notify},
		{"vip.arp_watch", cur.ARPWatch, next.ARPWatch},
		// Set up once at start: the listener, and every thread's priority.
		{"metrics_addr", cur.MetricsAddr, next.MetricsAddr}, {"cpu_priority", cur.CPUPriority, next.CPUPriority},
	}
	if cur.VIP != nil && next.VIP != nil {
		fixed = append(fixed,
			setting{"vip.interface", cur.VIP.Interface, next.VIP.Interface},
			setting{"vip.addresses", cur.VIP.Addresses, next.VIP.Addresses},
			setting{"vip.lease", cur.VIP.Lease, next.VIP.Lease})
	}
	// The data-safety settings are the agent's start options (Data).
	fixed = append(fixed,
		setting{"failover.max_lag", cur.Failover.MaxLag, next.Failover.MaxLag},
		setting{"failover.promote_stale", cur.Failover.PromoteStale, next.Failover.PromoteStale},
		setting{"failover.catchup_timeout", cur.Failover.CatchupTimeout, next.Failover.CatchupTimeout},
		setting{"failover.on_catchup_timeout", cur.Failover.OnCatchupTimeout, next.Failover.OnCatchupTimeout},
		setting{"failover.kill_sessions", cur.Failover.KillSessions, next.Failover.KillSessions})
	if cur.MySQL != nil && next.MySQL != nil {
		fixed = append(fixed, setting{"mysql.fence_table", cur.MySQL.FenceTable, next.MySQL.FenceTable})
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
	mysqlApplied := false
	if r.checker != nil && cur.MySQL != nil && next.MySQL != nil {
		if changes := mysqlChanges(cur.MySQL, next.MySQL); len(changes) > 0 {
			// A new DSN (a rotated password in dsn_file, another address)
			// applies like the rest: the checker logs in with it from the
			// next check on.
			m := next.MySQL
			if err := r.checker.Reconfigure(mysqlcheck.Config{DSN: m.DSN, Query: m.Query, Interval: m.Interval, Timeout: m.Timeout, Fall: m.Fall, Rise: m.Rise,
				FailAfter: m.FailAfter, Expect: m.Expect, ReplicationInterval: m.ReplicationInterval}); err != nil {
				refused = append(refused, "mysql: "+err.Error())
			} else {
				mysqlApplied = true
				applied = append(applied, "mysql "+strings.Join(changes, " "))
				// Fencing logs in as the check does (the DSN parsed
				// for the checker, so this fails only in theory).
				if r.db != nil && cur.MySQL.DSN != m.DSN {
					if err := r.db.SetDSN(m.DSN); err != nil {
						refused = append(refused, "mysql dsn for read_only fencing: "+err.Error())
					}
				}
			}
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
				var parts []string
				if cur.VIP.GARPCount != vc.GARPCount {
					parts = append(parts, fmt.Sprintf("garp_count=%d", vc.GARPCount))
				}
				if cur.VIP.GARPInterval != vc.GARPInterval {
					parts = append(parts, "garp_interval="+vc.GARPInterval.String())
				}
				applied = append(applied, strings.Join(parts, " "))
			}
		}
		if cur.VIP != nil && cur.VIP.GARPRefresh != next.VIP.GARPRefresh {
			applied = append(applied, "garp_refresh="+next.VIP.GARPRefresh.String())
		}
	}
	if cur.Failover.Preempt != next.Failover.Preempt || cur.Failover.Preferred != next.Failover.Preferred {
		var parts []string
		if cur.Failover.Preempt != next.Failover.Preempt {
			parts = append(parts, fmt.Sprintf("preempt=%t", next.Failover.Preempt))
		}
		if cur.Failover.Preferred != next.Failover.Preferred {
			parts = append(parts, fmt.Sprintf("preferred=%q", next.Failover.Preferred))
		}
		applied = append(applied, "failover "+strings.Join(parts, " "))
	}
	r.agent.Reconfigure(live)
	if r.certs != nil {
		// Rotation without a restart: the files are read again even when
		// the config names the same ones. New connections use the new
		// certificate; those already up keep theirs. Other tls paths in
		// the file need a restart.
		if next.TLS == nil || *next.TLS != *cur.TLS {
			refused = append(refused, "tls (insecure_plaintext or other files)")
		}
		if m, err := r.certs.Reload(); err != nil {
			refused = append(refused, "tls: "+err.Error())
		} else {
			applied = append(applied, fmt.Sprintf("tls certificate reloaded (%s, serial %x, not after %s)", m.ID, m.Cert.Leaf.SerialNumber, m.Cert.Leaf.NotAfter.UTC().Format(time.RFC3339)))
		}
	} else if next.TLS != nil {
		refused = append(refused, "tls (the agent started with insecure_plaintext)")
	}

	// Keep the running values of what was not applied, so the next reload
	// compares against what actually runs.
	merged := *next
	merged.NodeID, merged.Role, merged.DataDir, merged.Bind, merged.Admin = cur.NodeID, cur.Role, cur.DataDir, cur.Bind, cur.Admin
	merged.AdminGroup = cur.AdminGroup
	merged.Peers, merged.Raft, merged.LogJSON, merged.VRRP = cur.Peers, cur.Raft, cur.LogJSON, cur.VRRP
	merged.TLS, merged.InsecurePlaintext = cur.TLS, cur.InsecurePlaintext
	merged.Notify = cur.Notify     // the notifier runs with what it started with
	merged.ARPWatch = cur.ARPWatch // and the ARP watch
	merged.MetricsAddr, merged.CPUPriority = cur.MetricsAddr, cur.CPUPriority
	merged.Failover = cur.Failover
	merged.Failover.Preempt, merged.Failover.Preferred = next.Failover.Preempt, next.Failover.Preferred
	if cur.VIP != nil && next.VIP != nil {
		v := *next.VIP
		v.Interface, v.Addresses, v.Lease = cur.VIP.Interface, cur.VIP.Addresses, cur.VIP.Lease
		merged.VIP = &v
	} else {
		merged.VIP = cur.VIP
	}
	switch {
	case cur.MySQL != nil && next.MySQL != nil && (mysqlApplied || r.checker == nil):
		m := *next.MySQL
		m.FenceTable = cur.MySQL.FenceTable
		merged.MySQL = &m
	default:
		merged.MySQL = cur.MySQL
	}
	r.cur = &merged
	r.log.Info("reloaded config", "file", r.path, "applied", applied, "not_applied_restart_needed", refused)
	return applied, refused, nil
}
