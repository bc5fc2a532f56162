// Package cluster owns raftvip's Raft group: the hashicorp/raft instance, its
// transport (one TCP port, multiplexed with a small RPC for forwarding), the
// BoltDB log and stable store, snapshots, bootstrap, leadership observation
// and leadership transfer. It knows nothing about VIPs or MySQL; the agent
// decides, the cluster carries out.
//
// The wiring follows otoolep/hraftd and rqlite's store: bootstrap only when
// raft.HasExistingState says there is nothing on disk, every node started with
// the same peer list, so three fresh nodes form a cluster with no manual join.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/raftvip/raftvip/internal/mtls"
	"go.etcd.io/bbolt"
)

// Peer is one voter of the initial configuration.
type Peer struct {
	ID      string
	Address string
}

// Timing holds the Raft timings that the VIP safety argument depends on
// (see docs/safety.md).
type Timing struct {
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// HeartbeatPace is the leader's heartbeat spacing (every pace to
	// 2·pace) in place of raft's HeartbeatTimeout/10 (pace.go); 0 keeps
	// raft's.
	HeartbeatPace     time.Duration
	CommitTimeout     time.Duration
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
}

// DefaultTiming is what raftvip runs with unless the config says otherwise.
var DefaultTiming = Timing{
	HeartbeatTimeout:   500 * time.Millisecond,
	ElectionTimeout:    500 * time.Millisecond,
	LeaderLeaseTimeout: 500 * time.Millisecond,
	HeartbeatPace:      150 * time.Millisecond, // heartbeats every 150–300 ms (pace.go)
	CommitTimeout:      2 * time.Second,        // followers learn commits from nudges (nudge.go)
	SnapshotInterval:   120 * time.Second,
	SnapshotThreshold:  8192,
	TrailingLogs:       10240,
}

// Config describes one node.
type Config struct {
	NodeID  string
	Bind    string // host:port for Raft and RPC
	DataDir string
	Peers   []Peer
	Timing  Timing
	Logger  hclog.Logger
	// Join: do not bootstrap; wait to be added by `raftvip peers add` on
	// the running cluster. For nodes added to an existing cluster.
	Join bool
	// StartDelay keeps the node out of Raft (no transport, no votes) for
	// this long after Open is called. A crash-restarted voter has forgotten
	// the leader it answered just before it died; Raft would let it vote
	// for a new leader at once, while the fence wait takes credit for a
	// full heartbeat timeout of silence at every voter of the new quorum
	// (docs/safety.md, rule 3). The caller passes the largest heartbeat
	// timeout known in the cluster (see StartDelay).
	StartDelay time.Duration
	// TLS is the cluster port's certificate material; nil runs the port
	// in plaintext (insecure_plaintext).
	TLS *mtls.Store
}

// Cluster is a running Raft node.
type Cluster struct {
	cfg    Config
	log    hclog.Logger
	raft   *raft.Raft
	trans  raft.Transport
	caller Caller
	mux    *Mux
	bolt   *raftboltdb.BoltStore

	observer *raft.Observer
	obsCh    chan raft.Observation
	leaderCh chan struct{} // coalesced "leadership may have changed"

	// unreachable holds the peers this node, as leader, failed to
	// heartbeat since their last success. Raft keeps no public per-peer
	// contact time; its heartbeat observations are the leader's view.
	unreachMu   sync.Mutex
	unreachable map[string]time.Time
	// resumed counts, per peer, the heartbeats that succeeded again after
	// failures: a sign of life the agent compares before and after.
	resumed map[string]uint64
	// leaderChanges counts the leaders this node has seen elected (a
	// LeaderObservation naming one), for raftvip_raft_leader_changes_total.
	leaderChanges atomic.Uint64
	// electionStarted is when this node last turned candidate (its
	// heartbeat timer fired), in Unix ns; lastState is watch's own.
	electionStarted atomic.Int64
	lastState       raft.RaftState
	// vouches: see vouch.go.
	vouches vouchBook
	// contacts: the followers' accepted AppendEntries (contact.go);
	// proofsShort counts the proofs that needed no VerifyLeader.
	contacts    *contactBook
	proofsShort atomic.Uint64
	// nudgeCh asks for a barrier after a commit; lastNudge is the last
	// one's index (nudge.go).
	nudgeCh chan struct{}
	nudgeAt atomic.Uint64 // the highest committed index a nudge was asked for
	// appliedHere is the highest index whose Apply or Barrier returned
	// here: applied, whatever raft's own applied index says yet.
	appliedHere atomic.Uint64
	lastNudge   atomic.Uint64
	// logs and fsmIndex check raft's applied index against the FSM's own
	// (applied.go); fsmIndex is nil for an FSM that does not report one.
	logs     raft.LogStore
	fsmIndex AppliedReporter
	stop     chan struct{}
	wg       sync.WaitGroup
	closeMu  sync.Mutex
	closed   bool
}

