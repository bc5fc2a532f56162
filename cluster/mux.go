package cluster

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// One TCP port carries both Raft and raftvip's small intra-cluster RPC (a
// follower forwarding a command to the leader, status fan-out), so a site
// opens one port per node, as the config's `bind` promises. Every connection
// starts with one byte naming its protocol, as rqlite's tcp.Mux does.
const (
	headerRaft byte = 1
	headerRPC  byte = 2
)

// headerTimeout bounds how long an accepted connection may take to send its
// header byte, so a port scanner cannot hold a goroutine forever.
const headerTimeout = 5 * time.Second

// Mux accepts connections on the bind address and routes them by header.
type Mux struct {
	ln     net.Listener
	addr   net.Addr
	adv    net.Addr // what the layers report as their address; addr unless Advertise set it
	log    hclog.Logger
	raftCh chan net.Conn
	rpcCh  chan net.Conn
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// Listen opens the shared port.
func Listen(bind string, log hclog.Logger) (*Mux, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen on bind %s: %w", bind, err)
	}
	m := &Mux{
		ln: ln, addr: ln.Addr(), adv: ln.Addr(), log: log,
		raftCh: make(chan net.Conn, 16), rpcCh: make(chan net.Conn, 16),
		done: make(chan struct{}),
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
		go m.route(c)
	}
}

func (m *Mux) route(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(headerTimeout))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		m.log.Debug("connection closed before header", "remote", c.RemoteAddr(), "error", err)
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var ch chan net.Conn
	switch b[0] {
	case headerRaft:
		ch = m.raftCh
	case headerRPC:
		ch = m.rpcCh
	default:
		m.log.Warn("dropping connection with unknown header", "remote", c.RemoteAddr(), "header", b[0])
		c.Close()
		return
	}
	select {
	case ch <- c:
	case <-m.done:
		c.Close()
	}
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
	return dialHeader(string(address), l.header, timeout)
}

func dialHeader(address string, header byte, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", address, timeout)
	if err != nil {
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte{header}); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// RaftLayer is the raft.StreamLayer over the mux.
func (m *Mux) RaftLayer() raft.StreamLayer { return &layer{m: m, ch: m.raftCh, header: headerRaft} }

// RPCListener yields the connections that carry raftvip RPC.
func (m *Mux) RPCListener() net.Listener { return &layer{m: m, ch: m.rpcCh, header: headerRPC} }
