package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/internal/mtls"
)

// One TCP port carries both Raft and raftvip's small intra-cluster RPC (a
// follower forwarding a command to the leader, status fan-out), so a site
// opens one port per node, as the config's `bind` promises. Every connection
// starts with one byte naming its protocol, as rqlite's tcp.Mux does.
const (
	headerRaft byte = 1
	headerRPC  byte = 2
)

// Flood limits. headerTimeout bounds how long an accepted connection may
// take to send its header byte (and, with TLS, to complete its handshake
// before it), so a port scanner cannot hold a goroutine forever; peers dial
// with a 1 s timeout, so they are done well within it. Connections that
// have not got that far are "pending": at most maxPendingPerHost from one
// address, so one attacking host cannot take the slots of the peers, and
// maxPending in all. maxConns bounds the connections handed on: each peer
// keeps a handful for Raft (a pool of 3 and a pipeline), RPCs last one
// request.
const (
	headerTimeout     = 3 * time.Second
	maxPending        = 64
	maxPendingPerHost = 8
	maxConns          = 256
)

// limits are the mux's flood limits (the constants above; tests shrink them).
type limits struct {
	header           time.Duration
	pending, perHost int
	conns            int
}

var defaultLimits = limits{header: headerTimeout, pending: maxPending, perHost: maxPendingPerHost, conns: maxConns}

// refusedLogWindow: a refused connection is logged once per remote host and
// reason in this window (with the count left out), so a flood of them
// cannot fill the disk.
const refusedLogWindow = 10 * time.Second

// Mux accepts connections on the bind address and routes them by header.
type Mux struct {
	ln     net.Listener
	addr   net.Addr
	adv    net.Addr // what the layers report as their address; addr unless Advertise set it
	log    hclog.Logger
	auth   *peerAuth // nil: plaintext (insecure_plaintext)
	raftCh chan net.Conn
	rpcCh  chan net.Conn
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	refusedMu  sync.Mutex
	refusedLog *limiter
	refused    map[string]uint64 // reason → connections refused, for tests and status

	lim     limits
	countMu sync.Mutex
	pending int
	byHost  map[string]int // pending connections per remote host
	conns   int            // connections handed on and not closed yet
}

// TLS makes the mux authenticate peers (see peertls.go).
type TLS struct {
	Store   *mtls.Store
	Members Members
}

// Listen opens the shared port; sec nil serves plaintext.
func Listen(bind string, sec *TLS, log hclog.Logger) (*Mux, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen on bind %s: %w", bind, err)
	}
	m := &Mux{
		ln: ln, addr: ln.Addr(), adv: ln.Addr(), log: log,
		raftCh: make(chan net.Conn, 16), rpcCh: make(chan net.Conn, 16),
		done:       make(chan struct{}),
		refusedLog: &limiter{now: time.Now, window: refusedLogWindow, seen: map[string]*seenLine{}},
		refused:    map[string]uint64{},
		lim:        defaultLimits,
		byHost:     map[string]int{},
	}
	if sec != nil {
		m.auth = &peerAuth{store: sec.Store, members: sec.Members, now: time.Now}
	}
	m.wg.Add(1)
	go m.serve()
	return m, nil
}

func (m *Mux) serve() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.log.Error("accept failed", "error", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		host := remoteHost(c)
		if reason := m.admitPending(host); reason != "" {
			m.refuse(c, reason, fmt.Errorf("%s connections from %s are still before their header", reason, host))
			continue
		}
		go m.route(c, host)
	}
}

