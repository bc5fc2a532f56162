package config

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// CheckPrivate checks that the files holding secrets are private: the
// config file, mysql.dsn_file and tls.key_file must grant nothing to group
// or others, or anyone on the host could read the MySQL password or the
// node's key (and act as this node). One exception: with admin_group, the
// config file may be readable (not writable) by that group, since its
// members' CLI reads the admin socket from it, but only while the file
// holds no secret itself (no inline mysql.dsn with a password, no
// vrrp.auth_pass). The DSN file and the key never. `validate` and `agent`
// refuse to go on (exit 2) with every problem listed.
func CheckPrivate(cfg *Config) []Error {
	var out []Error
	check := func(path, what string, groupMayRead bool) {
		if path == "" {
			return
		}
		fi, err := os.Stat(path)
		if err != nil {
			return // Load read it; a file gone since is the next read's error
		}
		perm := fi.Mode().Perm()
		gid := -1
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			gid = int(st.Gid)
		}
		if perm&0o077 == 0 {
			return
		}
		if groupMayRead && perm&0o037 == 0 {
			if agid, err := GroupID(cfg.AdminGroup); err == nil && agid == gid {
				return
			}
		}
		fix := fmt.Sprintf("chmod 600 %s", shellQuote(path))
		if groupMayRead {
			fix += fmt.Sprintf(" (or, for admin_group to read it: chgrp %s %s && chmod 640 %s)", cfg.AdminGroup, shellQuote(path), shellQuote(path))
		}
		out = append(out, Error{File: path, Msg: fmt.Sprintf("mode %04o: %s, and it holds %s; fix: %s",
			perm, who(perm), what, fix)})
	}
	inline := inlineSecrets(cfg)
	what := "the agent's settings"
	if len(inline) > 0 {
		what = strings.Join(inline, " and ")
	}
	check(cfg.File, what, cfg.AdminGroup != "" && len(inline) == 0)
	if cfg.MySQL != nil {
		check(cfg.MySQL.DSNFile, "the MySQL DSN with its password", false)
	}
	if cfg.TLS != nil {
		check(cfg.TLS.KeyFile, "this node's TLS private key", false)
	}
	return out
}

// inlineSecrets names the secrets written in the config file itself.
func inlineSecrets(cfg *Config) []string {
	var s []string
	if cfg.MySQL != nil && cfg.MySQL.DSNFile == "" && cfg.MySQL.DSN != RedactDSN(cfg.MySQL.DSN) {
		s = append(s, "the MySQL password (mysql.dsn)")
	}
	if cfg.VRRP.AuthPass != "" {
		s = append(s, "the VRRP password (vrrp.auth_pass)")
	}
	return s
}

// who says what group and others may do, from the mode's bits: "readable
// by group and others", "writable by group".
func who(perm os.FileMode) string {
	var parts []string
	for _, c := range []struct {
		verb string
		bit  os.FileMode
	}{{"readable", 4}, {"writable", 2}, {"executable", 1}} {
		var by []string
		if perm&(c.bit<<3) != 0 {
			by = append(by, "group")
		}
		if perm&c.bit != 0 {
			by = append(by, "others")
		}
		if len(by) > 0 {
			parts = append(parts, c.verb+" by "+strings.Join(by, " and "))
		}
	}
	return strings.Join(parts, ", ")
}

// shellQuote quotes a path for the fix line when it needs it.
func shellQuote(s string) string {
	if strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
