package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// DataFaults are the faults of the data-safety measurement, in order.
var DataFaults = []Fault{FaultMySQLKilled, FaultMySQLHung, FaultAgentKilled, FaultCablePulled, FaultIsolated, FaultSwitchover}

// ReplMode is how the two servers replicate during a data-safety run.
type ReplMode string

// Replication modes.
const (
	ReplAsync    ReplMode = "async"
	ReplSemiSync ReplMode = "semi-sync"
)

// DataSafetyOptions select and pace the data-safety measurement.
type DataSafetyOptions struct {
	Trials int        // per fault and mode; default 5
	Faults []Fault    // default DataFaults
	Modes  []ReplMode // default async, semi-sync
	// PerRun, when set, gives the trials per mode and fault instead of
	// Trials (0 skips that run); the lab test runs fewer.
	PerRun func(mode ReplMode, f Fault) (trials int)
	// Jitter bounds a random wait before each fault; default 1s, negative
	// disables.
	Jitter time.Duration
	// IsolationHold is how long the DB hosts stay isolated; default 6s.
	IsolationHold time.Duration
	// LabFencing is the baseline without raftvip's data handling: the lab
	// makes the VIP holder writable the moment it holds the VIP (no
	// catch-up, no fencing on release beyond read_only on the others), as
	// a keepalived notify script would.
	LabFencing bool
	// Lag delays each server's SQL thread behind the other (MASTER_DELAY,
	// whole seconds): replicas that lag, where a new holder must catch up.
	Lag time.Duration
	// RecoverTimeout bounds the wait for the first acknowledged write after
	// a fault; default 60s.
	RecoverTimeout time.Duration
	Progress       io.Writer // one line per trial and per check; nil: discard
}

