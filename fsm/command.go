package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// formatV1 is the first byte of every encoded command. A node that meets a
// byte it does not know refuses the entry loudly instead of guessing, so a
// mixed-version cluster fails visibly rather than diverging.
const formatV1 byte = 1

// Command types.
const (
	CmdHealth  = "health"
	CmdAcquire = "acquire"
	CmdRelease = "release"
	CmdFence   = "fence"
	CmdMembers = "members"
	// CmdMaintenance turns maintenance mode on or off.
	CmdMaintenance = "maintenance"
	// CmdTimings records one node's timings (the fence wait needs every
	// voter's heartbeat timeout and the holder's lease).
	CmdTimings = "timings"
	// CmdSwitchover records an operator's planned move (or clears it).
	CmdSwitchover = "switchover"
	// CmdWritable records the end of a new holder's catch-up.
	CmdWritable = "writable"
	// CmdAdded records when a holder added the VIP and sent its first
	// gratuitous ARP (the failover's timeline; the history only).
	CmdAdded = "added"
)

// Command is one replicated change. Exactly one of the payload fields is set,
// matching Type. Times are set by the proposer, never by Apply.
type Command struct {
	Type    string      `json:"type"`
	Health  *Health     `json:"health,omitempty"`
	Acquire *AcquireCmd `json:"acquire,omitempty"`
	Release *ReleaseCmd `json:"release,omitempty"`
	Fence   *FenceCmd   `json:"fence,omitempty"`
	Members *MembersCmd `json:"members,omitempty"`
	// Maintenance carries the new maintenance state.
	Maintenance *Maintenance `json:"maintenance,omitempty"`
	// Timings carries a node's timings (CmdTimings).
	Timings *Timings `json:"timings,omitempty"`
	// Switchover carries a planned move (CmdSwitchover); To == "" clears it.
	Switchover *Switchover `json:"switchover,omitempty"`
	// Writable carries a holder's catch-up result (CmdWritable).
	Writable *WritableCmd `json:"writable,omitempty"`
	// Added carries when a holder added the VIP (CmdAdded).
	Added *AddedCmd `json:"added,omitempty"`
	// Operator, when set, says who asked for this change (an operator
	// command): applied, the change is also an event in the history.
	// Versions before it ignore the field and record nothing.
	Operator *Operator       `json:"operator,omitempty"`
	Extra    json.RawMessage `json:"extra,omitempty"` // reserved for later versions
}

// Operator is an operator command as the history records it.
type Operator struct {
	Command string    `json:"command"`        // switchover, maintenance, peer-add or peer-remove
	Node    string    `json:"node,omitempty"` // what it is about: the target or the peer
	Detail  string    `json:"detail"`         // what was asked, in words (never a secret)
	Via     string    `json:"via"`            // the node whose admin socket took the command
	UID     *uint32   `json:"uid,omitempty"`  // the local operator's uid there (SO_PEERCRED)
	By      string    `json:"by"`             // the leader that committed it
	Time    time.Time `json:"time"`
}

// AcquireCmd asks to start a new epoch held by Node. It is refused while
// another node holds the VIP or a fence is pending.
type AcquireCmd struct {
	Node   string    `json:"node"`
	By     string    `json:"by"`
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
	// Terms are the holder's own lifetime terms: a later fencer waits by
	// these, not by its own settings, since nodes may run different ones.
	Terms HoldTerms `json:"terms"`
	// Leader is how long Node had been leader when it proposed this
	// (Time minus the start of its leadership): Time - Leader is when
	// leadership reached it, a phase of the failover's timeline. 0 when
	// unknown (versions before it).
	Leader time.Duration `json:"leader_ns,omitempty"`
}

// ReleaseCmd ends epoch Epoch held by Node. By is the leader that commits it:
// Node itself after removing the VIP, or another leader once a fence expired.
type ReleaseCmd struct {
	Epoch     uint64        `json:"epoch"`
	Node      string        `json:"node"`
	By        string        `json:"by"`
	Time      time.Time     `json:"time"`
	Reason    string        `json:"reason"`
	Detection time.Duration `json:"detection_ns,omitempty"`
	// GTID is the holder's final write position when it released with its
	// server read-only and its sessions killed ("" otherwise): the
	// successor applies it before turning writable (State.Handoff).
	GTID string `json:"gtid,omitempty"`
	// Fenced: the holder set its server read-only and read GTID before it
	// released, so GTID is the handoff even when empty (a server that has
	// written nothing yet).
	Fenced bool `json:"fenced,omitempty"`
}

// WritableCmd records how a holder's catch-up ended: writable, or staying
// read-only (Result says which and why). Appended to the history only.
type WritableCmd struct {
	Epoch uint64    `json:"epoch"`
	Node  string    `json:"node"`
	Time  time.Time `json:"time"` // when read_only went off (or the wait ended)
	// Waited is the catch-up wait; Since the VIP was added.
	Waited time.Duration `json:"waited_ns"`
	Result string        `json:"result"`
}

// AddedCmd records that holder Node added the VIP of epoch Epoch at Time
// and sent its first gratuitous ARP at GARP (zero: none sent, no
// announcer). Proposed after the first GARP, off the agent's loop; it
// changes nothing but the history.
type AddedCmd struct {
	Epoch uint64    `json:"epoch"`
	Node  string    `json:"node"`
	Time  time.Time `json:"time"`
	GARP  time.Time `json:"garp,omitempty"`
}

// FenceCmd records that leader By found epoch Epoch unreleased by Holder.
type FenceCmd struct {
	Epoch  uint64        `json:"epoch"`
	Holder string        `json:"holder"`
	By     string        `json:"by"`
	Time   time.Time     `json:"time"`
	Wait   time.Duration `json:"wait_ns"`
	Reason string        `json:"reason"`
	// Election is how long before Time By's election began (its
	// heartbeat timer fired); 0 when it came to lead otherwise.
	Election time.Duration `json:"election_ns,omitempty"`
}

// MembersCmd upserts members (Remove lists ids to drop).
type MembersCmd struct {
	Set    []Member `json:"set,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Encode serialises a command for raft.Apply.
func Encode(c Command) ([]byte, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("fsm: encode %s command: %w", c.Type, err)
	}
	return append([]byte{formatV1}, body...), nil
}

// ErrUnknownFormat is returned for an entry this version cannot read.
var ErrUnknownFormat = errors.New("fsm: unknown command format")

// Decode parses an encoded command.
func Decode(b []byte) (Command, error) {
	var c Command
	if len(b) == 0 {
		return c, fmt.Errorf("%w: empty entry", ErrUnknownFormat)
	}
	if b[0] != formatV1 {
		return c, fmt.Errorf("%w: version byte %d (this build reads %d)", ErrUnknownFormat, b[0], formatV1)
	}
	if err := json.Unmarshal(b[1:], &c); err != nil {
		return c, fmt.Errorf("fsm: decode command: %w", err)
	}
	return c, nil
}
