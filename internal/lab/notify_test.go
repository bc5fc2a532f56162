package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 12's done-when: a keepalived notify script runs unchanged on real
// agents and sees MASTER on the new holder after its MySQL was killed on
// the old one, which sees FAULT. The script is the generic kind keepalived
// sites write ($1..$4: INSTANCE NAME STATE PRIORITY), plus a notify_master
// with an argument of its own as keepalived passes it. Then STOP when the
// holder's agent is stopped, and its state again when it starts.
func TestNotifyScriptSeesMasterOnNewHolder(t *testing.T) {
	bin := requireLab(t)
	l := newTestLab(t, Options{RaftvipBin: bin})
	ctx := within(t, 4*time.Minute)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notifySh := write("notify.sh", `echo "$1 $2 $3 $4 prev=$RAFTVIP_PREVIOUS_HOLDER" >> "$(dirname "$0")/seen-$RAFTVIP_NODE"`+"\n")
	masterSh := write("to_master.sh", `echo "to_master $* $RAFTVIP_STATE" >> "$(dirname "$0")/master-$RAFTVIP_NODE"`+"\n")
	// A notify_stop that takes a while: the agent waits for it (and for
	// notify after it) before it exits.
	stopSh := write("to_stop.sh", "sleep 0.5\n")
	configs := map[string]string{}
	for _, h := range l.DBHosts() {
		p, err := l.AgentPathsOf(h.Name)
		if err != nil {
			t.Fatal(err)
		}
		configs[h.Name] = l.AgentConfig(h, filepath.Dir(p.Config)) +
			fmt.Sprintf("\nnotify {\n  instance      = \"VI_1\"\n  notify_master = \"%s master\"\n  notify_stop   = %q\n  notify        = %q\n}\n", masterSh, stopSh, notifySh)
	}
	holder, other := startAgentsWith(ctx, t, l, configs)
	oldID, newID := l.Host(holder).NodeID, l.Host(other).NodeID
	last := func(file string) string {
		b, _ := os.ReadFile(filepath.Join(dir, file))
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		return lines[len(lines)-1]
	}
	eventually(t, 20*time.Second, oldID+" MASTER, "+newID+" BACKUP", func() error {
		if g, o := last("seen-"+oldID), last("seen-"+newID); !strings.HasPrefix(g, "INSTANCE VI_1 MASTER 250 ") || !strings.HasPrefix(o, "INSTANCE VI_1 BACKUP 250 ") {
			return fmt.Errorf("%s saw %q, %s saw %q", oldID, g, newID, o)
		}
		return nil
	})
	// raftvip check on the witness, against the real cluster: all well.
	w := l.Agent("w")
	eventually(t, 20*time.Second, "raftvip check OK", func() error {
		out, err := w.Command(ctx, "check")
		if err != nil || !strings.HasPrefix(out, "RAFTVIP OK - "+oldID+" holds the VIP") {
			return fmt.Errorf("%q %v", out, err)
		}
		t.Logf("raftvip check: %s", strings.TrimSpace(out))
		return nil
	})
	if err := l.KillMySQL(holder); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the VIP on "+other+", its script seeing MASTER", func() error {
		if h, ok := l.Monitor().Holder(); !ok || h != other {
			return fmt.Errorf("holder %q", h)
		}
		if got, want := last("seen-"+newID), "INSTANCE VI_1 MASTER 250 prev="+oldID; got != want {
			return fmt.Errorf("%s's notify saw %q, want %q", newID, got, want)
		}
		if got, want := last("master-"+newID), "to_master master MASTER"; got != want {
			return fmt.Errorf("%s's notify_master saw %q, want %q", newID, got, want)
		}
		if got := last("seen-" + oldID); !strings.HasPrefix(got, "INSTANCE VI_1 FAULT 250 ") {
			return fmt.Errorf("%s's notify saw %q, want FAULT", oldID, got)
		}
		return nil
	})

	// The old holder's MySQL is down: no failover target left, a WARNING
	// (exit 1).
	eventually(t, 20*time.Second, "raftvip check WARNING", func() error {
		out, err := w.Command(ctx, "check")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "RAFTVIP WARNING - standby "+oldID+"'s MySQL is unhealthy") {
			return fmt.Errorf("%q %v", out, err)
		}
		t.Logf("raftvip check: %s", strings.TrimSpace(out))
		return nil
	})

	// SIGTERM on the holder: its notify has run STOP by the time the agent
	// has exited (after the VIP is released). Started again, the agent
	// notifies its state afresh: the first state of a process always is.
	a := l.Agent(other)
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := last("seen-" + newID); !strings.HasPrefix(got, "INSTANCE VI_1 STOP 250 ") {
		t.Fatalf("%s's notify saw %q last after the agent stopped, want STOP", newID, got)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, newID+"'s state notified again after the restart", func() error {
		if got := last("seen-" + newID); !strings.HasPrefix(got, "INSTANCE VI_1 MASTER 250 ") && !strings.HasPrefix(got, "INSTANCE VI_1 BACKUP 250 ") {
			return fmt.Errorf("%s's notify saw %q last", newID, got)
		}
		return nil
	})
}
