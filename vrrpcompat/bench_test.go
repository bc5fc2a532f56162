package vrrpcompat

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkDecodeCheck is the receive path's cost per advert: decode plus
// the keepalived-style checks.
func BenchmarkDecodeCheck(b *testing.B) {
	src, dst := netip.MustParseAddr("10.99.0.11"), MulticastGroup
	a := Advert{Version: 2, VRID: 51, Priority: 101, Interval: time.Second, AuthType: AuthPass, AuthData: AuthData("1111"),
		Addresses: []netip.Addr{netip.MustParseAddr("10.99.0.10")}}
	pkt, err := a.Encode(src, dst)
	if err != nil {
		b.Fatal(err)
	}
	want := ExpectFor(a, false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := Decode(pkt, src, dst)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Check(got, TTL, dst, want); err != nil {
			b.Fatal(err)
		}
	}
}
