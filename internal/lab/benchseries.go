package lab

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
)

// The failover bench's pictures (svgplot.go) need each trial's reads,
// writes and VIP holders over time; this file records them. The bench
// keeps one trial per fault and system, the median one.

// Recording window around a fault: the picture shows -1 s to +6 s (more
// for a longer downtime, whose trial settles later); a trial that settles
// sooner waits until seriesPost, and the writer's 1 s timeout after it,
// before it is recorded: the run's only added cost.
const (
	seriesPre  = 2 * time.Second
	seriesPost = 6 * time.Second
)

// benchWriteNote says in the pictures and settings how the bench's writes
// are made; raftvipWritableNote and keepalivedWritableNote who makes the
// holder writable.
const (
	benchWriteNote = "a probe INSERT every %s (1 s timeout), rolled back: it fails where read_only refuses it " +
		"and leaves no transaction behind"
	raftvipWritableNote    = "sets read_only itself (OFF on the new holder once it has applied what it received)"
	keepalivedWritableNote = "the lab sets read_only OFF on each host holding the VIP and ON on the others, as " +
		"notify_master / notify_backup scripts would"
)

// startBenchWriter starts the bench's probe writer for sys (nil when
// opts.WriteInterval is negative). keepalived does not touch read_only, so
// for it the lab plays the notify scripts a site would have.
func (l *Lab) startBenchWriter(ctx context.Context, sys System, opts BenchOptions) (w *Writer, stop func(), err error) {
	if opts.WriteInterval < 0 {
		return nil, func() {}, nil
	}
	stopNotify := func() {}
	if sys == SystemKeepalived {
		stopNotify = l.startNotifyWritable(ctx)
	}
	// Enough slots for a whole timeout's worth of writes: with fewer, the
	// writes stuck on a dead holder would hold back the next ones and
	// leave gaps in the picture that no fault made.
	slots := int(time.Second/opts.WriteInterval) + 8
	w, err = l.StartWriter(WriterOptions{Interval: opts.WriteInterval, Probe: true, Concurrency: slots, MaxWrites: 1 << 30, MaxDuration: 24 * time.Hour})
	if err != nil {
		stopNotify()
		return nil, func() {}, err
	}
	return w, func() { w.Stop(); stopNotify() }, nil
}

// startNotifyWritable sets read_only OFF on every DB host the monitor sees
// holding the VIP and ON on the others (two holders: both writable, as two
// notify_master scripts would leave them), at every change and every 2 s
// (a restarted server comes up read-only). Each host has its own loop, so
// a hung server delays only itself.
func (l *Lab) startNotifyWritable(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, h := range l.DBHosts() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			set, last := "", time.Time{}
			for {
				holds := false
				for _, x := range l.monitor.Holders() {
					holds = holds || x == h.Name
				}
				want := "1"
				if holds {
					want = "0"
				}
				if want != set || time.Since(last) >= 2*time.Second {
					sctx, c := context.WithTimeout(ctx, 2*time.Second)
					if _, err := l.MariaDB(h.Name).SQL(sctx, "SET GLOBAL read_only = "+want); err == nil {
						set = want
					} else {
						set = ""
					}
					c()
					last = time.Now()
				}
				wctx, c := context.WithTimeout(ctx, 500*time.Millisecond)
				_, _ = l.monitor.WaitFor(wctx, func(now []string) bool {
					in := false
					for _, x := range now {
						in = in || x == h.Name
					}
					return in != holds
				})
				c()
				if ctx.Err() != nil {
					return
				}
			}
		}()
	}
	l.note("start", "notify scripts played by the lab: read_only OFF on the VIP holders, ON on the others")
	return func() { cancel(); wg.Wait() }
}

