package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/raftvip/raftvip/internal/pki"
)

// The reference (docs/config-reference.md) is checked against the decoder
// itself rather than against a list kept beside it: decodeFile is run on a
// body that records every schema it is asked to split, so a key added to
// schema.go (or notify.go) is "known" here the moment the decoder accepts it.

// schemaRecorder collects the attribute names each block's schema allows;
// "" is the top level.
type schemaRecorder map[string][]string

// recBody is an hcl.Body that records the schemas passed to Content and
// answers with one empty block of every block type the schema allows, so
// the decoder descends into each of them.
type recBody struct {
	rec   schemaRecorder
	block string
}

func (b recBody) Content(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	keys := b.rec[b.block]
	for _, a := range s.Attributes {
		keys = append(keys, a.Name)
	}
	b.rec[b.block] = keys
	ct := &hcl.BodyContent{Attributes: hcl.Attributes{}}
	for _, bs := range s.Blocks {
		labels := make([]string, len(bs.LabelNames))
		for i := range labels {
			labels[i] = "x"
		}
		ct.Blocks = append(ct.Blocks, &hcl.Block{Type: bs.Type, Labels: labels, Body: recBody{b.rec, bs.Type}})
	}
	return ct, nil
}

func (b recBody) PartialContent(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	ct, ds := b.Content(s)
	return ct, hcl.EmptyBody(), ds
}

func (b recBody) JustAttributes() (hcl.Attributes, hcl.Diagnostics) { return hcl.Attributes{}, nil }
func (b recBody) MissingItemRange() hcl.Range                       { return hcl.Range{} }

// knownKeys is every block ("" = top level) and its keys, as the decoder
// accepts them.
func knownKeys(t *testing.T) schemaRecorder {
	t.Helper()
	rec := schemaRecorder{}
	decodeFile(&collector{file: "rec"}, recBody{rec: rec})
	if len(rec) < 5 || len(rec[""]) < 5 {
		t.Fatalf("recorded %v: is the recording body broken?", rec)
	}
	return rec
}

// refRow is one key of the reference's tables.
type refRow struct {
	block, key, typ, def, example string
	line                          int
}

func (r refRow) name() string {
	if r.block == "" {
		return r.key
	}
	return r.block + "." + r.key
}

