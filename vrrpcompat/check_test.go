package vrrpcompat

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// seedV2 is the seed's keepalived instance as an advert: VRID 51, priority
// 101, advert_int 1, auth PASS 1111, VIP 10.99.0.10.
var seedV2 = Advert{Version: 2, VRID: 51, Priority: 101, Interval: time.Second, AuthType: AuthPass,
	AuthData: AuthData("1111"), Addresses: []netip.Addr{vip1}}

func TestCheck(t *testing.T) {
	want := ExpectFor(seedV2, false)
	wantV3 := ExpectFor(Advert{Version: 3, VRID: 51, Interval: time.Second, Addresses: []netip.Addr{vip1, vip2}}, false)
	peer := netip.MustParseAddr("10.99.0.12")
	with := func(a Advert, fn func(*Advert)) Advert {
		a.Addresses = append([]netip.Addr(nil), a.Addresses...)
		fn(&a)
		return a
	}
	withExp := func(e Expect, fn func(*Expect)) Expect { fn(&e); return e }
	v3 := Advert{Version: 3, VRID: 51, Priority: 101, Interval: time.Second, Addresses: []netip.Addr{vip2, vip1}}
	cases := []struct {
		name       string
		a          Advert
		ttl        int
		dst        netip.Addr
		want       Expect
		err        error
		reason     Reason
		mismatches []string
	}{
		{name: "seed advert", a: seedV2, ttl: 255, dst: MulticastGroup, want: want},
		{name: "priority 0 is still a valid advert", a: with(seedV2, func(a *Advert) { a.Priority = 0 }), ttl: 255, dst: MulticastGroup, want: want},
		{name: "other VRID", a: with(seedV2, func(a *Advert) { a.VRID = 52 }), ttl: 255, dst: MulticastGroup, want: want, err: ErrWrongVRID, reason: ReasonVRID},
		{name: "VRID is checked before TTL", a: with(seedV2, func(a *Advert) { a.VRID = 52 }), ttl: 1, dst: MulticastGroup, want: want, err: ErrWrongVRID, reason: ReasonVRID},
		{name: "TTL 254 (crossed a router)", a: seedV2, ttl: 254, dst: MulticastGroup, want: want, err: ErrTTL, reason: ReasonTTL},
		{name: "TTL 64", a: seedV2, ttl: 64, dst: MulticastGroup, want: want, err: ErrTTL, reason: ReasonTTL},
		{name: "TTL not checked for unicast (keepalived)", a: seedV2, ttl: 64, dst: peer, want: withExp(want, func(e *Expect) { e.Unicast = true })},
		{name: "v3 advert, we speak v2", a: v3, ttl: 255, dst: MulticastGroup, want: want, err: ErrWrongVersion, reason: ReasonVersion},
		{name: "v2 advert, we speak v3", a: seedV2, ttl: 255, dst: MulticastGroup, want: wantV3, err: ErrWrongVersion, reason: ReasonVersion},
		{name: "auth none, we want PASS", a: with(seedV2, func(a *Advert) { a.AuthType = AuthNone; a.AuthData = [8]byte{} }), ttl: 255, dst: MulticastGroup, want: want, err: ErrAuthMismatch, reason: ReasonAuth},
		{name: "PASS, we want none", a: seedV2, ttl: 255, dst: MulticastGroup, want: withExp(want, func(e *Expect) { e.AuthType = AuthNone; e.AuthData = [8]byte{} }), err: ErrAuthMismatch, reason: ReasonAuth},
		{name: "wrong password", a: with(seedV2, func(a *Advert) { a.AuthData = AuthData("2222") }), ttl: 255, dst: MulticastGroup, want: want, err: ErrAuthFailure, reason: ReasonAuth},
		{name: "password prefix is not enough", a: with(seedV2, func(a *Advert) { a.AuthData = AuthData("11111") }), ttl: 255, dst: MulticastGroup, want: want, err: ErrAuthFailure, reason: ReasonAuth},
		{name: "auth none ignores auth data", a: with(seedV2, func(a *Advert) { a.AuthType = AuthNone; a.AuthData = AuthData("junk") }), ttl: 255, dst: MulticastGroup, want: withExp(want, func(e *Expect) { e.AuthType = AuthNone; e.AuthData = [8]byte{} })},
		{name: "v3 has no auth to check", a: v3, ttl: 255, dst: MulticastGroup, want: withExp(wantV3, func(e *Expect) { e.AuthType = AuthPass; e.AuthData = AuthData("1111") })},
		{name: "unicast advert in multicast mode", a: seedV2, ttl: 255, dst: peer, want: want, err: ErrDestination, reason: ReasonDestination},
		{name: "multicast advert in unicast mode", a: seedV2, ttl: 255, dst: MulticastGroup, want: withExp(want, func(e *Expect) { e.Unicast = true }), err: ErrDestination, reason: ReasonDestination},
		{name: "v2 interval differs", a: with(seedV2, func(a *Advert) { a.Interval = 2 * time.Second }), ttl: 255, dst: MulticastGroup, want: want,
			mismatches: []string{"interval: theirs 2s, ours 1s"}},
		{name: "v3 interval differs", a: with(v3, func(a *Advert) { a.Interval = 500 * time.Millisecond }), ttl: 255, dst: MulticastGroup, want: wantV3,
			mismatches: []string{"interval: theirs 500ms, ours 1s"}},
		{name: "addresses in another order match", a: v3, ttl: 255, dst: MulticastGroup, want: wantV3},
		{name: "extra address", a: with(seedV2, func(a *Advert) { a.Addresses = append(a.Addresses, vip2) }), ttl: 255, dst: MulticastGroup, want: want,
			mismatches: []string{"addresses: theirs [10.99.0.10 10.99.0.20], ours [10.99.0.10]"}},
		{name: "other address", a: with(seedV2, func(a *Advert) { a.Addresses = []netip.Addr{vip2} }), ttl: 255, dst: MulticastGroup, want: want,
			mismatches: []string{"addresses: theirs [10.99.0.20], ours [10.99.0.10]"}},
		{name: "duplicate instead of second address", a: with(v3, func(a *Advert) { a.Addresses = []netip.Addr{vip1, vip1} }), ttl: 255, dst: MulticastGroup, want: wantV3,
			mismatches: []string{"addresses: theirs [10.99.0.10 10.99.0.10], ours [10.99.0.10 10.99.0.20]"}},
		{name: "no addresses", a: with(seedV2, func(a *Advert) { a.Addresses = nil }), ttl: 255, dst: MulticastGroup, want: want,
			mismatches: []string{"addresses: theirs [], ours [10.99.0.10]"}},
		{name: "both mismatches", a: with(seedV2, func(a *Advert) { a.Addresses = nil; a.Interval = 3 * time.Second }), ttl: 255, dst: MulticastGroup, want: want,
			mismatches: []string{"interval: theirs 3s, ours 1s", "addresses: theirs [], ours [10.99.0.10]"}},
		{name: "unset expectations skip the comparison", a: with(seedV2, func(a *Advert) { a.Addresses = nil; a.Interval = 3 * time.Second }), ttl: 255, dst: MulticastGroup,
			want: withExp(want, func(e *Expect) { e.Addresses = nil; e.Interval = 0 })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mm, err := Check(c.a, c.ttl, c.dst, c.want)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Check = %v, want %v", err, c.err)
				}
				if r := ReasonOf(err); r != c.reason {
					t.Errorf("reason %s, want %s", r, c.reason)
				}
				if mm != nil {
					t.Errorf("mismatches %v with a drop", mm)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := mismatchStrings(mm); !reflect.DeepEqual(got, c.mismatches) {
				t.Errorf("mismatches %q, want %q", got, c.mismatches)
			}
		})
	}
}

