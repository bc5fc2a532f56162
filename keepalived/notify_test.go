package keepalived

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/config"
)

// notifyConf is testdata/notify.keepalived.conf with its /etc/keepalived/
// scripts made in a temporary directory (dir), when make is set.
func notifyConf(t *testing.T, make bool) (path, dir string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "notify.keepalived.conf"))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if make {
		for _, s := range []string{"to_master.sh", "to_backup.sh", "to_fault.sh", "to_stop.sh", "notify.sh"} {
			p := filepath.Join(dir, s)
			if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, 0o755)
		}
	}
	text := strings.ReplaceAll(string(src), "/etc/keepalived/", dir+"/")
	text = strings.ReplaceAll(text, "/run/keepalived/", dir+"/")
	path = filepath.Join(dir, "notify.keepalived.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

func TestImportNotify(t *testing.T) {
	path, dir := notifyConf(t, true)
	opts := goodOpts(t)
	opts.Bind = ""
	res, cfg := importFile(t, path, opts)
	want := &config.Notify{Instance: "VI_MYSQL",
		Master: []string{dir + "/to_master.sh", "writable"}, Backup: []string{dir + "/to_backup.sh"},
		Fault: []string{dir + "/to_fault.sh"}, Stop: []string{dir + "/to_stop.sh"}, Notify: []string{dir + "/notify.sh"},
		FIFO: dir + "/vrrp.fifo", Timeout: 10 * time.Second}
	if !reflect.DeepEqual(cfg.Notify, want) {
		t.Errorf("notify = %+v\nwant     %+v\n%s", cfg.Notify, want, res.HCL)
	}
	text := string(res.HCL)
	c := commentText(text)
	for _, w := range []string{
		"notify_backup " + dir + "/to_backup.sh root (notify.keepalived.conf:23) -> notify.notify_backup keepalived ran it as root; raftvip runs scripts as its own user (root)",
		"vrrp_notify_fifo " + dir + "/vrrp.fifo (notify.keepalived.conf:8) -> notify.fifo",
		"notify_master_rx_lower_pri " + dir + "/rx_lower.sh (notify.keepalived.conf:27) -> not supported",
		"enable_script_security (notify.keepalived.conf:7) -> not needed: raftvip always refuses notify scripts that group or others may write",
	} {
		if !strings.Contains(c, w) {
			t.Errorf("comments lack %q:\n%s", w, text)
		}
	}
	checkEverySettingReported(t, path, text)
	if len(res.Notes) != 0 {
		t.Errorf("notes %q, want none (every script exists)", res.Notes)
	}
}

// On a host where the scripts are not (yet), the import still writes them,
// with a note per script; `raftvip validate` then says the same.
func TestImportNotifyMissingScripts(t *testing.T) {
	path, dir := notifyConf(t, false)
	opts := goodOpts(t)
	opts.Bind = ""
	kc, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(kc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.HCL), `notify_master = "`+dir+`/to_master.sh writable"`) {
		t.Errorf("notify_master not written:\n%s", res.HCL)
	}
	if len(res.Notes) != 5 || !strings.Contains(res.Notes[0], `notify.notify_master: script "`+dir+`/to_master.sh": no such file or directory: fix it before`) {
		t.Errorf("notes %q, want one per missing script", res.Notes)
	}
}

// A relative script path is commented, not imported: raftvip runs scripts
// by absolute path.
func TestImportNotifyRelative(t *testing.T) {
	res, err := convertSrc(t, mini("  notify \"notify.sh a\"\n"), goodOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.HCL), "notify {") || !strings.Contains(commentText(string(res.HCL)), `notify "notify.sh a" (k.conf:4) -> not imported: raftvip runs a script by its absolute path`) {
		t.Errorf("relative notify:\n%s", res.HCL)
	}
}

// A sync group's notify scripts are named in its comment, not dropped
// silently.
func TestImportSyncGroupNotifyNamed(t *testing.T) {
	src := "vrrp_sync_group G {\n  group {\n    VI_1\n  }\n  notify_master /etc/keepalived/g.sh\n}\n" + mini("")
	res, err := convertSrc(t, src, goodOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := commentText(string(res.HCL)); !strings.Contains(c, "vrrp_sync_group G { ... } (k.conf:1) -> not imported: raftvip moves all vip.addresses together, one group by construction; its notify scripts are not imported either") {
		t.Errorf("sync group's notify not named:\n%s", res.HCL)
	}
}
