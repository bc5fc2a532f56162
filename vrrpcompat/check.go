package vrrpcompat

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Errors returned by Check: the advertisement is well formed but not for
// us, or not trustworthy. Each one drops the packet, as in keepalived.
var (
	ErrTTL          = errors.New("vrrp: IPv4 TTL is not 255")
	ErrWrongVRID    = errors.New("vrrp: virtual router id is not ours")
	ErrWrongVersion = errors.New("vrrp: VRRP version is not ours")
	ErrAuthMismatch = errors.New("vrrp: authentication type is not ours")
	ErrAuthFailure  = errors.New("vrrp: wrong password")
	ErrDestination  = errors.New("vrrp: multicast advert in unicast mode or unicast advert in multicast mode")
	ErrUntrusted    = errors.New("vrrp: source is not in vrrp.trusted_routers")
)

// Reason classifies why a received packet was dropped, for counters.
type Reason string

// Drop reasons. Every error of Decode, Check and the IPv4 parsing maps to
// exactly one of them (ReasonOf).
const (
	ReasonMalformed   Reason = "malformed"   // too short, wrong length, type, interval 0, bad IPv4 header
	ReasonChecksum    Reason = "checksum"    // VRRP checksum does not verify
	ReasonVersion     Reason = "version"     // not VRRP 2/3, or not the version we speak
	ReasonVRID        Reason = "vrid"        // another virtual router
	ReasonAuth        Reason = "auth"        // unknown or different auth type, wrong password
	ReasonTTL         Reason = "ttl"         // TTL not 255 in multicast mode
	ReasonDestination Reason = "destination" // multicast vs unicast mode
	ReasonUntrusted   Reason = "untrusted"   // an otherwise good advert from a source not in vrrp.trusted_routers
)

// Reasons lists every Reason, in a stable order for reports.
var Reasons = []Reason{ReasonMalformed, ReasonChecksum, ReasonVersion, ReasonVRID, ReasonAuth, ReasonTTL, ReasonDestination, ReasonUntrusted}

// ReasonOf maps an error of Decode or Check to its drop reason. Errors it
// does not know count as malformed.
func ReasonOf(err error) Reason {
	switch {
	case errors.Is(err, ErrChecksum):
		return ReasonChecksum
	case errors.Is(err, ErrVersion), errors.Is(err, ErrWrongVersion):
		return ReasonVersion
	case errors.Is(err, ErrWrongVRID):
		return ReasonVRID
	case errors.Is(err, ErrAuthType), errors.Is(err, ErrAuthMismatch), errors.Is(err, ErrAuthFailure):
		return ReasonAuth
	case errors.Is(err, ErrTTL):
		return ReasonTTL
	case errors.Is(err, ErrDestination):
		return ReasonDestination
	case errors.Is(err, ErrUntrusted):
		return ReasonUntrusted
	default:
		return ReasonMalformed
	}
}

// Expect is what the local configuration says adverts for our virtual
// router look like.
type Expect struct {
	Version  int
	VRID     uint8
	AuthType uint8   // version 2 only
	AuthData [8]byte // version 2 only, compared when AuthType is AuthPass
	// Interval and Addresses are compared but a difference does not drop
	// the advert; it is reported as a Mismatch (see Check). Zero values
	// skip the comparison.
	Interval  time.Duration
	Addresses []netip.Addr
	// Unicast is true when the router talks to unicast peers instead of
	// the multicast group. Conn.Receive sets it from the Conn's mode.
	Unicast bool
	// Trusted are the only foreign routers heeded (vrrp.trusted_routers);
	// empty means every source (see CheckSource). Own and Priority say
	// what raftvip's own adverts look like (a peer's address, raftvip's
	// priority or 0): those are let through whatever Trusted says, so that
	// raftvip's peers are not counted as forgeries.
	Trusted  []netip.Addr
	Own      []netip.Addr
	Priority uint8
}

// ExpectFor returns the expectation matching our own advertisement a: the
// same version, VRID, authentication, interval and addresses.
func ExpectFor(a Advert, unicast bool) Expect {
	return Expect{
		Version:   a.Version,
		VRID:      a.VRID,
		AuthType:  a.AuthType,
		AuthData:  a.AuthData,
		Interval:  a.Interval,
		Addresses: slices.Clone(a.Addresses),
		Unicast:   unicast,
		Priority:  a.Priority,
	}
}

// Mismatch is a difference between a foreign advert and our configuration
// that does not stop us from taking the advert into account.
type Mismatch struct {
	Field  string // "interval" or "addresses"
	Theirs string
	Ours   string
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s: theirs %s, ours %s", m.Field, m.Theirs, m.Ours)
}

