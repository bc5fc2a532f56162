package lab

import (
	"context"
	"fmt"
	"github.com/raftvip/raftvip/internal/nsexec"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
)

// inNamespace runs fn on an OS thread switched into network namespace ns
// (sockets fn creates belong to ns); see nsexec.Do.
func inNamespace(ns string, fn func() error) error { return nsexec.Do(ns, fn) }

// DialInNamespace opens a connection from inside network namespace ns.
func DialInNamespace(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNamespace(ns, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("dial %s from %s: %w", addr, ns, err)
	}
	return c, nil
}

// SendGARP broadcasts one gratuitous ARP request ("who-has VIP tell VIP")
// from host's eth0, as a VIP owner does after taking the address. The lab's
// own tests use it when they move the VIP by hand.
func (l *Lab) SendGARP(host string) error {
	h, err := l.lookup(host)
	if err != nil {
		return err
	}
	vip := netip.MustParseAddr(VIP)
	return inNamespace(h.NS, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return fmt.Errorf("garp from %s: %w", h.NodeID, err)
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			return fmt.Errorf("garp from %s: %w", h.NodeID, err)
		}
		defer c.Close()
		p, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, vip, net.HardwareAddr{0, 0, 0, 0, 0, 0}, vip)
		if err != nil {
			return fmt.Errorf("garp from %s: %w", h.NodeID, err)
		}
		if err := c.WriteTo(p, net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); err != nil {
			return fmt.Errorf("garp from %s: %w", h.NodeID, err)
		}
		return nil
	})
}
