package vrrpcompat

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func testSpeaker(start time.Time) *Speaker {
	ours := Advert{Version: 2, VRID: 51, Priority: 250, Interval: time.Second, AuthType: AuthPass, AuthData: AuthData("1111"),
		Addresses: []netip.Addr{netip.MustParseAddr("10.99.0.10")}}
	s := &Speaker{table: NewTable(ours.Priority), ours: ours, start: start, now: func() time.Time { return start },
		own:    []netip.Addr{netip.MustParseAddr("10.99.0.12")},
		source: func() (netip.Addr, error) { return netip.MustParseAddr("10.99.0.11"), nil }, iface: "eth0"}
	return s
}

func spkAdvert(prio uint8) Advert {
	return Advert{Version: 2, VRID: 51, Priority: prio, Interval: time.Second, AuthType: AuthPass, AuthData: AuthData("1111"),
		Addresses: []netip.Addr{netip.MustParseAddr("10.99.0.10")}}
}

// heard is one advert the table received before the question is asked.
type heard struct {
	src  netip.Addr
	prio uint8
	ago  time.Duration
}

func TestSpeakerBlockAndYield(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ka := netip.MustParseAddr("10.99.0.21")
	peer := netip.MustParseAddr("10.99.0.12")
	cases := []struct {
		name  string
		heard []heard
		at    time.Duration // since start
		block string        // fragment; "" = may hold
		yield string
	}{
		{"listen window after start", nil, time.Second, "listening for VRRP masters", ""},
		{"nobody on the wire", nil, 4 * time.Second, "", ""},
		{"keepalived 255 outranks", []heard{{ka, 255, 100 * time.Millisecond}}, 4 * time.Second, "outranks raftvip", ""},
		{"keepalived 250 from a higher address outranks", []heard{{ka, 250, 100 * time.Millisecond}}, 4 * time.Second, "outranks", ""},
		{"keepalived 101 master must yield", []heard{{ka, 101, 100 * time.Millisecond}}, 4 * time.Second, "", "10.99.0.21"},
		{"keepalived 101 silent for 2 intervals: yielded", []heard{{ka, 101, 2 * time.Second}}, 4 * time.Second, "", ""},
		{"keepalived gave up (priority 0)", []heard{{ka, 0, 100 * time.Millisecond}}, 4 * time.Second, "", ""},
		{"keepalived 255 expired 4 s ago", []heard{{ka, 255, 4 * time.Second}}, 5 * time.Second, "", ""},
		{"keepalived beside raftvip on a peer host is foreign", []heard{{peer, 101, 100 * time.Millisecond}}, 4 * time.Second, "", "10.99.0.12"},
		{"raftvip peer's advert is not foreign", []heard{{peer, 250, 100 * time.Millisecond}}, 4 * time.Second, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testSpeaker(t0)
			now := t0.Add(tc.at)
			for _, h := range tc.heard {
				s.table.Observe(now.Add(-h.ago), h.src, spkAdvert(h.prio), nil)
			}
			b := s.Block(now)
			if (tc.block == "") != (b == "") || !strings.Contains(b, tc.block) {
				t.Errorf("Block = %q, want %q", b, tc.block)
			}
			if y := s.Yield(now); y != tc.yield {
				t.Errorf("Yield = %q, want %q", y, tc.yield)
			}
			st := s.Status(now)
			for _, r := range st.Routers {
				if r.Source == peer && r.Priority == 250 {
					t.Errorf("status lists raftvip peer %s as a foreign router", peer)
				}
			}
		})
	}
}
