package lab

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// holdTolerance is how much earlier than the monitor saw a host acquire the
// VIP a row may carry that host's clock and still count as written while it
// held the VIP. The monitor stamps an address event when its goroutine
// receives it, a little after the kernel added the address; a write cannot
// reach the new holder through the VIP before the address is there (the
// client needs the gratuitous ARP, a TCP handshake and a MySQL login
// first), so a row older than this margin is a write the holder did not get
// through the VIP.
const holdTolerance = 100 * time.Millisecond

// LabRow is one row of the writer's table as a server has it.
type LabRow struct {
	Seq int64
	Srv int       // @@server_id of the server that executed the INSERT
	At  time.Time // NOW(6) on that server
}

// FaultMark is when a fault was injected and which server should take the
// writes after it (ServerID 0: any, for faults that do not move the VIP).
type FaultMark struct {
	At       time.Time
	ServerID int
}

// NonHolderRow is a row a server executed while, by the VIP monitor, it did
// not hold the VIP.
type NonHolderRow struct {
	LabRow
	Host  string // node id of the server that executed it
	Acked bool   // the writer got an acknowledgement for it
}

// DataCheck is what a writer's run left on the two servers, checked once
// everything is back and replication has caught up (CheckData).
type DataCheck struct {
	Label       string `json:"label"`
	FinalHolder string `json:"final_holder"` // node id
	Attempts    int    `json:"attempts"`
	RowsAcked   int    `json:"rows_acked"`
	// Missing are acknowledged rows the final holder does not have;
	// MissingOther those the other server does not have.
	Missing      []int64 `json:"missing"`
	MissingOther []int64 `json:"missing_other"`
	IncAcked     int     `json:"increments_acked"`
	// Counter is each server's counter (node id -> n); CounterShort the
	// largest number of acknowledged increments a server's counter lacks
	// (0 when every counter is at least IncAcked).
	Counter      map[string]int64 `json:"counter"`
	CounterShort int64            `json:"counter_short"`
	NonHolder    []NonHolderRow   `json:"non_holder_rows"`
	// ReplErrors are the servers' Last_SQL_Errno / Last_IO_Errno and
	// replication threads not running, in words.
	ReplErrors []string `json:"replication_errors"`
	// Checksums are CHECKSUM TABLE of both tables per server; TablesAgree
	// compares them, RunAgrees only this run's rows and counter.
	Checksums   map[string]string `json:"checksums"`
	TablesAgree bool              `json:"tables_agree"`
	RunAgrees   bool              `json:"run_agrees"`
	// FirstWrite is, per fault, the time from the fault to the end of the
	// first acknowledged write that started after it on the server that
	// should take over (FaultMark.ServerID); NoWriteAfter counts
	// faults after which no write was acknowledged at all.
	Faults       int             `json:"faults"`
	FirstWrite   []time.Duration `json:"first_write_ns"`
	NoWriteAfter int             `json:"no_write_after"`
	// Errant are the old holders' distinct reports of transactions the new
	// holder never received (filled in by the data bench, which keeps them:
	// START SLAVE on the holder).
	Errant []string `json:"errant,omitempty"`
	// Errors are what could not be checked (a server not answering).
	Errors []string `json:"errors,omitempty"`
}

// OK reports whether the run met issue 10's targets that hold for every
// fault: no write on a non-holder, no replication error, tables that
// agree, counters not short. Missing rows are judged by the caller: they
// are the target for planned moves and for semi-sync, and the measured
// figure for unplanned faults with asynchronous replication.
func (d *DataCheck) OK() bool {
	return len(d.NonHolder) == 0 && len(d.ReplErrors) == 0 && d.TablesAgree && d.RunAgrees &&
		d.CounterShort == 0 && len(d.Errors) == 0
}

