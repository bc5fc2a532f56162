package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Node roles.
const (
	RoleDB      = "db"      // runs MySQL and may hold the VIP
	RoleWitness = "witness" // votes in Raft only
)

// Config is a validated raftvip configuration with every default filled in.
type Config struct {
	File    string // path it was loaded from ("" when parsed from bytes with a name)
	NodeID  string
	Role    string // RoleDB or RoleWitness
	DataDir string
	Bind    string
	Admin   string
	// AdminGroup (admin_group) is a group whose members may open the admin
	// socket (mode 0660) and run the read-only commands; "" = nobody but
	// the agent's user. Loading checks that the group exists.
	AdminGroup string
	Peers      []Peer // in file order
	VIP        *VIP   // nil when absent, and always nil on a witness
	// ARPWatch is the watch of who answers ARP for the VIP addresses
	// (vip.arp_watch): on every node with a vip block, a witness too;
	// nil without a vip block or with arp_watch = false.
	ARPWatch *ARPWatch
	MySQL    *MySQL // nil when absent (witness)
	Failover Failover
	VRRP     VRRP // Mode VRRPOff when the block is absent
	Raft     Raft
	LogLevel string
	LogJSON  bool
	// MetricsAddr (metrics_addr) is the host:port of the HTTP listener for
	// /metrics, /healthz, /readyz and the status page; "" = none.
	MetricsAddr string
	// CPUPriority (cpu_priority) is the agent's scheduling priority
	// (internal/sched): high (default), realtime or normal.
	CPUPriority string

	// TLS is the cluster port's mutual TLS (nil when absent); without it
	// InsecurePlaintext must be set.
	TLS               *TLS
	InsecurePlaintext bool

	// Notify is the keepalived-compatible notifications (notify block);
	// nil when absent, and always nil on a witness.
	Notify *Notify

	// Warnings are things the file may do but probably should not (a
	// wildcard bind), at file:line; `validate` prints them and the agent
	// logs them at start.
	Warnings []Error
}

// TLS names the PEM files of the cluster port's mutual TLS; relative paths
// are resolved against the config file's directory.
type TLS struct {
	CAFile, CertFile, KeyFile string
}

// Peer is one voter of the Raft group.
type Peer struct {
	ID, Address, Role string
}

// VIP describes the addresses that follow the leader.
type VIP struct {
	Interface    string
	Addresses    []netip.Prefix
	Lease        time.Duration
	GARPCount    int
	GARPInterval time.Duration
	GARPRefresh  time.Duration
}

// ARPWatch: every Interval, ask on Interface who answers ARP for each of
// Addresses (package arpwatch).
type ARPWatch struct {
	Interface string
	Addresses []netip.Prefix
	Interval  time.Duration
}

// MySQL describes the local health check.
type MySQL struct {
	DSN      string // resolved secret (from dsn or the trimmed contents of dsn_file); never printed
	DSNFile  string // path read, relative paths resolved against the config file's directory
	Query    string
	Interval time.Duration
	Timeout  time.Duration
	Fall     int
	Rise     int
	// FailAfter (fail_after) is how long the node may go without a
	// successful check before it is unhealthy whatever the failures were
	// (timeouts are judged by it alone); see mysqlcheck's failure model.
	FailAfter time.Duration
	// Expect (expect), when not "", is what the first column of the first
	// row of Query must equal for the check to succeed.
	Expect string
	// ReplicationInterval (replication_interval) is how often a check reads
	// the replication state while it is steady (every check reads it
	// while it is not): from Interval to maxReplicationInterval.
	ReplicationInterval time.Duration
	// FenceTable (fence_table) is "db.table" where each acquisition of the
	// VIP records (epoch, node, time), so applications and proxies can
	// check which epoch they write in; "" = off.
	FenceTable string
}

// Catch-up outcomes (failover.on_catchup_timeout); the same words as
// agent.OnCatchupWritable and agent.OnCatchupStayReadOnly.
const (
	OnCatchupWritable     = "writable"
	OnCatchupStayReadOnly = "stay_read_only"
)

