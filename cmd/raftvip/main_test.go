package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/admin"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/fsm"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestParseAnyOrder(t *testing.T) {
	cases := []struct {
		args  []string
		words []string
		json  bool
		n     int
		code  int
	}{
		{[]string{"on", "-json", "-n", "3"}, []string{"on"}, true, 3, -1},
		{[]string{"-json", "on", "-n=3"}, []string{"on"}, true, 3, -1},
		{[]string{"-n", "3", "a", "b", "-json"}, []string{"a", "b"}, true, 3, -1},
		{[]string{"a", "--", "-json"}, []string{"a", "-json"}, false, 0, -1},
		{[]string{"-bogus"}, nil, false, 0, exitUsage},
		{[]string{"-h"}, nil, false, 0, exitOK},
	}
	for _, tc := range cases {
		var stderr bytes.Buffer
		fs := newFlags("t", &stderr)
		j := fs.Bool("json", false, "")
		n := fs.Int("n", 0, "")
		words, code := parse(fs, tc.args)
		if code != tc.code {
			t.Errorf("%v: code %d, want %d", tc.args, code, tc.code)
			continue
		}
		if code >= 0 {
			continue
		}
		if !reflect.DeepEqual(words, tc.words) || *j != tc.json || *n != tc.n {
			t.Errorf("%v: words %v json %v n %d; want %v %v %d", tc.args, words, *j, *n, tc.words, tc.json, tc.n)
		}
	}
}

func TestUsageAndVersion(t *testing.T) {
	if code, _, stderr := runCLI(); code != exitUsage || !strings.Contains(stderr, "usage") {
		t.Fatalf("no args: code %d stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI("frobnicate"); code != exitUsage || !strings.Contains(stderr, `unknown subcommand "frobnicate"`) {
		t.Fatalf("unknown: code %d stderr %q", code, stderr)
	}
	if code, stdout, _ := runCLI("version"); code != exitOK || !strings.HasPrefix(stdout, "raftvip ") {
		t.Fatalf("version: %d %q", code, stdout)
	}
	if code, _, _ := runCLI("version", "extra"); code != exitUsage {
		t.Fatalf("version with a word: %d", code)
	}
}

func TestValidate(t *testing.T) {
	// A copy: the file holds the MySQL password, so validate wants it
	// private (mode 0600), which git does not keep.
	src, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "example-db.hcl")
	if err := os.WriteFile(good, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runCLI("validate", "-config", good); code != exitOK || !strings.Contains(stdout, "ok: node hosta (db)") {
		t.Fatalf("good config: code %d stdout %q stderr %q", code, stdout, stderr)
	}
	// Word form and any order.
	if code, _, _ := runCLI("validate", good); code != exitOK {
		t.Fatalf("validate FILE: code %d", code)
	}
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte("node_id = \"x\"\nrole = \"boss\"\nbogus = 1\n"), 0o600)
	code, _, stderr := runCLI("validate", "-config", bad)
	if code != exitUsage {
		t.Fatalf("bad config: code %d, want 2", code)
	}
	for _, want := range []string{bad + ":2:", bad + ":3:", "problem(s)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code, _, _ := runCLI("validate", "-config", bad, "extra"); code != exitUsage {
		t.Fatalf("extra word: %d", code)
	}
}

// A bind that is not this node's peer address is a config error naming both
// at bind's line; a wildcard on the peer's port passes with a warning there.
func TestValidateBind(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	const bind = `bind     = "10.99.0.11:7400"`
	if !bytes.Contains(src, []byte(bind)) {
		t.Fatalf("example-db.hcl lacks %q", bind)
	}
	path := filepath.Join(t.TempDir(), "db.hcl")
	write := func(b string) {
		os.WriteFile(path, bytes.Replace(src, []byte(bind), []byte(`bind     = "`+b+`"`), 1), 0o600)
	}
	write("10.99.0.12:7400")
	code, _, stderr := runCLI("validate", path)
	if want := path + `:10:1: bind: "10.99.0.12:7400" is not this node's peer address "10.99.0.11:7400" (peer "hosta" at ` + path + ":"; code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("bind on hostb's address: code %d, stderr %q; want 2 and %q", code, stderr, want)
	}
	write("0.0.0.0:7400")
	code, stdout, stderr := runCLI("validate", path)
	if want := path + `:10:1: warning: bind: "0.0.0.0:7400" listens on every address`; code != exitOK || !strings.Contains(stderr, want) || !strings.Contains(stdout, "ok:") {
		t.Errorf("wildcard bind: code %d, stdout %q, stderr %q; want 0, ok and %q", code, stdout, stderr, want)
	}
}

