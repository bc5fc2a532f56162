package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/admin"
	"github.com/raftvip/raftvip/agent"
)

// typoBackend is a cluster where hostb has hosta at a wrong address and a
// switchover to hostb was seen on hostb only (its old leader never got the
// new leader's log).
type typoBackend struct{ fakeBackend }

const typoWarning = `peer hosta has different addresses in the nodes' raft configurations: hosta, witness have "10.99.0.11:7400"; hostb has "10.99.0.111:7400"`

func (typoBackend) Switchover(ctx context.Context, r agent.SwitchoverRequest) (agent.SwitchoverResult, error) {
	return agent.SwitchoverResult{From: "hosta", To: "hostb", Epoch: 3, Took: 20 * time.Millisecond,
		Warnings: []string{"hosta has not received the move from the new leader hostb", typoWarning}}, nil
}

// `peers` and `switchover` print the peer address warnings (case 13), and a
// switchover seen only on its target says so instead of a handover time.
func TestPeersAndSwitchoverShowAddressWarnings(t *testing.T) {
	st := agent.Status{Node: "hosta", Time: time.Now(), Leader: "hosta", Holder: "hosta",
		Nodes:        []agent.NodeView{{ID: "hosta", Address: "10.99.0.11:7400", Role: "db", Suffrage: "voter", Reachable: true, RaftState: "Leader"}},
		Warnings:     []string{typoWarning},
		PeerWarnings: []string{typoWarning}}
	sock := filepath.Join(t.TempDir(), "admin.sock")
	srv, err := admin.Serve(sock, typoBackend{fakeBackend{st: st}}, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"peers", "-admin", sock}, []string{"10.99.0.11:7400", "WARNING: " + typoWarning}},
		{[]string{"status", "-admin", sock}, []string{"WARNING: " + typoWarning}},
		{[]string{"switchover", "-to", "hostb", "-admin", sock}, []string{"VIP moved hosta → hostb (epoch 3, as hostb reports)",
			"WARNING: hosta has not received the move", "WARNING: " + typoWarning}},
	} {
		code, stdout, stderr := runCLI(c.args...)
		if code != exitOK {
			t.Errorf("%v: exit %d: %s", c.args, code, stderr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, stdout)
			}
		}
		if strings.Contains(stdout, "VIP free for 0s") {
			t.Errorf("%v: claims a handover time it does not know:\n%s", c.args, stdout)
		}
	}
}
