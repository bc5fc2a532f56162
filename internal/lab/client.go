package lab

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Read is one query the client made.
type Read struct {
	Start    time.Time
	End      time.Time
	OK       bool
	ServerID int    // @@server_id of the server that answered (OK only)
	Err      string // why it failed (not OK only)
}

// ClientOptions bound and pace the client. Zero fields take defaults.
type ClientOptions struct {
	Target      string        // host:port to query; default VIP:3306
	Interval    time.Duration // between query starts; default 20ms
	Timeout     time.Duration // connect + query; default 300ms
	Concurrency int           // queries in flight at most; default 16
	MaxReads    int           // stop after this many; default 200000
	MaxDuration time.Duration // stop after this long; default 1h
	// FromHost is the host the client runs in; default "c".
	FromHost string
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.Target == "" {
		o.Target = net.JoinHostPort(VIP, strconv.Itoa(MySQLPort))
	}
	if o.Interval <= 0 {
		o.Interval = 20 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 300 * time.Millisecond
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.MaxReads <= 0 {
		o.MaxReads = 200000
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = time.Hour
	}
	if o.FromHost == "" {
		o.FromHost = "c"
	}
	return o
}

// Client queries `SELECT @@server_id` through the VIP on a fresh connection
// every Interval from inside the client namespace, so a moved VIP (and the
// neighbour entry the client holds for it) is exercised on every read.
type Client struct {
	opts      ClientOptions
	connector driver.Connector
	cancel    context.CancelFunc
	done      chan struct{}

	mu      sync.Mutex
	reads   []Read
	changed chan struct{}
}

type silentLogger struct{}

func (silentLogger) Print(...any) {}

// StartClient starts a client in the lab (host c unless opts.FromHost).
func (l *Lab) StartClient(opts ClientOptions) (*Client, error) {
	opts = opts.withDefaults()
	h, err := l.lookup(opts.FromHost)
	if err != nil {
		return nil, err
	}
	c, err := newClient(h.NS, opts)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.clients = append(l.clients, c)
	l.mu.Unlock()
	return c, nil
}

func newClient(ns string, opts ClientOptions) (*Client, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = AppUser, AppPassword
	cfg.Net, cfg.Addr = "tcp", opts.Target
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = opts.Timeout, opts.Timeout, opts.Timeout
	// Failed reads are the point of the exercise; the driver's own log of
	// them would only be noise.
	cfg.Logger = silentLogger{}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return DialInNamespace(ctx, ns, network, addr)
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.MaxDuration)
	c := &Client{opts: opts, connector: connector, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	go c.loop(ctx)
	return c, nil
}

func (c *Client) loop(ctx context.Context) {
	defer close(c.done)
	sem := make(chan struct{}, c.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(c.opts.Interval)
	defer tick.Stop()
	for n := 0; n < c.opts.MaxReads; n++ {
		select {
		case <-ctx.Done():
			return
		case sem <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.add(c.readOnce(ctx))
		}()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *Client) readOnce(parent context.Context) Read {
	r := Read{Start: time.Now()}
	ctx, cancel := context.WithTimeout(parent, c.opts.Timeout)
	defer cancel()
	id, err := c.query(ctx)
	r.End = time.Now()
	if err != nil {
		r.Err = shortErr(err)
		return r
	}
	r.OK, r.ServerID = true, id
	return r
}

func (c *Client) query(ctx context.Context) (int, error) {
	conn, err := c.connector.Connect(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return 0, errors.New("mysql driver connection has no QueryContext")
	}
	return queryInt(ctx, q, "SELECT @@server_id")
}

// shortErr classifies a failed read in a few words for reports.
func shortErr(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

func (c *Client) add(r Read) {
	c.mu.Lock()
	c.reads = append(c.reads, r)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// Stop ends the client and waits for reads in flight.
func (c *Client) Stop() {
	c.cancel()
	<-c.done
}

// Reads returns every read so far, ordered by completion time.
func (c *Client) Reads() []Read {
	c.mu.Lock()
	out := append([]Read(nil), c.reads...)
	c.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].End.Before(out[j].End) })
	return out
}

// WaitGood waits for a successful read that started at or after `after`
// and, if serverID is not 0, was answered by that server.
func (c *Client) WaitGood(ctx context.Context, serverID int, after time.Time) (Read, error) {
	for {
		c.mu.Lock()
		ch := c.changed
		reads := c.reads
		c.mu.Unlock()
		for _, r := range reads {
			if r.OK && !r.Start.Before(after) && (serverID == 0 || r.ServerID == serverID) {
				return r, nil
			}
		}
		select {
		case <-ctx.Done():
			last := "no reads"
			if n := len(reads); n > 0 {
				l := reads[n-1]
				last = fmt.Sprintf("last read ok=%v server_id=%d err=%q", l.OK, l.ServerID, l.Err)
			}
			return Read{}, fmt.Errorf("client: no good read from server_id %d since %s (%s): %w",
				serverID, after.Format(timeFmt), last, ctx.Err())
		case <-c.done:
			return Read{}, errors.New("client stopped")
		case <-ch:
		}
	}
}

// Summary counts reads in [from, to] by outcome and answering server.
type Summary struct {
	Total, OK, Failed int
	ByServer          map[int]int
}

// SummaryBetween summarizes the reads sent at or after from that completed
// by to. Reads sent earlier are left out even if they ended inside the
// window: a read that started during an outage can time out after service
// is back, and would blame the window for the outage before it.
func (c *Client) SummaryBetween(from, to time.Time) Summary {
	return summarize(c.Reads(), from, to)
}

func summarize(reads []Read, from, to time.Time) Summary {
	s := Summary{ByServer: map[int]int{}}
	for _, r := range reads {
		if r.Start.Before(from) || r.End.After(to) {
			continue
		}
		s.Total++
		if r.OK {
			s.OK++
			s.ByServer[r.ServerID]++
		} else {
			s.Failed++
		}
	}
	return s
}

// Outage is a client-visible gap between two successful reads.
type Outage struct {
	LastGood  Read // last answer before the gap (zero if none)
	FirstGood Read // first answer after it
	Duration  time.Duration
}

// Downtime measures what the client saw around a fault at t0: the longest
// gap between successive successful answers, starting from the last answer
// before t0 and ending with the first answer after t0 from serverID (any
// server if 0). ok is false when no such answer came yet.
func (c *Client) Downtime(t0 time.Time, serverID int) (Outage, bool) {
	return downtime(c.Reads(), t0, serverID, time.Time{})
}

// LongestOutage is the longest gap between successive answers in the span
// from the last answer before `from` to the last answer before `to` (for
// faults that should not move the VIP, such as an isolation).
func (c *Client) LongestOutage(from, to time.Time) (Outage, bool) {
	return downtime(c.Reads(), from, 0, to)
}

// downtime implements Downtime and LongestOutage over reads sorted by End.
// With until zero it stops at the first good read from serverID that
// started after t0; otherwise it covers answers up to until.
func downtime(reads []Read, t0 time.Time, serverID int, until time.Time) (Outage, bool) {
	var good []Read
	for _, r := range reads {
		if r.OK {
			good = append(good, r)
		}
	}
	sort.SliceStable(good, func(i, j int) bool { return good[i].End.Before(good[j].End) })
	startIdx := -1
	for i, r := range good {
		if r.End.After(t0) {
			break
		}
		startIdx = i
	}
	var best Outage
	found := false
	prev := Read{}
	if startIdx >= 0 {
		prev = good[startIdx]
	}
	for i := startIdx + 1; i < len(good); i++ {
		r := good[i]
		if !until.IsZero() && r.End.After(until) {
			break
		}
		if !prev.End.IsZero() {
			if gap := r.End.Sub(prev.End); gap > best.Duration || !found {
				best = Outage{LastGood: prev, FirstGood: r, Duration: gap}
			}
		}
		found = true
		prev = r
		if until.IsZero() && !r.Start.Before(t0) && (serverID == 0 || r.ServerID == serverID) {
			return best, true
		}
	}
	if until.IsZero() {
		return best, false
	}
	return best, found
}
