package sched

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	for _, s := range []string{"high", "realtime", "normal"} {
		if p, err := Parse(s); err != nil || string(p) != s {
			t.Errorf("Parse(%q) = %q, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "High", "rt", "-10"} {
		if _, err := Parse(s); err == nil || !strings.Contains(err.Error(), "want high, realtime or normal") {
			t.Errorf("Parse(%q): error %v, want one naming the choices", s, err)
		}
	}
}

// stat returns a task's nice value and scheduling policy from
// /proc/<path>/stat (fields 19 and 41); ok is false when the task is gone.
func statOK(t *testing.T, path string) (nice, policy int, ok bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + path + "/stat")
	if os.IsNotExist(err) || errors.Is(err, syscall.ESRCH) {
		return 0, 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) may hold spaces: count from after it.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	nice, _ = strconv.Atoi(f[19-3])
	policy, _ = strconv.Atoi(f[41-3])
	return nice, policy, true
}

func stat(t *testing.T, path string) (nice, policy int) {
	t.Helper()
	n, p, ok := statOK(t, path)
	if !ok {
		t.Fatalf("/proc/%s: gone", path)
	}
	return n, p
}

func allThreads(t *testing.T, want func(nice, policy int) bool) {
	t.Helper()
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		n, p, ok := statOK(t, "self/task/"+strconv.Itoa(tid))
		if ok && !want(n, p) {
			t.Errorf("thread %d: nice %d policy %d", tid, n, p)
		}
	}
}

// newThread runs f on an OS thread the runtime makes now: a goroutine
// locked to its thread keeps it, so the next one needs a fresh thread.
func newThread(f func()) {
	done := make(chan struct{})
	hold := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		<-hold
	}()
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		f()
		close(done)
	}()
	<-done
	close(hold)
}

func TestApplyEveryThreadAndTheNextOnes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_NICE) to raise priority; run as root")
	}
	if err := Apply(High); err != nil {
		t.Fatal(err)
	}
	allThreads(t, func(n, p int) bool { return n == HighNice && p == unix.SCHED_NORMAL })
	newThread(func() {
		n, _ := stat(t, "self/task/"+strconv.Itoa(unix.Gettid()))
		if n != HighNice {
			t.Errorf("a thread made after Apply: nice %d, want %d", n, HighNice)
		}
	})

	if err := Apply(Realtime); err != nil {
		t.Fatal(err)
	}
	allThreads(t, func(_, p int) bool { return p == unix.SCHED_RR })

	// A child inherits it; Reset puts it back.
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := strconv.Itoa(cmd.Process.Pid)
	if _, p := stat(t, pid); p != unix.SCHED_RR {
		t.Fatalf("child policy %d before Reset, want SCHED_RR (%d): the test shows nothing", p, unix.SCHED_RR)
	}
	if err := Reset(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if n, p := stat(t, pid); n != 0 || p != unix.SCHED_NORMAL {
		t.Fatalf("child after Reset: nice %d policy %d, want 0 and SCHED_NORMAL", n, p)
	}
	// Back to normal for the rest of this test binary.
	for _, tid := range mustThreads(t) {
		_ = Reset(tid)
	}
}

func mustThreads(t *testing.T) []int {
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	return tids
}

func TestNormalChangesNothing(t *testing.T) {
	before, _ := stat(t, "self")
	if err := Apply(Normal); err != nil {
		t.Fatal(err)
	}
	if after, _ := stat(t, "self"); after != before {
		t.Fatalf("nice %d → %d after Apply(normal)", before, after)
	}
}
