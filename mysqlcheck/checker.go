package mysqlcheck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
)

// Defaults applied to zero Config fields.
const (
	DefaultQuery    = "SELECT 1"
	DefaultInterval = time.Second
	DefaultTimeout  = time.Second
	DefaultFall     = 1
	DefaultRise     = 1
	// DefaultFailAfter is how long a server may go without answering a
	// check before it is unhealthy (see the package doc: why 1 s).
	DefaultFailAfter = time.Second
	// DefaultFreshEvery is how long the checks reuse one connection before
	// a check logs in afresh (see the package doc: why 10 s).
	DefaultFreshEvery = 10 * time.Second
	// DefaultReplicationInterval is how often a steady replication state
	// is read again (see the package doc: why 2 s).
	DefaultReplicationInterval = 2 * time.Second
)

const (
	// settlePause separates back-to-back checks while a verdict is
	// unsettled: long enough not to hammer a dying server, far below any
	// sensible Interval.
	settlePause = 25 * time.Millisecond
	// changesBuffer is the capacity of the Changes channel. When it is full
	// the oldest value is dropped, so the newest flip is always delivered.
	changesBuffer = 8
	// maxErrorLen bounds Status.Error; a health status is not a log.
	maxErrorLen = 256
)

// Config describes what to check and how often.
type Config struct {
	DSN      string        // go-sql-driver DSN; contains the password: never logged or returned
	Query    string        // default "SELECT 1"; must be a real query, its rows are read to the end
	Interval time.Duration // time between checks while nothing happens; default 1s
	Timeout  time.Duration // bound for one whole check (connect + query); default 1s
	// Fall is how many consecutive failed checks that got an answer or a
	// refusal (refused, closed, auth, a server error, unexpected; not a
	// timeout, not an overload) turn the node unhealthy; default 1.
	Fall int
	Rise int // consecutive successes to turn healthy; default 1
	// FailAfter is how long the node may go without a successful check,
	// counted from the start of the first failed one, before it is
	// unhealthy whatever the failures were (a hung server times out); default 1s.
	FailAfter time.Duration
	// Expect, when not empty, is what the first column of the first row of
	// Query must be (as text) for the check to succeed; anything else
	// (another value, NULL, no row) is class "unexpected".
	Expect string
	// FreshEvery is how long periodic checks run on the same kept-open
	// connection; the first periodic check after that logs in on a new
	// one (which is then kept). A value not above Interval makes every
	// check open a fresh connection. Default 10s; see the package doc.
	FreshEvery time.Duration
	// ReplicationInterval is how often a periodic check reads replication
	// while the last reading is steady (replicationDue); any other check
	// reads it every time. Default 2s; see the package doc.
	ReplicationInterval time.Duration
}

// Status is the checker's verdict and the outcome of its last check.
type Status struct {
	Healthy   bool
	Class     string        // last check's class, see Class*; "starting" before the first check
	Error     string        // short, password-free message of the last failure; "" when ok
	Checked   time.Time     // when the last check finished
	Latency   time.Duration // duration of the last check
	Since     time.Time     // when Healthy last changed (or when the checker started)
	Successes int           // current consecutive successes
	Failures  int           // current consecutive failures (timeouts included, overloads not)
	// Degraded is set when the last check was answered with an overload
	// error (Class "overloaded"): the server is alive and refuses more
	// work. It never changes Healthy (the package doc says why).
	Degraded bool
	// FirstFailure is when the first of the current run of failed checks
	// ran (zero after a success): where detection time starts.
	FirstFailure time.Time
	// Replication is the last reading of the server's replication (nil
	// before one), taken after a successful check: on every check while
	// it is not steady, every ReplicationInterval while it is. Between
	// readings it is the same pointer, so a reader can tell a new reading
	// by comparing pointers. Information only: it never changes Healthy.
	Replication *Replication
}

