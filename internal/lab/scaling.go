package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/vishvananda/netlink"
)

// The scaling run (issue 11, "How cost grows"): how raftvip's idle cost and
// failover time change with the number of VIP addresses in one group and
// with the MySQL check interval. Each setting gets its own start of the
// agents; the trials are bench.go's (runTrial, summarize).

// Sweeps of the scaling run.
const (
	SweepVIPs     = "vip-count"
	SweepInterval = "check-interval"
)

// ScalingOptions select and pace the scaling run.
type ScalingOptions struct {
	// VIPCounts are the group sizes (nil: 1, 8, 32; empty: no such sweep);
	// Intervals the check intervals (nil: 100ms, 500ms, 1s; empty: none).
	VIPCounts []int
	Intervals []time.Duration
	// VIPFaults are injected at each VIP count; default mysql-killed and
	// planned-switchover (the two that move in milliseconds, where a
	// per-address cost would show).
	VIPFaults      []Fault
	VIPTrials      int           // per fault and VIP count; default 5
	IntervalTrials int           // mysql-hung trials per interval; default 5
	IdleWindow     time.Duration // default 20s
	// Jitter is the upper bound of the random wait before each fault;
	// default 1s, the longest default interval, so hangs fall on every
	// phase of the check timer. Negative disables.
	Jitter   time.Duration
	Progress io.Writer // nil: discard
}

