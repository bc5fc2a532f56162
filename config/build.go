package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/raftvip/raftvip/internal/sched"
	"github.com/raftvip/raftvip/mysqlcheck"
)

// Defaults for everything optional.
const (
	DefaultLease        = time.Second
	DefaultGARPCount    = 5
	DefaultGARPInterval = 200 * time.Millisecond
	// DefaultARPWatchInterval is vip.arp_watch_interval's default.
	DefaultARPWatchInterval = time.Second
	DefaultQuery            = "SELECT 1"
	DefaultInterval         = 500 * time.Millisecond
	DefaultTimeout          = time.Second
	DefaultFall             = 2
	DefaultRise             = 2
	// DefaultFailAfter is mysql.fail_after's default: why 1 s is in
	// mysqlcheck's package doc (a hung server is unhealthy 1.0–1.5 s after it
	// hung; a 600 ms pause is not a failure).
	DefaultFailAfter = mysqlcheck.DefaultFailAfter
	// DefaultReplicationInterval is mysql.replication_interval's default;
	// why 2 s is in mysqlcheck's package doc.
	DefaultReplicationInterval = mysqlcheck.DefaultReplicationInterval
	// maxReplicationInterval bounds mysql.replication_interval: a broken
	// replication is seen up to that much late (docs/safety.md, rule 13),
	// and failover.max_lag's default is 10 s.
	maxReplicationInterval = 10 * time.Second
	DefaultLogLevel        = "info"

	DefaultMaxLag           = 10 * time.Second
	DefaultCatchupTimeout   = 10 * time.Second
	DefaultOnCatchupTimeout = OnCatchupWritable
	DefaultKillSessions     = true

	DefaultHeartbeatTimeout = 500 * time.Millisecond
	DefaultElectionTimeout  = 500 * time.Millisecond
	// leader_lease_timeout = heartbeat_timeout (was 400 ms; issue 11, idle
	// cost): with the default heartbeat_interval of 150 ms the longest gap
	// between heartbeats, 300 ms, leaves the lease check 200 ms of margin.
	// A heartbeat_timeout of 600 ms would have allowed the same pace
	// within "interval <= heartbeat_timeout/4", but the timeout is what a
	// follower's detection of a lost leader waits for (HT..3·HT): a pulled
	// cable's election started later (bench p50 1025 ms at 600 ms, 946 ms
	// at 500 ms, same code).
	DefaultLeaderLeaseTimeout = 500 * time.Millisecond
	// The default heartbeat_interval is 3/10 of the shorter of the two
	// timeouts: the longest gap, 2·interval, is then 0.6 of either, so a
	// follower gets more than one and a half heartbeats per timeout and
	// the lease check the margin above: 150ms.
	heartbeatTenthsPerTimeout = 3
	DefaultCommitTimeout      = 2 * time.Second
	DefaultSnapshotInterval   = 120 * time.Second
	DefaultSnapshotThreshold  = 8192
	DefaultTrailingLogs       = 10240
)

// DefaultAdmin is the admin socket path used when admin is not set.
func DefaultAdmin(nodeID string) string {
	return "/run/raftvip/" + nodeID + ".sock"
}

// maxSocketPath is the longest unix socket path Linux accepts: sun_path is
// 108 bytes including the terminating NUL. Longer paths fail only at bind
// time with a baffling "invalid argument", so they are caught here.
const maxSocketPath = 107

// maxIfName is IFNAMSIZ-1: Linux interface names are at most 15 bytes.
const maxIfName = 15

var logLevels = []string{"trace", "debug", "info", "warn", "error"}

