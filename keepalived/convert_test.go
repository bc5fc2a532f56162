package keepalived

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/config"
)

var (
	peerB       = Peer{ID: "hostb", Address: "192.168.10.12:7400", Role: config.RoleDB}
	peerA       = Peer{ID: "hosta", Address: "192.168.10.11:7400", Role: config.RoleDB}
	peerWitness = Peer{ID: "witness", Address: "192.168.10.13:7400", Role: config.RoleWitness}
)

// defaultFailover is what an imported failover block gives: no preemption
// and the data-safety defaults.
var defaultFailover = config.Failover{MaxLag: config.DefaultMaxLag, CatchupTimeout: config.DefaultCatchupTimeout,
	OnCatchupTimeout: config.DefaultOnCatchupTimeout, KillSessions: config.DefaultKillSessions}

// dsnFile writes a DSN file so that config.Parse of the output can read it.
func dsnFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mysql.dsn")
	if err := os.WriteFile(p, []byte("raftvip:pw@tcp(127.0.0.1:3306)/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// importFile loads a keepalived.conf, converts it and parses the output
// with the real config parser, as `raftvip validate` would.
func importFile(t *testing.T, path string, opts Options) (*Result, *config.Config) {
	t.Helper()
	kc, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	res, err := Convert(kc, opts)
	if err != nil {
		t.Fatalf("Convert(%s): %v", path, err)
	}
	cfg, err := config.Parse(res.HCL, "imported.hcl")
	if err != nil {
		t.Fatalf("config.Parse of the output: %v\noutput:\n%s", err, res.HCL)
	}
	return res, cfg
}

func TestImportKnownConfigs(t *testing.T) {
	dsn := dsnFile(t)
	mysqlDefaults := config.MySQL{DSN: "raftvip:pw@tcp(127.0.0.1:3306)/", DSNFile: dsn, Query: "SELECT 1",
		Interval: config.DefaultInterval, Timeout: config.DefaultTimeout, Fall: config.DefaultFall, Rise: config.DefaultRise, FailAfter: config.DefaultFailAfter,
		ReplicationInterval: config.DefaultReplicationInterval}
	tests := []struct {
		file      string
		opts      Options
		bind      string
		vip       config.VIP
		mysql     config.MySQL
		vrrp      config.VRRP
		peers     []config.Peer
		nopreempt bool
	}{
		{
			file: "seed-hosta.conf",
			opts: Options{NodeID: "hosta", Peers: []Peer{peerB, peerWitness}},
			bind: "192.168.10.11:7400", // from mcast_src_ip
			vip: config.VIP{Interface: "ens34", Addresses: []netip.Prefix{netip.MustParsePrefix("192.168.10.10/32")},
				Lease: config.DefaultLease, GARPCount: config.DefaultGARPCount, GARPInterval: config.DefaultGARPInterval},
			mysql: config.MySQL{Interval: 2 * time.Second, Timeout: config.DefaultTimeout, Fall: config.DefaultFall, Rise: 1, FailAfter: 4 * time.Second},
			vrrp: config.VRRP{Mode: config.VRRPObserve, Version: 2, VRID: 51, Priority: 250, AdvertInt: time.Second,
				AuthPass: "1111", Interface: "ens34", UntrustedBlockMax: config.DefaultUntrustedBlockMax,
				TrustedRouters: []netip.Addr{netip.MustParseAddr("192.168.10.12")}},
			peers: []config.Peer{{ID: "hosta", Address: "192.168.10.11:7400", Role: "db"}, {ID: "hostb", Address: "192.168.10.12:7400", Role: "db"},
				{ID: "witness", Address: "192.168.10.13:7400", Role: "witness"}},
			nopreempt: true,
		},
		{
			file: "seed-hostb.conf",
			opts: Options{NodeID: "hostb", Peers: []Peer{peerA, peerWitness}},
			bind: "192.168.10.12:7400",
			vip: config.VIP{Interface: "ens34", Addresses: []netip.Prefix{netip.MustParsePrefix("192.168.10.10/32")},
				Lease: config.DefaultLease, GARPCount: config.DefaultGARPCount, GARPInterval: config.DefaultGARPInterval},
			mysql: config.MySQL{Interval: 2 * time.Second, Timeout: config.DefaultTimeout, Fall: config.DefaultFall, Rise: 1, FailAfter: 4 * time.Second},
			vrrp: config.VRRP{Mode: config.VRRPObserve, Version: 2, VRID: 51, Priority: 250, AdvertInt: time.Second,
				AuthPass: "1111", Interface: "ens34", UntrustedBlockMax: config.DefaultUntrustedBlockMax,
				TrustedRouters: []netip.Addr{netip.MustParseAddr("192.168.10.11")}},
			peers: []config.Peer{{ID: "hostb", Address: "192.168.10.12:7400", Role: "db"}, {ID: "hosta", Address: "192.168.10.11:7400", Role: "db"},
				{ID: "witness", Address: "192.168.10.13:7400", Role: "witness"}},
			nopreempt: true,
		},
		{
			file: "v2-multicast-pass.keepalived.conf",
			opts: Options{Bind: "10.99.0.11", Peers: []Peer{{ID: "hostb", Address: "10.99.0.12:7400", Role: "db"}, {ID: "witness", Address: "10.99.0.13:7400", Role: "witness"}}},
			bind: "10.99.0.11:7400",
			vip: config.VIP{Interface: "eth0", Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.10/24")},
				Lease: config.DefaultLease, GARPCount: 5, GARPInterval: config.DefaultGARPInterval},
			mysql: config.MySQL{Interval: 2 * time.Second, Timeout: 2 * time.Second, Fall: config.DefaultFall, Rise: 1, FailAfter: 4 * time.Second},
			vrrp: config.VRRP{Mode: config.VRRPActive, Version: 2, VRID: 51, Priority: 250, AdvertInt: time.Second,
				AuthPass: "1111", Interface: "eth0", UntrustedBlockMax: config.DefaultUntrustedBlockMax,
				TrustedRouters: []netip.Addr{netip.MustParseAddr("10.99.0.12")}},
			peers: []config.Peer{{ID: "rvlab-a", Address: "10.99.0.11:7400", Role: "db"}, {ID: "hostb", Address: "10.99.0.12:7400", Role: "db"},
				{ID: "witness", Address: "10.99.0.13:7400", Role: "witness"}},
			nopreempt: true,
		},
		{
			file: "v3-multicast-2vips.keepalived.conf",
			opts: Options{NodeID: "hosta", Bind: "10.99.0.11:7401", Peers: []Peer{{ID: "hostb", Address: "10.99.0.12:7401"}, {ID: "w", Address: "10.99.0.13:7401", Role: "witness"}}},
			bind: "10.99.0.11:7401",
			vip: config.VIP{Interface: "eth0", Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.10/24"), netip.MustParsePrefix("10.99.0.20/24")},
				Lease: config.DefaultLease, GARPCount: config.DefaultGARPCount, GARPInterval: config.DefaultGARPInterval},
			mysql: config.MySQL{Interval: config.DefaultInterval, Timeout: config.DefaultTimeout, Fall: config.DefaultFall, Rise: config.DefaultRise, FailAfter: config.DefaultFailAfter},
			vrrp: config.VRRP{Mode: config.VRRPOff, Version: 3, VRID: 51, Priority: 250, AdvertInt: time.Second, Interface: "eth0", UntrustedBlockMax: config.DefaultUntrustedBlockMax,
				TrustedRouters: []netip.Addr{netip.MustParseAddr("10.99.0.12")}},
			peers: []config.Peer{{ID: "hosta", Address: "10.99.0.11:7401", Role: "db"}, {ID: "hostb", Address: "10.99.0.12:7401", Role: "db"},
				{ID: "w", Address: "10.99.0.13:7401", Role: "witness"}},
		},
	}
	modes := []string{"", "", config.VRRPActive, config.VRRPOff}
	instances := []string{"VI_1", "VI_1", "VI_MYSQL", "VI_V3"}
	for i, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tt.opts.MySQLDSNFile = dsn
			tt.opts.VRRPMode = modes[i]
			res, cfg := importFile(t, filepath.Join("testdata", tt.file), tt.opts)
			if cfg.NodeID != tt.peers[0].ID || cfg.Role != config.RoleDB || cfg.Bind != tt.bind || cfg.DataDir != "/var/lib/raftvip/"+cfg.NodeID {
				t.Errorf("node_id %q role %q bind %q data_dir %q", cfg.NodeID, cfg.Role, cfg.Bind, cfg.DataDir)
			}
			if res.NodeID != cfg.NodeID || res.Instance != instances[i] {
				t.Errorf("result names node %q instance %q", res.NodeID, res.Instance)
			}
			if !reflect.DeepEqual(cfg.Peers, tt.peers) {
				t.Errorf("peers = %+v\nwant    %+v", cfg.Peers, tt.peers)
			}
			if cfg.VIP == nil || !reflect.DeepEqual(*cfg.VIP, tt.vip) {
				t.Errorf("vip = %+v\nwant  %+v", cfg.VIP, tt.vip)
			}
			want := mysqlDefaults
			want.Interval, want.Timeout, want.Fall, want.Rise, want.FailAfter = tt.mysql.Interval, tt.mysql.Timeout, tt.mysql.Fall, tt.mysql.Rise, tt.mysql.FailAfter
			if cfg.MySQL == nil || *cfg.MySQL != want {
				t.Errorf("mysql = %+v\nwant    %+v", cfg.MySQL, want)
			}
			if !reflect.DeepEqual(cfg.VRRP, tt.vrrp) {
				t.Errorf("vrrp = %+v\nwant   %+v", cfg.VRRP, tt.vrrp)
			}
			if cfg.Failover != defaultFailover {
				t.Errorf("failover = %+v, want preempt = false and the defaults %+v", cfg.Failover, defaultFailover)
			}
			text := string(res.HCL)
			if tt.nopreempt && !regexp.MustCompile(`# keepalived: nopreempt \(`+regexp.QuoteMeta(tt.file)+`:\d+\) -> failover.preempt = false`).MatchString(text) {
				t.Errorf("no comment mapping nopreempt to failover.preempt = false:\n%s", text)
			}
			checkEverySettingReported(t, filepath.Join("testdata", tt.file), text)
			if len(res.Notes) != 0 {
				t.Errorf("notes %q, want none (the DSN file exists)", res.Notes)
			}
		})
	}
}

