package promtext

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	// Test-only: client_golang is the reference the output must equal;
	// these imports do not enter the agent binary.
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// reference renders a client_golang registry as promhttp does (text 0.0.4).
func reference(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

// constCollector sends fixed client_golang metrics.
type constCollector []prometheus.Metric

func (constCollector) Describe(chan<- *prometheus.Desc) {}
func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

var oddValues = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, -2.5, 1e-7, 5e-324, 42, 1e6, 123456789, 1 << 53, 1e21,
	math.MaxFloat64, math.Inf(+1), math.Inf(-1), math.NaN()}

// TestSameAsClientGolang: gauges and counters with odd values, escapes in
// HELP and label values, several labels given out of order, and histograms
// with values on, between and above the bounds: the text is client_golang's.
func TestSameAsClientGolang(t *testing.T) {
	reg := prometheus.NewRegistry()
	var want constCollector
	var s Scrape
	const help = `Odd "help" with a back\slash and a` + "\nnewline."
	for i, v := range oddValues {
		val := []string{"plain", `q"uote`, `back\slash`, "new\nline", "", "ünï", "z", "a"}[i%8]
		other := string(rune('a' + i))
		want = append(want,
			prometheus.MustNewConstMetric(prometheus.NewDesc("odd_gauge", help, []string{"zz", "aa"}, nil), prometheus.GaugeValue, v, val, other),
			prometheus.MustNewConstMetric(prometheus.NewDesc("odd_total", "Plain help.", []string{"k"}, nil), prometheus.CounterValue, math.Abs(v), val+other))
		s.Gauge("odd_gauge", help, v, Label{"zz", val}, Label{"aa", other})
		s.Counter("odd_total", "Plain help.", math.Abs(v), Label{"k", val + other})
	}
	want = append(want, prometheus.MustNewConstMetric(prometheus.NewDesc("a_first", "Sorted first.", nil, nil), prometheus.GaugeValue, 3))
	s.Gauge("a_first", "Sorted first.", 3)
	reg.MustRegister(want)

	bounds := []float64{0.001, 0.0025, 0.5, 1, 2, 1e6}
	obs := []float64{0, 0.001, 0.0011, 0.3, 1, 1.5, 2, 3, 1e6, 1e7, -4, 0.1, 0.2}
	rh := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h_seconds", Help: "A histogram.", Buckets: bounds})
	rv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hv_seconds", Help: "Histograms.", Buckets: bounds}, []string{"phase"})
	re := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "empty_seconds", Help: "Never observed.", Buckets: bounds})
	rc := prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total", Help: "A counter."})
	rcv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cv_total", Help: "Counters."}, []string{"class"})
	rcvEmpty := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cv_empty_total", Help: "No series."}, []string{"class"})
	reg.MustRegister(rh, rv, re, rc, rcv, rcvEmpty)
	h := NewHistogram("h_seconds", "A histogram.", bounds)
	hv := NewHistogramVec("hv_seconds", "Histograms.", "phase", bounds)
	e := NewHistogram("empty_seconds", "Never observed.", bounds)
	c := NewCounter("c_total", "A counter.")
	cv := NewCounterVec("cv_total", "Counters.", "class")
	cvEmpty := NewCounterVec("cv_empty_total", "No series.", "class")
	for i, x := range obs {
		phase := []string{"b", "a", `c"\`}[i%3]
		rh.Observe(x)
		h.Observe(x)
		rv.WithLabelValues(phase).Observe(x)
		hv.Observe(phase, x)
		rc.Inc()
		c.Inc()
		rcv.WithLabelValues(phase).Inc()
		cv.Inc(phase)
	}
	for _, m := range []interface{ Collect(*Scrape) }{h, hv, e, c, cv, cvEmpty} {
		m.Collect(&s)
	}

	ref := reference(t, reg)
	got := string(s.Bytes())
	if got != ref {
		t.Errorf("promtext differs from client_golang:\n--- promtext\n%s\n--- client_golang\n%s", got, ref)
	}
	if !strings.Contains(got, `le="+Inf"`) || !strings.Contains(got, `\"uote`) || !strings.Contains(got, `back\\slash and a\nnewline`) {
		t.Errorf("the test's inputs lost their point (no +Inf bucket or escapes):\n%s", got)
	}
	parse(t, got)
}

