package vrrpcompat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrIPHeader is returned for a received datagram whose IPv4 header is
// broken (Linux raw sockets deliver the header; normally the kernel has
// already refused such packets, so this guards against surprises).
var ErrIPHeader = errors.New("vrrp: malformed IPv4 header")

const ipv4HeaderLen = 20

// ipHeader is the part of a received IPv4 header the receiver checks.
type ipHeader struct {
	TOS      uint8
	TTL      int
	Protocol int
	Src, Dst netip.Addr
}

// parseIPv4 splits a datagram read from a raw IPv4 socket into its header
// and payload. Like keepalived it insists that the header's total length is
// exactly what was received.
func parseIPv4(b []byte) (ipHeader, []byte, error) {
	if len(b) < ipv4HeaderLen {
		return ipHeader{}, nil, fmt.Errorf("%w: %d bytes", ErrIPHeader, len(b))
	}
	if v := b[0] >> 4; v != 4 {
		return ipHeader{}, nil, fmt.Errorf("%w: version %d", ErrIPHeader, v)
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < ipv4HeaderLen || ihl > len(b) {
		return ipHeader{}, nil, fmt.Errorf("%w: header length %d in a %d-byte datagram", ErrIPHeader, ihl, len(b))
	}
	if tot := int(binary.BigEndian.Uint16(b[2:4])); tot != len(b) {
		return ipHeader{}, nil, fmt.Errorf("%w: total length %d but received %d bytes", ErrIPHeader, tot, len(b))
	}
	h := ipHeader{
		TOS:      b[1],
		TTL:      int(b[8]),
		Protocol: int(b[9]),
		Src:      netip.AddrFrom4([4]byte(b[12:16])),
		Dst:      netip.AddrFrom4([4]byte(b[16:20])),
	}
	return h, b[ihl:], nil
}

// marshalIPv4 builds the datagram keepalived would send: a 20-byte header
// (TOS 0xc0, no fragmentation, protocol 112) in front of payload. With
// IP_HDRINCL Linux fills in the ID when it is zero and always recomputes the
// header checksum; both are set here anyway so the bytes are complete.
func marshalIPv4(src, dst netip.Addr, ttl int, id uint16, payload []byte) ([]byte, error) {
	if !src.Is4() || !dst.Is4() {
		return nil, fmt.Errorf("%w: IPv4 header needs IPv4 addresses, have %s -> %s", ErrNotIPv4, src, dst)
	}
	if ttl < 0 || ttl > 255 {
		return nil, fmt.Errorf("vrrp: TTL %d out of range 0-255", ttl)
	}
	if len(payload) > 0xffff-ipv4HeaderLen {
		return nil, fmt.Errorf("vrrp: payload of %d bytes does not fit an IPv4 datagram", len(payload))
	}
	b := make([]byte, ipv4HeaderLen+len(payload))
	b[0] = 4<<4 | ipv4HeaderLen/4
	b[1] = TOS
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:6], id)
	b[8] = byte(ttl)
	b[9] = Protocol
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:12], checksum(0, b[:ipv4HeaderLen]))
	copy(b[ipv4HeaderLen:], payload)
	return b, nil
}
