package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
)

// A fence on a server that does not answer (dead, hung) leaves it "read-
// only wanted, not confirmed", never still shown writable.
func TestFenceOnADeadServerIsNotShownWritable(t *testing.T) {
	db := newFakeDB(&dbWorld{}, "hosta")
	db.failRO = true
	k := newKeeper("hosta", db, nil, DataOptions{}, time.Second, hclog.NewNullLogger(), time.Now, func(fsm.WritableCmd) {})
	k.publish(func(s *DataStatus) { s.Mode, s.Epoch = DataWritable, 3 })
	if _, err := k.Fence(100*time.Millisecond, "mysql unhealthy"); err == nil {
		t.Fatal("fence on a refusing server succeeded")
	}
	if st := k.Status(); st.Mode != DataFencing || st.Error == "" || st.Epoch != 0 {
		t.Fatalf("after a failed fence: %+v, want mode %q with the error", st, DataFencing)
	}
}

// stuckDB is a remote server behind a pulled cable: its Positions call
// never returns, whatever the context says, until the test lets it go.
type stuckDB struct {
	*fakeDB
	entered chan struct{}
	release chan struct{}
}

func (s *stuckDB) Positions(ctx context.Context) (mysqlcheck.Positions, error) {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return mysqlcheck.Positions{}, errors.New("i/o timeout")
}

// A replaced holder compares its transactions with the holder's server
// every few seconds. When that server is unreachable (its cable pulled)
// and this node becomes the holder again, turning writable must not wait
// for the errant check to give up (a lab run saw 1.8 s).
func TestErrantCheckDoesNotDelayWritable(t *testing.T) {
	db := newFakeDB(&dbWorld{}, "hosta")
	stuck := &stuckDB{fakeDB: newFakeDB(&dbWorld{}, "hostb"), entered: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(stuck.release)
	reports := make(chan fsm.WritableCmd, 4)
	k := newKeeper("hosta", db, func(string) (DB, error) { return stuck, nil }, DataOptions{}, 50*time.Millisecond,
		hclog.NewNullLogger(), time.Now, func(c fsm.WritableCmd) { reports <- c })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.Run(ctx)
	k.Want(dataWant{epoch: 2, errantEpoch: 2, source: "10.99.0.12:3306"})
	select {
	case <-stuck.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no errant check against the old holder's server")
	}
	k.Want(dataWant{writable: true, epoch: 3, since: time.Now()})
	select {
	case r := <-reports:
		if r.Epoch != 3 {
			t.Fatalf("writable report for epoch %d, want 3", r.Epoch)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not writable while the errant check waits on an unreachable server")
	}
	if db.isReadOnly() {
		t.Fatal("reported writable, server still read-only")
	}
}

// After an unplanned move the new holder stops its replication from the old
// master until that one reports nothing errant. When this node stops
// holding and the old master holds the VIP again, the hold has no purpose
// (what the old master has is the holder's data now) and this node must
// replicate from it as any standby: kept stopped, it stayed stale for good
// and no failover could pick it (a lab run: "hostb is stale: replication
// from hosta was down for 3m11s"). The hold must also survive an agent
// restart, which forgot it.
func TestHeldReplicationLiftedWhenTheOldMasterHoldsAgain(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := map[bool]string{false: "same agent", true: "agent restarted"}[restart]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db := newFakeDB(&dbWorld{}, "hostb")
			opt := DataOptions{StateDir: dir}
			start := func() (*keeper, context.CancelFunc, chan struct{}) {
				k := newKeeper("hostb", db, nil, opt, 20*time.Millisecond, hclog.NewNullLogger(), time.Now, func(fsm.WritableCmd) {})
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); k.Run(ctx) }()
				return k, cancel, done
			}
			k, cancel, done := start()
			defer func() { cancel(); <-done }()
			k.Want(dataWant{writable: true, epoch: 2, since: time.Now(), source: "10.99.0.11:3306", holdReplication: true, takenFrom: "hosta"})
			waitFor(t, "replication held", func() bool { s, _ := db.replState(); return s && !db.isReadOnly() })
			if restart {
				cancel()
				<-done
				k, cancel, done = start()
			}
			// Nobody holds (the VIP between owners): the hold stays.
			k.Want(dataWant{holder: ""})
			time.Sleep(100 * time.Millisecond)
			if s, _ := db.replState(); !s {
				t.Fatal("replication started while nobody holds the VIP")
			}
			// The old master holds again: replicate from it.
			k.Want(dataWant{holder: "hosta"})
			waitFor(t, "replication started again", func() bool { s, n := db.replState(); return !s && n == 1 })
			if st := k.Status(); st.ReplicationHeld {
				t.Fatalf("status still says replication held: %+v", st)
			}
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for: %s", what)
}

// countingDB counts the Positions reads on a remote server.
type countingDB struct {
	*fakeDB
	reads chan struct{}
}

func (c *countingDB) Positions(ctx context.Context) (mysqlcheck.Positions, error) {
	select {
	case c.reads <- struct{}{}:
	default:
	}
	return c.fakeDB.Positions(ctx)
}

// A replaced holder checks for errant transactions at errantEvery until a
// check of the epoch found none, then at errantCleanEvery; a new epoch
// starts over at the fast pace. Before, it logged in to the holder's
// server every 2 s for the whole epoch.
func TestErrantCheckSlowsDownOnceClean(t *testing.T) {
	db := newFakeDB(&dbWorld{}, "hosta")
	remote := &countingDB{fakeDB: newFakeDB(&dbWorld{}, "hostb"), reads: make(chan struct{}, 100)}
	k := newKeeper("hosta", db, func(string) (DB, error) { return remote, nil }, DataOptions{}, 10*time.Millisecond,
		hclog.NewNullLogger(), time.Now, func(fsm.WritableCmd) {})
	k.errantEvery, k.errantCleanEvery = 10*time.Millisecond, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.Run(ctx)
	reads := func(within time.Duration) int {
		n := 0
		deadline := time.After(within)
		for {
			select {
			case <-remote.reads:
				n++
			case <-deadline:
				return n
			}
		}
	}
	k.Want(dataWant{errantEpoch: 2, source: "10.99.0.12:3306"})
	waitFor(t, "a clean errant check of epoch 2", func() bool {
		st := k.Status()
		return st.ErrantEpoch == 2 && st.Errant == "" && !st.ErrantChecked.IsZero()
	})
	reads(50 * time.Millisecond) // a check that was already running
	if n := reads(300 * time.Millisecond); n != 0 {
		t.Fatalf("%d errant checks in 300 ms after a clean one; want none before errantCleanEvery", n)
	}
	k.Want(dataWant{errantEpoch: 3, source: "10.99.0.12:3306"})
	if n := reads(300 * time.Millisecond); n == 0 {
		t.Fatal("no errant check for a new epoch")
	}
}
