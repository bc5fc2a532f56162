package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/arpwatch"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/fsm"
)

func TestCheckARPAlarmIsCritical(t *testing.T) {
	st := healthyStatus()
	al := "TWO HOLDERS: 10.99.0.100 answered by 02:00:0a:63:00:0b and 02:00:0a:63:00:0c (holder hosta is 02:00:0a:63:00:0b) since 2026-12-01T14:40:02Z (seen by witness)"
	st.ARPAlarms = []string{al}
	r := checkStatus(st)
	if r.Code != nagiosCritical || !strings.Contains(r.Summary, "RAFTVIP CRITICAL - "+al) {
		t.Fatalf("code %d %q; want CRITICAL with %q", r.Code, r.Summary, al)
	}
	if r := checkStatus(healthyStatus()); r.Code != nagiosOK {
		t.Fatalf("without an alarm: %d %q", r.Code, r.Summary)
	}
}

func TestStatusShowsARPWatch(t *testing.T) {
	st := healthyStatus()
	now := time.Now()
	st.ARPAlarms = []string{"TWO HOLDERS: 10.99.0.100 answered by A and B"}
	for i := range st.Nodes {
		switch st.Nodes[i].ID {
		case "witness":
			st.Nodes[i].ARPWatch = &arpwatch.Report{Interface: "eth0", Checked: now, Interval: time.Second, Addresses: []arpwatch.AddressReport{
				{Address: "10.99.0.100", Verdict: arpwatch.TwoHolders, Alarm: true, Rounds: 3, Detail: "2 MACs answer: A and B (holder hosta is A)"},
				{Address: "10.99.0.101", Verdict: arpwatch.Foreign, Rounds: 1, Detail: "C answers, not the holder"},
			}}
		case "hosta":
			st.Nodes[i].ARPWatch = &arpwatch.Report{Interface: "eth0", Checked: now, Skipped: "this node holds the VIP"}
		}
	}
	var b bytes.Buffer
	printStatus(&b, st)
	out := b.String()
	for _, s := range []string{
		"CRITICAL: TWO HOLDERS: 10.99.0.100 answered by A and B\n",
		"ARP watch (who answers ARP for the VIP):\n",
		"  hosta: not judged: this node holds the VIP\n",
		"  witness: 10.99.0.100 TWO HOLDERS: 2 MACs answer: A and B (holder hosta is A)\n",
		"  witness: 10.99.0.101 foreign? (1 round, not confirmed yet): C answers, not the holder\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("status does not show %q:\n%s", s, out)
		}
	}
	b.Reset()
	printStatus(&b, healthyStatus())
	if strings.Contains(b.String(), "ARP watch") || strings.Contains(b.String(), "CRITICAL") {
		t.Errorf("no watcher, no alarm, but:\n%s", b.String())
	}
}

// vip.arp_watch and its interval take a restart: a reload says so, and the
// next reload compares against what runs.
func TestReloadARPWatchNeedsRestart(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "db.hcl")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := hclog.NewNullLogger()
	a := agent.New(agent.Options{NodeID: cfg.NodeID, Role: cfg.Role}, nil, fsm.New(), nil, nil, nil, log)
	r := &reloader{path: path, cur: cfg, log: log, agent: a}
	next := strings.Replace(string(src), `arp_watch_interval = "2s"`, `arp_watch_interval = "5s"`, 1)
	if next == string(src) {
		t.Fatal("example-db.hcl has no arp_watch_interval = \"2s\"")
	}
	if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		_, refused, err := r.reload()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(refused, ","); got != "vip.arp_watch" {
			t.Errorf("reload %d: not applied %q, want vip.arp_watch", i+1, got)
		}
	}
}