func (o DataSafetyOptions) withDefaults() DataSafetyOptions {
	if o.Trials <= 0 {
		o.Trials = 5
	}
	if len(o.Faults) == 0 {
		o.Faults = DataFaults
	}
	if len(o.Modes) == 0 {
		o.Modes = []ReplMode{ReplAsync, ReplSemiSync}
	}
	if o.Jitter == 0 {
		o.Jitter = time.Second
	}
	if o.IsolationHold <= 0 {
		o.IsolationHold = 6 * time.Second
	}
	if o.RecoverTimeout <= 0 {
		o.RecoverTimeout = time.Minute
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

func (o DataSafetyOptions) trials(mode ReplMode, f Fault) int {
	if o.PerRun != nil {
		return o.PerRun(mode, f)
	}
	return o.Trials
}

// DataTrial is one fault injected while the writer ran.
type DataTrial struct {
	Trial     int       `json:"trial"`
	Holder    string    `json:"holder"`
	NewHolder string    `json:"new_holder"`
	FaultAt   time.Time `json:"fault_at"`
	// FirstWriteMS is from the fault to the end of the first acknowledged
	// write that started after it (on the other server when the fault
	// moves the VIP).
	FirstWriteMS float64 `json:"first_write_ms"`
	MaxHolders   int     `json:"max_holders"`
	// Errant is what the old holder reported it has and the new holder
	// never received (unacknowledged writes stranded by the fault); the
	// bench then keeps them as docs/replication.md describes (START SLAVE
	// on the holder) so the next trial starts with replication running.
	Errant string `json:"errant,omitempty"`
	Error  string `json:"error,omitempty"`

	mark FaultMark
}

// DataRun is every trial of one fault in one replication mode, with the
// check of what the writer's rows and increments became.
type DataRun struct {
	Mode   ReplMode    `json:"mode"`
	Fault  Fault       `json:"fault"`
	Trials []DataTrial `json:"trials"`
	Check  DataCheck   `json:"check"`
}

// DataSafetyResults is what `raftvip-lab data-bench` writes.
type DataSafetyResults struct {
	Command  string            `json:"command"`
	Date     time.Time         `json:"date"`
	Versions map[string]string `json:"versions"`
	Settings map[string]string `json:"settings"`
	Runs     []DataRun         `json:"runs"`
	Errors   []string          `json:"errors,omitempty"`
}

// RunDataSafety starts raftvip, creates the writer's schema and, for each
// mode and fault, runs a writer through the VIP while the fault is injected
// on the holder Trials times, then checks the servers (CheckData). Each run
// has its own sequence numbers and counter row.
func (l *Lab) RunDataSafety(ctx context.Context, opts DataSafetyOptions) (*DataSafetyResults, error) {
	opts = opts.withDefaults()
	res := &DataSafetyResults{Date: time.Now().UTC(), Versions: l.versions(ctx), Settings: l.dataSettings(opts)}
	// Runs are numbered across calls on one lab: each has its own counter
	// row and sequence numbers.
	n := len(opts.Modes) * len(opts.Faults)
	l.mu.Lock()
	base := l.dataRuns
	l.dataRuns += n
	l.mu.Unlock()
	ids := make([]int, n)
	for i := range ids {
		ids[i] = base + i + 1
	}
	if err := l.SetupDataSchema(ctx, ids...); err != nil {
		return res, err
	}
	if err := l.StartRaftvip(ctx); err != nil {
		return res, err
	}
	defer l.StopRaftvip(context.Background())
	if opts.LabFencing {
		res.Settings["fencing"] = "lab fencing (baseline): the lab sets read_only OFF on the VIP holder the moment the monitor sees it, ON on the other, with no catch-up"
	}
	if opts.LabFencing {
		defer l.startLabFencing(ctx)()
	}
	if opts.Lag > 0 {
		if err := l.SetReplicationDelay(ctx, opts.Lag); err != nil {
			return res, err
		}
	}
	k := base
	for _, mode := range opts.Modes {
		if err := l.SetSemiSync(ctx, mode == ReplSemiSync); err != nil {
			return res, err
		}
		for _, f := range opts.Faults {
			k++
			if opts.trials(mode, f) == 0 {
				continue
			}
			run, err := l.dataRun(ctx, mode, f, k, opts)
			if run != nil {
				res.Runs = append(res.Runs, *run)
			}
			if err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s, %s: %v", f, mode, err))
				fmt.Fprintf(opts.Progress, "   %s, %s: stopped early: %v\n", f, mode, err)
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
			}
		}
	}
	if len(res.Runs) == 0 {
		return res, errors.New("data-safety: no run: " + strings.Join(res.Errors, "; "))
	}
	return res, nil
}

func (l *Lab) dataRun(ctx context.Context, mode ReplMode, f Fault, k int, opts DataSafetyOptions) (*DataRun, error) {
	fmt.Fprintf(opts.Progress, "-- %s, %s: %s\n", f, mode, f.HowFor(SystemRaftvip))
	w, err := l.StartWriter(WriterOptions{SeqBase: int64(k) * 1_000_000, MaxWrites: 999_999, CounterID: k})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	run := &DataRun{Mode: mode, Fault: f}
	var faults []FaultMark
	for i := 1; i <= opts.trials(mode, f); i++ {
		if ctx.Err() != nil {
			break
		}
		tr := l.dataTrial(ctx, mode, f, i, w, opts)
		run.Trials = append(run.Trials, tr)
		if !tr.FaultAt.IsZero() {
			faults = append(faults, tr.mark)
		}
		line := fmt.Sprintf("   %-13s %-9s #%-2d %s -> %-5s first write %7.0f ms, max holders %d", f, mode, i, tr.Holder, tr.NewHolder, tr.FirstWriteMS, tr.MaxHolders)
		if tr.Error != "" {
			line += "  ERROR: " + tr.Error
		}
		fmt.Fprintln(opts.Progress, line)
	}
	w.Stop()
	// Everything back before the check: both servers up, both agents
	// healthy, replication running (CheckData waits for catch-up).
	wctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	_, err = l.WaitAllHealthy(wctx)
	cancel()
	label := fmt.Sprintf("%s, %s", f, mode)
	if opts.Lag > 0 {
		label += ", lag " + opts.Lag.String()
	}
	if opts.LabFencing {
		label += ", lab fencing"
	}
	if len(faults) == 0 && ctx.Err() != nil {
		return nil, ctx.Err() // interrupted before any fault: nothing to check
	}
	run.Check = l.CheckData(ctx, label, w, faults)
	run.Check.Errant = distinctErrant(run.Trials)
	if err != nil {
		run.Check.Errors = append(run.Check.Errors, "not all healthy before the check: "+err.Error())
	}
	fmt.Fprintf(opts.Progress, "   check: %s\n", run.Check.String())
	return run, nil
}

// dataReady waits until one DB host holds the VIP steadily, the cluster is
// settled with both DB nodes healthy, replication runs (semi-sync active in
// that mode) and the writer's rows are acknowledged by the holder.
func (l *Lab) dataReady(ctx context.Context, mode ReplMode, w *Writer) (string, error) {
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	holder, err := l.WaitStableHolder(wctx, 1500*time.Millisecond)
	if err != nil {
		return "", err
	}
	h := l.Host(holder)
	if h == nil || h.Role != RoleDB {
		return "", fmt.Errorf("VIP on %q, not a DB host", holder)
	}
	if _, err := l.WaitAllHealthy(wctx); err != nil {
		return "", err
	}
	if _, err := l.WaitSettled(wctx); err != nil {
		return "", err
	}
	if err := l.WaitReplicating(wctx); err != nil {
		return "", err
	}
	if mode == ReplSemiSync {
		if err := l.WaitSemiSync(wctx); err != nil {
			return "", err
		}
	}
	// Two writes in a row on the holder: it is writable now, not just once.
	after := time.Now()
	for range 2 {
		x, err := w.WaitAck(wctx, h.ServerID, after)
		if err != nil {
			return "", fmt.Errorf("holder %s not writable: %w", h.NodeID, err)
		}
		after = x.Start.Add(time.Nanosecond)
	}
	if now, ok := l.monitor.Holder(); !ok || now != holder {
		return "", fmt.Errorf("VIP moved from %s to %v while waiting", holder, l.monitor.Holders())
	}
	return holder, nil
}

func (l *Lab) dataTrial(ctx context.Context, mode ReplMode, f Fault, n int, w *Writer, opts DataSafetyOptions) (tr DataTrial) {
	tr = DataTrial{Trial: n}
	// Replication held since an earlier move (one that came outside a
	// trial's own settling) is settled first, or the trial never gets ready.
	if h, ok := l.monitor.Holder(); ok && l.Host(h) != nil && l.Host(h).Role == RoleDB {
		if errant, err := l.settleErrant(ctx, l.Host(h)); errant != "" || err != nil {
			tr.Errant = errant
			if err != nil {
				tr.Error = "before the fault: " + err.Error()
				return tr
			}
		}
	}
	holder, err := l.dataReady(ctx, mode, w)
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
	tr.Holder = l.Host(holder).NodeID
	other := l.Host(l.Other(holder))
	t0 := time.Now()
	tr.FaultAt = t0
	restore, err := l.injectFault(ctx, SystemRaftvip, f, holder)
	if err != nil {
		tr.Error = "inject: " + err.Error()
		_ = restore()
		return tr
	}
	wantID := other.ServerID
	if !f.movesVIP() {
		wantID = 0
	}
	tr.mark = FaultMark{At: t0, ServerID: wantID}
	wctx, cancel := context.WithTimeout(ctx, opts.RecoverTimeout)
	x, werr := w.WaitAck(wctx, wantID, t0)
	cancel()
	if werr != nil {
		tr.Error = "no write after the fault: " + werr.Error()
	} else {
		tr.FirstWriteMS = ms(x.End.Sub(t0))
	}
	if f == FaultIsolated {
		if d := opts.IsolationHold - time.Since(t0); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
	}
	if f == FaultCablePulled {
		time.Sleep(time.Second) // let the pulled host notice it is alone
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
	if h := l.Host(newHolder); h != nil {
		tr.NewHolder = h.NodeID
		errant, err := l.settleErrant(ctx, h)
		if errant != "" {
			tr.Errant = strings.TrimPrefix(tr.Errant+"; "+errant, "; ")
		}
		if err != nil && tr.Error == "" {
			tr.Error = err.Error()
		}
	}
	tr.MaxHolders, _, _ = l.monitor.HolderCountsBetween(t0, time.Now())
	return tr
}

// settleErrant waits until the holder's replication from the old holder is
// not held (raftvip starts it again when the old holder finds nothing the
// holder lacks), or the old holder reports errant transactions: then it
// does what docs/replication.md calls keeping them, START SLAVE on the
// holder, as an operator would, and returns the report.
func (l *Lab) settleErrant(ctx context.Context, holder *Host) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last string
	for {
		st, err := l.AnyStatus(ctx)
		if err == nil && st.Holder == holder.NodeID {
			hn, _ := st.NodeData(holder.NodeID)
			on, _ := st.NodeData(l.Host(l.Other(holder.Name)).NodeID)
			switch {
			case hn.Data == nil || !hn.Data.ReplicationHeld:
				return "", nil
			case on.Data != nil && on.Data.Errant != "" && on.Data.ErrantEpoch == st.Epoch:
				if _, err := l.MariaDB(holder.Name).SQL(ctx, "START SLAVE"); err != nil {
					return on.Data.Errant, fmt.Errorf("keeping errant transactions (START SLAVE on %s): %w", holder.NodeID, err)
				}
				l.note("restore", "errant transactions kept: START SLAVE on the holder", "holder", holder.NodeID, "errant", on.Data.Errant)
				return on.Data.Errant, nil
			}
			last = fmt.Sprintf("%s holds replication from the old holder, no errant report yet", holder.NodeID)
		} else if err != nil {
			last = err.Error()
		} else {
			last = "holder " + st.Holder
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("replication from the old holder not settled: %s", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// distinctErrant lists the different errant reports of a run's trials (one
// report seen before and after a trial is one report).
func distinctErrant(trials []DataTrial) []string {
	var out []string
	seen := map[string]bool{}
	for _, tr := range trials {
		for _, e := range strings.Split(tr.Errant, "; ") {
			if e != "" && !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// Dedupe re-derives each run's errant list from its trials (results
// written before distinctErrant counted a report once per sighting).
func (r *DataSafetyResults) Dedupe() {
	for i := range r.Runs {
		r.Runs[i].Check.Errant = distinctErrant(r.Runs[i].Trials)
	}
}

func lagText(d time.Duration) string {
	if d <= 0 {
		return "none (replication in the lab applies within milliseconds)"
	}
	return fmt.Sprintf("MASTER_DELAY = %d on both servers: each applies the other's events %s late", int(d.Round(time.Second)/time.Second), d)
}

func (l *Lab) dataSettings(opts DataSafetyOptions) map[string]string {
	s := l.opts.Agent.withDefaults()
	return map[string]string{
		"raftvip": fmt.Sprintf("lease %s, mysql check interval %s timeout %s fall %d rise %d, preempt %v",
			s.Lease, s.CheckInterval, s.CheckTimeout, s.Fall, s.Rise, s.Preempt),
		"writer": "from host c through the VIP as " + WriterUser + " (SELECT, INSERT, UPDATE on " + DataSchema +
			".*, no SUPER or READ ONLY ADMIN): a new connection every 20 ms (at most 16 in flight, 1 s timeout), " +
			"SELECT @@server_id, INSERT a row (seq, @@server_id, NOW(6)), then UPDATE the run's counter row n = n + 1",
		"replication": fmt.Sprintf("both ways, GTID slave_pos, ROW, log_slave_updates; semi-sync: rpl_semi_sync_master_enabled and "+
			"rpl_semi_sync_slave_enabled ON on both, master_timeout %s, wait_point AFTER_SYNC, wait_no_slave OFF", SemiSyncTimeout),
		"isolation hold": opts.IsolationHold.String(),
		"replica lag":    lagText(opts.Lag),
		"jitter":         "a random wait of up to " + opts.Jitter.String() + " before each fault",
	}
}

// Markdown renders the data-safety table docs/bench keeps.
func (r *DataSafetyResults) Markdown() string {
	var b strings.Builder
	b.WriteString("# raftvip: data safety on dual-master replication in the lab\n\n")
	fmt.Fprintf(&b, "Command: `%s`  \nDate: %s  \n", r.Command, r.Date.Format(time.RFC3339))
	for _, k := range sortedKeysString(r.Versions) {
		fmt.Fprintf(&b, "%s: %s  \n", k, r.Versions[k])
	}
	b.WriteString("\n")
	b.WriteString(DataCheckHeader)
	for _, run := range r.Runs {
		b.WriteString(run.Check.MarkdownRow())
	}
	b.WriteString("\nSettings:\n\n")
	for _, k := range sortedKeysString(r.Settings) {
		fmt.Fprintf(&b, "- %s: %s\n", k, r.Settings[k])
	}
	b.WriteString(`
How to read it:

- Each row is one fault injected on the VIP holder "faults" times while the writer ran; the check
  comes after the last trial, once both servers run, both agents are healthy and each server has
  applied all of the other's binlog.
- missing on final holder: rows whose INSERT was acknowledged to the writer but which the server
  holding the VIP at the end does not have.
- counter short: acknowledged increments the lower of the two servers' counters lacks (0: both
  counters are at least the number of acknowledged increments).
- rows on a non-holder: rows whose server (srv = @@server_id, at = NOW(6), both taken by the
  server) did not hold the VIP at that instant by the netlink monitor (100 ms allowed before an
  acquisition for the monitor's own delay); acknowledged or not.
- errant (kept): trials after which the old holder reported transactions of its own that the
  new holder never received (raftvip holds the new holder's replication from it until then);
  the bench keeps them as docs/replication.md describes (START SLAVE on the holder), so they
  are applied late, which can set a counter back (a row-based update carries the old holder's
  value) — the counter and checksum columns then show it.
- replication errors: Last_SQL_Errno / Last_IO_Errno or a stopped thread on either server at the end.
- tables agree: CHECKSUM TABLE of both tables equal on both servers (in brackets: this run's rows
  and counter only).
- fault to first write: from the fault to the first acknowledged INSERT and increment that started
  after it, on the other server when the fault moves the VIP.
`)
	var errs []string
	for _, run := range r.Runs {
		for _, tr := range run.Trials {
			if tr.Error != "" {
				errs = append(errs, fmt.Sprintf("%s, %s #%d: %s", run.Fault, run.Mode, tr.Trial, tr.Error))
			}
		}
	}
	errs = append(errs, r.Errors...)
	if len(errs) > 0 {
		b.WriteString("\nErrors:\n\n")
		for _, e := range errs {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	return b.String()
}

func sortedKeysString(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// startLabFencing is the baseline without raftvip's data handling: the lab
// itself opens whichever host the monitor sees holding the VIP (read_only
// OFF at once, no catch-up) and closes the others, as a keepalived notify
// script would. It returns a stop function.
func (l *Lab) startLabFencing(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	set := func(h *Host, on bool) {
		v := "0"
		if on {
			v = "1"
		}
		sctx, c := context.WithTimeout(ctx, 2*time.Second)
		defer c()
		_, _ = l.MariaDB(h.Name).SQL(sctx, "SET GLOBAL read_only = "+v)
	}
	go func() {
		defer close(done)
		for {
			holders := l.monitor.Holders()
			var wg sync.WaitGroup
			for _, h := range l.DBHosts() {
				holding := len(holders) == 1 && holders[0] == h.Name
				wg.Add(1)
				go func() { defer wg.Done(); set(h, !holding) }()
			}
			wg.Wait()
			// Again at every change, and every 500 ms (a restarted server
			// comes up read-only, a hung one did not take the last order).
			wctx, c := context.WithTimeout(ctx, 500*time.Millisecond)
			_, _ = l.monitor.WaitFor(wctx, func(now []string) bool { return strings.Join(now, ",") != strings.Join(holders, ",") })
			c()
			if ctx.Err() != nil {
				return
			}
		}
	}()
	l.note("start", "lab fencing: read_only OFF on the VIP holder as the monitor sees it (baseline)")
	return func() { cancel(); <-done }
}
