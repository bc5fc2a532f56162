package vrrpcompat

import (
	"net/netip"
	"testing"
	"time"
)

func TestForeignWins(t *testing.T) {
	lo := netip.MustParseAddr("10.99.0.11")
	hi := netip.MustParseAddr("10.99.0.12")
	// Compared as numbers, not strings: "10.99.0.9" < "10.99.0.10".
	nine := netip.MustParseAddr("10.99.0.9")
	ten := netip.MustParseAddr("10.99.0.10")
	cases := []struct {
		name      string
		ourPrio   uint8
		ourAddr   netip.Addr
		theirPrio uint8
		theirAddr netip.Addr
		want      bool
	}{
		{"higher priority wins", 100, hi, 101, lo, true},
		{"lower priority loses", 101, lo, 100, hi, false},
		{"raftvip 250 beats seed keepalived 101", 250, lo, 101, hi, false},
		{"owner 255 beats everyone", 254, hi, 255, lo, true},
		{"equal priority, higher address wins", 101, lo, 101, hi, true},
		{"equal priority, lower address loses", 101, hi, 101, lo, false},
		{"addresses compare numerically", 101, nine, 101, ten, true},
		{"addresses compare numerically (reverse)", 101, ten, 101, nine, false},
		{"higher octet first", 101, netip.MustParseAddr("10.99.1.1"), 101, netip.MustParseAddr("10.99.0.255"), false},
		{"priority 0 never wins", 1, lo, 0, hi, false},
		{"priority 0 never wins, even against our 0", 0, lo, 0, hi, false},
		{"anyone beats us while we give up", 0, hi, 1, lo, true},
		{"same address, same priority: not a win", 101, lo, 101, lo, false},
		{"same address, higher priority wins", 101, lo, 102, lo, true},
	}
	for _, c := range cases {
		if got := ForeignWins(c.ourPrio, c.ourAddr, c.theirPrio, c.theirAddr); got != c.want {
			t.Errorf("%s: ForeignWins(%d, %s, %d, %s) = %v, want %v", c.name, c.ourPrio, c.ourAddr, c.theirPrio, c.theirAddr, got, c.want)
		}
	}
}

// ForeignWins is a strict order: never both sides win.
func TestForeignWinsAntisymmetric(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("192.168.0.1")}
	for _, p1 := range []uint8{0, 1, 100, 101, 255} {
		for _, p2 := range []uint8{0, 1, 100, 101, 255} {
			for _, a1 := range addrs {
				for _, a2 := range addrs {
					if p1 > 0 && p2 > 0 && ForeignWins(p1, a1, p2, a2) && ForeignWins(p2, a2, p1, a1) {
						t.Errorf("(%d %s) and (%d %s) both win", p1, a1, p2, a2)
					}
				}
			}
		}
	}
}

func TestSkewAndMasterDown(t *testing.T) {
	cases := []struct {
		version  int
		interval time.Duration
		priority uint8
		skew     time.Duration
		down     time.Duration
	}{
		// The seed: priority 101, advert_int 1 -> 155/256 s.
		{2, time.Second, 101, 605468750 * time.Nanosecond, 3605468750 * time.Nanosecond},
		{2, time.Second, 99, 613281250 * time.Nanosecond, 3613281250 * time.Nanosecond},
		// v2 skew does not scale with the interval (RFC 3768).
		{2, 3 * time.Second, 101, 605468750 * time.Nanosecond, 9605468750 * time.Nanosecond},
		{2, time.Second, 255, 3906250 * time.Nanosecond, 3003906250 * time.Nanosecond},
		{2, time.Second, 250, 23437500 * time.Nanosecond, 3023437500 * time.Nanosecond},
		// v3 skew does (RFC 5798).
		{3, time.Second, 101, 605468750 * time.Nanosecond, 3605468750 * time.Nanosecond},
		{3, 500 * time.Millisecond, 101, 302734375 * time.Nanosecond, 1802734375 * time.Nanosecond},
		{3, 2 * time.Second, 0, 2 * time.Second, 8 * time.Second},
	}
	for _, c := range cases {
		if got := SkewTime(c.version, c.interval, c.priority); got != c.skew {
			t.Errorf("SkewTime(v%d, %s, %d) = %s, want %s", c.version, c.interval, c.priority, got, c.skew)
		}
		if got := MasterDownInterval(c.version, c.interval, c.priority); got != c.down {
			t.Errorf("MasterDownInterval(v%d, %s, %d) = %s, want %s", c.version, c.interval, c.priority, got, c.down)
		}
	}
}
