package keepalived

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// parse parses src as "k.conf" and fails the test on errors.
func parse(t *testing.T, src string) *Tree {
	t.Helper()
	tr, err := Parse([]byte(src), "k.conf")
	if err != nil {
		t.Fatalf("Parse: %v\nsource:\n%s", err, src)
	}
	return tr
}

// shape renders nodes as "kw arg arg { ... }" lines for comparison.
func shape(nodes []*Node) []string {
	var out []string
	for _, n := range nodes {
		s := strings.Join(append([]string{n.Keyword}, n.Args...), "|")
		if n.HasBlock {
			s += " {" + strings.Join(shape(n.Block), "; ") + "}"
		}
		out = append(out, s)
	}
	return out
}

func TestParseShapes(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"hash and bang comments",
			"# whole line\n! whole line too\nrouter_id a # trailing\nsmtp_server b ! trailing\n  ! indented\n",
			[]string{"router_id|a", "smtp_server|b"}},
		{"comment inside a word ends it, as in keepalived 2.x",
			"auth_pass ab#cd\nx y!z\n",
			[]string{"auth_pass|ab", "x|y"}},
		{"escaped comment characters are kept",
			`auth_pass ab\#cd\!e` + "\n",
			[]string{`auth_pass|ab#cd!e`}},
		{"comment characters inside quotes are kept",
			`script "/bin/check # not a comment ! either"` + "\n",
			[]string{"script|/bin/check # not a comment ! either"}},
		{"quoted words keep spaces and lose quotes",
			`notify "/usr/local/bin/notify.sh  a b" root` + "\n",
			[]string{"notify|/usr/local/bin/notify.sh  a b|root"}},
		{"a quote ends an unquoted word",
			`x ab"c d"e` + "\n",
			[]string{"x|ab|c d|e"}},
		{"empty quoted word",
			`x ""` + "\n",
			[]string{"x|"}},
		{"brace on the keyword line",
			"vrrp_instance VI_1 {\n  state BACKUP\n}\n",
			[]string{"vrrp_instance|VI_1 {state|BACKUP}"}},
		{"brace on the next line",
			"vrrp_instance VI_1\n{\n  state BACKUP\n}\n",
			[]string{"vrrp_instance|VI_1 {state|BACKUP}"}},
		{"brace on the next line after a comment line",
			"vrrp_instance VI_1 # the instance\n# more words\n{\n  state BACKUP\n}\n",
			[]string{"vrrp_instance|VI_1 {state|BACKUP}"}},
		{"whole block on one line",
			"track_script { chk_a chk_b }\n",
			[]string{"track_script {chk_a|chk_b}"}},
		{"closing brace after content, and two on a line",
			"vrrp_instance V {\n authentication {\n  auth_type PASS\n  auth_pass 1111 }}\n",
			[]string{"vrrp_instance|V {authentication {auth_type|PASS; auth_pass|1111}}"}},
		{"braces glued to words",
			"a{b}c{d}\n",
			[]string{"a {b}", "c {d}"}},
		{"braces inside quotes do not split",
			`script "echo {x}"` + "\n",
			[]string{"script|echo {x}"}},
		{"empty block",
			"virtual_ipaddress {\n}\n",
			[]string{"virtual_ipaddress {}"}},
		{"CRLF line ends and tabs",
			"global_defs {\r\n\trouter_id\tX\r\n}\r\n",
			[]string{"global_defs {router_id|X}"}},
		{"unknown keywords are kept",
			"frobnicate 1 2 {\n  deeper { x }\n}\n",
			[]string{"frobnicate|1|2 {deeper {x}}"}},
		{"nested blocks in file order",
			"global_defs {\n notification_email {\n  a@b\n  c@d\n }\n router_id R\n}\nvrrp_script s {\n script x\n}\n",
			[]string{"global_defs {notification_email {a@b; c@d}; router_id|R}", "vrrp_script|s {script|x}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shape(parse(t, tt.src).Nodes)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParsePositions(t *testing.T) {
	src := "global_defs {\n    router_id   R1 # x\n}\nvrrp_instance V\n{ state BACKUP }\n"
	tr := parse(t, src)
	g := tr.Nodes[0]
	if g.Pos != (Pos{"k.conf", 1, 1}) || g.End != (Pos{"k.conf", 3, 1}) {
		t.Errorf("global_defs at %v, end %v", g.Pos, g.End)
	}
	r := g.Block[0]
	if r.Pos != (Pos{"k.conf", 2, 5}) || r.ArgPos[0] != (Pos{"k.conf", 2, 17}) {
		t.Errorf("router_id at %v, its value at %v; want 2:5 and 2:17", r.Pos, r.ArgPos[0])
	}
	st := tr.Nodes[1].Block[0]
	if st.Pos != (Pos{"k.conf", 5, 3}) || st.ArgPos[0] != (Pos{"k.conf", 5, 9}) {
		t.Errorf("state at %v, value at %v; want 5:3 and 5:9", st.Pos, st.ArgPos[0])
	}
	// A column after an escaped '#' still counts the backslash.
	tr = parse(t, `a\#b c`)
	if got := tr.Nodes[0]; got.Keyword != "a#b" || got.ArgPos[0].Col != 6 {
		t.Errorf("after an escape: %q at col %d, want a#b and col 6", got.Keyword, got.ArgPos[0].Col)
	}
}

// writeFiles creates files (path -> content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIncludes(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"keepalived.conf": "global_defs {\n include conf.d/global.inc\n}\ninclude conf.d/*.conf\ninclude extra/{b,a}.conf\n",
		// Relative to the including file's directory (conf.d), not the main file's.
		"conf.d/global.inc":   "router_id FROM_INCLUDE\ninclude sub/more.inc\n",
		"conf.d/sub/more.inc": "smtp_server 127.0.0.1\n",
		"conf.d/20-b.conf":    "vrrp_script b {\n script b\n}\n",
		"conf.d/10-a.conf":    "vrrp_script a {\n script a\n}\n",
		"conf.d/dir.conf/x":   "not read: the pattern matches a directory\n",
		"extra/a.conf":        "x_a\n",
		"extra/b.conf":        "x_b\n",
	})
	tr, err := ParseFile(filepath.Join(dir, "keepalived.conf"))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	want := []string{
		"global_defs {router_id|FROM_INCLUDE; smtp_server|127.0.0.1}",
		"vrrp_script|a {script|a}", // sorted: 10-a before 20-b
		"vrrp_script|b {script|b}",
		"x_b", // brace alternatives in the order written
		"x_a",
	}
	if got := shape(tr.Nodes); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Positions name the included file.
	if p := tr.Nodes[0].Block[1].Pos; p.File != filepath.Join(dir, "conf.d/sub/more.inc") || p.Line != 1 {
		t.Errorf("smtp_server at %v, want conf.d/sub/more.inc:1", p)
	}
	if len(tr.Files) != 7 || tr.Files[0] != filepath.Join(dir, "keepalived.conf") {
		t.Errorf("Files = %v, want the main file first and 6 includes", tr.Files)
	}
	if len(tr.Warnings) != 0 {
		t.Errorf("unexpected warnings %v", tr.Warnings)
	}
}

