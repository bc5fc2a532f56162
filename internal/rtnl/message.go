package rtnl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"
)

// Netlink is host-endian: the kernel writes its own structs as they are in
// memory.
var ne = binary.NativeEndian

// errShort is wrapped by every decoding error of a truncated or malformed
// message, so tests (and the fuzzer) can tell "bad input" from a bug.
var errShort = errors.New("rtnl: malformed message")

// Header is struct nlmsghdr.
type Header struct {
	Length   uint32 // of the whole message, header included, without padding
	Type     uint16 // NLMSG_* or RTM_*
	Flags    uint16 // NLM_F_*
	Sequence uint32
	PID      uint32 // port id: 0 from the kernel; ours in replies to us
}

const headerLen = unix.SizeofNlMsghdr

func (h Header) append(b []byte) []byte {
	b = ne.AppendUint32(b, h.Length)
	b = ne.AppendUint16(b, h.Type)
	b = ne.AppendUint16(b, h.Flags)
	b = ne.AppendUint32(b, h.Sequence)
	return ne.AppendUint32(b, h.PID)
}

// Message is one netlink message: its header and its payload (the bytes
// after the header, without the trailing alignment padding).
type Message struct {
	Header Header
	Data   []byte
}

// MarshalBinary encodes m with Header.Length computed from Data, padded to
// the 4-byte alignment netlink requires between messages.
func (m Message) MarshalBinary() ([]byte, error) {
	return m.appendTo(nil), nil
}

func (m Message) appendTo(b []byte) []byte {
	h := m.Header
	h.Length = uint32(headerLen + len(m.Data))
	b = h.append(b)
	b = append(b, m.Data...)
	return pad(b)
}

// parseMessages splits one datagram from the socket into its messages. Data
// aliases b.
func parseMessages(b []byte) ([]Message, error) {
	var msgs []Message
	for len(b) > 0 {
		if len(b) < headerLen {
			return nil, fmt.Errorf("%w: %d bytes left, a header needs %d", errShort, len(b), headerLen)
		}
		h := Header{
			Length:   ne.Uint32(b[0:4]),
			Type:     ne.Uint16(b[4:6]),
			Flags:    ne.Uint16(b[6:8]),
			Sequence: ne.Uint32(b[8:12]),
			PID:      ne.Uint32(b[12:16]),
		}
		if h.Length < headerLen || int(h.Length) > len(b) {
			return nil, fmt.Errorf("%w: message length %d with %d bytes left", errShort, h.Length, len(b))
		}
		msgs = append(msgs, Message{Header: h, Data: b[headerLen:h.Length:h.Length]})
		b = b[min(align(int(h.Length)), len(b)):]
	}
	return msgs, nil
}

func align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

