package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/internal/sched"
)

// Defaults.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultQueue     = 16
	DefaultInstance  = "raftvip"
	DefaultPriority  = 250
	maxOutput        = 4096 // bytes of a script's stdout and of its stderr kept for the log
	webhookAttempts  = 6
	webhookBackoff   = time.Second
	webhookMaxBackof = 30 * time.Second
)

// Options configure a Notifier. A script is an argv (path first, then the
// arguments written in its setting); nil means none.
type Options struct {
	Instance string
	Priority int // passed as keepalived's PRIORITY; default 250 (vrrp.priority's default)

	Master, Backup, Fault, Stop []string
	Notify                      []string // the generic script: its own args + INSTANCE NAME STATE PRIORITY

	FIFO    string        // "" = none
	Timeout time.Duration // per script run and per webhook request; default 10s

	Webhook     string // "" = none; the URL (may hold a token: logged only as WebhookName)
	WebhookName string // the URL as logged (config.RedactURL); default "webhook"
	HTTPClient  *http.Client

	Queue int // events a queue holds; default 16

	// Backoff is the first webhook retry delay (then doubled, capped at
	// 30s); default 1s. Tests shorten it.
	Backoff time.Duration

	Logger hclog.Logger
}

// Notifier delivers events. Notify is safe from any goroutine and never
// blocks.
type Notifier struct {
	opt Options
	log hclog.Logger

	mu          sync.Mutex
	queue       []Event
	hooks       []Event
	wake        chan struct{}
	hookWake    chan struct{}
	closed      bool
	ctx         context.Context
	cancel      context.CancelFunc
	done        chan struct{}
	hookDone    chan struct{}
	fifo        int // -1 when not open
	coalesced   int // script-queue events replaced since the worker last logged
	hookDropped int // webhook events dropped since the worker last logged
	// runs and failures count script runs and the ones that failed,
	// timed out or could not start (raftvip_notify_script_*_total).
	runs, failures atomic.Uint64
}

// ScriptCounts returns how many notify scripts ran and how many of those
// failed (non-zero exit, timeout, kill at shutdown, could not start).
func (n *Notifier) ScriptCounts() (runs, failures uint64) {
	return n.runs.Load(), n.failures.Load()
}

// New starts a Notifier's workers; Close stops them.
func New(opt Options) *Notifier {
	if opt.Instance == "" {
		opt.Instance = DefaultInstance
	}
	if opt.Priority == 0 {
		opt.Priority = DefaultPriority
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Queue <= 0 {
		opt.Queue = DefaultQueue
	}
	if opt.Backoff <= 0 {
		opt.Backoff = webhookBackoff
	}
	if opt.WebhookName == "" {
		opt.WebhookName = "webhook"
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{}
	}
	log := opt.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{opt: opt, log: log.Named("notify"), wake: make(chan struct{}, 1), hookWake: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, fifo: -1, done: make(chan struct{}), hookDone: make(chan struct{})}
	go n.runScripts()
	go n.runHooks()
	return n
}

// Notify queues ev. It never blocks: with the script queue full, the
// queued events are replaced by ev (the scripts then see the latest state;
// ev.Previous stays what the first dropped event had, so the transition
// reported spans the dropped ones).
func (n *Notifier) Notify(ev Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.log.Warn("notifier closed: event not delivered", "state", ev.State)
		return
	}
	if n.hasScripts() {
		if len(n.queue) >= n.opt.Queue {
			// Logged by the worker: Notify runs on the agent's loop.
			ev.Previous = n.queue[0].Previous
			n.coalesced += len(n.queue)
			n.queue = n.queue[:0]
		}
		n.queue = append(n.queue, ev)
		signal(n.wake)
	}
	if n.opt.Webhook != "" {
		if len(n.hooks) >= n.opt.Queue {
			n.hooks = n.hooks[1:]
			n.hookDropped++
		}
		n.hooks = append(n.hooks, ev)
		signal(n.hookWake)
	}
}

func (n *Notifier) hasScripts() bool {
	o := n.opt
	return o.Master != nil || o.Backup != nil || o.Fault != nil || o.Stop != nil || o.Notify != nil || o.FIFO != ""
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Close delivers what is queued until ctx ends, then kills a running
// script and stops. Later events are dropped (logged).
func (n *Notifier) Close(ctx context.Context) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	n.mu.Unlock()
	signal(n.wake)
	signal(n.hookWake)
	for _, d := range []chan struct{}{n.done, n.hookDone} {
		select {
		case <-d:
		case <-ctx.Done():
			n.cancel()
			<-d
		}
	}
	n.cancel()
	n.mu.Lock()
	left, hooks := len(n.queue), len(n.hooks)
	n.mu.Unlock()
	if left > 0 || hooks > 0 {
		n.log.Warn("shutdown: notifications not delivered in time", "scripts", left, "webhook", hooks)
	}
	if n.fifo >= 0 {
		syscall.Close(n.fifo)
		n.fifo = -1
	}
}

// next takes the next event of q, or reports that the worker should stop
// (closed and empty, or cancelled).
func (n *Notifier) next(q *[]Event, wake chan struct{}) (Event, bool) {
	for {
		n.mu.Lock()
		if n.ctx.Err() != nil {
			n.mu.Unlock()
			return Event{}, false
		}
		if len(*q) > 0 {
			ev := (*q)[0]
			*q = (*q)[1:]
			n.mu.Unlock()
			return ev, true
		}
		closed := n.closed
		n.mu.Unlock()
		if closed {
			return Event{}, false
		}
		select {
		case <-wake:
		case <-n.ctx.Done():
		}
	}
}

