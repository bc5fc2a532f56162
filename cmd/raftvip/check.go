package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/raftvip/raftvip/agent"
)

// Nagios plugin exit codes (Monitoring Plugins Development Guidelines).
// check uses them for everything, its usage errors included (3 UNKNOWN, not
// the CLI's usual 2: a monitoring system reads 2 as CRITICAL, and a
// mistyped check command says nothing about the cluster).
const (
	nagiosOK       = 0
	nagiosWarning  = 1
	nagiosCritical = 2
	nagiosUnknown  = 3
)

var nagiosWords = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// checkResult is the verdict of `raftvip check` over one status.
type checkResult struct {
	Code     int      `json:"code"`
	State    string   `json:"state"`   // OK, WARNING, CRITICAL, UNKNOWN
	Summary  string   `json:"summary"` // the line Nagios shows
	Critical []string `json:"critical,omitempty"`
	Warning  []string `json:"warning,omitempty"`
	Perfdata string   `json:"perfdata,omitempty"`
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: raftvip check [-config FILE | -admin SOCKET] [-json]")
		fmt.Fprintln(stderr, "a Nagios/Icinga check of the whole cluster, asked through this node's agent; one line on stdout.")
		fmt.Fprintln(stderr, "exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the agent cannot be asked, or bad usage)")
		fs.PrintDefaults()
	}
	t := targetFlags(fs)
	words, code := parse(fs, args)
	if code == exitOK {
		return exitOK // -h
	}
	if code >= 0 {
		fmt.Fprintln(stdout, "RAFTVIP UNKNOWN - bad usage (see stderr; raftvip check -h)")
		return nagiosUnknown
	}
	if len(words) > 0 {
		fmt.Fprintf(stdout, "RAFTVIP UNKNOWN - unexpected argument %q (usage: raftvip check [-config FILE | -admin SOCKET] [-json])\n", words[0])
		return nagiosUnknown
	}
	c, code := t.client(stderr)
	if code >= 0 {
		fmt.Fprintln(stdout, "RAFTVIP UNKNOWN - cannot find the agent's admin socket (see stderr; -admin SOCKET names it)")
		return nagiosUnknown
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.Status(ctx, 0)
	if err != nil {
		r := checkResult{Code: nagiosUnknown, State: "UNKNOWN", Summary: "RAFTVIP UNKNOWN - cannot ask the agent: " + oneLine(err.Error())}
		printCheck(stdout, r, *t.json)
		return r.Code
	}
	r := checkStatus(st)
	printCheck(stdout, r, *t.json)
	return r.Code
}

