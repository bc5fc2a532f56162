package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Netlink is the kernel Addresser: it manages the VIPs through rtnetlink in
// the calling thread's network namespace.
type Netlink struct {
	iface string
	addrs []netip.Prefix
	log   hclog.Logger
}

var _ Addresser = (*Netlink)(nil)

// NewNetlink checks cfg and returns an Addresser for cfg.Interface. It does
// not require the interface to exist yet: every call looks the link up by
// name, so an interface that is recreated (new index) is picked up again.
func NewNetlink(cfg Config, log hclog.Logger) (*Netlink, error) {
	if err := cfg.validateAddresses(); err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Netlink{
		iface: cfg.Interface,
		addrs: slices.Clone(cfg.Addresses),
		log:   log.Named("vip"),
	}, nil
}

// Acquire adds every address with a lifetime of lease.
func (n *Netlink) Acquire(lease time.Duration) error {
	if err := n.replace("add", lease); err != nil {
		return err
	}
	n.log.Info("acquired VIP", "iface", n.iface, "addrs", addrStrings(n.addrs), "lease", lease)
	return nil
}

// Renew sets a fresh lifetime of lease on every address (re-adding any that
// already expired).
func (n *Netlink) Renew(lease time.Duration) error {
	if err := n.replace("renew", lease); err != nil {
		return err
	}
	n.log.Debug("renewed VIP", "iface", n.iface, "addrs", addrStrings(n.addrs), "lease", lease)
	return nil
}

// replace is RTM_NEWADDR with NLM_F_CREATE|NLM_F_REPLACE for every address:
// the kernel creates a missing address and, for an existing one, overwrites
// its lifetimes, which is exactly "acquire or renew".
func (n *Netlink) replace(verb string, lease time.Duration) error {
	secs, err := leaseSeconds(lease)
	if err != nil {
		return fmt.Errorf("vip: %s %s on %s: %w", verb, strings.Join(addrStrings(n.addrs), ","), n.iface, err)
	}
	link, err := n.link()
	if err != nil {
		return err
	}
	for _, p := range n.addrs {
		a := nlAddr(p)
		a.ValidLft = secs
		a.PreferedLft = secs
		if err := netlink.AddrReplace(link, a); err != nil {
			// Stop at the first failure: the addresses already added carry the
			// lease and expire on their own; the caller decides whether to
			// Release.
			return fmt.Errorf("vip: %s %s on %s: %w", verb, p, n.iface, err)
		}
	}
	return nil
}

// ErrInterfaceGone is returned by Release when the interface is missing.
// That is no proof the addresses are gone: a renamed interface (udev, an
// operator's `ip link set name`) keeps them under its new name until their
// lifetime ends. The agent then waits for that lifetime instead.
var ErrInterfaceGone = errors.New("interface is gone; its addresses may live on under another name until their lifetime ends")

