package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/agent"
	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/mysqlcheck"
)

// The old holder's server is opened with this node's credentials at the
// address its replication names; a socket DSN becomes TCP.
func TestRemoteDSN(t *testing.T) {
	for _, tc := range []struct{ dsn, addr, want string }{
		{"raftvip:pw@tcp(10.99.0.11:3306)/?timeout=1s", "10.99.0.12:3306", "raftvip:pw@tcp(10.99.0.12:3306)/?timeout=1s"},
		{"raftvip:p@ss@unix(/run/mysqld/mysqld.sock)/", "db-b.example:3307", "raftvip:p@ss@tcp(db-b.example:3307)/"},
	} {
		got, err := remoteDSN(tc.dsn, tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := mysql.ParseDSN(got)
		w, _ := mysql.ParseDSN(tc.want)
		if g.User != w.User || g.Passwd != w.Passwd || g.Net != w.Net || g.Addr != w.Addr || g.Timeout != w.Timeout {
			t.Errorf("remoteDSN(%s, %s) = %s, want %s", mysqlcheck.Redact(tc.dsn), tc.addr, mysqlcheck.Redact(got), mysqlcheck.Redact(tc.want))
		}
	}
	if _, err := remoteDSN("raftvip:s3cret@tcp(x", "10.99.0.12:3306"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad DSN: %v", err)
	}
	if _, err := remoteDSN("raftvip:pw@tcp(10.99.0.11:3306)/", ""); err == nil {
		t.Error("no address: no error")
	}
}

// A SIGHUP that rotates the DSN's password gives the fencing connection
// the new one too (else the first fence after the old password is gone
// would fail).
func TestReloadRotatesFencingDSN(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dsnPath := filepath.Join(dir, "mysql.dsn")
	os.WriteFile(dsnPath, []byte("raftvip:old-pw@tcp(127.0.0.1:3306)/\n"), 0o600)
	const dsnLine = `dsn      = "raftvip:s3cret@tcp(127.0.0.1:3306)/"`
	path := filepath.Join(dir, "db.hcl")
	os.WriteFile(path, []byte(strings.Replace(string(src), dsnLine, `dsn_file = "mysql.dsn"`, 1)), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checker, err := mysqlcheck.New(mysqlcheck.Config{DSN: cfg.MySQL.DSN, Interval: cfg.MySQL.Interval}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sdb, err := newServerDB(cfg.MySQL.DSN, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	a := agent.New(agent.Options{NodeID: cfg.NodeID, Role: cfg.Role}, nil, fsm.New(), nil, nil, nil, hclog.NewNullLogger())
	r := &reloader{path: path, cur: cfg, log: hclog.NewNullLogger(), checker: checker, agent: a, db: sdb}

	os.WriteFile(dsnPath, []byte("raftvip:new-pw@tcp(127.0.0.1:3306)/\n"), 0o600)
	if _, refused, err := r.reload(); err != nil || len(refused) != 0 {
		t.Fatalf("reload: %v, not applied %q", err, refused)
	}
	if sdb.dsn != "raftvip:new-pw@tcp(127.0.0.1:3306)/" {
		t.Errorf("the fencing connection keeps DSN %s", mysqlcheck.Redact(sdb.dsn))
	}
	rdsn, _ := remoteDSN(sdb.dsn, "10.99.0.12:3306")
	if !strings.Contains(rdsn, "new-pw") {
		t.Error("the old holder's server would be opened with the old password")
	}
}
