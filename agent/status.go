package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/arpwatch"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
	"github.com/raftvip/raftvip/owner"
	"github.com/raftvip/raftvip/vrrpcompat"
)

// NodeStatus is what one node says about itself (answered over RPC for
// status fan-out). It carries no secrets: health errors are password-free.
type NodeStatus struct {
	ID          string    `json:"id"`
	Role        string    `json:"role"`
	RaftState   string    `json:"raft_state"`
	Term        uint64    `json:"term"`
	Leader      string    `json:"leader"`
	LastContact time.Time `json:"last_contact,omitempty"` // last time it heard from a leader (now, for the leader)
	Healthy     bool      `json:"healthy"`
	CheckClass  string    `json:"check_class"`
	CheckError  string    `json:"check_error,omitempty"`
	Checked     time.Time `json:"checked,omitempty"`
	Holding     bool      `json:"holding_vip"`
	Decision    string    `json:"decision"`
	Reason      string    `json:"reason"`
	Version     string    `json:"version,omitempty"`
	// AppliedIndex is the last Raft entry this node applied: how far
	// behind the leader it is.
	AppliedIndex uint64 `json:"applied_index"`
	// Epoch is the newest epoch in this node's replicated state (with
	// Holding: proof of a move that the asking node has not applied yet).
	Epoch uint64 `json:"epoch"`
	// RaftServers is this node's Raft configuration (id -> address): what
	// its Raft dials, compared across nodes by status and switchover.
	RaftServers map[string]string `json:"raft_servers,omitempty"`
	// ConfigWarnings are differences between this node's config file and
	// its Raft configuration.
	ConfigWarnings []string `json:"config_warnings,omitempty"`
	// SecurityWarnings are about this node's cluster port: plaintext, a
	// certificate about to expire.
	SecurityWarnings []string `json:"security_warnings,omitempty"`
	// Replication is what this node's last successful MySQL check read
	// about replication (nil for a witness or before one). Information
	// only for now: it does not change Healthy.
	Replication *mysqlcheck.Replication `json:"replication,omitempty"`
	// Data is what its agent last did to its server (read_only, catch-up);
	// nil on a witness or without a server to drive.
	Data *DataStatus `json:"data,omitempty"`
	// VIPMAC is its MAC on the VIP interface (db nodes), what ARP
	// watchers expect the holder to answer with; ARPWatch is its own
	// watcher's report (nil when off).
	VIPMAC   string           `json:"vip_mac,omitempty"`
	ARPWatch *arpwatch.Report `json:"arp_watch,omitempty"`
}

