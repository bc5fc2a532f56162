package arpwatch

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// packetConn is the real Conn: an AF_PACKET socket for ARP on one
// interface (CAP_NET_RAW), as vip.GARP uses to announce.
type packetConn struct {
	ifi     *net.Interface
	conn    *packet.Conn
	srcIP   netip.Addr
	buf     []byte
	watched map[netip.Addr]bool
}

// repliesOnly is a socket filter that keeps ARP replies (the operation, 2
// bytes after the 14-byte Ethernet header and 6 bytes of ARP header, is 2)
// and drops the rest: requests, ours among them, are most of a LAN's ARP
// traffic and the round would only skip them.
var repliesOnly = func() []bpf.RawInstruction {
	raw, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 20, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(arp.OperationReply), SkipFalse: 1},
		bpf.RetConstant{Val: 1 << 16},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		panic(fmt.Sprintf("arpwatch: assembling BPF filter: %v", err))
	}
	return raw
}()

// Open returns a Conn factory for iface: each call looks the interface up
// again and opens a fresh socket. Requests carry as sender IP an IPv4
// address of the interface that is not one of the watched addresses
// (asking with the VIP as sender would be a gratuitous ARP: hosts update
// their caches and do not answer), or 0.0.0.0 (an ARP probe, RFC 5227 §2.1.1,
// which hosts answer too) when it has none.
func Open(iface string, addrs []netip.Addr) func() (Conn, error) {
	watched := map[netip.Addr]bool{}
	for _, a := range addrs {
		watched[a] = true
	}
	return func() (Conn, error) {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return nil, fmt.Errorf("arpwatch: %w", err)
		}
		if len(ifi.HardwareAddr) != 6 {
			return nil, fmt.Errorf("arpwatch: interface %s has no Ethernet MAC address (got %q)", iface, ifi.HardwareAddr)
		}
		src := netip.IPv4Unspecified()
		if addrs, err := ifi.Addrs(); err == nil {
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !watched[p.Addr()] {
					src = p.Addr()
					break
				}
			}
		}
		c, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ARP, &packet.Config{Filter: repliesOnly})
		if err != nil {
			return nil, fmt.Errorf("arpwatch: open ARP socket on %s: %w", iface, err)
		}
		return &packetConn{ifi: ifi, conn: c, srcIP: src, buf: make([]byte, 1500), watched: watched}, nil
	}
}

func (c *packetConn) HardwareAddr() net.HardwareAddr { return c.ifi.HardwareAddr }

func (c *packetConn) Close() error { return c.conn.Close() }

func (c *packetConn) Request(ip netip.Addr) error {
	p, err := arp.NewPacket(arp.OperationRequest, c.ifi.HardwareAddr, c.srcIP, ethernet.Broadcast, ip)
	if err != nil {
		return err
	}
	payload, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: c.ifi.HardwareAddr, EtherType: ethernet.EtherTypeARP, Payload: payload}
	b, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	if err := c.conn.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	_, err = c.conn.WriteTo(b, &packet.Addr{HardwareAddr: ethernet.Broadcast})
	return err
}

// Receive returns the next ARP reply whose sender is a watched address;
// requests (ours echoed back by the socket, others') and malformed frames
// are skipped.
func (c *packetConn) Receive(deadline time.Time) (Answer, error) {
	if err := c.conn.SetReadDeadline(deadline); err != nil {
		return Answer{}, err
	}
	for {
		n, _, err := c.conn.ReadFrom(c.buf)
		if err != nil {
			return Answer{}, err
		}
		var f ethernet.Frame
		if err := f.UnmarshalBinary(c.buf[:n]); err != nil || f.EtherType != ethernet.EtherTypeARP {
			continue
		}
		var p arp.Packet
		if err := p.UnmarshalBinary(f.Payload); err != nil {
			continue
		}
		if p.Operation != arp.OperationReply || !c.watched[p.SenderIP] {
			continue
		}
		return Answer{IP: p.SenderIP, MAC: append(net.HardwareAddr(nil), p.SenderHardwareAddr...)}, nil
	}
}
