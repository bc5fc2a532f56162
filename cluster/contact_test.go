package cluster

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// proofCluster starts three in-memory nodes that answer each other's
// OpProve calls, and counts the calls each one answered.
func proofCluster(t *testing.T) ([]*Cluster, *InmemRPC, map[string]*atomic.Int64) {
	t.Helper()
	timing := Timing{HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond, HeartbeatPace: 30 * time.Millisecond, CommitTimeout: time.Second}
	ids := []string{"n1", "n2", "n3"}
	peers := make([]Peer, len(ids))
	trans := make([]*raft.InmemTransport, len(ids))
	for i, id := range ids {
		peers[i] = Peer{ID: id, Address: id}
		_, trans[i] = raft.NewInmemTransport(raft.ServerAddress(id))
	}
	for i := range trans {
		for j := range trans {
			if i != j {
				trans[i].Connect(raft.ServerAddress(ids[j]), trans[j])
			}
		}
	}
	rpc := NewInmemRPC()
	answered := map[string]*atomic.Int64{}
	var cs []*Cluster
	for i, id := range ids {
		store := raft.NewInmemStore()
		c, err := OpenWith(Config{NodeID: id, Peers: peers, Timing: timing, Logger: hclog.NewNullLogger()},
			&countFSM{}, trans[i], store, store, raft.NewInmemSnapshotStore(), rpc.From(id))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		n := &atomic.Int64{}
		answered[id] = n
		rpc.Register(id, func(ctx context.Context, req Request) Response {
			if req.Op != OpProve {
				return Response{Err: "unexpected op " + string(req.Op)}
			}
			n.Add(1)
			return c.AnswerProof()
		})
		cs = append(cs, c)
	}
	return cs, rpc, answered
}

func totalAnswered(m map[string]*atomic.Int64) int64 {
	var n int64
	for _, v := range m {
		n += v.Load()
	}
	return n
}

// A proof made right after a follower accepted one of the leader's own
// heartbeats asks that follower alone and needs no VerifyLeader round: it
// is as good as the full proof (every answer is checked the same way),
// and costs one call instead of a heartbeat and a call per follower.
func TestProofAfterAContactAsksOneVoter(t *testing.T) {
	cs, _, answered := proofCluster(t)
	leader := nudgeLeader(t, cs)
	const proofs = 20
	before := totalAnswered(answered)
	short := leader.ShortProofs()
	for i := 0; i < proofs; i++ {
		select {
		case <-leader.ContactAfter(time.Now()):
		case <-time.After(5 * time.Second):
			t.Fatal("no follower accepted an AppendEntries within 5 s")
		}
		asked := time.Now()
		p, err := leader.Prove(time.Second)
		if err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
		if p.After(time.Now()) {
			t.Fatalf("proof %d: instant %v is in the future", i, p)
		}
		// The voter's contact came from a heartbeat sent before it was
		// asked, and the instant is counted back to that contact.
		if !p.Before(asked) {
			t.Fatalf("proof %d: instant %v is not before the call (%v): it cannot be a contact the voter had", i, p, asked)
		}
	}
	if got := leader.ShortProofs() - short; got != proofs {
		t.Errorf("%d of %d proofs after a contact took the short way, want all", got, proofs)
	}
	if got := totalAnswered(answered) - before; got != proofs {
		t.Errorf("voters answered %d prove calls for %d proofs, want one each", got, proofs)
	}
}

// The short way is no proof by itself: when the fresh voter cannot answer,
// Prove falls back to the full proof through the other voter, and with
// neither reachable it fails.
func TestShortProofFallsBackToTheFullProof(t *testing.T) {
	cs, rpc, _ := proofCluster(t)
	leader := nudgeLeader(t, cs)
	var others []string
	for _, c := range cs {
		if c != leader {
			others = append(others, c.cfg.NodeID)
		}
	}
	// One voter's RPC answers nothing; raft still reaches it, so it may be
	// the one whose contact is fresh.
	rpc.HangLink(leader.cfg.NodeID, others[0], true)
	for i := 0; i < 10; i++ {
		<-leader.ContactAfter(time.Now())
		if _, err := leader.Prove(time.Second); err != nil {
			t.Fatalf("proof %d with %s not answering: %v", i, others[0], err)
		}
	}
	rpc.HangLink(leader.cfg.NodeID, others[1], true)
	<-leader.ContactAfter(time.Now())
	if p, err := leader.Prove(300 * time.Millisecond); err == nil {
		t.Fatalf("proof with no voter answering succeeded (instant %v)", p)
	}
}

// A renewal armed for its due time wakes for a contact sent at or after
// it, not for an earlier one still in flight; a dropped wait is forgotten.
func TestContactAfterWaitsForALaterSend(t *testing.T) {
	b := newContactBook()
	due := time.Now()
	ch := b.after(due)
	b.accepted("n2", 3, due.Add(-time.Millisecond))
	select {
	case <-ch:
		t.Fatal("woken by an AppendEntries sent before the due time")
	default:
	}
	b.accepted("n3", 3, due)
	select {
	case <-ch:
	default:
		t.Fatal("not woken by an AppendEntries sent at the due time")
	}
	gone := b.after(due.Add(time.Hour))
	b.drop(gone)
	if n := len(b.waiters); n != 0 {
		t.Fatalf("%d waiters left after the only one was dropped", n)
	}
	if got := b.freshest([]raft.Server{{ID: "n2"}, {ID: "n3"}}, 3, due, 1); len(got) != 1 || got[0].ID != "n3" {
		t.Fatalf("freshest since the due time = %v, want n3 alone", got)
	}
}