// build converts the raw decoded file into a Config, recording every
// problem in c. The result is meaningful only when c has no problems.
func build(c *collector, raw *rawFile, body hcl.Body, filename string) *Config {
	top := fileStart(body, filename)
	cfg := &Config{}

	var nodeSt, roleSt state
	cfg.NodeID, nodeSt = c.nonEmptyStr(raw.NodeID, "node_id")
	if nodeSt == absent {
		c.at(top, "node_id is required: this node's id, the name of one of the peer blocks")
	}
	cfg.Role, roleSt = c.str(raw.Role, "role")
	switch roleSt {
	case absent:
		c.at(top, `role is required: "db" or "witness"`)
	case valid:
		if !validRole(cfg.Role) {
			c.at(raw.Role.Range, `role: %q is not a role; want "db" or "witness"`, cfg.Role)
			roleSt = invalid
		}
	}
	var st state
	cfg.DataDir, st = c.nonEmptyStr(raw.DataDir, "data_dir")
	if st == absent {
		c.at(top, "data_dir is required: the directory for the Raft log and snapshots")
	}
	cfg.Bind, st = c.nonEmptyStr(raw.Bind, "bind")
	bindOK := false
	switch st {
	case absent:
		c.at(top, `bind is required: the Raft listen address, host:port like "10.99.0.11:7400"`)
	case valid:
		if msg := checkHostPort(cfg.Bind, false); msg != "" {
			c.at(raw.Bind.Range, "bind: %s", msg)
		} else {
			bindOK = true
		}
	}

	cfg.Admin, st = c.nonEmptyStr(raw.Admin, "admin")
	if st == absent && nodeSt == valid {
		cfg.Admin = DefaultAdmin(cfg.NodeID)
	}
	if len(cfg.Admin) > maxSocketPath {
		where := top
		if raw.Admin != nil {
			where = raw.Admin.Range
		} else if raw.NodeID != nil {
			where = raw.NodeID.Range
		}
		c.at(where, "admin: socket path %q is %d bytes; Linux unix socket paths are limited to %d", cfg.Admin, len(cfg.Admin), maxSocketPath)
	}

	cfg.AdminGroup = buildAdminGroup(c, raw.AdminGroup)

	level, st := c.str(raw.LogLevel, "log_level")
	cfg.LogLevel = DefaultLogLevel
	if st == valid {
		if l := strings.ToLower(level); slices.Contains(logLevels, l) {
			cfg.LogLevel = l
		} else {
			c.at(raw.LogLevel.Range, "log_level: %q is not a level; want one of %s", level, strings.Join(logLevels, ", "))
		}
	}
	cfg.LogJSON, _ = c.boolean(raw.LogJSON, "log_json")
	if addr, st := c.nonEmptyStr(raw.MetricsAddr, "metrics_addr"); st == valid {
		if msg := checkHostPort(addr, false); msg != "" {
			c.at(raw.MetricsAddr.Range, "metrics_addr: %s", msg)
		} else {
			cfg.MetricsAddr = addr
		}
	}

	cfg.CPUPriority = string(sched.High)
	if s, st := c.str(raw.CPUPriority, "cpu_priority"); st == valid {
		if p, err := sched.Parse(s); err != nil {
			c.at(raw.CPUPriority.Range, "cpu_priority: %s", err)
		} else {
			cfg.CPUPriority = string(p)
		}
	}

	peerRoles := buildPeers(c, cfg, raw, top)
	checkSelf(c, cfg, raw, nodeSt, roleSt, peerRoles)
	if bindOK && nodeSt == valid {
		checkBind(c, cfg, raw)
	}

	isDB := roleSt == valid && cfg.Role == RoleDB
	isWitness := roleSt == valid && cfg.Role == RoleWitness

	for i := 1; i < len(raw.VIP); i++ {
		c.at(raw.VIP[i].DefRange, "only one vip block is allowed (the first is at %s); list every address in its addresses", fmtRange(raw.VIP[0].DefRange))
	}
	var vip *VIP
	if len(raw.VIP) > 0 {
		// A witness may carry the same vip block as the db nodes (one
		// template for all hosts); it is checked but not used there.
		if vip = buildVIP(c, &raw.VIP[0]); !isWitness {
			cfg.VIP = vip
		}
		// The watch runs on a witness too: it sees the VIP from outside.
		cfg.ARPWatch = buildARPWatch(c, &raw.VIP[0], vip)
	} else if isDB {
		c.at(raw.Role.Range, `role = "db" needs a vip block: the interface and addresses this node takes over when it leads`)
	}

	for i := 1; i < len(raw.MySQL); i++ {
		c.at(raw.MySQL[i].DefRange, "only one mysql block is allowed (the first is at %s)", fmtRange(raw.MySQL[0].DefRange))
	}
	switch {
	case len(raw.MySQL) > 0 && isWitness:
		c.at(raw.MySQL[0].DefRange, `mysql: a witness has no database; remove the mysql block or set role = "db"`)
	case len(raw.MySQL) > 0:
		cfg.MySQL = buildMySQL(c, &raw.MySQL[0], filename)
	case isDB:
		c.at(raw.Role.Range, `role = "db" needs a mysql block: the local health check that decides whether this node may hold the VIP`)
	}

	for i := 1; i < len(raw.Failover); i++ {
		c.at(raw.Failover[i].DefRange, "only one failover block is allowed (the first is at %s)", fmtRange(raw.Failover[0].DefRange))
	}
	var rf rawFailover
	if len(raw.Failover) > 0 {
		rf = raw.Failover[0]
	}
	cfg.Failover = buildFailover(c, cfg, &rf, peerRoles)

	for i := 1; i < len(raw.VRRP); i++ {
		c.at(raw.VRRP[i].DefRange, "only one vrrp block is allowed (the first is at %s)", fmtRange(raw.VRRP[0].DefRange))
	}
	var rv *rawVRRP
	if len(raw.VRRP) > 0 {
		rv = &raw.VRRP[0]
	}
	cfg.VRRP = buildVRRP(c, rv, vip, isWitness)

	for i := 1; i < len(raw.Raft); i++ {
		c.at(raw.Raft[i].DefRange, "only one raft block is allowed (the first is at %s)", fmtRange(raw.Raft[0].DefRange))
	}
	var rr rawRaft
	if len(raw.Raft) > 0 {
		rr = raw.Raft[0]
	} else {
		rr.DefRange = top
	}
	cfg.Raft = buildRaft(c, &rr)
	buildTLS(c, cfg, raw, top, filename, nodeSt == valid)
	cfg.Notify = buildNotify(c, raw.Notify, isWitness)
	return cfg
}

