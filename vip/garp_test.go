package vip

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// checkGARP asserts that a received frame is one of our gratuitous ARPs for
// one of vips, sent by mac, and returns its operation and address.
func checkGARP(t *testing.T, p *arp.Packet, eth *ethernet.Frame, mac net.HardwareAddr, vips map[netip.Addr]bool) (arp.Operation, netip.Addr) {
	t.Helper()
	if !bytes.Equal(eth.Destination, ethernet.Broadcast) {
		t.Errorf("GARP %s for %s: Ethernet destination %s, want broadcast", p.Operation, p.SenderIP, eth.Destination)
	}
	if !bytes.Equal(eth.Source, mac) {
		t.Errorf("GARP %s for %s: Ethernet source %s, want %s", p.Operation, p.SenderIP, eth.Source, mac)
	}
	if eth.EtherType != ethernet.EtherTypeARP {
		t.Errorf("GARP %s for %s: EtherType %s, want ARP", p.Operation, p.SenderIP, eth.EtherType)
	}
	if !vips[p.SenderIP] {
		t.Errorf("GARP %s: sender IP %s is not a VIP", p.Operation, p.SenderIP)
	}
	if p.TargetIP != p.SenderIP {
		t.Errorf("GARP %s: target IP %s != sender IP %s", p.Operation, p.TargetIP, p.SenderIP)
	}
	if !bytes.Equal(p.SenderHardwareAddr, mac) {
		t.Errorf("GARP %s for %s: sender MAC %s, want %s", p.Operation, p.SenderIP, p.SenderHardwareAddr, mac)
	}
	switch p.Operation {
	case arp.OperationRequest:
		if !bytes.Equal(p.TargetHardwareAddr, net.HardwareAddr{0, 0, 0, 0, 0, 0}) {
			t.Errorf("GARP request for %s: target MAC %s, want 00:00:00:00:00:00", p.SenderIP, p.TargetHardwareAddr)
		}
	case arp.OperationReply:
		if !bytes.Equal(p.TargetHardwareAddr, mac) {
			t.Errorf("GARP reply for %s: target MAC %s, want the sender's %s", p.SenderIP, p.TargetHardwareAddr, mac)
		}
	default:
		t.Errorf("GARP for %s: operation %s, want request or reply", p.SenderIP, p.Operation)
	}
	return p.Operation, p.SenderIP
}

// The frames are built without any socket, so their wire format can be
// checked without privileges; the integration test checks them on the wire.
func TestGARPFrames(t *testing.T) {
	cfg := validConfig()
	cfg.Addresses = append(cfg.Addresses, netip.MustParsePrefix("10.99.0.11/24"))
	g, err := NewGARP(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x20, 0x30}
	frames, err := g.frames(mac)
	if err != nil {
		t.Fatal(err)
	}
	vips := map[netip.Addr]bool{}
	for _, p := range cfg.Addresses {
		vips[p.Addr()] = true
	}
	type key struct {
		op arp.Operation
		ip netip.Addr
	}
	seen := map[key]int{}
	for _, f := range frames {
		var eth ethernet.Frame
		if err := eth.UnmarshalBinary(f.data); err != nil {
			t.Fatalf("frame %s for %s: %v", f.op, f.ip, err)
		}
		var p arp.Packet
		if err := p.UnmarshalBinary(eth.Payload); err != nil {
			t.Fatalf("ARP payload %s for %s: %v", f.op, f.ip, err)
		}
		op, ip := checkGARP(t, &p, &eth, mac, vips)
		if op != f.op || ip != f.ip {
			t.Errorf("frame labelled %s/%s carries %s/%s", f.op, f.ip, op, ip)
		}
		seen[key{op, ip}]++
	}
	for ip := range vips {
		for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
			if seen[key{op, ip}] != 1 {
				t.Errorf("%s for %s: %d frames per round, want 1", op, ip, seen[key{op, ip}])
			}
		}
	}
	if len(frames) != 2*len(vips) {
		t.Errorf("%d frames per round, want %d", len(frames), 2*len(vips))
	}
}
