package vip

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Addresser owns the VIP addresses on one interface.
type Addresser interface {
	// Acquire adds every address with valid_lft = preferred_lft = lease
	// (whole seconds, >= 1s), replacing any existing lifetime so that calling
	// it again renews the lease.
	Acquire(lease time.Duration) error
	// Renew is the same kernel operation as Acquire (replace with a fresh
	// lifetime); it is separate so that logs and metrics can tell the two apart.
	Renew(lease time.Duration) error
	// Release removes every configured address that is present; absent
	// addresses are not an error.
	Release() error
	// Held reports whether all configured addresses are currently on the
	// interface, as read from the kernel.
	Held() (bool, error)
}

// Announcer sends gratuitous ARP for the addresses.
type Announcer interface {
	// Announce sends GARPCount rounds, one every GARPInterval (the first one
	// immediately). It returns ctx.Err() early when ctx is cancelled.
	Announce(ctx context.Context) error
}

type firstSentKey struct{}

// WithFirstSent returns a context whose Announce calls f once, with the
// time its first round went out (the failover timeline's "first GARP").
// f must not block: it runs on the announcer's goroutine.
func WithFirstSent(ctx context.Context, f func(time.Time)) context.Context {
	return context.WithValue(ctx, firstSentKey{}, f)
}

// FirstSent tells the function WithFirstSent put in ctx, if any, that the
// first round went out at t. Announcer implementations call it.
func FirstSent(ctx context.Context, t time.Time) {
	if f, ok := ctx.Value(firstSentKey{}).(func(time.Time)); ok && f != nil {
		f(t)
	}
}

// Config says which addresses go on which interface and how they are announced.
type Config struct {
	// Interface is the link name, e.g. "eth0".
	Interface string
	// Addresses are the VIPs with their prefix length, e.g. 10.99.0.10/24.
	// IPv4 only for now; all addresses move together.
	Addresses []netip.Prefix
	// GARPCount is the number of gratuitous ARP rounds per Announce (>= 1).
	GARPCount int
	// GARPInterval is the pause between two rounds (> 0 when GARPCount > 1).
	GARPInterval time.Duration
}

// maxIfaceNameLen is IFNAMSIZ minus the terminating NUL.
const maxIfaceNameLen = 15

// validateAddresses checks the parts of cfg that the Addresser needs.
func (cfg Config) validateAddresses() error {
	if cfg.Interface == "" {
		return errors.New("vip: config: interface name is empty")
	}
	if len(cfg.Interface) > maxIfaceNameLen {
		return fmt.Errorf("vip: config: interface name %q is longer than %d bytes", cfg.Interface, maxIfaceNameLen)
	}
	if len(cfg.Addresses) == 0 {
		return fmt.Errorf("vip: config: no addresses for interface %s", cfg.Interface)
	}
	seen := make(map[netip.Addr]bool, len(cfg.Addresses))
	for i, p := range cfg.Addresses {
		if !p.IsValid() {
			return fmt.Errorf("vip: config: address #%d for interface %s is not a valid prefix", i+1, cfg.Interface)
		}
		// Is4 is false for IPv4-mapped IPv6 (::ffff:a.b.c.d) too: those would be
		// added as IPv6 addresses, which is not what the operator meant.
		if !p.Addr().Is4() {
			return fmt.Errorf("vip: config: address %s for interface %s is not IPv4 (only IPv4 is supported)", p, cfg.Interface)
		}
		if seen[p.Addr()] {
			return fmt.Errorf("vip: config: address %s for interface %s is listed twice", p.Addr(), cfg.Interface)
		}
		seen[p.Addr()] = true
	}
	return nil
}

// validateGARP checks the announcement parts of cfg.
func (cfg Config) validateGARP() error {
	if cfg.GARPCount < 1 {
		return fmt.Errorf("vip: config: GARP count for interface %s is %d, want >= 1", cfg.Interface, cfg.GARPCount)
	}
	if cfg.GARPInterval < 0 {
		return fmt.Errorf("vip: config: GARP interval for interface %s is negative (%s)", cfg.Interface, cfg.GARPInterval)
	}
	if cfg.GARPCount > 1 && cfg.GARPInterval == 0 {
		return fmt.Errorf("vip: config: GARP interval for interface %s is 0 with %d rounds; rounds must be spaced out", cfg.Interface, cfg.GARPCount)
	}
	return nil
}

// maxLeaseSeconds keeps the lifetime below 0xFFFFFFFF, which the kernel reads
// as INFINITY_LIFE_TIME: an "infinite lease" would defeat the whole point.
const maxLeaseSeconds = math.MaxUint32 - 1

// LeaseSeconds converts a lease to the whole seconds that the kernel's
// valid_lft/preferred_lft take. It refuses leases under one second (0 would
// mean "forever" to netlink) and fractions, rather than rounding silently.
func LeaseSeconds(d time.Duration) (int, error) {
	s, err := leaseSeconds(d)
	if err != nil {
		return 0, fmt.Errorf("vip: %w", err)
	}
	return s, nil
}

// leaseSeconds is LeaseSeconds without the package prefix, for errors that
// already name the operation and interface.
func leaseSeconds(d time.Duration) (int, error) {
	if d < time.Second {
		return 0, fmt.Errorf("lease %s is shorter than 1s", d)
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("lease %s is not a whole number of seconds", d)
	}
	s := int64(d / time.Second)
	if s > maxLeaseSeconds {
		return 0, fmt.Errorf("lease %s is longer than the kernel's finite maximum of %ds", d, int64(maxLeaseSeconds))
	}
	return int(s), nil
}

// addrStrings renders addresses for logs and errors.
func addrStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
