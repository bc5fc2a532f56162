package lab

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/internal/pki"
)

// The mux's first bytes (cluster/mux.go): one byte names the protocol.
const (
	muxRaft byte = 1
	muxRPC  byte = 2
)

// raftAppendEntries is hashicorp/raft's wire format of one AppendEntries
// (net_transport.go): the RPC type byte (0) and the request in msgpack.
func raftAppendEntries(t *testing.T, req *raft.AppendEntriesRequest) []byte {
	t.Helper()
	var b strings.Builder
	w := bufio.NewWriter(&b)
	w.WriteByte(0) // rpcAppendEntries
	enc := codec.NewEncoder(w, &codec.MsgpackHandle{BasicHandle: codec.BasicHandle{TimeNotBuiltin: true}})
	if err := enc.Encode(req); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return []byte(b.String())
}

// readRaftResponse reads what a raft transport answers an AppendEntries
// with: an error string and the response, both msgpack.
func readRaftResponse(c net.Conn) (*raft.AppendEntriesResponse, error) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	dec := codec.NewDecoder(bufio.NewReader(c), &codec.MsgpackHandle{})
	var rpcErr string
	if err := dec.Decode(&rpcErr); err != nil {
		return nil, err
	}
	var resp raft.AppendEntriesResponse
	if err := dec.Decode(&resp); err != nil {
		return nil, err
	}
	if rpcErr != "" {
		return &resp, errors.New(rpcErr)
	}
	return &resp, nil
}

// refusedBy says how a connection ended that the server must have refused:
// it must close it (EOF, reset, a TLS alert), not leave it open and not
// answer. A read that times out is no refusal: the server kept the
// connection (and a goroutine) for an attacker.
func refusedBy(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	buf := make([]byte, 4096)
	var got []byte
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err == nil {
			continue
		}
		// A plaintext client may see the TLS alert record (content type
		// 21) before the close; anything else is an answer.
		if len(got) > 0 && got[0] != 21 {
			return fmt.Errorf("the server answered %d bytes (% x...)", len(got), got[:min(len(got), 16)])
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return errors.New("the server kept the connection open for 15 s")
		}
		return nil
	}
}

type attack struct {
	name string
	// dial connects from the client host to addr (a node's cluster port)
	// and sends what the attacker sends; nil conn and an error mean the
	// connection was refused before anything could be sent.
	dial func(ctx context.Context, addr, node string) (net.Conn, error)
}

