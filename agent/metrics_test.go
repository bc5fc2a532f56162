package agent

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/vrrpcompat"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// sample returns the value of the series line "name{labels} value" in a
// text exposition (-1 when absent).
func sample(text, series string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// TestMetricsAfterFailover scrapes the handlers of an in-process cluster
// after an unplanned move: the failover phase histograms have their
// samples (each event counted once, however often scraped), the counters
// their reason classes, the gauges the new holder.
func TestMetricsAfterFailover(t *testing.T) {
	tc, _ := newDataCluster(t, nil)
	old := tc.waitHolder(10 * time.Second)
	other := otherDB(old)
	tc.eventually("peer health replicated", 5*time.Second, func() bool { return tc.nodes[old].fsm.State().Healthy(other) })
	vips := []netip.Prefix{netip.MustParsePrefix("10.99.0.10/24")}
	handlers := map[string]http.Handler{}
	for id, n := range tc.nodes {
		handlers[id] = NewMetrics(n.agent, MetricsOptions{Addresses: vips}).Handler()
	}
	if code, body := get(t, handlers[old], "/metrics"); code != 200 || sample(body, `raftvip_vip_held{address="10.99.0.10"}`) != 1 {
		t.Fatalf("before the move: /metrics %d, want raftvip_vip_held 1 on %s:\n%s", code, old, body)
	}

	tc.nodes[old].health.Set(false)
	tc.eventually("VIP moves to "+other, 10*time.Second, func() bool { return tc.holder() == other })
	tc.eventually("writable recorded", 10*time.Second, func() bool {
		for _, e := range tc.nodes[other].fsm.State().History {
			if e.Op == fsm.OpWritable && e.Node == other {
				return true
			}
		}
		return false
	})
	tc.assertNeverTwo()

	var body string
	// The "added" record (vip_add, first_garp) is committed off the loop,
	// after the VIP is up (recordAdded), so it may come after "writable".
	tc.eventually("metrics show the move", 5*time.Second, func() bool {
		_, body = get(t, handlers[other], "/metrics")
		return sample(body, "raftvip_holding") == 1 && sample(body, `raftvip_failover_phase_seconds_count{phase="first_garp"}`) >= 1
	})
	for _, want := range []struct {
		series string
		min    float64
	}{
		{`raftvip_failover_phase_seconds_count{phase="detection"}`, 1},
		{`raftvip_failover_phase_seconds_count{phase="handover"}`, 1},
		{`raftvip_failover_phase_seconds_count{phase="catchup"}`, 1},
		{`raftvip_failover_phase_seconds_count{phase="vip_add"}`, 1},
		{`raftvip_failover_phase_seconds_count{phase="first_garp"}`, 1},
		{`raftvip_failover_phase_seconds_count{phase="leadership"}`, 1},
		{`raftvip_releases_total{reason="mysql_unhealthy"}`, 1},
		{`raftvip_acquisitions_total{reason="vip_free"}`, 1},
		{`raftvip_vip_held{address="10.99.0.10"}`, 1},
		{`raftvip_data_mode{mode="writable"}`, 1},
		{`raftvip_raft_state{state="leader"}`, 1},
		{`raftvip_raft_leader_known`, 1},
		{`raftvip_raft_leader_changes_total`, 1},
		{`raftvip_epoch`, 2},
	} {
		if got := sample(body, want.series); got < want.min {
			t.Errorf("%s = %v, want at least %v", want.series, got, want.min)
		}
	}
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "raftvip_failover_phase_seconds_sum") {
			t.Log(l)
		}
	}
	if got := sample(body, `raftvip_data_mode{mode="read-only"}`); got != 0 {
		t.Errorf(`raftvip_data_mode{mode="read-only"} = %v on the writable holder, want 0`, got)
	}
	// Each event once: a second scrape counts nothing again.
	_, again := get(t, handlers[other], "/metrics")
	for _, s := range []string{`raftvip_failover_phase_seconds_count{phase="detection"}`, `raftvip_acquisitions_total{reason="vip_free"}`} {
		if a, b := sample(body, s), sample(again, s); a != b {
			t.Errorf("%s went from %v to %v on a second scrape with no new event", s, a, b)
		}
	}
	// The old holder no longer holds; the witness has no VIP, MySQL or
	// data series but the replicated history all the same.
	_, ob := get(t, handlers[old], "/metrics")
	if got := sample(ob, `raftvip_vip_held{address="10.99.0.10"}`); got != 0 {
		t.Errorf("old holder's raftvip_vip_held = %v, want 0", got)
	}
	if got := sample(ob, "raftvip_mysql_healthy"); got != 0 {
		t.Errorf("old holder's raftvip_mysql_healthy = %v, want 0", got)
	}
	_, wb := get(t, handlers["witness"], "/metrics")
	if strings.Contains(wb, "raftvip_mysql_healthy") || strings.Contains(wb, "raftvip_data_mode") {
		t.Errorf("witness exposes MySQL or data series:\n%s", wb)
	}
	if got := sample(wb, `raftvip_failover_phase_seconds_count{phase="handover"}`); got < 1 {
		t.Errorf("witness: handover count %v, want at least 1", got)
	}

	for id, h := range handlers {
		if code, b := get(t, h, "/healthz"); code != 200 {
			t.Errorf("%s /healthz: %d %s", id, code, b)
		}
		if code, b := get(t, h, "/readyz"); code != 200 {
			t.Errorf("%s /readyz: %d %s", id, code, b)
		}
	}

	// The status page names the new holder, server-rendered; the JSON it
	// refreshes from says the same.
	code, page := get(t, handlers["witness"], "/")
	if code != 200 || !strings.Contains(page, `id="holder">`+other+`<`) {
		t.Errorf("status page %d does not name holder %s:\n%s", code, other, page)
	}
	if !strings.Contains(page, "acquire") || !strings.Contains(page, "VIP free") {
		t.Errorf("status page has no timeline of the acquisition:\n%s", page)
	}
	if strings.Contains(page, "<link") || strings.Contains(page, "src=") {
		t.Errorf("status page loads external assets:\n%s", page)
	}
	checkMetricsDocumented(t, body+ob+wb)

	code, js := get(t, handlers["hosta"], "/status.json")
	if code != 200 || !strings.Contains(js, `"holder": "`+other+`"`) {
		t.Errorf("/status.json %d does not name holder %s:\n%s", code, other, js)
	}
}

