package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
	"github.com/raftvip/raftvip/notify"
	"github.com/raftvip/raftvip/vip/viptest"
)

// fakeHealth is a MySQL checker whose verdict the test sets.
type fakeHealth struct {
	mu sync.Mutex
	st mysqlcheck.Status
	ch chan mysqlcheck.Status
	// skew is added to the checker's wall clock (a host whose clock was
	// stepped).
	skew time.Duration
}

func newFakeHealth(healthy bool) *fakeHealth {
	f := &fakeHealth{ch: make(chan mysqlcheck.Status, 16)}
	f.Set(healthy)
	return f
}

func (f *fakeHealth) Set(healthy bool) {
	f.mu.Lock()
	now := time.Now().Add(f.skew)
	class := "ok"
	if !healthy {
		class = "refused"
	}
	f.st = mysqlcheck.Status{Healthy: healthy, Class: class, Checked: now, Since: now, Replication: f.st.Replication}
	st := f.st
	f.mu.Unlock()
	select {
	case f.ch <- st:
	default:
	}
}

func (f *fakeHealth) Current() mysqlcheck.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

// SetReplication makes the next checks read r (a new reading each call).
func (f *fakeHealth) SetReplication(r mysqlcheck.Replication) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Replication = &r
}

func (f *fakeHealth) Changes() <-chan mysqlcheck.Status { return f.ch }

// testTiming is faster than production so the suite runs in seconds; the
// relations the safety argument needs (lease > HT >= LLT, the leader's own
// heartbeat pace: 2·pace ≤ HT/2 and < LLT, rule 15) are the same.
var testTiming = cluster.Timing{
	HeartbeatTimeout:   200 * time.Millisecond,
	ElectionTimeout:    200 * time.Millisecond,
	LeaderLeaseTimeout: 100 * time.Millisecond,
	HeartbeatPace:      30 * time.Millisecond,
	CommitTimeout:      10 * time.Millisecond,
}

const testLease = time.Second

type node struct {
	id, role string
	addr     raft.ServerAddress
	trans    *raft.InmemTransport
	fsm      *fsm.FSM
	cl       *cluster.Cluster
	agent    *Agent
	health   *fakeHealth
	db       *fakeDB                       // set by a test's prep hook: the agent drives it (SetDB)
	remoteDB func(addr string) (DB, error) // opens another node's server by address
	cancel   context.CancelFunc
	done     chan struct{}
	dir      string
	bolt     *raftboltdb.BoltStore
	logs     raft.LogStore // the node's Raft log, for tests that count entries
	vrrp     VRRP
	join     bool // start without bootstrapping (a node added later)
	// Set by a test's prep hook before the node starts:
	timing    *cluster.Timing                     // this node's raft timings (default testTiming)
	wrapTrans func(raft.Transport) raft.Transport // wraps the node's transport
	wrapLogs  func(raft.LogStore) raft.LogStore   // wraps the node's log store
	peers     []Peer                              // this node's config file's peers (default the cluster's; a test gives one a typo)
	notify    func(notify.Event)                  // the agent's notifier (SetNotifier)
}

