package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/raftvip/raftvip/internal/lab"
)

// The demo's data half (issue 10): one row through the VIP before the
// MySQL kill, the same row from the new holder after it, the new holder
// writable and the recovered server read-only and replicating. Every line
// reports what the servers answered; where raftvip promises something and
// the answer differs, the line says UNEXPECTED (and the demo fails at the
// end). In keepalived mode the same steps run against the seed's setup:
// no read_only, so both servers take writes.

// demoData is what the data steps saw, for the summary.
type demoData struct {
	beforeKill    int64 // seq written before the kill
	afterFailover int64 // seq written on the new holder after the failover
	rowServed     string
	firstWrite    string
	oldBack       string
	unexpected    []string
}

func (d *demo) unexpected(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	d.data.unexpected = append(d.data.unexpected, msg)
	d.n.say("UNEXPECTED: %s", msg)
}

// setupData creates the application's schema and user; with keepalived it
// also makes both servers writable, as the seed's my.cnf (no read_only) has
// them.
func (d *demo) setupData(ctx context.Context) error {
	l, n := d.lab, d.n
	if err := l.SetupDataSchema(ctx); err != nil {
		return err
	}
	n.say("the application's table %s and user %s (SELECT, INSERT, UPDATE on %s.* only: no SUPER, no READ ONLY ADMIN, so read_only stops it) made on hosta; replication brought both to hostb",
		lab.RowsTable, lab.WriterUser, lab.DataSchema)
	if d.system == lab.SystemKeepalived {
		for _, h := range l.DBHosts() {
			if _, err := l.MariaDB(h.Name).SQL(ctx, "SET GLOBAL read_only = OFF"); err != nil {
				return err
			}
		}
		n.say("keepalived never touches read_only, and the seed's my.cnf has none: both servers made writable (SET GLOBAL read_only = OFF)")
	}
	return nil
}

