// Package agent is the loop that runs on every raftvip node. It gathers what
// the node knows (Raft role, MySQL health, the replicated state), asks the
// owner rule for the next step and carries it out with the cluster and the
// vip packages. All decisions live in package owner; this package only
// observes, executes and reports.
//
// The loop goroutine (Run) owns the agent's state; nothing else reads or
// writes it while Run runs. Operator commands and reloads hand it work
// (do, call), status readers read the View it publishes after every step.
package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
	"github.com/raftvip/raftvip/owner"
	"github.com/raftvip/raftvip/vip"
	"github.com/raftvip/raftvip/vrrpcompat"
)

// The cluster's applied index waits for the FSM only if the FSM reports its
// own (cluster/applied.go); status and switchover compare those indices.
var _ cluster.AppliedReporter = (*fsm.FSM)(nil)

// Health is what the agent needs of a MySQL checker (mysqlcheck.Checker).
type Health interface {
	Current() mysqlcheck.Status
	Changes() <-chan mysqlcheck.Status
}

// Raft is what the agent needs of the cluster (cluster.Cluster).
type Raft interface {
	ID() string
	IsLeader() bool
	State() string
	Term() uint64
	Leader() (id, addr string)
	LastContact() time.Time
	Apply(cmd []byte, timeout time.Duration) (interface{}, error)
	Barrier(timeout time.Duration) error
	VerifyLeader(timeout time.Duration) error
	// Prove returns the instant from which a quorum provably still
	// followed this node (cluster.Cluster.Prove).
	Prove(timeout time.Duration) (time.Time, error)
	// ContactAfter is closed when a follower accepts an AppendEntries this
	// leader sent at or after t: Prove then needs no VerifyLeader (renew).
	// CancelContact forgets such a channel.
	ContactAfter(t time.Time) <-chan struct{}
	CancelContact(ch <-chan struct{})
	// AnswerProof answers a leader's OpProve call.
	AnswerProof() cluster.Response
	// LastVouch asks the voters when they last vouched for a node in a
	// proof (leader only; cluster.Cluster.LastVouch).
	LastVouch(about string, timeout time.Duration) (cluster.Vouch, error)
	// AnswerVouch answers a leader's OpVouch call.
	AnswerVouch(about string) cluster.Response
	// ElectionStarted is when this node last turned candidate.
	ElectionStarted() time.Time
	TransferTo(id string) error
	Forward(ctx context.Context, cmd []byte) (cluster.Response, error)
	Call(ctx context.Context, addr string, req cluster.Request) (cluster.Response, error)
	Changes() <-chan struct{}
	Unreachable() map[string]bool
	Resumed(id string) uint64
	Servers() ([]raft.Server, error)
	AppliedIndex() uint64
	AddServer(id, addr string, nonVoter bool, timeout time.Duration) error
	RemoveServer(id string, timeout time.Duration) error
}

// Peer is a configured member.
type Peer struct {
	ID, Address, Role string
}

// Options are the settings the loop runs with.
type Options struct {
	NodeID string
	Role   string
	Peers  []Peer

	Lease       time.Duration // kernel lifetime of the VIP
	GARPRefresh time.Duration // 0 = no periodic re-announce
	Preempt     bool
	Preferred   string

	// HeartbeatTimeout is Raft's; the fence wait takes credit for it.
	HeartbeatTimeout time.Duration
	// RenewSlack: a renewal is skipped when the quorum's answer took longer
	// than this, so the VIP's kernel expiry is never more than
	// lease + RenewSlack after the proof began. Default 100ms.
	RenewSlack time.Duration
	// KernelMargin covers the kernel's expiry granularity (an address with
	// valid_lft 2 went away after 2.08 s here). Default 300ms.
	KernelMargin time.Duration
	// Tick is how often the loop looks again when nothing wakes it while
	// anything is in flight (see quiet). Default 100ms.
	Tick time.Duration
	// IdleTick is that pace on a quiet node (idle.go). Default 1s; a db
	// node runs at its check interval so every reading is judged.
	IdleTick time.Duration
	// SuspectFor is the longest a peer that failed a transfer probe stays
	// barred as a target. Default 3s.
	SuspectFor time.Duration

	Version string

	// VRRPMode is config vrrp.mode: "off", "observe" (listen and report;
	// the VIP is never touched) or "active".
	VRRPMode string

	// Data is the data-safety settings (failover.max_lag and friends,
	// mysql.fence_table); they act once SetDB gave the agent its server.
	Data DataOptions

	// SecurityWarnings are status lines about the cluster port at now
	// (plaintext, a certificate about to expire); nil for none.
	SecurityWarnings func(now time.Time) []string

	// VIPMAC is this db node's MAC on vip.interface, published in its
	// status for the ARP watchers (arpwatch.go); nil on a witness.
	VIPMAC func() string
	// AfterPass, when set, is called on the loop goroutine after every
	// pass (decisions run, VIP reconciled, View published) with that View;
	// it must not block. systemd's notify hangs here: READY after the
	// first pass, watchdog pings from the passes, so a stuck loop stops
	// them (cmd/raftvip, internal/sdnotify).
	AfterPass func(View)
}

// VRRP is what the agent needs of vrrpcompat.Speaker.
type VRRP interface {
	Block(now time.Time) string
	Yield(now time.Time) string
	Send() error
	SendRelease() error
	Interval() time.Duration
	Status(now time.Time) vrrpcompat.SpeakerStatus
}

// VRRP modes.
const (
	VRRPOff     = "off"
	VRRPObserve = "observe"
	VRRPActive  = "active"
)

// WithDefaults fills in the settings left zero, as New does: what the agent
// really runs with (and what the start-up log must show).
func (o Options) WithDefaults() Options {
	if o.Data.MaxLag <= 0 {
		o.Data.MaxLag = 10 * time.Second
	}
	if o.Data.CatchupTimeout <= 0 {
		o.Data.CatchupTimeout = 10 * time.Second
	}
	if o.Data.OnCatchupTimeout == "" {
		o.Data.OnCatchupTimeout = OnCatchupWritable
	}
	if o.RenewSlack == 0 {
		o.RenewSlack = 100 * time.Millisecond
	}
	if o.KernelMargin == 0 {
		o.KernelMargin = 300 * time.Millisecond
	}
	if o.Tick == 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.IdleTick == 0 {
		o.IdleTick = time.Second
	}
	if o.IdleTick < o.Tick {
		o.IdleTick = o.Tick
	}
	return o
}

// Terms are this node's lifetime terms, carried in its acquire records so
// that whoever fences it waits by them (zero lease on a witness).
func (o Options) Terms() fsm.HoldTerms {
	return fsm.HoldTerms{Lease: o.Lease, Slack: o.RenewSlack, Margin: o.KernelMargin}
}

// FenceWait is this node's fence wait when every node runs its settings:
// the value logged at start. A real fence waits by the holder's terms and the
// voters' smallest heartbeat timeout (owner.FenceWait).
func (o Options) FenceWait() time.Duration {
	return owner.FenceWait(o.Terms(), o.Terms(), o.HeartbeatTimeout)
}

// Timings are what this node reports to the FSM about itself.
func (o Options) Timings() fsm.Timings {
	t := fsm.Timings{Node: o.NodeID, HeartbeatTimeout: o.HeartbeatTimeout}
	if o.Role == fsm.RoleDB {
		t.Terms = o.Terms()
	}
	return t
}

