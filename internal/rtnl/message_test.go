package rtnl

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The layouts below are written little-endian, as netlink is on amd64 and
// arm64 (it is host-endian).
func littleEndianOnly(t *testing.T) {
	t.Helper()
	if ne.Uint16([]byte{1, 0}) != 1 {
		t.Skip("byte layouts are written for a little-endian host")
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	var digits []string
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "//")
		digits = append(digits, strings.Fields(line)...)
	}
	b, err := hex.DecodeString(strings.Join(digits, ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The renewal the agent sends: what vishvananda/netlink's AddrReplace sent
// for the same address (ip addr replace 10.99.0.10/24 brd + dev #2
// valid_lft 30 preferred_lft 30).
func TestReplaceRequestLayout(t *testing.T) {
	littleEndianOnly(t)
	a := AddrMessage{
		Family: unix.AF_INET, PrefixLen: 24, Index: 2,
		Local:     netip.MustParseAddr("10.99.0.10"),
		Address:   netip.MustParseAddr("10.99.0.10"),
		Broadcast: netip.MustParseAddr("10.99.0.255"),
		CacheInfo: &CacheInfo{Preferred: 30, Valid: 30},
	}
	body, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got := Message{Header: Header{Type: unix.RTM_NEWADDR, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK | unix.NLM_F_CREATE | unix.NLM_F_REPLACE, Sequence: 7}, Data: body}.appendTo(nil)
	want := unhex(t, `
		44000000 1400 0505 07000000 00000000  // nlmsghdr: len 68, RTM_NEWADDR, REQUEST|ACK|REPLACE|CREATE, seq 7
		02 18 00 00 02000000                  // ifaddrmsg: AF_INET /24 flags 0 scope universe, index 2
		0800 0200 0a63000a                    // IFA_LOCAL
		0800 0100 0a63000a                    // IFA_ADDRESS
		0800 0400 0a6300ff                    // IFA_BROADCAST
		1400 0600 1e000000 1e000000 00000000 00000000  // IFA_CACHEINFO: preferred 30, valid 30
	`)
	if !bytes.Equal(got, want) {
		t.Fatalf("request:\n got %x\nwant %x", got, want)
	}
}

// Flags above 8 bits do not fit ifaddrmsg: they go in IFA_FLAGS, and a label
// is NUL-terminated and padded.
func TestAddrFlagsAndLabelLayout(t *testing.T) {
	littleEndianOnly(t)
	a := AddrMessage{Family: unix.AF_INET, PrefixLen: 32, Flags: unix.IFA_F_NOPREFIXROUTE, Index: 1, Label: "eth0"}
	got, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
		02 20 00 00 01000000
		0800 0800 00020000        // IFA_FLAGS 0x200
		0900 0300 65746830 00 000000  // IFA_LABEL "eth0\0", padded to 12
	`)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
	small := AddrMessage{Family: unix.AF_INET, Flags: unix.IFA_F_SECONDARY}
	if got, _ := small.MarshalBinary(); got[2] != unix.IFA_F_SECONDARY || len(got) != addrMsgLen {
		t.Fatalf("8-bit flags: %x, want them in ifaddrmsg and no IFA_FLAGS", got)
	}
}

// An address as the kernel dumps it: both flag fields, attributes it does
// not know in between, a label.
func TestUnmarshalKernelAddr(t *testing.T) {
	littleEndianOnly(t)
	b := unhex(t, `
		02 18 80 00 03000000          // ifaddrmsg: /24, IFA_F_PERMANENT (0x80), index 3
		0800 0100 c0a80105            // IFA_ADDRESS 192.168.1.5
		0800 0200 c0a80105            // IFA_LOCAL
		0800 0400 c0a801ff            // IFA_BROADCAST
		0900 0300 65746830 00 000000  // IFA_LABEL eth0
		0800 0800 80020000            // IFA_FLAGS 0x280
		1400 0600 ffffffff ffffffff 10000000 20000000  // IFA_CACHEINFO forever
		0500 0b00 02 000000           // IFA_PROTO (unknown here)
	`)
	var got AddrMessage
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.168.1.5")
	want := AddrMessage{Family: unix.AF_INET, PrefixLen: 24, Flags: 0x280, Index: 3, Local: ip, Address: ip,
		Broadcast: netip.MustParseAddr("192.168.1.255"), Label: "eth0",
		CacheInfo: &CacheInfo{Preferred: Forever, Valid: Forever, Created: 0x10, Updated: 0x20}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestLinkRequestLayout(t *testing.T) {
	littleEndianOnly(t)
	got, err := (&LinkMessage{Name: "eth0"}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
		00 00 0000 00000000 00000000 00000000  // ifinfomsg, all zero
		0900 0300 65746830 00 000000           // IFLA_IFNAME "eth0\0"
	`)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
	long := strings.Repeat("x", 20)
	got, err = (&LinkMessage{AltName: long}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back LinkMessage
	if err := back.UnmarshalBinary(got); err != nil || back.AltName != long || ne.Uint16(got[18:20]) != unix.IFLA_ALT_IFNAME {
		t.Fatalf("alt name request %x: decoded %+v, %v", got, back, err)
	}
}

func TestMarshalRejectsNamesTheKernelCannotTake(t *testing.T) {
	for name, m := range map[string]interface{ MarshalBinary() ([]byte, error) }{
		"long label":    &AddrMessage{Label: strings.Repeat("x", 16)},
		"NUL in label":  &AddrMessage{Label: "a\x00b"},
		"long name":     &LinkMessage{Name: strings.Repeat("x", 16)},
		"long alt name": &LinkMessage{AltName: strings.Repeat("x", 128)},
	} {
		if _, err := m.MarshalBinary(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseMessages(t *testing.T) {
	littleEndianOnly(t)
	// Two messages: the first's 5-byte payload is padded to 8.
	b := unhex(t, `
		15000000 1000 0200 01000000 02000000  0102030405 000000  // RTM_NEWLINK with 5 bytes, padded
		10000000 0300 0200 01000000 02000000
	`)
	msgs, err := parseMessages(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []Message{
		{Header: Header{Length: 21, Type: unix.RTM_NEWLINK, Flags: unix.NLM_F_MULTI, Sequence: 1, PID: 2}, Data: []byte{1, 2, 3, 4, 5}},
		{Header: Header{Length: 16, Type: unix.NLMSG_DONE, Flags: unix.NLM_F_MULTI, Sequence: 1, PID: 2}, Data: []byte{}},
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Fatalf("got %+v\nwant %+v", msgs, want)
	}
	for name, bad := range map[string]string{
		"short header":        "10000000 0300",
		"length below header": "08000000 0300 0000 00000000 00000000",
		"length past end":     "20000000 0300 0000 00000000 00000000",
	} {
		if _, err := parseMessages(unhex(t, bad)); !errors.Is(err, errShort) {
			t.Errorf("%s: err = %v, want errShort", name, err)
		}
	}
	var a AddrMessage
	if err := a.UnmarshalBinary(unhex(t, "02180000 03000000 0300 0100")); !errors.Is(err, errShort) {
		t.Errorf("attribute shorter than its header: err = %v, want errShort", err)
	}
	if err := a.UnmarshalBinary(unhex(t, "02180000 03000000 0700 0200 0a0000")); !errors.Is(err, errShort) {
		t.Errorf("3-byte address: err = %v, want errShort", err)
	}
}

// feed is the protocol of an answer, tested on crafted messages: what ends
// it, which messages are someone else's, how errors and interrupted dumps
// come back.
func TestExchange(t *testing.T) {
	const seq, pid = 9, 4242
	errMsg := func(seq uint32, errno int32) Message {
		return Message{Header: Header{Type: unix.NLMSG_ERROR, Sequence: seq, PID: pid}, Data: ne.AppendUint32(nil, uint32(-errno))}
	}
	addr := func(seq uint32, flags uint16) Message {
		body, _ := (&AddrMessage{Family: unix.AF_INET, Index: 1}).MarshalBinary()
		return Message{Header: Header{Type: unix.RTM_NEWADDR, Flags: flags, Sequence: seq, PID: pid}, Data: body}
	}
	done := func(flags uint16, errno int32) Message {
		return Message{Header: Header{Type: unix.NLMSG_DONE, Flags: flags, Sequence: seq, PID: pid}, Data: ne.AppendUint32(nil, uint32(-errno))}
	}
	type step struct {
		msgs []Message
		done bool
	}
	for _, tc := range []struct {
		name  string
		ans   answer
		steps []step
		calls int
		err   error
	}{
		{"ack", answerAck, []step{{[]Message{errMsg(seq, 0)}, true}}, 0, nil},
		{"errno", answerAck, []step{{[]Message{errMsg(seq, int32(unix.EEXIST))}, true}}, 0, unix.EEXIST},
		{"stale answer skipped", answerAck, []step{
			{[]Message{errMsg(seq-1, int32(unix.ENODEV))}, false},
			{[]Message{errMsg(seq, 0)}, true}}, 0, nil},
		{"other port skipped", answerAck, []step{
			{[]Message{{Header: Header{Type: unix.NLMSG_ERROR, Sequence: seq, PID: pid + 1}, Data: make([]byte, 4)}}, false}}, 0, nil},
		{"one", answerOne, []step{{[]Message{addr(seq, 0)}, true}}, 1, nil},
		{"dump over two datagrams", answerDump, []step{
			{[]Message{addr(seq, unix.NLM_F_MULTI), addr(seq, unix.NLM_F_MULTI)}, false},
			{[]Message{addr(seq, unix.NLM_F_MULTI), done(unix.NLM_F_MULTI, 0)}, true}}, 3, nil},
		{"dump interrupted", answerDump, []step{
			{[]Message{addr(seq, unix.NLM_F_MULTI|unix.NLM_F_DUMP_INTR)}, false},
			{[]Message{done(unix.NLM_F_MULTI, 0)}, true}}, 1, ErrDumpInterrupted},
		{"interrupted flag on done only", answerDump, []step{
			{[]Message{addr(seq, unix.NLM_F_MULTI), done(unix.NLM_F_MULTI|unix.NLM_F_DUMP_INTR, 0)}, true}}, 1, ErrDumpInterrupted},
		{"dump error in done", answerDump, []step{{[]Message{done(unix.NLM_F_MULTI, int32(unix.EINVAL))}, true}}, 0, unix.EINVAL},
		{"dump refused", answerDump, []step{{[]Message{errMsg(seq, int32(unix.EPERM))}, true}}, 0, unix.EPERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			x := exchange{seq: seq, pid: pid, ans: tc.ans, fn: func(Message) error { calls++; return nil }}
			var err error
			for i, s := range tc.steps {
				var d bool
				d, err = x.feed(s.msgs)
				if d != s.done {
					t.Fatalf("step %d: done = %v, want %v", i, d, s.done)
				}
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if errno, ok := tc.err.(unix.Errno); ok && err != errno {
				t.Fatalf("err = %#v, want the bare errno %#v", err, errno)
			}
			if calls != tc.calls {
				t.Fatalf("%d messages handed on, want %d", calls, tc.calls)
			}
		})
	}
}

// Decoding and encoding again must give the same values: what the agent
// reads from the kernel is what it would send back.
func FuzzAddrMessage(f *testing.F) {
	seed, _ := (&AddrMessage{Family: unix.AF_INET, PrefixLen: 24, Flags: 0x280, Index: 2,
		Local: netip.MustParseAddr("10.0.0.1"), Address: netip.MustParseAddr("10.0.0.2"),
		Broadcast: netip.MustParseAddr("10.0.0.255"), Label: "eth0:1",
		CacheInfo: &CacheInfo{Preferred: 1, Valid: 2, Created: 3, Updated: 4}}).MarshalBinary()
	f.Add(seed)
	f.Add([]byte{10, 64, 0, 0, 1, 0, 0, 0, 20, 0, 1, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m AddrMessage
		if err := m.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, errShort) {
				t.Fatalf("decode error %v does not say malformed", err)
			}
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v cannot be encoded: %v", m, err)
		}
		var m2 AddrMessage
		if err := m2.UnmarshalBinary(out); err != nil {
			t.Fatalf("own encoding %x does not decode: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip:\n %+v\n %+v", m, m2)
		}
	})
}

func FuzzLinkMessage(f *testing.F) {
	seed, _ := (&LinkMessage{Family: unix.AF_UNSPEC, Type: 1, Index: 7, Flags: unix.IFF_UP, Change: 1, Name: "eth0", AltName: "enp0s31f6-long-name"}).MarshalBinary()
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m LinkMessage
		if err := m.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, errShort) {
				t.Fatalf("decode error %v does not say malformed", err)
			}
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v cannot be encoded: %v", m, err)
		}
		var m2 LinkMessage
		if err := m2.UnmarshalBinary(out); err != nil {
			t.Fatalf("own encoding %x does not decode: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip:\n %+v\n %+v", m, m2)
		}
	})
}

func FuzzMessages(f *testing.F) {
	one := Message{Header: Header{Type: unix.RTM_NEWADDR, Flags: unix.NLM_F_MULTI, Sequence: 1, PID: 2}, Data: []byte{1, 2, 3}}.appendTo(nil)
	f.Add(append(one, Message{Header: Header{Type: unix.NLMSG_DONE, Sequence: 1}, Data: []byte{0, 0, 0, 0}}.appendTo(nil)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := parseMessages(b)
		if err != nil {
			if !errors.Is(err, errShort) {
				t.Fatalf("parse error %v does not say malformed", err)
			}
			return
		}
		var out []byte
		for _, m := range msgs {
			out = m.appendTo(out)
		}
		msgs2, err := parseMessages(out)
		if err != nil {
			t.Fatalf("own encoding %x does not parse: %v", out, err)
		}
		if len(msgs) != len(msgs2) {
			t.Fatalf("%d messages became %d", len(msgs), len(msgs2))
		}
		for i := range msgs {
			if msgs[i].Header != msgs2[i].Header || !bytes.Equal(msgs[i].Data, msgs2[i].Data) {
				t.Fatalf("message %d:\n %+v\n %+v", i, msgs[i], msgs2[i])
			}
		}
	})
}
