package mysqlcheck

import (
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The failure model's decisions (record) take the check's end time and
// latency as arguments, so these tests drive them with a synthetic clock:
// no sleeping, no timed assertions.

var (
	errTimeout  = context.DeadlineExceeded
	errRefused  = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	errTooMany  = &mysql.MySQLError{Number: 1040, Message: "Too many connections"}
	errUserConn = &mysql.MySQLError{Number: 1203, Message: "User checker already has more than 'max_user_connections' active connections"}
	errLimit    = &mysql.MySQLError{Number: 1226, Message: "User 'checker' has exceeded the 'max_user_connections' resource"}
)

// clockStep is one recorded check: it ended at ms (synthetic milliseconds)
// after running for lat ms.
type clockStep struct {
	ms, lat int
	err     error
	healthy bool
}

func runSteps(t *testing.T, c *Checker, t0 time.Time, steps []clockStep) {
	t.Helper()
	for i, s := range steps {
		c.record(s.err, t0.Add(time.Duration(s.ms)*time.Millisecond), time.Duration(s.lat)*time.Millisecond, "test")
		st := c.Current()
		if st.Healthy != s.healthy {
			t.Fatalf("step %d (t=%dms, %s): healthy=%v, want %v; status %+v", i, s.ms, Classify(s.err), st.Healthy, s.healthy, st)
		}
	}
}

func healthyRecorder(t *testing.T, cfg Config) (*Checker, time.Time) {
	t.Helper()
	cfg.DSN = dsnFor("127.0.0.1:3306")
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.record(nil, t0, time.Millisecond, "test")
	if !c.Current().Healthy {
		t.Fatal("not healthy after a success with Rise 1")
	}
	<-c.Changes()
	return c, t0
}

// Timeouts turn the node unhealthy only once FailAfter has passed since the
// first unanswered check began, however many there were; a success starts
// the count again.
func TestRecordFailAfterTimeouts(t *testing.T) {
	c, t0 := healthyRecorder(t, Config{Interval: 500 * time.Millisecond, Timeout: 300 * time.Millisecond, Fall: 2, Rise: 1, FailAfter: time.Second})
	runSteps(t, c, t0, []clockStep{
		// The first unanswered check starts at 100 ms.
		{400, 300, errTimeout, true},
		{725, 300, errTimeout, true}, // two timeouts: Fall does not count them
		{1050, 300, errTimeout, true},
		{1099, 24, errTimeout, true}, // 999 ms without a success: not yet
		{1105, 5, errTimeout, false}, // 1005 ms: now
		{1500, 300, errTimeout, false},
		{1600, 1, nil, true},
	})
	if st := c.Current(); st.Failures != 0 || !st.FirstFailure.IsZero() {
		t.Fatalf("after a success: %+v", st)
	}

	// A success in between restarts the count.
	c, t0 = healthyRecorder(t, Config{Interval: 500 * time.Millisecond, Timeout: 300 * time.Millisecond, Fall: 2, Rise: 1, FailAfter: time.Second})
	runSteps(t, c, t0, []clockStep{
		{300, 300, errTimeout, true}, // run from 0
		{900, 300, errTimeout, true},
		{950, 2, nil, true},
		{1300, 300, errTimeout, true}, // run from 1000
		{1900, 300, errTimeout, true},
		{1995, 90, errTimeout, true},
		{2000, 5, errTimeout, false},
	})
}

// Refusals (and every other answer that is not health) count towards Fall,
// so a killed server is unhealthy after Fall quick checks, not after
// FailAfter.
func TestRecordFallCountsRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []clockStep
	}{
		{"refused twice", []clockStep{{1, 1, errRefused, true}, {27, 1, errRefused, false}}},
		{"timeout then refused", []clockStep{{300, 300, errTimeout, true}, {326, 1, errRefused, false}}},
		// The last failure is silence: only FailAfter can end it.
		{"refused then timeouts", []clockStep{{1, 1, errRefused, true}, {326, 300, errTimeout, true},
			{651, 300, errTimeout, true}, {999, 300, errTimeout, true}, {1001, 2, errTimeout, false}}},
		{"auth twice", []clockStep{{1, 1, &mysql.MySQLError{Number: 1045}, true}, {27, 1, &mysql.MySQLError{Number: 1045}, false}}},
		{"unexpected twice", []clockStep{{1, 1, &UnexpectedError{Expect: "0", Got: "1"}, true}, {27, 1, &UnexpectedError{Expect: "0", Got: "1"}, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, t0 := healthyRecorder(t, Config{Interval: 500 * time.Millisecond, Timeout: 300 * time.Millisecond, Fall: 2, Rise: 1, FailAfter: time.Second})
			runSteps(t, c, t0, tc.steps)
		})
	}
}