func validRole(r string) bool { return r == RoleDB || r == RoleWitness }

// buildPeers fills cfg.Peers and returns, per peer id, the state of its
// role so later checks only compare against roles known to be valid.
func buildPeers(c *collector, cfg *Config, raw *rawFile, top hcl.Range) map[string]state {
	roles := map[string]state{}
	firstByID := map[string]hcl.Range{}
	idByAddr := map[string]string{}
	allRolesValid := true
	dbPeers := 0
	for _, rp := range raw.Peers {
		p := Peer{ID: rp.ID}
		key := fmt.Sprintf("peer %q", rp.ID)
		if rp.ID == "" {
			c.at(rp.DefRange, "peer name must not be empty; it is the node's Raft id")
		}
		first, dup := firstByID[rp.ID]
		if dup {
			// Still check its attributes below, so every problem shows
			// in one run, but keep only the first definition.
			c.at(rp.DefRange, "%s is defined twice (first at %s); peer names must be unique", key, fmtRange(first))
		} else {
			firstByID[rp.ID] = rp.DefRange
		}

		var st state
		p.Address, st = c.nonEmptyStr(rp.Address, key+".address")
		switch st {
		case absent:
			c.at(rp.DefRange, `%s: address is required: host:port where the peer's Raft listens, like "10.99.0.12:7400"`, key)
		case valid:
			if msg := checkHostPort(p.Address, true); msg != "" {
				c.at(rp.Address.Range, "%s.address: %s", key, msg)
			} else if other, taken := idByAddr[p.Address]; taken && !dup {
				c.at(rp.Address.Range, "%s.address: %q is already the address of peer %q; each peer needs its own", key, p.Address, other)
			} else if !taken {
				idByAddr[p.Address] = p.ID
			}
		}

		p.Role, st = c.str(rp.Role, key+".role")
		switch st {
		case absent:
			c.at(rp.DefRange, `%s: role is required: "db" or "witness"`, key)
		case valid:
			if !validRole(p.Role) {
				c.at(rp.Role.Range, `%s.role: %q is not a role; want "db" or "witness"`, key, p.Role)
				st = invalid
			}
		}
		if dup {
			continue
		}
		if st != valid {
			allRolesValid = false
		} else if p.Role == RoleDB {
			dbPeers++
		}
		roles[p.ID] = st
		cfg.Peers = append(cfg.Peers, p)
	}

	where := top
	if len(raw.Peers) > 0 {
		where = raw.Peers[0].DefRange
	}
	if n := len(cfg.Peers); n < 3 {
		c.at(where, "%d distinct peer(s), want at least 3: a Raft group needs 3 voters so one can fail (list every node, this one included: two db hosts and a witness)", n)
	}
	if allRolesValid && len(cfg.Peers) > 0 && dbPeers == 0 {
		c.at(where, `no peer has role = "db": only a db node can hold the VIP, so the group could never serve it`)
	}
	return roles
}

