package cluster

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// A wildcard bind (config allows 0.0.0.0:PORT on the peer's port) must not
// be what Raft tells the followers: they learn the leader's address from
// the transport's own and forward commands there, and 0.0.0.0 dials the
// follower itself. The leader's address is its peer address.
func TestWildcardBindAdvertisesPeerAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	self := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := Open(Config{NodeID: "a", Bind: fmt.Sprintf("0.0.0.0:%d", port), DataDir: t.TempDir(),
		Peers: []Peer{{ID: "a", Address: self}}}, nopFSM{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// hashicorp/raft turns leader before it records its own address as the
	// leader's: wait for both, or a loaded machine sees the gap.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if id, _ := c.Leader(); c.IsLeader() && id != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !c.IsLeader() {
		t.Fatal("single voter never became leader")
	}
	if id, addr := c.Leader(); id != "a" || addr != self {
		t.Errorf("Leader() = %s %s, want a %s (the peer address, not the wildcard bind)", id, addr, self)
	}
}