// Open starts a node with the real transport (TCP mux on cfg.Bind) and
// BoltDB stores in cfg.DataDir, serving RPC with h.
func Open(cfg Config, fsm raft.FSM, h Handler) (*Cluster, error) {
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: data_dir %s: %w", cfg.DataDir, err)
	}
	dbPath := filepath.Join(cfg.DataDir, "raft.db")
	// A second agent on the same data_dir must fail, not hang on bolt's flock.
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: dbPath, BoltOptions: &bbolt.Options{Timeout: 2 * time.Second}})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("cluster: %s is locked: is another raftvip agent using data_dir %s?", dbPath, cfg.DataDir)
		}
		return nil, fmt.Errorf("cluster: open raft log %s: %w (move the data_dir aside to start this node fresh; it rejoins from its peers)", dbPath, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 3, log.Named("snapshot"))
	if err != nil {
		bolt.Close()
		return nil, fmt.Errorf("cluster: snapshot store in %s: %w", cfg.DataDir, err)
	}
	// Wait before listening: peers then see a refused connection, not a
	// vote request that queues and is granted once Raft starts.
	waitStart(cfg, log)
	// Members are asked at every handshake: the config's peers and, once
	// Raft runs, its configuration (nodes added at run time).
	var running atomic.Pointer[Cluster]
	members := func() map[string]string {
		m := map[string]string{}
		for _, p := range cfg.Peers {
			m[p.ID] = p.Address
		}
		if c := running.Load(); c != nil {
			if servers, err := c.Servers(); err == nil {
				for _, s := range servers {
					m[string(s.ID)] = string(s.Address) // what Raft dials
				}
			}
		}
		return m
	}
	var sec *TLS
	if cfg.TLS != nil {
		sec = &TLS{Store: cfg.TLS, Members: members}
	}
	mux, err := Listen(cfg.Bind, sec, log.Named("mux"))
	if err != nil {
		bolt.Close()
		return nil, err
	}
	for _, p := range cfg.Peers {
		if p.ID == cfg.NodeID {
			mux.Advertise(p.Address) // not a wildcard bind (see Advertise)
		}
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  mux.RaftLayer(),
		MaxPool: 3,
		Timeout: time.Second, // a dead peer is noticed (failed heartbeat) within a second
		Logger:  newQuietLogger(log.Named("transport")),
	})
	c, err := start(cfg, fsm, trans, bolt, bolt, snaps, TCPCaller{Dial: mux.Dialer(), Pool: NewConnPool()})
	if err != nil {
		trans.Close()
		mux.Close()
		bolt.Close()
		return nil, err
	}
	c.mux = mux
	c.bolt = bolt
	running.Store(c)
	go ServeRPC(mux.RPCListener(), h, c.log.Named("rpc"))
	return c, nil
}

