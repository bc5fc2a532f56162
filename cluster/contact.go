package cluster

import (
	"errors"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// A renewal's proof (Prove) needs voters whose contact with this leader is
// fresh: each answers with how long ago it last accepted an AppendEntries,
// and the proof instant is counted back by that. raft.VerifyLeader makes
// every follower's contact fresh, at the price of one extra heartbeat to
// each follower per proof, which was a quarter of an idle leader's round
// trips. The leader's own heartbeats make some follower's contact fresh
// every 50–100 ms anyway (rule 15's pace); the leader only has to know
// when. contactTransport tells it: it wraps the raft transport and records,
// per follower, when the last AppendEntries that follower accepted in the
// current term was sent. Nothing here is a proof: a record only says whom
// to ask, and when asking is worth it. The proof is still the voters' own
// answers (docs/safety.md rule 1).

// contactTransport is raft's transport with the leader's view of accepted
// AppendEntries. It forwards every call, and the optional interfaces raft
// looks for (pre-vote, close) when the wrapped transport has them.
type contactTransport struct {
	inner raft.Transport
	book  *contactBook
}

var (
	_ raft.Transport   = (*contactTransport)(nil)
	_ raft.WithPreVote = (*contactTransport)(nil)
	_ raft.WithClose   = (*contactTransport)(nil)
)

func (t *contactTransport) Consumer() <-chan raft.RPC             { return t.inner.Consumer() }
func (t *contactTransport) LocalAddr() raft.ServerAddress         { return t.inner.LocalAddr() }
func (t *contactTransport) SetHeartbeatHandler(cb func(raft.RPC)) { t.inner.SetHeartbeatHandler(cb) }
func (t *contactTransport) EncodePeer(id raft.ServerID, addr raft.ServerAddress) []byte {
	return t.inner.EncodePeer(id, addr)
}
func (t *contactTransport) DecodePeer(b []byte) raft.ServerAddress { return t.inner.DecodePeer(b) }

func (t *contactTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	return t.inner.AppendEntriesPipeline(id, target)
}

// AppendEntries records an accepted request: the follower answered
// Success in the request's own term, so it handled the request, after it
// was sent, as a follower of this leader, and set its last contact then.
func (t *contactTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	sent := time.Now()
	err := t.inner.AppendEntries(id, target, args, resp)
	if err == nil && resp.Success && resp.Term == args.Term {
		t.book.accepted(string(id), args.Term, sent)
	}
	return err
}

func (t *contactTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	return t.inner.RequestVote(id, target, args, resp)
}

func (t *contactTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	return t.inner.InstallSnapshot(id, target, args, resp, data)
}

func (t *contactTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	return t.inner.TimeoutNow(id, target, args, resp)
}

// errNoPreVote is returned if the wrapped transport has no pre-vote; both
// of raftvip's transports (NetworkTransport, InmemTransport) have it.
var errNoPreVote = errors.New("transport does not support pre-vote")

func (t *contactTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	pv, ok := t.inner.(raft.WithPreVote)
	if !ok {
		return errNoPreVote
	}
	return pv.RequestPreVote(id, target, args, resp)
}

func (t *contactTransport) Close() error {
	if c, ok := t.inner.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

// contactBook holds, per follower, the send time of the last AppendEntries
// it accepted, and who waits for the next one.
type contactBook struct {
	mu      sync.Mutex
	last    map[string]contactRecord
	waiters []contactWaiter
}

// contactWaiter is closed by the first accepted AppendEntries sent at or
// after after.
type contactWaiter struct {
	after time.Time
	ch    chan struct{}
}

type contactRecord struct {
	term uint64
	sent time.Time
}

func newContactBook() *contactBook { return &contactBook{last: map[string]contactRecord{}} }

func (b *contactBook) accepted(id string, term uint64, sent time.Time) {
	b.mu.Lock()
	if r, ok := b.last[id]; !ok || term > r.term || (term == r.term && sent.After(r.sent)) {
		b.last[id] = contactRecord{term: term, sent: sent}
	}
	var done []chan struct{}
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if sent.Before(w.after) {
			kept = append(kept, w)
		} else {
			done = append(done, w.ch)
		}
	}
	for i := len(kept); i < len(b.waiters); i++ {
		b.waiters[i] = contactWaiter{}
	}
	b.waiters = kept
	b.mu.Unlock()
	for _, ch := range done {
		close(ch)
	}
}

// after returns a channel closed when a follower accepts an AppendEntries
// sent at or after t.
func (b *contactBook) after(t time.Time) <-chan struct{} {
	ch := make(chan struct{})
	b.mu.Lock()
	b.waiters = append(b.waiters, contactWaiter{after: t, ch: ch})
	b.mu.Unlock()
	return ch
}

// drop forgets a waiter that nobody waits on any more.
func (b *contactBook) drop(ch <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, w := range b.waiters {
		if w.ch == ch {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			return
		}
	}
}

// freshest returns the n voters (of ids) whose last accepted AppendEntries
// in term was sent at or after since, freshest first; nil when fewer than n
// are.
func (b *contactBook) freshest(ids []raft.Server, term uint64, since time.Time, n int) []raft.Server {
	type cand struct {
		s    raft.Server
		sent time.Time
	}
	var cs []cand
	b.mu.Lock()
	for _, s := range ids {
		if r, ok := b.last[string(s.ID)]; ok && r.term == term && !r.sent.Before(since) {
			cs = append(cs, cand{s, r.sent})
		}
	}
	b.mu.Unlock()
	if len(cs) < n || n <= 0 {
		return nil
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].sent.After(cs[j].sent) })
	out := make([]raft.Server, n)
	for i := range out {
		out[i] = cs[i].s
	}
	return out
}
