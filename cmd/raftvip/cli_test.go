package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/admin"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/vip"
	"golang.org/x/sys/unix"
)

// Issue 8, case 18: the frictions a new user met with the CLI.

func TestUnknownSubcommandSuggests(t *testing.T) {
	for typo, want := range map[string]string{"stauts": "status", "sttaus": "status", "valdiate": "validate",
		"peer": "peers", "switchvoer": "switchover", "histroy": "history", "maintenace": "maintenance"} {
		code, _, stderr := runCLI(typo)
		if code != exitUsage || !strings.Contains(stderr, fmt.Sprintf("did you mean %q?", want)) {
			t.Errorf("raftvip %s: code %d, stderr %q; want 2 and did you mean %q?", typo, code, firstLine(stderr), want)
		}
	}
	if _, _, stderr := runCLI("frobnicate"); strings.Contains(stderr, "did you mean") {
		t.Errorf("raftvip frobnicate suggests something: %q", firstLine(stderr))
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func TestMaintenanceHelpShowsReasonRequired(t *testing.T) {
	code, stdout, stderr := runCLI("maintenance", "-h")
	out := stdout + stderr
	if code != exitOK || !strings.Contains(out, "maintenance on -reason TEXT") || strings.Contains(out, "[-reason TEXT]") ||
		!strings.Contains(out, "required with on") {
		t.Errorf("maintenance -h: code %d, output:\n%s\nwant -reason shown as required with on", code, out)
	}
}

// switchover -h says what -force does and that it needs -to.
func TestSwitchoverHelpShowsForce(t *testing.T) {
	code, stdout, stderr := runCLI("switchover", "-h")
	out := stdout + stderr
	for _, want := range []string{"switchover -to NODE -force", "stale", `"data at risk"`} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("switchover -h: code %d, output lacks %q:\n%s", code, want, out)
		}
	}
}

// status -n and history -n take the same range: 0 (no epochs) to 1000.
func TestStatusAndHistoryTakeTheSameN(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	srv, err := admin.Serve(sock, fakeBackend{st: agent.Status{Node: "hosta"}}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, cmd := range []string{"status", "history"} {
		for n, want := range map[string]int{"0": exitOK, "1": exitOK, "1000": exitOK, "-1": exitUsage, "1001": exitUsage} {
			code, _, stderr := runCLI(cmd, "-n", n, "-admin", sock)
			if code != want {
				t.Errorf("%s -n %s: code %d, want %d (%s)", cmd, n, code, want, firstLine(stderr))
			}
			if want == exitUsage && !strings.Contains(stderr, "want 0 to 1000") {
				t.Errorf("%s -n %s: stderr %q lacks the range", cmd, n, stderr)
			}
		}
	}
}

// status -config needs only the admin socket from the file: the DSN file
// (mode 0600, the agent's user's) is neither read nor required.
func TestStatusConfigDoesNotReadDSN(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	srv, err := admin.Serve(sock, fakeBackend{st: agent.Status{Node: "hosta", Holder: "hosta", Epoch: 2}}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	src, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	// The dsn_file does not exist here: to an operator's user a file of
	// mode 0600 owned by the agent's is as unreadable.
	cfgPath := filepath.Join(dir, "raftvip.hcl")
	s := string(src)
	for _, r := range [][2]string{
		{`admin    = "/run/raftvip/hosta.sock"`, fmt.Sprintf("admin    = %q", sock)},
		{`dsn      = "raftvip:s3cret@tcp(127.0.0.1:3306)/"`, fmt.Sprintf("dsn_file = %q", filepath.Join(dir, "missing.dsn"))},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("example-db.hcl lacks %q", r[0])
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	os.WriteFile(cfgPath, []byte(s), 0o644)
	code, stdout, stderr := runCLI("status", "-config", cfgPath)
	if code != exitOK || !strings.Contains(stdout, "VIP:     hosta, epoch 2") {
		t.Errorf("status -config with an unreadable dsn_file: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// A file that names neither admin nor node_id cannot tell the socket.
	os.WriteFile(cfgPath, []byte("role = \"db\"\n"), 0o644)
	if code, _, stderr := runCLI("status", "-config", cfgPath); code != exitUsage || !strings.Contains(stderr, "-admin") {
		t.Errorf("config without admin or node_id: code %d, stderr %q", code, stderr)
	}
}

// An agent without CAP_NET_ADMIN fails at start saying which capability it
// needs, not only "operation not permitted". Root drops the capability in
// this test's own thread (capabilities are per thread, and the netlink
// calls run in the calling thread).
func TestAgentWithoutNetAdminNamesTheCapability(t *testing.T) {
	nl, err := vip.NewNetlink(vip.Config{Interface: "lo", Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.254/32")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := dropEffectiveCap(unix.CAP_NET_ADMIN); err != nil {
			done <- fmt.Errorf("drop CAP_NET_ADMIN: %w", err)
			return
		}
		_, err := releaseAtStart(config.VRRPOff, nl, "lo", hclog.NewNullLogger())
		done <- err
	}()
	err = <-done
	if err == nil || !errors.Is(err, unix.EPERM) {
		t.Fatalf("start without CAP_NET_ADMIN: %v, want EPERM", err)
	}
	if !strings.Contains(err.Error(), "needs CAP_NET_ADMIN") {
		t.Errorf("start without CAP_NET_ADMIN: %q does not name the capability", err)
	}
}

func dropEffectiveCap(c int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[c/32].Effective &^= 1 << (c % 32)
	return unix.Capset(&hdr, &data[0])
}
