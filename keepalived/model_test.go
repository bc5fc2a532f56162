package keepalived

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func decode(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Decode(parse(t, src))
	if err != nil {
		t.Fatalf("Decode: %v\nsource:\n%s", err, src)
	}
	return cfg
}

func TestDecodeInstance(t *testing.T) {
	src := `global_defs {
  router_id LVS_A
  vrrp_version 3
  vrrp_garp_master_repeat 3
  vrrp_garp_interval 0.05
  notification_email {
    a@example.com
    b@example.com
  }
}
vrrp_script chk {
  script "/usr/bin/check mysql"
  interval 1.5
  timeout 3
  weight -20 reverse
  fall 3
  rise 2
  user nobody
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 7
  priority 150
  advert_int 0.5
  version 2
  nopreempt
  preempt_delay 2.5
  authentication {
    auth_type PASS
    auth_pass secret
  }
  unicast_src_ip 10.0.0.1
  unicast_peer {
    10.0.0.2
    10.0.0.3 min_ttl 250
  }
  virtual_ipaddress {
    10.0.0.10
    10.0.0.11/24 dev eth1 label eth1:v scope global no_track
  }
  track_script {
    chk weight 5
    other
  }
  garp_master_refresh 60
}
`
	cfg := decode(t, src)
	g := cfg.Global
	if g == nil || g.RouterID != "LVS_A" || g.VRRPVersion != 3 || *g.GARP.MasterRepeat != 3 || *g.GARP.Interval != 50*time.Millisecond ||
		!reflect.DeepEqual(g.NotificationEmail, []string{"a@example.com", "b@example.com"}) {
		t.Errorf("global = %+v", g)
	}
	s := cfg.Script("chk")
	want := &Script{Node: s.Node, Name: "chk", Script: "/usr/bin/check mysql", Interval: 1500 * time.Millisecond, Timeout: 3 * time.Second,
		Weight: -20, WeightReverse: true, Fall: 3, Rise: 2, User: "nobody"}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("script = %+v\nwant     %+v", s, want)
	}
	in := cfg.Instances[0]
	if in.Name != "VI_1" || in.State != "MASTER" || in.Interface != "eth0" || in.VRID != 7 || in.Priority != 150 ||
		in.AdvertInt != 500*time.Millisecond || in.Version != 2 || !in.Nopreempt || in.PreemptDelay != 2500*time.Millisecond ||
		in.AuthType != "PASS" || in.AuthPass != "secret" || in.UnicastSrcIP != netip.MustParseAddr("10.0.0.1") ||
		*in.GARP.MasterRefresh != time.Minute {
		t.Errorf("instance = %+v", in)
	}
	if want := []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")}; !reflect.DeepEqual(in.UnicastPeers, want) {
		t.Errorf("unicast peers = %v", in.UnicastPeers)
	}
	if len(in.VIPs) != 2 {
		t.Fatalf("VIPs = %+v", in.VIPs)
	}
	v0, v1 := in.VIPs[0], in.VIPs[1]
	if v0.Prefix != netip.MustParsePrefix("10.0.0.10/32") || v0.HasPrefix || v0.Dev != "" {
		t.Errorf("VIP 0 = %+v, want 10.0.0.10/32 without a written prefix", v0)
	}
	if v1.Prefix != netip.MustParsePrefix("10.0.0.11/24") || !v1.HasPrefix || v1.Dev != "eth1" || v1.Label != "eth1:v" ||
		!reflect.DeepEqual(v1.Options, []string{"scope", "global", "no_track"}) || v1.Pos.Line != 40 {
		t.Errorf("VIP 1 = %+v", v1)
	}
	wantTracks := []Track{{Pos: Pos{"k.conf", 43, 5}, Name: "chk", Weight: 5, HasWeight: true}, {Pos: Pos{"k.conf", 44, 5}, Name: "other"}}
	if !reflect.DeepEqual(in.TrackScripts, wantTracks) {
		t.Errorf("tracks = %+v", in.TrackScripts)
	}
}