// Agent is one node's loop.
type Agent struct {
	opt    Options
	raft   Raft
	fsm    *fsm.FSM
	addr   vip.Addresser // nil on a witness
	ann    vip.Announcer // nil on a witness
	health Health        // nil on a witness
	log    hclog.Logger
	now    func() time.Time
	arp    arpState // the ARP watch (arpwatch.go)

	wake chan struct{}

	// Everything below is owned by the loop goroutine (Run): read and
	// written only there, or before Run starts and after it has returned
	// (New, SetVRRP, AssumeLeftovers, Shutdown). Other goroutines hand the
	// loop work with do and call, and read the View it publishes, as
	// MetalLB's layer2 announcer does: no lock is shared with the loop.
	cmds     chan func()
	loopDone chan struct{} // closed when Run returns
	running  atomic.Bool   // Run has started
	view     atomic.Pointer[View]

	holding   bool
	epoch     uint64
	lastProof time.Time
	lastRenew time.Time
	// renewContact, while a due renewal waits for a follower's contact
	// (renew), is closed at that contact; renewBy is when the renewal stops
	// waiting; contactSeen says the loop woke for it in this pass.
	renewContact <-chan struct{}
	renewBy      time.Time
	contactSeen  bool
	leaderSince  time.Time
	leaderTerm   uint64
	// vouch caches this leadership's answer of the voters about an
	// unreleased holder (fenceWait), asked once per term, epoch and holder.
	vouch            vouchMeasure
	leaderReady      bool
	transferBackoff  time.Time
	lastDecision     owner.Decision
	lastReport       time.Time
	unhealthySince   time.Time
	announceCancel   context.CancelFunc
	announceWG       sync.WaitGroup
	membersEnsured   uint64      // term in which members were written
	stopped          atomic.Bool // Shutdown ran
	lastDecisionTime time.Time
	vrrp             VRRP
	lastAdvert       time.Time
	suspects         map[string]*suspect // peers that failed a transfer probe
	acquireBackoff   time.Time           // no acquire attempt before this (after a netlink failure)
	// boot and reportSeq order this process's health reports in the FSM
	// (fsm.Health): boot is random per process, reportSeq counts reports.
	boot      string
	reportSeq uint64
	// sentHealth is the last health report the leader committed, which
	// this node's FSM may not show yet (see reportHealth).
	sentHealth *fsm.Health
	// pendingAdd is the epoch whose acquire this node committed without
	// adding the VIP yet (the proof after the commit was slow or failed).
	pendingAdd uint64
	// removePending: addresses may be configured here although the agent
	// could not confirm them (partial add, failed removal); holding is
	// true meanwhile, so every branch of the rule removes them first.
	removePending bool
	// lifetimeEnd is when the longest kernel lifetime this agent may have
	// set ends: the return of its last add or renew call + lease + kernel
	// margin (the kernel starts valid_lft before the call returns). After
	// it, no address of ours can be left, whatever became of the interface.
	lifetimeEnd       time.Time
	removeErrLogged   bool
	lastTimingsReport time.Time
	peerCheck         peerCheck
	// reportPending: the FSM does not show this node's health or timings
	// as they are here yet (a report is rate-limited, failed, or not yet
	// applied), so the loop keeps its busy pace (idle.go).
	reportPending bool
	// keeper drives this node's server (read_only, catch-up); nil until
	// SetDB, and on a witness.
	keeper *keeper
	// fresh is this node's verdict on its own replication (owner.Judge),
	// updated on every check.
	fresh  owner.Freshness
	judged *mysqlcheck.Replication // the reading fresh was last judged on
	// errant is this node's last errant check (keeper.checkErrant), for
	// its health report.
	errant struct {
		epoch uint64
		text  string
	}
	// notify is the keepalived-style state last notified (notify.go).
	notify notifyState
}

// SetDB gives a db node's agent its server to fence and open (read_only,
// sessions, catch-up; see keeper.go); remote, when set, opens the old
// holder's server by address so a new holder can make it read-only too.
// Call before Run.
func (a *Agent) SetDB(db DB, remote func(addr string) (DB, error)) {
	if db == nil || a.opt.Role != fsm.RoleDB {
		return
	}
	defer func() {
		a.keeper.onErrant = func(epoch uint64, text string) {
			a.do(func() { a.errant.epoch, a.errant.text = epoch, text })
		}
	}()
	a.keeper = newKeeper(a.opt.NodeID, db, remote, a.opt.Data, time.Second, a.log.Named("data"), a.now, func(w fsm.WritableCmd) {
		a.do(func() {
			w.Node = a.opt.NodeID
			if !a.raft.IsLeader() {
				return
			}
			if _, err := a.apply(fsm.Command{Type: fsm.CmdWritable, Writable: &w}); err != nil {
				a.log.Debug("could not record the catch-up result", "epoch", w.Epoch, "error", err)
			}
		})
	})
}

// AssumeLeftovers tells a starting agent that a predecessor's VIP may still
// be configured where it cannot be removed (its interface is missing, maybe
// renamed): the agent treats it as held, so it records no release of its old
// epoch until the removal works or the longest lifetime the predecessor can
// have set (this node's lease + slack + margin from now) has ended. Call
// before Run.
func (a *Agent) AssumeLeftovers() {
	a.holding, a.removePending = true, true
	a.lifetimeEnd = a.now().Add(a.opt.Terms().Exposure())
}

// SetVRRP attaches the VRRP speaker (vrrp.mode observe or active); call
// before Run (the loop and status readers then share it unchanged).
func (a *Agent) SetVRRP(v VRRP) {
	a.vrrp = v
}

func (a *Agent) observing() bool { return a.opt.VRRPMode == VRRPObserve }

