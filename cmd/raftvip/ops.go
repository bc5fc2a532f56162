package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/raftvip/raftvip/admin"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/fsm"
)

// target holds the flags every operator command shares: which agent to ask
// and how to print.
type target struct {
	config, admin *string
	json          *bool
}

func targetFlags(fs *flag.FlagSet) target {
	return target{
		config: fs.String("config", defaultConfig, "config file (to find the admin socket)"),
		admin:  fs.String("admin", "", "admin socket of an agent (instead of -config)"),
		json:   fs.Bool("json", false, "print JSON"),
	}
}

func (t target) client(stderr io.Writer) (*admin.Client, int) {
	sock, code := adminSocket(*t.config, *t.admin, stderr)
	if code >= 0 {
		return nil, code
	}
	return admin.NewClient(sock), -1
}

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// failed prints an error of a call to the agent; refusals and failures both
// exit 1 (the request was well-formed; the cluster said no or could not).
func failed(stderr io.Writer, cmd string, err error) int {
	if admin.Refused(err) {
		fmt.Fprintf(stderr, "raftvip %s: refused: %v\n", cmd, strings.TrimPrefix(err.Error(), "refused: "))
	} else {
		fmt.Fprintf(stderr, "raftvip %s: %v\n", cmd, err)
	}
	return exitFailure
}

func runPeers(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("peers", stderr)
	t := targetFlags(fs)
	role := fs.String("role", "", "peers add: db or witness")
	nonvoter := fs.Bool("nonvoter", false, "peers add: add as a non-voter")
	force := fs.Bool("force", false, "peers remove: remove even if it leaves fewer than 3 voters or no quorum, or the node holds the VIP or leads")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: raftvip peers [list]                          list members")
		fmt.Fprintln(stderr, "       raftvip peers add ID ADDRESS -role db|witness [-nonvoter]")
		fmt.Fprintln(stderr, "       raftvip peers remove ID [-force]")
		fmt.Fprintln(stderr, "exit: 0 ok (also when nothing had to change), 1 refused or failed, 2 bad usage")
		fs.PrintDefaults()
	}
	words, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	verb := "list"
	if len(words) > 0 {
		verb, words = words[0], words[1:]
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "raftvip peers %s: %s\n", verb, msg)
		return exitUsage
	}
	switch verb {
	case "list":
		if len(words) > 0 {
			return usageErr(fmt.Sprintf("unexpected argument %q", words[0]))
		}
	case "add":
		if len(words) != 2 {
			return usageErr("want ID ADDRESS")
		}
		if *role != "db" && *role != "witness" {
			return usageErr("-role db|witness is required")
		}
	case "remove":
		if len(words) != 1 {
			return usageErr("want ID")
		}
	default:
		return usageErr("unknown verb; want list, add or remove")
	}
	c, code := t.client(stderr)
	if code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var res agent.PeerResult
	var err error
	switch verb {
	case "list":
		st, err := c.Status(ctx, 0)
		if err != nil {
			return failed(stderr, "peers", err)
		}
		if *t.json {
			printJSON(stdout, st.Nodes)
			return exitOK
		}
		printPeers(stdout, st)
		return exitOK
	case "add":
		res, err = c.AddPeer(ctx, agent.PeerRequest{ID: words[0], Address: words[1], Role: *role, NonVoter: *nonvoter})
	case "remove":
		res, err = c.RemovePeer(ctx, words[0], *force)
	}
	if err != nil {
		return failed(stderr, "peers "+verb, err)
	}
	if *t.json {
		printJSON(stdout, res)
	} else {
		fmt.Fprintln(stdout, res.Note)
		if res.Undo != "" {
			fmt.Fprintln(stdout, "to undo: "+res.Undo)
		}
	}
	return exitOK
}

func printPeers(w io.Writer, st agent.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tROLE\tSUFFRAGE\tRAFT\tMYSQL\tLAST CONTACT\tVIP")
	for _, v := range st.Nodes {
		mysql := "-"
		if v.Role == "db" {
			mysql = "unhealthy"
			if v.Healthy {
				mysql = "healthy"
			}
			if v.CheckClass != "" && v.CheckClass != "ok" {
				mysql += " (" + v.CheckClass + ")"
			}
		}
		held := ""
		if v.Holding {
			held = "HOLDS"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Address, v.Role, v.Suffrage, v.RaftState, mysql, ago(st.Time, v.LastContact), held)
	}
	tw.Flush()
	for _, warn := range st.PeerWarnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
}

func runHistory(args []string, stdout, stderr io.Writer) int {
	st, asJSON, n, code := fetchStatus("history", args, 20, stderr)
	if code >= 0 {
		return code
	}
	if asJSON {
		if st.History == nil {
			st.History = []fsm.Event{} // [] rather than null, also for -n 0
		}
		printJSON(stdout, st.History)
		return exitOK
	}
	if n == 0 {
		return exitOK // none asked for
	}
	if len(st.History) == 0 {
		fmt.Fprintln(stdout, "no epochs yet")
		return exitOK
	}
	printHistory(stdout, st)
	printFailovers(stdout, st.History)
	return exitOK
}

