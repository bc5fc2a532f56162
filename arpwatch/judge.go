// Package arpwatch asks the network, every interval, who answers ARP for
// each VIP address, and compares the answers with the holder the replicated
// state names. No lease or fence can see a VIP that something outside
// raftvip configured: a keepalived left running, a frozen host whose kernel
// kept the address, an address added by hand. Their ARP replies can be
// seen. The network side is the Conn interface (a raw ARP socket in
// production, a fake in tests); the judgement of one round is Judge, a pure
// function; Watcher runs the rounds, requires an alarm to persist, and keeps
// the Report that status, metrics and `raftvip check` show.
package arpwatch

import (
	"bytes"
	"fmt"
	"net"
	"sort"
	"strings"
)

// Verdict is what one round says about one address.
type Verdict string

const (
	// OK: one MAC answers and it is the holder's.
	OK Verdict = "ok"
	// Unverified: one MAC answers, but the holder's MAC is not known
	// (not published yet): nothing to compare with.
	Unverified Verdict = "unverified"
	// Silent: nobody answers (a holder still adding the address, or a
	// holder that does not answer ARP); not an alarm here.
	Silent Verdict = "silent"
	// TwoHolders: two or more MACs answer for the address.
	TwoHolders Verdict = "two_holders"
	// Foreign: one MAC answers and it is not the holder's, or anyone
	// answers while nobody holds the VIP.
	Foreign Verdict = "foreign"
	// Skipped: the round was not judged (Expectation.Skip says why).
	Skipped Verdict = "skipped"
	// Failed: the round could not ask (the socket could not be opened,
	// a request could not be sent).
	Failed Verdict = "error"
)

// Alarm reports whether v is one of the two that mean the VIP is served
// from somewhere raftvip did not put it.
func (v Verdict) Alarm() bool { return v == TwoHolders || v == Foreign }

// Judgement is Judge's answer.
type Judgement struct {
	Verdict Verdict
	// Answerers are the distinct MACs that answered, sorted.
	Answerers []net.HardwareAddr
	// Foreign are the answerers that are not the holder's MAC (all of
	// them while nobody holds the VIP; with the holder's MAC unknown,
	// every answerer beyond the first).
	Foreign []net.HardwareAddr
	// Detail says it in words, for the log and status.
	Detail string
}

// Judge decides one round for one address: answers are the MACs that
// answered ARP for it (duplicates and order do not matter; the asking
// node's own MAC must already be left out); exp says who should: the node
// the replicated state names (Holder, "" = nobody), its interface MAC
// (HolderMAC, nil when it has not told), and VRRP: while keepalived may
// serve the VIP (a migration), one MAC answering while raftvip holds
// nothing is keepalived's, not an alarm.
func Judge(answers []net.HardwareAddr, exp Expectation) Judgement {
	holder, holderMAC := exp.Holder, exp.HolderMAC
	var macs []net.HardwareAddr
	for _, m := range answers {
		dup := false
		for _, s := range macs {
			if bytes.Equal(s, m) {
				dup = true
				break
			}
		}
		if !dup && len(m) > 0 {
			macs = append(macs, m)
		}
	}
	sort.Slice(macs, func(i, j int) bool { return bytes.Compare(macs[i], macs[j]) < 0 })
	j := Judgement{Answerers: macs}
	switch {
	case len(macs) == 0:
		j.Verdict, j.Detail = Silent, "nobody answers"
		return j
	case holder == "" && exp.VRRP && len(macs) == 1:
		j.Verdict, j.Detail = Unverified, macs[0].String()+" answers while raftvip holds nothing (vrrp.mode is on: keepalived may serve the VIP)"
		return j
	case holder == "":
		j.Foreign = macs
		j.Verdict, j.Detail = Foreign, "nobody holds the VIP, but "+macList(macs)+" answer"+verbS(len(macs))
		if len(macs) > 1 {
			j.Verdict = TwoHolders
		}
		return j
	}
	if holderMAC != nil {
		for _, m := range macs {
			if !bytes.Equal(m, holderMAC) {
				j.Foreign = append(j.Foreign, m)
			}
		}
	} else if len(macs) > 1 {
		j.Foreign = macs[1:]
	}
	known := "holder " + holder
	if holderMAC != nil {
		known += " is " + holderMAC.String()
	}
	switch {
	case len(macs) > 1:
		j.Verdict, j.Detail = TwoHolders, fmt.Sprintf("%d MACs answer: %s (%s)", len(macs), macList(macs), known)
	case holderMAC == nil:
		j.Verdict, j.Detail = Unverified, fmt.Sprintf("%s answers (holder %s has not published its MAC)", macs[0], holder)
	case len(j.Foreign) == 1:
		j.Verdict, j.Detail = Foreign, fmt.Sprintf("%s answers, not the holder (%s)", macs[0], known)
	default:
		j.Verdict, j.Detail = OK, fmt.Sprintf("%s answers (holder %s)", macs[0], holder)
	}
	return j
}

func macList(macs []net.HardwareAddr) string {
	s := make([]string, len(macs))
	for i, m := range macs {
		s[i] = m.String()
	}
	return strings.Join(s, " and ")
}

func verbS(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}
