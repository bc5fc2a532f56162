package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 9: validate and agent refuse (exit 2) a config or DSN file that
// group or others may read, naming the file, its mode and the fix.
func TestValidateAndAgentRefuseReadableSecrets(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "config", "testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "raftvip.hcl")
	if err := os.WriteFile(cfg, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"validate", "agent"} {
		code, stdout, stderr := runCLI(cmd, "-config", cfg)
		for _, want := range []string{cfg + ": mode 0644: readable by group and others", "chmod 600 " + cfg} {
			if code != exitUsage || !strings.Contains(stderr, want) {
				t.Errorf("%s with a 0644 config: code %d, stdout %q, stderr %q; want 2 and %q", cmd, code, stdout, stderr, want)
			}
		}
		if strings.Contains(stdout+stderr, "s3cret") {
			t.Errorf("%s printed the password", cmd)
		}
	}

	// The DSN file: never for group or others, even with admin_group.
	dsn := filepath.Join(dir, "mysql.dsn")
	if err := os.WriteFile(dsn, []byte("raftvip:s3cret@tcp(127.0.0.1:3306)/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dsn, 0o640)
	text := strings.Replace(string(src), `dsn      = "raftvip:s3cret@tcp(127.0.0.1:3306)/"`, `dsn_file = "mysql.dsn"`, 1)
	if text == string(src) {
		t.Fatal("example-db.hcl has no inline dsn to replace")
	}
	os.WriteFile(cfg, []byte(text), 0o600)
	os.Chmod(cfg, 0o600)
	code, _, stderr := runCLI("validate", "-config", cfg)
	if code != exitUsage || !strings.Contains(stderr, dsn+": mode 0640: readable by group") || !strings.Contains(stderr, "chmod 600 "+dsn) {
		t.Errorf("validate with a 0640 dsn_file: code %d, stderr %q", code, stderr)
	}
	os.Chmod(dsn, 0o600)
	if code, _, stderr := runCLI("validate", "-config", cfg); code != exitOK {
		t.Errorf("validate with private files: code %d, stderr %q", code, stderr)
	}
}
