package cluster

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func TestMuxRoutesRaftAndRPC(t *testing.T) {
	m, err := Listen("127.0.0.1:0", nil, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	addr := m.Addr().String()
	go ServeRPC(m.RPCListener(), func(ctx context.Context, req Request) Response {
		return Response{Epoch: 42, Status: json.RawMessage(`{"from":"` + req.From + `"}`)}
	}, hclog.NewNullLogger())

	// RPC round trip over the shared port.
	resp, err := TCPCaller{}.Call(context.Background(), addr, Request{Op: OpStatus, From: "hostb"})
	if err != nil || resp.Epoch != 42 || string(resp.Status) != `{"from":"hostb"}` || resp.V != RPCVersion {
		t.Fatalf("rpc: %+v %v", resp, err)
	}

	// A raft dial lands on the raft layer, with the header consumed.
	layer := m.RaftLayer()
	got := make(chan []byte, 1)
	go func() {
		c, err := layer.Accept()
		if err != nil {
			return
		}
		b := make([]byte, 5)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := c.Read(b)
		got <- b[:n]
		c.Close()
	}()
	c, err := layer.Dial(raft.ServerAddress(addr), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	select {
	case b := <-got:
		if string(b) != "hello" {
			t.Fatalf("raft layer read %q", b)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("raft connection not routed")
	}
	c.Close()

	// Unknown header: the connection is closed, nothing else happens.
	u, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte{99, 'x'})
	u.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := u.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection with unknown header was not closed")
	}
	u.Close()

	// Wrong RPC version and garbage get a clear error, not a hang.
	for _, payload := range []string{`{"v":9,"op":"status"}` + "\n", "garbage\n"} {
		g, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		g.Write(append([]byte{headerRPC}, payload...))
		g.SetReadDeadline(time.Now().Add(2 * time.Second))
		var r Response
		if err := json.NewDecoder(g).Decode(&r); err != nil || r.Err == "" {
			t.Fatalf("payload %q: response %+v, %v", payload, r, err)
		}
		if strings.Contains(payload, "v\":9") && !strings.Contains(r.Err, "unsupported rpc version 9") {
			t.Fatalf("version error: %q", r.Err)
		}
		g.Close()
	}
}

func TestInmemRPCIsolation(t *testing.T) {
	r := NewInmemRPC()
	r.Register("a", func(ctx context.Context, req Request) Response { return Response{Epoch: 1} })
	if _, err := r.From("b").Call(context.Background(), "a", Request{Op: OpStatus}); err != nil {
		t.Fatal(err)
	}
	r.Isolate("b", true)
	if _, err := r.From("b").Call(context.Background(), "a", Request{Op: OpStatus}); err == nil {
		t.Fatal("isolated caller reached a")
	}
	if _, err := r.From("c").Call(context.Background(), "nobody", Request{Op: OpStatus}); err == nil {
		t.Fatal("call to unknown address succeeded")
	}
}
