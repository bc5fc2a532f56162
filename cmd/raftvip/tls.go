package main

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/raftvip/raftvip/internal/pki"
)

// listFlag collects a flag given several times, each a comma list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func runTLS(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("tls", stderr)
	var nodes, ips listFlag
	fs.Var(&nodes, "nodes", "init: the node ids, comma separated (each gets NODE.pem and NODE-key.pem)")
	node := fs.String("node", "", "add: the node id to issue a certificate for")
	fs.Var(&ips, "ip", "IP SANs; init: NODE=ADDR,... ; add: ADDR,... (may be repeated)")
	days := fs.Int("days", int(pki.DefaultNodeValidity/(24*time.Hour)), "node certificates are valid for this many days")
	force := fs.Bool("force", false, "replace existing files (init: a new CA, which cuts off every certificate of the old one; add: reissue the node's certificate and key)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: raftvip tls init DIR -nodes hosta,hostb,witness [-ip hosta=ADDR,...] [-days N] [-force]")
		fmt.Fprintln(stderr, "       raftvip tls add DIR -node NAME [-ip ADDR,...] [-days N] [-force]")
		fmt.Fprintln(stderr, "init makes a CA (DIR/ca.pem, DIR/ca-key.pem) and a certificate and key per node")
		fmt.Fprintln(stderr, "(DIR/NODE.pem, DIR/NODE-key.pem); add issues one more with that CA, e.g. for a new")
		fmt.Fprintln(stderr, "peer, or with -force a fresh one for rotation (then SIGHUP the agent). Keys are")
		fmt.Fprintln(stderr, "written 0600; nothing is overwritten without -force.")
		fmt.Fprintln(stderr, "exit: 0 written, 1 failed (files exist, no CA, I/O), 2 bad usage")
		fs.PrintDefaults()
	}
	words, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if len(words) == 0 {
		fmt.Fprintln(stderr, "raftvip tls: want init or add; see 'raftvip tls -h'")
		return exitUsage
	}
	verb, words := words[0], words[1:]
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "raftvip tls %s: %s\n", verb, fmt.Sprintf(format, a...))
		return exitUsage
	}
	if verb != "init" && verb != "add" {
		return usageErr("unknown verb; want init or add")
	}
	if len(words) != 1 {
		return usageErr("want one directory, got %d words", len(words))
	}
	dir := words[0]
	if *days <= 0 {
		return usageErr("-days must be at least 1")
	}
	opts := pki.Options{Force: *force, Validity: time.Duration(*days) * 24 * time.Hour}
	var written []string
	var issued []string
	var err error
	switch verb {
	case "init":
		if *node != "" {
			return usageErr("-node is for add; init takes -nodes")
		}
		if len(nodes) == 0 {
			return usageErr("-nodes is required: the ids of every peer, e.g. -nodes hosta,hostb,witness")
		}
		for _, n := range nodes {
			if err := pki.CheckNodeName(n); err != nil {
				return usageErr("-nodes: %s", strings.TrimPrefix(err.Error(), "pki: "))
			}
		}
		byNode := map[string][]net.IP{}
		for _, s := range ips {
			n, a, ok := strings.Cut(s, "=")
			if !ok {
				return usageErr("-ip %q: want NODE=ADDR (init names the node of each address)", s)
			}
			ip := net.ParseIP(a)
			if ip == nil {
				return usageErr("-ip %q: %q is not an IP address", s, a)
			}
			if !contains(nodes, n) {
				return usageErr("-ip %q: %q is not one of -nodes (%s)", s, n, strings.Join(nodes, ", "))
			}
			byNode[n] = append(byNode[n], ip)
		}
		issued = nodes
		written, err = pki.InitWith(dir, nodes, byNode, opts)
	case "add":
		if len(nodes) > 0 {
			return usageErr("-nodes is for init; add takes one -node")
		}
		if *node == "" {
			return usageErr("-node NAME is required")
		}
		if err := pki.CheckNodeName(*node); err != nil {
			return usageErr("-node: %s", strings.TrimPrefix(err.Error(), "pki: "))
		}
		var list []net.IP
		for _, s := range ips {
			ip := net.ParseIP(s)
			if ip == nil {
				return usageErr("-ip %q is not an IP address", s)
			}
			list = append(list, ip)
		}
		issued = []string{*node}
		written, err = pki.AddWith(dir, *node, list, opts)
	}
	for _, f := range written {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "raftvip tls %s: %s\n", verb, strings.TrimPrefix(err.Error(), "pki: "))
		return exitFailure
	}
	printTLSBlocks(stdout, dir, verb, issued)
	return exitOK
}

// printTLSBlocks shows what to copy where and the config block to paste,
// with absolute paths so the block is right wherever the agent runs from.
func printTLSBlocks(w io.Writer, dir, verb string, nodes []string) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		dir = abs
	}
	fmt.Fprintln(w)
	if verb == "init" {
		fmt.Fprintf(w, "Keep %s private and off the nodes; it is needed only by 'raftvip tls add'.\n", pki.CAKeyFile(dir))
	}
	fmt.Fprintf(w, "On each node put ca.pem, NODE.pem and NODE-key.pem (mode 0600, owned by the agent's user)\n")
	fmt.Fprintf(w, "in %s (or change the paths) and add to its config:\n", dir)
	for _, n := range nodes {
		fmt.Fprintf(w, "\n# %s\ntls {\n  ca_file   = %q\n  cert_file = %q\n  key_file  = %q\n}\n",
			n, pki.CAFile(dir), pki.CertFile(dir, n), pki.KeyFile(dir, n))
	}
	if verb == "add" {
		fmt.Fprintln(w, "\nA reissued certificate is loaded on SIGHUP; a new peer joins with 'raftvip peers add'.")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
