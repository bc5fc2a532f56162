package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/vrrpcompat"
)

// The VRRP section says whose adverts raftvip heeds, and when it ignores
// an untrusted master, why and until when.
func TestStatusShowsVRRPTrust(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	forger := netip.MustParseAddr("10.99.0.100")
	cases := []struct {
		name string
		v    vrrpcompat.SpeakerStatus
		want []string
	}{
		{"trusted list", vrrpcompat.SpeakerStatus{TrustedRouters: []netip.Addr{netip.MustParseAddr("10.99.0.14"), netip.MustParseAddr("10.99.0.12")},
			Stats: vrrpcompat.Stats{Dropped: map[vrrpcompat.Reason]uint64{vrrpcompat.ReasonUntrusted: 7}}},
			[]string{"trusted routers: 10.99.0.14, 10.99.0.12 (adverts from others are dropped as untrusted)", "dropped untrusted=7"}},
		{"no list, allowance left", vrrpcompat.SpeakerStatus{TrustedRouters: []netip.Addr{}, Untrusted: &vrrpcompat.UntrustedStatus{BlockMax: "30s", Left: "12s"}},
			[]string{"trusted routers: any (vrrp.trusted_routers is empty): a VRRP master may keep raftvip from the VIP for 12s more of vrrp.untrusted_block_max 30s"}},
		{"no list, forger ignored", vrrpcompat.SpeakerStatus{TrustedRouters: []netip.Addr{}, Untrusted: &vrrpcompat.UntrustedStatus{BlockMax: "30s", Left: "0s",
			Exhausted: true, Since: now.Add(-time.Minute), By: forger, Ignored: &forger, RefillIn: "5m0s"}},
			[]string{"WARNING: ignoring VRRP master 10.99.0.100: untrusted masters kept raftvip from the VIP for vrrp.untrusted_block_max (30s, run out by 10.99.0.100 at 2026-12-01T08:59:00Z); heeded again after 5m0s without one"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			v := c.v
			printStatus(&b, agent.Status{Node: "hosta", Time: now, Leader: "hosta", VRRPMode: "active", VRRP: &v})
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("status output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
