// Command raftvip is the agent and the operator's CLI.
//
//	raftvip SUBCOMMAND [words] [flags]
//
// Flags and words may come in any order. Exit codes: 0 success, 1 failure at
// run time, 2 bad usage or bad config.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// version is set by the Makefile (-ldflags -X main.version=...).
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// defaultConfig is where packaged installs keep the config.
const defaultConfig = "/etc/raftvip/raftvip.hcl"

type command struct {
	run     func(args []string, stdout, stderr io.Writer) int
	summary string
}

var commands = map[string]command{
	"agent":             {runAgent, "run the daemon: raftvip agent -config FILE"},
	"validate":          {runValidate, "check a config: raftvip validate -config FILE"},
	"status":            {runStatus, "show leader, VIP holder, nodes and recent epochs"},
	"check":             {runCheck, "Nagios/Icinga check: one line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN"},
	"version":           {runVersion, "print the version"},
	"peers":             {runPeers, "list, add or remove members: raftvip peers [list|add|remove]"},
	"history":           {runHistory, "the VIP's epoch log: raftvip history [-n N]"},
	"switchover":        {runSwitchover, "planned move of the VIP: raftvip switchover [-to NODE [-force]]"},
	"import-keepalived": {runImport, "write the raftvip config for a keepalived.conf: raftvip import-keepalived [flags] FILE"},
	"maintenance":       {runMaintenance, "stop automatic moves: raftvip maintenance on|off -reason TEXT [-for 2h]"},
	"tls":               {runTLS, "make certificates: raftvip tls init DIR -nodes a,b,c | tls add DIR -node NAME"},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: raftvip SUBCOMMAND [words] [flags]")
	fmt.Fprintln(w, "\nsubcommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nflags and words may come in any order; -json gives machine output")
	fmt.Fprintln(w, "exit codes: 0 success, 1 failure at run time (or the cluster refused), 2 bad usage or config")
	fmt.Fprintln(w, "  (check: Nagios's 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, bad usage included)")
	fmt.Fprintln(w, "run 'raftvip SUBCOMMAND -h' for its flags")
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return runVersion(nil, stdout, stderr)
	}
	c, ok := commands[args[0]]
	if !ok {
		if near := closest(args[0]); near != "" {
			fmt.Fprintf(stderr, "raftvip: unknown subcommand %q: did you mean %q?\n\n", args[0], near)
			usage(stderr)
			return exitUsage
		}
		fmt.Fprintf(stderr, "raftvip: unknown subcommand %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

// closest is the subcommand a typo most likely meant: within two edits
// (a swap of neighbours counts as one, so "stauts" is one from "status"),
// or one that the word is a prefix of; "" when none is near.
func closest(word string) string {
	best, bestD := "", 3
	for name := range commands {
		d := editDistance(word, name)
		if len(word) >= 3 && strings.HasPrefix(name, word) {
			d = 1
		}
		if d < bestD || (d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	if bestD > 2 || bestD >= len(word) {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of adjacent letters each cost one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stderr)
	words, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if len(words) > 0 {
		fmt.Fprintf(stderr, "raftvip version: unexpected argument %q\n", words[0])
		return exitUsage
	}
	fmt.Fprintf(stdout, "raftvip %s\n", version)
	return exitOK
}
