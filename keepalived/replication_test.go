package keepalived

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/config"
)

// A tracked vrrp_script that checks replication is not silently replaced by
// SELECT 1 (issue 10): the output says that raftvip checks replication
// itself and sets failover.max_lag, from the script's threshold.
func TestImportReplicationCheck(t *testing.T) {
	// testdata/replication-check.keepalived.conf names its script where it
	// lives on the host; point it at the testdata copy.
	script, err := filepath.Abs(filepath.Join("testdata", "check_replication.sh"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("testdata", "replication-check.keepalived.conf"))
	if err != nil {
		t.Fatal(err)
	}
	const named = "/etc/keepalived/check_replication.sh"
	if !strings.Contains(string(src), named) {
		t.Fatalf("testdata lacks %s", named)
	}
	path := filepath.Join(t.TempDir(), "replication-check.keepalived.conf")
	os.WriteFile(path, []byte(strings.Replace(string(src), named, script, 1)), 0o600)

	opts := goodOpts(t)
	opts.Bind = ""
	res, cfg := importFile(t, path, opts)
	if cfg.Failover.MaxLag != 30*time.Second {
		t.Errorf("failover.max_lag = %v, want 30s (MAX_LAG=30 in the script)", cfg.Failover.MaxLag)
	}
	if cfg.MySQL.Query != config.DefaultQuery || cfg.MySQL.Interval != 2*time.Second {
		t.Errorf("mysql = %+v, want the first tracked script's check", cfg.MySQL)
	}
	text := string(res.HCL)
	c := commentText(text)
	for _, want := range []string{
		"keepalived: vrrp_script chk_repl (replication-check.keepalived.conf:14) -> it checks replication (SHOW SLAVE STATUS, in " + script + "): raftvip checks replication itself",
		"not promoted automatically",
		"max_lag from the script's threshold (" + script + ":4)",
		"vrrp_script chk_repl { ... } (replication-check.keepalived.conf:14) -> not imported: it checks replication (SHOW SLAVE STATUS), which raftvip does itself (failover.max_lag)",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("comments lack %q:\n%s", want, text)
		}
	}
	if !strings.Contains(text, `max_lag = "30s"`) {
		t.Errorf("no max_lag line in the failover block:\n%s", text)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "vrrp_script chk_repl") ||
		!strings.Contains(res.Notes[0], `failover.max_lag = "30s", the script's threshold at `+script+":4") ||
		!strings.Contains(res.Notes[0], "raftvip status") {
		t.Errorf("notes = %q, want one saying raftvip checks replication itself, with max_lag and where it came from", res.Notes)
	}
	checkEverySettingReported(t, path, text)
}

// replScript writes a check script and returns a keepalived.conf tracking
// it (as the only script: the mysql block maps it).
func replScript(t *testing.T, body string) (src, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "chk.sh")
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return "vrrp_script chk {\n  script \"" + path + "\"\n}\n" + mini("  track_script {\n    chk\n  }\n"), path
}

func TestReplicationThresholds(t *testing.T) {
	tests := []struct {
		name, body string
		lag        time.Duration // 0: not a replication check
		why        string        // for the default: why the script gave none
		at         int           // the threshold's line
	}{
		{"comparison", "#!/bin/sh\nd=$(mysql -e 'show slave status\\G' | awk '/Seconds_Behind_Master/ {print $2}')\nif [ \"$d\" -gt 120 ]; then exit 1; fi\n", 120 * time.Second, "", 3},
		{"awk comparison", "#!/bin/sh\nmysql -e 'SHOW REPLICA STATUS\\G' | awk '/Seconds_Behind_Source/ { if ($2 > 45) exit 1 }'\n", 45 * time.Second, "", 2},
		{"variable", "#!/bin/bash\nMAX_DELAY=\"15\" # seconds\ndelay=$(pt-heartbeat --check -D hb)\n[ \"${delay%.*}\" -lt \"$MAX_DELAY\" ]\n", 15 * time.Second, "", 2},
		{"threads only", "#!/bin/sh\nmysql -e 'SHOW SLAVE STATUS\\G' | grep -q 'Slave_SQL_Running: Yes'\n", config.DefaultMaxLag, "no lag threshold found in the script", 0},
		{"several thresholds", "#!/bin/sh\nlag=$(x)\n[ $lag -gt 10 ] && logger warn\n[ $lag -gt 60 ] && exit 1\n# Seconds_Behind_Master\n", config.DefaultMaxLag, "the script compares lag with several numbers (10, 60)", 0},
		{"no lag allowed", "#!/bin/sh\n[ \"$(mysql -e 'SHOW SLAVE STATUS\\G' | awk '/Seconds_Behind_Master/ {print $2}')\" -eq 0 ] || [ $lag -gt 0 ] && exit 1\n", config.DefaultMaxLag, "the script allows no lag at all (0 at", 0},
		{"threshold in a comment only", "#!/bin/sh\n# lag > 300 is bad, says the wiki\nmysql -e 'SHOW SLAVE STATUS' >/dev/null\n", config.DefaultMaxLag, "no lag threshold found", 0},
		{"port check", "#!/bin/bash\ncounter=$(netstat -na|grep \"LISTEN\"|grep \"3306\"|wc -l)\nif [ \"${counter}\" -eq 0 ]; then systemctl stop keepalived; fi\n", 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, path := replScript(t, tt.body)
			res, err := convertSrc(t, src, goodOpts(t))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(res.HCL, "r.hcl")
			if err != nil {
				t.Fatalf("%v\n%s", err, res.HCL)
			}
			c := commentText(string(res.HCL))
			if tt.lag == 0 {
				if cfg.Failover.MaxLag != config.DefaultMaxLag || strings.Contains(string(res.HCL), "max_lag") || len(res.Notes) != 0 {
					t.Errorf("not a replication check, but max_lag %v, notes %q:\n%s", cfg.Failover.MaxLag, res.Notes, res.HCL)
				}
				return
			}
			if cfg.Failover.MaxLag != tt.lag {
				t.Errorf("max_lag = %v, want %v:\n%s", cfg.Failover.MaxLag, tt.lag, res.HCL)
			}
			if !strings.Contains(string(res.HCL), "  max_lag = ") {
				t.Errorf("max_lag not written:\n%s", res.HCL)
			}
			if tt.why != "" && !strings.Contains(c, "max_lag is raftvip's default: "+tt.why) {
				t.Errorf("comments do not say %q:\n%s", tt.why, res.HCL)
			}
			if tt.at != 0 && !strings.Contains(c, "max_lag from the script's threshold ("+path+":"+string(rune('0'+tt.at))+")") {
				t.Errorf("comments do not name %s:%d:\n%s", path, tt.at, res.HCL)
			}
			if !strings.Contains(c, "This script checks replication") || !strings.Contains(c, "see failover.max_lag below") {
				t.Errorf("the query's comment does not say the script checked replication:\n%s", res.HCL)
			}
			if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "checks replication") {
				t.Errorf("notes = %q", res.Notes)
			}
		})
	}
}