// recordSeries keeps what the client, the writer and the monitor saw from
// seriesPre before the fault at t0 to the later of end and seriesPost
// after it (waiting for that, and for the requests in flight then).
func (l *Lab) recordSeries(ctx context.Context, tr *TrialResult, c *Client, w *Writer, t0, end time.Time, out Outage, haveOut bool) {
	until := t0.Add(seriesPost)
	if end.After(until) {
		until = end
	}
	// Requests sent before until have ended by then plus their timeout.
	wait := time.Until(until.Add(time.Second))
	if wait > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	rel := func(t time.Time) float64 { return math.Round(float64(t.Sub(t0))/1e5) / 10 }
	from := t0.Add(-seriesPre)
	s := &FailoverSeries{
		System: tr.System, Fault: tr.Fault, Trial: tr.Trial,
		DowntimeMS: tr.DowntimeMS, Recovered: tr.Recovered, MaxHolders: tr.MaxHolders,
		FromMS: rel(from), ToMS: rel(until),
	}
	if haveOut && !out.LastGood.End.IsZero() {
		s.OutageFromMS, s.OutageToMS = rel(out.LastGood.End), rel(out.FirstGood.End)
	}
	for _, h := range l.DBHosts() {
		s.Hosts = append(s.Hosts, SeriesHost{Name: h.Name, Label: h.NodeID, ServerID: h.ServerID})
	}
	for _, iv := range l.monitor.Intervals() {
		to := iv.To
		if to.IsZero() || to.After(until) {
			to = until
		}
		if !to.After(from) || iv.From.After(until) {
			continue
		}
		f := iv.From
		if f.Before(from) {
			f = from
		}
		s.VIP = append(s.VIP, HeldSpan{Host: iv.Host, FromMS: rel(f), ToMS: rel(to)})
	}
	in := func(st, e time.Time) bool { return !e.Before(from) && !st.After(until) }
	for _, r := range c.Reads() {
		if in(r.Start, r.End) {
			s.Reads = append(s.Reads, Mark{SentMS: rel(r.Start), AtMS: rel(r.End), OK: r.OK, ServerID: r.ServerID, Err: r.Err})
		}
	}
	if w != nil {
		s.WritesNote, s.WritableNote = fmt.Sprintf(benchWriteNote, w.opts.Interval), raftvipWritableNote
		if tr.System == SystemKeepalived {
			s.WritableNote = keepalivedWritableNote
		}
		for _, x := range w.Writes() {
			if in(x.Start, x.End) {
				m := Mark{SentMS: rel(x.Start), AtMS: rel(x.End), OK: x.RowOK, Err: x.Err}
				if x.RowOK {
					m.ServerID = x.ServerID
				}
				s.Writes = append(s.Writes, m)
			}
		}
	}
	tr.series = s
}

// pickFailovers keeps, per fault and system, the series of the trial with
// the median downtime among those that recovered (the lower median of an
// even count; any recorded trial when none recovered).
func (r *BenchResults) pickFailovers(opts BenchOptions) []FailoverSeries {
	var out []FailoverSeries
	for _, f := range opts.Faults {
		for _, sys := range opts.Systems {
			var rec, all []*TrialResult
			n := 0
			for i := range r.Results {
				tr := &r.Results[i]
				if tr.System != sys || tr.Fault != f {
					continue
				}
				n++
				if tr.series == nil {
					continue
				}
				all = append(all, tr)
				if tr.Recovered {
					rec = append(rec, tr)
				}
			}
			pick, choice := rec, "median downtime"
			if len(pick) == 0 {
				pick, choice = all, "no trial recovered"
			}
			if len(pick) == 0 {
				continue
			}
			sort.SliceStable(pick, func(i, j int) bool { return pick[i].DowntimeMS < pick[j].DowntimeMS })
			s := *pick[(len(pick)-1)/2].series
			s.Of, s.Choice = n, choice
			if len(rec) == 1 && n > 1 {
				s.Choice = "the only trial that recovered"
			}
			out = append(out, s)
		}
	}
	return out
}

func benchWriterSetting(opts BenchOptions) string {
	if opts.WriteInterval < 0 {
		return "none"
	}
	return "beside the client, for the pictures only (failover-*.svg): " + fmt.Sprintf(benchWriteNote, opts.WriteInterval) +
		"; raftvip " + raftvipWritableNote + "; for keepalived " + keepalivedWritableNote
}