// checkSelf ties this node to its peer entry.
func checkSelf(c *collector, cfg *Config, raw *rawFile, nodeSt, roleSt state, peerRoles map[string]state) {
	if nodeSt != valid {
		return
	}
	self, ok := cfg.PeerByID(cfg.NodeID)
	if !ok {
		ids := make([]string, len(cfg.Peers))
		for i, p := range cfg.Peers {
			ids[i] = p.ID
		}
		c.at(raw.NodeID.Range, "node_id: %q is not one of the peers (%s); every node lists the whole group, itself included", cfg.NodeID, strings.Join(ids, ", "))
		return
	}
	if roleSt == valid && peerRoles[self.ID] == valid && self.Role != cfg.Role {
		c.at(raw.Role.Range, "role: this node is %q but its peer block %q says role = %q; they must agree", cfg.Role, self.ID, self.Role)
	}
}

// checkBind ties bind to this node's own peer address: the other nodes dial
// the peer address, so a bind elsewhere (a typo, another host's address, a
// port off by one) leaves this node unreachable, which shows only when it
// should vote or lead. A wildcard on the peer's port listens there too and is
// allowed, with a warning: it also listens on every other address of the
// host, the VIP's included.
func checkBind(c *collector, cfg *Config, raw *rawFile) {
	var rp *rawPeer
	for i := range raw.Peers {
		if raw.Peers[i].ID == cfg.NodeID {
			rp = &raw.Peers[i]
			break
		}
	}
	self, ok := cfg.PeerByID(cfg.NodeID)
	if !ok || rp == nil || rp.Address == nil || checkHostPort(self.Address, true) != "" {
		return // reported by checkSelf or buildPeers
	}
	bhost, bport, _ := net.SplitHostPort(cfg.Bind)
	phost, pport, _ := net.SplitHostPort(self.Address)
	bp, _ := strconv.ParseUint(bport, 10, 16) // checkHostPort made both numbers
	pp, _ := strconv.ParseUint(pport, 10, 16)
	samePort := bp == pp
	if samePort && sameHost(bhost, phost) {
		return
	}
	wildcard := bhost == ""
	if ip, err := netip.ParseAddr(bhost); err == nil && ip.IsUnspecified() {
		wildcard = true
	}
	at := fmtRange(rp.Address.Range)
	switch {
	case wildcard && samePort:
		c.warn(raw.Bind.Range, "bind: %q listens on every address of this host (the VIP's too), not only on this node's peer address %q (peer %q at %s); bind = %q listens only where the other nodes dial",
			cfg.Bind, self.Address, self.ID, at, self.Address)
	case wildcard:
		c.at(raw.Bind.Range, "bind: %q listens on port %s, but this node's peer address %q (peer %q at %s) has port %s, where the other nodes dial; use the same port",
			cfg.Bind, bport, self.Address, self.ID, at, pport)
	default:
		c.at(raw.Bind.Range, "bind: %q is not this node's peer address %q (peer %q at %s), where the other nodes dial; set bind = %q",
			cfg.Bind, self.Address, self.ID, at, self.Address)
	}
}

// sameHost compares hosts as addresses when both are IPs (so "::1" and
// "0:0::1" agree), else as names without case.
func sameHost(a, b string) bool {
	ia, errA := netip.ParseAddr(a)
	ib, errB := netip.ParseAddr(b)
	if errA == nil && errB == nil {
		return ia.Unmap() == ib.Unmap()
	}
	return strings.EqualFold(a, b)
}

// checkHostPort returns "" when s is host:port with a usable numeric port.
// needHost is set for addresses other nodes dial, which need a concrete host.
func checkHostPort(s string, needHost bool) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return fmt.Sprintf("%q is not host:port (%s)", s, ae.Err)
		}
		return fmt.Sprintf("%q is not host:port", s)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Sprintf("%q: port %q must be a number 1-65535", s, port)
	}
	if needHost {
		if host == "" {
			return fmt.Sprintf("%q has no host; other nodes dial this address", s)
		}
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
			return fmt.Sprintf("%q is a wildcard address that other nodes cannot dial", s)
		}
	}
	return ""
}

