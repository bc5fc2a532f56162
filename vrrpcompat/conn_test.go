package vrrpcompat

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// TestConnDropsBadAdverts: adverts with the wrong auth, VRID or TTL (and
// other broken ones), crafted and sent by one Conn, are dropped and counted
// by reason by a listening Conn and never enter its Table.
func TestConnDropsBadAdverts(t *testing.T) {
	needRoot(t, "creates network namespaces rvtest-vrrp-<pid>-drop-* on a bridge and raw sockets")
	t.Parallel()
	l := newLab(t, "drop", map[string]string{"r": addrR, "x": addrX})
	listener := l.openConn(t, "r")
	sender := l.openConn(t, "x")
	if src, err := sender.Source(); err != nil || src != netip.MustParseAddr(addrX) {
		t.Fatalf("sender source %s, %v; want %s", src, err, addrX)
	}
	want := ExpectFor(seedV2, false)
	tab, got := listen(t, listener, want, 250)

	x := netip.MustParseAddr(addrX)
	r := netip.MustParseAddr(addrR)
	enc := func(a Advert, dst netip.Addr) []byte {
		b, err := a.Encode(x, dst)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Every bad advert carries priority 200 and the good one 100: if a bad
	// one slipped into the table its priority would show.
	bad := seedV2
	bad.Priority = 200
	with := func(fn func(*Advert)) Advert { a := bad; fn(&a); return a }
	badCheck := enc(bad, MulticastGroup)
	badCheck[7] ^= 0xff
	cases := []struct {
		name   string
		dst    netip.Addr
		ttl    int
		b      []byte
		reason Reason
	}{
		{"wrong password", MulticastGroup, TTL, enc(with(func(a *Advert) { a.AuthData = AuthData("2222") }), MulticastGroup), ReasonAuth},
		{"no auth", MulticastGroup, TTL, enc(with(func(a *Advert) { a.AuthType = AuthNone; a.AuthData = [8]byte{} }), MulticastGroup), ReasonAuth},
		{"wrong VRID", MulticastGroup, TTL, enc(with(func(a *Advert) { a.VRID = 52 }), MulticastGroup), ReasonVRID},
		{"TTL 64", MulticastGroup, 64, enc(bad, MulticastGroup), ReasonTTL},
		{"TTL 254", MulticastGroup, 254, enc(bad, MulticastGroup), ReasonTTL},
		{"bad checksum", MulticastGroup, TTL, badCheck, ReasonChecksum},
		{"VRRPv3", MulticastGroup, TTL, enc(Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second, Addresses: []netip.Addr{vip1}}, MulticastGroup), ReasonVersion},
		{"truncated", MulticastGroup, TTL, enc(bad, MulticastGroup)[:10], ReasonMalformed},
		{"type 0", MulticastGroup, TTL, func() []byte { b := enc(bad, MulticastGroup); b[0] = 0x20; return b }(), ReasonMalformed},
		{"text (version 6)", MulticastGroup, TTL, []byte("not vrrp at all, just bytes"), ReasonVersion},
		{"unicast in multicast mode", r, TTL, enc(bad, r), ReasonDestination},
	}
	const each = 3
	wantDrops := map[Reason]uint64{}
	for _, c := range cases {
		for i := 0; i < each; i++ {
			if err := sender.WriteRaw(x, c.dst, c.ttl, c.b); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		wantDrops[c.reason] += each
	}
	// Then one good advert through the normal path. Packets from one
	// sender arrive in order, so once it is in, every bad one was handled.
	good := seedV2
	good.Priority = 100
	if err := sender.Send(good); err != nil {
		t.Fatal(err)
	}
	select {
	case rc := <-got:
		if rc.Source != x || rc.TTL != TTL || rc.Destination != MulticastGroup || rc.Advert.Priority != 100 || len(rc.Mismatches) != 0 {
			t.Errorf("received %+v", rc)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the good advert did not arrive within 5s; stats %+v", tab.Stats())
	}
	st := tab.Stats()
	if !reflect.DeepEqual(st.Dropped, wantDrops) || st.Accepted != 1 {
		t.Errorf("stats %+v, want accepted 1 and dropped %v", st, wantDrops)
	}
	rs := tab.Routers(time.Now())
	if len(rs) != 1 || rs[0].Source != x || rs[0].Priority != 100 || rs[0].Adverts != 1 {
		t.Errorf("table %+v, want only the good advert from %s", rs, x)
	}
	if n := listener.Undelivered(); n != 0 {
		t.Errorf("%d adverts undelivered", n)
	}
}

// TestConnUnicast: in unicast mode a Conn sends to its peers and accepts
// unicast adverts. It has not joined 224.0.0.18, so multicast adverts do
// not even reach it.
func TestConnUnicast(t *testing.T) {
	needRoot(t, "creates network namespaces rvtest-vrrp-<pid>-uni-* on a bridge and raw sockets")
	t.Parallel()
	l := newLab(t, "uni", map[string]string{"r": addrR, "x": addrX})
	r, x := netip.MustParseAddr(addrR), netip.MustParseAddr(addrX)
	v3 := Advert{Version: 3, VRID: 51, Priority: 150, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vip1}}
	// Both list both hosts, as a shared configuration would.
	listener := l.openConn(t, "r", r, x)
	sender := l.openConn(t, "x", r, x)
	tab, got := listen(t, listener, ExpectFor(v3, true), 250)

	if err := sender.WriteRaw(x, MulticastGroup, TTL, mustEncodeFrom(t, v3, x, MulticastGroup)); err != nil {
		t.Fatal(err)
	}
	if err := sender.Send(v3); err != nil {
		t.Fatal(err)
	}
	select {
	case rc := <-got:
		if rc.Source != x || rc.Destination != r || rc.Advert.Version != 3 || rc.Advert.Priority != 150 {
			t.Errorf("received %+v", rc)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("unicast advert did not arrive; stats %+v", tab.Stats())
	}
	if err := sender.SendRelease(v3); err != nil {
		t.Fatal(err)
	}
	select {
	case rc := <-got:
		if rc.Advert.Priority != 0 {
			t.Errorf("release advert priority %d", rc.Advert.Priority)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("release advert did not arrive")
	}
	st := tab.Stats()
	if st.Accepted != 2 || len(st.Dropped) != 0 {
		t.Errorf("stats %+v, want 2 accepted and the multicast one never seen", st)
	}
	if _, ok := tab.Master(time.Now()); ok {
		t.Error("a router that sent priority 0 is master")
	}
}

func mustEncodeFrom(t *testing.T, a Advert, src, dst netip.Addr) []byte {
	t.Helper()
	b, err := a.Encode(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
