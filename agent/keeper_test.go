package agent

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/fsm"
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
