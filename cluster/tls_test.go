package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/internal/mtls"
	"github.com/raftvip/raftvip/internal/mtls/mtlstest"
)

// countFSM counts the entries applied: the replicated state, for "nothing
// changed".
type countFSM struct{ n atomic.Int64 }

func (f *countFSM) Apply(*raft.Log) interface{} { f.n.Add(1); return nil }
func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) {
	return nil, fmt.Errorf("no snapshots in this test")
}
func (f *countFSM) Restore(rc io.ReadCloser) error { return rc.Close() }

type tlsNode struct {
	id         string
	addr       string
	cert, key  string
	store      *mtls.Store
	c          *Cluster
	fsm        *countFSM
	mu         sync.Mutex
	calls      []Request // what its RPC handler was asked, From as the server set it
	dataDir    string
	peers      []Peer
	plaintext  bool
	openedWith Config
}

func (n *tlsNode) handler(ctx context.Context, req Request) Response {
	n.mu.Lock()
	n.calls = append(n.calls, req)
	n.mu.Unlock()
	return Response{Status: []byte(`"ok"`)}
}

func (n *tlsNode) requests() []Request {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Request(nil), n.calls...)
}

type tlsCluster struct {
	ca    *mtlstest.CA
	nodes []*tlsNode
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newTLSCluster starts three nodes on real TCP ports of 127.0.0.1 with
// certificates of one CA (plaintext: insecure_plaintext instead).
func newTLSCluster(t *testing.T, plaintext bool, ids ...string) *tlsCluster {
	t.Helper()
	tc := &tlsCluster{ca: mtlstest.NewCA(t, "raftvip test CA")}
	var peers []Peer
	for _, id := range ids {
		n := &tlsNode{id: id, addr: freeAddr(t), fsm: &countFSM{}, dataDir: t.TempDir(), plaintext: plaintext}
		n.cert, n.key = tc.ca.Issue(t, id, mtlstest.Opts{})
		tc.nodes = append(tc.nodes, n)
		peers = append(peers, Peer{ID: id, Address: n.addr})
	}
	for _, n := range tc.nodes {
		n.peers = peers
		tc.open(t, n, false)
	}
	t.Cleanup(func() {
		for _, n := range tc.nodes {
			if n.c != nil {
				n.c.Close()
			}
		}
	})
	return tc
}

func (tc *tlsCluster) open(t *testing.T, n *tlsNode, join bool) {
	t.Helper()
	cfg := Config{NodeID: n.id, Bind: n.addr, DataDir: n.dataDir, Peers: n.peers, Join: join,
		Logger: hclog.New(&hclog.LoggerOptions{Name: n.id, Level: hclog.Warn, Output: os.Stderr})}
	if !n.plaintext {
		s, err := mtls.NewStore(mtls.Files{CA: tc.ca.CAFile(), Cert: n.cert, Key: n.key})
		if err != nil {
			t.Fatal(err)
		}
		n.store, cfg.TLS = s, s
	}
	c, err := Open(cfg, n.fsm, n.handler)
	if err != nil {
		t.Fatal(err)
	}
	n.c = c
}

func (tc *tlsCluster) leader(t *testing.T) *tlsNode {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range tc.nodes {
			if n.c.IsLeader() {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader within 15s")
	return nil
}

// snapshot is what an attack must not change.
type snapshot struct {
	leader  string
	terms   []uint64
	applied []int64
	calls   []int
}

func (tc *tlsCluster) snap() snapshot {
	var s snapshot
	for _, n := range tc.nodes {
		if n.c.IsLeader() {
			s.leader = n.id
		}
		s.terms = append(s.terms, n.c.Term())
		s.applied = append(s.applied, n.fsm.n.Load())
		s.calls = append(s.calls, len(n.requests()))
	}
	return s
}

func (tc *tlsCluster) settled(t *testing.T) snapshot {
	t.Helper()
	l := tc.leader(t)
	if _, err := l.c.Apply([]byte("x"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Every node has applied the same entries: the state is settled.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s := tc.snap()
		same := true
		for _, a := range s.applied {
			same = same && a == s.applied[0]
		}
		if same && s.leader != "" {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the cluster did not settle: %+v", tc.snap())
	return snapshot{}
}

func (s snapshot) String() string {
	return fmt.Sprintf("leader %s, terms %v, applied %v, rpc calls %v", s.leader, s.terms, s.applied, s.calls)
}

// plainStream is a raft.StreamLayer that dials the mux in plaintext with
// the Raft header, as an attacker's own raft transport would.
type plainStream struct{ net.Listener }

func (plainStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialHeader(string(address), headerRaft, timeout)
}

// tlsStream dials with TLS material of the attacker's choosing.
type tlsStream struct {
	net.Listener
	conf *tls.Config
}

func (s tlsStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(address), s.conf)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{headerRaft}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// appendEntries sends one AppendEntries with term as if from leader id
// "hosta" through stream and returns the transport's error.
func appendEntries(t *testing.T, stream raft.StreamLayer, target *tlsNode, term uint64) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	switch s := stream.(type) {
	case plainStream:
		s.Listener = ln
		stream = s
	case tlsStream:
		s.Listener = ln
		stream = s
	}
	trans := raft.NewNetworkTransport(stream, 1, 2*time.Second, io.Discard)
	defer trans.Close()
	req := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(ln.Addr().String())},
		Term: term, PrevLogEntry: 0, PrevLogTerm: 0, LeaderCommitIndex: 0}
	var resp raft.AppendEntriesResponse
	return trans.AppendEntries(raft.ServerID(target.id), raft.ServerAddress(target.addr), req, &resp)
}

// Without TLS the attack of issue 9 works: one raw AppendEntries with a
// higher term makes a node follow a leader that does not exist. This is
// the control for TestTLSRefusesStrangers: the same attack, refused.
func TestPlaintextAppendEntriesAttackWorks(t *testing.T) {
	tc := newTLSCluster(t, true, "hosta", "hostb", "hostc")
	before := tc.settled(t)
	target := tc.nodes[0]
	if err := appendEntries(t, plainStream{}, target, before.terms[0]+100); err != nil {
		t.Fatalf("plaintext AppendEntries: %v", err)
	}
	if got := target.c.Term(); got < before.terms[0]+100 {
		t.Fatalf("the attack did not raise %s's term (%d, was %d): the control is broken", target.id, got, before.terms[0])
	}
}

func TestTLSRefusesStrangers(t *testing.T) {
	tc := newTLSCluster(t, false, "hosta", "hostb", "hostc")
	before := tc.settled(t)
	other := mtlstest.NewCA(t, "another CA")
	foreignCert, foreignKey := other.Issue(t, "hostb", mtlstest.Opts{}) // a member's name, the wrong CA
	intruderCert, intruderKey := tc.ca.Issue(t, "intruder", mtlstest.Opts{})
	load := func(cert, key string) []tls.Certificate {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{c}
	}
	attacks := []struct {
		name   string
		reason string // the mux's refusal reason
		conf   *tls.Config
		raw    []byte // plain TCP instead of TLS
	}{
		{"no certificate", "no-certificate", &tls.Config{InsecureSkipVerify: true}, nil},
		{"certificate of another CA", "unknown-ca", &tls.Config{InsecureSkipVerify: true, Certificates: load(foreignCert, foreignKey)}, nil},
		{"valid certificate of a non-member", "non-member", &tls.Config{InsecureSkipVerify: true, Certificates: load(intruderCert, intruderKey)}, nil},
		{"plain TCP garbage", "not-tls", nil, []byte("GET / HTTP/1.0\r\n\r\n")},
		{"plaintext RPC", "plaintext", nil, append([]byte{headerRPC}, `{"v":1,"op":"apply","from":"hostb"}`+"\n"...)},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			for _, n := range tc.nodes {
				was := n.c.mux.Refused()[a.reason]
				var c net.Conn
				var err error
				if a.raw != nil {
					c, err = net.Dial("tcp", n.addr)
					if err == nil {
						_, err = c.Write(a.raw)
					}
				} else {
					c, err = tls.Dial("tcp", n.addr, a.conf)
					if err == nil {
						_, err = c.Write([]byte{headerRPC})
						c.Write([]byte(`{"v":1,"op":"maintenance","from":"hostb","args":{"on":true}}` + "\n"))
					}
				}
				if err == nil {
					// The server closes: a read ends with an error, never an answer.
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					b := make([]byte, 64)
					nr, rerr := c.Read(b)
					if rerr == nil {
						t.Errorf("%s answered %q", n.id, b[:nr])
					} else if ne, ok := rerr.(net.Error); ok && ne.Timeout() {
						t.Errorf("%s kept the connection open", n.id)
					}
					c.Close()
				}
				deadline := time.Now().Add(5 * time.Second)
				for n.c.mux.Refused()[a.reason] == was && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if got := n.c.mux.Refused(); got[a.reason] != was+1 {
					t.Errorf("%s: refusals %v, want one more %q", n.id, got, a.reason)
				}
			}
		})
	}
	// The attack of issue 9: AppendEntries with term + 100, in plaintext
	// and over TLS with the non-member's certificate.
	for _, n := range tc.nodes {
		if err := appendEntries(t, plainStream{}, n, before.terms[0]+100); err == nil {
			t.Errorf("plaintext AppendEntries to %s was answered", n.id)
		}
		conf := &tls.Config{InsecureSkipVerify: true, Certificates: load(intruderCert, intruderKey)}
		if err := appendEntries(t, tlsStream{conf: conf}, n, before.terms[0]+100); err == nil {
			t.Errorf("AppendEntries from a non-member to %s was answered", n.id)
		}
	}
	time.Sleep(500 * time.Millisecond) // a heartbeat timeout: time to act on anything that got through
	after := tc.snap()
	if after.String() != before.String() {
		t.Fatalf("the attacks changed the cluster:\n before %s\n after  %s", before, after)
	}
	t.Logf("unchanged: %s", after)
}

// A forged RPC from a non-peer never reaches the handler; a peer's RPC
// carries its certificate's identity as From, whatever it wrote.
func TestTLSRPCCallerIsTheCertificate(t *testing.T) {
	tc := newTLSCluster(t, false, "hosta", "hostb", "hostc")
	before := tc.settled(t)
	members := func() map[string]string {
		m := map[string]string{}
		for _, n := range tc.nodes {
			m[n.id] = n.addr
		}
		return m
	}
	caller := func(id string, ca *mtlstest.CA) TCPCaller {
		cert, key := ca.Issue(t, id, mtlstest.Opts{Suffix: "-caller"})
		s, err := mtls.NewStore(mtls.Files{CA: tc.ca.CAFile(), Cert: cert, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return TCPCaller{Dial: (&peerAuth{store: s, members: members, now: time.Now}).dial}
	}
	intruder := caller("intruder", tc.ca)
	forged := []Request{
		{Op: "maintenance", From: "hostb", Args: []byte(`{"on":true,"reason":"x"}`)},
		{Op: OpApply, From: "hostb", Command: []byte(`{"type":"health","health":{"node":"hostb","healthy":true}}`)},
		{Op: "peer_remove", From: "hosta", Args: []byte(`{"id":"hostc","force":true}`)},
	}
	for _, n := range tc.nodes {
		for _, req := range forged {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			resp, err := intruder.Call(ctx, n.addr, req)
			cancel()
			if err == nil {
				t.Errorf("%s answered a forged %s from a non-member: %+v", n.id, req.Op, resp)
			}
		}
	}
	time.Sleep(200 * time.Millisecond)
	if after := tc.snap(); after.String() != before.String() {
		t.Fatalf("forged RPCs changed the cluster:\n before %s\n after  %s", before, after)
	}

	// hostb's certificate claiming to be hosta: the server says hostb.
	hostb := caller("hostb", tc.ca)
	target := tc.nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := hostb.Call(ctx, target.addr, Request{Op: OpStatus, From: "hosta"}); err != nil {
		t.Fatal(err)
	}
	reqs := target.requests()
	if len(reqs) == 0 || reqs[len(reqs)-1].From != "hostb" {
		t.Fatalf("the handler saw %+v, want From hostb (the certificate), not the claimed hosta", reqs)
	}
}

// Rotation: new certificates in the same files, Reload (what SIGHUP does):
// the leader and term stay, new connections present the new certificate.
func TestTLSCertificateRotationKeepsLeader(t *testing.T) {
	tc := newTLSCluster(t, false, "hosta", "hostb", "hostc")
	before := tc.settled(t)
	for _, n := range tc.nodes {
		cert, key := tc.ca.Issue(t, n.id, mtlstest.Opts{Suffix: "-new"})
		for _, f := range [][2]string{{cert, n.cert}, {key, n.key}} {
			b, err := os.ReadFile(f[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f[1], b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old := n.store.Current().Cert.Leaf.SerialNumber
		m, err := n.store.Reload()
		if err != nil {
			t.Fatal(err)
		}
		if m.Cert.Leaf.SerialNumber.Cmp(old) == 0 {
			t.Fatalf("%s: reload kept the old certificate", n.id)
		}
	}
	// A new connection to each node sees its new certificate.
	for _, n := range tc.nodes {
		peer := tc.nodes[(indexOf(tc.nodes, n)+1)%len(tc.nodes)]
		c, err := peer.c.mux.Dialer()(n.addr, headerRPC, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got := c.(*peerConn).Conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber
		c.Close()
		if got.Cmp(n.store.Current().Cert.Leaf.SerialNumber) != 0 {
			t.Errorf("%s still presents its old certificate", n.id)
		}
	}
	l := tc.leader(t)
	if _, err := l.c.Apply([]byte("after rotation"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	after := tc.snap()
	if after.leader != before.leader || fmt.Sprint(after.terms) != fmt.Sprint(before.terms) {
		t.Fatalf("rotation moved leadership:\n before %s\n after  %s", before, after)
	}
}

func indexOf(ns []*tlsNode, n *tlsNode) int {
	for i, x := range ns {
		if x == n {
			return i
		}
	}
	return -1
}

// A node added at run time (peers add) is in no config file of the others:
// it is admitted once it is in the Raft configuration, not before.
func TestTLSAdmitsNodeAddedAtRunTime(t *testing.T) {
	tc := newTLSCluster(t, false, "hosta", "hostb", "hostc")
	tc.settled(t)
	l := tc.leader(t)
	d := &tlsNode{id: "hostd", addr: freeAddr(t), fsm: &countFSM{}, dataDir: t.TempDir()}
	d.cert, d.key = tc.ca.Issue(t, "hostd", mtlstest.Opts{})
	d.peers = append(append([]Peer(nil), tc.nodes[0].peers...), Peer{ID: "hostd", Address: d.addr})
	tc.open(t, d, true)
	defer d.c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := d.c.Call(ctx, l.addr, Request{Op: OpStatus}); err == nil {
		t.Fatal("the leader answered hostd before it was added")
	}
	if err := l.c.AddServer("hostd", d.addr, true, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.fsm.n.Load() < l.fsm.n.Load() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if d.fsm.n.Load() < l.fsm.n.Load() {
		t.Fatalf("hostd applied %d of the leader's %d entries", d.fsm.n.Load(), l.fsm.n.Load())
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if _, err := d.c.Call(ctx2, l.addr, Request{Op: OpStatus}); err != nil {
		t.Fatalf("the leader refused hostd after it was added: %v", err)
	}
	if reqs := l.requests(); reqs[len(reqs)-1].From != "hostd" {
		t.Fatalf("From = %q", reqs[len(reqs)-1].From)
	}
}

// A node that dials a peer's address checks that the certificate there is
// that peer's: another member answering at hostb's address is refused.
func TestTLSDialerChecksWhomItReached(t *testing.T) {
	ca := mtlstest.NewCA(t, "raftvip test CA")
	store := func(id string) *mtls.Store {
		cert, key := ca.Issue(t, id, mtlstest.Opts{})
		s, err := mtls.NewStore(mtls.Files{CA: ca.CAFile(), Cert: cert, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	addrB, addrC := freeAddr(t), "127.0.0.1:1"
	members := func() map[string]string {
		return map[string]string{"hosta": "127.0.0.1:2", "hostb": addrB, "hostc": addrC}
	}
	// hostc's certificate on hostb's address (a moved address, a typo, an
	// impostor with a stolen member certificate).
	m, err := Listen(addrB, &TLS{Store: store("hostc"), Members: members}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	go func() {
		for {
			c, err := m.RaftLayer().Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	a := &peerAuth{store: store("hosta"), members: members, now: time.Now}
	_, err = a.dial(addrB, headerRaft, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), `for node "hostb", but its certificate names "hostc"`) {
		t.Fatalf("dial of hostb's address answered by hostc: %v", err)
	}
	// At an address no member has, any member's certificate will do.
	unknown := &peerAuth{store: a.store, members: func() map[string]string { return map[string]string{"hosta": "x", "hostc": "y"} }, now: time.Now}
	c, err := unknown.dial(addrB, headerRaft, 2*time.Second)
	if err != nil {
		t.Fatalf("dial of an address of no member: %v", err)
	}
	if id := c.(PeerConn).PeerID(); id != "hostc" {
		t.Fatalf("PeerID %q", id)
	}
	c.Close()
}