func buildVIP(c *collector, r *rawVIP) *VIP {
	v := &VIP{}
	var st state
	v.Interface, st = c.nonEmptyStr(r.Interface, "vip.interface")
	switch {
	case st == absent:
		c.at(r.DefRange, `vip: interface is required: the link the VIP is added to, like "eth0"`)
	case st == valid && len(v.Interface) > maxIfName:
		c.at(r.Interface.Range, "vip.interface: %q is longer than %d bytes, the Linux limit for interface names", v.Interface, maxIfName)
	}

	elems, st := c.strList(r.Addresses, "vip.addresses", `"10.99.0.10/24"`)
	switch {
	case st == absent:
		c.at(r.DefRange, `vip: addresses is required: the VIPs as CIDRs, like ["10.99.0.10/24"]`)
	case st == valid && len(elems) == 0:
		c.at(r.Addresses.Range, `vip.addresses must list at least one address, like ["10.99.0.10/24"]`)
	}
	seen := map[netip.Addr]hcl.Range{}
	for _, e := range elems {
		p, msg := parseVIPPrefix(e.val)
		if msg != "" {
			c.at(e.rng, "vip.addresses: %s", msg)
			continue
		}
		if first, dup := seen[p.Addr()]; dup {
			c.at(e.rng, "vip.addresses: %s is listed twice (first at %s)", p.Addr(), fmtRange(first))
			continue
		}
		seen[p.Addr()] = e.rng
		v.Addresses = append(v.Addresses, p)
	}

	lease, st := c.duration(r.Lease, "vip.lease")
	if st == valid {
		switch {
		case lease < time.Second:
			c.at(r.Lease.Range, `vip.lease = %q must be at least "1s": the kernel's valid_lft counts whole seconds`, lease)
		case lease%time.Second != 0:
			c.at(r.Lease.Range, `vip.lease = %q (%s) must be whole seconds like "1s" or "2s": the kernel's valid_lft counts whole seconds`, c.text(r.Lease), lease)
		}
	}
	v.Lease = orDefault(lease, st, DefaultLease)

	count, st := c.integer(r.GARPCount, "vip.garp_count", 0, 100)
	v.GARPCount = int(orDefault(count, st, DefaultGARPCount))
	countSt := st

	v.GARPInterval, st = c.duration(r.GARPInterval, "vip.garp_interval")
	switch {
	case st == valid && v.GARPInterval < 0:
		c.at(r.GARPInterval.Range, "vip.garp_interval = %q must not be negative", v.GARPInterval)
	case st == valid && v.GARPInterval == 0 && countSt != invalid && v.GARPCount > 1:
		c.at(r.GARPInterval.Range, "vip.garp_interval must be > 0 when garp_count = %d: the gratuitous ARPs need spacing", v.GARPCount)
	}
	v.GARPInterval = orDefault(v.GARPInterval, st, DefaultGARPInterval)

	v.GARPRefresh, st = c.duration(r.GARPRefresh, "vip.garp_refresh")
	if st == valid && v.GARPRefresh < 0 {
		c.at(r.GARPRefresh.Range, `vip.garp_refresh = %q must not be negative ("0s" turns periodic re-announcing off)`, v.GARPRefresh)
	}
	v.GARPRefresh = orDefault(v.GARPRefresh, st, 0)
	return v
}

// buildARPWatch reads vip.arp_watch and vip.arp_watch_interval; nil when
// the watch is off.
func buildARPWatch(c *collector, r *rawVIP, v *VIP) *ARPWatch {
	on, st := c.boolean(r.ARPWatch, "vip.arp_watch")
	on = orDefault(on, st, true)
	iv, ist := c.duration(r.ARPWatchInterval, "vip.arp_watch_interval")
	if ist == valid && (iv < time.Second || iv > time.Hour) {
		c.at(r.ARPWatchInterval.Range, `vip.arp_watch_interval = %q is out of range; want "1s" to "1h" (one ARP request per address per interval: not more than one a second)`, c.text(r.ARPWatchInterval))
	}
	if !on {
		return nil
	}
	return &ARPWatch{Interface: v.Interface, Addresses: v.Addresses, Interval: orDefault(iv, ist, DefaultARPWatchInterval)}
}

// parseVIPPrefix accepts an IPv4 address with its prefix length, such as
// 10.99.0.10/24; the address is kept (not masked) since it is the VIP.
func parseVIPPrefix(s string) (netip.Prefix, string) {
	const want = "want CIDR like 10.99.0.10/24"
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if !strings.Contains(s, "/") {
			if _, err := netip.ParseAddr(s); err == nil {
				return p, fmt.Sprintf("%q has no prefix length; %s", s, want)
			}
		}
		return p, fmt.Sprintf("%q is not a valid CIDR; %s", s, want)
	}
	a := p.Addr()
	if !a.Is4() {
		return p, fmt.Sprintf("%q is IPv6; only IPv4 VIPs are supported (they are announced with gratuitous ARP); %s", s, want)
	}
	if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return p, fmt.Sprintf("%q cannot be a VIP (unspecified, loopback, multicast or broadcast address); %s", s, want)
	}
	if p.Bits() <= 30 {
		if a == p.Masked().Addr() {
			return p, fmt.Sprintf("%q is the network address of %s, not a host address; %s", s, p.Masked(), want)
		}
		b := a.As4()
		hostBits := uint32(math.MaxUint32) >> p.Bits()
		n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if n&hostBits == hostBits {
			return p, fmt.Sprintf("%q is the broadcast address of %s, not a host address; %s", s, p.Masked(), want)
		}
	}
	return p, ""
}

