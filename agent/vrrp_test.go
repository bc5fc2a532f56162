package agent

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/vrrpcompat"
)

// fakeVRRP plays the wire: the test sets what Block/Yield answer and counts
// what the agent sent.
type fakeVRRP struct {
	mu              sync.Mutex
	block, yield    string
	sent, released  int
	lastReleaseTime time.Time
}

func (f *fakeVRRP) set(block, yield string) {
	f.mu.Lock()
	f.block, f.yield = block, yield
	f.mu.Unlock()
}
func (f *fakeVRRP) Block(time.Time) string { f.mu.Lock(); defer f.mu.Unlock(); return f.block }
func (f *fakeVRRP) Yield(time.Time) string { f.mu.Lock(); defer f.mu.Unlock(); return f.yield }
func (f *fakeVRRP) Send() error            { f.mu.Lock(); f.sent++; f.mu.Unlock(); return nil }
func (f *fakeVRRP) SendRelease() error {
	f.mu.Lock()
	f.released++
	f.lastReleaseTime = time.Now()
	f.mu.Unlock()
	return nil
}
func (f *fakeVRRP) Interval() time.Duration { return 100 * time.Millisecond }
func (f *fakeVRRP) Status(time.Time) vrrpcompat.SpeakerStatus {
	return vrrpcompat.SpeakerStatus{Version: 2, VRID: 51, Priority: 250}
}
func (f *fakeVRRP) counts() (int, int) { f.mu.Lock(); defer f.mu.Unlock(); return f.sent, f.released }

func newVRRPCluster(t *testing.T, mode string) (*testCluster, map[string]*fakeVRRP) {
	fakes := map[string]*fakeVRRP{"hosta": {}, "hostb": {}}
	tc := newTestClusterWith(t, false, func(n *node, opt *Options) {
		if f, ok := fakes[n.id]; ok {
			opt.VRRPMode = mode
			n.vrrp = f
		}
	})
	return tc, fakes
}

func TestVRRPActiveYieldsToStrongerMaster(t *testing.T) {
	tc, fakes := newVRRPCluster(t, VRRPActive)
	h := tc.waitHolder(10 * time.Second)
	time.Sleep(300 * time.Millisecond)
	if sent, _ := fakes[h].counts(); sent < 2 {
		t.Fatalf("holder sent %d VRRP adverts in 300ms at a 100ms interval", sent)
	}
	// A keepalived with priority 255 appears: nobody may hold the VIP.
	for _, f := range fakes {
		f.set("VRRP master 10.99.0.21 (priority 255, VRRPv2) outranks raftvip (priority 250)", "")
	}
	tc.eventually("nobody holds while outranked", 5*time.Second, func() bool {
		return len(tc.tl.Holders(time.Now())) == 0 && tc.nodes[h].fsm.State().Holder == ""
	})
	if _, rel := fakes[h].counts(); rel != 1 {
		t.Fatalf("old holder sent %d priority-0 adverts, want 1", rel)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st := tc.leader().agent.ClusterStatus(ctx, 5)
	if !strings.Contains(st.Note, "outranks raftvip") || st.VRRPMode != VRRPActive || st.VRRP == nil {
		t.Fatalf("status does not say why nobody holds: note %q mode %q", st.Note, st.VRRPMode)
	}
	// keepalived's weaker master must yield first: raftvip advertises, no VIP yet.
	for _, f := range fakes {
		f.set("", "10.99.0.21")
	}
	time.Sleep(time.Second)
	if len(tc.tl.Holders(time.Now())) != 0 {
		t.Fatal("raftvip added the VIP while a weaker VRRP master still advertised")
	}
	var sentWhileWaiting int
	for _, f := range fakes {
		s, _ := f.counts()
		sentWhileWaiting += s
	}
	// It yielded (stopped advertising): raftvip takes the VIP.
	for _, f := range fakes {
		f.set("", "")
	}
	tc.waitHolder(5 * time.Second)
	if sentWhileWaiting < 3 {
		t.Fatalf("only %d adverts while waiting for the weaker master to yield", sentWhileWaiting)
	}
	tc.assertNeverTwo()
}

func TestVRRPObserveNeverTouchesVIP(t *testing.T) {
	tc, fakes := newVRRPCluster(t, VRRPObserve)
	tc.eventually("a db leader reports what it would do", 10*time.Second, func() bool {
		l := tc.leader()
		if l == nil || l.role != "db" {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, v := range l.agent.ClusterStatus(ctx, 1).Nodes {
			if v.ID == l.id && strings.Contains(v.Reason, "observe mode, VIP untouched: would acquire") {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * testLease)
	if evs := tc.tl.Events(); len(evs) != 0 {
		t.Fatalf("observe mode touched the VIP: %+v", evs)
	}
	for id, f := range fakes {
		if s, r := f.counts(); s+r != 0 {
			t.Fatalf("%s sent VRRP adverts in observe mode (%d, %d)", id, s, r)
		}
	}
	var l *node
	tc.eventually("a leader", 5*time.Second, func() bool { l = tc.leader(); return l != nil })
	if e := l.fsm.State().Epoch; e != 0 {
		t.Fatalf("observe mode recorded epoch %d", e)
	}
}
