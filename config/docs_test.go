package config

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/internal/pki"
)

// docs are the files whose examples an operator copies.
var docs = []string{"README.md", "docs/migrating-from-keepalived.md", "docs/import-keepalived.md", "docs/lab.md", "docs/config-reference.md"}

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hclBlocks returns the ```hcl blocks of a Markdown text (indented ones in
// list items too, without their indent) and the line each starts on.
func hclBlocks(doc string) (blocks []string, lines []int) {
	var cur []string
	indent, start := "", 0
	in := false
	for i, l := range strings.Split(doc, "\n") {
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case !in && trimmed == "```hcl":
			in, indent, start, cur = true, l[:len(l)-len(trimmed)], i+2, nil
		case in && trimmed == "```":
			in = false
			blocks, lines = append(blocks, strings.Join(cur, "\n")+"\n"), append(lines, start)
		case in:
			cur = append(cur, strings.TrimPrefix(l, indent))
		}
	}
	return blocks, lines
}

// TestDocConfigsValidate parses every HCL example of the docs as `raftvip
// validate` would. A dsn_file is pointed at a file holding a DSN (the
// examples name /etc/raftvip/mysql.dsn, which the operator creates), and the
// lab's <dir> placeholder at a directory.
func TestDocConfigsValidate(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "mysql.dsn")
	if err := os.WriteFile(dsn, []byte("raftvip:pw@tcp(10.99.0.11:3306)/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dsnFile := regexp.MustCompile(`(?m)^(\s*dsn_file\s*=\s*)"[^"]*"`)
	// The tls files an example names (/etc/raftvip/tls/hosta.pem, the lab's
	// <dir>/tls/...) are made here as `raftvip tls init` makes them, and
	// the paths pointed at them by file name.
	certs := filepath.Join(dir, "certs")
	if err := pki.Init(certs, []string{"hosta", "hostb", "witness"}, nil); err != nil {
		t.Fatal(err)
	}
	tlsFile := regexp.MustCompile(`(?m)^(\s*(?:ca_file|cert_file|key_file)\s*=\s*)"(?:[^"]*/)?([^"/]*)"`)
	n := 0
	for _, name := range docs {
		blocks, lines := hclBlocks(readDoc(t, name))
		for i, b := range blocks {
			n++
			// Blank lines in front: problems are reported at the doc's own lines.
			src := strings.Repeat("\n", lines[i]-1) + dsnFile.ReplaceAllString(b, `${1}"`+dsn+`"`)
			src = tlsFile.ReplaceAllString(src, `${1}"`+certs+`/${2}"`)
			src = strings.ReplaceAll(src, "<dir>", dir)
			if _, err := Parse([]byte(src), name); err != nil {
				t.Errorf("the hcl example at %s:%d does not validate:\n%v", name, lines[i], err)
			}
		}
	}
	if n < 3 {
		t.Errorf("found %d hcl examples in %v, want at least 3 (README, import, lab): is the extraction broken?", n, docs)
	}
}

// TestDocMySQLExamplesAgree: in each doc, every DSN of the health check
// must reach a MySQL set up as the same doc says. A TCP DSN's host must be
// one that every bind-address shown listens on, and every CREATE USER host
// must admit a client from it; a socket DSN needs a user @'localhost' named
// beside it. (The
// README once had tcp(127.0.0.1) beside a bind-address without loopback: no
// node was ever healthy.)
func TestDocMySQLExamplesAgree(t *testing.T) {
	dsnRe := regexp.MustCompile(`\w+:[\w.]+@(tcp|unix)\(([^)]*)\)/`)
	bindRe := regexp.MustCompile("bind-address = ([0-9a-f.:,]+)")
	userRe := regexp.MustCompile(`CREATE USER '?raftvip'?@'([^']+)'`)
	localUser := regexp.MustCompile(`raftvip'?@'localhost'`)
	for _, name := range []string{"README.md", "docs/migrating-from-keepalived.md", "docs/import-keepalived.md"} {
		doc := readDoc(t, name)
		var binds [][]string
		for _, m := range bindRe.FindAllStringSubmatch(doc, -1) {
			binds = append(binds, strings.Split(strings.TrimRight(m[1], ","), ","))
		}
		var users []string
		for _, m := range userRe.FindAllStringSubmatch(doc, -1) {
			users = append(users, m[1])
		}
		dsns := dsnRe.FindAllStringSubmatch(doc, -1)
		if name != "docs/import-keepalived.md" && (len(dsns) == 0 || len(users) == 0) {
			t.Errorf("%s: found %d DSNs and %d CREATE USER: is the extraction broken?", name, len(dsns), len(users))
		}
		for _, d := range dsns {
			if d[1] == "unix" {
				if !localUser.MatchString(doc) {
					t.Errorf("%s: %s goes through the socket, but the doc names no user raftvip@'localhost' for it", name, d[0])
				}
				continue
			}
			host, _, err := net.SplitHostPort(d[2])
			if err != nil {
				t.Errorf("%s: %s: %v", name, d[0], err)
				continue
			}
			for _, b := range binds {
				if !contains(b, host) && !contains(b, "0.0.0.0") && !contains(b, "*") {
					t.Errorf("%s: %s dials %s, but bind-address = %s does not listen there", name, d[0], host, strings.Join(b, ","))
				}
			}
			for _, u := range users {
				if !hostMatches(u, host) {
					t.Errorf("%s: %s connects from %s, but CREATE USER raftvip@'%s' does not admit it", name, d[0], host, u)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

// hostMatches is MySQL's account host match for an IP client: % and _ as in
// LIKE. 'localhost' is for socket clients only: with skip-name-resolve a TCP
// client from 127.0.0.1 does not match it.
func hostMatches(pattern, ip string) bool {
	var re strings.Builder
	re.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(ip)
}

// TestPackageDocListsEveryKey: every key of every block (as Summary shows
// them, which mirrors the schema) is described in the package comment
// (doc.go), in that block's section, as a line "//\tKEY ...". A key added
// to the schema but not to the reference fails here.
func TestPackageDocListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	src, err := os.ReadFile(filepath.Join("testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(src, "example-db.hcl")
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = &TLS{} // example-db has none; its keys are documented too
	sections := regexp.MustCompile(`(?m)^// (\w+) (?:"<id>" )?blocks?[:,]`)
	starts := sections.FindAllStringSubmatchIndex(doc, -1)
	sectionOf := func(block string) string {
		for i, m := range starts {
			if doc[m[2]:m[3]] != block {
				continue
			}
			end := len(doc)
			if i+1 < len(starts) {
				end = starts[i+1][0]
			}
			return doc[m[0]:end]
		}
		return ""
	}
	n := 0
	for block, v := range cfg.Summary() {
		keys, ok := v.(map[string]any)
		if !ok {
			continue
		}
		sec := sectionOf(block)
		if sec == "" {
			t.Errorf("doc.go has no section for the %s block", block)
			continue
		}
		for key := range keys {
			n++
			if !regexp.MustCompile(`(?m)^//\t` + regexp.QuoteMeta(key) + `\s`).MatchString(sec) {
				t.Errorf("doc.go's %s block section does not describe %s (a line //\\t%s ...)", block, key, key)
			}
		}
	}
	if n < 30 {
		t.Errorf("checked %d keys: is the extraction broken?", n)
	}
}

// TestReplicationDocDefaults: the failover block docs/replication.md shows
// as the defaults is valid and is the defaults.
func TestReplicationDocDefaults(t *testing.T) {
	blocks, lines := hclBlocks(readDoc(t, "docs/replication.md"))
	if len(blocks) == 0 {
		t.Fatal("docs/replication.md has no hcl block: is the extraction broken?")
	}
	witness, err := os.ReadFile(filepath.Join("testdata", "example-witness.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		cfg, err := Parse(append(witness, b...), "docs/replication.md")
		if err != nil {
			t.Errorf("the hcl block at docs/replication.md:%d does not validate in a config:\n%v", lines[i], err)
			continue
		}
		if strings.Contains(b, "failover {") && cfg.Failover != defaultFailover {
			t.Errorf("docs/replication.md:%d shows %+v as the defaults; they are %+v", lines[i], cfg.Failover, defaultFailover)
		}
	}
}

// TestHealthDocMySQLBlocks: each mysql block of docs/health.md is valid in a
// db node's config, and the one that says it shows the defaults does.
func TestHealthDocMySQLBlocks(t *testing.T) {
	doc := readDoc(t, "docs/health.md")
	blocks, lines := hclBlocks(doc)
	if len(blocks) < 2 {
		t.Fatalf("docs/health.md has %d hcl blocks, want 2: is the extraction broken?", len(blocks))
	}
	example, err := os.ReadFile(filepath.Join("testdata", "example-db.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	mysqlBlock := regexp.MustCompile(`(?s)\nmysql \{.*?\n\}\n`)
	if !mysqlBlock.Match(example) {
		t.Fatal("example-db.hcl has no mysql block to replace")
	}
	dir := t.TempDir()
	dsn := filepath.Join(dir, "mysql.dsn")
	if err := os.WriteFile(dsn, []byte("raftvip:pw@tcp(10.99.0.11:3306)/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sawDefaults := false
	for i, b := range blocks {
		b = strings.ReplaceAll(b, "/etc/raftvip/mysql.dsn", dsn)
		cfg, err := Parse(mysqlBlock.ReplaceAll(example, []byte("\n"+b)), "docs/health.md")
		if err != nil {
			t.Errorf("the hcl block at docs/health.md:%d does not validate in a db config:\n%v", lines[i], err)
			continue
		}
		if strings.Contains(b, "fail_after") {
			sawDefaults = true
			m := *cfg.MySQL
			if m.Query != DefaultQuery || m.Interval != DefaultInterval || m.Timeout != DefaultTimeout ||
				m.Fall != DefaultFall || m.Rise != DefaultRise || m.FailAfter != DefaultFailAfter || m.Expect != "" ||
				m.ReplicationInterval != DefaultReplicationInterval {
				t.Errorf("docs/health.md:%d calls %+v the defaults", lines[i], m)
			}
		}
	}
	if !sawDefaults || !strings.Contains(doc, "These are the defaults") {
		t.Error("docs/health.md no longer shows the defaults block this test checks")
	}
}
