package keepalived

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config is what import understands of a keepalived.conf: the settings of
// the VRRP part, each block keeping its Node so every statement, known or
// not, can be reported with its position.
type Config struct {
	Global    *Global     // nil without global_defs (several are merged, later values winning)
	Scripts   []*Script   // vrrp_script blocks, in file order
	Instances []*Instance // vrrp_instance blocks, in file order
	Other     []*Node     // every other top-level statement (virtual_server, vrrp_sync_group, ...)
	Files     []string    // every file read, main file first
	Warnings  []Error     // problems keepalived tolerates
}

// Global is global_defs.
type Global struct {
	Nodes                 []*Node // the global_defs blocks
	RouterID              string
	NotificationEmail     []string
	NotificationEmailFrom string
	SMTPServer            string
	VRRPVersion           int // 0 when not set
	ScriptUser            string
	EnableScriptSecurity  bool
	GARP                  GARP
}

// GARP holds the gratuitous ARP settings (vrrp_garp_* in global_defs,
// garp_* in an instance). Each is nil when not set.
type GARP struct {
	MasterDelay   *time.Duration // delay of the second burst after becoming master
	MasterRepeat  *int           // ARPs per burst
	MasterRefresh *time.Duration // periodic refresh while master, 0 = off
	Interval      *time.Duration // spacing of the ARPs of a burst
}

// Script is a vrrp_script block.
type Script struct {
	Node          *Node
	Name          string
	Script        string        // the command line as written
	Interval      time.Duration // 0 when not set (keepalived: 1s)
	Timeout       time.Duration // 0 when not set
	Weight        int
	WeightReverse bool
	Fall, Rise    int // 0 when not set (keepalived: 1)
	User          string
}

// Instance is a vrrp_instance block.
type Instance struct {
	Node            *Node
	Name            string
	State           string // MASTER, BACKUP or ""
	Interface       string
	VRID            int           // 0 when not set
	Priority        int           // 0 when not set (keepalived: 100)
	AdvertInt       time.Duration // 0 when not set (keepalived: 1s)
	Version         int           // 0 when not set: global vrrp_version, else 2
	Nopreempt       bool
	PreemptDelay    time.Duration
	AuthType        string // PASS, AH or ""
	AuthPass        string
	VIPs            []VIP
	ExcludedVIPs    []VIP
	UnicastSrcIP    netip.Addr
	McastSrcIP      netip.Addr
	UnicastPeers    []netip.Addr
	TrackScripts    []Track
	TrackInterfaces []Track
	GARP            GARP
}

// VIP is one line of virtual_ipaddress.
type VIP struct {
	Pos       Pos
	Prefix    netip.Prefix // the address with its prefix length, /32 (/128) when none was given
	HasPrefix bool
	Dev       string
	Label     string
	Options   []string // everything else on the line (brd, scope, no_track, ...)
}

// Track is one line of track_script or track_interface.
type Track struct {
	Pos       Pos
	Name      string
	Weight    int
	HasWeight bool
	Reverse   bool
}

// Load parses the file and its includes and decodes the VRRP settings.
func Load(path string) (*Config, error) {
	t, err := ParseFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(t)
}

// Decode checks and decodes a parsed tree. Bad values (a number that is
// not one, a missing value, an address that does not parse) are errors
// with their position; unknown keywords are kept in the Nodes.
func Decode(t *Tree) (*Config, error) {
	d := &decoder{}
	cfg := &Config{Files: t.Files, Warnings: t.Warnings}
	scripts := map[string]*Script{}
	instances := map[string]*Instance{}
	for _, n := range t.Nodes {
		switch n.Keyword {
		case "global_defs":
			if cfg.Global == nil {
				cfg.Global = &Global{}
			}
			d.global(cfg.Global, n)
		case "vrrp_script":
			s := d.script(n)
			if s == nil {
				continue
			}
			if prev, dup := scripts[s.Name]; dup {
				d.errorf(n.Pos, "vrrp_script %s is defined twice (first at %s)", s.Name, prev.Node.Pos)
				continue
			}
			scripts[s.Name] = s
			cfg.Scripts = append(cfg.Scripts, s)
		case "vrrp_instance":
			in := d.instance(n)
			if in == nil {
				continue
			}
			if prev, dup := instances[in.Name]; dup {
				d.errorf(n.Pos, "vrrp_instance %s is defined twice (first at %s)", in.Name, prev.Node.Pos)
				continue
			}
			instances[in.Name] = in
			cfg.Instances = append(cfg.Instances, in)
		default:
			cfg.Other = append(cfg.Other, n)
		}
	}
	if len(d.errs) > 0 {
		return nil, &Errors{List: d.errs}
	}
	cfg.Warnings = append(cfg.Warnings, d.warnings...)
	return cfg, nil
}