// Overload errors never turn the node unhealthy, whatever their number or
// length; they mark it degraded, end a run of failures (the server
// answered), count for neither Fall nor Rise, and do not ask for
// back-to-back checks.
func TestRecordOverloadIsDegradedNotDead(t *testing.T) {
	c, t0 := healthyRecorder(t, Config{Interval: 500 * time.Millisecond, Timeout: time.Second, Fall: 2, Rise: 1, FailAfter: time.Second})
	ms := 0
	for burst := 0; burst < 10; burst++ {
		for i, err := range []error{errTooMany, errUserConn, errLimit} {
			ms += 100
			next := c.record(err, t0.Add(time.Duration(ms)*time.Millisecond), time.Millisecond, "test")
			st := c.Current()
			if !st.Healthy || !st.Degraded || st.Class != ClassOverloaded || st.Failures != 0 {
				t.Fatalf("burst %d check %d: %+v, want healthy, degraded, class overloaded, no failures", burst, i, st)
			}
			if next != 500*time.Millisecond {
				t.Fatalf("burst %d check %d: next check in %v, want Interval (no back-to-back checks against an overloaded server)", burst, i, next)
			}
		}
		ms += 300
		c.record(nil, t0.Add(time.Duration(ms)*time.Millisecond), time.Millisecond, "test")
		if st := c.Current(); !st.Healthy || st.Degraded || st.Class != ClassOK {
			t.Fatalf("after burst %d: %+v", burst, st)
		}
	}
	select {
	case ch := <-c.Changes():
		t.Fatalf("an overload changed the verdict: %+v", ch)
	default:
	}

	// An overload between timeouts is an answer: the silence starts again.
	runSteps(t, c, t0.Add(time.Hour), []clockStep{
		{900, 900, errTimeout, true},
		{950, 1, errTooMany, true},
		{1900, 900, errTimeout, true},
		{1951, 50, errTimeout, true}, // 1001 ms since 950, but only 951 ms of silence
		{2002, 50, errTimeout, false},
	})

	// Starting (unhealthy), overloads are no success: Rise is not reached.
	c, err := New(Config{DSN: dsnFor("127.0.0.1:3306"), Rise: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		c.record(errTooMany, t0.Add(time.Duration(i)*time.Second), time.Millisecond, "test")
	}
	if st := c.Current(); st.Healthy || !st.Degraded || st.Successes != 0 {
		t.Fatalf("starting server answering 1040: %+v, want unhealthy and degraded", st)
	}
}

// checkBound cuts a check while healthy so that the verdict falls at
// FailAfter, not at a longer Timeout.
func TestCheckBound(t *testing.T) {
	c, t0 := healthyRecorder(t, Config{Timeout: 5 * time.Second, FailAfter: time.Second})
	if got := c.checkBound(t0); got != time.Second {
		t.Fatalf("first check of a run: bound %v, want FailAfter 1s", got)
	}
	c.record(errTimeout, t0.Add(300*time.Millisecond), 300*time.Millisecond, "test")
	if got := c.checkBound(t0.Add(325 * time.Millisecond)); got != 675*time.Millisecond {
		t.Fatalf("follow-up: bound %v, want the 675ms left of FailAfter", got)
	}
	c.record(errTimeout, t0.Add(time.Second), 675*time.Millisecond, "test")
	if c.Current().Healthy {
		t.Fatal("healthy after a second without an answer")
	}
	if got := c.checkBound(t0.Add(2 * time.Second)); got != 5*time.Second {
		t.Fatalf("unhealthy: bound %v, want Timeout", got)
	}
	c2, t1 := healthyRecorder(t, Config{Timeout: 300 * time.Millisecond, FailAfter: time.Second})
	if got := c2.checkBound(t1); got != 300*time.Millisecond {
		t.Fatalf("Timeout below FailAfter: bound %v, want Timeout", got)
	}
}

// Each outcome against the fake server, with its class, verdict and
// degraded mark.
func TestOutcomesAgainstFakeServer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     fakeMode
		class    string
		healthy  bool
		degraded bool
	}{
		{"reset", modeReset, ClassClosed, false, false},
		{"too many connections", modeTooMany, ClassOverloaded, true, true},
		{"max_user_connections", modeUserConns, ClassOverloaded, true, true},
		{"resource limit", modeUserLimit, ClassOverloaded, true, true},
		{"auth", modeAuthFail, ClassAuth, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := startFakeServer(t)
			h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 10 * time.Second, Timeout: time.Second, Fall: 2, Rise: 1})
			if st := h.nextChange(2 * time.Second); !st.Healthy {
				t.Fatalf("first change %+v, want healthy", st)
			}
			fs.setMode(tc.mode)
			// Several requested checks: Fall is 2.
			var st Status
			for i := 0; i < 3; i++ {
				st = h.checkNowAndWait(2 * time.Second)
			}
			if !tc.healthy {
				// The change may have come from a follow-up.
				ch := h.nextChange(2 * time.Second)
				st = h.c.Current()
				if ch.Healthy {
					t.Fatalf("change %+v, want unhealthy", ch)
				}
			}
			if st.Class != tc.class || st.Healthy != tc.healthy || st.Degraded != tc.degraded {
				t.Fatalf("status %+v, want class %q healthy=%v degraded=%v", st, tc.class, tc.healthy, tc.degraded)
			}
			if st.Error == "" {
				t.Fatalf("no error text for class %q", st.Class)
			}
			h.noMoreChanges()
			if tc.degraded {
				fs.setMode(modeOK)
				if st := h.checkNowAndWait(2 * time.Second); !st.Healthy || st.Degraded || st.Class != ClassOK {
					t.Fatalf("after the overload: %+v", st)
				}
				if logs := h.logs.String(); !strings.Contains(logs, "mysql overloaded") || !strings.Contains(logs, "no longer overloaded") {
					t.Errorf("no overload log lines:\n%s", logs)
				}
			}
		})
	}
}

