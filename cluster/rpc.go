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
	dial := t.Dial
	if dial == nil {
		dial = dialHeader
	}
	c, err := dial(addr, headerRPC, timeout)
	if err != nil {
		return Response{}, fmt.Errorf("rpc %s to %s: %w", req.Op, addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Response{}, fmt.Errorf("rpc %s to %s: send: %w", req.Op, addr, err)
	}
	var resp Response
	if err := json.NewDecoder(bufio.NewReader(&limitedReader{c, maxRPCBytes})).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("rpc %s to %s: read: %w", req.Op, addr, err)
	}
	return resp, nil
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

// ServeRPC answers requests on ln until it is closed. One request per
// connection: these calls are rare (health changes, status), so simplicity
// beats connection reuse.
func ServeRPC(ln net.Listener, h Handler, log hclog.Logger) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			// The request is a few hundred bytes sent at once: a caller
			// that dribbles it is cut off.
			_ = c.SetReadDeadline(time.Now().Add(requestTimeout))
			req, err := DecodeRequest(c)
			if err != nil {
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
			_ = json.NewEncoder(c).Encode(resp)
		}()
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
}

// NewInmemRPC returns an empty registry.
func NewInmemRPC() *InmemRPC {
	return &InmemRPC{handlers: map[string]Handler{}, cut: map[string]bool{}, links: map[[2]string]bool{}, fail: map[[2]string]int{}, frozen: map[string]bool{}}
}

// Freeze makes calls to addr hang until the caller's context ends (on=true),
// as with a process stopped by SIGSTOP: its kernel still accepts the
// connection, nobody answers.
func (r *InmemRPC) Freeze(addr string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frozen[addr] = on
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
	c.r.mu.Lock()
	h := c.r.handlers[addr]
	cut := c.r.cut[addr] || c.r.cut[c.self] || c.r.links[linkKey(addr, c.self)]
	if k := [2]string{addr, req.Op}; !cut && c.r.fail[k] > 0 {
		c.r.fail[k]--
		cut = true
	}
	frozen := c.r.frozen[addr]
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
