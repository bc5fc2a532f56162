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
		want      Verdict
		foreign   []net.HardwareAddr
		detail    []string // substrings of Detail
	}{
		{"holder answers", []net.HardwareAddr{macA}, "a", macA, OK, nil, []string{macA.String(), "holder a"}},
		{"holder answers twice", []net.HardwareAddr{macA, macA}, "a", macA, OK, nil, nil},
		{"nobody answers", nil, "a", macA, Silent, nil, []string{"nobody answers"}},
		{"nobody answers, nobody holds", nil, "", nil, Silent, nil, nil},
		{"another MAC answers", []net.HardwareAddr{macB}, "a", macA, Foreign, []net.HardwareAddr{macB}, []string{macB.String(), "not the holder", macA.String()}},
		{"holder and another", []net.HardwareAddr{macB, macA}, "a", macA, TwoHolders, []net.HardwareAddr{macB}, []string{"2 MACs", macA.String() + " and " + macB.String()}},
		{"two others", []net.HardwareAddr{macK, macB}, "a", macA, TwoHolders, []net.HardwareAddr{macB, macK}, nil},
		{"three", []net.HardwareAddr{macK, macB, macA}, "a", macA, TwoHolders, []net.HardwareAddr{macB, macK}, []string{"3 MACs"}},
		{"nobody holds, one answers", []net.HardwareAddr{macK}, "", nil, Foreign, []net.HardwareAddr{macK}, []string{"nobody holds the VIP", macK.String()}},
		{"nobody holds, stale MAC ignored", []net.HardwareAddr{macA}, "", macA, Foreign, []net.HardwareAddr{macA}, nil},
		{"nobody holds, two answer", []net.HardwareAddr{macA, macK}, "", nil, TwoHolders, []net.HardwareAddr{macA, macK}, nil},
		{"holder MAC unknown, one answers", []net.HardwareAddr{macA}, "a", nil, Unverified, nil, []string{"has not published"}},
		{"holder MAC unknown, two answer", []net.HardwareAddr{macA, macB}, "a", nil, TwoHolders, []net.HardwareAddr{macB}, nil},
		{"empty MAC ignored", []net.HardwareAddr{{}, macA}, "a", macA, OK, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := Judge(tc.answers, tc.holder, tc.holderMAC)
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
