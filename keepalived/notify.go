package keepalived

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/raftvip/raftvip/config"
)

// notifyKeys are the instance's notify settings raftvip runs, in the
// notify block's order, with their keys there (the same words).
var notifyKeys = []string{"notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"}

// notify writes the notify block from the instance's notify scripts and
// global_defs' FIFO; ok is false when the file has none of them.
func (c *converter) notify() (hblock, bool) {
	blk := hblock{header: "notify", intro: []string{
		"keepalived's notify scripts, run with the arguments keepalived gave them (notify: INSTANCE NAME STATE PRIORITY; notify_master and the others: only those written in the setting) and RAFTVIP_* variables (docs/notify.md). MASTER: this node holds the VIP; BACKUP: its MySQL is healthy and it does not; FAULT: its MySQL is unhealthy; STOP: the agent stops. raftvip runs them one at a time, each within notify.timeout; scripts that set read_only duplicate what raftvip does itself once vrrp.mode is \"off\" (a notify_master that turns read_only off at once skips its catch-up wait: docs/replication.md)",
	}}
	found := false
	if c.in != nil {
		for _, kw := range notifyKeys {
			n := c.in.Node.Find(kw)
			if n == nil {
				continue
			}
			if len(n.Args) == 0 {
				c.note(n, "not imported: no script named")
				continue
			}
			cmd := n.Args[0]
			argv, err := config.SplitCommand(cmd)
			if err != nil || len(argv) == 0 || !filepath.IsAbs(argv[0]) {
				blk.items = append(blk.items, item{notes: []string{c.note(n,
					"not imported: raftvip runs a script by its absolute path; write the full path in notify.%s", kw)}})
				continue
			}
			notes := []string{c.note(n, "notify.%s", kw)}
			if len(n.Args) > 1 {
				notes = append(notes, fmt.Sprintf("keepalived ran it as %s; raftvip runs scripts as its own user (root)", strings.Join(n.Args[1:], ":")))
			}
			blk.items = append(blk.items, item{notes: notes, key: kw, value: hclString(cmd)})
			found = true
		}
	}
	if g := c.cfg.Global; g != nil {
		// vrrp_notify_fifo is the VRRP FIFO; notify_fifo gets VRRP and
		// checker lines alike (raftvip writes only VRRP ones).
		for _, kw := range []string{"vrrp_notify_fifo", "notify_fifo"} {
			n := lastIn(g.Nodes, kw)
			if n == nil || len(n.Args) == 0 {
				continue
			}
			if found && hasItem(blk, "fifo") {
				break
			}
			notes := []string{c.note(n, "notify.fifo: keepalived's line for each state, INSTANCE \"NAME\" STATE PRIORITY")}
			if len(n.Args) > 1 {
				notes = append(notes, "raftvip creates the FIFO (mode 0600) as its own user; keepalived's owner "+strings.Join(n.Args[1:], ":")+" is not applied")
			}
			if !filepath.IsAbs(n.Args[0]) {
				blk.items = append(blk.items, item{notes: []string{c.note(n, "not imported: notify.fifo takes an absolute path")}})
				continue
			}
			blk.items = append(blk.items, item{notes: notes, key: "fifo", value: hclString(n.Args[0])})
			found = true
			break
		}
	}
	if !found {
		// Only settings that could not be carried over: their comments.
		return hblock{items: blk.items}, len(blk.items) > 0
	}
	name := c.in.Name
	blk.items = append([]item{{notes: []string{fmt.Sprintf("vrrp_instance %s: the name the scripts get ($2 of notify) and the FIFO line names. The priority they get ($4) is vrrp.priority (default 250), not keepalived's", name)},
		key: "instance", value: hclString(name)}}, blk.items...)
	blk.items = append(blk.items, item{notes: []string{fmt.Sprintf("keepalived did not wait for notify scripts; raftvip runs one at a time and kills a script's process group after this (default %s)", config.DefaultNotifyTimeout)},
		key: "timeout", value: hclString(config.DefaultNotifyTimeout.String())})
	return blk, true
}

func hasItem(b hblock, key string) bool {
	for _, it := range b.items {
		if it.key == key {
			return true
		}
	}
	return false
}
