package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/mysqlcheck"
)

func mustPrefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

var examplePeers = []Peer{
	{ID: "hosta", Address: "10.99.0.11:7400", Role: RoleDB},
	{ID: "hostb", Address: "10.99.0.12:7400", Role: RoleDB},
	{ID: "witness", Address: "10.99.0.13:7400", Role: RoleWitness},
}

var defaultRaft = Raft{
	HeartbeatTimeout:   500 * time.Millisecond,
	ElectionTimeout:    500 * time.Millisecond,
	LeaderLeaseTimeout: 500 * time.Millisecond,
	HeartbeatInterval:  150 * time.Millisecond,
	CommitTimeout:      2 * time.Second,
	SnapshotInterval:   120 * time.Second,
	SnapshotThreshold:  8192,
	TrailingLogs:       10240,
}

// defaultFailover is the failover block's defaults.
var defaultFailover = Failover{MaxLag: 10 * time.Second, CatchupTimeout: 10 * time.Second,
	OnCatchupTimeout: OnCatchupWritable, KillSessions: true}

func TestLoadExampleDB(t *testing.T) {
	path := filepath.Join("testdata", "example-db.hcl")
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	got.Warnings = onlyPlaintextWarning(t, got.Warnings)
	want := &Config{
		File:        path,
		NodeID:      "hosta",
		Role:        RoleDB,
		DataDir:     "/var/lib/raftvip/hosta",
		Bind:        "10.99.0.11:7400",
		Admin:       "/run/raftvip/hosta.sock",
		Peers:       examplePeers,
		LogLevel:    "debug",
		LogJSON:     true,
		CPUPriority: "high",

		InsecurePlaintext: true,
		VIP: &VIP{
			Interface:    "eth0",
			Addresses:    mustPrefixes(t, "10.99.0.10/24", "10.99.0.20/24"),
			Lease:        2 * time.Second,
			GARPCount:    3,
			GARPInterval: 100 * time.Millisecond,
			GARPRefresh:  30 * time.Second,
		},
		ARPWatch: &ARPWatch{Interface: "eth0", Addresses: mustPrefixes(t, "10.99.0.10/24", "10.99.0.20/24"), Interval: 2 * time.Second},
		MySQL: &MySQL{
			DSN:      "raftvip:s3cret@tcp(127.0.0.1:3306)/",
			Query:    "SELECT 1 FROM DUAL",
			Interval: 250 * time.Millisecond,
			Timeout:  2 * time.Second,
			Fall:     3,
			Rise:     4,

			FailAfter: 1500 * time.Millisecond,
			Expect:    "1",

			ReplicationInterval: 3 * time.Second,

			FenceTable: "raftvip.fence",
		},
		Failover: Failover{Preempt: true, Preferred: "hosta", MaxLag: 5 * time.Second, CatchupTimeout: 20 * time.Second,
			OnCatchupTimeout: OnCatchupWritable, KillSessions: true},
		VRRP: VRRP{
			Mode:         VRRPObserve,
			Version:      2,
			VRID:         51,
			Priority:     250,
			AdvertInt:    time.Second,
			AuthPass:     "1111",
			UnicastPeers: []netip.Addr{netip.MustParseAddr("10.99.0.12")},
			Interface:    "eth0",

			TrustedRouters:    []netip.Addr{netip.MustParseAddr("10.99.0.12")},
			UntrustedBlockMax: DefaultUntrustedBlockMax,
		},
		Raft: Raft{
			HeartbeatTimeout:   600 * time.Millisecond,
			ElectionTimeout:    700 * time.Millisecond,
			LeaderLeaseTimeout: 300 * time.Millisecond,
			HeartbeatInterval:  50 * time.Millisecond,
			CommitTimeout:      40 * time.Millisecond,
			SnapshotInterval:   60 * time.Second,
			SnapshotThreshold:  4096,
			TrailingLogs:       2048,
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(%s)\n got  %+v\n want %+v", path, got, want)
		if got.VIP != nil {
			t.Errorf("vip: got %+v want %+v", *got.VIP, *want.VIP)
		}
		if got.MySQL != nil {
			t.Errorf("mysql: got %+v want %+v", *got.MySQL, *want.MySQL)
		}
	}
	if self := got.Self(); self != examplePeers[0] {
		t.Errorf("Self() = %+v, want %+v", self, examplePeers[0])
	}
}

func TestLoadExampleWitness(t *testing.T) {
	path := filepath.Join("testdata", "example-witness.hcl")
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	got.Warnings = onlyPlaintextWarning(t, got.Warnings)
	want := &Config{
		File:        path,
		NodeID:      "witness",
		Role:        RoleWitness,
		DataDir:     "/var/lib/raftvip/witness",
		Bind:        "10.99.0.13:7400",
		Admin:       "/run/raftvip/witness.sock",
		Peers:       examplePeers,
		Failover:    defaultFailover,
		VRRP:        VRRP{Mode: VRRPOff, Version: 2, Priority: 250, AdvertInt: time.Second, UntrustedBlockMax: DefaultUntrustedBlockMax},
		Raft:        defaultRaft,
		LogLevel:    "info",
		CPUPriority: "high",

		InsecurePlaintext: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(%s)\n got  %+v\n want %+v", path, got, want)
	}
}

// base is a minimal valid db config; the bad-config cases edit it, so its
// line numbers matter:
//
//	1 node_id   5-8 peer hosta   13-16 peer witness   21-23 mysql
//	2 role      9-12 peer hostb  17-20 vip            24.. appended text
const base = `node_id  = "hosta"
role     = "db"
data_dir = "/var/lib/raftvip/hosta"
bind     = "10.99.0.11:7400"
peer "hosta" {
  address = "10.99.0.11:7400"
  role    = "db"
}
peer "hostb" {
  address = "10.99.0.12:7400"
  role    = "db"
}
peer "witness" {
  address = "10.99.0.13:7400"
  role    = "witness"
}
vip {
  interface = "eth0"
  addresses = ["10.99.0.10/24"]
}
mysql {
  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"
}
`

func TestDefaults(t *testing.T) {
	cfg, err := parse([]byte(base), "base.hcl")
	if err != nil {
		t.Fatalf("Parse(base): %v", err)
	}
	if cfg.File != "" {
		t.Errorf("File = %q, want empty when parsed from bytes", cfg.File)
	}
	if cfg.Admin != "/run/raftvip/hosta.sock" {
		t.Errorf("Admin = %q, want the per-node default", cfg.Admin)
	}
	if cfg.LogLevel != "info" || cfg.LogJSON {
		t.Errorf("log_level/log_json = %q/%v, want info/false", cfg.LogLevel, cfg.LogJSON)
	}
	wantVIP := VIP{
		Interface:    "eth0",
		Addresses:    mustPrefixes(t, "10.99.0.10/24"),
		Lease:        time.Second,
		GARPCount:    5,
		GARPInterval: 200 * time.Millisecond,
		GARPRefresh:  0,
	}
	if cfg.VIP == nil || !reflect.DeepEqual(*cfg.VIP, wantVIP) {
		t.Errorf("VIP = %+v, want %+v", cfg.VIP, wantVIP)
	}
	wantMySQL := MySQL{
		DSN:      "raftvip:hunter2@tcp(127.0.0.1:3306)/",
		Query:    "SELECT 1",
		Interval: 500 * time.Millisecond,
		Timeout:  time.Second,
		Fall:     2,
		Rise:     2,

		FailAfter: time.Second,

		ReplicationInterval: 2 * time.Second,
	}
	if cfg.MySQL == nil || *cfg.MySQL != wantMySQL {
		t.Errorf("MySQL = %+v, want %+v", cfg.MySQL, wantMySQL)
	}
	// No failover block: no preemption, and the data-safety defaults.
	if cfg.Failover != defaultFailover {
		t.Errorf("Failover = %+v, want %+v", cfg.Failover, defaultFailover)
	}
	if cfg.Raft != defaultRaft {
		t.Errorf("Raft = %+v, want %+v", cfg.Raft, defaultRaft)
	}
	// No vrrp block: off, with the defaults a later mode change would use.
	wantVRRP := VRRP{Mode: VRRPOff, Version: 2, Priority: 250, AdvertInt: time.Second, Interface: "eth0", UntrustedBlockMax: DefaultUntrustedBlockMax}
	if !reflect.DeepEqual(cfg.VRRP, wantVRRP) {
		t.Errorf("VRRP = %+v, want %+v", cfg.VRRP, wantVRRP)
	}
}

// edit returns base with each old→new replacement applied once.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := base
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("edit: %q not in base config", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// parseErrs parses src expecting failure and returns the problems.
func parseErrs(t *testing.T, src, name string) []Error {
	t.Helper()
	cfg, err := parse([]byte(src), name)
	if err == nil {
		t.Fatalf("Parse succeeded, want errors; config: %+v", cfg)
	}
	if cfg != nil {
		t.Errorf("Parse returned a config together with errors")
	}
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want *Errors: %v", err, err)
	}
	if len(errs.List) == 0 {
		t.Fatalf("*Errors with an empty list")
	}
	return errs.List
}

func TestBadConfigs(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dsn")
	tests := []struct {
		name string
		src  string
		pos  string // exact "file:line:col" of the expected problem
		frag string // fragment of its message
		n    int    // total number of problems expected (0: don't care)
	}{
		{"syntax error", edit(t, `role     = "db"`, `role     = = "db"`),
			"bad.hcl:2:12", "Invalid expression", 0},
		{"one-line block with two arguments", base + `peer "x" { address = "10.99.0.14:7400" role = "db" }` + "\n",
			"bad.hcl:24:40", "one argument per line", 1},
		{"unknown top-level key", base + `colour = "blue"` + "\n",
			"bad.hcl:24:1", `An argument named "colour" is not expected here`, 1},
		{"unknown key in block", edit(t, `  role    = "witness"`, `  role    = "witness"`+"\n  weight = 3"),
			"bad.hcl:16:3", `An argument named "weight" is not expected here`, 1},
		{"metrics_addr without port", base + `metrics_addr = "10.99.0.11"` + "\n",
			"bad.hcl:24:1", `metrics_addr: "10.99.0.11" is not host:port (missing port in address)`, 1},
		{"metrics_addr with a bad port", base + `metrics_addr = "10.99.0.11:99999"` + "\n",
			"bad.hcl:24:1", `metrics_addr: "10.99.0.11:99999": port "99999" must be a number 1-65535`, 1},
		{"metrics_addr empty", base + `metrics_addr = ""` + "\n",
			"bad.hcl:24:1", `metrics_addr must not be empty`, 1},
		{"unknown block", base + "tlsv2 {\n}\n",
			"bad.hcl:24:1", `Blocks of type "tlsv2" are not expected here`, 1},
		{"missing node_id", edit(t, `node_id  = "hosta"`, `#`),
			"bad.hcl:1:1", "node_id is required", 0},
		{"node_id not in peers", edit(t, `node_id  = "hosta"`, `node_id  = "hostz"`),
			"bad.hcl:1:1", `node_id: "hostz" is not one of the peers (hosta, hostb, witness)`, 1},
		{"bad role", edit(t, `role     = "db"`, `role     = "master"`),
			"bad.hcl:2:1", `role: "master" is not a role; want "db" or "witness"`, 1},
		{"role mismatch", edit(t, `  role    = "db"`, `  role    = "witness"`),
			"bad.hcl:2:1", `this node is "db" but its peer block "hosta" says role = "witness"`, 1},
		{"variable in string", edit(t, `"/var/lib/raftvip/hosta"`, `"${dir}"`),
			"bad.hcl:3:15", "data_dir: Variables not allowed", 1},
		{"bind without port", edit(t, `bind     = "10.99.0.11:7400"`, `bind     = "10.99.0.11"`),
			"bad.hcl:4:1", "bind: \"10.99.0.11\" is not host:port (missing port in address)", 1},
		{"bind with non-numeric port", edit(t, `bind     = "10.99.0.11:7400"`, `bind     = "10.99.0.11:raft"`),
			"bad.hcl:4:1", `port "raft" must be a number 1-65535`, 1},
		{"bind on another host's address", edit(t, `bind     = "10.99.0.11:7400"`, `bind     = "10.99.0.12:7400"`),
			"bad.hcl:4:1", `bind: "10.99.0.12:7400" is not this node's peer address "10.99.0.11:7400" (peer "hosta" at bad.hcl:6:3)`, 1},
		{"bind on another port", edit(t, `bind     = "10.99.0.11:7400"`, `bind     = "10.99.0.11:7401"`),
			"bad.hcl:4:1", `bind: "10.99.0.11:7401" is not this node's peer address "10.99.0.11:7400"`, 1},
		{"wildcard bind on another port", edit(t, `bind     = "10.99.0.11:7400"`, `bind     = "0.0.0.0:7401"`),
			"bad.hcl:4:1", `bind: "0.0.0.0:7401" listens on port 7401, but this node's peer address "10.99.0.11:7400" (peer "hosta" at bad.hcl:6:3) has port 7400`, 1},
		{"admin socket path too long", base + `admin = "/run/` + strings.Repeat("x", 100) + `.sock"` + "\n",
			"bad.hcl:24:1", "unix socket paths are limited to 107", 1},
		{"duplicate peer", edit(t, `peer "hostb"`, `peer "hosta"`),
			"bad.hcl:9:1", `peer "hosta" is defined twice (first at bad.hcl:5:1)`, 2},
		{"duplicate peer address", edit(t, `"10.99.0.12:7400"`, `"10.99.0.11:7400"`),
			"bad.hcl:10:3", `"10.99.0.11:7400" is already the address of peer "hosta"`, 1},
		{"peer address wildcard", edit(t, `"10.99.0.12:7400"`, `"0.0.0.0:7400"`),
			"bad.hcl:10:3", "wildcard address that other nodes cannot dial", 1},
		{"bad peer role", edit(t, `  role    = "witness"`, `  role    = "arbiter"`),
			"bad.hcl:15:3", `peer "witness".role: "arbiter" is not a role`, 1},
		{"peer without address", edit(t, `  address = "10.99.0.13:7400"`, `#`),
			"bad.hcl:13:1", `peer "witness": address is required`, 1},
		{"2 peers only", edit(t, "peer \"witness\" {\n  address = \"10.99.0.13:7400\"\n  role    = \"witness\"\n}\n", ""),
			"bad.hcl:5:1", "a Raft group needs 3 voters so one can fail", 1},
		{"no db peer", edit(t, `role     = "db"`, `role     = "witness"`,
			`  role    = "db"`, `  role    = "witness"`, `  role    = "db"`, `  role    = "witness"`,
			"mysql {\n  dsn = \"raftvip:hunter2@tcp(127.0.0.1:3306)/\"\n}\n", ""),
			"bad.hcl:5:1", `no peer has role = "db"`, 1},
		{"db without vip", edit(t, "vip {\n  interface = \"eth0\"\n  addresses = [\"10.99.0.10/24\"]\n}\n", ""),
			"bad.hcl:2:1", `role = "db" needs a vip block`, 1},
		{"db without mysql", edit(t, "mysql {\n  dsn = \"raftvip:hunter2@tcp(127.0.0.1:3306)/\"\n}\n", ""),
			"bad.hcl:2:1", `role = "db" needs a mysql block`, 1},
		{"witness with mysql", edit(t, `role     = "db"`, `role     = "witness"`, `  role    = "db"`, `  role    = "witness"`),
			"bad.hcl:21:1", "a witness has no database", 1},
		{"duplicate vip block", base + "vip {\n  interface = \"eth1\"\n  addresses = [\"10.99.0.20/24\"]\n}\n",
			"bad.hcl:24:1", "only one vip block is allowed (the first is at bad.hcl:17:1)", 1},
		{"vip without interface", edit(t, `  interface = "eth0"`, `#`),
			"bad.hcl:17:1", "vip: interface is required", 1},
		{"interface name too long", edit(t, `"eth0"`, `"averyverylongname0"`),
			"bad.hcl:18:3", "longer than 15 bytes", 1},
		{"empty addresses", edit(t, `["10.99.0.10/24"]`, `[]`),
			"bad.hcl:19:3", "vip.addresses must list at least one address", 1},
		{"addresses not a list", edit(t, `["10.99.0.10/24"]`, `"10.99.0.10/24"`),
			"bad.hcl:19:3", `vip.addresses: want a list like ["10.99.0.10/24"], got a string`, 1},
		{"bad CIDR", edit(t, `["10.99.0.10/24"]`, `["10.99.0.10/24", "10.99.0.300/24"]`),
			"bad.hcl:19:33", `"10.99.0.300/24" is not a valid CIDR; want CIDR like 10.99.0.10/24`, 1},
		{"address without prefix length", edit(t, `["10.99.0.10/24"]`, `["10.99.0.10"]`),
			"bad.hcl:19:16", `"10.99.0.10" has no prefix length; want CIDR like 10.99.0.10/24`, 1},
		{"IPv6 VIP", edit(t, `["10.99.0.10/24"]`, `["fd00::10/64"]`),
			"bad.hcl:19:16", "is IPv6; only IPv4 VIPs are supported", 1},
		{"network address as VIP", edit(t, `["10.99.0.10/24"]`, `["10.99.0.0/24"]`),
			"bad.hcl:19:16", "is the network address of 10.99.0.0/24", 1},
		{"duplicate VIP", edit(t, `["10.99.0.10/24"]`, `["10.99.0.10/24", "10.99.0.10/32"]`),
			"bad.hcl:19:33", "10.99.0.10 is listed twice (first at bad.hcl:19:16)", 1},
		{"lease not whole seconds", edit(t, `  interface = "eth0"`, `  interface = "eth0"`+"\n"+`  lease = "1500ms"`),
			"bad.hcl:19:3", `vip.lease = "1500ms" (1.5s) must be whole seconds`, 1},
		{"lease below 1s", edit(t, `  interface = "eth0"`, `  interface = "eth0"`+"\n"+`  lease = "0s"`),
			"bad.hcl:19:3", `vip.lease = "0s" must be at least "1s"`, 1},
		{"garp_count too large", edit(t, `  interface = "eth0"`, `  interface = "eth0"`+"\n"+`  garp_count = 101`),
			"bad.hcl:19:3", "vip.garp_count = 101 is out of range; want 0..100", 1},
		{"garp_count as string", edit(t, `  interface = "eth0"`, `  interface = "eth0"`+"\n"+`  garp_count = "5"`),
			"bad.hcl:19:3", "vip.garp_count: want a whole number (without quotes), got a string", 1},
		{"garp_interval zero with several GARPs", edit(t, `  interface = "eth0"`, `  interface = "eth0"`+"\n"+`  garp_interval = "0s"`),
			"bad.hcl:19:3", "vip.garp_interval must be > 0 when garp_count = 5", 1},
		{"garp_refresh negative", edit(t, `  interface = "eth0"`, `  interface = "eth0"`+"\n"+`  garp_refresh = "-1s"`),
			"bad.hcl:19:3", "vip.garp_refresh = \"-1s\" must not be negative", 1},
		{"both dsn and dsn_file", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  dsn_file = "/etc/raftvip/dsn"`),
			"bad.hcl:23:3", "mysql: set exactly one of dsn or dsn_file, not both", 1},
		{"neither dsn nor dsn_file", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  query = "SELECT 1"`),
			"bad.hcl:21:1", "mysql: dsn or dsn_file is required", 1},
		{"dsn_file missing", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn_file = "`+missing+`"`),
			"bad.hcl:22:3", `mysql.dsn_file: cannot read "` + missing + `": no such file or directory`, 1},
		{"mysql fall zero", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n  fall = 0"),
			"bad.hcl:23:3", "mysql.fall = 0 is out of range", 1},
		{"mysql interval zero", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  interval = "0s"`),
			"bad.hcl:23:3", `mysql.interval = "0s" must be > 0`, 1},
		{"mysql fail_after zero", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  fail_after = "0s"`),
			"bad.hcl:23:3", `mysql.fail_after = "0s" must be > 0`, 1},
		{"mysql replication_interval below interval", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  replication_interval = "100ms"`),
			"bad.hcl:23:3", `mysql.replication_interval = "100ms" is out of range; want from mysql.interval (500ms) to 10s`, 1},
		{"mysql replication_interval too long", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  replication_interval = "11s"`),
			"bad.hcl:23:3", `mysql.replication_interval = "11s" is out of range; want from mysql.interval (500ms) to 10s`, 1},
		{"mysql replication_interval not a duration", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  replication_interval = "often"`),
			"bad.hcl:23:3", `mysql.replication_interval: "often" is not a duration`, 1},
		{"mysql replication_interval bare number", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  replication_interval = 2`),
			"bad.hcl:23:3", `mysql.replication_interval: durations are strings`, 1},
		{"mysql fail_after bare number", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  fail_after = 2`),
			"bad.hcl:23:3", `mysql.fail_after`, 1},
		{"mysql expect empty", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  expect = ""`),
			"bad.hcl:23:3", `mysql.expect = "" would require an empty first value`, 1},
		{"mysql expect number", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  expect = 1`),
			"bad.hcl:23:3", `mysql.expect`, 1},
		{"mysql empty query", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  query = ""`),
			"bad.hcl:23:3", "mysql.query must not be empty", 1},
		{"bare number duration", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n  timeout = 2"),
			"bad.hcl:23:3", `mysql.timeout: durations are strings like "2s"`, 1},
		{"bad duration", base + "raft {\n  heartbeat_timeout = \"fast\"\n}\n",
			"bad.hcl:25:3", `raft.heartbeat_timeout: "fast" is not a duration`, 1},
		{"preferred unknown", base + "failover {\n  preempt   = true\n  preferred = \"hostz\"\n}\n",
			"bad.hcl:26:3", `failover.preferred: "hostz" is not a peer; want the id of a db peer (hosta, hostb)`, 1},
		{"preferred is the witness", base + "failover {\n  preempt   = true\n  preferred = \"witness\"\n}\n",
			"bad.hcl:26:3", `"witness" is a witness; only a db peer can hold the VIP`, 1},
		{"preferred without preempt", base + "failover {\n  preferred = \"hostb\"\n}\n",
			"bad.hcl:25:3", "preferred only matters with preempt = true", 1},
		{"preempt without preferred", base + "failover {\n  preempt = true\n}\n",
			"bad.hcl:25:3", "failover.preempt = true needs failover.preferred", 1},
		{"preempt not a bool", base + "failover {\n  preempt = \"yes\"\n}\n",
			"bad.hcl:25:3", "failover.preempt: want true or false (without quotes), got a string", 1},
		{"max_lag zero", base + "failover {\n  max_lag = \"0s\"\n}\n",
			"bad.hcl:25:3", `failover.max_lag = "0s" must be > 0`, 1},
		{"max_lag negative", base + "failover {\n  max_lag = \"-5s\"\n}\n",
			"bad.hcl:25:3", `failover.max_lag = "-5s" must be > 0`, 1},
		{"max_lag bare number", base + "failover {\n  max_lag = 10\n}\n",
			"bad.hcl:25:3", `failover.max_lag: durations are strings like "2s" or "500ms", got the bare number 10`, 1},
		{"catchup_timeout zero", base + "failover {\n  preempt = false\n  catchup_timeout = \"0s\"\n}\n",
			"bad.hcl:26:3", `failover.catchup_timeout = "0s" must be > 0`, 1},
		{"catchup_timeout not a duration", base + "failover {\n  catchup_timeout = \"soon\"\n}\n",
			"bad.hcl:25:3", `failover.catchup_timeout: "soon" is not a duration`, 1},
		{"on_catchup_timeout unknown", base + "failover {\n  on_catchup_timeout = \"read_only\"\n}\n",
			"bad.hcl:25:3", `failover.on_catchup_timeout: "read_only" is not a choice; want "writable" or "stay_read_only"`, 1},
		{"on_catchup_timeout bare word", base + "failover {\n  on_catchup_timeout = writable\n}\n",
			"bad.hcl:25:24", `failover.on_catchup_timeout: writable needs quotes`, 1},
		{"promote_stale not a bool", base + "failover {\n  promote_stale = \"yes\"\n}\n",
			"bad.hcl:25:3", "failover.promote_stale: want true or false (without quotes), got a string", 1},
		{"kill_sessions not a bool", base + "failover {\n  kill_sessions = 0\n}\n",
			"bad.hcl:25:3", "failover.kill_sessions: want true or false (without quotes), got a number", 1},
		{"fence_table without a database", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  fence_table = "fence"`),
			"bad.hcl:23:3", `mysql.fence_table: "fence" is not db.table`, 1},
		{"fence_table with a character needing quotes", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  fence_table = "raftvip.fence; DROP TABLE t"`),
			"bad.hcl:23:3", `mysql.fence_table: "raftvip.fence; DROP TABLE t": the table name "fence; DROP TABLE t" has ';'`, 1},
		{"fence_table not a string", edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  fence_table = true`),
			"bad.hcl:23:3", `mysql.fence_table: want a string in quotes, got a bool`, 1},
		{"leader_lease_timeout > heartbeat_timeout", base + "raft {\n  heartbeat_timeout    = \"500ms\"\n  leader_lease_timeout = \"600ms\"\n}\n",
			"bad.hcl:26:3", "raft.leader_lease_timeout (600ms) must be <= raft.heartbeat_timeout (500ms)", 1},
		{"leader_lease_timeout > default heartbeat_timeout", base + "raft {\n  leader_lease_timeout = \"1s\"\n}\n",
			"bad.hcl:25:3", "raft.leader_lease_timeout (1s) must be <= raft.heartbeat_timeout (500ms)", 1},
		{"election_timeout < heartbeat_timeout", base + "raft {\n  heartbeat_timeout = \"1s\"\n  election_timeout  = \"800ms\"\n}\n",
			"bad.hcl:26:3", "raft.election_timeout (800ms) must be >= raft.heartbeat_timeout (1s)", 1},
		{"heartbeat_interval too long for heartbeat_timeout", base + "raft {\n  heartbeat_interval = \"175ms\"\n}\n",
			"bad.hcl:25:3", "raft.heartbeat_interval (175ms) must be <= 3/10 of raft.heartbeat_timeout (150ms)", 1},
		{"heartbeat_interval too long for leader_lease_timeout", base + "raft {\n  heartbeat_timeout    = \"1s\"\n  election_timeout     = \"1s\"\n  leader_lease_timeout = \"300ms\"\n  heartbeat_interval   = \"150ms\"\n}\n",
			"bad.hcl:28:3", "raft.heartbeat_interval (150ms) must be < raft.leader_lease_timeout/2 (150ms)", 1},
		{"heartbeat_interval too low", base + "raft {\n  heartbeat_interval = \"100us\"\n}\n",
			"bad.hcl:25:3", "raft.heartbeat_interval = \"100µs\" is too low; at least 1ms", 1},
		{"commit_timeout too low", base + "raft {\n  commit_timeout = \"500us\"\n}\n",
			"bad.hcl:25:3", "raft.commit_timeout = \"500µs\" is too low; hashicorp/raft requires at least 1ms", 1},
		{"negative trailing_logs", base + "raft {\n  trailing_logs = -1\n}\n",
			"bad.hcl:25:3", "raft.trailing_logs = -1 is out of range", 1},
		{"bad log level", base + `log_level = "verbose"` + "\n",
			"bad.hcl:24:1", `log_level: "verbose" is not a level; want one of trace, debug, info, warn, error`, 1},
		{"log_json as string", base + `log_json = "true"` + "\n",
			"bad.hcl:24:1", "log_json: want true or false (without quotes), got a string", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list := parseErrs(t, tt.src, "bad.hcl")
			found := false
			for _, e := range list {
				if strings.HasPrefix(e.Error(), tt.pos+": ") && strings.Contains(e.Msg, tt.frag) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error at %s containing %q; got:\n%s", tt.pos, tt.frag, (&Errors{List: list}).Error())
			}
			if tt.n != 0 && len(list) != tt.n {
				t.Errorf("got %d errors, want %d:\n%s", len(list), tt.n, (&Errors{List: list}).Error())
			}
		})
	}
}

