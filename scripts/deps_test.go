// Package scripts holds no code: its test checks that scripts/install-deps.sh
// installs every program the repository's Go code runs. A bare CI machine has
// only what that script installs, so a program the code starts but the list
// forgets fails there, not on the developer's machine that happens to have it.
package scripts

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// readDeps parses the deps='...' table of install-deps.sh: one
// "program package" pair a line, # comments and blank lines allowed.
func readDeps(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	deps := map[string]string{}
	in := false
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case !in && line == "deps='":
			in = true
			continue
		case !in:
			continue
		case line == "'":
			return deps, nil
		}
		if strings.ContainsRune(line, '\'') {
			// bash would end the table's string here.
			return nil, fmt.Errorf("%s:%d: no ' inside the deps table: %q", path, n, line)
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"program package\", got %q", path, n, line)
		}
		if p, dup := deps[f[0]]; dup {
			return nil, fmt.Errorf("%s:%d: program %s listed twice (also with %s)", path, n, f[0], p)
		}
		deps[f[0]] = f[1]
	}
	if !in {
		return nil, fmt.Errorf("%s: no deps='...' table", path)
	}
	return nil, fmt.Errorf("%s: deps table not closed by a line with a single '", path)
}

// runners are the calls that name a program to run, and which argument holds
// its name: the standard library's, and the repository's own helpers that
// look a tool up or run one (the lab's run and mustTool, the tests' lookTool).
var runners = map[string]int{
	"exec.Command":        0,
	"exec.CommandContext": 1,
	"exec.LookPath":       0,
	"run":                 1, // internal/lab: run(ctx, argv...)
	"mustTool":            0, // internal/lab
	"toolPath":            0, // internal/lab
	"lookTool":            1, // mysqlcheck tests: lookTool(t, name)
}

// use is one place the code runs a program.
type use struct {
	prog string
	pos  token.Position
}

// programsRun finds, in every Go file under root, the programs the code
// runs: string literals in a runner's program argument, the program after
// `ip netns exec NS`, and the lab's list of tools it checks for.
func programsRun(root string) ([]use, error) {
	var uses []use
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		lit := func(e ast.Expr) (string, bool) {
			bl, ok := e.(*ast.BasicLit)
			if !ok || bl.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(bl.Value)
			return s, err == nil
		}
		add := func(e ast.Expr) {
			if s, ok := lit(e); ok && s != "" && !strings.Contains(s, "/") {
				uses = append(uses, use{s, fset.Position(e.Pos())})
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				name := ""
				switch fn := n.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					if x, ok := fn.X.(*ast.Ident); ok {
						name = x.Name + "." + fn.Sel.Name
					}
				}
				if i, ok := runners[name]; ok && i < len(n.Args) {
					add(n.Args[i])
				}
				// ip netns exec NS PROG ...: PROG runs too.
				for i := 0; i+3 < len(n.Args); i++ {
					a, _ := lit(n.Args[i])
					b, _ := lit(n.Args[i+1])
					if a == "netns" && b == "exec" {
						add(n.Args[i+3])
					}
				}
			case *ast.ValueSpec:
				// internal/lab: var tools = []string{...}, checked before a lab starts.
				for i, id := range n.Names {
					if id.Name != "tools" || i >= len(n.Values) {
						continue
					}
					if cl, ok := n.Values[i].(*ast.CompositeLit); ok {
						for _, e := range cl.Elts {
							add(e)
						}
					}
				}
			}
			return true
		})
		return nil
	})
	return uses, err
}

func TestInstallDepsCoversProgramsRun(t *testing.T) {
	deps, err := readDeps("install-deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	uses, err := programsRun("..")
	if err != nil {
		t.Fatal(err)
	}
	// The scan must see the programs known to be run, or it sees nothing.
	seen := map[string][]string{}
	for _, u := range uses {
		seen[u.prog] = append(seen[u.prog], u.pos.String())
	}
	for _, p := range []string{"ip", "mariadbd", "keepalived", "mariadb-admin", "chromium"} {
		if seen[p] == nil {
			t.Errorf("scan found no use of %s: the scanner is broken", p)
		}
	}
	var missing []string
	for p, at := range seen {
		if _, ok := deps[p]; !ok {
			missing = append(missing, fmt.Sprintf("%s (run at %s)", p, strings.Join(at, ", ")))
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("scripts/install-deps.sh does not install %s: add a line \"PROGRAM DEBIAN-PACKAGE\" to its deps table", m)
	}
}

func TestReadDepsRejectsBadLines(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"no table":   "pkgs=(a b)\n",
		"unclosed":   "deps='\nip iproute2\n",
		"three":      "deps='\nip iproute2 extra\n'\n",
		"duplicated": "deps='\nip iproute2\nip other\n'\n",
		"quote":      "deps='\nip iproute2 # the lab's\n'\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readDeps(p); err == nil {
			t.Errorf("%s: readDeps accepted %q", name, body)
		}
	}
	p := filepath.Join(dir, "good")
	os.WriteFile(p, []byte("x=1\ndeps='\n# c\nip   iproute2  # why\n\nping iputils-ping\n'\n"), 0o644)
	got, err := readDeps(p)
	if err != nil || len(got) != 2 || got["ip"] != "iproute2" || got["ping"] != "iputils-ping" {
		t.Errorf("readDeps(good) = %v, %v", got, err)
	}
}