func printCheck(w io.Writer, r checkResult, asJSON bool) {
	if asJSON {
		printJSON(w, r)
		return
	}
	line := r.Summary
	if r.Perfdata != "" {
		line += " | " + r.Perfdata
	}
	fmt.Fprintln(w, line)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkStatus grades a status: CRITICAL when the VIP is not served safely
// (nobody holds it, its holder's MySQL is unhealthy or read-only, two
// holders, no leader or no quorum), WARNING when the next failure would be
// one (a voter unreachable, a standby unhealthy, stale or lagging,
// maintenance on, a certificate about to expire, or any other warning of
// status), else OK. The summary names the worst problems first.
func checkStatus(st agent.Status) checkResult {
	var crit, warn []string
	byID := map[string]agent.NodeView{}
	voters, reachable, holders := 0, 0, 0
	for _, v := range st.Nodes {
		byID[v.ID] = v
		if v.Suffrage == "voter" {
			voters++
			if v.Reachable {
				reachable++
			}
		}
		if v.Holding {
			holders++
		}
	}
	if st.Leader == "" {
		crit = append(crit, "no raft leader")
	}
	if voters > 0 && reachable <= voters/2 {
		crit = append(crit, fmt.Sprintf("no quorum: %d of %d voters reachable", reachable, voters))
	}
	switch {
	case st.Fence != nil:
		crit = append(crit, fmt.Sprintf("nobody serves the VIP: fenced, waiting for %s's lease (epoch %d) to run out", st.Fence.Holder, st.Fence.Epoch))
	case st.Holder == "":
		msg := "nobody holds the VIP"
		if st.Note != "" && !strings.Contains(st.Note, "leader") {
			msg = st.Note
			if !strings.Contains(msg, "nobody holds the VIP") {
				msg = "nobody holds the VIP: " + msg
			}
		}
		crit = append(crit, msg)
	default:
		h, ok := byID[st.Holder]
		switch {
		case !ok:
		case !h.Healthy:
			crit = append(crit, fmt.Sprintf("holder %s's MySQL is unhealthy (%s)", h.ID, orDash(h.CheckClass)))
		case h.Data != nil && h.Data.Mode == agent.DataStuckReadOnly:
			crit = append(crit, fmt.Sprintf("holder %s's MySQL is read-only while holding the VIP: %s", h.ID, h.Data.Detail))
		}
		if ok && h.Data != nil && h.Data.Mode == agent.DataCatchingUp {
			warn = append(warn, fmt.Sprintf("holder %s is catching up (read-only) before taking writes", h.ID))
		}
	}
	if holders > 1 {
		crit = append(crit, fmt.Sprintf("%d nodes report holding the VIP", holders))
	}
	// Seen from outside: ARP answers for the VIP from two MACs, or from
	// one that is not the holder's (docs/arpwatch.md).
	crit = append(crit, st.ARPAlarms...)

	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var perf []string
	for _, id := range ids {
		v := byID[id]
		if v.Suffrage == "voter" && !v.Reachable {
			warn = append(warn, fmt.Sprintf("voter %s unreachable", id))
		}
		if v.Role != "db" || id == st.Holder {
			continue
		}
		// A standby: what a failover would find there.
		switch {
		case !v.Healthy:
			warn = append(warn, fmt.Sprintf("standby %s's MySQL is unhealthy (%s): no failover target", id, orDash(v.CheckClass)))
		case v.Stale != "":
			warn = append(warn, fmt.Sprintf("standby %s is stale: %s", id, v.Stale))
		}
		// The lag of a server that does not answer is its last reading,
		// not a measure: left out.
		if r := v.Replication; r != nil && r.SecondsBehind != nil && v.Healthy && v.Reachable {
			perf = append(perf, fmt.Sprintf("'lag_%s'=%ds;;;0", id, *r.SecondsBehind))
		}
		if v.Data != nil && v.Data.Errant != "" {
			warn = append(warn, fmt.Sprintf("%s has errant transactions: %s", id, v.Data.Errant))
		}
	}
	if st.Maintenance.On {
		warn = append(warn, "maintenance mode on: "+orDash(st.Maintenance.Reason))
	}
	// Every other warning status shows (certificates about to expire,
	// plaintext, peer address disagreements, timing mismatches, an open
	// switchover window), except what is said above already.
	for _, w := range st.Warnings {
		if strings.HasPrefix(w, "MAINTENANCE MODE") || strings.HasSuffix(w, "nodes report holding the VIP") ||
			(w == "this node knows no leader" && st.Leader == "") {
			continue
		}
		warn = append(warn, w)
	}

	r := checkResult{Critical: crit, Warning: warn}
	switch {
	case len(crit) > 0:
		r.Code = nagiosCritical
	case len(warn) > 0:
		r.Code = nagiosWarning
	}
	r.State = nagiosWords[r.Code]
	var text string
	switch {
	case r.Code == nagiosOK:
		text = fmt.Sprintf("%s holds the VIP (epoch %d, leader %s), %d/%d voters reachable", st.Holder, st.Epoch, st.Leader, reachable, voters)
	default:
		text = strings.Join(append(append([]string(nil), crit...), warn...), "; ")
	}
	r.Summary = "RAFTVIP " + r.State + " - " + oneLine(text)
	perf = append([]string{
		fmt.Sprintf("epoch=%d", st.Epoch),
		fmt.Sprintf("holders=%d;;1:1;0", holders),
		fmt.Sprintf("voters_reachable=%d;%d:;%d:;0;%d", reachable, voters, voters/2+1, voters),
	}, perf...)
	r.Perfdata = strings.Join(perf, " ")
	return r
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
