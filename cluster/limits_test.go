package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func listenLimited(t *testing.T, lim limits) *Mux {
	t.Helper()
	m, err := Listen("127.0.0.1:0", nil, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	m.countMu.Lock()
	m.lim = lim
	m.countMu.Unlock()
	t.Cleanup(func() { m.Close() })
	return m
}

// closedSoon reports whether the server closed c (a read ends with EOF or
// a reset, not with our own deadline).
func closedSoon(c net.Conn, within time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(within))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errorAs(err, &ne) && ne.Timeout())
}

func errorAs(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// Connections that send nothing hold a slot only until the header timeout,
// at most perHost of them from one address; the next from there is closed
// at once.
func TestMuxBoundsPendingConnections(t *testing.T) {
	m := listenLimited(t, limits{header: 500 * time.Millisecond, pending: 64, perHost: 3, conns: 16})
	var silent []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", m.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		m.countMu.Lock()
		n := m.byHost["127.0.0.1"]
		m.countMu.Unlock()
		if n == 3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	extra, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	// Well before the header timeout: refused for the limit.
	if !closedSoon(extra, 300*time.Millisecond) {
		t.Fatal("a fourth silent connection from one host was kept")
	}
	if m.Refused()["too-many-pending-from-host"] != 1 {
		t.Fatalf("refusals %v", m.Refused())
	}
	for i, c := range silent {
		if !closedSoon(c, 3*time.Second) {
			t.Fatalf("silent connection %d outlived the header timeout", i)
		}
	}
	// The slots are free again: a real connection gets through.
	got := make(chan struct{})
	go func() {
		if c, err := m.RaftLayer().Accept(); err == nil {
			c.Close()
			close(got)
		}
	}()
	c, err := dialHeader(m.Addr().String(), headerRaft, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-got:
	case <-time.After(3 * time.Second):
		t.Fatal("no slot after the silent connections were closed")
	}
}

// At most conns connections are handed on; closing one frees its slot.
func TestMuxBoundsOpenConnections(t *testing.T) {
	m := listenLimited(t, limits{header: time.Second, pending: 64, perHost: 8, conns: 2})
	layer := m.RaftLayer()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := layer.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := dialHeader(m.Addr().String(), headerRaft, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, <-accepted)
	}
	third, err := dialHeader(m.Addr().String(), headerRaft, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if !closedSoon(third, 2*time.Second) {
		t.Fatal("a third connection was kept over the limit of 2")
	}
	if m.Refused()["too-many-connections"] != 1 {
		t.Fatalf("refusals %v", m.Refused())
	}
	held[0].Close()
	held[0].Close() // twice: one slot back, not two
	fourth, err := dialHeader(m.Addr().String(), headerRaft, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(2 * time.Second):
		t.Fatal("the freed slot was not given to the next connection")
	}
	m.countMu.Lock()
	n := m.conns
	m.countMu.Unlock()
	if n != 1 {
		t.Fatalf("%d connections counted, want 1 (held[1])", n)
	}
}

// A request larger than maxRequestBytes is refused before the handler, and
// one that is never finished is cut off.
func TestRPCBoundsRequests(t *testing.T) {
	m := listenLimited(t, defaultLimits)
	var calls atomic.Int64
	go ServeRPC(m.RPCListener(), func(ctx context.Context, req Request) Response {
		calls.Add(1)
		return Response{}
	}, hclog.NewNullLogger())

	c, err := dialHeader(m.Addr().String(), headerRPC, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := `{"v":1,"op":"status","args":"` + strings.Repeat("x", maxRequestBytes) + `"}` + "\n"
	go io.Copy(c, strings.NewReader(big))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil || !strings.Contains(resp.Err, "message too large") {
		t.Fatalf("oversized request: %+v %v", resp, err)
	}
	if calls.Load() != 0 {
		t.Fatal("the handler saw an oversized request")
	}

	// Half a request, then silence: answered with an error after the
	// request timeout, the handler never called.
	s, err := dialHeader(m.Addr().String(), headerRPC, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Write([]byte(`{"v":1,"op":`))
	s.SetReadDeadline(time.Now().Add(requestTimeout + 5*time.Second))
	b, _ := io.ReadAll(s)
	if !bytes.Contains(b, []byte("bad request")) || calls.Load() != 0 {
		t.Fatalf("unfinished request: got %q, %d handler calls", b, calls.Load())
	}
}

// A flood of refused connections is one WARN line per host and reason in
// the window, naming the remote address and the reason.
func TestMuxRefusalLogIsRateLimited(t *testing.T) {
	var buf syncBuf
	m, err := Listen("127.0.0.1:0", nil, hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", m.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte{99, 'x'})
		closedSoon(c, 2*time.Second)
		c.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for m.Refused()["unknown-header"] < 20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if m.Refused()["unknown-header"] != 20 || len(lines) != 1 || !strings.Contains(lines[0], "remote=127.0.0.1:") || !strings.Contains(lines[0], "reason=unknown-header") {
		t.Fatalf("refused %v; log:\n%s", m.Refused(), buf.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
