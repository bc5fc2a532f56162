package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/admin"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/fsm"
)

// childEnv makes the test binary run the CLI (TestMain): the only way to
// run it as another user is another process.
const childEnv = "RAFTVIP_TEST_CLI_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// countingBackend records the changing calls that reach it.
type countingBackend struct {
	fakeBackend
	mu      sync.Mutex
	changes []string
}

func (b *countingBackend) note(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes = append(b.changes, s)
}

func (b *countingBackend) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.changes...)
}

func (b *countingBackend) Switchover(ctx context.Context, r agent.SwitchoverRequest) (agent.SwitchoverResult, error) {
	b.note("switchover")
	return b.fakeBackend.Switchover(ctx, r)
}
func (b *countingBackend) SetMaintenance(ctx context.Context, r agent.MaintenanceRequest) (fsm.Maintenance, error) {
	b.note("maintenance")
	return b.fakeBackend.SetMaintenance(ctx, r)
}
func (b *countingBackend) AddPeer(ctx context.Context, r agent.PeerRequest) (agent.PeerResult, error) {
	b.note("peers add")
	return b.fakeBackend.AddPeer(ctx, r)
}
func (b *countingBackend) RemovePeer(ctx context.Context, r agent.PeerRequest) (agent.PeerResult, error) {
	b.note("peers remove")
	return b.fakeBackend.RemovePeer(ctx, r)
}

// unusedID returns a uid and gid that no account or group of this host has.
func unusedID(t *testing.T) uint32 {
	for id := 64101; id < 65000; id++ {
		s := strconv.Itoa(id)
		_, uerr := user.LookupId(s)
		_, gerr := user.LookupGroupId(s)
		if uerr != nil && gerr != nil {
			return uint32(id)
		}
	}
	t.Fatal("no unused uid/gid in 64101..64999")
	return 0
}

// Issue 9: a non-root member of admin_group reads status, peers and history
// and is refused every changing command, by the agent, on its peer
// credentials; someone outside the group cannot open the socket at all.
func TestAdminGroupMemberReadsButMayNotChange(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it creates a group and runs the CLI as another user")
	}
	if _, err := exec.LookPath("groupadd"); err != nil {
		t.Skip("no groupadd on this host")
	}
	group := fmt.Sprintf("rvtest%d", os.Getpid())
	if out, err := exec.Command("groupadd", group).CombinedOutput(); err != nil {
		t.Fatalf("groupadd %s: %v %s", group, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("groupdel", group).CombinedOutput(); err != nil {
			t.Errorf("groupdel %s: %v %s", group, err, out)
		}
	})
	g, err := user.LookupGroup(group)
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(g.Gid)

	// t.TempDir's parents are 0700; the other user needs to reach the
	// socket and run the binary.
	dir, err := os.MkdirTemp("", "raftvip-admingroup-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "raftvip")
	copyExecutable(t, bin)
	sock := filepath.Join(dir, "admin.sock")

	var logs bytes.Buffer
	var logMu sync.Mutex
	log := hclog.New(&hclog.LoggerOptions{Output: &lockedWriter{w: &logs, mu: &logMu}, Level: hclog.Info})
	b := &countingBackend{fakeBackend: fakeBackend{st: agent.Status{Node: "hosta", Holder: "hosta", Epoch: 4}}}
	srv, err := admin.ServeOptions(admin.Options{Path: sock, Group: group}, b, log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o660 || int(st.Gid) != gid {
		t.Fatalf("socket mode %v gid %d; want 0660 and admin_group's gid %d", fi.Mode().Perm(), st.Gid, gid)
	}

	id := unusedID(t)
	member := &syscall.Credential{Uid: id, Gid: id, Groups: []uint32{uint32(gid)}}
	outsider := &syscall.Credential{Uid: id, Gid: id, Groups: []uint32{}}
	cli := func(cred *syscall.Credential, args ...string) (int, string, string) {
		cmd := exec.Command(bin, append(args, "-admin", sock)...)
		cmd.Env = []string{childEnv + "=1", "PATH=/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = dir
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run %v: %v", args, err)
		}
		return code, o.String(), e.String()
	}

	for args, want := range map[string]string{"status": "hosta", "peers": "ADDRESS", "history": "no epochs yet"} {
		if code, out, errOut := cli(member, args); code != exitOK || errOut != "" || !strings.Contains(out, want) {
			t.Errorf("admin_group member: raftvip %s: code %d\n%s%s\nwant 0 and %q", args, code, out, errOut, want)
		}
	}
	for _, args := range [][]string{
		{"switchover", "-to", "hostb"},
		{"maintenance", "on", "-reason", "x"},
		{"peers", "add", "hostd", "10.99.0.14:7400", "-role", "db"},
		{"peers", "remove", "hostb"},
	} {
		code, out, errOut := cli(member, args...)
		if code != exitFailure || !strings.Contains(errOut, "only root may run it") || !strings.Contains(errOut, fmt.Sprintf("uid %d", id)) ||
			!strings.Contains(errOut, group) {
			t.Errorf("admin_group member: raftvip %s: code %d\n%s%s\nwant 1, refused: only root, naming the uid and admin_group", strings.Join(args, " "), code, out, errOut)
		}
	}
	if got := b.seen(); len(got) != 0 {
		t.Errorf("changing commands of a non-root user reached the agent: %v", got)
	}
	logMu.Lock()
	l := logs.String()
	logMu.Unlock()
	if !strings.Contains(l, "refused a changing command") || !strings.Contains(l, fmt.Sprintf("uid=%d", id)) {
		t.Errorf("refusals not logged with the uid:\n%s", l)
	}

	if code, _, errOut := cli(outsider, "status"); code != exitFailure || !strings.Contains(errOut, "permission denied") {
		t.Errorf("user outside admin_group: status code %d, %s; want 1, permission denied", code, errOut)
	}
	// raftvip check runs as a monitoring system's user in admin_group: it
	// gets the status (this one has no leader: CRITICAL); outside the
	// group it cannot ask (UNKNOWN).
	if code, out, errOut := cli(member, "check"); code != nagiosCritical || !strings.HasPrefix(out, "RAFTVIP CRITICAL - no raft leader") {
		t.Errorf("admin_group member: raftvip check: code %d %q %q; want 2, CRITICAL", code, out, errOut)
	}
	if code, out, _ := cli(outsider, "check"); code != nagiosUnknown || !strings.Contains(out, "permission denied") {
		t.Errorf("user outside admin_group: raftvip check: code %d %q; want 3, UNKNOWN: permission denied", code, out)
	}

	// Root still may.
	if code, _, errOut := runCLI("switchover", "-to", "hostb", "-admin", sock); code != exitOK {
		t.Errorf("root: switchover code %d: %s", code, errOut)
	}
	if got := b.seen(); len(got) != 1 || got[0] != "switchover" {
		t.Errorf("root's switchover: backend saw %v", got)
	}
}

func copyExecutable(t *testing.T, to string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
