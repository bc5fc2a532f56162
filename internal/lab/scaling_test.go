package lab

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/config"
)

// TestScalingAddresses: N distinct addresses in the lab subnet, the
// monitored VIP first, none a lab host's; too many is an error.
func TestScalingAddresses(t *testing.T) {
	hosts := map[string]bool{}
	for _, h := range hostPlan("x", true) {
		hosts[h.IP] = true
	}
	subnet := netip.MustParsePrefix(Subnet)
	for _, n := range []int{1, 8, 32, 235} {
		addrs, err := ScalingAddresses(n)
		if err != nil || len(addrs) != n || addrs[0] != VIPCIDR {
			t.Fatalf("ScalingAddresses(%d) = %v, %v", n, addrs, err)
		}
		seen := map[string]bool{}
		for _, a := range addrs {
			p, err := netip.ParsePrefix(a)
			if err != nil || p.Bits() != 24 || !subnet.Contains(p.Addr()) || hosts[p.Addr().String()] || seen[a] {
				t.Fatalf("ScalingAddresses(%d): bad or repeated address %q (%v) in %v", n, a, err, addrs)
			}
			seen[a] = true
		}
	}
	for _, n := range []int{0, -1, 236} {
		if addrs, err := ScalingAddresses(n); err == nil {
			t.Errorf("ScalingAddresses(%d) = %v, want an error", n, addrs)
		}
	}
}

// TestAgentConfigManyAddresses: the generated config carries all N
// addresses and the check interval, and raftvip's parser accepts it.
func TestAgentConfigManyAddresses(t *testing.T) {
	l := planLab(Options{Prefix: "rvunit", Logger: hclog.NewNullLogger()})
	makeTestCerts(t, l)
	addrs, err := ScalingAddresses(32)
	if err != nil {
		t.Fatal(err)
	}
	h := l.Host("a")
	src := l.AgentConfigWith(h, "/tmp/rvunit/a", AgentSettings{VIPs: addrs, CheckInterval: "100ms"})
	cfg, err := config.Parse([]byte(src), "a.hcl")
	if err != nil {
		t.Fatalf("config with 32 addresses does not parse: %v\n%s", err, src)
	}
	if len(cfg.VIP.Addresses) != 32 || cfg.VIP.Addresses[0].String() != VIPCIDR || cfg.VIP.Addresses[31].String() != addrs[31] {
		t.Errorf("parsed addresses %v, want %v", cfg.VIP.Addresses, addrs)
	}
	if !strings.Contains(src, `interval = "100ms"`) {
		t.Errorf("config lacks the check interval:\n%s", src)
	}
}