func TestManyErrorsAtOnce(t *testing.T) {
	src := edit(t,
		`bind     = "10.99.0.11:7400"`, `bind     = "10.99.0.11"`, // line 4
		`"10.99.0.12:7400"`, `"10.99.0.12"`, // line 10
		`["10.99.0.10/24"]`, `["fd00::10/64"]`, // line 19
	) + "raft {\n  heartbeat_timeout = 1\n}\nlog_level = \"loud\"\n" // lines 25 and 27
	list := parseErrs(t, src, "many.hcl")
	wantLines := []int{4, 10, 19, 25, 27}
	if len(list) != len(wantLines) {
		t.Fatalf("got %d errors, want %d (one per problem):\n%s", len(list), len(wantLines), (&Errors{List: list}).Error())
	}
	for i, e := range list {
		if e.File != "many.hcl" || e.Line != wantLines[i] {
			t.Errorf("error %d at %s:%d, want many.hcl:%d (file order): %s", i, e.File, e.Line, wantLines[i], e.Msg)
		}
	}
	text := (&Errors{List: list}).Error()
	if got := strings.Count(text, "\n") + 1; got != len(list) {
		t.Errorf("Errors.Error() has %d lines, want one per problem (%d):\n%s", got, len(list), text)
	}
}

func TestBadDSNNeverShowsPassword(t *testing.T) {
	const pw = "hunter2xyz"
	dsns := []string{
		"raftvip:" + pw + "@tcp(127.0.0.1:3306",                   // unterminated address and no slash
		"raftvip:" + pw + "@tcp(127.0.0.1:3306)/?parseTime=" + pw, // bad parameter value echoed by the driver
		"raftvip:" + pw + "@tcp(127.0.0.1:3306)/?tls=" + pw,       // unknown TLS config echoed by the driver
		"raftvip:" + pw + "@bogusnet(127.0.0.1:3306)/?x=%zz" + pw, // bad escaping
	}
	dir := t.TempDir()
	for i, dsn := range dsns {
		inline := edit(t, `"raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `"`+dsn+`"`)
		file := filepath.Join(dir, "dsn"+string(rune('a'+i)))
		if err := os.WriteFile(file, []byte(dsn+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fromFile := edit(t, `dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `dsn_file = "`+file+`"`)
		for _, src := range []string{inline, fromFile} {
			list := parseErrs(t, src, "dsn.hcl")
			text := (&Errors{List: list}).Error()
			if strings.Contains(text, pw) {
				t.Errorf("DSN %d: error reveals the password:\n%s", i, text)
			}
			if len(list) != 1 || !strings.HasPrefix(text, "dsn.hcl:22:3: mysql.dsn") || !strings.Contains(text, "invalid DSN") {
				t.Errorf("DSN %d: want one error at dsn.hcl:22:3 about an invalid mysql.dsn, got:\n%s", i, text)
			}
		}
	}
}