func runSwitchover(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("switchover", stderr)
	t := targetFlags(fs)
	to := fs.String("to", "", "node to move the VIP to (default: the other healthy db node)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long (at most 5m)")
	force := fs.Bool("force", false, "with -to: promote NODE even if it is stale (replication stopped, failing or behind beyond failover.max_lag); transactions it lacks may be lost, and the epoch is recorded as \"data at risk\"")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: raftvip switchover [-to NODE] [-timeout 30s]   planned move of the VIP")
		fmt.Fprintln(stderr, "       raftvip switchover -to NODE -force            promote NODE although it is stale: recorded as \"data at risk\"")
		fmt.Fprintln(stderr, "exit: 0 ok, 1 refused or failed, 2 bad usage")
		fs.PrintDefaults()
	}
	words, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if c := noWords(fs, words, stderr); c >= 0 {
		return c
	}
	if msg := agent.CheckSwitchoverTimeout(*timeout); msg != "" {
		fmt.Fprintf(stderr, "raftvip %s\n", msg)
		return exitUsage
	}
	if *force && *to == "" {
		// Forcing "any node" would let raftvip pick the stale one for the
		// operator; the one who takes the risk names the node.
		fmt.Fprintln(stderr, "raftvip switchover: -force needs -to NODE: name the stale node to promote (it may lack transactions; the move is recorded as \"data at risk\")")
		return exitUsage
	}
	c, code := t.client(stderr)
	if code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout+5*time.Second)
	defer cancel()
	res, err := c.Switchover(ctx, agent.SwitchoverRequest{To: *to, Timeout: *timeout, Force: *force})
	if err != nil {
		return failed(stderr, "switchover", err)
	}
	if *t.json {
		printJSON(stdout, res)
		return exitOK
	}
	if res.Note != "" {
		fmt.Fprintln(stdout, res.Note)
		return exitOK
	}
	if res.Handover > 0 {
		fmt.Fprintf(stdout, "VIP moved %s → %s (epoch %d): VIP free for %s, command took %s\n",
			res.From, res.To, res.Epoch, res.Handover.Round(time.Millisecond), res.Took.Round(time.Millisecond))
	} else {
		// Seen on the target, not in this node's log: no handover time.
		fmt.Fprintf(stdout, "VIP moved %s → %s (epoch %d, as %s reports): command took %s\n",
			res.From, res.To, res.Epoch, res.To, res.Took.Round(time.Millisecond))
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stdout, "WARNING: %s\n", w)
	}
	if res.Preempt != "" {
		fmt.Fprintln(stdout, res.Preempt)
	}
	return exitOK
}

func runMaintenance(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("maintenance", stderr)
	t := targetFlags(fs)
	reason := fs.String("reason", "", "why: required with on (the next person on call reads it in status and the log)")
	forDur := fs.Duration("for", 0, "with on: end maintenance by itself after this long (e.g. 2h); default: until 'maintenance off'")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: raftvip maintenance on -reason TEXT [-for 2h]   turn maintenance on (-reason is required; -for ends it by itself)")
		fmt.Fprintln(stderr, "       raftvip maintenance off                         turn it off")
		fmt.Fprintln(stderr, "       raftvip maintenance                             show the state")
		fmt.Fprintln(stderr, "exit: 0 ok, 1 refused or failed, 2 bad usage")
		fs.PrintDefaults()
	}
	words, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if len(words) > 1 || (len(words) == 1 && words[0] != "on" && words[0] != "off") {
		fmt.Fprintf(stderr, "raftvip maintenance: want on or off, got %q\n", strings.Join(words, " "))
		return exitUsage
	}
	c, code := t.client(stderr)
	if code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if len(words) == 0 {
		st, err := c.Status(ctx, 0)
		if err != nil {
			return failed(stderr, "maintenance", err)
		}
		if *t.json {
			printJSON(stdout, st.Maintenance)
			return exitOK
		}
		printMaintenance(stdout, st.Maintenance, st.Time)
		return exitOK
	}
	on := words[0] == "on"
	if on && *reason == "" {
		fmt.Fprintln(stderr, "raftvip maintenance on: -reason TEXT is required (the next person on call will read it)")
		return exitUsage
	}
	if *forDur < 0 || (*forDur > 0 && !on) {
		fmt.Fprintf(stderr, "raftvip maintenance %s: -for %s: want a positive duration, and only with on\n", words[0], *forDur)
		return exitUsage
	}
	m, err := c.SetMaintenance(ctx, agent.MaintenanceRequest{On: on, Reason: *reason, For: *forDur})
	if err != nil {
		return failed(stderr, "maintenance", err)
	}
	if *t.json {
		printJSON(stdout, m)
		return exitOK
	}
	printMaintenance(stdout, m, time.Now())
	return exitOK
}

func printMaintenance(w io.Writer, m fsm.Maintenance, now time.Time) {
	if !m.On {
		fmt.Fprintln(w, "maintenance: off (automatic VIP moves enabled)")
		return
	}
	end := ""
	if !m.Until.IsZero() {
		end = "; " + agent.MaintenanceLeft(m.Until, now)
	}
	fmt.Fprintf(w, "maintenance: ON since %s via %s: %s (no automatic VIP moves%s)\n", m.Since.Format(time.RFC3339), m.By, m.Reason, end)
}
