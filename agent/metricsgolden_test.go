package agent

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/raftvip/raftvip/arpwatch"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
)

// -update rewrites testdata/metrics.golden. The committed file was written
// by the client_golang implementation (before internal/promtext replaced
// it), so the test proves the exposition did not change.
var updateGolden = flag.Bool("update", false, "rewrite testdata/metrics.golden")

// goldenRaft is a Raft with fixed answers: what the state series read.
// Anything else panics (the embedded interface is nil): metrics must not
// ask Raft for more.
type goldenRaft struct{ Raft }

func (goldenRaft) State() string             { return "Leader" }
func (goldenRaft) Term() uint64              { return 7 }
func (goldenRaft) Leader() (id, addr string) { return "hosta", "127.0.0.1:7000" }
func (goldenRaft) AppliedIndex() uint64      { return 123456789 } // printed as 1.23456789e+08
func (goldenRaft) LeaderChanges() uint64     { return 3 }

// goldenScrape builds an agent whose every metric input is fixed, feeds it
// a replicated history and some checks, and scrapes /metrics.
func goldenScrape(t *testing.T) *http.Response {
	t.Helper()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	lag := int64(42)
	ro := false
	h := newFakeHealth(true)
	h.SetReplication(mysqlcheck.Replication{Configured: true, IORunning: "Connecting", SQLRunning: true, SecondsBehind: &lag, ReadOnly: &ro})

	f := fsm.New()
	a := New(Options{NodeID: "hosta", Role: fsm.RoleDB, VRRPMode: VRRPActive}, goldenRaft{}, f, nil, nil, h, nil)
	a.now = func() time.Time { return t0 }
	a.view.Store(&View{Holding: true, Serving: true, Epoch: 3})
	a.keeper = &keeper{}
	a.keeper.st.Store(&DataStatus{Mode: DataWritable, Epoch: 3})
	a.SetVRRP(&countingVRRP{})
	a.SetARPWatch(func() arpwatch.Report {
		return arpwatch.Report{Interface: "eth0", Addresses: []arpwatch.AddressReport{
			{Address: "10.99.0.9", Answerers: []string{"02:00:00:00:00:01", "02:00:00:00:00:02"}, Alarm: true, ForeignAnswers: 5},
			{Address: "10.99.0.10"},
		}}
	})
	m := NewMetrics(a, MetricsOptions{
		// Two addresses whose order as text differs from their order here.
		Addresses:    []netip.Prefix{netip.MustParsePrefix("10.99.0.9/24"), netip.MustParsePrefix("10.99.0.10/24")},
		GARPSent:     func() uint64 { return 1 << 40 },
		NotifyCounts: func() (uint64, uint64) { return 4, 0 },
	})

	at := func(d time.Duration) time.Time { return t0.Add(d) }
	st := fsm.State{
		Epoch: 3, Holder: "hosta", Maintenance: fsm.Maintenance{On: true},
		History: []fsm.Event{
			// Before the metrics started: never counted.
			{Epoch: 1, Op: fsm.OpAcquire, Node: "hostb", By: "hostb", Time: at(-time.Hour), Reason: "leader, db, mysql healthy, VIP free", Handover: time.Second},
			{Epoch: 1, Op: fsm.OpRelease, Node: "hostb", By: "hostb", Time: at(time.Second), Reason: "mysql unhealthy", Detection: 1500 * time.Millisecond},
			{Epoch: 2, Op: fsm.OpAcquire, Node: "hosta", By: "hosta", Time: at(2 * time.Second), Reason: "leader, db, mysql healthy, VIP free", Handover: 250 * time.Millisecond, Leader: 10 * time.Millisecond},
			{Epoch: 2, Op: fsm.OpAdded, Node: "hosta", By: "hosta", Time: at(2*time.Second + 30*time.Millisecond), GARP: 700 * time.Microsecond},
			{Epoch: 2, Op: fsm.OpWritable, Node: "hosta", By: "hosta", Time: at(3 * time.Second), Wait: 800 * time.Millisecond},
			{Epoch: 2, Op: fsm.OpFence, Node: "hosta", By: "hostb", Time: at(10 * time.Second), Reason: "fence", Wait: 3 * time.Second, Election: 400 * time.Millisecond},
			{Epoch: 3, Op: fsm.OpAcquire, Node: "hosta", By: "hostb", Time: at(14 * time.Second), Reason: "switchover to hosta", Handover: 4 * time.Second, Leader: 2 * time.Minute},
			{Epoch: 3, Op: fsm.OpRelease, Node: "hostb", By: "hostb", Time: at(15 * time.Second), Reason: "\"odd\" reason"},
		},
	}
	snap, err := json.Marshal(map[string]any{"version": 1, "state": st})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		class string
		d     time.Duration
	}{
		{"ok", time.Millisecond}, // on a bucket's bound: counted in it
		{"ok", 3 * time.Millisecond},
		{"ok", 10 * time.Second}, // above every bound: +Inf only
		{"timeout", 2 * time.Second},
		// A class the checker never uses, to show label escaping.
		{"odd\"class\\with\nnewline", 0},
	} {
		m.ObserveCheck(c.class, c.d)
	}

	h2 := m.Handler()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	rec := httptest.NewRecorder()
	h2.ServeHTTP(rec, req)
	// A second scrape counts nothing again.
	rec = httptest.NewRecorder()
	h2.ServeHTTP(rec, req)
	return rec.Result()
}

// TestMetricsGolden: the scrape of a fixed agent is byte for byte the
// committed exposition, and valid text format 0.0.4.
func TestMetricsGolden(t *testing.T) {
	res := goldenScrape(t)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d\n%s", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4; charset=utf-8") {
		t.Errorf("Content-Type %q, want text/plain; version=0.0.4; charset=utf-8", ct)
	}
	const path = "testdata/metrics.golden"
	if *updateGolden {
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != string(want) {
		t.Errorf("/metrics differs from %s:\n--- got\n%s\n--- want\n%s", path, body, want)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("expfmt cannot parse /metrics: %v", err)
	}
	if len(fams) < 30 {
		t.Errorf("expfmt parsed %d families, want all of them", len(fams))
	}
	checkMetricsDocumented(t, string(body))
}
