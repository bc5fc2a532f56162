package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// withVRRP appends a vrrp block to base: "vrrp {" is line 24, the given
// attribute lines are 25, 26, ...
func withVRRP(lines ...string) string {
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("vrrp {\n")
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func TestVRRPGood(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  VRRP
	}{
		{"defaults", []string{`mode = "active"`, `virtual_router_id = 51`},
			VRRP{Mode: VRRPActive, Version: 2, VRID: 51, Priority: 250, AdvertInt: time.Second, Interface: "eth0"}},
		{"everything", []string{
			`mode = "observe"`, `version = 2`, `virtual_router_id = 7`, `priority = 254`, `advert_int = "3s"`,
			`auth_pass = "12345678"`, `unicast_peers = ["10.99.0.12", "10.99.0.14"]`, `interface = "eth1"`,
		}, VRRP{Mode: VRRPObserve, Version: 2, VRID: 7, Priority: 254, AdvertInt: 3 * time.Second, AuthPass: "12345678",
			UnicastPeers: []netip.Addr{netip.MustParseAddr("10.99.0.12"), netip.MustParseAddr("10.99.0.14")}, Interface: "eth1"}},
		{"v3 with centiseconds", []string{`mode = "active"`, `version = 3`, `virtual_router_id = 255`, `priority = 1`, `advert_int = "40.95s"`},
			VRRP{Mode: VRRPActive, Version: 3, VRID: 255, Priority: 1, AdvertInt: 40950 * time.Millisecond, Interface: "eth0"}},
		{"v3 shortest interval", []string{`mode = "active"`, `version = 3`, `virtual_router_id = 1`, `advert_int = "10ms"`},
			VRRP{Mode: VRRPActive, Version: 3, VRID: 1, Priority: 250, AdvertInt: 10 * time.Millisecond, Interface: "eth0"}},
		{"v2 longest interval", []string{`mode = "active"`, `virtual_router_id = 1`, `advert_int = "255s"`},
			VRRP{Mode: VRRPActive, Version: 2, VRID: 1, Priority: 250, AdvertInt: 255 * time.Second, Interface: "eth0"}},
		{"off needs no VRID", []string{`mode = "off"`},
			VRRP{Mode: VRRPOff, Version: 2, Priority: 250, AdvertInt: time.Second, Interface: "eth0"}},
		{"empty block is off", nil,
			VRRP{Mode: VRRPOff, Version: 2, Priority: 250, AdvertInt: time.Second, Interface: "eth0"}},
		{"trusted routers", []string{`mode = "active"`, `virtual_router_id = 51`, `trusted_routers = ["10.99.0.14", "10.99.0.12"]`},
			VRRP{Mode: VRRPActive, Version: 2, VRID: 51, Priority: 250, AdvertInt: time.Second, Interface: "eth0",
				TrustedRouters: []netip.Addr{netip.MustParseAddr("10.99.0.14"), netip.MustParseAddr("10.99.0.12")}}},
		{"untrusted bound", []string{`mode = "active"`, `virtual_router_id = 51`, `untrusted_block_max = "2m"`},
			VRRP{Mode: VRRPActive, Version: 2, VRID: 51, Priority: 250, AdvertInt: time.Second, Interface: "eth0", UntrustedBlockMax: 2 * time.Minute}},
		{"shortest untrusted bound is 3 intervals", []string{`mode = "active"`, `virtual_router_id = 51`, `advert_int = "2s"`, `untrusted_block_max = "6s"`, `trusted_routers = []`},
			VRRP{Mode: VRRPActive, Version: 2, VRID: 51, Priority: 250, AdvertInt: 2 * time.Second, Interface: "eth0", UntrustedBlockMax: 6 * time.Second}},
		{"shortest untrusted bound is 1s", []string{`mode = "active"`, `version = 3`, `virtual_router_id = 51`, `advert_int = "100ms"`, `untrusted_block_max = "1s"`},
			VRRP{Mode: VRRPActive, Version: 3, VRID: 51, Priority: 250, AdvertInt: 100 * time.Millisecond, Interface: "eth0", UntrustedBlockMax: time.Second}},
		{"empty unicast list is multicast", []string{`mode = "active"`, `virtual_router_id = 51`, `unicast_peers = []`},
			VRRP{Mode: VRRPActive, Version: 2, VRID: 51, Priority: 250, AdvertInt: time.Second, Interface: "eth0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse([]byte(withVRRP(tt.lines...)), "v.hcl")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.want.UntrustedBlockMax == 0 {
				tt.want.UntrustedBlockMax = DefaultUntrustedBlockMax
			}
			if !reflect.DeepEqual(cfg.VRRP, tt.want) {
				t.Errorf("VRRP = %+v\nwant   %+v", cfg.VRRP, tt.want)
			}
		})
	}
}

