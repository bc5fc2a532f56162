package config

import (
	"github.com/hashicorp/hcl/v2"
)

// The schema is spelled out with hcl.BodySchema instead of gohcl struct
// tags: the raw structs hold only *hcl.Attribute (see decode.go), which is
// all gohcl would give us too, and gohcl pulls in hclwrite and, with it,
// go-cmp, a module this repository does not otherwise need. Body.Content
// is what gohcl calls underneath, so unknown or misplaced attributes and
// blocks get HCL's own positioned diagnostics ("Unsupported argument ...
// Did you mean ...?") all the same.

// content splits body by schema, reporting anything the schema does not
// allow. hclsyntax always returns the content it could match, so decoding
// continues past unknown keys and later checks still run.
func (c *collector) content(body hcl.Body, attrs []string, blocks ...hcl.BlockHeaderSchema) (hcl.Attributes, hcl.Blocks) {
	s := &hcl.BodySchema{Blocks: blocks}
	for _, name := range attrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: name})
	}
	ct, ds := body.Content(s)
	c.diags(ds)
	if ct == nil {
		return hcl.Attributes{}, nil
	}
	return ct.Attributes, ct.Blocks
}

func decodeFile(c *collector, body hcl.Body) *rawFile {
	a, blocks := c.content(body,
		[]string{"node_id", "role", "data_dir", "bind", "admin", "admin_group", "log_level", "log_json", "insecure_plaintext", "metrics_addr", "cpu_priority"},
		hcl.BlockHeaderSchema{Type: "peer", LabelNames: []string{"id"}},
		hcl.BlockHeaderSchema{Type: "vip"},
		hcl.BlockHeaderSchema{Type: "mysql"},
		hcl.BlockHeaderSchema{Type: "failover"},
		hcl.BlockHeaderSchema{Type: "raft"},
		hcl.BlockHeaderSchema{Type: "vrrp"},
		hcl.BlockHeaderSchema{Type: "tls"},
		hcl.BlockHeaderSchema{Type: "notify"},
	)
	raw := &rawFile{
		NodeID:      a["node_id"],
		Role:        a["role"],
		DataDir:     a["data_dir"],
		Bind:        a["bind"],
		Admin:       a["admin"],
		AdminGroup:  a["admin_group"],
		LogLevel:    a["log_level"],
		LogJSON:     a["log_json"],
		MetricsAddr: a["metrics_addr"],
		CPUPriority: a["cpu_priority"],

		InsecurePlaintext: a["insecure_plaintext"],
	}
	for _, b := range blocks {
		switch b.Type {
		case "peer":
			a, _ := c.content(b.Body, []string{"address", "role"})
			raw.Peers = append(raw.Peers, rawPeer{
				ID: b.Labels[0], DefRange: b.DefRange,
				Address: a["address"], Role: a["role"],
			})
		case "vip":
			a, _ := c.content(b.Body, []string{"interface", "addresses", "lease", "garp_count", "garp_interval", "garp_refresh", "arp_watch", "arp_watch_interval"})
			raw.VIP = append(raw.VIP, rawVIP{
				DefRange: b.DefRange, Interface: a["interface"], Addresses: a["addresses"], Lease: a["lease"],
				GARPCount: a["garp_count"], GARPInterval: a["garp_interval"], GARPRefresh: a["garp_refresh"],
				ARPWatch: a["arp_watch"], ARPWatchInterval: a["arp_watch_interval"],
			})
		case "mysql":
			a, _ := c.content(b.Body, []string{"dsn", "dsn_file", "query", "interval", "timeout", "fall", "rise", "fail_after", "expect", "fence_table", "replication_interval"})
			raw.MySQL = append(raw.MySQL, rawMySQL{
				DefRange: b.DefRange, DSN: a["dsn"], DSNFile: a["dsn_file"], Query: a["query"],
				Interval: a["interval"], Timeout: a["timeout"], Fall: a["fall"], Rise: a["rise"],
				FailAfter: a["fail_after"], Expect: a["expect"],
				ReplicationInterval: a["replication_interval"],
				FenceTable:          a["fence_table"],
			})
		case "failover":
			a, _ := c.content(b.Body, []string{"preempt", "preferred",
				"max_lag", "promote_stale", "catchup_timeout", "on_catchup_timeout", "kill_sessions"})
			raw.Failover = append(raw.Failover, rawFailover{
				DefRange: b.DefRange, Preempt: a["preempt"], Preferred: a["preferred"],
				MaxLag: a["max_lag"], PromoteStale: a["promote_stale"], CatchupTimeout: a["catchup_timeout"],
				OnCatchupTimeout: a["on_catchup_timeout"], KillSessions: a["kill_sessions"],
			})
		case "vrrp":
			a, _ := c.content(b.Body, []string{"mode", "version", "virtual_router_id", "priority",
				"advert_int", "auth_pass", "unicast_peers", "interface", "trusted_routers", "untrusted_block_max"})
			raw.VRRP = append(raw.VRRP, rawVRRP{
				DefRange: b.DefRange, Mode: a["mode"], Version: a["version"], VRID: a["virtual_router_id"],
				Priority: a["priority"], AdvertInt: a["advert_int"], AuthPass: a["auth_pass"],
				UnicastPeers: a["unicast_peers"], Interface: a["interface"],
				Trusted: a["trusted_routers"], UntrustedMax: a["untrusted_block_max"],
			})
		case "notify":
			raw.Notify = append(raw.Notify, decodeNotify(c, b))
		case "tls":
			a, _ := c.content(b.Body, []string{"ca_file", "cert_file", "key_file"})
			raw.TLS = append(raw.TLS, rawTLS{DefRange: b.DefRange, CAFile: a["ca_file"], CertFile: a["cert_file"], KeyFile: a["key_file"]})
		case "raft":
			a, _ := c.content(b.Body, []string{"heartbeat_timeout", "election_timeout", "leader_lease_timeout",
				"heartbeat_interval", "commit_timeout", "snapshot_threshold", "snapshot_interval", "trailing_logs"})
			raw.Raft = append(raw.Raft, rawRaft{
				DefRange: b.DefRange, HeartbeatTimeout: a["heartbeat_timeout"], ElectionTimeout: a["election_timeout"],
				LeaderLeaseTimeout: a["leader_lease_timeout"], HeartbeatInterval: a["heartbeat_interval"], CommitTimeout: a["commit_timeout"],
				SnapshotThreshold: a["snapshot_threshold"], SnapshotInterval: a["snapshot_interval"],
				TrailingLogs: a["trailing_logs"],
			})
		}
	}
	return raw
}
