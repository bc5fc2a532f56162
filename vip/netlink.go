package vip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/raftvip/raftvip/internal/rtnl"
)

// Netlink is the kernel Addresser: it manages the VIPs through rtnetlink.
// Its socket is opened at the first call, in the network namespace of the
// calling thread, and reused by every later call (from any thread): an idle
// leader renews several times a second, and a socket per call was most of
// that cost.
type Netlink struct {
	iface string
	addrs []netip.Prefix
	log   hclog.Logger

	mu sync.Mutex // conn
	// conn is nil until the first call, and again after Close.
	conn *rtnl.Conn
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
	if n.log.IsDebug() { // three a second: no strings built for a line not written
		n.log.Debug("renewed VIP", "iface", n.iface, "addrs", addrStrings(n.addrs), "lease", lease)
	}
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
	c, link, err := n.link()
	if err != nil {
		return err
	}
	for _, p := range n.addrs {
		a := nlAddr(link, p)
		if secs > 0 {
			// Left out, the kernel would make the address permanent.
			a.CacheInfo = &rtnl.CacheInfo{Valid: uint32(secs), Preferred: uint32(secs)}
		}
		if err := c.ReplaceAddr(a); err != nil {
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
	c, link, err := n.link()
	if err != nil {
		var notFound *rtnl.LinkNotFoundError
		if errors.As(err, &notFound) {
			return fmt.Errorf("vip: release %s on %s: %w", strings.Join(addrStrings(n.addrs), ","), n.iface, ErrInterfaceGone)
		}
		return err
	}
	var (
		errs    []error
		removed []string
	)
	for _, p := range n.addrs {
		// Keep going after a failure: leaving one VIP behind is bad, leaving
		// all of them behind is worse.
		err := c.DeleteAddr(nlAddr(link, p))
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

// ReleaseLeftovers removes configured addresses that carry a finite
// lifetime — a raftvip agent's leftover after a crash — and leaves alone
// those with an infinite one, which another owner added (keepalived beside
// raftvip during a migration, or an operator). It returns what it kept.
func (n *Netlink) ReleaseLeftovers() (kept []netip.Prefix, err error) {
	c, link, err := n.link()
	if err != nil {
		var notFound *rtnl.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil, fmt.Errorf("vip: release leftovers on %s: %w", n.iface, ErrInterfaceGone)
		}
		return nil, err
	}
	addrs, err := c.Addrs(unix.AF_INET, link)
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
		if validLft(a) == rtnl.Forever {
			kept = append(kept, p)
			continue
		}
		if err := c.DeleteAddr(nlAddr(link, p)); err != nil && !isAbsent(err) {
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
	c, link, err := n.link()
	if err != nil {
		return nil, err
	}
	addrs, err := c.Addrs(unix.AF_INET, link)
	if err != nil {
		return nil, fmt.Errorf("vip: list addresses on %s: %w", n.iface, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if p, ok := prefixOf(a); ok && slices.Contains(n.addrs, p) && validLft(a) == rtnl.Forever {
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
	c, link, err := n.link()
	if err != nil {
		return false, err
	}
	present, err := n.list(c, link)
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

func (n *Netlink) list(c *rtnl.Conn, link int) (map[netip.Prefix]bool, error) {
	var (
		addrs []rtnl.AddrMessage
		err   error
	)
	for range dumpRetries {
		addrs, err = c.Addrs(unix.AF_INET, link)
		if !errors.Is(err, rtnl.ErrDumpInterrupted) {
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

// link returns the socket and the interface's index, looked up by name now:
// an interface that was deleted and created again (a new index) or renamed
// (its index now has another name) is followed by name, never by a cached
// index.
func (n *Netlink) link() (*rtnl.Conn, int, error) {
	c, err := n.dial()
	if err != nil {
		return nil, 0, fmt.Errorf("vip: find interface %s: %w", n.iface, err)
	}
	index, err := c.LinkIndex(n.iface)
	if err != nil {
		return nil, 0, fmt.Errorf("vip: find interface %s: %w", n.iface, err)
	}
	return c, index, nil
}

// dial opens the socket on first use; a failed attempt is tried again at
// the next call.
func (n *Netlink) dial() (*rtnl.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		c, err := rtnl.Dial()
		if err != nil {
			return nil, err
		}
		n.conn = c
	}
	return n.conn, nil
}

// Close closes the netlink socket. A later call opens a new one, in the
// namespace of the thread calling then.
func (n *Netlink) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	err := n.conn.Close()
	n.conn = nil
	return err
}

// nlAddr is what `ip addr add P brd + dev LINK` sends, as vishvananda/netlink
// did before: the host bits kept (10.99.0.10/24 must stay 10.99.0.10, not
// become the network 10.99.0.0), IFA_ADDRESS equal to IFA_LOCAL, and the
// subnet's broadcast address for prefixes up to /30 (RFC 3021: /31 and /32
// have none).
func nlAddr(link int, p netip.Prefix) rtnl.AddrMessage {
	a := rtnl.AddrMessage{
		Family:    unix.AF_INET,
		PrefixLen: uint8(p.Bits()),
		Index:     uint32(link),
		Local:     p.Addr(),
		Address:   p.Addr(),
	}
	if p.Addr().Is4() && p.Bits() < 31 {
		ip := p.Addr().As4()
		host := ^uint32(0) >> p.Bits()
		binary.BigEndian.PutUint32(ip[:], binary.BigEndian.Uint32(ip[:])|host)
		a.Broadcast = netip.AddrFrom4(ip)
	}
	return a
}

// prefixOf is the address as vishvananda/netlink reported it, which the
// configured VIPs are compared with: with a peer (IFA_ADDRESS other than
// IFA_LOCAL) the prefix length belongs to the peer and the local address
// counts as a /32.
func prefixOf(a rtnl.AddrMessage) (netip.Prefix, bool) {
	switch {
	case a.Local.IsValid() && a.Address == a.Local:
		return netip.PrefixFrom(a.Local.Unmap(), int(a.PrefixLen)), true
	case a.Local.IsValid():
		return netip.PrefixFrom(a.Local.Unmap(), a.Local.BitLen()), true
	case a.Address.IsValid():
		return netip.PrefixFrom(a.Address.Unmap(), int(a.PrefixLen)), true
	}
	return netip.Prefix{}, false
}

// validLft is the address's valid lifetime; none given means forever.
func validLft(a rtnl.AddrMessage) uint32 {
	if a.CacheInfo == nil {
		return rtnl.Forever
	}
	return a.CacheInfo.Valid
}
