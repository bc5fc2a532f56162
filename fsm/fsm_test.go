package fsm

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func acquire(node string, at time.Time) Command {
	return Command{Type: CmdAcquire, Acquire: &AcquireCmd{Node: node, By: node, Time: at, Reason: "test"}}
}

func release(node string, epoch uint64, at time.Time) Command {
	return Command{Type: CmdRelease, Release: &ReleaseCmd{Node: node, Epoch: epoch, By: node, Time: at, Reason: "test"}}
}

func TestApplyEpochs(t *testing.T) {
	f := New()
	steps := []struct {
		cmd       Command
		wantErr   error
		wantEpoch uint64
		holder    string
	}{
		{acquire("hosta", t0), nil, 1, "hosta"},
		{acquire("hostb", t0.Add(time.Second)), ErrHeld, 1, "hosta"},
		{release("hostb", 1, t0), ErrNotHolder, 1, "hosta"},
		{release("hosta", 2, t0), ErrNotHolder, 1, "hosta"},
		{release("hosta", 1, t0.Add(2*time.Second)), nil, 1, ""},
		{release("hosta", 1, t0.Add(2*time.Second)), ErrNotHolder, 1, ""},
		{acquire("hostb", t0.Add(2050*time.Millisecond)), nil, 2, "hostb"},
		{Command{Type: "bogus"}, ErrUnknownType, 0, "hostb"},
		{Command{Type: CmdAcquire}, ErrBadCommand, 0, "hostb"},
	}
	for i, s := range steps {
		r := f.ApplyCommand(s.cmd)
		if !errors.Is(r.Err, s.wantErr) {
			t.Fatalf("step %d (%s): err %v, want %v", i, s.cmd.Type, r.Err, s.wantErr)
		}
		if s.wantEpoch != 0 && r.Epoch != s.wantEpoch {
			t.Fatalf("step %d: epoch %d, want %d", i, r.Epoch, s.wantEpoch)
		}
		if h := f.State().Holder; h != s.holder {
			t.Fatalf("step %d: holder %q, want %q", i, h, s.holder)
		}
	}
	h := f.State().History
	if len(h) != 3 {
		t.Fatalf("history has %d events, want 3: %+v", len(h), h)
	}
	if h[2].Op != OpAcquire || h[2].Epoch != 2 || h[2].Handover != 50*time.Millisecond {
		t.Fatalf("last event %+v: want acquire epoch 2 with 50ms handover", h[2])
	}
}

func TestFenceBlocksAcquireUntilReleased(t *testing.T) {
	f := New()
	clock := t0
	f.now = func() time.Time { return clock }
	f.ApplyCommand(acquire("hosta", t0))
	r := f.ApplyCommand(Command{Type: CmdFence, Fence: &FenceCmd{Epoch: 1, Holder: "hosta", By: "hostb", Time: t0, Wait: 800 * time.Millisecond}})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	dl, ok := f.FenceDeadline()
	if !ok || !dl.Equal(t0.Add(800*time.Millisecond)) {
		t.Fatalf("fence deadline %v %v, want t0+800ms", dl, ok)
	}
	// A second fence (a later leader) keeps the first deadline.
	clock = t0.Add(500 * time.Millisecond)
	f.ApplyCommand(Command{Type: CmdFence, Fence: &FenceCmd{Epoch: 1, Holder: "hosta", By: "witness", Time: clock, Wait: 800 * time.Millisecond}})
	if dl2, _ := f.FenceDeadline(); !dl2.Equal(dl) {
		t.Fatalf("second fence moved deadline to %v", dl2)
	}
	if r := f.ApplyCommand(release("hostb", 1, t0)); !errors.Is(r.Err, ErrNotHolder) {
		t.Fatalf("release by non-holder: %v", r.Err)
	}
	rel := release("hosta", 1, t0.Add(time.Second))
	rel.Release.By = "hostb"
	if r := f.ApplyCommand(rel); r.Err != nil {
		t.Fatal(r.Err)
	}
	if _, ok := f.FenceDeadline(); ok {
		t.Fatal("fence still pending after release")
	}
	if r := f.ApplyCommand(acquire("hostb", t0.Add(time.Second))); r.Err != nil || r.Epoch != 2 {
		t.Fatalf("acquire after fenced release: %+v", r)
	}
}

