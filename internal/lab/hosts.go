package lab

import (
	"fmt"
	"strings"
)

// Addressing of the lab network. All of it lives inside the lab's
// namespaces; the root namespace never gets an address in Subnet.
const (
	Subnet    = "10.99.0.0/24"
	VIP       = "10.99.0.10"
	VIPCIDR   = "10.99.0.10/24"
	RaftPort  = 7400
	MySQLPort = 3306
	// BridgeName is the bridge inside the switch namespace.
	BridgeName = "br0"
)

// Role says what a lab host is for.
type Role string

// Roles of lab hosts.
const (
	RoleDB      Role = "db"         // MariaDB + raftvip or keepalived
	RoleWitness Role = "witness"    // raftvip witness, no database
	RoleClient  Role = "client"     // reads through the VIP
	RoleVRRP    Role = "keepalived" // spare host for an extra keepalived
)

// Host is one network namespace of the lab with its eth0.
type Host struct {
	Name     string // short name: a, b, w, c, k
	NodeID   string // raftvip node id (hosta, hostb, witness) or a label
	IP       string // eth0 address, without prefix length
	MAC      string // eth0 MAC, set by the lab so output is readable
	Role     Role
	ServerID int    // MariaDB server_id on DB hosts, 0 elsewhere
	NS       string // network namespace name: <prefix>-<Name>
	Port     string // the bridge port (veth peer) in the switch namespace
}

func (h *Host) String() string { return fmt.Sprintf("%s (%s, %s)", h.NodeID, h.Name, h.IP) }

// hostPlan lists the hosts of a lab in a fixed order.
func hostPlan(prefix string, withK bool) []*Host {
	hosts := []*Host{
		{Name: "a", NodeID: "hosta", IP: "10.99.0.11", Role: RoleDB, ServerID: 1},
		{Name: "b", NodeID: "hostb", IP: "10.99.0.12", Role: RoleDB, ServerID: 2},
		{Name: "w", NodeID: "witness", IP: "10.99.0.13", Role: RoleWitness},
		{Name: "c", NodeID: "client", IP: "10.99.0.100", Role: RoleClient},
	}
	if withK {
		hosts = append(hosts, &Host{Name: "k", NodeID: "hostk", IP: "10.99.0.14", Role: RoleVRRP})
	}
	for _, h := range hosts {
		h.NS = prefix + "-" + h.Name
		h.Port = "p" + h.Name
		h.MAC = macFor(h.IP)
	}
	return hosts
}

// macFor derives a locally administered MAC from the host's last address
// octet (10.99.0.11 -> 02:99:00:00:00:0b) so the neighbour table is easy to
// read in the demo.
func macFor(ip string) string {
	last := ip[strings.LastIndex(ip, ".")+1:]
	var n int
	fmt.Sscanf(last, "%d", &n)
	return fmt.Sprintf("02:99:00:00:00:%02x", n)
}

// hostSuffixes are the namespace suffixes a lab may create; Down removes
// exactly these names for a prefix.
var hostSuffixes = []string{"sw", "a", "b", "w", "c", "k"}