// checkEverySettingReported asserts that every statement of the file's
// global_defs, vrrp_script and vrrp_instance blocks (and every other top
// level statement) is named in a "keepalived:" comment by its file:line.
func checkEverySettingReported(t *testing.T, path, text string) {
	t.Helper()
	tr, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	comments := commentText(text)
	base := filepath.Base(path)
	var check func(n *Node, depth int)
	check = func(n *Node, depth int) {
		at := fmt.Sprintf("(%s:%d)", base, n.Pos.Line)
		if !strings.Contains(comments, at) {
			t.Errorf("%s at %s is in no comment", n.Text(), at)
		}
		// Settings inside the three VRRP blocks each get their own comment.
		if depth == 0 && (n.Keyword == "global_defs" || n.Keyword == "vrrp_script" || n.Keyword == "vrrp_instance") {
			for _, c := range n.Block {
				check(c, 1)
			}
		}
	}
	for _, n := range tr.Nodes {
		if n.Keyword == "global_defs" {
			for _, c := range n.Block {
				check(c, 1)
			}
			continue
		}
		check(n, 0)
	}
}

// commentText joins the comment lines of the output into one line of text,
// undoing the wrapping.
func commentText(hcl string) string {
	var parts []string
	for _, l := range strings.Split(hcl, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "#"); ok {
			parts = append(parts, strings.TrimSpace(rest))
		}
	}
	return strings.Join(parts, " ")
}

