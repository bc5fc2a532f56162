package vrrpcompat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestParseIPv4Errors(t *testing.T) {
	good, err := marshalIPv4(labSrc, MulticastGroup, TTL, 7, mustEncode(t, seedV2))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(fn func([]byte) []byte) []byte { return fn(bytes.Clone(good)) }
	cases := map[string][]byte{
		"empty":                    nil,
		"19 bytes":                 good[:19],
		"IPv6 version":             edit(func(b []byte) []byte { b[0] = 0x65; return b }),
		"IHL 4":                    edit(func(b []byte) []byte { b[0] = 0x44; return b }),
		"IHL 15 beyond the packet": edit(func(b []byte) []byte { b[0] = 0x4f; binary.BigEndian.PutUint16(b[2:4], 40); return b[:40] }),
		"total length short":       edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:4], uint16(len(b)-1)); return b }),
		"total length long":        edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:4], uint16(len(b)+4)); return b }),
	}
	for name, b := range cases {
		if _, _, err := parseIPv4(b); !errors.Is(err, ErrIPHeader) {
			t.Errorf("%s: parseIPv4 = %v, want ErrIPHeader", name, err)
		}
	}
	h, p, err := parseIPv4(good)
	if err != nil {
		t.Fatal(err)
	}
	if h.TTL != 255 || h.TOS != 0xc0 || h.Protocol != 112 || h.Src != labSrc || h.Dst != MulticastGroup || len(p) != 20 {
		t.Errorf("parsed %+v, payload %d bytes", h, len(p))
	}
	// IP options: the payload starts after them.
	opt := append(append(bytes.Clone(good[:20]), 1, 1, 1, 0), good[20:]...)
	opt[0] = 0x46
	binary.BigEndian.PutUint16(opt[2:4], uint16(len(opt)))
	if _, p, err := parseIPv4(opt); err != nil || !bytes.Equal(p, good[20:]) {
		t.Errorf("with options: %v, payload % x", err, p)
	}
}

func TestMarshalIPv4Errors(t *testing.T) {
	if _, err := marshalIPv4(netip.MustParseAddr("::1"), MulticastGroup, 255, 0, nil); !errors.Is(err, ErrNotIPv4) {
		t.Errorf("IPv6 source: %v", err)
	}
	if _, err := marshalIPv4(labSrc, MulticastGroup, 256, 0, nil); err == nil {
		t.Error("TTL 256 accepted")
	}
	if _, err := marshalIPv4(labSrc, MulticastGroup, 255, 0, make([]byte, 70000)); err == nil {
		t.Error("oversized payload accepted")
	}
}

// inspect is the whole receive path minus the socket.
func TestInspect(t *testing.T) {
	peer := netip.MustParseAddr("10.99.0.12")
	want := ExpectFor(seedV2, false)
	v3 := Advert{Version: 3, VRID: 51, Priority: 101, Interval: time.Second, Addresses: []netip.Addr{vip1}}
	pkt := func(src, dst netip.Addr, ttl int, payload []byte) []byte {
		b, err := marshalIPv4(src, dst, ttl, 1, payload)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	enc := func(a Advert, src, dst netip.Addr) []byte {
		b, err := a.Encode(src, dst)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// keepalived's pre-2.0.19 unicast v3 checksum: over 224.0.0.18.
	oldUnicast := enc(v3, labSrc, MulticastGroup)
	other := pkt(labSrc, MulticastGroup, TTL, mustEncode(t, seedV2))
	other[9] = 6 // TCP

	cases := []struct {
		name   string
		pkt    []byte
		want   Expect
		reason Reason // "" = accepted
	}{
		{"seed advert", pkt(labSrc, MulticastGroup, TTL, mustEncode(t, seedV2)), want, ""},
		{"TTL 1", pkt(labSrc, MulticastGroup, 1, mustEncode(t, seedV2)), want, ReasonTTL},
		{"bad IP header", pkt(labSrc, MulticastGroup, TTL, mustEncode(t, seedV2))[:19], want, ReasonMalformed},
		{"not VRRP", other, want, ReasonMalformed},
		{"truncated VRRP", func() []byte {
			b := pkt(labSrc, MulticastGroup, TTL, mustEncode(t, seedV2)[:12])
			return b
		}(), want, ReasonMalformed},
		{"v3 unicast, RFC checksum", pkt(labSrc, peer, TTL, enc(v3, labSrc, peer)), withUnicast(ExpectFor(v3, true)), ""},
		{"v3 unicast, old keepalived checksum", pkt(labSrc, peer, TTL, oldUnicast), withUnicast(ExpectFor(v3, true)), ""},
		{"v3 multicast, checksum for another destination", pkt(labSrc, MulticastGroup, TTL, enc(v3, labSrc, peer)), ExpectFor(v3, false), ReasonChecksum},
		{"v3 unicast, checksum for another source", pkt(labSrc, peer, TTL, enc(v3, peer, peer)), ExpectFor(v3, true), ReasonChecksum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := inspect(c.pkt, c.want)
			if c.reason != "" {
				if err == nil {
					t.Fatalf("accepted %+v, want drop for %s", r, c.reason)
				}
				if got := ReasonOf(err); got != c.reason {
					t.Errorf("dropped for %s (%v), want %s", got, err, c.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != labSrc || r.TTL != TTL || r.Advert.VRID != 51 {
				t.Errorf("received %+v", r)
			}
		})
	}
}

func withUnicast(e Expect) Expect { e.Unicast = true; return e }
