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
