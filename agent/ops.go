package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/owner"
)

// Operator commands. Any node accepts them; those that change cluster state
// run on the leader, forwarded over the cluster RPC, so an operator never
// has to find the leader.

// RPC operations for operator commands.
const (
	OpSwitchover  = "switchover"
	OpMaintenance = "maintenance"
	OpPeerAdd     = "peer-add"
	OpPeerRemove  = "peer-remove"
)

// ErrRefused marks a request the cluster refuses (bad target, no quorum...):
// the CLI exits 1 with the message.
var ErrRefused = errors.New("refused")

// SwitchoverRequest asks for a planned move of the VIP.
type SwitchoverRequest struct {
	To      string        `json:"to,omitempty"` // "" = any healthy db node other than the holder
	Timeout time.Duration `json:"timeout_ns"`
	// Force promotes To although it is stale (behind the holder or its
	// replication broken): recorded as "data at risk". Needs To.
	Force bool `json:"force,omitempty"`
}

// SwitchoverResult reports a finished switchover.
type SwitchoverResult struct {
	From     string        `json:"from"`
	To       string        `json:"to"`
	Epoch    uint64        `json:"epoch"`
	Handover time.Duration `json:"handover_ns"` // VIP free: old release → new acquire
	Took     time.Duration `json:"took_ns"`     // whole command
	Note     string        `json:"note,omitempty"`
	// Warnings are problems seen on the way that did not stop the move
	// (e.g. the new leader cannot reach a peer at the address it has).
	Warnings []string `json:"warnings,omitempty"`
	// Preempt says when preemption takes the VIP back to the preferred
	// node (preempt on and the target is not the preferred node).
	Preempt string `json:"preempt,omitempty"`
}

// MaintenanceRequest turns maintenance mode on or off.
type MaintenanceRequest struct {
	On     bool   `json:"on"`
	Reason string `json:"reason,omitempty"`
	// For, when set, ends maintenance by itself that long after it is
	// committed.
	For time.Duration `json:"for_ns,omitempty"`
}

// PeerRequest adds or removes a member.
type PeerRequest struct {
	ID       string `json:"id"`
	Address  string `json:"address,omitempty"`
	Role     string `json:"role,omitempty"`
	NonVoter bool   `json:"nonvoter,omitempty"`
	Force    bool   `json:"force,omitempty"`
}

// PeerResult says what a peer change did.
type PeerResult struct {
	Changed bool   `json:"changed"`
	Note    string `json:"note"`
	// Undo is the command that reverses a removal (raftvip peers add ...).
	Undo string `json:"undo,omitempty"`
}

// refusal is a refusal's text as the leader worded it; it matches ErrRefused.
type refusal string

func (r refusal) Error() string        { return string(r) }
func (r refusal) Is(target error) bool { return target == ErrRefused }

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// forwardPoll is how often a forwarded command checks whether this node
// has learned of another leader meanwhile.
const forwardPoll = 50 * time.Millisecond

// forwardDefault bounds a forwarded command whose context has no deadline.
const forwardDefault = 30 * time.Second

// forward runs op on the leader: locally when this node leads, else over
// RPC. The leader can change while the command is under way, so it follows
// the leader within ctx's deadline: an answer "not the leader" or a failed
// call is retried with the leader this node knows next, and a call in
// flight to a leader this node no longer believes in is given up once that
// node does not answer a short status probe (frozen or cut off; a working
// old leader, e.g. one running a switchover that moves leadership on
// purpose, answers and is waited for). Every operator command is
// idempotent, so a retry after a lost answer does no harm. There is no
// fixed timeout per attempt: a switchover may rightly take its whole
// timeout on the leader.
func (a *Agent) forward(ctx context.Context, op string, args any, local func(context.Context) (any, error), out any) error {
	b, err := json.Marshal(args)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, forwardDefault)
		defer cancel()
	}
	var lastErr error
	for {
		if a.raft.IsLeader() {
			res, err := local(ctx)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(res)
			return json.Unmarshal(b, out)
		}
		lid, addr := a.raft.Leader()
		if addr == "" {
			if lastErr == nil {
				lastErr = errors.New("no raft leader known to " + a.opt.NodeID + "; try again in a moment")
			}
			if !a.awaitLeaderChange(ctx, "", forwardDefault) {
				return lastErr
			}
			continue
		}
		resp, err := a.callLeader(ctx, addr, cluster.Request{Op: op, Args: b, UID: localUID(ctx)})
		switch {
		case err == nil && (resp.NotLeader || strings.HasPrefix(resp.Err, "not the leader")):
			lastErr = fmt.Errorf("forward to leader %s: %s", lid, resp.Err)
		case err == nil && resp.Err != "":
			if resp.Refused {
				return refusal(resp.Err)
			}
			return errors.New(resp.Err)
		case err == nil:
			a.catchUp(ctx, resp.Index)
			return json.Unmarshal(resp.Result, out)
		default:
			lastErr = fmt.Errorf("forward to leader %s: %w", lid, err)
		}
		if ctx.Err() != nil || !a.awaitLeaderChange(ctx, addr, forwardRetry) {
			return lastErr
		}
		a.log.Info("retrying forwarded command with the new leader", "op", op, "previous", lid, "error", lastErr)
	}
}

