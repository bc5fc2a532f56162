package mysqlcheck

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
)

// testPassword must never show up in logs, statuses or errors.
const testPassword = "pw-S3cr3t-9f2Q"

// lockedBuffer collects hclog output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func dsnFor(addr string) string {
	return "checker:" + testPassword + "@tcp(" + addr + ")/"
}

// harness runs one checker and, at cleanup, stops it and verifies that the
// password appeared in no log line and no Status it produced.
type harness struct {
	t    *testing.T
	c    *Checker
	logs *lockedBuffer
	seen []Status // every value read from Changes
}

func startChecker(t *testing.T, cfg Config) *harness {
	t.Helper()
	logs := &lockedBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Name: "test", Output: logs, Level: hclog.Trace})
	c, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{t: t, c: c, logs: logs}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testPassword) {
			t.Errorf("password found in logs:\n%s", logs.String())
		}
		for _, st := range append(h.seen, c.Current()) {
			if strings.Contains(st.Error, testPassword) {
				t.Errorf("password found in Status.Error %q", st.Error)
			}
		}
		if t.Failed() {
			t.Logf("checker logs:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return within 5s after cancel")
		}
	})
	return h
}

// eventually polls cond every 10 ms until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nextChange waits for one value from Changes.
func (h *harness) nextChange(within time.Duration) Status {
	h.t.Helper()
	select {
	case st := <-h.c.Changes():
		h.seen = append(h.seen, st)
		return st
	case <-time.After(within):
		h.t.Fatalf("no health change within %v; current %+v", within, h.c.Current())
		return Status{}
	}
}

// noMoreChanges fails if Changes holds a value beyond the ones consumed.
func (h *harness) noMoreChanges() {
	h.t.Helper()
	select {
	case st := <-h.c.Changes():
		h.seen = append(h.seen, st)
		h.t.Fatalf("unexpected extra health change %+v", st)
	case <-time.After(100 * time.Millisecond):
	}
}

// checkNowAndWait asks for a check and waits until it has been recorded.
func (h *harness) checkNowAndWait(within time.Duration) Status {
	h.t.Helper()
	before := h.c.Current().Checked
	h.c.CheckNow()
	var st Status
	eventually(h.t, within, "requested check recorded", func() bool {
		st = h.c.Current()
		return st.Checked.After(before)
	})
	return st
}

