package dist

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// makeInstall runs the Makefile's install step (without the build: a stand-in
// binary) into destdir with the given make variables.
func makeInstall(t *testing.T, destdir string, vars ...string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed (scripts/install-deps.sh installs it)")
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "raftvip"), []byte("#!/bin/sh\necho raftvip stand-in\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-C", "..", "--no-print-directory", "install-files", "BIN=" + bin, "DESTDIR=" + destdir}, vars...)
	out, err := exec.Command("make", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("not installed: %v", err)
	}
	return fi.Mode().Perm()
}

// make install honours PREFIX and DESTDIR, points the unit's ExecStart at
// the installed binary, and installs the config only where there is none.
func TestMakeInstall(t *testing.T) {
	dest := t.TempDir()
	makeInstall(t, dest) // PREFIX=/usr/local
	for path, want := range map[string]os.FileMode{
		"/usr/local/bin/raftvip":                                    0o755,
		"/etc/systemd/system/raftvip.service":                       0o644,
		"/etc/raftvip":                                              0o750,
		"/etc/raftvip/raftvip.hcl":                                  0o600,
		"/usr/local/share/doc/raftvip/README.md":                    0o644,
		"/usr/local/share/doc/raftvip/examples/example-witness.hcl": 0o644,
	} {
		if got := mode(t, filepath.Join(dest, path)); got != want {
			t.Errorf("%s: mode %04o, want %04o", path, got, want)
		}
	}
	u := parseUnit(t, filepath.Join(dest, "etc/systemd/system/raftvip.service"))
	if got := u.one(t, "Service", "ExecStart"); got != "/usr/local/bin/raftvip agent -config /etc/raftvip/raftvip.hcl" {
		t.Errorf("installed unit: ExecStart=%q", got)
	}
	example, _ := os.ReadFile(filepath.Join("..", "config", "testdata", "example-db.hcl"))
	conf := filepath.Join(dest, "etc/raftvip/raftvip.hcl")
	if got, _ := os.ReadFile(conf); string(got) != string(example) {
		t.Errorf("the installed config is not the db example")
	}

	// Again over an edited config: kept as it is.
	mine := []byte("# the admin's own config\n")
	if err := os.WriteFile(conf, mine, 0o600); err != nil {
		t.Fatal(err)
	}
	out := makeInstall(t, dest)
	if got, _ := os.ReadFile(conf); string(got) != string(mine) {
		t.Errorf("make install overwrote an existing config:\n%s", got)
	}
	if !strings.Contains(out, "kept the existing "+conf) {
		t.Errorf("make install does not say it kept the config:\n%s", out)
	}

	// A distribution's PREFIX=/usr: the unit goes to /lib/systemd/system.
	dest = t.TempDir()
	makeInstall(t, dest, "PREFIX=/usr")
	u = parseUnit(t, filepath.Join(dest, "lib/systemd/system/raftvip.service"))
	if got := u.one(t, "Service", "ExecStart"); got != "/usr/bin/raftvip agent -config /etc/raftvip/raftvip.hcl" {
		t.Errorf("PREFIX=/usr: ExecStart=%q", got)
	}
	mode(t, filepath.Join(dest, "usr/bin/raftvip"))
	mode(t, filepath.Join(dest, "etc/raftvip/raftvip.hcl"))
}
