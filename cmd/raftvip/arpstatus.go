package main

import (
	"fmt"
	"io"

	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/arpwatch"
)

// printARPWatch writes what each node's ARP watch last saw: per address
// its verdict and who answered, or why the round was not judged.
func printARPWatch(w io.Writer, nodes []agent.NodeView) {
	first := true
	for _, v := range nodes {
		r := v.ARPWatch
		if r == nil {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nARP watch (who answers ARP for the VIP):")
			first = false
		}
		switch {
		case r.Checked.IsZero():
			fmt.Fprintf(w, "  %s: no round yet (every %s on %s)\n", v.ID, r.Interval, r.Interface)
			continue
		case r.Skipped != "":
			fmt.Fprintf(w, "  %s: not judged: %s\n", v.ID, r.Skipped)
			continue
		case r.Error != "":
			fmt.Fprintf(w, "  %s: cannot ask: %s\n", v.ID, r.Error)
			continue
		}
		for _, a := range r.Addresses {
			word := string(a.Verdict)
			switch {
			case a.Alarm && a.Verdict == arpwatch.TwoHolders:
				word = "TWO HOLDERS"
			case a.Alarm:
				word = "FOREIGN HOLDER"
			case a.Verdict.Alarm():
				word = fmt.Sprintf("%s? (%d round, not confirmed yet)", a.Verdict, a.Rounds)
			}
			fmt.Fprintf(w, "  %s: %s %s: %s\n", v.ID, a.Address, word, a.Detail)
		}
	}
}