func TestNewDefaultsAndValidation(t *testing.T) {
	c, err := New(Config{DSN: dsnFor("127.0.0.1:3306")}, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c.cfg.Query != DefaultQuery || c.cfg.Interval != DefaultInterval || c.cfg.Timeout != DefaultTimeout ||
		c.cfg.Fall != DefaultFall || c.cfg.Rise != DefaultRise {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
	st := c.Current()
	if st.Healthy || st.Class != ClassStarting {
		t.Errorf("start status = %+v, want unhealthy %q", st, ClassStarting)
	}

	for name, cfg := range map[string]Config{
		"empty DSN":         {},
		"negative interval": {DSN: dsnFor("127.0.0.1:3306"), Interval: -time.Second},
		"negative timeout":  {DSN: dsnFor("127.0.0.1:3306"), Timeout: -time.Second},
		"negative fall":     {DSN: dsnFor("127.0.0.1:3306"), Fall: -1},
		"negative rise":     {DSN: dsnFor("127.0.0.1:3306"), Rise: -1},
	} {
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		} else if strings.Contains(err.Error(), testPassword) {
			t.Errorf("%s: error leaks the password: %v", name, err)
		}
	}
}

func TestNewBadDSNHidesPassword(t *testing.T) {
	const pw = testPassword
	leakingRaw := 0
	for _, dsn := range []string{
		"checker:" + pw + "/db",                              // forgot '@': driver takes "checker:<pw>" as network name
		"checker:" + pw,                                      // no slash at all
		"checker:" + pw + "@tcp(127.0.0.1:3306",              // unterminated address, no slash
		"checker:" + pw + "@tcp(127.0.0.1:3306/db",           // unterminated address
		"checker:" + pw + "@bogusnet/db",                     // unknown network
		"checker:" + pw + "@tcp(127.0.0.1)/db?timeout=" + pw, // parameter value echoed
		"checker:" + pw + "@tcp(127.0.0.1)/db?tls=" + pw,     // parameter value echoed
		"checker:" + pw + "@tcp(127.0.0.1)/db%zz",            // bad escape in dbname
	} {
		_, rawErr := mysql.ParseDSN(dsn)
		if rawErr == nil {
			t.Fatalf("test DSN %q unexpectedly parses", Redact(dsn))
		}
		if strings.Contains(rawErr.Error(), pw) {
			leakingRaw++
		}
		_, err := New(Config{DSN: dsn}, nil)
		if err == nil {
			t.Errorf("New accepted bad DSN %q", Redact(dsn))
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("New error leaks the password: %v", err)
		}
		if !strings.Contains(err.Error(), "DSN") {
			t.Errorf("New error %q does not say what failed", err)
		}
	}
	// Guard against a vacuous test: the driver's own errors do echo the
	// password for some of these inputs, so the scrubbing is load-bearing.
	if leakingRaw == 0 {
		t.Errorf("no driver parse error contained the password; the inputs no longer exercise scrubbing")
	}
}

func TestRecordHysteresis(t *testing.T) {
	c, err := New(Config{DSN: dsnFor("127.0.0.1:3306"), Interval: 10 * time.Second, Fall: 3, Rise: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fail := &mysql.MySQLError{Number: 1045, Message: "Access denied"}
	type step struct {
		err       error
		healthy   bool
		successes int
		failures  int
		flip      bool
		next      time.Duration
	}
	steps := []step{
		{nil, false, 1, 0, false, 10 * time.Second},
		{nil, true, 2, 0, true, 10 * time.Second}, // Rise reached
		{nil, true, 3, 0, false, 10 * time.Second},
		{fail, true, 0, 1, false, settlePause}, // failing while healthy: follow up at once
		{fail, true, 0, 2, false, settlePause},
		{nil, true, 1, 0, false, 10 * time.Second}, // a success settles it: still healthy
		{fail, true, 0, 1, false, settlePause},
		{fail, true, 0, 2, false, settlePause},
		{fail, false, 0, 3, true, 10 * time.Second}, // Fall reached
		{fail, false, 0, 4, false, 10 * time.Second},
		{nil, false, 1, 0, false, 10 * time.Second},
		{fail, false, 0, 1, false, 10 * time.Second}, // unhealthy: no hurry
		{nil, false, 1, 0, false, 10 * time.Second},
		{nil, true, 2, 0, true, 10 * time.Second},
	}
	for i, s := range steps {
		next := c.record(s.err, time.Now(), time.Millisecond, "test")
		st := c.Current()
		if st.Healthy != s.healthy || st.Successes != s.successes || st.Failures != s.failures || next != s.next {
			t.Fatalf("step %d: got healthy=%v successes=%d failures=%d next=%v, want %+v",
				i, st.Healthy, st.Successes, st.Failures, next, s)
		}
		wantClass := ClassOK
		if s.err != nil {
			wantClass = ClassAuth
		}
		if st.Class != wantClass || (s.err == nil) != (st.Error == "") {
			t.Fatalf("step %d: class %q error %q", i, st.Class, st.Error)
		}
		select {
		case ch := <-c.Changes():
			if !s.flip {
				t.Fatalf("step %d: unexpected change %+v", i, ch)
			}
			if ch != st {
				t.Fatalf("step %d: change %+v differs from Current %+v", i, ch, st)
			}
			if !ch.Since.Equal(ch.Checked) {
				t.Fatalf("step %d: Since %v not the flip time %v", i, ch.Since, ch.Checked)
			}
		default:
			if s.flip {
				t.Fatalf("step %d: flip not published", i)
			}
		}
	}

	// A watched-connection event while unhealthy also asks for
	// back-to-back checks until Fall failures.
	c.mu.Lock()
	c.settling = true
	c.mu.Unlock()
	for i, want := range []time.Duration{settlePause, settlePause, 10 * time.Second} {
		if next := c.record(fail, time.Now(), time.Millisecond, "test"); next != want {
			t.Fatalf("after watch event, failure %d: next %v, want %v", i+1, next, want)
		}
	}
	if <-c.Changes(); c.Current().Healthy {
		t.Fatalf("still healthy after Fall failures")
	}
}

func TestChangesDropsOldestNeverBlocks(t *testing.T) {
	c, err := New(Config{DSN: dsnFor("127.0.0.1:3306")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3 * changesBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			c.publish(Status{Failures: i})
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publish blocked without a reader")
	}
	var got []int
	for len(c.Changes()) > 0 {
		got = append(got, (<-c.Changes()).Failures)
	}
	if len(got) != changesBuffer || got[len(got)-1] != n {
		t.Fatalf("buffered changes %v: want the %d newest ending with %d", got, changesBuffer, n)
	}
}

func TestHealthyThenAuthFailureThenRecovery(t *testing.T) {
	fs := startFakeServer(t)
	// Interval is long: every check here is requested, a follow-up, or
	// watcher-driven, so the counts below are exact.
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 10 * time.Second, Timeout: 2 * time.Second, Fall: 2, Rise: 2})

	eventually(t, 2*time.Second, "first check", func() bool { return h.c.Current().Class != ClassStarting })
	if st := h.c.Current(); st.Healthy || st.Class != ClassOK || st.Successes != 1 || st.Error != "" {
		t.Fatalf("after one success: %+v, want unhealthy ok successes=1", st)
	}
	h.checkNowAndWait(2 * time.Second)
	st := h.nextChange(2 * time.Second)
	if !st.Healthy || st.Successes != 2 || st.Class != ClassOK {
		t.Fatalf("rise change = %+v, want healthy after 2 successes", st)
	}
	h.noMoreChanges()
	if fs.queries.Load() < 2 {
		t.Fatalf("server saw %d queries, want a real query per check", fs.queries.Load())
	}

	fs.setMode(modeAuthFail)
	h.c.CheckNow()
	// One requested failure; the second must be a quick follow-up, not
	// 10 s later.
	st = h.nextChange(2 * time.Second)
	if st.Healthy || st.Class != ClassAuth || st.Failures != 2 {
		t.Fatalf("fall change = %+v, want unhealthy auth after 2 failures", st)
	}
	if !strings.Contains(st.Error, "Access denied") || strings.Contains(st.Error, testPassword) {
		t.Fatalf("Error = %q, want the server's message without the password", st.Error)
	}
	h.noMoreChanges()

	fs.setMode(modeOK)
	if st := h.checkNowAndWait(2 * time.Second); st.Healthy || st.Successes != 1 {
		t.Fatalf("after one success while unhealthy: %+v, want still unhealthy (rise 2)", st)
	}
	h.checkNowAndWait(2 * time.Second)
	st = h.nextChange(2 * time.Second)
	if !st.Healthy || st.Successes != 2 {
		t.Fatalf("recovery change = %+v", st)
	}
	h.noMoreChanges()
}

func TestHangingServerTimesOut(t *testing.T) {
	fs := startFakeServer(t)
	fs.setMode(modeHang)
	const timeout = 300 * time.Millisecond
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 10 * time.Second, Timeout: timeout, Fall: 1, Rise: 1})

	// The server accepted TCP and never sends the handshake: the check must
	// end by the context, not by hanging until Interval or forever.
	eventually(t, timeout+2*time.Second, "hung check to finish", func() bool {
		return h.c.Current().Class != ClassStarting
	})
	st := h.c.Current()
	if st.Class != ClassTimeout || st.Healthy {
		t.Fatalf("status = %+v, want unhealthy timeout", st)
	}
	if st.Latency < timeout/2 || st.Latency > timeout+time.Second {
		t.Fatalf("latency %v, want about the %v timeout", st.Latency, timeout)
	}
}

