package vrrpcompat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/raftvip/raftvip/internal/rtnl"
)

// Config says where a Conn speaks VRRP.
type Config struct {
	// Interface is the network interface VRRP runs on (keepalived's
	// `interface`). The socket is bound to it.
	Interface string
	// Peers are the unicast peers (keepalived's `unicast_peer`). Empty
	// means multicast to 224.0.0.18, the default.
	Peers []netip.Addr
	// Source fixes the source address (keepalived's `unicast_src_ip` /
	// `mcast_src_ip`). Zero means the interface's primary IPv4 address,
	// looked up again for every advert.
	Source netip.Addr
	// Exclude are addresses never used as source even if primary: the
	// VIPs, which raftvip itself adds to the interface.
	Exclude []netip.Addr
	// Logger receives the package's log, under the name "vrrp".
	Logger hclog.Logger
}

// Received is one accepted advertisement.
type Received struct {
	Advert      Advert
	Source      netip.Addr
	Destination netip.Addr
	TTL         int
	Time        time.Time
	Mismatches  []Mismatch
}

// Conn sends and receives VRRP advertisements on one interface through a
// raw IPv4 socket (protocol 112, IP_HDRINCL), bound to the interface,
// joined to 224.0.0.18 on it in multicast mode, with multicast loopback on
// so it never hears itself. It needs CAP_NET_RAW.
//
// The socket belongs to the network namespace of the thread that calls
// Open; every other method works from any goroutine.
type Conn struct {
	cfg     Config
	ifindex int
	ip      *net.IPConn
	raw     *ipv4.RawConn
	log     hclog.Logger

	mu      sync.Mutex // nl and lastSrc
	nl      *rtnl.Conn
	lastSrc netip.Addr

	undelivered atomic.Uint64

	// sent remembers our last adverts (source and VRRP bytes) so that
	// their multicast loopback echo is not taken for another router. A
	// keepalived on the same host has the same source but other bytes
	// (its priority), so it is still heard.
	sentMu    sync.Mutex
	sent      [8]sentAdvert
	sentN     int
	echoes    atomic.Uint64
	closeOnce sync.Once
	closeErr  error
}

// Open creates the socket on cfg.Interface. Call it in the network
// namespace of that interface.
func Open(cfg Config) (*Conn, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	cfg.Peers = slices.Clone(cfg.Peers)
	cfg.Exclude = slices.Clone(cfg.Exclude)
	for _, p := range cfg.Peers {
		if !p.Is4() {
			return nil, fmt.Errorf("vrrp on %s: unicast peer %s: %w", cfg.Interface, p, ErrNotIPv4)
		}
	}
	if cfg.Source.IsValid() && !cfg.Source.Is4() {
		return nil, fmt.Errorf("vrrp on %s: source %s: %w", cfg.Interface, cfg.Source, ErrNotIPv4)
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrp on %s: %w", cfg.Interface, err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			// Bound to the device so that adverts of the same VRID on
			// other interfaces are never mixed in, like keepalived.
			if serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, cfg.Interface); serr != nil {
				serr = fmt.Errorf("SO_BINDTODEVICE: %w", serr)
				return
			}
			// Only groups this socket joined, not every group some other
			// socket on the host joined (keepalived does the same).
			if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); serr != nil {
				serr = fmt.Errorf("IP_MULTICAST_ALL: %w", serr)
			}
		}); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), fmt.Sprintf("ip4:%d", Protocol), "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("vrrp on %s: raw socket: %w", cfg.Interface, err)
	}
	c := &Conn{cfg: cfg, ifindex: ifi.Index, ip: pc.(*net.IPConn), log: cfg.Logger.Named("vrrp")}
	if err := c.setup(ifi); err != nil {
		c.ip.Close()
		return nil, fmt.Errorf("vrrp on %s: %w", cfg.Interface, err)
	}
	if !cfg.Source.IsValid() {
		// A netlink socket opened now lives in this namespace, so the
		// source can be looked up later from any thread.
		if c.nl, err = rtnl.Dial(); err != nil {
			c.ip.Close()
			return nil, fmt.Errorf("vrrp on %s: netlink: %w", cfg.Interface, err)
		}
	}
	if _, err := c.Source(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) setup(ifi *net.Interface) error {
	raw, err := ipv4.NewRawConn(c.ip)
	if err != nil {
		return fmt.Errorf("IP_HDRINCL: %w", err)
	}
	c.raw = raw
	// With IP_HDRINCL the header we build carries TTL 255 and TOS 0xc0;
	// the socket options say the same for anything the kernel adds.
	type option struct {
		what string
		set  func() error
	}
	opts := []option{
		{"multicast interface", func() error { return raw.SetMulticastInterface(ifi) }},
		{"multicast TTL", func() error { return raw.SetMulticastTTL(TTL) }},
		// Loopback on: a keepalived on the same host (the usual state in the
		// middle of a migration) must hear raftvip's adverts to turn backup.
		// Our own adverts then come back to us; the Speaker leaves them out.
		{"multicast loopback on", func() error { return raw.SetMulticastLoopback(true) }},
		{"TTL", func() error { return raw.SetTTL(TTL) }},
		{"TOS", func() error { return raw.SetTOS(TOS) }},
	}
	if !c.Unicast() {
		opts = append(opts, option{"join 224.0.0.18", func() error {
			return raw.JoinGroup(ifi, &net.IPAddr{IP: net.IP(MulticastGroup.AsSlice())})
		}})
	}
	for _, o := range opts {
		if err := o.set(); err != nil {
			return fmt.Errorf("%s: %w", o.what, err)
		}
	}
	return nil
}