type testCluster struct {
	t     *testing.T
	tl    *viptest.Timeline
	rpc   *cluster.InmemRPC
	nodes map[string]*node
	peers []Peer
	log   hclog.Logger
	logs  *strings.Builder
	logMu *sync.Mutex
	tune  func(*node, *Options)
	prep  func(*node)
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func newTestCluster(t *testing.T, persistent bool) *testCluster {
	t.Helper()
	return newTestClusterWith(t, persistent, nil)
}

// newTestClusterWith lets a test adjust each node's options before start.
func newTestClusterWith(t *testing.T, persistent bool, tune func(*node, *Options)) *testCluster {
	t.Helper()
	return newTestClusterPrep(t, persistent, nil, tune)
}

// newTestClusterPrep also lets a test set a node's raft timing, transport
// and log store wrappers (prep runs before each start of a node).
func newTestClusterPrep(t *testing.T, persistent bool, prep func(*node), tune func(*node, *Options)) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, tl: viptest.NewTimeline(), rpc: cluster.NewInmemRPC(), nodes: map[string]*node{},
		logs: &strings.Builder{}, logMu: &sync.Mutex{}, tune: tune, prep: prep}
	tc.log = hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: lockedWriter{tc.logMu, tc.logs}, TimeFormat: "15:04:05.000"})
	for _, p := range []Peer{{"hosta", "hosta", fsm.RoleDB}, {"hostb", "hostb", fsm.RoleDB}, {"witness", "witness", fsm.RoleWitness}} {
		tc.peers = append(tc.peers, p)
	}
	for _, p := range tc.peers {
		n := &node{id: p.ID, role: p.Role, addr: raft.ServerAddress(p.Address)}
		if persistent {
			n.dir = t.TempDir()
		}
		if p.Role == fsm.RoleDB {
			n.health = newFakeHealth(true)
		}
		tc.nodes[p.ID] = n
	}
	for _, n := range tc.nodes {
		tc.start(n)
	}
	t.Cleanup(func() {
		for _, n := range tc.nodes {
			tc.stop(n)
		}
		if t.Failed() {
			tc.logMu.Lock()
			t.Logf("agent logs:\n%s", tc.logs.String())
			tc.logMu.Unlock()
			for _, e := range tc.tl.Events() {
				t.Logf("vip %s %-8s %s", e.Time.Format("15:04:05.000"), e.Op, e.Node)
			}
		}
	})
	return tc
}

func (tc *testCluster) start(n *node) {
	t := tc.t
	if tc.prep != nil {
		tc.prep(n)
	}
	_, n.trans = raft.NewInmemTransport(n.addr)
	for _, o := range tc.nodes {
		if o != n && o.trans != nil {
			n.trans.Connect(o.addr, o.trans)
			o.trans.Connect(n.addr, n.trans)
		}
	}
	var logs raft.LogStore
	var stable raft.StableStore
	var snaps raft.SnapshotStore
	if n.dir != "" {
		b, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(n.dir, "raft.db")})
		if err != nil {
			t.Fatal(err)
		}
		n.bolt = b
		logs, stable = b, b
		s, err := raft.NewFileSnapshotStoreWithLogger(n.dir, 2, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		snaps = s
	} else {
		s := raft.NewInmemStore()
		logs, stable, snaps = s, s, raft.NewInmemSnapshotStore()
	}
	if n.wrapLogs != nil {
		logs = n.wrapLogs(logs)
	}
	n.logs = logs
	var trans raft.Transport = n.trans
	if n.wrapTrans != nil {
		trans = n.wrapTrans(trans)
	}
	timing := testTiming
	if n.timing != nil {
		timing = *n.timing
	}
	n.fsm = fsm.New()
	log := tc.log.Named(n.id)
	peers := tc.peers
	if n.peers != nil {
		peers = n.peers
	}
	var cps []cluster.Peer
	for _, p := range peers {
		cps = append(cps, cluster.Peer{ID: p.ID, Address: p.Address})
	}
	cl, err := cluster.OpenWith(cluster.Config{NodeID: n.id, Peers: cps, Timing: timing, Logger: log, Join: n.join},
		n.fsm, trans, logs, stable, snaps, tc.rpc.From(string(n.addr)))
	if err != nil {
		t.Fatal(err)
	}
	n.cl = cl
	opt := Options{NodeID: n.id, Role: n.role, Peers: peers, Lease: testLease,
		HeartbeatTimeout: timing.HeartbeatTimeout, Tick: 20 * time.Millisecond}
	if tc.tune != nil {
		tc.tune(n, &opt)
	}
	if n.role == fsm.RoleDB {
		n.agent = New(opt, cl, n.fsm, tc.tl.Addresser(n.id), tc.tl.Announcer(n.id), n.health, log)
	} else {
		n.agent = New(opt, cl, n.fsm, nil, nil, nil, log)
	}
	if n.vrrp != nil {
		n.agent.SetVRRP(n.vrrp)
	}
	if n.db != nil {
		n.agent.SetDB(n.db, n.remoteDB)
	}
	if n.notify != nil {
		n.agent.SetNotifier(n.notify)
	}
	tc.rpc.Register(string(n.addr), n.agent.HandleRPC)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan struct{})
	go func() { defer close(n.done); n.agent.Run(ctx) }()
}