func TestVRRPBad(t *testing.T) {
	const act = `mode = "active"`
	const vrid = `virtual_router_id = 51`
	tests := []struct {
		name  string
		src   string
		pos   string
		frag  string
		n     int
		nosee string // must not appear in any message (a secret)
	}{
		{"unknown mode", withVRRP(`mode = "on"`),
			"bad.hcl:25:3", `vrrp.mode: "on" is not a mode; want "off", "observe"`, 1, ""},
		{"mode not a string", withVRRP(`mode = true`),
			"bad.hcl:25:3", "vrrp.mode: want a string in quotes, got a bool", 1, ""},
		{"VRID required when active", withVRRP(act),
			"bad.hcl:24:1", `vrrp: virtual_router_id is required when mode = "active"`, 1, ""},
		{"VRID required when observing", withVRRP(`mode = "observe"`),
			"bad.hcl:24:1", `virtual_router_id is required when mode = "observe"`, 1, ""},
		{"VRID zero", withVRRP(act, `virtual_router_id = 0`),
			"bad.hcl:26:3", "vrrp.virtual_router_id = 0 is out of range; want 1..255", 1, ""},
		{"VRID too big", withVRRP(act, `virtual_router_id = 256`),
			"bad.hcl:26:3", "vrrp.virtual_router_id = 256 is out of range; want 1..255", 1, ""},
		{"VRID quoted", withVRRP(act, `virtual_router_id = "51"`),
			"bad.hcl:26:3", "vrrp.virtual_router_id: want a whole number (without quotes), got a string", 1, ""},
		{"version 4", withVRRP(act, vrid, `version = 4`),
			"bad.hcl:27:3", "vrrp.version = 4: want 2 (RFC 3768, keepalived's default) or 3 (RFC 5798)", 1, ""},
		{"priority 255", withVRRP(act, vrid, `priority = 255`),
			"bad.hcl:27:3", "vrrp.priority = 255 is reserved for the router that owns the VIP", 1, ""},
		{"priority 0", withVRRP(act, vrid, `priority = 0`),
			"bad.hcl:27:3", `vrrp.priority = 0 means "the master is giving up"`, 1, ""},
		{"priority 300", withVRRP(act, vrid, `priority = 300`),
			"bad.hcl:27:3", "vrrp.priority = 300 is out of range; want 1..254", 1, ""},
		{"priority fractional", withVRRP(act, vrid, `priority = 100.5`),
			"bad.hcl:27:3", "vrrp.priority: want a whole number, got 100.5", 1, ""},
		{"v2 advert_int not whole seconds", withVRRP(act, vrid, `advert_int = "1500ms"`),
			"bad.hcl:27:3", `vrrp.advert_int = "1500ms" does not fit VRRPv2: the advert interval is whole seconds, 1s..255s`, 1, ""},
		{"v2 advert_int too long", withVRRP(act, vrid, `advert_int = "256s"`),
			"bad.hcl:27:3", "does not fit VRRPv2", 1, ""},
		{"v2 advert_int zero", withVRRP(act, vrid, `advert_int = "0s"`),
			"bad.hcl:27:3", "does not fit VRRPv2", 1, ""},
		{"v3 advert_int not centiseconds", withVRRP(act, vrid, `version = 3`, `advert_int = "15ms"`),
			"bad.hcl:28:3", `vrrp.advert_int = "15ms" does not fit VRRPv3: the advert interval is a multiple of 10ms, 10ms..40.95s`, 1, ""},
		{"v3 advert_int too long", withVRRP(act, vrid, `version = 3`, `advert_int = "41s"`),
			"bad.hcl:28:3", "does not fit VRRPv3", 1, ""},
		{"v3 advert_int negative", withVRRP(act, vrid, `version = 3`, `advert_int = "-1s"`),
			"bad.hcl:28:3", "does not fit VRRPv3", 1, ""},
		{"advert_int bare number", withVRRP(act, vrid, `advert_int = 1`),
			"bad.hcl:27:3", `vrrp.advert_int: durations are strings like "2s"`, 1, ""},
		{"auth_pass with v3", withVRRP(act, vrid, `version = 3`, `auth_pass = "sesame"`),
			"bad.hcl:28:3", "vrrp.auth_pass: VRRPv3 has no authentication", 1, "sesame"},
		{"auth_pass empty", withVRRP(act, vrid, `auth_pass = ""`),
			"bad.hcl:27:3", "vrrp.auth_pass must not be empty; leave it out for no authentication", 1, ""},
		{"auth_pass longer than 8", withVRRP(act, vrid, `auth_pass = "opensesame"`),
			"bad.hcl:27:3", "vrrp.auth_pass is 10 bytes; VRRPv2 carries at most 8, and keepalived silently truncates", 1, "sesame"},
		{"auth_pass a number", withVRRP(act, vrid, `auth_pass = 1111`),
			"bad.hcl:27:3", "vrrp.auth_pass: want a string in quotes, got a number", 1, "1111"},
		{"unicast peer not an address", withVRRP(act, vrid, `unicast_peers = ["10.99.0.12", "10.99.0.300"]`),
			"bad.hcl:27:34", `vrrp.unicast_peers: "10.99.0.300" is not an IP address`, 1, ""},
		{"unicast peer with prefix", withVRRP(act, vrid, `unicast_peers = ["10.99.0.12/24"]`),
			"bad.hcl:27:20", `"10.99.0.12/24" is not an IP address`, 1, ""},
		{"unicast peer IPv6", withVRRP(act, vrid, `unicast_peers = ["fd00::12"]`),
			"bad.hcl:27:20", `"fd00::12" is not IPv4`, 1, ""},
		{"unicast peer multicast", withVRRP(act, vrid, `unicast_peers = ["224.0.0.18"]`),
			"bad.hcl:27:20", `"224.0.0.18" cannot be a VRRP peer`, 1, ""},
		{"unicast peer twice", withVRRP(act, vrid, `unicast_peers = ["10.99.0.12", "10.99.0.12"]`),
			"bad.hcl:27:34", "vrrp.unicast_peers: 10.99.0.12 is listed twice (first at bad.hcl:27:20)", 1, ""},
		{"unicast peers not a list", withVRRP(act, vrid, `unicast_peers = "10.99.0.12"`),
			"bad.hcl:27:3", "vrrp.unicast_peers: want a list", 1, ""},
		{"trusted router not an address", withVRRP(act, vrid, `trusted_routers = ["10.99.0.14", "keepalived-b"]`),
			"bad.hcl:27:36", `vrrp.trusted_routers: "keepalived-b" is not an IP address; want the IPv4 address a keepalived router sends its adverts from`, 1, ""},
		{"trusted router IPv6", withVRRP(act, vrid, `trusted_routers = ["fd00::14"]`),
			"bad.hcl:27:22", `vrrp.trusted_routers: "fd00::14" is not IPv4`, 1, ""},
		{"trusted router with prefix", withVRRP(act, vrid, `trusted_routers = ["10.99.0.0/24"]`),
			"bad.hcl:27:22", `"10.99.0.0/24" is not an IP address`, 1, ""},
		{"trusted router multicast", withVRRP(act, vrid, `trusted_routers = ["224.0.0.18"]`),
			"bad.hcl:27:22", `"224.0.0.18" cannot be the source of a VRRP advert`, 1, ""},
		{"trusted router unspecified", withVRRP(act, vrid, `trusted_routers = ["0.0.0.0"]`),
			"bad.hcl:27:22", `"0.0.0.0" cannot be the source of a VRRP advert`, 1, ""},
		{"trusted router twice", withVRRP(act, vrid, `trusted_routers = ["10.99.0.14", "10.99.0.14"]`),
			"bad.hcl:27:36", "vrrp.trusted_routers: 10.99.0.14 is listed twice (first at bad.hcl:27:22)", 1, ""},
		{"trusted routers not a list", withVRRP(act, vrid, `trusted_routers = "10.99.0.14"`),
			"bad.hcl:27:3", `vrrp.trusted_routers: want a list like ["10.99.0.14"], got a string`, 1, ""},
		{"trusted router a number", withVRRP(act, vrid, `trusted_routers = [14]`),
			"bad.hcl:27:22", `vrrp.trusted_routers[0]: want a string like "10.99.0.14", got a number`, 1, ""},
		{"untrusted bound with trusted routers", withVRRP(act, vrid, `trusted_routers = ["10.99.0.14"]`, `untrusted_block_max = "30s"`),
			"bad.hcl:28:3", "vrrp.untrusted_block_max applies only while trusted_routers is empty", 1, ""},
		{"untrusted bound shorter than 3 intervals", withVRRP(act, vrid, `advert_int = "5s"`, `untrusted_block_max = "14s"`),
			"bad.hcl:28:3", `vrrp.untrusted_block_max = "14s" is too short: want at least 15s (3 × advert_int, and 1s)`, 1, ""},
		{"untrusted bound below 1s", withVRRP(act, vrid, `version = 3`, `advert_int = "10ms"`, `untrusted_block_max = "900ms"`),
			"bad.hcl:29:3", `is too short: want at least 1s`, 1, ""},
		{"untrusted bound zero", withVRRP(act, vrid, `untrusted_block_max = "0s"`),
			"bad.hcl:27:3", `is too short`, 1, ""},
		{"untrusted bound bare number", withVRRP(act, vrid, `untrusted_block_max = 30`),
			"bad.hcl:27:3", `vrrp.untrusted_block_max: durations are strings like "2s"`, 1, ""},
		{"interface empty", withVRRP(act, vrid, `interface = ""`),
			"bad.hcl:27:3", "vrrp.interface must not be empty", 1, ""},
		{"interface too long", withVRRP(act, vrid, `interface = "abcdefghijklmnop"`),
			"bad.hcl:27:3", "longer than 15 bytes", 1, ""},
		{"unknown attribute", withVRRP(act, vrid, `state = "BACKUP"`),
			"bad.hcl:27:3", `An argument named "state" is not expected here`, 1, ""},
		{"two vrrp blocks", withVRRP(act, vrid) + "vrrp {\n}\n",
			"bad.hcl:28:1", "only one vrrp block is allowed (the first is at bad.hcl:24:1)", 1, ""},
		{"checked even when off", withVRRP(`mode = "off"`, `priority = 255`),
			"bad.hcl:26:3", "vrrp.priority = 255 is reserved", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list := parseErrs(t, tt.src, "bad.hcl")
			text := (&Errors{List: list}).Error()
			found := false
			for _, e := range list {
				if strings.HasPrefix(e.Error(), tt.pos+": ") && strings.Contains(e.Msg, tt.frag) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error at %s containing %q; got:\n%s", tt.pos, tt.frag, text)
			}
			if tt.n != 0 && len(list) != tt.n {
				t.Errorf("got %d errors, want %d:\n%s", len(list), tt.n, text)
			}
			if tt.nosee != "" && strings.Contains(text, tt.nosee) {
				t.Errorf("error reveals the secret %q:\n%s", tt.nosee, text)
			}
		})
	}
}