// parse checks that expfmt reads the text.
func parse(t *testing.T, text string) {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	if _, err := p.TextToMetricFamilies(strings.NewReader(text)); err != nil {
		t.Errorf("expfmt cannot parse the exposition: %v\n%s", err, text)
	}
}

func TestAppendFloat(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1, "1"}, {-1, "-1"}, {42, "42"}, {0.8, "0.8"},
		{1e6, "1e+06"}, {123456789, "1.23456789e+08"}, {1 << 40, "1.099511627776e+12"},
		{math.Inf(+1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
	} {
		if got := string(AppendFloat(nil, c.v)); got != c.want {
			t.Errorf("AppendFloat(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

// TestServeHTTP: the content type, and gzip only when asked for.
func TestServeHTTP(t *testing.T) {
	var s Scrape
	s.Gauge("up", "Up.", 1)
	const want = "# HELP up Up.\n# TYPE up gauge\nup 1\n"
	for _, c := range []struct {
		accept string
		gzip   bool
	}{{"", false}, {"gzip", true}, {"deflate, gzip;q=0.5", true}, {"gzip;q=0", false}, {"identity", false}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if c.accept != "" {
			req.Header.Set("Accept-Encoding", c.accept)
		}
		s.ServeHTTP(rec, req)
		res := rec.Result()
		if ct := res.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
			t.Errorf("Accept-Encoding %q: Content-Type %q", c.accept, ct)
		}
		var body io.Reader = res.Body
		if enc := res.Header.Get("Content-Encoding"); (enc == "gzip") != c.gzip {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want gzip %v", c.accept, enc, c.gzip)
		} else if c.gzip {
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil || string(b) != want {
			t.Errorf("Accept-Encoding %q: body %q (%v), want %q", c.accept, b, err, want)
		}
	}
}

// TestDuplicateSeries: the same series twice is written once (the first).
func TestDuplicateSeries(t *testing.T) {
	var s Scrape
	s.Gauge("g", "G.", 1, Label{"a", "x"})
	s.Gauge("g", "G.", 2, Label{"a", "x"})
	if got, want := string(s.Bytes()), "# HELP g G.\n# TYPE g gauge\ng{a=\"x\"} 1\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestConcurrent: observations and scrapes from many goroutines lose
// nothing (run with -race).
func TestConcurrent(t *testing.T) {
	c := NewCounter("c_total", "C.")
	cv := NewCounterVec("cv_total", "CV.", "k")
	h := NewHistogram("h", "H.", []float64{1, 2})
	hv := NewHistogramVec("hv", "HV.", "k", []float64{1, 2})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c.Inc()
				cv.Inc([]string{"a", "b"}[i%2])
				h.Observe(1)
				hv.Observe([]string{"a", "b"}[i%2], 3)
				if i%100 == 0 {
					var s Scrape
					hv.Collect(&s)
					cv.Collect(&s)
					s.Bytes()
				}
			}
		}()
	}
	wg.Wait()
	var s Scrape
	for _, m := range []interface{ Collect(*Scrape) }{c, cv, h, hv} {
		m.Collect(&s)
	}
	got := string(s.Bytes())
	for _, line := range []string{
		"c_total 8000", `cv_total{k="a"} 4000`, `cv_total{k="b"} 4000`,
		`h_bucket{le="1"} 8000`, "h_sum 8000", "h_count 8000",
		`hv_bucket{k="a",le="2"} 0`, `hv_bucket{k="a",le="+Inf"} 4000`, `hv_sum{k="b"} 12000`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("no line %q in\n%s", line, got)
		}
	}
}

func TestBadBoundsPanic(t *testing.T) {
	for _, b := range [][]float64{{1, 1}, {2, 1}, {1, math.Inf(+1)}, {math.NaN()}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHistogram with bounds %v did not panic", b)
				}
			}()
			NewHistogram("h", "H.", b)
		}()
	}
}