// Errors go to logs and status: the password must not be in them.
func TestCheckErrorHidesPassword(t *testing.T) {
	a := seedV2
	a.AuthData = AuthData("guessme")
	_, err := Check(a, 255, MulticastGroup, ExpectFor(seedV2, false))
	if !errors.Is(err, ErrAuthFailure) {
		t.Fatal(err)
	}
	if s := err.Error(); strings.Contains(s, "guessme") || strings.Contains(s, "1111") {
		t.Errorf("error shows a password: %s", s)
	}
}

func TestExpectStringHidesPassword(t *testing.T) {
	e := ExpectFor(Advert{Version: 2, VRID: 51, Interval: time.Second, AuthType: AuthPass, AuthData: AuthData("s3cr3tpw"), Addresses: []netip.Addr{vip1}}, true)
	for _, s := range []string{e.String(), fmt.Sprintf("%v", e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "115 51") {
			t.Errorf("expectation printed with its password: %s", s)
		}
		if s != "VRRPv2 vrid 51 interval 1s auth pass addresses [10.99.0.10] unicast" {
			t.Errorf("expectation printed as %q", s)
		}
	}
}

func TestExpectForCopies(t *testing.T) {
	a := seedV2
	a.Addresses = []netip.Addr{vip1}
	e := ExpectFor(a, true)
	a.Addresses[0] = vip2
	if e.Addresses[0] != vip1 || !e.Unicast || e.VRID != 51 || e.AuthType != AuthPass || e.AuthData != AuthData("1111") || e.Interval != time.Second || e.Version != 2 {
		t.Errorf("ExpectFor = %+v", e)
	}
}

func TestReasonOfUnknown(t *testing.T) {
	if r := ReasonOf(errors.New("something")); r != ReasonMalformed {
		t.Errorf("unknown error counted as %s", r)
	}
	if r := ReasonOf(ErrIPHeader); r != ReasonMalformed {
		t.Errorf("IP header error counted as %s", r)
	}
	if len(Reasons) != 8 {
		t.Errorf("Reasons lists %d reasons", len(Reasons))
	}
}