// witnessSrc is base turned into the witness's config (no mysql block; the
// vip block stays on lines 17-20 and is ignored), with extra text appended
// from line 21.
func witnessSrc(t *testing.T, extra string) string {
	t.Helper()
	return edit(t, `node_id  = "hosta"`, `node_id  = "witness"`, `role     = "db"`, `role     = "witness"`,
		`bind     = "10.99.0.11:7400"`, `bind     = "10.99.0.13:7400"`,
		"mysql {\n  dsn = \"raftvip:hunter2@tcp(127.0.0.1:3306)/\"\n}\n", extra)
}

func TestVRRPWitness(t *testing.T) {
	for _, mode := range []string{"observe", "active"} {
		src := witnessSrc(t, "vrrp {\n  mode = \""+mode+"\"\n  virtual_router_id = 51\n}\n")
		list := parseErrs(t, src, "w.hcl")
		want := `w.hcl:22:3: vrrp.mode = "` + mode + `": only db nodes speak VRRP; the witness holds no VIP`
		if len(list) != 1 || !strings.HasPrefix(list[0].Error(), want) {
			t.Errorf("witness with mode %s: want one error %q, got:\n%s", mode, want, (&Errors{List: list}).Error())
		}
	}
	// Mode off (or a block without mode) is fine: one template for all hosts.
	for _, block := range []string{"vrrp {\n  mode = \"off\"\n  virtual_router_id = 51\n}\n", "vrrp {\n  virtual_router_id = 51\n}\n", ""} {
		cfg, err := parse([]byte(witnessSrc(t, block)), "w.hcl")
		if err != nil {
			t.Fatalf("witness with %q: %v", block, err)
		}
		if cfg.VRRP.Mode != VRRPOff {
			t.Errorf("witness with %q: mode %q, want off", block, cfg.VRRP.Mode)
		}
	}
}

