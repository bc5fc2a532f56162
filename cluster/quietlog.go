package cluster

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// hashicorp/raft logs a peer it cannot reach at ERROR, on every attempt:
// "failed to heartbeat to" up to ten times a second, "failed to
// appendEntries to", "failed to make requestVote RPC" from candidates, for
// as long as the peer is away. A routine restart of one peer thus wrote a
// hundred ERROR lines on the others. The cluster logs the fact itself
// ("peer not answering heartbeats", once) and status shows it, so these go
// to WARN, at most once per peer and message in quietWindow, with the count
// of the lines left out. Connections that end because a node shuts down
// are no error at all (DEBUG).

// quietWindow is how long repeats of one peer message are left out.
const quietWindow = 30 * time.Second

// peerMessages are raft's per-attempt messages about an unreachable peer.
var peerMessages = map[string]bool{
	"failed to appendEntries to":              true,
	"failed to heartbeat to":                  true,
	"failed to make requestVote RPC":          true,
	"failed to start pipeline replication to": true,
	"failed to pipeline appendEntries":        true,
	"failed to contact":                       true,
}

// shutdownMessages are logged by the transport when a connection or the
// listener closes; with one of shutdownErrors they mean a node stopped.
var shutdownMessages = map[string]bool{
	"failed to decode incoming command": true,
	"failed to flush response":          true,
	"failed to accept connection":       true,
}

var shutdownErrors = []string{"transport shutdown", "use of closed network connection", "connection reset by peer", "broken pipe", "EOF"}

// quietLogger wraps the logger handed to raft and its transport.
type quietLogger struct {
	hclog.Logger
	lim *limiter
}

type limiter struct {
	mu     sync.Mutex
	now    func() time.Time
	window time.Duration
	seen   map[string]*seenLine
}

type seenLine struct {
	last       time.Time // when a line for this key was written
	suppressed int       // lines left out since
}

func newQuietLogger(l hclog.Logger) hclog.Logger {
	return &quietLogger{Logger: l, lim: &limiter{now: time.Now, window: quietWindow, seen: map[string]*seenLine{}}}
}

// admit reports whether a line for key is written now, and how many were
// left out before it.
func (l *limiter) admit(key string) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s, ok := l.seen[key]
	if !ok {
		l.seen[key] = &seenLine{last: now}
		return true, 0
	}
	if now.Sub(s.last) < l.window {
		s.suppressed++
		return false, 0
	}
	n := s.suppressed
	s.last, s.suppressed = now, 0
	return true, n
}

// peerKey names the peer a raft message is about (its "peer", "target" or
// "server-id" argument).
func peerKey(args []interface{}) string {
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "peer", "target", "server-id":
			return fmt.Sprint(args[i+1])
		}
	}
	return ""
}

func errorArg(args []interface{}) string {
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == "error" {
			return fmt.Sprint(args[i+1])
		}
	}
	return ""
}

func (q *quietLogger) Log(level hclog.Level, msg string, args ...interface{}) {
	if level >= hclog.Warn {
		switch {
		case peerMessages[msg]:
			ok, n := q.lim.admit(msg + "\x00" + peerKey(args))
			if !ok {
				return
			}
			if n > 0 {
				args = append(args, "repeated", n)
			}
			level = hclog.Warn
		case shutdownMessages[msg]:
			e := errorArg(args)
			for _, s := range shutdownErrors {
				if strings.Contains(e, s) {
					level = hclog.Debug
					break
				}
			}
		}
	}
	q.Logger.Log(level, msg, args...)
}

func (q *quietLogger) Error(msg string, args ...interface{}) { q.Log(hclog.Error, msg, args...) }
func (q *quietLogger) Warn(msg string, args ...interface{})  { q.Log(hclog.Warn, msg, args...) }

func (q *quietLogger) With(args ...interface{}) hclog.Logger {
	return &quietLogger{Logger: q.Logger.With(args...), lim: q.lim}
}

func (q *quietLogger) Named(name string) hclog.Logger {
	return &quietLogger{Logger: q.Logger.Named(name), lim: q.lim}
}

func (q *quietLogger) ResetNamed(name string) hclog.Logger {
	return &quietLogger{Logger: q.Logger.ResetNamed(name), lim: q.lim}
}
