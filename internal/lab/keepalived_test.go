package lab

import (
	"testing"
	"time"
)

// TestKeepalived runs keepalived configured like the seed and checks the
// behaviour the benchmark compares raftvip against: it fails over when
// MySQL dies, keeps the VIP where it is when MySQL comes back (nopreempt),
// and — having no quorum — puts the VIP on both hosts when they lose sight
// of each other. The last check also proves the monitor catches two holders
// made by a real VIP owner.
func TestKeepalived(t *testing.T) {
	requireLab(t)
	l := newTestLab(t, Options{})
	ctx := within(t, 4*time.Minute)
	m := l.Monitor()
	if err := l.StartKeepalived(ctx); err != nil {
		t.Fatal(err)
	}
	holder, err := m.WaitStableHolder(within(t, 30*time.Second), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	other := l.Other(holder)
	if err := l.WaitKeepalivedState(within(t, 10*time.Second), other, "BACKUP"); err != nil {
		t.Fatal(err)
	}
	c, err := l.StartClient(ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if _, err := c.WaitGood(within(t, 15*time.Second), l.Host(holder).ServerID, time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Logf("keepalived: VIP on %s (MASTER), %s is BACKUP", holder, other)

	t.Run("MySQL killed moves the VIP", func(t *testing.T) {
		t0 := time.Now()
		if err := l.KillMySQL(holder); err != nil {
			t.Fatal(err)
		}
		if err := m.WaitHolder(within(t, 20*time.Second), other); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitGood(within(t, 20*time.Second), l.Host(other).ServerID, t0); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitKeepalivedState(within(t, 5*time.Second), holder, "FAULT"); err != nil {
			t.Fatal(err)
		}
		out, _ := c.Downtime(t0, l.Host(other).ServerID)
		t.Logf("keepalived, MySQL killed: client outage %v", out.Duration.Round(time.Millisecond))
		if max, _, _ := m.HolderCountsBetween(t0, time.Now()); max > 1 {
			t.Errorf("two holders during a MySQL failover")
		}
	})

	t.Run("MySQL restarted, VIP stays (nopreempt)", func(t *testing.T) {
		t0 := time.Now()
		if err := l.RestartMySQL(ctx, holder); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitKeepalivedState(within(t, 15*time.Second), holder, "BACKUP"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		if h := m.Holders(); len(h) != 1 || h[0] != other {
			t.Fatalf("VIP on %v after the old master's MySQL came back, want only %s", h, other)
		}
		if got := m.Acquisitions(holder, t0); len(got) != 0 {
			t.Fatalf("%s took the VIP back: %v", holder, got)
		}
		holder, other = other, holder
	})

	t.Run("isolated hosts both take the VIP (no quorum)", func(t *testing.T) {
		t0 := time.Now()
		if err := l.Isolate(ctx, "a", "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.WaitFor(within(t, 20*time.Second), func(h []string) bool { return len(h) == 2 }); err != nil {
			t.Fatalf("keepalived did not split: %v", err)
		}
		max, at, _ := m.HolderCountsBetween(t0, time.Now())
		if max != 2 {
			t.Fatalf("monitor max holders %d, want 2", max)
		}
		t.Logf("keepalived split brain: both hosts hold the VIP %v after isolation", at.Sub(t0).Round(time.Millisecond))
		if err := l.Heal(ctx, "a", "b"); err != nil {
			t.Fatal(err)
		}
		h, err := m.WaitStableHolder(within(t, 20*time.Second), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("after heal: VIP on %s only", h)
	})
}
