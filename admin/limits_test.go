package admin

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
)

// Issue 9: a local process that may open the socket cannot tie the agent
// up: connections beyond MaxConns wait until one ends, a huge body is
// refused, and a switchover timeout above the cap is refused with the cap.
func TestAdminFloodLimits(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "a.sock")
	s, err := Serve(sock, backend{}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var idle []net.Conn
	for range MaxConns {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err = NewClient(sock).Status(ctx, 1)
	cancel()
	if err == nil {
		t.Fatalf("status answered with %d idle connections open; want it to wait for a free slot", MaxConns)
	}
	idle[0].Close()
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
	if _, err := NewClient(sock).Status(ctx, 1); err != nil {
		t.Fatalf("status after a slot freed: %v", err)
	}
	cancel()
	for _, c := range idle[1:] {
		c.Close()
	}

	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", sock)
	}}}
	big := bytes.Repeat([]byte(" "), MaxBody+1)
	resp, err := hc.Post("http://x/v1/maintenance", "application/json", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("body of %d bytes: HTTP %d, want 413", len(big), resp.StatusCode)
	}

	_, err = NewClient(sock).Switchover(context.Background(), agent.SwitchoverRequest{To: "hostb", Timeout: 6 * time.Minute})
	if err == nil || !strings.Contains(err.Error(), "more than the maximum 5m0s") {
		t.Errorf("switchover -timeout 6m: %v; want refused naming the 5m maximum", err)
	}
}

// The socket is private from the moment it exists, also on a path too long
// for the private directory's detour.
func TestSocketModeLongPath(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("d", 98-len(dir)))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(long, "a.sock")
	if len(sock) > maxSunPath {
		t.Fatalf("test path %d bytes, longer than a socket path may be", len(sock))
	}
	s, err := Serve(sock, backend{}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v %v; want a 0600 socket", fi, err)
	}
	if _, err := NewClient(sock).Status(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(long)
	if len(entries) != 1 {
		t.Errorf("socket directory holds %d entries, want only the socket (no private directory left)", len(entries))
	}
	if err := s.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left after Close: %v", err)
	}
}