// OpenWith starts a node on the given transport and stores (in-process tests
// use raft.InmemTransport and in-memory or BoltDB stores).
func OpenWith(cfg Config, fsm raft.FSM, trans raft.Transport, logs raft.LogStore, stable raft.StableStore, snaps raft.SnapshotStore, caller Caller) (*Cluster, error) {
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	waitStart(cfg, log)
	return start(cfg, fsm, trans, logs, stable, snaps, caller)
}

// waitStart sleeps cfg.StartDelay. Counting from Open, not from the
// process start, only makes the wait longer: the node's last contact with
// any leader was before the crash, so before this process began.
func waitStart(cfg Config, log hclog.Logger) {
	if cfg.StartDelay <= 0 {
		return
	}
	log.Info("staying out of raft for the largest heartbeat timeout before voting (a restarted voter must not vote within it of its last leader contact)", "delay", cfg.StartDelay)
	time.Sleep(cfg.StartDelay)
}

func start(cfg Config, fsm raft.FSM, trans raft.Transport, logs raft.LogStore, stable raft.StableStore, snaps raft.SnapshotStore, caller Caller) (*Cluster, error) {
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	t := cfg.Timing
	if t.HeartbeatTimeout == 0 {
		t = DefaultTiming
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = t.HeartbeatTimeout
	rc.ElectionTimeout = t.ElectionTimeout
	rc.LeaderLeaseTimeout = t.LeaderLeaseTimeout
	rc.CommitTimeout = t.CommitTimeout
	if t.SnapshotInterval > 0 {
		rc.SnapshotInterval = t.SnapshotInterval
	}
	if t.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = t.SnapshotThreshold
	}
	if t.TrailingLogs > 0 {
		rc.TrailingLogs = t.TrailingLogs
	}
	rc.Logger = newQuietLogger(log.Named("raft"))
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("cluster: raft config: %w", err)
	}

	has, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return nil, fmt.Errorf("cluster: read existing state in %s: %w", cfg.DataDir, err)
	}
	contacts := newContactBook()
	r, err := raft.NewRaft(rc, fsm, logs, stable, snaps, &contactTransport{inner: trans, book: contacts})
	if err != nil {
		return nil, fmt.Errorf("cluster: start raft: %w", err)
	}
	if !has && cfg.Join {
		log.Info("no raft state and -join given: waiting to be added to the cluster (raftvip peers add)")
	} else if !has {
		servers := make([]raft.Server, 0, len(cfg.Peers))
		for _, p := range cfg.Peers {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Address)})
		}
		// Every node bootstraps with the same list; hashicorp/raft accepts
		// identical bootstraps, so no node is special and none needs a join.
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			r.Shutdown()
			return nil, fmt.Errorf("cluster: bootstrap: %w", err)
		}
		log.Info("bootstrapped new cluster", "peers", len(servers))
	} else {
		log.Info("resuming from existing raft state", "data_dir", cfg.DataDir)
	}

	c := &Cluster{
		cfg: cfg, log: log, raft: r, trans: trans, caller: caller, logs: logs, contacts: contacts,
		obsCh:       make(chan raft.Observation, 64),
		leaderCh:    make(chan struct{}, 1),
		nudgeCh:     make(chan struct{}, 1),
		stop:        make(chan struct{}),
		unreachable: map[string]time.Time{},
		resumed:     map[string]uint64{},
	}
	c.fsmIndex, _ = fsm.(AppliedReporter)
	// Before any proof can be answered: a vouch this process gave is
	// never older than this.
	c.vouches.start(time.Now())
	// The configuration in the store at start: any voter removed before
	// it was removed before this process began (see LastVouch).
	if _, err := c.Servers(); err != nil {
		log.Warn("could not read the raft configuration at start", "error", err)
	}
	// An observer instead of the lossy LeaderCh: every leader and state change
	// wakes the agent, which then reads the current truth from Raft itself.
	c.observer = raft.NewObserver(c.obsCh, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState, raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation:
			return true
		}
		return false
	})
	r.RegisterObserver(c.observer)
	c.wg.Add(2)
	go c.watch()
	go c.nudger()
	return c, nil
}

