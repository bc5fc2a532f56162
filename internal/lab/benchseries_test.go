package lab

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPickFailovers(t *testing.T) {
	mk := func(sys System, f Fault, n int, down float64, rec bool, series bool) TrialResult {
		tr := TrialResult{System: sys, Fault: f, Trial: n, DowntimeMS: down, Recovered: rec}
		if series {
			tr.series = &FailoverSeries{System: sys, Fault: f, Trial: n, DowntimeMS: down}
		}
		return tr
	}
	r := &BenchResults{Results: []TrialResult{
		mk(SystemRaftvip, FaultMySQLKilled, 1, 90, true, true),
		mk(SystemRaftvip, FaultMySQLKilled, 2, 60, true, true),
		mk(SystemRaftvip, FaultMySQLKilled, 3, 0, false, true), // not recovered: left out
		mk(SystemRaftvip, FaultMySQLKilled, 4, 80, true, true),
		mk(SystemRaftvip, FaultMySQLKilled, 5, 70, true, true),
		mk(SystemKeepalived, FaultMySQLKilled, 1, 3800, true, false), // no series (not ready)
		mk(SystemKeepalived, FaultMySQLKilled, 2, 3500, true, true),
		mk(SystemKeepalived, FaultMySQLKilled, 3, 0, false, true),
		mk(SystemKeepalived, FaultCablePulled, 1, 0, false, true),
		mk(SystemKeepalived, FaultCablePulled, 2, 0, false, true),
	}}
	got := r.pickFailovers(BenchOptions{Systems: []System{SystemKeepalived, SystemRaftvip}, Faults: []Fault{FaultMySQLKilled, FaultCablePulled}})
	want := []struct {
		sys    System
		f      Fault
		trial  int
		of     int
		choice string
	}{
		{SystemKeepalived, FaultMySQLKilled, 2, 3, "the only trial that recovered"},
		{SystemRaftvip, FaultMySQLKilled, 5, 5, "median downtime"}, // 60 70 80 90: the lower median
		{SystemKeepalived, FaultCablePulled, 1, 2, "no trial recovered"},
	}
	if len(got) != len(want) {
		t.Fatalf("picked %d series, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.System != w.sys || g.Fault != w.f || g.Trial != w.trial || g.Of != w.of || g.Choice != w.choice {
			t.Errorf("#%d: %s/%s trial %d of %d (%s), want %s/%s trial %d of %d (%s)", i,
				g.System, g.Fault, g.Trial, g.Of, g.Choice, w.sys, w.f, w.trial, w.of, w.choice)
		}
	}
}

// TestProbeWriterAndNotifyWritable runs the bench's writer on a lab without
// an agent: the lab's notify scripts make the VIP holder writable and the
// other read-only as the VIP moves by hand; the probe writes are accepted
// by the holder only, refused by a read-only server, and leave no
// transaction in either binlog.
func TestProbeWriterAndNotifyWritable(t *testing.T) {
	requireLab(t)
	l := newTestLab(t, Options{})
	ctx := within(t, 3*time.Minute)
	a, b := l.MariaDB("a"), l.MariaDB("b")
	if err := l.SetupDataSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitReplicating(ctx); err != nil {
		t.Fatal(err)
	}
	gtid := func() string {
		return strings.TrimSpace(mustSQL(ctx, t, a, "SELECT @@gtid_binlog_pos")) + " / " + strings.TrimSpace(mustSQL(ctx, t, b, "SELECT @@gtid_binlog_pos"))
	}
	readOnly := func(m *MariaDB) string { return strings.TrimSpace(mustSQL(ctx, t, m, "SELECT @@read_only")) }
	stop := l.startNotifyWritable(ctx)
	defer stop()
	if err := l.AddVIP(ctx, "a", 0); err != nil {
		t.Fatal(err)
	}
	if err := l.SendGARP("a"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "hosta writable, hostb read-only", func() error {
		if ra, rb := readOnly(a), readOnly(b); ra != "0" || rb != "1" {
			return fmt.Errorf("read_only hosta %s, hostb %s", ra, rb)
		}
		return nil
	})
	before := gtid()
	w, err := l.StartWriter(WriterOptions{Probe: true, Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	eventually(t, 10*time.Second, "probe writes accepted by hosta", func() error {
		n := 0
		for _, x := range w.Writes() {
			if x.IncOK {
				return fmt.Errorf("a probe write incremented the counter: %+v", x)
			}
			if x.RowOK && x.ServerID == 1 {
				n++
			}
		}
		if n < 10 {
			return fmt.Errorf("%d accepted", n)
		}
		return nil
	})
	// Moved by hand: the lab's scripts turn hosta read-only, hostb writable.
	if err := l.RemoveVIP(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := l.AddVIP(ctx, "b", 0); err != nil {
		t.Fatal(err)
	}
	if err := l.SendGARP("b"); err != nil {
		t.Fatal(err)
	}
	tMove := time.Now()
	eventually(t, 10*time.Second, "probe writes accepted by hostb", func() error {
		for _, x := range w.Writes() {
			if x.RowOK && x.ServerID == 2 && x.Start.After(tMove) {
				return nil
			}
		}
		return errors.New("none yet")
	})
	if ra := readOnly(a); ra != "1" {
		t.Fatalf("hosta read_only %s after losing the VIP", ra)
	}
	w.Stop()
	// Straight to hosta, now read-only: refused.
	wa, err := l.StartWriter(WriterOptions{Probe: true, Interval: 50 * time.Millisecond,
		Target: net.JoinHostPort(l.Host("a").IP, strconv.Itoa(MySQLPort))})
	if err != nil {
		t.Fatal(err)
	}
	defer wa.Stop()
	time.Sleep(time.Second)
	wa.Stop()
	refused := 0
	for _, x := range wa.Writes() {
		if x.RowOK {
			t.Fatalf("read-only hosta accepted a probe write: %+v", x)
		}
		if x.ServerID == 1 && strings.Contains(x.Err, "read-only") {
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("no probe write refused by read_only on hosta: %+v", wa.Writes())
	}
	if now := gtid(); now != before {
		t.Errorf("probe writes left transactions: gtid_binlog_pos %s before, %s after", before, now)
	}
}