// The command line alone can show a replication check; a script file that
// cannot be read is said to be unknown, with where to look.
func TestReplicationCommandLineAndUnreadable(t *testing.T) {
	src := "vrrp_script chk {\n  script \"/usr/bin/mysqlrpladmin --master=root@db1 --slaves=root@db2 health\"\n}\n" + mini("  track_script {\n    chk\n  }\n")
	res, err := convertSrc(t, src, goodOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(res.HCL, "r.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Failover.MaxLag != config.DefaultMaxLag || !strings.Contains(commentText(string(res.HCL)), "-> it checks replication (mysqlrpladmin, in its command line)") {
		t.Errorf("command line: max_lag %v:\n%s", cfg.Failover.MaxLag, res.HCL)
	}
	if len(res.Notes) != 1 {
		t.Errorf("notes = %q", res.Notes)
	}

	missing := filepath.Join(t.TempDir(), "check_slave.sh")
	src = "vrrp_script chk {\n  script \"/bin/sh " + missing + "\"\n}\n" + mini("  track_script {\n    chk\n  }\n")
	res, err = convertSrc(t, src, goodOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	c := commentText(string(res.HCL))
	if strings.Contains(c, "/bin/sh could not be read") {
		t.Errorf("the interpreter is reported as an unreadable script:\n%s", res.HCL)
	}
	if !strings.Contains(c, missing+" could not be read here (no such file or directory), so what it checks is unknown: if it checks replication, raftvip does that itself (failover.max_lag") ||
		strings.Contains(string(res.HCL), "max_lag =") || len(res.Notes) != 0 {
		t.Errorf("unreadable script: notes %q\n%s", res.Notes, res.HCL)
	}
}

// A missing program in a system directory is not reported as an unread
// script (the import may run on a host without the MySQL client).
func TestReplicationMissingProgram(t *testing.T) {
	if _, err := os.Stat("/usr/bin/no-such-mysqladmin"); err == nil {
		t.Skip("it exists")
	}
	src := "vrrp_script chk {\n  script \"/usr/bin/no-such-mysqladmin ping\"\n}\n" + mini("  track_script {\n    chk\n  }\n")
	res, err := convertSrc(t, src, goodOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := commentText(string(res.HCL)); strings.Contains(c, "could not be read") || strings.Contains(c, "max_lag") {
		t.Errorf("a missing program is reported:\n%s", res.HCL)
	}
}

// A witness's failover block carries the same max_lag as the db hosts'.
func TestReplicationWitness(t *testing.T) {
	src, _ := replScript(t, "#!/bin/sh\n[ $(mysql -e 'SHOW SLAVE STATUS\\G' | awk '/Seconds_Behind_Master/ {print $2}') -gt 20 ] && exit 1\n")
	opts := goodOpts(t)
	opts.Role, opts.NodeID, opts.Bind = config.RoleWitness, "witness", "10.99.0.13"
	opts.Peers = []Peer{{ID: "hosta", Address: "10.99.0.11:7400", Role: "db"}, {ID: "hostb", Address: "10.99.0.12:7400", Role: "db"}}
	res, err := convertSrc(t, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(res.HCL, "w.hcl")
	if err != nil {
		t.Fatalf("%v\n%s", err, res.HCL)
	}
	if cfg.Failover.MaxLag != 20*time.Second {
		t.Errorf("witness max_lag = %v, want 20s:\n%s", cfg.Failover.MaxLag, res.HCL)
	}
}