func (c *Cluster) watch() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		case o := <-c.obsCh:
			switch d := o.Data.(type) {
			case raft.LeaderObservation:
				c.log.Info("leader changed", "leader", d.LeaderID, "address", d.LeaderAddr)
				c.paceHeartbeats()
				if d.LeaderID != "" {
					c.leaderChanges.Add(1)
				}
				c.clearUnreachable()
			case raft.RaftState:
				if d != raft.Leader {
					c.clearUnreachable()
				}
				c.paceHeartbeats()
				if d == raft.Candidate && c.lastState != raft.Candidate {
					c.electionStarted.Store(time.Now().UnixNano())
				}
				c.lastState = d
			case raft.FailedHeartbeatObservation:
				c.unreachMu.Lock()
				if _, ok := c.unreachable[string(d.PeerID)]; !ok {
					c.log.Warn("peer not answering heartbeats", "peer", d.PeerID, "last_contact", d.LastContact)
					c.unreachable[string(d.PeerID)] = d.LastContact
				}
				c.unreachMu.Unlock()
			case raft.ResumedHeartbeatObservation:
				c.unreachMu.Lock()
				delete(c.unreachable, string(d.PeerID))
				c.resumed[string(d.PeerID)]++
				c.unreachMu.Unlock()
				c.log.Info("peer answering heartbeats again", "peer", d.PeerID)
			}
			select {
			case c.leaderCh <- struct{}{}:
			default:
			}
		}
	}
}

func (c *Cluster) clearUnreachable() {
	c.unreachMu.Lock()
	clear(c.unreachable)
	c.unreachMu.Unlock()
}

func (c *Cluster) forgetUnreachable(id string) {
	c.unreachMu.Lock()
	delete(c.unreachable, id)
	c.unreachMu.Unlock()
}

// Unreachable returns the peers this node (as leader) currently fails to
// heartbeat. Empty on a follower.
func (c *Cluster) Unreachable() map[string]bool {
	c.unreachMu.Lock()
	defer c.unreachMu.Unlock()
	out := make(map[string]bool, len(c.unreachable))
	for id := range c.unreachable {
		out[id] = true
	}
	return out
}

// Resumed counts how often this node's heartbeats to peer id succeeded
// again after failures (it only grows).
func (c *Cluster) Resumed(id string) uint64 {
	c.unreachMu.Lock()
	defer c.unreachMu.Unlock()
	return c.resumed[id]
}

// Changes is signalled (coalesced) whenever Raft's leader or state changed.
func (c *Cluster) Changes() <-chan struct{} { return c.leaderCh }

// LeaderChanges is how many times this node saw a (new) leader.
func (c *Cluster) LeaderChanges() uint64 { return c.leaderChanges.Load() }

// ID is this node's id.
func (c *Cluster) ID() string { return c.cfg.NodeID }

// IsLeader reports whether this node is the Raft leader now.
func (c *Cluster) IsLeader() bool { return c.raft.State() == raft.Leader }

// State is the Raft state name (Leader, Follower, Candidate, Shutdown).
func (c *Cluster) State() string { return c.raft.State().String() }

// AppliedIndex is the last log index applied to the FSM on this node.
// A trailing nudge (nudge.go) is not counted: it changes nothing.
func (c *Cluster) AppliedIndex() uint64 { return c.appliedIndex() }

// Term is the current Raft term.
func (c *Cluster) Term() uint64 { return c.raft.CurrentTerm() }

// Leader returns the leader's id and address as this node knows them.
func (c *Cluster) Leader() (id, addr string) {
	a, i := c.raft.LeaderWithID()
	return string(i), string(a)
}

// LastContact is when this node last heard from a leader.
func (c *Cluster) LastContact() time.Time { return c.raft.LastContact() }

// Stats passes raft's stats through.
func (c *Cluster) Stats() map[string]string { return c.raft.Stats() }

