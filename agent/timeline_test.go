package agent

import (
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// TestFailoverHistoryHasEveryPhase: an unplanned failover (the holder's
// MySQL fails) leaves every phase of its timeline in the history, in
// order: detected, released, leadership moved, acquired, VIP added, first
// GARP, writable.
func TestFailoverHistoryHasEveryPhase(t *testing.T) {
	tc, _ := newDataCluster(t, nil)
	old := tc.waitHolder(10 * time.Second)
	other := otherDB(old)
	tc.eventually("peer health replicated", 5*time.Second, func() bool { return tc.nodes[old].fsm.State().Healthy(other) })

	tc.nodes[old].health.Set(false)
	tc.eventually("VIP moves to "+other, 10*time.Second, func() bool { return tc.holder() == other })
	tc.assertNeverTwo()

	want := []string{fsm.PhaseDetected, fsm.PhaseReleased, fsm.PhaseLeader, fsm.PhaseAcquired, fsm.PhaseAdded, fsm.PhaseGARP, fsm.PhaseWritable}
	var f fsm.Failover
	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		missing = nil
		fs := fsm.Failovers(tc.nodes[other].fsm.State().History)
		if len(fs) > 0 {
			f = fs[len(fs)-1]
			for _, name := range want {
				if _, ok := f.Phase(name); !ok {
					missing = append(missing, name)
				}
			}
		} else {
			missing = want
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s the failover's phases %v are missing; history:\n%+v", missing, tc.nodes[other].fsm.State().History)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if f.From != old || f.To != other {
		t.Fatalf("failover %s -> %s, want %s -> %s", f.From, f.To, old, other)
	}
	// In the order they must happen: detected first, the old holder
	// released before the new one acquired, the VIP added after the
	// acquire; its first GARP and read_only going off both follow the add,
	// in either order (the keeper and the announcer run beside the loop).
	for _, pair := range [][2]string{
		{fsm.PhaseDetected, fsm.PhaseReleased}, {fsm.PhaseReleased, fsm.PhaseLeader}, {fsm.PhaseLeader, fsm.PhaseAcquired},
		{fsm.PhaseAcquired, fsm.PhaseAdded}, {fsm.PhaseAdded, fsm.PhaseGARP}, {fsm.PhaseAdded, fsm.PhaseWritable},
	} {
		a, _ := f.Phase(pair[0])
		b, _ := f.Phase(pair[1])
		if b.Time.Before(a.Time) {
			t.Errorf("%s at %s before %s at %s", pair[1], b.Time.Format("15:04:05.000000"), pair[0], a.Time.Format("15:04:05.000000"))
		}
	}
	if p, _ := f.Phase(fsm.PhaseDetected); p.Offset != 0 || p.Node != old {
		t.Errorf("detected: %+v, want offset 0 on %s", p, old)
	}
	for _, p := range f.Phases {
		t.Logf("+%-8v %-16s %s", p.Offset.Round(time.Microsecond), p.Name, p.Node)
	}
}