// Check applies the receiver checks of RFC 3768 7.1 / RFC 5798 7.1 the way
// keepalived 2.2.7 (vrrp_check_packet) does, to an advert that Decode
// accepted, received with IPv4 TTL ttl at destination dst.
//
// It returns an error (wrapping ErrWrongVRID, ErrTTL, ErrWrongVersion,
// ErrAuthMismatch, ErrAuthFailure or ErrDestination) when the advert must
// be dropped, in this order: VRID (keepalived hands the packet to no
// instance), TTL (multicast mode only: keepalived does not check the TTL of
// unicast adverts unless told to), version, auth type, password,
// destination kind.
//
// Interval and address list differences come back as mismatches. keepalived
// 2.2.7 logs them and then ignores the advert ("advertisement interval
// mismatch" for version 2; "received an unexpected ip number count" and "ip
// address associated with VRID not present in MASTER advert" for both
// versions): a keepalived BACKUP treats such a master as absent and takes
// over after its master-down timer. A version 3 BACKUP adopts the master's
// interval instead. raftvip keeps such routers in its Table and lets them
// outrank it, because a router that claims the VRID is likely holding its
// addresses; the mismatches are reported so the operator can fix them.
func Check(a Advert, ttl int, dst netip.Addr, want Expect) ([]Mismatch, error) {
	if a.VRID != want.VRID {
		return nil, fmt.Errorf("%w: VRID %d, ours %d", ErrWrongVRID, a.VRID, want.VRID)
	}
	if !want.Unicast && ttl != TTL {
		return nil, fmt.Errorf("%w: TTL %d", ErrTTL, ttl)
	}
	if a.Version != want.Version {
		return nil, fmt.Errorf("%w: version %d, ours %d", ErrWrongVersion, a.Version, want.Version)
	}
	if a.Version == 2 {
		if a.AuthType != want.AuthType {
			return nil, fmt.Errorf("%w: auth type %d, ours %d", ErrAuthMismatch, a.AuthType, want.AuthType)
		}
		if want.AuthType == AuthPass && subtle.ConstantTimeCompare(a.AuthData[:], want.AuthData[:]) != 1 {
			// The password itself never goes into the error: errors end up
			// in logs and status.
			return nil, ErrAuthFailure
		}
	}
	if dst.IsMulticast() == want.Unicast {
		mode := "multicast"
		if want.Unicast {
			mode = "unicast"
		}
		return nil, fmt.Errorf("%w: destination %s in %s mode", ErrDestination, dst, mode)
	}
	var mm []Mismatch
	if want.Interval != 0 && a.Interval != want.Interval {
		mm = append(mm, Mismatch{Field: "interval", Theirs: a.Interval.String(), Ours: want.Interval.String()})
	}
	if want.Addresses != nil && !sameAddresses(a.Addresses, want.Addresses) {
		mm = append(mm, Mismatch{Field: "addresses", Theirs: addrList(a.Addresses), Ours: addrList(want.Addresses)})
	}
	return mm, nil
}

// CheckSource drops an advert that Check accepted when want.Trusted is set
// and src is not in it: VRRPv2's password travels in clear text, so a
// correct password proves nothing, and the source address is all that
// tells keepalived's routers from anyone else on the link. It runs after
// Check, so ReasonUntrusted counts exactly the adverts raftvip would
// otherwise have heeded. raftvip's own adverts (from a peer's address at
// raftvip's priority, or 0) pass: they are raftvip's, and the speaker
// leaves them out of every decision anyway. A keepalived running on a
// peer's host advertises another priority and must be listed like any
// other.
func CheckSource(src netip.Addr, a Advert, want Expect) error {
	if len(want.Trusted) == 0 || slices.Contains(want.Trusted, src) {
		return nil
	}
	if slices.Contains(want.Own, src) && (a.Priority == want.Priority || a.Priority == 0) {
		return nil
	}
	return fmt.Errorf("%w: %s (priority %d)", ErrUntrusted, src, a.Priority)
}

// sameAddresses compares like keepalived: the same count, and every address
// we expect present, in any order.
func sameAddresses(theirs, ours []netip.Addr) bool {
	if len(theirs) != len(ours) {
		return false
	}
	for _, a := range ours {
		if !slices.Contains(theirs, a) {
			return false
		}
	}
	return true
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

// String describes e for logs without its password.
func (e Expect) String() string {
	mode := "multicast"
	if e.Unicast {
		mode = "unicast"
	}
	return fmt.Sprintf("VRRPv%d vrid %d interval %s%s addresses %s %s",
		e.Version, e.VRID, e.Interval, authWord(e.Version, e.AuthType), addrList(e.Addresses), mode)
}

// GoString is String, so that %#v does not print the password either.
func (e Expect) GoString() string { return e.String() }
