package vrrpcompat

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	t0      = time.Date(2025, 11, 25, 9, 0, 0, 0, time.UTC)
	kaA     = netip.MustParseAddr("10.99.0.11") // keepalived hosta
	ourAddr = netip.MustParseAddr("10.99.0.12") // raftvip
	kaC     = netip.MustParseAddr("10.99.0.13")
)

func advert(prio uint8) Advert {
	a := seedV2
	a.Priority = prio
	a.Addresses = []netip.Addr{vip1}
	return a
}

func TestTableOutranking(t *testing.T) {
	tab := NewTable(250)
	if r, ok := tab.Outranking(t0, ourAddr); ok {
		t.Fatalf("empty table outranks us with %+v", r)
	}
	if _, ok := tab.Master(t0); ok {
		t.Fatal("empty table has a master")
	}
	if _, wasLive := tab.Observe(t0, kaA, advert(101), nil); wasLive {
		t.Error("first advert: router reported live before")
	}
	if r, ok := tab.Outranking(t0, ourAddr); ok {
		t.Errorf("keepalived at 101 outranks raftvip at 250: %+v", r)
	}
	m, ok := tab.Master(t0)
	if !ok || m.Source != kaA || m.Priority != 101 || m.Version != 2 || m.Interval != time.Second || !m.Live {
		t.Errorf("Master = %+v, %v; want keepalived 10.99.0.11 at 101", m, ok)
	}
	// A keepalived raised to 255 (address owner) outranks us.
	tab.Observe(t0.Add(100*time.Millisecond), kaC, advert(255), nil)
	r, ok := tab.Outranking(t0.Add(200*time.Millisecond), ourAddr)
	if !ok || r.Source != kaC || r.Priority != 255 {
		t.Errorf("Outranking = %+v, %v; want 10.99.0.13 at 255", r, ok)
	}
	// It gives up (priority 0): keepalived at 101 is master again, and
	// nobody outranks us.
	tab.Observe(t0.Add(300*time.Millisecond), kaC, advert(0), nil)
	if r, ok := tab.Outranking(t0.Add(300*time.Millisecond), ourAddr); ok {
		t.Errorf("router that sent priority 0 still outranks us: %+v", r)
	}
	if m, _ := tab.Master(t0.Add(300 * time.Millisecond)); m.Source != kaA {
		t.Errorf("Master after priority 0 = %+v, want 10.99.0.11", m)
	}
	rs := tab.Routers(t0.Add(300 * time.Millisecond))
	if len(rs) != 2 || rs[0].Source != kaA || rs[1].Source != kaC || rs[1].Priority != 0 {
		t.Errorf("Routers = %+v; want both, the second at priority 0", rs)
	}
}

// A router whose advert differs from our configuration still counts: it
// claims the VRID and probably holds its addresses.
func TestTableMismatchedRouterStillOutranks(t *testing.T) {
	tab := NewTable(250)
	a := advert(255)
	a.Addresses = []netip.Addr{vip2}
	tab.Observe(t0, kaA, a, []Mismatch{{Field: "addresses", Theirs: "[10.99.0.20]", Ours: "[10.99.0.10]"}})
	r, ok := tab.Outranking(t0, ourAddr)
	if !ok || r.Source != kaA || len(r.Mismatches) != 1 {
		t.Errorf("Outranking = %+v, %v; want the mismatched router at 255", r, ok)
	}
}

func TestTableEqualPriorityAddressTieBreak(t *testing.T) {
	tab := NewTable(101)
	tab.Observe(t0, kaA, advert(101), nil) // .11 < .12: we win
	if _, ok := tab.Outranking(t0, ourAddr); ok {
		t.Error("equal priority from a lower address outranks us")
	}
	tab.Observe(t0, kaC, advert(101), nil) // .13 > .12: it wins
	if r, ok := tab.Outranking(t0, ourAddr); !ok || r.Source != kaC {
		t.Errorf("Outranking = %+v, %v; want 10.99.0.13", r, ok)
	}
}

// A silent master stays live for 3 intervals + our skew time (RFC 3768
// Master_Down_Interval at our priority), then no longer counts.
func TestTableExpiry(t *testing.T) {
	tab := NewTable(250)
	tab.Observe(t0, kaA, advert(255), nil)
	down := MasterDownInterval(2, time.Second, 250) // 3.0234375 s
	if down != 3023437500*time.Nanosecond {
		t.Fatalf("master down interval %s", down)
	}
	if _, ok := tab.Outranking(t0.Add(down-time.Nanosecond), ourAddr); !ok {
		t.Error("master expired before its master-down interval")
	}
	if r, ok := tab.Outranking(t0.Add(down), ourAddr); ok {
		t.Errorf("master still outranks us at its master-down interval: %+v", r)
	}
	rs := tab.Routers(t0.Add(down))
	if len(rs) != 1 || rs[0].Live || !rs[0].Expires.Equal(t0.Add(down)) {
		t.Errorf("Routers after expiry = %+v; want listed, not live, expires at %s", rs, t0.Add(down))
	}
	// A new advert revives it, and Observe says it was not live.
	if before, wasLive := tab.Observe(t0.Add(4*time.Second), kaA, advert(255), nil); wasLive || before.Source != kaA || before.Adverts != 1 {
		t.Errorf("Observe after expiry = %+v, %v", before, wasLive)
	}
	if _, ok := tab.Outranking(t0.Add(4*time.Second), ourAddr); !ok {
		t.Error("revived master does not outrank us")
	}
	// Long silent routers are forgotten.
	if rs := tab.Routers(t0.Add(4*time.Second + down + forgetAfter + time.Second)); len(rs) != 0 {
		t.Errorf("router not forgotten: %+v", rs)
	}
}

