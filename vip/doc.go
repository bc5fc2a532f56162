// Package vip puts the virtual IP addresses on a network interface and
// announces them on the LAN.
//
// Addresses are added with a kernel lifetime (valid_lft = preferred_lft =
// lease) instead of "forever": the holder must keep renewing them, and a
// holder that crashes, hangs or loses its quorum simply stops renewing, after
// which the kernel removes the address by itself. Acquire and Renew are the
// same netlink operation (RTM_NEWADDR with NLM_F_REPLACE), so renewing an
// address that has already expired re-adds it; deciding whether renewing is
// still allowed is the caller's job (raftvip renews only after the Raft
// leadership was verified).
//
// After the addresses are added, GARP sends gratuitous ARP so that switches
// and neighbours update their caches to this host's MAC address.
//
// Network namespaces: Netlink opens its netlink socket at its first call and
// keeps it, so all its operations act in the network namespace of the OS
// thread that made that first call; GARP opens its packet socket per
// announcement, on the calling thread. The agent is started inside its
// namespace by `ip netns exec`, so all its threads already live there and
// callers need nothing special. Only code that switches a single thread into
// another namespace (as the integration tests do) must call this package from
// that locked thread.
//
// Package vip/viptest provides recording fakes of Addresser and Announcer for
// unit tests of other packages.
package vip