func (tc *testCluster) stop(n *node) {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	n.agent.Shutdown(ctx)
	cancel()
	n.cl.Close()
	if n.bolt != nil {
		n.bolt.Close()
	}
	n.cancel = nil
}

// freeze stops n's agent loop without any shutdown step and cuts n off, like
// a holder whose agent was killed with -9 or paused: its VIP stays until the
// kernel lifetime runs out.
func (tc *testCluster) freeze(n *node) {
	n.cancel()
	<-n.done
	tc.partition(n, true)
}

// partition cuts n off from every other node (Raft and RPC), or heals it.
func (tc *testCluster) partition(n *node, cut bool) {
	for _, o := range tc.nodes {
		if o == n {
			continue
		}
		if cut {
			n.trans.Disconnect(o.addr)
			o.trans.Disconnect(n.addr)
		} else {
			n.trans.Connect(o.addr, o.trans)
			o.trans.Connect(n.addr, n.trans)
		}
	}
	tc.rpc.Isolate(string(n.addr), cut)
}

func (tc *testCluster) eventually(what string, timeout time.Duration, cond func() bool) {
	tc.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tc.t.Fatalf("timed out after %s waiting for: %s", timeout, what)
}

// holder is the single node whose fake address is present now ("" if none).
func (tc *testCluster) holder() string {
	hs := tc.tl.Holders(time.Now())
	if len(hs) == 1 {
		return hs[0]
	}
	return ""
}

func (tc *testCluster) leader() *node {
	for _, n := range tc.nodes {
		if n.cancel != nil && n.cl.IsLeader() {
			return n
		}
	}
	return nil
}

func (tc *testCluster) assertNeverTwo() {
	tc.t.Helper()
	if m := tc.tl.MaxConcurrentHolders(); m > 1 {
		tc.t.Fatalf("%d nodes held the VIP at the same instant", m)
	}
}

func (tc *testCluster) waitHolder(timeout time.Duration) string {
	tc.t.Helper()
	var h string
	tc.eventually("one node holds the VIP", timeout, func() bool {
		h = tc.holder()
		return h != "" && tc.nodes[h].fsm.State().Holder == h
	})
	return h
}

func TestClusterElectsDBHolder(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	if tc.nodes[h].role != fsm.RoleDB {
		t.Fatalf("holder %s is not a db node", h)
	}
	if l := tc.leader(); l == nil || l.id != h {
		t.Fatalf("holder %s is not the leader (%v)", h, l)
	}
	// Renewals keep it: a few leases later still the same holder, one epoch.
	time.Sleep(3 * testLease)
	if got := tc.holder(); got != h {
		t.Fatalf("holder changed from %s to %q while nothing failed", h, got)
	}
	st := tc.nodes[h].fsm.State()
	if st.Epoch != 1 {
		t.Fatalf("epoch %d after a quiet period, want 1", st.Epoch)
	}
	var renews int
	for _, e := range tc.tl.Events() {
		if e.Op == viptest.OpRenew && e.Node == h {
			renews++
		}
	}
	if renews < 3 {
		t.Fatalf("%d renewals in 3 leases; the lease would have lapsed", renews)
	}
	// Every node's FSM eventually knows both db nodes are healthy.
	tc.eventually("health of both db nodes replicated", 5*time.Second, func() bool {
		st := tc.nodes["witness"].fsm.State()
		return st.Healthy("hosta") && st.Healthy("hostb") && len(st.Members) == 3
	})
	tc.assertNeverTwo()
}

