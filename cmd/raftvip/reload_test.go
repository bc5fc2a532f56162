package main

import (
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
	for _, want := range []string{"log_level=warn", "mysql interval=1s", "garp_count=4", "failover preempt=false"} {
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
