package owner

import (
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

func TestGate(t *testing.T) {
	cases := []struct {
		name    string
		mod     func(*Input)
		want    Action
		inWords string
	}{
		{"observe mode: no acquire, says what it would do", func(in *Input) { in.Observe = true }, None, "observe mode, VIP untouched: would acquire"},
		{"observe mode: no renew either", func(in *Input) { in.Observe = true; in.State.Holder = "hosta"; in.Holding = true }, None, "would renew"},
		{"observe mode: a transfer still runs (it does not touch the VIP)", func(in *Input) { in.Observe = true; in.LocalHealthy = false }, Transfer, ""},
		{"backoff after a failed add: no acquire", func(in *Input) { in.AcquireBackoff = true }, None, "the last VIP add failed"},
		{"backoff: no add of a committed epoch", func(in *Input) {
			in.AcquireBackoff, in.AddPending, in.State.Holder = true, true, "hosta"
		}, None, "waiting before the next attempt"},
		{"backoff does not stop a release", func(in *Input) {
			in.AcquireBackoff, in.State.Holder, in.Holding, in.LocalHealthy = true, "hosta", true, false
		}, Release, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.mod(&in)
			d := Decide(in)
			if d.Action != c.want || !strings.Contains(d.Reason, c.inWords) {
				t.Fatalf("got %s (%q), want %s with %q", d.Action, d.Reason, c.want, c.inWords)
			}
		})
	}
}

func TestRenewDue(t *testing.T) {
	for _, c := range []struct {
		since time.Duration
		want  bool
	}{{0, false}, {300 * time.Millisecond, false}, {334 * time.Millisecond, true}, {2 * time.Second, true}} {
		if got := RenewDue(t0.Add(c.since), t0, time.Second); got != c.want {
			t.Errorf("RenewDue %s after the last renewal (lease 1s) = %v, want %v", c.since, got, c.want)
		}
	}
}

func TestHandoverTarget(t *testing.T) {
	cases := []struct {
		name        string
		st          fsm.State
		unreachable map[string]bool
		want        string
	}{
		{"released: a healthy db peer", state("", "hosta", "hostb"), nil, "hostb"},
		{"held by someone, no fence: no handover", state("hostb", "hosta", "hostb"), nil, ""},
		{"fence pending: hand over, the target keeps waiting", func() fsm.State {
			s := state("hostb", "hosta", "hostb")
			s.Fence = &fsm.Fence{Epoch: 7, Holder: "hostb"}
			return s
		}(), nil, "hostb"},
		{"released, peer unreachable: none", state("", "hosta", "hostb"), map[string]bool{"hostb": true}, ""},
		{"released, peer unhealthy: none", state("", "hosta"), nil, ""},
	}
	for _, c := range cases {
		if got := HandoverTarget(c.st, "hosta", "", c.unreachable); got != c.want {
			t.Errorf("%s: HandoverTarget = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestQuorumAfterRemove(t *testing.T) {
	three := []string{"hosta", "hostb", "witness"}
	cases := []struct {
		name                string
		voters              []string
		unreachable         map[string]bool
		id                  string
		noQuorum, fragile   bool
		remaining, up, need int
	}{
		{"three, remove one, all up: fragile (two left)", three, nil, "witness", false, true, 2, 2, 2},
		{"three, remove one, the other down: no quorum", three, map[string]bool{"hostb": true}, "witness", true, true, 2, 1, 2},
		{"five, remove one: fine", []string{"a", "b", "c", "d", "e"}, nil, "e", false, false, 4, 4, 3},
		{"one voter, remove it: none left", []string{"a"}, nil, "a", true, true, 0, 0, 1},
	}
	for _, c := range cases {
		q := QuorumAfterRemove(c.voters, c.unreachable, c.id)
		if q.NoQuorum() != c.noQuorum || q.Fragile() != c.fragile || q.Remaining != c.remaining || q.Up != c.up || q.Need != c.need {
			t.Errorf("%s: got %+v (no quorum %v, fragile %v)", c.name, q, q.NoQuorum(), q.Fragile())
		}
	}
}