func TestUnhealthyLeaderHandsOver(t *testing.T) {
	tc := newTestCluster(t, false)
	old := tc.waitHolder(10 * time.Second)
	other := "hosta"
	if old == "hosta" {
		other = "hostb"
	}
	tc.eventually("peer health replicated", 5*time.Second, func() bool { return tc.nodes[old].fsm.State().Healthy(other) })

	tc.nodes[old].health.Set(false)
	tc.eventually("VIP moves to "+other, 10*time.Second, func() bool { return tc.holder() == other })
	tc.assertNeverTwo()

	// Clean handover: release recorded, and the new holder added the VIP
	// after the old one removed it without waiting for a fence.
	var relAt, acqAt time.Time
	for _, e := range tc.tl.Events() {
		if e.Node == old && e.Op == viptest.OpRelease {
			relAt = e.Time
		}
		if e.Node == other && e.Op == viptest.OpAcquire {
			acqAt = e.Time
		}
	}
	if relAt.IsZero() || acqAt.IsZero() || !acqAt.After(relAt) {
		t.Fatalf("release at %v, acquire at %v: want release strictly first", relAt, acqAt)
	}
	st := tc.nodes[other].fsm.State()
	for _, e := range st.History {
		if e.Op == fsm.OpFence {
			t.Fatalf("clean handover used a fence: %+v", e)
		}
	}
	if l := tc.leader(); l == nil || l.id != other {
		t.Fatalf("leader is %v, want %s", l, other)
	}
	t.Logf("handover gap %v", acqAt.Sub(relAt))

	// nopreempt: the old node recovers and takes nothing back.
	tc.nodes[old].health.Set(true)
	tc.eventually("recovery replicated", 5*time.Second, func() bool { return tc.nodes[other].fsm.State().Healthy(old) })
	time.Sleep(2 * testLease)
	if h := tc.holder(); h != other {
		t.Fatalf("after %s recovered the VIP is on %q; nopreempt wants %s", old, h, other)
	}
	tc.assertNeverTwo()
}

func TestBothUnhealthyNobodyHolds(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	tc.nodes["hosta"].health.Set(false)
	tc.nodes["hostb"].health.Set(false)
	tc.eventually("nobody holds", 10*time.Second, func() bool {
		return len(tc.tl.Holders(time.Now())) == 0 && tc.nodes[h].fsm.State().Holder == ""
	})
	// The cluster settles with a leader that holds nothing and says why
	// (leadership may move once more while the second node fails).
	var st Status
	tc.eventually("leader reports no healthy db node", 10*time.Second, func() bool {
		l := tc.leader()
		if l == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st = l.agent.ClusterStatus(ctx, 10)
		return st.Holder == "" && strings.Contains(st.Note, "no healthy db node")
	})
	if len(tc.tl.Holders(time.Now())) != 0 {
		t.Fatalf("a node holds the VIP while both are unhealthy; status %+v", st)
	}
	// One comes back: it gets the VIP (leadership moves to it if needed).
	tc.nodes["hostb"].health.Set(true)
	tc.eventually("hostb holds after recovering", 10*time.Second, func() bool { return tc.holder() == "hostb" })
	tc.assertNeverTwo()
}

func TestWitnessLeaderHandsOverAndFences(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	tc.eventually("all health replicated", 5*time.Second, func() bool {
		st := tc.nodes[h].fsm.State()
		return st.Healthy("hosta") && st.Healthy("hostb")
	})
	// Force the witness to lead without a clean release: the holder's Raft
	// hands leadership over behind the agent's back.
	if err := tc.nodes[h].cl.TransferTo("witness"); err != nil {
		t.Fatal(err)
	}
	tc.eventually("a db node leads again and holds the VIP", 15*time.Second, func() bool {
		l := tc.leader()
		hd := tc.holder()
		return l != nil && l.role == fsm.RoleDB && hd == l.id
	})
	tc.assertNeverTwo()
	// The witness never held anything and fenced the unreleased holder.
	for _, e := range tc.tl.Events() {
		if e.Node == "witness" {
			t.Fatalf("witness touched the VIP: %+v", e)
		}
	}
	st := tc.leader().fsm.State()
	var fenced bool
	for _, e := range st.History {
		if e.Op == fsm.OpFence && e.Node == h && e.By == "witness" {
			fenced = true
		}
	}
	if !fenced {
		t.Fatalf("no fence by the witness for %s in history: %+v", h, st.History)
	}
}

