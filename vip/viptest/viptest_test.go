package viptest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// manualClock is moved by the test, so lease expiry needs no sleeping.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const s = time.Second

// step is one call made by a node at offset at from t0.
type step struct {
	at   time.Duration
	node string
	op   string // acquire, renew, release, held, announce
	// lease for acquire/renew; wantHeld for held.
	lease    time.Duration
	wantHeld bool
}

func TestTimeline(t *testing.T) {
	tests := []struct {
		name    string
		steps   []step
		end     time.Duration              // clock when the timeline is inspected
		holders map[time.Duration][]string // offset -> expected holders
		max     int
		events  []string // "offset node op lease"
	}{
		{
			name: "overlapping holders are counted",
			steps: []step{
				{at: 0, node: "a", op: "acquire", lease: 10 * s},
				{at: 5 * s, node: "b", op: "acquire", lease: 10 * s},
			},
			end:     20 * s,
			holders: map[time.Duration][]string{0: {"a"}, 7 * s: {"a", "b"}, 10 * s: {"b"}, 15 * s: nil},
			max:     2,
			events:  []string{"0s a acquire 10s", "5s b acquire 10s", "10s a expire 10s", "15s b expire 10s"},
		},
		{
			name: "expiry is honoured",
			steps: []step{
				{at: 0, node: "a", op: "acquire", lease: 3 * s},
				{at: 2 * s, node: "a", op: "held", wantHeld: true},
				{at: 3 * s, node: "a", op: "held", wantHeld: false},
				// Takes over exactly when a's lease ran out: never both.
				{at: 3 * s, node: "b", op: "acquire", lease: 3 * s},
				{at: 4 * s, node: "b", op: "held", wantHeld: true},
			},
			end:     5 * s,
			holders: map[time.Duration][]string{2 * s: {"a"}, 3 * s: {"b"}, 5 * s: {"b"}, 6 * s: nil},
			max:     1,
			events:  []string{"0s a acquire 3s", "3s a expire 3s", "3s b acquire 3s"},
		},
		{
			name: "release before expiry",
			steps: []step{
				{at: 0, node: "a", op: "acquire", lease: 10 * s},
				{at: 2 * s, node: "a", op: "release"},
				{at: 2 * s, node: "a", op: "held", wantHeld: false},
				{at: 2 * s, node: "b", op: "acquire", lease: 10 * s},
				{at: 4 * s, node: "b", op: "announce"},
			},
			end:     30 * s,
			holders: map[time.Duration][]string{1 * s: {"a"}, 2 * s: {"b"}, 11 * s: {"b"}, 12 * s: nil},
			max:     1,
			events:  []string{"0s a acquire 10s", "2s a release 0s", "2s b acquire 10s", "4s b announce 0s", "12s b expire 10s"},
		},
		{
			name: "renew extends the lease",
			steps: []step{
				{at: 0, node: "a", op: "acquire", lease: 3 * s},
				{at: 2 * s, node: "a", op: "renew", lease: 3 * s},
				{at: 4 * s, node: "a", op: "held", wantHeld: true},
				{at: 4 * s, node: "b", op: "acquire", lease: 3 * s},
			},
			end:     10 * s,
			holders: map[time.Duration][]string{3 * s: {"a"}, 4 * s: {"a", "b"}, 5 * s: {"b"}},
			max:     2,
			events:  []string{"0s a acquire 3s", "2s a renew 3s", "4s b acquire 3s", "5s a expire 3s", "7s b expire 3s"},
		},
		{
			name: "renew after expiry re-adds like the kernel",
			steps: []step{
				{at: 0, node: "a", op: "acquire", lease: 2 * s},
				{at: 3 * s, node: "a", op: "renew", lease: 2 * s},
				{at: 3 * s, node: "a", op: "held", wantHeld: true},
			},
			end:     4 * s,
			holders: map[time.Duration][]string{1 * s: {"a"}, 2 * s: nil, 3 * s: {"a"}, 5 * s: nil},
			max:     1,
			events:  []string{"0s a acquire 2s", "2s a expire 2s", "3s a renew 2s"},
		},
		{
			name: "expiry found late is placed at its instant",
			steps: []step{
				{at: 0, node: "a", op: "acquire", lease: 2 * s},
				{at: 1 * s, node: "b", op: "release"},
				// Nobody touched a's fake until now; its expiry at 2s must still
				// come before b's acquire in the timeline.
				{at: 10 * s, node: "b", op: "acquire", lease: 5 * s},
			},
			end:     11 * s,
			holders: map[time.Duration][]string{1 * s: {"a"}, 5 * s: nil, 10 * s: {"b"}},
			max:     1,
			events:  []string{"0s a acquire 2s", "1s b release 0s", "2s a expire 2s", "10s b acquire 5s"},
		},
		{
			name: "future instants follow the current leases",
			steps: []step{
				{at: 0, node: "a", op: "acquire", lease: 10 * s},
			},
			end:     1 * s, // a's expiry has not happened yet
			holders: map[time.Duration][]string{9 * s: {"a"}, 10 * s: nil},
			max:     1,
			events:  []string{"0s a acquire 10s"},
		},
		{
			name: "acquire and release at one instant held nothing",
			steps: []step{
				{at: 1 * s, node: "a", op: "acquire", lease: 5 * s},
				{at: 1 * s, node: "a", op: "release"},
			},
			end:     10 * s,
			holders: map[time.Duration][]string{1 * s: nil},
			max:     0,
			events:  []string{"1s a acquire 5s", "1s a release 0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &manualClock{t: t0}
			tl := NewTimelineClock(clk.now)
			for i, st := range tt.steps {
				clk.set(at(st.at))
				var err error
				switch st.op {
				case "acquire":
					err = tl.Addresser(st.node).Acquire(st.lease)
				case "renew":
					err = tl.Addresser(st.node).Renew(st.lease)
				case "release":
					err = tl.Addresser(st.node).Release()
				case "announce":
					err = tl.Announcer(st.node).Announce(context.Background())
				case "held":
					var h bool
					h, err = tl.Addresser(st.node).Held()
					if err == nil && h != st.wantHeld {
						t.Fatalf("step %d: %s Held() at %s = %v, want %v", i, st.node, st.at, h, st.wantHeld)
					}
				default:
					t.Fatalf("step %d: unknown op %q", i, st.op)
				}
				if err != nil {
					t.Fatalf("step %d: %s %s: %v", i, st.node, st.op, err)
				}
			}
			clk.set(at(tt.end))

			var got []string
			for _, e := range tl.Events() {
				got = append(got, fmt.Sprintf("%s %s %s %s", e.Time.Sub(t0), e.Node, e.Op, e.Lease))
			}
			if !slices.Equal(got, tt.events) {
				t.Errorf("Events():\n got %q\nwant %q", got, tt.events)
			}
			for off, want := range tt.holders {
				if got := tl.Holders(at(off)); !slices.Equal(got, want) {
					t.Errorf("Holders(+%s) = %q, want %q", off, got, want)
				}
			}
			if got := tl.MaxConcurrentHolders(); got != tt.max {
				t.Errorf("MaxConcurrentHolders() = %d, want %d", got, tt.max)
			}
		})
	}
}