// Servers is the current Raft configuration.
func (c *Cluster) Servers() ([]raft.Server, error) {
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	servers := f.Configuration().Servers
	c.noteVoters(servers)
	return servers, nil
}

// ErrNotLeader is returned by leader-only calls on a follower.
var ErrNotLeader = raft.ErrNotLeader

// Apply commits cmd (leader only) and returns the FSM's response.
func (c *Cluster) Apply(cmd []byte, timeout time.Duration) (interface{}, error) {
	f := c.raft.Apply(cmd, timeout)
	if err := f.Error(); err != nil {
		return nil, err
	}
	c.nudge(f.Index())
	return f.Response(), nil
}

// Barrier waits until every entry committed before it is applied to the FSM;
// a new leader calls it before trusting its FSM view.
func (c *Cluster) Barrier(timeout time.Duration) error {
	f := c.raft.Barrier(timeout)
	if err := f.Error(); err != nil {
		return err
	}
	if i, ok := f.(raft.IndexFuture); ok {
		c.nudge(i.Index())
	}
	return nil
}

// VerifyLeader asks a quorum whether this node still leads; it fails when
// leadership is lost or nobody answers within timeout.
func (c *Cluster) VerifyLeader(timeout time.Duration) error {
	f := c.raft.VerifyLeader()
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("verify leader: no quorum answer within %s", timeout)
	}
}

// Prove shows that a quorum still follows this node and returns the proof's
// instant: a time such that every voter of some quorum last heard from this
// node as leader at or after it. That is what the VIP's safety needs
// (docs/safety.md, rules 1 and 3–4): such a voter cannot vote for anyone
// else before instant + its heartbeat timeout.
//
// raft.VerifyLeader alone does not give that instant: it counts heartbeat
// answers that were in flight when it began, answers a follower may have
// given before the call (seen up to 190 ms early with a slow follower). So
// VerifyLeader only refreshes the followers' contact here; the proof is a
// round of OpProve calls sent after it returns, in which each voter tells
// how long ago it last accepted an AppendEntries from this leader. The
// instant is counted back from when the round was sent, with durations
// only, so no clocks need to agree.
//
// VerifyLeader is skipped when it would add nothing: when enough voters
// accepted one of this leader's AppendEntries sent within the last
// proveFreshWithin (contact.go), the round goes to those voters alone and
// their answers' contact ages are already small. The proof is the same
// round with the same checks either way; only its freshness, which the
// caller checks, depends on the choice.
func (c *Cluster) Prove(timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	term := c.raft.CurrentTerm()
	voters, need, err := c.proofVoters()
	if err != nil {
		return time.Time{}, err
	}
	if need == 0 {
		return time.Now(), nil
	}
	// The short way (contact.go): when enough voters accepted one of this
	// leader's AppendEntries just now, their contact is already fresh, and
	// asking them alone gives a proof as fresh as a VerifyLeader would.
	// Anything short of a proof on that way falls back to the full one.
	if fresh := c.contacts.freshest(voters, term, time.Now().Add(-proveFreshWithin), need); fresh != nil {
		fast := time.Now().Add(proveFastWait)
		if deadline.Before(fast) {
			fast = deadline
		}
		if p, err := c.proveRound(term, fresh, need, fast); err == nil {
			c.proofsShort.Add(1)
			return p, nil
		}
	}
	if err := c.VerifyLeader(time.Until(deadline)); err != nil {
		return time.Time{}, err
	}
	return c.proveRound(term, voters, need, deadline)
}

// proveFreshWithin is how recently a voter must have accepted an
// AppendEntries (sent then) for Prove to ask it without a VerifyLeader
// first; its answer's contact age is then about this much at most, far
// inside the renewal slack (agent.Options.RenewSlack, 100 ms).
const proveFreshWithin = 25 * time.Millisecond

// proveFastWait bounds the short way: a fresh voter that does not answer
// within it costs no more than this before the full proof.
const proveFastWait = 50 * time.Millisecond