// TestReadyzBeforeTheLoop: an agent whose loop never published a view is
// not ready, and says why.
func TestReadyzBeforeTheLoop(t *testing.T) {
	tc := newTestCluster(t, false)
	tc.waitHolder(10 * time.Second)
	a := New(Options{NodeID: "witness", Role: fsm.RoleWitness}, tc.nodes["witness"].cl, fsm.New(), nil, nil, nil, nil)
	h := NewMetrics(a, MetricsOptions{}).Handler()
	code, body := get(t, h, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "has not published") {
		t.Errorf("/readyz = %d %q, want 503 naming the loop", code, body)
	}
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200", code)
	}
}

func TestReasonClass(t *testing.T) {
	for _, c := range []struct{ op, reason, want string }{
		{fsm.OpRelease, "mysql unhealthy", "mysql_unhealthy"},
		{fsm.OpRelease, "switchover to hostb", "switchover"},
		{fsm.OpRelease, "preempt: handing back to preferred node hosta", "preempt"},
		{fsm.OpRelease, "this node no longer has the VIP configured (restart or lapsed lease)", "lease_lapsed"},
		{fsm.OpRelease, "kernel lease expired (fenced)", "fenced"},
		{fsm.OpRelease, "our epoch was fenced by witness while we were cut off; never renewing through a fence", "fenced"},
		{fsm.OpAcquire, "leader, db, mysql healthy, VIP free", "vip_free"},
		{fsm.OpRelease, "something new", "other"},
	} {
		if got := ReasonClass(c.op, c.reason); got != c.want {
			t.Errorf("ReasonClass(%q, %q) = %q, want %q", c.op, c.reason, got, c.want)
		}
	}
}

// checkMetricsDocumented: every metric scraped, and every one the Grafana
// dashboard queries, is in docs/metrics.md.
func checkMetricsDocumented(t *testing.T, scraped string) {
	t.Helper()
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`raftvip_[a-z_]+`)
	base := func(n string) string {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if strings.HasSuffix(n, suf) && strings.Contains(string(doc), "`"+strings.TrimSuffix(n, suf)+"`") {
				return strings.TrimSuffix(n, suf)
			}
		}
		return n
	}
	for _, src := range []struct{ what, text string }{{"scraped", scraped}, {"dashboard", string(dash)}} {
		for _, n := range name.FindAllString(src.text, -1) {
			if !strings.Contains(string(doc), "`"+base(n)+"`") {
				t.Errorf("%s metric %s is not in docs/metrics.md", src.what, n)
			}
		}
	}
}

type countingVRRP struct{ fakeVRRP }

func (*countingVRRP) Status(time.Time) vrrpcompat.SpeakerStatus {
	return vrrpcompat.SpeakerStatus{Version: 2, VRID: 51, Priority: 250, Sent: 7, Released: 1,
		Stats:   vrrpcompat.Stats{Accepted: 5, Dropped: map[vrrpcompat.Reason]uint64{vrrpcompat.ReasonAuth: 3, vrrpcompat.ReasonUntrusted: 2}},
		Routers: []vrrpcompat.Router{{}}}
}

// TestMetricsVRRPAndNotify: the speaker's counters and the notifier's
// counts are exported when there are some, and absent otherwise.
func TestMetricsVRRPAndNotify(t *testing.T) {
	tc := newTestCluster(t, false)
	tc.waitHolder(10 * time.Second)
	n := tc.nodes["hosta"]
	a := New(Options{NodeID: "hosta", Role: fsm.RoleDB, VRRPMode: VRRPActive}, n.cl, fsm.New(), nil, nil, n.health, nil)
	_, plain := get(t, NewMetrics(a, MetricsOptions{}).Handler(), "/metrics")
	for _, s := range []string{"raftvip_vrrp_", "raftvip_notify_", "raftvip_garp_"} {
		if strings.Contains(plain, s) {
			t.Errorf("%s series without VRRP, notifier or GARP:\n%s", s, plain)
		}
	}
	a.SetVRRP(&countingVRRP{})
	_, body := get(t, NewMetrics(a, MetricsOptions{
		NotifyCounts: func() (uint64, uint64) { return 4, 1 },
		GARPSent:     func() uint64 { return 10 },
	}).Handler(), "/metrics")
	for series, want := range map[string]float64{
		"raftvip_vrrp_adverts_sent_total":                        7,
		"raftvip_vrrp_releases_sent_total":                       1,
		"raftvip_vrrp_adverts_received_total":                    5,
		`raftvip_vrrp_adverts_dropped_total{reason="auth"}`:      3,
		`raftvip_vrrp_adverts_dropped_total{reason="untrusted"}`: 2,
		"raftvip_vrrp_foreign_routers":                           1,
		"raftvip_notify_script_runs_total":                       4,
		"raftvip_notify_script_failures_total":                   1,
		"raftvip_garp_sent_total":                                10,
	} {
		if got := sample(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	checkMetricsDocumented(t, body)
}