// Script returns the vrrp_script with that name, or nil.
func (c *Config) Script(name string) *Script {
	for _, s := range c.Scripts {
		if s.Name == name {
			return s
		}
	}
	return nil
}

type decoder struct {
	errs     []Error
	warnings []Error
}

func (d *decoder) errorf(pos Pos, format string, args ...any) {
	d.errs = append(d.errs, Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) warnf(pos Pos, format string, args ...any) {
	d.warnings = append(d.warnings, Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// arg returns the single value of n, reporting a missing value. Extra
// words are ignored with a warning, as keepalived does.
func (d *decoder) arg(n *Node) (string, bool) {
	if len(n.Args) == 0 {
		d.errorf(n.Pos, "%s needs a value", n.Keyword)
		return "", false
	}
	if len(n.Args) > 1 {
		d.warnf(n.ArgPos[1], "%s takes one value; keepalived ignores the rest (%s)", n.Keyword, strings.Join(n.Args[1:], " "))
	}
	return n.Args[0], true
}

// noBlock reports a block where keepalived expects a plain value.
func (d *decoder) noBlock(n *Node) {
	if n.HasBlock {
		d.errorf(n.Pos, "%s takes a value, not a { } block", n.Keyword)
	}
}

// needBlock reports a missing block.
func (d *decoder) needBlock(n *Node) bool {
	if !n.HasBlock {
		d.errorf(n.Pos, "%s needs a { } block", n.Keyword)
		return false
	}
	return true
}

// integer parses a decimal whole number in [min, max].
func (d *decoder) integer(n *Node, min, max int) (int, bool) {
	s, ok := d.arg(n)
	if !ok {
		return 0, false
	}
	return d.intAt(n, 0, s, min, max)
}

func (d *decoder) intAt(n *Node, i int, s string, min, max int) (int, bool) {
	v, err := strconv.Atoi(s)
	if err != nil {
		d.errorf(n.ArgPos[i], "%s: %q is not a whole number", n.Keyword, s)
		return 0, false
	}
	if v < min || v > max {
		d.errorf(n.ArgPos[i], "%s: %d is out of range; keepalived accepts %d..%d", n.Keyword, v, min, max)
		return 0, false
	}
	return v, true
}

// seconds parses a keepalived timer: decimal seconds such as 2, 0.5 or
// 2.71828, with microsecond resolution, in [min, max].
func (d *decoder) seconds(n *Node, min, max time.Duration) (time.Duration, bool) {
	s, ok := d.arg(n)
	if !ok {
		return 0, false
	}
	v, ok := parseSeconds(s)
	if !ok {
		d.errorf(n.ArgPos[0], "%s: %q is not a number of seconds (like 2 or 0.5)", n.Keyword, s)
		return 0, false
	}
	if v < min || v > max {
		d.errorf(n.ArgPos[0], "%s: %s is out of range; keepalived accepts %s..%s seconds", n.Keyword, s, fmtSeconds(min), fmtSeconds(max))
		return 0, false
	}
	return v, true
}

// parseSeconds reads decimal seconds exactly (no float rounding): at most
// six fractional digits count, as keepalived's timers are in microseconds.
func parseSeconds(s string) (time.Duration, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, false
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
	}
	var w int64
	if whole != "" {
		var err error
		if w, err = strconv.ParseInt(whole, 10, 64); err != nil || w > math.MaxInt64/int64(time.Second) {
			return 0, false
		}
	}
	if len(frac) > 6 {
		frac = frac[:6]
	}
	us := int64(0)
	if frac != "" {
		f, _ := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		us = f
	}
	return time.Duration(w)*time.Second + time.Duration(us)*time.Microsecond, true
}

// fmtSeconds writes a duration the way keepalived's configuration does.
func fmtSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

func (d *decoder) addr(n *Node) (netip.Addr, bool) {
	s, ok := d.arg(n)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		d.errorf(n.ArgPos[0], "%s: %q is not an IP address", n.Keyword, s)
		return netip.Addr{}, false
	}
	return a, true
}

// boolFlag reads a keyword that is on by itself or takes an optional
// on|off|true|false|yes|no.
func (d *decoder) boolFlag(n *Node) bool {
	if len(n.Args) == 0 {
		return true
	}
	switch n.Args[0] {
	case "on", "true", "yes":
		return true
	case "off", "false", "no":
		return false
	}
	d.errorf(n.ArgPos[0], "%s: %q is not on|off|true|false|yes|no", n.Keyword, n.Args[0])
	return false
}

// garp decodes a gratuitous ARP setting into g; name is the keyword without
// its "vrrp_" prefix. It reports whether the keyword was one.
func (d *decoder) garp(g *GARP, n *Node, name string) bool {
	switch name {
	case "garp_master_delay":
		if v, ok := d.seconds(n, 0, 1000*time.Second); ok {
			g.MasterDelay = &v
		}
	case "garp_master_repeat":
		if v, ok := d.integer(n, 0, 1000); ok {
			g.MasterRepeat = &v
		}
	case "garp_master_refresh":
		if v, ok := d.seconds(n, 0, 86400*time.Second); ok {
			g.MasterRefresh = &v
		}
	case "garp_interval":
		if v, ok := d.seconds(n, 0, 1000*time.Second); ok {
			g.Interval = &v
		}
	default:
		return false
	}
	d.noBlock(n)
	return true
}

func (d *decoder) global(g *Global, n *Node) {
	g.Nodes = append(g.Nodes, n)
	if !d.needBlock(n) {
		return
	}
	for _, s := range n.Block {
		switch s.Keyword {
		case "router_id":
			d.noBlock(s)
			g.RouterID, _ = d.arg(s)
		case "notification_email":
			if d.needBlock(s) {
				g.NotificationEmail = nil
				for _, e := range s.Block {
					g.NotificationEmail = append(g.NotificationEmail, e.Keyword)
					g.NotificationEmail = append(g.NotificationEmail, e.Args...)
				}
			}
		case "notification_email_from":
			d.noBlock(s)
			g.NotificationEmailFrom, _ = d.arg(s)
		case "smtp_server":
			d.noBlock(s)
			g.SMTPServer, _ = d.arg(s)
		case "smtp_connect_timeout":
			d.noBlock(s)
			d.integer(s, 1, math.MaxInt32)
		case "vrrp_version":
			d.noBlock(s)
			g.VRRPVersion, _ = d.integer(s, 2, 3)
		case "script_user":
			d.noBlock(s)
			g.ScriptUser, _ = d.arg(s)
		case "enable_script_security":
			d.noBlock(s)
			g.EnableScriptSecurity = true
		default:
			if name, ok := strings.CutPrefix(s.Keyword, "vrrp_"); ok {
				d.garp(&g.GARP, s, name)
			}
		}
	}
}

func (d *decoder) name(n *Node) (string, bool) {
	if len(n.Args) == 0 {
		d.errorf(n.Pos, "%s needs a name", n.Keyword)
		return "", false
	}
	if len(n.Args) > 1 {
		d.errorf(n.ArgPos[1], "%s %s: unexpected %q after the name", n.Keyword, n.Args[0], n.Args[1])
	}
	return n.Args[0], true
}

func (d *decoder) script(n *Node) *Script {
	name, ok := d.name(n)
	if !ok || !d.needBlock(n) {
		return nil
	}
	s := &Script{Node: n, Name: name}
	for _, st := range n.Block {
		switch st.Keyword {
		case "script":
			d.noBlock(st)
			if len(st.Args) == 0 {
				d.errorf(st.Pos, "script needs a command")
			}
			s.Script = strings.Join(st.Args, " ")
		case "interval":
			d.noBlock(st)
			s.Interval, _ = d.seconds(st, time.Microsecond, 1<<31*time.Second)
		case "timeout":
			d.noBlock(st)
			s.Timeout, _ = d.seconds(st, time.Microsecond, 1<<31*time.Second)
		case "weight":
			d.noBlock(st)
			if len(st.Args) == 0 {
				d.errorf(st.Pos, "weight needs a value")
				continue
			}
			if v, ok := d.intAt(st, 0, st.Args[0], -254, 254); ok {
				s.Weight = v
			}
			for i, a := range st.Args[1:] {
				if a == "reverse" {
					s.WeightReverse = true
				} else {
					d.errorf(st.ArgPos[i+1], "weight: unexpected %q (want weight N [reverse])", a)
				}
			}
		case "fall":
			d.noBlock(st)
			s.Fall, _ = d.integer(st, 1, math.MaxInt32)
		case "rise":
			d.noBlock(st)
			s.Rise, _ = d.integer(st, 1, math.MaxInt32)
		case "user":
			d.noBlock(st)
			s.User, _ = d.arg(st)
		}
	}
	return s
}

func (d *decoder) instance(n *Node) *Instance {
	name, ok := d.name(n)
	if !ok || !d.needBlock(n) {
		return nil
	}
	in := &Instance{Node: n, Name: name}
	for _, st := range n.Block {
		switch st.Keyword {
		case "state":
			d.noBlock(st)
			if v, ok := d.arg(st); ok {
				if v != "MASTER" && v != "BACKUP" {
					d.errorf(st.ArgPos[0], "state: %q is neither MASTER nor BACKUP", v)
				} else {
					in.State = v
				}
			}
		case "interface":
			d.noBlock(st)
			in.Interface, _ = d.arg(st)
		case "virtual_router_id":
			d.noBlock(st)
			in.VRID, _ = d.integer(st, 1, 255)
		case "priority":
			d.noBlock(st)
			in.Priority, _ = d.integer(st, 1, 255)
		case "advert_int":
			d.noBlock(st)
			in.AdvertInt, _ = d.seconds(st, 10*time.Millisecond, 255*time.Second)
		case "version":
			d.noBlock(st)
			in.Version, _ = d.integer(st, 2, 3)
		case "nopreempt":
			d.noBlock(st)
			in.Nopreempt = true
		case "preempt":
			d.noBlock(st)
			in.Nopreempt = false
		case "preempt_delay":
			d.noBlock(st)
			in.PreemptDelay, _ = d.seconds(st, 0, 1000*time.Second)
		case "authentication":
			d.auth(in, st)
		case "virtual_ipaddress":
			if d.needBlock(st) {
				in.VIPs = append(in.VIPs, d.vips(st)...)
			}
		case "virtual_ipaddress_excluded":
			if d.needBlock(st) {
				in.ExcludedVIPs = append(in.ExcludedVIPs, d.vips(st)...)
			}
		case "unicast_src_ip":
			d.noBlock(st)
			in.UnicastSrcIP, _ = d.addr(st)
		case "mcast_src_ip":
			d.noBlock(st)
			in.McastSrcIP, _ = d.addr(st)
		case "unicast_peer":
			if d.needBlock(st) {
				for _, p := range st.Block {
					a, err := netip.ParseAddr(p.Keyword)
					if err != nil {
						d.errorf(p.Pos, "unicast_peer: %q is not an IP address", p.Keyword)
						continue
					}
					in.UnicastPeers = append(in.UnicastPeers, a)
				}
			}
		case "track_script":
			if d.needBlock(st) {
				in.TrackScripts = append(in.TrackScripts, d.tracks(st)...)
			}
		case "track_interface":
			if d.needBlock(st) {
				in.TrackInterfaces = append(in.TrackInterfaces, d.tracks(st)...)
			}
		case "smtp_alert":
			d.noBlock(st)
			d.boolFlag(st)
		default:
			d.garp(&in.GARP, st, st.Keyword)
		}
	}
	return in
}

func (d *decoder) auth(in *Instance, n *Node) {
	if !d.needBlock(n) {
		return
	}
	for _, st := range n.Block {
		switch st.Keyword {
		case "auth_type":
			if v, ok := d.arg(st); ok {
				if v != "PASS" && v != "AH" {
					d.errorf(st.ArgPos[0], "auth_type: %q is neither PASS nor AH", v)
				} else {
					in.AuthType = v
				}
			}
		case "auth_pass":
			// The value is a secret: it is never quoted in a message.
			if len(st.Args) == 0 {
				d.errorf(st.Pos, "auth_pass needs a value")
				continue
			}
			in.AuthPass = st.Args[0]
		}
	}
}

// vips decodes virtual_ipaddress lines:
// ADDR[/PREFIX] [brd X] [dev X] [scope X] [label X] [peer X] [flags...].
func (d *decoder) vips(n *Node) []VIP {
	var out []VIP
	for _, l := range n.Block {
		if l.HasBlock {
			d.errorf(l.Pos, "%s: unexpected block after %s", n.Keyword, l.Keyword)
			continue
		}
		v := VIP{Pos: l.Pos}
		addr, bits, hasBits := strings.Cut(l.Keyword, "/")
		a, err := netip.ParseAddr(addr)
		if err != nil {
			d.errorf(l.Pos, "%s: %q is not an IP address", n.Keyword, l.Keyword)
			continue
		}
		a = a.Unmap()
		prefixLen := a.BitLen()
		if hasBits {
			b, err := strconv.Atoi(bits)
			if err != nil || b < 0 || b > a.BitLen() {
				d.errorf(l.Pos, "%s: %q has a bad prefix length; want 0..%d", n.Keyword, l.Keyword, a.BitLen())
				continue
			}
			prefixLen, v.HasPrefix = b, true
		}
		v.Prefix = netip.PrefixFrom(a, prefixLen)
		// Options with a value; everything else is a flag.
		withValue := map[string]bool{"brd": true, "dev": true, "scope": true, "label": true, "peer": true, "preferred_lft": true, "track_group": true}
		for i := 0; i < len(l.Args); i++ {
			opt := l.Args[i]
			if withValue[opt] {
				if i+1 >= len(l.Args) {
					d.errorf(l.ArgPos[i], "%s: %s needs a value", n.Keyword, opt)
					break
				}
				val := l.Args[i+1]
				switch opt {
				case "dev":
					v.Dev = val
				case "label":
					v.Label = val
				default:
					v.Options = append(v.Options, opt, val)
				}
				i++
				continue
			}
			v.Options = append(v.Options, opt)
		}
		out = append(out, v)
	}
	return out
}

// tracks decodes track_script / track_interface lines: NAME [weight N [reverse|noreverse|no_reverse]].
func (d *decoder) tracks(n *Node) []Track {
	var out []Track
	for _, l := range n.Block {
		t := Track{Pos: l.Pos, Name: l.Keyword}
		for i := 0; i < len(l.Args); i++ {
			switch l.Args[i] {
			case "weight":
				if i+1 >= len(l.Args) {
					d.errorf(l.ArgPos[i], "%s %s: weight needs a value", n.Keyword, l.Keyword)
					continue
				}
				if w, ok := d.intAt(l, i+1, l.Args[i+1], -254, 254); ok {
					t.Weight, t.HasWeight = w, true
				}
				i++
			case "reverse":
				t.Reverse = true
			case "noreverse", "no_reverse":
				t.Reverse = false
			default:
				d.errorf(l.ArgPos[i], "%s %s: unexpected %q (want weight N [reverse])", n.Keyword, l.Keyword, l.Args[i])
			}
		}
		out = append(out, t)
	}
	return out
}
