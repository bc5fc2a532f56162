package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Error is one problem in a config file, located so an operator (or an
// editor) can jump straight to it.
type Error struct {
	File   string
	Line   int // 1-based; 0 when the problem has no position (e.g. unreadable file)
	Column int // 1-based, counted in characters as HCL does
	Msg    string
}

// Error formats as "file:line:col: msg", the form editors and grep
// understand. Problems without a position (the file itself cannot be read)
// format as "file: msg".
func (e Error) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Errors is every problem found in one pass over a config file, in file
// order, so one run of `raftvip validate` shows them all.
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

// collector accumulates positioned problems while a file is decoded.
type collector struct {
	file  string
	src   []byte // the file's text, to quote an expression in a hint
	list  []Error
	warns []Error // accepted, but worth a look; they do not fail the file
}

// warn records a problem that does not make the file invalid.
func (c *collector) warn(r hcl.Range, format string, args ...any) {
	file := r.Filename
	if file == "" {
		file = c.file
	}
	c.warns = append(c.warns, Error{File: file, Line: r.Start.Line, Column: r.Start.Column, Msg: fmt.Sprintf(format, args...)})
}

func (c *collector) at(r hcl.Range, format string, args ...any) {
	file := r.Filename
	if file == "" {
		file = c.file
	}
	c.list = append(c.list, Error{
		File:   file,
		Line:   r.Start.Line,
		Column: r.Start.Column,
		Msg:    fmt.Sprintf(format, args...),
	})
}

// diags converts HCL's own diagnostics (syntax errors, unknown keys,
// evaluation errors) keeping their source positions.
func (c *collector) diags(ds hcl.Diagnostics) { c.diagsFor("", ds) }

// diagsFor is diags with the config key the diagnostics are about, for
// HCL messages (such as "Variables not allowed") that do not name it.
func (c *collector) diagsFor(key string, ds hcl.Diagnostics) {
	for _, d := range ds {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Summary == "Invalid single-argument block definition" {
			// HCL allows only one argument in a one-line block, so
			// `peer "a" { address = "..." role = "db" }` is a syntax error.
			msg += ` Write a block with several arguments over several lines, one argument per line.`
		}
		if key != "" {
			msg = key + ": " + msg
		}
		var r hcl.Range
		switch {
		case d.Subject != nil:
			r = *d.Subject
		case d.Context != nil:
			r = *d.Context
		}
		c.at(r, "%s", msg)
	}
}

// result returns the problems sorted into file order, or nil if there are
// none. The sort is stable so problems at the same position keep the order
// in which the checks found them.
func (c *collector) result() *Errors {
	if len(c.list) == 0 {
		return nil
	}
	slices.SortStableFunc(c.list, func(a, b Error) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
		)
	})
	return &Errors{List: c.list}
}
