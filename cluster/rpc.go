package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// RPCVersion is carried in every request; a node answers a version it does
// not speak with an error instead of guessing.
const RPCVersion = 1

// RPC operations.
const (
	OpApply  = "apply"  // apply Command on the leader (forwarded by a follower)
	OpStatus = "status" // return the node's own status (opaque JSON)
	OpProve  = "prove"  // a voter says whom it follows and how long ago it heard from it
	OpVouch  = "vouch"  // a voter says when it last vouched for a node in a proof (About)
)

// Request is one intra-cluster call.
type Request struct {
	V    int    `json:"v"`
	Op   string `json:"op"`
	From string `json:"from"`
	// Origin is the node a relayed report is about and came from (OpApply
	// sent on by a peer that the origin could reach when it could not
	// reach the leader); "" when From sent it itself.
	Origin  string `json:"origin,omitempty"`
	Command []byte `json:"command,omitempty"`
	// Args carries an operator command's arguments (JSON, op-specific).
	Args json.RawMessage `json:"args,omitempty"`
	// UID is, for an operator command, the uid of the local operator at
	// the calling node's admin socket: the leader logs and records it as
	// that node's word.
	UID *uint32 `json:"uid,omitempty"`
	// About is the node an OpVouch call asks about.
	About string `json:"about,omitempty"`
}

// Response answers a Request. Err is set when the call failed on the remote
// side (not a transport error).
type Response struct {
	V      int             `json:"v"`
	Epoch  uint64          `json:"epoch,omitempty"`
	Err    string          `json:"err,omitempty"`
	Status json.RawMessage `json:"status,omitempty"`
	// Result is an operator command's result (JSON, op-specific).
	Result json.RawMessage `json:"result,omitempty"`
	// Refused: the leader refused the request (bad target, no quorum...),
	// as opposed to failing to carry it out.
	Refused bool `json:"refused,omitempty"`
	// NotLeader: the node asked is not (or no longer) the leader; the
	// asking node retries with the leader it knows next.
	NotLeader bool `json:"not_leader,omitempty"`
	// Index is the leader's applied Raft index after an operator command:
	// the asking node waits until it has applied as much, so what it shows
	// next already includes the change.
	Index uint64 `json:"index,omitempty"`
	// Proof is a voter's answer to OpProve.
	Proof *ProofAnswer `json:"proof,omitempty"`
	// Vouch is a voter's answer to OpVouch.
	Vouch *VouchAnswer `json:"vouch,omitempty"`
}

// ProofAnswer is a voter's view of its leader at the instant it answered.
type ProofAnswer struct {
	Leader string `json:"leader"` // the leader it follows ("" when none)
	Term   uint64 `json:"term"`
	// SinceContact is how long before answering it last accepted an
	// AppendEntries from that leader: its heartbeat timer counts from
	// there, so it cannot vote for another node earlier than
	// (answer − SinceContact + its heartbeat timeout).
	SinceContact time.Duration `json:"since_contact_ns"`
}

// Handler serves requests on a node.
type Handler func(ctx context.Context, req Request) Response

// Caller sends a request to a node by its Raft address.
type Caller interface {
	Call(ctx context.Context, addr string, req Request) (Response, error)
}

// TCPCaller dials the peer's mux port with the RPC header.
type TCPCaller struct {
	// Dial opens the connection (Mux.Dialer: TLS when the node has it);
	// nil dials in plaintext.
	Dial func(address string, header byte, timeout time.Duration) (net.Conn, error)
	// Pool, when set, keeps connections open between the calls that may
	// be repeated safely (OpProve, OpStatus): a leader proves its lease to
	// every voter several times a second, and a TLS handshake per proof
	// was most of its idle CPU. Other calls get a connection of their own.
	Pool *ConnPool
}

// maxCallTime bounds how long the server works on one request.
const maxCallTime = 2 * time.Minute

// maxRPCBytes bounds a response: a status with its history is the largest.
const maxRPCBytes = 4 << 20

// requestTimeout bounds how long a caller may take to send its request.
const requestTimeout = 5 * time.Second

// maxRequestBytes bounds a request: a command or an operator's arguments,
// a few hundred bytes.
const maxRequestBytes = 64 << 10

// Connection reuse. The server keeps a connection open for the next
// request for serverIdle after an answer and closes it at serverMaxAge
// (a removed node's connection does not live on; a reloaded certificate
// is used within that time). A pooled connection is used again only
// within clientIdle of its last answer, well before the server gives up
// on it; a call on a connection the server closed anyway is retried once
// on a new one (only safe calls are pooled).
const (
	serverIdle   = 10 * time.Second
	serverMaxAge = 60 * time.Second
	clientIdle   = 5 * time.Second
	clientMaxAge = 50 * time.Second
)

// reusable ops may be sent twice without harm: they change nothing.
func reusable(op string) bool { return op == OpProve || op == OpStatus || op == OpVouch }

