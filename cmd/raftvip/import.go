package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/raftvip/raftvip/keepalived"
)

// peerFlags collects repeated -peer ID=HOST:PORT[,ROLE].
type peerFlags []keepalived.Peer

func (p *peerFlags) String() string {
	var parts []string
	for _, x := range *p {
		parts = append(parts, x.ID+"="+x.Address+","+x.Role)
	}
	return strings.Join(parts, " ")
}

func (p *peerFlags) Set(s string) error {
	peer, err := keepalived.ParsePeer(s)
	if err != nil {
		return err
	}
	*p = append(*p, peer)
	return nil
}

// runImport is `raftvip import-keepalived [flags] FILE`: it writes the
// raftvip configuration that replaces a keepalived.conf.
func runImport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("import-keepalived", stderr)
	var peers peerFlags
	nodeID := fs.String("node-id", "", "this node's id (default: global_defs router_id lowercased, else the hostname)")
	role := fs.String("role", "db", "this node's role: db or witness")
	bind := fs.String("bind", "", "HOST[:PORT] raftvip's Raft listens on (default: the instance's unicast_src_ip or mcast_src_ip, port 7400)")
	fs.Var(&peers, "peer", "another Raft node, ID=HOST[:PORT][,db|witness] (repeat for each; role default db)")
	allow := fs.Bool("allow-placeholders", false, "write placeholder peers (to edit by hand) instead of failing when -peer flags are missing")
	dsn := fs.String("mysql-dsn", "", "DSN of the MySQL check user, written into the config (visible in ps: prefer -mysql-dsn-file)")
	dsnFile := fs.String("mysql-dsn-file", "", "file holding that DSN (default "+keepalived.DefaultDSNFile+")")
	dataDir := fs.String("data-dir", "", "Raft data directory (default /var/lib/raftvip/NODE_ID)")
	admin := fs.String("admin", "", "admin socket (default: raftvip's, /run/raftvip/NODE_ID.sock)")
	instance := fs.String("instance", "", "vrrp_instance to import (needed when the file has several)")
	mode := fs.String("vrrp-mode", "", "vrrp.mode written: observe (the default, step one of a migration), active or off; a witness gets no vrrp block")
	out := fs.String("o", "", "write the configuration to this file (mode 0600) instead of stdout")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: raftvip import-keepalived [flags] FILE")
		fmt.Fprintln(stderr, "Writes the raftvip configuration that replaces keepalived.conf FILE (includes are followed),")
		fmt.Fprintln(stderr, "with a comment for every keepalived setting. Example:")
		fmt.Fprintln(stderr, "  raftvip import-keepalived /etc/keepalived/keepalived.conf -node-id hosta \\")
		fmt.Fprintln(stderr, "    -peer hostb=192.168.10.12:7400 -peer witness=192.168.10.13:7400,witness -o /etc/raftvip/raftvip.hcl")
		fmt.Fprintln(stderr, "exit: 0 written, 1 cannot write, 2 bad usage or a broken keepalived.conf")
		fs.PrintDefaults()
	}
	words, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	if len(words) != 1 {
		if len(words) == 0 {
			fmt.Fprintln(stderr, "raftvip import-keepalived: missing FILE, the keepalived.conf to import")
		} else {
			fmt.Fprintf(stderr, "raftvip import-keepalived: unexpected argument %q (one FILE only)\n", words[1])
		}
		fs.Usage()
		return exitUsage
	}
	path := words[0]
	kc, err := keepalived.Load(path)
	if err != nil {
		printImportErrors(stderr, path, err)
		return exitUsage
	}
	host, _ := os.Hostname()
	res, err := keepalived.Convert(kc, keepalived.Options{
		Instance:          *instance,
		NodeID:            *nodeID,
		Hostname:          host,
		Role:              *role,
		Bind:              *bind,
		Peers:             peers,
		AllowPlaceholders: *allow,
		MySQLDSN:          *dsn,
		MySQLDSNFile:      *dsnFile,
		DataDir:           *dataDir,
		Admin:             *admin,
		VRRPMode:          *mode,
		OutputFile:        *out,
	})
	if err != nil {
		printImportErrors(stderr, path, err)
		return exitUsage
	}
	if *out == "" {
		if _, err := stdout.Write(res.HCL); err != nil {
			fmt.Fprintf(stderr, "raftvip import-keepalived: writing the configuration: %v\n", err)
			return exitFailure
		}
	} else if err := writeFileAtomic(*out, res.HCL); err != nil {
		fmt.Fprintf(stderr, "raftvip import-keepalived: %v\n", err)
		return exitFailure
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "raftvip import-keepalived: note: %s\n", n)
	}
	if *out != "" {
		fmt.Fprintf(stderr, "raftvip import-keepalived: wrote %s (node %s, vrrp_instance %s); check it with: raftvip validate -config %s\n", *out, res.NodeID, res.Instance, *out)
	}
	return exitOK
}

// printImportErrors prints positioned problems one per line, file:line
// first, then a count; other errors as they are.
func printImportErrors(stderr io.Writer, path string, err error) {
	var errs *keepalived.Errors
	if errors.As(err, &errs) {
		for _, e := range errs.List {
			fmt.Fprintln(stderr, e.Error())
		}
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", path, len(errs.List))
		return
	}
	fmt.Fprintf(stderr, "raftvip import-keepalived: %v\n", err)
}

// writeFileAtomic writes through a temporary file and a rename, mode 0600
// because the configuration can hold the MySQL DSN and the VRRP password;
// a failed write never leaves a half-written config behind.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
