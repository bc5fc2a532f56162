package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// Fault is a failure the benchmark injects on the current VIP holder.
type Fault string

// The benchmark's faults.
const (
	FaultMySQLKilled Fault = "mysql-killed" // SIGKILL to the holder's mariadbd
	FaultMySQLHung   Fault = "mysql-hung"   // SIGSTOP to the holder's mariadbd
	FaultAgentKilled Fault = "agent-killed" // SIGKILL to the holder's raftvip agent (data-safety runs only)
	FaultCablePulled Fault = "cable-pulled" // the holder's bridge port down
	FaultIsolated    Fault = "isolated"     // a and b cannot see each other
	// FaultSwitchover is a planned move, not a failure: raftvip's
	// `switchover` (asked on the witness); keepalived has no such command,
	// so it gets its closest planned move, stopping the MASTER's keepalived
	// (SIGTERM: it removes the VIP and sends a priority-0 advert).
	FaultSwitchover Fault = "planned-switchover"
)

// AllFaults in benchmark order.
var AllFaults = []Fault{FaultMySQLKilled, FaultMySQLHung, FaultCablePulled, FaultIsolated, FaultSwitchover}

// Describe says in words what the fault does.
func (f Fault) Describe() string {
	switch f {
	case FaultMySQLKilled:
		return "mariadbd on the VIP holder killed (SIGKILL)"
	case FaultMySQLHung:
		return "mariadbd on the VIP holder hung (SIGSTOP): still listening, never answering"
	case FaultAgentKilled:
		return "the VIP holder's raftvip agent killed (SIGKILL): its kernel lease drops the VIP; its MySQL keeps running"
	case FaultCablePulled:
		return "the VIP holder's cable pulled (bridge port down)"
	case FaultIsolated:
		return "the two DB hosts cut off from each other, both still reach the witness and the client"
	case FaultSwitchover:
		return "planned move of the VIP to the other DB host: `raftvip switchover -to OTHER` asked on the witness; " +
			"keepalived has no equivalent, its closest planned move is stopping the MASTER's keepalived (SIGTERM, priority-0 advert)"
	}
	return string(f)
}

// HowFor says what the fault does to sys, where the systems differ.
func (f Fault) HowFor(sys System) string {
	if f == FaultSwitchover {
		if sys == SystemKeepalived {
			return "SIGTERM to the MASTER's keepalived (no switchover command; restarted afterwards)"
		}
		return "raftvip switchover -to OTHER, asked on the witness"
	}
	return f.Describe()
}

// movesVIP says whether the VIP has to move for clients to be served.
func (f Fault) movesVIP() bool { return f != FaultIsolated }

// System is the VIP owner under test.
type System string

// Systems the benchmark compares.
const (
	SystemRaftvip    System = "raftvip"
	SystemKeepalived System = "keepalived"
)

// BenchOptions select and pace the benchmark.
type BenchOptions struct {
	Trials  int      // per fault and system; default 10
	Systems []System // default keepalived, raftvip
	Faults  []Fault  // default AllFaults
	// IsolationHold is how long the DB hosts stay isolated; long enough for
	// keepalived's master-down timer (3 × advert_int + skew). Default 6s.
	IsolationHold time.Duration
	// Jitter is the upper bound of a random wait before each fault. Without
	// it every trial starts at the same phase of keepalived's 2 s check
	// timer (the lab becomes ready on one of its ticks) and all trials
	// measure the same downtime. Default 2s; negative disables.
	Jitter time.Duration
	// IdleWindow is the CPU sampling window for idle agents; default 10s.
	IdleWindow time.Duration
	// Progress receives one line per trial (nil: discard).
	Progress io.Writer
	// WriteInterval paces the probe writer that runs beside the client
	// for the pictures (benchseries.go); default 50ms, negative: none.
	WriteInterval time.Duration
	// noSeries skips each trial's timeline for the pictures and its wait
	// until seriesPost after the fault (the scaling run draws none).
	noSeries bool
}