func TestHealthIgnoresOlderReports(t *testing.T) {
	f := New()
	f.ApplyCommand(Command{Type: CmdHealth, Health: &Health{Node: "hosta", Healthy: false, Class: "refused", Checked: t0.Add(time.Second)}})
	f.ApplyCommand(Command{Type: CmdHealth, Health: &Health{Node: "hosta", Healthy: true, Class: "ok", Checked: t0}})
	if f.State().Healthy("hosta") {
		t.Fatal("older healthy report overwrote newer unhealthy one")
	}
}

// Reports are ordered by the reporter's boot id and per-boot counter, never
// by its wall clock: a clock stepped back must not make a fresh report look
// stale, and a new process (new boot id) replaces the old one's report.
func TestHealthOrderedByBootAndSeq(t *testing.T) {
	hour := time.Hour
	rep := func(boot string, seq uint64, healthy bool, checked time.Time) Command {
		class := "ok"
		if !healthy {
			class = "refused"
		}
		return Command{Type: CmdHealth, Health: &Health{Node: "hosta", Healthy: healthy, Class: class, Checked: checked, Boot: boot, Seq: seq}}
	}
	steps := []struct {
		name    string
		cmd     Command
		healthy bool
	}{
		{"first report", rep("b1", 1, true, t0), true},
		{"clock stepped back one hour: still believed", rep("b1", 2, false, t0.Add(-hour)), false},
		{"a delayed older report of the same boot is stale", rep("b1", 1, true, t0), false},
		{"newer counter, clock still behind", rep("b1", 3, true, t0.Add(-hour+time.Second)), true},
		{"restarted process (new boot, counter from 1) replaces", rep("b2", 1, false, t0.Add(-2*hour)), false},
		{"the old boot's counters do not count against the new one", rep("b2", 2, true, t0.Add(-2*hour)), true},
		// An entry written by an older version (no boot id) still applies,
		// with the old wall-clock rule among such entries.
		{"legacy report replaces a boot-ordered one", rep("", 0, false, t0.Add(-3*hour)), false},
		{"older legacy report is stale", rep("", 0, true, t0.Add(-4*hour)), false},
		{"newer legacy report applies", rep("", 0, true, t0.Add(-3*hour+time.Second)), true},
		{"a report with a boot id replaces a legacy one", rep("b3", 1, false, t0.Add(-5*hour)), false},
	}
	f := New()
	for _, s := range steps {
		if r := f.ApplyCommand(s.cmd); r.Err != nil {
			t.Fatalf("%s: %v", s.name, r.Err)
		}
		if got := f.State().Healthy("hosta"); got != s.healthy {
			t.Fatalf("%s: healthy=%v, want %v (state %+v)", s.name, got, s.healthy, f.State().Health["hosta"])
		}
	}
	// Old encoded entries (no boot/seq fields) still decode and apply.
	old := []byte("\x01" + `{"type":"health","health":{"node":"hostb","healthy":true,"class":"ok","checked":"2026-11-25T10:00:00Z"}}`)
	if r, _ := f.Apply(&raft.Log{Type: raft.LogCommand, Data: old}).(Result); r.Err != nil || !f.State().Healthy("hostb") {
		t.Fatalf("legacy entry: %+v, healthy=%v", r, f.State().Healthy("hostb"))
	}
}

func TestHistoryBounded(t *testing.T) {
	f := New()
	for i := 0; i < HistoryLimit; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		f.ApplyCommand(acquire("hosta", at))
		f.ApplyCommand(release("hosta", uint64(i+1), at))
	}
	st := f.State()
	if len(st.History) != HistoryLimit {
		t.Fatalf("history %d, want %d", len(st.History), HistoryLimit)
	}
	if last := st.History[len(st.History)-1]; last.Epoch != HistoryLimit || last.Op != OpRelease {
		t.Fatalf("last event %+v", last)
	}
	if first := st.History[0]; first.Epoch != HistoryLimit/2+1 || first.Op != OpAcquire {
		t.Fatalf("oldest kept event %+v, want acquire of epoch %d", first, HistoryLimit/2+1)
	}
}

type sink struct {
	bytes.Buffer
	cancelled bool
}

func (s *sink) ID() string    { return "test" }
func (s *sink) Cancel() error { s.cancelled = true; return nil }
func (s *sink) Close() error  { return nil }

// persisted is f's snapshot as raft would store it.
func persisted(t *testing.T, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	return s.Bytes()
}

