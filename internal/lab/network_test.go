package lab

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestLabNetwork checks the lab itself, without any VIP owner: topology,
// MariaDB, the client, the monitor (by adding the VIP by hand) and faults.
func TestLabNetwork(t *testing.T) {
	requireLab(t)
	l := newTestLab(t, Options{})
	ctx := within(t, 3*time.Minute)

	t.Run("root namespace has no lab address", func(t *testing.T) {
		out, err := exec.Command("ip", "-4", "-o", "addr", "show").CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), " 10.99.0.") {
			t.Fatalf("root namespace has a 10.99.0.0/24 address:\n%s", out)
		}
	})

	t.Run("MAC addresses as planned", func(t *testing.T) {
		for _, h := range l.Hosts() {
			mac, err := l.EthMAC(h.Name)
			if err != nil {
				t.Fatal(err)
			}
			if mac != h.MAC {
				t.Errorf("%s eth0 MAC %s, want %s", h.Name, mac, h.MAC)
			}
		}
	})

	t.Run("client reads each server by its address", func(t *testing.T) {
		for _, h := range l.DBHosts() {
			c, err := l.StartClient(ClientOptions{Target: net.JoinHostPort(h.IP, "3306")})
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.WaitGood(within(t, 15*time.Second), h.ServerID, time.Now())
			c.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if r.ServerID != h.ServerID {
				t.Fatalf("server_id %d via %s, want %d", r.ServerID, h.IP, h.ServerID)
			}
		}
	})

	t.Run("monitor sees a VIP added with a lifetime expire", func(t *testing.T) {
		m := l.Monitor()
		added := time.Now()
		if err := l.AddVIP(ctx, "a", 2*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := m.WaitHolder(within(t, 5*time.Second), "a"); err != nil {
			t.Fatal(err)
		}
		if err := m.WaitNotHolding(within(t, 8*time.Second), "a"); err != nil {
			t.Fatal(err)
		}
		lost, ok := m.LastLoss("a")
		if !ok {
			t.Fatal("no loss recorded for a")
		}
		// The kernel removed it: nobody else did, and not before ~2 s.
		if d := lost.Sub(added); d < 1500*time.Millisecond {
			t.Fatalf("VIP gone %v after an add with valid_lft 2", d)
		}
		t.Logf("VIP with valid_lft 2 expired %v after the add", lost.Sub(added).Round(time.Millisecond))
		if m.MaxConcurrentHolders() > 1 {
			t.Fatalf("two holders seen with only a holding")
		}
	})

	t.Run("monitor reports two holders", func(t *testing.T) {
		m := l.Monitor()
		from := time.Now()
		for _, h := range []string{"a", "b"} {
			if err := l.AddVIP(ctx, h, 0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := m.WaitFor(within(t, 5*time.Second), func(h []string) bool { return len(h) == 2 }); err != nil {
			t.Fatal(err)
		}
		if max, _, _ := m.HolderCountsBetween(from, time.Now()); max != 2 {
			t.Fatalf("max holders %d, want 2", max)
		}
		for _, h := range []string{"a", "b"} {
			if err := l.RemoveVIP(ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := m.WaitFor(within(t, 5*time.Second), func(h []string) bool { return len(h) == 0 }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("client follows a VIP moved by hand", func(t *testing.T) {
		m := l.Monitor()
		c, err := l.StartClient(ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Stop()
		if err := l.AddVIP(ctx, "a", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitGood(within(t, 15*time.Second), 1, time.Now()); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "client maps VIP to a's MAC", func() error {
			return neighIs(l, "a")
		})
		if err := l.RemoveVIP(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		if err := l.AddVIP(ctx, "b", 0); err != nil {
			t.Fatal(err)
		}
		// Like a VIP owner: without it the client keeps sending to a's MAC
		// until its neighbour entry times out (tens of seconds).
		if err := l.SendGARP("b"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitGood(within(t, 20*time.Second), 2, t0); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "client maps VIP to b's MAC", func() error {
			return neighIs(l, "b")
		})
		out, ok := c.Downtime(t0, 2)
		if !ok {
			t.Fatal("no downtime measured")
		}
		t.Logf("VIP moved by hand with one GARP: client outage %v", out.Duration.Round(time.Millisecond))
		if err := l.RemoveVIP(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.WaitFor(within(t, 5*time.Second), func(h []string) bool { return len(h) == 0 }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("cable pull cuts a host off and restore brings it back", func(t *testing.T) {
		c, err := l.StartClient(ClientOptions{Target: "10.99.0.11:3306"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Stop()
		if _, err := c.WaitGood(within(t, 10*time.Second), 1, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := l.PullCable(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		pulled := time.Now()
		time.Sleep(time.Second)
		if s := c.SummaryBetween(pulled.Add(400*time.Millisecond), time.Now()); s.OK != 0 || s.Failed == 0 {
			t.Fatalf("reads to a with its cable pulled: %+v", s)
		}
		if err := l.RestoreCable(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitGood(within(t, 10*time.Second), 1, time.Now()); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("isolation cuts a from b only", func(t *testing.T) {
		if err := pingFrom(ctx, l, "a", "10.99.0.12"); err != nil {
			t.Fatalf("before isolation: %v", err)
		}
		if err := l.Isolate(ctx, "a", "b"); err != nil {
			t.Fatal(err)
		}
		if err := pingFrom(ctx, l, "a", "10.99.0.12"); err == nil {
			t.Fatal("a reaches b while both are isolated")
		}
		for _, from := range []string{"a", "b"} {
			for _, to := range []string{"10.99.0.13", "10.99.0.100"} {
				if err := pingFrom(ctx, l, from, to); err != nil {
					t.Fatalf("isolated %s cannot reach %s: %v", from, to, err)
				}
			}
		}
		if err := l.Heal(ctx, "a", "b"); err != nil {
			t.Fatal(err)
		}
		if err := pingFrom(ctx, l, "a", "10.99.0.12"); err != nil {
			t.Fatalf("after heal: %v", err)
		}
	})

	t.Run("MySQL hang, kill and restart", func(t *testing.T) {
		c, err := l.StartClient(ClientOptions{Target: "10.99.0.12:3306"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Stop()
		if _, err := c.WaitGood(within(t, 10*time.Second), 2, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := l.HangMySQL("b"); err != nil {
			t.Fatal(err)
		}
		hung := time.Now()
		time.Sleep(time.Second)
		if s := c.SummaryBetween(hung.Add(400*time.Millisecond), time.Now()); s.OK != 0 || s.Failed == 0 {
			t.Fatalf("reads from a hung server: %+v", s)
		}
		if err := l.ResumeMySQL("b"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitGood(within(t, 10*time.Second), 2, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := l.KillMySQL("b"); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		time.Sleep(500 * time.Millisecond)
		s := c.SummaryBetween(killed.Add(100*time.Millisecond), time.Now())
		if s.OK != 0 || s.Failed == 0 {
			t.Fatalf("reads from a killed server: %+v", s)
		}
		if err := l.RestartMySQL(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitGood(within(t, 10*time.Second), 2, time.Now()); err != nil {
			t.Fatal(err)
		}
	})
}

func neighIs(l *Lab, host string) error {
	mac, err := l.ClientVIPMAC()
	if err != nil {
		return err
	}
	if want := l.Host(host).MAC; mac != want {
		return fmt.Errorf("client maps VIP to %q (%s), want %s (%s)", mac, l.HostByMAC(mac), want, host)
	}
	return nil
}

func pingFrom(ctx context.Context, l *Lab, from, to string) error {
	_, err := run(ctx, "ip", "netns", "exec", l.Host(from).NS, "ping", "-c", "1", "-W", "1", to)
	return err
}