// proofVoters returns the voters other than this node, and how many of
// them a proof needs (a majority of all voters, this node included).
func (c *Cluster) proofVoters() ([]raft.Server, int, error) {
	servers, err := c.Servers()
	if err != nil {
		return nil, 0, err
	}
	var voters []raft.Server
	selfVoter := false
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		if string(s.ID) == c.cfg.NodeID {
			selfVoter = true
			continue
		}
		voters = append(voters, s)
	}
	if !selfVoter {
		return nil, 0, errors.New("prove: this node is not a voter")
	}
	quorum := (len(voters)+1)/2 + 1 // of all voters, this node included
	return voters, quorum - 1, nil
}

// proveRound sends OpProve to voters and returns the proof instant of the
// need freshest valid answers (see Prove), or an error when fewer than
// need answer validly before deadline.
func (c *Cluster) proveRound(term uint64, voters []raft.Server, need int, deadline time.Time) (time.Time, error) {
	sent := time.Now()
	// The calls the proof no longer needs are left to finish (within the
	// deadline) instead of being cut off: cutting one closes its pooled
	// connection, and the slower voter would then cost a new TLS handshake
	// on every proof.
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	type answer struct {
		at  time.Time
		err error
	}
	answers := make(chan answer, len(voters))
	for _, v := range voters {
		go func(v raft.Server) {
			resp, err := c.caller.Call(ctx, string(v.Address), Request{Op: OpProve, From: c.cfg.NodeID})
			switch {
			case err != nil:
			case resp.Err != "":
				err = errors.New(resp.Err)
			case resp.Proof == nil:
				err = errors.New("no proof in answer")
			case resp.Proof.Leader != c.cfg.NodeID || resp.Proof.Term != term:
				err = fmt.Errorf("follows %q in term %d", resp.Proof.Leader, resp.Proof.Term)
			case resp.Proof.SinceContact < 0:
				err = errors.New("negative contact age")
			}
			if err != nil {
				answers <- answer{err: fmt.Errorf("%s: %w", v.ID, err)}
				return
			}
			answers <- answer{at: sent.Add(-resp.Proof.SinceContact)}
		}(v)
	}
	var ok []time.Time
	var errs []error
	got := 0
	defer func() {
		go func(left int) {
			for ; left > 0; left-- {
				<-answers
			}
			cancel()
		}(len(voters) - got)
	}()
	for range voters {
		a := <-answers
		got++
		if a.err != nil {
			errs = append(errs, a.err)
		} else {
			ok = append(ok, a.at)
		}
		if len(ok) >= need {
			break
		}
		if len(errs) > len(voters)-need {
			break
		}
	}
	if len(ok) < need {
		return time.Time{}, fmt.Errorf("prove: %d of %d voters confirmed (need %d): %w", len(ok), len(voters), need, errors.Join(errs...))
	}
	if c.raft.CurrentTerm() != term || !c.IsLeader() {
		return time.Time{}, errors.New("prove: leadership changed during the proof")
	}
	// The quorum is the `need` freshest answers; the proof holds from the
	// stalest of them.
	sort.Slice(ok, func(i, j int) bool { return ok[i].After(ok[j]) })
	return ok[need-1], nil
}

// ContactAfter returns a channel closed when a follower accepts an
// AppendEntries this node (as leader) sent at or after t: a moment when
// Prove can take its short way. A holder times its renewal by it
// (agent.renew). CancelContact forgets a channel nobody waits on.
func (c *Cluster) ContactAfter(t time.Time) <-chan struct{} { return c.contacts.after(t) }

// CancelContact forgets a channel from ContactAfter.
func (c *Cluster) CancelContact(ch <-chan struct{}) { c.contacts.drop(ch) }

// ShortProofs counts the proofs that took the short way (no VerifyLeader).
func (c *Cluster) ShortProofs() uint64 { return c.proofsShort.Load() }

