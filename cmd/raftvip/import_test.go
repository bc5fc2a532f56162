package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/config"
)

var seedHostA = filepath.Join("..", "..", "keepalived", "testdata", "seed-hosta.conf")

func runImportCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = runImport(args, &o, &e)
	return code, o.String(), e.String()
}

func importDSNFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mysql.dsn")
	if err := os.WriteFile(p, []byte("raftvip:pw@tcp(127.0.0.1:3306)/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportSeedToFile(t *testing.T) {
	dsn := importDSNFile(t)
	out := filepath.Join(t.TempDir(), "raftvip.hcl")
	// Words and flags in any order.
	code, stdout, stderr := runImportCLI("-node-id", "hosta", seedHostA, "-peer", "hostb=192.168.10.12:7400",
		"-peer", "witness=192.168.10.13,witness", "-mysql-dsn-file", dsn, "-o", out, "-vrrp-mode", "active")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing with -o", stdout)
	}
	if !strings.Contains(stderr, "wrote "+out+" (node hosta, vrrp_instance VI_1)") {
		t.Errorf("stderr %q", stderr)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (the file can hold secrets)", info.Mode().Perm())
	}
	cfg, err := config.Load(out)
	if err != nil {
		t.Fatalf("config.Load of the output: %v", err)
	}
	if cfg.NodeID != "hosta" || cfg.Bind != "192.168.10.11:7400" || len(cfg.Peers) != 3 ||
		cfg.VIP.Interface != "ens34" || cfg.VIP.Addresses[0].String() != "192.168.10.10/32" ||
		cfg.MySQL.Interval != 2*time.Second || cfg.MySQL.Fall != 2 || cfg.MySQL.Rise != 1 || cfg.Failover.Preempt ||
		cfg.VRRP.Mode != config.VRRPActive || cfg.VRRP.VRID != 51 || cfg.VRRP.AuthPass != "1111" || cfg.VRRP.Priority != 250 {
		t.Errorf("imported config: %+v vip %+v mysql %+v vrrp %+v", cfg, cfg.VIP, cfg.MySQL, cfg.VRRP)
	}
	// The same through `raftvip validate` (what the comment tells the operator to run).
	var o, e bytes.Buffer
	if code := runValidate([]string{"-config", out}, &o, &e); code != exitOK {
		t.Errorf("validate: exit %d %s", code, e.String())
	}
}

func TestImportToStdout(t *testing.T) {
	dsn := importDSNFile(t)
	code, stdout, stderr := runImportCLI(seedHostA, "-node-id=hosta", "-peer=hostb=192.168.10.12", "-peer=witness=192.168.10.13:7400,witness", "-mysql-dsn-file="+dsn)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	cfg, err := config.Parse([]byte(stdout), "stdout.hcl")
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, stdout)
	}
	if cfg.VRRP.Mode != config.VRRPObserve {
		t.Errorf("vrrp mode %q, want observe by default", cfg.VRRP.Mode)
	}
	if stderr != "" {
		t.Errorf("stderr %q, want nothing", stderr)
	}
}

func TestImportWitness(t *testing.T) {
	code, stdout, stderr := runImportCLI(seedHostA, "-role", "witness", "-node-id", "witness", "-bind", "192.168.10.13",
		"-peer", "hosta=192.168.10.11", "-peer", "hostb=192.168.10.12")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	cfg, err := config.Parse([]byte(stdout), "w.hcl")
	if err != nil || cfg.Role != config.RoleWitness || cfg.VRRP.Mode != config.VRRPOff {
		t.Errorf("witness output: %v %+v", err, cfg)
	}
}

func TestImportUsageAndBrokenInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unbalanced := write("unbalanced.conf", "vrrp_instance V {\n  state BACKUP\n")
	badNumber := write("badnum.conf", "vrrp_instance V {\n  virtual_router_id 5x\n}\n")
	missingInclude := write("inc.conf", "include nothere.conf\n")
	two := write("two.conf", "vrrp_instance A {\n}\nvrrp_instance B {\n}\n")
	peers := []string{"-node-id", "hosta", "-peer", "hostb=192.168.10.12", "-peer", "w=192.168.10.13,witness"}
	tests := []struct {
		name string
		args []string
		code int
		frag string
	}{
		{"help", []string{"-h"}, exitOK, "usage: raftvip import-keepalived [flags] FILE"},
		{"no file", nil, exitUsage, "missing FILE"},
		{"two files", []string{seedHostA, seedHostA}, exitUsage, "unexpected argument"},
		{"unreadable file", []string{filepath.Join(dir, "absent.conf")}, exitUsage, "absent.conf: cannot read: no such file or directory"},
		{"unbalanced braces", append([]string{unbalanced}, peers...), exitUsage, unbalanced + ":1:17: unbalanced braces"},
		{"bad number", append([]string{badNumber}, peers...), exitUsage, badNumber + `:2:21: virtual_router_id: "5x" is not a whole number`},
		{"missing include", append([]string{missingInclude}, peers...), exitUsage, missingInclude + `:1:9: include "nothere.conf": no such file`},
		{"two instances", append([]string{two}, peers...), exitUsage, two + ":3:1: 2 vrrp_instance blocks"},
		{"missing peers", []string{seedHostA, "-node-id", "hosta"}, exitUsage, "give the other 2 with -peer ID=HOST:PORT[,ROLE]"},
		{"bad peer flag", []string{seedHostA, "-peer", "hostb"}, exitUsage, `-peer "hostb": want ID=HOST:PORT[,ROLE]`},
		{"bad mode", append([]string{seedHostA, "-vrrp-mode", "loud"}, peers...), exitUsage, `-vrrp-mode "loud"`},
		{"unwritable output", append([]string{seedHostA, "-o", filepath.Join(dir, "no", "such", "dir", "x.hcl")}, peers...), exitFailure, "writing "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runImportCLI(tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.frag) {
				t.Errorf("exit %d (want %d), stderr %q, want it to contain %q", code, tt.code, stderr, tt.frag)
			}
			if tt.code != exitOK && stdout != "" {
				t.Errorf("stdout %q on failure, want nothing", stdout)
			}
		})
	}
}

func TestImportPlaceholdersAndNotes(t *testing.T) {
	code, stdout, stderr := runImportCLI(seedHostA, "-node-id", "hosta", "-allow-placeholders", "-mysql-dsn", "raftvip:s3cr3t@tcp(127.0.0.1:3306)/")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := config.Parse([]byte(stdout), "p.hcl"); err != nil {
		t.Errorf("output does not parse: %v", err)
	}
	if !strings.Contains(stderr, "note: 2 placeholder peer(s)") {
		t.Errorf("stderr %q, want a note about placeholders", stderr)
	}
	if strings.Contains(stderr, "s3cr3t") {
		t.Errorf("stderr shows the DSN password: %q", stderr)
	}
}