// writeBeforeKill writes row seq through the VIP and shows who
// acknowledged it and that the other server applied it.
func (d *demo) writeBeforeKill(ctx context.Context, holder string, seq int64) error {
	l, n := d.lab, d.n
	other := l.Other(holder)
	var id int
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		id, err = l.AppWriteRow(ctx, lab.VIPAddr(), seq)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		if d.system == lab.SystemRaftvip {
			d.unexpected("INSERT of row %d through the VIP failed: %v", seq, err)
		} else {
			n.say("INSERT of row %d through the VIP failed: %v", seq, err)
		}
		return nil
	}
	d.data.beforeKill = seq
	n.say("application (%s, through the VIP %s): INSERT row %d acknowledged by server_id %d (%s)", lab.WriterUser, lab.VIP, seq, id, hostOfServer(l, id))
	if id != l.Host(holder).ServerID {
		d.unexpected("row %d acknowledged by server_id %d, not the VIP holder %s", seq, id, l.Host(holder).NodeID)
	}
	m := l.MariaDB(other)
	t0 := time.Now()
	for {
		got, err := m.RowsPresent(ctx, []int64{seq})
		if err == nil && len(got) == 1 {
			pos, _ := m.SQL(ctx, "SELECT @@gtid_slave_pos")
			n.say("%s applied row %d by replication within %s (its gtid_slave_pos %s)", l.Host(other).NodeID, seq, time.Since(t0).Round(time.Millisecond), strings.TrimSpace(pos))
			return nil
		}
		if time.Since(t0) > 5*time.Second || ctx.Err() != nil {
			n.say("%s has not applied row %d after 5 s (%v): asynchronous replication, it may be lost in the kill", l.Host(other).NodeID, seq, err)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// afterFailover reads the row written before the kill through the VIP
// from the new holder, then writes a new row there.
func (d *demo) afterFailover(ctx context.Context, t0 time.Time, from, to string, seq int64) {
	l, n := d.lab, d.n
	toID := l.Host(to).ServerID
	if d.data.beforeKill != 0 {
		q := fmt.Sprintf("SELECT seq, srv FROM %s WHERE seq = %d", lab.RowsTable, d.data.beforeKill)
		var id int
		var row []string
		var err error
		deadline := time.Now().Add(10 * time.Second)
		for {
			id, row, err = l.AppQuery(ctx, lab.VIPAddr(), q)
			if (err == nil && id == toID) || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		switch {
		case err != nil || id != toID:
			d.unexpected("reading row %d through the VIP from %s: server_id %d, %v", d.data.beforeKill, l.Host(to).NodeID, id, err)
		case row == nil:
			d.data.rowServed = "MISSING"
			d.unexpected("row %d, acknowledged before the kill, is not on %s (server_id %d)", d.data.beforeKill, l.Host(to).NodeID, id)
		default:
			d.data.rowServed = "yes"
			n.say("application, through the VIP: %s answered by server_id %d (%s): row %s, written on server_id %s before the kill", q, id, l.Host(to).NodeID, row[0], row[1])
		}
	}
	refused := 0
	var lastErr error
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		id, err := l.AppWriteRow(ctx, lab.VIPAddr(), seq)
		if err == nil && id == toID {
			d.data.afterFailover = seq
			d.data.firstWrite = fmt.Sprintf("%.3f s", time.Since(t0).Seconds())
			why := ""
			if refused > 0 {
				why = fmt.Sprintf("; %d earlier attempts refused (read-only while it caught up)", refused)
			}
			n.say("application, through the VIP: INSERT row %d acknowledged by server_id %d (%s), %s after the kill%s: %s is writable",
				seq, id, l.Host(to).NodeID, d.data.firstWrite, why, l.Host(to).NodeID)
			if d.system == lab.SystemRaftvip {
				n.say("(%s's server is down; it comes back read-only, next step)", l.Host(from).NodeID)
			}
			return
		}
		if lab.IsReadOnly(err) {
			refused++
		}
		if err == nil {
			err = fmt.Errorf("acknowledged by server_id %d", id)
			// A row on the wrong server: do not write it again.
			lastErr = err
			break
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	d.data.firstWrite = "none"
	d.unexpected("no write through the VIP acknowledged by %s after the failover: %v", l.Host(to).NodeID, lastErr)
}

// oldHolderBack shows the recovered server read-only on its own address
// and replicating from the new holder: the row written there after the
// failover arrives. With keepalived it is made writable again first, as
// the seed's my.cnf would leave it, and the application's write on its own
// address lands beside the VIP holder's.
func (d *demo) oldHolderBack(ctx context.Context, old, holder string, seq int64) {
	l, n := d.lab, d.n
	m := l.MariaDB(old)
	addr := l.ServerAddr(old)
	name := l.Host(old).NodeID
	if d.system == lab.SystemKeepalived {
		if _, err := m.SQL(ctx, "SET GLOBAL read_only = OFF"); err != nil {
			n.say("SET GLOBAL read_only = OFF on %s: %v", name, err)
		} else {
			n.say("(the seed's my.cnf has no read_only: %s comes back writable, here by SET GLOBAL read_only = OFF)", name)
		}
	}
	_, row, err := l.AppQuery(ctx, addr, "SELECT @@read_only")
	ro := "?"
	if err == nil && len(row) == 1 {
		ro = row[0]
	}
	n.say("application on %s's own address %s: SELECT @@read_only = %s%s", name, addr, ro, errSuffix(err))
	_, werr := l.AppWriteRow(ctx, addr, seq)
	switch {
	case lab.IsReadOnly(werr):
		n.say("application on %s's own address: INSERT refused: %v", name, werr)
	case werr == nil:
		n.say("application on %s's own address: INSERT row %d ACCEPTED while %s holds the VIP: two writable servers", name, seq, l.Host(holder).NodeID)
	default:
		n.say("application on %s's own address: INSERT failed: %v", name, werr)
	}
	readOnly := ro == "1" && lab.IsReadOnly(werr)
	if d.system == lab.SystemRaftvip && !readOnly {
		d.unexpected("%s is not read-only on its own address (read_only %s, write: %v)", name, ro, werr)
	}

	var st lab.SlaveStatus
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err = m.SlaveStatus(ctx)
		if (err == nil && st.Running()) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	n.say("SHOW SLAVE STATUS on %s: Master_Host %s, Slave_IO_Running %s, Slave_SQL_Running %s, Seconds_Behind_Master %s%s",
		name, st["Master_Host"], st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Seconds_Behind_Master"], errSuffix(err))
	replicating := err == nil && st.Running()
	arrived := false
	if d.data.afterFailover != 0 {
		t0 := time.Now()
		for {
			got, err := m.RowsPresent(ctx, []int64{d.data.afterFailover})
			if err == nil && len(got) == 1 {
				arrived = true
				n.say("row %d, written on %s after the failover, is on %s (replicated from %s)", d.data.afterFailover, l.Host(holder).NodeID, name, l.Host(holder).NodeID)
				break
			}
			if time.Since(t0) > 10*time.Second || ctx.Err() != nil {
				n.say("row %d, written on %s after the failover, has not reached %s after 10 s (%v)", d.data.afterFailover, l.Host(holder).NodeID, name, err)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if d.system == lab.SystemRaftvip && (!replicating || !arrived) {
		d.unexpected("%s is not replicating from %s (threads running %v, row %d arrived %v)", name, l.Host(holder).NodeID, replicating, d.data.afterFailover, arrived)
	}
	ros := "writable"
	if readOnly {
		ros = "read-only"
	}
	rep := "not replicating"
	if replicating && arrived {
		rep = "replicating"
	}
	d.data.oldBack = ros + ", " + rep
}

// showDataStatus waits (a few seconds at most) until status tells the
// whole story — the new holder writable, the recovered server read-only
// with both threads running, the new holder's replication from it no
// longer held — and prints its replication lines and recent epochs.
func (d *demo) showDataStatus(ctx context.Context, old, holder string) {
	l, n := d.lab, d.n
	a := l.Agent(holder)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st, err := a.Status(ctx)
		if err == nil && storyTold(st, l.Host(old).NodeID, l.Host(holder).NodeID) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	txt, err := a.StatusText(ctx, false)
	if err != nil {
		n.say("raftvip status failed: %v", err)
		return
	}
	n.say("`raftvip status` on %s, replication and recent epochs:", l.Host(holder).NodeID)
	n.block(statusSections(txt, "VIP:", "replication:", "recent epochs:"))
}

func storyTold(st *lab.Status, old, holder string) bool {
	h, ok1 := st.NodeData(holder)
	o, ok2 := st.NodeData(old)
	if !ok1 || !ok2 || h.Data == nil || o.Data == nil || o.Replication == nil || h.Replication == nil {
		return false
	}
	r := o.Replication
	return h.Data.Mode == "writable" && !h.Data.ReplicationHeld && h.Replication.SQLRunning &&
		o.Data.Mode == "read-only" && r.IORunning == "Yes" && r.SQLRunning && r.ReadOnly != nil && *r.ReadOnly
}

// statusSections keeps the lines of `raftvip status` that start with one
// of the heads, and the sections (up to a blank line) that a head opens.
func statusSections(txt string, heads ...string) string {
	var out []string
	in := false
	for _, line := range strings.Split(strings.TrimRight(txt, "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			if in {
				out = append(out, "")
			}
			in = false
			continue
		}
		for _, h := range heads {
			if strings.HasPrefix(line, h) {
				if strings.HasSuffix(h, ":") && strings.TrimSpace(line) == h {
					in = true
				} else {
					out = append(out, line)
				}
			}
		}
		if in {
			out = append(out, line)
		}
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n")
}

func hostOfServer(l *lab.Lab, id int) string {
	for _, h := range l.DBHosts() {
		if h.ServerID == id {
			return h.NodeID
		}
	}
	return "?"
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
