package lab

import (
	"testing"
	"time"
)

// dataSafetyWaitsFor says what TestDataSafety waits for while it is
// skipped; empty once raftvip makes the VIP holder writable.
const dataSafetyWaitsFor = ""

// TestDataSafety is issue 10's lab test: a writer inserts rows and
// increments a counter through the VIP while MySQL is killed or hung on the
// holder, or the VIP is switched over on purpose; afterwards (everything
// back, replication caught up) no run may show a row written on a server
// that did not hold the VIP or a replication error; a switchover loses no
// acknowledged row or increment, and with semi-synchronous replication
// neither does a killed or hung MySQL. With asynchronous replication the
// rows an unplanned fault lost are logged, not asserted (the issue asks
// for the count). Fewer trials than `raftvip-lab data-bench`.
func TestDataSafety(t *testing.T) {
	bin := requireLab(t)
	if dataSafetyWaitsFor != "" {
		t.Skip("waits for " + dataSafetyWaitsFor)
	}
	l := newTestLab(t, Options{RaftvipBin: bin})
	ctx := within(t, 5*time.Minute)
	trials := map[ReplMode]map[Fault]int{
		ReplAsync:    {FaultSwitchover: 3, FaultMySQLKilled: 2, FaultMySQLHung: 2},
		ReplSemiSync: {FaultMySQLKilled: 2, FaultMySQLHung: 1},
	}
	start := time.Now()
	res, err := l.RunDataSafety(ctx, DataSafetyOptions{
		Faults:   []Fault{FaultSwitchover, FaultMySQLKilled, FaultMySQLHung},
		Modes:    []ReplMode{ReplAsync, ReplSemiSync},
		PerRun:   func(m ReplMode, f Fault) int { return trials[m][f] },
		Jitter:   500 * time.Millisecond,
		Progress: testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Then replicas 2 s behind (the measurement lost a quarter of
	// the increments so): the new holder must apply what it received, and
	// a switchover target the old holder's last position, before writing.
	lagTrials := map[Fault]int{FaultSwitchover: 2, FaultMySQLKilled: 1}
	lagged, err := l.RunDataSafety(ctx, DataSafetyOptions{
		Faults:   []Fault{FaultSwitchover, FaultMySQLKilled},
		Modes:    []ReplMode{ReplAsync},
		PerRun:   func(_ ReplMode, f Fault) int { return lagTrials[f] },
		Lag:      2 * time.Second,
		Jitter:   500 * time.Millisecond,
		Progress: testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	res.Runs = append(res.Runs, lagged.Runs...)
	t.Logf("data safety, %v:\n%s%s", time.Since(start).Round(time.Second), DataCheckHeader, markdownRows(res))
	seen := 0
	for i, run := range res.Runs {
		want := trials[run.Mode][run.Fault]
		if i >= len(res.Runs)-len(lagged.Runs) {
			want = lagTrials[run.Fault]
		}
		if want == 0 {
			continue
		}
		seen++
		c := run.Check
		if len(run.Trials) != want {
			t.Errorf("%s: %d trials, want %d", c.Label, len(run.Trials), want)
		}
		for _, tr := range run.Trials {
			if tr.Error != "" {
				t.Errorf("%s #%d: %s", c.Label, tr.Trial, tr.Error)
			}
			if tr.MaxHolders > 1 {
				t.Errorf("%s #%d: %d VIP holders at once", c.Label, tr.Trial, tr.MaxHolders)
			}
		}
		if len(c.Errors) > 0 {
			t.Errorf("%s: not checked: %v", c.Label, c.Errors)
		}
		if len(c.NonHolder) > 0 {
			t.Errorf("%s: %d rows written on a server without the VIP: %+v", c.Label, len(c.NonHolder), c.NonHolder)
		}
		if len(c.ReplErrors) > 0 {
			t.Errorf("%s: replication errors: %v", c.Label, c.ReplErrors)
		}
		if c.RowsAcked == 0 || c.IncAcked == 0 {
			t.Errorf("%s: nothing acknowledged (%d rows, %d increments)", c.Label, c.RowsAcked, c.IncAcked)
		}
		lossless := run.Fault == FaultSwitchover || run.Mode == ReplSemiSync
		switch {
		case lossless && len(c.Missing) > 0:
			t.Errorf("%s: %d acknowledged rows missing on the final holder %s: %v", c.Label, len(c.Missing), c.FinalHolder, c.Missing)
		case !lossless:
			t.Logf("%s: %d acknowledged rows missing on the final holder (asynchronous replication: measured, not a target)", c.Label, len(c.Missing))
		}
		// This run's rows and counter, not the whole tables: an earlier
		// run's errant transactions, kept, may have set its counter back.
		if run.Fault == FaultSwitchover && (c.CounterShort > 0 || !c.RunAgrees) {
			t.Errorf("%s: a switchover lost increments (counter short by %d) or left its rows different (agree %v)", c.Label, c.CounterShort, c.RunAgrees)
		}
		if len(c.Errant) > 0 {
			t.Logf("%s: errant transactions on the old holder after %d trial(s), kept by the test (START SLAVE): %v", c.Label, len(c.Errant), c.Errant)
		}
	}
	if seen != 7 {
		t.Errorf("%d runs checked, want 7", seen)
	}
}

func markdownRows(res *DataSafetyResults) string {
	var s string
	for _, r := range res.Runs {
		s += r.Check.MarkdownRow()
	}
	return s
}