// TestScalingTables: each setting's trials are summarised with the bench's
// statistics (nearest-rank p50/p95 over the trials that recovered) plus the
// per-address figures, and scaling.md has one failover row per setting and
// fault, the idle figures pivoted by role, and every error.
func TestScalingTables(t *testing.T) {
	trial := func(f Fault, n int, down, all, first, last float64) ScalingTrial {
		return ScalingTrial{TrialResult: TrialResult{System: SystemRaftvip, Fault: f, Trial: n, Recovered: true, DowntimeMS: down, MaxHolders: 1,
			PhasesMS: map[string]float64{"acquired": first - 10, "VIP added": first - 10 + float64(n)}},
			LastAnswerMS: all, FirstAddedMS: first, LastAddedMS: last}
	}
	vip32 := ScalingRun{Sweep: SweepVIPs, VIPs: 32, CheckInterval: "500ms",
		Trials: []ScalingTrial{
			trial(FaultMySQLKilled, 1, 60, 90, 50, 58),
			trial(FaultMySQLKilled, 2, 80, 120, 52, 62),
			trial(FaultMySQLKilled, 3, 70, 100, 51, 60),
			trial(FaultSwitchover, 1, 40, 70, 130, 134),
		},
		Idle: []IdleUsage{
			{System: "raftvip", Host: "hosta", Role: "leader, VIP holder", CPUPercent: 2.5, RSSKiB: 20 * 1024},
			{System: "raftvip", Host: "hostb", Role: "follower", CPUPercent: 1.25, RSSKiB: 18 * 1024},
			{System: "raftvip", Host: "witness", Role: "witness", CPUPercent: 1, RSSKiB: 17 * 1024},
			{System: "mariadbd", Host: "hosta", Role: "mariadbd, VIP holder", CPUPercent: 0.5, RSSKiB: 100 * 1024},
			{System: "mariadbd", Host: "hostb", Role: "mariadbd", CPUPercent: 0.4, RSSKiB: 99 * 1024},
		}}
	failed := trial(FaultMySQLKilled, 4, 0, 0, 0, 0)
	failed.Recovered, failed.Error = false, "no failover: client: no good read from server_id 2"
	vip32.Trials = append(vip32.Trials, failed)
	hung := ScalingRun{Sweep: SweepInterval, VIPs: 1, CheckInterval: "100ms", Trials: []ScalingTrial{
		{TrialResult: TrialResult{System: SystemRaftvip, Fault: FaultMySQLHung, Trial: 1, Recovered: true, DowntimeMS: 1100,
			PhasesMS: map[string]float64{"detected": 40, "released": 1050}}},
		{TrialResult: TrialResult{System: SystemRaftvip, Fault: FaultMySQLHung, Trial: 2, Recovered: true, DowntimeMS: 1200,
			PhasesMS: map[string]float64{"detected": 60, "released": 1070}}},
	}}
	broken := ScalingRun{Sweep: SweepInterval, VIPs: 1, CheckInterval: "1s", Error: "not ready: no leader", ReplicationRestarted: []string{"hostb"}}
	r := &ScalingResults{Command: "raftvip-lab scaling", Runs: []ScalingRun{vip32, hung, broken}}
	for i := range r.Runs {
		r.Runs[i].summarize()
	}
	k := r.Runs[0].Summaries[0]
	if k.Fault != FaultMySQLKilled || k.Trials != 4 || k.Recovered != 3 || k.P50MS != 70 || k.P95MS != 80 ||
		k.LastAnswerTrials != 3 || k.LastAnswerP50MS != 100 || k.LastAnswerMaxMS != 120 || k.LastAddedP50MS != 60 || k.AddSpreadP50MS != 9 {
		t.Fatalf("mysql-killed at 32 addresses: %+v", k)
	}
	if len(r.Runs[0].Summaries) != 2 || r.Runs[0].Summaries[1].Fault != FaultSwitchover {
		t.Fatalf("summaries %+v", r.Runs[0].Summaries)
	}
	md := r.Markdown()
	for _, want := range []string{
		"| 32 | mysql-killed | 4 | 3 | 70 ms / 80 ms | 100 ms / 120 ms / 120 ms (3 trials) | 60 ms (9.0 ms) | 2.0 ms | 0 |",
		"| 32 | planned-switchover | 1 | 1 | 40 ms / 40 ms | 70 ms / 70 ms / 70 ms | 134 ms (4.0 ms) | 1.0 ms | 0 |",
		"| 32 | 2.50 % · 20.0 MiB | 1.25 % · 18.0 MiB | 1.00 % · 17.0 MiB | 0.50 % · 100.0 MiB | 0.40 % · 99.0 MiB |",
		"| 100ms | 2 | 2 | 40 ms | 1050 ms | 1100 ms / 1200 ms / 1200 ms | 0 |",
		"| 1s | - | - | - | - | - |", // the broken run's idle row
		"- 32 addresses, mysql-killed #4: no failover: client: no good read from server_id 2",
		"- check interval 1s: not ready: no leader",
		"Before check interval 1s the lab found replication stopped on hostb (with the agents stopped) and started it again.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("scaling.md lacks %q:\n%s", want, md)
		}
	}
	err := r.Failure()
	if err == nil || !strings.Contains(err.Error(), "2 failure(s)") || !strings.Contains(err.Error(), "check interval 1s: not ready") {
		t.Errorf("Failure() = %v", err)
	}
	if err := (&ScalingResults{Runs: []ScalingRun{hung}}).Failure(); err != nil {
		t.Errorf("Failure() without errors = %v", err)
	}
}
