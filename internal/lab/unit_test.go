package lab

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/internal/pki"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestHolderCounts(t *testing.T) {
	tests := []struct {
		name     string
		ivs      []Interval
		from, to int
		max, min int
		maxAt    int
	}{
		{"nobody", nil, 0, 1000, 0, 0, 0},
		{"one open", []Interval{{Host: "a", From: at(100)}}, 0, 1000, 1, 0, 100},
		{"held before the window", []Interval{{Host: "a", From: at(-100)}}, 0, 1000, 1, 1, 0},
		{"handover touching is not overlap", []Interval{
			{Host: "a", From: at(0), To: at(500)}, {Host: "b", From: at(500)}}, 0, 1000, 1, 1, 0},
		{"handover with a gap", []Interval{
			{Host: "a", From: at(0), To: at(400)}, {Host: "b", From: at(600)}}, 0, 1000, 1, 0, 0},
		{"overlap of 1 ms", []Interval{
			{Host: "a", From: at(0), To: at(501)}, {Host: "b", From: at(500)}}, 0, 1000, 2, 1, 500},
		{"overlap outside the window", []Interval{
			{Host: "a", From: at(0), To: at(300)}, {Host: "b", From: at(200), To: at(400)}, {Host: "a", From: at(600)}},
			500, 1000, 1, 0, 600},
		{"split brain", []Interval{
			{Host: "a", From: at(0)}, {Host: "b", From: at(3000), To: at(9000)}}, 0, 10000, 2, 1, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max, maxAt, min := holderCounts(tt.ivs, at(tt.from), at(tt.to))
			if max != tt.max || min != tt.min || !maxAt.Equal(at(tt.maxAt)) {
				t.Fatalf("got max %d at %v min %d; want max %d at %v min %d",
					max, maxAt.Sub(t0), min, tt.max, time.Duration(tt.maxAt)*time.Millisecond, tt.min)
			}
		})
	}
}

func TestMonitorRecord(t *testing.T) {
	m := &Monitor{log: hclog.NewNullLogger(), since: map[string]time.Time{}, renewals: map[string]int{}, changed: make(chan struct{})}
	m.record("a", true, 1, at(0), true)
	m.record("a", true, 1, at(333), false) // renewal
	m.record("a", true, 1, at(666), false) // renewal
	m.record("a", false, 0, at(1000), false)
	m.record("a", false, 0, at(1001), false) // duplicate delete: ignored
	m.record("b", true, 1, at(1200), false)
	if _, _, ok := m.Lifetime("a"); ok {
		t.Error("lifetime of a host that lost the VIP")
	}
	if secs, forever, ok := m.Lifetime("b"); !ok || forever || secs != 1 {
		t.Errorf("lifetime of b: %d forever=%v ok=%v, want 1 s", secs, forever, ok)
	}
	if got := m.Renewals("a"); got != 2 {
		t.Fatalf("renewals of a: %d, want 2", got)
	}
	if h := m.Holders(); len(h) != 1 || h[0] != "b" {
		t.Fatalf("holders %v, want [b]", h)
	}
	ivs := m.Intervals()
	if len(ivs) != 2 || ivs[0].Host != "a" || !ivs[0].To.Equal(at(1000)) || ivs[1].Host != "b" || !ivs[1].To.IsZero() {
		t.Fatalf("intervals %+v", ivs)
	}
	if evs := m.Events(); len(evs) != 3 || !evs[0].Initial || evs[1].Added {
		t.Fatalf("events %+v, want add(initial), del, add", evs)
	}
	if loss, ok := m.LastLoss("a"); !ok || !loss.Equal(at(1000)) {
		t.Fatalf("last loss of a: %v %v", loss, ok)
	}
	if acq := m.Acquisitions("a", at(500)); len(acq) != 0 {
		t.Fatalf("a acquired after 500ms: %v", acq)
	}
	if !strings.Contains(m.Timeline(), "lost VIP") {
		t.Fatalf("timeline lacks the loss:\n%s", m.Timeline())
	}
}

func good(startMS, endMS, id int) Read {
	return Read{Start: at(startMS), End: at(endMS), OK: true, ServerID: id}
}

func bad(startMS, endMS int) Read {
	return Read{Start: at(startMS), End: at(endMS), Err: "timeout"}
}