func TestSnapshotRestore(t *testing.T) {
	f := New()
	f.ApplyCommand(Command{Type: CmdMembers, Members: &MembersCmd{Set: []Member{{ID: "hosta", Address: "10.99.0.11:7400", Role: RoleDB}, {ID: "witness", Role: RoleWitness}}}})
	f.ApplyCommand(Command{Type: CmdHealth, Health: &Health{Node: "hosta", Healthy: true, Class: "ok", Checked: t0}})
	f.ApplyCommand(acquire("hosta", t0))
	f.ApplyCommand(Command{Type: CmdFence, Fence: &FenceCmd{Epoch: 1, Holder: "hosta", By: "witness", Time: t0, Wait: time.Second}})

	snapBytes := persisted(t, f)
	g := New()
	later := t0.Add(time.Hour)
	g.now = func() time.Time { return later }
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapBytes))); err != nil {
		t.Fatal(err)
	}
	a, b := f.State(), g.State()
	if b.Holder != "hosta" || b.Epoch != 1 || !b.Healthy("hosta") || b.Members["witness"].Role != RoleWitness || len(b.History) != len(a.History) {
		t.Fatalf("restored state differs: %+v", b)
	}
	if dl, ok := g.FenceDeadline(); !ok || !dl.Equal(later.Add(time.Second)) {
		t.Fatalf("restored fence deadline %v %v: want a full wait from restore time", dl, ok)
	}
	// A restored FSM keeps refusing what the original refused.
	if r := g.ApplyCommand(acquire("hostb", later)); !errors.Is(r.Err, ErrHeld) {
		t.Fatalf("acquire on restored state: %v", r.Err)
	}

	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte(`{"version":9}`)))); err == nil {
		t.Fatal("restore of unknown snapshot version succeeded")
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte(`garbage`)))); err == nil {
		t.Fatal("restore of garbage succeeded")
	}
	if g.State().Holder != "hosta" {
		t.Fatal("failed restore changed the state")
	}
}

func TestDecodeRejectsUnknownFormat(t *testing.T) {
	if _, err := Decode([]byte{9, '{', '}'}); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("got %v", err)
	}
	if _, err := Decode(nil); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("got %v", err)
	}
	r := New().Apply(&raft.Log{Type: raft.LogCommand, Data: []byte{1, 'x'}}).(Result)
	if r.Err == nil {
		t.Fatal("garbage command applied")
	}
}

