package lab

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/raftvip/raftvip/vrrpcompat"
)

// VRRPAdvert is the advert the lab's VRRP routers (keepalived as the lab
// configures it, raftvip's vrrp block from VRRPSettings defaults) agree on:
// VRRPv2, VRID 51, advert_int 1 s, PASS 1111, the VIP. Tests change one
// field of it to craft an advert that must be dropped.
func VRRPAdvert(priority uint8) vrrpcompat.Advert {
	return vrrpcompat.Advert{
		Version:   2,
		VRID:      51,
		Priority:  priority,
		Interval:  time.Second,
		AuthType:  vrrpcompat.AuthPass,
		AuthData:  vrrpcompat.AuthData("1111"),
		Addresses: []netip.Addr{netip.MustParseAddr(VIP)},
	}
}

// SendVRRP sends a n times, every apart, from host's eth0 address to the
// VRRP multicast group with IPv4 TTL ttl, exactly as given: a wrong VRID,
// password or TTL goes out as such. It is for tests that must show such
// adverts are dropped. host should not run a VRRP router of its own.
func (l *Lab) SendVRRP(ctx context.Context, host string, a vrrpcompat.Advert, ttl, n int, every time.Duration) error {
	h, err := l.lookup(host)
	if err != nil {
		return err
	}
	if n < 1 || n > 100 {
		return fmt.Errorf("send VRRP from %s: %d adverts: want 1 to 100", h.NodeID, n)
	}
	src := netip.MustParseAddr(h.IP)
	payload, err := a.Encode(src, vrrpcompat.MulticastGroup)
	if err != nil {
		return fmt.Errorf("send VRRP from %s: %w", h.NodeID, err)
	}
	var c *vrrpcompat.Conn
	err = inNamespace(h.NS, func() error {
		var err error
		c, err = vrrpcompat.Open(vrrpcompat.Config{Interface: "eth0", Logger: l.log.Named("craft")})
		return err
	})
	if err != nil {
		return fmt.Errorf("send VRRP from %s: %w", h.NodeID, err)
	}
	defer c.Close()
	l.note("fault", "crafted VRRP adverts", "from", h.NodeID, "advert", a.String(), "ttl", ttl, "count", n)
	for i := 0; i < n; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(every):
			}
		}
		if err := c.WriteRaw(src, vrrpcompat.MulticastGroup, ttl, payload); err != nil {
			return fmt.Errorf("send VRRP from %s: %w", h.NodeID, err)
		}
	}
	return nil
}
