// Package notify runs keepalived-compatible notifications when this node's
// state changes: the notify_master/backup/fault/stop scripts and the generic
// notify script with keepalived 2.2.7's arguments, keepalived's FIFO line,
// and a JSON webhook. Existing keepalived notify scripts run unchanged.
//
// The agent's loop only hands events over (Notify never blocks and does no
// I/O); one worker runs the scripts and writes the FIFO, one at a time and
// in order, each script bounded by a timeout after which its whole process
// group is killed; another worker posts the webhook with retries. Both
// queues are bounded: a full script queue is coalesced to the latest state
// (a script is about the state now, not about every flap), a full webhook
// queue drops its oldest event. Either way it is logged.
//
// What keepalived passes (keepalived/vrrp/vrrp_notify.c, man
// keepalived.conf(5)): notify_master, notify_backup, notify_fault and
// notify_stop run with only the arguments written in their own setting
// ("/path/script arg1 arg2"); the generic notify script gets those plus four
// more: "INSTANCE", the instance name, the state (MASTER, BACKUP, FAULT or
// STOP) and the priority; it runs after the specific script. The FIFO gets
// the line `INSTANCE "NAME" STATE PRIORITY`. raftvip adds RAFTVIP_*
// environment variables (see Env) to every script.
package notify

import (
	"fmt"
	"strconv"
	"time"
)

// State is a keepalived VRRP state word, as scripts receive it.
type State string

// The states raftvip reports.
const (
	Master State = "MASTER" // this node holds the VIP
	Backup State = "BACKUP" // a healthy db node that does not hold the VIP
	Fault  State = "FAULT"  // this node's MySQL is unhealthy (and it does not hold the VIP)
	Stop   State = "STOP"   // the agent is shutting down (after it released the VIP)
)

// Derive is a db node's state. known is false before the health check's
// first verdict: then there is no state yet (nothing is notified), so a
// starting node does not report FAULT only because it has not checked.
// Holding wins over health: while the VIP is configured here the node is
// MASTER, whatever the check says, until the agent has removed it.
func Derive(holding, stopped, known, healthy bool) State {
	switch {
	case stopped:
		return Stop
	case holding:
		return Master
	case !known:
		return ""
	case healthy:
		return Backup
	}
	return Fault
}

// Event is one state change of this node.
type Event struct {
	State    State
	Previous State // "" for the first state this process reports
	Node     string
	// Epoch is the newest epoch in the replicated state; Holder its holder
	// ("" when released) and PreviousHolder the one before (the holder the
	// VIP was taken from, or the last holder when nobody holds it).
	Epoch          uint64
	Holder         string
	PreviousHolder string
	Reason         string
	Time           time.Time
}

// Env is the RAFTVIP_* environment a script runs with (besides the agent's
// own environment).
func (e Event) Env(instance string, priority int) []string {
	return []string{
		"RAFTVIP_INSTANCE=" + instance,
		"RAFTVIP_STATE=" + string(e.State),
		"RAFTVIP_PREVIOUS_STATE=" + string(e.Previous),
		"RAFTVIP_NODE=" + e.Node,
		"RAFTVIP_EPOCH=" + strconv.FormatUint(e.Epoch, 10),
		"RAFTVIP_HOLDER=" + e.Holder,
		"RAFTVIP_PREVIOUS_HOLDER=" + e.PreviousHolder,
		"RAFTVIP_REASON=" + e.Reason,
		"RAFTVIP_PRIORITY=" + strconv.Itoa(priority),
		"RAFTVIP_TIME=" + e.Time.UTC().Format(time.RFC3339Nano),
	}
}

// FIFOLine is keepalived's notify FIFO line for an instance:
// `INSTANCE "VI_1" MASTER 250` and a newline (vrrp_notify.c, notify_fifo).
func FIFOLine(instance string, s State, priority int) string {
	// keepalived quotes the name without escaping anything in it.
	return fmt.Sprintf("INSTANCE \"%s\" %s %d\n", instance, s, priority)
}

// NotifyArgs are the generic notify script's arguments after its own:
// INSTANCE NAME STATE PRIORITY.
func NotifyArgs(instance string, s State, priority int) []string {
	return []string{"INSTANCE", instance, string(s), strconv.Itoa(priority)}
}