func TestMaintenanceSurvivesSnapshot(t *testing.T) {
	f := New()
	r := f.ApplyCommand(Command{Type: CmdMaintenance, Maintenance: &Maintenance{On: true, Reason: "patching hosta", By: "hosta", Since: t0}})
	if r.Err != nil || !f.State().Maintenance.On {
		t.Fatalf("maintenance on: %+v", r)
	}
	snap, _ := f.Snapshot()
	var s sink
	snap.Persist(&s)
	g := New()
	if err := g.Restore(io.NopCloser(bytes.NewReader(s.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if m := g.State().Maintenance; !m.On || m.Reason != "patching hosta" {
		t.Fatalf("restored maintenance %+v", m)
	}
	if r := f.ApplyCommand(Command{Type: CmdMaintenance}); !errors.Is(r.Err, ErrBadCommand) {
		t.Fatalf("empty maintenance command: %v", r.Err)
	}
}

func BenchmarkApplyHealth(b *testing.B) {
	f := New()
	cmd, _ := Encode(Command{Type: CmdHealth, Health: &Health{Node: "hosta", Healthy: true, Class: "ok", Checked: t0}})
	l := &raft.Log{Type: raft.LogCommand, Data: cmd}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f.Apply(l)
	}
}

func BenchmarkStateCopy(b *testing.B) {
	f := New()
	for i := 0; i < HistoryLimit; i++ {
		f.ApplyCommand(acquire("hosta", t0))
		f.ApplyCommand(release("hosta", uint64(i+1), t0))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = f.State()
	}
}

func TestCurrentOmitsHistoryOnly(t *testing.T) {
	f := New()
	f.ApplyCommand(acquire("hosta", t0))
	c, s := f.Current(), f.State()
	if c.History != nil || len(s.History) != 1 || c.Holder != s.Holder || c.Epoch != s.Epoch {
		t.Fatalf("Current %+v vs State %+v", c, s)
	}
}

func BenchmarkCurrent(b *testing.B) {
	f := New()
	for i := 0; i < HistoryLimit; i++ {
		f.ApplyCommand(acquire("hosta", t0))
		f.ApplyCommand(release("hosta", uint64(i+1), t0))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = f.Current()
	}
}

func TestSwitchoverWindowIsLocalAndMarkedDone(t *testing.T) {
	f := New()
	clock := t0
	f.now = func() time.Time { return clock }
	f.ApplyCommand(acquire("hosta", t0))
	// The proposer's clock is an hour off: the window still counts from
	// local apply time.
	sw := Switchover{To: "hostb", From: "hosta", By: "hosta", Time: t0.Add(-time.Hour), For: 30 * time.Second}
	if r := f.ApplyCommand(Command{Type: CmdSwitchover, Switchover: &sw}); r.Err != nil {
		t.Fatal(r.Err)
	}
	dl, ok := f.SwitchoverDeadline()
	if !ok || !dl.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("switchover deadline %v %v, want t0+30s", dl, ok)
	}
	if st := f.State(); st.Switchover == nil || st.Switchover.To != "hostb" || st.Switchover.Done {
		t.Fatalf("switchover in state: %+v", st.Switchover)
	}
	f.ApplyCommand(release("hosta", 1, t0))
	// hosta acquiring again is not the switchover's target.
	f.ApplyCommand(acquire("hosta", t0))
	if f.State().Switchover.Done {
		t.Fatal("switchover to hostb marked done by hosta's acquire")
	}
	f.ApplyCommand(release("hosta", 2, t0))
	f.ApplyCommand(acquire("hostb", t0))
	if !f.State().Switchover.Done {
		t.Fatal("switchover not marked done by hostb's acquire")
	}

	// Survives a snapshot; the restored window is a full one from restore.
	snap, _ := f.Snapshot()
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	g := New()
	later := t0.Add(10 * time.Second)
	g.now = func() time.Time { return later }
	if err := g.Restore(io.NopCloser(bytes.NewReader(s.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if dl, ok := g.SwitchoverDeadline(); !ok || !dl.Equal(later.Add(30*time.Second)) || !g.State().Switchover.Done {
		t.Fatalf("restored switchover %+v deadline %v %v", g.State().Switchover, dl, ok)
	}

	// Cleared by an empty record.
	f.ApplyCommand(Command{Type: CmdSwitchover, Switchover: &Switchover{}})
	if _, ok := f.SwitchoverDeadline(); ok || f.State().Switchover != nil {
		t.Fatal("switchover not cleared")
	}
	if r := f.ApplyCommand(Command{Type: CmdSwitchover}); !errors.Is(r.Err, ErrBadCommand) {
		t.Fatalf("switchover without payload: %v", r.Err)
	}
}

// Issue 9: an operator's command is recorded with the change it carries;
// a refused change records nothing, and a command without Operator (every
// older entry) records nothing either.
func TestOperatorEventRecordedWithItsChange(t *testing.T) {
	f := New()
	uid := uint32(0)
	op := &Operator{Command: "maintenance", Detail: "maintenance on: upgrade", Via: "hostb", UID: &uid, By: "hosta", Time: time.Unix(100, 0)}
	if r := f.ApplyCommand(Command{Type: CmdMaintenance, Maintenance: &Maintenance{On: true, Reason: "upgrade"}, Operator: op}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := f.ApplyCommand(Command{Type: CmdMaintenance, Maintenance: &Maintenance{On: false}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := f.ApplyCommand(Command{Type: CmdAcquire, Acquire: &AcquireCmd{Node: "hosta", By: "hosta"}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	sw := &Operator{Command: "switchover", Node: "hostb", Via: "hostb", By: "hosta"}
	if r := f.ApplyCommand(Command{Type: CmdAcquire, Acquire: &AcquireCmd{Node: "hostb", By: "hosta"}, Operator: sw}); r.Err == nil {
		t.Fatal("second acquire applied")
	}
	h := f.State().History
	if len(h) != 2 || h[0].Op != "maintenance" || h[0].Via != "hostb" || h[0].UID == nil || *h[0].UID != 0 || h[0].By != "hosta" ||
		h[0].Reason != "maintenance on: upgrade" || h[1].Op != OpAcquire {
		t.Fatalf("history %+v; want the operator's maintenance, then the acquire only", h)
	}
	// An entry of an older version (no operator field) decodes as before.
	c, err := Decode(append([]byte{formatV1}, []byte(`{"type":"maintenance","maintenance":{"on":true}}`)...))
	if err != nil || c.Operator != nil {
		t.Fatalf("old entry: %+v %v", c, err)
	}
}

// A holder that acquires again after releasing itself keeps the node it
// took over from (its replication from there may still be held); a move
// to another node takes from the last holder.
func TestTakenFromSurvivesReacquire(t *testing.T) {
	f := New()
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	apply := func(c Command) {
		t.Helper()
		if r := f.ApplyCommand(c); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	acq := func(n string) { apply(Command{Type: CmdAcquire, Acquire: &AcquireCmd{Node: n, By: n, Time: at}}) }
	rel := func(n string) {
		apply(Command{Type: CmdRelease, Release: &ReleaseCmd{Epoch: f.State().Epoch, Node: n, By: n, Time: at}})
	}
	acq("hosta")
	rel("hosta")
	acq("hostb")
	if st := f.State(); st.TakenFrom != "hosta" || st.Planned {
		t.Fatalf("after hosta -> hostb: taken from %q planned %v", st.TakenFrom, st.Planned)
	}
	rel("hostb") // its lease lapsed
	acq("hostb")
	if st := f.State(); st.TakenFrom != "hosta" {
		t.Fatalf("hostb again: taken from %q, want hosta still", st.TakenFrom)
	}
	rel("hostb")
	acq("hosta")
	if st := f.State(); st.TakenFrom != "hostb" {
		t.Fatalf("back to hosta: taken from %q, want hostb", st.TakenFrom)
	}
}

// TestTimelineFields: the failover's phases the history carries. An
// acquire keeps how long its proposer had been leader; an added event
// (history only) is accepted from the current holder of the current epoch
// only and keeps the first GARP's offset from the add; times come from
// the commands.
func TestTimelineFields(t *testing.T) {
	f := New()
	acq := acquire("hosta", t0)
	acq.Acquire.Leader = 40 * time.Millisecond
	if r := f.ApplyCommand(acq); r.Err != nil {
		t.Fatal(r.Err)
	}
	added := func(node string, epoch uint64, at, garp time.Time) Command {
		return Command{Type: CmdAdded, Added: &AddedCmd{Epoch: epoch, Node: node, Time: at, GARP: garp}}
	}
	steps := []struct {
		name    string
		cmd     Command
		wantErr error
		want    *Event // the event recorded, nil: none
	}{
		{"no payload", Command{Type: CmdAdded}, ErrBadCommand, nil},
		{"not the holder", added("hostb", 1, t0, time.Time{}), ErrNotHolder, nil},
		{"old epoch", added("hosta", 0, t0, time.Time{}), ErrNotHolder, nil},
		{"holder, first GARP 3ms after the add", added("hosta", 1, t0.Add(2*time.Millisecond), t0.Add(5*time.Millisecond)), nil,
			&Event{Epoch: 1, Op: OpAdded, Node: "hosta", By: "hosta", Time: t0.Add(2 * time.Millisecond), GARP: 3 * time.Millisecond}},
		{"holder, no GARP", added("hosta", 1, t0.Add(7*time.Millisecond), time.Time{}), nil,
			&Event{Epoch: 1, Op: OpAdded, Node: "hosta", By: "hosta", Time: t0.Add(7 * time.Millisecond)}},
	}
	for _, s := range steps {
		n := len(f.State().History)
		r := f.ApplyCommand(s.cmd)
		if !errors.Is(r.Err, s.wantErr) {
			t.Fatalf("%s: err %v, want %v", s.name, r.Err, s.wantErr)
		}
		h := f.State().History
		if s.want == nil {
			if len(h) != n {
				t.Fatalf("%s: recorded %+v", s.name, h[n:])
			}
			continue
		}
		if len(h) != n+1 {
			t.Fatalf("%s: %d events recorded, want 1", s.name, len(h)-n)
		}
		if got := h[n]; got.Op != s.want.Op || got.Epoch != s.want.Epoch || got.Node != s.want.Node || !got.Time.Equal(s.want.Time) || got.GARP != s.want.GARP {
			t.Fatalf("%s: recorded %+v, want %+v", s.name, got, *s.want)
		}
	}
	if e := f.State().History[0]; e.Op != OpAcquire || e.Leader != 40*time.Millisecond {
		t.Fatalf("acquire event %+v: want leader_ns 40ms", e)
	}
	if st := f.State(); st.Holder != "hosta" || st.Epoch != 1 {
		t.Fatalf("added changed the state: holder %q epoch %d", st.Holder, st.Epoch)
	}
}

// A holder that fenced its server before releasing hands over even when
// its server has written nothing yet (gtid_binlog_pos empty, a fresh
// cluster): the move is planned, its successor holds no replication. It
// used to count as unplanned, and the successor stopped its replication
// from the shut-down node.
func TestFencedReleaseWithAnEmptyPositionIsAHandoff(t *testing.T) {
	f := New()
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []Command{
		{Type: CmdAcquire, Acquire: &AcquireCmd{Node: "hosta", By: "hosta", Time: at}},
		{Type: CmdRelease, Release: &ReleaseCmd{Epoch: 1, Node: "hosta", By: "hosta", Time: at, Reason: "agent shutting down", Fenced: true}},
	} {
		if r := f.ApplyCommand(c); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if h := f.State().Handoff; h == nil || h.GTID != "" || h.From != "hosta" {
		t.Fatalf("handoff after a fenced release at an empty position: %+v", h)
	}
	if r := f.ApplyCommand(Command{Type: CmdAcquire, Acquire: &AcquireCmd{Node: "hostb", By: "hostb", Time: at}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if st := f.State(); !st.Planned || st.TakenFrom != "hosta" {
		t.Fatalf("hostb after the handoff: planned %v taken from %q, want planned from hosta", st.Planned, st.TakenFrom)
	}
	// A release that did not fence (hosta's server dead) is no handoff.
	f2 := New()
	f2.ApplyCommand(Command{Type: CmdAcquire, Acquire: &AcquireCmd{Node: "hosta", By: "hosta", Time: at}})
	f2.ApplyCommand(Command{Type: CmdRelease, Release: &ReleaseCmd{Epoch: 1, Node: "hosta", By: "hosta", Time: at}})
	if h := f2.State().Handoff; h != nil {
		t.Fatalf("handoff after an unfenced release: %+v", h)
	}
}

// LastApplied follows the raft index of applied commands and survives a
// snapshot; a snapshot from before it was recorded restores as unknown
// until the next command.
func TestLastAppliedSurvivesSnapshot(t *testing.T) {
	f := New()
	if i, known := f.LastApplied(); i != 0 || !known {
		t.Fatalf("new FSM: LastApplied %d %v, want 0 true", i, known)
	}
	cmd, err := Encode(acquire("hosta", t0))
	if err != nil {
		t.Fatal(err)
	}
	f.Apply(&raft.Log{Index: 7, Type: raft.LogCommand, Data: cmd})
	f.Apply(&raft.Log{Index: 9, Type: raft.LogCommand, Data: []byte{1, 'x'}}) // malformed: handled all the same
	if i, known := f.LastApplied(); i != 9 || !known {
		t.Fatalf("after entries 7 and 9: LastApplied %d %v", i, known)
	}
	snapBytes := persisted(t, f)
	g := New()
	if err := g.Restore(io.NopCloser(bytes.NewReader(snapBytes))); err != nil {
		t.Fatal(err)
	}
	if i, known := g.LastApplied(); i != 9 || !known {
		t.Fatalf("restored: LastApplied %d %v, want 9 true", i, known)
	}

	old := bytes.Replace(snapBytes, []byte(`,"index":9`), nil, 1)
	if bytes.Equal(old, snapBytes) {
		t.Fatalf("snapshot does not record the index: %s", snapBytes)
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader(old))); err != nil {
		t.Fatal(err)
	}
	if _, known := g.LastApplied(); known {
		t.Fatal("a snapshot without the index restored as known")
	}
	g.Apply(&raft.Log{Index: 12, Type: raft.LogCommand, Data: cmd})
	if i, known := g.LastApplied(); i != 12 || !known {
		t.Fatalf("after a command: LastApplied %d %v, want 12 true", i, known)
	}
}

// Pending tells what the agent loop asks on every pass without a copy of
// the state: fence, switchover and maintenance as Current shows them.
func TestPendingMatchesCurrent(t *testing.T) {
	f := New()
	check := func(when string) {
		t.Helper()
		st := f.Current()
		fence, sw, m := f.Pending()
		if fence != (st.Fence != nil) || sw != (st.Switchover != nil) || m != st.Maintenance {
			t.Fatalf("%s: Pending = %v, %v, %+v; Current has fence %v, switchover %v, maintenance %+v", when, fence, sw, m, st.Fence != nil, st.Switchover != nil, st.Maintenance)
		}
	}
	check("empty")
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if r := f.ApplyCommand(Command{Type: CmdMaintenance, Maintenance: &Maintenance{On: true, Reason: "upgrade", By: "hosta", Until: until}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	check("maintenance on")
	if _, _, m := f.Pending(); !m.On || m.Reason != "upgrade" || !m.Until.Equal(until) {
		t.Fatalf("Pending maintenance = %+v, want on until %v", m, until)
	}
}
