package arpwatch

import (
	"net"
	"strings"
	"testing"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

var (
	macA = mac("02:00:0a:63:00:0b")
	macB = mac("02:00:0a:63:00:0c")
	macK = mac("02:00:0a:63:00:99")
)

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answers   []net.HardwareAddr
		holder    string
		holderMAC net.HardwareAddr
		vrrp      bool
		want      Verdict
		foreign   []net.HardwareAddr
		detail    []string // substrings of Detail
	}{
		{"holder answers", []net.HardwareAddr{macA}, "a", macA, false, OK, nil, []string{macA.String(), "holder a"}},
		{"holder answers twice", []net.HardwareAddr{macA, macA}, "a", macA, false, OK, nil, nil},
		{"nobody answers", nil, "a", macA, false, Silent, nil, []string{"nobody answers"}},
		{"nobody answers, nobody holds", nil, "", nil, false, Silent, nil, nil},
		{"another MAC answers", []net.HardwareAddr{macB}, "a", macA, false, Foreign, []net.HardwareAddr{macB}, []string{macB.String(), "not the holder", macA.String()}},
		{"holder and another", []net.HardwareAddr{macB, macA}, "a", macA, false, TwoHolders, []net.HardwareAddr{macB}, []string{"2 MACs", macA.String() + " and " + macB.String()}},
		{"two others", []net.HardwareAddr{macK, macB}, "a", macA, false, TwoHolders, []net.HardwareAddr{macB, macK}, nil},
		{"three", []net.HardwareAddr{macK, macB, macA}, "a", macA, false, TwoHolders, []net.HardwareAddr{macB, macK}, []string{"3 MACs"}},
		{"nobody holds, one answers", []net.HardwareAddr{macK}, "", nil, false, Foreign, []net.HardwareAddr{macK}, []string{"nobody holds the VIP", macK.String()}},
		{"nobody holds, stale MAC ignored", []net.HardwareAddr{macA}, "", macA, false, Foreign, []net.HardwareAddr{macA}, nil},
		{"nobody holds, two answer", []net.HardwareAddr{macA, macK}, "", nil, false, TwoHolders, []net.HardwareAddr{macA, macK}, nil},
		{"holder MAC unknown, one answers", []net.HardwareAddr{macA}, "a", nil, false, Unverified, nil, []string{"has not published"}},
		{"holder MAC unknown, two answer", []net.HardwareAddr{macA, macB}, "a", nil, false, TwoHolders, []net.HardwareAddr{macB}, nil},
		{"vrrp: keepalived serves while raftvip holds nothing", []net.HardwareAddr{macK}, "", nil, true, Unverified, nil, []string{"keepalived may serve"}},
		{"vrrp: two answer while raftvip holds nothing", []net.HardwareAddr{macK, macB}, "", nil, true, TwoHolders, []net.HardwareAddr{macB, macK}, nil},
		{"vrrp: keepalived beside raftvip's holder", []net.HardwareAddr{macA, macK}, "a", macA, true, TwoHolders, []net.HardwareAddr{macK}, nil},
		{"vrrp: holder alone", []net.HardwareAddr{macA}, "a", macA, true, OK, nil, nil},
		{"empty MAC ignored", []net.HardwareAddr{{}, macA}, "a", macA, false, OK, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := Judge(tc.answers, Expectation{Holder: tc.holder, HolderMAC: tc.holderMAC, VRRP: tc.vrrp})
			if j.Verdict != tc.want {
				t.Fatalf("verdict %s (%s), want %s", j.Verdict, j.Detail, tc.want)
			}
			if macList(j.Foreign) != macList(tc.foreign) {
				t.Errorf("foreign %s, want %s", macList(j.Foreign), macList(tc.foreign))
			}
			for _, s := range tc.detail {
				if !strings.Contains(j.Detail, s) {
					t.Errorf("detail %q does not say %q", j.Detail, s)
				}
			}
			if j.Verdict.Alarm() != (tc.want == TwoHolders || tc.want == Foreign) {
				t.Errorf("Alarm() = %v for %s", j.Verdict.Alarm(), j.Verdict)
			}
		})
	}
}
