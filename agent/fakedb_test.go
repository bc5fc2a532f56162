package agent

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/raftvip/raftvip/mysqlcheck"
)

// dbWorld records when each fake server was writable, on one clock, for
// "never two writable" and "writable only while holding the VIP".
type dbWorld struct {
	mu     sync.Mutex
	events []dbEvent
}

type dbEvent struct {
	node     string
	writable bool
	at       time.Time
}

func (w *dbWorld) record(node string, writable bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, dbEvent{node, writable, time.Now()})
}

type span struct {
	node     string
	from, to time.Time // to zero: still open
}

// spans are the writable intervals of every node.
func (w *dbWorld) spans() []span {
	w.mu.Lock()
	defer w.mu.Unlock()
	open := map[string]time.Time{}
	var out []span
	for _, e := range w.events {
		from, isOpen := open[e.node]
		switch {
		case e.writable && !isOpen:
			open[e.node] = e.at
		case !e.writable && isOpen:
			out = append(out, span{e.node, from, e.at})
			delete(open, e.node)
		}
	}
	for n, from := range open {
		out = append(out, span{n, from, time.Time{}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].from.Before(out[j].from) })
	return out
}

// maxWritable is the most servers writable at one instant.
func (w *dbWorld) maxWritable() int {
	sp := w.spans()
	max := 0
	for _, s := range sp {
		n := 0
		for _, o := range sp {
			if !o.from.After(s.from) && (o.to.IsZero() || o.to.After(s.from)) {
				n++
			}
		}
		if n > max {
			max = n
		}
	}
	return max
}

// fakeDB is one node's server: read-only at start (as my.cnf says), with
// GTID positions the test sets and a catch-up wait it controls.
type fakeDB struct {
	w    *dbWorld
	node string

	mu          sync.Mutex
	readOnly    bool
	pos         mysqlcheck.Positions
	killed      int
	waits       []string        // positions WaitApplied was asked for
	applied     map[string]bool // positions already applied (others wait)
	appliedCh   chan struct{}   // closed and replaced when applied changes
	fences      []uint64        // fence table rows written
	failRO      bool            // SetReadOnly fails (a dead server)
	readOnlyAt  []time.Time     // each time read_only was set ON
	replStopped bool
	dumpKills   []string
	replStarts  int
}

func newFakeDB(w *dbWorld, node string) *fakeDB {
	return &fakeDB{w: w, node: node, readOnly: true, applied: map[string]bool{"": true}, appliedCh: make(chan struct{}),
		pos: mysqlcheck.Positions{Flavor: mysqlcheck.FlavorMariaDB, Configured: true}}
}

func (f *fakeDB) SetReadOnly(ctx context.Context, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRO {
		return fmt.Errorf("dial tcp: connection refused")
	}
	if on {
		f.readOnlyAt = append(f.readOnlyAt, time.Now())
	}
	if f.readOnly != on {
		f.readOnly = on
		f.w.record(f.node, !on)
	}
	return nil
}

func (f *fakeDB) KillClientSessions(ctx context.Context) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killed++
	return 3, nil
}

func (f *fakeDB) Positions(ctx context.Context) (mysqlcheck.Positions, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos, nil
}

func (f *fakeDB) WaitApplied(ctx context.Context, gtid string, timeout time.Duration) error {
	f.mu.Lock()
	f.waits = append(f.waits, gtid)
	f.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		f.mu.Lock()
		done, ch := f.applied[gtid], f.appliedCh
		f.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return mysqlcheck.ErrWaitTimeout
		case <-ch:
		}
	}
}

func (f *fakeDB) WriteFence(ctx context.Context, table string, epoch uint64, node string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fences = append(f.fences, epoch)
	return nil
}

func (f *fakeDB) KillReplicaDumps(ctx context.Context, host string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dumpKills = append(f.dumpKills, host)
	return 1, nil
}

func (f *fakeDB) StopReplication(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replStopped = true
	return nil
}

func (f *fakeDB) StartReplication(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replStopped = false
	f.replStarts++
	return nil
}

func (f *fakeDB) replState() (stopped bool, starts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.replStopped, f.replStarts
}

// apply marks gtid applied (a waiting catch-up returns).
func (f *fakeDB) apply(gtid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied[gtid] = true
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
}

func (f *fakeDB) setPos(binlog, received string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pos.Binlog, f.pos.Received, f.pos.Executed = binlog, received, received
}

func (f *fakeDB) isReadOnly() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readOnly
}

func (f *fakeDB) waited() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.waits...)
}
