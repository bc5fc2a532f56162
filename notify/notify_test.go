package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestDerive(t *testing.T) {
	for _, tc := range []struct {
		holding, stopped, known, healthy bool
		want                             State
	}{
		{holding: true, known: true, healthy: true, want: Master},
		{holding: true, known: true, healthy: false, want: Master}, // until the agent has removed the VIP
		{known: true, healthy: true, want: Backup},
		{known: true, healthy: false, want: Fault},
		{known: false, want: ""},                                // no verdict yet: nothing to say
		{holding: true, known: false, want: Master},             // an adopted VIP before the first check
		{stopped: true, holding: true, known: true, want: Stop}, // shutdown wins
		{stopped: true, want: Stop},
	} {
		if got := Derive(tc.holding, tc.stopped, tc.known, tc.healthy); got != tc.want {
			t.Errorf("Derive(holding=%v, stopped=%v, known=%v, healthy=%v) = %q, want %q", tc.holding, tc.stopped, tc.known, tc.healthy, got, tc.want)
		}
	}
}

// keepalived 2.2.7 (vrrp_notify.c): `INSTANCE "VI_1" MASTER 100\n`, and the
// generic script's four extra arguments.
func TestKeepalivedFormats(t *testing.T) {
	if got, want := FIFOLine("VI_1", Master, 100), "INSTANCE \"VI_1\" MASTER 100\n"; got != want {
		t.Errorf("FIFOLine = %q, want %q", got, want)
	}
	if got, want := strings.Join(NotifyArgs("VI_1", Fault, 250), " "), "INSTANCE VI_1 FAULT 250"; got != want {
		t.Errorf("NotifyArgs = %q, want %q", got, want)
	}
}

