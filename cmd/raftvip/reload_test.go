package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
)

func TestReload(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "db.hcl")
	os.WriteFile(path, src, 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checker, err := mysqlcheck.New(mysqlcheck.Config{DSN: cfg.MySQL.DSN, Interval: cfg.MySQL.Interval}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})
	a := agent.New(agent.Options{NodeID: cfg.NodeID, Role: cfg.Role}, nil, fsm.New(), nil, nil, nil, log)
	r := &reloader{path: path, cur: cfg, log: log, checker: checker, agent: a}

	edit := func(pairs ...string) {
		s := string(src)
		for i := 0; i < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("example config lacks %q", pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		os.WriteFile(path, []byte(s), 0o600)
	}
	edit(`interval = "250ms"`, `interval = "1s"`,
		`fail_after = "1500ms"`, `fail_after = "2s"`,
		`replication_interval = "3s"`, `replication_interval = "1s"`,
		`expect   = "1"`, `expect   = "0"`,
		`garp_count    = 3`, `garp_count    = 4`,
		`lease         = "2s"`, `lease         = "3s"`,
		`bind     = "10.99.0.11:7400"`, `bind     = "0.0.0.0:7400"`,
		`log_level = "debug"`, `log_level = "warn"`,
		`preempt   = true`, `preempt   = false`,
		`preferred = "hosta"`, `preferred = ""`)
	applied, refused, err := r.reload()
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(applied, "; ")
	for _, want := range []string{"log_level=warn", "mysql expect=\"0\" interval=1s fail_after=2s replication_interval=1s", "garp_count=4", "failover preempt=false"} {
		if !strings.Contains(all, want) {
			t.Errorf("applied %q lacks %q", all, want)
		}
	}
	if got := strings.Join(refused, ","); !strings.Contains(got, "bind") || !strings.Contains(got, "vip.lease") {
		t.Errorf("not applied = %q, want bind and vip.lease", got)
	}
	if !log.IsWarn() || log.IsInfo() {
		t.Error("log level not changed to warn")
	}
	// The running config keeps the old bind and lease, so a second reload
	// of the same file reports them again and applies nothing new.
	if r.cur.Bind != "10.99.0.11:7400" || r.cur.VIP.Lease.String() != "2s" || r.cur.MySQL.Interval.String() != "1s" {
		t.Errorf("running config after reload: bind %s lease %s interval %s", r.cur.Bind, r.cur.VIP.Lease, r.cur.MySQL.Interval)
	}
	applied, refused, _ = r.reload()
	if len(applied) != 0 || len(refused) != 2 {
		t.Errorf("second reload: applied %v refused %v", applied, refused)
	}

	// The data-safety settings need a restart: reported, not claimed as
	// applied, and the running config keeps them. (edit starts from the
	// example again: bind and lease are back to the running values.)
	edit(`max_lag            = "5s"`, `max_lag            = "30s"`,
		`kill_sessions      = true`, `kill_sessions      = false`,
		`fence_table = "raftvip.fence"`, `fence_table = "ops.fence"`,
		`interval = "250ms"`, `interval = "2s"`)
	applied, refused, _ = r.reload()
	if got := strings.Join(refused, ","); got != "failover.max_lag,failover.kill_sessions,mysql.fence_table" {
		t.Errorf("data-safety change: not applied = %q, want the three changed settings", got)
	}
	if got := strings.Join(applied, "; "); !strings.Contains(got, "interval=2s") || strings.Contains(got, "max_lag") ||
		strings.Contains(got, "kill_sessions") || strings.Contains(got, "fence") {
		t.Errorf("data-safety change: applied %q, want the mysql interval and none of the data-safety settings", got)
	}
	if r.cur.Failover.MaxLag.String() != "5s" || !r.cur.Failover.KillSessions || r.cur.MySQL.FenceTable != "raftvip.fence" || r.cur.MySQL.Interval.String() != "2s" {
		t.Errorf("running config after reload: failover %+v fence_table %q interval %s", r.cur.Failover, r.cur.MySQL.FenceTable, r.cur.MySQL.Interval)
	}

	// Set up once at start: reported as needing a restart (the metrics
	// listener stayed on its old address before; issue 12's review).
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(b, []byte("metrics_addr = \"127.0.0.1:9273\"\ncpu_priority = \"realtime\"\n")...), 0o600)
	applied, refused, _ = r.reload()
	if got := strings.Join(refused, ","); !strings.HasPrefix(got, "metrics_addr,cpu_priority,") {
		t.Errorf("metrics_addr and cpu_priority changed: not applied = %q, want both", got)
	}
	if r.cur.MetricsAddr != "" || r.cur.CPUPriority != "high" {
		t.Errorf("running config after reload: metrics_addr %q cpu_priority %q, want the running values", r.cur.MetricsAddr, r.cur.CPUPriority)
	}

	// A broken file changes nothing.
	os.WriteFile(path, []byte("node_id = \n"), 0o600)
	before := r.cur
	if _, _, err := r.reload(); err == nil || r.cur != before {
		t.Fatalf("broken config: err %v, config replaced %v", err, r.cur != before)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatal("reload logged the MySQL password")
	}
}

