package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
)

func runStatus(args []string, stdout, stderr io.Writer) int {
	st, asJSON, _, code := fetchStatus("status", args, 10, stderr)
	if code >= 0 {
		return code
	}
	if asJSON {
		printJSON(stdout, st)
		return exitOK
	}
	printStatus(stdout, st)
	return exitOK
}

// maxN is the most epoch events status and history show; both take -n from
// 0 (none) to maxN, so one habit works for both.
const maxN = 1000

// fetchStatus is the shared front of status and history: the operator flags
// plus -n (epoch events, 0..maxN), then one status call. It returns the
// status, -json, -n, and code >= 0 when the command should stop with it.
func fetchStatus(name string, args []string, defaultN int, stderr io.Writer) (agent.Status, bool, int, int) {
	fs := newFlags(name, stderr)
	t := targetFlags(fs)
	n := fs.Int("n", defaultN, fmt.Sprintf("how many recent epoch events to show (0 to %d)", maxN))
	words, code := parse(fs, args)
	if code >= 0 {
		return agent.Status{}, false, 0, code
	}
	if c := noWords(fs, words, stderr); c >= 0 {
		return agent.Status{}, false, 0, c
	}
	if *n < 0 || *n > maxN {
		fmt.Fprintf(stderr, "raftvip %s: -n %d: want 0 to %d\n", name, *n, maxN)
		return agent.Status{}, false, 0, exitUsage
	}
	c, code := t.client(stderr)
	if code >= 0 {
		return agent.Status{}, false, 0, code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.Status(ctx, *n)
	if err != nil {
		return agent.Status{}, false, 0, failed(stderr, name, err)
	}
	return st, *t.json, *n, -1
}

// adminSocket resolves -admin or the config's admin path. Only the admin
// path is read from the config: the operator's user may not be allowed to
// read the rest (a dsn_file of the agent's user), and need not.
func adminSocket(path, sock string, stderr io.Writer) (string, int) {
	if sock != "" {
		return sock, -1
	}
	s, err := config.AdminSocket(path)
	if err != nil {
		printConfigErr(path, err, stderr)
		fmt.Fprintln(stderr, "(or name the agent's socket with -admin SOCKET)")
		return "", exitUsage
	}
	return s, -1
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return d.Round(time.Millisecond).String() + " ago"
}

// dataLine says what the node's agent did to its server.
func dataLine(d *agent.DataStatus) string {
	var line string
	switch d.Mode {
	case agent.DataWritable:
		line = fmt.Sprintf("writable (epoch %d, since %s): %s", d.Epoch, d.Since.Format(time.RFC3339), d.Detail)
	case agent.DataCatchingUp:
		line = fmt.Sprintf("read-only, catching up to %s before taking writes (epoch %d, for %s)", d.WaitGTID, d.Epoch, time.Since(d.Since).Round(time.Millisecond))
	case agent.DataStuckReadOnly:
		line = "READ-ONLY while holding the VIP: " + d.Detail
	case agent.DataFencing:
		line = "read-only wanted, not confirmed by the server (" + d.Detail + ")"
	default:
		line = "read-only (not the VIP holder)"
		if !d.ReadOnlyConfirmed.IsZero() {
			line += ", confirmed " + ago(time.Now(), d.ReadOnlyConfirmed)
		}
	}
	if d.ReplicationHeld {
		line += "; replication from the old holder held until it shows no errant transaction"
	}
	if d.Errant != "" {
		line += fmt.Sprintf("; ERRANT: %s that the holder of epoch %d never received (docs/replication.md: errant transactions)", d.Errant, d.ErrantEpoch)
	}
	if d.Error != "" {
		line += "; last error: " + d.Error
	}
	return line
}

// printReplication writes one replication line per DB node: threads, lag,
// positions, read-only, errors, or "no replication".
func printReplication(w io.Writer, nodes []agent.NodeView) {
	first := true
	for _, v := range nodes {
		if v.Role != "db" {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nreplication:")
			first = false
		}
		line := "unknown (not read yet)"
		switch {
		case !v.Reachable:
			line = "unknown (node unreachable)"
		case v.Replication != nil:
			line = v.Replication.Summary()
			if at := v.Replication.ReadAt; !at.IsZero() && time.Since(at) > replicationStaleAfter(v.Replication) {
				line += " (read " + ago(time.Now(), at) + ": MySQL has not answered since)"
			}
		}
		fmt.Fprintf(w, "  %s: %s\n", v.ID, line)
		switch {
		case v.Stale != "":
			fmt.Fprintf(w, "    STALE, not promoted: %s\n", v.Stale)
		case v.NoReplication:
			fmt.Fprintf(w, "    no replication: eligible on MySQL health alone\n")
		}
		if d := v.Data; d != nil {
			fmt.Fprintf(w, "    server: %s\n", dataLine(d))
		}
	}
}

// replicationStaleAfter is how old a replication reading may be while its
// MySQL answers: a steady state is read every ReadEvery (the checker's
// mysql.replication_interval), so twice that plus a second for the checks'
// and status's own timing. A reading without ReadEvery comes from an agent
// that read on every check.
func replicationStaleAfter(r *mysqlcheck.Replication) time.Duration {
	if r.ReadEvery <= 0 {
		return 3 * time.Second
	}
	return 2*r.ReadEvery + time.Second
}

func printStatus(w io.Writer, st agent.Status) {
	leader := st.Leader
	if leader == "" {
		leader = "(none)"
	}
	holder := st.Holder
	if holder == "" {
		holder = "(nobody)"
	}
	fmt.Fprintf(w, "leader:  %s (term %d)\n", leader, st.Term)
	fmt.Fprintf(w, "VIP:     %s, epoch %d\n", holder, st.Epoch)
	if st.Note != "" {
		fmt.Fprintf(w, "note:    %s\n", st.Note)
	}
	for _, warn := range st.Warnings {
		if st.Maintenance.On && strings.HasPrefix(warn, "MAINTENANCE") {
			continue // printed below, once
		}
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	if st.Maintenance.On {
		end := ""
		if u := st.Maintenance.Until; !u.IsZero() {
			end = "; " + agent.MaintenanceLeft(u, st.Time)
		}
		fmt.Fprintf(w, "MAINTENANCE MODE: %s (since %s via %s) — no automatic VIP moves%s\n", st.Maintenance.Reason, st.Maintenance.Since.Format(time.RFC3339), st.Maintenance.By, end)
	}
	for _, al := range st.ARPAlarms {
		fmt.Fprintf(w, "CRITICAL: %s\n", al)
	}
	fmt.Fprintf(w, "asked:   %s at %s\n\n", st.Node, st.Time.Format(time.RFC3339))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tRAFT\tMYSQL\tCHECK\tLAST CONTACT\tVIP\tDOING")
	for _, v := range st.Nodes {
		mysql := "-"
		if v.Role == "db" {
			mysql = "unhealthy"
			if v.Healthy {
				mysql = "healthy"
				if mysqlcheck.Degraded(v.CheckClass) {
					// Overloaded (ERR 1040, 1203, 1226): alive, so it
					// keeps the VIP, but the operator must see it.
					mysql = "healthy, degraded"
				}
			}
		}
		check := v.CheckClass
		if v.CheckError != "" {
			check += ": " + truncate(v.CheckError, 40)
		}
		if check == "" || v.Role != "db" {
			check = "-"
		}
		held := ""
		if v.Holding {
			held = "HOLDS"
		}
		doing := v.Decision
		if v.Reason != "" && v.Decision != "none" {
			doing += ": " + v.Reason
		} else if v.Decision == "none" {
			doing = v.Reason
		}
		if !v.Reachable {
			doing = "unreachable: " + truncate(v.Error, 60)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Role, v.RaftState, mysql, check, ago(st.Time, v.LastContact), held, doing)
	}
	tw.Flush()
	printReplication(w, st.Nodes)
	printARPWatch(w, st.Nodes)

	if st.VRRP != nil {
		v := st.VRRP
		cast := "multicast"
		if v.Unicast {
			cast = "unicast"
		}
		fmt.Fprintf(w, "\nVRRP (%s mode, seen from %s): VRRPv%d VRID %d on %s, %s, raftvip priority %d; adverts sent %d, priority-0 %d\n",
			st.VRRPMode, st.Node, v.Version, v.VRID, v.Interface, cast, v.Priority, v.Sent, v.Released)
		if v.Master != nil {
			fmt.Fprintf(w, "master on the wire: %s (priority %d)\n", v.Master.Source, v.Master.Priority)
		} else {
			fmt.Fprintln(w, "master on the wire: none besides raftvip")
		}
		if len(v.Routers) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SOURCE\tVERSION\tPRIORITY\tINTERVAL\tVIPS\tLAST SEEN\tLIVE\tMISMATCHES")
			for _, r := range v.Routers {
				var vips []string
				for _, a := range r.Addresses {
					vips = append(vips, a.String())
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%t\t%s\n", r.Source, r.Version, r.Priority, r.Interval, strings.Join(vips, ","), ago(st.Time, r.LastSeen), r.Live, strings.Join(r.Mismatches, "; "))
			}
			tw.Flush()
		}
		var drops []string
		for reason, n := range v.Stats.Dropped {
			drops = append(drops, fmt.Sprintf("%s=%d", reason, n))
		}
		sort.Strings(drops)
		fmt.Fprintf(w, "adverts accepted %d, dropped %s\n", v.Stats.Accepted, strings.Join(append(drops, ""), " "))
		if len(v.TrustedRouters) > 0 {
			var tr []string
			for _, a := range v.TrustedRouters {
				tr = append(tr, a.String())
			}
			fmt.Fprintf(w, "trusted routers: %s (adverts from others are dropped as untrusted)\n", strings.Join(tr, ", "))
		} else if u := v.Untrusted; u != nil {
			switch {
			case u.Exhausted && u.Ignored != nil:
				fmt.Fprintf(w, "WARNING: ignoring VRRP master %s: untrusted masters kept raftvip from the VIP for vrrp.untrusted_block_max (%s, run out by %s at %s); heeded again after %s without one. List keepalived's addresses in vrrp.trusted_routers\n",
					*u.Ignored, u.BlockMax, u.By, u.Since.Format(time.RFC3339), u.RefillIn)
			case u.Exhausted:
				fmt.Fprintf(w, "WARNING: untrusted VRRP masters are ignored: they kept raftvip from the VIP for vrrp.untrusted_block_max (%s, run out by %s at %s); heeded again after %s without one\n",
					u.BlockMax, u.By, u.Since.Format(time.RFC3339), u.RefillIn)
			default:
				fmt.Fprintf(w, "trusted routers: any (vrrp.trusted_routers is empty): a VRRP master may keep raftvip from the VIP for %s more of vrrp.untrusted_block_max %s\n", u.Left, u.BlockMax)
			}
		}
	}
	if len(st.History) > 0 {
		fmt.Fprintln(w, "\nrecent epochs:")
		printHistory(w, st)
	}
}

func printHistory(w io.Writer, st agent.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EPOCH\tTIME\tEVENT\tNODE\tBY\tTIMING\tREASON")
	for _, e := range st.History {
		if e.Op == fsm.OpAdded && e.Via == "" {
			continue // a failover's phase: shown in its block (printFailovers)
		}
		timing := ""
		switch {
		case e.Detection > 0:
			timing = "detected in " + e.Detection.Round(time.Millisecond).String()
		case e.Handover > 0:
			timing = "VIP free for " + e.Handover.Round(time.Millisecond).String()
		case e.Wait > 0:
			timing = "wait " + e.Wait.Round(time.Millisecond).String()
		}
		reason := e.Reason
		if e.Via != "" { // an operator's command: who asked
			who := e.Via
			if e.UID != nil {
				who = fmt.Sprintf("uid %d on %s", *e.UID, e.Via)
			}
			reason = "asked by " + who + ": " + reason
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Epoch, e.Time.Format("2006-01-02 15:04:05.000"), e.Op, e.Node, e.By, timing, reason)
	}
	tw.Flush()
}

// printFailovers prints one block per failover in the history: each phase
// with its offset from the fault's detection (or, without one, from the
// first phase recorded), the node it happened on, and its time.
func printFailovers(w io.Writer, history []fsm.Event) {
	for _, f := range fsm.Failovers(history) {
		to := f.To
		if f.From == f.To {
			to += " (again)"
		}
		fmt.Fprintf(w, "\nfailover: epoch %d %s -> epoch %d %s: %s\n", f.FromEpoch, f.From, f.Epoch, to, f.Reason)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, p := range f.Phases {
			off := "+" + p.Offset.Round(time.Millisecond).String()
			if p.Offset < 0 {
				off = p.Offset.Round(time.Millisecond).String()
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", off, p.Name, p.Node, p.Time.Format("15:04:05.000"), p.Detail)
		}
		tw.Flush()
	}
}

func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