type fakeBackend struct {
	st    agent.Status
	calls *[]string
}

func (f fakeBackend) record(s string) {
	if f.calls != nil {
		*f.calls = append(*f.calls, s)
	}
}

func (f fakeBackend) Switchover(ctx context.Context, r agent.SwitchoverRequest) (agent.SwitchoverResult, error) {
	if r.Force {
		f.record(fmt.Sprintf("switchover to=%s timeout=%s force", r.To, r.Timeout))
	} else {
		f.record(fmt.Sprintf("switchover to=%s timeout=%s", r.To, r.Timeout))
	}
	if r.To == "witness" {
		return agent.SwitchoverResult{}, fmt.Errorf("%w: %q is a witness; only db nodes hold the VIP", agent.ErrRefused, r.To)
	}
	return agent.SwitchoverResult{From: "hosta", To: "hostb", Epoch: 3, Handover: 12 * time.Millisecond, Took: 40 * time.Millisecond}, nil
}

func (f fakeBackend) SetMaintenance(ctx context.Context, r agent.MaintenanceRequest) (fsm.Maintenance, error) {
	f.record(fmt.Sprintf("maintenance on=%v reason=%s", r.On, r.Reason))
	m := fsm.Maintenance{On: r.On, Reason: r.Reason, By: "hosta", Since: time.Now()}
	if r.For > 0 {
		f.record("for=" + r.For.String())
		m.Until = m.Since.Add(r.For)
	}
	return m, nil
}

func (f fakeBackend) AddPeer(ctx context.Context, r agent.PeerRequest) (agent.PeerResult, error) {
	f.record(fmt.Sprintf("add %s %s %s nonvoter=%v", r.ID, r.Address, r.Role, r.NonVoter))
	return agent.PeerResult{Changed: true, Note: "added " + r.ID}, nil
}

func (f fakeBackend) RemovePeer(ctx context.Context, r agent.PeerRequest) (agent.PeerResult, error) {
	f.record(fmt.Sprintf("remove %s force=%v", r.ID, r.Force))
	if !r.Force {
		return agent.PeerResult{}, fmt.Errorf("%w: removing %s leaves 2 voters: one more failure stops the cluster; use -force to remove anyway", agent.ErrRefused, r.ID)
	}
	return agent.PeerResult{Changed: true, Note: "removed " + r.ID + " (db voter at 10.99.0.14:7400); 2 voters remain: one more failure stops the cluster",
		Undo: "raftvip peers add " + r.ID + " 10.99.0.14:7400 -role db"}, nil
}

func (f fakeBackend) ClusterStatus(ctx context.Context, n int) agent.Status {
	st := f.st
	if n < len(st.History) {
		st.History = st.History[len(st.History)-n:]
	}
	return st
}