// A healthy server that stops answering is unhealthy once FailAfter has
// passed since it was first asked without an answer: not after Fall
// timeouts (two here would be 600 ms), and not before.
func TestHealthyServerHangsThenTimesOut(t *testing.T) {
	fs := startFakeServer(t)
	const timeout, failAfter = 300 * time.Millisecond, time.Second
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 10 * time.Second, Timeout: timeout, Fall: 2, Rise: 1, FailAfter: failAfter})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	fs.setMode(modeHang)
	h.c.CheckNow()
	st := h.nextChange(failAfter + 2*time.Second)
	if st.Healthy || st.Class != ClassTimeout || st.Failures < 3 {
		t.Fatalf("change %+v, want unhealthy timeout after more than Fall timeouts", st)
	}
	if d := st.Checked.Sub(st.FirstFailure); d < failAfter {
		t.Fatalf("unhealthy %v after the first unanswered check, before fail_after %v", d, failAfter)
	}
	h.noMoreChanges()
}

func TestErrorClassesAgainstFakeServer(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name  string
		mode  fakeMode
		addr  string
		class string
	}{
		{"refused", 0, closedAddr, ClassRefused},
		{"auth", modeAuthFail, "", ClassAuth},
		{"overloaded", modeTooMany, "", ClassOverloaded},
		{"closed", modeCloseEarly, "", ClassClosed},
		{"ok", modeOK, "", ClassOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr
			if addr == "" {
				fs := startFakeServer(t)
				fs.setMode(tc.mode)
				addr = fs.addr
			}
			h := startChecker(t, Config{DSN: dsnFor(addr), Interval: 10 * time.Second, Timeout: 2 * time.Second})
			eventually(t, 3*time.Second, "first check", func() bool { return h.c.Current().Class != ClassStarting })
			st := h.c.Current()
			if st.Class != tc.class {
				t.Fatalf("class %q (error %q), want %q", st.Class, st.Error, tc.class)
			}
			if (tc.class == ClassOK) != (st.Error == "") {
				t.Fatalf("Error %q does not match class %q", st.Error, st.Class)
			}
			if st.Degraded != (tc.class == ClassOverloaded) {
				t.Fatalf("Degraded=%v with class %q", st.Degraded, st.Class)
			}
			if st.Healthy != (tc.class == ClassOK) {
				t.Fatalf("healthy=%v with class %q (Rise 1)", st.Healthy, st.Class)
			}
		})
	}
}