// String is a one-paragraph summary for logs.
func (d *DataCheck) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: final holder %s; %d writes, %d rows acknowledged, %d missing on the final holder%s, %d on the other%s; ",
		d.Label, d.FinalHolder, d.Attempts, d.RowsAcked, len(d.Missing), seqList(d.Missing), len(d.MissingOther), seqList(d.MissingOther))
	nodes := sortedNodes(d.Counter)
	var cs []string
	for _, n := range nodes {
		cs = append(cs, fmt.Sprintf("%s %d", n, d.Counter[n]))
	}
	fmt.Fprintf(&b, "%d increments acknowledged, counter %s (short by %d); ", d.IncAcked, strings.Join(cs, ", "), d.CounterShort)
	fmt.Fprintf(&b, "%d rows on a non-holder", len(d.NonHolder))
	for i, r := range d.NonHolder {
		if i == 5 {
			fmt.Fprintf(&b, " …")
			break
		}
		fmt.Fprintf(&b, " [seq %d on %s at %s acked=%v]", r.Seq, r.Host, r.At.Format(timeFmt), r.Acked)
	}
	if len(d.Errant) > 0 {
		fmt.Fprintf(&b, "; %d errant report(s), kept: %s", len(d.Errant), strings.Join(d.Errant, "; "))
	}
	fmt.Fprintf(&b, "; replication errors %d", len(d.ReplErrors))
	if len(d.ReplErrors) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(d.ReplErrors, "; "))
	}
	fmt.Fprintf(&b, "; tables agree %v, this run's rows agree %v; ", d.TablesAgree, d.RunAgrees)
	fmt.Fprintf(&b, "first write after %d fault(s): %s", d.Faults, d.firstWriteText())
	if d.NoWriteAfter > 0 {
		fmt.Fprintf(&b, ", none after %d", d.NoWriteAfter)
	}
	if len(d.Errors) > 0 {
		fmt.Fprintf(&b, "; NOT CHECKED: %s", strings.Join(d.Errors, "; "))
	}
	return b.String()
}

func (d *DataCheck) firstWriteText() string {
	if len(d.FirstWrite) == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %s, max %s", secs(ms(Percentile(d.FirstWrite, 0.5))), secs(ms(maxDuration(d.FirstWrite))))
}

// DataCheckHeader is the header of the markdown table MarkdownRow fills.
const DataCheckHeader = "| run | faults | rows acked | missing on final holder | increments acked | counter short | rows on a non-holder | errant (kept) | replication errors | tables agree (this run) | fault to first write p50 / max |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|\n"

// MarkdownRow is the run as one row of DataCheckHeader's table.
func (d *DataCheck) MarkdownRow() string {
	agree := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	fw := d.firstWriteText()
	if d.NoWriteAfter > 0 {
		fw += fmt.Sprintf(" (none after %d)", d.NoWriteAfter)
	}
	missing := strconv.Itoa(len(d.Missing))
	if len(d.Errors) > 0 {
		missing += " (not checked: " + strings.Join(d.Errors, "; ") + ")"
	}
	errant := strconv.Itoa(len(d.Errant))
	if len(d.Errant) > 0 {
		errant += " (" + strings.Join(d.Errant, "; ") + ")"
	}
	return fmt.Sprintf("| %s | %d | %d | %s | %d | %d | %d | %s | %d | %s (%s) | %s |\n", d.Label, d.Faults, d.RowsAcked, missing,
		d.IncAcked, d.CounterShort, len(d.NonHolder), errant, len(d.ReplErrors), agree(d.TablesAgree), agree(d.RunAgrees), fw)
}

func seqList(s []int64) string {
	if len(s) == 0 {
		return ""
	}
	var parts []string
	for i, x := range s {
		if i == 8 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, strconv.FormatInt(x, 10))
	}
	return " (seq " + strings.Join(parts, ",") + ")"
}