func TestDowntime(t *testing.T) {
	reads := []Read{
		good(0, 5, 1), good(20, 25, 1), good(40, 45, 1),
		bad(60, 360), bad(80, 380),
		good(100, 102, 1), // the old server answered once more after the fault
		bad(120, 420),
		good(900, 905, 2), good(920, 925, 2),
	}
	out, ok := downtime(reads, at(50), 2, time.Time{})
	if !ok {
		t.Fatal("no downtime found")
	}
	if out.Duration != 803*time.Millisecond || out.LastGood.ServerID != 1 || out.FirstGood.ServerID != 2 {
		t.Fatalf("downtime %v from %v to %v", out.Duration, out.LastGood.End.Sub(t0), out.FirstGood.End.Sub(t0))
	}
	if _, ok := downtime(reads, at(50), 3, time.Time{}); ok {
		t.Fatal("found an answer from server 3, which never answered")
	}
	// Over a window (isolation): longest gap between answers.
	out, ok = downtime(reads, at(10), 0, at(2000))
	if !ok || out.Duration != 803*time.Millisecond {
		t.Fatalf("longest outage %v ok=%v, want 803ms", out.Duration, ok)
	}
	out, ok = downtime(reads[:3], at(10), 0, at(2000))
	if !ok || out.Duration != 20*time.Millisecond {
		t.Fatalf("steady reads: longest gap %v ok=%v, want 20ms", out.Duration, ok)
	}
}

func TestSummarize(t *testing.T) {
	reads := []Read{bad(-250, 50), good(0, 5, 1), good(20, 25, 2), bad(40, 340), good(60, 65, 2)}
	s := summarize(reads, at(0), at(100))
	if s.Total != 3 || s.OK != 3 || s.Failed != 0 || s.ByServer[1] != 1 || s.ByServer[2] != 2 {
		t.Fatalf("%+v: want the 3 good reads only (one failed read was sent before the window, one ended after it)", s)
	}
	if s := summarize(reads, at(-300), at(400)); s.Failed != 2 || s.OK != 3 {
		t.Fatalf("whole span: %+v", s)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 10; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Second}, {0.95, 10 * time.Second}, {0.1, time.Second}, {1, 10 * time.Second}} {
		if got := Percentile(ds, tt.q); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.q*100, got, tt.want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing")
	}
	if ds[0] != 10*time.Second {
		t.Error("Percentile sorted its input in place")
	}
}