func remoteHost(c net.Conn) string {
	host := c.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// admitPending counts a new connection from host, or says which limit it
// is over.
func (m *Mux) admitPending(host string) string {
	m.countMu.Lock()
	defer m.countMu.Unlock()
	switch {
	case m.byHost[host] >= m.lim.perHost:
		return "too-many-pending-from-host"
	case m.pending >= m.lim.pending:
		return "too-many-pending"
	}
	m.pending++
	m.byHost[host]++
	return ""
}

func (m *Mux) donePending(host string) {
	m.countMu.Lock()
	defer m.countMu.Unlock()
	m.pending--
	if m.byHost[host]--; m.byHost[host] <= 0 {
		delete(m.byHost, host)
	}
}

// admitConn counts a connection handed on; its Close releases the slot.
func (m *Mux) admitConn(c net.Conn) (net.Conn, bool) {
	m.countMu.Lock()
	defer m.countMu.Unlock()
	if m.conns >= m.lim.conns {
		return nil, false
	}
	m.conns++
	cc := &countedConn{Conn: c, release: func() {
		m.countMu.Lock()
		m.conns--
		m.countMu.Unlock()
	}}
	if pc, ok := c.(*peerConn); ok {
		cc.id = pc.id
	}
	return cc, true
}

// countedConn gives its mux slot back on the first Close.
type countedConn struct {
	net.Conn
	id      string // the peer's identity with TLS, else ""
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// PeerID is the identity of the peer's certificate ("" in plaintext).
func (c *countedConn) PeerID() string { return c.id }

// refuse closes c and logs why, at most once per remote host and reason in
// refusedLogWindow.
func (m *Mux) refuse(c net.Conn, reason string, err error) {
	// Counted before the close: whoever sees the connection end (a test,
	// a probe reading the metrics next) sees the refusal counted.
	m.refusedMu.Lock()
	m.refused[reason]++
	m.refusedMu.Unlock()
	c.Close()
	host := remoteHost(c)
	m.refusedLog.mu.Lock()
	if len(m.refusedLog.seen) > 4096 { // many sources: forget, rather than grow
		clear(m.refusedLog.seen)
	}
	m.refusedLog.mu.Unlock()
	ok, n := m.refusedLog.admit(host + "\x00" + reason)
	if !ok {
		return
	}
	args := []any{"remote", c.RemoteAddr().String(), "reason", reason, "error", err}
	if n > 0 {
		args = append(args, "repeated", n)
	}
	if reason == "no-data" {
		// A TCP port check (monitoring, a load balancer) connects and
		// closes: no attack, no WARN.
		m.log.Debug("connection closed before any data", args...)
		return
	}
	m.log.Warn("refused connection on the cluster port", args...)
}

// Refused counts the connections refused, by reason.
func (m *Mux) Refused() map[string]uint64 {
	m.refusedMu.Lock()
	defer m.refusedMu.Unlock()
	out := make(map[string]uint64, len(m.refused))
	for k, v := range m.refused {
		out[k] = v
	}
	return out
}

func (m *Mux) route(c net.Conn, host string) {
	conn, header, reason, err := m.accept(c)
	m.donePending(host)
	if err != nil {
		m.refuse(c, reason, err)
		return
	}
	conn, ok := m.admitConn(conn)
	if !ok {
		m.refuse(c, "too-many-connections", fmt.Errorf("%d connections open", m.lim.conns))
		return
	}
	var ch chan net.Conn
	switch header {
	case headerRaft:
		ch = m.raftCh
	case headerRPC:
		ch = m.rpcCh
	}
	select {
	case ch <- conn:
	case <-m.done:
		conn.Close()
	}
}

// accept reads what comes before a connection's payload: with TLS the
// handshake, then the header byte. It returns the connection to hand on
// (the TLS one, carrying the peer's id), or why it is refused.
func (m *Mux) accept(c net.Conn) (conn net.Conn, header byte, reason string, err error) {
	_ = c.SetDeadline(time.Now().Add(m.lim.header))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return nil, 0, "no-data", err
	}
	conn = c
	id := ""
	if m.auth != nil {
		switch {
		case b[0] == headerRaft || b[0] == headerRPC:
			return nil, 0, "plaintext", errors.New("plaintext connection: this node requires TLS (does the peer run with insecure_plaintext = true, or without this cluster's tls block?)")
		case b[0] != tlsHeader:
			return nil, 0, "not-tls", fmt.Errorf("not a TLS handshake (first byte 0x%02x)", b[0])
		}
		tc := tls.Server(&prefixConn{Conn: c, first: b[0], pending: true}, m.auth.serverConfig())
		ctx, cancel := context.WithTimeout(context.Background(), m.lim.header)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return nil, 0, refusal(err), err
		}
		id, _ = mtls.Identity(tc.ConnectionState().PeerCertificates[0]) // verified in the handshake
		if _, err := io.ReadFull(tc, b[:]); err != nil {
			return nil, 0, "no-header", err
		}
		conn = &peerConn{Conn: tc, id: id}
	}
	if m.auth == nil && b[0] == tlsHeader {
		return nil, 0, "tls-on-plaintext", errors.New("a TLS handshake, but this node runs with insecure_plaintext = true: give every node the same tls block, or none")
	}
	if b[0] != headerRaft && b[0] != headerRPC {
		return nil, 0, "unknown-header", fmt.Errorf("unknown header byte %d", b[0])
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, b[0], "", nil
}

// prefixConn gives back the byte the mux read to tell TLS from the rest.
type prefixConn struct {
	net.Conn
	first   byte
	pending bool
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if p.pending && len(b) > 0 {
		p.pending = false
		b[0] = p.first
		return 1, nil
	}
	return p.Conn.Read(b)
}

// Close stops accepting; connections already routed are their owners' to close.
func (m *Mux) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.ln.Close()
	})
	m.wg.Wait()
	return err
}

// Addr is the bound address.
func (m *Mux) Addr() net.Addr { return m.addr }

// Advertise makes the layers report addr (the node's peer address) as their
// own. Raft puts its transport's address into every AppendEntries, and the
// followers take it as the leader's, so with a wildcard bind (0.0.0.0:7400)
// they would forward commands to 0.0.0.0, which is themselves. Call it
// before the layers are handed to Raft.
func (m *Mux) Advertise(addr string) { m.adv = tcpName(addr) }

// tcpName is a TCP address known by the text peers dial.
type tcpName string

func (a tcpName) Network() string { return "tcp" }
func (a tcpName) String() string  { return string(a) }

// layer is a net.Listener fed by the mux plus a dialer that writes the header.
type layer struct {
	m      *Mux
	ch     chan net.Conn
	header byte
}

// Dialer dials a node's cluster port as the mux's own peers do: with TLS
// when the mux has it.
func (m *Mux) Dialer() func(address string, header byte, timeout time.Duration) (net.Conn, error) {
	return m.auth.dial
}

func (l *layer) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.m.done:
		return nil, net.ErrClosed
	}
}

func (l *layer) Close() error   { return nil } // the mux owns the socket
func (l *layer) Addr() net.Addr { return l.m.adv }

func (l *layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return l.m.auth.dial(string(address), l.header, timeout)
}

// dialHeader dials in plaintext (insecure_plaintext).
func dialHeader(address string, header byte, timeout time.Duration) (net.Conn, error) {
	return (*peerAuth)(nil).dial(address, header, timeout)
}

// RaftLayer is the raft.StreamLayer over the mux.
func (m *Mux) RaftLayer() raft.StreamLayer { return &layer{m: m, ch: m.raftCh, header: headerRaft} }

// RPCListener yields the connections that carry raftvip RPC.
func (m *Mux) RPCListener() net.Listener { return &layer{m: m, ch: m.rpcCh, header: headerRPC} }