func TestPartitionedLeaderReleasesBeforeNewHolderAdds(t *testing.T) {
	tc := newTestCluster(t, false)
	old := tc.waitHolder(10 * time.Second)
	tc.eventually("all health replicated", 5*time.Second, func() bool {
		st := tc.nodes[old].fsm.State()
		return st.Healthy("hosta") && st.Healthy("hostb")
	})
	other := "hosta"
	if old == "hosta" {
		other = "hostb"
	}
	cutAt := time.Now()
	tc.partition(tc.nodes[old], true)
	tc.eventually("VIP on "+other, 15*time.Second, func() bool { return tc.holder() == other })

	var goneAt, addAt time.Time
	for _, e := range tc.tl.Events() {
		if e.Node == old && (e.Op == viptest.OpRelease || e.Op == viptest.OpExpire) && e.Time.After(cutAt) && goneAt.IsZero() {
			goneAt = e.Time
		}
		if e.Node == other && e.Op == viptest.OpAcquire && e.Time.After(cutAt) {
			addAt = e.Time
		}
	}
	if goneAt.IsZero() || !addAt.After(goneAt) {
		t.Fatalf("old holder's VIP gone at %v, new holder added at %v: want gone first", goneAt, addAt)
	}
	tc.assertNeverTwo()
	t.Logf("cut→old gone %v, cut→new added %v", goneAt.Sub(cutAt), addAt.Sub(cutAt))

	// Heal: the old leader rejoins as follower and never re-adds the VIP.
	tc.partition(tc.nodes[old], false)
	time.Sleep(2 * testLease)
	if h := tc.holder(); h != other {
		t.Fatalf("after healing the VIP is on %q, want %s", h, other)
	}
	tc.assertNeverTwo()
}

func TestRestartKeepsEpochHistory(t *testing.T) {
	tc := newTestCluster(t, true)
	h := tc.waitHolder(10 * time.Second)
	tc.nodes[h].health.Set(false)
	other := map[string]string{"hosta": "hostb", "hostb": "hosta"}[h]
	tc.eventually("VIP moves", 10*time.Second, func() bool { return tc.holder() == other })
	before := tc.nodes["witness"]
	tc.eventually("witness applied the move", 5*time.Second, func() bool { return before.fsm.State().Holder == other })
	want := before.fsm.State().History

	tc.stop(before)
	tc.start(before)
	tc.eventually("restarted witness replays its log", 10*time.Second, func() bool {
		st := before.fsm.State()
		return len(st.History) >= len(want) && st.Holder == other
	})
	got := before.fsm.State().History
	for i := range want {
		if got[i].Epoch != want[i].Epoch || got[i].Op != want[i].Op || got[i].Node != want[i].Node {
			t.Fatalf("history[%d] after restart %+v, want %+v", i, got[i], want[i])
		}
	}
	if tc.holder() != other {
		t.Fatalf("restart of the witness moved the VIP to %q", tc.holder())
	}
	tc.assertNeverTwo()
	_ = fmt.Sprint()
}

func TestNetlinkFailureDoesNotChurnEpochs(t *testing.T) {
	tc := newTestCluster(t, false)
	h := tc.waitHolder(10 * time.Second)
	// Every add fails on both db nodes from now on: the holder's MySQL dies,
	// the other cannot add the VIP.
	o := other(h)
	tc.tl.Addresser(o).FailAll(errors.New("netlink: no such device"))
	tc.nodes[h].health.Set(false)
	time.Sleep(2 * time.Second)
	st := tc.nodes["witness"].fsm.State()
	if st.Epoch > 6 {
		t.Fatalf("epoch %d after 2 s of failing adds: acquire attempts are not backed off", st.Epoch)
	}
	tc.assertNeverTwo()
}
