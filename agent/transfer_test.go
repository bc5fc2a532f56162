package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster"
)

// Transfer, relay, preemption and switchover scenarios (issue 8, cases 9,
// 21 and 22) on the in-process cluster.

// A transfer target that failed one probe is a target again as soon as it
// answers, not after the suspect period (case 22). The period is set to a
// minute here so only the answer can clear it within the test.
func TestFailedProbeDoesNotBarAnsweringTarget(t *testing.T) {
	tc := newTestClusterWith(t, false, func(n *node, o *Options) { o.SuspectFor = time.Minute })
	h := tc.waitHolder(10 * time.Second)
	o := other(h)
	tc.waitAllHealthy(h)

	// The leader's probe of o fails once (a lost answer); o is healthy and
	// answers every later call.
	tc.rpc.FailCalls(tc.nodes[o].id, cluster.OpStatus, 1)
	tc.nodes[h].health.Set(false)
	tc.eventually("VIP moves to "+o+" after its failed probe", 10*time.Second, func() bool { return tc.holder() == o })
	if left := tc.rpc.FailsLeft(tc.nodes[o].id, cluster.OpStatus); left != 0 {
		t.Fatalf("the injected probe failure was not used (%d left): the test did not exercise a failed probe", left)
	}
	// The order of events: probe failed, o answered a later probe, then
	// leadership moved to it.
	tc.logMu.Lock()
	logs := tc.logs.String()
	tc.logMu.Unlock()
	failed := strings.Index(logs, "transfer target failed its probe")
	answered := strings.Index(logs, "transfer target answers again: target="+o)
	moved := strings.Index(logs, "leadership transferred: target="+o)
	if failed < 0 || answered < failed || moved < answered {
		t.Fatalf("want probe failed → answered again → transferred, got positions %d, %d, %d", failed, answered, moved)
	}
	tc.assertNeverTwo()
}
