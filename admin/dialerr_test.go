package admin

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A user who may not open the socket (mode 0600) is told so, not asked
// whether the agent runs, and sees no internal URL. Root may open any
// socket, so the dial's error is the one the kernel gives such a user.
func TestClientPermissionDenied(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "a.sock")
	c := NewClient(sock)
	c.http.Transport.(*http.Transport).DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: sock, Net: "unix"},
			Err: os.NewSyscallError("connect", syscall.EACCES)}
	}
	_, err := c.Status(context.Background(), 1)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{sock, "permission denied", "0600"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	for _, bad := range []string{"http://", "is the agent running", "/v1/"} {
		if strings.Contains(msg, bad) {
			t.Errorf("%q contains %q", msg, bad)
		}
	}
}

// No socket at all: the agent is not running (or it is another path), and
// still no internal URL.
func TestClientNoSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, err := NewClient(sock).Status(context.Background(), 1)
	if err == nil || !strings.Contains(err.Error(), "is the agent running?") || strings.Contains(err.Error(), "http://") {
		t.Errorf("no socket: %v", err)
	}
}
