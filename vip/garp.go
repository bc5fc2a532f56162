package vip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// GARP is the kernel Announcer: it writes gratuitous ARP frames on a raw
// AF_PACKET socket opened for each Announce, so it works whether or not the
// interface had an IPv4 address when the GARP was created, and it never holds a
// socket on an interface that may be recreated between failovers.
type GARP struct {
	iface    string
	addrs    []netip.Prefix
	count    int
	interval time.Duration
	log      hclog.Logger
	// sent counts the frames written, for raftvip_garp_sent_total.
	sent atomic.Uint64
}

var _ Announcer = (*GARP)(nil)

// writeTimeout bounds a single frame write; a packet socket only blocks when
// the device queue is full, and an announcement must never hang the caller.
const writeTimeout = time.Second

// dropAll is a socket filter that accepts no incoming frame: the socket is
// only used to send, so it should not queue copies of the LAN's ARP traffic.
var dropAll = mustAssemble(bpf.RetConstant{Val: 0})

func mustAssemble(insns ...bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(insns)
	if err != nil {
		panic(fmt.Sprintf("vip: assembling BPF filter: %v", err))
	}
	return raw
}

// NewGARP checks cfg and returns an Announcer for cfg.Interface. No socket is
// opened until Announce.
func NewGARP(cfg Config, log hclog.Logger) (*GARP, error) {
	if err := cfg.validateAddresses(); err != nil {
		return nil, err
	}
	if err := cfg.validateGARP(); err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &GARP{
		iface:    cfg.Interface,
		addrs:    append([]netip.Prefix(nil), cfg.Addresses...),
		count:    cfg.GARPCount,
		interval: cfg.GARPInterval,
		log:      log.Named("vip"),
	}, nil
}

// garpFrame is one ready-to-send Ethernet frame and what it is, for errors.
type garpFrame struct {
	op   arp.Operation
	ip   netip.Addr
	data []byte
}

// frames builds, for every address, the two usual forms of gratuitous ARP,
// both broadcast and both with sender IP = target IP = VIP:
//   - a request "who-has VIP tell VIP" with an all-zero target MAC
//     (RFC 5227 §3 ARP Announcement), which every host processes;
//   - a reply with target MAC = sender MAC (RFC 2002 §4.6), for the older
//     stacks and switches that only update their caches from replies.
func (g *GARP) frames(mac net.HardwareAddr) ([]garpFrame, error) {
	zeroMAC := make(net.HardwareAddr, len(mac))
	out := make([]garpFrame, 0, 2*len(g.addrs))
	for _, p := range g.addrs {
		ip := p.Addr()
		for _, f := range []struct {
			op       arp.Operation
			targetHW net.HardwareAddr
		}{
			{arp.OperationRequest, zeroMAC},
			{arp.OperationReply, mac},
		} {
			pkt, err := arp.NewPacket(f.op, mac, ip, f.targetHW, ip)
			if err != nil {
				return nil, fmt.Errorf("vip: build gratuitous ARP %s for %s on %s: %w", f.op, ip, g.iface, err)
			}
			payload, err := pkt.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("vip: build gratuitous ARP %s for %s on %s: %w", f.op, ip, g.iface, err)
			}
			frame := &ethernet.Frame{
				Destination: ethernet.Broadcast,
				Source:      mac,
				EtherType:   ethernet.EtherTypeARP,
				Payload:     payload,
			}
			data, err := frame.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("vip: build gratuitous ARP %s for %s on %s: %w", f.op, ip, g.iface, err)
			}
			out = append(out, garpFrame{op: f.op, ip: ip, data: data})
		}
	}
	return out, nil
}

// Sent is the number of gratuitous ARP frames written since the GARP was
// made.
func (g *GARP) Sent() uint64 { return g.sent.Load() }

// Announce sends count rounds of gratuitous ARP, the first immediately and
// then one every interval, each round carrying a request and a reply for every
// address. It returns ctx.Err() as soon as ctx is cancelled.
func (g *GARP) Announce(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Looked up on every call: the MAC and index are those of the interface as
	// it is now, even if it was recreated since the last announcement.
	ifi, err := net.InterfaceByName(g.iface)
	if err != nil {
		return fmt.Errorf("vip: announce on %s: %w", g.iface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("vip: announce on %s: interface has no Ethernet MAC address (got %q)", g.iface, ifi.HardwareAddr)
	}
	frames, err := g.frames(ifi.HardwareAddr)
	if err != nil {
		return err
	}
	conn, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_ARP, &packet.Config{Filter: dropAll})
	if err != nil {
		return fmt.Errorf("vip: open ARP socket on %s: %w", g.iface, err)
	}
	defer conn.Close()

	dst := &packet.Addr{HardwareAddr: ethernet.Broadcast}
	var timer *time.Timer
	sent := 0
	for round := range g.count {
		if round > 0 {
			if timer == nil {
				timer = time.NewTimer(g.interval)
				defer timer.Stop()
			} else {
				timer.Reset(g.interval)
			}
			select {
			case <-ctx.Done():
				g.log.Debug("announcement cancelled", "iface", g.iface, "addrs", addrStrings(g.addrs), "rounds", round, "of", g.count)
				return ctx.Err()
			case <-timer.C:
			}
		}
		for _, f := range frames {
			if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
				return fmt.Errorf("vip: send gratuitous ARP %s for %s on %s: %w", f.op, f.ip, g.iface, err)
			}
			if _, err := conn.WriteTo(f.data, dst); err != nil {
				return fmt.Errorf("vip: send gratuitous ARP %s for %s on %s: %w", f.op, f.ip, g.iface, err)
			}
			sent++
			g.sent.Add(1)
		}
		if round == 0 {
			FirstSent(ctx, time.Now())
		}
	}
	g.log.Info("announced VIP", "iface", g.iface, "addrs", addrStrings(g.addrs), "mac", ifi.HardwareAddr.String(), "rounds", g.count, "frames", sent)
	return nil
}