func buildMySQL(c *collector, r *rawMySQL, filename string) *MySQL {
	m := &MySQL{}
	dsn, dsnSt := c.nonEmptyStr(r.DSN, "mysql.dsn")
	file, fileSt := c.nonEmptyStr(r.DSNFile, "mysql.dsn_file")
	switch {
	case r.DSN != nil && r.DSNFile != nil && dsnSt != absent && fileSt != absent:
		later := r.DSNFile
		if r.DSN.Range.Start.Byte > later.Range.Start.Byte {
			later = r.DSN
		}
		c.at(later.Range, "mysql: set exactly one of dsn or dsn_file, not both")
	case dsnSt == absent && fileSt == absent:
		c.at(r.DefRange, `mysql: dsn or dsn_file is required: how to reach the local MySQL, like dsn_file = "/etc/raftvip/dsn"`)
	case dsnSt == valid:
		if msg := checkDSN(dsn); msg != "" {
			c.at(r.DSN.Range, "mysql.dsn: %s", msg)
		}
		m.DSN = dsn
	case fileSt == valid:
		if !filepath.IsAbs(file) {
			// Relative to the config file, not to wherever the daemon
			// happens to be started from (systemd starts it in /).
			file = filepath.Join(filepath.Dir(filename), file)
		}
		m.DSNFile = file
		b, err := os.ReadFile(file)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			c.at(r.DSNFile.Range, "mysql.dsn_file: cannot read %q: %v", file, err)
			break
		}
		m.DSN = strings.TrimSpace(string(b))
		if m.DSN == "" {
			c.at(r.DSNFile.Range, "mysql.dsn_file: %q is empty; it must hold the DSN, like user:password@tcp(10.99.0.11:3306)/ (this host's address)", file)
		} else if msg := checkDSN(m.DSN); msg != "" {
			c.at(r.DSNFile.Range, "mysql.dsn_file: the DSN in %q: %s", file, msg)
		}
	}

	q, st := c.nonEmptyStr(r.Query, "mysql.query")
	m.Query = orDefault(q, st, DefaultQuery)

	m.Interval = positiveDuration(c, r.Interval, "mysql.interval", DefaultInterval)
	m.Timeout = positiveDuration(c, r.Timeout, "mysql.timeout", DefaultTimeout)

	fall, st := c.integer(r.Fall, "mysql.fall", 1, math.MaxInt32)
	m.Fall = int(orDefault(fall, st, DefaultFall))
	rise, st := c.integer(r.Rise, "mysql.rise", 1, math.MaxInt32)
	m.Rise = int(orDefault(rise, st, DefaultRise))
	// fail_after complements fall: fall counts the failures that are an
	// answer or a refusal, fail_after bounds the time without a success
	// (timeouts). Configs without it get the default and stay valid.
	m.FailAfter = positiveDuration(c, r.FailAfter, "mysql.fail_after", DefaultFailAfter)
	ri, st := c.duration(r.ReplicationInterval, "mysql.replication_interval")
	switch {
	case st == valid && (ri < m.Interval || ri > maxReplicationInterval):
		c.at(r.ReplicationInterval.Range, "mysql.replication_interval = %q is out of range; want from mysql.interval (%s) to %s",
			c.text(r.ReplicationInterval), m.Interval, maxReplicationInterval)
		ri = DefaultReplicationInterval
	case st != valid:
		ri = DefaultReplicationInterval
	}
	m.ReplicationInterval = ri
	if expect, st := c.str(r.Expect, "mysql.expect"); st == valid {
		if expect == "" {
			c.at(r.Expect.Range, `mysql.expect = "" would require an empty first value; leave expect out for no condition`)
		} else {
			m.Expect = expect
		}
	}

	table, st := c.str(r.FenceTable, "mysql.fence_table")
	if st == valid && table != "" {
		// mysqlcheck's rule is the one that counts: it is what writes the
		// table. fenceTableDetail only says more precisely what is wrong.
		if err := mysqlcheck.ValidFenceTable(table); err != nil {
			msg := fenceTableDetail(table)
			if msg == "" {
				msg = err.Error()
			}
			c.at(r.FenceTable.Range, "mysql.fence_table: %s", msg)
		} else {
			m.FenceTable = table
		}
	}
	return m
}