func sortedNodes(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// serverData is what CheckData read from one server.
type serverData struct {
	Host      *Host
	Rows      map[int64]LabRow // this run's rows
	RunSum    string           // this run's rows and counter, summarized
	Counter   int64
	Checksums string // CHECKSUM TABLE of both tables
	Slave     SlaveStatus
	Err       error // reading failed: nothing above is known
}

// dataInput is everything the analysis needs, gathered by CheckData.
type dataInput struct {
	Label       string
	Writes      []Write
	Faults      []FaultMark
	Intervals   []Interval // the monitor's holding spans, by host short name
	FinalHolder *Host
	Servers     []serverData
	ReplErr     error // WaitReplicating / WaitCaughtUp failed
}

// analyzeData compares the writer's acknowledgements with the servers'
// tables and the VIP timeline; it does no I/O (unit-tested).
func analyzeData(in dataInput) DataCheck {
	d := DataCheck{Label: in.Label, Counter: map[string]int64{}, Checksums: map[string]string{}, Faults: len(in.Faults)}
	if in.FinalHolder != nil {
		d.FinalHolder = in.FinalHolder.NodeID
	} else {
		d.FinalHolder = "none"
		d.Errors = append(d.Errors, "no single VIP holder at the end")
	}
	acked := map[int64]bool{}
	for _, w := range in.Writes {
		d.Attempts++
		if w.RowOK {
			d.RowsAcked++
			acked[w.Seq] = true
		}
		if w.IncOK {
			d.IncAcked++
		}
	}
	ackedSeqs := make([]int64, 0, len(acked))
	for s := range acked {
		ackedSeqs = append(ackedSeqs, s)
	}
	sort.Slice(ackedSeqs, func(i, j int) bool { return ackedSeqs[i] < ackedSeqs[j] })
	if in.ReplErr != nil {
		d.ReplErrors = append(d.ReplErrors, in.ReplErr.Error())
	}
	byServerID := map[int]*Host{}
	for _, s := range in.Servers {
		byServerID[s.Host.ServerID] = s.Host
	}
	seen := map[string]bool{} // seq@host: a row replicated to both is one write
	sums := map[string]bool{}
	runSums := map[string]bool{}
	for _, s := range in.Servers {
		if s.Err != nil {
			d.Errors = append(d.Errors, fmt.Sprintf("%s: %v", s.Host.NodeID, s.Err))
			continue
		}
		var missing []int64
		for _, seq := range ackedSeqs {
			if _, ok := s.Rows[seq]; !ok {
				missing = append(missing, seq)
			}
		}
		if in.FinalHolder != nil && s.Host.Name == in.FinalHolder.Name {
			d.Missing = missing
		} else {
			d.MissingOther = missing
		}
		d.Counter[s.Host.NodeID] = s.Counter
		if short := int64(d.IncAcked) - s.Counter; short > d.CounterShort {
			d.CounterShort = short
		}
		d.Checksums[s.Host.NodeID] = s.Checksums
		sums[s.Checksums] = true
		runSums[s.RunSum] = true
		for _, r := range s.Rows {
			h := byServerID[r.Srv]
			name := fmt.Sprintf("server_id %d", r.Srv)
			if h != nil {
				name = h.NodeID
			}
			key := fmt.Sprintf("%d@%d@%d", r.Seq, r.Srv, r.At.UnixMicro())
			if seen[key] {
				continue
			}
			seen[key] = true
			if h == nil || !heldAt(in.Intervals, h.Name, r.At) {
				d.NonHolder = append(d.NonHolder, NonHolderRow{LabRow: r, Host: name, Acked: acked[r.Seq]})
			}
		}
		for _, e := range replErrors(s.Slave) {
			d.ReplErrors = append(d.ReplErrors, s.Host.NodeID+": "+e)
		}
	}
	sort.Slice(d.NonHolder, func(i, j int) bool { return d.NonHolder[i].Seq < d.NonHolder[j].Seq })
	d.TablesAgree = len(sums) == 1 && len(d.Errors) == 0
	d.RunAgrees = len(runSums) == 1 && len(d.Errors) == 0
	for _, f := range in.Faults {
		first := time.Duration(-1)
		for _, w := range in.Writes {
			if w.RowOK && w.IncOK && !w.Start.Before(f.At) && (f.ServerID == 0 || w.ServerID == f.ServerID) {
				if x := w.End.Sub(f.At); first < 0 || x < first {
					first = x
				}
			}
		}
		if first < 0 {
			d.NoWriteAfter++
		} else {
			d.FirstWrite = append(d.FirstWrite, first)
		}
	}
	return d
}

// heldAt reports whether host held the VIP at t by the monitor's spans
// (with holdTolerance before the start of a span).
func heldAt(ivs []Interval, host string, t time.Time) bool {
	for _, iv := range ivs {
		if iv.Host != host {
			continue
		}
		if t.Before(iv.From.Add(-holdTolerance)) {
			continue
		}
		if iv.To.IsZero() || !t.After(iv.To) {
			return true
		}
	}
	return false
}

// replErrors lists what is wrong with one server's replication: threads not
// running, and the last IO and SQL errors.
func replErrors(st SlaveStatus) []string {
	var out []string
	if len(st) == 0 {
		return []string{"no replication configured"}
	}
	if !st.Running() {
		out = append(out, fmt.Sprintf("Slave_IO_Running=%s Slave_SQL_Running=%s", st["Slave_IO_Running"], st["Slave_SQL_Running"]))
	}
	if n := st["Last_SQL_Errno"]; n != "" && n != "0" {
		out = append(out, fmt.Sprintf("Last_SQL_Errno %s: %s", n, st["Last_SQL_Error"]))
	}
	if n := st["Last_IO_Errno"]; n != "" && n != "0" {
		out = append(out, fmt.Sprintf("Last_IO_Errno %s: %s", n, st["Last_IO_Error"]))
	}
	return out
}

// SeqRange is the range of sequence numbers the writer uses: (from, to].
func (w *Writer) SeqRange() (from, to int64) {
	return w.opts.SeqBase, w.opts.SeqBase + int64(w.opts.MaxWrites)
}

// CheckData verifies what writer w's run left behind: it waits until
// replication runs both ways and each server has applied all of the
// other's binlog (so stop w first), then reads both servers. faults say
// when the faults were injected (for the time to the first write).
func (l *Lab) CheckData(ctx context.Context, label string, w *Writer, faults []FaultMark) DataCheck {
	in := dataInput{Label: label, Writes: w.Writes(), Faults: faults}
	if err := l.waitReplicatingUnlessBroken(ctx); err != nil {
		in.ReplErr = err
	} else if broken := l.sqlThreadStopped(ctx); !broken {
		if err := l.WaitCaughtUp(ctx); err != nil {
			in.ReplErr = err
		}
	}
	in.Intervals = l.monitor.Intervals()
	if h, ok := l.monitor.Holder(); ok {
		in.FinalHolder = l.Host(h)
	}
	from, to := w.SeqRange()
	for _, h := range l.DBHosts() {
		in.Servers = append(in.Servers, readServerData(ctx, l.MariaDB(h.Name), from, to, w.opts.CounterID))
	}
	d := analyzeData(in)
	l.log.Info("data check", "result", d.String())
	return d
}

func readServerData(ctx context.Context, m *MariaDB, from, to int64, counterID int) serverData {
	s := serverData{Host: m.Host, Rows: map[int64]LabRow{}}
	// UNIX_TIMESTAMP keeps the microseconds and is independent of the
	// server's time zone.
	out, err := m.SQL(ctx, fmt.Sprintf("SELECT seq, srv, UNIX_TIMESTAMP(at) FROM %s WHERE seq > %d AND seq <= %d", RowsTable, from, to))
	if err != nil {
		s.Err = err
		return s
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		r, err := parseLabRow(line)
		if err != nil {
			s.Err = fmt.Errorf("%s: %w", RowsTable, err)
			return s
		}
		s.Rows[r.Seq] = r
	}
	out, err = m.SQL(ctx, fmt.Sprintf("SELECT n FROM %s WHERE id = %d", CounterTbl, counterID))
	if err != nil {
		s.Err = err
		return s
	}
	if s.Counter, err = strconv.ParseInt(strings.TrimSpace(out), 10, 64); err != nil {
		s.Err = fmt.Errorf("%s id %d: %q: %w", CounterTbl, counterID, strings.TrimSpace(out), err)
		return s
	}
	out, err = m.SQL(ctx, fmt.Sprintf("SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS(',', seq, srv, at))), 0) FROM %s WHERE seq > %d AND seq <= %d", RowsTable, from, to))
	if err != nil {
		s.Err = err
		return s
	}
	s.RunSum = fmt.Sprintf("rows %s counter %d", strings.Join(strings.Fields(out), " crc "), s.Counter)
	out, err = m.SQL(ctx, "CHECKSUM TABLE "+RowsTable+", "+CounterTbl)
	if err != nil {
		s.Err = err
		return s
	}
	s.Checksums = strings.Join(strings.Fields(out), " ")
	if s.Slave, err = m.SlaveStatus(ctx); err != nil {
		s.Err = err
	}
	return s
}

func parseLabRow(line string) (LabRow, error) {
	f := strings.Split(line, "\t")
	if len(f) != 3 {
		return LabRow{}, fmt.Errorf("row %q: want seq, srv, at", line)
	}
	seq, err1 := strconv.ParseInt(f[0], 10, 64)
	srv, err2 := strconv.Atoi(f[1])
	ts, err3 := strconv.ParseFloat(f[2], 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return LabRow{}, fmt.Errorf("row %q: %w", line, err)
	}
	sec, frac := math.Modf(ts)
	return LabRow{Seq: seq, Srv: srv, At: time.Unix(int64(sec), int64(math.Round(frac*1e6))*1000)}, nil
}

// waitReplicatingUnlessBroken is WaitReplicating that gives up at once when
// a server's SQL thread stopped on an error: that does not heal by itself
// (an IO thread that cannot connect retries every second, so it is waited
// for). The error is then reported by the servers' status.
func (l *Lab) waitReplicatingUnlessBroken(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, replicationTimeout)
	defer cancel()
	for {
		running := 0
		var why []string
		for _, h := range l.DBHosts() {
			st, err := l.MariaDB(h.Name).SlaveStatus(ctx)
			if err != nil {
				why = append(why, err.Error())
				continue
			}
			if !st.Running() {
				why = append(why, h.NodeID+": "+strings.Join(replErrors(st), ", "))
			}
			if st["Slave_SQL_Running"] == "No" && st["Last_SQL_Errno"] != "" && st["Last_SQL_Errno"] != "0" {
				return nil
			}
			if st.Running() {
				running++
			}
		}
		if running == 2 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replication not running both ways after %s: %s", replicationTimeout, strings.Join(why, "; "))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// sqlThreadStopped reports whether a server's SQL thread stopped on an
// error (then waiting for catch-up is pointless).
func (l *Lab) sqlThreadStopped(ctx context.Context) bool {
	for _, h := range l.DBHosts() {
		if st, err := l.MariaDB(h.Name).SlaveStatus(ctx); err == nil && st["Slave_SQL_Running"] == "No" {
			return true
		}
	}
	return false
}

// WaitCaughtUp waits (at most replicationTimeout) until each server has
// read and applied everything in the other's binlog: its SQL thread's
// executed position equals the other's SHOW MASTER STATUS. Use it once the
// writers are stopped.
func (l *Lab) WaitCaughtUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, replicationTimeout)
	defer cancel()
	for _, h := range l.DBHosts() {
		m, peer := l.MariaDB(h.Name), l.MariaDB(l.Other(h.Name))
		for {
			why, err := caughtUp(ctx, m, peer)
			if err == nil && why == "" {
				break
			}
			if err != nil {
				why = err.Error()
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("mariadb %s: not caught up with %s after %s: %s", h.NodeID, peer.Host.NodeID, replicationTimeout, why)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// caughtUp returns "" when m has executed all of peer's binlog, else why not.
func caughtUp(ctx context.Context, m, peer *MariaDB) (string, error) {
	out, err := peer.SQL(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return "", err
	}
	f := strings.Fields(out)
	if len(f) < 2 {
		return "", fmt.Errorf("%s: SHOW MASTER STATUS: %q", peer.Host.NodeID, out)
	}
	st, err := m.SlaveStatus(ctx)
	if err != nil {
		return "", err
	}
	if st["Relay_Master_Log_File"] != f[0] || st["Exec_Master_Log_Pos"] != f[1] {
		return fmt.Sprintf("executed %s:%s, %s is at %s:%s", st["Relay_Master_Log_File"], st["Exec_Master_Log_Pos"], peer.Host.NodeID, f[0], f[1]), nil
	}
	return "", nil
}
