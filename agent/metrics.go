package agent

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/promtext"
)

// MetricsOptions are what the metrics know besides the agent.
type MetricsOptions struct {
	// Addresses are the VIPs (raftvip_vip_held has one series each).
	Addresses []netip.Prefix
	// GARPSent, NotifyCounts: counters kept elsewhere (vip.GARP.Sent,
	// notify.Notifier.ScriptCounts); nil when there is none.
	GARPSent     func() uint64
	NotifyCounts func() (runs, failures uint64)
}

// Metrics is one agent's Prometheus view; it shares nothing with other
// agents in the process (tests run several). It is written with
// internal/promtext rather than client_golang, whose registry, protobuf
// model and procfs cost the binary, and so every agent's RSS, over 2 MB.
// Nearly everything is read when scraped, from what the loop publishes
// (View), the FSM and the checker, never from inside the loop: a scrape
// costs the loop nothing. Two things are observed as they happen: every
// MySQL check (ObserveCheck, from the checker's goroutine), and the
// failover phases and acquire/release counts, taken once per event from
// the replicated history at each scrape.
type Metrics struct {
	a     *Agent
	opt   MetricsOptions
	start time.Time

	phase        *promtext.HistogramVec
	acquisitions *promtext.CounterVec
	releases     *promtext.CounterVec
	fences       *promtext.Counter
	checkLatency *promtext.Histogram
	checks       *promtext.CounterVec

	mu   sync.Mutex // guards seen (scrapes may run in parallel)
	seen *fsm.Event // the newest history event already counted
}

// Failover phases (raftvip_failover_phase_seconds{phase}).
const (
	PhaseDetection = "detection" // release record: first sign of trouble to release
	PhaseHandover  = "handover"  // acquire record: VIP held by nobody
	PhaseFenceWait = "fence_wait"
	// PhaseElection: fence record: from the fencer's heartbeat timer
	// firing (no leader heard) to its fence, i.e. the election.
	PhaseElection = "election"
	PhaseCatchup  = "catchup" // writable record: the new holder's catch-up wait
	// PhaseLeadership: acquire record: from the new holder becoming
	// leader to its acquire.
	PhaseLeadership = "leadership"
	// PhaseVIPAdd: added record: from the acquire to the VIP on the
	// interface (the proof after the commit, netlink).
	PhaseVIPAdd = "vip_add"
	// PhaseFirstGARP: added record: from the VIP added to its first GARP.
	PhaseFirstGARP = "first_garp"
)

// NewMetrics makes the agent's metrics; serve them with Handler.
func NewMetrics(a *Agent, opt MetricsOptions) *Metrics {
	m := &Metrics{a: a, opt: opt, start: a.now()}
	m.phase = promtext.NewHistogramVec("raftvip_failover_phase_seconds",
		"Durations of failover phases, from the replicated history: detection (first failed check or lost leadership to release), handover (VIP held by nobody, release or fence to acquire), fence_wait (a fence's wait for the unreleased holder's kernel lease), leadership (new holder leader to its acquire), vip_add (acquire to the VIP on the interface), first_garp (VIP added to its first gratuitous ARP), catchup (the new holder's wait for its server to apply the old master's writes).",
		"phase",
		// From a fast in-process handover (ms) to a fenced one (lease +
		// margins, seconds) and a catch-up bounded by catchup_timeout.
		[]float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120})
	m.acquisitions = promtext.NewCounterVec("raftvip_acquisitions_total", "VIP acquisitions recorded in the replicated history, by reason class.", "reason")
	m.releases = promtext.NewCounterVec("raftvip_releases_total", "VIP releases recorded in the replicated history, by reason class.", "reason")
	m.fences = promtext.NewCounter("raftvip_fences_total", "Fences recorded in the replicated history (a holder that did not release).")
	m.checkLatency = promtext.NewHistogram("raftvip_mysql_check_duration_seconds", "Duration of this node's MySQL health checks.",
		[]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5})
	m.checks = promtext.NewCounterVec("raftvip_mysql_checks_total", "This node's MySQL health checks by result class (ok, refused, timeout, auth, ...).", "class")
	return m
}

// ObserveCheck records one MySQL check (mysqlcheck.Checker.SetObserver).
func (m *Metrics) ObserveCheck(class string, latency time.Duration) {
	m.checkLatency.Observe(latency.Seconds())
	m.checks.Inc(class)
}

// sync counts the history events not counted yet. Events older than the
// metrics are not counted: after a restart the history replayed from the
// log would otherwise count the same failovers again.
func (m *Metrics) sync() {
	hist := m.a.fsm.State().History
	m.mu.Lock()
	defer m.mu.Unlock()
	from := 0
	if m.seen != nil {
		from = -1
		for i := len(hist) - 1; i >= 0; i-- {
			if sameEvent(hist[i], *m.seen) {
				from = i + 1
				break
			}
		}
	}
	for i, e := range hist {
		switch {
		case from >= 0 && i < from:
			continue
		case from < 0 && !e.Time.After(m.seen.Time):
			// The one seen last was trimmed from the history (or replaced
			// by a snapshot): go by time.
			continue
		case e.Time.Before(m.start):
			continue
		}
		m.observe(e, hist)
	}
	if len(hist) > 0 {
		last := hist[len(hist)-1]
		m.seen = &last
	}
}