func TestSummaryRedactsPassword(t *testing.T) {
	cfg, err := parse([]byte(base), "base.hcl")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Summary()
	mysql, ok := s["mysql"].(map[string]any)
	if !ok {
		t.Fatalf("Summary has no mysql map: %v", s)
	}
	if got, want := mysql["dsn"], "raftvip:****@tcp(127.0.0.1:3306)/"; got != want {
		t.Errorf("Summary mysql.dsn = %v, want %v", got, want)
	}
	// The secret must not appear anywhere, however the summary is printed.
	if text := fmtAny(s); strings.Contains(text, "hunter2") {
		t.Errorf("Summary leaks the password: %s", text)
	}
	if got := s["node_id"]; got != "hosta" {
		t.Errorf("Summary node_id = %v, want hosta", got)
	}
	raft := s["raft"].(map[string]any)
	if got := raft["heartbeat_timeout"]; got != "500ms" {
		t.Errorf("Summary raft.heartbeat_timeout = %v, want 500ms", got)
	}
	vip := s["vip"].(map[string]any)
	if got := vip["addresses"]; !reflect.DeepEqual(got, []string{"10.99.0.10/24"}) {
		t.Errorf("Summary vip.addresses = %v", got)
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"u:p@tcp(127.0.0.1:3306)/", "u:****@tcp(127.0.0.1:3306)/"},
		{"u:p@ss:w@rd@tcp(h:3306)/db?timeout=1s", "u:****@tcp(h:3306)/db?timeout=1s"},
		{"u:pa/ss@unix(/run/mysqld/mysqld.sock)/db", "u:****@unix(/run/mysqld/mysqld.sock)/db"},
		{"u@tcp(h:3306)/", "u@tcp(h:3306)/"},
		{"u:@tcp(h:3306)/", "u:****@tcp(h:3306)/"},
		{"/db", "/db"},
		{"u:secret@tcp(h:3306", "u:****@tcp(h:3306"}, // unparsable, still redacted
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.in); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDSNFileRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dsn"), []byte("  raftvip:pw@tcp(127.0.0.1:3306)/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "raftvip.hcl")
	src := edit(t, `dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `dsn_file = "dsn"`)
	if err := os.WriteFile(path, withPlaintext([]byte(src)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.File != path {
		t.Errorf("File = %q, want %q", cfg.File, path)
	}
	if got, want := cfg.MySQL.DSN, "raftvip:pw@tcp(127.0.0.1:3306)/"; got != want {
		t.Errorf("DSN = %q, want the trimmed file contents %q", got, want)
	}
	if got, want := cfg.MySQL.DSNFile, filepath.Join(dir, "dsn"); got != want {
		t.Errorf("DSNFile = %q, want %q", got, want)
	}
	if got := cfg.Summary()["mysql"].(map[string]any)["dsn"]; got != "raftvip:****@tcp(127.0.0.1:3306)/" {
		t.Errorf("Summary dsn = %v", got)
	}
}

func TestDSNFileEmptyOrDirectory(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, frag string }{
		{empty, "is empty"},
		{dir, "is a directory"},
	} {
		src := edit(t, `dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `dsn_file = "`+tt.path+`"`)
		list := parseErrs(t, src, "f.hcl")
		if len(list) != 1 || list[0].Line != 22 || !strings.Contains(list[0].Msg, tt.path) || !strings.Contains(list[0].Msg, tt.frag) {
			t.Errorf("dsn_file %s: want one error at line 22 naming the path and %q, got %v", tt.path, tt.frag, list)
		}
	}
}

func TestLoadUnreadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.hcl")
	cfg, err := Load(path)
	if cfg != nil {
		t.Errorf("Load returned a config for a missing file")
	}
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.List) != 1 {
		t.Fatalf("want *Errors with one problem, got %T %v", err, err)
	}
	if got, want := err.Error(), path+": cannot read config file: no such file or directory"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestWitnessIgnoresVIP(t *testing.T) {
	src := edit(t, `node_id  = "hosta"`, `node_id  = "witness"`, `role     = "db"`, `role     = "witness"`,
		`bind     = "10.99.0.11:7400"`, `bind     = "10.99.0.13:7400"`,
		"mysql {\n  dsn = \"raftvip:hunter2@tcp(127.0.0.1:3306)/\"\n}\n", "")
	cfg, err := parse([]byte(src), "w.hcl")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.VIP != nil || cfg.MySQL != nil {
		t.Errorf("witness config has VIP %+v / MySQL %+v, want both nil", cfg.VIP, cfg.MySQL)
	}
	// The ignored block is still checked, so a shared template stays valid.
	bad := strings.Replace(src, `["10.99.0.10/24"]`, `["10.99.0.300/24"]`, 1)
	list := parseErrs(t, bad, "w.hcl")
	if len(list) != 1 || list[0].Line != 19 {
		t.Errorf("want one error at line 19, got %v", list)
	}
}

