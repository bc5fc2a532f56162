package fsm

import (
	"sort"
	"time"
)

// The phases of a failover, in the order they normally happen. Each comes
// from a recorded command's own times (never from Apply), so every node
// derives the same timeline from the same history.
const (
	PhaseDetected = "detected"         // release time - Detection: the first sign of trouble
	PhaseElection = "election started" // fence time - Election: the fencer's heartbeat timer fired
	PhaseFenced   = "fenced"           // a leader found the holder unreleased
	PhaseReleased = "released"         // the release committed (by the holder, or after the fence)
	PhaseLeader   = "leadership moved" // acquire time - Leader: when the new holder became leader
	PhaseAcquired = "acquired"         // the new epoch committed
	PhaseAdded    = "VIP added"        // the address was on the new holder
	PhaseGARP     = "first GARP"       // its first gratuitous ARP went out
	PhaseWritable = "writable"         // the new holder's catch-up ended (read_only off, or why not)
)

// Phase is one step of a failover.
type Phase struct {
	Name string    `json:"name"`
	Node string    `json:"node"`
	Time time.Time `json:"time"`
	// Offset is Time minus the failover's Start.
	Offset time.Duration `json:"offset_ns"`
	Detail string        `json:"detail,omitempty"`
}

// Failover is the move from epoch From to the next, Epoch, as the history
// tells it: one per acquire that follows a released epoch.
type Failover struct {
	FromEpoch uint64 `json:"from_epoch"`
	From      string `json:"from"`
	Epoch     uint64 `json:"epoch"`
	To        string `json:"to"`
	Reason    string `json:"reason"` // the release's (or the fence's) reason
	// Start is the first sign of trouble when the release says (its
	// Detection), else the earliest phase recorded.
	Start  time.Time `json:"start"`
	Phases []Phase   `json:"phases"` // in time order
}

// Phase returns the named phase, if recorded.
func (f Failover) Phase(name string) (Phase, bool) {
	for _, p := range f.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return Phase{}, false
}

// Failovers reads the failovers out of a history (oldest first): every
// acquire of epoch N+1 whose epoch N was released or fenced, with the
// phases recorded for both epochs. A phase whose command was never
// recorded (an older version, a leader that lost its term) is missing.
func Failovers(history []Event) []Failover {
	type epochEvents struct{ acquire, release, fence, added, writable *Event }
	byEpoch := map[uint64]*epochEvents{}
	at := func(n uint64) *epochEvents {
		e := byEpoch[n]
		if e == nil {
			e = &epochEvents{}
			byEpoch[n] = e
		}
		return e
	}
	first := func(slot **Event, e *Event) {
		if *slot == nil {
			*slot = e
		}
	}
	var order []uint64
	for i := range history {
		e := &history[i]
		if e.Via != "" {
			continue // an operator's command, not an epoch event
		}
		switch e.Op {
		case OpAcquire:
			if at(e.Epoch).acquire == nil {
				order = append(order, e.Epoch)
			}
			first(&at(e.Epoch).acquire, e)
		case OpRelease:
			first(&at(e.Epoch).release, e)
		case OpFence:
			first(&at(e.Epoch).fence, e)
		case OpAdded:
			first(&at(e.Epoch).added, e)
		case OpWritable:
			first(&at(e.Epoch).writable, e)
		}
	}
	var out []Failover
	for _, n := range order {
		if n == 0 {
			continue
		}
		prev, ok := byEpoch[n-1]
		if !ok || (prev.release == nil && prev.fence == nil) {
			continue // the first epoch, or its predecessor fell off the history
		}
		cur := byEpoch[n]
		f := Failover{FromEpoch: n - 1, Epoch: n, To: cur.acquire.Node}
		add := func(name, node string, t time.Time, detail string) {
			f.Phases = append(f.Phases, Phase{Name: name, Node: node, Time: t, Detail: detail})
		}
		if r := prev.release; r != nil {
			f.From, f.Reason = r.Node, r.Reason
			if r.Detection > 0 {
				add(PhaseDetected, r.Node, r.Time.Add(-r.Detection), "")
				f.Start = r.Time.Add(-r.Detection)
			}
			detail := ""
			if r.By != r.Node {
				detail = "by " + r.By + ": " + r.Reason
			}
			add(PhaseReleased, r.Node, r.Time, detail)
		}
		if fc := prev.fence; fc != nil {
			f.From = fc.Node
			if f.Reason == "" || prev.release == nil || prev.release.By != prev.release.Node {
				f.Reason = fc.Reason
			}
			if fc.Election > 0 {
				add(PhaseElection, fc.By, fc.Time.Add(-fc.Election), "")
			}
			add(PhaseFenced, fc.Node, fc.Time, "by "+fc.By+", wait "+fc.Wait.Round(time.Millisecond).String())
		}
		a := cur.acquire
		if a.Leader > 0 {
			add(PhaseLeader, a.Node, a.Time.Add(-a.Leader), "")
		}
		add(PhaseAcquired, a.Node, a.Time, "")
		if ad := cur.added; ad != nil {
			add(PhaseAdded, ad.Node, ad.Time, "")
			if ad.GARP > 0 {
				add(PhaseGARP, ad.Node, ad.Time.Add(ad.GARP), "")
			}
		}
		if w := cur.writable; w != nil {
			add(PhaseWritable, w.Node, w.Time, w.Reason)
		}
		sort.SliceStable(f.Phases, func(i, j int) bool { return f.Phases[i].Time.Before(f.Phases[j].Time) })
		if f.Start.IsZero() {
			f.Start = f.Phases[0].Time
		}
		for i := range f.Phases {
			f.Phases[i].Offset = f.Phases[i].Time.Sub(f.Start)
		}
		out = append(out, f)
	}
	return out
}