// TestAttacksFromClientRefused runs issue 9's attacks from the client host
// against a lab cluster running mutual TLS: no certificate, a certificate
// of another CA (naming a member), a valid certificate of a non-member,
// plain TCP garbage, and hashicorp/raft's plaintext AppendEntries with
// term + 100 (which, before TLS, made every node follow a leader that does
// not exist). Every connection must be closed by the server without an
// answer, and leader, term, holder, epoch and maintenance must not change.
// A stale AppendEntries over TLS with a member's certificate, from that
// member's host, shows that the same bytes are answered when they come
// from a peer: the refusals are the authentication's doing.
func TestAttacksFromClientRefused(t *testing.T) {
	l, ctx, before := settledRaftvipLab(t)

	labCA := pki.CAFile(l.TLSDir())
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(labCA)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	// Another CA's certificate for "hosta", and the lab CA's for "intruder"
	// (made with a copy of the lab's CA, leaving the lab's directory as is).
	other := filepath.Join(t.TempDir(), "other")
	if err := pki.Init(other, []string{"hosta"}, nil); err != nil {
		t.Fatal(err)
	}
	stolenCA := filepath.Join(t.TempDir(), "ca")
	os.MkdirAll(stolenCA, 0o700)
	for _, f := range []string{pki.CAName, pki.CAKeyName} {
		b, err := os.ReadFile(filepath.Join(l.TLSDir(), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(stolenCA, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := pki.Add(stolenCA, "intruder", []net.IP{net.ParseIP(l.Host("c").IP)}); err != nil {
		t.Fatal(err)
	}
	pair := func(dir, node string) []tls.Certificate {
		p, err := tls.LoadX509KeyPair(pki.CertFile(dir, node), pki.KeyFile(dir, node))
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{p}
	}
	client := l.Host("c").NS
	forged := append([]byte{muxRaft}, raftAppendEntries(t, heartbeat(before.term+100, l.Host("c").IP))...)
	noCert, otherCA, intruder := []tls.Certificate(nil), pair(other, "hosta"), pair(stolenCA, "intruder")
	tcp := func(ctx context.Context, ns, addr string) (net.Conn, error) {
		return DialInNamespace(ctx, ns, "tcp", addr)
	}
	// overTLS dials TLS as a peer does (the server's name is its node id)
	// and sends the raft header and a heartbeat of term + 100 inside.
	hijack := func(ctx context.Context, c net.Conn, certs []tls.Certificate, node string) (net.Conn, error) {
		tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: node, Certificates: certs, MinVersion: tls.VersionTLS13})
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.HandshakeContext(ctx); err != nil {
			tc.Close()
			return nil, err
		}
		_ = tc.SetDeadline(time.Time{})
		if _, err := tc.Write(forged); err != nil {
			tc.Close()
			return nil, err
		}
		return tc, nil
	}
	attacks := []attack{
		{"no certificate", func(ctx context.Context, addr, node string) (net.Conn, error) {
			c, err := tcp(ctx, client, addr)
			if err != nil {
				return nil, err
			}
			return hijack(ctx, c, noCert, node)
		}},
		{"certificate of another CA", func(ctx context.Context, addr, node string) (net.Conn, error) {
			c, err := tcp(ctx, client, addr)
			if err != nil {
				return nil, err
			}
			return hijack(ctx, c, otherCA, node)
		}},
		{"lab CA's certificate for a non-member", func(ctx context.Context, addr, node string) (net.Conn, error) {
			c, err := tcp(ctx, client, addr)
			if err != nil {
				return nil, err
			}
			return hijack(ctx, c, intruder, node)
		}},
		{"plain TCP garbage", func(ctx context.Context, addr, node string) (net.Conn, error) {
			c, err := tcp(ctx, client, addr)
			if err != nil {
				return nil, err
			}
			junk := make([]byte, 4096)
			rand.Read(junk)
			_, err = c.Write(junk)
			return c, err
		}},
		{"plaintext RPC status request", func(ctx context.Context, addr, node string) (net.Conn, error) {
			c, err := tcp(ctx, client, addr)
			if err != nil {
				return nil, err
			}
			b, _ := json.Marshal(map[string]any{"v": 1, "op": "status", "from": "intruder"})
			_, err = c.Write(append(append([]byte{muxRPC}, b...), '\n'))
			return c, err
		}},
		{"plaintext raft AppendEntries, term + 100", func(ctx context.Context, addr, node string) (net.Conn, error) {
			c, err := tcp(ctx, client, addr)
			if err != nil {
				return nil, err
			}
			_, err = c.Write(forged)
			return c, err
		}},
	}
	// Each attack against every node, three rounds 100 ms apart (as the
	// original attack kept it up): a follower that took the higher term
	// would start an election and bump the cluster's term. The connections
	// of a round are checked concurrently so a slow refusal cannot space
	// the rounds out.
	for _, a := range attacks {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var problems, notes []string
		for round := 0; round < 3; round++ {
			for _, h := range l.agentHosts() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					addr := fmt.Sprintf("%s:%d", h.IP, RaftPort)
					dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
					defer cancel()
					c, err := a.dial(dctx, addr, h.NodeID)
					var problem, note string
					switch {
					case c == nil && err == nil:
						problem = "no connection and no error"
					case c == nil:
						// Refused during the handshake (the server
						// checks the client's certificate) or at connect.
						note = fmt.Sprintf("refused: %v", err)
					default:
						if err := refusedBy(c); err != nil {
							problem = fmt.Sprintf("not refused: %v", err)
						} else {
							note = "closed by the server without an answer"
						}
						c.Close()
					}
					mu.Lock()
					defer mu.Unlock()
					if problem != "" {
						problems = append(problems, fmt.Sprintf("%s to %s: %s", a.name, h.NodeID, problem))
					} else if round == 0 {
						notes = append(notes, fmt.Sprintf("%s to %s: %s", a.name, h.NodeID, note))
					}
				}()
			}
			time.Sleep(100 * time.Millisecond)
		}
		wg.Wait()
		for _, n := range notes {
			t.Log(n)
		}
		for _, p := range problems {
			t.Error(p)
		}
	}
	// Longer than an election timeout, so a node shaken by any of it would
	// have started an election by now.
	time.Sleep(3 * time.Second)
	after := clusterViews(t, l)
	t.Logf("after: %v", after)
	if after.String() != before.String() {
		t.Errorf("the attacks changed the cluster:\nbefore %v\nafter  %v", before, after)
	}

	// Each agent logged the refusals with the client's address.
	for _, h := range l.agentHosts() {
		log, err := os.ReadFile(l.Agent(h.Name).LogPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(log), l.Host("c").IP) {
			t.Errorf("%s's log does not name the client %s that it refused", h.NodeID, l.Host("c").IP)
		}
	}

	// The control: the same bytes (a stale term this time, so they are
	// harmless) over TLS with the witness's own certificate from its own
	// host are answered with the current term.
	w := l.Host("w")
	for _, h := range l.DBHosts() {
		c, err := tcp(ctx, w.NS, fmt.Sprintf("%s:%d", h.IP, RaftPort))
		if err != nil {
			t.Fatal(err)
		}
		tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: h.NodeID, Certificates: pair(l.TLSDir(), w.NodeID), MinVersion: tls.VersionTLS13})
		if err := tc.HandshakeContext(ctx); err != nil {
			t.Fatalf("control: witness to %s: %v", h.NodeID, err)
		}
		if _, err := tc.Write(append([]byte{muxRaft}, raftAppendEntries(t, heartbeat(0, w.IP))...)); err != nil {
			t.Fatal(err)
		}
		resp, err := readRaftResponse(tc)
		tc.Close()
		if err != nil {
			t.Fatalf("control: witness to %s: no raft answer: %v", h.NodeID, err)
		}
		if resp.Success || resp.Term != before.term {
			t.Errorf("control: %s answered a stale AppendEntries with success %v, term %d; want false, %d", h.NodeID, resp.Success, resp.Term, before.term)
		}
	}
	if final := clusterViews(t, l); final.String() != before.String() {
		t.Errorf("the control changed the cluster:\nbefore %v\nafter  %v", before, final)
	}
}

