package fsm

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestFailovers(t *testing.T) {
	ms := time.Millisecond
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	// render is one failover as "from>to: phase@offset ...".
	render := func(fs []Failover) string {
		var b strings.Builder
		for _, f := range fs {
			fmt.Fprintf(&b, "%d %s>%d %s:", f.FromEpoch, f.From, f.Epoch, f.To)
			for _, p := range f.Phases {
				fmt.Fprintf(&b, " %s@%v", p.Name, p.Offset)
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	first := Event{Epoch: 1, Op: OpAcquire, Node: "hosta", By: "hosta", Time: at(0), Leader: 10 * ms}
	cases := []struct {
		name    string
		history []Event
		want    string
	}{
		{"first epoch only: no failover", []Event{first, {Epoch: 1, Op: OpAdded, Node: "hosta", Time: at(ms), GARP: ms}}, ""},
		{"unplanned, every phase", []Event{
			first,
			{Epoch: 1, Op: OpRelease, Node: "hosta", By: "hosta", Time: at(1000 * ms), Detection: 30 * ms, Reason: "mysql unhealthy"},
			{Epoch: 1, Op: "switchover", Via: "hosta", Time: at(1001 * ms)}, // an operator event: ignored
			{Epoch: 2, Op: OpAcquire, Node: "hostb", By: "hostb", Time: at(1020 * ms), Leader: 5 * ms},
			{Epoch: 2, Op: OpAdded, Node: "hostb", By: "hostb", Time: at(1022 * ms), GARP: 1 * ms},
			{Epoch: 2, Op: OpWritable, Node: "hostb", By: "hostb", Time: at(1040 * ms), Wait: 18 * ms, Reason: "writable"},
		}, "1 hosta>2 hostb: detected@0s released@30ms leadership moved@45ms acquired@50ms VIP added@52ms first GARP@53ms writable@70ms\n"},
		{"fenced holder (agent killed): no detection, starts at the earliest phase", []Event{
			first,
			{Epoch: 1, Op: OpFence, Node: "hosta", By: "hostb", Time: at(2000 * ms), Wait: 900 * ms},
			{Epoch: 1, Op: OpRelease, Node: "hosta", By: "hostb", Time: at(2900 * ms), Reason: "kernel lease expired (fenced)"},
			{Epoch: 2, Op: OpAcquire, Node: "hostb", By: "hostb", Time: at(2910 * ms), Leader: 1000 * ms},
		}, "1 hosta>2 hostb: leadership moved@0s fenced@90ms released@990ms acquired@1s\n"},
		{"pulled cable, the witness won: its election starts the timeline", []Event{
			first,
			{Epoch: 1, Op: OpFence, Node: "hosta", By: "witness", Time: at(2000 * ms), Wait: 300 * ms, Election: 40 * ms},
			{Epoch: 1, Op: OpRelease, Node: "hosta", By: "hostb", Time: at(2300 * ms), Reason: "kernel lease expired (fenced)"},
			{Epoch: 2, Op: OpAcquire, Node: "hostb", By: "hostb", Time: at(2310 * ms), Leader: 200 * ms},
		}, "1 hosta>2 hostb: election started@0s fenced@40ms leadership moved@150ms released@340ms acquired@350ms\n"},
		{"older version: acquire without leader, no added", []Event{
			first,
			{Epoch: 1, Op: OpRelease, Node: "hosta", By: "hosta", Time: at(1000 * ms), Reason: "switchover to hostb"},
			{Epoch: 2, Op: OpAcquire, Node: "hostb", By: "hostb", Time: at(1010 * ms)},
		}, "1 hosta>2 hostb: released@0s acquired@10ms\n"},
		{"predecessor fell off the history", []Event{
			{Epoch: 5, Op: OpAcquire, Node: "hostb", By: "hostb", Time: at(0)},
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := render(Failovers(c.history)); got != c.want {
				t.Fatalf("failovers:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}