func TestPeerByID(t *testing.T) {
	cfg, err := parse([]byte(base), "base.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := cfg.PeerByID("hostb"); !ok || p != examplePeers[1] {
		t.Errorf("PeerByID(hostb) = %+v, %v", p, ok)
	}
	if _, ok := cfg.PeerByID("nobody"); ok {
		t.Errorf("PeerByID(nobody) found a peer")
	}
	if got := cfg.Self(); got != examplePeers[0] {
		t.Errorf("Self() = %+v", got)
	}
}

func TestErrorFormat(t *testing.T) {
	e := Error{File: "a.hcl", Line: 3, Column: 7, Msg: "boom"}
	if got := e.Error(); got != "a.hcl:3:7: boom" {
		t.Errorf("Error() = %q", got)
	}
	errs := &Errors{List: []Error{e, {File: "a.hcl", Line: 4, Column: 1, Msg: "bang"}}}
	if got := errs.Error(); got != "a.hcl:3:7: boom\na.hcl:4:1: bang" {
		t.Errorf("Errors.Error() = %q", got)
	}
}

func TestBindMatchesOwnPeerAddress(t *testing.T) {
	for _, bind := range []string{"10.99.0.11:7400", "10.99.0.11:07400"} {
		cfg, err := parse([]byte(edit(t, `bind     = "10.99.0.11:7400"`, `bind     = "`+bind+`"`)), "b.hcl")
		if err != nil || len(cfg.Warnings) != 0 {
			t.Errorf("bind %s: err %v, warnings %v; want neither", bind, err, cfg.Warnings)
		}
	}
	// A wildcard on the peer's port works (the node is reachable where the
	// others dial) but listens everywhere: accepted, with a warning.
	for _, bind := range []string{"0.0.0.0:7400", "[::]:7400", ":7400"} {
		cfg, err := parse([]byte(edit(t, `bind     = "10.99.0.11:7400"`, `bind     = "`+bind+`"`)), "b.hcl")
		if err != nil {
			t.Errorf("bind %s: %v", bind, err)
			continue
		}
		want := `b.hcl:4:1: bind: "` + bind + `" listens on every address of this host (the VIP's too), not only on this node's peer address "10.99.0.11:7400" (peer "hosta" at b.hcl:6:3)`
		if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0].Error(), want) {
			t.Errorf("bind %s: warnings %v, want one starting %q", bind, cfg.Warnings, want)
		}
	}
}

