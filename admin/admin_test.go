package admin

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
)

type backend struct{}

func (backend) ClusterStatus(ctx context.Context, n int) agent.Status {
	return agent.Status{Node: "hosta", Holder: "hosta", Epoch: uint64(n)}
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "sub", "a.sock")
	s, err := Serve(sock, backend{}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	st, err := NewClient(sock).Status(context.Background(), 7)
	if err != nil || st.Holder != "hosta" || st.Epoch != 7 {
		t.Fatalf("status %+v, %v", st, err)
	}
	if _, err := Serve(sock, backend{}, hclog.NewNullLogger()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second server on a live socket: %v", err)
	}

	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", sock)
	}}}
	for path, want := range map[string]int{"/v1/status?history=abc": 400, "/v1/status?history=-1": 400, "/v2/status": 404, "/v1/nothing": 404} {
		resp, err := hc.Get("http://x" + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s: %d %s; want %d with a JSON error", path, resp.StatusCode, body, want)
		}
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "a.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a crashed agent: the file stays, nobody listens.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	s, err := Serve(sock, backend{}, hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	s.Close()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left after Close: %v", err)
	}
}
