package cluster

import (
	"context"
	"encoding/json"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// countingListener counts the connections a server accepted.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func listenRPC(t *testing.T, serve func(net.Listener)) (*countingListener, string) {
	t.Helper()
	m := listenLimited(t, defaultLimits)
	cl := &countingListener{Listener: m.RPCListener()}
	go serve(cl)
	return cl, m.Addr().String()
}

func call(t *testing.T, tc TCPCaller, addr, op string) Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	resp, err := tc.Call(ctx, addr, Request{Op: op, From: "hostb"})
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return resp
}

// Proofs and status calls reuse one connection (a leader proves its lease
// several times a second: a handshake each time was most of its idle CPU);
// calls that change something get a connection of their own.
func TestRPCReusesConnectionsForSafeCalls(t *testing.T) {
	var handled atomic.Int64
	l, addr := listenRPC(t, func(ln net.Listener) {
		ServeRPC(ln, func(ctx context.Context, req Request) Response {
			handled.Add(1)
			return Response{Status: json.RawMessage(`"ok"`)}
		}, hclog.NewNullLogger())
	})
	tc := TCPCaller{Pool: NewConnPool()}
	defer tc.Pool.Close()
	for i := 0; i < 10; i++ {
		if r := call(t, tc, addr, OpProve); string(r.Status) != `"ok"` {
			t.Fatalf("answer %+v", r)
		}
		call(t, tc, addr, OpStatus)
	}
	if n := l.n.Load(); n != 1 {
		t.Fatalf("20 proofs and status calls used %d connections, want 1", n)
	}
	before := l.n.Load()
	call(t, tc, addr, OpApply)
	call(t, tc, addr, OpApply)
	if n := l.n.Load() - before; n != 2 {
		t.Fatalf("2 applies used %d new connections, want 2 (never pooled)", n)
	}
	if handled.Load() != 22 {
		t.Fatalf("handler ran %d times, want 22 (no call repeated)", handled.Load())
	}
}

// A server that answers one request per connection (an older raftvip)
// closes the pooled connection: the next call is retried on a new one.
func TestRPCPoolRetriesOnAClosedConnection(t *testing.T) {
	l, addr := listenRPC(t, func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := DecodeRequest(c)
				if err != nil {
					return
				}
				_ = json.NewEncoder(c).Encode(Response{V: RPCVersion, Status: json.RawMessage(`"` + req.Op + `"`)})
			}()
		}
	})
	tc := TCPCaller{Pool: NewConnPool()}
	defer tc.Pool.Close()
	for i := 0; i < 3; i++ {
		if r := call(t, tc, addr, OpProve); string(r.Status) != `"prove"` {
			t.Fatalf("call %d: %+v", i, r)
		}
		time.Sleep(20 * time.Millisecond) // the server's close arrives
	}
	if n := l.n.Load(); n != 3 {
		t.Fatalf("%d connections, want 3 (one per call, each retried afresh)", n)
	}
}

// The server closes a connection left idle for serverIdle.
func TestRPCServerClosesIdleConnections(t *testing.T) {
	_, addr := listenRPC(t, func(ln net.Listener) {
		serveRPC(ln, func(ctx context.Context, req Request) Response { return Response{} }, hclog.NewNullLogger(), 100*time.Millisecond)
	})
	c, err := dialHeader(addr, headerRPC, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc := newPooledConn(c)
	if _, err := pc.roundTrip(context.Background(), time.Second, Request{V: RPCVersion, Op: OpStatus}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b [1]byte
	if _, err := c.Read(b[:]); err == nil {
		t.Fatal("read data on an idle connection")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept an idle connection open past serverIdle")
	}
}