// Call implements Caller.
func (t TCPCaller) Call(ctx context.Context, addr string, req Request) (Response, error) {
	req.V = RPCVersion
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return Response{}, context.DeadlineExceeded
		}
	}
	if t.Pool != nil && reusable(req.Op) {
		if pc := t.Pool.get(addr); pc != nil {
			resp, err := pc.roundTrip(ctx, timeout, req)
			if err == nil {
				t.Pool.put(addr, pc)
				return resp, nil
			}
			pc.c.Close()
			if ctx.Err() != nil {
				return Response{}, fmt.Errorf("rpc %s to %s: %w", req.Op, addr, err)
			}
			// The server may have closed it meanwhile: once more, afresh.
		}
	}
	dial := t.Dial
	if dial == nil {
		dial = dialHeader
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return Response{}, context.DeadlineExceeded
		}
	}
	c, err := dial(addr, headerRPC, timeout)
	if err != nil {
		return Response{}, fmt.Errorf("rpc %s to %s: %w", req.Op, addr, err)
	}
	pc := newPooledConn(c)
	resp, err := pc.roundTrip(ctx, timeout, req)
	if err != nil {
		c.Close()
		return Response{}, fmt.Errorf("rpc %s to %s: %w", req.Op, addr, err)
	}
	if t.Pool != nil && reusable(req.Op) {
		t.Pool.put(addr, pc)
	} else {
		c.Close()
	}
	return resp, nil
}

// pooledConn is one RPC connection with its reader (a response may be
// read ahead of nothing: one request at a time).
type pooledConn struct {
	c        net.Conn
	lim      *limitedReader
	dec      *json.Decoder
	born     time.Time
	lastUsed time.Time
}

func newPooledConn(c net.Conn) *pooledConn {
	lim := &limitedReader{c: c}
	return &pooledConn{c: c, lim: lim, dec: json.NewDecoder(bufio.NewReader(lim)), born: time.Now()}
}

// roundTrip sends req and reads its response within timeout (and ctx).
func (p *pooledConn) roundTrip(ctx context.Context, timeout time.Duration, req Request) (Response, error) {
	_ = p.c.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = p.c.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(p.c).Encode(req); err != nil {
		return Response{}, fmt.Errorf("send: %w", err)
	}
	p.lim.n = maxRPCBytes
	var resp Response
	if err := p.dec.Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("read: %w", err)
	}
	if !stop() {
		// ctx ended as the answer came: its deadline change may still
		// land on a later call, so this connection is not used again.
		p.born = time.Time{}
		return resp, nil
	}
	_ = p.c.SetDeadline(time.Time{})
	p.lastUsed = time.Now()
	return resp, nil
}

// ConnPool holds idle RPC connections by address, a few per address.
type ConnPool struct {
	mu   sync.Mutex
	idle map[string][]*pooledConn
}

// NewConnPool returns an empty pool.
func NewConnPool() *ConnPool { return &ConnPool{idle: map[string][]*pooledConn{}} }

// poolPerAddr: a leader's proof goes to each voter one call at a time;
// status fan-outs add one more.
const poolPerAddr = 2

func (p *ConnPool) get(addr string) *pooledConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := p.idle[addr]; len(l) > 0; l = p.idle[addr] {
		pc := l[len(l)-1]
		p.idle[addr] = l[:len(l)-1]
		if time.Since(pc.lastUsed) < clientIdle && time.Since(pc.born) < clientMaxAge {
			return pc
		}
		pc.c.Close()
	}
	return nil
}

func (p *ConnPool) put(addr string, pc *pooledConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle[addr]) >= poolPerAddr || pc.born.IsZero() || time.Since(pc.born) >= clientMaxAge {
		pc.c.Close()
		return
	}
	p.idle[addr] = append(p.idle[addr], pc)
}

// Close closes every idle connection.
func (p *ConnPool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, l := range p.idle {
		for _, pc := range l {
			pc.c.Close()
		}
		delete(p.idle, addr)
	}
}

type limitedReader struct {
	c io.Reader
	n int
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("message too large")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.n -= n
	return n, err
}

// DecodeRequest reads one request of at most maxRequestBytes.
func DecodeRequest(r io.Reader) (Request, error) {
	var req Request
	err := json.NewDecoder(bufio.NewReader(&limitedReader{r, maxRequestBytes})).Decode(&req)
	return req, err
}

// ServeRPC answers requests on ln until it is closed. A connection carries
// one request after another (a caller's pool reuses it) until the caller
// closes it, stays idle for serverIdle, or reaches serverMaxAge.
func ServeRPC(ln net.Listener, h Handler, log hclog.Logger) { serveRPC(ln, h, log, serverIdle) }

func serveRPC(ln net.Listener, h Handler, log hclog.Logger, idle time.Duration) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serveConn(c, h, log, idle)
	}
}

