package promtext

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// Counter counts up from 0; safe for concurrent use. It is always exported,
// 0 included.
type Counter struct {
	name, help string
	n          atomic.Uint64
}

// NewCounter makes a counter.
func NewCounter(name, help string) *Counter { return &Counter{name: name, help: help} }

// Inc adds 1.
func (c *Counter) Inc() { c.n.Add(1) }

// Collect adds the counter to a scrape.
func (c *Counter) Collect(s *Scrape) { s.Counter(c.name, c.help, float64(c.n.Load())) }

// CounterVec is counters by the value of one label; safe for concurrent
// use. A value's series exists from its first Inc on (as client_golang's
// CounterVec: no series, and no family, before).
type CounterVec struct {
	name, help, label string
	mu                sync.Mutex
	m                 map[string]*atomic.Uint64
}

// NewCounterVec makes counters by label.
func NewCounterVec(name, help, label string) *CounterVec {
	return &CounterVec{name: name, help: help, label: label, m: map[string]*atomic.Uint64{}}
}

// Inc adds 1 to value's counter.
func (v *CounterVec) Inc(value string) {
	v.mu.Lock()
	n := v.m[value]
	if n == nil {
		n = new(atomic.Uint64)
		v.m[value] = n
	}
	v.mu.Unlock()
	n.Add(1)
}

// Collect adds the counters to a scrape.
func (v *CounterVec) Collect(s *Scrape) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for value, n := range v.m {
		s.Counter(v.name, v.help, float64(n.Load()), Label{v.label, value})
	}
}

// HistogramValue is a histogram at one instant. Counts has one count per
// bound, not cumulative (the exposition accumulates them); observations
// above the last bound are only in Count.
type HistogramValue struct {
	Bounds []float64
	Counts []uint64
	Sum    float64
	Count  uint64
}

// buckets is one histogram's state. A mutex, not atomics: observations
// are rare (a check a second, a failover's phases), and under a lock a
// scrape reads counts, sum and count of the same instant.
type buckets struct {
	bounds []float64 // shared, never written
	mu     sync.Mutex
	counts []uint64
	sum    float64
	count  uint64
}

func newBuckets(bounds []float64) *buckets {
	return &buckets{bounds: bounds, counts: make([]uint64, len(bounds))}
}

// observe counts v in the first bucket whose bound is >= v (as
// client_golang: a value on a bound is in that bucket; NaN and values
// above the last bound are in +Inf only).
func (b *buckets) observe(v float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, bound := range b.bounds {
		if v <= bound {
			b.counts[i]++
			break
		}
	}
	b.sum += v
	b.count++
}

func (b *buckets) value() HistogramValue {
	b.mu.Lock()
	defer b.mu.Unlock()
	return HistogramValue{Bounds: b.bounds, Counts: append([]uint64(nil), b.counts...), Sum: b.sum, Count: b.count}
}

// checkBounds panics on bounds that are not finite and strictly
// increasing: a programming error, found by the first test that makes the
// metric (client_golang panics likewise).
func checkBounds(name string, bounds []float64) []float64 {
	for i, b := range bounds {
		if math.IsInf(b, 0) || math.IsNaN(b) || (i > 0 && b <= bounds[i-1]) {
			panic(fmt.Sprintf("promtext: histogram %s: bounds %v are not finite and strictly increasing (+Inf is implied)", name, bounds))
		}
	}
	return append([]float64(nil), bounds...)
}

// Histogram counts observations in buckets; safe for concurrent use. It is
// always exported, with zero counts before the first observation.
type Histogram struct {
	name, help string
	b          *buckets
}

// NewHistogram makes a histogram with the given bucket upper bounds
// (finite, increasing; +Inf is implied).
func NewHistogram(name, help string, bounds []float64) *Histogram {
	return &Histogram{name: name, help: help, b: newBuckets(checkBounds(name, bounds))}
}

// Observe counts one value.
func (h *Histogram) Observe(v float64) { h.b.observe(v) }

// Collect adds the histogram to a scrape.
func (h *Histogram) Collect(s *Scrape) { s.Histogram(h.name, h.help, h.b.value()) }

// HistogramVec is histograms by the value of one label; safe for concurrent
// use. A value's series exists from its first observation on.
type HistogramVec struct {
	name, help, label string
	bounds            []float64
	mu                sync.Mutex
	m                 map[string]*buckets
}

// NewHistogramVec makes histograms by label, all with the same bounds.
func NewHistogramVec(name, help, label string, bounds []float64) *HistogramVec {
	return &HistogramVec{name: name, help: help, label: label, bounds: checkBounds(name, bounds), m: map[string]*buckets{}}
}

// Observe counts one value in value's histogram.
func (v *HistogramVec) Observe(value string, x float64) {
	v.mu.Lock()
	b := v.m[value]
	if b == nil {
		b = newBuckets(v.bounds)
		v.m[value] = b
	}
	v.mu.Unlock()
	b.observe(x)
}

// Collect adds the histograms to a scrape (which sorts them).
func (v *HistogramVec) Collect(s *Scrape) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for value, b := range v.m {
		s.Histogram(v.name, v.help, b.value(), Label{v.label, value})
	}
}