// fenceTableDetail says what is wrong with a fence table name that
// mysqlcheck.ValidFenceTable refuses ("db.table", each part 1 to 64 of
// letters, digits, _ and $), or "" when it finds nothing.
func fenceTableDetail(s string) string {
	const want = `want db.table like "raftvip.fence"`
	db, table, ok := strings.Cut(s, ".")
	if !ok || strings.Contains(table, ".") {
		return fmt.Sprintf("%q is not db.table; %s", s, want)
	}
	for _, part := range []struct{ what, name string }{{"database", db}, {"table", table}} {
		if part.name == "" {
			return fmt.Sprintf("%q: the %s name is empty; %s", s, part.what, want)
		}
		if len(part.name) > 64 {
			return fmt.Sprintf("%q: the %s name is %d bytes, more than MySQL's 64; %s", s, part.what, len(part.name), want)
		}
		for _, r := range part.name {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '$') {
				return fmt.Sprintf("%q: the %s name %q has %q; only letters, digits, _ and $ are allowed; %s", s, part.what, part.name, r, want)
			}
		}
	}
	return ""
}

func positiveDuration(c *collector, a *hcl.Attribute, key string, def time.Duration) time.Duration {
	d, st := c.duration(a, key)
	if st == valid && d <= 0 {
		c.at(a.Range, "%s = %q must be > 0", key, d)
		return def
	}
	return orDefault(d, st, def)
}

func buildFailover(c *collector, cfg *Config, r *rawFailover, peerRoles map[string]state) Failover {
	var f Failover
	preempt, preemptSt := c.boolean(r.Preempt, "failover.preempt")
	f.Preempt = preempt
	pref, prefSt := c.str(r.Preferred, "failover.preferred")
	f.Preferred = pref
	if prefSt == valid && pref != "" {
		p, ok := cfg.PeerByID(pref)
		switch {
		case !ok:
			c.at(r.Preferred.Range, "failover.preferred: %q is not a peer; want the id of a db peer%s", pref, dbPeerList(cfg))
		case peerRoles[pref] == valid && p.Role != RoleDB:
			c.at(r.Preferred.Range, "failover.preferred: %q is a %s; only a db peer can hold the VIP%s", pref, p.Role, dbPeerList(cfg))
		}
		if preemptSt != invalid && !preempt {
			c.at(r.Preferred.Range, "failover.preferred only matters with preempt = true (without preemption the VIP stays where it is until that node fails); set preempt = true or remove preferred")
		}
	}
	if preemptSt == valid && preempt && prefSt != invalid && pref == "" {
		c.at(r.Preempt.Range, "failover.preempt = true needs failover.preferred: the db peer to move the VIP back to once it is healthy")
	}

	f.MaxLag = positiveDuration(c, r.MaxLag, "failover.max_lag", DefaultMaxLag)
	f.PromoteStale, _ = c.boolean(r.PromoteStale, "failover.promote_stale")
	f.CatchupTimeout = positiveDuration(c, r.CatchupTimeout, "failover.catchup_timeout", DefaultCatchupTimeout)
	f.OnCatchupTimeout = DefaultOnCatchupTimeout
	if on, st := c.str(r.OnCatchupTimeout, "failover.on_catchup_timeout"); st == valid {
		if on == OnCatchupWritable || on == OnCatchupStayReadOnly {
			f.OnCatchupTimeout = on
		} else {
			c.at(r.OnCatchupTimeout.Range, "failover.on_catchup_timeout: %q is not a choice; want %q or %q (what a new holder does when it has not applied its relay log within catchup_timeout)",
				on, OnCatchupWritable, OnCatchupStayReadOnly)
		}
	}
	kill, st := c.boolean(r.KillSessions, "failover.kill_sessions")
	f.KillSessions = orDefault(kill, st, DefaultKillSessions)
	return f
}

