package config

import "strings"

// Summary returns the configuration as plain maps for status output and
// structured logs. Durations are strings like "500ms"; the MySQL password
// and the VRRP auth_pass are replaced by "****", so the result is safe to
// print.
func (c *Config) Summary() map[string]any {
	peers := make([]map[string]any, len(c.Peers))
	for i, p := range c.Peers {
		peers[i] = map[string]any{"id": p.ID, "address": p.Address, "role": p.Role}
	}
	s := map[string]any{
		"file":         c.File,
		"node_id":      c.NodeID,
		"role":         c.Role,
		"data_dir":     c.DataDir,
		"bind":         c.Bind,
		"admin":        c.Admin,
		"admin_group":  c.AdminGroup,
		"peers":        peers,
		"log_level":    c.LogLevel,
		"log_json":     c.LogJSON,
		"metrics_addr": c.MetricsAddr,
		"cpu_priority": c.CPUPriority,
		"failover": map[string]any{
			"preempt":            c.Failover.Preempt,
			"preferred":          c.Failover.Preferred,
			"max_lag":            c.Failover.MaxLag.String(),
			"promote_stale":      c.Failover.PromoteStale,
			"catchup_timeout":    c.Failover.CatchupTimeout.String(),
			"on_catchup_timeout": c.Failover.OnCatchupTimeout,
			"kill_sessions":      c.Failover.KillSessions,
		},
		"raft": map[string]any{
			"heartbeat_timeout":    c.Raft.HeartbeatTimeout.String(),
			"election_timeout":     c.Raft.ElectionTimeout.String(),
			"leader_lease_timeout": c.Raft.LeaderLeaseTimeout.String(),
			"heartbeat_interval":   c.Raft.HeartbeatInterval.String(),
			"commit_timeout":       c.Raft.CommitTimeout.String(),
			"snapshot_threshold":   c.Raft.SnapshotThreshold,
			"snapshot_interval":    c.Raft.SnapshotInterval.String(),
			"trailing_logs":        c.Raft.TrailingLogs,
		},
	}
	s["insecure_plaintext"] = c.InsecurePlaintext
	if t := c.TLS; t != nil {
		s["tls"] = map[string]any{"ca_file": t.CAFile, "cert_file": t.CertFile, "key_file": t.KeyFile}
	}
	peers4 := make([]string, len(c.VRRP.UnicastPeers))
	for i, a := range c.VRRP.UnicastPeers {
		peers4[i] = a.String()
	}
	trusted := make([]string, len(c.VRRP.TrustedRouters))
	for i, a := range c.VRRP.TrustedRouters {
		trusted[i] = a.String()
	}
	authPass := ""
	if c.VRRP.AuthPass != "" {
		authPass = "****"
	}
	s["vrrp"] = map[string]any{
		"mode":              c.VRRP.Mode,
		"version":           c.VRRP.Version,
		"virtual_router_id": c.VRRP.VRID,
		"priority":          c.VRRP.Priority,
		"advert_int":        c.VRRP.AdvertInt.String(),
		"auth_pass":         authPass,
		"unicast_peers":     peers4,
		"interface":         c.VRRP.Interface,

		"trusted_routers":     trusted,
		"untrusted_block_max": c.VRRP.UntrustedBlockMax.String(),
	}
	if v := c.VIP; v != nil {
		addrs := make([]string, len(v.Addresses))
		for i, a := range v.Addresses {
			addrs[i] = a.String()
		}
		s["vip"] = map[string]any{
			"interface":     v.Interface,
			"addresses":     addrs,
			"lease":         v.Lease.String(),
			"garp_count":    v.GARPCount,
			"garp_interval": v.GARPInterval.String(),
			"garp_refresh":  v.GARPRefresh.String(),
		}
		aw := s["vip"].(map[string]any)
		aw["arp_watch"], aw["arp_watch_interval"] = c.ARPWatch != nil, DefaultARPWatchInterval.String()
		if c.ARPWatch != nil {
			aw["arp_watch_interval"] = c.ARPWatch.Interval.String()
		}
	}
	// notify is always shown (empty when absent), like failover.
	nf := Notify{Instance: DefaultNotifyInstance, Timeout: DefaultNotifyTimeout}
	if c.Notify != nil {
		nf = *c.Notify
	}
	webhook := ""
	if nf.Webhook != "" {
		webhook = RedactURL(nf.Webhook)
	}
	s["notify"] = map[string]any{
		"instance":      nf.Instance,
		"notify_master": strings.Join(nf.Master, " "),
		"notify_backup": strings.Join(nf.Backup, " "),
		"notify_fault":  strings.Join(nf.Fault, " "),
		"notify_stop":   strings.Join(nf.Stop, " "),
		"notify":        strings.Join(nf.Notify, " "),
		"fifo":          nf.FIFO,
		"timeout":       nf.Timeout.String(),
		"webhook":       webhook,
	}
	if m := c.MySQL; m != nil {
		s["mysql"] = map[string]any{
			"dsn":        RedactDSN(m.DSN),
			"dsn_file":   m.DSNFile,
			"query":      m.Query,
			"interval":   m.Interval.String(),
			"timeout":    m.Timeout.String(),
			"fall":       m.Fall,
			"rise":       m.Rise,
			"fail_after": m.FailAfter.String(),
			"expect":     m.Expect,

			"replication_interval": m.ReplicationInterval.String(),

			"fence_table": m.FenceTable,
		}
	}
	return s
}
