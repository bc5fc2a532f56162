package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/internal/mtls"
	"github.com/raftvip/raftvip/internal/mtls/mtlstest"
)

// A caller that gives up mid-call (its deadline passed before it could
// write the request) closes the connection without a TLS close_notify: a
// record that crypto/tls encrypts after a failed write carries a sequence
// number the server never saw, which the server logged as "tls: bad record
// MAC" — an alarm about corruption or an attack, for an ordinary timeout.
func TestAbortedCallIsNotABadRecordMAC(t *testing.T) {
	ca := mtlstest.NewCA(t, "abort test CA")
	store := func(id string) *mtls.Store {
		cert, key := ca.Issue(t, id, mtlstest.Opts{})
		s, err := mtls.NewStore(mtls.Files{CA: ca.CAFile(), Cert: cert, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	addr := freeAddr(t)
	members := func() map[string]string { return map[string]string{"hosta": addr, "hostb": "127.0.0.1:1"} }
	logs := &syncBuf{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	m, err := Listen(addr, &TLS{Store: store("hosta"), Members: members}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	go ServeRPC(m.RPCListener(), func(ctx context.Context, req Request) Response { return Response{} }, log)

	auth := &peerAuth{store: store("hostb"), members: members, now: time.Now}
	for i := 0; i < 20; i++ {
		c, err := auth.dial(addr, headerRPC, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetWriteDeadline(time.Now().Add(-time.Second))
		if _, err := c.Write([]byte(`{"v":1,"op":"status"}` + "\n")); err == nil {
			t.Fatal("write past its deadline succeeded")
		}
		c.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && strings.Count(logs.String(), "bad rpc request") < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	if out := logs.String(); strings.Contains(out, "bad record MAC") {
		t.Fatalf("the server saw corrupt TLS records from calls that timed out:\n%s", out)
	}
}
