package vrrpcompat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Wire constants shared by VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798).
const (
	// Protocol is the IPv4 protocol number of VRRP.
	Protocol = 112
	// TTL is the only IPv4 TTL a VRRP router sends and accepts (RFC 3768
	// 7.1, RFC 5798 7.1): a packet with a lower TTL crossed a router.
	TTL = 255
	// TOS is the IPv4 type of service keepalived sends with (internetwork
	// control); raftvip copies it so the two look alike on the wire.
	TOS = 0xc0
	// TypeAdvertisement is the only VRRP packet type.
	TypeAdvertisement = 1
)

// Authentication types of VRRPv2 (RFC 3768 5.3.6). VRRPv3 has none.
const (
	AuthNone uint8 = 0
	// AuthPass is the "simple text password" of RFC 2338 that RFC 3768
	// deprecated but keepalived still speaks (auth_type PASS): the
	// password, NUL-padded, is sent in clear in the 8 authentication bytes.
	AuthPass uint8 = 1
)

// MulticastGroup is the IPv4 group VRRP advertisements are sent to.
var MulticastGroup = netip.AddrFrom4([4]byte{224, 0, 0, 18})

const (
	headerLen  = 8 // version/type, VRID, priority, count, 2 bytes, checksum
	authLen    = 8 // VRRPv2 authentication data
	maxAddrs   = 255
	v3MaxCenti = 0x0fff
)

// Errors returned by Decode and Encode. They are wrapped with details
// (what was found, what was expected), so compare with errors.Is.
var (
	ErrTooShort   = errors.New("vrrp: packet shorter than the 8-byte VRRP header")
	ErrVersion    = errors.New("vrrp: unsupported version (want 2 or 3)")
	ErrType       = errors.New("vrrp: not an advertisement (type 1)")
	ErrVRIDZero   = errors.New("vrrp: virtual router id 0 (valid: 1-255)")
	ErrLength     = errors.New("vrrp: length does not match the address count")
	ErrChecksum   = errors.New("vrrp: bad checksum")
	ErrInterval   = errors.New("vrrp: advertisement interval out of range")
	ErrAuthType   = errors.New("vrrp: unsupported authentication type")
	ErrNotIPv4    = errors.New("vrrp: only IPv4 is supported")
	ErrTooManyIPs = errors.New("vrrp: more than 255 addresses")
)

// Advert is one VRRP advertisement, version 2 or 3, for IPv4.
type Advert struct {
	// Version is 2 (RFC 3768) or 3 (RFC 5798).
	Version  int
	VRID     uint8
	Priority uint8
	// Interval is the advertisement interval: whole seconds 1-255 for
	// version 2, multiples of 10 ms up to 40.95 s for version 3 (where it
	// is the sender's Max Advertise Interval).
	Interval time.Duration
	// AuthType and AuthData exist in version 2 only; they are zero for
	// version 3. AuthData is sent as is: for AuthPass build it with
	// AuthData(password).
	AuthType  uint8
	AuthData  [8]byte
	Addresses []netip.Addr
	// Checksum is the checksum found on the wire (Decode). Encode ignores
	// it and computes the right one.
	Checksum uint16
}

// AuthData returns the 8 authentication bytes keepalived sends for
// `auth_pass`: the password NUL-padded, cut to 8 bytes as keepalived cuts
// longer passwords (with a warning in its log).
func AuthData(password string) [8]byte {
	var b [8]byte
	copy(b[:], password)
	return b
}

// Len is the length of the encoded advertisement in bytes.
func (a Advert) Len() int {
	n := headerLen + 4*len(a.Addresses)
	if a.Version == 2 {
		n += authLen
	}
	return n
}

// Decode parses a VRRP message (the IPv4 payload) received from src to dst
// and verifies its version, type, length and checksum. src and dst are
// needed for the version 3 checksum (it covers an IPv4 pseudo-header); they
// are ignored for version 2.
//
// Decode accepts what keepalived accepts on the wire and nothing it would
// throw away as malformed; policy checks that depend on the local
// configuration (VRID, authentication, TTL) are in Check. The only bits it
// does not keep are the 4 reserved bits of version 3, which RFC 5798 5.2.5
// says to ignore on reception; Encode writes them as zero.
func Decode(b []byte, src, dst netip.Addr) (Advert, error) {
	if len(b) < headerLen {
		return Advert{}, fmt.Errorf("%w: %d bytes", ErrTooShort, len(b))
	}
	a := Advert{
		Version:  int(b[0] >> 4),
		VRID:     b[1],
		Priority: b[2],
		Checksum: binary.BigEndian.Uint16(b[6:8]),
	}
	if a.Version != 2 && a.Version != 3 {
		return Advert{}, fmt.Errorf("%w: version %d", ErrVersion, a.Version)
	}
	if t := b[0] & 0x0f; t != TypeAdvertisement {
		return Advert{}, fmt.Errorf("%w: type %d", ErrType, t)
	}
	if a.VRID == 0 {
		return Advert{}, ErrVRIDZero
	}
	count := int(b[3])
	want := headerLen + 4*count
	if a.Version == 2 {
		want += authLen
	}
	if len(b) != want {
		return Advert{}, fmt.Errorf("%w: %d bytes, want %d for version %d with %d addresses",
			ErrLength, len(b), want, a.Version, count)
	}
	switch a.Version {
	case 2:
		a.AuthType = b[4]
		if a.AuthType != AuthNone && a.AuthType != AuthPass {
			return Advert{}, fmt.Errorf("%w: %d (know 0 none, 1 simple password)", ErrAuthType, a.AuthType)
		}
		if b[5] == 0 {
			return Advert{}, fmt.Errorf("%w: version 2 interval 0 s", ErrInterval)
		}
		a.Interval = time.Duration(b[5]) * time.Second
		copy(a.AuthData[:], b[want-authLen:])
		if sum := checksum(0, b); sum != 0 {
			return Advert{}, fmt.Errorf("%w: version 2 checksum 0x%04x does not verify", ErrChecksum, a.Checksum)
		}
	case 3:
		cs := binary.BigEndian.Uint16(b[4:6]) & v3MaxCenti
		if cs == 0 {
			return Advert{}, fmt.Errorf("%w: version 3 interval 0 cs", ErrInterval)
		}
		a.Interval = time.Duration(cs) * 10 * time.Millisecond
		ph, err := pseudoHeaderSum(src, dst, len(b))
		if err != nil {
			return Advert{}, err
		}
		if sum := checksum(ph, b); sum != 0 {
			return Advert{}, fmt.Errorf("%w: version 3 checksum 0x%04x does not verify for %s -> %s", ErrChecksum, a.Checksum, src, dst)
		}
	}
	if count > 0 {
		a.Addresses = make([]netip.Addr, count)
		for i := range a.Addresses {
			a.Addresses[i] = netip.AddrFrom4([4]byte(b[headerLen+4*i : headerLen+4*i+4]))
		}
	}
	return a, nil
}