// AnswerProof answers an OpProve call from a leader (see Prove).
func (c *Cluster) AnswerProof() Response {
	// Under the vouch book's lock: an OpVouch answer (vouch.go) must see
	// every proof answered before it, and none answered for an older term
	// after it.
	c.vouches.mu.Lock()
	defer c.vouches.mu.Unlock()
	term := c.raft.CurrentTerm()
	_, leader := c.raft.LeaderWithID()
	last := c.raft.LastContact()
	// Read the leader again: if it changed in between, the contact time may
	// belong to another leader.
	_, leader2 := c.raft.LeaderWithID()
	if leader != leader2 || term != c.raft.CurrentTerm() || last.IsZero() || c.IsLeader() {
		return Response{Proof: &ProofAnswer{}}
	}
	c.vouches.recordLocked(string(leader), last)
	return Response{Proof: &ProofAnswer{Leader: string(leader), Term: term, SinceContact: time.Since(last)}}
}

// ElectionStarted is when this node last turned candidate: its heartbeat
// timer fired without contact from a leader (zero if never). A failover's
// "election started" phase (fsm.PhaseElection).
func (c *Cluster) ElectionStarted() time.Time {
	if ns := c.electionStarted.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// TransferTo hands leadership to node id (leader only).
func (c *Cluster) TransferTo(id string) error {
	servers, err := c.Servers()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if string(s.ID) == id {
			return c.raft.LeadershipTransferToServer(s.ID, s.Address).Error()
		}
	}
	return fmt.Errorf("transfer to %s: %w", id, ErrNotInConfiguration)
}

// ErrNotInConfiguration: the node named is not in the Raft configuration.
var ErrNotInConfiguration = errors.New("not in the raft configuration")

// AddServer adds a voter (or non-voter) to the Raft configuration (leader only).
func (c *Cluster) AddServer(id, addr string, nonVoter bool, timeout time.Duration) error {
	c.forgetUnreachable(id) // a new replication stream starts; judge it afresh
	var f raft.IndexFuture
	if nonVoter {
		f = c.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout)
	} else {
		f = c.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout)
	}
	if err := f.Error(); err != nil {
		return err
	}
	c.nudge(f.Index())
	return nil
}

// RemoveServer removes a server from the Raft configuration (leader only).
func (c *Cluster) RemoveServer(id string, timeout time.Duration) error {
	defer c.forgetUnreachable(id)
	f := c.raft.RemoveServer(raft.ServerID(id), 0, timeout)
	if err := f.Error(); err != nil {
		return err
	}
	c.nudge(f.Index())
	return nil
}

// Forward sends an encoded command to the leader (or applies it here if this
// node leads) and returns the FSM's epoch and error string.
func (c *Cluster) Forward(ctx context.Context, cmd []byte) (Response, error) {
	if c.IsLeader() {
		return Response{}, errors.New("forward: this node is the leader; apply locally")
	}
	_, addr := c.Leader()
	if addr == "" {
		return Response{}, errors.New("forward: no known leader")
	}
	return c.caller.Call(ctx, addr, Request{Op: OpApply, From: c.cfg.NodeID, Command: cmd})
}

// Call sends a request to a peer by Raft address.
func (c *Cluster) Call(ctx context.Context, addr string, req Request) (Response, error) {
	req.From = c.cfg.NodeID
	return c.caller.Call(ctx, addr, req)
}

// Close shuts Raft down and closes transport and stores. Idempotent.
func (c *Cluster) Close() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.raft.DeregisterObserver(c.observer)
	err := c.raft.Shutdown().Error()
	close(c.stop)
	c.wg.Wait()
	if tc, ok := c.caller.(TCPCaller); ok && tc.Pool != nil {
		tc.Pool.Close()
	}
	// The transport first: once it is shut down, the listener closing
	// under it is no "failed to accept connection" error.
	if nt, ok := c.trans.(*raft.NetworkTransport); ok {
		nt.Close()
	}
	if c.mux != nil {
		c.mux.Close()
	}
	if c.bolt != nil {
		if cerr := c.bolt.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