func TestIncludeWildcardWithoutMatchWarns(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"k.conf": "include conf.d/*.conf\nrouter_id x\n"})
	tr, err := ParseFile(filepath.Join(dir, "k.conf"))
	if err != nil {
		t.Fatalf("an empty conf.d is normal, got %v", err)
	}
	if len(tr.Warnings) != 1 || tr.Warnings[0].Pos.Line != 1 || !strings.Contains(tr.Warnings[0].Msg, "matches no file") {
		t.Errorf("warnings %v, want one at line 1 about no match", tr.Warnings)
	}
}

func TestExpandBraces(t *testing.T) {
	tests := map[string][]string{
		"a.conf":          {"a.conf"},
		"{a,b}.conf":      {"a.conf", "b.conf"},
		"x{a,b{c,d}}y":    {"xay", "xbcy", "xbdy"},
		"{,pre}fix":       {"fix", "prefix"},
		"{x}y":            {"{x}y"},
		"a{b":             {"a{b"},
		"{a,b}/{c,d}.cf":  {"a/c.cf", "a/d.cf", "b/c.cf", "b/d.cf"},
		"lone}brace{x,y}": {"lone}bracex", "lone}bracey"},
	}
	for in, want := range tests {
		if got := expandBraces(in); !reflect.DeepEqual(got, want) {
			t.Errorf("expandBraces(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"cycle-a.conf": "router_id a\ninclude cycle-b.conf\n",
		"cycle-b.conf": "\n\ninclude cycle-a.conf\n",
		"self.conf":    "include self.conf\n",
		"open.inc":     "vrrp_instance V {\n",
	})
	// A chain deeper than MaxIncludeDepth.
	for i := 0; i <= MaxIncludeDepth+1; i++ {
		writeFiles(t, dir, map[string]string{"deep" + string(rune('a'+i)) + ".conf": "include deep" + string(rune('a'+i+1)) + ".conf\n"})
	}
	writeFiles(t, dir, map[string]string{"deep" + string(rune('a'+MaxIncludeDepth+2)) + ".conf": "router_id end\n"})
	tests := []struct {
		name string
		file string // in dir; the source when src is ""
		src  string
		pos  string // "file:line:col" of the expected error, file relative to dir
		frag string
	}{
		{"extra closing brace", "", "router_id a\n}\n", "main.conf:2:1", "unbalanced braces: this '}' closes no block"},
		{"block never closed", "", "global_defs {\n router_id a\nvrrp_instance V {\n}\n", "main.conf:1:13", `the block of "global_defs" opened here is never closed`},
		{"brace without keyword", "", "global_defs {\n}\n{\n}\n", "main.conf:3:1", "this '{' follows no keyword"},
		{"brace after a block", "", "global_defs {\n}\n{ x }\n", "main.conf:3:1", "this '{' follows no keyword"},
		{"unterminated quote", "", "router_id a\nscript \"/bin/x\n", "main.conf:2:1", "unterminated quote"},
		{"include missing", "", "router_id a\n  include nothere.conf\n", "main.conf:2:11", `include "nothere.conf": no such file`},
		{"include with two words", "", "include a b\n", "main.conf:1:1", "include must stand alone on its line with exactly one file name or pattern"},
		{"include with a block", "", "includea x {\n}\n", "main.conf:1:1", "includea must stand alone"},
		{"include cycle", "cycle-a.conf", "", "cycle-b.conf:3:9", "include cycle: "},
		{"include of itself", "self.conf", "", "self.conf:1:9", "include cycle: "},
		{"include too deep", "deepa.conf", "", "deep" + string(rune('a'+MaxIncludeDepth)) + ".conf:1:9", "nested more than 8 deep"},
		{"block left open in an include", "", "include open.inc\n", "open.inc:1:17", "never closed"},
		{"parameter definition", "", "$IF=eth0\n", "main.conf:1:1", "parameter definitions ($NAME=...) are not supported"},
		{"conditional line", "", "@hosta router_id a\n", "main.conf:1:1", "conditional lines (@ID ...) are not supported"},
		{"seq", "", "~SEQ(i, 1, 3) x\n", "main.conf:1:1", "~SEQ is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.src != "" {
				main := filepath.Join(dir, "main.conf")
				_, err = Parse([]byte(tt.src), main)
			} else {
				_, err = ParseFile(filepath.Join(dir, tt.file))
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want *Errors, got %T %v", err, err)
			}
			want := filepath.Join(dir, tt.pos) + ": "
			for _, e := range errs.List {
				if strings.HasPrefix(e.Error(), want) && strings.Contains(e.Msg, tt.frag) {
					return
				}
			}
			t.Errorf("no error %q containing %q; got:\n%v", want, tt.frag, errs)
		})
	}
}

func TestParseFileUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.conf")
	_, err := ParseFile(path)
	if err == nil || err.Error() != path+": cannot read: no such file or directory" {
		t.Errorf("err = %v", err)
	}
}

func TestIncludeCycleNamesTheChain(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.conf": "include b.conf\n", "b.conf": "include a.conf\n"})
	_, err := ParseFile(filepath.Join(dir, "a.conf"))
	if err == nil {
		t.Fatal("cycle accepted")
	}
	a, b := fileKey(filepath.Join(dir, "a.conf")), fileKey(filepath.Join(dir, "b.conf"))
	if want := a + " -> " + b + " -> " + a; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not show the chain %q", err, want)
	}
}