// Encode returns the VRRP message (the IPv4 payload) for a sent from src to
// dst, with its checksum. src and dst are used only by version 3; for a
// unicast peer dst is that peer, as keepalived does by default.
func (a Advert) Encode(src, dst netip.Addr) ([]byte, error) {
	if a.Version != 2 && a.Version != 3 {
		return nil, fmt.Errorf("%w: version %d", ErrVersion, a.Version)
	}
	if a.VRID == 0 {
		return nil, ErrVRIDZero
	}
	if len(a.Addresses) > maxAddrs {
		return nil, fmt.Errorf("%w: %d", ErrTooManyIPs, len(a.Addresses))
	}
	for _, ip := range a.Addresses {
		if !ip.Is4() {
			return nil, fmt.Errorf("%w: address %s", ErrNotIPv4, ip)
		}
	}
	b := make([]byte, a.Len())
	b[0] = byte(a.Version)<<4 | TypeAdvertisement
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = byte(len(a.Addresses))
	for i, ip := range a.Addresses {
		a4 := ip.As4()
		copy(b[headerLen+4*i:], a4[:])
	}
	var ph uint32
	switch a.Version {
	case 2:
		if a.AuthType != AuthNone && a.AuthType != AuthPass {
			return nil, fmt.Errorf("%w: %d", ErrAuthType, a.AuthType)
		}
		if a.Interval < time.Second || a.Interval > 255*time.Second || a.Interval%time.Second != 0 {
			return nil, fmt.Errorf("%w: version 2 needs whole seconds 1-255, have %s", ErrInterval, a.Interval)
		}
		b[4] = a.AuthType
		b[5] = byte(a.Interval / time.Second)
		copy(b[len(b)-authLen:], a.AuthData[:])
	case 3:
		if a.AuthType != AuthNone || a.AuthData != [8]byte{} {
			return nil, fmt.Errorf("%w: version 3 has no authentication", ErrAuthType)
		}
		cs := a.Interval / (10 * time.Millisecond)
		if a.Interval%(10*time.Millisecond) != 0 || cs < 1 || cs > v3MaxCenti {
			return nil, fmt.Errorf("%w: version 3 needs multiples of 10ms up to 40.95s, have %s", ErrInterval, a.Interval)
		}
		binary.BigEndian.PutUint16(b[4:6], uint16(cs))
		var err error
		if ph, err = pseudoHeaderSum(src, dst, len(b)); err != nil {
			return nil, err
		}
	}
	binary.BigEndian.PutUint16(b[6:8], checksum(ph, b))
	return b, nil
}

// pseudoHeaderSum is the unfolded one's complement sum of the IPv4
// pseudo-header RFC 5798 5.2.8 puts in front of a version 3 message: source,
// destination, a zero byte, the protocol (112) and the VRRP length.
func pseudoHeaderSum(src, dst netip.Addr, length int) (uint32, error) {
	if !src.Is4() || !dst.Is4() {
		return 0, fmt.Errorf("%w: version 3 pseudo-header needs IPv4 source and destination, have %s -> %s", ErrNotIPv4, src, dst)
	}
	s, d := src.As4(), dst.As4()
	var sum uint32
	sum += uint32(s[0])<<8 | uint32(s[1])
	sum += uint32(s[2])<<8 | uint32(s[3])
	sum += uint32(d[0])<<8 | uint32(d[1])
	sum += uint32(d[2])<<8 | uint32(d[3])
	sum += Protocol
	sum += uint32(length)
	return sum, nil
}

// checksum is the Internet checksum (RFC 1071) of b, starting from the
// partial sum initial. Over a message whose checksum field is filled in it
// returns 0 when the checksum is right; over one with a zero checksum field
// it returns the value to put there.
func checksum(initial uint32, b []byte) uint16 {
	sum := initial
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// String describes a for logs. It never shows the authentication data: for
// AuthPass that is the password in clear.
func (a Advert) String() string {
	return fmt.Sprintf("VRRPv%d vrid %d priority %d interval %s%s addresses %s",
		a.Version, a.VRID, a.Priority, a.Interval, authWord(a.Version, a.AuthType), addrList(a.Addresses))
}

// authWord names the authentication of a version 2 message for logs.
func authWord(version int, authType uint8) string {
	if version != 2 {
		return ""
	}
	switch authType {
	case AuthNone:
		return " auth none"
	case AuthPass:
		return " auth pass"
	default:
		return fmt.Sprintf(" auth type %d", authType)
	}
}

// GoString is String, so that %#v does not print the password either.
func (a Advert) GoString() string { return a.String() }