// Password rotation (issue 8, case 20): SIGHUP applies a rewritten dsn_file
// (or a new dsn) without a restart, and the reload line lists only what
// changed, never the password.
func TestReloadRotatesDSN(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dsnPath := filepath.Join(dir, "mysql.dsn")
	const oldPW, newPW = "0ld-Pa55-x1", "n3w-Pa55-y2"
	os.WriteFile(dsnPath, []byte("raftvip:"+oldPW+"@tcp(127.0.0.1:3306)/\n"), 0o600)
	const dsnLine = `dsn      = "raftvip:s3cret@tcp(127.0.0.1:3306)/"`
	if !strings.Contains(string(src), dsnLine) {
		t.Fatalf("example config lacks %q", dsnLine)
	}
	path := filepath.Join(dir, "db.hcl")
	os.WriteFile(path, []byte(strings.Replace(string(src), dsnLine, `dsn_file = "mysql.dsn"`, 1)), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checker, err := mysqlcheck.New(mysqlcheck.Config{DSN: cfg.MySQL.DSN, Query: cfg.MySQL.Query, Interval: cfg.MySQL.Interval,
		Timeout: cfg.MySQL.Timeout, Fall: cfg.MySQL.Fall, Rise: cfg.MySQL.Rise}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})
	a := agent.New(agent.Options{NodeID: cfg.NodeID, Role: cfg.Role}, nil, fsm.New(), nil, nil, nil, log)
	r := &reloader{path: path, cur: cfg, log: log, checker: checker, agent: a}

	// Only the password changes.
	os.WriteFile(dsnPath, []byte("raftvip:"+newPW+"@tcp(127.0.0.1:3306)/\n"), 0o600)
	applied, refused, err := r.reload()
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) != 0 || len(applied) != 1 || applied[0] != "mysql dsn (password)" {
		t.Errorf("password rotation: applied %q, not applied %q; want only \"mysql dsn (password)\"", applied, refused)
	}
	if r.cur.MySQL.DSN != "raftvip:"+newPW+"@tcp(127.0.0.1:3306)/" {
		t.Error("the running config keeps the old DSN")
	}

	// The DSN moves to the socket, with the same password: the line says so.
	os.WriteFile(dsnPath, []byte("raftvip:"+newPW+"@unix(/run/mysqld/mysqld.sock)/\n"), 0o600)
	applied, refused, _ = r.reload()
	if len(refused) != 0 || len(applied) != 1 || applied[0] != "mysql dsn (server tcp:127.0.0.1:3306 -> unix:/run/mysqld/mysqld.sock)" {
		t.Errorf("server change: applied %q, not applied %q", applied, refused)
	}
	// Nothing changed: nothing applied.
	applied, refused, _ = r.reload()
	if len(applied) != 0 || len(refused) != 0 {
		t.Errorf("unchanged file: applied %q, not applied %q", applied, refused)
	}
	for _, pw := range []string{oldPW, newPW} {
		if strings.Contains(logs.String(), pw) {
			t.Fatalf("reload logged a MySQL password:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "mysql dsn (password)") {
		t.Errorf("the reload log line does not name the change:\n%s", logs.String())
	}
}

// The notify block is read at start: a SIGHUP that changes it says it
// needs a restart and keeps the running one.
func TestReloadNotifyNeedsRestart(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "db.hcl")
	write := func(timeout string) {
		os.WriteFile(path, append(append([]byte(nil), src...), fmt.Sprintf("notify {\n  notify  = %q\n  timeout = %q\n}\n", script, timeout)...), 0o600)
	}
	write("5s")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checker, err := mysqlcheck.New(mysqlcheck.Config{DSN: cfg.MySQL.DSN, Interval: cfg.MySQL.Interval}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := hclog.NewNullLogger()
	a := agent.New(agent.Options{NodeID: cfg.NodeID, Role: cfg.Role}, nil, fsm.New(), nil, nil, nil, log)
	r := &reloader{path: path, cur: cfg, log: log, checker: checker, agent: a}
	write("20s")
	_, refused, err := r.reload()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(refused, ","); got != "notify" || r.cur.Notify.Timeout.String() != "5s" {
		t.Errorf("not applied %q, running timeout %s; want notify refused and 5s kept", got, r.cur.Notify.Timeout)
	}
}
