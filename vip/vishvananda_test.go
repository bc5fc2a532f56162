package vip

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// The integration tests read and change the kernel's addresses through
// vishvananda/netlink, a second implementation beside internal/rtnl, so
// that a mistake in rtnl's encoding cannot hide itself.

// vvAddr keeps the host bits: 10.99.0.10/24 must stay 10.99.0.10.
func vvAddr(p netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{
		IP:   net.IP(p.Addr().AsSlice()),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}}
}

func vvPrefix(a netlink.Addr) (netip.Prefix, bool) {
	if a.IPNet == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := a.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}
