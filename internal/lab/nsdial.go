package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"github.com/mdlayher/arp"
	"github.com/vishvananda/netns"
)

// inNamespace runs fn on an OS thread switched into network namespace ns.
// Sockets belong to the namespace of the thread that creates them, so fn
// creates its sockets there; once created they work from any goroutine.
func inNamespace(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open namespace %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: Go ends a locked thread when its
			// goroutine exits, so the switched namespace cannot leak to
			// other goroutines.
			errc <- fmt.Errorf("leave namespace %s: %w", ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

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