func TestStatus(t *testing.T) {
	now := time.Now()
	st := agent.Status{Node: "witness", Time: now, Leader: "hosta", Term: 4, Holder: "hosta", Epoch: 2,
		Nodes: []agent.NodeView{
			{ID: "hosta", Role: "db", Reachable: true, RaftState: "Leader", Healthy: true, CheckClass: "ok", LastContact: now, Holding: true, Decision: "renew", Reason: "holder, healthy, leader"},
			{ID: "hostb", Role: "db", Reachable: false, RaftState: "unreachable", Error: "rpc status to 10.99.0.12:7400: connection refused", CheckClass: "refused"},
			{ID: "witness", Role: "witness", Reachable: true, RaftState: "Follower", LastContact: now.Add(-30 * time.Millisecond), Decision: "none", Reason: "follower"},
			// Overloaded: healthy, and status says degraded.
			{ID: "hostc", Role: "db", Reachable: true, RaftState: "Follower", Healthy: true, CheckClass: "overloaded", CheckError: "Error 1040 (08004): Too many connections", LastContact: now},
		},
		History: []fsm.Event{
			{Epoch: 1, Op: fsm.OpAcquire, Node: "hostb", By: "hostb", Time: now.Add(-time.Minute), Reason: "leader, db, mysql healthy, VIP free"},
			{Epoch: 1, Op: fsm.OpRelease, Node: "hostb", By: "hostb", Time: now.Add(-time.Second), Reason: "mysql unhealthy", Detection: 30 * time.Millisecond},
			{Epoch: 2, Op: fsm.OpAcquire, Node: "hosta", By: "hosta", Time: now, Reason: "leader, db, mysql healthy, VIP free", Handover: 7 * time.Millisecond},
		}}
	sock := serveFakeStatus(t, st)

	code, stdout, stderr := runCLI("status", "-admin", sock)
	if code != exitOK {
		t.Fatalf("status: %d %s", code, stderr)
	}
	for _, want := range []string{"leader:  hosta (term 4)", "VIP:     hosta, epoch 2", "HOLDS", "unreachable: rpc status", "detected in 30ms", "VIP free for 7ms", "mysql unhealthy",
		"healthy, degraded  overloaded: Error 1040"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status output lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, _ = runCLI("-json" /* not a subcommand */)
	if code != exitUsage {
		t.Fatalf("bare -json: %d", code)
	}
	code, stdout, stderr = runCLI("status", "-json", "-n", "1", "-admin", sock)
	if code != exitOK {
		t.Fatalf("status -json: %d %s", code, stderr)
	}
	var got agent.Status
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("status -json is not JSON: %v\n%s", err, stdout)
	}
	if got.Holder != "hosta" || got.Epoch != 2 || len(got.History) != 1 || got.History[0].Handover != 7*time.Millisecond {
		t.Fatalf("status -json decoded to %+v", got)
	}

	if code, _, stderr := runCLI("status", "-admin", filepath.Join(t.TempDir(), "none.sock")); code != exitFailure || !strings.Contains(stderr, "is the agent running?") {
		t.Fatalf("no agent: code %d stderr %q", code, stderr)
	}
	if code, _, _ := runCLI("status", "-n", "5000", "-admin", sock); code != exitUsage {
		t.Fatalf("-n 5000: code %d, want 2", code)
	}
	if code, _, _ := runCLI("status", "-config", filepath.Join(t.TempDir(), "missing.hcl")); code != exitUsage {
		t.Fatalf("missing config: code %d, want 2", code)
	}
}

