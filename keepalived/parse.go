package keepalived

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MaxIncludeDepth bounds nested includes. keepalived itself has no limit,
// but a real configuration rarely nests more than two levels, and a bound
// turns a runaway chain into an error rather than exhausting memory.
const MaxIncludeDepth = 8

// maxBlockDepth bounds block nesting for the same reason; keepalived's
// deepest real nesting (virtual_server > real_server > checker) is 3.
const maxBlockDepth = 32

// Pos is where a token starts: file as opened (an included file's path is
// its pattern joined to the including file's directory), 1-based line and
// column (columns count bytes).
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Col <= 0 {
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one problem in a keepalived configuration.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats as "file:line:col: msg", or "file: msg" without a line.
func (e Error) Error() string {
	if e.Pos.Line <= 0 {
		return e.Pos.File + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Errors is every problem found, in file order.
type Errors struct {
	List []Error
}

// Error returns one line per problem.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, err := range e.List {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Node is one keyword line with its arguments and, when a '{' followed it,
// its block. Unknown keywords are kept like known ones so they can be
// reported.
type Node struct {
	Pos      Pos
	Keyword  string
	Args     []string
	ArgPos   []Pos
	HasBlock bool    // a { ... } followed the keyword, even an empty one
	Block    []*Node // the statements inside that block
	End      Pos     // position of the closing '}' when HasBlock
}

// Arg returns argument i, or "" when there are fewer.
func (n *Node) Arg(i int) string {
	if i < len(n.Args) {
		return n.Args[i]
	}
	return ""
}

// Text is the statement as a single line, for messages and comments.
func (n *Node) Text() string {
	parts := append([]string{n.Keyword}, n.Args...)
	for i, p := range parts {
		if p == "" || strings.ContainsAny(p, " \t") {
			parts[i] = `"` + p + `"`
		}
	}
	s := strings.Join(parts, " ")
	if n.HasBlock {
		s += " { ... }"
	}
	return s
}

// Find returns the last statement of the block with the given keyword (the
// one keepalived ends up using when a keyword is repeated), or nil.
func (n *Node) Find(keyword string) *Node {
	for i := len(n.Block) - 1; i >= 0; i-- {
		if n.Block[i].Keyword == keyword {
			return n.Block[i]
		}
	}
	return nil
}

// Tree is a parsed configuration with its includes expanded in place.
type Tree struct {
	Nodes    []*Node
	Files    []string // every file read, main file first, in reading order
	Warnings []Error  // things keepalived tolerates but an operator should know
}

// ParseFile reads a keepalived.conf and the files it includes. On any
// problem it returns a nil *Tree and an *Errors listing every problem found.
func ParseFile(path string) (*Tree, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Errors{List: []Error{{Pos: Pos{File: path}, Msg: "cannot read: " + err.Error()}}}
	}
	return Parse(src, path)
}

// Parse parses src as the keepalived.conf named filename; relative includes
// are resolved against filename's directory, as keepalived does.
func Parse(src []byte, filename string) (*Tree, error) {
	p := &parser{}
	p.readSource(src, filename, nil)
	t := &Tree{Files: p.files}
	t.Nodes = p.build()
	if errs := p.result(); errs != nil {
		return nil, errs
	}
	t.Warnings = p.warnings
	return t, nil
}

// segment is one logical statement: keepalived splits every line at each
// '{' and '}' outside quotes, so a segment is either a lone brace or a
// keyword with its arguments.
type segment struct {
	brace byte // '{' or '}' for a lone brace, 0 for a statement
	toks  []token
	pos   Pos
}

type token struct {
	text string
	pos  Pos
}

type parser struct {
	segs     []segment
	files    []string
	errs     []Error
	warnings []Error
}

func (p *parser) errorf(pos Pos, format string, args ...any) {
	p.errs = append(p.errs, Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(pos Pos, format string, args ...any) {
	p.warnings = append(p.warnings, Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) result() *Errors {
	if len(p.errs) == 0 {
		return nil
	}
	// Stable: problems found in reading order stay in that order when two
	// files sort the same way; within a file, by line and column.
	slices.SortStableFunc(p.errs, func(a, b Error) int {
		if a.Pos.File != b.Pos.File {
			return 0
		}
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	return &Errors{List: p.errs}
}

// fileKey identifies a file for cycle detection, through symlinks.
func fileKey(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return filepath.Clean(abs)
}

// readSource turns one file into segments, expanding includes in place:
// keepalived's include is textual, so a block may even open in one file and
// close in another. chain is the list of files including this one.
func (p *parser) readSource(src []byte, filename string, chain []string) {
	p.files = append(p.files, filename)
	chain = append(chain, fileKey(filename))
	lines := strings.Split(string(src), "\n")
	for i, raw := range lines {
		line := strings.TrimSuffix(raw, "\r")
		pos := Pos{File: filename, Line: i + 1}
		text, offsets, ok := decomment(line)
		if !ok {
			p.errorf(Pos{File: filename, Line: i + 1, Col: 1}, "unterminated quote: a \" opens a string that does not end on this line")
			continue
		}
		p.line(text, offsets, pos, chain)
	}
}

// decomment removes a comment (from the first '#' or '!' outside quotes to
// the end of the line, as keepalived 2.x does wherever it appears) and the
// backslash of an escaped "\#" or "\!". It returns the remaining text and,
// for each of its bytes, the 0-based column it came from. ok is false for an
// unterminated quote.
func decomment(line string) (text string, offsets []int, ok bool) {
	var b strings.Builder
	quote := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			quote = !quote
		case c == '\\' && !quote && i+1 < len(line) && (line[i+1] == '#' || line[i+1] == '!'):
			i++
			c = line[i]
		case !quote && (c == '#' || c == '!'):
			return b.String(), offsets, true
		}
		b.WriteByte(c)
		offsets = append(offsets, i)
	}
	return b.String(), offsets, !quote
}

// line splits one decommented line into segments at braces outside quotes,
// handling include lines and the keepalived features import does not
// implement.
func (p *parser) line(text string, offsets []int, pos Pos, chain []string) {
	for len(text) > 0 {
		// keepalived looks for an include before splitting at braces, so
		// "include x/{a,b}.conf" is an include with a brace pattern.
		if toks := tokenize(text, offsets, pos); len(toks) == 2 && isInclude(toks[0].text) {
			p.include(toks[1], chain)
			return
		}
		// Find the first brace outside quotes.
		cut, quote := -1, false
		for i := 0; i < len(text) && cut < 0; i++ {
			switch text[i] {
			case '"':
				quote = !quote
			case '{', '}':
				if !quote {
					cut = i
				}
			}
		}
		head, headOff := text, offsets
		if cut >= 0 {
			head, headOff = text[:cut], offsets[:cut]
		}
		if toks := tokenize(head, headOff, pos); len(toks) > 0 {
			p.statement(toks, pos, chain)
		}
		if cut < 0 {
			return
		}
		p.segs = append(p.segs, segment{brace: text[cut], pos: Pos{File: pos.File, Line: pos.Line, Col: offsets[cut] + 1}})
		text, offsets = text[cut+1:], offsets[cut+1:]
	}
}

// tokenize splits on whitespace; a token starting with '"' runs to the next
// '"' and loses its quotes, and an unquoted token ends at a '"' (keepalived's
// alloc_strvec).
func tokenize(s string, offsets []int, pos Pos) []token {
	var toks []token
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return toks
		}
		start := i
		tp := Pos{File: pos.File, Line: pos.Line, Col: offsets[start] + 1}
		if s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 { // decomment already refused unterminated quotes
				end = len(s) - i - 1
			}
			toks = append(toks, token{text: s[i+1 : i+1+end], pos: tp})
			i += end + 2
			continue
		}
		for i < len(s) && !isSpace(s[i]) && s[i] != '"' {
			i++
		}
		toks = append(toks, token{text: s[start:i], pos: tp})
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r' || c == '\n'
}

// statement records a keyword line, or expands an include.
func (p *parser) statement(toks []token, pos Pos, chain []string) {
	first := toks[0]
	switch {
	case isInclude(first.text):
		p.errorf(first.pos, "%s must stand alone on its line with exactly one file name or pattern", first.text)
		return
	case strings.HasPrefix(first.text, "$") && strings.Contains(toks[0].text+" "+joinTexts(toks[1:]), "="):
		p.errorf(first.pos, "parameter definitions ($NAME=...) are not supported by import-keepalived; expand them by hand (keepalived -t shows the result) and import again")
		return
	case strings.HasPrefix(first.text, "@"):
		p.errorf(first.pos, "conditional lines (@ID ...) are not supported by import-keepalived; keep the lines for this host without the @ prefix and import again")
		return
	case strings.HasPrefix(first.text, "~SEQ"):
		p.errorf(first.pos, "~SEQ is not supported by import-keepalived; expand the sequence by hand and import again")
		return
	}
	p.segs = append(p.segs, segment{toks: toks, pos: first.pos})
}

func isInclude(word string) bool {
	switch word {
	case "include", "includea", "includer", "includem", "includew", "includeb":
		return true
	}
	return false
}

func joinTexts(toks []token) string {
	var parts []string
	for _, t := range toks {
		parts = append(parts, t.text)
	}
	return strings.Join(parts, " ")
}

// include expands "include PATTERN": relative to the including file's
// directory, glob patterns with csh-style braces, files in sorted order,
// directories skipped, like keepalived. Unlike keepalived's plain include,
// a pattern that matches nothing is an error when it has no wildcard (a
// missing file is almost always a mistake), and a warning otherwise (an
// empty conf.d is normal).
func (p *parser) include(arg token, chain []string) {
	if len(chain) > MaxIncludeDepth {
		p.errorf(arg.pos, "include %q: includes nested more than %d deep", arg.text, MaxIncludeDepth)
		return
	}
	pattern := arg.text
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(arg.pos.File), pattern)
	}
	var matches []string
	seen := map[string]bool{}
	for _, pat := range expandBraces(pattern) {
		m, err := filepath.Glob(pat)
		if err != nil {
			p.errorf(arg.pos, "include %q: bad pattern: %v", arg.text, err)
			return
		}
		for _, f := range m {
			if !seen[f] {
				seen[f] = true
				matches = append(matches, f)
			}
		}
	}
	wild := strings.ContainsAny(arg.text, "*?[{")
	if len(matches) == 0 {
		if wild {
			p.warnf(arg.pos, "include %q matches no file (looked for %s)", arg.text, pattern)
		} else {
			p.errorf(arg.pos, "include %q: no such file (looked for %s)", arg.text, pattern)
		}
		return
	}
	for _, f := range matches {
		info, err := os.Stat(f)
		if err != nil {
			p.errorf(arg.pos, "include %q: %s: %v", arg.text, f, unwrapPath(err))
			continue
		}
		if info.IsDir() {
			continue // keepalived skips directories a pattern matches
		}
		if !info.Mode().IsRegular() || info.Mode()&0o111 != 0 {
			p.warnf(arg.pos, "include %q: %s is not a regular non-executable file; keepalived skips it, and so does import", arg.text, f)
			continue
		}
		key := fileKey(f)
		if i := slices.Index(chain, key); i >= 0 {
			cycle := append(slices.Clone(chain[i:]), key)
			p.errorf(arg.pos, "include %q: include cycle: %s", arg.text, strings.Join(cycle, " -> "))
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			p.errorf(arg.pos, "include %q: cannot read %s: %v", arg.text, f, unwrapPath(err))
			continue
		}
		p.readSource(src, f, chain)
	}
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// expandBraces expands csh-style alternatives, "a{b,c{d,e}}f" to abf, acdf,
// acef (keepalived globs with GLOB_BRACE). A brace without a matching close
// or without a comma is kept literally.
func expandBraces(s string) []string {
	open := -1
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth == 0 {
				continue
			}
			depth--
			if depth > 0 {
				continue
			}
			// s[open:i+1] is a balanced group; split it at top-level commas.
			var alts []string
			d, last := 0, open+1
			for j := open + 1; j < i; j++ {
				switch s[j] {
				case '{':
					d++
				case '}':
					d--
				case ',':
					if d == 0 {
						alts = append(alts, s[last:j])
						last = j + 1
					}
				}
			}
			if alts == nil {
				// "{x}" is not an alternative: keep it and look further.
				rest := expandBraces(s[i+1:])
				out := make([]string, 0, len(rest))
				for _, r := range rest {
					out = append(out, s[:i+1]+r)
				}
				return out
			}
			alts = append(alts, s[last:i])
			var out []string
			for _, a := range alts {
				out = append(out, expandBraces(s[:open]+a+s[i+1:])...)
			}
			return out
		}
	}
	return []string{s}
}