// The skew uses our priority and the router's own (v3) interval.
func TestTableExpiryV3Interval(t *testing.T) {
	tab := NewTable(101)
	a := Advert{Version: 3, VRID: 51, Priority: 200, Interval: 300 * time.Millisecond, Addresses: []netip.Addr{vip1}}
	tab.Observe(t0, kaC, a, nil)
	down := 900*time.Millisecond + 155*300*time.Millisecond/256
	if _, ok := tab.Outranking(t0.Add(down-time.Millisecond), ourAddr); !ok {
		t.Error("expired early")
	}
	if _, ok := tab.Outranking(t0.Add(down), ourAddr); ok {
		t.Error("not expired at 3 × 300ms + skew")
	}
}

func TestTableRecordsAdvert(t *testing.T) {
	tab := NewTable(250)
	mm := []Mismatch{{Field: "interval", Theirs: "2s", Ours: "1s"}}
	a := advert(101)
	a.Interval = 2 * time.Second
	tab.Observe(t0, kaA, a, mm)
	before, wasLive := tab.Observe(t0.Add(2*time.Second), kaA, advert(102), nil)
	if !wasLive || before.Priority != 101 || !reflect.DeepEqual(before.Mismatches, []string{"interval: theirs 2s, ours 1s"}) {
		t.Errorf("before = %+v, wasLive %v", before, wasLive)
	}
	rs := tab.Routers(t0.Add(2 * time.Second))
	if len(rs) != 1 {
		t.Fatalf("Routers = %+v", rs)
	}
	r := rs[0]
	want := Router{Source: kaA, Version: 2, Priority: 102, Interval: time.Second, Addresses: []netip.Addr{vip1},
		FirstSeen: t0, LastSeen: t0.Add(2 * time.Second), Adverts: 2, Live: true,
		Expires: t0.Add(2*time.Second + MasterDownInterval(2, time.Second, 250))}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("router\n %+v\nwant\n %+v", r, want)
	}
	// Snapshots share nothing with the table.
	r.Addresses[0] = vip2
	if got := tab.Routers(t0.Add(2 * time.Second))[0].Addresses[0]; got != vip1 {
		t.Errorf("changing a snapshot changed the table: %s", got)
	}
}

func TestTableBounded(t *testing.T) {
	tab := NewTable(250)
	for i := 0; i < maxRouters+10; i++ {
		src := netip.AddrFrom4([4]byte{10, 99, 1, byte(i)})
		tab.Observe(t0.Add(time.Duration(i)*time.Millisecond), src, advert(100), nil)
	}
	rs := tab.Routers(t0.Add(time.Second))
	if len(rs) != maxRouters {
		t.Fatalf("%d routers kept, want %d", len(rs), maxRouters)
	}
	// The oldest were evicted.
	if rs[0].Source != netip.AddrFrom4([4]byte{10, 99, 1, 10}) {
		t.Errorf("first kept router %s, want 10.99.1.10", rs[0].Source)
	}
	if st := tab.Stats(); st.Accepted != maxRouters+10 {
		t.Errorf("accepted %d", st.Accepted)
	}
}

func TestTableStats(t *testing.T) {
	tab := NewTable(250)
	tab.Drop(ReasonAuth)
	tab.Drop(ReasonAuth)
	tab.Drop(ReasonTTL)
	tab.Observe(t0, kaA, advert(101), nil)
	st := tab.Stats()
	want := Stats{Accepted: 1, Dropped: map[Reason]uint64{ReasonAuth: 2, ReasonTTL: 1}}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	st.Dropped[ReasonAuth] = 99
	if tab.Stats().Dropped[ReasonAuth] != 2 {
		t.Error("Stats shares its map with the table")
	}
	if len(tab.Routers(t0)) != 1 {
		t.Error("drops entered the table")
	}
}

func TestRouterJSON(t *testing.T) {
	tab := NewTable(250)
	tab.Observe(t0, kaA, advert(101), []Mismatch{{Field: "addresses", Theirs: "[]", Ours: "[10.99.0.10]"}})
	r := tab.Routers(t0.Add(time.Second))[0]
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"source":"10.99.0.11"`, `"version":2`, `"priority":101`, `"interval":"1s"`,
		`"addresses":["10.99.0.10"]`, `"live":true`, `"adverts":1`, `"mismatches":["addresses: theirs [], ours [10.99.0.10]"]`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON %s lacks %s", s, want)
		}
	}
	var back Router
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("JSON round trip\n %+v\nwant\n %+v", back, r)
	}
	if err := json.Unmarshal([]byte(`{"interval":"soon"}`), &back); err == nil {
		t.Error("bad interval accepted")
	}
}

// Run with -race: the receive loop writes while the agent reads.
func TestTableConcurrent(t *testing.T) {
	tab := NewTable(250)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				now := t0.Add(time.Duration(i) * time.Millisecond)
				src := netip.AddrFrom4([4]byte{10, 99, 0, byte(g*10 + i%5)})
				tab.Observe(now, src, advert(uint8(i)), nil)
				tab.Drop(Reasons[i%len(Reasons)])
				tab.Outranking(now, ourAddr)
				tab.Master(now)
				_ = fmt.Sprint(tab.Routers(now))
				tab.Stats()
			}
		}()
	}
	wg.Wait()
	if st := tab.Stats(); st.Accepted != 800 {
		t.Errorf("accepted %d, want 800", st.Accepted)
	}
}
