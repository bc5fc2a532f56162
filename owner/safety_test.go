package owner

import (
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// The holder's own branch (issue 8, cases 2, 5 and 8).
func TestDecideHolderBranch(t *testing.T) {
	held := func(in *Input) { in.State.Holder = "hosta"; in.Holding = true }
	ownFence := func(in *Input) {
		held(in)
		in.State.Fence = &fsm.Fence{Epoch: 7, Holder: "hosta", By: "hostb", Wait: time.Second}
	}
	cases := []struct {
		name string
		mod  func(*Input)
		want Action
	}{
		{"fence on own epoch, VIP up: release, never renew", ownFence, Release},
		{"fence on own epoch, VIP not up: record release", func(in *Input) { ownFence(in); in.Holding = false }, RecordRelease},
		{"fence on own epoch with add pending: record release, no add", func(in *Input) { ownFence(in); in.Holding = false; in.AddPending = true }, RecordRelease},
		{"fence on an older epoch of ours does not count", func(in *Input) { ownFence(in); in.State.Fence.Epoch = 6 }, Renew},
		{"add pending, all well: add the VIP", func(in *Input) { held(in); in.Holding = false; in.AddPending = true }, AddVIP},
		{"add pending but unhealthy: record release", func(in *Input) {
			held(in)
			in.Holding, in.AddPending, in.LocalHealthy = false, true, false
		}, RecordRelease},
		{"remove pending: drop before anything is recorded", func(in *Input) { held(in); in.RemovePending = true }, Drop},
		{"remove pending while unhealthy: still drop, not release", func(in *Input) { held(in); in.RemovePending = true; in.LocalHealthy = false }, Drop},
		{"stale proof: drop", func(in *Input) { held(in); in.LeaseFresh = false }, Drop},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.mod(&in)
			if d := Decide(in); d.Action != c.want {
				t.Fatalf("got %s (%s), want %s", d.Action, d.Reason, c.want)
			}
		})
	}
}

func TestFenceWait(t *testing.T) {
	ms := time.Millisecond
	own := fsm.HoldTerms{Lease: time.Second, Slack: 100 * ms, Margin: 300 * ms}
	cases := []struct {
		name   string
		holder fsm.HoldTerms
		minHT  time.Duration
		want   time.Duration
	}{
		{"defaults everywhere", own, 500 * ms, 900 * ms},
		{"holder on a 3 s lease, fencer on 1 s", fsm.HoldTerms{Lease: 3 * time.Second, Slack: 100 * ms, Margin: 300 * ms}, 500 * ms, 2900 * ms},
		{"a voter's heartbeat timeout unknown: no credit", own, 0, 1400 * ms},
		{"record without terms: this node's own", fsm.HoldTerms{}, 500 * ms, 900 * ms},
		{"credit never beyond the lease", fsm.HoldTerms{Lease: time.Second, Slack: 100 * ms, Margin: 300 * ms}, 5 * time.Second, 400 * ms},
	}
	for _, c := range cases {
		if got := FenceWait(c.holder, own, c.minHT); got != c.want {
			t.Errorf("%s: FenceWait = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestMinHeartbeat(t *testing.T) {
	st := fsm.State{Timings: map[string]fsm.Timings{
		"hosta":   {Node: "hosta", HeartbeatTimeout: 500 * time.Millisecond},
		"hostb":   {Node: "hostb", HeartbeatTimeout: 300 * time.Millisecond},
		"witness": {Node: "witness", HeartbeatTimeout: time.Second},
	}}
	if got := MinHeartbeat(st, []string{"hosta", "hostb", "witness"}); got != 300*time.Millisecond {
		t.Fatalf("MinHeartbeat = %s, want the smallest, 300ms", got)
	}
	if got := MinHeartbeat(st, []string{"hosta", "hostc"}); got != 0 {
		t.Fatalf("MinHeartbeat with an unreported voter = %s, want 0", got)
	}
	if got := MinHeartbeat(st, nil); got != 0 {
		t.Fatalf("MinHeartbeat of no voters = %s, want 0", got)
	}
}

func TestTimingMismatch(t *testing.T) {
	st := fsm.State{Members: members(), Timings: map[string]fsm.Timings{
		"hosta":   {Node: "hosta", HeartbeatTimeout: 500 * time.Millisecond, Terms: fsm.HoldTerms{Lease: 2 * time.Second}},
		"hostb":   {Node: "hostb", HeartbeatTimeout: 500 * time.Millisecond, Terms: fsm.HoldTerms{Lease: 2 * time.Second}},
		"witness": {Node: "witness", HeartbeatTimeout: 500 * time.Millisecond},
	}}
	if w := TimingMismatch(st); w != "" {
		t.Fatalf("same timings (a witness has no lease): got warning %q", w)
	}
	st.Timings["hostb"] = fsm.Timings{Node: "hostb", HeartbeatTimeout: time.Second, Terms: fsm.HoldTerms{Lease: time.Second}}
	w := TimingMismatch(st)
	for _, want := range []string{"heartbeat_timeout", "hostb=1s", "vip.lease", "hosta=2s"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q lacks %q", w, want)
		}
	}
}
