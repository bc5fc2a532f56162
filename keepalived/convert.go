package keepalived

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/config"
)

// DefaultRaftPort is the port added to addresses given without one.
const DefaultRaftPort = 7400

// DefaultDSNFile is written as mysql.dsn_file when no DSN flag is given.
const DefaultDSNFile = "/etc/raftvip/mysql.dsn"

// authPassLen is how much of auth_pass keepalived uses (and VRRPv2 carries).
const authPassLen = 8

// Options supply what keepalived.conf does not know.
type Options struct {
	Instance          string // vrrp_instance to import; required when there are several
	NodeID            string // default: router_id lowercased, else Hostname's first label
	Hostname          string // this host's name, the last resort for NodeID
	Role              string // config.RoleDB (default) or config.RoleWitness
	Bind              string // host[:port]; default: unicast_src_ip or mcast_src_ip, port 7400
	Peers             []Peer // the other members of the Raft group
	AllowPlaceholders bool   // fill missing peers with placeholders instead of failing
	MySQLDSN          string // written as mysql.dsn (a secret: never in messages)
	MySQLDSNFile      string // written as mysql.dsn_file; default DefaultDSNFile
	DataDir           string // default /var/lib/raftvip/<node_id>
	Admin             string // default: left to raftvip (/run/raftvip/<node_id>.sock)
	VRRPMode          string // config.VRRPObserve (default), VRRPActive or VRRPOff
	OutputFile        string // where the result will be written; resolves a relative dsn_file in the self-check
}

// Peer is another member of the Raft group, from -peer ID=ADDR[,role].
type Peer struct {
	ID, Address, Role string
}

// ParsePeer reads "ID=HOST[:PORT][,ROLE]"; the port defaults to 7400 and
// the role to db.
func ParsePeer(s string) (Peer, error) {
	id, rest, ok := strings.Cut(s, "=")
	if !ok || id == "" || rest == "" {
		return Peer{}, fmt.Errorf("-peer %q: want ID=HOST:PORT[,ROLE], like hostb=192.168.10.12:7400 or witness=192.168.10.13:7400,witness", s)
	}
	addr, role, hasRole := strings.Cut(rest, ",")
	p := Peer{ID: id, Role: config.RoleDB}
	if hasRole {
		if role != config.RoleDB && role != config.RoleWitness {
			return Peer{}, fmt.Errorf("-peer %q: role %q is not db or witness", s, role)
		}
		p.Role = role
	}
	a, err := withPort(addr)
	if err != nil {
		return Peer{}, fmt.Errorf("-peer %q: %v", s, err)
	}
	p.Address = a
	return p, nil
}

// withPort checks host[:port] and adds DefaultRaftPort when there is no port.
func withPort(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty address")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port (or a bare IPv6 address): add the default.
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), strconv.Itoa(DefaultRaftPort)
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && !isIP(host)) {
			return "", fmt.Errorf("%q is not HOST or HOST:PORT", s)
		}
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("%q: port %q must be a number 1-65535", s, port)
	}
	if host == "" {
		return "", fmt.Errorf("%q has no host", s)
	}
	return net.JoinHostPort(host, port), nil
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// Result is a generated raftvip configuration.
type Result struct {
	HCL      []byte
	Instance string   // the vrrp_instance imported ("" on a witness without instances)
	NodeID   string   // node_id written
	Notes    []string // things the operator must do or know, for stderr (never secrets)
}

// UsageError is a problem with the options rather than with the file.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// converter carries one conversion.
type converter struct {
	cfg     *Config
	opts    Options
	in      *Instance // nil only for a witness of a file without instances
	base    string    // directory of the main file, for short positions
	handled map[*Node]bool
	errs    []Error
	notes   []string

	// The tracked script that checks replication (see replication).
	repl       *replCheck
	replUnread []unreadScript
	replDone   bool
}

// Convert writes the raftvip configuration for one host from a decoded
// keepalived.conf. The result always passes config.Parse (it is checked;
// only a mysql.dsn_file that does not exist yet is tolerated, with a
// note). Problems in the file are returned as *Errors with positions,
// problems with the options as *UsageError.
func Convert(cfg *Config, opts Options) (*Result, error) {
	c := &converter{cfg: cfg, opts: opts, handled: map[*Node]bool{}}
	if len(cfg.Files) > 0 {
		c.base = filepath.Dir(cfg.Files[0])
	}
	if c.opts.Role == "" {
		c.opts.Role = config.RoleDB
	}
	if c.opts.Role != config.RoleDB && c.opts.Role != config.RoleWitness {
		return nil, usagef("-role %q: want db or witness", c.opts.Role)
	}
	witness := c.opts.Role == config.RoleWitness
	switch {
	case c.opts.VRRPMode == "":
		c.opts.VRRPMode = config.VRRPObserve
		if witness {
			c.opts.VRRPMode = config.VRRPOff
		}
	case c.opts.VRRPMode != config.VRRPOff && c.opts.VRRPMode != config.VRRPObserve && c.opts.VRRPMode != config.VRRPActive:
		return nil, usagef("-vrrp-mode %q: want observe, active or off", c.opts.VRRPMode)
	case witness && c.opts.VRRPMode != config.VRRPOff:
		return nil, usagef("-vrrp-mode %s with -role witness: only db nodes speak VRRP; the witness holds no VIP", c.opts.VRRPMode)
	}
	if c.opts.MySQLDSN != "" && c.opts.MySQLDSNFile != "" {
		return nil, usagef("give -mysql-dsn or -mysql-dsn-file, not both")
	}
	if err := c.pickInstance(); err != nil {
		return nil, err
	}
	nodeID, err := c.nodeID()
	if err != nil {
		return nil, err
	}
	bind, err := c.bind()
	if err != nil {
		return nil, err
	}
	peers, err := c.peers(nodeID, bind)
	if err != nil {
		return nil, err
	}

	blocks := []hblock{c.top(nodeID, bind)}
	blocks = append(blocks, peers...)
	if !witness {
		vip, vipIface := c.vip()
		mysql := c.mysql(bind)
		vrrp := c.vrrp(vipIface, bind)
		if len(c.errs) > 0 {
			return nil, &Errors{List: c.errs}
		}
		blocks = append(blocks, vip, mysql)
		blocks = append(blocks, c.failover(), vrrp)
		if nb, ok := c.notify(); ok {
			blocks = append(blocks, nb)
		}
	} else {
		blocks = append(blocks, c.failover())
	}
	if len(c.errs) > 0 {
		return nil, &Errors{List: c.errs}
	}
	if rest := c.rest(witness); len(rest.intro) > 0 {
		blocks = append(blocks, rest)
	}
	text := render(blocks)
	if err := c.selfCheck(text); err != nil {
		return nil, err
	}
	name := ""
	if c.in != nil {
		name = c.in.Name
	}
	return &Result{HCL: []byte(text), Instance: name, NodeID: nodeID, Notes: c.notes}, nil
}

