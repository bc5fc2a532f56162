package config

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// VRRP modes.
const (
	VRRPOff     = "off"     // no VRRP at all (the default)
	VRRPObserve = "observe" // listen and report; never touch the VIP
	VRRPActive  = "active"  // advertise while holding the VIP, yield to a stronger VRRP master
)

// VRRP defaults. Priority 250 is above any usual keepalived priority, so
// keepalived backups stay backup while raftvip holds the VIP.
const (
	DefaultVRRPVersion   = 2 // keepalived's default
	DefaultVRRPPriority  = 250
	DefaultVRRPAdvertInt = time.Second
	// DefaultUntrustedBlockMax is how long in total VRRP masters may keep
	// raftvip from the VIP while vrrp.trusted_routers is empty: far longer
	// than a real keepalived needs to yield (one advert interval), short
	// enough that a forged advert is a short outage, not a lasting one.
	DefaultUntrustedBlockMax = 30 * time.Second
)

// maxAuthPass is the size of the VRRPv2 authentication data field.
const maxAuthPass = 8

var vrrpModes = []string{VRRPOff, VRRPObserve, VRRPActive}

// buildVRRP checks the vrrp block. vip is the node's vip block (possibly
// from a witness, where it is ignored) and supplies the default interface.
// An absent block yields mode "off" with every default filled in.
func buildVRRP(c *collector, r *rawVRRP, vip *VIP, isWitness bool) VRRP {
	v := VRRP{
		Mode:      VRRPOff,
		Version:   DefaultVRRPVersion,
		Priority:  DefaultVRRPPriority,
		AdvertInt: DefaultVRRPAdvertInt,

		UntrustedBlockMax: DefaultUntrustedBlockMax,
	}
	if vip != nil {
		v.Interface = vip.Interface
	}
	if r == nil {
		return v
	}

	mode, modeSt := c.str(r.Mode, "vrrp.mode")
	if modeSt == valid {
		if slices.Contains(vrrpModes, mode) {
			v.Mode = mode
		} else {
			c.at(r.Mode.Range, `vrrp.mode: %q is not a mode; want "off", "observe" (listen and report only) or "active"`, mode)
			modeSt = invalid
		}
	}
	if isWitness && modeSt == valid && mode != VRRPOff {
		c.at(r.Mode.Range, `vrrp.mode = %q: only db nodes speak VRRP; the witness holds no VIP (set mode = "off" or remove the vrrp block)`, mode)
	}
	on := modeSt == valid && mode != VRRPOff

	ver, verSt := c.integer(r.Version, "vrrp.version", math.MinInt64, math.MaxInt64)
	if verSt == valid && ver != 2 && ver != 3 {
		c.at(r.Version.Range, "vrrp.version = %d: want 2 (RFC 3768, keepalived's default) or 3 (RFC 5798)", ver)
		verSt = invalid
	}
	v.Version = int(orDefault(ver, verSt, DefaultVRRPVersion))

	vrid, st := c.integer(r.VRID, "vrrp.virtual_router_id", 1, 255)
	if st == absent && on {
		c.at(r.DefRange, `vrrp: virtual_router_id is required when mode = %q: the VRID (1..255) shared with the keepalived routers, keepalived's virtual_router_id`, mode)
	}
	v.VRID = uint8(orDefault(vrid, st, 0))

	prio, st := c.integer(r.Priority, "vrrp.priority", math.MinInt64, math.MaxInt64)
	if st == valid {
		switch {
		case prio == 255:
			c.at(r.Priority.Range, "vrrp.priority = 255 is reserved for the router that owns the VIP as its real address (RFC 3768 5.3.4); raftvip never does, so use 1..254")
			st = invalid
		case prio == 0:
			c.at(r.Priority.Range, `vrrp.priority = 0 means "the master is giving up" (RFC 3768 5.3.4); raftvip sends it itself on release, so use 1..254`)
			st = invalid
		case prio < 0 || prio > 255:
			c.at(r.Priority.Range, "vrrp.priority = %d is out of range; want 1..254", prio)
			st = invalid
		}
	}
	v.Priority = uint8(orDefault(prio, st, DefaultVRRPPriority))

	adv, st := c.duration(r.AdvertInt, "vrrp.advert_int")
	if st == valid && verSt != invalid {
		if msg := checkAdvertInt(adv, v.Version); msg != "" {
			c.at(r.AdvertInt.Range, "vrrp.advert_int = %q %s", c.text(r.AdvertInt), msg)
			st = invalid
		}
	}
	v.AdvertInt = orDefault(adv, st, DefaultVRRPAdvertInt)

	// The password is never quoted back in a message: it is a secret.
	pass, st := c.str(r.AuthPass, "vrrp.auth_pass")
	if st == valid {
		switch {
		case verSt != invalid && v.Version == 3:
			c.at(r.AuthPass.Range, "vrrp.auth_pass: VRRPv3 has no authentication (RFC 5798 removed it, and keepalived ignores it with version 3); remove auth_pass or set version = 2")
		case pass == "":
			c.at(r.AuthPass.Range, "vrrp.auth_pass must not be empty; leave it out for no authentication")
		case len(pass) > maxAuthPass:
			c.at(r.AuthPass.Range, "vrrp.auth_pass is %d bytes; VRRPv2 carries at most %d, and keepalived silently truncates a longer auth_pass to its first %d, so which password is meant would be a guess; use at most %d bytes (the first %d of keepalived's value)", len(pass), maxAuthPass, maxAuthPass, maxAuthPass, maxAuthPass)
		default:
			v.AuthPass = pass
		}
	}

	v.UnicastPeers, _ = c.routerList(r.UnicastPeers, "vrrp.unicast_peers", `"10.99.0.12"`, parseUnicastPeer)
	var trusted int // elements written, valid or not
	v.TrustedRouters, trusted = c.routerList(r.Trusted, "vrrp.trusted_routers", `"10.99.0.14"`, parseTrustedRouter)

	bmax, st := c.duration(r.UntrustedMax, "vrrp.untrusted_block_max")
	if st == valid {
		// A real keepalived master needs about one advert interval to hear
		// raftvip and turn backup; a bound shorter than a master-down
		// interval would ignore it before it could.
		least := max(time.Second, 3*v.AdvertInt)
		switch {
		case trusted > 0:
			c.at(r.UntrustedMax.Range, "vrrp.untrusted_block_max applies only while trusted_routers is empty: with trusted_routers set, adverts from other routers are dropped and the listed ones are heeded without a time limit; remove untrusted_block_max or trusted_routers")
			st = invalid
		case bmax < least:
			c.at(r.UntrustedMax.Range, "vrrp.untrusted_block_max = %q is too short: want at least %s (3 × advert_int, and 1s), or a real keepalived master would be ignored before it could yield", c.text(r.UntrustedMax), least)
			st = invalid
		}
	}
	v.UntrustedBlockMax = orDefault(bmax, st, DefaultUntrustedBlockMax)

	ifname, st := c.nonEmptyStr(r.Interface, "vrrp.interface")
	if st == valid {
		if len(ifname) > maxIfName {
			c.at(r.Interface.Range, "vrrp.interface: %q is longer than %d bytes, the Linux limit for interface names", ifname, maxIfName)
		} else {
			v.Interface = ifname
		}
	}
	return v
}