// convertSrc converts an in-memory keepalived.conf named k.conf.
func convertSrc(t *testing.T, src string, opts Options) (*Result, error) {
	t.Helper()
	kc, err := Decode(parse(t, src))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return Convert(kc, opts)
}

// mini is a small valid instance; extra lines are inserted at line 4.
func mini(extra string) string {
	return "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n" + extra +
		"  virtual_ipaddress {\n    10.99.0.10/24\n  }\n}\n"
}

var twoPeers = []Peer{{ID: "hostb", Address: "10.99.0.12:7400", Role: "db"}, {ID: "witness", Address: "10.99.0.13:7400", Role: "witness"}}

func goodOpts(t *testing.T) Options {
	return Options{NodeID: "hosta", Bind: "10.99.0.11:7400", Peers: twoPeers, MySQLDSNFile: dsnFile(t)}
}

func TestConvertErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		opts  func(*Options)
		pos   string // "k.conf:line:col" for *Errors, "" for *UsageError
		frag  string
		usage bool
	}{
		{"two instances without -instance", mini("") + "vrrp_instance VI_2 {\n}\n", nil,
			"k.conf:8:1", "2 vrrp_instance blocks (VI_1 at k.conf:1:1, VI_2 at k.conf:8:1); raftvip moves one set of addresses, so choose the one to import with -instance NAME", false},
		{"unknown -instance", mini(""), func(o *Options) { o.Instance = "VI_9" },
			"", "-instance VI_9: no such vrrp_instance in k.conf (it has: VI_1 at k.conf:1:1)", true},
		{"no instance", "global_defs {\n}\n", nil, "", "k.conf has no vrrp_instance block", true},
		{"dev mismatch", "vrrp_instance V {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.99.0.10/24 dev eth0\n    10.99.1.10/24 dev eth1\n  }\n}\n", nil,
			"k.conf:6:5", "virtual_ipaddress 10.99.1.10 is on dev eth1, but 10.99.0.10 (line 5) is on dev eth0: raftvip moves all VIP addresses together on one interface", false},
		{"dev differs from the interface of an address without dev", "vrrp_instance V {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.99.0.10/24\n    10.99.1.10/24 dev eth1\n  }\n}\n", nil,
			"k.conf:5:5", "virtual_ipaddress 10.99.0.10 has no dev, so keepalived adds it on the instance's interface eth0, but 10.99.1.10 (line 6) is on dev eth1", false},
		{"IPv6 VIP", "vrrp_instance V {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    fd00::10/64\n  }\n}\n", nil,
			"k.conf:5:5", "virtual_ipaddress fd00::10/64 is IPv6; raftvip supports IPv4 VIPs only", false},
		{"VIP is a network address", "vrrp_instance V {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.99.0.10/32\n    10.99.0.0/24\n  }\n}\n", nil,
			"k.conf:6:5", "virtual_ipaddress 10.99.0.0/24 is the network address of 10.99.0.0/24, which raftvip refuses as a VIP", false},
		{"VIP is a broadcast address", "vrrp_instance V {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.99.0.255/24\n  }\n}\n", nil,
			"k.conf:5:5", "is the broadcast address of 10.99.0.0/24", false},
		{"no VIP", "vrrp_instance V {\n  interface eth0\n  virtual_router_id 51\n}\n", nil,
			"k.conf:1:1", "vrrp_instance V has no virtual_ipaddress", false},
		{"no interface", "vrrp_instance V {\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.99.0.10/24\n  }\n}\n", nil,
			"k.conf:1:1", "vrrp_instance V has no interface and its virtual_ipaddress entries name no dev", false},
		{"no VRID", "vrrp_instance V {\n  interface eth0\n  virtual_ipaddress {\n    10.99.0.10/24\n  }\n}\n", nil,
			"k.conf:1:1", "vrrp_instance V has no virtual_router_id", false},
		{"AH authentication", mini("  authentication {\n    auth_type AH\n    auth_pass 1111\n  }\n"), nil,
			"k.conf:5:15", "auth_type AH (IPsec authentication header) is not supported by raftvip's VRRP", false},
		{"missing peers", mini(""), func(o *Options) { o.Peers = nil },
			"", "the Raft group needs 3 nodes and only 1 are known (hosta): give the other 2 with -peer ID=HOST:PORT[,ROLE]", true},
		{"one peer missing", mini(""), func(o *Options) { o.Peers = twoPeers[:1] },
			"", "only 2 are known (hosta, hostb): give the other 1 with -peer", true},
		{"peer is this node with another address", mini(""), func(o *Options) {
			o.Peers = append([]Peer{{ID: "hosta", Address: "10.99.0.99:7400", Role: "db"}}, twoPeers...)
		}, "", "-peer hosta=10.99.0.99:7400,db is this node, which is 10.99.0.11:7400,db", true},
		{"peer twice", mini(""), func(o *Options) { o.Peers = append(o.Peers, twoPeers[0]) }, "", "-peer hostb is given twice", true},
		{"peer address taken", mini(""), func(o *Options) { o.Peers = append(o.Peers, Peer{ID: "x", Address: "10.99.0.12:7400", Role: "db"}) },
			"", "-peer x=10.99.0.12:7400: that address is already hostb's", true},
		{"no bind", mini(""), func(o *Options) { o.Bind = "" }, "", "-bind HOST:PORT is needed", true},
		{"bad bind", mini(""), func(o *Options) { o.Bind = "10.99.0.11:http" }, "", `-bind: "10.99.0.11:http": port "http" must be a number 1-65535`, true},
		{"bad role", mini(""), func(o *Options) { o.Role = "arbiter" }, "", `-role "arbiter": want db or witness`, true},
		{"bad mode", mini(""), func(o *Options) { o.VRRPMode = "loud" }, "", `-vrrp-mode "loud": want observe, active or off`, true},
		{"witness speaking VRRP", mini(""), func(o *Options) { o.Role = "witness"; o.VRRPMode = "active" }, "", "only db nodes speak VRRP", true},
		{"both DSN flags", mini(""), func(o *Options) { o.MySQLDSN = "u:p@tcp(h:3306)/" }, "", "give -mysql-dsn or -mysql-dsn-file, not both", true},
		{"no node id anywhere", mini(""), func(o *Options) { o.NodeID = "" }, "", "-node-id is needed", true},
		{"output does not validate", mini(""), func(o *Options) { o.DataDir = ""; o.Admin = "/run/" + strings.Repeat("x", 120) },
			"", "the generated configuration does not validate (check the flags):\ngenerated.hcl:", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := goodOpts(t)
			if tt.opts != nil {
				tt.opts(&opts)
			}
			res, err := convertSrc(t, tt.src, opts)
			if err == nil {
				t.Fatalf("converted, want an error; output:\n%s", res.HCL)
			}
			var ue *UsageError
			var errs *Errors
			switch {
			case tt.usage:
				if !errors.As(err, &ue) || !strings.Contains(ue.Msg, tt.frag) {
					t.Errorf("want a usage error containing %q, got %T: %v", tt.frag, err, err)
				}
			case errors.As(err, &errs):
				for _, e := range errs.List {
					if strings.HasPrefix(e.Error(), tt.pos+": ") && strings.Contains(e.Msg, tt.frag) {
						return
					}
				}
				t.Errorf("no error at %s containing %q; got:\n%v", tt.pos, tt.frag, err)
			default:
				t.Errorf("want *Errors, got %T: %v", err, err)
			}
		})
	}
}

