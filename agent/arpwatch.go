package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftvip/raftvip/arpwatch"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/promtext"
)

// arpSettle is how long after the replicated holder or epoch changed the
// ARP watch does not judge: the old holder's address goes and the new
// one's comes in that time (docs/arpwatch.md).
const arpSettle = 2 * time.Second

// arpMACTimeout bounds the status call that asks a holder for its MAC.
const arpMACTimeout = 500 * time.Millisecond

// arpState is the ARP watch's side of the agent: the report it shows and
// what ARPExpectation remembers between rounds (used only from the
// watcher's goroutine, under mu for the tests' sake).
type arpState struct {
	report atomic.Pointer[func() arpwatch.Report]

	mu      sync.Mutex
	epoch   uint64
	holder  string
	changed time.Time // when this node first saw epoch/holder
	mac     net.HardwareAddr
	macFor  string // holder@epoch that mac is for
}

// SetARPWatch gives the agent the watcher's report for status and metrics.
func (a *Agent) SetARPWatch(report func() arpwatch.Report) {
	a.arp.report.Store(&report)
}

func (a *Agent) arpReport() *arpwatch.Report {
	f := a.arp.report.Load()
	if f == nil {
		return nil
	}
	r := (*f)()
	return &r
}

// vipMAC is this node's MAC on the VIP interface, which it publishes in its
// status so that watchers elsewhere know what the holder's answers look
// like ("" on a witness or when the interface is missing).
func (a *Agent) vipMAC() string {
	if a.opt.VIPMAC == nil {
		return ""
	}
	return a.opt.VIPMAC()
}

// InterfaceMAC is Options.VIPMAC for a real interface: its MAC as it is
// now ("" while it is missing), looked up on every call since the
// interface may be recreated.
func InterfaceMAC(name string) func() string {
	return func() string {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return ""
		}
		return ifi.HardwareAddr.String()
	}
}

// ARPExpectation is the watcher's Expect: who should answer ARP for the VIP
// now, or why this round is not to be judged. The holder's MAC is asked of
// the holder (its status, vip_mac) once per holder and epoch.
func (a *Agent) ARPExpectation(ctx context.Context) arpwatch.Expectation {
	now := a.now()
	if a.current().Holding {
		return arpwatch.Expectation{Skip: "this node holds the VIP"}
	}
	lid, _ := a.raft.Leader()
	if lid == "" {
		return arpwatch.Expectation{Skip: "no raft leader known: who should hold the VIP is not known"}
	}
	if hb := a.opt.HeartbeatTimeout; hb > 0 && !a.raft.IsLeader() {
		if lc := a.raft.LastContact(); now.Sub(lc) > 2*hb {
			return arpwatch.Expectation{Skip: fmt.Sprintf("no contact with leader %s for %s: this node's view of the holder may be old", lid, now.Sub(lc).Round(time.Millisecond))}
		}
	}
	st := a.fsm.Current()
	s := &a.arp
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Epoch != s.epoch || st.Holder != s.holder || s.changed.IsZero() {
		s.epoch, s.holder, s.changed = st.Epoch, st.Holder, now
	}
	switch {
	case st.Fence != nil:
		return arpwatch.Expectation{Skip: fmt.Sprintf("fence in progress: waiting for %s's lease of epoch %d to run out", st.Fence.Holder, st.Fence.Epoch)}
	case st.Holder == a.opt.NodeID:
		return arpwatch.Expectation{Skip: "this node holds the VIP in the replicated state"}
	case now.Sub(s.changed) < arpSettle:
		return arpwatch.Expectation{Skip: fmt.Sprintf("epoch change in progress (epoch %d, holder %s, %s ago)", st.Epoch, orNobody(st.Holder), now.Sub(s.changed).Round(time.Millisecond))}
	}
	// During a migration keepalived may serve the VIP while raftvip holds
	// nothing; its answer alone is not a foreign holder there.
	exp := arpwatch.Expectation{Holder: st.Holder, Epoch: st.Epoch, VRRP: a.opt.VRRPMode == VRRPObserve || a.opt.VRRPMode == VRRPActive}
	if st.Holder == "" {
		return exp
	}
	key := fmt.Sprintf("%s@%d", st.Holder, st.Epoch)
	if s.macFor != key {
		s.mac, s.macFor = nil, ""
		if m := a.askMAC(ctx, st.Holder, st); m != nil {
			s.mac, s.macFor = m, key
		}
	}
	exp.HolderMAC = s.mac
	return exp
}

// askMAC asks node id's status for its vip_mac; nil when it cannot tell.
func (a *Agent) askMAC(ctx context.Context, id string, st fsm.State) net.HardwareAddr {
	addr := ""
	if servers, err := a.raft.Servers(); err == nil {
		for _, s := range servers {
			if string(s.ID) == id {
				addr = string(s.Address)
			}
		}
	}
	for _, p := range a.opt.Peers {
		if addr == "" && p.ID == id {
			addr = p.Address
		}
	}
	if m, ok := st.Members[id]; ok && addr == "" {
		addr = m.Address
	}
	if addr == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, arpMACTimeout)
	defer cancel()
	resp, err := a.raft.Call(ctx, addr, cluster.Request{Op: cluster.OpStatus})
	if err != nil || resp.Err != "" {
		return nil
	}
	var ns NodeStatus
	if json.Unmarshal(resp.Status, &ns) != nil || ns.VIPMAC == "" {
		return nil
	}
	m, err := net.ParseMAC(ns.VIPMAC)
	if err != nil {
		return nil
	}
	return m
}

func orNobody(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

// arpAlarms are the status lines of every confirmed ARP alarm that the
// reachable nodes report, "NODE sees ADDRESS answered by ...".
func arpAlarms(views []NodeView) []string {
	var out []string
	for _, v := range views {
		if v.ARPWatch == nil {
			continue
		}
		for _, al := range v.ARPWatch.Alarms() {
			what := "answered by " + strings.Join(al.Answerers, " and ")
			switch {
			case al.Holder == "":
				what += " while nobody holds the VIP"
			case al.HolderMAC != "":
				what += fmt.Sprintf(" (holder %s is %s)", al.Holder, al.HolderMAC)
			default:
				what += fmt.Sprintf(" (holder %s, its MAC unknown)", al.Holder)
			}
			kind := "TWO HOLDERS"
			if al.Verdict == arpwatch.Foreign {
				kind = "FOREIGN HOLDER"
			}
			out = append(out, fmt.Sprintf("%s: %s %s since %s (seen by %s)", kind, al.Address, what, al.Since.Format(time.RFC3339), v.ID))
		}
	}
	return out
}

// collectARP adds the ARP watch's series (with a watcher only).
func (a *Agent) collectARP(ch *promtext.Scrape) {
	r := a.arpReport()
	if r == nil {
		return
	}
	for _, ad := range r.Addresses {
		gauge(ch, "raftvip_vip_arp_answerers", "MACs other than this node's that answered ARP for the VIP address in the last judged round.", float64(len(ad.Answerers)), "address", ad.Address)
		gauge(ch, "raftvip_vip_arp_alarm", "1 while two MACs, or one that is not the holder's, answer ARP for the VIP address (confirmed over two rounds).", b2f(ad.Alarm), "address", ad.Address)
		counter(ch, "raftvip_vip_foreign_answers_total", "ARP answers for the VIP address from MACs that are not the holder's (one per MAC per judged round).", float64(ad.ForeignAnswers), "address", ad.Address)
	}
}