// watchedIdle reports whether the first check's connection and the watched
// connection have both logged in and only one is still open: the watched
// one, since a check connection closes after its query.
func watchedIdle(fs *fakeServer) bool {
	return fs.logins.Load() >= 2 && fs.authed.Load() == 1
}

func TestWatchedConnectionDetectsKilledServer(t *testing.T) {
	fs := startFakeServer(t)
	// With a 10 s Interval only the watched connection can explain a
	// detection within the 2 s deadline below.
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 10 * time.Second, Timeout: time.Second, Fall: 2, Rise: 1})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	// The check connection closes after its query; the one left open is
	// the watched connection.
	eventually(t, 2*time.Second, "watched connection logged in and idle", func() bool { return watchedIdle(fs) })

	killed := time.Now()
	fs.Kill()
	st := h.nextChange(2 * time.Second)
	t.Logf("killed server detected after %v", time.Since(killed))
	if st.Healthy || st.Failures != 2 {
		t.Fatalf("change %+v, want unhealthy after Fall=2 failures", st)
	}
	if st.Class != ClassRefused {
		t.Fatalf("class %q (error %q), want refused", st.Class, st.Error)
	}
	h.noMoreChanges()
}

func TestWatchedConnectionDropTriggersCheckAndReopens(t *testing.T) {
	fs := startFakeServer(t)
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 10 * time.Second, Timeout: time.Second, Fall: 2, Rise: 1})
	h.nextChange(2 * time.Second)
	eventually(t, 2*time.Second, "watched connection idle", func() bool { return watchedIdle(fs) })
	checked := h.c.Current().Checked
	logins := fs.logins.Load()

	// The server drops its connections but still serves (e.g. it killed
	// idle sessions): the immediate check succeeds and nothing flips.
	fs.DropConns()
	eventually(t, 2*time.Second, "check triggered by the dropped watched connection", func() bool {
		return h.c.Current().Checked.After(checked)
	})
	if st := h.c.Current(); !st.Healthy || st.Class != ClassOK {
		t.Fatalf("status %+v, want still healthy", st)
	}
	eventually(t, 3*time.Second, "watched connection re-opened", func() bool {
		return fs.logins.Load() >= logins+2 && fs.authed.Load() == 1
	})
	h.noMoreChanges()
}