func sameEvent(a, b fsm.Event) bool {
	return a.Epoch == b.Epoch && a.Op == b.Op && a.Node == b.Node && a.By == b.By && a.Time.Equal(b.Time)
}

func (m *Metrics) observe(e fsm.Event, hist []fsm.Event) {
	switch e.Op {
	case fsm.OpRelease:
		m.releases.Inc(ReasonClass(e.Op, e.Reason))
		if e.Detection > 0 {
			m.phase.Observe(PhaseDetection, e.Detection.Seconds())
		}
	case fsm.OpAcquire:
		m.acquisitions.Inc(ReasonClass(e.Op, e.Reason))
		if e.Handover > 0 {
			m.phase.Observe(PhaseHandover, e.Handover.Seconds())
		}
		if e.Leader > 0 {
			m.phase.Observe(PhaseLeadership, e.Leader.Seconds())
		}
	case fsm.OpAdded:
		for i := len(hist) - 1; i >= 0; i-- {
			if a := hist[i]; a.Op == fsm.OpAcquire && a.Epoch == e.Epoch && a.Via == "" {
				if d := e.Time.Sub(a.Time); d >= 0 && a.Node == e.Node {
					m.phase.Observe(PhaseVIPAdd, d.Seconds())
				}
				break
			}
		}
		if e.GARP > 0 {
			m.phase.Observe(PhaseFirstGARP, e.GARP.Seconds())
		}
	case fsm.OpFence:
		m.fences.Inc()
		if e.Wait > 0 {
			m.phase.Observe(PhaseFenceWait, e.Wait.Seconds())
		}
		if e.Election > 0 {
			m.phase.Observe(PhaseElection, e.Election.Seconds())
		}
	case fsm.OpWritable:
		m.phase.Observe(PhaseCatchup, e.Wait.Seconds())
	}
}

// Reason classes: the free-text reasons of the history mapped to a fixed
// set, so the label's cardinality stays bounded (node names, GTIDs and
// durations in the text would make a series each).
var reasonClasses = []struct{ class, word string }{
	{"vip_free", "vip free"},
	{"switchover", "switchover"},
	{"preempt", "preempt"},
	{"fenced", "fence"},
	{"lease_lapsed", "no longer has the vip configured"},
	{"lease_lapsed", "kernel lease"},
	{"mysql_unhealthy", "unhealthy"},
	{"vrrp", "vrrp"},
	{"witness", "witness"},
	{"lost_leadership", "leader"},
	{"lost_leadership", "quorum"},
	{"shutdown", "shut"},
}

// ReasonClass maps a history event's reason to one of a few classes:
// switchover, preempt, fenced, lease_lapsed, mysql_unhealthy, vrrp,
// witness, lost_leadership, shutdown, vip_free, other.
func ReasonClass(op, reason string) string {
	r := strings.ToLower(reason)
	for _, c := range reasonClasses {
		if strings.Contains(r, c.word) {
			return c.class
		}
	}
	return "other"
}

// Raft states and data modes, each with its own 0/1 series (so a missing
// series never hides the state).
var (
	raftStates = []string{"Follower", "Candidate", "Leader", "Shutdown"}
	dataModes  = []string{DataReadOnly, DataCatchingUp, DataWritable, DataStuckReadOnly, DataFencing}
)

// gauge and counter add a series read at scrape time; labels are name,
// value pairs.
func gauge(s *promtext.Scrape, name, help string, v float64, labels ...string) {
	s.Gauge(name, help, v, pairs(labels)...)
}

func counter(s *promtext.Scrape, name, help string, v float64, labels ...string) {
	s.Counter(name, help, v, pairs(labels)...)
}