// Release deletes every configured address. Addresses that are already gone
// (for example expired by the kernel) count as released; a missing interface
// does not (ErrInterfaceGone).
func (n *Netlink) Release() error {
	link, err := netlink.LinkByName(n.iface)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return fmt.Errorf("vip: release %s on %s: %w", strings.Join(addrStrings(n.addrs), ","), n.iface, ErrInterfaceGone)
		}
		return fmt.Errorf("vip: find interface %s: %w", n.iface, err)
	}
	var (
		errs    []error
		removed []string
	)
	for _, p := range n.addrs {
		// Keep going after a failure: leaving one VIP behind is bad, leaving
		// all of them behind is worse.
		err := netlink.AddrDel(link, nlAddr(p))
		switch {
		case err == nil:
			removed = append(removed, p.String())
		case !isAbsent(err):
			errs = append(errs, fmt.Errorf("vip: delete %s on %s: %w", p, n.iface, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Only a removal is news: every start and stop releases, mostly with
	// nothing there ("removed=[]" said nothing). "removed" tells an operator
	// which addresses were still there rather than already expired.
	if len(removed) > 0 {
		n.log.Info("released VIP", "iface", n.iface, "addrs", addrStrings(n.addrs), "removed", removed)
	} else {
		n.log.Debug("release: VIP not present", "iface", n.iface, "addrs", addrStrings(n.addrs))
	}
	return nil
}

// foreverLft is the kernel's "infinite" address lifetime.
const foreverLft = 0xFFFFFFFF

// ReleaseLeftovers removes configured addresses that carry a finite
// lifetime — a raftvip agent's leftover after a crash — and leaves alone
// those with an infinite one, which another owner added (keepalived beside
// raftvip during a migration, or an operator). It returns what it kept.
func (n *Netlink) ReleaseLeftovers() (kept []netip.Prefix, err error) {
	link, err := n.link()
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil, fmt.Errorf("vip: release leftovers on %s: %w", n.iface, ErrInterfaceGone)
		}
		return nil, err
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("vip: list addresses on %s: %w", n.iface, err)
	}
	want := map[netip.Prefix]bool{}
	for _, p := range n.addrs {
		want[p] = true
	}
	var errs []error
	for _, a := range addrs {
		p, ok := prefixOf(a)
		if !ok || !want[p] {
			continue
		}
		if uint32(a.ValidLft) == foreverLft {
			kept = append(kept, p)
			continue
		}
		if err := netlink.AddrDel(link, nlAddr(p)); err != nil && !isAbsent(err) {
			errs = append(errs, fmt.Errorf("vip: delete %s on %s: %w", p, n.iface, err))
		} else {
			n.log.Warn("removed a VIP left by a previous agent (finite lifetime)", "iface", n.iface, "addr", p.String())
		}
	}
	return kept, errors.Join(errs...)
}

// Foreign returns the configured addresses present with an infinite
// lifetime: put there by another owner (a keepalived on this host), never
// by raftvip, whose addresses always carry the lease.
func (n *Netlink) Foreign() ([]netip.Prefix, error) {
	link, err := n.link()
	if err != nil {
		return nil, err
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("vip: list addresses on %s: %w", n.iface, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if p, ok := prefixOf(a); ok && slices.Contains(n.addrs, p) && uint32(a.ValidLft) == foreverLft {
			out = append(out, p)
		}
	}
	return out, nil
}

// isAbsent reports whether a delete failed only because the address was not
// there: the kernel answers EADDRNOTAVAIL for IPv4 (ENOENT on some paths).
func isAbsent(err error) bool {
	return errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT)
}

// Held reports whether every configured address (same IP and prefix length)
// is on the interface right now.
func (n *Netlink) Held() (bool, error) {
	link, err := n.link()
	if err != nil {
		return false, err
	}
	present, err := n.list(link)
	if err != nil {
		return false, err
	}
	for _, p := range n.addrs {
		if !present[p] {
			return false, nil
		}
	}
	return true, nil
}

// dumpRetries bounds the retries of an address dump that the kernel flagged
// as interrupted (the address list changed while it was being read).
const dumpRetries = 3

func (n *Netlink) list(link netlink.Link) (map[netip.Prefix]bool, error) {
	var (
		addrs []netlink.Addr
		err   error
	)
	for range dumpRetries {
		addrs, err = netlink.AddrList(link, netlink.FAMILY_V4)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("vip: list addresses on %s: %w", n.iface, err)
	}
	present := make(map[netip.Prefix]bool, len(addrs))
	for _, a := range addrs {
		if p, ok := prefixOf(a); ok {
			present[p] = true
		}
	}
	return present, nil
}

func (n *Netlink) link() (netlink.Link, error) {
	link, err := netlink.LinkByName(n.iface)
	if err != nil {
		return nil, fmt.Errorf("vip: find interface %s: %w", n.iface, err)
	}
	return link, nil
}

// nlAddr keeps the host bits: 10.99.0.10/24 must stay 10.99.0.10, not become
// the network 10.99.0.0.
func nlAddr(p netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{
		IP:   net.IP(p.Addr().AsSlice()),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}}
}

func prefixOf(a netlink.Addr) (netip.Prefix, bool) {
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