// Checker runs the checks; see the package documentation.
type Checker struct {
	cfgMu sync.RWMutex // guards cfg: Reconfigure changes it while Run reads it
	cfg   Config
	log   hclog.Logger
	tgt   atomic.Pointer[target] // the server and login in use; Reconfigure swaps it
	// reopen asks the watcher to drop its connection and open one with the
	// current target (the DSN changed), capacity 1.
	reopen chan struct{}

	checkNow    chan struct{} // CheckNow requests, capacity 1
	watchEvents chan struct{} // the watched connection closed, capacity 1
	changes     chan Status
	sendMu      sync.Mutex // serialises the drop-oldest send on changes
	running     atomic.Bool
	// observer is told every check's class and latency (SetObserver).
	observer atomic.Pointer[func(class string, latency time.Duration)]

	mu       sync.Mutex
	status   Status
	settling bool // run the next check after settlePause, not Interval
	// logged is the verdict last logged: "" before the first, "healthy",
	// or the class of the failure that made or kept the node unhealthy.
	logged string
	// overloaded is whether the last check was an overload (for its log
	// lines).
	overloaded bool
}

// target is what a DSN makes: how to connect, where to (for logs), and
// which secrets to scrub from text. Replaced whole when the DSN changes.
type target struct {
	connector driver.Connector
	addr      string // "net:addr" of the server, for logs
	scrub     scrubber
}

func (c *Checker) target() *target { return c.tgt.Load() }

// scrub removes the passwords of the current and earlier DSNs from text.
func (c *Checker) scrub(text string) string { return c.target().scrub.scrub(text) }

// switching is the connector the sql.DB uses: each new connection (every
// check makes one) goes to the current target.
type switching struct{ c *Checker }

func (s switching) Connect(ctx context.Context) (driver.Conn, error) {
	return s.c.target().connector.Connect(ctx)
}
func (s switching) Driver() driver.Driver { return s.c.target().connector.Driver() }

// newTarget parses dsn into a target. Its scrubber also keeps the secrets
// of prev, since text about an old connection may still come in.
func (c *Checker) newTarget(dsn string, prev *target) (*target, error) {
	scrub := newScrubber(dsn, "")
	if prev != nil {
		scrub.secrets = append(scrub.secrets, prev.scrub.secrets...)
	}
	dsnCfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// Parse errors may echo pieces of the DSN; the password must not
		// leak through them.
		return nil, errors.New(scrub.scrub(fmt.Sprintf("mysqlcheck: parse DSN %q: %v", Redact(dsn), err)))
	}
	scrub = newScrubber(dsn, dsnCfg.Passwd)
	if prev != nil {
		scrub.secrets = append(scrub.secrets, prev.scrub.secrets...)
	}
	// Our dialer replaces the driver's so that the watched connection's
	// socket can be captured; it dials plain "tcp"/"unix" like the driver.
	dsnCfg.DialFunc = c.dial
	dsnCfg.Logger = driverLogger{log: c.log, scrub: scrub}
	connector, err := mysql.NewConnector(dsnCfg)
	if err != nil {
		return nil, errors.New(scrub.scrub(fmt.Sprintf("mysqlcheck: DSN %q: %v", Redact(dsn), err)))
	}
	return &target{connector: connector, addr: dsnCfg.Net + ":" + dsnCfg.Addr, scrub: scrub}, nil
}

// captureKey marks a Connect call whose raw network connection the dialer
// must hand back: the watched connection.
type captureKey struct{}

type capturedConn struct{ conn net.Conn }

// New validates cfg and prepares a checker; Run starts it. log may be nil.
func New(cfg Config, log hclog.Logger) (*Checker, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if cfg.DSN == "" {
		return nil, errors.New("mysqlcheck: DSN is empty")
	}
	if cfg.Query == "" {
		cfg.Query = DefaultQuery
	}
	for _, f := range []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{{"Interval", &cfg.Interval, DefaultInterval}, {"Timeout", &cfg.Timeout, DefaultTimeout}, {"FailAfter", &cfg.FailAfter, DefaultFailAfter},
		{"FreshEvery", &cfg.FreshEvery, DefaultFreshEvery}, {"ReplicationInterval", &cfg.ReplicationInterval, DefaultReplicationInterval}} {
		if *f.d < 0 {
			return nil, fmt.Errorf("mysqlcheck: %s %v is negative", f.name, *f.d)
		}
		if *f.d == 0 {
			*f.d = f.def
		}
	}
	for _, f := range []struct {
		name string
		n    *int
		def  int
	}{{"Fall", &cfg.Fall, DefaultFall}, {"Rise", &cfg.Rise, DefaultRise}} {
		if *f.n < 0 {
			return nil, fmt.Errorf("mysqlcheck: %s %d is negative", f.name, *f.n)
		}
		if *f.n == 0 {
			*f.n = f.def
		}
	}

	c := &Checker{
		cfg:         cfg,
		log:         log.Named("mysqlcheck"),
		reopen:      make(chan struct{}, 1),
		checkNow:    make(chan struct{}, 1),
		watchEvents: make(chan struct{}, 1),
		changes:     make(chan Status, changesBuffer),
	}
	t, err := c.newTarget(cfg.DSN, nil)
	if err != nil {
		return nil, err
	}
	c.tgt.Store(t)
	c.status = Status{Class: ClassStarting, Since: time.Now()}
	return c, nil
}