func TestFailNext(t *testing.T) {
	clk := &manualClock{t: t0}
	tl := NewTimelineClock(clk.now)
	a := tl.Addresser("a")
	boom := errors.New("netlink: boom")

	a.FailNext(boom)
	if err := a.Acquire(5 * s); !errors.Is(err, boom) {
		t.Fatalf("Acquire after FailNext = %v, want %v", err, boom)
	}
	if h, err := a.Held(); err != nil || h {
		t.Fatalf("Held() after failed Acquire = %v, %v; want false, nil", h, err)
	}
	if err := a.Acquire(5 * s); err != nil {
		t.Fatalf("the failure must apply once; second Acquire = %v", err)
	}
	a.FailNext(boom)
	if _, err := a.Held(); !errors.Is(err, boom) {
		t.Fatalf("Held after FailNext = %v, want %v", err, boom)
	}
	a.FailNext(boom)
	if err := a.Release(); !errors.Is(err, boom) {
		t.Fatalf("Release after FailNext = %v, want %v", err, boom)
	}
	if h, _ := a.Held(); !h {
		t.Fatal("failed Release removed the address")
	}
	ann := tl.Announcer("a")
	ann.FailNext(boom)
	if err := ann.Announce(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Announce after FailNext = %v, want %v", err, boom)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ann.Announce(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Announce with cancelled ctx = %v, want context.Canceled", err)
	}
	// Only the successful Acquire is on record.
	if ev := tl.Events(); len(ev) != 1 || ev[0].Op != OpAcquire {
		t.Fatalf("Events() = %+v; want just the one successful acquire", ev)
	}
}

func TestBadLeaseRejected(t *testing.T) {
	tl := NewTimeline()
	a := tl.Addresser("a")
	for _, lease := range []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond} {
		if err := a.Acquire(lease); err == nil {
			t.Errorf("Acquire(%s) = nil; want the same error as the kernel Addresser", lease)
		}
		if err := a.Renew(lease); err == nil {
			t.Errorf("Renew(%s) = nil; want the same error as the kernel Addresser", lease)
		}
	}
	if ev := tl.Events(); len(ev) != 0 {
		t.Fatalf("rejected leases were recorded: %+v", ev)
	}
}

func TestSameNodeSameFake(t *testing.T) {
	tl := NewTimeline()
	if tl.Addresser("a") != tl.Addresser("a") || tl.Announcer("a") != tl.Announcer("a") {
		t.Fatal("a node must get the same fake back (its kernel state survives a restart)")
	}
	if tl.Addresser("a") == tl.Addresser("b") {
		t.Fatal("two nodes share one fake")
	}
}

// Several nodes hammering one timeline on the wall clock; run with -race.
func TestConcurrentUse(t *testing.T) {
	tl := NewTimeline()
	var wg sync.WaitGroup
	const nodes, calls = 4, 50
	for i := range nodes {
		wg.Go(func() {
			node := fmt.Sprintf("n%d", i)
			a, ann := tl.Addresser(node), tl.Announcer(node)
			for range calls {
				if err := a.Acquire(time.Hour); err != nil {
					t.Error(err)
					return
				}
				_ = ann.Announce(context.Background())
				_, _ = a.Held()
				_ = tl.Holders(time.Now())
				_ = a.Release()
			}
		})
	}
	wg.Wait()
	ev := tl.Events()
	if len(ev) != nodes*calls*3 {
		t.Fatalf("%d events, want %d", len(ev), nodes*calls*3)
	}
	if !slices.IsSortedFunc(ev, func(a, b Event) int { return a.Time.Compare(b.Time) }) {
		t.Fatal("Events() not in time order")
	}
	if got := tl.Holders(time.Now()); len(got) != 0 {
		t.Fatalf("everyone released, yet Holders(now) = %q", got)
	}
}
