package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Vouches: how a new leader learns how old a lost leader's last proof can be.
//
// A holder renews its VIP only on a proof (Prove): answers from a quorum of
// voters, each saying "I last heard from you SinceContact ago". The proof's
// instant is never later than the contact instant a voter reported in it
// (Prove counts back from when the round was sent). So if every voter but
// the holder says "the latest contact I reported to a proof of that node
// was at t", no proof of the holder's, and so no lifetime it set, can be
// from after the latest such t. A leader that must fence the holder waits
// from there instead of from its own election (docs/safety.md, rule 14):
// after a pulled cable the holder's last proof is usually much older than
// the heartbeat timeout the election rule may take credit for.

// vouchBook records, per leader, the latest contact instant this node
// reported in a proof answer for it.
type vouchBook struct {
	mu      sync.Mutex
	started time.Time            // before this process answered any proof
	latest  map[string]time.Time // by leader id
	// voters and votersSince: the voter set last seen in the Raft
	// configuration and the local time it was first seen (see LastVouch).
	voters      string
	votersSince time.Time
}

func (b *vouchBook) start(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.started, b.latest, b.votersSince = now, map[string]time.Time{}, now
}

// recordLocked notes that a proof answer for leader reported contact at
// contact. The caller holds b.mu.
func (b *vouchBook) recordLocked(leader string, contact time.Time) {
	if contact.After(b.latest[leader]) {
		b.latest[leader] = contact
	}
}

// lastLocked is the latest contact reported for leader, or the process
// start when none was: answers given before a restart are older than it.
func (b *vouchBook) lastLocked(leader string) time.Time {
	if t, ok := b.latest[leader]; ok {
		return t
	}
	return b.started
}

// noteVoters records the configuration's voter set (from every Servers
// call, so the agent's regular reads keep it current).
func (c *Cluster) noteVoters(servers []raft.Server) time.Time {
	var ids []string
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			ids = append(ids, string(s.ID))
		}
	}
	return c.vouches.noteVoters(ids, time.Now())
}

// noteVoters records the current voter set; a change restarts votersSince
// at now. It returns votersSince.
func (b *vouchBook) noteVoters(voters []string, now time.Time) time.Time {
	sort.Strings(voters)
	key := strings.Join(voters, ",")
	b.mu.Lock()
	defer b.mu.Unlock()
	if key != b.voters {
		b.voters, b.votersSince = key, now
	}
	return b.votersSince
}

// VouchAnswer is a voter's answer to OpVouch.
type VouchAnswer struct {
	// Term is the voter's current term when it answered: from then on it
	// answers proofs only for leaders of this term or later ones.
	Term uint64 `json:"term"`
	// Age is how long before answering the latest contact it reported in
	// a proof answer for the node asked about was (or its process start,
	// when it reported none since).
	Age time.Duration `json:"age_ns"`
}

// AnswerVouch answers an OpVouch call about node about.
func (c *Cluster) AnswerVouch(about string) Response {
	if about == "" {
		return Response{Err: "vouch: no node named"}
	}
	c.vouches.mu.Lock()
	defer c.vouches.mu.Unlock()
	term := c.raft.CurrentTerm()
	return Response{Vouch: &VouchAnswer{Term: term, Age: time.Since(c.vouches.lastLocked(about))}}
}

// Vouch is what LastVouch found, in this node's clock.
type Vouch struct {
	// At: no voter other than the node asked about reported, in any proof
	// answer for it, a contact later than this.
	At time.Time
	// VotersSince is when this node first saw the current voter set. A
	// voter removed before it was not asked; its answers to a proof still
	// in flight then can be up to one proof timeout later.
	VotersSince time.Time
}

// LastVouch asks every voter except about (this node included) when it last
// vouched for about (leader only). Every one must answer, from this node's
// term or a later one; otherwise the error says who did not and the caller
// must not use the measure.
func (c *Cluster) LastVouch(about string, timeout time.Duration) (Vouch, error) {
	if !c.IsLeader() {
		return Vouch{}, ErrNotLeader
	}
	term := c.raft.CurrentTerm()
	servers, err := c.Servers()
	if err != nil {
		return Vouch{}, err
	}
	since := c.noteVoters(servers)
	var ask []raft.Server
	for _, s := range servers {
		if s.Suffrage == raft.Voter && string(s.ID) != c.cfg.NodeID && string(s.ID) != about {
			ask = append(ask, s)
		}
	}
	c.vouches.mu.Lock()
	at := c.vouches.lastLocked(about)
	c.vouches.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type answer struct {
		at  time.Time
		err error
	}
	answers := make(chan answer, len(ask))
	for _, s := range ask {
		go func(s raft.Server) {
			resp, err := c.caller.Call(ctx, string(s.Address), Request{Op: OpVouch, From: c.cfg.NodeID, About: about})
			recv := time.Now()
			switch {
			case err != nil:
			case resp.Err != "":
				err = errors.New(resp.Err)
			case resp.Vouch == nil:
				err = errors.New("no vouch in answer")
			case resp.Vouch.Term < term:
				// It may still answer proofs of an older term.
				err = fmt.Errorf("answered from term %d, before this leader's %d", resp.Vouch.Term, term)
			case resp.Vouch.Age < 0:
				err = errors.New("negative vouch age")
			}
			if err != nil {
				answers <- answer{err: fmt.Errorf("%s: %w", s.ID, err)}
				return
			}
			// It answered at some instant before recv: counting back from
			// recv gives the latest its vouch can have been.
			answers <- answer{at: recv.Add(-resp.Vouch.Age)}
		}(s)
	}
	var errs []error
	for range ask {
		a := <-answers
		if a.err != nil {
			errs = append(errs, a.err)
		} else if a.at.After(at) {
			at = a.at
		}
	}
	if len(errs) > 0 {
		return Vouch{}, fmt.Errorf("vouch about %s: %w", about, errors.Join(errs...))
	}
	if c.raft.CurrentTerm() != term || !c.IsLeader() {
		return Vouch{}, errors.New("vouch: leadership changed while asking")
	}
	return Vouch{At: at, VotersSince: since}, nil
}
