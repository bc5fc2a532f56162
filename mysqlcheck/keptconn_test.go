package mysqlcheck

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countChecks counts the checks h's checker records from now on (the
// fake server's query count also includes the replication reads).
func countChecks(h *harness) *atomic.Int64 {
	var n atomic.Int64
	h.c.SetObserver(func(string, time.Duration) { n.Add(1) })
	return &n
}

// keptIdle reports whether the checks' kept connection and the watched
// connection are both logged in and open.
func keptIdle(fs *fakeServer) bool {
	return fs.logins.Load() >= 2 && fs.authed.Load() == 2
}

// Periodic checks reuse one connection: many checks, no new login.
func TestChecksReuseTheKeptConnection(t *testing.T) {
	fs := startFakeServer(t)
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 20 * time.Millisecond, Timeout: time.Second,
		Fall: 1, Rise: 1, FreshEvery: time.Hour})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	eventually(t, 2*time.Second, "kept and watched connections open", func() bool { return keptIdle(fs) })
	logins, checks := fs.logins.Load(), countChecks(h)
	eventually(t, 5*time.Second, "30 more checks", func() bool { return checks.Load() >= 30 })
	if n := fs.logins.Load() - logins; n != 0 {
		t.Fatalf("30 periodic checks made %d new logins, want 0 (they reuse the kept connection)", n)
	}
	if n := fs.authed.Load(); n != 2 {
		t.Fatalf("%d connections open, want 2 (kept and watched)", n)
	}
	h.noMoreChanges()
}

// Every FreshEvery a periodic check logs in afresh, so what only a new
// connection shows is seen without a request: an overload (degraded, the
// kept connection stays) and a refused login (unhealthy after Fall).
func TestFreshConnectionEveryFreshEvery(t *testing.T) {
	fs := startFakeServer(t)
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 20 * time.Millisecond, Timeout: time.Second,
		Fall: 2, Rise: 1, FreshEvery: 200 * time.Millisecond})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	eventually(t, 2*time.Second, "kept and watched connections open", func() bool { return keptIdle(fs) })
	logins, checks := fs.logins.Load(), countChecks(h)
	eventually(t, 5*time.Second, "two periodic fresh connections", func() bool { return fs.logins.Load() >= logins+2 })
	if n, l := checks.Load(), fs.logins.Load()-logins; n < 2*l {
		t.Fatalf("%d checks made %d new logins: the checks between fresh ones did not reuse", n, l)
	}

	fs.setMode(modeTooMany)
	eventually(t, 5*time.Second, "the overload seen by a periodic fresh connection", func() bool { return h.c.Current().Degraded })
	if st := h.c.Current(); !st.Healthy || st.Class != ClassOverloaded {
		t.Fatalf("overload: %+v, want healthy, overloaded", st)
	}
	if n := fs.authed.Load(); n != 2 {
		t.Fatalf("%d logged-in connections during the overload, want 2: the kept one is not given up", n)
	}
	h.noMoreChanges()

	fs.setMode(modeAuthFail)
	st := h.nextChange(5 * time.Second)
	if st.Healthy || st.Class != ClassAuth || st.Failures != 2 {
		t.Fatalf("refused login: change %+v, want unhealthy auth after Fall=2", st)
	}
}

// A kept connection that the server ended (KILL, wait_timeout, a restart
// between two checks) is replaced at once by a fresh one within the same
// check, and only the fresh one's outcome counts: here it is ok, so no
// failure is recorded, even with Fall = 1.
func TestBrokenKeptConnectionIsReplaced(t *testing.T) {
	fs := startFakeServer(t)
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 20 * time.Millisecond, Timeout: time.Second,
		Fall: 1, Rise: 1, FreshEvery: time.Hour})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	eventually(t, 2*time.Second, "kept and watched connections open", func() bool { return keptIdle(fs) })
	logins := fs.logins.Load()
	if n := fs.DropQueried(); n != 1 {
		t.Fatalf("dropped %d query connections, want the kept one", n)
	}
	eventually(t, 3*time.Second, "kept connection replaced", func() bool {
		return strings.Contains(h.logs.String(), "kept connection failed; checking on a fresh one") &&
			fs.logins.Load() == logins+1 && fs.authed.Load() == 2
	})
	checks := countChecks(h)
	eventually(t, 3*time.Second, "checks on the new kept connection", func() bool { return checks.Load() >= 10 })
	if st := h.c.Current(); !st.Healthy || st.Class != ClassOK || st.Failures != 0 {
		t.Fatalf("after the kept connection broke: %+v, want healthy ok", st)
	}
	if n := fs.logins.Load() - logins; n != 1 {
		t.Fatalf("%d new logins, want the one replacement", n)
	}
	h.noMoreChanges()
}