func pad(b []byte) []byte {
	for len(b)%unix.NLMSG_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// attribute is one struct rtattr with its value.
type attribute struct {
	typ   uint16
	value []byte
}

func appendAttr(b []byte, typ uint16, value []byte) []byte {
	b = ne.AppendUint16(b, uint16(unix.SizeofRtAttr+len(value)))
	b = ne.AppendUint16(b, typ)
	b = append(b, value...)
	return pad(b)
}

// nlaTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from a type.
const nlaTypeMask = 0x3fff

func parseAttrs(b []byte) ([]attribute, error) {
	var attrs []attribute
	for len(b) > 0 {
		if len(b) < unix.SizeofRtAttr {
			return nil, fmt.Errorf("%w: %d bytes left, an attribute needs %d", errShort, len(b), unix.SizeofRtAttr)
		}
		l, typ := int(ne.Uint16(b[0:2])), ne.Uint16(b[2:4])
		if l < unix.SizeofRtAttr || l > len(b) {
			return nil, fmt.Errorf("%w: attribute %d of length %d with %d bytes left", errShort, typ, l, len(b))
		}
		attrs = append(attrs, attribute{typ: typ & nlaTypeMask, value: b[unix.SizeofRtAttr:l:l]})
		b = b[min(align(l), len(b)):]
	}
	return attrs, nil
}

// CacheInfo is struct ifa_cacheinfo: an address's lifetimes in seconds
// (Forever for none) and its creation and update times in hundredths of a
// second since boot (set by the kernel; ignored in requests).
type CacheInfo struct {
	Preferred uint32
	Valid     uint32
	Created   uint32
	Updated   uint32
}

// Forever is the lifetime of an address that never expires.
const Forever = 0xFFFFFFFF

// AddrMessage is an RTM_NEWADDR/RTM_DELADDR message: struct ifaddrmsg and
// the attributes raftvip uses. A zero netip.Addr, an empty Label and a nil
// CacheInfo are attributes left out.
type AddrMessage struct {
	Family    uint8 // unix.AF_INET
	PrefixLen uint8
	// Flags are IFA_F_*. ifaddrmsg has only 8 bits for them; larger ones
	// (IFA_F_NOPREFIXROUTE...) travel in IFA_FLAGS, which then wins.
	Flags uint32
	Scope uint8 // RT_SCOPE_*; 0 is universe
	Index uint32
	// Local is IFA_LOCAL, the address itself. Address is IFA_ADDRESS: the
	// peer on a point-to-point link, else the same as Local (IPv4 always
	// sends both).
	Local     netip.Addr
	Address   netip.Addr
	Broadcast netip.Addr // IFA_BROADCAST
	Label     string     // IFA_LABEL, at most 15 bytes
	CacheInfo *CacheInfo // IFA_CACHEINFO
}

const addrMsgLen = unix.SizeofIfAddrmsg

// MarshalBinary encodes m as the payload of a netlink message.
func (m *AddrMessage) MarshalBinary() ([]byte, error) {
	return m.appendTo(make([]byte, 0, 64))
}

func (m *AddrMessage) appendTo(b []byte) ([]byte, error) {
	if len(m.Label) >= unix.IFNAMSIZ || strings.IndexByte(m.Label, 0) >= 0 {
		return nil, fmt.Errorf("rtnl: address label %q: at most %d bytes, no NUL", m.Label, unix.IFNAMSIZ-1)
	}
	hdrFlags := uint8(0)
	if m.Flags <= 0xff {
		hdrFlags = uint8(m.Flags)
	}
	b = append(b, m.Family, m.PrefixLen, hdrFlags, m.Scope)
	b = ne.AppendUint32(b, m.Index)
	for _, a := range []struct {
		typ  uint16
		addr netip.Addr
	}{{unix.IFA_LOCAL, m.Local}, {unix.IFA_ADDRESS, m.Address}, {unix.IFA_BROADCAST, m.Broadcast}} {
		if a.addr.IsValid() {
			b = appendAttr(b, a.typ, a.addr.AsSlice())
		}
	}
	if m.Flags > 0xff {
		b = appendAttr(b, unix.IFA_FLAGS, ne.AppendUint32(nil, m.Flags))
	}
	if m.Label != "" {
		b = appendAttr(b, unix.IFA_LABEL, append([]byte(m.Label), 0))
	}
	if ci := m.CacheInfo; ci != nil {
		v := make([]byte, 0, unix.SizeofIfaCacheinfo)
		for _, x := range []uint32{ci.Preferred, ci.Valid, ci.Created, ci.Updated} {
			v = ne.AppendUint32(v, x)
		}
		b = appendAttr(b, unix.IFA_CACHEINFO, v)
	}
	return b, nil
}

// UnmarshalBinary decodes the payload of an address message. Attributes it
// does not know (IFA_PROTO, IFA_RT_PRIORITY...) are skipped.
func (m *AddrMessage) UnmarshalBinary(b []byte) error {
	if len(b) < addrMsgLen {
		return fmt.Errorf("%w: ifaddrmsg of %d bytes, want %d", errShort, len(b), addrMsgLen)
	}
	*m = AddrMessage{Family: b[0], PrefixLen: b[1], Flags: uint32(b[2]), Scope: b[3], Index: ne.Uint32(b[4:8])}
	attrs, err := parseAttrs(b[align(addrMsgLen):])
	if err != nil {
		return err
	}
	for _, a := range attrs {
		switch a.typ {
		case unix.IFA_LOCAL, unix.IFA_ADDRESS, unix.IFA_BROADCAST:
			ip, ok := netip.AddrFromSlice(a.value)
			if !ok {
				return fmt.Errorf("%w: address attribute %d of %d bytes", errShort, a.typ, len(a.value))
			}
			switch a.typ {
			case unix.IFA_LOCAL:
				m.Local = ip
			case unix.IFA_ADDRESS:
				m.Address = ip
			default:
				m.Broadcast = ip
			}
		case unix.IFA_FLAGS:
			if len(a.value) != 4 {
				return fmt.Errorf("%w: IFA_FLAGS of %d bytes", errShort, len(a.value))
			}
			m.Flags = ne.Uint32(a.value)
		case unix.IFA_LABEL:
			if m.Label, err = cString(a.value, unix.IFNAMSIZ, "IFA_LABEL"); err != nil {
				return err
			}
		case unix.IFA_CACHEINFO:
			if len(a.value) < unix.SizeofIfaCacheinfo {
				return fmt.Errorf("%w: IFA_CACHEINFO of %d bytes", errShort, len(a.value))
			}
			m.CacheInfo = &CacheInfo{
				Preferred: ne.Uint32(a.value[0:4]),
				Valid:     ne.Uint32(a.value[4:8]),
				Created:   ne.Uint32(a.value[8:12]),
				Updated:   ne.Uint32(a.value[12:16]),
			}
		}
	}
	return nil
}

// LinkMessage is an RTM_GETLINK request or RTM_NEWLINK reply: struct
// ifinfomsg and the names. Replies carry many more attributes (stats,
// MTU...); they are skipped.
type LinkMessage struct {
	Family uint8
	Type   uint16 // ARPHRD_*
	Index  uint32
	Flags  uint32 // IFF_*
	Change uint32
	Name   string // IFLA_IFNAME, at most 15 bytes
	// AltName is IFLA_ALT_IFNAME: a lookup by a name longer than 15 bytes
	// must ask by alternative name (`ip link property add altname`).
	AltName string
}

const linkMsgLen = unix.SizeofIfInfomsg

// altIfnamsiz is the kernel's ALTIFNAMSIZ, NUL included.
const altIfnamsiz = 128

// MarshalBinary encodes m as the payload of a netlink message.
func (m *LinkMessage) MarshalBinary() ([]byte, error) {
	return m.appendTo(make([]byte, 0, 48))
}

func (m *LinkMessage) appendTo(b []byte) ([]byte, error) {
	if len(m.Name) >= unix.IFNAMSIZ || strings.IndexByte(m.Name, 0) >= 0 {
		return nil, fmt.Errorf("rtnl: interface name %q: at most %d bytes, no NUL", m.Name, unix.IFNAMSIZ-1)
	}
	if len(m.AltName) >= altIfnamsiz || strings.IndexByte(m.AltName, 0) >= 0 {
		return nil, fmt.Errorf("rtnl: interface name %q: at most 127 bytes, no NUL", m.AltName)
	}
	b = append(b, m.Family, 0)
	b = ne.AppendUint16(b, m.Type)
	b = ne.AppendUint32(b, m.Index)
	b = ne.AppendUint32(b, m.Flags)
	b = ne.AppendUint32(b, m.Change)
	if m.Name != "" {
		b = appendAttr(b, unix.IFLA_IFNAME, append([]byte(m.Name), 0))
	}
	if m.AltName != "" {
		b = appendAttr(b, unix.IFLA_ALT_IFNAME, append([]byte(m.AltName), 0))
	}
	return b, nil
}

// UnmarshalBinary decodes the payload of a link message.
func (m *LinkMessage) UnmarshalBinary(b []byte) error {
	if len(b) < linkMsgLen {
		return fmt.Errorf("%w: ifinfomsg of %d bytes, want %d", errShort, len(b), linkMsgLen)
	}
	*m = LinkMessage{Family: b[0], Type: ne.Uint16(b[2:4]), Index: ne.Uint32(b[4:8]), Flags: ne.Uint32(b[8:12]), Change: ne.Uint32(b[12:16])}
	attrs, err := parseAttrs(b[linkMsgLen:])
	if err != nil {
		return err
	}
	for _, a := range attrs {
		switch a.typ {
		case unix.IFLA_IFNAME:
			if m.Name, err = cString(a.value, unix.IFNAMSIZ, "IFLA_IFNAME"); err != nil {
				return err
			}
		case unix.IFLA_ALT_IFNAME:
			if m.AltName, err = cString(a.value, altIfnamsiz, "IFLA_ALT_IFNAME"); err != nil {
				return err
			}
		}
	}
	return nil
}

// cString is the NUL-terminated string at the start of b, if it is shorter
// than max bytes (the kernel's limit for it, NUL included). Longer ones are
// rejected rather than kept: the kernel never sends them, and Marshal could
// not send them back.
func cString(b []byte, max int, what string) (string, error) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) >= max {
		return "", fmt.Errorf("%w: %s of %d bytes", errShort, what, len(b))
	}
	return string(b), nil
}