func (o ScalingOptions) withDefaults() ScalingOptions {
	if o.VIPCounts == nil {
		o.VIPCounts = []int{1, 8, 32}
	}
	if o.Intervals == nil {
		o.Intervals = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, time.Second}
	}
	if len(o.VIPFaults) == 0 {
		o.VIPFaults = []Fault{FaultMySQLKilled, FaultSwitchover}
	}
	if o.VIPTrials <= 0 {
		o.VIPTrials = 5
	}
	if o.IntervalTrials <= 0 {
		o.IntervalTrials = 5
	}
	if o.IdleWindow <= 0 {
		o.IdleWindow = 20 * time.Second
	}
	if o.Jitter == 0 {
		o.Jitter = time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// ScalingAddresses returns n VIP addresses (CIDRs in Subnet) for one group:
// VIPCIDR first, which the lab's monitor and client follow, then 10.99.0.20
// upwards, skipping every lab host's address.
func ScalingAddresses(n int) ([]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("scaling: %d VIP addresses: want at least 1", n)
	}
	used := map[string]bool{VIP: true}
	for _, h := range hostPlan("x", true) {
		used[h.IP] = true
	}
	out := []string{VIPCIDR}
	for last := 20; len(out) < n && last < 255; last++ {
		ip := "10.99.0." + strconv.Itoa(last)
		if !used[ip] {
			out = append(out, ip+"/24")
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("scaling: %d VIP addresses do not fit in %s beside the lab's hosts (at most %d)", n, Subnet, len(out))
	}
	return out, nil
}

// ScalingExtraVIPs are the addresses (IPs) beyond VIP of the largest group
// in counts: the lab's Options.ExtraVIPs for a scaling run, so that MariaDB
// listens on every address.
func ScalingExtraVIPs(counts []int) ([]string, error) {
	n := 1
	for _, c := range counts {
		n = max(n, c)
	}
	addrs, err := ScalingAddresses(n)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addrs[1:] {
		out = append(out, strings.TrimSuffix(a, "/24"))
	}
	return out, nil
}

// ScalingTrial is one fault of the scaling run: bench.go's trial (its
// client reads through VIP, the first address) and, at a VIP count, when
// the last address answered and when netlink showed each address move.
type ScalingTrial struct {
	TrialResult
	// LastAnswerMS: the first answer from the new holder's server through
	// the group's last address (the agent adds and announces the addresses
	// in order, so the last comes last; at 1 address, through VIP), ms
	// after the fault (0: none).
	LastAnswerMS float64 `json:"last_answer_ms,omitempty"`
	// FirstAddedMS, LastAddedMS: when netlink showed the first and the
	// last of the N addresses on the new holder; LastGoneMS the last one
	// leaving the old holder (ms after the fault, 0: not seen). NotAdded
	// lists addresses never seen on the new holder.
	FirstAddedMS float64  `json:"first_added_ms,omitempty"`
	LastAddedMS  float64  `json:"last_added_ms,omitempty"`
	LastGoneMS   float64  `json:"last_gone_ms,omitempty"`
	NotAdded     []string `json:"not_added,omitempty"`
}

// ScalingSummary is one fault's figures at one setting.
type ScalingSummary struct {
	FaultSummary
	LastAnswerTrials int     `json:"last_answer_trials"`
	LastAnswerP50MS  float64 `json:"last_answer_p50_ms"`
	LastAnswerP95MS  float64 `json:"last_answer_p95_ms"`
	LastAnswerMaxMS  float64 `json:"last_answer_max_ms"`
	LastAddedP50MS   float64 `json:"last_added_p50_ms"`
	// AddSpreadP50MS is the median time from the first to the last
	// address added on the new holder.
	AddSpreadP50MS float64 `json:"add_spread_p50_ms"`
	// AddTookP50MS is the median, from the agents' history, of the new
	// holder's acquire record to its "VIP added": the add of all N
	// addresses (and the proof of leadership before it).
	AddTookP50MS float64 `json:"add_took_p50_ms"`
}

// ScalingRun is one setting: the agents started with it, measured idle,
// then faulted.
type ScalingRun struct {
	Sweep         string           `json:"sweep"` // SweepVIPs or SweepInterval
	VIPs          int              `json:"vips"`
	CheckInterval string           `json:"check_interval"`
	Idle          []IdleUsage      `json:"idle"` // the agents, then each DB host's mariadbd
	Summaries     []ScalingSummary `json:"summaries"`
	Trials        []ScalingTrial   `json:"trials"`
	// ReplicationRestarted lists the DB hosts whose replication the lab
	// found stopped before the setting started, and started again (see
	// startStoppedReplication).
	ReplicationRestarted []string `json:"replication_restarted,omitempty"`
	Error                string   `json:"error,omitempty"`
}

// Label names the run's setting in tables and progress lines.
func (r ScalingRun) Label() string {
	if r.Sweep == SweepInterval {
		return "check interval " + r.CheckInterval
	}
	if r.VIPs == 1 {
		return "1 address"
	}
	return fmt.Sprintf("%d addresses", r.VIPs)
}

// ScalingResults is everything `raftvip-lab scaling` writes.
type ScalingResults struct {
	Command  string            `json:"command"`
	Date     time.Time         `json:"date"`
	Versions map[string]string `json:"versions"`
	Settings map[string]string `json:"settings"`
	Runs     []ScalingRun      `json:"runs"`
}

// RunScaling measures every VIP count, then every check interval, one
// setting at a time on this lab. It returns the results so far and an error
// naming every run or trial that failed.
func (l *Lab) RunScaling(ctx context.Context, opts ScalingOptions) (*ScalingResults, error) {
	opts = opts.withDefaults()
	res := &ScalingResults{Date: time.Now().UTC(), Versions: l.versions(ctx), Settings: l.scalingSettings(opts)}
	base := l.opts.Agent.withDefaults()
	var runs []ScalingRun
	for _, n := range opts.VIPCounts {
		runs = append(runs, ScalingRun{Sweep: SweepVIPs, VIPs: n, CheckInterval: base.CheckInterval})
	}
	for _, iv := range opts.Intervals {
		runs = append(runs, ScalingRun{Sweep: SweepInterval, VIPs: 1, CheckInterval: iv.String()})
	}
	for _, run := range runs {
		if ctx.Err() != nil {
			break
		}
		run = l.scalingRun(ctx, opts, run)
		run.summarize()
		res.Runs = append(res.Runs, run)
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("scaling: %w", ctx.Err())
	}
	return res, res.Failure()
}

// Failure names every run that could not be measured and every trial that
// reported an error (nil: none).
func (r *ScalingResults) Failure() error {
	var errs []string
	for _, run := range r.Runs {
		if run.Error != "" {
			errs = append(errs, run.Label()+": "+run.Error)
		}
		for _, t := range run.Trials {
			if t.Error != "" {
				errs = append(errs, fmt.Sprintf("%s, %s #%d: %s", run.Label(), t.Fault, t.Trial, t.Error))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("scaling: %d failure(s):\n  %s", len(errs), strings.Join(errs, "\n  "))
}

// scalingRun starts the agents with run's setting, measures them idle
// (no client), then runs the trials; whatever stopped it is in run.Error.
func (l *Lab) scalingRun(ctx context.Context, opts ScalingOptions, run ScalingRun) (out ScalingRun) {
	out = run
	fail := func(format string, a ...any) ScalingRun {
		out.Error = fmt.Sprintf(format, a...)
		fmt.Fprintf(opts.Progress, "   %s: ERROR: %s\n", run.Label(), out.Error)
		return out
	}
	fmt.Fprintf(opts.Progress, "== %s: starting raftvip\n", run.Label())
	addrs, err := ScalingAddresses(run.VIPs)
	if err != nil {
		return fail("%v", err)
	}
	extra, _ := ScalingExtraVIPs([]int{run.VIPs})
	for _, ip := range extra {
		if !slices.Contains(l.opts.ExtraVIPs, ip) {
			return fail("MariaDB does not listen on %s: build the lab with Options.ExtraVIPs = ScalingExtraVIPs(counts)", ip)
		}
	}
	out.ReplicationRestarted, err = l.startStoppedReplication(ctx)
	if err != nil {
		return fail("%v", err)
	}
	if len(out.ReplicationRestarted) > 0 {
		fmt.Fprintf(opts.Progress, "   replication found stopped on %s and started again\n", strings.Join(out.ReplicationRestarted, ", "))
	}
	s := l.opts.Agent.withDefaults()
	s.VIPs, s.CheckInterval = addrs, run.CheckInterval
	if err := l.startRaftvipWith(ctx, s); err != nil {
		return fail("start: %v", err)
	}
	defer func() {
		err := l.StopRaftvip(context.Background())
		err = errors.Join(err, l.removeAddresses(context.Background(), addrs))
		if err != nil && out.Error == "" {
			out.Error = "stop: " + err.Error()
		}
	}()
	c, err := l.StartClient(ClientOptions{})
	if err != nil {
		return fail("client: %v", err)
	}
	_, err = l.waitReady(ctx, SystemRaftvip, c)
	c.Stop() // idle means no client
	if err != nil {
		return fail("not ready: %v", err)
	}
	out.Idle, err = l.idleWithServers(ctx, opts.IdleWindow)
	if err != nil {
		return fail("idle usage: %v", err)
	}
	for _, u := range out.Idle {
		fmt.Fprintf(opts.Progress, "   idle %s on %s (%s): RSS %.1f MiB, CPU %.2f%%\n", u.System, u.Host, u.Role, float64(u.RSSKiB)/1024, u.CPUPercent)
	}
	c, err = l.StartClient(ClientOptions{})
	if err != nil {
		return fail("client: %v", err)
	}
	defer c.Stop()
	bopts := BenchOptions{Systems: []System{SystemRaftvip}, Jitter: opts.Jitter, Progress: opts.Progress, noSeries: true}.withDefaults()
	faults, trials := []Fault{FaultMySQLHung}, opts.IntervalTrials
	var moves *addrMoves
	if run.Sweep == SweepVIPs {
		faults, trials = opts.VIPFaults, opts.VIPTrials
		moves, err = l.followAddresses(ctx, addrs, c)
		if err != nil {
			return fail("%v", err)
		}
		defer func() {
			if err := moves.close(); err != nil && out.Error == "" {
				out.Error = err.Error()
			}
		}()
	}
	for _, f := range faults {
		fmt.Fprintf(opts.Progress, "-- %s, %s: %s\n", run.Label(), f, f.HowFor(SystemRaftvip))
		for i := 1; i <= trials; i++ {
			if ctx.Err() != nil {
				return fail("%v", ctx.Err())
			}
			t := ScalingTrial{TrialResult: l.runTrial(ctx, SystemRaftvip, f, i, c, nil, bopts)}
			if moves != nil {
				moves.fill(ctx, &t)
			}
			out.Trials = append(out.Trials, t)
			fmt.Fprintln(opts.Progress, t.progressLine(run))
		}
	}
	return out
}

func (t ScalingTrial) progressLine(run ScalingRun) string {
	line := fmt.Sprintf("   %-16s %-18s #%-2d %s -> %-5s client downtime %5.0f ms", run.Label(), t.Fault, t.Trial, t.Holder, t.NewHolder, t.DowntimeMS)
	if run.Sweep == SweepVIPs {
		line += fmt.Sprintf(", last address answers %4.0f ms, %d added %.0f..%.0f ms", t.LastAnswerMS, run.VIPs, t.FirstAddedMS, t.LastAddedMS)
	}
	if v, ok := t.PhasesMS["detected"]; ok {
		line += fmt.Sprintf(", detected %.0f ms", v)
	}
	if t.MaxHolders > 1 {
		line += fmt.Sprintf(", %d HOLDERS", t.MaxHolders)
	}
	if t.Error != "" {
		line += "  ERROR: " + t.Error
	}
	return line
}

// startRaftvipWith starts the agents with settings s instead of the lab's.
func (l *Lab) startRaftvipWith(ctx context.Context, s AgentSettings) error {
	configs := map[string]string{}
	for _, h := range l.agentHosts() {
		p, err := l.AgentPathsOf(h.Name)
		if err != nil {
			return err
		}
		configs[h.Name] = l.AgentConfigWith(h, filepath.Dir(p.Config), s)
	}
	return l.StartRaftvipConfigs(ctx, configs)
}

// startStoppedReplication starts replication again on every DB host whose
// slave threads are not running, with the agents stopped, and waits until
// both replicate; it returns the hosts it started. Each setting must begin
// from the same lab, and an agent can leave its replication stopped for
// good: a new holder after an unplanned move (a SIGTERMed holder's
// handover counts as one) stops replication from the old holder until that
// one's errant check, and an agent stopped before then never starts it
// again, also not as a non-holder after a restart, so its node turns stale
// and no failover can pick it.
func (l *Lab) startStoppedReplication(ctx context.Context) ([]string, error) {
	var started []string
	for _, h := range l.DBHosts() {
		m := l.MariaDB(h.Name)
		if m == nil {
			return nil, fmt.Errorf("no mariadbd on %s", h.NodeID)
		}
		st, err := m.SlaveStatus(ctx)
		if err != nil {
			return nil, fmt.Errorf("replication on %s: %w", h.NodeID, err)
		}
		if st.Running() {
			continue
		}
		if _, err := m.SQL(ctx, "START SLAVE"); err != nil {
			return nil, fmt.Errorf("replication on %s: START SLAVE: %w", h.NodeID, err)
		}
		l.note("restore", "replication found stopped, started again", "host", h.NodeID)
		started = append(started, h.NodeID)
	}
	if len(started) > 0 {
		if err := l.WaitReplicating(ctx); err != nil {
			return started, err
		}
	}
	return started, nil
}

// removeAddresses deletes any of addrs (CIDRs) left on the DB hosts after
// the agents stopped (one killed before it could release, say).
func (l *Lab) removeAddresses(ctx context.Context, addrs []string) error {
	var errs []error
	for _, h := range l.DBHosts() {
		out, err := run(ctx, "ip", "-n", h.NS, "-4", "-o", "addr", "show", "dev", "eth0")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range addrs {
			if strings.Contains(out, " "+a+" ") {
				if _, err := run(ctx, "ip", "-n", h.NS, "addr", "del", a, "dev", "eth0"); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// idleWithServers is idleUsage for the agents plus, over the same window,
// each DB host's mariadbd: the checks cost the server too.
func (l *Lab) idleWithServers(ctx context.Context, window time.Duration) ([]IdleUsage, error) {
	holder, _ := l.monitor.Holder()
	type server struct {
		u    IdleUsage
		cpu0 time.Duration
	}
	var servers []*server
	for _, h := range l.DBHosts() {
		m := l.MariaDB(h.Name)
		if m == nil || m.Process() == nil {
			return nil, fmt.Errorf("no mariadbd on %s", h.NodeID)
		}
		role := "mariadbd"
		if h.Name == holder {
			role += ", VIP holder"
		}
		pid := m.Process().Pid()
		_, c, err := procUsage(pid)
		if err != nil {
			return nil, err
		}
		servers = append(servers, &server{u: IdleUsage{System: "mariadbd", Host: h.NodeID, Role: role, Pids: []int{pid}}, cpu0: c})
	}
	start := time.Now()
	out, err := l.idleUsage(ctx, SystemRaftvip, window)
	if err != nil {
		return nil, err
	}
	el := time.Since(start)
	for _, s := range servers {
		rss, c, err := procUsage(s.u.Pids[0])
		if err != nil {
			return nil, err
		}
		s.u.RSSKiB, s.u.WindowS = rss, el.Round(100*time.Millisecond).Seconds()
		s.u.CPUPercent = float64(int(float64(c-s.cpu0)/float64(el)*100*100+0.5)) / 100
		out = append(out, s.u)
	}
	return out, nil
}

// addrMoves follows every address of a group through the trials: a
// Monitor per address, all fed by one netlink subscription per DB host (one
// subscription per address would deliver each of the holder's N renewals
// to N sockets), and a second Client reading through the last address.
type addrMoves struct {
	l     *Lab
	ips   []string
	mons  map[string]*Monitor
	first *Client // the trials' client, through VIP
	last  *Client // through ips[len-1]; nil at one address
	done  chan struct{}
	wg    sync.WaitGroup

	mu   sync.Mutex
	errs []error
}

// followAddresses starts following cidrs; c is the trials' client.
func (l *Lab) followAddresses(ctx context.Context, cidrs []string, c *Client) (*addrMoves, error) {
	m := &addrMoves{l: l, mons: map[string]*Monitor{}, first: c, done: make(chan struct{})}
	for _, cidr := range cidrs {
		ip, _, err := net.ParseCIDR(cidr)
		if err != nil {
			return nil, fmt.Errorf("scaling: address %q: %w", cidr, err)
		}
		mon, err := newMonitor(ip.String(), l.log)
		if err != nil {
			return nil, err
		}
		m.ips, m.mons[ip.String()] = append(m.ips, ip.String()), mon
	}
	for _, h := range l.DBHosts() {
		host, ns := h.Name, h.NS
		err := subscribeAddrs(ns, m.done, &m.wg, func(u netlink.AddrUpdate, at time.Time, initial bool) {
			if mon := m.mons[u.LinkAddress.IP.String()]; mon != nil {
				mon.record(host, u.NewAddr, u.ValidLft, at, initial)
			}
		}, func(err error) {
			m.mu.Lock()
			m.errs = append(m.errs, fmt.Errorf("address monitor %s (%s): %w", host, ns, err))
			m.mu.Unlock()
		})
		if err != nil {
			m.close()
			return nil, err
		}
	}
	if len(m.ips) == 1 {
		return m, nil
	}
	last, err := l.StartClient(ClientOptions{Target: net.JoinHostPort(m.ips[len(m.ips)-1], strconv.Itoa(MySQLPort))})
	if err != nil {
		m.close()
		return nil, err
	}
	m.last = last
	holder, ok := l.monitor.Holder()
	if !ok {
		m.close()
		return nil, fmt.Errorf("scaling: no single VIP holder (%v)", l.monitor.Holders())
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := last.WaitGood(wctx, l.Host(holder).ServerID, time.Now()); err != nil {
		m.close()
		return nil, fmt.Errorf("scaling: the last address %s: %w", m.ips[len(m.ips)-1], err)
	}
	return m, nil
}

// fill adds the trial's per-address figures to t (nothing when the fault
// was never injected).
func (m *addrMoves) fill(ctx context.Context, t *ScalingTrial) {
	if t.Holder == "" || t.FaultAt.IsZero() || !t.Recovered {
		return
	}
	t0, other := t.FaultAt, m.l.Other(t.Holder)
	c := m.last
	if c == nil {
		c = m.first
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if r, err := c.WaitGood(wctx, m.l.Host(other).ServerID, t0); err == nil {
		t.LastAnswerMS = ms(r.End.Sub(t0))
	} else if t.Error == "" {
		t.Error = fmt.Sprintf("the last address %s: %v", m.ips[len(m.ips)-1], err)
	}
	var first, last, lastGone time.Duration
	for _, ip := range m.ips {
		gone, added := m.mons[ip].MoveAfter(t0, t.Holder, other)
		lastGone = max(lastGone, gone)
		if added == 0 {
			t.NotAdded = append(t.NotAdded, ip)
			continue
		}
		if first == 0 || added < first {
			first = added
		}
		last = max(last, added)
	}
	t.LastGoneMS = ms(lastGone)
	if len(t.NotAdded) == 0 {
		t.FirstAddedMS, t.LastAddedMS = ms(first), ms(last)
	} else if t.Error == "" {
		t.Error = "netlink never showed on the new holder: " + strings.Join(t.NotAdded, ",")
	}
}

// close stops following; its error reports subscription failures (events
// may have been missed).
func (m *addrMoves) close() error {
	if m.last != nil {
		m.last.Stop()
	}
	close(m.done)
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.errs...)
}

// summarize fills run.Summaries from its trials with bench.go's summary
// (client downtime, two holders, phases) and the per-address figures.
func (r *ScalingRun) summarize() {
	br := &BenchResults{}
	var faults []Fault
	for _, t := range r.Trials {
		br.Results = append(br.Results, t.TrialResult)
		if !containsFault(faults, t.Fault) {
			faults = append(faults, t.Fault)
		}
	}
	br.summarize(BenchOptions{Systems: []System{SystemRaftvip}, Faults: faults})
	r.Summaries = nil
	for _, fs := range br.Summaries {
		s := ScalingSummary{FaultSummary: fs}
		var answer, last, spread, took []time.Duration
		for _, t := range r.Trials {
			if t.Fault != fs.Fault {
				continue
			}
			if t.LastAnswerMS > 0 {
				answer = append(answer, fromMS(t.LastAnswerMS))
			}
			acq, ok1 := t.PhasesMS[fsm.PhaseAcquired]
			added, ok2 := t.PhasesMS[fsm.PhaseAdded]
			if ok1 && ok2 {
				took = append(took, fromMS(added-acq))
			}
			if t.LastAddedMS > 0 {
				last = append(last, fromMS(t.LastAddedMS))
				spread = append(spread, fromMS(t.LastAddedMS-t.FirstAddedMS))
			}
		}
		s.LastAnswerTrials = len(answer)
		s.LastAnswerP50MS, s.LastAnswerP95MS, s.LastAnswerMaxMS = ms(Percentile(answer, 0.5)), ms(Percentile(answer, 0.95)), ms(maxDuration(answer))
		s.LastAddedP50MS, s.AddSpreadP50MS = ms(Percentile(last, 0.5)), ms(Percentile(spread, 0.5))
		s.AddTookP50MS = ms(Percentile(took, 0.5))
		r.Summaries = append(r.Summaries, s)
	}
}

func containsFault(fs []Fault, f Fault) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

func fromMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func (l *Lab) scalingSettings(opts ScalingOptions) map[string]string {
	s := l.opts.Agent.withDefaults()
	addrs, _ := ScalingAddresses(2)
	return map[string]string{
		"raftvip": fmt.Sprintf("lab defaults but for the swept setting: lease %s, mysql check interval %s timeout %s fall %d rise %d (fail_after: the agent's default), garp %d x %s, log level %s",
			s.Lease, s.CheckInterval, s.CheckTimeout, s.Fall, s.Rise, s.GARPCount, s.GARPInterval, s.LogLevel),
		"addresses": fmt.Sprintf("N addresses in the one vip block: %s, then %s upwards, skipping the lab hosts' addresses", addrs[0], addrs[1]),
		"idle":      fmt.Sprintf("%s per setting, right after the group is ready, no client running; CPU in %% of one core from /proc/PID (utime+stime and reaped children)", opts.IdleWindow),
		"trials": fmt.Sprintf("%d per fault at each VIP count (%s), %d of mysql-hung at each check interval; a random wait of up to %s before each fault",
			opts.VIPTrials, faultList(opts.VIPFaults), opts.IntervalTrials, opts.Jitter),
		"client":       "SELECT @@server_id through the first address every 20 ms, new connection each time, 300 ms timeout",
		"last address": "at VIP counts above 1, a second such client through the group's last address, running through the trials (not while idle)",
		"netlink":      "at VIP counts, one address subscription per DB host records every address's arrival and departure (the lab's VIP monitor, per address)",
	}
}

func faultList(fs []Fault) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// idleColumns are the idle tables' columns after the setting.
var idleColumns = []string{"leader, VIP holder", "follower", "witness", "mariadbd on the holder", "mariadbd on the other"}

// idleColumn says which idle column u belongs in (-1: none).
func idleColumn(u IdleUsage) int {
	holder := strings.Contains(u.Role, "VIP holder")
	switch {
	case u.System == "mariadbd" && holder:
		return 3
	case u.System == "mariadbd":
		return 4
	case u.Role == "witness":
		return 2
	case holder:
		return 0
	case strings.HasPrefix(u.Role, "follower"):
		return 1
	}
	return -1
}

func msCell(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", v)
}

// Markdown renders the results as docs/bench/scaling.md.
func (r *ScalingResults) Markdown() string {
	var b strings.Builder
	b.WriteString("# How raftvip's cost grows: VIP addresses in one group, MySQL check interval\n\n")
	fmt.Fprintf(&b, "Command: `%s`  \nDate: %s  \n", r.Command, r.Date.Format(time.RFC3339))
	for _, k := range sortedKeysString(r.Versions) {
		fmt.Fprintf(&b, "%s: %s  \n", k, r.Versions[k])
	}
	b.WriteString("\n")
	vips, ivs := r.sweep(SweepVIPs), r.sweep(SweepInterval)
	if len(vips) > 0 {
		b.WriteString("## VIP addresses in one group\n\n")
		b.WriteString("Failover with all N addresses in one `vip` block, ms after the fault, p50 / p95 (/ max) over the trials that recovered. " +
			"Downtime is the bench's client through the first address (10.99.0.10); \"last address answers\" is a second such client's first answer from the new holder " +
			"through the group's last address, which the agent adds and announces last; \"all N added\" is when netlink showed the last of the N on the new holder, " +
			"in parentheses the spread from the first; \"acquired → added\" is the new holder's own time from its acquire to all N added, from the agents' history (p50):\n\n")
		b.WriteString("| addresses | fault | trials | recovered | downtime, first address | last address answers | all N added (spread) | acquired → added | trials with two holders |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
		for _, run := range vips {
			for _, s := range run.Summaries {
				answer := "-"
				if s.LastAnswerTrials > 0 {
					answer = fmt.Sprintf("%s / %s / %s", msCell(s.LastAnswerP50MS), msCell(s.LastAnswerP95MS), msCell(s.LastAnswerMaxMS))
					if s.LastAnswerTrials < s.Trials {
						answer += fmt.Sprintf(" (%d trials)", s.LastAnswerTrials)
					}
				}
				fmt.Fprintf(&b, "| %d | %s | %d | %d | %s / %s | %s | %s (%.1f ms) | %.1f ms | %d |\n", run.VIPs, s.Fault, s.Trials, s.Recovered,
					msCell(s.P50MS), msCell(s.P95MS), answer, msCell(s.LastAddedP50MS), s.AddSpreadP50MS, s.AddTookP50MS, s.TwoHolderTrials)
			}
		}
		b.WriteString("\n")
		b.WriteString(idleTable("addresses", vips, func(r ScalingRun) string { return strconv.Itoa(r.VIPs) }))
	}
	if len(ivs) > 0 {
		b.WriteString("## MySQL check interval (one address)\n\n")
		b.WriteString("mariadbd on the holder hung (SIGSTOP); detected and released are from the agents' history (`raftvip history -json`), " +
			"client recovery is the bench's downtime (ms after the fault; p50 / p95 / max):\n\n")
		b.WriteString("| check interval | trials | recovered | detected p50 | released p50 | client recovery p50 / p95 / max | trials with two holders |\n")
		b.WriteString("|---|---|---|---|---|---|---|\n")
		for _, run := range ivs {
			for _, s := range run.Summaries {
				fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s / %s / %s | %d |\n", run.CheckInterval, s.Trials, s.Recovered,
					msCell(s.PhaseP50MS["detected"]), msCell(s.PhaseP50MS["released"]), msCell(s.P50MS), msCell(s.P95MS), msCell(s.MaxMS), s.TwoHolderTrials)
			}
		}
		b.WriteString("\n")
		b.WriteString(idleTable("check interval", ivs, func(r ScalingRun) string { return r.CheckInterval }))
	}
	for _, run := range r.Runs {
		if len(run.ReplicationRestarted) > 0 {
			fmt.Fprintf(&b, "Before %s the lab found replication stopped on %s (with the agents stopped) and started it again.\n\n",
				run.Label(), strings.Join(run.ReplicationRestarted, ", "))
		}
	}
	b.WriteString("Settings:\n\n")
	for _, k := range sortedKeysString(r.Settings) {
		fmt.Fprintf(&b, "- %s: %s\n", k, r.Settings[k])
	}
	var errs []string
	for _, run := range r.Runs {
		if run.Error != "" {
			errs = append(errs, fmt.Sprintf("- %s: %s", run.Label(), run.Error))
		}
		for _, t := range run.Trials {
			if t.Error != "" {
				errs = append(errs, fmt.Sprintf("- %s, %s #%d: %s", run.Label(), t.Fault, t.Trial, t.Error))
			}
		}
	}
	if len(errs) > 0 {
		b.WriteString("\nErrors:\n\n" + strings.Join(errs, "\n") + "\n")
	}
	return b.String()
}

func idleTable(first string, runs []ScalingRun, key func(ScalingRun) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Idle, no client, CPU in %% of one core · RSS (window in the settings):\n\n| %s |", first)
	for _, c := range idleColumns {
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(idleColumns)) + "\n")
	for _, run := range runs {
		cells := make([]string, len(idleColumns))
		for i := range cells {
			cells[i] = "-"
		}
		for _, u := range run.Idle {
			if i := idleColumn(u); i >= 0 {
				cells[i] = fmt.Sprintf("%.2f %% · %.1f MiB", u.CPUPercent, float64(u.RSSKiB)/1024)
			}
		}
		fmt.Fprintf(&b, "| %s | %s |\n", key(run), strings.Join(cells, " | "))
	}
	b.WriteString("\n")
	return b.String()
}

func (r *ScalingResults) sweep(name string) []ScalingRun {
	var out []ScalingRun
	for _, run := range r.Runs {
		if run.Sweep == name {
			out = append(out, run)
		}
	}
	return out
}
