package cluster

import (
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// gateFSM counts commands like countFSM, and can be made to hold the next
// Apply until released: raft then has handed the entry over (and counts it
// in its own applied index) while the FSM has not applied it.
type gateFSM struct {
	mu     sync.Mutex
	last   uint64
	gate   chan struct{} // non-nil: Apply waits for it to close
	inside chan struct{} // closed when an Apply is waiting at the gate
}

func (f *gateFSM) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	gate, inside := f.gate, f.inside
	f.mu.Unlock()
	if gate != nil {
		close(inside)
		<-gate
	}
	f.mu.Lock()
	f.gate, f.inside = nil, nil
	f.last = l.Index
	f.mu.Unlock()
	return nil
}

func (f *gateFSM) LastApplied() (uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last, true
}

// hold makes the next Apply wait; it returns a channel closed once one
// waits and the function that lets it go.
func (f *gateFSM) hold() (inside <-chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate, f.inside = make(chan struct{}), make(chan struct{})
	g := f.gate
	return f.inside, func() { close(g) }
}

func (f *gateFSM) Snapshot() (raft.FSMSnapshot, error) {
	return nil, fmt.Errorf("no snapshots in this test")
}
func (f *gateFSM) Restore(rc io.ReadCloser) error { return rc.Close() }

// A follower's applied index never counts a command its FSM has not
// applied. hashicorp/raft records an entry as applied when it hands it to
// the FSM goroutine, before FSM.Apply runs; `status` right after a restart
// compared that index with the leader's and showed an empty FSM ("VIP:
// nobody, epoch 0") as caught up (TestStatusRightAfterRestart failed so in
// a CI run).
func TestAppliedIndexWaitsForTheFSM(t *testing.T) {
	timing := Timing{HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond, CommitTimeout: 10 * time.Millisecond}
	fsms := []*gateFSM{{}, {}, {}}
	cs := inmemCluster(t, timing, func(i int) raft.FSM { return fsms[i] }, nil, true)
	// Registered after the nodes: cleanups run last-first, so a gate
	// still closed is opened before raft shuts down.
	var releases []func()
	t.Cleanup(func() {
		for _, r := range releases {
			r()
		}
		for _, c := range cs {
			c.Close()
		}
	})
	leader := nudgeLeader(t, cs)
	if _, err := leader.Apply([]byte("first"), time.Second); err != nil {
		t.Fatal(err)
	}
	var follower *Cluster
	var ffsm *gateFSM
	for i, c := range cs {
		if c != leader {
			follower, ffsm = c, fsms[i]
			break
		}
	}
	first := leader.AppliedIndex()
	waitFor(t, "the follower did not apply the first command", func() bool { return follower.AppliedIndex() >= first })

	inside, release := ffsm.hold()
	var once sync.Once
	releases = append(releases, func() { once.Do(release) })
	f := leader.raft.Apply([]byte("second"), time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	second := f.Index()
	select {
	case <-inside:
	case <-time.After(10 * time.Second):
		t.Fatal("the follower's FSM was never asked to apply the second command")
	}
	// Raft has handed the entry over; give it every chance to count it.
	waitFor(t, "raft on the follower did not count the handed-over entry", func() bool { return follower.raft.AppliedIndex() >= second })
	if got := follower.AppliedIndex(); got >= second {
		t.Fatalf("the follower reports applied index %d while its FSM has not applied entry %d", got, second)
	}
	once.Do(release)
	waitFor(t, "the follower's applied index did not reach the command once its FSM applied it", func() bool { return follower.AppliedIndex() >= second })
}