// New builds an agent. addr, ann and health are nil on a witness.
func New(opt Options, r Raft, f *fsm.FSM, addr vip.Addresser, ann vip.Announcer, health Health, log hclog.Logger) *Agent {
	opt = opt.WithDefaults()
	if opt.SuspectFor == 0 {
		opt.SuspectFor = suspectFor
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Agent{opt: opt, raft: r, fsm: f, addr: addr, ann: ann, health: health,
		cmds: make(chan func(), 16), loopDone: make(chan struct{}),
		log: log.Named("agent"), now: time.Now, wake: make(chan struct{}, 1), suspects: map[string]*suspect{},
		boot: newBootID()}
}

// newBootID names this process's life for the ordering of its health
// reports: random, so a restart never reuses one and no clock is involved.
func newBootID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on Linux; a time-based id still
		// differs from the previous process's.
		return fmt.Sprintf("t%x", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

// Wake asks the loop to look again now.
func (a *Agent) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *Agent) localHealth() mysqlcheck.Status {
	if a.health == nil {
		return mysqlcheck.Status{Healthy: false, Class: "witness"}
	}
	return a.health.Current()
}

// View is what the loop publishes for readers on other goroutines (status,
// operator commands): a copy, replaced after every step, never changed.
type View struct {
	Decision owner.Decision
	Holding  bool
	Epoch    uint64
	// LeaderReady: this node leads and its FSM is current (barrier done).
	LeaderReady bool
	// Serving: Holding, and not only assumed (removePending), i.e. the
	// VIP is this node's to serve (metrics).
	Serving bool
}

// publish replaces the View (loop goroutine, or after Run returned).
func (a *Agent) publish() {
	a.view.Store(&View{Decision: a.lastDecision, Holding: a.holding, Epoch: a.epoch, LeaderReady: a.leaderReady,
		Serving: a.holding && !a.removePending})
	a.noteState()
}

// current is the last published View.
func (a *Agent) current() View {
	if v := a.view.Load(); v != nil {
		return *v
	}
	return View{}
}

// do hands f to the loop, which runs it between steps and looks again at
// once. Before Run starts nothing else touches the loop's state, so f runs
// here; once Run has returned, f is dropped (false).
func (a *Agent) do(f func()) bool {
	if !a.running.Load() {
		f()
		return true
	}
	select {
	case a.cmds <- f:
		return true
	case <-a.loopDone:
		return false
	}
}

// call runs f on the loop and waits for it (or for ctx, or for the loop to
// end). f must not block.
func (a *Agent) call(ctx context.Context, f func()) error {
	done := make(chan struct{})
	if !a.do(func() { f(); close(done) }) {
		return errors.New("agent loop has stopped")
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-a.loopDone:
		select {
		case <-done:
			return nil
		default:
			return errors.New("agent loop has stopped")
		}
	}
}

// Run drives the loop until ctx is cancelled. It does not release the VIP on
// return; Shutdown does that. Run is called once.
func (a *Agent) Run(ctx context.Context) {
	a.running.Store(true)
	defer close(a.loopDone)
	if a.keeper != nil {
		go a.keeper.Run(ctx)
	}
	var healthCh <-chan mysqlcheck.Status
	if a.health != nil {
		healthCh = a.health.Changes()
	}
	tick := time.NewTicker(a.opt.Tick)
	defer tick.Stop()
	pace := a.opt.Tick
	var deadline *time.Timer
	for {
		next := a.step(ctx)
		a.publish()
		if a.opt.AfterPass != nil {
			a.opt.AfterPass(a.current())
		}
		if p := a.pace(a.now()); p != pace {
			pace = p
			tick.Reset(p)
		}
		var deadlineC <-chan time.Time
		if !next.IsZero() {
			if deadline != nil {
				deadline.Stop()
			}
			deadline = time.NewTimer(time.Until(next))
			deadlineC = deadline.C
		}
		select {
		case <-ctx.Done():
			if deadline != nil {
				deadline.Stop()
			}
			return
		case s := <-healthCh:
			a.noteHealth(s)
		case f := <-a.cmds:
			f()
		case <-a.raft.Changes():
		case <-a.fsm.Changed():
		case <-a.wake:
		case <-tick.C:
		case <-deadlineC:
		case <-a.renewContact:
			a.renewContact, a.contactSeen = nil, true
		}
	}
}

func (a *Agent) noteHealth(s mysqlcheck.Status) {
	if !s.Healthy && a.unhealthySince.IsZero() {
		// Detection counts from the first failed check of the run that
		// turned the verdict, not from the flip.
		a.unhealthySince = s.FirstFailure
		if a.unhealthySince.IsZero() {
			a.unhealthySince = s.Since
		}
	}
	if s.Healthy {
		a.unhealthySince = time.Time{}
	}
	// mysqlcheck logs every verdict with its class (WARN when unhealthy);
	// the same line again here would only repeat it.
	a.log.Debug("mysql health changed", "healthy", s.Healthy, "class", s.Class, "error", s.Error)
}

// step runs decisions until one needs no immediate follow-up, then reconciles
// the health report. It returns a deadline at which to look again (or zero).
func (a *Agent) step(ctx context.Context) time.Time {
	var wakeAt time.Time
	for i := 0; i < 8; i++ {
		if ctx.Err() != nil {
			return time.Time{}
		}
		a.observeLeadership()
		a.expireMaintenance()
		a.reprobeSuspects(ctx)
		in := a.input()
		d := owner.Decide(in)
		a.noteDecision(d)
		again, at := a.execute(ctx, in, d)
		wakeAt = at
		if !again {
			break
		}
	}
	if a.health != nil {
		if h := a.health.Current(); h.Replication != nil && h.Replication != a.judged {
			// A new reading (mysqlcheck reads replication every
			// replication_interval while steady, on every check
			// otherwise, and keeps the pointer between): judge it once.
			a.judged = h.Replication
			a.judgeReplication(h)
		}
	}
	if a.keeper != nil {
		a.steerKeeper()
	}
	a.reportPending = false
	a.reportHealth(ctx)
	a.reportTimings(ctx)
	a.checkPeers()
	a.clearSwitchover()
	a.contactSeen = false
	if !a.holding && a.renewContact != nil {
		a.cancelContact() // no renewal to wait for
	}
	return wakeAt
}

// observeLeadership tracks leadership stints and makes the FSM current (a
// barrier) before the leader acts on it.
func (a *Agent) observeLeadership() {
	leader := a.raft.IsLeader()
	if !leader {
		a.leaderSince, a.leaderReady, a.leaderTerm = time.Time{}, false, 0
		return
	}
	term := a.raft.Term()
	if a.leaderSince.IsZero() || term != a.leaderTerm {
		a.leaderSince, a.leaderTerm, a.leaderReady = a.now(), term, false
		a.log.Info("became leader", "term", term)
	}
	ready := a.leaderReady
	if ready {
		return
	}
	if err := a.raft.Barrier(2 * time.Second); err != nil {
		a.log.Warn("barrier after winning leadership failed", "error", err)
		return
	}
	a.leaderReady = a.raft.IsLeader() && a.raft.Term() == term
	a.reconcileMembers()
}

// reconcileMembers makes the FSM's member list follow the Raft
// configuration, which is replicated too and is the truth about who is in
// the cluster: configured peers that are in the configuration and missing
// from the FSM are written (first leader of a new cluster), and FSM members
// that are in no configuration any more are dropped (a removal whose second
// step never committed: the leader removed itself, or lost leadership in
// between). A peer removed at run time is thus never added back from the
// static config, and never picked as a transfer target.
// It returns the FSM state it ends with.
func (a *Agent) reconcileMembers() fsm.State {
	// The FSM first, then the configuration: peerAddLocal adds to Raft
	// before it records the member, so a member seen here is in the
	// configuration read after it, unless it was removed meanwhile.
	st := a.fsm.Current()
	servers, err := a.raft.Servers()
	if err != nil || len(servers) == 0 {
		a.log.Warn("could not read the raft configuration; members not reconciled", "error", err)
		return st
	}
	inRaft := map[string]string{} // id -> the address Raft dials
	for _, s := range servers {
		inRaft[string(s.ID)] = string(s.Address)
	}
	var missing []fsm.Member
	for _, p := range a.opt.Peers {
		addr, ok := inRaft[p.ID]
		if !ok {
			continue // removed at run time (or never added): not ours to re-add
		}
		// Raft's address, not the file's: followers compare it with
		// their own (checkPeers), and status shows it.
		m, ok := st.Members[p.ID]
		if !ok || m.Role != p.Role || m.Address != addr {
			missing = append(missing, fsm.Member{ID: p.ID, Address: addr, Role: p.Role})
		}
	}
	// Health and timings too: a removed node may have reported once more
	// between its removal from the members and from Raft (a leader
	// removing itself applies its own reports directly).
	var stale []string
	seen := map[string]bool{}
	for _, ids := range [][]string{st.MemberIDs(), sortedKeys(st.Health), sortedKeys(st.Timings)} {
		for _, id := range ids {
			if _, ok := inRaft[id]; !ok && !seen[id] {
				seen[id] = true
				stale = append(stale, id)
			}
		}
	}
	if len(missing) == 0 && len(stale) == 0 {
		return st
	}
	if _, err := a.apply(fsm.Command{Type: fsm.CmdMembers, Members: &fsm.MembersCmd{Set: missing, Remove: stale}}); err != nil {
		a.log.Warn("could not record members", "error", err)
		return st
	}
	if len(stale) > 0 {
		a.log.Info("forgot members that are no longer in the raft configuration", "removed", fmt.Sprint(stale))
	}
	return a.fsm.Current()
}

func (a *Agent) input() owner.Input {
	now := a.now()
	st := a.fsm.Current()
	leader := a.raft.IsLeader()
	var fenceWait time.Duration
	if leader && st.Holder != "" && st.Holder != a.opt.NodeID && st.Fence == nil {
		// Only needed to fence: the holder's terms and the voters' shortest
		// heartbeat timeout, whatever this node itself runs with.
		fenceWait = owner.FenceWait(st.HolderTerms, a.opt.Terms(), owner.MinHeartbeat(st, a.voters()))
		if w, ok := a.vouchFenceWait(st); ok && w < fenceWait {
			fenceWait = w
		}
	}
	deadline, _ := a.fsm.FenceDeadline()
	swDeadline, _ := a.fsm.SwitchoverDeadline()
	swTo, swOpen, _ := owner.SwitchoverView(st.Switchover, swDeadline, now)
	h := a.localHealth()
	var block, yield string
	if a.vrrp != nil {
		block, yield = a.vrrp.Block(now), a.vrrp.Yield(now)
	}
	suspects := map[string]bool{}
	for id, s := range a.suspects {
		if owner.SuspectHolds(s.Suspect, now, st.Health[id], a.raft.Resumed(id), a.opt.SuspectFor) {
			suspects[id] = true
		} else {
			delete(a.suspects, id)
		}
	}
	return owner.Input{
		Self: a.opt.NodeID, Role: a.opt.Role,
		Leader: a.leaderReady && leader, LeaderSince: a.leaderSince, Now: now,
		LocalHealthy:   a.health != nil && h.Healthy,
		Holding:        a.holding,
		LeaseFresh:     !a.lastProof.IsZero() && now.Sub(a.lastProof) < a.opt.Lease,
		Observe:        a.observing(),
		AcquireBackoff: now.Before(a.acquireBackoff),
		AddPending:     a.pendingAdd != 0 && a.pendingAdd == st.Epoch && st.Holder == a.opt.NodeID,
		RemovePending:  a.removePending,
		State:          st, FenceDeadline: deadline, FenceWait: fenceWait,
		Preempt: a.opt.Preempt, Preferred: a.opt.Preferred,
		TransferBackoff: now.Before(a.transferBackoff),
		Unreachable:     a.raft.Unreachable(),
		Suspects:        suspects,
		Maintenance:     owner.MaintenanceActive(st.Maintenance, now),
		SwitchoverTo:    swTo,
		SwitchoverOpen:  swOpen,
		VRRPBlock:       block,
		VRRPYield:       yield,
		MaxLag:          a.opt.Data.MaxLag,
		PromoteStale:    a.opt.Data.PromoteStale,
		ForceTarget:     forceTarget(st, swOpen),
		LocalStale:      a.fresh.Stale,
	}
}

// forceTarget is the target of an open switchover asked with -force.
func forceTarget(st fsm.State, open bool) string {
	if sw := st.Switchover; open && sw != nil && sw.Force && !sw.Done {
		return sw.To
	}
	return ""
}

// voters are the ids of the Raft configuration's voters; nil (no credit
// for anyone's heartbeat timeout) when the configuration cannot be read.
func (a *Agent) voters() []string {
	servers, err := a.raft.Servers()
	if err != nil {
		return nil
	}
	var ids []string
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			ids = append(ids, string(s.ID))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// clearSwitchover: the leader removes a switchover record whose window
// has ended here, so status stops showing it and a node restored from a
// snapshot later does not open its window again.
func (a *Agent) clearSwitchover() {
	if !a.leaderReady || !a.raft.IsLeader() {
		return
	}
	st := a.fsm.Current()
	deadline, _ := a.fsm.SwitchoverDeadline()
	if _, _, expired := owner.SwitchoverView(st.Switchover, deadline, a.now()); !expired {
		return
	}
	if _, err := a.apply(fsm.Command{Type: fsm.CmdSwitchover, Switchover: &fsm.Switchover{}}); err != nil {
		a.log.Warn("could not clear the ended switchover", "to", st.Switchover.To, "error", err)
		return
	}
	a.log.Info("switchover window ended", "to", st.Switchover.To, "done", st.Switchover.Done)
}

func (a *Agent) noteDecision(d owner.Decision) {
	prev := a.lastDecision
	a.lastDecision = d
	if d.Action == prev.Action && d.Reason == prev.Reason {
		return
	}
	if d.Action == owner.Renew || (d.Action == owner.None && d.Reason == "follower") {
		a.log.Debug("decision", "action", d.Action.String(), "reason", d.Reason)
		return
	}
	a.log.Info("decision", "action", d.Action.String(), "target", d.Target, "reason", d.Reason)
}

const applyTimeout = 2 * time.Second

// apply commits a command on this (leader) node and returns the FSM result.
func (a *Agent) apply(c fsm.Command) (fsm.Result, error) {
	b, err := fsm.Encode(c)
	if err != nil {
		return fsm.Result{}, err
	}
	resp, err := a.raft.Apply(b, applyTimeout)
	if err != nil {
		return fsm.Result{}, err
	}
	r, _ := resp.(fsm.Result)
	return r, r.Err
}

// execute carries out one decision. again=true means the state changed and
// the rule should be asked again at once.
func (a *Agent) execute(ctx context.Context, in owner.Input, d owner.Decision) (again bool, wakeAt time.Time) {
	st := in.State
	switch d.Action {
	case owner.None:
		return false, time.Time{}

	case owner.Wait:
		return false, d.Until

	case owner.Acquire:
		return a.acquire(ctx, in, d), time.Time{}

	case owner.AddVIP:
		return a.addVIP(ctx, in.State.Epoch, d.Reason), time.Time{}

	case owner.Renew:
		a.renew()
		return false, time.Time{}

	case owner.Release:
		// A failed removal is retried on the next tick, not in a tight loop.
		return a.release(st, d), time.Time{}

	case owner.Drop:
		return a.drop(d.Reason), time.Time{}

	case owner.RecordRelease:
		_, err := a.apply(fsm.Command{Type: fsm.CmdRelease, Release: &fsm.ReleaseCmd{
			Epoch: st.Epoch, Node: a.opt.NodeID, By: a.opt.NodeID, Time: a.now(), Reason: d.Reason}})
		if err != nil {
			a.log.Warn("could not record release", "epoch", st.Epoch, "error", err)
			return false, time.Time{}
		}
		a.log.Info("recorded release", "epoch", st.Epoch, "reason", d.Reason)
		return true, time.Time{}

	case owner.Fence:
		now := a.now()
		// The election that made this node leader, for the timeline: it
		// started when its heartbeat timer fired, before leaderSince.
		var election time.Duration
		if es := a.raft.ElectionStarted(); !es.IsZero() && !es.After(a.leaderSince) && a.leaderSince.Sub(es) < 10*time.Second {
			election = now.Sub(es)
		}
		_, err := a.apply(fsm.Command{Type: fsm.CmdFence, Fence: &fsm.FenceCmd{
			Epoch: st.Epoch, Holder: d.Target, By: a.opt.NodeID, Time: now, Wait: d.Wait, Reason: d.Reason, Election: election}})
		if err != nil {
			a.log.Warn("could not commit fence", "holder", d.Target, "error", err)
			return false, time.Time{}
		}
		a.log.Warn("fenced unreleased holder", "holder", d.Target, "epoch", st.Epoch, "wait", d.Wait)
		return true, time.Time{}

	case owner.ExpireFence:
		_, err := a.apply(fsm.Command{Type: fsm.CmdRelease, Release: &fsm.ReleaseCmd{
			Epoch: st.Epoch, Node: d.Target, By: a.opt.NodeID, Time: a.now(), Reason: "kernel lease expired (fenced)"}})
		if err != nil {
			a.log.Warn("could not release fenced epoch", "holder", d.Target, "error", err)
			return false, time.Time{}
		}
		a.log.Info("fence expired, epoch released", "holder", d.Target, "epoch", st.Epoch)
		return true, time.Time{}

	case owner.Transfer:
		a.transfer(d)
		return true, time.Time{}

	case owner.Advertise:
		// Make a weaker VRRP master hear us, then look again shortly.
		now := a.now()
		due := now.Sub(a.lastAdvert) >= 200*time.Millisecond
		if due {
			a.lastAdvert = now
		}
		v := a.vrrp
		if due && v != nil {
			if err := v.Send(); err != nil {
				a.log.Warn("VRRP advert failed", "error", err)
			}
		}
		return false, now.Add(200 * time.Millisecond)
	}
	return false, time.Time{}
}

func (a *Agent) acquire(ctx context.Context, in owner.Input, d owner.Decision) bool {
	if a.addr == nil {
		return false
	}
	t0 := a.now()
	// Leader: how long this node has led, so the history can show when
	// leadership reached it (a phase of the failover's timeline).
	var led time.Duration
	if !a.leaderSince.IsZero() && t0.After(a.leaderSince) {
		led = t0.Sub(a.leaderSince)
	}
	r, err := a.apply(fsm.Command{Type: fsm.CmdAcquire, Acquire: &fsm.AcquireCmd{
		Node: a.opt.NodeID, By: a.opt.NodeID, Time: t0, Reason: d.Reason, Terms: a.opt.Terms(), Leader: led}})
	if err != nil {
		a.log.Warn("acquire not committed", "error", err)
		return false
	}
	// The commit may be slow (a slow disk) without harm: the VIP is added
	// only after a fresh proof of leadership, which writes nothing to the
	// log. The epoch is kept until then (AddVIP), so a slow log does not
	// churn epochs.
	a.pendingAdd = r.Epoch
	if el := a.now().Sub(t0); el > a.opt.RenewSlack {
		a.log.Info("acquire commit was slow; proving leadership afresh before adding the VIP", "epoch", r.Epoch, "took", el)
	}
	return a.addVIP(ctx, r.Epoch, d.Reason)
}

// vouchMeasure is one LastVouch answer, for one term, epoch and holder.
type vouchMeasure struct {
	term, epoch uint64
	holder      string
	v           cluster.Vouch
	err         error
}

// vouchTimeout bounds the question to the voters: when one does not answer
// in time the election rule alone sets the fence, and the question must
// not delay it by much.
const vouchTimeout = 150 * time.Millisecond

// vouchFenceWait is the fence wait from the voters' vouches for the
// unreleased holder (owner.VouchFenceWait); false when they could not all
// say. Both it and the election rule are bounds on the same lifetime, so
// the leader may wait by the smaller.
func (a *Agent) vouchFenceWait(st fsm.State) (time.Duration, bool) {
	term := a.raft.Term()
	m := &a.vouch
	if m.term != term || m.epoch != st.Epoch || m.holder != st.Holder {
		v, err := a.raft.LastVouch(st.Holder, vouchTimeout)
		*m = vouchMeasure{term: term, epoch: st.Epoch, holder: st.Holder, v: v, err: err}
		if err != nil {
			a.log.Info("voters could not all say when they last vouched for the holder; fencing by the election rule", "holder", st.Holder, "error", err)
		} else {
			a.log.Info("voters' last vouch for the unreleased holder", "holder", st.Holder, "age", a.now().Sub(v.At).Round(time.Millisecond))
		}
	}
	if m.err != nil {
		return 0, false
	}
	return owner.VouchFenceWait(st.HolderTerms, a.opt.Terms(), m.v.At, m.v.VotersSince, a.leaderSince), true
}

// addVIP adds the VIP for our committed epoch right after a proof of
// leadership. It returns true when the rule should look again at once.
func (a *Agent) addVIP(ctx context.Context, epoch uint64, reason string) bool {
	if a.addr == nil {
		return false
	}
	p, err := a.raft.Prove(a.opt.Lease / 3)
	if err != nil {
		a.log.Warn("leadership not proven; not adding the VIP yet", "epoch", epoch, "error", err)
		return false
	}
	if el := a.now().Sub(p); el > a.opt.RenewSlack {
		a.log.Warn("proof of leadership too old to add the VIP on; trying again", "epoch", epoch, "age", el)
		return false
	}
	err = a.addr.Acquire(a.opt.Lease)
	ret := a.now()
	a.noteLifetime(ret)
	if err != nil {
		// Some addresses may have been added before the failure: remove
		// them all before the rule records a release (a release means the
		// VIP is gone from this host). Wait before the next attempt so a
		// broken interface does not churn epochs.
		a.acquireBackoff = ret.Add(time.Second)
		a.pendingAdd = 0
		a.holding = true
		a.removePending = true
		a.log.Error("could not add the VIP; removing what was added, retrying in 1s", "epoch", epoch, "error", err)
		return true
	}
	if el := ret.Sub(p); el > a.opt.RenewSlack {
		// The kernel started the lifetime when it processed the request,
		// somewhere before ret: a late call is no proof. Take it off again.
		a.log.Warn("adding the VIP took too long after the proof; removing it at once", "epoch", epoch, "age", el)
		a.holding = true
		if a.removeNow("late add") {
			a.holding = false
		}
		return false
	}
	a.holding, a.epoch, a.lastProof, a.lastRenew, a.pendingAdd = true, epoch, p, ret, 0
	a.awaitContact()
	actx, cancel := context.WithCancel(ctx)
	a.announceCancel = cancel
	a.log.Info("acquired VIP", "epoch", epoch, "lease", a.opt.Lease, "proof_age", ret.Sub(p), "reason", reason)
	a.startAnnouncing(actx, epoch, ret)
	a.openWrites(epoch, ret)
	return false
}

// noteLifetime records that an add or renew call returned at ret: every
// lifetime it set ends before ret + lease + kernel margin.
func (a *Agent) noteLifetime(ret time.Time) {
	end := ret.Add(a.opt.Lease + a.opt.KernelMargin)
	if end.After(a.lifetimeEnd) {
		a.lifetimeEnd = end
	}
}

// removeNow removes every VIP address. It reports whether none can be left
// here: removed now, or the kernel lifetime of any we set has ended (an
// interface that vanished may live on under another name, so its absence
// is no proof by itself). On false removePending stays set and the rule
// retries.
func (a *Agent) removeNow(why string) bool {
	err := a.addr.Release()
	if err == nil {
		a.removePending, a.removeErrLogged = false, false
		return true
	}
	if !a.now().Before(a.lifetimeEnd) {
		a.log.Warn("could not remove the VIP, but the kernel lifetime of every address this agent set has ended", "why", why, "error", err)
		a.removePending, a.removeErrLogged = false, false
		return true
	}
	a.removePending = true
	if !a.removeErrLogged {
		a.removeErrLogged = true
		a.log.Error("could not remove the VIP; retrying until removed or its kernel lifetime ends", "why", why, "lifetime_ends", a.lifetimeEnd.Format(time.RFC3339Nano), "error", err)
	}
	return false
}

// recordAdded commits, for the history only, when epoch's VIP was added
// and its first GARP sent (zero: none). It runs off the loop, after the
// VIP is up, so the timeline costs the failover nothing; a failure (no
// longer leader or holder) only loses the record.
func (a *Agent) recordAdded(epoch uint64, added, garp time.Time) {
	_, err := a.apply(fsm.Command{Type: fsm.CmdAdded, Added: &fsm.AddedCmd{
		Epoch: epoch, Node: a.opt.NodeID, Time: added, GARP: garp}})
	if err != nil {
		a.log.Debug("could not record when the VIP was added", "epoch", epoch, "error", err)
	}
}

// startAnnouncing sends the GARPs (and VRRP adverts) for epoch's VIP,
// added at added, and records the add with its first GARP's time.
func (a *Agent) startAnnouncing(ctx context.Context, epoch uint64, added time.Time) {
	ann, refresh, v := a.ann, a.opt.GARPRefresh, a.vrrp
	if v != nil && a.opt.VRRPMode == VRRPActive {
		// While holding, advertise like a VRRP master so keepalived peers
		// stay backup.
		a.announceWG.Add(1)
		go func() {
			defer a.announceWG.Done()
			t := time.NewTicker(v.Interval())
			defer t.Stop()
			for {
				if err := v.Send(); err != nil {
					a.log.Warn("VRRP advert failed", "error", err)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	if ann == nil {
		go a.recordAdded(epoch, added, time.Time{})
		return
	}
	a.announceWG.Add(1)
	go func() {
		defer a.announceWG.Done()
		var sent atomic.Bool
		first := vip.WithFirstSent(ctx, func(at time.Time) {
			if !sent.Swap(true) {
				go a.recordAdded(epoch, added, at)
			}
		})
		if err := ann.Announce(first); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Warn("gratuitous ARP failed", "error", err)
		}
		if !sent.Swap(true) {
			go a.recordAdded(epoch, added, time.Time{})
		}
		if refresh <= 0 {
			return
		}
		t := time.NewTicker(refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := ann.Announce(ctx); err != nil && !errors.Is(err, context.Canceled) {
					a.log.Warn("gratuitous ARP refresh failed", "error", err)
				}
			}
		}
	}()
}

func (a *Agent) stopAnnouncing() {
	cancel := a.announceCancel
	a.announceCancel = nil
	if cancel != nil {
		cancel()
	}
}

// giveUpVRRP tells VRRP backups at once that we gave the VIP up (priority
// 0), so keepalived takes over after its skew time, not 3 intervals.
func (a *Agent) giveUpVRRP() {
	v := a.vrrp
	if v == nil || a.opt.VRRPMode != VRRPActive {
		return
	}
	if err := v.SendRelease(); err != nil {
		a.log.Warn("VRRP priority-0 advert failed", "error", err)
		return
	}
	a.log.Info("sent VRRP priority-0 advert (giving up mastership)")
}

// renew proves leadership with a quorum, then extends the VIP's lifetime.
// Never on a timer alone: a paused or cut-off holder must lose the VIP.
func (a *Agent) renew() {
	now := a.now()
	if !owner.RenewDue(now, a.lastRenew, a.opt.Lease) {
		return
	}
	// A due renewal waits, a little, for a follower to accept one of the
	// leader's own heartbeats: the proof right after needs no VerifyLeader
	// round of its own (cluster.Prove, contact.go), a quarter of an idle
	// leader's round trips. The loop stays free meanwhile (the contact
	// wakes it), and the wait is bounded: after renewContactWait the
	// renewal proves the full way. Nothing here is safety: the proof and
	// both freshness checks below are the same either way.
	if !a.contactSeen {
		if a.renewContact == nil {
			a.awaitContact()
		}
		if now.Before(a.renewBy) {
			return
		}
	}
	a.cancelContact()
	p, err := a.raft.Prove(a.opt.Lease / 3)
	if err != nil {
		a.log.Warn("leadership not confirmed; not renewing the VIP", "error", err)
		return
	}
	if el := a.now().Sub(p); el > a.opt.RenewSlack {
		a.log.Warn("quorum answered slowly; not renewing on a stale proof", "age", el)
		return
	}
	err = a.addr.Renew(a.opt.Lease)
	ret := a.now()
	a.noteLifetime(ret)
	if err != nil {
		a.log.Error("could not renew the VIP", "error", err)
		return
	}
	if el := ret.Sub(p); el > a.opt.RenewSlack {
		// The freshness check before the call is not enough: the kernel
		// starts valid_lft when it processes the request, which can be late
		// under CPU or RTNL contention. A late renewal is no proof; drop.
		a.log.Warn("renewal took too long after the proof; dropping the VIP at once", "age", el)
		if a.removeNow("late renewal") {
			a.stopAnnouncing()
			a.giveUpVRRP()
			a.holding = false
		}
		return
	}
	a.lastProof, a.lastRenew = p, ret
	// Armed now, the next renewal's contact wakes the loop itself: no pass
	// at the due time only to start waiting.
	a.awaitContact()
}

// awaitContact arms the wait of the renewal after lastRenew (renew): the
// loop wakes at the first follower contact sent after the renewal is due,
// or at renewBy.
func (a *Agent) awaitContact() {
	a.cancelContact()
	due := owner.RenewAt(a.lastRenew, a.opt.Lease)
	a.renewContact = a.raft.ContactAfter(due)
	a.renewBy = due.Add(renewContactWait(a.opt.Lease))
}

// cancelContact ends a renewal's wait for a contact.
func (a *Agent) cancelContact() {
	if a.renewContact != nil {
		a.raft.CancelContact(a.renewContact)
	}
	a.renewContact, a.renewBy = nil, time.Time{}
}

// release removes the VIP, then commits the release. If the removal fails
// the release is not committed: the FSM must never say "free" while the VIP
// may still be up here.
func (a *Agent) release(st fsm.State, d owner.Decision) bool {
	gtid, fenced := a.fenceWrites(d.Target != "", d.Reason)
	a.stopAnnouncing()
	if !a.removeNow("release") {
		return false // not recording a release while an address may be up
	}
	a.giveUpVRRP()
	a.holding = false
	if a.unhealthySince.IsZero() && a.health != nil {
		// The rule saw the verdict (Current) before the loop read the
		// change from the checker's channel: take it from there.
		if h := a.localHealth(); !h.Healthy {
			a.noteHealth(h)
		}
	}
	var detection time.Duration
	if !a.unhealthySince.IsZero() {
		detection = a.now().Sub(a.unhealthySince)
	}
	epoch := a.epoch
	if epoch == 0 {
		epoch = st.Epoch
	}
	_, err := a.apply(fsm.Command{Type: fsm.CmdRelease, Release: &fsm.ReleaseCmd{
		Epoch: epoch, Node: a.opt.NodeID, By: a.opt.NodeID, Time: a.now(), Reason: d.Reason, Detection: detection, GTID: gtid, Fenced: fenced}})
	if err != nil {
		a.log.Warn("VIP removed but release not committed (the next leader will fence)", "epoch", epoch, "error", err)
		return true
	}
	a.log.Info("released VIP", "epoch", epoch, "reason", d.Reason)
	return true
}

func (a *Agent) drop(reason string) bool {
	a.stopAnnouncing()
	if a.addr != nil && !a.removeNow("drop") {
		// The kernel lease removes it anyway; keep trying meanwhile.
		return false
	}
	a.giveUpVRRP()
	a.holding = false
	if a.keeper != nil {
		a.keeper.ReadOnlyWanted() // the VIP first: its lease is the bound
	}
	a.log.Warn("dropped VIP", "reason", reason)
	return true
}

// probeTimeout bounds the liveness probe before a transfer. A peer behind a
// pulled cable does not refuse connections, it just never answers; without
// the probe the leader would learn that only from a transfer timeout or
// Raft's failed heartbeats, seconds later.
const probeTimeout = 250 * time.Millisecond

// suspectFor is the longest a peer that failed a probe is not a transfer
// target; a sign of life clears it sooner (owner.SuspectHolds).
const suspectFor = 3 * time.Second

// reprobeEvery is how often the leader probes a suspect again, off the loop:
// a healthy answer makes it a transfer target at once.
const reprobeEvery = 100 * time.Millisecond

type suspect struct {
	owner.Suspect
	probing   bool
	lastProbe time.Time
}

// reprobeSuspects probes, in the background, the suspects not probed for
// reprobeEvery while this node leads; an answer wakes the loop.
func (a *Agent) reprobeSuspects(ctx context.Context) {
	if !a.raft.IsLeader() {
		return
	}
	now := a.now()
	for id, s := range a.suspects {
		if s.probing || s.Answered || now.Sub(s.lastProbe) < reprobeEvery {
			continue
		}
		s.probing, s.lastProbe = true, now
		go func(id string, s *suspect) {
			err := a.probeCtx(ctx, id)
			// The suspect belongs to the loop: hand the answer back.
			a.do(func() {
				s.probing = false
				if err == nil {
					s.Answered = true
				}
			})
			if err == nil {
				a.log.Info("transfer target answers again", "target", id)
				a.Wake()
			}
		}(id, s)
	}
}

// probe asks the target for its own status over the cluster RPC: it must
// answer and, unless it is a witness, say its MySQL is healthy (the FSM's
// report may be stale).
func (a *Agent) probe(target string) error {
	return a.probeCtx(context.Background(), target)
}

func (a *Agent) probeCtx(ctx context.Context, target string) error {
	_, err := a.probeStatusCtx(ctx, target)
	return err
}

func (a *Agent) probeStatus(target string) (NodeStatus, error) {
	return a.probeStatusCtx(context.Background(), target)
}

func (a *Agent) probeStatusCtx(ctx context.Context, target string) (NodeStatus, error) {
	// The address this node's Raft uses for the target comes first: a
	// transfer goes there too.
	addr := a.raftAddresses()[target]
	if m, ok := a.fsm.Current().Members[target]; ok && addr == "" {
		addr = m.Address
	}
	for _, p := range a.opt.Peers {
		if addr == "" && p.ID == target {
			addr = p.Address
		}
	}
	if addr == "" {
		return NodeStatus{}, fmt.Errorf("no address known for %s", target)
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	resp, err := a.raft.Call(ctx, addr, cluster.Request{Op: cluster.OpStatus})
	if err != nil {
		return NodeStatus{}, err
	}
	if resp.Err != "" {
		return NodeStatus{}, errors.New(resp.Err)
	}
	var ns NodeStatus
	if err := json.Unmarshal(resp.Status, &ns); err != nil {
		return NodeStatus{}, fmt.Errorf("bad status answer: %w", err)
	}
	// A witness is a transfer target only to relay leadership (it holds
	// nothing); answering is all it must do.
	if !ns.Healthy && ns.Role != fsm.RoleWitness {
		return ns, fmt.Errorf("reports mysql %s", ns.CheckClass)
	}
	return ns, nil
}

func (a *Agent) transfer(d owner.Decision) {
	t0 := a.now()
	if err := a.probe(d.Target); err != nil {
		report := a.fsm.Current().Health[d.Target]
		now := a.now()
		a.suspects[d.Target] = &suspect{Suspect: owner.Suspect{Since: now, Report: report, Resumed: a.raft.Resumed(d.Target)}, lastProbe: now}
		a.log.Warn("transfer target failed its probe; trying another until it answers", "target", d.Target, "error", err, "at_most", a.opt.SuspectFor)
		return
	}
	err := a.raft.TransferTo(d.Target)
	if errors.Is(err, cluster.ErrNotInConfiguration) {
		// A stale member (removed from Raft, still in the FSM): forget it
		// rather than pick it again after a backoff, forever.
		a.log.Warn("transfer target is not in the raft configuration; forgetting it", "target", d.Target)
		if _, still := a.reconcileMembers().Members[d.Target]; !still {
			return
		}
	}
	if err != nil {
		a.transferBackoff = a.now().Add(time.Second)
		a.log.Warn("leadership transfer failed", "target", d.Target, "error", err)
		return
	}
	a.log.Info("leadership transferred", "target", d.Target, "took", a.now().Sub(t0), "reason", d.Reason)
}

// reportTimings makes the FSM's record of this node's timings match its
// options, like reportHealth: fences use every voter's heartbeat timeout.
func (a *Agent) reportTimings(ctx context.Context) {
	want := a.opt.Timings()
	if cur, ok := a.fsm.Current().Timings[a.opt.NodeID]; ok && cur == want {
		return
	}
	a.reportPending = true
	if a.now().Sub(a.lastTimingsReport) < time.Second {
		return
	}
	a.lastTimingsReport = a.now()
	a.send(ctx, fsm.Command{Type: fsm.CmdTimings, Timings: &want}, "timings")
}

// send commits a command about this node: applied here on the leader,
// forwarded to the leader from a follower (through a peer when the leader
// is out of reach). Failures are retried by the caller's next comparison
// with the FSM. ok: the leader committed it.
func (a *Agent) send(ctx context.Context, cmd fsm.Command, what string) (ok bool) {
	if a.raft.IsLeader() {
		if _, err := a.apply(cmd); err != nil {
			a.log.Warn("could not record "+what, "error", err)
			return false
		}
		return true
	}
	b, err := fsm.Encode(cmd)
	if err != nil {
		return false
	}
	fctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := a.raft.Forward(fctx, b)
	if err != nil {
		// The leader is out of reach (or unknown: it does not reach us
		// either), e.g. the link between the DB hosts is down while both
		// reach the witness. Without the report the leader would trust
		// our last one, and could not tell that we recovered.
		if via, rerr := a.relay(ctx, b); rerr == nil {
			a.log.Debug("reported "+what+" to leader through a peer", "via", via, "direct_error", err)
			return true
		}
	}
	if err == nil && resp.Err != "" {
		err = errors.New(resp.Err)
	}
	if err != nil {
		a.log.Debug(what+" report to leader failed; will retry", "error", err)
		return false
	}
	a.log.Debug("reported " + what + " to leader")
	return true
}

// OpRelay asks a peer to send this node's own report on to the leader.
const OpRelay = "relay-apply"

// relay sends an encoded report through a peer that takes it on to the
// leader; it returns that peer. Every peer is asked at once, each with the
// whole probe timeout: asked one after the other, a peer across a link that
// drops packets (it hangs, it does not refuse) used up the time and the
// peer that could relay was never asked (TestReportsRelayedPastAHangingPeer).
// A report relayed twice is applied once (fsm.Health orders by Boot, Seq).
func (a *Agent) relay(ctx context.Context, cmd []byte) (string, error) {
	lid, _ := a.raft.Leader()
	// All tries together within one probe timeout: this runs on the loop.
	rctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	type result struct {
		id  string
		err error
	}
	results := make(chan result, len(a.opt.Peers))
	asked := 0
	for _, p := range a.opt.Peers {
		if p.ID == a.opt.NodeID || p.ID == lid {
			continue
		}
		asked++
		go func(p Peer) {
			resp, err := a.raft.Call(rctx, p.Address, cluster.Request{Op: OpRelay, Command: cmd})
			if err == nil && resp.Err != "" {
				err = errors.New(resp.Err)
			}
			results <- result{p.ID, err}
		}(p)
	}
	err := errors.New("no peer to relay through")
	for range asked {
		r := <-results
		if r.err == nil {
			return r.id, nil // the others end with rctx
		}
		err = r.err
	}
	return "", err
}

// reportHealth makes the FSM's view of this node's health match the local
// checker: the leader applies it, a follower forwards it to the leader.
// Comparing with the replicated view (instead of remembering what was sent)
// retries lost reports and survives leader changes by itself.
func (a *Agent) reportHealth(ctx context.Context) {
	if a.health == nil {
		return
	}
	h := a.health.Current()
	if h.Checked.IsZero() {
		return // no check finished yet
	}
	st := a.fsm.Current()
	cur, ok := st.Health[a.opt.NodeID]
	if s := a.sentHealth; s != nil && ok && cur.Boot == s.Boot && cur.Seq < s.Seq {
		// The leader committed a newer report than this node has applied
		// (sent through a peer: the leader's log does not reach us).
		cur = *s
	}
	f := a.fresh
	if ok && cur.Healthy == h.Healthy && cur.Class == h.Class && cur.Stale == f.Stale &&
		cur.NoReplication == f.NoReplication && cur.ReplDownSince.Equal(f.IODownSince) &&
		cur.Errant == a.errant.text && cur.ErrantEpoch == a.errant.epoch {
		return
	}
	a.reportPending = true
	if a.now().Sub(a.lastReport) < 200*time.Millisecond {
		return
	}
	a.lastReport = a.now()
	a.reportSeq++
	rep := fsm.Health{Node: a.opt.NodeID, Healthy: h.Healthy, Class: h.Class, Checked: h.Checked, Since: h.Since,
		Boot: a.boot, Seq: a.reportSeq, Stale: f.Stale, NoReplication: f.NoReplication, ReplDownSince: f.IODownSince,
		Errant: a.errant.text, ErrantEpoch: a.errant.epoch}
	if a.send(ctx, fsm.Command{Type: fsm.CmdHealth, Health: &rep}, "health") {
		a.sentHealth = &rep
	}
}

// Shutdown removes the VIP, records the release and, if leader, hands
// leadership to a healthy db peer, all within ctx. The caller then closes
// the cluster.
func (a *Agent) Shutdown(ctx context.Context) {
	if !a.stopped.CompareAndSwap(false, true) {
		return
	}
	if a.running.Load() {
		// The loop owns the state until it has returned; the caller
		// cancelled its context. A loop stuck past ctx (a hung netlink
		// call) keeps it: leave the VIP to its kernel lifetime.
		select {
		case <-a.loopDone:
		case <-ctx.Done():
			a.log.Error("shutdown: the agent loop did not stop in time; the VIP is left to its kernel lifetime")
			return
		}
	}
	defer a.publishFinal()
	holding, epoch := a.holding, a.epoch
	var gtid string
	var fenced bool
	if holding {
		gtid, fenced = a.fenceWrites(true, "agent shutting down")
	}
	a.stopAnnouncing()
	released := true
	addr := a.addr
	if a.observing() {
		// keepalived owns the VIP in observe mode: leave it alone.
		addr = nil
	}
	if addr != nil {
		if err := addr.Release(); err != nil {
			released = false
			a.log.Error("shutdown: could not remove the VIP (its kernel lease will expire)", "error", err)
		}
	}
	if holding && released {
		a.giveUpVRRP()
	}
	a.holding = false
	if !a.raft.IsLeader() {
		a.announceWG.Wait()
		return
	}
	st := a.fsm.State()
	if holding && released && st.Holder == a.opt.NodeID {
		if epoch == 0 {
			epoch = st.Epoch
		}
		if _, err := a.apply(fsm.Command{Type: fsm.CmdRelease, Release: &fsm.ReleaseCmd{
			Epoch: epoch, Node: a.opt.NodeID, By: a.opt.NodeID, Time: a.now(), Reason: "agent shutting down", GTID: gtid, Fenced: fenced}}); err != nil {
			a.log.Warn("shutdown: release not committed; not transferring (the next leader will fence)", "error", err)
			a.announceWG.Wait()
			return
		}
		a.log.Info("shutdown: released VIP", "epoch", epoch)
	}
	st = a.fsm.State()
	preferred := a.opt.Preferred
	// Only hand over cleanly (owner.HandoverTarget): the target either adds
	// the VIP at once or keeps waiting on the fence.
	if t := owner.HandoverTarget(st, a.opt.NodeID, preferred, a.raft.Unreachable()); t != "" {
		done := make(chan error, 1)
		go func() { done <- a.raft.TransferTo(t) }()
		select {
		case err := <-done:
			if err != nil {
				a.log.Warn("shutdown: leadership transfer failed", "target", t, "error", err)
			} else {
				a.log.Info("shutdown: leadership transferred", "target", t)
			}
		case <-ctx.Done():
			a.log.Warn("shutdown: leadership transfer did not finish in time", "target", t)
		}
	}
	a.announceWG.Wait()
}

// Holding reports whether this agent has the VIP configured (as of the
// last published View).
func (a *Agent) Holding() bool { return a.current().Holding }

func (a *Agent) String() string { return fmt.Sprintf("agent(%s)", a.opt.NodeID) }

// Live is the part of the options a running agent can change (SIGHUP).
type Live struct {
	Preempt     bool
	Preferred   string
	GARPRefresh time.Duration
	Announcer   vip.Announcer // nil keeps the current one
}

// Reconfigure applies reloadable settings; the loop picks them up at once.
// The VIP is not touched by a reload.
func (a *Agent) Reconfigure(l Live) {
	a.do(func() {
		a.opt.Preempt, a.opt.Preferred, a.opt.GARPRefresh = l.Preempt, l.Preferred, l.GARPRefresh
		if l.Announcer != nil {
			a.ann = l.Announcer
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