func (o BenchOptions) withDefaults() BenchOptions {
	if o.Trials <= 0 {
		o.Trials = 10
	}
	if len(o.Systems) == 0 {
		o.Systems = []System{SystemKeepalived, SystemRaftvip}
	}
	if len(o.Faults) == 0 {
		o.Faults = AllFaults
	}
	if o.IsolationHold <= 0 {
		o.IsolationHold = 6 * time.Second
	}
	if o.Jitter == 0 {
		o.Jitter = 2 * time.Second
	}
	if o.IdleWindow <= 0 {
		o.IdleWindow = 10 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.WriteInterval == 0 {
		o.WriteInterval = 50 * time.Millisecond
	}
	return o
}

// TrialResult is one injected fault and what the client and monitor saw.
type TrialResult struct {
	System    System    `json:"system"`
	Fault     Fault     `json:"fault"`
	Trial     int       `json:"trial"`
	Holder    string    `json:"holder"`     // before the fault
	NewHolder string    `json:"new_holder"` // once settled
	FaultAt   time.Time `json:"fault_at"`
	// DowntimeMS is the longest client-visible gap between successful reads:
	// from the last answer before the fault to the first answer from the
	// other server (faults that move the VIP), or over the whole isolation.
	DowntimeMS float64 `json:"downtime_ms"`
	Recovered  bool    `json:"recovered"`
	// MaxHolders is the most hosts holding the VIP at one instant from the
	// fault until the lab settled again.
	MaxHolders int `json:"max_holders"`
	// MaxHoldersConnected excludes the time a pulled cable made one holder
	// unreachable (equal to MaxHolders for other faults).
	MaxHoldersConnected int `json:"max_holders_connected"`
	// VIPGoneMS and VIPNewMS say when, after the fault, the monitor saw the
	// VIP leave the old holder and arrive on the other host (0: not seen),
	// separating the VIP owner's timing from the client's (ARP, retries).
	VIPGoneMS   float64 `json:"vip_gone_ms,omitempty"`
	VIPNewMS    float64 `json:"vip_new_ms,omitempty"`
	ReadsOK     int     `json:"reads_ok"`
	ReadsFailed int     `json:"reads_failed"`
	// PhasesMS is, for raftvip, when each phase of the trial's failover
	// happened, in ms after the fault, as the agents' history recorded it
	// (fsm.Failovers; a phase not recorded is absent).
	PhasesMS map[string]float64 `json:"phases_ms,omitempty"`
	Error    string             `json:"error,omitempty"`

	series *FailoverSeries // the timeline for the pictures (benchseries.go)
}

// FaultSummary aggregates the trials of one fault and system.
type FaultSummary struct {
	System          System  `json:"system"`
	Fault           Fault   `json:"fault"`
	Trials          int     `json:"trials"`
	Recovered       int     `json:"recovered"`
	P50MS           float64 `json:"p50_ms"`
	P95MS           float64 `json:"p95_ms"`
	MaxMS           float64 `json:"max_ms"`
	TwoHolderTrials int     `json:"two_holder_trials"`
	// TwoHolderConnectedTrials counts trials where both holders were
	// reachable at once (see TrialResult.MaxHoldersConnected).
	TwoHolderConnectedTrials int `json:"two_holder_connected_trials"`
	// PhaseP50MS is each failover phase's median time after the fault over
	// the trials that recorded it (raftvip); PhaseTrials how many did.
	PhaseP50MS  map[string]float64 `json:"phase_p50_ms,omitempty"`
	PhaseTrials map[string]int     `json:"phase_trials,omitempty"`
}

// Ratio compares the two systems' median downtime for one fault.
type Ratio struct {
	Fault        Fault   `json:"fault"`
	RaftvipP50   float64 `json:"raftvip_p50_ms"`
	KeepaliveP50 float64 `json:"keepalived_p50_ms"`
	Ratio        float64 `json:"ratio"` // raftvip / keepalived; 0 if undefined
}

// BenchResults is everything `raftvip-lab bench` writes.
type BenchResults struct {
	Command   string            `json:"command"`
	Date      time.Time         `json:"date"`
	Versions  map[string]string `json:"versions"`
	Settings  map[string]string `json:"settings"`
	Trials    int               `json:"trials_per_fault"`
	Summaries []FaultSummary    `json:"summaries"`
	Ratios    []Ratio           `json:"ratios"`
	Idle      []IdleUsage       `json:"idle"`
	Results   []TrialResult     `json:"results"`
	Errors    []string          `json:"errors,omitempty"`
	// Failovers are the median trials' timelines, for the pictures; the
	// command writes them to failovers.json beside results.json.
	Failovers []FailoverSeries `json:"-"`
}

// RunBench injects every fault Trials times against every system, one
// system at a time on this lab, restoring the lab between trials.
func (l *Lab) RunBench(ctx context.Context, opts BenchOptions) (*BenchResults, error) {
	opts = opts.withDefaults()
	res := &BenchResults{
		Date:     time.Now().UTC(),
		Trials:   opts.Trials,
		Versions: l.versions(ctx),
		Settings: l.benchSettings(opts),
	}
	// The probe writer's table (its INSERTs are rolled back).
	if opts.WriteInterval > 0 {
		if err := l.SetupDataSchema(ctx); err != nil {
			return res, err
		}
	}
	for _, sys := range opts.Systems {
		if err := l.benchSystem(ctx, sys, opts, res); err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", sys, err))
			fmt.Fprintf(opts.Progress, "%s: stopped early: %v\n", sys, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	res.summarize(opts)
	res.Failovers = res.pickFailovers(opts)
	if len(res.Results) == 0 {
		return res, errors.New("bench: no trial ran: " + strings.Join(res.Errors, "; "))
	}
	return res, nil
}

func (l *Lab) startSystem(ctx context.Context, sys System) error {
	switch sys {
	case SystemRaftvip:
		return l.StartRaftvip(ctx)
	case SystemKeepalived:
		return l.StartKeepalived(ctx)
	}
	return fmt.Errorf("unknown system %q", sys)
}

func (l *Lab) stopSystem(ctx context.Context, sys System) error {
	if sys == SystemRaftvip {
		return l.StopRaftvip(ctx)
	}
	return l.StopKeepalived(ctx)
}

func (l *Lab) benchSystem(ctx context.Context, sys System, opts BenchOptions, res *BenchResults) (err error) {
	fmt.Fprintf(opts.Progress, "== %s: starting\n", sys)
	if err := l.startSystem(ctx, sys); err != nil {
		return err
	}
	defer func() {
		if serr := l.stopSystem(context.Background(), sys); serr != nil && err == nil {
			err = serr
		}
	}()
	c, err := l.StartClient(ClientOptions{})
	if err != nil {
		return err
	}
	defer c.Stop()
	w, stopWriter, err := l.startBenchWriter(ctx, sys, opts)
	if err != nil {
		return err
	}
	defer stopWriter()
	if _, err := l.waitReady(ctx, sys, c); err != nil {
		return err
	}
	idle, err := l.idleUsage(ctx, sys, opts.IdleWindow)
	if err != nil {
		return fmt.Errorf("idle usage: %w", err)
	}
	res.Idle = append(res.Idle, idle...)
	for _, u := range idle {
		fmt.Fprintf(opts.Progress, "   idle %s on %s (%s): RSS %.1f MiB, CPU %.2f%%\n", sys, u.Host, u.Role, float64(u.RSSKiB)/1024, u.CPUPercent)
	}
	for _, f := range opts.Faults {
		fmt.Fprintf(opts.Progress, "-- %s, %s: %s\n", sys, f, f.HowFor(sys))
		for i := 1; i <= opts.Trials; i++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			tr := l.runTrial(ctx, sys, f, i, c, w, opts)
			res.Results = append(res.Results, tr)
			line := fmt.Sprintf("   %-10s %-13s #%-2d %s -> %-5s downtime %7.0f ms, max holders %d (VIP gone %+.0f ms, on %s %+.0f ms)",
				sys, f, i, tr.Holder, tr.NewHolder, tr.DowntimeMS, tr.MaxHolders, tr.VIPGoneMS, l.Other(tr.Holder), tr.VIPNewMS)
			if len(tr.PhasesMS) > 0 {
				line += "\n      phases after the fault:"
				for _, p := range benchPhases {
					if v, ok := tr.PhasesMS[p]; ok {
						line += fmt.Sprintf(" %s %+.0f ms,", p, v)
					}
				}
				line = strings.TrimSuffix(line, ",")
			}
			if tr.Error != "" {
				line += "  ERROR: " + tr.Error
			}
			fmt.Fprintln(opts.Progress, line)
		}
	}
	return nil
}

// waitReady waits until one host holds the VIP steadily, the client reads
// through it, and the other DB host is ready to take over.
func (l *Lab) waitReady(ctx context.Context, sys System, c *Client) (string, error) {
	wctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	holder, err := l.WaitStableHolder(wctx, 1500*time.Millisecond)
	if err != nil {
		return "", err
	}
	h := l.Host(holder)
	if h == nil || h.Role != RoleDB {
		return "", fmt.Errorf("VIP on %q, not a DB host", holder)
	}
	switch sys {
	case SystemRaftvip:
		if _, err := l.WaitAllHealthy(wctx); err != nil {
			return "", err
		}
		// A planned switchover is refused while the target does not
		// answer the leader's heartbeats (after a healed isolation).
		if _, err := l.WaitSettled(wctx); err != nil {
			return "", err
		}
	case SystemKeepalived:
		if err := l.WaitKeepalivedState(wctx, l.Other(holder), "BACKUP"); err != nil {
			return "", err
		}
	}
	if _, err := c.WaitGood(wctx, h.ServerID, time.Now()); err != nil {
		return "", err
	}
	// The holder may have changed while we waited for the other host.
	if now, ok := l.monitor.Holder(); !ok || now != holder {
		return "", fmt.Errorf("VIP moved from %s to %v while waiting", holder, l.monitor.Holders())
	}
	return holder, nil
}

func (l *Lab) runTrial(ctx context.Context, sys System, f Fault, n int, c *Client, w *Writer, opts BenchOptions) (tr TrialResult) {
	tr = TrialResult{System: sys, Fault: f, Trial: n}
	holder, err := l.waitReady(ctx, sys, c)
	if err != nil {
		tr.Error = "not ready: " + err.Error()
		return tr
	}
	if opts.Jitter > 0 {
		select {
		case <-ctx.Done():
			tr.Error = ctx.Err().Error()
			return tr
		case <-time.After(rand.N(opts.Jitter)):
		}
		if h, ok := l.monitor.Holder(); !ok || h != holder {
			tr.Error = fmt.Sprintf("VIP moved from %s to %v before the fault", holder, l.monitor.Holders())
			return tr
		}
	}
	tr.Holder = holder
	var epoch uint64 // the holder's epoch, whose failover the history will tell
	if sys == SystemRaftvip {
		if st, err := l.AnyStatus(ctx); err == nil {
			epoch = st.Epoch
		}
	}
	other := l.Other(holder)
	otherID := l.Host(other).ServerID
	t0 := time.Now()
	tr.FaultAt = t0
	connectedFrom := t0
	restore, err := l.injectFault(ctx, sys, f, holder)
	if f == FaultCablePulled {
		restoreCable := restore
		restore = func() error {
			err := restoreCable()
			connectedFrom = time.Now()
			return err
		}
	}
	if err != nil {
		tr.Error = "inject: " + err.Error()
		_ = restore()
		return tr
	}
	var outage Outage // the gap DowntimeMS measures, for the pictures
	haveOutage := false
	if f.movesVIP() {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, werr := c.WaitGood(wctx, otherID, t0)
		cancel()
		if werr != nil {
			tr.Error = "no failover: " + werr.Error()
		} else {
			tr.Recovered = true
			if out, ok := c.Downtime(t0, otherID); ok {
				tr.DowntimeMS = ms(out.Duration)
				outage, haveOutage = out, true
			}
		}
		if f == FaultCablePulled {
			time.Sleep(time.Second) // let the pulled host notice it is alone
		}
	} else {
		select {
		case <-ctx.Done():
		case <-time.After(opts.IsolationHold):
		}
	}
	if err := restore(); err != nil && tr.Error == "" {
		tr.Error = "restore: " + err.Error()
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	newHolder, serr := l.WaitStableHolder(sctx, 2*time.Second)
	cancel()
	if serr != nil && tr.Error == "" {
		tr.Error = "not settled: " + serr.Error()
	}
	end := time.Now()
	tr.NewHolder = newHolder
	if !f.movesVIP() {
		if out, ok := c.LongestOutage(t0, end); ok {
			tr.DowntimeMS = ms(out.Duration)
			tr.Recovered = true
			outage, haveOutage = out, true
		}
	}
	tr.MaxHolders, _, _ = l.monitor.HolderCountsBetween(t0, end)
	tr.MaxHoldersConnected = tr.MaxHolders
	if f == FaultCablePulled {
		tr.MaxHoldersConnected, _, _ = l.monitor.HolderCountsBetween(connectedFrom, end)
	}
	gone, added := l.monitor.MoveAfter(t0, holder, other)
	tr.VIPGoneMS, tr.VIPNewMS = ms(gone), ms(added)
	s := c.SummaryBetween(t0, end)
	tr.ReadsOK, tr.ReadsFailed = s.OK, s.Failed
	if sys == SystemRaftvip && epoch > 0 && f.movesVIP() {
		tr.PhasesMS = l.failoverPhases(ctx, epoch, t0)
	}
	if !opts.noSeries {
		l.recordSeries(ctx, &tr, c, w, t0, end, outage, haveOutage)
	}
	return tr
}

// failoverPhases reads the failover from epoch out of a running agent's
// history and returns each phase's time after the fault at t0, in ms (nil
// when the history has no such failover).
func (l *Lab) failoverPhases(ctx context.Context, epoch uint64, t0 time.Time) map[string]float64 {
	for _, n := range []string{"w", "a", "b"} {
		a := l.Agent(n)
		if a == nil {
			continue
		}
		if p := a.Process(); p == nil || p.Exited() || p.Paused() {
			continue
		}
		out, err := a.Command(ctx, "history", "-json", "-n", "100")
		if err != nil {
			continue
		}
		var events []fsm.Event
		if err := json.Unmarshal([]byte(out), &events); err != nil {
			continue
		}
		for _, f := range fsm.Failovers(events) {
			if f.FromEpoch != epoch {
				continue
			}
			m := map[string]float64{}
			for _, p := range f.Phases {
				m[p.Name] = ms(p.Time.Sub(t0))
			}
			return m
		}
		return nil
	}
	return nil
}

// injectFault injects f on holder (for sys) and returns how to undo it;
// restore is never nil, also when err is not.
func (l *Lab) injectFault(ctx context.Context, sys System, f Fault, holder string) (restore func() error, err error) {
	restore = func() error { return nil }
	switch f {
	case FaultMySQLKilled:
		err = l.KillMySQL(holder)
		restore = func() error { return l.RestartMySQL(ctx, holder) }
	case FaultMySQLHung:
		err = l.HangMySQL(holder)
		restore = func() error { return l.ResumeMySQL(holder) }
	case FaultAgentKilled:
		err = l.KillAgent(holder)
		restore = func() error { return l.RestartAgent(holder) }
	case FaultCablePulled:
		err = l.PullCable(ctx, holder)
		restore = func() error { return l.RestoreCable(ctx, holder) }
	case FaultIsolated:
		err = l.Isolate(ctx, "a", "b")
		restore = func() error { return l.Heal(ctx, "a", "b") }
	case FaultSwitchover:
		switch sys {
		case SystemRaftvip:
			err = l.switchover(ctx, l.Other(holder))
		case SystemKeepalived:
			err = l.StopKeepalivedOn(holder)
			restore = func() error {
				_, err := l.StartKeepalivedOn(ctx, holder, KeepalivedOptions{})
				return err
			}
		}
	default:
		err = fmt.Errorf("unknown fault %q", f)
	}
	return restore, err
}

// switchover asks the witness (a Raft follower while a DB node holds the
// VIP: the cluster forwards the request) to move the VIP to host.
func (l *Lab) switchover(ctx context.Context, host string) error {
	w, err := l.agentOf("w")
	if err != nil {
		return err
	}
	to := l.Host(host).NodeID
	l.note("fault", "planned switchover asked on the witness", "to", to)
	res, err := w.Switchover(ctx, to)
	if err != nil {
		return err
	}
	if res.To != to {
		return fmt.Errorf("switchover moved the VIP to %q, asked for %s (%s)", res.To, to, res.Note)
	}
	return nil
}

// idleUsage samples every agent of sys at once over window.
func (l *Lab) idleUsage(ctx context.Context, sys System, window time.Duration) ([]IdleUsage, error) {
	type group struct {
		u    IdleUsage
		cpu0 time.Duration
	}
	var groups []*group
	holder, _ := l.monitor.Holder()
	switch sys {
	case SystemRaftvip:
		st, _ := l.AnyStatus(ctx)
		for _, n := range []string{"a", "b", "w"} {
			a := l.Agent(n)
			if a == nil || a.Process() == nil {
				continue
			}
			role := "follower"
			if st != nil && st.Leader == a.Host.NodeID {
				role = "leader"
			}
			if n == holder {
				role += ", VIP holder"
			}
			if n == "w" {
				role = "witness"
			}
			groups = append(groups, &group{u: IdleUsage{System: string(sys), Host: a.Host.NodeID, Role: role, Pids: []int{a.Process().Pid()}}})
		}
	case SystemKeepalived:
		for _, h := range l.DBHosts() {
			k := l.Keepalived(h.Name)
			if k == nil || k.Process() == nil {
				continue
			}
			pid := k.Process().Pid()
			// keepalived runs as a parent and a VRRP child: count both.
			pids := append([]int{pid}, descendants(pid)...)
			groups = append(groups, &group{u: IdleUsage{System: string(sys), Host: h.NodeID, Role: k.State(), Pids: pids}})
		}
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("no %s process to measure", sys)
	}
	for _, g := range groups {
		for _, p := range g.u.Pids {
			_, c, err := procUsage(p)
			if err != nil {
				return nil, err
			}
			g.cpu0 += c
		}
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(window):
	}
	el := time.Since(start)
	out := make([]IdleUsage, 0, len(groups))
	for _, g := range groups {
		var cpu1 time.Duration
		for _, p := range g.u.Pids {
			r, c, err := procUsage(p)
			if err != nil {
				return nil, err
			}
			cpu1 += c
			g.u.RSSKiB += r
		}
		g.u.CPUPercent = float64(int((float64(cpu1-g.cpu0)/float64(el)*100)*100+0.5)) / 100
		g.u.WindowS = el.Round(100 * time.Millisecond).Seconds()
		out = append(out, g.u)
	}
	return out, nil
}

func (r *BenchResults) summarize(opts BenchOptions) {
	type key struct {
		s System
		f Fault
	}
	acc := map[key]*FaultSummary{}
	downs := map[key][]time.Duration{}
	phases := map[key]map[string][]time.Duration{}
	for _, tr := range r.Results {
		k := key{tr.System, tr.Fault}
		s := acc[k]
		if s == nil {
			s = &FaultSummary{System: tr.System, Fault: tr.Fault}
			acc[k] = s
		}
		s.Trials++
		if tr.MaxHolders > 1 {
			s.TwoHolderTrials++
		}
		if tr.MaxHoldersConnected > 1 {
			s.TwoHolderConnectedTrials++
		}
		if tr.Recovered {
			s.Recovered++
			downs[k] = append(downs[k], time.Duration(tr.DowntimeMS*float64(time.Millisecond)))
		}
		for name, v := range tr.PhasesMS {
			if phases[k] == nil {
				phases[k] = map[string][]time.Duration{}
			}
			phases[k][name] = append(phases[k][name], time.Duration(v*float64(time.Millisecond)))
		}
	}
	r.Summaries = nil
	for _, f := range opts.Faults {
		for _, sys := range opts.Systems {
			k := key{sys, f}
			s := acc[k]
			if s == nil {
				continue
			}
			d := downs[k]
			s.P50MS, s.P95MS, s.MaxMS = ms(Percentile(d, 0.5)), ms(Percentile(d, 0.95)), ms(maxDuration(d))
			s.PhaseP50MS, s.PhaseTrials = nil, nil
			for name, ds := range phases[k] {
				if s.PhaseP50MS == nil {
					s.PhaseP50MS, s.PhaseTrials = map[string]float64{}, map[string]int{}
				}
				s.PhaseP50MS[name], s.PhaseTrials[name] = ms(Percentile(ds, 0.5)), len(ds)
			}
			r.Summaries = append(r.Summaries, *s)
		}
	}
	r.Ratios = nil
	for _, f := range opts.Faults {
		rv, ok1 := acc[key{SystemRaftvip, f}]
		ka, ok2 := acc[key{SystemKeepalived, f}]
		if !ok1 || !ok2 || rv.Recovered == 0 || ka.Recovered == 0 {
			continue
		}
		ratio := Ratio{Fault: f, RaftvipP50: rv.P50MS, KeepaliveP50: ka.P50MS}
		if ka.P50MS > 0 {
			ratio.Ratio = float64(int(rv.P50MS/ka.P50MS*1000+0.5)) / 1000
		}
		r.Ratios = append(r.Ratios, ratio)
	}
}

// Markdown renders the results as the table docs/bench keeps.
func (r *BenchResults) Markdown() string {
	var b strings.Builder
	b.WriteString("# raftvip vs keepalived: client-visible downtime in the lab\n\n")
	fmt.Fprintf(&b, "Command: `%s`  \nDate: %s  \n", r.Command, r.Date.Format(time.RFC3339))
	keys := make([]string, 0, len(r.Versions))
	for k := range r.Versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s  \n", k, r.Versions[k])
	}
	fmt.Fprintf(&b, "Trials per fault and system: %d\n\n", r.Trials)
	b.WriteString("| fault | system | trials | recovered | p50 | p95 | max | trials with two VIP holders (reachable) | raftvip/keepalived p50 |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	ratio := map[Fault]Ratio{}
	for _, x := range r.Ratios {
		ratio[x.Fault] = x
	}
	for _, s := range r.Summaries {
		rs := ""
		if x, ok := ratio[s.Fault]; ok && s.System == SystemRaftvip && x.Ratio > 0 {
			rs = fmt.Sprintf("%.2f", x.Ratio)
		}
		sys := string(s.System)
		if s.Fault == FaultSwitchover && s.System == SystemKeepalived {
			sys += " (stop MASTER's keepalived)"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %s | %d (%d) | %s |\n", s.Fault, sys, s.Trials, s.Recovered,
			secs(s.P50MS), secs(s.P95MS), secs(s.MaxMS), s.TwoHolderTrials, s.TwoHolderConnectedTrials, rs)
	}
	b.WriteString(r.phaseTable())
	if len(r.Idle) > 0 {
		b.WriteString("\nIdle agents, no faults, measured from /proc/PID over the window (RSS summed over the agent's processes; CPU in % of one core, including reaped children such as keepalived's check scripts):\n\n")
		b.WriteString("| system | host | role | RSS | CPU |\n|---|---|---|---|---|\n")
		for _, u := range r.Idle {
			fmt.Fprintf(&b, "| %s | %s | %s | %.1f MiB | %.2f %% |\n", u.System, u.Host, u.Role, float64(u.RSSKiB)/1024, u.CPUPercent)
		}
	}
	b.WriteString("\nSettings:\n\n")
	skeys := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		skeys = append(skeys, k)
	}
	sort.Strings(skeys)
	for _, k := range skeys {
		fmt.Fprintf(&b, "- %s: %s\n", k, r.Settings[k])
	}
	b.WriteString(`
How to read it:

- Downtime is what the client in namespace c saw: it runs ` + "`SELECT @@server_id`" + ` through
  the VIP on a new connection every 20 ms (300 ms timeout). For faults that move the VIP it is
  the gap from the last answer before the fault to the first answer from the other server;
  for the isolation it is the longest gap between answers from the fault until the lab settled.
- p50/p95 use the nearest-rank method over the trials that recovered.
- Two VIP holders: the netlink monitor saw the VIP on both DB hosts at the same instant
  between the fault and the moment a single holder had been stable for 2 s. In parentheses,
  only instants when both holders were reachable (a holder whose cable is pulled is not).
- The ratio is raftvip p50 / keepalived p50 for the same fault.
- planned-switchover is a move on purpose, before patching a host: for raftvip
  ` + "`raftvip switchover -to OTHER`" + ` asked on the witness (the cluster forwards it to the
  leader). keepalived has no such command; its row is the closest planned move it offers,
  stopping keepalived on the MASTER (it removes the VIP and sends a priority-0 advert, the
  BACKUP takes over after its skew time), restarted afterwards.
`)
	if len(r.Errors) > 0 {
		b.WriteString("\nErrors:\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	failed := 0
	for _, tr := range r.Results {
		if tr.Error != "" {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(&b, "\n%d trial(s) reported an error; see results.json.\n", failed)
	}
	return b.String()
}

// benchPhases are the failover phases the per-phase table shows, in order.
var benchPhases = []string{fsm.PhaseDetected, fsm.PhaseElection, fsm.PhaseFenced, fsm.PhaseReleased, fsm.PhaseLeader,
	fsm.PhaseAcquired, fsm.PhaseAdded, fsm.PhaseGARP, fsm.PhaseWritable}

// phaseTable renders raftvip's per-phase medians: where a failover's time
// goes, so a regression shows which phase it came from.
func (r *BenchResults) phaseTable() string {
	var rows []FaultSummary
	for _, s := range r.Summaries {
		if len(s.PhaseP50MS) > 0 {
			rows = append(rows, s)
		}
	}
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nraftvip failover phases, p50 in ms after the fault, from the agents' history after each trial " +
		"(`raftvip history -json`; in parentheses how many trials recorded the phase when not all did; - none):\n\n")
	b.WriteString("| fault |")
	for _, p := range benchPhases {
		b.WriteString(" " + p + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(benchPhases)) + "\n")
	for _, s := range rows {
		most := 0
		for _, n := range s.PhaseTrials {
			most = max(most, n)
		}
		fmt.Fprintf(&b, "| %s |", s.Fault)
		for _, p := range benchPhases {
			v, ok := s.PhaseP50MS[p]
			switch {
			case !ok:
				b.WriteString(" - |")
			case s.PhaseTrials[p] < most:
				fmt.Fprintf(&b, " %.0f (%d) |", v, s.PhaseTrials[p])
			default:
				fmt.Fprintf(&b, " %.0f |", v)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func secs(msv float64) string { return fmt.Sprintf("%.2f s", msv/1000) }

func (l *Lab) versions(ctx context.Context) map[string]string {
	v := map[string]string{}
	if out, err := run(ctx, "uname", "-sr"); err == nil {
		v["kernel"] = strings.TrimSpace(out)
	}
	if out, err := run(ctx, mustTool("keepalived"), "--version"); err == nil {
		v["keepalived"] = strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	}
	if out, err := run(ctx, mustTool("mariadbd"), "--version"); err == nil {
		v["mariadb"] = strings.TrimSpace(out)
	}
	if l.opts.RaftvipBin != "" {
		if out, err := run(ctx, l.opts.RaftvipBin, "version"); err == nil {
			v["raftvip"] = strings.TrimSpace(out)
		}
	}
	if out, err := run(ctx, "nproc"); err == nil {
		v["cpus"] = strings.TrimSpace(out)
	}
	return v
}

func (l *Lab) benchSettings(opts BenchOptions) map[string]string {
	s := l.opts.Agent.withDefaults()
	return map[string]string{
		"raftvip": fmt.Sprintf("lease %s, mysql check interval %s timeout %s fall %d rise %d, preempt %v, garp %d x %s",
			s.Lease, s.CheckInterval, s.CheckTimeout, s.Fall, s.Rise, s.Preempt, s.GARPCount, s.GARPInterval),
		"keepalived": "as the seed: state BACKUP on both, nopreempt, priority 101/99, advert_int 1, auth PASS, " +
			"vrrp_script interval 2 fall 2 rise 1 (mariadb-admin ping, 1 s timeout), a failing check puts the instance in FAULT",
		"client":         "SELECT @@server_id through the VIP every 20 ms, new connection each time, 300 ms timeout",
		"writer":         benchWriterSetting(opts),
		"isolation hold": opts.IsolationHold.String(),
		"jitter":         "a random wait of up to " + opts.Jitter.String() + " before each fault, so faults hit every phase of the systems' timers",
	}
}
