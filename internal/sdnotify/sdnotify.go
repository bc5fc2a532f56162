// Package sdnotify speaks systemd's notify protocol (sd_notify(3)) for a
// Type=notify service: state lines ("READY=1", "WATCHDOG=1", "STOPPING=1",
// "STATUS=...") sent as one datagram each to the unix socket named by
// $NOTIFY_SOCKET, and the watchdog period from $WATCHDOG_USEC. The protocol
// is a datagram and two variables, so this is written here rather than
// taken as a dependency.
//
// Every method of a nil *Notifier does nothing: outside systemd (no
// NOTIFY_SOCKET) the agent runs the same code.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends to one notify socket.
type Notifier struct {
	socket   string        // a path, or "@name" for an abstract socket
	watchdog time.Duration // WATCHDOG_USEC; 0: no watchdog for us
}

// FromEnv reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and removes
// them from the environment, as sd_notify's unset_environment does: the
// programs the agent starts (notify scripts) must not report for it.
// It returns nil when NOTIFY_SOCKET is unset. A bad WATCHDOG_USEC or
// NOTIFY_SOCKET is an error naming the variable; the notifier returned
// with it still sends what it can (without a watchdog).
func FromEnv() (*Notifier, error) {
	sock, usec, pid := os.Getenv("NOTIFY_SOCKET"), os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID")
	os.Unsetenv("NOTIFY_SOCKET")
	os.Unsetenv("WATCHDOG_USEC")
	os.Unsetenv("WATCHDOG_PID")
	if sock == "" {
		return nil, nil
	}
	n, err := New(sock, 0)
	if err != nil {
		return nil, err
	}
	wd, err := watchdogFor(usec, pid, os.Getpid())
	n.watchdog = wd
	return n, err
}

// New is a notifier for socket (a path or "@name") with the given watchdog
// period (0 for none).
func New(socket string, watchdog time.Duration) (*Notifier, error) {
	// systemd 256 may also hand out vsock: addresses (VMs); a service on
	// the host always gets a unix socket.
	if !strings.HasPrefix(socket, "/") && !strings.HasPrefix(socket, "@") {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q: want an absolute path or an abstract @name", socket)
	}
	return &Notifier{socket: socket, watchdog: watchdog}, nil
}

// watchdogFor is sd_watchdog_enabled: the period in WATCHDOG_USEC, unless
// WATCHDOG_PID names another process (the variables were inherited from
// the service's real main process).
func watchdogFor(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	u, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || u == 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q: want a positive number of microseconds; watchdog pings off", usec)
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p <= 0 {
			return 0, fmt.Errorf("WATCHDOG_PID=%q: want a process id; watchdog pings off", pid)
		}
		if p != self {
			return 0, nil
		}
	}
	return time.Duration(u) * time.Microsecond, nil
}

// Watchdog is the watchdog period systemd enforces on this process (0: none).
func (n *Notifier) Watchdog() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog
}

// Send sends the state lines as one datagram.
func (n *Notifier) Send(lines ...string) error {
	if n == nil || len(lines) == 0 {
		return nil
	}
	for _, l := range lines {
		if strings.ContainsRune(l, '\n') {
			return fmt.Errorf("sd_notify: newline in %q", l)
		}
	}
	// A fresh socket each time: a service manager that re-executed has a
	// new socket at the same name, and these messages are rare.
	// Go maps a leading "@" to the abstract namespace.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify to %s: %w", n.socket, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(lines, "\n"))); err != nil {
		return fmt.Errorf("sd_notify to %s: %w", n.socket, err)
	}
	return nil
}

// State lines.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Ping     = "WATCHDOG=1"
)

// Loop reports a service's main loop: READY=1 after its first pass,
// WATCHDOG=1 from its passes every half watchdog period (the interval
// sd_watchdog_enabled(3) recommends), and STATUS= when the status changes.
// Because the pings come from the passes, a loop that is stuck stops them
// and systemd restarts the service. Pass is called from the loop only.
type Loop struct {
	n      *Notifier
	every  time.Duration
	ready  bool
	last   time.Time
	status string
	// OnError gets a failed send (nil: ignored); the loop carries on.
	OnError func(error)
}

// Loop is nil for a nil Notifier (a nil *Loop's Pass does nothing).
func (n *Notifier) Loop() *Loop {
	if n == nil {
		return nil
	}
	return &Loop{n: n, every: n.watchdog / 2}
}

// Pass reports one pass of the loop at now with its current status line
// ("" for none).
func (l *Loop) Pass(now time.Time, status string) {
	if l == nil {
		return
	}
	var lines []string
	if status != "" && status != l.status {
		lines = append(lines, "STATUS="+status)
		l.status = status
	}
	if !l.ready {
		lines = append(lines, Ready)
	}
	if l.every > 0 && (!l.ready || now.Sub(l.last) >= l.every) {
		lines = append(lines, Ping)
		l.last = now
	}
	l.ready = true
	if err := l.n.Send(lines...); err != nil && l.OnError != nil {
		l.OnError(err)
	}
}

// Stop sends STOPPING=1, with a last watchdog ping: the loop stops on
// purpose now, and the shutdown gets a whole period. It may be called
// from another goroutine than Pass's.
func (l *Loop) Stop() error {
	if l == nil {
		return nil
	}
	lines := []string{Stopping}
	if l.every > 0 {
		lines = append(lines, Ping)
	}
	return l.n.Send(lines...)
}
