package lab

import (
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// synthSeries is a made-up failover: a holds the VIP until hold, b from
// gain on; reads every 20 ms from -2 s to +8 s are answered by a before
// the fault, fail until gain+50 ms and are answered by b afterwards; writes
// every 50 ms likewise, refused for 200 ms more (catch-up).
func synthSeries(sys System, hold, gain float64) FailoverSeries {
	s := FailoverSeries{
		System: sys, Fault: FaultCablePulled, Trial: 2, Of: 3, Choice: "median downtime",
		Recovered: true, MaxHolders: 1, FromMS: -2000, ToMS: 8000,
		Hosts: []SeriesHost{{Name: "a", Label: "hosta", ServerID: 1}, {Name: "b", Label: "hostb", ServerID: 2}},
		VIP:   []HeldSpan{{Host: "a", FromMS: -60000, ToMS: hold}, {Host: "b", FromMS: gain, ToMS: 8000}},
	}
	mk := func(t, okFrom float64) Mark {
		switch {
		case t < 0:
			return Mark{SentMS: t - 2, AtMS: t, OK: true, ServerID: 1}
		case t < okFrom:
			return Mark{SentMS: t - 300, AtMS: t, Err: "timeout"}
		}
		return Mark{SentMS: t - 2, AtMS: t, OK: true, ServerID: 2}
	}
	for t := -2000.0; t < 8000; t += 20 {
		s.Reads = append(s.Reads, mk(t, gain+50))
	}
	for t := -2000.0; t < 8000; t += 50 {
		s.Writes = append(s.Writes, mk(t, gain+250))
	}
	s.WritesNote, s.WritableNote = "probe INSERT, rolled back", "by "+string(sys)
	s.OutageFromMS, s.OutageToMS = -20, gain+60
	s.DowntimeMS = s.OutageToMS - s.OutageFromMS
	return s
}

type svgElem struct {
	name    string
	attrs   map[string]string
	parents []string // class of each enclosing <g>
	text    string
}

// parseSVG decodes the document with encoding/xml and returns its elements.
func parseSVG(t *testing.T, doc string) []svgElem {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	var out []svgElem
	var stack []string
	var open []int // indices into out of the open elements
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			e := svgElem{name: x.Name.Local, attrs: map[string]string{}, parents: append([]string(nil), stack...)}
			for _, a := range x.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if e.name == "g" {
				stack = append(stack, e.attrs["class"]+":"+e.attrs["data-system"])
			}
			out = append(out, e)
			open = append(open, len(out)-1)
		case xml.EndElement:
			if x.Name.Local == "g" {
				stack = stack[:len(stack)-1]
			}
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 {
				out[open[len(open)-1]].text += string(x)
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed groups %v", stack)
	}
	return out
}

func TestRenderFailoverSVG(t *testing.T) {
	rv := synthSeries(SystemRaftvip, 1900, 2000)
	ka := synthSeries(SystemKeepalived, 2600, 2800)
	ka.MaxHolders = 2
	var b strings.Builder
	// keepalived first: the picture still puts raftvip on top.
	if err := RenderFailoverSVG(&b, FaultCablePulled, []FailoverSeries{ka, rv}); err != nil {
		t.Fatal(err)
	}
	doc := b.String()
	for _, bad := range []string{"<script", "href=", "xlink", "url("} {
		if strings.Contains(doc, bad) {
			t.Errorf("SVG is not self-contained: has %q", bad)
		}
	}
	elems := parseSVG(t, doc)
	if elems[0].name != "svg" || elems[0].attrs["width"] == "" || elems[0].attrs["viewBox"] == "" {
		t.Fatalf("root element %s %v, want <svg> with width and viewBox", elems[0].name, elems[0].attrs)
	}
	var panels []string
	count := map[string]map[string]int{} // panel -> class -> elements
	type bar struct{ x, w, y float64 }
	vipBars := map[string][]bar{}
	firstX := map[string]float64{} // panel/class -> leftmost mark
	texts := ""
	num := func(e svgElem, a string) float64 {
		v, err := strconv.ParseFloat(e.attrs[a], 64)
		if err != nil {
			t.Fatalf("<%s> %s=%q: %v", e.name, a, e.attrs[a], err)
		}
		return v
	}
	for _, e := range elems {
		texts += e.text + "\n"
		if e.name == "g" && e.attrs["class"] == "panel" {
			panels = append(panels, e.attrs["data-system"])
			count[e.attrs["data-system"]] = map[string]int{}
			continue
		}
		if len(e.parents) == 0 || e.name != "rect" {
			continue
		}
		p := strings.TrimPrefix(e.parents[len(e.parents)-1], "panel:")
		count[p][e.attrs["class"]]++
		if e.attrs["class"] == "vip" {
			vipBars[p] = append(vipBars[p], bar{num(e, "x"), num(e, "width"), num(e, "y")})
		}
		if c := e.attrs["class"]; c == "read-failed" || c == "write-ok" {
			k := p + "/" + c
			if v, ok := firstX[k]; !ok || num(e, "x") < v {
				firstX[k] = num(e, "x")
			}
		}
	}
	if strings.Join(panels, ",") != "raftvip,keepalived" {
		t.Fatalf("panels %v, want raftvip then keepalived", panels)
	}
	// The window is -1 s .. +6 s (the outages end before +5 s).
	xOf := func(ms float64) float64 {
		return plotLeft + (ms+1000)/7000*(plotWidth-plotLeft-plotRight)
	}
	want := func(ms []Mark, ok bool) int {
		n := 0
		for _, m := range ms {
			if at := m.drawAt(); m.OK == ok && at >= -1000 && at <= 6000 {
				n++
			}
		}
		return n
	}
	for _, s := range []FailoverSeries{rv, ka} {
		c := count[string(s.System)]
		for class, n := range map[string]int{
			"read-ok": want(s.Reads, true), "read-failed": want(s.Reads, false),
			"write-ok": want(s.Writes, true), "write-failed": want(s.Writes, false),
			"vip": 2, "outage": 1,
		} {
			if c[class] != n {
				t.Errorf("%s: %d elements of class %s, want %d", s.System, c[class], class, n)
			}
		}
		// A failure is drawn where it was sent, an answer where it came.
		firstFailed := math.Inf(1)
		for _, m := range s.Reads {
			if !m.OK && m.SentMS >= -1000 {
				firstFailed = math.Min(firstFailed, m.SentMS)
			}
		}
		if got, want := firstX[string(s.System)+"/read-failed"]+0.8, xOf(firstFailed); math.Abs(got-want) > 0.2 {
			t.Errorf("%s: first failed read at x=%.1f, want %.1f (sent %+.0f ms)", s.System, got, want, firstFailed)
		}
		// The write sent at -1002 ms and answered at -1000 ms is in.
		if got, want := firstX[string(s.System)+"/write-ok"]+0.8, xOf(-1000); math.Abs(got-want) > 0.2 {
			t.Errorf("%s: first answered write at x=%.1f, want %.1f (answered -1000 ms)", s.System, got, want)
		}
		// One bar per host, hosta's lane above hostb's: hosta's ends when
		// it lost the VIP, hostb's starts when it got it.
		bars := vipBars[string(s.System)]
		if len(bars) != 2 || bars[0].y >= bars[1].y {
			t.Fatalf("%s: VIP bars %v, want hosta's above hostb's", s.System, bars)
		}
		hold, gain := s.VIP[0].ToMS, s.VIP[1].FromMS
		if got, want := bars[0].x+bars[0].w, xOf(hold); got < want-0.2 || got > want+0.2 {
			t.Errorf("%s: hosta's bar ends at x=%.1f, want %.1f (%+.0f ms)", s.System, got, want, hold)
		}
		if got, want := bars[0].x, xOf(-1000); got < want-0.2 || got > want+0.2 {
			t.Errorf("%s: hosta's bar starts at x=%.1f, want the axis start %.1f", s.System, got, want)
		}
		if got, want := bars[1].x, xOf(gain); got < want-0.2 || got > want+0.2 {
			t.Errorf("%s: hostb's bar starts at x=%.1f, want %.1f (%+.0f ms)", s.System, got, want, gain)
		}
	}
	for _, want := range []string{"cable-pulled", "raftvip — downtime 2.08 s", "keepalived — downtime 2.88 s",
		"2 hosts held the VIP at once", "keepalived put the VIP on 2 hosts at once", "hosta", "hostb", "failed", "+6 s", "-1 s", "holds the VIP", "read answered",
		"write accepted", "read or write failed", "time after the fault", "trial 2 of 3 (median downtime)"} {
		if !strings.Contains(texts, want) {
			t.Errorf("no text %q in the picture", want)
		}
	}
}

func TestRenderFailoverSVGErrors(t *testing.T) {
	var b strings.Builder
	if err := RenderFailoverSVG(&b, FaultCablePulled, nil); err == nil {
		t.Error("no series: no error")
	}
	s := synthSeries(SystemRaftvip, 1, 2)
	if err := RenderFailoverSVG(&b, FaultMySQLKilled, []FailoverSeries{s}); err == nil || !strings.Contains(err.Error(), "cable-pulled") {
		t.Errorf("a series of another fault: %v, want an error naming it", err)
	}
	s.Hosts = nil
	if err := RenderFailoverSVG(&b, FaultCablePulled, []FailoverSeries{s}); err == nil || !strings.Contains(err.Error(), "no hosts") {
		t.Errorf("no hosts: %v", err)
	}
}

// A longer outage widens the axis to one second past its end; the end of
// the recording bounds it.
func TestPlotWindow(t *testing.T) {
	s := synthSeries(SystemKeepalived, 0, 0)
	s.OutageToMS = 6400
	s.ToMS = 20000
	if from, to := plotWindow([]FailoverSeries{s}); from != -1000 || to != 8000 {
		t.Errorf("window %v..%v, want -1000..8000", from, to)
	}
	s.ToMS = 7300
	if _, to := plotWindow([]FailoverSeries{s}); to != 7300 {
		t.Errorf("window ends %v, want the recording's end 7300", to)
	}
}

func TestWriteFailoverSVGsAndFile(t *testing.T) {
	dir := t.TempDir()
	a := synthSeries(SystemRaftvip, 1900, 2000)
	b := synthSeries(SystemKeepalived, 2600, 2800)
	c := synthSeries(SystemRaftvip, 10, 20)
	c.Fault = FaultMySQLKilled
	files, err := WriteFailoverSVGs(dir, []FailoverSeries{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || filepath.Base(files[0]) != "failover-cable-pulled.svg" || filepath.Base(files[1]) != "failover-mysql-killed.svg" {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parseSVG(t, string(doc))
	}
	p := filepath.Join(dir, "failovers.json")
	if _, err := ReadFailoverFile(p); err == nil {
		t.Error("missing file: no error")
	}
	if err := os.WriteFile(p, []byte(`{"series": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFailoverFile(p); err == nil || !strings.Contains(err.Error(), "no series") {
		t.Errorf("empty file: %v", err)
	}
}