func TestMissingPeersSuggestsUnicastPeers(t *testing.T) {
	src := mini("  unicast_src_ip 10.99.0.11\n  unicast_peer {\n    10.99.0.12\n  }\n")
	opts := goodOpts(t)
	opts.Peers, opts.Bind = nil, ""
	_, err := convertSrc(t, src, opts)
	if err == nil || !strings.Contains(err.Error(), "-peer hostb=10.99.0.12:7400 for the other db host (unicast_peer lists 10.99.0.12)") ||
		!strings.Contains(err.Error(), "-allow-placeholders") {
		t.Errorf("err = %v", err)
	}
}

func TestPlaceholders(t *testing.T) {
	for _, peers := range [][]Peer{nil, twoPeers[:1], twoPeers[1:]} {
		opts := goodOpts(t)
		opts.Peers, opts.AllowPlaceholders = peers, true
		res, err := convertSrc(t, mini(""), opts)
		if err != nil {
			t.Fatalf("peers %v: %v", peers, err)
		}
		cfg, err := config.Parse(res.HCL, "p.hcl")
		if err != nil {
			t.Fatalf("peers %v: output does not parse: %v\n%s", peers, err, res.HCL)
		}
		dbs, witnesses, placeholders := 0, 0, 0
		for _, p := range cfg.Peers {
			if p.Role == config.RoleDB {
				dbs++
			} else {
				witnesses++
			}
			if strings.HasPrefix(p.ID, "CHANGE-ME-") {
				placeholders++
				if !strings.HasPrefix(p.Address, "192.0.2.") {
					t.Errorf("placeholder %s at %s, want a TEST-NET-1 address", p.ID, p.Address)
				}
			}
		}
		if len(cfg.Peers) != 3 || dbs != 2 || witnesses != 1 || placeholders != 3-1-len(peers) {
			t.Errorf("peers %v: got %+v, want two db hosts and a witness, %d placeholders", peers, cfg.Peers, 2-len(peers))
		}
		if strings.Count(string(res.HCL), "FIXME: PLACEHOLDER PEER") != placeholders {
			t.Errorf("want a loud comment per placeholder:\n%s", res.HCL)
		}
		// Placeholders are no keepalived routers: when no other address is
		// known, a second note asks for trusted_routers.
		if len(res.Notes) == 0 || !strings.Contains(res.Notes[0], "placeholder peer") {
			t.Errorf("notes = %q", res.Notes)
		}
	}
}

