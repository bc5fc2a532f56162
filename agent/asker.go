package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// MaxSwitchoverTimeout caps a switchover's -timeout, from the admin socket
// and from the cluster RPC alike: its window holds preemption off and the
// leader's goroutine busy for that long, so one request must not be able to
// freeze either for hours.
const MaxSwitchoverTimeout = 5 * time.Minute

// CheckSwitchoverTimeout returns why d is no switchover timeout, or "".
func CheckSwitchoverTimeout(d time.Duration) string {
	switch {
	case d <= 0:
		return fmt.Sprintf("switchover -timeout %s: want more than 0", d)
	case d > MaxSwitchoverTimeout:
		return fmt.Sprintf("switchover -timeout %s is more than the maximum %s (a switchover's window holds preemption off); ask for at most %s", d, MaxSwitchoverTimeout, MaxSwitchoverTimeout)
	}
	return ""
}

type uidKey struct{}

// WithLocalUID tags ctx with the uid of the local operator who asked (the
// admin socket's peer credentials): the leader logs it and records it in the
// history with the node that took the command.
func WithLocalUID(ctx context.Context, uid uint32) context.Context {
	return context.WithValue(ctx, uidKey{}, uid)
}

func localUID(ctx context.Context) *uint32 {
	if u, ok := ctx.Value(uidKey{}).(uint32); ok {
		return &u
	}
	return nil
}

// asker is who asked for an operator command: the node whose admin socket
// took it (for a forwarded command, the RPC's caller) and, for a local
// operator there, the uid the kernel named.
type asker struct {
	via string
	uid *uint32
}

func (a *Agent) localAsker(ctx context.Context) asker {
	return asker{via: a.opt.NodeID, uid: localUID(ctx)}
}

func (w asker) String() string {
	if w.uid != nil {
		return fmt.Sprintf("uid %d on %s", *w.uid, w.via)
	}
	return w.via
}

// logKV is who asked, as log key/values.
func (w asker) logKV() []any {
	kv := []any{"asked_via", w.via}
	if w.uid != nil {
		kv = append(kv, "uid", *w.uid)
	}
	return kv
}

// noteAsked logs an operator's changing command on the leader, before it
// runs (refused or not), with who asked.
func (a *Agent) noteAsked(w asker, command, detail string) {
	a.log.Info("operator command", append([]any{"command", command, "detail", detail}, w.logKV()...)...)
}

// operator is the record of w's command that the change carries into the
// history.
func (a *Agent) operator(w asker, command, node, detail string) *fsm.Operator {
	return &fsm.Operator{Command: command, Node: node, Detail: detail, Via: w.via, UID: w.uid, By: a.opt.NodeID, Time: a.now()}
}