func pairs(labels []string) []promtext.Label {
	var l []promtext.Label
	for i := 0; i+1 < len(labels); i += 2 {
		l = append(l, promtext.Label{Name: labels[i], Value: labels[i+1]})
	}
	return l
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// scrape gathers every series: the live metrics, and the current state
// read now (which series there are depends on the node: witness, VRRP on
// or off).
func (m *Metrics) scrape() *promtext.Scrape {
	var ch promtext.Scrape
	m.phase.Collect(&ch)
	m.acquisitions.Collect(&ch)
	m.releases.Collect(&ch)
	m.fences.Collect(&ch)
	m.checkLatency.Collect(&ch)
	m.checks.Collect(&ch)
	m.collectState(&ch)
	return &ch
}

func (m *Metrics) collectState(ch *promtext.Scrape) {
	a := m.a
	state := a.raft.State()
	for _, s := range raftStates {
		gauge(ch, "raftvip_raft_state", "This node's Raft state (1 for the current one).", b2f(s == state), "state", strings.ToLower(s))
	}
	gauge(ch, "raftvip_raft_term", "This node's current Raft term.", float64(a.raft.Term()))
	lid, _ := a.raft.Leader()
	gauge(ch, "raftvip_raft_leader_known", "1 when this node knows a Raft leader.", b2f(lid != ""))
	gauge(ch, "raftvip_raft_applied_index", "The last Raft log index this node applied.", float64(a.raft.AppliedIndex()))
	if lc, ok := a.raft.(interface{ LeaderChanges() uint64 }); ok {
		counter(ch, "raftvip_raft_leader_changes_total", "Leaders this node saw elected.", float64(lc.LeaderChanges()))
	}

	st := a.fsm.Current()
	gauge(ch, "raftvip_epoch", "The current epoch in the replicated state (one per VIP acquisition).", float64(st.Epoch))
	gauge(ch, "raftvip_vip_holder_known", "1 when the replicated state records a holder of the VIP.", b2f(st.Holder != ""))
	gauge(ch, "raftvip_fenced", "1 while a fence waits for an unreleased holder's kernel lease.", b2f(st.Fence != nil))
	gauge(ch, "raftvip_maintenance", "1 while maintenance mode is on.", b2f(st.Maintenance.On))
	v := a.current()
	holding := v.Serving
	gauge(ch, "raftvip_holding", "1 when this node holds the VIP.", b2f(holding))
	for _, p := range m.opt.Addresses {
		gauge(ch, "raftvip_vip_held", "1 when this node holds the VIP address.", b2f(holding), "address", p.Addr().String())
	}

	a.collectARP(ch)
	if a.health != nil {
		h := a.health.Current()
		gauge(ch, "raftvip_mysql_healthy", "1 when this node's MySQL verdict is healthy.", b2f(h.Healthy))
		if r := h.Replication; r != nil {
			gauge(ch, "raftvip_replication_configured", "1 when this node's server replicates from a source.", b2f(r.Configured))
			if r.Configured {
				for _, s := range []string{"Yes", "No", "Connecting"} {
					gauge(ch, "raftvip_replication_io_running", "The replication IO thread's state (1 for the current one).", b2f(r.IORunning == s), "state", strings.ToLower(s))
				}
				gauge(ch, "raftvip_replication_sql_running", "1 when the replication SQL thread runs.", b2f(r.SQLRunning))
				if r.SecondsBehind != nil {
					gauge(ch, "raftvip_replication_lag_seconds", "Seconds_Behind_Master of this node's server (absent when the server does not know).", float64(*r.SecondsBehind))
				}
			}
			if r.ReadOnly != nil {
				gauge(ch, "raftvip_mysql_read_only", "1 when this node's server has read_only ON (last check).", b2f(*r.ReadOnly))
			}
		}
	}
	if a.keeper != nil {
		d := a.keeper.Status()
		for _, mode := range dataModes {
			gauge(ch, "raftvip_data_mode", "What this node's agent does with its server (1 for the current mode).", b2f(d.Mode == mode), "mode", mode)
		}
	}
	if vr := a.vrrp; vr != nil {
		vs := vr.Status(a.now())
		counter(ch, "raftvip_vrrp_adverts_sent_total", "VRRP adverts raftvip sent.", float64(vs.Sent))
		counter(ch, "raftvip_vrrp_releases_sent_total", "VRRP priority-0 (release) adverts raftvip sent.", float64(vs.Released))
		counter(ch, "raftvip_vrrp_adverts_received_total", "VRRP adverts accepted from foreign routers.", float64(vs.Stats.Accepted))
		for reason, n := range vs.Stats.Dropped {
			counter(ch, "raftvip_vrrp_adverts_dropped_total", "VRRP packets dropped, by reason.", float64(n), "reason", string(reason))
		}
		gauge(ch, "raftvip_vrrp_foreign_routers", "Foreign VRRP routers (keepalived) heard for the virtual router.", float64(len(vs.Routers)))
		gauge(ch, "raftvip_vrrp_foreign_master", "1 when a foreign VRRP master is on the wire.", b2f(vs.Master != nil))
	}
	if m.opt.GARPSent != nil {
		counter(ch, "raftvip_garp_sent_total", "Gratuitous ARP frames sent.", float64(m.opt.GARPSent()))
	}
	if m.opt.NotifyCounts != nil {
		runs, failures := m.opt.NotifyCounts()
		counter(ch, "raftvip_notify_script_runs_total", "Notify scripts run.", float64(runs))
		counter(ch, "raftvip_notify_script_failures_total", "Notify scripts that failed, timed out or could not start.", float64(failures))
	}
}

// Ready says whether the node is ready: Raft knows a leader and the
// agent's loop has published a view. why says what is missing.
func (a *Agent) Ready() (ok bool, why string) {
	if a.view.Load() == nil {
		return false, "the agent loop has not published its state yet"
	}
	if lid, _ := a.raft.Leader(); lid == "" {
		return false, "no raft leader known"
	}
	return true, ""
}

// Handler serves /metrics, /healthz, /readyz and the status page (/ and
// /status.json, see web.go).
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		m.sync()
		m.scrape().ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ok, why := m.a.Ready(); !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", why)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	m.statusRoutes(mux)
	return mux
}
