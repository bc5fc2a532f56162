package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/fsm"
)

type backend struct{}

func (backend) Switchover(ctx context.Context, r agent.SwitchoverRequest) (agent.SwitchoverResult, error) {
	if r.To == "witness" {
		return agent.SwitchoverResult{}, fmt.Errorf("%w: witness is a witness", agent.ErrRefused)
	}
	return agent.SwitchoverResult{From: "hosta", To: r.To}, nil
}
func (backend) SetMaintenance(ctx context.Context, r agent.MaintenanceRequest) (fsm.Maintenance, error) {
	return fsm.Maintenance{On: r.On, Reason: r.Reason}, nil
}
func (backend) AddPeer(ctx context.Context, r agent.PeerRequest) (agent.PeerResult, error) {
	return agent.PeerResult{Changed: true, Note: "added " + r.ID}, nil
}
func (backend) RemovePeer(ctx context.Context, r agent.PeerRequest) (agent.PeerResult, error) {
	return agent.PeerResult{}, errors.New("raft exploded")
}

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

func TestOperatorCalls(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "a.sock")
	s, err := Serve(sock, backend{}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := NewClient(sock)
	ctx := context.Background()
	if r, err := c.Switchover(ctx, agent.SwitchoverRequest{To: "hostb", Timeout: time.Second}); err != nil || r.To != "hostb" {
		t.Fatalf("switchover: %+v %v", r, err)
	}
	_, err = c.Switchover(ctx, agent.SwitchoverRequest{To: "witness", Timeout: time.Second})
	if !Refused(err) || !strings.Contains(err.Error(), "witness is a witness") {
		t.Fatalf("refusal lost its kind or text: %v", err)
	}
	if _, err := c.Switchover(ctx, agent.SwitchoverRequest{To: "hostb"}); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("switchover without timeout accepted: %v", err)
	}
	if m, err := c.SetMaintenance(ctx, agent.MaintenanceRequest{On: true, Reason: "x"}); err != nil || !m.On {
		t.Fatalf("maintenance: %+v %v", m, err)
	}
	if r, err := c.AddPeer(ctx, agent.PeerRequest{ID: "hostc", Address: "10.99.0.14:7400", Role: "db"}); err != nil || !r.Changed {
		t.Fatalf("add: %+v %v", r, err)
	}
	_, err = c.RemovePeer(ctx, "hostc", false)
	if err == nil || Refused(err) || !strings.Contains(err.Error(), "raft exploded") {
		t.Fatalf("failure reported as %v", err)
	}
}
