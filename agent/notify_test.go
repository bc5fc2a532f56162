package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/notify"
)

// keepalivedScript is a notify script as keepalived sites write them: it
// records its arguments ($1..$4: INSTANCE NAME STATE PRIORITY) and the
// RAFTVIP_* environment, one line per run.
const keepalivedScript = `#!/bin/sh
TYPE=$1
NAME=$2
STATE=$3
PRIO=$4
echo "$TYPE $NAME $STATE $PRIO epoch=$RAFTVIP_EPOCH node=$RAFTVIP_NODE prev=$RAFTVIP_PREVIOUS_HOLDER" >> "$(dirname "$0")/seen-$RAFTVIP_NODE"
`

type notifiers struct {
	mu  sync.Mutex
	all map[string]*notify.Notifier
}

// withNotifiers gives every db node a real notifier running script (from
// the prep hook, so a restarted node gets a new one, as a new process would).
func withNotifiers(t *testing.T, dir string, opt notify.Options) (*notifiers, func(*node)) {
	ns := &notifiers{all: map[string]*notify.Notifier{}}
	return ns, func(n *node) {
		if n.role != fsm.RoleDB {
			return
		}
		o := opt
		nf := notify.New(o)
		ns.mu.Lock()
		ns.all[n.id] = nf
		ns.mu.Unlock()
		n.notify = nf.Notify
		t.Cleanup(func() {
			// A test's scripts may hang: Close kills them at its context.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			nf.Close(ctx)
		})
	}
}

func (ns *notifiers) close(id string) {
	ns.mu.Lock()
	nf := ns.all[id]
	ns.mu.Unlock()
	nf.Close(context.Background())
}

func seen(dir, node string) []string {
	b, _ := os.ReadFile(filepath.Join(dir, "seen-"+node))
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func last(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

func writeScript(t *testing.T, dir string) string {
	p := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(p, []byte(keepalivedScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// The done-when of issue 12: a keepalived notify script runs unchanged and
// sees MASTER on the new holder, FAULT on the old one whose MySQL failed,
// STOP at shutdown, and its state again after a restart.
func TestKeepalivedNotifyScriptFollowsFailover(t *testing.T) {
	dir := t.TempDir()
	ns, prep := withNotifiers(t, dir, notify.Options{Instance: "VI_1", Priority: 250, Notify: []string{writeScript(t, dir)}, Timeout: 5 * time.Second})
	tc := newTestClusterPrep(t, true, prep, nil)
	old := tc.waitHolder(10 * time.Second)
	other := "hosta"
	if old == "hosta" {
		other = "hostb"
	}
	tc.eventually(old+"'s script sees MASTER, "+other+"'s BACKUP", 10*time.Second, func() bool {
		return strings.HasPrefix(last(seen(dir, old)), "INSTANCE VI_1 MASTER 250 epoch=1 node="+old) &&
			strings.HasPrefix(last(seen(dir, other)), "INSTANCE VI_1 BACKUP 250 ")
	})
	tc.eventually("peer health replicated", 5*time.Second, func() bool { return tc.nodes[old].fsm.State().Healthy(other) })

	tc.nodes[old].health.Set(false)
	tc.eventually("VIP moves to "+other, 10*time.Second, func() bool { return tc.holder() == other })
	tc.eventually(other+"'s script sees MASTER, taken from "+old, 10*time.Second, func() bool {
		return last(seen(dir, other)) == "INSTANCE VI_1 MASTER 250 epoch=2 node="+other+" prev="+old
	})
	tc.eventually(old+"'s script sees FAULT", 10*time.Second, func() bool {
		return strings.HasPrefix(last(seen(dir, old)), "INSTANCE VI_1 FAULT 250 ")
	})
	tc.assertNeverTwo()

	// Shutdown: STOP, after the release; then a restart notifies again
	// (the first state of a process is always notified).
	tc.stop(tc.nodes[old])
	ns.close(old)
	if got := last(seen(dir, old)); !strings.HasPrefix(got, "INSTANCE VI_1 STOP 250 ") {
		t.Fatalf("%s's script saw %q last after shutdown, want STOP", old, got)
	}
	before := len(seen(dir, old))
	tc.start(tc.nodes[old])
	tc.eventually(old+"'s script sees FAULT again after the restart", 10*time.Second, func() bool {
		l := seen(dir, old)
		return len(l) > before && strings.HasPrefix(last(l), "INSTANCE VI_1 FAULT 250 ")
	})
	// Each line is one state; no state is notified twice in a row.
	for _, id := range []string{old, other} {
		l := seen(dir, id)
		for i := 1; i < len(l); i++ {
			if strings.Fields(l[i])[2] == strings.Fields(l[i-1])[2] && i != before {
				t.Errorf("%s: %q notified twice in a row: %q", id, strings.Fields(l[i])[2], l)
			}
		}
	}
}

// Scripts that hang (until their timeout, far away) never hold up the
// loop: the VIP still moves when the holder's MySQL fails.
func TestHangingNotifyScriptDoesNotBlockFailover(t *testing.T) {
	dir := t.TempDir()
	hang := filepath.Join(dir, "hang.sh")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 300\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, prep := withNotifiers(t, dir, notify.Options{Master: []string{hang}, Backup: []string{hang}, Fault: []string{hang}, Notify: []string{hang},
		Timeout: time.Hour, Queue: 2})
	tc := newTestClusterPrep(t, false, prep, nil)
	old := tc.waitHolder(10 * time.Second)
	other := "hosta"
	if old == "hosta" {
		other = "hostb"
	}
	tc.eventually("peer health replicated", 5*time.Second, func() bool { return tc.nodes[old].fsm.State().Healthy(other) })
	for i := 0; i < 3; i++ { // flaps, each queued behind the hanging script
		tc.nodes[other].health.Set(false)
		tc.nodes[other].health.Set(true)
	}
	tc.nodes[old].health.Set(false)
	tc.eventually("VIP moves to "+other+" while every script hangs", 10*time.Second, func() bool { return tc.holder() == other })
	tc.assertNeverTwo()
}

func TestWitnessHasNoNotifications(t *testing.T) {
	var mu sync.Mutex
	var got []notify.Event
	tc := newTestClusterPrep(t, false, func(n *node) {
		n.notify = func(e notify.Event) {
			if n.role == fsm.RoleWitness {
				mu.Lock()
				got = append(got, e)
				mu.Unlock()
			}
		}
	}, nil)
	tc.waitHolder(10 * time.Second)
	tc.stop(tc.nodes["witness"])
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 0 {
		t.Errorf("the witness notified %+v", got)
	}
}
