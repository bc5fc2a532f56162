package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestARPWatch(t *testing.T) {
	cfg, err := parse([]byte(base), "ok.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.ARPWatch; w == nil || w.Interval != time.Second || w.Interface != "eth0" || len(w.Addresses) != 1 || w.Addresses[0].String() != "10.99.0.10/24" {
		t.Fatalf("default ARPWatch %+v, want on every 1s on eth0 for 10.99.0.10/24", w)
	}
	if s := cfg.Summary()["vip"].(map[string]any); s["arp_watch"] != true || s["arp_watch_interval"] != "1s" {
		t.Errorf("summary %v", s)
	}

	cfg, err = parse([]byte(edit(t, `  interface = "eth0"`, `  interface = "eth0"`+"\n  arp_watch_interval = \"5s\"")), "ok.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ARPWatch == nil || cfg.ARPWatch.Interval != 5*time.Second {
		t.Fatalf("ARPWatch %+v, want every 5s", cfg.ARPWatch)
	}

	cfg, err = parse([]byte(edit(t, `  interface = "eth0"`, `  interface = "eth0"`+"\n  arp_watch = false")), "ok.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ARPWatch != nil {
		t.Fatalf("ARPWatch %+v with arp_watch = false, want nil", cfg.ARPWatch)
	}

	// A witness watches with its vip block, which is otherwise ignored.
	w := edit(t, `node_id  = "hosta"`, `node_id  = "witness"`, `role     = "db"`, `role     = "witness"`,
		`bind     = "10.99.0.11:7400"`, `bind     = "10.99.0.13:7400"`,
		"mysql {\n  dsn = \"raftvip:hunter2@tcp(127.0.0.1:3306)/\"\n}\n", "")
	cfg, err = parse([]byte(w), "w.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.VIP != nil || cfg.ARPWatch == nil || cfg.ARPWatch.Interface != "eth0" {
		t.Fatalf("witness: VIP %+v, ARPWatch %+v; want no VIP and a watch", cfg.VIP, cfg.ARPWatch)
	}
	// Without a vip block a witness does not know the addresses.
	noVIP := w[:strings.Index(w, "vip {")] + w[strings.Index(w, "vip {")+strings.Index(w[strings.Index(w, "vip {"):], "}\n")+2:]
	cfg, err = parse([]byte(noVIP), "w.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ARPWatch != nil {
		t.Fatalf("witness without a vip block: ARPWatch %+v", cfg.ARPWatch)
	}
}

func TestARPWatchBad(t *testing.T) {
	for _, tc := range []struct{ set, pos, frag string }{
		{`arp_watch_interval = "500ms"`, "bad.hcl:19:3", `vip.arp_watch_interval = "500ms" is out of range; want "1s" to "1h"`},
		{`arp_watch_interval = "2h"`, "bad.hcl:19:3", `vip.arp_watch_interval = "2h" is out of range`},
		{`arp_watch_interval = 1`, "bad.hcl:19:3", `vip.arp_watch_interval: durations are strings like "2s"`},
		{`arp_watch = "no"`, "bad.hcl:19:3", `vip.arp_watch: want true or false`},
	} {
		list := parseErrs(t, edit(t, `  interface = "eth0"`, `  interface = "eth0"`+"\n  "+tc.set), "bad.hcl")
		if len(list) != 1 || fmt.Sprintf("%s:%d:%d", list[0].File, list[0].Line, list[0].Column) != tc.pos || !strings.Contains(list[0].Msg, tc.frag) {
			t.Errorf("%s: got %v, want one error at %s with %q", tc.set, list, tc.pos, tc.frag)
		}
	}
}