func (c *converter) errorf(pos Pos, format string, args ...any) {
	c.errs = append(c.errs, Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// where is a short "file:line" for comments: relative to the main file's
// directory when the file is there or below.
func (c *converter) where(p Pos) string {
	f := p.File
	if c.base != "" {
		if rel, err := filepath.Rel(c.base, f); err == nil && !strings.HasPrefix(rel, "..") {
			f = rel
		}
	}
	return fmt.Sprintf("%s:%d", f, p.Line)
}

// note formats "keepalived: SETTING (file:line) -> TEXT" and marks n as
// reported.
func (c *converter) note(n *Node, format string, args ...any) string {
	c.handled[n] = true
	return fmt.Sprintf("keepalived: %s (%s) -> %s", settingText(n), c.where(n.Pos), fmt.Sprintf(format, args...))
}

// settingText shows a statement without ever showing a password.
func settingText(n *Node) string {
	if n.Keyword == "auth_pass" {
		return "auth_pass ****"
	}
	return n.Text()
}

func (c *converter) pickInstance() error {
	ins := c.cfg.Instances
	if c.opts.Instance != "" {
		for _, in := range ins {
			if in.Name == c.opts.Instance {
				c.in = in
				return nil
			}
		}
		return usagef("-instance %s: no such vrrp_instance in %s (it has: %s)", c.opts.Instance, c.mainFile(), instanceList(ins))
	}
	switch len(ins) {
	case 0:
		if c.opts.Role == config.RoleWitness {
			return nil
		}
		return usagef("%s has no vrrp_instance block: nothing to import", c.mainFile())
	case 1:
		c.in = ins[0]
		return nil
	}
	return &Errors{List: []Error{{Pos: ins[1].Node.Pos, Msg: fmt.Sprintf(
		"%d vrrp_instance blocks (%s); raftvip moves one set of addresses, so choose the one to import with -instance NAME",
		len(ins), instanceList(ins))}}}
}

func (c *converter) mainFile() string {
	if len(c.cfg.Files) > 0 {
		return c.cfg.Files[0]
	}
	return "the configuration"
}

func instanceList(ins []*Instance) string {
	if len(ins) == 0 {
		return "none"
	}
	var parts []string
	for _, in := range ins {
		parts = append(parts, fmt.Sprintf("%s at %s", in.Name, in.Node.Pos))
	}
	return strings.Join(parts, ", ")
}

func (c *converter) nodeID() (string, error) {
	if c.opts.NodeID != "" {
		return c.opts.NodeID, nil
	}
	if g := c.cfg.Global; g != nil && g.RouterID != "" {
		return strings.ToLower(g.RouterID), nil
	}
	if h, _, _ := strings.Cut(c.opts.Hostname, "."); h != "" {
		return strings.ToLower(h), nil
	}
	return "", usagef("-node-id is needed: global_defs has no router_id and the hostname is unknown")
}

// srcIP is the instance's own address, from unicast_src_ip or mcast_src_ip.
func (c *converter) srcIP() (netip.Addr, *Node) {
	if c.in == nil {
		return netip.Addr{}, nil
	}
	for _, kw := range []string{"unicast_src_ip", "mcast_src_ip"} {
		if n := c.in.Node.Find(kw); n != nil {
			a, _ := netip.ParseAddr(n.Arg(0))
			return a, n
		}
	}
	return netip.Addr{}, nil
}

func (c *converter) bind() (string, error) {
	if c.opts.Bind != "" {
		b, err := withPort(c.opts.Bind)
		if err != nil {
			return "", usagef("-bind: %v", err)
		}
		return b, nil
	}
	if a, _ := c.srcIP(); a.IsValid() {
		return net.JoinHostPort(a.String(), strconv.Itoa(DefaultRaftPort)), nil
	}
	what := "the keepalived configuration"
	if c.in != nil {
		what = "vrrp_instance " + c.in.Name
	}
	return "", usagef("-bind HOST:PORT is needed (the address raftvip's Raft listens on, like 192.168.10.11:7400): %s has neither unicast_src_ip nor mcast_src_ip to take it from", what)
}

func (c *converter) top(nodeID, bind string) hblock {
	src := c.mainFile()
	if c.in != nil {
		src += ", vrrp_instance " + c.in.Name
	}
	blk := hblock{intro: []string{
		fmt.Sprintf("raftvip configuration for %s, imported from keepalived by `raftvip import-keepalived` (source: %s).", nodeID, src),
		"Every keepalived setting appears in a \"keepalived:\" comment saying what raftvip does with it, or why raftvip does not need it. Review them, then check the file with `raftvip validate -config FILE`.",
	}}
	idNote := ""
	if c.opts.NodeID == "" {
		if g := c.cfg.Global; g != nil && g.RouterID != "" {
			if n := lastIn(g.Nodes, "router_id"); n != nil {
				idNote = c.note(n, "node_id %s (lowercased; -node-id sets another). node_id must be unique in the Raft group: keepalived hosts often share a router_id", hclString(nodeID))
			}
		} else {
			idNote = fmt.Sprintf("node_id from this host's name (%s); -node-id sets another", nodeID)
		}
	} else if g := c.cfg.Global; g != nil {
		if n := lastIn(g.Nodes, "router_id"); n != nil {
			idNote = c.note(n, "not used: node_id %s comes from -node-id", hclString(nodeID))
		}
	}
	role := c.opts.Role
	blk.items = append(blk.items, item{notes: nonEmpty(idNote), key: "node_id", value: hclString(nodeID)})
	roleNote := "a db node runs MySQL and may hold the VIP"
	if role == config.RoleWitness {
		roleNote = "a witness only votes in Raft: it holds no VIP and has no database, so the VIP, check and VRRP settings of the keepalived file are left to the db hosts' configs"
	}
	blk.items = append(blk.items, item{notes: []string{roleNote}, key: "role", value: hclString(role)})
	dataDir := c.opts.DataDir
	if dataDir == "" {
		dataDir = "/var/lib/raftvip/" + nodeID
	}
	blk.items = append(blk.items, item{key: "data_dir", value: hclString(dataDir)})
	bindNote := ""
	if c.opts.Bind == "" {
		if _, n := c.srcIP(); n != nil {
			bindNote = c.note(n, "bind %s: raftvip's Raft listens on this host's address, port %d (-bind sets another). For VRRP raftvip sends from the interface's primary address", hclString(bind), DefaultRaftPort)
		}
	} else if _, n := c.srcIP(); n != nil {
		bindNote = c.note(n, "not needed: raftvip sends VRRP from the interface's primary address; bind comes from -bind")
	}
	blk.items = append(blk.items, item{notes: nonEmpty(bindNote), key: "bind", value: hclString(bind)})
	if c.opts.Admin != "" {
		blk.items = append(blk.items, item{key: "admin", value: hclString(c.opts.Admin)})
	}
	blk.items = append(blk.items, item{notes: []string{"FIXME: the cluster port (bind) runs without authentication: anyone who can reach it can command the cluster. Make certificates with `raftvip tls init DIR -nodes ...` and replace this line by a tls { ca_file, cert_file, key_file } block"},
		key: "insecure_plaintext", value: "true"})
	return blk
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// lastIn finds the last statement with keyword in any of the blocks.
func lastIn(blocks []*Node, keyword string) *Node {
	var found *Node
	for _, b := range blocks {
		if n := b.Find(keyword); n != nil {
			found = n
		}
	}
	return found
}

// peers checks -peer against this node and fills the group; missing peers
// are an error unless placeholders are allowed.
func (c *converter) peers(nodeID, bind string) ([]hblock, error) {
	self := Peer{ID: nodeID, Address: bind, Role: c.opts.Role}
	group := []Peer{self}
	byAddr := map[string]string{bind: nodeID}
	for _, p := range c.opts.Peers {
		if p.Role == "" {
			p.Role = config.RoleDB
		}
		if p.ID == nodeID {
			if p.Address != bind || p.Role != c.opts.Role {
				return nil, usagef("-peer %s=%s,%s is this node, which is %s,%s (from -node-id/-bind/-role or the keepalived file); leave it out or make them agree", p.ID, p.Address, p.Role, bind, c.opts.Role)
			}
			continue
		}
		if slices.ContainsFunc(group, func(q Peer) bool { return q.ID == p.ID }) {
			return nil, usagef("-peer %s is given twice", p.ID)
		}
		if other, taken := byAddr[p.Address]; taken {
			return nil, usagef("-peer %s=%s: that address is already %s's", p.ID, p.Address, other)
		}
		byAddr[p.Address] = p.ID
		group = append(group, p)
	}
	intro := []string{"The Raft group: every node, this one included, listed identically on every node. " +
		"keepalived had no equivalent: two VRRP routers cannot tell a dead peer from a broken link, so both may hold the VIP; " +
		"raftvip needs a majority of three (two db hosts and a witness) to move it."}
	placeholders := 0
	if missing := 3 - len(group); missing > 0 {
		if !c.opts.AllowPlaceholders {
			return nil, usagef("%s", c.missingPeers(nodeID, missing))
		}
		dbs := 0
		for _, p := range group {
			if p.Role == config.RoleDB {
				dbs++
			}
		}
		next := 1 // host part of the next placeholder address
		for range missing {
			// Two db hosts and a witness, as recommended.
			role := config.RoleWitness
			if dbs < 2 {
				role, dbs = config.RoleDB, dbs+1
			}
			// 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never a real host.
			addr := fmt.Sprintf("192.0.2.%d:%d", next, DefaultRaftPort)
			for byAddr[addr] != "" {
				next++
				addr = fmt.Sprintf("192.0.2.%d:%d", next, DefaultRaftPort)
			}
			next++
			id := fmt.Sprintf("CHANGE-ME-%d", len(group))
			byAddr[addr] = id
			group = append(group, Peer{ID: id, Address: addr, Role: role})
			placeholders++
		}
		c.notes = append(c.notes, fmt.Sprintf("%d placeholder peer(s) (CHANGE-ME-*, 192.0.2.x): replace them with the real nodes before starting raftvip", placeholders))
	}
	var blocks []hblock
	for i, p := range group {
		blk := hblock{header: "peer " + hclString(p.ID)}
		if i == 0 {
			blk.intro = intro
		}
		if strings.HasPrefix(p.ID, "CHANGE-ME-") {
			blk.intro = append(blk.intro, "FIXME: PLACEHOLDER PEER (from -allow-placeholders). Replace the name, address and role with a real node of the Raft group; raftvip will never reach this one.")
		}
		blk.items = []item{{key: "address", value: hclString(p.Address)}, {key: "role", value: hclString(p.Role)}}
		blocks = append(blocks, blk)
	}
	return blocks, nil
}

// missingPeers explains which -peer flags are needed, suggesting the
// addresses keepalived knows.
func (c *converter) missingPeers(nodeID string, missing int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the Raft group needs 3 nodes and only %d are known (%s", 3-missing, nodeID)
	for _, p := range c.opts.Peers {
		if p.ID != nodeID {
			b.WriteString(", " + p.ID)
		}
	}
	fmt.Fprintf(&b, "): give the other %d with -peer ID=HOST:PORT[,ROLE], for example", missing)
	var hints []string
	if c.in != nil {
		self, _ := c.srcIP()
		for _, a := range c.in.UnicastPeers {
			if a != self {
				hints = append(hints, a.String())
			}
		}
	}
	if len(hints) > 0 {
		fmt.Fprintf(&b, " -peer hostb=%s:%d for the other db host (unicast_peer lists %s)", hints[0], DefaultRaftPort, strings.Join(hints, ", "))
	} else {
		fmt.Fprintf(&b, " -peer hostb=192.168.10.12:%d for the other db host", DefaultRaftPort)
	}
	fmt.Fprintf(&b, " and -peer witness=HOST:%d,witness for the witness; or pass -allow-placeholders to write placeholder peers to edit by hand", DefaultRaftPort)
	return b.String()
}

// vip builds the vip block and returns the interface the addresses go on.
func (c *converter) vip() (hblock, string) {
	in := c.in
	blk := hblock{header: "vip", intro: []string{fmt.Sprintf(
		"The addresses that follow the Raft leader (when it is a db node with healthy MySQL). vrrp_instance %s (%s) -> raftvip adds them with a kernel lifetime (lease) renewed only while a Raft majority confirms this node, so a crashed or cut-off holder loses them by itself.",
		in.Name, c.where(in.Node.Pos))}}
	c.handled[in.Node] = true

	var ifItem item
	iface := in.Interface
	ifNode := in.Node.Find("interface")
	var devVIP *VIP
	for i := range in.VIPs {
		v := &in.VIPs[i]
		if v.Dev == "" {
			continue
		}
		if devVIP == nil {
			devVIP = v
			continue
		}
		if v.Dev != devVIP.Dev {
			c.errorf(v.Pos, "virtual_ipaddress %s is on dev %s, but %s (line %d) is on dev %s: raftvip moves all VIP addresses together on one interface (vip.interface); keep one interface's addresses in this instance",
				v.Prefix.Addr(), v.Dev, devVIP.Prefix.Addr(), devVIP.Pos.Line, devVIP.Dev)
		}
	}
	vipIface := iface
	if devVIP != nil {
		vipIface = devVIP.Dev
		for i := range in.VIPs {
			v := &in.VIPs[i]
			if v.Dev == "" && iface != "" && iface != vipIface {
				c.errorf(v.Pos, "virtual_ipaddress %s has no dev, so keepalived adds it on the instance's interface %s, but %s (line %d) is on dev %s: raftvip moves all VIP addresses together on one interface (vip.interface)",
					v.Prefix.Addr(), iface, devVIP.Prefix.Addr(), devVIP.Pos.Line, devVIP.Dev)
			}
		}
	}
	switch {
	case vipIface == "":
		c.errorf(in.Node.Pos, "vrrp_instance %s has no interface and its virtual_ipaddress entries name no dev: there is no interface to put the VIP on", in.Name)
	case ifNode != nil && vipIface == iface:
		ifItem.notes = []string{c.note(ifNode, "vip.interface (and the link VRRP runs on)")}
	case ifNode != nil:
		ifItem.notes = []string{c.note(ifNode, "vrrp.interface: the VRRP adverts go there, while the addresses go on %s (their dev)", vipIface)}
	}
	ifItem.key, ifItem.value = "interface", hclString(vipIface)
	blk.items = append(blk.items, ifItem)

	var addrs []string
	var notes []string
	if n := in.Node.Find("virtual_ipaddress"); n == nil || len(in.VIPs) == 0 {
		c.errorf(in.Node.Pos, "vrrp_instance %s has no virtual_ipaddress: there is no VIP to import", in.Name)
	} else {
		notes = append(notes, c.note(n, "vip.addresses: the addresses move together, each as written below"))
	}
	for _, l := range in.Node.Block {
		if l.Keyword == "virtual_ipaddress" {
			for _, a := range l.Block {
				c.handled[a] = true
			}
		}
	}
	for _, v := range in.VIPs {
		a := v.Prefix.Addr()
		if !a.Is4() {
			c.errorf(v.Pos, "virtual_ipaddress %s is IPv6; raftvip supports IPv4 VIPs only (they are announced with gratuitous ARP)", v.Prefix)
			continue
		}
		if msg := badVIP(v.Prefix); msg != "" {
			c.errorf(v.Pos, "virtual_ipaddress %s %s, which raftvip refuses as a VIP", v.Prefix, msg)
			continue
		}
		addrs = append(addrs, v.Prefix.String())
		var what []string
		if !v.HasPrefix {
			what = append(what, fmt.Sprintf("no prefix length: keepalived adds it as /32 and so does raftvip (%s); clients on the subnet may need the real prefix (like /24): write it here if /32 was not intended", v.Prefix))
		} else {
			what = append(what, fmt.Sprintf("vip.addresses %s", hclString(v.Prefix.String())))
		}
		if v.Dev != "" {
			what = append(what, fmt.Sprintf("dev %s is vip.interface", v.Dev))
		}
		if v.Label != "" {
			what = append(what, fmt.Sprintf("label %s is ignored: raftvip adds the address without a label (labels only serve ifconfig-style aliases)", v.Label))
		}
		if len(v.Options) > 0 {
			what = append(what, fmt.Sprintf("%s ignored: raftvip adds the address with the interface's defaults", strings.Join(v.Options, " ")))
		}
		notes = append(notes, fmt.Sprintf("keepalived: virtual_ipaddress %s (%s) -> %s", vipLine(v), c.where(v.Pos), strings.Join(what, "; ")))
	}
	blk.items = append(blk.items, item{notes: notes, key: "addresses", value: hclList(addrs)})

	g := c.garp()
	if g.repeat != nil {
		blk.items = append(blk.items, item{notes: []string{c.note(g.repeatNode, "vip.garp_count: gratuitous ARPs sent when this node takes the VIP")},
			key: "garp_count", value: strconv.Itoa(*g.repeat)})
	}
	if g.interval != nil {
		if *g.interval > 0 || (g.repeat != nil && *g.repeat <= 1) {
			blk.items = append(blk.items, item{notes: []string{c.note(g.intervalNode, "vip.garp_interval: spacing of those ARPs")},
				key: "garp_interval", value: hclString(g.interval.String())})
		} else {
			blk.items = append(blk.items, item{notes: []string{c.note(g.intervalNode, "vip.garp_interval keeps raftvip's default (200ms): keepalived sends its ARPs back to back, raftvip needs a spacing when it sends more than one")}})
		}
	}
	if g.refresh != nil {
		blk.items = append(blk.items, item{notes: []string{c.note(g.refreshNode, "vip.garp_refresh: re-announce the VIP periodically while holding it (0s = off)")},
			key: "garp_refresh", value: hclString(g.refresh.String())})
	}
	if g.delayNode != nil {
		blk.items = append(blk.items, item{notes: []string{c.note(g.delayNode, "no equivalent: raftvip sends one burst of vip.garp_count ARPs on takeover, not a second burst later; vip.garp_refresh re-announces periodically if switches need reminding")}})
	}
	for _, n := range in.Node.Block {
		if n.Keyword == "virtual_ipaddress_excluded" {
			blk.items = append(blk.items, item{notes: []string{c.note(n, "not imported: these addresses are not in keepalived's adverts. Add them to vip.addresses if they must move with the VIP (raftvip then also lists them in its adverts, which keepalived reports as an address list mismatch while both run)")}})
			for _, a := range n.Block {
				c.handled[a] = true
			}
		}
	}
	return blk, vipIface
}

// badVIP says why an IPv4 prefix cannot be a raftvip VIP (the rules of
// config's vip.addresses), or "" when it can; checked here so the error
// points at the keepalived line rather than at the generated file.
func badVIP(p netip.Prefix) string {
	a := p.Addr()
	switch {
	case a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "is an unspecified, loopback, multicast or broadcast address"
	case p.Bits() <= 30 && a == p.Masked().Addr():
		return "is the network address of " + p.Masked().String()
	case p.Bits() <= 30:
		b := a.As4()
		n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if host := ^uint32(0) >> p.Bits(); n&host == host {
			return "is the broadcast address of " + p.Masked().String()
		}
	}
	return ""
}

// vipLine is a virtual_ipaddress line as written.
func vipLine(v VIP) string {
	s := v.Prefix.Addr().String()
	if v.HasPrefix {
		s = v.Prefix.String()
	}
	if v.Dev != "" {
		s += " dev " + v.Dev
	}
	if v.Label != "" {
		s += " label " + v.Label
	}
	if len(v.Options) > 0 {
		s += " " + strings.Join(v.Options, " ")
	}
	return s
}

// garpSettings are the gratuitous ARP settings in effect: the instance's
// garp_* override global_defs' vrrp_garp_*.
type garpSettings struct {
	repeat                                           *int
	interval, refresh                                *time.Duration
	repeatNode, intervalNode, refreshNode, delayNode *Node
}

func (c *converter) garp() garpSettings {
	var g garpSettings
	var globals []*Node
	if c.cfg.Global != nil {
		globals = c.cfg.Global.Nodes
		gg := c.cfg.Global.GARP
		g.repeat, g.interval, g.refresh = gg.MasterRepeat, gg.Interval, gg.MasterRefresh
		g.repeatNode = lastIn(globals, "vrrp_garp_master_repeat")
		g.intervalNode = lastIn(globals, "vrrp_garp_interval")
		g.refreshNode = lastIn(globals, "vrrp_garp_master_refresh")
		g.delayNode = lastIn(globals, "vrrp_garp_master_delay")
	}
	ig := c.in.GARP
	if ig.MasterRepeat != nil {
		g.repeat, g.repeatNode = ig.MasterRepeat, c.in.Node.Find("garp_master_repeat")
	}
	if ig.Interval != nil {
		g.interval, g.intervalNode = ig.Interval, c.in.Node.Find("garp_interval")
	}
	if ig.MasterRefresh != nil {
		g.refresh, g.refreshNode = ig.MasterRefresh, c.in.Node.Find("garp_master_refresh")
	}
	if ig.MasterDelay != nil {
		g.delayNode = c.in.Node.Find("garp_master_delay")
	}
	if g.repeat != nil && *g.repeat > 100 {
		v := 100 // config's garp_count limit
		g.repeat = &v
	}
	if g.refresh != nil && *g.refresh%time.Second != 0 {
		v := g.refresh.Round(time.Second)
		g.refresh = &v
	}
	return g
}

// mysql maps the tracked vrrp_script onto raftvip's MySQL check.
// mysql writes the health check block. bind's host is the example DSN's: the
// check connects to this host's MySQL on this host's own address, which a
// bind-address without loopback still serves (127.0.0.1 would not).
func (c *converter) mysql(bind string) hblock {
	host, _, _ := net.SplitHostPort(bind)
	example := "tcp(" + net.JoinHostPort(host, "3306") + ")/"
	in := c.in
	blk := hblock{header: "mysql", intro: []string{"The local health check: this node may hold the VIP only while MySQL answers a real query."}}
	var chk *Script
	var unknown []string
	if n := in.Node.Find("track_script"); n != nil {
		for _, t := range in.TrackScripts {
			s := c.cfg.Script(t.Name)
			if s == nil {
				unknown = append(unknown, t.Name)
				continue
			}
			if chk == nil {
				chk = s
			}
		}
	}
	for _, n := range in.Node.Block {
		if n.Keyword != "track_script" {
			continue
		}
		text := "the mysql block replaces the tracked script"
		if chk != nil {
			text = fmt.Sprintf("the mysql block replaces vrrp_script %s", chk.Name)
		}
		for _, t := range in.TrackScripts {
			if t.HasWeight {
				text += fmt.Sprintf("; weight %d of %s: raftvip has no priorities to adjust (a node whose check fails gives the VIP up)", t.Weight, t.Name)
			}
		}
		if len(unknown) > 0 {
			text += fmt.Sprintf("; %s: no such vrrp_script (keepalived ignores it too)", strings.Join(unknown, ", "))
		}
		blk.intro = append(blk.intro, c.note(n, "%s", text))
	}
	if chk != nil {
		c.handled[chk.Node] = true
		blk.intro = append(blk.intro, fmt.Sprintf("keepalived: vrrp_script %s (%s) -> this block: raftvip checks MySQL itself with real queries instead of running a script.", chk.Name, c.where(chk.Node.Pos)))
	} else {
		blk.intro = append(blk.intro, fmt.Sprintf("vrrp_instance %s tracks no vrrp_script, so this block keeps raftvip's defaults.", in.Name))
	}

	switch {
	case c.opts.MySQLDSN != "":
		blk.items = append(blk.items, item{notes: []string{"from -mysql-dsn. This file now holds the MySQL password: keep it mode 0600, or use dsn_file."},
			key: "dsn", value: hclString(c.opts.MySQLDSN)})
	case c.opts.MySQLDSNFile != "":
		blk.items = append(blk.items, item{notes: []string{"from -mysql-dsn-file: a file (mode 0600) holding user:password@" + example +
			" (this host's address: MySQL's bind-address must include it and the user must be allowed from it)"},
			key: "dsn_file", value: hclString(c.opts.MySQLDSNFile)})
	default:
		blk.items = append(blk.items, item{notes: []string{fmt.Sprintf("FIXME: create %s (mode 0600) holding the DSN of a MySQL user for the check, like raftvip:PASSWORD@%s: this host's address, which MySQL's bind-address must include, for a user allowed from it (CREATE USER raftvip@'%s'); or raftvip:PASSWORD@unix(/run/mysqld/mysqld.sock)/ for raftvip@'localhost'. -mysql-dsn-file or -mysql-dsn set this; raftvip validate reads it.", DefaultDSNFile, example, host)},
			key: "dsn_file", value: hclString(DefaultDSNFile)})
	}

	queryNote := ""
	if chk != nil {
		if n := chk.Node.Find("script"); n != nil {
			text := "replaced by a real query through the DSN: it fails on a server that is hung, full or refusing connections even while something still listens on port 3306, which a port, process or script check misses; and raftvip never stops itself the way `systemctl stop keepalived` in a check script does, it gives the VIP up and takes it again when MySQL is back"
			repl, unread := c.replication()
			switch {
			case repl != nil && repl.script == chk:
				text += ". This script checks replication (" + repl.marker + "): raftvip does that itself, not in this query; see failover.max_lag below"
			case len(unread) > 0 && slices.ContainsFunc(unread, func(u unreadScript) bool { return strings.Contains(chk.Script, u.path) }):
				for _, u := range unread {
					if strings.Contains(chk.Script, u.path) {
						text += fmt.Sprintf(". %s could not be read here (%v), so what it checks is unknown: if it checks replication, raftvip does that itself (failover.max_lag, see docs/import-keepalived.md)", u.path, u.err)
						break
					}
				}
			}
			queryNote = c.note(n, "%s", text)
		}
	}
	blk.items = append(blk.items, item{notes: nonEmpty(queryNote), key: "query", value: hclString(config.DefaultQuery)})
	if chk == nil {
		return blk
	}
	if chk.Interval > 0 {
		n := chk.Node.Find("interval")
		blk.items = append(blk.items, item{notes: []string{c.note(n, "mysql.interval. raftvip's default is %s; a killed MySQL is seen at once whatever the interval (the watched connection), a hung one after fail_after below",
			config.DefaultInterval)},
			key: "interval", value: hclString(fmtDur(chk.Interval))})
	}
	if chk.Timeout > 0 {
		n := chk.Node.Find("timeout")
		blk.items = append(blk.items, item{notes: []string{c.note(n, "mysql.timeout: a check that takes longer fails")},
			key: "timeout", value: hclString(fmtDur(chk.Timeout))})
	}
	if chk.Fall > 0 || chk.Interval > 0 {
		// keepalived gave up after fall failed runs interval apart, whatever
		// the failure: interval x fall is how long it let MySQL go without
		// a good check. That is fail_after. Copying the count into
		// mysql.fall would mean something else: raftvip's fall counts
		// refusals and wrong answers checked 25 ms apart (a count of
		// those measures no time), and does not count timeouts at all.
		interval, fall := chk.Interval, chk.Fall
		if interval == 0 {
			interval = time.Second // keepalived's default
		}
		if fall == 0 {
			fall = 1 // keepalived's default
		}
		failAfter := interval * time.Duration(fall)
		text := fmt.Sprintf("mysql.fail_after = interval x fall = %s x %d: keepalived let MySQL go that long without a good check before it gave the VIP up; raftvip does the same for a server that does not answer (hung, timeouts). Refused or reset connections and wrong answers are counted by raftvip's own mysql.fall (default %d, checks 25 ms apart), so a dead MySQL still moves the VIP in milliseconds; overloads (ERR 1040 too many connections) never move it", fmtDur(interval), fall, config.DefaultFall)
		var note string
		if n := chk.Node.Find("fall"); n != nil {
			note = c.note(n, "%s", text)
		} else {
			note = fmt.Sprintf("keepalived: fall not set (keepalived's default 1) -> %s", text)
		}
		blk.items = append(blk.items, item{notes: []string{note}, key: "fail_after", value: hclString(fmtDur(failAfter))})
	}
	if chk.Rise > 0 {
		n := chk.Node.Find("rise")
		blk.items = append(blk.items, item{notes: []string{c.note(n, "mysql.rise: consecutive good checks before this node counts as healthy again")},
			key: "rise", value: strconv.Itoa(chk.Rise)})
	}
	for _, n := range chk.Node.Block {
		if c.handled[n] {
			continue
		}
		var text string
		switch n.Keyword {
		case "weight":
			switch {
			case chk.Weight < 0:
				text = fmt.Sprintf("not needed: keepalived lowered the priority by %d after fall failures and relied on a backup with a higher priority taking over (with nopreempt it never did while the master lived); raftvip gives the VIP up as soon as its check fails (mysql.fall refusals, or mysql.fail_after without an answer), and only a db node with healthy MySQL can take it", -chk.Weight)
			case chk.Weight == 0:
				text = "same behaviour: weight 0 put the instance in FAULT after fall failures (VIP released); raftvip releases the VIP when its check fails (mysql.fall refusals, or mysql.fail_after without an answer)"
			default:
				text = "not needed: keepalived raised the priority of healthy nodes; raftvip has no priorities, any db node with healthy MySQL may hold the VIP"
			}
		case "user":
			text = "not needed: raftvip runs no script"
		case "init_fail":
			text = "same behaviour: raftvip's check starts unhealthy and turns healthy after mysql.rise good checks"
		default:
			continue // reported with the other settings
		}
		blk.items = append(blk.items, item{notes: []string{c.note(n, "%s", text)}})
	}
	return blk
}

// fmtDur writes a duration the way the config does ("2s", "500ms").
func fmtDur(d time.Duration) string { return d.String() }

func (c *converter) failover() hblock {
	blk := hblock{header: "failover"}
	var note string
	if c.in == nil {
		note = "preempt = false: the VIP stays where it is until its holder fails (like keepalived's nopreempt)"
	} else if n := c.in.Node.Find("nopreempt"); n != nil && c.in.Nopreempt {
		note = c.note(n, "failover.preempt = false: the VIP stays where it is until its holder fails. Unlike keepalived, this needs no state BACKUP on every host")
	} else {
		what := "keepalived preempts by default"
		if n := c.in.Node.Find("preempt"); n != nil {
			what = c.note(n, "keepalived preempts")
		}
		note = what + ": the host with the highest priority takes the VIP back when it returns. raftvip moves the VIP back only to failover.preferred, and only with preempt = true; it is left false here (the VIP stays where it is until its holder fails). For keepalived's behaviour set preempt = true and preferred = the node id of the host with the highest keepalived priority"
	}
	blk.items = append(blk.items, item{notes: []string{note}, key: "preempt", value: "false"})
	if c.in != nil {
		if n := c.in.Node.Find("preempt_delay"); n != nil {
			blk.items = append(blk.items, item{notes: []string{c.note(n, "no equivalent: with preempt = true raftvip moves the VIP back once the preferred node has passed mysql.rise checks")}})
		}
	}
	if r, _ := c.replication(); r != nil {
		v, note := c.replicationMaxLag(r)
		blk.items = append(blk.items, item{notes: []string{note}, key: "max_lag", value: hclString(v)})
	}
	return blk
}

// vrrp writes the vrrp block; vipIface is vip.interface.
func (c *converter) vrrp(vipIface, bind string) hblock {
	in := c.in
	mode := c.opts.VRRPMode
	blk := hblock{header: "vrrp"}
	switch mode {
	case config.VRRPObserve:
		blk.intro = []string{`VRRP towards the keepalived routers of this VRID while both run. mode = "observe" is step one of a migration: raftvip runs Raft and the MySQL check and listens to keepalived's adverts, reporting in the log and in ` + "`raftvip status`" + ` who is VRRP master and what raftvip would do, but never touches the VIP: keepalived keeps serving it. Then "active" (raftvip takes the VRID over while keepalived stays backup), then keepalived is removed and mode set to "off". See docs/migrating-from-keepalived.md.`}
	case config.VRRPActive:
		blk.intro = []string{`VRRP towards the keepalived routers of this VRID while both run. mode = "active": while raftvip holds the VIP it advertises it at vrrp.priority, so keepalived routers stay backup; it never holds the VIP while a stronger VRRP master is on the wire, and it hands over at once (priority 0 advert) when it gives the VIP up.`}
	default:
		blk.intro = []string{`VRRP is off: use this once keepalived is gone from every host. The values below are kept so that switching to "observe" or "active" is a one-word edit.`}
	}
	blk.items = append(blk.items, item{key: "mode", value: hclString(mode)})

	version := 2
	var verNote string
	if n := in.Node.Find("version"); n != nil && in.Version != 0 {
		version = in.Version
		verNote = c.note(n, "vrrp.version")
	} else if g := c.cfg.Global; g != nil && g.VRRPVersion != 0 {
		version = g.VRRPVersion
		verNote = c.note(lastIn(g.Nodes, "vrrp_version"), "vrrp.version")
	}
	if verNote == "" {
		verNote = "keepalived's default: neither vrrp_version nor version is set"
	}
	blk.items = append(blk.items, item{notes: []string{verNote}, key: "version", value: strconv.Itoa(version)})

	if n := in.Node.Find("virtual_router_id"); n != nil && in.VRID != 0 {
		blk.items = append(blk.items, item{notes: []string{c.note(n, "vrrp.virtual_router_id: raftvip and keepalived must share it while both run")},
			key: "virtual_router_id", value: strconv.Itoa(in.VRID)})
	} else {
		c.errorf(in.Node.Pos, "vrrp_instance %s has no virtual_router_id (keepalived requires one)", in.Name)
	}

	wire := fmt.Sprintf("vrrp.priority matters only on the wire while raftvip and keepalived share VRID %d: raftvip advertises %d while it holds the VIP, above every usual keepalived priority, so keepalived backups stay BACKUP during the migration", in.VRID, config.DefaultVRRPPriority)
	prioNote := "keepalived's default priority is 100; " + wire
	if n := in.Node.Find("priority"); n != nil && in.Priority != 0 {
		prioNote = c.note(n, "not used as such: raftvip elects the holder with Raft among the db nodes with healthy MySQL. %s", wire)
		if in.Priority >= config.DefaultVRRPPriority {
			prioNote += fmt.Sprintf(". WARNING: keepalived priority %d is not below %d, so a keepalived router with it would outrank or tie raftvip: lower it on the keepalived hosts before mode = \"active\"", in.Priority, config.DefaultVRRPPriority)
			c.notes = append(c.notes, fmt.Sprintf("keepalived priority %d (%s) is not below raftvip's vrrp.priority %d: lower it on the keepalived hosts before vrrp mode active", in.Priority, c.where(n.Pos), config.DefaultVRRPPriority))
		}
	}
	blk.items = append(blk.items, item{notes: []string{prioNote}, key: "priority", value: strconv.Itoa(config.DefaultVRRPPriority)})

	adv := time.Second
	var advNotes []string
	if n := in.Node.Find("advert_int"); n != nil && in.AdvertInt != 0 {
		adv = in.AdvertInt
		text := "vrrp.advert_int"
		if r := roundAdvert(adv, version); r != adv {
			text = fmt.Sprintf("vrrp.advert_int %s: VRRPv%d cannot carry %s, and keepalived rounds it the same way", r, version, adv)
			adv = r
		}
		advNotes = append(advNotes, c.note(n, "%s", text))
	}
	blk.items = append(blk.items, item{notes: advNotes, key: "advert_int", value: hclString(adv.String())})

	if n := in.Node.Find("authentication"); n != nil {
		c.handled[n] = true
		typeNode, passNode := n.Find("auth_type"), n.Find("auth_pass")
		if typeNode != nil {
			c.handled[typeNode] = true
		}
		if passNode != nil {
			c.handled[passNode] = true
		}
		switch {
		case version == 3:
			blk.items = append(blk.items, item{notes: []string{c.note(n, "no auth_pass: VRRPv3 has no authentication and keepalived ignores this block with version 3")}})
		case in.AuthType == "AH":
			if mode != config.VRRPOff {
				c.errorf(typeNode.ArgPos[0], "auth_type AH (IPsec authentication header) is not supported by raftvip's VRRP, so raftvip could not talk to keepalived on this VRID: switch keepalived to auth_type PASS (or no authentication) first, or import with -vrrp-mode off")
			} else {
				blk.items = append(blk.items, item{notes: []string{c.note(typeNode, "not supported: raftvip's VRRP has no AH authentication; fine with mode off")}})
			}
		case in.AuthType == "PASS" && in.AuthPass != "":
			pass := in.AuthPass
			text := "vrrp.auth_pass (auth_type PASS): the simple password keepalived checks in every advert"
			if len(pass) > authPassLen {
				text = fmt.Sprintf("vrrp.auth_pass (auth_type PASS): the password is %d characters but keepalived uses only the first %d (it truncates it), so vrrp.auth_pass holds those", len(pass), authPassLen)
				pass = pass[:authPassLen]
			}
			blk.items = append(blk.items, item{notes: []string{c.note(n, "%s", text)}, key: "auth_pass", value: hclString(pass)})
		default:
			blk.items = append(blk.items, item{notes: []string{c.note(n, "no auth_pass: without auth_type PASS and an auth_pass keepalived sends no password, and neither does raftvip")}})
		}
	}

	var peers []string
	var peerNotes []string
	if n := in.Node.Find("unicast_peer"); n != nil {
		for _, a := range in.UnicastPeers {
			if !a.Is4() {
				c.errorf(n.Pos, "unicast_peer %s is IPv6; raftvip speaks VRRP over IPv4 only", a)
				continue
			}
			peers = append(peers, a.String())
		}
		for _, l := range n.Block {
			c.handled[l] = true
			if len(l.Args) > 0 {
				peerNotes = append(peerNotes, fmt.Sprintf("keepalived: unicast_peer %s (%s) -> %s ignored: raftvip checks TTL 255 on every advert as RFC 3768 requires", l.Text(), c.where(l.Pos), strings.Join(l.Args, " ")))
			}
		}
		peerNotes = append([]string{c.note(n, "vrrp.unicast_peers: adverts go to each of these instead of multicast")}, peerNotes...)
	} else {
		peerNotes = []string{"empty: multicast to 224.0.0.18, as keepalived without unicast_peer"}
	}
	blk.items = append(blk.items, item{notes: peerNotes, key: "unicast_peers", value: hclList(peers)})

	trusted, trustNotes := c.trustedRouters(bind)
	blk.items = append(blk.items, item{notes: trustNotes, key: "trusted_routers", value: hclList(trusted)})

	if in.Interface != "" && in.Interface != vipIface {
		blk.items = append(blk.items, item{key: "interface", value: hclString(in.Interface)})
	}
	return blk
}

// trustedRouters lists the keepalived routers raftvip should heed: the
// instance's unicast_peers, and the other db hosts of -peer, where
// keepalived runs beside raftvip during the migration (in multicast mode
// keepalived.conf names no other router, so their addresses are the only
// ones known). This host's own address is left out: its agent never hears
// its own keepalived on the wire (keepalived turns multicast loopback off
// and sends unicast to the others), and sees its VIP on the interface
// instead.
func (c *converter) trustedRouters(bind string) ([]string, []string) {
	self := hostAddr(bind)
	var list, notes []string
	add := func(a netip.Addr, why string) {
		if !a.Is4() || a == self || slices.Contains(list, a.String()) {
			return
		}
		list = append(list, a.String())
		notes = append(notes, a.String()+": "+why)
	}
	if n := c.in.Node.Find("unicast_peer"); n != nil {
		for _, a := range c.in.UnicastPeers {
			add(a, "unicast_peer ("+c.where(n.Pos)+")")
		}
	}
	for _, p := range c.opts.Peers {
		if p.Role == config.RoleWitness {
			continue // runs no keepalived
		}
		add(hostAddr(p.Address), fmt.Sprintf("-peer %s, where keepalived runs beside raftvip: right if keepalived there sends from this address (its mcast_src_ip or unicast_src_ip, else its interface's first address); `raftvip status` lists the sources heard", p.ID))
	}
	intro := "vrrp.trusted_routers: the keepalived routers raftvip heeds (gives way to, or makes yield), by source address; adverts from any other source are dropped and counted as untrusted. keepalived had no such list: its auth_pass travels in clear text, so anyone on the link could forge a master"
	if len(list) == 0 {
		c.notes = append(c.notes, "vrrp.trusted_routers is empty: no keepalived address is known (no unicast_peer, no -peer with an IPv4 address); list your keepalived routers' addresses there")
		return nil, []string{intro + ". FIXME: no keepalived address is known here (no unicast_peer, and no db -peer with an IPv4 address): list the other keepalived routers' addresses. Left empty, every router is heeded, but a VRRP master keeps raftvip from the VIP for at most vrrp.untrusted_block_max (30s) in all"}
	}
	return list, append([]string{intro}, notes...)
}

// hostAddr is the IP address of "HOST[:PORT]", or the zero Addr when HOST
// is a name.
func hostAddr(hostport string) netip.Addr {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	a, _ := netip.ParseAddr(host)
	return a
}

// roundAdvert rounds an advert interval the way keepalived does for the
// VRRP version: v2 to whole seconds (half up, 1..255), v3 to centiseconds
// (10ms..40.95s).
func roundAdvert(d time.Duration, version int) time.Duration {
	unit, lo, hi := 10*time.Millisecond, 10*time.Millisecond, 4095*10*time.Millisecond
	if version == 2 {
		unit, lo, hi = time.Second, time.Second, 255*time.Second
	}
	r := (d + unit/2) / unit * unit
	return min(max(r, lo), hi)
}

// rest lists every keepalived statement not reported yet, with what
// raftvip does about it.
func (c *converter) rest(witness bool) hblock {
	blk := hblock{}
	// Statements with the same explanation share one comment, in the
	// order of their first appearance.
	type group struct {
		settings []string
		text     string
	}
	var groups []*group
	byText := map[string]*group{}
	add := func(n *Node, text string) {
		c.handled[n] = true
		setting := fmt.Sprintf("%s (%s)", settingText(n), c.where(n.Pos))
		if g := byText[text]; g != nil {
			g.settings = append(g.settings, setting)
			return
		}
		g := &group{settings: []string{setting}, text: text}
		byText[text] = g
		groups = append(groups, g)
	}
	walkBlock := func(ctx string, parent *Node) {
		for _, n := range parent.Block {
			if c.handled[n] {
				continue
			}
			if last := parent.Find(n.Keyword); last != n && c.handled[last] {
				add(n, fmt.Sprintf("ignored: %s is repeated at %s, and keepalived uses the last one, as import does", n.Keyword, c.where(last.Pos)))
				continue
			}
			add(n, explain(ctx, n, witness))
		}
	}
	if g := c.cfg.Global; g != nil {
		for _, n := range g.Nodes {
			walkBlock("global", n)
		}
	}
	for _, s := range c.cfg.Scripts {
		if c.handled[s.Node] {
			walkBlock("script", s.Node)
			continue
		}
		switch {
		case witness:
			add(s.Node, "not used on a witness: it has no database, and the db hosts' configs carry the MySQL check")
			walkBlock("script", s.Node)
		case c.repl != nil && c.repl.script == s:
			add(s.Node, "not imported: it checks replication ("+c.repl.marker+"), which raftvip does itself (failover.max_lag)")
			for _, n := range s.Node.Block {
				add(n, "part of that replication check: raftvip runs no script (its replication check reads each server's replication state after every mysql check)")
			}
		case c.in != nil && slices.ContainsFunc(c.in.TrackScripts, func(t Track) bool { return t.Name == s.Name }):
			add(s.Node, "not imported: raftvip has a single health check, the MySQL query (mysql block, from the first tracked script); watch what this script checks with your monitoring, or fold it into mysql.query")
		case c.in != nil:
			add(s.Node, fmt.Sprintf("not imported: vrrp_instance %s does not track it", c.in.Name))
		default:
			add(s.Node, "not imported")
		}
	}
	for _, in := range c.cfg.Instances {
		if in != c.in {
			add(in.Node, fmt.Sprintf("not imported: this run imports vrrp_instance %s (-instance picks another; raftvip moves one set of addresses)", c.in.Name))
			continue
		}
		if witness {
			add(in.Node, "not used on a witness: it holds no VIP, and the db hosts' configs carry the VIP and VRRP settings")
		}
		walkBlock("instance", in.Node)
		if n := in.Node.Find("authentication"); n != nil {
			walkBlock("authentication", n)
		}
	}
	for _, n := range c.cfg.Other {
		add(n, explain("top", n, witness))
	}
	for _, g := range groups {
		blk.intro = append(blk.intro, fmt.Sprintf("keepalived: %s -> %s", strings.Join(g.settings, ", "), g.text))
	}
	for _, w := range c.cfg.Warnings {
		blk.intro = append(blk.intro, fmt.Sprintf("keepalived warning: %s (%s)", w.Msg, c.where(w.Pos)))
		c.notes = append(c.notes, "warning: "+w.Error())
	}
	if len(blk.intro) > 0 {
		blk.intro = append([]string{"Other keepalived settings, and why raftvip does not need them:"}, blk.intro...)
	}
	return blk
}

const noEmail = "not needed: raftvip sends no e-mail; every acquire and release is logged with its reason and shown by `raftvip status` (recent epochs): alert from those, or from a notify script or notify.webhook (docs/notify.md)"

const noNotify = "not supported: raftvip runs notify_master, notify_backup, notify_fault, notify_stop and notify (the notify block); state changes are also in the log and in `raftvip status`"

// explain says what raftvip does about a keepalived statement that has no
// place in the generated configuration. ctx is the enclosing block.
func explain(ctx string, n *Node, witness bool) string {
	kw := n.Keyword
	if witness && ctx != "top" && ctx != "global" {
		return "not used on a witness (it holds no VIP and has no database)"
	}
	switch ctx {
	case "global":
		switch kw {
		case "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout", "smtp_helo_name", "smtp_alert", "smtp_alert_vrrp":
			return noEmail
		case "router_id":
			return "not used: node_id names this node"
		case "script_user":
			return "not needed: raftvip's health check is a MySQL query, and it runs notify scripts as its own user (root)"
		case "enable_script_security":
			return "not needed: raftvip always refuses notify scripts that group or others may write (raftvip validate and the agent's start check them)"
		case "notify_fifo_script", "vrrp_notify_fifo_script":
			return "not supported: raftvip runs no FIFO reader; run the script as a service of its own reading notify.fifo"
		case "lvs_notify_fifo", "lvs_notify_fifo_script":
			return "not needed: raftvip has no LVS checker events"
		case "vrrp_version":
			return "vrrp.version"
		case "vrrp_garp_master_refresh_repeat", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_min_garp":
			return "no equivalent: raftvip sends vip.garp_count ARPs on takeover and one per vip.garp_refresh"
		case "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh", "vrrp_garp_interval":
			return "overridden by the instance's own garp setting"
		}
	case "script":
		switch kw {
		case "user":
			return "not needed: raftvip runs no script"
		}
	case "instance":
		switch kw {
		case "state":
			return "not needed: Raft elects the holder among the db nodes with healthy MySQL; there is no initial MASTER or BACKUP"
		case "notify_master_rx_lower_pri", "notify_deleted":
			return noNotify
		case "smtp_alert":
			return noEmail
		case "track_interface":
			return "not supported: raftvip does not watch links; a node cut off from the network loses contact with the Raft majority and its VIP lease expires by itself (when Raft runs over the same link)"
		case "garp_master_refresh_repeat", "garp_lower_prio_delay", "garp_lower_prio_repeat":
			return "no equivalent: raftvip sends vip.garp_count ARPs on takeover and one per vip.garp_refresh"
		case "dont_track_primary":
			return "not needed: raftvip does not watch the interface's link state"
		case "use_vmac", "vmac_xmit_base", "use_vmac_addr":
			return "not supported: raftvip adds the VIP on the interface itself, with the host's MAC (no virtual MAC)"
		case "accept", "no_accept", "strict_mode", "skip_check_adv_addr":
			return "not needed: raftvip always accepts traffic for the VIP it holds and checks adverts as RFC 3768 says"
		case "nopreempt", "preempt":
			return "overridden: keepalived uses the last of preempt and nopreempt, as import does"
		case "mcast_dst_ip":
			return "not supported: raftvip multicasts to 224.0.0.18 (or sends to vrrp.unicast_peers)"
		}
	case "top":
		switch kw {
		case "vrrp_sync_group":
			msg := "not imported: raftvip moves all vip.addresses together, one group by construction"
			for _, c := range n.Block {
				if strings.HasPrefix(c.Keyword, "notify") {
					// Silently dropping the group's scripts would lose
					// what the site pages or flips on a move.
					msg += "; its notify scripts are not imported either (raftvip notifies the instance, with INSTANCE, not GROUP, as notify's $1): put them in the notify block if they should run"
					break
				}
			}
			return msg
		case "virtual_server", "virtual_server_group", "real_server":
			return "not imported: LVS load balancing is not part of what raftvip replaces; keep it in keepalived (with --check) or another load balancer"
		case "static_ipaddress", "static_routes", "static_rules":
			return "not imported: raftvip manages only the VIP; configure static addresses and routes with the system's network configuration"
		case "vrrp_track_process", "vrrp_track_file", "track_file", "bfd_instance", "linkbeat_interfaces", "garp_group":
			return "not supported: raftvip's only health check is the MySQL query"
		}
	}
	return "not understood by import-keepalived: raftvip ignores it; check by hand whether it mattered"
}

// selfCheck makes sure the output passes config.Parse. A dsn_file that does
// not exist yet is expected (the operator creates it), so that one problem
// is turned into a note.
func (c *converter) selfCheck(text string) error {
	name := c.opts.OutputFile
	if name == "" {
		name = "generated.hcl"
	}
	_, err := config.Parse([]byte(text), name)
	if err == nil {
		return nil
	}
	var errs *config.Errors
	if !errors.As(err, &errs) {
		return err
	}
	var left []string
	for _, e := range errs.List {
		if strings.HasPrefix(e.Msg, "mysql.dsn_file: cannot read") && c.opts.MySQLDSN == "" {
			if errors.Is(dsnFileStat(c, name), os.ErrNotExist) {
				c.notes = append(c.notes, fmt.Sprintf("%s does not exist yet: create it (mode 0600) with the DSN of the MySQL check user before `raftvip validate` or starting raftvip", c.dsnFile(name)))
				continue
			}
		}
		if strings.HasPrefix(e.Msg, "notify.notify") && strings.Contains(e.Msg, `script "`) {
			// The script as keepalived ran it, on a host where it is not
			// (yet), or one raftvip refuses to run as root: the operator
			// fixes the file, not the import.
			c.notes = append(c.notes, fmt.Sprintf("%s: fix it before `raftvip validate` or starting raftvip (a notify script must be on this host, executable, and not writable by group or others)", e.Msg))
			continue
		}
		left = append(left, e.Error())
	}
	if len(left) == 0 {
		return nil
	}
	return usagef("the generated configuration does not validate (check the flags):\n%s", strings.Join(left, "\n"))
}

func (c *converter) dsnFile(outName string) string {
	f := c.opts.MySQLDSNFile
	if f == "" {
		f = DefaultDSNFile
	}
	if !filepath.IsAbs(f) {
		f = filepath.Join(filepath.Dir(outName), f)
	}
	return f
}

func dsnFileStat(c *converter, outName string) error {
	_, err := os.Stat(c.dsnFile(outName))
	return err
}