// dbPeerList lists the db peers for a message, or "" when there are none.
func dbPeerList(cfg *Config) string {
	var ids []string
	for _, p := range cfg.Peers {
		if p.Role == RoleDB {
			ids = append(ids, p.ID)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return " (" + strings.Join(ids, ", ") + ")"
}

// buildRaft mirrors raft.ValidateConfig (hashicorp/raft v1.7.3) so that a
// bad value is reported at its line instead of failing at startup.
func buildRaft(c *collector, r *rawRaft) Raft {
	var out Raft
	timeout := func(a *hcl.Attribute, key string, def, min time.Duration) (time.Duration, state) {
		d, st := c.duration(a, "raft."+key)
		if st == valid && d < min {
			c.at(a.Range, "raft.%s = %q is too low; hashicorp/raft requires at least %s", key, d, min)
			st = invalid
		}
		return orDefault(d, st, def), st
	}
	var hbSt, elSt, llSt state
	out.HeartbeatTimeout, hbSt = timeout(r.HeartbeatTimeout, "heartbeat_timeout", DefaultHeartbeatTimeout, 5*time.Millisecond)
	out.ElectionTimeout, elSt = timeout(r.ElectionTimeout, "election_timeout", DefaultElectionTimeout, 5*time.Millisecond)
	out.LeaderLeaseTimeout, llSt = timeout(r.LeaderLeaseTimeout, "leader_lease_timeout", DefaultLeaderLeaseTimeout, 5*time.Millisecond)
	var hiSt state
	out.HeartbeatInterval, hiSt = c.duration(r.HeartbeatInterval, "raft.heartbeat_interval")
	if hiSt == valid && out.HeartbeatInterval < time.Millisecond {
		c.at(r.HeartbeatInterval.Range, "raft.heartbeat_interval = %q is too low; at least 1ms", out.HeartbeatInterval)
		hiSt = invalid
	}
	out.CommitTimeout, _ = timeout(r.CommitTimeout, "commit_timeout", DefaultCommitTimeout, time.Millisecond)
	out.SnapshotInterval, _ = timeout(r.SnapshotInterval, "snapshot_interval", DefaultSnapshotInterval, 5*time.Millisecond)

	n, st := c.integer(r.SnapshotThreshold, "raft.snapshot_threshold", 0, math.MaxInt64)
	out.SnapshotThreshold = uint64(orDefault(n, st, DefaultSnapshotThreshold))
	n, st = c.integer(r.TrailingLogs, "raft.trailing_logs", 0, math.MaxInt64)
	out.TrailingLogs = uint64(orDefault(n, st, DefaultTrailingLogs))

	first := func(as ...*hcl.Attribute) hcl.Range {
		for _, a := range as {
			if a != nil {
				return a.Range
			}
		}
		return r.DefRange
	}
	if hbSt != invalid && llSt != invalid && out.LeaderLeaseTimeout > out.HeartbeatTimeout {
		c.at(first(r.LeaderLeaseTimeout, r.HeartbeatTimeout),
			"raft.leader_lease_timeout (%s) must be <= raft.heartbeat_timeout (%s): hashicorp/raft refuses to start otherwise",
			out.LeaderLeaseTimeout, out.HeartbeatTimeout)
	}
	if hiSt == absent && hbSt != invalid && llSt != invalid {
		out.HeartbeatInterval = min(out.HeartbeatTimeout, out.LeaderLeaseTimeout) * heartbeatTenthsPerTimeout / 10
	}
	// The leader sends a heartbeat every interval to 2·interval (raft's
	// spacing, cluster/pace.go): the longest gap must leave a follower
	// more than one heartbeat per timeout and the lease check one per lease.
	if hiSt == valid && hbSt != invalid && 10*out.HeartbeatInterval > heartbeatTenthsPerTimeout*out.HeartbeatTimeout {
		c.at(r.HeartbeatInterval.Range,
			"raft.heartbeat_interval (%s) must be <= 3/10 of raft.heartbeat_timeout (%s): the leader's heartbeats come every interval to 2·interval, and a follower needs more than one and a half per timeout",
			out.HeartbeatInterval, out.HeartbeatTimeout*heartbeatTenthsPerTimeout/10)
	}
	if hiSt == valid && llSt != invalid && 2*out.HeartbeatInterval >= out.LeaderLeaseTimeout {
		c.at(r.HeartbeatInterval.Range,
			"raft.heartbeat_interval (%s) must be < raft.leader_lease_timeout/2 (%s): the leader steps down when no quorum answered a heartbeat within its lease",
			out.HeartbeatInterval, out.LeaderLeaseTimeout/2)
	}
	if hbSt != invalid && elSt != invalid && out.ElectionTimeout < out.HeartbeatTimeout {
		c.at(first(r.ElectionTimeout, r.HeartbeatTimeout),
			"raft.election_timeout (%s) must be >= raft.heartbeat_timeout (%s): hashicorp/raft refuses to start otherwise",
			out.ElectionTimeout, out.HeartbeatTimeout)
	}
	return out
}