// Close closes the socket; a running Receive returns.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.ip.Close()
		c.mu.Lock()
		if c.nl != nil {
			c.nl.Close()
		}
		c.mu.Unlock()
	})
	return c.closeErr
}

// Interface is the interface the Conn is bound to.
func (c *Conn) Interface() string { return c.cfg.Interface }

// Unicast reports whether the Conn talks to unicast peers.
func (c *Conn) Unicast() bool { return len(c.cfg.Peers) > 0 }

// Undelivered counts accepted adverts Receive could not hand to its
// channel because it was full (they are in the Table all the same).
func (c *Conn) Undelivered() uint64 { return c.undelivered.Load() }

// Source returns the address adverts are sent from: Config.Source, or the
// interface's primary IPv4 address (the first one that is not a secondary
// and not excluded; failing that the first not excluded), looked up now.
// It is also the address the election compares on equal priority.
func (c *Conn) Source() (netip.Addr, error) {
	if c.cfg.Source.IsValid() {
		return c.cfg.Source, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nl == nil {
		return netip.Addr{}, fmt.Errorf("vrrp on %s: %w", c.cfg.Interface, net.ErrClosed)
	}
	var (
		addrs []rtnl.AddrMessage
		err   error
	)
	// An address added or removed during the dump interrupts it; the next
	// one is whole.
	for range 3 {
		addrs, err = c.nl.Addrs(unix.AF_INET, c.ifindex)
		if !errors.Is(err, rtnl.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("vrrp on %s: list addresses: %w", c.cfg.Interface, err)
	}
	var fallback netip.Addr
	for _, a := range addrs {
		// IFA_LOCAL is the address itself (IFA_ADDRESS is the peer on a
		// point-to-point link).
		ip := a.Local
		if !ip.IsValid() {
			ip = a.Address
		}
		ip = ip.Unmap()
		if !ip.Is4() || slices.Contains(c.cfg.Exclude, ip) {
			continue
		}
		if a.Flags&unix.IFA_F_SECONDARY == 0 {
			c.noteSource(ip)
			return ip, nil
		}
		if !fallback.IsValid() {
			fallback = ip
		}
	}
	if fallback.IsValid() {
		c.noteSource(fallback)
		return fallback, nil
	}
	return netip.Addr{}, fmt.Errorf("vrrp on %s: no IPv4 address to send from (the VIPs do not count)", c.cfg.Interface)
}

func (c *Conn) noteSource(ip netip.Addr) {
	if ip == c.lastSrc {
		return
	}
	if c.lastSrc.IsValid() {
		c.log.Warn("VRRP source address changed", "interface", c.cfg.Interface, "source", ip, "previous", c.lastSrc)
	} else {
		c.log.Info("VRRP source address", "interface", c.cfg.Interface, "source", ip)
	}
	c.lastSrc = ip
}

// destinations are the unicast peers, or the multicast group.
func (c *Conn) destinations(src netip.Addr) []netip.Addr {
	if !c.Unicast() {
		return []netip.Addr{MulticastGroup}
	}
	out := make([]netip.Addr, 0, len(c.cfg.Peers))
	for _, p := range c.cfg.Peers {
		// A configuration shared by all hosts lists every host, this one
		// included; keepalived skips itself too.
		if p != src {
			out = append(out, p)
		}
	}
	return out
}

// Send sends a now from Source to the multicast group, or to every unicast
// peer, with TTL 255 and TOS 0xc0. The agent calls it every a.Interval
// while it holds the VIP. Errors name the peers that failed; the others
// were sent.
func (c *Conn) Send(a Advert) error {
	src, err := c.Source()
	if err != nil {
		return err
	}
	var errs []error
	for _, dst := range c.destinations(src) {
		payload, err := a.Encode(src, dst)
		if err != nil {
			return fmt.Errorf("vrrp on %s: %w", c.cfg.Interface, err)
		}
		c.remember(src, payload)
		if err := c.WriteRaw(src, dst, TTL, payload); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type sentAdvert struct {
	src     netip.Addr
	payload []byte
	at      time.Time
}

// echoWindow is how long a sent advert is recognised when it comes back.
const echoWindow = 2 * time.Second

func (c *Conn) remember(src netip.Addr, payload []byte) {
	c.sentMu.Lock()
	defer c.sentMu.Unlock()
	c.sent[c.sentN%len(c.sent)] = sentAdvert{src: src, payload: slices.Clone(payload), at: time.Now()}
	c.sentN++
}

// isEcho reports whether a received datagram is one of our own adverts.
func (c *Conn) isEcho(pkt []byte, now time.Time) bool {
	h, payload, err := parseIPv4(pkt)
	if err != nil {
		return false
	}
	c.sentMu.Lock()
	defer c.sentMu.Unlock()
	for _, s := range c.sent {
		if s.src == h.Src && now.Sub(s.at) < echoWindow && slices.Equal(s.payload, payload) {
			return true
		}
	}
	return false
}

// Echoes counts our own adverts heard back through multicast loopback (and
// ignored).
func (c *Conn) Echoes() uint64 { return c.echoes.Load() }

// SendRelease sends a with priority 0: "this master is giving up" (RFC 3768
// 6.4.3). Backups then take over after their skew time instead of waiting
// 3 intervals. Send it once when the VIP is released and on shutdown.
func (c *Conn) SendRelease(a Advert) error {
	a.Priority = 0
	return c.Send(a)
}

// WriteRaw sends payload as the body of an IPv4 datagram with protocol
// 112 from src to dst with the given TTL, exactly as given. It exists for
// tests and diagnostics that must craft packets a correct speaker never
// sends (a TTL below 255, a wrong checksum); use Send for adverts.
func (c *Conn) WriteRaw(src, dst netip.Addr, ttl int, payload []byte) error {
	pkt, err := marshalIPv4(src, dst, ttl, 0, payload)
	if err != nil {
		return fmt.Errorf("vrrp on %s: %w", c.cfg.Interface, err)
	}
	if _, err := c.ip.WriteToIP(pkt, &net.IPAddr{IP: net.IP(dst.AsSlice())}); err != nil {
		return fmt.Errorf("vrrp on %s: send to %s: %w", c.cfg.Interface, dst, err)
	}
	return nil
}

// Receive reads adverts until ctx is done (it then returns ctx.Err()) or
// the Conn is closed. Each packet is parsed (IPv4 header, Decode) and
// checked against want (Check; want.Unicast is taken from the Conn). A
// dropped packet is counted in table by reason and logged (rate limited);
// an accepted one is recorded in table and, if out is not nil, sent on out
// without blocking: when out is full the advert is only counted in
// Undelivered. Run one Receive per Conn.
func (c *Conn) Receive(ctx context.Context, want Expect, table *Table, out chan<- Received) error {
	if table == nil {
		return fmt.Errorf("vrrp on %s: Receive needs a Table", c.cfg.Interface)
	}
	want.Unicast = c.Unicast()
	if err := c.ip.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("vrrp on %s: %w", c.cfg.Interface, err)
	}
	stop := context.AfterFunc(ctx, func() {
		// Wakes the blocked read; the loop then sees ctx is done.
		c.ip.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()
	dl := newDropLog(c.log, c.cfg.Interface)
	buf := make([]byte, 4096)
	for {
		n, _, flags, _, err := c.ip.ReadMsgIP(buf, nil)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("vrrp on %s: %w", c.cfg.Interface, err)
			}
			// Transient (ENOBUFS, ENOMEM...): keep listening, slowly.
			c.log.Warn("VRRP receive error", "interface", c.cfg.Interface, "error", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		now := time.Now()
		if flags&unix.MSG_TRUNC == 0 && c.isEcho(buf[:n], now) {
			c.echoes.Add(1)
			continue
		}
		var r Received
		if flags&unix.MSG_TRUNC != 0 {
			err = fmt.Errorf("%w: datagram larger than %d bytes", ErrIPHeader, len(buf))
		} else {
			r, err = inspect(buf[:n], want)
		}
		if err != nil {
			reason := ReasonOf(err)
			table.Drop(reason)
			dl.note(now, r.Source, reason, err)
			continue
		}
		r.Time = now
		before, wasLive := table.Observe(now, r.Source, r.Advert, r.Mismatches)
		c.logChange(r, before, wasLive)
		if out != nil {
			select {
			case out <- r:
			default:
				c.undelivered.Add(1)
			}
		}
	}
}

// inspect turns one datagram read from the raw socket into an accepted
// advert, or the error that drops it. On error Received carries what was
// known of the sender (for logs).
func inspect(pkt []byte, want Expect) (Received, error) {
	h, payload, err := parseIPv4(pkt)
	if err != nil {
		return Received{}, err
	}
	r := Received{Source: h.Src, Destination: h.Dst, TTL: h.TTL}
	if h.Protocol != Protocol {
		return r, fmt.Errorf("%w: protocol %d", ErrIPHeader, h.Protocol)
	}
	a, err := Decode(payload, h.Src, h.Dst)
	if errors.Is(err, ErrChecksum) && !h.Dst.IsMulticast() {
		// keepalived before 2.0.19 (and later ones with
		// old_unicast_checksum) compute the version 3 checksum of unicast
		// adverts over the multicast group instead of the peer; 2.2.7
		// accepts both, and so do we.
		if a2, err2 := Decode(payload, h.Src, MulticastGroup); err2 == nil && a2.Version == 3 {
			a, err = a2, nil
		}
	}
	if err != nil {
		return r, err
	}
	mm, err := Check(a, h.TTL, h.Dst, want)
	if err != nil {
		return r, err
	}
	if err := CheckSource(h.Src, a, want); err != nil {
		return r, err
	}
	r.Advert, r.Mismatches = a, mm
	return r, nil
}

func (c *Conn) logChange(r Received, before Router, wasLive bool) {
	a := r.Advert
	switch {
	case !wasLive:
		c.log.Info("foreign VRRP router heard", "interface", c.cfg.Interface, "source", r.Source,
			"version", a.Version, "priority", a.Priority, "interval", a.Interval, "addresses", a.Addresses)
	case before.Priority != a.Priority:
		c.log.Info("foreign VRRP router changed priority", "interface", c.cfg.Interface, "source", r.Source,
			"priority", a.Priority, "previous", before.Priority)
	}
	if mm := mismatchStrings(r.Mismatches); !slices.Equal(mm, before.Mismatches) || (!wasLive && len(mm) > 0) {
		if len(mm) > 0 {
			// keepalived ignores such adverts (see Check): say so, since
			// it means the two sides disagree about who is master.
			c.log.Warn("foreign VRRP advert differs from our configuration; keepalived would ignore it",
				"interface", c.cfg.Interface, "source", r.Source, "mismatches", mm)
		} else if wasLive {
			c.log.Info("foreign VRRP advert matches our configuration again", "interface", c.cfg.Interface, "source", r.Source)
		}
	}
}

func mismatchStrings(mm []Mismatch) []string {
	var s []string
	for _, m := range mm {
		s = append(s, m.String())
	}
	return s
}

// dropLog logs the first drop of each (source, reason) at Warn and then at
// most one a minute, so a misconfigured neighbour advertising every second
// does not flood the log while still being visible.
type dropLog struct {
	log   hclog.Logger
	iface string
	last  map[dropKey]time.Time
}

type dropKey struct {
	src    netip.Addr
	reason Reason
}

const dropLogEvery = time.Minute

func newDropLog(log hclog.Logger, iface string) *dropLog {
	return &dropLog{log: log, iface: iface, last: map[dropKey]time.Time{}}
}

func (d *dropLog) note(now time.Time, src netip.Addr, reason Reason, err error) {
	k := dropKey{src, reason}
	if t, ok := d.last[k]; ok && now.Sub(t) < dropLogEvery {
		d.log.Debug("VRRP packet dropped", "interface", d.iface, "source", src, "reason", reason, "error", err)
		return
	}
	if len(d.last) > 256 {
		// Forged sources must not grow this map without bound.
		clear(d.last)
	}
	d.last[k] = now
	d.log.Warn("VRRP packet dropped", "interface", d.iface, "source", src, "reason", reason, "error", err)
}