// A kept connection that breaks while the server refuses new ones is
// classified by the fresh attempt, as when every check was fresh: a reset
// is "closed", counted (Fall = 1 here).
func TestBrokenKeptConnectionThenResetIsClosed(t *testing.T) {
	fs := startFakeServer(t)
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 20 * time.Millisecond, Timeout: time.Second,
		Fall: 1, Rise: 1, FreshEvery: time.Hour})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	eventually(t, 2*time.Second, "kept and watched connections open", func() bool { return keptIdle(fs) })
	fs.setMode(modeReset)
	fs.DropQueried()
	st := h.nextChange(2 * time.Second)
	if st.Healthy || st.Class != ClassClosed {
		t.Fatalf("change %+v, want unhealthy closed", st)
	}
	h.noMoreChanges()
}

// A server that stops answering the kept connection (hung: the session is
// open, the query never answered) times out on it like a fresh check,
// and the node is unhealthy once FailAfter has passed without a success.
func TestKeptConnectionHangTimesOut(t *testing.T) {
	fs := startFakeServer(t)
	const timeout, failAfter = 300 * time.Millisecond, 600 * time.Millisecond
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 20 * time.Millisecond, Timeout: timeout,
		Fall: 2, Rise: 1, FailAfter: failAfter, FreshEvery: time.Hour})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	eventually(t, 2*time.Second, "kept and watched connections open", func() bool { return keptIdle(fs) })
	logins := fs.logins.Load()
	fs.setMode(modeHang)
	fs.queryDelay.Store(int64(2 * time.Second))
	st := h.nextChange(failAfter + 3*time.Second)
	if st.Healthy || st.Class != ClassTimeout {
		t.Fatalf("change %+v, want unhealthy timeout", st)
	}
	if d := st.Checked.Sub(st.FirstFailure); d < failAfter {
		t.Fatalf("unhealthy %v after the first unanswered check, before fail_after %v", d, failAfter)
	}
	if fs.logins.Load() != logins {
		t.Fatalf("logins %d → %d: the hang was not met on the kept connection", logins, fs.logins.Load())
	}
	if !strings.Contains(h.logs.String(), "trigger=timer class=timeout") {
		t.Fatalf("no periodic check timed out on the kept connection:\n%s", h.logs.String())
	}
	fs.queryDelay.Store(0)
	h.noMoreChanges()
}

// A new DSN drops the kept connection: the checks move to the new server
// and keep one connection there.
func TestReconfigureDSNDropsKeptConnection(t *testing.T) {
	a, b := startFakeServer(t), startFakeServer(t)
	h := startChecker(t, Config{DSN: dsnFor(a.addr), Interval: 20 * time.Millisecond, Timeout: time.Second,
		Fall: 1, Rise: 1, FreshEvery: time.Hour})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	eventually(t, 2*time.Second, "kept and watched connections to a", func() bool { return keptIdle(a) })
	if err := h.c.Reconfigure(Config{DSN: dsnFor(b.addr)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "both connections moved to b", func() bool { return keptIdle(b) && a.authed.Load() == 0 })
	aq, bl, checks := a.queries.Load(), b.logins.Load(), countChecks(h)
	eventually(t, 3*time.Second, "checks on b", func() bool { return checks.Load() >= 10 })
	if a.queries.Load() != aq || b.logins.Load() != bl {
		t.Fatalf("after the move: a queried %d more times, b logged in %d more times; want 0 and 0",
			a.queries.Load()-aq, b.logins.Load()-bl)
	}
	h.noMoreChanges()
}