func TestParseSeconds(t *testing.T) {
	good := map[string]time.Duration{
		"1": time.Second, "0.5": 500 * time.Millisecond, "2.71828": 2718280 * time.Microsecond, ".25": 250 * time.Millisecond,
		"3.": 3 * time.Second, "0.0000019": time.Microsecond, "255": 255 * time.Second,
	}
	for in, want := range good {
		if got, ok := parseSeconds(in); !ok || got != want {
			t.Errorf("parseSeconds(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", ".", "1s", "-1", "1e3", "abc", "1.2.3", "+1", "99999999999999999999"} {
		if got, ok := parseSeconds(in); ok {
			t.Errorf("parseSeconds(%q) = %v, accepted", in, got)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	inst := func(lines string) string {
		return "vrrp_instance V {\n" + lines + "}\n" // lines start at line 2
	}
	tests := []struct {
		name, src, pos, frag string
	}{
		{"bad number", inst("  virtual_router_id fifty\n"), "k.conf:2:21", `virtual_router_id: "fifty" is not a whole number`},
		{"number out of range", inst("  virtual_router_id 256\n"), "k.conf:2:21", "virtual_router_id: 256 is out of range; keepalived accepts 1..255"},
		{"priority zero", inst("  priority 0\n"), "k.conf:2:12", "priority: 0 is out of range"},
		{"missing value", inst("  priority\n"), "k.conf:2:3", "priority needs a value"},
		{"bad timer", inst("  advert_int 1s\n"), "k.conf:2:14", `advert_int: "1s" is not a number of seconds`},
		{"timer out of range", inst("  advert_int 300\n"), "k.conf:2:14", "advert_int: 300 is out of range; keepalived accepts 0.01..255 seconds"},
		{"bad state", inst("  state PRIMARY\n"), "k.conf:2:9", `state: "PRIMARY" is neither MASTER nor BACKUP`},
		{"bad version", inst("  version 4\n"), "k.conf:2:11", "version: 4 is out of range; keepalived accepts 2..3"},
		{"bad source address", inst("  mcast_src_ip 192.168.10\n"), "k.conf:2:16", `mcast_src_ip: "192.168.10" is not an IP address`},
		{"bad VIP", inst("  virtual_ipaddress {\n    192.168.10.300\n  }\n"), "k.conf:3:5", `virtual_ipaddress: "192.168.10.300" is not an IP address`},
		{"bad VIP prefix", inst("  virtual_ipaddress {\n    192.168.10.10/33\n  }\n"), "k.conf:3:5", "has a bad prefix length; want 0..32"},
		{"VIP option without value", inst("  virtual_ipaddress {\n    192.168.10.10 dev\n  }\n"), "k.conf:3:19", "virtual_ipaddress: dev needs a value"},
		{"bad unicast peer", inst("  unicast_peer {\n    hostb\n  }\n"), "k.conf:3:5", `unicast_peer: "hostb" is not an IP address`},
		{"bad auth_type", inst("  authentication {\n    auth_type MD5\n  }\n"), "k.conf:3:15", `auth_type: "MD5" is neither PASS nor AH`},
		{"auth_pass without value", inst("  authentication {\n    auth_pass\n  }\n"), "k.conf:3:5", "auth_pass needs a value"},
		{"block where a value is expected", inst("  priority 100 {\n  }\n"), "k.conf:2:3", "priority takes a value, not a { } block"},
		{"value block missing", inst("  virtual_ipaddress 10.0.0.1\n"), "k.conf:2:3", "virtual_ipaddress needs a { } block"},
		{"track weight not a number", inst("  track_script {\n    chk weight heavy\n  }\n"), "k.conf:3:16", `chk: "heavy" is not a whole number`},
		{"track junk", inst("  track_script {\n    chk heavy\n  }\n"), "k.conf:3:9", `track_script chk: unexpected "heavy"`},
		{"instance without name", "vrrp_instance {\n}\n", "k.conf:1:1", "vrrp_instance needs a name"},
		{"instance without block", "vrrp_instance V\n", "k.conf:1:1", "vrrp_instance needs a { } block"},
		{"instance twice", "vrrp_instance V {\n}\nvrrp_instance V {\n}\n", "k.conf:3:1", "vrrp_instance V is defined twice (first at k.conf:1:1)"},
		{"script twice", "vrrp_script s {\n}\nvrrp_script s {\n}\n", "k.conf:3:1", "vrrp_script s is defined twice"},
		{"script interval bad", "vrrp_script s {\n  interval two\n}\n", "k.conf:2:12", `interval: "two" is not a number of seconds`},
		{"script fall zero", "vrrp_script s {\n  fall 0\n}\n", "k.conf:2:8", "fall: 0 is out of range"},
		{"script weight out of range", "vrrp_script s {\n  weight -300\n}\n", "k.conf:2:10", "weight: -300 is out of range; keepalived accepts -254..254"},
		{"global vrrp_version bad", "global_defs {\n  vrrp_version 1\n}\n", "k.conf:2:16", "vrrp_version: 1 is out of range"},
		{"global garp bad", "global_defs {\n  vrrp_garp_master_repeat many\n}\n", "k.conf:2:27", `garp_master_repeat: "many" is not a whole number`},
		{"smtp_alert bad", inst("  smtp_alert maybe\n"), "k.conf:2:14", `smtp_alert: "maybe" is not on|off|true|false|yes|no`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(parse(t, tt.src))
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want *Errors, got %T %v", err, err)
			}
			for _, e := range errs.List {
				if strings.HasPrefix(e.Error(), tt.pos+": ") && strings.Contains(e.Msg, tt.frag) {
					return
				}
			}
			t.Errorf("no error at %s containing %q; got:\n%v", tt.pos, tt.frag, errs)
		})
	}
}

func TestDecodeNeverShowsAuthPass(t *testing.T) {
	_, err := Decode(parse(t, "vrrp_instance V {\n  authentication {\n    auth_type PASS\n    auth_pass hunter2 extra\n  }\n  priority x\n}\n"))
	if err == nil {
		t.Fatal("bad priority accepted")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestDecodeWarnsAboutExtraWords(t *testing.T) {
	cfg := decode(t, "vrrp_instance V {\n  interface eth0 eth1\n}\n")
	if cfg.Instances[0].Interface != "eth0" {
		t.Errorf("interface = %q, want the first word", cfg.Instances[0].Interface)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Pos != (Pos{"k.conf", 2, 18}) || !strings.Contains(cfg.Warnings[0].Msg, "ignores the rest (eth1)") {
		t.Errorf("warnings = %v", cfg.Warnings)
	}
}
