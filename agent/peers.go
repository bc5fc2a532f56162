package agent

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// A typo in one host's peer list is silent in Raft: every node bootstraps
// from its own file and keeps that configuration in its own log, so the
// cluster forms, and the node with the wrong address fails only once it
// leads (it cannot replicate to the peer it misaddresses). The agent
// therefore compares the addresses it can see and says so loudly.

// peerMismatch is one peer whose address differs between two views.
type peerMismatch struct {
	peer                 string
	haveKey, haveWhere   string // log key and words for the first view
	have                 string
	otherKey, otherWhere string
	other                string
	hint                 string
}

func (m peerMismatch) String() string {
	return fmt.Sprintf("peer %s: %s has address %q, %s has %q (%s)", m.peer, m.haveWhere, m.have, m.otherWhere, m.other, m.hint)
}

// raftAddresses is this node's Raft configuration: id -> address.
func (a *Agent) raftAddresses() map[string]string {
	servers, err := a.raft.Servers()
	if err != nil {
		return nil
	}
	out := make(map[string]string, len(servers))
	for _, s := range servers {
		out[string(s.ID)] = string(s.Address)
	}
	return out
}

// peerMismatches compares three views of every peer's address: this node's
// config file, this node's Raft configuration (what its Raft dials), and the
// replicated member list, which the leader writes from its own Raft
// configuration (ensureMembers). The first pair catches a file changed
// after Raft state existed; the second a node that disagrees with the
// leader (one of them has a typo).
func (a *Agent) peerMismatches() []peerMismatch {
	raftAddr := a.raftAddresses()
	if raftAddr == nil {
		return nil
	}
	self := a.opt.NodeID
	var out []peerMismatch
	for _, p := range a.opt.Peers {
		if ra, ok := raftAddr[p.ID]; ok && ra != p.Address {
			out = append(out, peerMismatch{peer: p.ID,
				haveKey: "config_file", haveWhere: self + "'s config file", have: p.Address,
				otherKey: "raft_config", otherWhere: "its raft configuration", other: ra,
				hint: "raft keeps the configuration this node started with; to apply the file, stop the agent, move its data_dir aside and start it again (it rejoins from its peers)"})
		}
	}
	// The leader wrote the member list itself; only followers compare.
	if !a.raft.IsLeader() {
		members := a.fsm.Current().Members
		ids := make([]string, 0, len(raftAddr))
		for id := range raftAddr {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if m, ok := members[id]; ok && m.Address != "" && m.Address != raftAddr[id] {
				out = append(out, peerMismatch{peer: id,
					haveKey: "raft_config", haveWhere: self + "'s raft configuration", have: raftAddr[id],
					otherKey: "leader_config", otherWhere: "the member list from the leader's raft configuration", other: m.Address,
					hint: "the node with the wrong address cannot reach " + id + " while it leads; check the peers block on every node"})
			}
		}
	}
	return out
}

// fileWarnings are the mismatches between this node's config file and its
// Raft configuration, as status lines. (Disagreements between nodes' Raft
// configurations are found by comparing them directly: raftDisagreements.)
func (a *Agent) fileWarnings() []string {
	var out []string
	for _, m := range a.peerMismatches() {
		if m.haveKey == "config_file" {
			out = append(out, m.String())
		}
	}
	return out
}

// raftDisagreements compares nodes' Raft configurations (node -> peer ->
// address) and returns one line per peer whose address differs between
// them, naming every address and who has it.
func raftDisagreements(views map[string]map[string]string) []string {
	byPeer := map[string]map[string][]string{} // peer -> address -> nodes
	for node, servers := range views {
		for peer, addr := range servers {
			if byPeer[peer] == nil {
				byPeer[peer] = map[string][]string{}
			}
			byPeer[peer][addr] = append(byPeer[peer][addr], node)
		}
	}
	peers := make([]string, 0, len(byPeer))
	for p, addrs := range byPeer {
		if len(addrs) > 1 {
			peers = append(peers, p)
		}
	}
	sort.Strings(peers)
	var out []string
	for _, p := range peers {
		addrs := make([]string, 0, len(byPeer[p]))
		for addr := range byPeer[p] {
			addrs = append(addrs, addr)
		}
		// The address most nodes have first; ties by address.
		sort.Slice(addrs, func(i, j int) bool {
			ni, nj := len(byPeer[p][addrs[i]]), len(byPeer[p][addrs[j]])
			if ni != nj {
				return ni > nj
			}
			return addrs[i] < addrs[j]
		})
		var parts []string
		for _, addr := range addrs {
			nodes := byPeer[p][addr]
			sort.Strings(nodes)
			parts = append(parts, fmt.Sprintf("%s %s %q", strings.Join(nodes, ", "), verb(len(nodes)), addr))
		}
		out = append(out, fmt.Sprintf("peer %s has different addresses in the nodes' raft configurations: %s (a node with a wrong address cannot reach %s while it leads; check the peers block in each node's config)",
			p, strings.Join(parts, "; "), p))
	}
	return out
}

func verb(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

// peerCheck remembers the mismatches last logged, so each is an ERROR once
// per change, not once per tick.
type peerCheck struct {
	mu   sync.Mutex
	last string
	// Loop-owned: the FSM entry the last comparison saw, and when the
	// next one is due even if no entry came.
	applied uint64
	next    time.Time
}

// peerCheckEvery spaces the comparisons while the FSM does not change:
// comparing on every pass was a twentieth of an idle witness's CPU. Member
// lists change with FSM entries, which are compared at once; the raft
// configuration of a starting node arrives without one and is compared
// within this.
const peerCheckEvery = 2 * time.Second

// checkPeers logs the peer address mismatches when they change.
func (a *Agent) checkPeers() {
	now := a.now()
	applied, _ := a.fsm.LastApplied()
	if applied == a.peerCheck.applied && now.Before(a.peerCheck.next) {
		return
	}
	a.peerCheck.applied, a.peerCheck.next = applied, now.Add(peerCheckEvery)
	ms := a.peerMismatches()
	var keys []string
	for _, m := range ms {
		keys = append(keys, m.String())
	}
	key := strings.Join(keys, "\n")
	a.peerCheck.mu.Lock()
	changed := key != a.peerCheck.last
	had := a.peerCheck.last != ""
	a.peerCheck.last = key
	a.peerCheck.mu.Unlock()
	if !changed {
		return
	}
	for _, m := range ms {
		a.log.Error("peer address mismatch", "peer", m.peer, m.haveKey, m.have, m.otherKey, m.other, "hint", m.hint)
	}
	if len(ms) == 0 && had {
		a.log.Info("peer addresses agree again")
	}
}