// build turns the segments into a tree: a '{' opens the block of the
// statement just before it (on the same line or the next), a '}' closes the
// innermost open block.
func (p *parser) build() []*Node {
	i := 0
	nodes, _ := p.block(&i, 0, nil)
	return nodes
}

func (p *parser) block(i *int, depth int, owner *Node) ([]*Node, bool) {
	var nodes []*Node
	prevStatement := false
	for *i < len(p.segs) {
		s := p.segs[*i]
		*i++
		switch s.brace {
		case '}':
			if owner == nil {
				p.errorf(s.pos, "unbalanced braces: this '}' closes no block")
				prevStatement = false
				continue
			}
			owner.End = s.pos
			return nodes, true
		case '{':
			if !prevStatement {
				p.errorf(s.pos, "unbalanced braces: this '{' follows no keyword (a block opens on the keyword's line or the line after it)")
				// Parse its contents anyway so later problems are found,
				// attached to a throwaway node.
				p.block(i, depth+1, &Node{Pos: s.pos})
				continue
			}
			n := nodes[len(nodes)-1]
			n.HasBlock = true
			if depth+1 > maxBlockDepth {
				p.errorf(s.pos, "blocks nested more than %d deep", maxBlockDepth)
			}
			var closed bool
			n.Block, closed = p.block(i, depth+1, n)
			if !closed {
				p.errorf(s.pos, "unbalanced braces: the block of %q opened here is never closed with '}'", n.Keyword)
			}
			prevStatement = false
		default:
			n := &Node{Pos: s.pos, Keyword: s.toks[0].text}
			for _, t := range s.toks[1:] {
				n.Args = append(n.Args, t.text)
				n.ArgPos = append(n.ArgPos, t.pos)
			}
			nodes = append(nodes, n)
			prevStatement = true
		}
	}
	return nodes, owner == nil
}
