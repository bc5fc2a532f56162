package agent

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/arpwatch"
	"github.com/raftvip/raftvip/fsm"
)

var testMACs = map[string]string{"hosta": "02:00:00:00:00:0a", "hostb": "02:00:00:00:00:0b", "witness": "02:00:00:00:00:0c"}

const foreignMAC = "02:00:00:00:00:99"

// fakeARP answers each request with the MACs answers gives for the address
// at that moment.
type fakeARP struct {
	mu      sync.Mutex
	own     net.HardwareAddr
	answers func(ip netip.Addr) []string
}

func (f *fakeARP) set(answers func(ip netip.Addr) []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = answers
}

func (f *fakeARP) open() (arpwatch.Conn, error) { return &fakeARPConn{f: f}, nil }

type fakeARPConn struct {
	f       *fakeARP
	pending []arpwatch.Answer
}

func (c *fakeARPConn) Request(ip netip.Addr) error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	for _, m := range c.f.answers(ip) {
		hw, err := net.ParseMAC(m)
		if err != nil {
			return err
		}
		c.pending = append(c.pending, arpwatch.Answer{IP: ip, MAC: hw})
	}
	return nil
}

func (c *fakeARPConn) Receive(time.Time) (arpwatch.Answer, error) {
	if len(c.pending) == 0 {
		return arpwatch.Answer{}, os.ErrDeadlineExceeded
	}
	a := c.pending[0]
	c.pending = c.pending[1:]
	return a, nil
}

func (c *fakeARPConn) HardwareAddr() net.HardwareAddr { return c.f.own }
func (c *fakeARPConn) Close() error                   { return nil }

// The witness learns the holder and its MAC (from the holder's status), does
// not judge right after the holder changed, and a second MAC answering for
// the VIP becomes an alarm in the cluster status and the metrics, and goes
// away when the second MAC stops answering. The holder does not judge its
// own VIP. (The in-process cluster may fail over under load: the fake
// network answers with whoever holds the VIP at that moment.)
func TestARPWatchInCluster(t *testing.T) {
	tc := newTestClusterWith(t, false, func(n *node, o *Options) {
		if n.role == fsm.RoleDB {
			mac := testMACs[n.id]
			o.VIPMAC = func() string { return mac }
		}
	})
	h := tc.waitHolder(10 * time.Second)
	w := tc.nodes["witness"].agent
	ctx := context.Background()
	tc.eventually("the witness applied the holder", 5*time.Second, func() bool { return tc.nodes["witness"].fsm.Current().Holder == h })
	if e := w.ARPExpectation(ctx); !strings.Contains(e.Skip, "epoch change in progress") {
		t.Fatalf("right after the holder appeared: %+v, want the round skipped as an epoch change in progress", e)
	}
	if e := tc.nodes[h].agent.ARPExpectation(ctx); e.Skip != "this node holds the VIP" {
		t.Errorf("the holder: %+v, want it not to judge its own VIP", e)
	}
	// The witness and the db node that does not hold the VIP expect the
	// holder's MAC (whoever holds it by then).
	for _, watcher := range []string{"witness", "the other db node"} {
		tc.eventually(watcher+" expects the holder's MAC", 5*time.Second, func() bool {
			holder := tc.nodes["witness"].fsm.Current().Holder
			id := watcher
			if watcher != "witness" {
				id = map[string]string{"hosta": "hostb", "hostb": "hosta"}[holder]
				if id == "" {
					return false
				}
			}
			e := tc.nodes[id].agent.ARPExpectation(ctx)
			return e.Skip == "" && e.Holder == holder && e.HolderMAC.String() == testMACs[holder]
		})
	}

	vip := netip.MustParseAddr("10.99.0.100")
	wfsm := tc.nodes["witness"].fsm
	holderMAC := func() []string {
		if h := wfsm.Current().Holder; h != "" {
			return []string{testMACs[h]}
		}
		return nil
	}
	network := &fakeARP{own: mustMAC(t, testMACs["witness"])}
	network.set(func(netip.Addr) []string { return append(holderMAC(), foreignMAC) })
	wa, err := arpwatch.New(arpwatch.Config{Interface: "eth0", Addresses: []netip.Addr{vip}, Interval: time.Second,
		Open: network.open, Expect: w.ARPExpectation, Log: tc.log.Named("witness").Named("arpwatch")})
	if err != nil {
		t.Fatal(err)
	}
	w.SetARPWatch(wa.Report)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go wa.Run(wctx)

	var st Status
	tc.eventually("the alarm in the status", 10*time.Second, func() bool {
		st = tc.nodes[h].agent.ClusterStatus(ctx, 0) // asked on another node: the witness's alarm travels
		return len(st.ARPAlarms) > 0
	})
	al := st.ARPAlarms[0]
	now := wfsm.Current().Holder
	for _, s := range []string{"TWO HOLDERS", "10.99.0.100", testMACs[now], foreignMAC, "(holder " + now + " is " + testMACs[now] + ")", "seen by witness"} {
		if !strings.Contains(al, s) {
			t.Errorf("alarm %q does not say %q", al, s)
		}
	}
	_, body := get(t, NewMetrics(w, MetricsOptions{}).Handler(), "/metrics")
	if v := sample(body, `raftvip_vip_foreign_answers_total{address="10.99.0.100"}`); v < 2 {
		t.Errorf("raftvip_vip_foreign_answers_total = %v, want >= 2:\n%s", v, body)
	}
	if v := sample(body, `raftvip_vip_arp_answerers{address="10.99.0.100"}`); v != 2 {
		t.Errorf("raftvip_vip_arp_answerers = %v, want 2", v)
	}
	if v := sample(body, `raftvip_vip_arp_alarm{address="10.99.0.100"}`); v != 1 {
		t.Errorf("raftvip_vip_arp_alarm = %v, want 1", v)
	}
	checkMetricsDocumented(t, body)
	if _, page := get(t, NewMetrics(w, MetricsOptions{}).Handler(), "/"); !strings.Contains(page, `<div class="warn">CRITICAL: TWO HOLDERS: 10.99.0.100`) {
		t.Errorf("the status page does not show the alarm:\n%s", page)
	}
	tc.logMu.Lock()
	logged := strings.Contains(tc.logs.String(), "[ERROR] witness.arpwatch: VIP answered from outside raftvip's control")
	tc.logMu.Unlock()
	if !logged {
		t.Error("no ERROR from the witness's named arpwatch logger")
	}

	network.set(func(netip.Addr) []string { return holderMAC() })
	tc.eventually("the alarm clears", 10*time.Second, func() bool {
		return len(w.ClusterStatus(ctx, 0).ARPAlarms) == 0
	})
	_, body = get(t, NewMetrics(w, MetricsOptions{}).Handler(), "/metrics")
	if v := sample(body, `raftvip_vip_arp_alarm{address="10.99.0.100"}`); v != 0 {
		t.Errorf("raftvip_vip_arp_alarm = %v after the foreign MAC stopped, want 0", v)
	}
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
