package keepalived

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// commentWidth is where generated comments wrap.
const commentWidth = 100

// item is one attribute of a generated block, with the comments before it.
// An item with an empty key is only comments.
type item struct {
	notes []string // each a paragraph of its own comment
	key   string
	value string // an HCL literal
}

// hblock is a generated HCL block, or the top level when header is "".
type hblock struct {
	intro  []string // comment paragraphs before the block
	header string   // `peer "hosta"`, `vip`, ...
	items  []item
}

// render writes blocks in order, separated by blank lines.
func render(blocks []hblock) string {
	var b strings.Builder
	for i, blk := range blocks {
		if i > 0 {
			b.WriteByte('\n')
		}
		for _, p := range blk.intro {
			writeComment(&b, "", p)
		}
		indent := ""
		if blk.header != "" {
			b.WriteString(blk.header + " {\n")
			indent = "  "
		}
		width := 0
		for _, it := range blk.items {
			width = max(width, len(it.key))
		}
		for _, it := range blk.items {
			for _, n := range it.notes {
				writeComment(&b, indent, n)
			}
			if it.key != "" {
				fmt.Fprintf(&b, "%s%-*s = %s\n", indent, width, it.key, it.value)
			}
		}
		if blk.header != "" {
			b.WriteString("}\n")
		}
	}
	return b.String()
}

// writeComment writes text as "# " lines wrapped at commentWidth; lines
// after the first are indented so a paragraph reads as one note.
func writeComment(b *strings.Builder, indent, text string) {
	text = sanitizeComment(text)
	prefix := indent + "# "
	words := strings.Fields(text)
	line := prefix
	empty := true
	for _, w := range words {
		if !empty && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > commentWidth {
			b.WriteString(line + "\n")
			line, empty = indent+"#   ", true
		}
		if !empty {
			line += " "
		}
		line += w
		empty = false
	}
	b.WriteString(strings.TrimRight(line, " ") + "\n")
}

// sanitizeComment keeps a comment on its line: control characters (which
// a keepalived.conf cannot really contain after line splitting, but a
// value from a flag could) become '?'.
func sanitizeComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// hclString quotes s as an HCL string literal: the usual escapes, and
// "${" / "%{" doubled so HCL does not read them as template sequences.
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case (r == '$' || r == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteRune(r)
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

func hclList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = hclString(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