// forwardRetry is the longest a forwarded command waits to learn of another
// leader before it asks the same one again (it may answer again: restarted,
// or leader once more).
const forwardRetry = time.Second

// awaitLeaderChange waits until this node leads or knows a leader other
// than addr, or max has passed; false when ctx ends first. After a "not the
// leader" answer this node may still know the same leader for a moment: it
// looks again every forwardPoll.
func (a *Agent) awaitLeaderChange(ctx context.Context, addr string, max time.Duration) bool {
	until := time.Now().Add(max)
	for {
		if addr != "" && !time.Now().Before(until) {
			return true
		}
		if a.raft.IsLeader() {
			return true
		}
		if _, cur := a.raft.Leader(); cur != "" && cur != addr {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(forwardPoll):
		}
	}
}

// callLeader calls the leader at addr, giving up when this node has learned
// of another leader and addr does not answer a status probe.
func (a *Agent) callLeader(ctx context.Context, addr string, req cluster.Request) (cluster.Response, error) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	abandoned := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		t := time.NewTicker(forwardPoll)
		defer t.Stop()
		var probed time.Time
		for {
			select {
			case <-actx.Done():
				return
			case <-t.C:
			}
			_, cur := a.raft.Leader()
			moved := a.raft.IsLeader() || (cur != "" && cur != addr)
			if !moved || time.Since(probed) < time.Second {
				continue
			}
			probed = time.Now()
			pctx, pcancel := context.WithTimeout(actx, probeTimeout)
			_, err := a.raft.Call(pctx, addr, cluster.Request{Op: cluster.OpStatus})
			pcancel()
			if err != nil && actx.Err() == nil {
				close(abandoned)
				cancel()
				return
			}
		}
	}()
	resp, err := a.raft.Call(actx, addr, req)
	cancel()
	<-watchDone
	select {
	case <-abandoned:
		if err == nil && resp.Err == "" {
			return resp, nil // the answer came after all
		}
		return cluster.Response{}, fmt.Errorf("%s stopped answering and another leader is known", addr)
	default:
	}
	return resp, err
}

