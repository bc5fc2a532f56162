// Package promtext writes the Prometheus text exposition format 0.0.4: the
// counters, gauges and histograms (with labels) that the agent's /metrics
// serves.
//
// It replaces github.com/prometheus/client_golang in the agent binary. The
// client's registry, its protobuf data model and procfs are about 2 MB of
// binary, and on kernels that map the binary with large folios nearly all
// of a binary's text counts in every agent's RSS (issue 11). What it writes
// is byte for byte what client_golang's promhttp writes for the same
// metrics (families sorted by name, series by label values, the same
// escaping and number formatting), so scrapers, dashboards and alerts see
// no change; the agent's golden test holds it to that.
//
// Metric and label names are not checked: callers pass constants that
// match [a-zA-Z_:][a-zA-Z0-9_:]* (label names [a-zA-Z_][a-zA-Z0-9_]*).
package promtext

import (
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ContentType is the text format 0.0.4's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Label is one label pair of a series.
type Label struct{ Name, Value string }

// Metric types, as the # TYPE line names them.
const (
	typeCounter   = "counter"
	typeGauge     = "gauge"
	typeHistogram = "histogram"
)

// Scrape collects the series of one scrape and writes them. The zero value
// is ready to use. It is not safe for concurrent use: each scrape has its
// own.
type Scrape struct {
	fams map[string]*family
}

type family struct {
	name, help, typ string
	series          []series
}

type series struct {
	labels []Label // sorted by name
	value  float64 // counter and gauge
	hist   *HistogramValue
}

// Gauge adds a gauge series.
func (s *Scrape) Gauge(name, help string, v float64, labels ...Label) {
	s.add(name, help, typeGauge, series{labels: sortedLabels(labels), value: v})
}

// Counter adds a counter series.
func (s *Scrape) Counter(name, help string, v float64, labels ...Label) {
	s.add(name, help, typeCounter, series{labels: sortedLabels(labels), value: v})
}

// Histogram adds a histogram series (its _bucket, _sum and _count lines).
func (s *Scrape) Histogram(name, help string, h HistogramValue, labels ...Label) {
	s.add(name, help, typeHistogram, series{labels: sortedLabels(labels), hist: &h})
}

// add files a series under its family. A family's HELP and TYPE are the
// first series' (a family has one of each; callers pass constants).
func (s *Scrape) add(name, help, typ string, se series) {
	if s.fams == nil {
		s.fams = map[string]*family{}
	}
	f := s.fams[name]
	if f == nil {
		f = &family{name: name, help: help, typ: typ}
		s.fams[name] = f
	}
	f.series = append(f.series, se)
}

// sortedLabels copies labels sorted by name, as client_golang orders a
// series' label pairs.
func sortedLabels(labels []Label) []Label {
	if len(labels) == 0 {
		return nil
	}
	l := slices.Clone(labels)
	sort.SliceStable(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	return l
}

// lessLabels orders series as client_golang does: by label count, then by
// label values in label-name order.
func lessLabels(a, b []Label) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	for i := range a {
		if a[i].Value != b[i].Value {
			return a[i].Value < b[i].Value
		}
	}
	return false
}

func sameLabels(a, b []Label) bool {
	return slices.Equal(a, b)
}

// Bytes renders the exposition.
func (s *Scrape) Bytes() []byte {
	names := make([]string, 0, len(s.fams))
	for n := range s.fams {
		names = append(names, n)
	}
	sort.Strings(names)
	var b []byte
	for _, n := range names {
		f := s.fams[n]
		sort.SliceStable(f.series, func(i, j int) bool { return lessLabels(f.series[i].labels, f.series[j].labels) })
		b = append(b, "# HELP "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = appendEscaped(b, f.help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.typ...)
		b = append(b, '\n')
		for i, se := range f.series {
			// The same series twice would make the scrape ambiguous
			// (client_golang fails the whole scrape); the first one stays.
			if i > 0 && sameLabels(se.labels, f.series[i-1].labels) {
				continue
			}
			if se.hist == nil {
				b = appendSample(b, f.name, "", se.labels, nil, se.value)
				continue
			}
			h := se.hist
			var cum uint64
			for i, bound := range h.Bounds {
				cum += h.Counts[i]
				b = appendSample(b, f.name, "_bucket", se.labels, &bound, float64(cum))
			}
			inf := math.Inf(+1)
			b = appendSample(b, f.name, "_bucket", se.labels, &inf, float64(h.Count))
			b = appendSample(b, f.name, "_sum", se.labels, nil, h.Sum)
			b = appendSample(b, f.name, "_count", se.labels, nil, float64(h.Count))
		}
	}
	return b
}

// appendSample appends one line: name{labels,le="…"} value. le is the
// bucket's upper bound, nil for other lines.
func appendSample(b []byte, name, suffix string, labels []Label, le *float64, v float64) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if len(labels) > 0 || le != nil {
		sep := byte('{')
		for _, l := range labels {
			b = append(b, sep)
			b = append(b, l.Name...)
			b = append(b, `="`...)
			b = appendEscaped(b, l.Value, true)
			b = append(b, '"')
			sep = ','
		}
		if le != nil {
			b = append(b, sep)
			b = append(b, `le="`...)
			b = AppendFloat(b, *le)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = AppendFloat(b, v)
	return append(b, '\n')
}

// appendEscaped escapes a backslash and a newline, and in label values
// (quoted) a double quote: the format's only escapes. HELP text keeps its
// quotes as they are.
func appendEscaped(b []byte, s string, quoted bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quoted:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// AppendFloat formats v as client_golang's text encoder does: the shortest
// representation that reads back as v ('g', so 1e+06 and 1.23456789e+08
// for large integers, as Prometheus has always been sent them), +Inf, -Inf
// and NaN, and 0 for negative zero.
func AppendFloat(b []byte, v float64) []byte {
	switch {
	case v == 0:
		return append(b, '0')
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// ServeHTTP writes the exposition, gzip-compressed when the client accepts
// it (Prometheus always asks for gzip, as promhttp served it).
func (s *Scrape) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := s.Bytes()
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
		return
	}
	h.Set("Content-Encoding", "gzip")
	zw := gzip.NewWriter(w)
	_, _ = zw.Write(body)
	_ = zw.Close()
}

// acceptsGzip reads an Accept-Encoding header: gzip (or *) listed without
// q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}

// WriteTo writes the exposition uncompressed (for tests and tools).
func (s *Scrape) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(s.Bytes())
	return int64(n), err
}