func TestBenchSummary(t *testing.T) {
	r := &BenchResults{Results: []TrialResult{
		{System: SystemKeepalived, Fault: FaultMySQLKilled, Recovered: true, DowntimeMS: 3000, MaxHolders: 1, MaxHoldersConnected: 1},
		{System: SystemKeepalived, Fault: FaultMySQLKilled, Recovered: true, DowntimeMS: 4000, MaxHolders: 1, MaxHoldersConnected: 1},
		{System: SystemRaftvip, Fault: FaultMySQLKilled, Recovered: true, DowntimeMS: 100, MaxHolders: 1, MaxHoldersConnected: 1},
		{System: SystemRaftvip, Fault: FaultMySQLKilled, Recovered: false, Error: "no failover"},
		{System: SystemKeepalived, Fault: FaultCablePulled, Recovered: true, DowntimeMS: 3500, MaxHolders: 2, MaxHoldersConnected: 1},
	}}
	r.summarize(BenchOptions{}.withDefaults())
	if len(r.Summaries) != 3 {
		t.Fatalf("summaries: %+v", r.Summaries)
	}
	ka := r.Summaries[0]
	if ka.System != SystemKeepalived || ka.P50MS != 3000 || ka.MaxMS != 4000 || ka.Trials != 2 {
		t.Fatalf("keepalived mysql-killed: %+v", ka)
	}
	rv := r.Summaries[1]
	if rv.Trials != 2 || rv.Recovered != 1 || rv.P50MS != 100 {
		t.Fatalf("raftvip mysql-killed: %+v", rv)
	}
	cable := r.Summaries[2]
	if cable.TwoHolderTrials != 1 || cable.TwoHolderConnectedTrials != 0 {
		t.Fatalf("cable: %+v", cable)
	}
	if len(r.Ratios) != 1 || r.Ratios[0].Ratio != 0.033 {
		t.Fatalf("ratios: %+v", r.Ratios)
	}
	md := r.Markdown()
	for _, want := range []string{"| mysql-killed | raftvip | 2 | 1 | 0.10 s |", "0.03 |", "1 trial(s) reported an error"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestAgentConfigsParse(t *testing.T) {
	l := planLab(Options{Prefix: "rvunit", Logger: hclog.NewNullLogger(), Agent: AgentSettings{}.withDefaults()})
	makeTestCerts(t, l)
	for _, h := range l.agentHosts() {
		src := l.AgentConfig(h, "/tmp/rvunit/"+h.Name)
		cfg, err := config.Parse([]byte(src), h.Name+".hcl")
		if err != nil {
			t.Fatalf("generated config for %s does not parse: %v\n%s", h.NodeID, err, src)
		}
		if cfg.TLS == nil || cfg.InsecurePlaintext || cfg.TLS.CertFile != pki.CertFile(l.TLSDir(), h.NodeID) {
			t.Errorf("%s: the lab's config does not use its TLS certificate: %+v\n%s", h.NodeID, cfg.TLS, src)
		}
		if h.Role == RoleWitness {
			if strings.Contains(src, "vip {") || strings.Contains(src, "mysql {") {
				t.Errorf("witness config has a vip or mysql block:\n%s", src)
			}
			continue
		}
		for _, want := range []string{`node_id  = "` + h.NodeID + `"`, `"10.99.0.10/24"`, `lease         = "1s"`,
			"tcp(" + h.IP + ":3306)", "preempt = false"} {
			if !strings.Contains(src, want) {
				t.Errorf("%s config lacks %q:\n%s", h.NodeID, want, src)
			}
		}
	}
}

func TestKeepalivedConfigLikeSeed(t *testing.T) {
	h := hostPlan("rvunit", false)[0]
	conf := KeepalivedConfig(h, 101, "/x/check.sh")
	for _, want := range []string{"state BACKUP", "nopreempt", "priority 101", "advert_int 1", "auth_type PASS",
		"auth_pass 1111", "virtual_router_id 51", "interface eth0", "10.99.0.10/24", "interval 2", "fall 2", "rise 1",
		"track_script", "chk_mysql"} {
		if !strings.Contains(conf, want) {
			t.Errorf("keepalived.conf lacks %q", want)
		}
	}
	// A weighted check with nopreempt never fails over; the lab's check
	// must put the instance in FAULT instead.
	if strings.Contains(conf, "weight") {
		t.Errorf("keepalived.conf uses weight:\n%s", conf)
	}
}

func TestHostPlan(t *testing.T) {
	hosts := hostPlan("rvx1", true)
	want := map[string]string{"a": "10.99.0.11", "b": "10.99.0.12", "w": "10.99.0.13", "c": "10.99.0.100", "k": "10.99.0.14"}
	if len(hosts) != len(want) {
		t.Fatalf("%d hosts", len(hosts))
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if h.IP != want[h.Name] || h.NS != "rvx1-"+h.Name || seen[h.MAC] {
			t.Errorf("host %+v", h)
		}
		seen[h.MAC] = true
	}
	if hosts[0].MAC != "02:99:00:00:00:0b" {
		t.Errorf("MAC of a: %s", hosts[0].MAC)
	}
	for _, bad := range []string{"", "X", "rv-lab", "a", "rvlab12345678901234"} {
		if prefixRE.MatchString(bad) {
			t.Errorf("prefix %q accepted", bad)
		}
	}
}

func TestAgentConfigVRRP(t *testing.T) {
	for _, v := range []VRRPSettings{
		{Mode: "active"},
		{Mode: "observe", Version: 3, UnicastPeers: []string{"10.99.0.14"}},
		{Mode: "active", TrustedRouters: []string{"10.99.0.14"}},
		{Mode: "active", UntrustedBlockMax: "5s"},
	} {
		l := planLab(Options{Prefix: "rvunit", Logger: hclog.NewNullLogger(), Agent: AgentSettings{VRRP: &v}.withDefaults()})
		makeTestCerts(t, l)
		for _, h := range l.agentHosts() {
			src := l.AgentConfig(h, "/tmp/rvunit/"+h.Name)
			cfg, err := config.Parse([]byte(src), h.Name+".hcl")
			if err != nil {
				t.Fatalf("config for %s with %+v does not parse: %v\n%s", h.NodeID, v, err, src)
			}
			if h.Role == RoleWitness {
				if cfg.VRRP.Mode != config.VRRPOff {
					t.Errorf("witness has VRRP mode %q", cfg.VRRP.Mode)
				}
				continue
			}
			want := v.withDefaults()
			got := cfg.VRRP
			if got.Mode != want.Mode || got.Version != want.Version || got.VRID != 51 || got.Priority != 250 || got.AdvertInt != time.Second || len(got.UnicastPeers) != len(want.UnicastPeers) {
				t.Errorf("%s: parsed %+v from\n%s", h.NodeID, got, src)
			}
			if len(got.TrustedRouters) != len(want.TrustedRouters) || (want.UntrustedBlockMax == "5s") != (got.UntrustedBlockMax == 5*time.Second) {
				t.Errorf("%s: trusted %v, bound %s from\n%s", h.NodeID, got.TrustedRouters, got.UntrustedBlockMax, src)
			}
			// keepalived drops adverts whose password differs; VRRPv3 has none.
			if wantPass := map[int]string{2: "1111", 3: ""}[want.Version]; got.AuthPass != wantPass {
				t.Errorf("%s: VRRPv%d auth_pass %q, want %q", h.NodeID, want.Version, got.AuthPass, wantPass)
			}
		}
	}
}

func TestKeepalivedConfigVariants(t *testing.T) {
	hosts := hostPlan("rvunit", true)
	k := hosts[len(hosts)-1]
	conf := KeepalivedConfigWith(k, KeepalivedOptions{Priority: 254, Version: 3, UnicastPeers: []string{"10.99.0.11", "10.99.0.12"}, NoCheck: true}, "")
	for _, want := range []string{"vrrp_version 3", "priority 254", "unicast_src_ip 10.99.0.14", "10.99.0.11\n", "10.99.0.12\n", "nopreempt", "virtual_router_id 51"} {
		if !strings.Contains(conf, want) {
			t.Errorf("keepalived.conf lacks %q:\n%s", want, conf)
		}
	}
	for _, bad := range []string{"auth_type", "track_script", "vrrp_script", "mcast_src_ip"} {
		if strings.Contains(conf, bad) {
			t.Errorf("keepalived.conf has %q:\n%s", bad, conf)
		}
	}
	// The default options render the seed's config, as before.
	if a := hosts[0]; KeepalivedConfigWith(a, KeepalivedOptions{}, "/x") != KeepalivedConfig(a, 101, "/x") {
		t.Error("zero KeepalivedOptions differ from the seed's config")
	}
}

func TestBenchMarkdownSwitchover(t *testing.T) {
	r := &BenchResults{Results: []TrialResult{
		{System: SystemKeepalived, Fault: FaultSwitchover, Recovered: true, DowntimeMS: 640, MaxHolders: 1, MaxHoldersConnected: 1},
		{System: SystemRaftvip, Fault: FaultSwitchover, Recovered: true, DowntimeMS: 20, MaxHolders: 1, MaxHoldersConnected: 1},
	}}
	r.summarize(BenchOptions{}.withDefaults())
	md := r.Markdown()
	for _, want := range []string{"| planned-switchover | keepalived (stop MASTER's keepalived) | 1 | 1 | 0.64 s |", "| planned-switchover | raftvip | 1 | 1 | 0.02 s |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if !slices.Contains(AllFaults, FaultSwitchover) {
		t.Error("planned-switchover is not among the default faults")
	}
}

// makeTestCerts makes the certificates the lab's configs name, in process
// (MakeCerts runs the raftvip binary, which unit tests do not have).
func makeTestCerts(t *testing.T, l *Lab) {
	t.Helper()
	l.Dir = t.TempDir() // Up sets it; planLab does not
	var ids []string
	for _, h := range l.agentHosts() {
		ids = append(ids, h.NodeID)
	}
	if err := pki.Init(l.TLSDir(), ids, nil); err != nil {
		t.Fatal(err)
	}
}

// TestBenchPhaseTable: each fault's phases are summarised to their median
// over the trials that recorded them, and results.md gets one row per
// fault with raftvip phases (a phase fewer trials recorded says how many).
func TestBenchPhaseTable(t *testing.T) {
	r := &BenchResults{Results: []TrialResult{
		{System: SystemRaftvip, Fault: FaultMySQLKilled, Recovered: true, DowntimeMS: 60,
			PhasesMS: map[string]float64{"detected": 5, "released": 6, "acquired": 20, "VIP added": 22, "first GARP": 23}},
		{System: SystemRaftvip, Fault: FaultMySQLKilled, Recovered: true, DowntimeMS: 70,
			PhasesMS: map[string]float64{"detected": 7, "released": 9, "acquired": 30, "VIP added": 31, "first GARP": 32, "writable": 40}},
		{System: SystemRaftvip, Fault: FaultMySQLKilled, Recovered: true, DowntimeMS: 80,
			PhasesMS: map[string]float64{"detected": 9, "released": 12, "acquired": 40, "VIP added": 41, "first GARP": 42}},
		{System: SystemKeepalived, Fault: FaultMySQLKilled, Recovered: true, DowntimeMS: 3000},
	}}
	r.summarize(BenchOptions{}.withDefaults())
	var rv FaultSummary
	for _, s := range r.Summaries {
		if s.System == SystemRaftvip {
			rv = s
		}
		if s.System == SystemKeepalived && s.PhaseP50MS != nil {
			t.Fatalf("keepalived has phases: %+v", s)
		}
	}
	if rv.PhaseP50MS["detected"] != 7 || rv.PhaseP50MS["acquired"] != 30 || rv.PhaseP50MS["writable"] != 40 || rv.PhaseTrials["writable"] != 1 || rv.PhaseTrials["released"] != 3 {
		t.Fatalf("phase medians %v, trials %v", rv.PhaseP50MS, rv.PhaseTrials)
	}
	md := r.Markdown()
	want := "| mysql-killed | 7 | - | - | 9 | - | 30 | 31 | 32 | 40 (1) |"
	if !strings.Contains(md, want) {
		t.Fatalf("results.md lacks the phase row %q:\n%s", want, md)
	}
	if strings.Count(md, "| mysql-killed |") != 3 { // two downtime rows, one phase row
		t.Fatalf("results.md rows:\n%s", md)
	}
}