// checkAdvertInt returns "" when d fits the advertisement interval field of
// the given VRRP version, or the reason it does not.
func checkAdvertInt(d time.Duration, version int) string {
	if version == 2 {
		// RFC 3768: an 8-bit count of seconds.
		if d < time.Second || d > 255*time.Second || d%time.Second != 0 {
			return "does not fit VRRPv2: the advert interval is whole seconds, 1s..255s (an 8-bit field)"
		}
		return ""
	}
	// RFC 5798: a 12-bit count of centiseconds.
	const cs = 10 * time.Millisecond
	if d < cs || d > 4095*cs || d%cs != 0 {
		return "does not fit VRRPv3: the advert interval is a multiple of 10ms, 10ms..40.95s (a 12-bit count of centiseconds)"
	}
	return ""
}

// routerList decodes a list of router addresses, each checked by parse and
// listed once; every bad element is reported at its own file:line. It also
// returns how many elements were written.
func (c *collector) routerList(attr *hcl.Attribute, name, example string, parse func(string) (netip.Addr, string)) ([]netip.Addr, int) {
	elems, _ := c.strList(attr, name, example)
	var out []netip.Addr
	seen := map[netip.Addr]hcl.Range{}
	for _, e := range elems {
		a, msg := parse(e.val)
		if msg != "" {
			c.at(e.rng, "%s: %s", name, msg)
			continue
		}
		if first, dup := seen[a]; dup {
			c.at(e.rng, "%s: %s is listed twice (first at %s)", name, a, fmtRange(first))
			continue
		}
		seen[a] = e.rng
		out = append(out, a)
	}
	return out, len(elems)
}

// parseTrustedRouter accepts the IPv4 source address of a VRRP router.
func parseTrustedRouter(s string) (netip.Addr, string) {
	return parseRouterAddr(s, "be the source of a VRRP advert (unspecified, loopback, multicast or broadcast address)",
		"want the IPv4 address a keepalived router sends its adverts from (its unicast_src_ip or mcast_src_ip, by default its interface's first address), like 10.99.0.14")
}

// parseUnicastPeer accepts the IPv4 address of a VRRP router.
func parseUnicastPeer(s string) (netip.Addr, string) {
	return parseRouterAddr(s, "be a VRRP peer (unspecified, loopback, multicast or broadcast address; leave unicast_peers empty for multicast)",
		"want an IPv4 address like 10.99.0.12")
}

// parseRouterAddr accepts a unicast IPv4 address; cannot says what such an
// address cannot be, want what to write instead.
func parseRouterAddr(s, cannot, want string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, "\"" + s + "\" is not an IP address; " + want
	}
	if !a.Is4() {
		return a, "\"" + s + "\" is not IPv4 (raftvip speaks VRRP over IPv4 only); " + want
	}
	if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return a, "\"" + s + "\" cannot " + cannot + "; " + want
	}
	return a, ""
}