func (n *Notifier) runScripts() {
	defer close(n.done)
	for {
		ev, ok := n.next(&n.queue, n.wake)
		if !ok {
			return
		}
		n.mu.Lock()
		dropped := n.coalesced
		n.coalesced = 0
		n.mu.Unlock()
		if dropped > 0 {
			n.log.Warn("notify queue was full (scripts slow or hanging): queued state changes coalesced to the latest",
				"dropped", dropped, "state", ev.State, "previous", ev.Previous)
		}
		n.deliver(ev)
	}
}

// deliver runs what keepalived runs for a state change, in keepalived's
// order: the state's own script, the generic notify script, the FIFO line.
func (n *Notifier) deliver(ev Event) {
	o := n.opt
	if s := n.specific(ev.State); s != nil {
		n.run(ev, s)
	}
	if o.Notify != nil {
		argv := append(append([]string(nil), o.Notify...), NotifyArgs(o.Instance, ev.State, o.Priority)...)
		n.run(ev, argv)
	}
	if o.FIFO != "" {
		n.writeFIFO(FIFOLine(o.Instance, ev.State, o.Priority))
	}
}

func (n *Notifier) specific(s State) []string {
	switch s {
	case Master:
		return n.opt.Master
	case Backup:
		return n.opt.Backup
	case Fault:
		return n.opt.Fault
	case Stop:
		return n.opt.Stop
	}
	return nil
}

// run runs one script in its own process group, killed as a whole when
// the timeout passes (a script's children, a sleep or a hung mysql client,
// go with it).
func (n *Notifier) run(ev Event, argv []string) {
	ctx, cancel := context.WithTimeout(n.ctx, n.opt.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), ev.Env(n.opt.Instance, n.opt.Priority)...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that keeps the output pipes open must not keep Wait.
	cmd.WaitDelay = time.Second
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		// The agent runs at a raised CPU priority (cpu_priority), which
		// a child inherits; a site's script has no business above MySQL.
		// From here on it runs as a normal process (its first instants,
		// before this call, may still be raised).
		if rerr := sched.Reset(cmd.Process.Pid); rerr != nil {
			n.log.Debug("could not put the script at normal priority", "script", argv[0], "error", rerr)
		}
		err = cmd.Wait()
	}
	took := time.Since(start).Round(time.Millisecond)
	n.runs.Add(1)
	if err != nil || ctx.Err() != nil {
		n.failures.Add(1)
	}
	kv := []any{"script", argv[0], "state", ev.State, "epoch", ev.Epoch, "took", took}
	if out := stdout.String(); out != "" {
		kv = append(kv, "stdout", out)
	}
	if out := stderr.String(); out != "" {
		kv = append(kv, "stderr", out)
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		n.log.Error("notify script timed out: its process group was killed", append(kv, "timeout", n.opt.Timeout)...)
	case n.ctx.Err() != nil:
		n.log.Error("notify script killed: shutdown could not wait for it", kv...)
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			n.log.Warn("notify script failed", append(kv, "exit", ee.ExitCode())...)
		} else {
			n.log.Error("notify script could not run", append(kv, "error", err)...)
		}
	default:
		n.log.Info("notify script ran", kv...)
	}
}

// writeFIFO writes one line to the FIFO, which is opened non-blocking: a
// FIFO nobody reads (ENXIO on open) or whose reader is behind (EAGAIN)
// loses the line, logged, instead of stalling the notifications. It is kept
// open between lines, as keepalived does, so a reader sees one stream, and
// created (mode 0600) when missing, as keepalived does. The raw fd is
// written with write(2): an *os.File would park on EAGAIN until the
// reader drains.
func (n *Notifier) writeFIFO(line string) {
	err := n.writeLine(line)
	if errors.Is(err, syscall.EPIPE) {
		// The reader went away since the last line; a new one may be
		// there now.
		err = n.writeLine(line)
	}
	if err != nil {
		n.log.Warn("notify fifo: line not written", "fifo", n.opt.FIFO, "line", strings.TrimSpace(line), "error", err)
	}
}

func (n *Notifier) writeLine(line string) error {
	if n.fifo < 0 {
		fd, err := openFIFO(n.opt.FIFO)
		if err != nil {
			return err
		}
		n.fifo = fd
	}
	b := []byte(line)
	w, err := syscall.Write(n.fifo, b)
	if err == nil && w < len(b) {
		err = fmt.Errorf("short write (%d of %d bytes): the reader is behind", w, len(b))
	}
	if err != nil {
		syscall.Close(n.fifo)
		n.fifo = -1
		if errors.Is(err, syscall.EAGAIN) {
			err = errors.New("the FIFO is full: its reader is behind")
		}
	}
	return err
}

func openFIFO(path string) (int, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := syscall.Mkfifo(path, 0o600); err != nil && !errors.Is(err, os.ErrExist) {
			return -1, fmt.Errorf("create: %w", err)
		}
	} else if err != nil {
		return -1, err
	} else if fi.Mode()&os.ModeNamedPipe == 0 {
		return -1, fmt.Errorf("%s is not a FIFO (%s)", path, fi.Mode().Type())
	}
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) {
			return -1, errors.New("no reader has the FIFO open")
		}
		return -1, err
	}
	return fd, nil
}

// capped keeps the first maxOutput bytes written to it.
type capped struct {
	buf  bytes.Buffer
	more bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := maxOutput - c.buf.Len(); room < len(p) {
		if room > 0 {
			c.buf.Write(p[:room])
		}
		c.more = true
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *capped) String() string {
	s := strings.TrimRight(c.buf.String(), "\n")
	if c.more {
		s += " …(truncated)"
	}
	return s
}
