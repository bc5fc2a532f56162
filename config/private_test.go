package config

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Issue 9: files holding secrets must be private; only the config file may
// be readable by admin_group, and only while it holds no secret itself.
func TestCheckPrivate(t *testing.T) {
	g, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
	if err != nil {
		t.Skipf("the test's own group has no name: %v", err)
	}
	own := g.Name // files this test creates belong to it
	dir := t.TempDir()
	file := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inlineDSN := &MySQL{DSN: "raftvip:s3cret@tcp(127.0.0.1:3306)/"}
	for _, tc := range []struct {
		name string
		cfg  func() *Config
		want []string // substrings of the one error; nil = none
	}{
		{"private config", func() *Config { return &Config{File: file("a.hcl", 0o600)} }, nil},
		{"config readable by others", func() *Config { return &Config{File: file("b.hcl", 0o644)} },
			[]string{"b.hcl", "mode 0644", "readable by group and others", "chmod 600 "}},
		{"config writable by group", func() *Config { return &Config{File: file("c.hcl", 0o620)} },
			[]string{"mode 0620", "writable by group", "chmod 600"}},
		{"admin_group may read a config without secrets", func() *Config {
			return &Config{File: file("d.hcl", 0o640), AdminGroup: own, MySQL: &MySQL{DSNFile: file("d.dsn", 0o600), DSN: "u:p@tcp(h:1)/"}}
		}, nil},
		{"admin_group but the config holds the password", func() *Config {
			return &Config{File: file("e.hcl", 0o640), AdminGroup: own, MySQL: inlineDSN}
		}, []string{"e.hcl", "mode 0640", "the MySQL password (mysql.dsn)", "chmod 600"}},
		{"admin_group but the config holds the VRRP password", func() *Config {
			return &Config{File: file("f.hcl", 0o640), AdminGroup: own, VRRP: VRRP{AuthPass: "1111"}}
		}, []string{"vrrp.auth_pass"}},
		{"admin_group may not write the config", func() *Config {
			return &Config{File: file("g.hcl", 0o660), AdminGroup: own}
		}, []string{"writable by group", "chgrp " + own}},
		{"dsn file readable by group, even with admin_group", func() *Config {
			return &Config{File: file("h.hcl", 0o600), AdminGroup: own, MySQL: &MySQL{DSNFile: file("h.dsn", 0o640)}}
		}, []string{"h.dsn", "mode 0640", "MySQL DSN", "chmod 600 "}},
		{"key readable by others", func() *Config {
			return &Config{File: file("i.hcl", 0o600), TLS: &TLS{KeyFile: file("i-key.pem", 0o604)}}
		}, []string{"i-key.pem", "mode 0604", "readable by others", "TLS private key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := CheckPrivate(tc.cfg())
			if tc.want == nil {
				if len(errs) != 0 {
					t.Fatalf("errors %v, want none", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one", errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0].Error(), w) {
					t.Errorf("%q lacks %q", errs[0].Error(), w)
				}
			}
		})
	}
}