func TestConvertWitness(t *testing.T) {
	opts := goodOpts(t)
	opts.Role = config.RoleWitness
	opts.NodeID = "witness"
	opts.Bind = "10.99.0.13"
	opts.Peers = []Peer{peerA, peerB}
	res, cfg := importFile(t, filepath.Join("testdata", "seed-hosta.conf"), opts)
	if cfg.Role != config.RoleWitness || cfg.VIP != nil || cfg.MySQL != nil || cfg.VRRP.Mode != config.VRRPOff {
		t.Errorf("witness config: role %s vip %v mysql %v vrrp %+v", cfg.Role, cfg.VIP, cfg.MySQL, cfg.VRRP)
	}
	for _, block := range []string{"vip {", "mysql {", "vrrp {"} {
		if strings.Contains(string(res.HCL), block) {
			t.Errorf("witness output has a %s block", block)
		}
	}
	checkEverySettingReported(t, filepath.Join("testdata", "seed-hosta.conf"), string(res.HCL))
}

func TestConvertDetails(t *testing.T) {
	t.Run("vrrp_script interval x fall becomes fail_after, the count is not copied", func(t *testing.T) {
		for _, tc := range []struct {
			lines string
			want  time.Duration
			note  string
		}{
			{"  interval 1\n  fall 5\n", 5 * time.Second, "keepalived: fall 5 (k.conf:4) -> mysql.fail_after = interval x fall = 1s x 5"},
			{"  interval 3\n", 3 * time.Second, "keepalived: fall not set (keepalived's default 1) -> mysql.fail_after = interval x fall = 3s x 1"},
			{"  fall 3\n", 3 * time.Second, "mysql.fail_after = interval x fall = 1s x 3"},
			{"  interval 2\n  fall 2\n", 4 * time.Second, "a dead MySQL still moves the VIP in milliseconds"},
		} {
			src := "vrrp_script chk_mysql {\n  script \"/usr/bin/true\"\n" + tc.lines + "}\n" +
				mini("  track_script {\n    chk_mysql\n  }\n")
			res, err := convertSrc(t, src, goodOpts(t))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(res.HCL, "a.hcl")
			if err != nil {
				t.Fatalf("%q: %v\n%s", tc.lines, err, res.HCL)
			}
			if cfg.MySQL.FailAfter != tc.want || cfg.MySQL.Fall != config.DefaultFall {
				t.Errorf("%q: fail_after %v fall %d, want fail_after %v and raftvip's default fall %d", tc.lines, cfg.MySQL.FailAfter, cfg.MySQL.Fall, tc.want, config.DefaultFall)
			}
			if strings.Contains(string(res.HCL), "\n  fall ") {
				t.Errorf("%q: fall copied:\n%s", tc.lines, res.HCL)
			}
			if c := commentText(string(res.HCL)); !strings.Contains(c, tc.note) {
				t.Errorf("%q: comments lack %q:\n%s", tc.lines, tc.note, c)
			}
		}
	})
	t.Run("auth_pass longer than 8 is truncated like keepalived, never shown in comments", func(t *testing.T) {
		res, err := convertSrc(t, mini("  authentication {\n    auth_type PASS\n    auth_pass opensesame99\n  }\n"), goodOpts(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(res.HCL, "a.hcl")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.VRRP.AuthPass != "opensesa" {
			t.Errorf("auth_pass = %q, want keepalived's first 8 characters", cfg.VRRP.AuthPass)
		}
		if c := commentText(string(res.HCL)); strings.Contains(c, "opensesa") || !strings.Contains(c, "is 12 characters but keepalived uses only the first 8") {
			t.Errorf("comments: %s", c)
		}
	})
	t.Run("advert_int rounded like keepalived for v2, kept for v3", func(t *testing.T) {
		for _, tc := range []struct {
			lines string
			want  time.Duration
		}{
			{"  advert_int 1.5\n", 2 * time.Second},
			{"  advert_int 0.3\n", time.Second},
			{"  version 3\n  advert_int 0.5\n", 500 * time.Millisecond},
			{"  version 3\n  advert_int 0.123\n", 120 * time.Millisecond},
		} {
			res, err := convertSrc(t, mini(tc.lines), goodOpts(t))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(res.HCL, "a.hcl")
			if err != nil {
				t.Fatalf("%q: %v", tc.lines, err)
			}
			if cfg.VRRP.AdvertInt != tc.want {
				t.Errorf("%q: advert_int %v, want %v", tc.lines, cfg.VRRP.AdvertInt, tc.want)
			}
		}
	})
	t.Run("v3 ignores authentication", func(t *testing.T) {
		res, err := convertSrc(t, mini("  version 3\n  authentication {\n    auth_type PASS\n    auth_pass 1111\n  }\n"), goodOpts(t))
		if err != nil {
			t.Fatal(err)
		}
		if cfg, err := config.Parse(res.HCL, "a.hcl"); err != nil || cfg.VRRP.AuthPass != "" {
			t.Errorf("cfg %+v err %v", cfg, err)
		}
	})
	t.Run("AH is fine with VRRP off", func(t *testing.T) {
		opts := goodOpts(t)
		opts.VRRPMode = config.VRRPOff
		res, err := convertSrc(t, mini("  authentication {\n    auth_type AH\n  }\n"), opts)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(commentText(string(res.HCL)), "not supported: raftvip's VRRP has no AH authentication") {
			t.Errorf("no AH comment:\n%s", res.HCL)
		}
	})
	t.Run("unicast peers and another VRRP interface", func(t *testing.T) {
		src := "vrrp_instance V {\n  interface eth0\n  virtual_router_id 9\n  unicast_src_ip 10.99.0.11\n  unicast_peer {\n    10.99.0.12\n    10.99.0.14 min_ttl 250\n  }\n" +
			"  virtual_ipaddress {\n    10.99.1.10/24 dev eth1\n  }\n}\n"
		opts := goodOpts(t)
		opts.Bind = ""
		res, err := convertSrc(t, src, opts)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(res.HCL, "u.hcl")
		if err != nil {
			t.Fatalf("%v\n%s", err, res.HCL)
		}
		if cfg.Bind != "10.99.0.11:7400" || cfg.VIP.Interface != "eth1" || cfg.VRRP.Interface != "eth0" ||
			!reflect.DeepEqual(cfg.VRRP.UnicastPeers, []netip.Addr{netip.MustParseAddr("10.99.0.12"), netip.MustParseAddr("10.99.0.14")}) {
			t.Errorf("bind %s vip.interface %s vrrp %+v", cfg.Bind, cfg.VIP.Interface, cfg.VRRP)
		}
		if !strings.Contains(commentText(string(res.HCL)), "min_ttl 250 ignored") {
			t.Errorf("min_ttl not reported:\n%s", res.HCL)
		}
	})
	t.Run("trusted routers from unicast_peer and the db peers", func(t *testing.T) {
		src := "vrrp_instance V {\n  interface eth0\n  virtual_router_id 9\n  unicast_src_ip 10.99.0.11\n  unicast_peer {\n    10.99.0.12\n    10.99.0.14\n    10.99.0.11\n  }\n" +
			"  virtual_ipaddress {\n    10.99.0.10/24\n  }\n}\n"
		opts := goodOpts(t)
		opts.Bind = ""
		opts.Peers = []Peer{{ID: "hostb", Address: "10.99.0.12:7400", Role: config.RoleDB}, {ID: "hostc", Address: "10.99.0.15:7400", Role: config.RoleDB},
			{ID: "witness", Address: "10.99.0.13:7400", Role: config.RoleWitness}}
		res, err := convertSrc(t, src, opts)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(res.HCL, "t.hcl")
		if err != nil {
			t.Fatalf("%v\n%s", err, res.HCL)
		}
		// unicast_peer's first, then the db peers not already listed; not
		// this host (10.99.0.11), not the witness (it runs no keepalived).
		want := []netip.Addr{netip.MustParseAddr("10.99.0.12"), netip.MustParseAddr("10.99.0.14"), netip.MustParseAddr("10.99.0.15")}
		if !reflect.DeepEqual(cfg.VRRP.TrustedRouters, want) {
			t.Errorf("trusted_routers = %v, want %v\n%s", cfg.VRRP.TrustedRouters, want, res.HCL)
		}
		text := commentText(string(res.HCL))
		for _, w := range []string{"10.99.0.14: unicast_peer (k.conf:5)", "10.99.0.15: -peer hostc, where keepalived runs beside raftvip", "adverts from any other source are dropped"} {
			if !strings.Contains(text, w) {
				t.Errorf("comments lack %q:\n%s", w, res.HCL)
			}
		}
	})
	t.Run("no keepalived address known: trusted_routers empty with a FIXME", func(t *testing.T) {
		opts := goodOpts(t)
		opts.Peers = []Peer{{ID: "hostb", Address: "db-b.example:7400", Role: config.RoleDB}, {ID: "witness", Address: "10.99.0.13:7400", Role: config.RoleWitness}}
		res, err := convertSrc(t, mini(""), opts)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(res.HCL, "t.hcl")
		if err != nil {
			t.Fatalf("%v\n%s", err, res.HCL)
		}
		if len(cfg.VRRP.TrustedRouters) != 0 || cfg.VRRP.UntrustedBlockMax != config.DefaultUntrustedBlockMax {
			t.Errorf("vrrp %+v, want no trusted routers and the default bound", cfg.VRRP)
		}
		if !strings.Contains(string(res.HCL), "FIXME: no keepalived address is known here") || !strings.Contains(string(res.HCL), "trusted_routers   = []") {
			t.Errorf("no FIXME for the empty trusted_routers:\n%s", res.HCL)
		}
		if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "vrrp.trusted_routers is empty") }) {
			t.Errorf("notes %q do not ask for trusted_routers", res.Notes)
		}
	})
	t.Run("garp settings, instance over global", func(t *testing.T) {
		src := "global_defs {\n  vrrp_garp_master_repeat 2\n  vrrp_garp_master_refresh 30\n  vrrp_garp_interval 0.01\n}\n" +
			mini("  garp_master_repeat 3\n")
		res, err := convertSrc(t, src, goodOpts(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(res.HCL, "g.hcl")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.VIP.GARPCount != 3 || cfg.VIP.GARPRefresh != 30*time.Second || cfg.VIP.GARPInterval != 10*time.Millisecond {
			t.Errorf("vip = %+v", cfg.VIP)
		}
		if !strings.Contains(commentText(string(res.HCL)), "vrrp_garp_master_repeat 2 (k.conf:2) -> overridden by the instance's own garp setting") {
			t.Errorf("overridden global not reported:\n%s", res.HCL)
		}
	})
	t.Run("keepalived without nopreempt preempts", func(t *testing.T) {
		res, err := convertSrc(t, mini(""), goodOpts(t))
		if err != nil {
			t.Fatal(err)
		}
		if c := commentText(string(res.HCL)); !strings.Contains(c, "keepalived preempts by default") {
			t.Errorf("no preemption comment: %s", c)
		}
	})
	t.Run("node id from router_id, else hostname", func(t *testing.T) {
		opts := goodOpts(t)
		opts.NodeID, opts.Hostname = "", "DB-7.example.com"
		opts.Peers = []Peer{{ID: "db-8", Address: "10.99.0.12:7400"}, {ID: "w", Address: "10.99.0.13:7400", Role: "witness"}}
		res, err := convertSrc(t, "global_defs {\n  router_id LVS_DEVEL\n}\n"+mini(""), opts)
		if err != nil || res.NodeID != "lvs_devel" {
			t.Errorf("from router_id: %v %v", res, err)
		}
		res, err = convertSrc(t, mini(""), opts)
		if err != nil || res.NodeID != "db-7" {
			t.Errorf("from hostname: %+v %v", res, err)
		}
	})
	t.Run("values needing escapes survive HCL quoting", func(t *testing.T) {
		opts := goodOpts(t)
		opts.DataDir = `/var/lib/raft"vip\${x}%{y}`
		res, err := convertSrc(t, mini(""), opts)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(res.HCL, "q.hcl")
		if err != nil || cfg.DataDir != opts.DataDir {
			t.Errorf("data_dir %q, err %v; want %q", cfg.DataDir, err, opts.DataDir)
		}
	})
	t.Run("inline DSN stays out of notes and errors", func(t *testing.T) {
		opts := goodOpts(t)
		opts.MySQLDSNFile, opts.MySQLDSN = "", "raftvip:t0ps3cret@tcp(127.0.0.1:3306)/"
		res, err := convertSrc(t, mini(""), opts)
		if err != nil {
			t.Fatal(err)
		}
		if cfg, err := config.Parse(res.HCL, "d.hcl"); err != nil || cfg.MySQL.DSN != opts.MySQLDSN {
			t.Fatalf("dsn not written: %v", err)
		}
		if strings.Contains(strings.Join(res.Notes, " "), "t0ps3cret") || strings.Contains(commentText(string(res.HCL)), "t0ps3cret") {
			t.Errorf("password in notes or comments")
		}
		// A DSN the config rejects: the error must not show it either.
		opts.MySQLDSN = "raftvip:t0ps3cret@tcp(127.0.0.1:3306"
		_, err = convertSrc(t, mini(""), opts)
		if err == nil || strings.Contains(err.Error(), "t0ps3cret") || !strings.Contains(err.Error(), "invalid DSN") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing default dsn_file is a note, not an error", func(t *testing.T) {
		if _, err := os.Stat(DefaultDSNFile); err == nil {
			t.Skipf("%s exists on this machine", DefaultDSNFile)
		}
		opts := goodOpts(t)
		opts.MySQLDSNFile = ""
		res, err := convertSrc(t, mini(""), opts)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(res.HCL), `dsn_file = "`+DefaultDSNFile+`"`) || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], DefaultDSNFile+" does not exist yet") {
			t.Errorf("notes %q\n%s", res.Notes, res.HCL)
		}
	})
	t.Run("unknown and other keywords are reported", func(t *testing.T) {
		src := "virtual_server 10.0.0.1 80 {\n  delay_loop 6\n}\nvrrp_sync_group G {\n}\nvrrp_script unused {\n  script x\n}\n" +
			mini("  notify_master /bin/x\n  use_vmac\n  frobnicate 3\n  track_interface {\n    eth1\n  }\n")
		res, err := convertSrc(t, src, goodOpts(t))
		if err != nil {
			t.Fatal(err)
		}
		c := commentText(string(res.HCL))
		for _, want := range []string{
			"virtual_server 10.0.0.1 80 { ... } (k.conf:1) -> not imported: LVS load balancing",
			"vrrp_sync_group G { ... } (k.conf:4) -> not imported: raftvip moves all vip.addresses together",
			"vrrp_script unused { ... } (k.conf:6) -> not imported: vrrp_instance VI_1 does not track it",
			"notify_master /bin/x (k.conf:12) -> notify.notify_master",
			"use_vmac (k.conf:13) -> not supported",
			"frobnicate 3 (k.conf:14) -> not understood by import-keepalived",
			"track_interface { ... } (k.conf:15) -> not supported: raftvip does not watch links",
		} {
			if !strings.Contains(c, want) {
				t.Errorf("missing %q in comments:\n%s", want, res.HCL)
			}
		}
	})
}

func TestParsePeer(t *testing.T) {
	good := map[string]Peer{
		"hostb=192.168.10.12:7400": {ID: "hostb", Address: "192.168.10.12:7400", Role: "db"},
		"hostb=192.168.10.12":      {ID: "hostb", Address: "192.168.10.12:7400", Role: "db"},
		"w=10.0.0.3:7500,witness":  {ID: "w", Address: "10.0.0.3:7500", Role: "witness"},
		"w=db3.example.com,db":     {ID: "w", Address: "db3.example.com:7400", Role: "db"},
		"v6=[fd00::3]:7400":        {ID: "v6", Address: "[fd00::3]:7400", Role: "db"},
		"v6=fd00::3":               {ID: "v6", Address: "[fd00::3]:7400", Role: "db"},
	}
	for in, want := range good {
		if got, err := ParsePeer(in); err != nil || got != want {
			t.Errorf("ParsePeer(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "hostb", "=1.2.3.4", "hostb=", "hostb=1.2.3.4,arbiter", "hostb=1.2.3.4:x", "hostb=1.2.3.4:0", "hostb=:7400"} {
		if got, err := ParsePeer(in); err == nil {
			t.Errorf("ParsePeer(%q) = %+v, accepted", in, got)
		}
	}
}