func (c *Checker) conf() Config {
	c.cfgMu.RLock()
	defer c.cfgMu.RUnlock()
	return c.cfg
}

// Reconfigure changes a running checker (SIGHUP reload). A new DSN (a
// rotated password, another address) is used from the next check on: the
// kept connection is dropped, the watched connection is reopened with it,
// and a check runs at once on a fresh connection. Zero
// values keep the current setting, except Expect, which is a condition and
// not a tunable: it is taken as given ("" removes it). It logs only what
// changed, and never the password.
func (c *Checker) Reconfigure(n Config) error {
	c.cfgMu.Lock()
	defer c.cfgMu.Unlock()
	if n.Interval < 0 || n.Timeout < 0 || n.Fall < 0 || n.Rise < 0 || n.FailAfter < 0 || n.FreshEvery < 0 || n.ReplicationInterval < 0 {
		return errors.New("mysqlcheck: negative setting")
	}
	var changed []any
	newDSN := n.DSN != "" && n.DSN != c.cfg.DSN
	if newDSN {
		old := c.target()
		t, err := c.newTarget(n.DSN, old)
		if err != nil {
			return err
		}
		changed = append(changed, "dsn", strings.Join(DSNChanges(c.cfg.DSN, n.DSN), ", "))
		if t.addr != old.addr {
			changed = append(changed, "server", t.addr)
		}
		c.cfg.DSN = n.DSN
		c.tgt.Store(t)
	}
	set := func(name string, cur *time.Duration, v time.Duration) {
		if v > 0 && v != *cur {
			*cur = v
			changed = append(changed, name, v)
		}
	}
	setN := func(name string, cur *int, v int) {
		if v > 0 && v != *cur {
			*cur = v
			changed = append(changed, name, v)
		}
	}
	if n.Query != "" && n.Query != c.cfg.Query {
		c.cfg.Query = n.Query
		changed = append(changed, "query", n.Query)
	}
	set("interval", &c.cfg.Interval, n.Interval)
	set("timeout", &c.cfg.Timeout, n.Timeout)
	set("fail_after", &c.cfg.FailAfter, n.FailAfter)
	set("fresh_every", &c.cfg.FreshEvery, n.FreshEvery)
	set("replication_interval", &c.cfg.ReplicationInterval, n.ReplicationInterval)
	if n.Expect != c.cfg.Expect {
		c.cfg.Expect = n.Expect
		changed = append(changed, "expect", n.Expect)
	}
	setN("fall", &c.cfg.Fall, n.Fall)
	setN("rise", &c.cfg.Rise, n.Rise)
	if len(changed) > 0 {
		c.log.Info("reconfigured", changed...)
	}
	if newDSN {
		select {
		case c.reopen <- struct{}{}:
		default:
		}
		c.CheckNow()
	}
	return nil
}

// Changes delivers one Status per flip of Healthy. It is buffered and never
// blocks Run: when the reader lags, the oldest values are dropped, so the
// last value received always reflects the latest flip. It is never closed.
func (c *Checker) Changes() <-chan Status { return c.changes }

// SetObserver makes every check call f with its class and latency (the
// metrics' histogram); f runs on the checker's goroutine and must not block.
func (c *Checker) SetObserver(f func(class string, latency time.Duration)) {
	c.observer.Store(&f)
}

// Current returns the latest status.
func (c *Checker) Current() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// CheckNow asks Run for an immediate check. It never blocks; requests made
// while one is pending are merged.
func (c *Checker) CheckNow() {
	select {
	case c.checkNow <- struct{}{}:
	default:
	}
}