func TestRunClosesWatchedConnection(t *testing.T) {
	fs := startFakeServer(t)
	c, err := New(Config{DSN: dsnFor(fs.addr), Interval: 10 * time.Second, Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	eventually(t, 2*time.Second, "watched connection open", func() bool { return watchedIdle(fs) })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	eventually(t, 2*time.Second, "server sees the watched connection closed", func() bool { return fs.authed.Load() == 0 })
}

func TestClassify(t *testing.T) {
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ClassOK},
		{opErr(syscall.ECONNREFUSED), ClassRefused},
		{context.DeadlineExceeded, ClassTimeout},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, ClassTimeout},
		{&mysql.MySQLError{Number: 1045}, ClassAuth},
		{&mysql.MySQLError{Number: 1044}, ClassAuth},
		{&mysql.MySQLError{Number: 1698}, ClassAuth},
		{&mysql.MySQLError{Number: 1130}, ClassAuth},
		{errors.Join(errors.New("ctx"), &mysql.MySQLError{Number: 1045}), ClassAuth},
		{mysql.ErrNativePassword, ClassAuth},
		{&mysql.MySQLError{Number: 1040}, ClassOverloaded},
		{&mysql.MySQLError{Number: 1203}, ClassOverloaded},
		{&mysql.MySQLError{Number: 1226}, ClassOverloaded},
		{&mysql.MySQLError{Number: 1053}, ClassClosed},
		{&mysql.MySQLError{Number: 1927}, ClassClosed},
		{&UnexpectedError{Expect: "1", Got: "0"}, ClassUnexpected},
		{&mysql.MySQLError{Number: 1146}, ClassServer},
		{mysql.ErrInvalidConn, ClassClosed},
		{opErr(syscall.ECONNRESET), ClassClosed},
		{&net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}, ClassDNS},
		{opErr(syscall.EHOSTUNREACH), ClassUnreachable},
		{opErr(syscall.ENETUNREACH), ClassUnreachable},
		{errors.New("something else"), ClassOther},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestReconfigure(t *testing.T) {
	c, err := New(Config{DSN: "u:pw@tcp(127.0.0.1:1)/", Interval: time.Second, Timeout: time.Second, Fall: 2, Rise: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Reconfigure(Config{Interval: 3 * time.Second, Fall: 5}); err != nil {
		t.Fatal(err)
	}
	got := c.conf()
	if got.Interval != 3*time.Second || got.Fall != 5 || got.Rise != 2 || got.Timeout != time.Second {
		t.Fatalf("after reconfigure: %+v", got)
	}
	if err := c.Reconfigure(Config{DSN: "u:other@tcp(127.0.0.1:1/"}); err == nil || strings.Contains(err.Error(), "other") {
		t.Fatalf("bad DSN: %v", err)
	}
	if c.conf().DSN != "u:pw@tcp(127.0.0.1:1)/" {
		t.Fatal("a refused DSN replaced the running one")
	}
	if err := c.Reconfigure(Config{Timeout: -time.Second}); err == nil {
		t.Fatal("negative timeout accepted")
	}
}

// A new DSN (SIGHUP after a password rotation or a move) is used from the
// next check on, by the checks and by the watched connection, and neither
// password reaches a log line or a status.
func TestReconfigureDSN(t *testing.T) {
	a, b := startFakeServer(t), startFakeServer(t)
	h := startChecker(t, Config{DSN: dsnFor(a.addr), Interval: 10 * time.Second, Timeout: 2 * time.Second, Fall: 1, Rise: 1})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	eventually(t, 2*time.Second, "watched connection to a", func() bool { return a.authed.Load() == 1 })

	newDSN := "checker:" + testPassword + "-rotated@tcp(" + b.addr + ")/"
	if err := h.c.Reconfigure(Config{DSN: newDSN}); err != nil {
		t.Fatal(err)
	}
	// The watched connection moves to b; a then dies and nobody notices,
	// because the checks go to b too.
	eventually(t, 2*time.Second, "watched connection moved to b", func() bool { return b.authed.Load() == 1 && a.authed.Load() == 0 })
	a.Kill()
	before := b.queries.Load()
	if st := h.checkNowAndWait(2 * time.Second); !st.Healthy || st.Class != ClassOK {
		t.Fatalf("check after the DSN change: %+v, want healthy from b", st)
	}
	if b.queries.Load() == before {
		t.Fatal("the check after the DSN change did not query b")
	}
	h.noMoreChanges()
	// And b's loss is seen through the new watched connection.
	b.Kill()
	if st := h.nextChange(3 * time.Second); st.Healthy {
		t.Fatalf("b killed: %+v, want unhealthy", st)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "reconfigured") || !strings.Contains(logs, b.addr) {
		t.Errorf("no reconfigured line naming the new server:\n%s", logs)
	}
}
