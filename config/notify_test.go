package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func notifyScript(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func TestNotifyBlock(t *testing.T) {
	dir := t.TempDir()
	m := notifyScript(t, dir, "to_master.sh", 0o755)
	b := notifyScript(t, dir, "to_backup.sh", 0o700)
	n := notifyScript(t, dir, "notify.sh", 0o750)
	src := base + `notify {
  instance      = "VI_1"
  notify_master = "` + m + `"
  notify_backup = "` + b + ` backup 'two words'"
  notify        = "` + n + `"
  fifo          = "` + filepath.Join(dir, "n.fifo") + `"
  timeout       = "3s"
  webhook       = "https://user:pw@hooks.example.com/x?token=s3cret"
}
`
	cfg, err := parse([]byte(src), "n.hcl")
	if err != nil {
		t.Fatal(err)
	}
	want := &Notify{Instance: "VI_1", Master: []string{m}, Backup: []string{b, "backup", "two words"}, Notify: []string{n},
		FIFO: filepath.Join(dir, "n.fifo"), Timeout: 3 * time.Second, Webhook: "https://user:pw@hooks.example.com/x?token=s3cret"}
	if !reflect.DeepEqual(cfg.Notify, want) {
		t.Errorf("Notify = %+v, want %+v", cfg.Notify, want)
	}
	sum := fmtAny(cfg.Summary())
	if strings.Contains(sum, "s3cret") || strings.Contains(sum, "pw@") || !strings.Contains(sum, "hooks.example.com/x") {
		t.Errorf("Summary shows the webhook's secrets or not the webhook: %s", sum)
	}

	// Defaults; without the block nothing is notified.
	cfg, err = parse([]byte(base+"notify {\n  notify = \""+n+"\"\n}\n"), "n.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Notify.Instance != DefaultNotifyInstance || cfg.Notify.Timeout != DefaultNotifyTimeout {
		t.Errorf("defaults: %+v", cfg.Notify)
	}
	cfg, err = parse([]byte(base), "n.hcl")
	if err != nil || cfg.Notify != nil {
		t.Errorf("no block: %v %+v", err, cfg.Notify)
	}
}

func TestNotifyErrors(t *testing.T) {
	dir := t.TempDir()
	ok := notifyScript(t, dir, "ok.sh", 0o755)
	noexec := notifyScript(t, dir, "noexec.sh", 0o644)
	gw := notifyScript(t, dir, "gw.sh", 0o775)
	ww := notifyScript(t, dir, "ww.sh", 0o757)
	notFIFO := notifyScript(t, dir, "plain", 0o600)
	fifo := filepath.Join(dir, "real.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	block := func(body string) string { return base + "notify {\n" + body + "\n}\n" }
	for _, tc := range []struct {
		name, src, pos, frag string
	}{
		{"relative", block(`  notify_master = "to_master.sh"`), "n.hcl:25:3", `notify.notify_master: script "to_master.sh" is not an absolute path`},
		{"missing", block(`  notify_backup = "` + dir + `/nope.sh arg"`), "n.hcl:25:3", `notify.notify_backup: script "` + dir + `/nope.sh": no such file or directory`},
		{"not executable", block(`  notify_fault = "` + noexec + `"`), "n.hcl:25:3", `notify.notify_fault: script "` + noexec + `" is not executable (mode 0644)`},
		{"group-writable", block(`  notify_stop = "` + gw + `"`), "n.hcl:25:3", `notify.notify_stop: script "` + gw + `" is writable by group (mode 0775)`},
		{"world-writable", block(`  notify = "` + ww + `"`), "n.hcl:25:3", `notify.notify: script "` + ww + `" is writable by others (mode 0757)`},
		{"directory", block(`  notify = "` + dir + `"`), "n.hcl:25:3", `is a directory, not a file`},
		{"unclosed quote", block(`  notify = "` + ok + ` 'a b"`), "n.hcl:25:3", `has an unclosed ' quote`},
		{"empty", block(`  notify_master = ""`), "n.hcl:25:3", `notify.notify_master must not be empty`},
		{"timeout zero", block(`  timeout = "0s"`), "n.hcl:25:3", `notify.timeout = "0s" must be > 0`},
		{"timeout number", block(`  timeout = 10`), "n.hcl:25:3", `notify.timeout: durations are strings`},
		{"webhook scheme", block(`  webhook = "ftp://h/x?token=s3cret"`), "n.hcl:25:3", `notify.webhook: "ftp://h/x?****": want an http:// or https:// URL`},
		{"webhook no host", block(`  webhook = "https:///x"`), "n.hcl:25:3", `notify.webhook: "https:///x" has no host`},
		{"fifo relative", block(`  fifo = "n.fifo"`), "n.hcl:25:3", `notify.fifo: "n.fifo" is not an absolute path`},
		{"fifo not a fifo", block(`  fifo = "` + notFIFO + `"`), "n.hcl:25:3", `exists and is not a FIFO (regular file)`},
		{"instance quote", block(`  instance = "VI\"1"`), "n.hcl:25:3", `notify.instance: "VI\"1" must not hold a double quote`},
		{"unknown key", block(`  notify_master_rx_lower_pri = "` + ok + `"`), "n.hcl:25:3", `An argument named "notify_master_rx_lower_pri" is not expected here`},
		{"twice", base + "notify {\n}\nnotify {\n}\n", "n.hcl:26:1", "only one notify block is allowed (the first is at n.hcl:24:1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse([]byte(tc.src), "n.hcl")
			if err == nil {
				t.Fatal("accepted")
			}
			found := false
			for _, e := range err.(*Errors).List {
				if e.Error() == tc.pos+": "+e.Msg && strings.Contains(e.Msg, tc.frag) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s: ...%s...; got\n%v", tc.pos, tc.frag, err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the webhook's token: %v", err)
			}
		})
	}
	// A real FIFO is fine.
	if _, err := parse([]byte(block(`  fifo = "`+fifo+`"`)), "n.hcl"); err != nil {
		t.Errorf("an existing FIFO: %v", err)
	}
}