// catchUp waits (briefly) until this follower has applied the leader's
// index, so the operator's next `status` here already shows the change.
func (a *Agent) catchUp(ctx context.Context, index uint64) {
	deadline := time.Now().Add(time.Second)
	for a.raft.AppliedIndex() < index && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// handleOp serves a forwarded operator request on the leader.
func (a *Agent) handleOp(ctx context.Context, req cluster.Request) cluster.Response {
	if !a.raft.IsLeader() {
		return cluster.Response{Err: "not the leader (leadership moved; retry)", NotLeader: true}
	}
	var res any
	var err error
	who := asker{via: req.From, uid: req.UID}
	switch req.Op {
	case OpSwitchover:
		var r SwitchoverRequest
		if err = json.Unmarshal(req.Args, &r); err == nil {
			res, err = a.switchoverLocal(ctx, r, who)
		}
	case OpMaintenance:
		var r MaintenanceRequest
		if err = json.Unmarshal(req.Args, &r); err == nil {
			res, err = a.maintenanceLocal(r, who)
		}
	case OpPeerAdd:
		var r PeerRequest
		if err = json.Unmarshal(req.Args, &r); err == nil {
			res, err = a.peerAddLocal(r, who)
		}
	case OpPeerRemove:
		var r PeerRequest
		if err = json.Unmarshal(req.Args, &r); err == nil {
			res, err = a.peerRemoveLocal(r, who)
		}
	default:
		return cluster.Response{Err: fmt.Sprintf("unknown op %q", req.Op)}
	}
	if err != nil {
		return cluster.Response{Err: err.Error(), Refused: errors.Is(err, ErrRefused)}
	}
	b, _ := json.Marshal(res)
	return cluster.Response{Result: b, Index: a.raft.AppliedIndex()}
}

// Switchover moves the VIP on purpose: the holder removes it and records the
// release, leadership moves to the target, the target adds it.
func (a *Agent) Switchover(ctx context.Context, r SwitchoverRequest) (SwitchoverResult, error) {
	var out SwitchoverResult
	err := a.forward(ctx, OpSwitchover, r, func(ctx context.Context) (any, error) { return a.switchoverLocal(ctx, r, a.localAsker(ctx)) }, &out)
	if err == nil {
		// The answering node may report the move from the target's word
		// before its own log (and so its applied index) has the new epoch;
		// wait briefly for this node to apply it, so its next status shows it.
		deadline := time.Now().Add(time.Second)
		for a.fsm.Current().Epoch < out.Epoch && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return out, err
}

// seenGrace is how long a switchover that the target reports done waits for
// this node to apply the move too (normally a few milliseconds) before it
// answers from the target's word.
const seenGrace = time.Second

// switchoverDetail is the history's words for a switchover request.
func switchoverDetail(from, to string, r SwitchoverRequest, st fsm.State, in owner.Input) string {
	d := fmt.Sprintf("switchover from %q to %s, timeout %s", from, to, r.Timeout)
	if r.Force {
		why := owner.Stale(st, to, in.MaxLag, in.Now)
		if why == "" {
			why = "not stale when asked"
		}
		d += ", forced: DATA AT RISK (" + why + ")"
	}
	return d
}

func (a *Agent) switchoverLocal(ctx context.Context, r SwitchoverRequest, who asker) (SwitchoverResult, error) {
	start := a.now()
	asked := r.To
	if asked == "" {
		asked = "any healthy db node"
	}
	a.noteAsked(who, OpSwitchover, fmt.Sprintf("to %s, timeout %s", asked, r.Timeout))
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
	// The admin socket checks this too; a request over the cluster RPC
	// is capped here.
	if msg := CheckSwitchoverTimeout(r.Timeout); msg != "" {
		return SwitchoverResult{}, refused("%s", msg)
	}
	// The rule's input belongs to the loop: have it taken there.
	var in owner.Input
	if err := a.call(ctx, func() { in = a.input() }); err != nil {
		return SwitchoverResult{}, fmt.Errorf("switchover: %w", err)
	}
	st := in.State
	from := st.Holder
	to := r.To
	if r.Force && to == "" {
		return SwitchoverResult{}, refused("-force needs -to NODE: it promotes that node although its data may be behind")
	}
	if to == "" {
		// Any eligible db node other than the holder.
		in.Self = from
		to = owner.TransferTarget(in)
		if to == "" {
			return SwitchoverResult{}, refused("no healthy, reachable db node other than %q to switch over to", from)
		}
	}
	m, ok := st.Members[to]
	switch {
	case !ok:
		return SwitchoverResult{}, refused("%q is not a member of the cluster", to)
	case m.Role != fsm.RoleDB:
		return SwitchoverResult{}, refused("%q is a %s; only db nodes hold the VIP", to, m.Role)
	case !st.Healthy(to):
		return SwitchoverResult{}, refused("%q is not healthy (mysql: %s)", to, st.Health[to].Class)
	case in.Unreachable[to]:
		return SwitchoverResult{}, refused("%q does not answer the leader's heartbeats", to)
	case st.Fence != nil:
		return SwitchoverResult{}, refused("a fence is pending for %s; wait for it to expire", st.Fence.Holder)
	case from != to && !r.Force && !in.PromoteStale && owner.Stale(st, to, in.MaxLag, in.Now) != "":
		return SwitchoverResult{}, refused("%q is stale: %s (switchover -to %s -force promotes it anyway: data at risk)", to, owner.Stale(st, to, in.MaxLag, in.Now), to)
	case from == to:
		return SwitchoverResult{From: from, To: to, Epoch: st.Epoch, Note: to + " already holds the VIP"}, nil
	}
	deadline := start.Add(r.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	// Release only once the target has caught up with the log: a transfer
	// to a lagging node (e.g. just back from a partition, while Raft still
	// backs off its replication) times out, and the VIP would stay free
	// until a retry succeeds.
	if err := a.waitCaughtUp(ctx, to, deadline); err != nil {
		return SwitchoverResult{}, err
	}
	// Recorded in the FSM, not kept here: whichever node leads next (the
	// target, the witness, this one again) moves the VIP to the target and
	// holds preemption off until the window ends, so a preferred node does
	// not take the VIP straight back in a loop of transfers.
	window := deadline.Sub(a.now())
	if window <= 0 {
		return SwitchoverResult{}, fmt.Errorf("switchover to %s: no time left within %s", to, r.Timeout)
	}
	if _, err := a.apply(fsm.Command{Type: fsm.CmdSwitchover, Switchover: &fsm.Switchover{
		To: to, From: from, By: a.opt.NodeID, Time: a.now(), For: window, Force: r.Force},
		Operator: a.operator(who, OpSwitchover, to, switchoverDetail(from, to, r, st, in))}); err != nil {
		return SwitchoverResult{}, fmt.Errorf("switchover: record it: %w", err)
	}
	a.log.Info("switchover requested", append([]any{"from", from, "to", to, "timeout", r.Timeout}, who.logKV()...)...)
	a.Wake()
	var preemptNote string
	if in.Preempt && in.Preferred != "" && in.Preferred != to {
		preemptNote = fmt.Sprintf("preempt is on: %s takes the VIP back when the switchover's window ends, %s after it was asked (-timeout)", in.Preferred, deadline.Sub(start).Round(time.Millisecond))
	}
	startEpoch := st.Epoch
	var lastAsked, seen time.Time
	for {
		st = a.fsm.State()
		if st.Holder == to && st.Epoch > startEpoch {
			res := SwitchoverResult{From: from, To: to, Epoch: st.Epoch, Took: a.now().Sub(start), Preempt: preemptNote}
			// The epoch's acquire, not the last event: the VIP's add and
			// the catch-up's end are recorded right after it.
			for i := len(st.History) - 1; i >= 0; i-- {
				if e := st.History[i]; e.Op == fsm.OpAcquire && e.Epoch == st.Epoch {
					res.Handover = e.Handover
					break
				}
			}
			a.log.Info("switchover done", "from", from, "to", to, "epoch", st.Epoch, "handover", res.Handover, "took", res.Took)
			return res, nil
		}
		if !a.raft.IsLeader() && a.now().Sub(lastAsked) >= 100*time.Millisecond {
			// Leadership moved: this node learns of the acquire only if
			// the new leader replicates to it, which it may not (e.g. it
			// has this node at a wrong address). Ask the target itself,
			// and answer from its word once this node had a fair chance
			// (seenGrace) to apply the move itself.
			lastAsked = a.now()
			if ns, _ := a.probeStatus(to); ns.Holding && ns.Epoch > startEpoch {
				if seen.IsZero() {
					seen = a.now()
				}
				if a.now().Sub(seen) >= seenGrace || a.now().After(deadline) {
					res := SwitchoverResult{From: from, To: to, Epoch: ns.Epoch, Took: a.now().Sub(start), Preempt: preemptNote}
					if mine := a.fsm.Current().Epoch; mine < ns.Epoch {
						res.Warnings = append(res.Warnings, fmt.Sprintf("%s has not received the move from the new leader %s (%s holds epoch %d, %s has applied %d)",
							a.opt.NodeID, to, to, ns.Epoch, a.opt.NodeID, mine))
					}
					res.Warnings = append(res.Warnings, raftDisagreements(map[string]map[string]string{a.opt.NodeID: a.raftAddresses(), to: ns.RaftServers})...)
					res.Warnings = append(res.Warnings, ns.ConfigWarnings...)
					a.log.Warn("switchover done, seen on the target only", "from", from, "to", to, "epoch", ns.Epoch, "took", res.Took, "warnings", res.Warnings)
					return res, nil
				}
			}
		}
		if a.now().After(deadline) {
			return SwitchoverResult{}, fmt.Errorf("switchover to %s not finished within %s (holder now %q, epoch %d)", to, r.Timeout, st.Holder, st.Epoch)
		}
		select {
		case <-ctx.Done():
			return SwitchoverResult{}, ctx.Err()
		case <-a.fsm.Changed():
			a.Wake() // the loop also listens on Changed; do not starve it
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitCaughtUp writes a barrier entry and waits until the target has
// applied it: proof that Raft's replication to the target is flowing now
// (not backing off after a partition), so the transfer will not time out.
func (a *Agent) waitCaughtUp(ctx context.Context, to string, deadline time.Time) error {
	if err := a.raft.Barrier(2 * time.Second); err != nil {
		return fmt.Errorf("switchover: %w", err)
	}
	mine := a.raft.AppliedIndex()
	for {
		ns, err := a.probeStatus(to)
		if err == nil && ns.AppliedIndex >= mine {
			return nil
		}
		if a.now().After(deadline) {
			if err != nil {
				return refused("%s did not answer in time: %v", to, err)
			}
			return refused("%s has not caught up with the raft log (applied %d, leader %d) within the timeout", to, ns.AppliedIndex, mine)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SetMaintenance turns maintenance mode on or off (committed on the leader,
// so it survives leader changes).
func (a *Agent) SetMaintenance(ctx context.Context, r MaintenanceRequest) (fsm.Maintenance, error) {
	var out fsm.Maintenance
	err := a.forward(ctx, OpMaintenance, r, func(ctx context.Context) (any, error) { return a.maintenanceLocal(r, a.localAsker(ctx)) }, &out)
	return out, err
}

func (a *Agent) maintenanceLocal(r MaintenanceRequest, who asker) (fsm.Maintenance, error) {
	from := who.via
	detail := "off"
	if r.On {
		detail = "on: " + r.Reason
		if r.For > 0 {
			detail += fmt.Sprintf(" (for %s)", r.For)
		}
	}
	a.noteAsked(who, OpMaintenance, detail)
	if r.For < 0 || (r.For > 0 && !r.On) {
		return fsm.Maintenance{}, refused("maintenance: a duration (%s) only goes with on, and must be positive", r.For)
	}
	m := fsm.Maintenance{On: r.On, Reason: r.Reason, By: from, Since: a.now()}
	if r.For > 0 {
		m.Until = m.Since.Add(r.For)
	}
	// Idempotent, except that an "on" with a duration always sets a new
	// end, and one without clears an old end.
	if cur := a.fsm.State().Maintenance; cur.On == r.On && (!r.On || (cur.Reason == r.Reason && r.For == 0 && cur.Until.IsZero())) {
		return cur, nil
	}
	if _, err := a.apply(fsm.Command{Type: fsm.CmdMaintenance, Maintenance: &m,
		Operator: a.operator(who, OpMaintenance, "", "maintenance "+detail)}); err != nil {
		return fsm.Maintenance{}, err
	}
	if r.On && !m.Until.IsZero() {
		a.log.Warn("maintenance mode ON: no automatic VIP moves", "reason", r.Reason, "requested_via", from, "for", r.For, "until", m.Until.Format(time.RFC3339))
	} else if r.On {
		a.log.Warn("maintenance mode ON: no automatic VIP moves", "reason", r.Reason, "requested_via", from)
	} else {
		a.log.Info("maintenance mode off", "requested_via", from)
	}
	a.Wake()
	return m, nil
}

// AddPeer adds a member (idempotent).
func (a *Agent) AddPeer(ctx context.Context, r PeerRequest) (PeerResult, error) {
	var out PeerResult
	err := a.forward(ctx, OpPeerAdd, r, func(ctx context.Context) (any, error) { return a.peerAddLocal(r, a.localAsker(ctx)) }, &out)
	return out, err
}

// RemovePeer removes a member (idempotent).
func (a *Agent) RemovePeer(ctx context.Context, r PeerRequest) (PeerResult, error) {
	var out PeerResult
	err := a.forward(ctx, OpPeerRemove, r, func(ctx context.Context) (any, error) { return a.peerRemoveLocal(r, a.localAsker(ctx)) }, &out)
	return out, err
}

func (a *Agent) peerAddLocal(r PeerRequest, who asker) (PeerResult, error) {
	a.noteAsked(who, OpPeerAdd, fmt.Sprintf("add %s at %s, role %s, nonvoter %t", r.ID, r.Address, r.Role, r.NonVoter))
	if r.ID == "" || r.Address == "" {
		return PeerResult{}, refused("peer add needs an id and an address")
	}
	if r.Role != fsm.RoleDB && r.Role != fsm.RoleWitness {
		return PeerResult{}, refused("role %q: want db or witness", r.Role)
	}
	servers, err := a.raft.Servers()
	if err != nil {
		return PeerResult{}, err
	}
	st := a.fsm.State()
	wantSuffrage := raft.Voter
	if r.NonVoter {
		wantSuffrage = raft.Nonvoter
	}
	for _, s := range servers {
		if string(s.ID) == r.ID {
			m, ok := st.Members[r.ID]
			if string(s.Address) == r.Address && s.Suffrage == wantSuffrage && ok && m.Role == r.Role {
				return PeerResult{Changed: false, Note: r.ID + " is already a member with that address and role"}, nil
			}
			if string(s.Address) != r.Address {
				return PeerResult{}, refused("%s is a member at %s; remove it first to change its address", r.ID, s.Address)
			}
		} else if string(s.Address) == r.Address {
			return PeerResult{}, refused("address %s belongs to member %s", r.Address, s.ID)
		}
	}
	if err := a.raft.AddServer(r.ID, r.Address, r.NonVoter, 10*time.Second); err != nil {
		return PeerResult{}, fmt.Errorf("add %s to the raft configuration: %w", r.ID, err)
	}
	kind := "voter"
	if r.NonVoter {
		kind = "non-voter"
	}
	if _, err := a.apply(fsm.Command{Type: fsm.CmdMembers, Members: &fsm.MembersCmd{Set: []fsm.Member{{ID: r.ID, Address: r.Address, Role: r.Role}}},
		Operator: a.operator(who, OpPeerAdd, r.ID, fmt.Sprintf("peers add %s %s -role %s (%s)", r.ID, r.Address, r.Role, kind))}); err != nil {
		return PeerResult{}, fmt.Errorf("record member %s: %w", r.ID, err)
	}
	a.log.Info("peer added", append([]any{"id", r.ID, "address", r.Address, "role", r.Role, "suffrage", kind}, who.logKV()...)...)
	return PeerResult{Changed: true, Note: fmt.Sprintf("added %s (%s, %s) at %s", r.ID, r.Role, kind, r.Address)}, nil
}

func (a *Agent) peerRemoveLocal(r PeerRequest, who asker) (PeerResult, error) {
	a.noteAsked(who, OpPeerRemove, fmt.Sprintf("remove %s, force %t", r.ID, r.Force))
	removed := func(detail string) *fsm.Operator {
		return a.operator(who, OpPeerRemove, r.ID, fmt.Sprintf("peers remove %s: %s", r.ID, detail))
	}
	if r.ID == "" {
		return PeerResult{}, refused("peer remove needs an id")
	}
	servers, err := a.raft.Servers()
	if err != nil {
		return PeerResult{}, err
	}
	st := a.fsm.State()
	var found *raft.Server
	voters := 0
	for i, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
		if string(s.ID) == r.ID {
			found = &servers[i]
		}
	}
	if found == nil {
		if _, ok := st.Members[r.ID]; ok {
			if _, err := a.apply(fsm.Command{Type: fsm.CmdMembers, Members: &fsm.MembersCmd{Remove: []string{r.ID}},
				Operator: removed("not in the raft configuration; removed from the member list")}); err != nil {
				return PeerResult{}, err
			}
			return PeerResult{Changed: true, Note: r.ID + " was not in the raft configuration; removed from the member list"}, nil
		}
		return PeerResult{Changed: false, Note: r.ID + " is not a member"}, nil
	}
	// Every reason to refuse is collected: without -force the first one
	// refuses, with -force the result says which ones were overridden.
	var objections []string
	if st.Holder == r.ID {
		objections = append(objections, fmt.Sprintf("%s holds the VIP; run a switchover first", r.ID))
	}
	if r.ID == a.opt.NodeID {
		objections = append(objections, fmt.Sprintf("%s is the raft leader; move leadership first with a switchover", r.ID))
	}
	remaining := voters
	if found.Suffrage == raft.Voter {
		var ids []string
		for _, s := range servers {
			if s.Suffrage == raft.Voter {
				ids = append(ids, string(s.ID))
			}
		}
		q := owner.QuorumAfterRemove(ids, a.raft.Unreachable(), r.ID)
		remaining = q.Remaining
		switch {
		case q.NoQuorum():
			objections = append(objections, fmt.Sprintf("removing %s leaves %d voters of which %d answer: no quorum (need %d)", r.ID, q.Remaining, q.Up, q.Need))
		case q.Fragile():
			// Two voters need both: one more failure stops the cluster
			// and nobody may hold the VIP.
			objections = append(objections, fmt.Sprintf("removing %s leaves %d voters: one more failure stops the cluster; add a voter first (raftvip peers add)", r.ID, remaining))
		}
	}
	if !r.Force && len(objections) > 0 {
		return PeerResult{}, refused("%s; use -force to remove anyway", objections[0])
	}
	role := st.Members[r.ID].Role
	for _, p := range a.opt.Peers {
		if role == "" && p.ID == r.ID {
			role = p.Role
		}
	}
	if role == "" {
		role = "db|witness"
	}
	kind := "voter"
	undo := fmt.Sprintf("raftvip peers add %s %s -role %s", r.ID, found.Address, role)
	if found.Suffrage != raft.Voter {
		kind = "non-voter"
		undo += " -nonvoter"
	}
	detail := fmt.Sprintf("%s %s at %s", role, kind, found.Address)
	if len(objections) > 0 {
		detail += "; forced past: " + strings.Join(objections, "; ")
	}
	forget := func() error {
		if _, err := a.apply(fsm.Command{Type: fsm.CmdMembers, Members: &fsm.MembersCmd{Remove: []string{r.ID}},
			Operator: removed(detail)}); err != nil {
			return fmt.Errorf("forget member %s: %w", r.ID, err)
		}
		return nil
	}
	self := r.ID == a.opt.NodeID
	if self {
		// A leader that removes itself steps down and its Raft shuts down
		// (ShutdownOnRemove): forget the member while it still can. If the
		// Raft removal then fails, the next leader writes the member back
		// from the configuration it is still in (reconcileMembers).
		if err := forget(); err != nil {
			return PeerResult{}, err
		}
	}
	if err := a.raft.RemoveServer(r.ID, 10*time.Second); err != nil {
		return PeerResult{}, fmt.Errorf("remove %s from the raft configuration: %w", r.ID, err)
	}
	if !self {
		// Should this fail (leadership lost), the next leader forgets the
		// member: it is in no Raft configuration any more.
		if err := forget(); err != nil && !errors.Is(err, raft.ErrNotLeader) {
			return PeerResult{}, err
		}
	}
	note := fmt.Sprintf("removed %s (%s %s at %s); %d voters remain", r.ID, role, kind, found.Address, remaining)
	if remaining < 3 {
		note += ": one more failure stops the cluster"
	}
	if len(objections) > 0 {
		note += "; forced past: " + strings.Join(objections, "; ")
	}
	if self {
		note += "; this node's raft has shut down: stop its agent (to undo, run the command below on another node, then restart this agent)"
	}
	a.log.Info("peer removed", append([]any{"id", r.ID, "address", found.Address, "forced", r.Force, "voters_left", remaining, "undo", undo}, who.logKV()...)...)
	if len(objections) > 0 {
		a.log.Warn("peer removed with -force past objections", "id", r.ID, "objections", strings.Join(objections, "; "))
	}
	return PeerResult{Changed: true, Note: note, Undo: undo}, nil
}

// expireMaintenance commits maintenance off on the leader once its end has
// passed. The end is replicated as the proposer's wall time and turned off
// by a committed record, not by a local apply-time deadline as fences are:
// a local deadline restarts whenever a node replays the log or restores a
// snapshot, so a restarted node that becomes leader would keep automatic
// failover off for up to another full duration; for a fence a later end is
// the safe side, for maintenance it is the unsafe one. The committed "off"
// also makes every node's status agree and names who ended it. Maintenance
// is no safety mechanism, so comparing one host's clock with another's
// (seconds of skew against hours of maintenance) is good enough; and the
// leader's rule stops honouring it at its end already (MaintenanceActive),
// before the "off" commits.
func (a *Agent) expireMaintenance() {
	ready := a.leaderReady
	_, _, m := a.fsm.Pending()
	now := a.now()
	if !ready || !a.raft.IsLeader() || !m.On || m.Until.IsZero() || owner.MaintenanceActive(m, now) {
		return
	}
	off := fsm.Maintenance{On: false, Reason: fmt.Sprintf("expired (was: %s, until %s)", m.Reason, m.Until.Format(time.RFC3339)), By: a.opt.NodeID, Since: now}
	if _, err := a.apply(fsm.Command{Type: fsm.CmdMaintenance, Maintenance: &off}); err != nil {
		a.log.Warn("could not turn expired maintenance off; retrying", "error", err)
		return
	}
	a.log.Info("maintenance mode expired: automatic VIP moves enabled again", "reason", m.Reason, "until", m.Until.Format(time.RFC3339))
}
