package main

import (
	"bytes"
	"context"
	"encoding/json"
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
	good := filepath.Join("..", "..", "config", "testdata", "example-db.hcl")
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

type fakeBackend struct{ st agent.Status }

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
		},
		History: []fsm.Event{
			{Epoch: 1, Op: fsm.OpAcquire, Node: "hostb", By: "hostb", Time: now.Add(-time.Minute), Reason: "leader, db, mysql healthy, VIP free"},
			{Epoch: 1, Op: fsm.OpRelease, Node: "hostb", By: "hostb", Time: now.Add(-time.Second), Reason: "mysql unhealthy", Detection: 30 * time.Millisecond},
			{Epoch: 2, Op: fsm.OpAcquire, Node: "hosta", By: "hosta", Time: now, Reason: "leader, db, mysql healthy, VIP free", Handover: 7 * time.Millisecond},
		}}
	sock := filepath.Join(t.TempDir(), "admin.sock")
	srv, err := admin.Serve(sock, fakeBackend{st}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	code, stdout, stderr := runCLI("status", "-admin", sock)
	if code != exitOK {
		t.Fatalf("status: %d %s", code, stderr)
	}
	for _, want := range []string{"leader:  hosta (term 4)", "VIP:     hosta, epoch 2", "HOLDS", "unreachable: rpc status", "detected in 30ms", "VIP free for 7ms", "mysql unhealthy"} {
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