// heartbeat is an AppendEntries as a leader's heartbeat looks (no entries),
// from a leader at addr that does not exist.
func heartbeat(term uint64, ip string) *raft.AppendEntriesRequest {
	addr := []byte(fmt.Sprintf("%s:%d", ip, RaftPort))
	return &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: addr},
		Term:      term,
		Leader:    addr,
	}
}

// clusterView is what the attacks must not change, as each node's
// `raftvip status -json` reports it.
type clusterView struct {
	term  uint64
	nodes []string
}

func (v clusterView) String() string { return strings.Join(v.nodes, "; ") }

// settledRaftvipLab starts a lab with raftvip agents, waits until one node
// holds the VIP steadily and every node is healthy, and returns the lab, a
// context for the test's steps and the cluster's view at that point.
func settledRaftvipLab(t *testing.T) (*Lab, context.Context, clusterView) {
	t.Helper()
	l := newTestLab(t, Options{RaftvipBin: requireLab(t)})
	ctx := within(t, 5*time.Minute)
	if err := l.StartRaftvip(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitStableHolder(within(t, 45*time.Second), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitAllHealthy(within(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	before := clusterViews(t, l)
	t.Logf("before: %v", before)
	return l, ctx, before
}

func clusterViews(t *testing.T, l *Lab) clusterView {
	t.Helper()
	var v clusterView
	for _, h := range l.agentHosts() {
		st, err := l.Agent(h.Name).Status(within(t, 15*time.Second))
		if err != nil {
			t.Fatalf("status of %s: %v", h.NodeID, err)
		}
		if h.Name == "a" {
			v.term = st.Term
		}
		v.nodes = append(v.nodes, fmt.Sprintf("%s: leader %s term %d holder %s epoch %d maintenance %v",
			h.NodeID, st.Leader, st.Term, st.Holder, st.Epoch, st.Maintenance.On))
	}
	return v
}