// Run checks until ctx is done, then closes its connections. It must be
// called once.
func (c *Checker) Run(ctx context.Context) {
	if !c.running.CompareAndSwap(false, true) {
		c.log.Error("Run called twice; ignoring the second call")
		return
	}
	db := sql.OpenDB(switching{c})
	// The pool keeps nothing: the checks hold their connection themselves
	// (kept, below), so that when to log in afresh is decided here and not
	// by database/sql (see the package doc). Two: a fresh connection is
	// opened while the kept one is still held (checkHealth).
	db.SetMaxIdleConns(0)
	db.SetMaxOpenConns(2)
	defer db.Close()
	var kept *keptConn // the connection periodic checks reuse; nil when none
	defer func() { kept.close() }()

	c.mu.Lock()
	c.status.Since = time.Now()
	c.mu.Unlock()
	c.log.Info("starting", "server", c.target().addr, "interval", c.conf().Interval, "timeout", c.conf().Timeout,
		"fall", c.conf().Fall, "rise", c.conf().Rise, "fail_after", c.conf().FailAfter, "fresh_every", c.conf().FreshEvery,
		"replication_interval", c.conf().ReplicationInterval)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.watch(ctx)
	}()
	defer wg.Wait()

	timer := time.NewTimer(0) // first check right away
	defer timer.Stop()
	for {
		var trigger string
		select {
		case <-ctx.Done():
			c.log.Info("stopping", "server", c.target().addr)
			return
		case <-timer.C:
			trigger = "timer"
			if c.isSettling() {
				trigger = "follow-up"
			}
		case <-c.checkNow:
			trigger = "requested"
		case <-c.watchEvents:
			trigger = "watched-connection"
			c.mu.Lock()
			c.settling = true
			c.mu.Unlock()
		}
		// Only a periodic check while all is well reuses the kept
		// connection; follow-ups, requested checks and the watcher's
		// want what a new client would see now.
		reuse := trigger == "timer"
		start := time.Now()
		var err error
		kept, err = c.checkHealth(ctx, db, c.checkBound(start), kept, reuse)
		latency := time.Since(start)
		if ctx.Err() != nil {
			// Shutdown cut the check short; its outcome says nothing
			// about the server.
			c.log.Info("stopping", "server", c.target().addr)
			return
		}
		// The verdict is recorded (and a flip published) before
		// replication is read: a slow SHOW SLAVE STATUS never delays it.
		c.mu.Lock()
		wasHealthy, last := c.status.Healthy, c.status.Replication
		c.mu.Unlock()
		next := c.record(err, time.Now(), latency, trigger)
		if kept != nil {
			cfg := c.conf()
			flipped := c.Current().Healthy != wasHealthy
			if replicationDue(last, time.Now(), cfg.ReplicationInterval, cfg.Interval, trigger, flipped) {
				// A failure here (a replication read that timed out
				// closes the connection) costs the next check nothing: a
				// kept connection that fails is replaced at once
				// (checkHealth).
				repl := c.readReplicationOn(ctx, kept.conn)
				if ctx.Err() != nil {
					c.log.Info("stopping", "server", c.target().addr)
					return
				}
				repl.ReadAt = time.Now()
				// A steady reading is this old at most while MySQL answers.
				repl.ReadEvery = max(cfg.ReplicationInterval, cfg.Interval)
				c.mu.Lock()
				c.status.Replication = repl
				c.mu.Unlock()
			}
			// Otherwise Status.Replication keeps the last reading, the
			// same pointer: the agent judges a reading once, by pointer.
			if cfg.Interval >= cfg.FreshEvery {
				// The next periodic check would find it too old: it
				// would only hold a session.
				kept.close()
				kept = nil
			}
		}
		// Go ≥1.23 timers: Reset discards a pending expiry, no drain needed.
		timer.Reset(next)
	}
}

// keptConn is the connection the periodic checks reuse (package doc:
// "What a check is").
type keptConn struct {
	conn   *sql.Conn
	opened time.Time
	tgt    *target // the target it was opened with: a new DSN drops it
}

func (k *keptConn) close() {
	if k != nil {
		k.conn.Close()
	}
}

// check runs one query on a fresh connection under the check timeout.
func (c *Checker) check(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, c.conf().Timeout)
	defer cancel()
	return runQuery(ctx, db, c.conf().Query, c.conf().Expect)
}