// Failover controls moving the VIP back to a preferred node, and who may
// be promoted and when a new holder turns writable (data safety on
// dual-master replication, docs/replication.md). It is set on every node,
// the witness too: whichever node leads applies the leader's part.
type Failover struct {
	Preempt   bool
	Preferred string

	// MaxLag (max_lag): a DB node whose replication lagged more than this
	// at its last check while the holder was alive is stale, not
	// promoted automatically.
	MaxLag time.Duration
	// PromoteStale (promote_stale) lets stale nodes be promoted like
	// caught-up ones (their data may lack acknowledged writes).
	PromoteStale bool
	// CatchupTimeout (catchup_timeout) bounds the new holder's wait for
	// its relay log before it turns writable.
	CatchupTimeout time.Duration
	// OnCatchupTimeout (on_catchup_timeout): OnCatchupWritable or
	// OnCatchupStayReadOnly.
	OnCatchupTimeout string
	// KillSessions (kill_sessions): on release, kill client sessions
	// after read_only is set.
	KillSessions bool
}

// VRRP makes raftvip speak VRRP to keepalived routers sharing the VIP's
// VRID, so a site can migrate from keepalived one host at a time.
type VRRP struct {
	Mode         string        // VRRPOff, VRRPObserve or VRRPActive
	Version      int           // 2 (RFC 3768) or 3 (RFC 5798)
	VRID         uint8         // 1..255; 0 only when Mode is VRRPOff and none was given
	Priority     uint8         // 1..254, advertised while this node holds the VIP
	AdvertInt    time.Duration // v2: whole seconds 1s..255s; v3: 10ms steps, 10ms..40.95s
	AuthPass     string        // v2 simple password, at most 8 bytes; "" = none. Secret: never printed
	UnicastPeers []netip.Addr  // IPv4; empty = multicast to 224.0.0.18
	Interface    string        // link adverts are sent and heard on; default vip.interface
	// TrustedRouters are the foreign VRRP routers (keepalived) raftvip
	// heeds; adverts from any other source are dropped and counted as
	// "untrusted" (raftvip's own peers' adverts excepted). Empty: every
	// router is heard, as keepalived does, but see UntrustedBlockMax.
	TrustedRouters []netip.Addr
	// UntrustedBlockMax bounds, while TrustedRouters is empty, how long in
	// total foreign masters may keep raftvip from the VIP (outranking it,
	// or not yielding to its adverts); see vrrpcompat.Allowance.
	UntrustedBlockMax time.Duration
}

// Raft holds the hashicorp/raft tunables exposed to operators.
type Raft struct {
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// HeartbeatInterval is the leader's heartbeat spacing (every interval
	// to 2·interval); see cluster/pace.go.
	HeartbeatInterval time.Duration
	CommitTimeout     time.Duration
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
}

// Load reads and validates the config file at path. On any problem it
// returns a nil *Config and an *Errors listing every problem found.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already the Error's File
		}
		return nil, &Errors{List: []Error{{File: path, Msg: "cannot read config file: " + err.Error()}}}
	}
	cfg, err := Parse(src, path)
	if err != nil {
		return nil, err
	}
	cfg.File = path
	return cfg, nil
}

// Parse validates config source; filename is used in error positions and to
// resolve a relative mysql.dsn_file. On any problem it returns a nil
// *Config and an *Errors listing every problem found.
func Parse(src []byte, filename string) (*Config, error) {
	c := &collector{file: filename, src: src}
	file, ds := hclparse.NewParser().ParseHCL(src, filename)
	if ds.HasErrors() {
		// A file with syntax errors is only partially understood; checking
		// its meaning would mostly report things that are merely hidden by
		// the syntax error, so report the syntax errors alone.
		c.diags(ds)
		return nil, c.result()
	}
	cfg := build(c, decodeFile(c, file.Body), file.Body, filename)
	if errs := c.result(); errs != nil {
		return nil, errs
	}
	cfg.Warnings = c.warns
	return cfg, nil
}

// Self returns the peer entry for NodeID (validation guarantees it exists).
func (c *Config) Self() Peer {
	p, _ := c.PeerByID(c.NodeID)
	return p
}

// PeerByID finds a peer by its id.
func (c *Config) PeerByID(id string) (Peer, bool) {
	for _, p := range c.Peers {
		if p.ID == id {
			return p, true
		}
	}
	return Peer{}, false
}

// fileStart is where problems about the file as a whole are reported.
func fileStart(body hcl.Body, filename string) hcl.Range {
	r := body.MissingItemRange()
	if r.Filename == "" {
		r.Filename = filename
	}
	if r.Start.Line == 0 {
		r.Start = hcl.InitialPos
	}
	return r
}
