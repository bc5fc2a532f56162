package vip

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestLeaseSeconds(t *testing.T) {
	tests := []struct {
		name    string
		in      time.Duration
		want    int
		wantErr string
	}{
		{name: "one second", in: time.Second, want: 1},
		{name: "ten seconds", in: 10 * time.Second, want: 10},
		{name: "one hour", in: time.Hour, want: 3600},
		{name: "zero", in: 0, wantErr: "shorter than 1s"},
		{name: "negative", in: -time.Second, wantErr: "shorter than 1s"},
		{name: "sub-second", in: 999 * time.Millisecond, wantErr: "shorter than 1s"},
		{name: "fraction", in: 1500 * time.Millisecond, wantErr: "not a whole number"},
		{name: "one nanosecond over", in: 2*time.Second + 1, wantErr: "not a whole number"},
		{name: "kernel infinity", in: (1<<32 - 1) * time.Second, wantErr: "finite maximum"},
		{name: "largest finite", in: (1<<32 - 2) * time.Second, want: 1<<32 - 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LeaseSeconds(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("LeaseSeconds(%s) = %d, nil; want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "vip: ") {
					t.Fatalf("LeaseSeconds(%s) error = %q; want vip:-prefixed error containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("LeaseSeconds(%s) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func validConfig() Config {
	return Config{
		Interface:    "eth0",
		Addresses:    []netip.Prefix{netip.MustParsePrefix("10.99.0.10/24")},
		GARPCount:    3,
		GARPInterval: 100 * time.Millisecond,
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // empty: both constructors accept it
		garp    bool   // the error only concerns NewGARP
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "two addresses and /32", mutate: func(c *Config) {
			c.Addresses = append(c.Addresses, netip.MustParsePrefix("10.99.0.11/32"))
		}},
		{name: "single round needs no interval", mutate: func(c *Config) { c.GARPCount, c.GARPInterval = 1, 0 }},
		{name: "empty interface", mutate: func(c *Config) { c.Interface = "" }, wantErr: "interface name is empty"},
		{name: "interface name too long", mutate: func(c *Config) { c.Interface = "abcdefghijklmnop" }, wantErr: "longer than 15"},
		{name: "no addresses", mutate: func(c *Config) { c.Addresses = nil }, wantErr: "no addresses for interface eth0"},
		{name: "IPv6", mutate: func(c *Config) {
			c.Addresses = []netip.Prefix{netip.MustParsePrefix("fd00::10/64")}
		}, wantErr: "fd00::10/64 for interface eth0 is not IPv4"},
		{name: "IPv4-mapped IPv6", mutate: func(c *Config) {
			c.Addresses = []netip.Prefix{netip.MustParsePrefix("::ffff:10.99.0.10/120")}
		}, wantErr: "is not IPv4"},
		{name: "IPv6 after IPv4", mutate: func(c *Config) {
			c.Addresses = append(c.Addresses, netip.MustParsePrefix("fd00::10/64"))
		}, wantErr: "is not IPv4"},
		{name: "zero prefix", mutate: func(c *Config) { c.Addresses = []netip.Prefix{{}} }, wantErr: "not a valid prefix"},
		{name: "duplicate address", mutate: func(c *Config) {
			c.Addresses = append(c.Addresses, netip.MustParsePrefix("10.99.0.10/32"))
		}, wantErr: "listed twice"},
		{name: "zero GARP count", mutate: func(c *Config) { c.GARPCount = 0 }, wantErr: "GARP count", garp: true},
		{name: "negative GARP interval", mutate: func(c *Config) { c.GARPInterval = -time.Second }, wantErr: "negative", garp: true},
		{name: "several rounds without interval", mutate: func(c *Config) { c.GARPInterval = 0 }, wantErr: "spaced out", garp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.mutate(&cfg)

			_, nlErr := NewNetlink(cfg, nil)
			_, garpErr := NewGARP(cfg, nil)

			check := func(who string, err error, wantErr string) {
				t.Helper()
				if wantErr == "" {
					if err != nil {
						t.Fatalf("%s: unexpected error %v", who, err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("%s: error = %v; want one containing %q", who, err, wantErr)
				}
			}
			nlWant := tt.wantErr
			if tt.garp {
				nlWant = "" // NewNetlink does not care about announcements
			}
			check("NewNetlink", nlErr, nlWant)
			check("NewGARP", garpErr, tt.wantErr)
		})
	}
}

func TestNewNetlinkCopiesAddresses(t *testing.T) {
	cfg := validConfig()
	n, err := NewNetlink(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addresses[0] = netip.MustParsePrefix("192.0.2.1/24")
	if got := n.addrs[0].String(); got != "10.99.0.10/24" {
		t.Fatalf("caller's slice change leaked into Netlink: %s", got)
	}
}

// A missing interface must be reported by name. Looking a link up is allowed
// without privileges, so this runs as any user.
func TestNetlinkErrorsNameMissingInterface(t *testing.T) {
	cfg := validConfig()
	cfg.Interface = "rvnosuch0"
	n, err := NewNetlink(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"Acquire": func() error { return n.Acquire(5 * time.Second) },
		"Renew":   func() error { return n.Renew(5 * time.Second) },
		"Held":    func() error { _, err := n.Held(); return err },
	} {
		err := call()
		if err == nil || !strings.Contains(err.Error(), "rvnosuch0") {
			t.Errorf("%s on a missing interface: error = %v; want one naming rvnosuch0", name, err)
		}
	}
	// A missing interface is no proof that its addresses are gone: they may
	// live on under its new name (issue 8, case 7).
	if err := n.Release(); !errors.Is(err, ErrInterfaceGone) || !strings.Contains(err.Error(), "rvnosuch0") {
		t.Errorf("Release on a missing interface = %v; want ErrInterfaceGone naming rvnosuch0", err)
	}
	if _, err := n.ReleaseLeftovers(); !errors.Is(err, ErrInterfaceGone) {
		t.Errorf("ReleaseLeftovers on a missing interface = %v; want ErrInterfaceGone", err)
	}
}

func TestAcquireRejectsBadLeaseBeforeTouchingKernel(t *testing.T) {
	cfg := validConfig()
	cfg.Interface = "rvnosuch0" // the lease must be rejected before the link lookup
	n, err := NewNetlink(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Acquire(500 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "shorter than 1s") || !strings.Contains(err.Error(), "10.99.0.10/24 on rvnosuch0") {
		t.Fatalf("Acquire(500ms) error = %v; want lease error naming address and interface", err)
	}
}

func TestAnnounceCancelledContext(t *testing.T) {
	g, err := NewGARP(validConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Announce(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Announce with a cancelled context = %v; want context.Canceled", err)
	}
}

func TestAnnounceMissingInterface(t *testing.T) {
	cfg := validConfig()
	cfg.Interface = "rvnosuch0"
	g, err := NewGARP(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Announce(context.Background()); err == nil || !strings.Contains(err.Error(), "rvnosuch0") {
		t.Fatalf("Announce on a missing interface = %v; want error naming rvnosuch0", err)
	}
}