// checkAll is checkHealth on a fresh connection followed by
// readReplicationOn; tests use it.
func (c *Checker) checkAll(ctx context.Context, db *sql.DB) (*Replication, error) {
	k, err := c.checkHealth(ctx, db, c.conf().Timeout, nil, false)
	if err != nil {
		return nil, err
	}
	defer k.close()
	return c.readReplicationOn(ctx, k.conn), nil
}

// checkBound is how long the check starting at start may take: Timeout,
// but while the node is healthy no longer than what is left of FailAfter
// since the first failed check of the current run (or since start). A
// server that never answers is then unhealthy FailAfter after it was first
// asked, not at the end of a longer Timeout.
func (c *Checker) checkBound(start time.Time) time.Duration {
	cfg := c.conf()
	c.mu.Lock()
	healthy, first := c.status.Healthy, c.status.FirstFailure
	c.mu.Unlock()
	if !healthy {
		return cfg.Timeout
	}
	if first.IsZero() {
		first = start
	}
	left := first.Add(cfg.FailAfter).Sub(start)
	if left >= cfg.Timeout {
		return cfg.Timeout
	}
	// record turns the node unhealthy once FailAfter has passed, so left
	// is positive here; the floor only keeps a context from being born
	// expired by clock jitter.
	return max(left, time.Millisecond)
}

// checkHealth runs one check, bounded as a whole by bound (see
// checkBound), and returns the connection to keep for the next checks (the
// one the check succeeded on, to be read for replication too) or nil.
//
// With reuse, and a kept connection that is younger than FreshEvery and
// was opened with the current DSN, the query runs on it. If it fails in any
// way but a timeout, the kept connection is closed and the check is run
// again at once, within the same bound, on a fresh connection, and only
// that outcome counts: a kept session can end for reasons that say nothing
// about the server (a KILL, wait_timeout, a restart between two checks),
// and a fresh connection says what a client would get now, exactly as when
// every check was fresh. A timeout is not retried: the bound is spent, and
// a server that does not answer a logged-in session does not answer a new
// one either.
//
// Otherwise (no reuse, none kept, too old, another DSN) the check opens a
// fresh connection while the kept one is still open, so that it meets
// max_connections as a new client would and not in the slot we just gave
// up. A success replaces the kept connection; an overload answer leaves it
// (the server is alive, and our session is no reason to join the queue);
// any other failure closes both.
func (c *Checker) checkHealth(ctx context.Context, db *sql.DB, bound time.Duration, kept *keptConn, reuse bool) (*keptConn, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	cfg := c.conf()
	if kept != nil && kept.tgt != c.target() {
		kept.close() // opened with an old DSN
		kept = nil
	}
	if kept != nil && reuse && time.Since(kept.opened) < cfg.FreshEvery {
		err := runQuery(ctx, kept.conn, cfg.Query, cfg.Expect)
		if err == nil {
			return kept, nil
		}
		kept.close()
		kept = nil
		if ctx.Err() != nil || Classify(err) == ClassTimeout {
			return nil, err
		}
		c.log.Debug("kept connection failed; checking on a fresh one", "class", Classify(err), "error", c.scrub(err.Error()))
	}
	fresh, err := c.checkFresh(ctx, db)
	switch {
	case err == nil:
		kept.close()
		return fresh, nil
	case Degraded(Classify(err)):
		return kept, err
	}
	kept.close()
	return nil, err
}

// checkFresh opens a new connection and runs the query on it; on success
// the connection stays open and is returned.
func (c *Checker) checkFresh(ctx context.Context, db *sql.DB) (*keptConn, error) {
	cfg := c.conf()
	tgt := c.target()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	opened := time.Now()
	if err := runQuery(ctx, conn, cfg.Query, cfg.Expect); err != nil {
		conn.Close()
		return nil, err
	}
	return &keptConn{conn: conn, opened: opened, tgt: tgt}, nil
}

