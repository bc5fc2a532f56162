package lab

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func handleIn(ns string) (*netlink.Handle, error) {
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	return h, nil
}

// EthMAC reads host's eth0 MAC address from the kernel.
func (l *Lab) EthMAC(host string) (string, error) {
	h, err := l.lookup(host)
	if err != nil {
		return "", err
	}
	nh, err := handleIn(h.NS)
	if err != nil {
		return "", err
	}
	defer nh.Close()
	link, err := nh.LinkByName("eth0")
	if err != nil {
		return "", fmt.Errorf("eth0 in %s: %w", h.NS, err)
	}
	return link.Attrs().HardwareAddr.String(), nil
}

// Neighbor is a neighbour-table entry of one host.
type Neighbor struct {
	IP    string
	MAC   string // empty while unresolved
	State string // REACHABLE, STALE, DELAY, PROBE, FAILED, INCOMPLETE, …
}

// NeighborOf reads host's neighbour entry for ip on eth0 (like
// `ip -n NS neigh show IP`). ok is false when there is no entry.
func (l *Lab) NeighborOf(host, ip string) (Neighbor, bool, error) {
	h, err := l.lookup(host)
	if err != nil {
		return Neighbor{}, false, err
	}
	nh, err := handleIn(h.NS)
	if err != nil {
		return Neighbor{}, false, err
	}
	defer nh.Close()
	link, err := nh.LinkByName("eth0")
	if err != nil {
		return Neighbor{}, false, fmt.Errorf("eth0 in %s: %w", h.NS, err)
	}
	neighs, err := nh.NeighList(link.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		return Neighbor{}, false, fmt.Errorf("neighbours in %s: %w", h.NS, err)
	}
	want := net.ParseIP(ip)
	for _, n := range neighs {
		if n.IP.Equal(want) {
			nb := Neighbor{IP: ip, State: neighState(n.State)}
			if len(n.HardwareAddr) > 0 {
				nb.MAC = n.HardwareAddr.String()
			}
			return nb, true, nil
		}
	}
	return Neighbor{}, false, nil
}

// ClientVIPMAC is the MAC the client host maps the VIP to ("" if none).
func (l *Lab) ClientVIPMAC() (string, error) {
	n, ok, err := l.NeighborOf("c", VIP)
	if err != nil || !ok {
		return "", err
	}
	if n.State == "FAILED" || n.State == "INCOMPLETE" {
		return "", nil
	}
	return n.MAC, nil
}

// HostByMAC names the lab host whose eth0 has mac ("" if none).
func (l *Lab) HostByMAC(mac string) string {
	for _, h := range l.hosts {
		if h.MAC == mac {
			return h.Name
		}
	}
	return ""
}

func neighState(s int) string {
	switch s {
	case netlink.NUD_INCOMPLETE:
		return "INCOMPLETE"
	case netlink.NUD_REACHABLE:
		return "REACHABLE"
	case netlink.NUD_STALE:
		return "STALE"
	case netlink.NUD_DELAY:
		return "DELAY"
	case netlink.NUD_PROBE:
		return "PROBE"
	case netlink.NUD_FAILED:
		return "FAILED"
	case netlink.NUD_NOARP:
		return "NOARP"
	case netlink.NUD_PERMANENT:
		return "PERMANENT"
	case netlink.NUD_NONE:
		return "NONE"
	}
	return fmt.Sprintf("state(%#x)", s)
}