// keepalived writes `interface eth0`; the same unquoted in HCL is a
// variable reference, and HCL's own message says only that variables are
// not allowed.
func TestUnquotedStringHint(t *testing.T) {
	list := parseErrs(t, edit(t, `interface = "eth0"`, `interface = eth0`), "q.hcl")
	if len(list) != 1 || !strings.Contains(list[0].Error(), `q.hcl:18:15: vip.interface: eth0 needs quotes: write interface = "eth0"`) {
		t.Errorf("unquoted interface: %v", list)
	}
	list = parseErrs(t, edit(t, `interface = "eth0"`, `interface = eth0.100`), "q.hcl")
	if len(list) != 1 || !strings.Contains(list[0].Error(), `eth0.100 needs quotes: write interface = "eth0.100"`) {
		t.Errorf("unquoted VLAN interface: %v", list)
	}
}

// The data-safety settings (issue 10): every key read, on a db node and on
// a witness (whichever node leads applies the leader's part).
func TestDataSafetySettings(t *testing.T) {
	src := edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n"+`  fence_table = "ops_db.Fence$1"`) +
		"failover {\n  max_lag = \"1m30s\"\n  promote_stale = true\n  catchup_timeout = \"500ms\"\n  on_catchup_timeout = \"stay_read_only\"\n  kill_sessions = false\n}\n"
	cfg, err := parse([]byte(src), "d.hcl")
	if err != nil {
		t.Fatal(err)
	}
	want := Failover{MaxLag: 90 * time.Second, PromoteStale: true, CatchupTimeout: 500 * time.Millisecond,
		OnCatchupTimeout: OnCatchupStayReadOnly, KillSessions: false}
	if cfg.Failover != want {
		t.Errorf("Failover = %+v, want %+v", cfg.Failover, want)
	}
	if cfg.MySQL.FenceTable != "ops_db.Fence$1" {
		t.Errorf("FenceTable = %q", cfg.MySQL.FenceTable)
	}
	// fence_table = "" is off, as when absent; null is the default too.
	for _, v := range []string{`""`, "null"} {
		cfg, err := parse([]byte(edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n  fence_table = "+v)), "d.hcl")
		if err != nil || cfg.MySQL.FenceTable != "" {
			t.Errorf("fence_table = %s: %v, %+v", v, err, cfg)
		}
	}
	// A failover block with only preempt keeps the other defaults.
	cfg, err = parse([]byte(base+"failover {\n  preempt = false\n}\n"), "d.hcl")
	if err != nil || cfg.Failover != defaultFailover {
		t.Errorf("failover with preempt only: %v, %+v; want %+v", err, cfg, defaultFailover)
	}
	w, err := Load(filepath.Join("testdata", "example-witness.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	wsrc, err := os.ReadFile(filepath.Join("testdata", "example-witness.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = Parse(append(wsrc, "failover {\n  max_lag = \"3s\"\n  promote_stale = true\n}\n"...), "w.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Failover.MaxLag != 3*time.Second || !cfg.Failover.PromoteStale || w.Failover != defaultFailover {
		t.Errorf("witness failover = %+v (without the block %+v)", cfg.Failover, w.Failover)
	}
}

// fence_table is checked by mysqlcheck's rule (what writes the table),
// with a precise message at the key's position.
func TestFenceTableNames(t *testing.T) {
	src := func(table string) string {
		return edit(t, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`, `  dsn = "raftvip:hunter2@tcp(127.0.0.1:3306)/"`+"\n  fence_table = "+strconv.Quote(table))
	}
	for _, ok := range []string{"raftvip.fence", "a.b", "DB_1.t$", "123.456", strings.Repeat("d", 64) + "." + strings.Repeat("t", 64)} {
		cfg, err := parse([]byte(src(ok)), "f.hcl")
		if err != nil || cfg.MySQL.FenceTable != ok {
			t.Errorf("fence_table = %q: %v", ok, err)
		}
	}
	for bad, frag := range map[string]string{
		"fence":                              `"fence" is not db.table`,
		"a.b.c":                              `"a.b.c" is not db.table`,
		".fence":                             "the database name is empty",
		"raftvip.":                           "the table name is empty",
		"raftvip.f-nce":                      `the table name "f-nce" has '-'`,
		"raft vip.fence":                     `the database name "raft vip" has ' '`,
		"`raftvip`.fence":                    "has '`'",
		"raftvip.fénce":                      "has 'é'",
		"raftvip." + strings.Repeat("t", 65): "the table name is 65 bytes, more than MySQL's 64",
	} {
		list := parseErrs(t, src(bad), "f.hcl")
		if len(list) != 1 || !strings.HasPrefix(list[0].Error(), "f.hcl:23:3: mysql.fence_table: ") || !strings.Contains(list[0].Msg, frag) {
			t.Errorf("fence_table = %q: %v, want one error at f.hcl:23:3 containing %q", bad, list, frag)
		}
		if err := mysqlcheck.ValidFenceTable(bad); err == nil {
			t.Errorf("config refuses %q, which mysqlcheck accepts", bad)
		}
	}
}

func TestMetricsAddr(t *testing.T) {
	cfg, err := parse([]byte(base), "ok.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsAddr != "" {
		t.Errorf("MetricsAddr = %q without metrics_addr, want none", cfg.MetricsAddr)
	}
	cfg, err = parse([]byte(base+`metrics_addr = "10.99.0.11:9273"`+"\n"), "ok.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsAddr != "10.99.0.11:9273" {
		t.Errorf("MetricsAddr = %q, want 10.99.0.11:9273", cfg.MetricsAddr)
	}
}

func TestCPUPriority(t *testing.T) {
	cfg, err := parse([]byte(base), "ok.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CPUPriority != "high" {
		t.Errorf("CPUPriority = %q without cpu_priority, want the default high", cfg.CPUPriority)
	}
	cfg, err = parse([]byte(base+`cpu_priority = "realtime"`+"\n"), "ok.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CPUPriority != "realtime" {
		t.Errorf("CPUPriority = %q, want realtime", cfg.CPUPriority)
	}
	_, err = parse([]byte(base+`cpu_priority = "max"`+"\n"), "bad.hcl")
	if err == nil || !strings.Contains(err.Error(), "bad.hcl:") || !strings.Contains(err.Error(), `cpu_priority: "max" is not a cpu priority`) {
		t.Fatalf("cpu_priority = \"max\": error %v, want one at bad.hcl:line naming the value", err)
	}
}
