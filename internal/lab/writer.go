package lab

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The writer's schema (issue 10's measurement). Each row records the
// server that executed the INSERT and the server's clock at that moment,
// both taken by the server itself, so a row can be checked against the VIP
// monitor's timeline afterwards (all namespaces share one clock).
const (
	DataSchema  = "raftvip_lab"
	RowsTable   = DataSchema + ".rows"
	CounterTbl  = DataSchema + ".counter"
	WriterUser  = "labwriter"
	WriterPassw = "writerpw"
)

// SetupDataSchema creates the writer's database, its tables and its user on
// hosta (as root through the socket, which read_only does not stop) and
// waits until hostb has them too: they replicate like any application's
// schema. The user has table privileges only, no SUPER and no READ ONLY
// ADMIN, so read_only fences it as it fences an application. counterIDs are
// the counter rows to create (one per measured fault; 1 when none given).
func (l *Lab) SetupDataSchema(ctx context.Context, counterIDs ...int) error {
	if len(counterIDs) == 0 {
		counterIDs = []int{1}
	}
	var vals []string
	for _, id := range counterIDs {
		vals = append(vals, fmt.Sprintf("(%d, 0)", id))
	}
	a := l.MariaDB("a")
	if a == nil {
		return errors.New("lab: no MariaDB on hosta")
	}
	q := "CREATE DATABASE IF NOT EXISTS " + DataSchema + ";" +
		"CREATE TABLE IF NOT EXISTS " + RowsTable + " (seq BIGINT PRIMARY KEY, srv INT NOT NULL, at DATETIME(6) NOT NULL) ENGINE=InnoDB;" +
		"CREATE TABLE IF NOT EXISTS " + CounterTbl + " (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB;" +
		"INSERT IGNORE INTO " + CounterTbl + " VALUES " + strings.Join(vals, ", ") + ";" +
		"CREATE USER IF NOT EXISTS '" + WriterUser + "'@'%' IDENTIFIED BY '" + WriterPassw + "';" +
		"GRANT SELECT, INSERT, UPDATE ON " + DataSchema + ".* TO '" + WriterUser + "'@'%';"
	if _, err := a.SQL(ctx, q); err != nil {
		return fmt.Errorf("lab: data schema: %w", err)
	}
	b := l.MariaDB("b")
	check := fmt.Sprintf("SELECT (SELECT COUNT(*) FROM %s WHERE id IN (%s)), (SELECT COUNT(*) FROM mysql.user WHERE user = '%s')",
		CounterTbl, joinInts(counterIDs), WriterUser)
	want := fmt.Sprintf("%d\t1", len(counterIDs))
	deadline := time.Now().Add(replicationTimeout)
	for {
		out, err := b.SQL(ctx, check)
		if err == nil && strings.TrimSpace(out) == want {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("lab: data schema not replicated to hostb after %s: got %q (%v)", replicationTimeout, strings.TrimSpace(out), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.note("start", "data schema created", "schema", DataSchema)
	return nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// WriterOptions bound and pace the writer. Zero fields take defaults.
type WriterOptions struct {
	Target   string        // host:port; default VIP:3306
	Interval time.Duration // between write starts; default 20ms
	Timeout  time.Duration // connect + statements of one write; default 1s
	// Concurrency bounds the writes in flight; default 16. A connection
	// whose SYN went to the old holder just as the VIP moved waits for
	// TCP's 1 s retransmission: with few slots such stuck writes would hold
	// back the writes that could already succeed, and the time to the
	// first write would measure the writer, not the failover.
	Concurrency int
	MaxWrites   int           // stop after this many attempts; default 100000
	MaxDuration time.Duration // stop after this long; default 30m
	FromHost    string        // default "c"
	// SeqBase is added to the sequence numbers (1, 2, …), so writers of
	// successive measurements on one lab never reuse a seq.
	SeqBase int64
	// CounterID is the counter row this writer increments; default 1.
	CounterID int
	// Log receives one line per acknowledged row; nil: <lab dir>/c/writer.log.
	Log io.Writer
	// Probe rolls each INSERT back instead of committing it and skips the
	// counter: a test of whether the server takes writes (read_only
	// refuses the INSERT itself) that leaves nothing in the binlog, so
	// the failover bench can write without making errant transactions.
	Probe bool
}

func (o WriterOptions) withDefaults() WriterOptions {
	if o.Target == "" {
		o.Target = net.JoinHostPort(VIP, strconv.Itoa(MySQLPort))
	}
	if o.Interval <= 0 {
		o.Interval = 20 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.MaxWrites <= 0 {
		o.MaxWrites = 100000
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 30 * time.Minute
	}
	if o.FromHost == "" {
		o.FromHost = "c"
	}
	if o.CounterID == 0 {
		o.CounterID = 1
	}
	return o
}

// Write is one attempt of the writer: a new connection through the VIP,
// `SELECT @@server_id`, the INSERT of row Seq and, if that was acknowledged,
// the counter increment.
type Write struct {
	Seq        int64
	Start, End time.Time
	ServerID   int    // the server the connection reached (0: not known)
	RowOK      bool   // the INSERT was acknowledged
	IncOK      bool   // the counter UPDATE was acknowledged (changed one row)
	Err        string // the first failure, if any
}

// Writer inserts rows with increasing sequence numbers through the VIP and
// increments a shared counter, from inside the client namespace, one new
// connection per write (so every write follows the VIP wherever it is).
type Writer struct {
	opts      WriterOptions
	connector driver.Connector
	cancel    context.CancelFunc
	done      chan struct{}
	log       io.Writer
	closeLog  func() error

	mu      sync.Mutex
	writes  []Write
	changed chan struct{}
}

// StartWriter starts a writer (on host c unless opts.FromHost) as the lab's
// writer user; the schema must exist (SetupDataSchema). Stop it with Stop.
func (l *Lab) StartWriter(opts WriterOptions) (*Writer, error) {
	opts = opts.withDefaults()
	h, err := l.lookup(opts.FromHost)
	if err != nil {
		return nil, err
	}
	w := &Writer{opts: opts, done: make(chan struct{}), changed: make(chan struct{}), log: opts.Log, closeLog: func() error { return nil }}
	if w.log == nil {
		dir, err := l.hostDir(h.Name, "")
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(filepath.Join(dir, "writer.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("writer: %w", err)
		}
		w.log, w.closeLog = f, f.Close
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = WriterUser, WriterPassw
	cfg.Net, cfg.Addr = "tcp", opts.Target
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = opts.Timeout, opts.Timeout, opts.Timeout
	cfg.Logger = silentLogger{}
	ns := h.NS
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return DialInNamespace(ctx, ns, network, addr)
	}
	w.connector, err = mysql.NewConnector(cfg)
	if err != nil {
		w.closeLog()
		return nil, fmt.Errorf("writer: %w", err)
	}
	fmt.Fprintf(w.log, "# writer started %s: seq from %d, counter id %d, through %s\n",
		time.Now().Format(timeFmt), opts.SeqBase+1, opts.CounterID, opts.Target)
	ctx, cancel := context.WithTimeout(context.Background(), opts.MaxDuration)
	w.cancel = cancel
	go w.loop(ctx)
	l.note("start", "writer started", "seq_base", opts.SeqBase, "counter", opts.CounterID)
	return w, nil
}

func (w *Writer) loop(ctx context.Context) {
	defer close(w.done)
	sem := make(chan struct{}, w.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(w.opts.Interval)
	defer tick.Stop()
	for n := 1; n <= w.opts.MaxWrites; n++ {
		select {
		case <-ctx.Done():
			return
		case sem <- struct{}{}:
		}
		seq := w.opts.SeqBase + int64(n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w.add(w.writeOnce(ctx, seq))
		}()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (w *Writer) writeOnce(parent context.Context, seq int64) Write {
	wr := Write{Seq: seq, Start: time.Now()}
	// A write that was sent keeps its own deadline even when the writer is
	// stopped: cancelling it mid-statement would leave its outcome unknown
	// for a reason that is not the fault under test.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), w.opts.Timeout)
	defer cancel()
	err := w.exec(ctx, &wr)
	wr.End = time.Now()
	if err != nil {
		wr.Err = shortErr(err)
	}
	return wr
}

func (w *Writer) exec(ctx context.Context, wr *Write) error {
	conn, err := w.connector.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	q, ok1 := conn.(driver.QueryerContext)
	e, ok2 := conn.(driver.ExecerContext)
	if !ok1 || !ok2 {
		return errors.New("mysql driver connection lacks QueryContext or ExecContext")
	}
	id, err := queryInt(ctx, q, "SELECT @@server_id")
	if err != nil {
		return err
	}
	wr.ServerID = id
	if w.opts.Probe {
		if _, err := e.ExecContext(ctx, "START TRANSACTION", nil); err != nil {
			return err
		}
		if _, err := e.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (seq, srv, at) VALUES (%d, @@server_id, NOW(6))", RowsTable, wr.Seq), nil); err != nil {
			return err
		}
		wr.RowOK = true
		_, err := e.ExecContext(ctx, "ROLLBACK", nil)
		return err
	}
	// srv and at come from the server: which server executed the row and
	// when, by its clock.
	if _, err := e.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (seq, srv, at) VALUES (%d, @@server_id, NOW(6))", RowsTable, wr.Seq), nil); err != nil {
		return err
	}
	wr.RowOK = true
	res, err := e.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET n = n + 1 WHERE id = %d", CounterTbl, w.opts.CounterID), nil)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("counter update changed %d rows (%v)", n, err)
	}
	wr.IncOK = true
	return nil
}

func queryInt(ctx context.Context, q driver.QueryerContext, query string) (int, error) {
	rows, err := q.QueryContext(ctx, query, nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return 0, errors.New("no row")
		}
		return 0, err
	}
	switch v := dest[0].(type) {
	case int64:
		return int(v), nil
	case uint64:
		return int(v), nil
	case []byte:
		return strconv.Atoi(string(v))
	}
	return 0, fmt.Errorf("%s: value of type %T", query, dest[0])
}

func (w *Writer) add(wr Write) {
	w.mu.Lock()
	w.writes = append(w.writes, wr)
	if wr.RowOK {
		fmt.Fprintf(w.log, "%s seq=%d server_id=%d inc=%v\n", wr.End.Format(timeFmt), wr.Seq, wr.ServerID, wr.IncOK)
	}
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// Stop ends the writer and waits for the writes in flight (each bounded by
// the write timeout).
func (w *Writer) Stop() {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closeLog != nil {
		w.closeLog()
		w.closeLog = nil
	}
}

// Writes returns every attempt so far, ordered by completion.
func (w *Writer) Writes() []Write {
	w.mu.Lock()
	out := append([]Write(nil), w.writes...)
	w.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].End.Before(out[j].End) })
	return out
}

// WaitAck waits for an acknowledged row (INSERT and increment) whose write
// started at or after `after` and, if serverID is not 0, was executed by that
// server.
func (w *Writer) WaitAck(ctx context.Context, serverID int, after time.Time) (Write, error) {
	for {
		w.mu.Lock()
		ch, writes := w.changed, w.writes
		w.mu.Unlock()
		for _, wr := range writes {
			if wr.RowOK && wr.IncOK && !wr.Start.Before(after) && (serverID == 0 || wr.ServerID == serverID) {
				return wr, nil
			}
		}
		select {
		case <-ctx.Done():
			last := "no writes"
			if n := len(writes); n > 0 {
				x := writes[n-1]
				last = fmt.Sprintf("last write seq %d server_id=%d row=%v err=%q", x.Seq, x.ServerID, x.RowOK, x.Err)
			}
			return Write{}, fmt.Errorf("writer: no acknowledged write on server_id %d since %s (%s): %w",
				serverID, after.Format(timeFmt), last, ctx.Err())
		case <-w.done:
			return Write{}, errors.New("writer stopped")
		case <-ch:
		}
	}
}