// replicationDue says whether the check just recorded reads replication.
// last is the reading so far (nil: none yet), now the time after the
// check, every the ReplicationInterval, interval the check Interval,
// trigger the check's ("timer" for a periodic one) and flipped whether the
// check changed the health verdict. A steady state is read again once it
// is every old, judged with half an interval to spare: checks come
// interval plus their own latency apart, so without it 500 ms and 2 s
// would read on every 5th check instead of every 4th. Anything else reads
// on every check: a first reading, a check that is not periodic (a
// follow-up, a requested one, the watched connection's), a new verdict,
// and a reading that is not steady, so that a broken replication is
// followed as closely as before and its repair is seen at once.
func replicationDue(last *Replication, now time.Time, every, interval time.Duration, trigger string, flipped bool) bool {
	if last == nil || trigger != "timer" || flipped || !last.steady() {
		return true
	}
	return now.Sub(last.ReadAt) >= every-interval/2
}

// steady: nothing in r is wrong or moving. Not steady: a read error; a
// configured replica whose IO thread is not "Yes", whose SQL thread is
// stopped, whose lag is unknown or above 0, or with an IO or SQL error;
// semi-sync enabled on a side but not active there.
func (r *Replication) steady() bool {
	if r.Error != "" {
		return false
	}
	if s := r.SemiSync; s != nil && (s.MasterEnabled && !s.MasterActive || s.SlaveEnabled && !s.SlaveActive) {
		return false
	}
	if !r.Configured {
		return true
	}
	return r.IORunning == "Yes" && r.SQLRunning && r.SecondsBehind != nil && *r.SecondsBehind == 0 &&
		r.LastIOErrno == 0 && r.LastSQLErrno == 0
}

// readReplicationOn reads the replication state under its own check
// timeout. A failure goes into Replication.Error, never into the health
// verdict.
func (c *Checker) readReplicationOn(ctx context.Context, conn *sql.Conn) *Replication {
	ctx, cancel := context.WithTimeout(ctx, c.conf().Timeout)
	defer cancel()
	repl := readReplication(ctx, conn)
	repl.Error = c.scrub(repl.Error)
	repl.LastIOError, repl.LastSQLError = c.scrub(repl.LastIOError), c.scrub(repl.LastSQLError)
	return repl
}

