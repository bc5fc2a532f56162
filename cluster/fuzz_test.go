package cluster

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/internal/mtls"
	"github.com/raftvip/raftvip/internal/mtls/mtlstest"
)

var (
	fuzzOnce  sync.Once
	fuzzStore *mtls.Store
)

// fuzzMuxes are a TLS and a plaintext mux that are never listened on:
// accept is fed through a pipe.
func fuzzMuxes(t testing.TB) (tlsMux, plainMux *Mux) {
	fuzzOnce.Do(func() {
		ca := mtlstest.NewCA(t, "fuzz CA")
		cert, key := ca.Issue(t, "hosta", mtlstest.Opts{})
		s, err := mtls.NewStore(mtls.Files{CA: ca.CAFile(), Cert: cert, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		fuzzStore = s
	})
	members := func() map[string]string { return map[string]string{"hosta": "127.0.0.1:1"} }
	mk := func(auth *peerAuth) *Mux {
		return &Mux{log: hclog.NewNullLogger(), auth: auth, lim: limits{header: 200 * time.Millisecond, pending: 1, perHost: 1, conns: 1}}
	}
	return mk(&peerAuth{store: fuzzStore, members: members, now: time.Now}), mk(nil)
}

// feed runs m.accept on a connection that sends data, then closes.
func feed(m *Mux, data []byte) (header byte, err error) {
	server, client := net.Pipe()
	defer server.Close()
	go func() {
		go io.Copy(io.Discard, client) // the server's alerts and handshake
		client.Write(data)
		client.Close()
	}()
	conn, h, _, err := m.accept(server)
	if err == nil {
		conn.Close()
	}
	return h, err
}

// The first bytes of a connection decide everything the mux does: with
// TLS no byte string gets a connection through (a handshake needs the
// private key of a member's certificate); in plaintext exactly the two
// header bytes do.
func FuzzMuxFirstBytes(f *testing.F) {
	for _, s := range [][]byte{{}, {headerRaft}, {headerRPC}, {tlsHeader}, {tlsHeader, 3, 1, 0, 5, 1, 0, 0, 1},
		[]byte("GET / HTTP/1.1\r\n"), append([]byte{headerRaft}, 0, 0x85), {0xff, 0xfe}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, pm := fuzzMuxes(t)
		if _, err := feed(tm, data); err == nil {
			t.Fatalf("the TLS mux let %q through", data)
		}
		h, err := feed(pm, data)
		want := len(data) > 0 && (data[0] == headerRaft || data[0] == headerRPC)
		if (err == nil) != want || (err == nil && h != data[0]) {
			t.Fatalf("plaintext mux on %q: header %d, error %v", data, h, err)
		}
	})
}

// The request decoder reads what any peer sends: it never panics, never
// reads past its limit, and what it accepts encodes again.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{`{"v":1,"op":"status","from":"hostb"}`, `{"v":1,"op":"apply","command":"eyJ0eXBlIjoiaGVhbHRoIn0="}`,
		`{"v":1,"op":"maintenance","args":{"on":true}}`, `{"v":"1"}`, `[]`, `{"args":`, "\x00\xff", `{"command":"!!"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		req, err := DecodeRequest(r)
		if read := len(data) - r.Len(); read > maxRequestBytes {
			t.Fatalf("read %d bytes, limit %d", read, maxRequestBytes)
		}
		if err != nil {
			return
		}
		if _, err := json.Marshal(req); err != nil {
			t.Fatalf("accepted %q, which does not encode again: %v", data, err)
		}
	})
}
