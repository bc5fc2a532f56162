package lab

import (
	"fmt"
	"testing"
	"time"
)

// A replication hold must not outlive its purpose, nor be forgotten by a
// restart. Kill the holder's agent (-9: an unplanned move, so the other
// DB host takes the VIP and holds its replication from the first), then
// stop the rest; start all again with the first host holding. The other
// host's replication from it must run again: kept stopped (a lab run of
// issue 11's scaling bench), that host stayed stale for good and no
// failover could pick it.
func TestHeldReplicationLiftedAfterRestart(t *testing.T) {
	bin := requireLab(t)
	l := newTestLab(t, Options{RaftvipBin: bin})
	ctx := within(t, 3*time.Minute)
	if err := l.StartRaftvip(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := l.StartClient(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	holder, err := l.waitReady(ctx, SystemRaftvip, c)
	if err != nil {
		t.Fatal(err)
	}
	c.Stop()
	other := l.Other(holder)
	if err := l.KillAgent(holder); err != nil {
		t.Fatal(err)
	}
	if err := l.monitor.WaitHolder(ctx, other); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, other+" holds its replication from "+holder, func() error {
		if st, _ := l.MariaDB(other).SlaveStatus(ctx); st.Running() {
			return fmt.Errorf("%s's replication runs: no hold to test", other)
		}
		return nil
	})
	if err := l.StopRaftvip(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.StartRaftvip(ctx); err != nil {
		t.Fatal(err)
	}
	// The old holder takes the VIP this time: the other's agent starts late.
	if err := l.StopAgent(other); err != nil {
		t.Fatal(err)
	}
	if err := l.monitor.WaitHolder(ctx, holder); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(other); err != nil {
		t.Fatal(err)
	}
	c, err = l.StartClient(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h2, err := l.waitReady(ctx, SystemRaftvip, c)
	if err != nil {
		t.Fatal(err)
	}
	if h2 != holder {
		t.Fatalf("after the restart %s holds the VIP, want %s (the test needs the old master holding)", h2, holder)
	}
	eventually(t, 15*time.Second, other+"'s replication from "+holder+" running again", func() error {
		if st, _ := l.MariaDB(other).SlaveStatus(ctx); !st.Running() {
			return fmt.Errorf("IO %s SQL %s", st["Slave_IO_Running"], st["Slave_SQL_Running"])
		}
		return nil
	})
}
