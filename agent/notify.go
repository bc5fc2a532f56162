package agent

import (
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
	"github.com/raftvip/raftvip/notify"
)

// notifyState is the loop's part of the keepalived-style notifications:
// the state last handed to the notifier, and whether Shutdown has finished
// with the VIP (then the state is STOP).
type notifyState struct {
	fn   func(notify.Event)
	last notify.State
	stop bool
}

// SetNotifier makes the agent call f whenever this db node's
// keepalived-style state (notify.Derive: MASTER, BACKUP, FAULT, STOP)
// changes, and once for the first state this process has. f is called on
// the loop goroutine, so it must not block or do I/O (notify.Notifier's
// Notify only queues). A witness has no such state: nothing is called
// there. Call before Run.
func (a *Agent) SetNotifier(f func(notify.Event)) {
	if a.opt.Role != fsm.RoleDB {
		return
	}
	a.notify.fn = f
}

// noteState hands a change of state to the notifier (from publish, so
// after every step and at the end of Shutdown).
func (a *Agent) noteState() {
	if a.notify.fn == nil {
		return
	}
	h := a.localHealth()
	known := h.Class != mysqlcheck.ClassStarting
	// A VIP the agent only assumes may be configured (removePending: a
	// failed removal, a predecessor's leftovers) is not this node's to
	// serve: it is not MASTER for it.
	s := notify.Derive(a.holding && !a.removePending, a.notify.stop, known, h.Healthy)
	if s == "" || s == a.notify.last {
		return
	}
	// Only on a change: State copies the history.
	st := a.fsm.State()
	ev := notify.Event{State: s, Previous: a.notify.last, Node: a.opt.NodeID, Epoch: st.Epoch, Holder: st.Holder,
		PreviousHolder: st.TakenFrom, Time: a.now()}
	if st.Holder == "" {
		ev.PreviousHolder = st.LastHolder
	}
	switch s {
	case notify.Fault:
		ev.Reason = "mysql unhealthy (" + h.Class + ")"
	case notify.Stop:
		ev.Reason = "agent shutting down"
	default:
		ev.Reason = a.lastDecision.Reason
		for i := len(st.History) - 1; i >= 0; i-- {
			if e := st.History[i]; e.Op == fsm.OpAcquire || e.Op == fsm.OpRelease || e.Op == fsm.OpFence {
				ev.Reason = e.Reason
				break
			}
		}
	}
	a.notify.last = s
	a.notify.fn(ev)
}

// publishFinal is Shutdown's last publish: the VIP is gone (or left to its
// lifetime), so the state is STOP.
func (a *Agent) publishFinal() {
	a.notify.stop = true
	a.publish()
}