func TestOperatorCommands(t *testing.T) {
	var calls []string
	now := time.Now()
	st := agent.Status{Node: "hosta", Time: now, Leader: "hosta", Holder: "hosta",
		Nodes:   []agent.NodeView{{ID: "hosta", Address: "10.99.0.11:7400", Role: "db", Suffrage: "voter", Reachable: true, RaftState: "Leader", Healthy: true, CheckClass: "ok", Holding: true, LastContact: now}},
		History: []fsm.Event{{Epoch: 1, Op: fsm.OpAcquire, Node: "hosta", By: "hosta", Time: now, Reason: "r"}}}
	sock := filepath.Join(t.TempDir(), "admin.sock")
	srv, err := admin.Serve(sock, fakeBackend{st: st, calls: &calls}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cases := []struct {
		args     []string
		code     int
		out      string // fragment of stdout (or stderr when code != 0)
		recorded string
	}{
		{[]string{"maintenance", "on", "-reason", "patching", "-admin", sock}, 0, "maintenance: ON", "maintenance on=true reason=patching"},
		{[]string{"maintenance", "-reason", "patching", "on", "-admin", sock}, 0, "maintenance: ON", "maintenance on=true reason=patching"},
		{[]string{"maintenance", "off", "-admin", sock}, 0, "maintenance: off", "maintenance on=false reason="},
		{[]string{"maintenance", "on", "-admin", sock}, 2, "-reason TEXT is required", ""},
		{[]string{"maintenance", "on", "-reason", "patching", "-for", "2h", "-admin", sock}, 0, "(no automatic VIP moves; ends ", "maintenance on=true reason=patching;for=2h0m0s"},
		{[]string{"maintenance", "on", "-reason", "patching", "-for", "2h", "-admin", sock}, 0, " left)", "maintenance on=true reason=patching;for=2h0m0s"},
		{[]string{"maintenance", "off", "-for", "2h", "-admin", sock}, 2, "-for 2h0m0s: want a positive duration, and only with on", ""},
		{[]string{"maintenance", "on", "-reason", "x", "-for", "-1h", "-admin", sock}, 2, "-for -1h0m0s", ""},
		{[]string{"maintenance", "on", "-reason", "x", "-for", "soon", "-admin", sock}, 2, "soon", ""},
		{[]string{"maintenance", "sideways", "-admin", sock}, 2, "want on or off", ""},
		{[]string{"switchover", "-to", "hostb", "-admin", sock}, 0, "VIP moved hosta → hostb (epoch 3): VIP free for 12ms", "switchover to=hostb timeout=30s"},
		{[]string{"switchover", "-admin", sock, "-to", "witness", "-timeout", "5s"}, 1, "refused", "switchover to=witness timeout=5s"},
		{[]string{"switchover", "-timeout", "0s", "-admin", sock}, 2, "-timeout", ""},
		{[]string{"switchover", "-to", "hostb", "-force", "-admin", sock}, 0, "VIP moved hosta → hostb", "switchover to=hostb timeout=30s force"},
		{[]string{"switchover", "-force", "-admin", sock}, 2, "-force needs -to NODE", ""},
		{[]string{"switchover", "-force", "-to", "", "-admin", sock}, 2, "-force needs -to NODE", ""},
		{[]string{"peers", "-admin", sock}, 0, "10.99.0.11:7400", ""},
		{[]string{"peers", "list", "-admin", sock}, 0, "voter", ""},
		{[]string{"peers", "add", "hostc", "10.99.0.14:7400", "-role", "db", "-admin", sock}, 0, "added hostc", "add hostc 10.99.0.14:7400 db nonvoter=false"},
		{[]string{"peers", "-role", "witness", "add", "w2", "-nonvoter", "10.99.0.15:7400", "-admin", sock}, 0, "added w2", "add w2 10.99.0.15:7400 witness nonvoter=true"},
		{[]string{"peers", "add", "hostc", "-admin", sock}, 2, "want ID ADDRESS", ""},
		{[]string{"peers", "add", "hostc", "x:1", "-admin", sock}, 2, "-role db|witness is required", ""},
		{[]string{"peers", "remove", "hostc", "-admin", sock}, 1, "refused: removing hostc leaves 2 voters: one more failure stops the cluster; use -force", "remove hostc force=false"},
		{[]string{"peers", "remove", "-force", "hostc", "-admin", sock}, 0, "removed hostc (db voter at 10.99.0.14:7400); 2 voters remain: one more failure stops the cluster\nto undo: raftvip peers add hostc 10.99.0.14:7400 -role db\n", "remove hostc force=true"},
		{[]string{"peers", "frob", "-admin", sock}, 2, "unknown verb", ""},
		{[]string{"history", "-admin", sock, "-n", "5"}, 0, "acquire", ""},
		{[]string{"history", "-n", "1001", "-admin", sock}, 2, "want 0 to 1000", ""},
	}
	for _, tc := range cases {
		calls = nil
		code, stdout, stderr := runCLI(tc.args...)
		text := stdout
		if tc.code != 0 {
			text = stderr
		}
		if code != tc.code || !strings.Contains(text, tc.out) {
			t.Errorf("%v: exit %d (want %d), output %q (want %q)", tc.args, code, tc.code, text, tc.out)
			continue
		}
		got := strings.Join(calls, ";")
		if got != tc.recorded {
			t.Errorf("%v: agent received %q, want %q", tc.args, got, tc.recorded)
		}
	}
	// JSON forms parse.
	code, stdout, _ := runCLI("switchover", "-json", "-to", "hostb", "-admin", sock)
	var res agent.SwitchoverResult
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil || res.Handover != 12*time.Millisecond {
		t.Fatalf("switchover -json: %d %q", code, stdout)
	}
}

func TestStatusShowsMaintenanceTimeLeft(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var b strings.Builder
	printStatus(&b, agent.Status{Node: "hosta", Time: now, Leader: "hosta",
		Maintenance: fsm.Maintenance{On: true, Reason: "patching", By: "hosta", Since: now.Add(-time.Hour), Until: now.Add(90 * time.Minute)}})
	if want := "no automatic VIP moves; ends 2026-12-01T10:30:00Z (1h30m0s left)"; !strings.Contains(b.String(), want) {
		t.Fatalf("status output lacks %q:\n%s", want, b.String())
	}
}

// serveFakeStatus serves st on a fresh admin socket for the test's length
// and returns the socket's path.
func serveFakeStatus(t *testing.T, st agent.Status) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	srv, err := admin.Serve(sock, fakeBackend{st: st}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return sock
}