// script writes an executable shell script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// recorder is the kind of script keepalived sites have: it appends its
// name, its arguments and raftvip's environment to a log.
func recorder(t *testing.T, dir, name, log string) string {
	return script(t, dir, name, `echo "`+name+` $*|$RAFTVIP_STATE|$RAFTVIP_EPOCH|$RAFTVIP_NODE|$RAFTVIP_PREVIOUS_HOLDER|$RAFTVIP_REASON|$RAFTVIP_PREVIOUS_STATE" >> `+log+"\n")
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// waitFor polls cond (the workers are asynchronous by design); the
// deadline only bounds a broken test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestScriptsGetKeepalivedArguments(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	n := New(Options{
		Instance: "VI_1", Priority: 150,
		Master: []string{recorder(t, dir, "to_master.sh", log)},
		Backup: []string{recorder(t, dir, "to_backup.sh", log), "arg1", "arg 2"},
		Fault:  []string{recorder(t, dir, "to_fault.sh", log)},
		Stop:   []string{recorder(t, dir, "to_stop.sh", log)},
		Notify: []string{recorder(t, dir, "notify.sh", log), "extra"},
		Logger: hclog.NewNullLogger(),
	})
	n.Notify(Event{State: Backup, Node: "hostb", Epoch: 3, Holder: "hosta", PreviousHolder: "", Reason: "start"})
	n.Notify(Event{State: Master, Previous: Backup, Node: "hostb", Epoch: 4, Holder: "hostb", PreviousHolder: "hosta", Reason: "leader hostb: hosta unhealthy"})
	n.Notify(Event{State: Fault, Previous: Master, Node: "hostb", Epoch: 5})
	n.Notify(Event{State: Stop, Previous: Fault, Node: "hostb", Epoch: 5})
	n.Close(context.Background())
	want := []string{
		// notify_* get only their own arguments (keepalived's notify_exec);
		// notify gets its own and then INSTANCE NAME STATE PRIORITY.
		"to_backup.sh arg1 arg 2|BACKUP|3|hostb||start|",
		"notify.sh extra INSTANCE VI_1 BACKUP 150|BACKUP|3|hostb||start|",
		"to_master.sh |MASTER|4|hostb|hosta|leader hostb: hosta unhealthy|BACKUP",
		"notify.sh extra INSTANCE VI_1 MASTER 150|MASTER|4|hostb|hosta|leader hostb: hosta unhealthy|BACKUP",
		"to_fault.sh |FAULT|5|hostb|||MASTER",
		"notify.sh extra INSTANCE VI_1 FAULT 150|FAULT|5|hostb|||MASTER",
		"to_stop.sh |STOP|5|hostb|||FAULT",
		"notify.sh extra INSTANCE VI_1 STOP 150|STOP|5|hostb|||FAULT",
	}
	got := readLines(t, log)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("scripts ran as\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A hanging script is killed with its whole process group at the timeout,
// the events queued behind it still run, and Notify never waits for it:
// while it hangs, a full queue is coalesced to the latest state.
func TestHangingScriptKilledAndQueueCoalesced(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	pids := filepath.Join(dir, "pids")
	hang := script(t, dir, "hang.sh", `echo "$RAFTVIP_STATE" >> `+log+`
if [ "$RAFTVIP_STATE" = MASTER ] && [ ! -e `+dir+`/hung ]; then
  touch `+dir+`/hung
  sleep 300 &
  echo $! > `+pids+`
  wait
fi
`)
	var logBuf syncBuf
	n := New(Options{Notify: []string{hang}, Timeout: 300 * time.Millisecond, Queue: 4,
		Logger: hclog.New(&hclog.LoggerOptions{Output: &logBuf, Level: hclog.Debug})})
	n.Notify(Event{State: Master})
	waitFor(t, "the script to hang", func() bool { _, err := os.Stat(pids); return err == nil })
	// 10 changes while it hangs: the queue (4) is coalesced, Notify returns.
	states := []State{Backup, Fault, Backup, Fault, Backup, Fault, Backup, Fault, Backup, Master}
	for _, s := range states {
		n.Notify(Event{State: s})
	}
	n.Close(context.Background())

	b, _ := os.ReadFile(pids)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		t.Fatalf("no pid of the script's child in %q", b)
	}
	// The child (sleep 300) was in the script's process group: killed too.
	waitFor(t, "the script's child to be gone", func() bool {
		return syscall.Kill(pid, 0) == syscall.ESRCH || isZombie(pid)
	})
	got := readLines(t, log)
	if len(got) < 2 || got[0] != "MASTER" || got[len(got)-1] != "MASTER" {
		t.Fatalf("script saw %v: want the first MASTER, then the queued ones ending with the latest MASTER", got)
	}
	if len(got) > 1+4 {
		t.Errorf("script ran %d times for 11 events with a queue of 4: the queue was not bounded (%v)", len(got), got)
	}
	if !strings.Contains(logBuf.String(), "timed out") || !strings.Contains(logBuf.String(), "coalesced") {
		t.Errorf("the log does not say the script timed out and the queue was coalesced:\n%s", logBuf.String())
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] == "Z"
}

func TestScriptOutputAndFailureLogged(t *testing.T) {
	dir := t.TempDir()
	fail := script(t, dir, "fail.sh", "echo out-$1; echo err-$1 >&2; head -c 100000 /dev/zero | tr '\\0' x; exit 3\n")
	var logBuf syncBuf
	n := New(Options{Master: []string{fail, "a"}, Logger: hclog.New(&hclog.LoggerOptions{Output: &logBuf})})
	n.Notify(Event{State: Master})
	n.Close(context.Background())
	l := logBuf.String()
	for _, want := range []string{"notify script failed", "exit=3", "out-a", "err-a", "truncated"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%.600s", want, l)
		}
	}
	if len(l) > 3*maxOutput {
		t.Errorf("log line is %d bytes: output not bounded", len(l))
	}
}

func TestFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "notify.fifo")
	var logBuf syncBuf
	n := New(Options{Instance: "VI_1", Priority: 250, FIFO: fifo, Logger: hclog.New(&hclog.LoggerOptions{Output: &logBuf})})
	// Nobody reads: the line is lost, logged, and nothing blocks (Close
	// returns: the worker got past it).
	n.Notify(Event{State: Backup})
	waitFor(t, "the no-reader warning", func() bool { return strings.Contains(logBuf.String(), "no reader") })
	fi, err := os.Stat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was not created: %v %v", fi, err)
	}
	// A reader like keepalived's sample_notify_fifo.sh: one open, lines.
	f, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n.Notify(Event{State: Master})
	n.Notify(Event{State: Fault})
	n.Close(context.Background())
	if err := syscall.SetNonblock(int(f.Fd()), false); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(f)
	var got []string
	for {
		l, err := r.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l)
	}
	if want := "INSTANCE \"VI_1\" MASTER 250\nINSTANCE \"VI_1\" FAULT 250\n"; strings.Join(got, "") != want {
		t.Errorf("FIFO read %q, want %q", strings.Join(got, ""), want)
	}
}

func TestWebhookRetriedThenDelivered(t *testing.T) {
	var calls atomic.Int32
	got := make(chan Payload, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var p Payload
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&p) != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		got <- p
	}))
	defer srv.Close()
	n := New(Options{Instance: "VI_1", Webhook: srv.URL + "/hook?token=s3cret", WebhookName: srv.URL + "/hook", Backoff: 10 * time.Millisecond})
	n.Notify(Event{State: Master, Previous: Backup, Node: "hosta", Epoch: 7, Holder: "hosta", PreviousHolder: "hostb", Reason: "r"})
	n.Close(context.Background())
	select {
	case p := <-got:
		want := Payload{Instance: "VI_1", Node: "hosta", State: Master, PreviousState: Backup, Priority: DefaultPriority, Epoch: 7, Holder: "hosta", PreviousHolder: "hostb", Reason: "r"}
		if p != want {
			t.Errorf("payload %+v, want %+v", p, want)
		}
	default:
		t.Fatalf("not delivered after %d calls", calls.Load())
	}
	if c := calls.Load(); c != 3 {
		t.Errorf("%d calls, want 3 (two 503s retried)", c)
	}
}

func TestWebhookClientErrorNotRetriedAndNeverBlocks(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-release // the first request hangs
		}
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	defer close(release)
	var logBuf syncBuf
	n := New(Options{Webhook: srv.URL, Queue: 2, Timeout: time.Hour, Logger: hclog.New(&hclog.LoggerOptions{Output: &logBuf})})
	n.Notify(Event{State: Backup})
	waitFor(t, "the first request", func() bool { return calls.Load() == 1 })
	for i := 0; i < 5; i++ { // the hook hangs: Notify returns all the same
		n.Notify(Event{State: Master, Epoch: uint64(i)})
	}
	release <- struct{}{}
	n.Close(context.Background())
	if c := calls.Load(); c != 3 {
		t.Errorf("%d calls, want 3: the hanging one, then the 2 the queue kept; 403 not retried", c)
	}
	if !strings.Contains(logBuf.String(), "oldest events dropped") {
		t.Errorf("the log does not say events were dropped:\n%s", logBuf.String())
	}
}

// Close gives up at its context: a hanging STOP script is killed.
func TestCloseBounded(t *testing.T) {
	dir := t.TempDir()
	n := New(Options{Stop: []string{script(t, dir, "stop.sh", "exec sleep 300\n")}, Timeout: time.Hour})
	n.Notify(Event{State: Stop})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	n.Close(ctx) // returns (else the test hangs)
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestScriptCounts: every run is counted, the failing one also as a failure
// (raftvip_notify_script_*_total).
func TestScriptCounts(t *testing.T) {
	dir := t.TempDir()
	ok := script(t, dir, "ok.sh", "exit 0\n")
	fail := script(t, dir, "fail.sh", "exit 1\n")
	n := New(Options{Master: []string{ok}, Backup: []string{fail}, Logger: hclog.NewNullLogger()})
	n.Notify(Event{State: Master})
	n.Notify(Event{State: Backup, Previous: Master})
	n.Close(context.Background())
	if runs, failures := n.ScriptCounts(); runs != 2 || failures != 1 {
		t.Errorf("ScriptCounts = %d runs, %d failures; want 2, 1", runs, failures)
	}
}