func serveConn(c net.Conn, h Handler, log hclog.Logger, idle time.Duration) {
	defer c.Close()
	born := time.Now()
	lim := &limitedReader{c: c}
	dec := json.NewDecoder(bufio.NewReader(lim))
	for n := 0; ; n++ {
		// The first request is a few hundred bytes sent at once: a caller
		// that dribbles it is cut off. Later ones may wait a while.
		wait := requestTimeout
		if n > 0 {
			wait = idle
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		lim.n = maxRequestBytes
		var req Request
		if err := dec.Decode(&req); err != nil {
			var ne net.Error
			if n > 0 && (errors.Is(err, io.EOF) || (errors.As(err, &ne) && ne.Timeout())) {
				return // the caller is done with it, or left it idle
			}
			log.Warn("bad rpc request", "remote", c.RemoteAddr(), "error", err)
			_ = json.NewEncoder(c).Encode(Response{V: RPCVersion, Err: "bad request: " + err.Error()})
			return
		}
		if pc, ok := c.(PeerConn); ok && pc.PeerID() != "" {
			// The caller is who its certificate says, whatever the
			// message claims.
			req.From = pc.PeerID()
		}
		var resp Response
		if req.V != RPCVersion {
			resp = Response{Err: fmt.Sprintf("unsupported rpc version %d (this node speaks %d)", req.V, RPCVersion)}
		} else {
			// Operator commands such as a switchover may take as long
			// as their own timeout; the caller's deadline bounds them.
			ctx, cancel := context.WithTimeout(context.Background(), maxCallTime)
			resp = h(ctx, req)
			cancel()
		}
		resp.V = RPCVersion
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := json.NewEncoder(c).Encode(resp); err != nil {
			return
		}
		if time.Since(born) >= serverMaxAge {
			return
		}
	}
}

// InmemRPC is a Caller for in-process clusters: it calls handlers registered
// by address directly. Disconnect/Reconnect mirror raft.InmemTransport's, so
// a partitioned node cannot forward either.
type InmemRPC struct {
	mu       sync.RWMutex
	handlers map[string]Handler
	cut      map[string]bool
	links    map[[2]string]bool // cut links, key sorted
	fail     map[[2]string]int  // (addr, op) → calls still to fail
	frozen   map[string]bool    // addr → calls hang until the caller gives up
	hung     map[[2]string]bool // links whose calls hang, key sorted
}

// NewInmemRPC returns an empty registry.
func NewInmemRPC() *InmemRPC {
	return &InmemRPC{handlers: map[string]Handler{}, cut: map[string]bool{}, links: map[[2]string]bool{}, fail: map[[2]string]int{}, frozen: map[string]bool{}, hung: map[[2]string]bool{}}
}

// Freeze makes calls to addr hang until the caller's context ends (on=true),
// as with a process stopped by SIGSTOP: its kernel still accepts the
// connection, nobody answers.
func (r *InmemRPC) Freeze(addr string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frozen[addr] = on
}

// HangLink makes calls between a and b (both ways) hang until the caller
// gives up (on=true), as a link that drops packets does: nothing refuses,
// nothing answers. Either can still reach every other node.
func (r *InmemRPC) HangLink(a, b string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hung[linkKey(a, b)] = on
}

func linkKey(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

// CutLink makes calls between a and b (both ways) fail (on=true) or work
// again; either can still reach every other node.
func (r *InmemRPC) CutLink(a, b string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.links[linkKey(a, b)] = on
}

// FailCalls makes the next n calls of op to addr fail as unreachable (a
// lost packet, a peer briefly too slow), from whichever node.
func (r *InmemRPC) FailCalls(addr, op string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[[2]string{addr, op}] = n
}

// FailsLeft is how many of the calls FailCalls asked to fail are still to come.
func (r *InmemRPC) FailsLeft(addr, op string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.fail[[2]string{addr, op}]
}

// Register serves addr with h.
func (r *InmemRPC) Register(addr string, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[addr] = h
}

// Isolate makes every call to or from addr fail (on=true) or work again.
func (r *InmemRPC) Isolate(addr string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut[addr] = on
}

// From returns a Caller that calls as node `self` (so isolation applies to it).
func (r *InmemRPC) From(self string) Caller { return inmemCaller{r, self} }

type inmemCaller struct {
	r    *InmemRPC
	self string
}

func (c inmemCaller) Call(ctx context.Context, addr string, req Request) (Response, error) {
	if err := ctx.Err(); err != nil {
		// As TCPCaller: a call whose time is up is not sent.
		return Response{}, fmt.Errorf("rpc %s to %s: %w", req.Op, addr, err)
	}
	c.r.mu.Lock()
	h := c.r.handlers[addr]
	cut := c.r.cut[addr] || c.r.cut[c.self] || c.r.links[linkKey(addr, c.self)]
	if k := [2]string{addr, req.Op}; !cut && c.r.fail[k] > 0 {
		c.r.fail[k]--
		cut = true
	}
	frozen := c.r.frozen[addr] || c.r.hung[linkKey(addr, c.self)]
	c.r.mu.Unlock()
	if frozen && !cut {
		<-ctx.Done()
		return Response{}, fmt.Errorf("rpc %s to %s: read: %w", req.Op, addr, ctx.Err())
	}
	if h == nil || cut {
		return Response{}, fmt.Errorf("rpc %s to %s: unreachable", req.Op, addr)
	}
	req.V = RPCVersion
	resp := h(ctx, req)
	resp.V = RPCVersion
	return resp, nil
}