func TestNotifyOnWitnessWarns(t *testing.T) {
	w, err := os.ReadFile(filepath.Join("testdata", "example-witness.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := string(w) + "notify {\n  notify = \"" + notifyScript(t, dir, "n.sh", 0o755) + "\"\n}\n"
	cfg, err := Parse([]byte(src), "w.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Notify != nil {
		t.Errorf("a witness got a Notify: %+v", cfg.Notify)
	}
	found := false
	for _, x := range cfg.Warnings {
		found = found || strings.Contains(x.Msg, "notify: a witness never holds the VIP")
	}
	if !found {
		t.Errorf("no warning about notify on a witness: %v", cfg.Warnings)
	}
}

func TestSplitCommand(t *testing.T) {
	for in, want := range map[string][]string{
		"/a/b":                    {"/a/b"},
		"  /a/b   x\ty  ":         {"/a/b", "x", "y"},
		`/a/b 'two words' "x y"z`: {"/a/b", "two words", "x yz"},
		`/a/b ''`:                 {"/a/b", ""},
	} {
		got, err := SplitCommand(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestNotifyDocValidates: docs/notify.md's notify block is valid once its
// scripts exist (the paths are pointed at executables made here).
func TestNotifyDocValidates(t *testing.T) {
	blocks, lines := hclBlocks(readDoc(t, "docs/notify.md"))
	if len(blocks) == 0 {
		t.Fatal("docs/notify.md has no hcl block: is the extraction broken?")
	}
	dir := t.TempDir()
	script := regexp.MustCompile(`"/etc/keepalived/([\w.]+)"`)
	for i, b := range blocks {
		for _, m := range script.FindAllStringSubmatch(b, -1) {
			notifyScript(t, dir, m[1], 0o755)
		}
		b = script.ReplaceAllString(b, `"`+dir+`/$1"`)
		b = strings.ReplaceAll(b, "/run/raftvip/", dir+"/")
		cfg, err := parse([]byte(base+b), "docs/notify.md")
		if err != nil {
			t.Errorf("the hcl block at docs/notify.md:%d does not validate:\n%v", lines[i], err)
			continue
		}
		if cfg.Notify == nil || cfg.Notify.Instance != "VI_1" || cfg.Notify.Notify == nil {
			t.Errorf("docs/notify.md:%d: %+v", lines[i], cfg.Notify)
		}
	}
}