// splitRow splits a Markdown table row on | that is not escaped as \|.
func splitRow(l string) []string {
	l = strings.TrimSpace(l)
	l = strings.TrimPrefix(strings.TrimSuffix(l, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && i+1 < len(l) && l[i+1] == '|':
			cur.WriteByte('|')
			i++
		case l[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(l[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

var (
	headingRe  = regexp.MustCompile("^## (?:Top level|`(\\w+)[^`]*` blocks?)\\b")
	keyCellRe  = regexp.MustCompile("^`(\\w+)`$")
	backtickRe = regexp.MustCompile("^`([^`]+)`")
	sameAsRe   = regexp.MustCompile("^same as `(\\w+)\\.(\\w+)`")
)

// referenceRows reads the key tables of docs/config-reference.md: under
// "## Top level" and "## `BLOCK` block" headings, rows
// | `key` | type | default | meaning | example |.
func referenceRows(t *testing.T) (rows []refRow, sections map[string]int) {
	t.Helper()
	doc := readDoc(t, "docs/config-reference.md")
	sections = map[string]int{}
	block, inSection := "", false
	for i, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, "## ") {
			m := headingRe.FindStringSubmatch(l)
			inSection = m != nil
			if inSection {
				block = m[1]
				sections[block] = i + 1
			}
			continue
		}
		if !inSection || !strings.HasPrefix(l, "| `") {
			continue
		}
		cells := splitRow(l)
		if len(cells) != 5 {
			t.Errorf("docs/config-reference.md:%d: a key row has %d cells, want 5 (key, type, default, meaning, example)", i+1, len(cells))
			continue
		}
		m := keyCellRe.FindStringSubmatch(cells[0])
		if m == nil {
			t.Errorf("docs/config-reference.md:%d: key cell %q is not a single `key`", i+1, cells[0])
			continue
		}
		rows = append(rows, refRow{block: block, key: m[1], typ: cells[1], def: cells[2], example: cells[4], line: i + 1})
	}
	return rows, sections
}

// TestConfigReferenceListsEveryKey: docs/config-reference.md has a section
// for every block the decoder accepts and a row for every key, and names
// no block or key the decoder does not know.
func TestConfigReferenceListsEveryKey(t *testing.T) {
	known := knownKeys(t)
	rows, sections := referenceRows(t)
	documented := map[string]int{}
	for _, r := range rows {
		if prev, ok := documented[r.name()]; ok {
			t.Errorf("docs/config-reference.md:%d: %s is documented twice (also line %d)", r.line, r.name(), prev)
		}
		documented[r.name()] = r.line
		if _, ok := known[r.block]; !ok {
			t.Errorf("docs/config-reference.md:%d: %s: there is no %s block", r.line, r.name(), r.block)
			continue
		}
		if !slices.Contains(known[r.block], r.key) {
			t.Errorf("docs/config-reference.md:%d: %s is not a key the config accepts (the %q block has %v)", r.line, r.name(), r.block, known[r.block])
		}
	}
	for block := range sections {
		if _, ok := known[block]; !ok {
			t.Errorf("docs/config-reference.md:%d: a section for a %q block, which the config does not accept", sections[block], block)
		}
	}
	blocks := make([]string, 0, len(known))
	for b := range known {
		blocks = append(blocks, b)
	}
	sort.Strings(blocks)
	n := 0
	for _, block := range blocks {
		if _, ok := sections[block]; !ok {
			t.Errorf("docs/config-reference.md has no section for the %q block (a heading \"## `%s` block\")", block, block)
		}
		for _, key := range known[block] {
			n++
			name := refRow{block: block, key: key}.name()
			if _, ok := documented[name]; !ok {
				t.Errorf("docs/config-reference.md does not document %s (a row | `%s` | … in the %q section)", name, key, block)
			}
		}
	}
	if n < 60 {
		t.Errorf("the decoder knows %d keys: is the recording broken?", n)
	}
}

// The smallest db node config: every required key, nothing else. Each
// required key is on a line of its own so the test can delete it.
const minimalDB = `node_id  = "hosta"
role     = "db"
data_dir = "DIR/data"
bind     = "10.99.0.11:7400"
tls {
  ca_file   = "CERTS/ca.pem"
  cert_file = "CERTS/hosta.pem"
  key_file  = "CERTS/hosta-key.pem"
}
peer "hosta" {
  address = "10.99.0.11:7400"
  role    = "db"
}
peer "hostb" {
  address = "10.99.0.12:7400"
  role    = "db"
}
peer "witness" {
  address = "10.99.0.13:7400"
  role    = "witness"
}
vip {
  interface = "bond0"
  addresses = ["10.99.0.10/24"]
}
mysql {
  dsn = "raftvip:pw@tcp(10.99.0.11:3306)/"
}
`

// The optional blocks, empty: their defaults must be the same as when the
// blocks are absent.
const emptyBlocks = "failover {}\nraft {}\nvrrp {}\nnotify {}\n"

// withoutKey deletes the first line setting key in block ("" = top level)
// of src; ok is false when there is none.
func withoutKey(src, block, key string) (string, bool) {
	lines := strings.SplitAfter(src, "\n")
	open := regexp.MustCompile(`^(\w+)(?: "[^"]*")? \{$`)
	set := regexp.MustCompile(`^\s*` + regexp.QuoteMeta(key) + `\s*=`)
	cur := ""
	for i, l := range lines {
		trimmed := strings.TrimRight(l, "\n")
		if m := open.FindStringSubmatch(trimmed); m != nil {
			cur = m[1]
			continue
		}
		if trimmed == "}" {
			cur = ""
			continue
		}
		if cur == block && set.MatchString(trimmed) {
			return strings.Join(slices.Delete(lines, i, i+1), ""), true
		}
	}
	return src, false
}

// summaryValue is block.key of cfg.Summary().
func summaryValue(cfg *Config, block, key string) (any, bool) {
	s := cfg.Summary()
	if block == "" {
		v, ok := s[key]
		return v, ok
	}
	m, ok := s[block].(map[string]any)
	if !ok {
		return nil, false
	}
	v, ok := m[key]
	return v, ok
}

func isZero(v any) bool {
	if s, ok := v.(string); ok && s == "0s" {
		return true // a duration that is off
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		return rv.Len() == 0
	}
	return rv.IsZero()
}

var refTypes = []string{"string", "bool", "number", "duration", "list of strings"}

// literalMatches compares a value of Summary with an HCL literal of the
// reference, as the row's type reads it.
func literalMatches(typ string, got any, lit cty.Value) (bool, error) {
	switch typ {
	case "duration":
		if lit.Type() != cty.String {
			return false, fmt.Errorf("a duration default must be a quoted string, got %s", typeName(lit))
		}
		want, err := time.ParseDuration(lit.AsString())
		if err != nil {
			return false, err
		}
		g, err := time.ParseDuration(fmt.Sprint(got))
		return err == nil && g == want, nil
	case "string":
		if lit.Type() != cty.String {
			return false, fmt.Errorf("a string default must be quoted, got %s", typeName(lit))
		}
		return fmt.Sprint(got) == lit.AsString(), nil
	case "number":
		if lit.Type() != cty.Number {
			return false, fmt.Errorf("a number default must be a bare number, got %s", typeName(lit))
		}
		return fmt.Sprint(got) == lit.AsBigFloat().Text('f', -1), nil
	case "bool":
		if lit.Type() != cty.Bool {
			return false, fmt.Errorf("a bool default must be true or false, got %s", typeName(lit))
		}
		b, ok := got.(bool)
		return ok && b == lit.True(), nil
	case "list of strings":
		if !lit.Type().IsTupleType() {
			return false, fmt.Errorf("a list default must be [...], got %s", typeName(lit))
		}
		var want []string
		for it := lit.ElementIterator(); it.Next(); {
			_, e := it.Element()
			want = append(want, e.AsString())
		}
		g, ok := got.([]string)
		return ok && slices.Equal(g, want), nil
	}
	return false, fmt.Errorf("unknown type %q", typ)
}

// TestConfigReferenceDefaults: each row's type is one of the reference's
// types and its example is `key = value` of that type; each default is what
// the code does: a literal equals the loaded config's value (blocks absent
// and blocks present but empty), "none" is the zero value, "same as
// `block.key`" is that key's value, and "required" means a config without
// the key does not load and says so.
func TestConfigReferenceDefaults(t *testing.T) {
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if err := pki.Init(certs, []string{"hosta", "hostb", "witness"}, nil); err != nil {
		t.Fatal(err)
	}
	base := strings.NewReplacer("DIR", dir, "CERTS", certs).Replace(minimalDB)
	// The optional blocks absent, then present and empty: a default must
	// hold for both. After the first mismatch the second is not reported.
	var cfgs []*Config
	for _, src := range []string{base, base + emptyBlocks} {
		cfg, err := Parse([]byte(src), "minimal.hcl")
		if err != nil {
			t.Fatalf("the minimal db config does not load:\n%v\n%s", err, src)
		}
		cfgs = append(cfgs, cfg)
	}
	rows, _ := referenceRows(t)
	if len(rows) < 60 {
		t.Fatalf("read %d rows from docs/config-reference.md: is the extraction broken?", len(rows))
	}
	for _, r := range rows {
		at := fmt.Sprintf("docs/config-reference.md:%d: %s", r.line, r.name())
		if !slices.Contains(refTypes, r.typ) {
			t.Errorf("%s: type %q is not one of %q", at, r.typ, refTypes)
			continue
		}
		checkExample(t, at, r)
		switch {
		case strings.HasPrefix(r.def, "required"):
			src, ok := withoutKey(base, r.block, r.key)
			if !ok {
				t.Errorf("%s: documented as required, but the minimal config does without it", at)
				continue
			}
			_, err := Parse([]byte(src), "minimal.hcl")
			if err == nil {
				t.Errorf("%s: documented as required, but a config without it loads", at)
			} else if !strings.Contains(err.Error(), r.key) {
				t.Errorf("%s: without it the config fails, but the error does not name it:\n%v", at, err)
			}
		case r.block == "peer":
			t.Errorf("%s: every peer key is required; the default is %q", at, r.def)
		case strings.HasPrefix(r.def, "none"):
			for _, cfg := range cfgs {
				v, ok := summaryValue(cfg, r.block, r.key)
				if !ok || !isZero(v) {
					t.Errorf("%s: documented default none, but the loaded config has %#v", at, v)
					break
				}
			}
		case sameAsRe.MatchString(r.def):
			m := sameAsRe.FindStringSubmatch(r.def)
			for _, cfg := range cfgs {
				v, ok := summaryValue(cfg, r.block, r.key)
				w, wok := summaryValue(cfg, m[1], m[2])
				if !ok || !wok || !reflect.DeepEqual(v, w) {
					t.Errorf("%s: documented default the same as %s.%s (%#v), but it is %#v", at, m[1], m[2], w, v)
					break
				}
			}
		case backtickRe.MatchString(r.def):
			for _, cfg := range cfgs {
				src := strings.ReplaceAll(backtickRe.FindStringSubmatch(r.def)[1], "<node_id>", cfg.NodeID)
				expr, ds := hclsyntax.ParseExpression([]byte(src), "default", hcl.InitialPos)
				if ds.HasErrors() {
					t.Errorf("%s: default %s is not an HCL value: %v", at, r.def, ds)
					break
				}
				lit, ds := expr.Value(nil)
				if ds.HasErrors() {
					t.Errorf("%s: default %s is not a constant: %v", at, r.def, ds)
					break
				}
				v, ok := summaryValue(cfg, r.block, r.key)
				if !ok {
					t.Errorf("%s: the loaded config shows no value for it", at)
					break
				}
				match, err := literalMatches(r.typ, v, lit)
				if err != nil {
					t.Errorf("%s: default %s: %v", at, r.def, err)
					break
				}
				if !match {
					t.Errorf("%s: documented default %s, but the code's default is %#v", at, r.def, v)
					break
				}
			}
		default:
			t.Errorf("%s: default %q must begin with a `literal`, \"none\", \"required\" or \"same as `block.key`\"", at, r.def)
		}
	}
}

// checkExample: the example cell is `key = value`, valid HCL, naming the
// row's key, of the row's type.
func checkExample(t *testing.T, at string, r refRow) {
	t.Helper()
	m := backtickRe.FindStringSubmatch(r.example)
	if m == nil {
		t.Errorf("%s: example %q does not begin with `key = value`", at, r.example)
		return
	}
	f, ds := hclsyntax.ParseConfig([]byte(m[1]+"\n"), "example", hcl.InitialPos)
	if ds.HasErrors() {
		t.Errorf("%s: example `%s` is not HCL: %v", at, m[1], ds)
		return
	}
	attrs, ds := f.Body.JustAttributes()
	a, ok := attrs[r.key]
	if ds.HasErrors() || len(attrs) != 1 || !ok {
		t.Errorf("%s: example `%s` must set exactly %s", at, m[1], r.key)
		return
	}
	v, ds := a.Expr.Value(nil)
	if ds.HasErrors() {
		t.Errorf("%s: example `%s`: %v", at, m[1], ds)
		return
	}
	var good bool
	switch r.typ {
	case "string":
		good = v.Type() == cty.String
	case "duration":
		if good = v.Type() == cty.String; good {
			_, err := time.ParseDuration(v.AsString())
			good = err == nil
		}
	case "number":
		good = v.Type() == cty.Number
	case "bool":
		good = v.Type() == cty.Bool
	case "list of strings":
		good = v.Type().IsTupleType()
		for it := v.ElementIterator(); good && it.Next(); {
			_, e := it.Element()
			good = e.Type() == cty.String
		}
	}
	if !good {
		t.Errorf("%s: example `%s` is not a %s", at, m[1], r.typ)
	}
}
