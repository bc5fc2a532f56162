package owner

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// Who may be promoted (docs/safety.md, rule 8). A DB node is a candidate
// only if its replication from the holder was running and within max_lag at
// its last check while the holder was alive, or it has caught up since.
// Each node judges its own server (Freshness, on every replication reading:
// every mysql.replication_interval while steady, every check otherwise) and reports
// the verdict with its health; the leader combines it with when the holder
// stopped (Stale).

// Replica is what a node's last check read of its replication (the parts
// of mysqlcheck.Replication the verdict needs).
type Replica struct {
	// ReadError: the check could not read the replication state (a
	// missing privilege): no verdict can be made, and none is assumed.
	ReadError  string
	Configured bool
	IORunning  string // "Yes", "No", "Connecting"
	SQLRunning bool
	SQLErrno   int
	SQLError   string
	// SecondsBehind is nil when the server does not know.
	SecondsBehind *int64
	Received      string // GTIDs the IO thread received
	Executed      string // GTIDs the SQL thread applied
}

// Freshness is a node's verdict on its own server.
type Freshness struct {
	// Stale says why the server is not caught up ("" when it is).
	Stale         string
	NoReplication bool
	// IODownSince is when its IO thread was first seen not running
	// (zero while it runs).
	IODownSince time.Time
}

// Judge updates prev with one check's reading at now. While the IO thread
// runs, the verdict is what the server says (SQL thread running, lag
// within maxLag). When it does not (the holder died, or the link to it is
// down), the server cannot know how far behind it is: the verdict from
// the last check while it ran stands, IODownSince says since when, and
// the leader compares that with when the holder stopped (Stale). Having
// applied everything received clears a stale verdict: nothing more can
// arrive while the IO thread is down.
func Judge(prev Freshness, r *Replica, maxLag time.Duration, now time.Time) Freshness {
	if r == nil {
		return prev // no check has read replication yet (or MySQL is down)
	}
	if r.ReadError != "" {
		return Freshness{Stale: "replication state unreadable: " + r.ReadError}
	}
	if !r.Configured {
		return Freshness{NoReplication: true}
	}
	next := Freshness{Stale: prev.Stale, IODownSince: prev.IODownSince}
	ioUp := r.IORunning == "Yes"
	if ioUp {
		next.IODownSince = time.Time{}
	} else if next.IODownSince.IsZero() {
		next.IODownSince = now
	}
	caughtUp := !ioUp && SameGTIDs(r.Received, r.Executed)
	switch {
	case !r.SQLRunning || r.SQLErrno != 0:
		if caughtUp {
			next.Stale = ""
			break
		}
		if r.SQLErrno != 0 {
			next.Stale = fmt.Sprintf("replication SQL thread error %d: %s", r.SQLErrno, r.SQLError)
		} else {
			next.Stale = "replication SQL thread stopped"
		}
	case ioUp && r.SecondsBehind != nil && time.Duration(*r.SecondsBehind)*time.Second > maxLag:
		next.Stale = fmt.Sprintf("replication %ds behind (failover.max_lag %s)", *r.SecondsBehind, maxLag)
	case ioUp && r.SecondsBehind != nil:
		next.Stale = ""
	case caughtUp:
		next.Stale = ""
	case prev == (Freshness{}) && !ioUp:
		// First reading, IO thread already down: unknown how far
		// behind; the leader's rule (IODownSince) decides.
	}
	return next
}

// SameGTIDs compares two GTID position lists regardless of order and
// spacing ("0-1-5,0-2-7" = "0-2-7, 0-1-5"); MySQL sets with the same
// text compare equal too.
func SameGTIDs(a, b string) bool {
	norm := func(s string) string {
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		sort.Strings(parts)
		return strings.Join(parts, ",")
	}
	return norm(a) == norm(b)
}

// stoppedAt is when the holder (or the last holder) stopped taking writes,
// as the replicated state shows it: its unhealthy report's first failure,
// a fence on it (it vanished), or its release. Zero while it holds and
// reports healthy: it is still taking writes now.
func stoppedAt(st fsm.State) (holder string, at time.Time) {
	holder = st.Holder
	if holder == "" {
		holder, at = st.LastHolder, st.Released
	}
	if holder == "" {
		return "", time.Time{}
	}
	if h, ok := st.Health[holder]; ok && !h.Healthy && !h.Since.IsZero() && (at.IsZero() || h.Since.Before(at)) {
		at = h.Since
	}
	if f := st.Fence; f != nil && f.Holder == holder && (at.IsZero() || f.Time.Before(at)) {
		at = f.Time
	}
	return holder, at
}

// Stale says why node id may not be promoted now ("" when it may): its own
// verdict, or, when its replication IO thread was down, whether it was down
// for more than maxLag while the (last) holder still took writes — that
// much of the holder's writes it may never have received. The node that
// holds, or held last, is never stale for itself: it has its own writes.
func Stale(st fsm.State, id string, maxLag time.Duration, now time.Time) string {
	h, ok := st.Health[id]
	if !ok {
		return ""
	}
	holder, stopped := stoppedAt(st)
	if holder == id || holder == "" {
		return ""
	}
	if h.Stale != "" {
		return h.Stale
	}
	if h.ReplDownSince.IsZero() || h.NoReplication {
		return ""
	}
	end := stopped
	if end.IsZero() {
		end = now
	}
	if down := end.Sub(h.ReplDownSince); down > maxLag {
		return fmt.Sprintf("replication from %s was down for %s while %s took writes (failover.max_lag %s)",
			holder, down.Round(time.Millisecond), holder, maxLag)
	}
	return ""
}

// StaleNodes lists the db members that Stale bars, with why (sorted by id).
func StaleNodes(st fsm.State, maxLag time.Duration, now time.Time) map[string]string {
	out := map[string]string{}
	for _, id := range st.MemberIDs() {
		if st.Members[id].Role != fsm.RoleDB {
			continue
		}
		if why := Stale(st, id, maxLag, now); why != "" {
			out[id] = why
		}
	}
	return out
}