// NodeView is one row of the cluster status: the replicated view merged with
// what the node itself answered.
type NodeView struct {
	ID          string    `json:"id"`
	Address     string    `json:"address"`
	Role        string    `json:"role"`
	Reachable   bool      `json:"reachable"`
	Error       string    `json:"error,omitempty"`
	RaftState   string    `json:"raft_state"`
	Healthy     bool      `json:"healthy"`
	CheckClass  string    `json:"check_class"`
	CheckError  string    `json:"check_error,omitempty"`
	Checked     time.Time `json:"checked,omitempty"`
	LastContact time.Time `json:"last_contact,omitempty"`
	Holding     bool      `json:"holding_vip"`
	Decision    string    `json:"decision,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Suffrage    string    `json:"suffrage"` // voter, nonvoter, or "-" when not in the raft configuration
	// Replication is the node's own answer (nil when unreachable, a
	// witness, or not read yet).
	Replication *mysqlcheck.Replication `json:"replication,omitempty"`
	// Data is the node's own answer about its server's fencing.
	Data *DataStatus `json:"data,omitempty"`
	// VIPMAC, ARPWatch: the node's own answer (NodeStatus).
	VIPMAC   string           `json:"vip_mac,omitempty"`
	ARPWatch *arpwatch.Report `json:"arp_watch,omitempty"`
	// Stale says why the leader's rule would not promote this node now
	// (its replication is behind or broken; "" when it may be promoted);
	// NoReplication: its server replicates from nobody.
	Stale         string `json:"stale,omitempty"`
	NoReplication bool   `json:"no_replication,omitempty"`
}

// Status is the answer to `raftvip status`.
type Status struct {
	Node     string      `json:"node"` // the node that answered
	Time     time.Time   `json:"time"`
	Leader   string      `json:"leader"`
	Term     uint64      `json:"term"`
	Holder   string      `json:"holder"`
	Epoch    uint64      `json:"epoch"`
	Fence    *fsm.Fence  `json:"fence,omitempty"`
	Note     string      `json:"note,omitempty"`
	Nodes    []NodeView  `json:"nodes"`
	History  []fsm.Event `json:"history"`
	Warnings []string    `json:"warnings,omitempty"`
	// PeerWarnings are the warnings about peer addresses (also in
	// Warnings), for `peers`.
	PeerWarnings []string `json:"peer_warnings,omitempty"`
	// Maintenance is the cluster-wide maintenance switch.
	Maintenance fsm.Maintenance `json:"maintenance"`
	// Switchover is the planned move whose window is open on the answering
	// node (nil when none): no preemption until Until.
	Switchover *SwitchoverStatus `json:"switchover,omitempty"`
	// VRRPMode and VRRP are the answering node's VRRP view: foreign
	// routers it hears (keepalived), who is master on the wire, counters.
	VRRPMode string                    `json:"vrrp_mode"`
	VRRP     *vrrpcompat.SpeakerStatus `json:"vrrp,omitempty"`
	// ARPAlarms are the confirmed alarms of the nodes' ARP watches: the
	// VIP answered by two MACs, or by one that is not the holder's
	// (CRITICAL in check).
	ARPAlarms []string `json:"arp_alarms,omitempty"`
}

// SwitchoverStatus is an operator's planned move while its window is open.
type SwitchoverStatus struct {
	To    string    `json:"to"`
	From  string    `json:"from,omitempty"`
	By    string    `json:"by"`    // the leader that recorded it
	Asked time.Time `json:"asked"` // on that leader's clock
	// Until is when the window ends on the answering node's clock: no
	// preemption before.
	Until time.Time `json:"until"`
	Done  bool      `json:"done"` // the target acquired the VIP
}

// Self returns this node's own status.
func (a *Agent) Self() NodeStatus {
	h := a.localHealth()
	lid, _ := a.raft.Leader()
	v := a.current()
	d, holding := v.Decision, v.Holding
	lc := a.raft.LastContact()
	if a.raft.IsLeader() {
		lc = a.now()
	}
	return NodeStatus{
		ID: a.opt.NodeID, Role: a.opt.Role, RaftState: a.raft.State(), Term: a.raft.Term(), Leader: lid,
		LastContact: lc, Healthy: a.health != nil && h.Healthy, CheckClass: h.Class, CheckError: h.Error,
		Checked: h.Checked, Holding: holding, Decision: d.Action.String(), Reason: d.Reason, Version: a.opt.Version,
		AppliedIndex: a.raft.AppliedIndex(), Epoch: a.fsm.Current().Epoch,
		RaftServers: a.raftAddresses(), ConfigWarnings: a.fileWarnings(), SecurityWarnings: a.securityWarnings(),
		Replication: h.Replication, Data: a.dataStatus(), VIPMAC: a.vipMAC(), ARPWatch: a.arpReport(),
	}
}

func (a *Agent) dataStatus() *DataStatus {
	if a.keeper == nil {
		return nil
	}
	d := a.keeper.Status()
	return &d
}

func (a *Agent) securityWarnings() []string {
	if a.opt.SecurityWarnings == nil {
		return nil
	}
	return a.opt.SecurityWarnings(a.now())
}

// HandleRPC serves intra-cluster requests (cluster.Handler).
func (a *Agent) HandleRPC(ctx context.Context, req cluster.Request) cluster.Response {
	switch req.Op {
	case cluster.OpProve:
		return a.raft.AnswerProof()
	case cluster.OpVouch:
		return a.raft.AnswerVouch(req.About)
	case cluster.OpStatus:
		b, err := json.Marshal(a.Self())
		if err != nil {
			return cluster.Response{Err: err.Error()}
		}
		return cluster.Response{Status: b}
	case OpSwitchover, OpMaintenance, OpPeerAdd, OpPeerRemove:
		return a.handleOp(ctx, req)
	case OpRelay:
		// A peer that cannot reach the leader (the link between the DB
		// hosts is down) sends its own report through this node. One
		// hop only: it goes on as OpApply, never relayed again.
		if a.raft.IsLeader() {
			req.Op, req.Origin = cluster.OpApply, req.From
			return a.HandleRPC(ctx, req)
		}
		_, addr := a.raft.Leader()
		if addr == "" {
			return cluster.Response{Err: "no leader known to " + a.opt.NodeID}
		}
		resp, err := a.raft.Call(ctx, addr, cluster.Request{Op: cluster.OpApply, Command: req.Command, Origin: req.From})
		if err != nil {
			return cluster.Response{Err: err.Error()}
		}
		return resp
	case cluster.OpApply:
		if !a.raft.IsLeader() {
			return cluster.Response{Err: "not the leader", NotLeader: true}
		}
		c, err := fsm.Decode(req.Command)
		if err != nil {
			return cluster.Response{Err: err.Error()}
		}
		// Followers may only report their own health and timings (sent
		// themselves or relayed by a peer); every change of the VIP's
		// ownership is decided by the leader itself.
		from := req.From
		if req.Origin != "" {
			from = req.Origin
		}
		own := (c.Type == fsm.CmdHealth && c.Health != nil && c.Health.Node == from) ||
			(c.Type == fsm.CmdTimings && c.Timings != nil && c.Timings.Node == from)
		if !own {
			return cluster.Response{Err: fmt.Sprintf("forwarded %q command from %q refused", c.Type, from)}
		}
		if servers, err := a.raft.Servers(); err == nil && !inConfiguration(servers, from) {
			// A removed node that still runs must not put its reports
			// back into the replicated state.
			return cluster.Response{Err: fmt.Sprintf("%s report from %q refused: not in the raft configuration", c.Type, from)}
		}
		r, err := a.apply(c)
		if err != nil {
			return cluster.Response{Epoch: r.Epoch, Err: err.Error()}
		}
		return cluster.Response{Epoch: r.Epoch}
	}
	return cluster.Response{Err: fmt.Sprintf("unknown op %q", req.Op)}
}

// ClusterStatus builds the status view: the replicated state plus every
// node's own answer (asked in parallel, each bounded by ctx).
func (a *Agent) ClusterStatus(ctx context.Context, historyN int) Status {
	catchingUp := a.catchUpForStatus(ctx)
	st := a.fsm.State()
	lid, _ := a.raft.Leader()
	out := Status{Node: a.opt.NodeID, Time: a.now(), Leader: lid, Term: a.raft.Term(),
		Holder: st.Holder, Epoch: st.Epoch, Fence: st.Fence, History: st.LastEvents(historyN), Maintenance: st.Maintenance,
		VRRPMode: a.opt.VRRPMode}
	v := a.vrrp
	if v != nil {
		vs := v.Status(a.now())
		out.VRRP = &vs
	}
	if out.VRRPMode == "" {
		out.VRRPMode = VRRPOff
	}
	suffrage := map[string]string{}
	raftAddr := map[string]string{}
	if servers, err := a.raft.Servers(); err == nil {
		for _, s := range servers {
			suffrage[string(s.ID)] = strings.ToLower(s.Suffrage.String())
			raftAddr[string(s.ID)] = string(s.Address)
		}
	}

	peers := map[string]Peer{}
	for _, p := range a.opt.Peers {
		// A configured peer that is neither in the Raft configuration nor
		// a member was removed at run time: it is not shown. (With no
		// configuration at all, e.g. a node waiting to join, the static
		// list is all there is.)
		if _, member := st.Members[p.ID]; len(suffrage) > 0 && suffrage[p.ID] == "" && !member {
			continue
		}
		peers[p.ID] = p
	}
	for id, m := range st.Members {
		if _, ok := peers[id]; !ok {
			peers[id] = Peer{ID: id, Address: m.Address, Role: m.Role}
		}
	}
	// Show (and ask) the address Raft dials, not the file's: they differ
	// after a typo fixed in the file only, or a peer re-added elsewhere.
	for id, p := range peers {
		if ra, ok := raftAddr[id]; ok {
			p.Address = ra
			peers[id] = p
		}
	}
	ids := make([]string, 0, len(peers))
	for id := range peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	views := make([]NodeView, len(ids))
	nodeStatus := make([]*NodeStatus, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		p := peers[id]
		v := NodeView{ID: id, Address: p.Address, Role: p.Role, Suffrage: suffrage[id]}
		if v.Suffrage == "" {
			v.Suffrage = "-"
		}
		if h, ok := st.Health[id]; ok {
			v.Healthy, v.CheckClass, v.Checked = h.Healthy, h.Class, h.Checked
			v.NoReplication = h.NoReplication
		}
		if p.Role == fsm.RoleDB {
			v.Stale = owner.Stale(st, id, a.opt.Data.MaxLag, a.now())
		}
		views[i] = v
		wg.Add(1)
		go func(i int, p Peer) {
			defer wg.Done()
			var ns NodeStatus
			if p.ID == a.opt.NodeID {
				ns = a.Self()
			} else {
				resp, err := a.raft.Call(ctx, p.Address, cluster.Request{Op: cluster.OpStatus})
				if err == nil && resp.Err != "" {
					err = fmt.Errorf("%s", resp.Err)
				}
				if err == nil {
					err = json.Unmarshal(resp.Status, &ns)
				}
				if err != nil {
					views[i].Error = err.Error()
					views[i].RaftState = "unreachable"
					return
				}
			}
			nodeStatus[i] = &ns
			v := &views[i]
			v.Reachable = true
			v.RaftState = ns.RaftState
			v.Healthy, v.CheckClass, v.CheckError, v.Checked = ns.Healthy, ns.CheckClass, ns.CheckError, ns.Checked
			v.LastContact, v.Holding, v.Decision, v.Reason = ns.LastContact, ns.Holding, ns.Decision, ns.Reason
			v.Replication, v.Data = ns.Replication, ns.Data
			v.VIPMAC, v.ARPWatch = ns.VIPMAC, ns.ARPWatch
		}(i, p)
	}
	wg.Wait()
	out.Nodes = views
	out.ARPAlarms = arpAlarms(views)

	self := a.Self()
	switch {
	case catchingUp != "":
		// The state read above may be empty or old: say so, not "nobody
		// holds the VIP".
		out.Note = catchingUp
	case st.Fence != nil:
		out.Note = fmt.Sprintf("fenced: %s did not release epoch %d; waiting for its kernel lease to run out", st.Fence.Holder, st.Fence.Epoch)
	case st.Holder == "":
		if lid == "" {
			out.Note = "no raft leader: nobody may hold the VIP"
		} else {
			out.Note = "nobody holds the VIP"
			for _, v := range views {
				if v.ID == lid && v.Reason != "" {
					// The leader's reason often says it already
					// ("no healthy db node: nobody holds the VIP").
					if strings.Contains(v.Reason, out.Note) {
						out.Note = v.Reason
					} else {
						out.Note += ": " + v.Reason
					}
				}
			}
		}
	}
	holders := 0
	for _, v := range views {
		if v.Holding {
			holders++
		}
	}
	// Peer addresses: the reachable nodes' Raft configurations compared
	// with each other (a typo on one host), then each node's file against
	// its own Raft configuration.
	raftViews := map[string]map[string]string{}
	for _, ns := range nodeStatus {
		if ns != nil && ns.RaftServers != nil {
			raftViews[ns.ID] = ns.RaftServers
		}
	}
	out.PeerWarnings = raftDisagreements(raftViews)
	for _, ns := range nodeStatus {
		if ns != nil {
			out.PeerWarnings = append(out.PeerWarnings, ns.ConfigWarnings...)
		}
	}
	out.Warnings = append(out.Warnings, out.PeerWarnings...)
	for _, ns := range nodeStatus {
		if ns != nil {
			for _, w := range ns.SecurityWarnings {
				out.Warnings = append(out.Warnings, ns.ID+": "+w)
			}
		}
	}
	if holders > 1 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d nodes report holding the VIP", holders))
	}
	if st.Maintenance.On {
		w := fmt.Sprintf("MAINTENANCE MODE since %s (%s): no automatic VIP moves", st.Maintenance.Since.Format(time.RFC3339), st.Maintenance.Reason)
		if u := st.Maintenance.Until; !u.IsZero() {
			w += "; " + MaintenanceLeft(u, out.Time)
		}
		out.Warnings = append(out.Warnings, w)
	}
	if sw := st.Switchover; sw != nil {
		deadline, _ := a.fsm.SwitchoverDeadline()
		if _, open, _ := owner.SwitchoverView(sw, deadline, out.Time); open {
			out.Switchover = &SwitchoverStatus{To: sw.To, From: sw.From, By: sw.By, Asked: sw.Time, Until: deadline, Done: sw.Done}
			what := "moving the VIP there"
			if sw.Done {
				what = "done"
			}
			out.Warnings = append(out.Warnings, fmt.Sprintf("switchover to %s (asked via %s at %s): %s; no preemption until %s (%s from now)",
				sw.To, sw.By, sw.Time.Format(time.RFC3339), what, deadline.Format(time.RFC3339), deadline.Sub(out.Time).Round(time.Second)))
		}
	}
	if self.Leader == "" && !strings.Contains(out.Note, "leader") {
		out.Warnings = append(out.Warnings, "this node knows no leader")
	}
	if w := owner.TimingMismatch(st); w != "" {
		out.Warnings = append(out.Warnings, w)
	}
	return out
}

func inConfiguration(servers []raft.Server, id string) bool {
	for _, s := range servers {
		if string(s.ID) == id {
			return true
		}
	}
	return false
}

// MaintenanceLeft says when maintenance with end until ends, seen at now.
func MaintenanceLeft(until, now time.Time) string {
	if left := until.Sub(now); left > 0 {
		return fmt.Sprintf("ends %s (%s left)", until.Format(time.RFC3339), left.Round(time.Second))
	}
	return fmt.Sprintf("ended %s (the leader is turning it off)", until.Format(time.RFC3339))
}
