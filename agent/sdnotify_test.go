package agent

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/internal/sdnotify"
)

// notifySocket plays systemd's notify socket; got yields each datagram
// with its arrival time.
type notifyMsg struct {
	at   time.Time
	text string
}

func playNotifySocket(t *testing.T) (string, <-chan notifyMsg) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan notifyMsg, 1024)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- notifyMsg{time.Now(), string(buf[:n])}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return path, ch
}

// The watchdog pings come from the loop's passes: READY=1 after the first
// pass, then WATCHDOG=1 every half period; while the loop is stuck they
// stop (systemd would restart the agent), and they resume when it runs.
func TestSystemdWatchdogFromTheLoop(t *testing.T) {
	path, msgs := playNotifySocket(t)
	const period = 400 * time.Millisecond
	n, err := sdnotify.New(path, period)
	if err != nil {
		t.Fatal(err)
	}
	loop := n.Loop()
	passes := make(chan View, 1)
	tc := newTestClusterWith(t, false, func(nd *node, o *Options) {
		if nd.id != "hosta" {
			return
		}
		o.AfterPass = func(v View) {
			loop.Pass(time.Now(), "")
			select {
			case passes <- v:
			default:
			}
		}
	})
	var first notifyMsg
	select {
	case first = <-msgs:
	case <-time.After(10 * time.Second):
		t.Fatal("no READY=1 within 10s of the start")
	}
	if !strings.Contains(first.text, sdnotify.Ready) || !strings.Contains(first.text, sdnotify.Ping) {
		t.Fatalf("first message %q, want READY=1 with the first ping", first.text)
	}
	// The hook saw the pass's published View: the rule has decided.
	if v := <-passes; v.Decision.Reason == "" {
		t.Errorf("AfterPass before a decision: %+v", v)
	}
	// Pings keep coming while the loop runs.
	pings := 0
	deadline := time.After(5 * period)
	for pings < 3 {
		select {
		case m := <-msgs:
			if strings.Contains(m.text, sdnotify.Ready) {
				t.Fatalf("READY=1 sent twice: %q", m.text)
			}
			if m.text == sdnotify.Ping {
				pings++
			}
		case <-deadline:
			t.Fatalf("%d pings in %v with a %v watchdog", pings, 5*period, period)
		}
	}
	// Stick the loop: it runs this function between passes and waits.
	stuck := make(chan struct{})
	a := tc.nodes["hosta"].agent
	if !a.do(func() { <-stuck }) {
		t.Fatal("loop not running")
	}
	// Drain what was sent before the loop took the function.
	time.Sleep(period / 2)
	for len(msgs) > 0 {
		<-msgs
	}
	select {
	case m := <-msgs:
		t.Fatalf("%q sent while the loop was stuck", m.text)
	case <-time.After(3 * period):
	}
	close(stuck)
	select {
	case m := <-msgs:
		if m.text != sdnotify.Ping {
			t.Fatalf("after the loop ran again: %q", m.text)
		}
	case <-time.After(3 * period):
		t.Fatal("pings did not resume when the loop ran again")
	}
}