// runQuery runs query and reads all its rows. With expect set, the first
// column of the first row must equal it (as text); a mismatch is an
// *UnexpectedError, returned only once every row was read, so that an
// error later in the result set wins.
func runQuery(ctx context.Context, q querier, query, expect string) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	var mismatch error
	first := true
	for rows.Next() {
		if !first || expect == "" {
			continue
		}
		first = false
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return err
		}
		var value sql.NullString
		dest := make([]any, len(cols))
		dest[0] = &value
		for i := 1; i < len(dest); i++ {
			dest[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		switch {
		case !value.Valid:
			mismatch = &UnexpectedError{Expect: expect, Null: true}
		case value.String != expect:
			mismatch = &UnexpectedError{Expect: expect, Got: value.String}
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if expect != "" && first {
		return &UnexpectedError{Expect: expect, NoRows: true}
	}
	return mismatch
}

func (c *Checker) isSettling() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settling
}

// record applies one check result to the status, reports a flip and
// returns the delay until the next check.
func (c *Checker) record(err error, checked time.Time, latency time.Duration, trigger string) time.Duration {
	class := Classify(err)
	msg := ""
	if err != nil {
		msg = c.scrub(err.Error())
		if class == ClassTimeout {
			// "context deadline exceeded" alone does not say how long
			// we waited (Timeout, or less: see checkBound).
			msg = fmt.Sprintf("no answer within %v: %s", latency.Round(time.Millisecond), msg)
		}
		if len(msg) > maxErrorLen {
			msg = strings.ToValidUTF8(msg[:maxErrorLen], "") + "..."
		}
	}

	cfg := c.conf()
	c.mu.Lock()
	st := &c.status
	wasHealthy := st.Healthy
	st.Class, st.Error, st.Checked, st.Latency = class, msg, checked, latency
	st.Degraded = Degraded(class)
	failed := err != nil && !st.Degraded
	switch {
	case err == nil:
		st.Successes++
		st.Failures = 0
		st.FirstFailure = time.Time{}
	case st.Degraded:
		// An overloaded server answered: it is neither dead nor hung, so
		// the run of failures ends; nor is it a success towards Rise.
		st.Successes, st.Failures = 0, 0
		st.FirstFailure = time.Time{}
	default:
		st.Failures++
		st.Successes = 0
		if st.Failures == 1 {
			st.FirstFailure = checked.Add(-latency)
		}
	}
	// The failure model (package doc): Fall failures in a row end the
	// verdict when the last one was an answer or a refusal; silence
	// (timeouts) ends it only once FailAfter passed without a success.
	down := failed && ((!silent(class) && st.Failures >= cfg.Fall) || checked.Sub(st.FirstFailure) >= cfg.FailAfter)
	flipped := false
	if !st.Healthy && st.Successes >= cfg.Rise {
		st.Healthy, flipped = true, true
	} else if st.Healthy && down {
		st.Healthy, flipped = false, true
	}
	if flipped {
		st.Since = checked
	}
	// The verdict is unsettled while failures accumulate after a healthy
	// state or a watched-connection event: keep checking back to back
	// until a success or a failure that ends it.
	c.settling = failed && !down && (st.Healthy || c.settling)
	settling := c.settling
	snapshot := *st
	// Log the first verdict after start and every change: of the verdict,
	// or of the class that keeps it unhealthy (the operator wants to know
	// why, and when the reason changes). Checks on the way (rising, or
	// failing within Fall) are no verdict.
	var logVerdict string
	switch {
	case st.Healthy && c.logged != "healthy":
		logVerdict = "healthy"
	case !st.Healthy && err != nil && c.logged != class:
		logVerdict = class
	}
	if logVerdict != "" {
		c.logged = logVerdict
	}
	// An overload does not change the verdict, so it gets its own lines:
	// one when it starts and one when a success ends it.
	overloadStarts := st.Healthy && st.Degraded && !c.overloaded
	overloadEnds := st.Healthy && err == nil && c.overloaded
	c.overloaded = st.Degraded
	c.mu.Unlock()

	if overloadStarts {
		c.log.Warn("mysql overloaded; still healthy (an overload never fails the node over)", "server", c.target().addr, "error", msg)
	}
	if overloadEnds {
		c.log.Info("mysql no longer overloaded", "server", c.target().addr)
	}

	if f := c.observer.Load(); f != nil {
		(*f)(class, latency)
	}
	c.log.Debug("check", "trigger", trigger, "class", class, "error", msg, "latency", latency,
		"healthy", snapshot.Healthy, "successes", snapshot.Successes, "failures", snapshot.Failures)
	if logVerdict != "" {
		args := []interface{}{"server", c.target().addr}
		if flipped {
			after := snapshot.Successes
			if !snapshot.Healthy {
				after = snapshot.Failures
			}
			args = append(args, "was", healthWord(wasHealthy), "after_checks", after)
			if !snapshot.Healthy {
				args = append(args, "no_success_for", checked.Sub(snapshot.FirstFailure).Round(time.Millisecond))
			}
		}
		if snapshot.Healthy {
			c.log.Info("mysql healthy", args...)
		} else {
			c.log.Warn("mysql unhealthy", append([]interface{}{"server", c.target().addr, "class", class, "error", msg}, args[2:]...)...)
		}
	}
	if flipped {
		c.publish(snapshot)
	}
	if settling {
		return settlePause
	}
	return c.conf().Interval
}

// publish sends st on the changes channel, dropping the oldest value when
// the reader lags so Run never blocks.
func (c *Checker) publish(st Status) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	for {
		select {
		case c.changes <- st:
			return
		default:
		}
		select {
		case <-c.changes:
			c.log.Warn("changes reader lags; dropped the oldest health change")
		default:
		}
	}
}

func healthWord(healthy bool) string {
	if healthy {
		return "healthy"
	}
	return "unhealthy"
}

// dial is the driver's DialFunc. For the watched connection (the context
// carries a capturedConn) it hands the raw socket back to the watcher.
func (c *Checker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if capture, ok := ctx.Value(captureKey{}).(*capturedConn); ok {
		capture.conn = conn
	}
	return conn, nil
}

// driverLogger routes the driver's own messages (e.g. the cause behind
// "invalid connection") to our logger at debug level, scrubbed.
type driverLogger struct {
	log   hclog.Logger
	scrub scrubber
}

func (l driverLogger) Print(v ...any) {
	l.log.Debug("driver", "message", l.scrub.scrub(fmt.Sprint(v...)))
}