func TestSummaryRedactsAuthPass(t *testing.T) {
	cfg, err := parse([]byte(withVRRP(`mode = "active"`, `virtual_router_id = 51`, `auth_pass = "s3cr3t!"`,
		`unicast_peers = ["10.99.0.12"]`)), "v.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.VRRP.AuthPass != "s3cr3t!" {
		t.Fatalf("AuthPass = %q, want the configured password kept for the wire", cfg.VRRP.AuthPass)
	}
	s := cfg.Summary()
	v, ok := s["vrrp"].(map[string]any)
	if !ok {
		t.Fatalf("Summary has no vrrp map: %v", s)
	}
	if v["auth_pass"] != "****" {
		t.Errorf("Summary vrrp.auth_pass = %v, want ****", v["auth_pass"])
	}
	if text := fmtAny(s); strings.Contains(text, "s3cr3t") {
		t.Errorf("Summary leaks the VRRP password: %s", text)
	}
	if v["mode"] != "active" || v["virtual_router_id"] != uint8(51) || v["advert_int"] != "1s" ||
		!reflect.DeepEqual(v["unicast_peers"], []string{"10.99.0.12"}) || v["interface"] != "eth0" ||
		!reflect.DeepEqual(v["trusted_routers"], []string{}) || v["untrusted_block_max"] != "30s" {
		t.Errorf("Summary vrrp = %v", v)
	}
	// Without a password the summary says so with "", not "****".
	cfg, err = parse([]byte(base), "b.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Summary()["vrrp"].(map[string]any)["auth_pass"]; got != "" {
		t.Errorf("Summary vrrp.auth_pass without a password = %v, want empty", got)
	}
}
