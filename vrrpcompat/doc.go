// Package vrrpcompat speaks VRRP on the wire so that raftvip and keepalived
// can share a virtual router (VRID) while a site migrates host by host:
// keepalived must see raftvip as an ordinary VRRP master, and raftvip must
// see keepalived's masters and step aside when one outranks it.
//
// The package has four layers; the first three are pure and table-tested:
//
//   - the codec (Advert, Decode, Encode): VRRPv2 (RFC 3768, auth none and
//     simple password) and VRRPv3 for IPv4 (RFC 5798, checksum over the
//     IPv4 pseudo-header), with typed errors and never a panic;
//   - the receiver checks (Check, Expect, ReasonOf), modelled on
//     keepalived 2.2.7's vrrp_check_packet;
//   - the election (ForeignWins, SkewTime, MasterDownInterval) and the Table
//     of foreign routers that answers "does a live foreign master outrank
//     us?" and feeds `raftvip status`;
//   - the socket (Conn): a raw IPv4 socket bound to one interface, multicast
//     to 224.0.0.18 or unicast to peers, TTL 255, TOS 0xc0, source = the
//     interface's primary address.
//
// # What keepalived 2.2.7 does with a received advert
//
// Read from keepalived/vrrp/vrrp.c (vrrp_check_packet, vrrp_state_backup,
// vrrp_state_master_rx) and confirmed against the Debian binary in the
// tests of this package. An advert for an instance's VRID is dropped, and a
// BACKUP then behaves as if it never came (its master-down timer runs on),
// when: the length does not match the address count; the TTL is not 255
// (multicast mode only); the version differs; (v2) the auth type differs or
// the 8 password bytes differ; (v2) the advert interval differs from its own
// ("advertisement interval mismatch", dropped to avoid two masters); the
// type is not 1; the address count or any of its VIPs is missing from the
// advert ("ip address associated with VRID not present in MASTER advert");
// the checksum is wrong; a multicast instance got a unicast advert or the
// reverse. An advert for a VRID it has no instance for is ignored. A v3
// BACKUP adopts the master's advert interval.
//
// For an accepted advert a BACKUP with nopreempt (the seed's setup) stays
// BACKUP whatever the priority (above 0), and restarts its master-down
// timer (3 × interval + (256 − its priority)/256 s). Priority 0 makes it
// take over after only the skew time. A MASTER goes BACKUP on an advert of
// higher priority, or equal priority from a higher address.
//
// Consequences for raftvip: it must advertise exactly keepalived's VIP list
// and (v2) interval, with the same password, or keepalived ignores it and
// becomes a second master. raftvip itself reports interval and address
// differences as mismatches but still counts such a router as a master
// that may outrank it (see Check), which errs towards no VIP rather than
// two.
package vrrpcompat