// expect: the first column of the first row must equal it; any other
// value, NULL or no row is "unexpected" with what was seen, never the
// password.
func TestExpect(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name    string
		res     fakeResult
		expect  string
		class   string
		errPart string
	}{
		{"match", fakeResult{cols: []string{"@@read_only"}, rows: [][]*string{{s("0")}}}, "0", ClassOK, ""},
		{"mismatch", fakeResult{cols: []string{"@@read_only"}, rows: [][]*string{{s("1")}}}, "0", ClassUnexpected, `first value is "1", expected "0"`},
		{"first row counts", fakeResult{cols: []string{"v", "w"}, rows: [][]*string{{s("ok"), s("x")}, {s("bad"), nil}}}, "ok", ClassOK, ""},
		{"null", fakeResult{cols: []string{"v"}, rows: [][]*string{{nil}}}, "0", ClassUnexpected, "NULL"},
		{"no rows", fakeResult{cols: []string{"v"}}, "0", ClassUnexpected, "no row"},
		{"secret value", fakeResult{cols: []string{"v"}, rows: [][]*string{{s(testPassword)}}}, "0", ClassUnexpected, "expected \"0\""},
		{"server error", fakeResult{errCode: 1146, errMsg: "Table 'x.y' doesn't exist"}, "0", ClassServer, "1146"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := startFakeServer(t)
			fs.answer("SELECT site_check", tc.res)
			h := startChecker(t, Config{DSN: dsnFor(fs.addr), Query: "SELECT site_check()", Expect: tc.expect,
				Interval: 10 * time.Second, Timeout: time.Second, Fall: 1, Rise: 1})
			eventually(t, 3*time.Second, "first check", func() bool { return h.c.Current().Class != ClassStarting })
			st := h.c.Current()
			if st.Class != tc.class || st.Healthy != (tc.class == ClassOK) {
				t.Fatalf("status %+v, want class %q", st, tc.class)
			}
			if !strings.Contains(st.Error, tc.errPart) {
				t.Fatalf("Error %q does not contain %q", st.Error, tc.errPart)
			}
			// (The harness fails the test if the password is in a
			// status or log line.)
		})
	}

	// Without expect, any value is fine, and the default query matches
	// expect = "1".
	fs := startFakeServer(t)
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Expect: "1", Interval: 10 * time.Second, Timeout: time.Second, Rise: 1})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("SELECT 1 with expect \"1\": %+v", st)
	}
	// Reconfigure takes Expect as given: a new condition applies at the
	// next check, "" removes it.
	if err := h.c.Reconfigure(Config{Expect: "2"}); err != nil {
		t.Fatal(err)
	}
	h.c.CheckNow()
	if st := h.nextChange(2 * time.Second); st.Healthy || st.Class != ClassUnexpected {
		t.Fatalf("expect \"2\": %+v", st)
	}
	if err := h.c.Reconfigure(Config{Expect: ""}); err != nil {
		t.Fatal(err)
	}
	h.c.CheckNow()
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("expect removed: %+v", st)
	}
}

// A slow server whose checks still succeed within Timeout is healthy, however
// slow: here every query takes 60% of Timeout (and of FailAfter).
func TestSlowServerStaysHealthy(t *testing.T) {
	fs := startFakeServer(t)
	const timeout = 500 * time.Millisecond
	h := startChecker(t, Config{DSN: dsnFor(fs.addr), Interval: 50 * time.Millisecond, Timeout: timeout, FailAfter: timeout, Fall: 1, Rise: 1})
	if st := h.nextChange(2 * time.Second); !st.Healthy {
		t.Fatalf("first change %+v, want healthy", st)
	}
	fs.queryDelay.Store(int64(timeout * 6 / 10))
	before := fs.queries.Load()
	eventually(t, 10*time.Second, "five slow checks", func() bool { return fs.queries.Load() >= before+5 })
	st := h.c.Current()
	if !st.Healthy || st.Class != ClassOK {
		t.Fatalf("slow server: %+v, want healthy ok", st)
	}
	if st.Latency < timeout/2 {
		t.Fatalf("last check took %v: the server was not slow", st.Latency)
	}
	h.noMoreChanges()
}
