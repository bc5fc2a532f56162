package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FailoverSeries is what the client and the VIP monitor saw around one
// trial's fault: the bench keeps one per fault and system (the median
// trial) so the pictures can be drawn, and redrawn, from it. Times are in
// ms after the fault.
type FailoverSeries struct {
	System System `json:"system"`
	Fault  Fault  `json:"fault"`
	Trial  int    `json:"trial"`
	Of     int    `json:"of"`     // trials of this fault and system
	Choice string `json:"choice"` // why this trial was kept
	// DowntimeMS is the trial's downtime as the bench reports it; the
	// outage is the gap it measured (from the last answer before it to
	// the first answer after it; both 0 when none was found).
	DowntimeMS   float64 `json:"downtime_ms"`
	Recovered    bool    `json:"recovered"`
	MaxHolders   int     `json:"max_holders"`
	OutageFromMS float64 `json:"outage_from_ms"`
	OutageToMS   float64 `json:"outage_to_ms"`
	// FromMS and ToMS bound what was recorded.
	FromMS float64      `json:"from_ms"`
	ToMS   float64      `json:"to_ms"`
	Hosts  []SeriesHost `json:"hosts"` // the DB hosts, in lane order
	VIP    []HeldSpan   `json:"vip"`
	Reads  []Mark       `json:"reads"`
	Writes []Mark       `json:"writes,omitempty"`
	// WritesNote says how writes were made (empty: no writer ran),
	// WritableNote who made the holder writable.
	WritesNote   string `json:"writes_note,omitempty"`
	WritableNote string `json:"writable_note,omitempty"`
}

// SeriesHost is a lane of the picture.
type SeriesHost struct {
	Name     string `json:"name"`  // lab host name (a, b): VIP spans refer to it
	Label    string `json:"label"` // node id (hosta)
	ServerID int    `json:"server_id"`
}

// HeldSpan is a time the netlink monitor saw Host hold the VIP.
type HeldSpan struct {
	Host   string  `json:"host"`
	FromMS float64 `json:"from_ms"`
	ToMS   float64 `json:"to_ms"`
}

// Mark is one read or write of the client: sent at SentMS, answered (or
// failed) at AtMS.
type Mark struct {
	SentMS   float64 `json:"sent_ms"`
	AtMS     float64 `json:"at_ms"`
	OK       bool    `json:"ok"`
	ServerID int     `json:"server_id,omitempty"` // who answered (0: not known)
	Err      string  `json:"err,omitempty"`
}

// drawAt is where the pictures put a mark: an answer when it came (the
// client was served then; the downtime counts between answers), a failure
// when it was tried (a write that timed out after 1 s belongs to the moment
// the client could not write, not to when it gave up).
func (m Mark) drawAt() float64 {
	if m.OK {
		return m.AtMS
	}
	return m.SentMS
}

// FailoverFile is the sidecar the bench writes next to results.json
// (failovers.json) and `raftvip-lab bench-plot` reads.
type FailoverFile struct {
	Command string           `json:"command,omitempty"`
	Date    string           `json:"date,omitempty"`
	Note    string           `json:"note,omitempty"`
	Series  []FailoverSeries `json:"series"`
}

// ReadFailoverFile reads a failovers.json.
func ReadFailoverFile(path string) (*FailoverFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f FailoverFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Series) == 0 {
		return nil, fmt.Errorf("%s: no series", path)
	}
	return &f, nil
}

// FailoverSVGName is the file one fault's picture goes to.
func FailoverSVGName(f Fault) string { return "failover-" + string(f) + ".svg" }

// WriteFailoverSVGs draws one picture per fault found in series into dir
// and returns the files written, in fault order.
func WriteFailoverSVGs(dir string, series []FailoverSeries) ([]string, error) {
	byFault := map[Fault][]FailoverSeries{}
	var order []Fault
	for _, s := range series {
		if _, ok := byFault[s.Fault]; !ok {
			order = append(order, s.Fault)
		}
		byFault[s.Fault] = append(byFault[s.Fault], s)
	}
	var files []string
	for _, f := range order {
		var b strings.Builder
		if err := RenderFailoverSVG(&b, f, byFault[f]); err != nil {
			return files, fmt.Errorf("%s: %w", f, err)
		}
		p := filepath.Join(dir, FailoverSVGName(f))
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return files, err
		}
		files = append(files, p)
	}
	return files, nil
}

// The picture's geometry, in SVG user units (px).
const (
	plotWidth   = 1100.0
	plotLeft    = 150.0 // lane labels
	plotRight   = 30.0
	plotTop     = 78.0 // title, subtitle, legend
	laneHeight  = 34.0
	laneGap     = 6.0
	panelHead   = 36.0 // panel title above its lanes
	panelAxis   = 30.0 // tick labels below the lanes
	panelGap    = 14.0
	defaultPre  = -1000.0
	defaultPost = 6000.0
)

var systemOrder = map[System]int{SystemRaftvip: 0, SystemKeepalived: 1}

// plotWindow is the shared time axis of a picture: -1 s to +6 s around the
// fault, longer when a downtime ends later (1 s after the last outage,
// whole seconds), never past what was recorded.
func plotWindow(panels []FailoverSeries) (from, to float64) {
	from, to = defaultPre, defaultPost
	for _, p := range panels {
		if p.OutageToMS > 0 {
			to = math.Max(to, math.Ceil((p.OutageToMS+1000)/1000)*1000)
		}
	}
	// A picture, not a log: a longer outage runs off the right edge.
	to = math.Min(to, 15000)
	// Past the end of a recording its lanes would be empty and look like
	// an outage.
	for _, p := range panels {
		if p.ToMS > 0 && p.ToMS < to {
			to = p.ToMS
		}
		if p.FromMS < 0 && p.FromMS > from {
			from = p.FromMS
		}
	}
	return from, to
}

// RenderFailoverSVG draws the panels (one per system, raftvip first) of one
// fault on one time axis: per DB host a lane with the time it held the VIP
// and the reads and writes it answered, and a lane of failed ones.
func RenderFailoverSVG(w io.Writer, f Fault, panels []FailoverSeries) error {
	if len(panels) == 0 {
		return errors.New("no series to draw")
	}
	panels = append([]FailoverSeries(nil), panels...)
	sort.SliceStable(panels, func(i, j int) bool { return systemOrder[panels[i].System] < systemOrder[panels[j].System] })
	for _, p := range panels {
		if p.Fault != f {
			return fmt.Errorf("series of %s/%s in the picture of %s", p.System, p.Fault, f)
		}
		if len(p.Hosts) == 0 {
			return fmt.Errorf("%s: no hosts", p.System)
		}
	}
	from, to := plotWindow(panels)
	innerW := plotWidth - plotLeft - plotRight
	x := func(ms float64) float64 { return plotLeft + (ms-from)/(to-from)*innerW }
	inWin := func(ms float64) bool { return ms >= from && ms <= to }

	panelH := func(p FailoverSeries) float64 {
		return panelHead + float64(len(p.Hosts)+1)*(laneHeight+laneGap) + panelAxis
	}
	caption := captionLines(panels)
	subtitle := wrap(f.Describe(), 190)
	top := plotTop + float64(len(subtitle)-1)*13
	captionTop := top
	for _, p := range panels {
		captionTop += panelH(p) + panelGap
	}
	height := captionTop + float64(len(caption))*13 + 10

	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
`, plotWidth, height, plotWidth, height)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(fmt.Sprintf("Failover, %s: raftvip and keepalived", f)))
	b.WriteString(`<style>
.vip{fill:#c7e9c0}
.read-ok{fill:#2166ac}
.write-ok{fill:#762a83}
.read-failed,.write-failed{fill:#d6301d}
.outage{fill:#fddbc7}
.dlabel{font-size:11px;fill:#b2182b}
.bracket{fill:none;stroke:#b2182b;stroke-width:1.2}
.grid{stroke:#d9d9d9;stroke-width:1}
.fault{stroke:#d6301d;stroke-width:1.5;stroke-dasharray:5 3}
.lane{fill:none;stroke:#bdbdbd;stroke-width:0.8}
.small{font-size:10px;fill:#555}
.head{font-size:13px;font-weight:bold}
</style>
<rect width="100%" height="100%" fill="white"/>
`)
	// Title: the fault and each system's downtime.
	var downs, two []string
	for _, p := range panels {
		downs = append(downs, fmt.Sprintf("%s %s", p.System, downtimeText(p)))
		if p.MaxHolders > 1 {
			two = append(two, fmt.Sprintf("%s put the VIP on %d hosts at once", p.System, p.MaxHolders))
		}
	}
	if len(two) > 0 {
		downs[len(downs)-1] += "; " + strings.Join(two, ", ")
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", plotLeft-130,
		esc(fmt.Sprintf("%s: downtime %s", f, strings.Join(downs, ", "))))
	for i, line := range subtitle {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="small">%s</text>`+"\n", plotLeft-130, 42+float64(i)*13, esc(line))
	}
	legend(&b, plotLeft-130, top-16)

	y := top
	for _, p := range panels {
		drawPanel(&b, p, y, from, to, x, inWin)
		y += panelH(p) + panelGap
	}
	for i, line := range caption {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="small">%s</text>`+"\n", plotLeft-130, captionTop+12+float64(i)*13, esc(line))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// captionLines says what the marks are and how each system's writes were
// made, wrapped to the picture's width.
func captionLines(panels []FailoverSeries) []string {
	text := "Each mark is one request through the VIP on a new connection, an answer where it came, a failure where it was tried: " +
		"reads (SELECT @@server_id every 20 ms, 300 ms timeout) in the upper half of a lane, writes in the lower half. The green band: the netlink monitor saw the host hold the VIP. " +
		"The downtime: from the last answer before the fault to the first answer after it (the bench's measure)."
	lines := wrap(text, 195)
	var how, who []string
	seen := map[string]bool{}
	for _, p := range panels {
		note := p.WritesNote
		if note == "" {
			note = string(p.System) + ": no writer ran"
		}
		if !seen[note] {
			seen[note] = true
			how = append(how, note+".")
		}
		if p.WritableNote != "" {
			who = append(who, fmt.Sprintf("%s: %s.", p.System, p.WritableNote))
		}
	}
	return append(lines, wrap("Writes: "+strings.Join(append(how, who...), " "), 195)...)
}

// wrap breaks text into lines of at most width bytes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func downtimeText(p FailoverSeries) string {
	if !p.Recovered {
		return "– (not recovered)"
	}
	return fmt.Sprintf("%.2f s", p.DowntimeMS/1000)
}

func legend(b *strings.Builder, x, y float64) {
	items := []struct{ class, label string }{
		{"vip", "holds the VIP"},
		{"read-ok", "read answered"},
		{"write-ok", "write accepted"},
		{"read-failed", "read or write failed"},
		{"outage", "downtime"},
	}
	for _, it := range items {
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="14" height="10" class="%s"/>`, x, y-9, it.class)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", x+18, y, esc(it.label))
		x += 18 + float64(len(it.label))*6.6 + 22
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="fault"/>`, x, y-10, x, y+1)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f">fault (t = 0)</text>`+"\n", x+6, y)
}

func drawPanel(b *strings.Builder, p FailoverSeries, top, from, to float64, x func(float64) float64, inWin func(float64) bool) {
	fmt.Fprintf(b, "<g class=\"panel\" data-system=\"%s\">\n", esc(string(p.System)))
	head := fmt.Sprintf("%s — downtime %s", p.System, downtimeText(p))
	if p.MaxHolders > 1 {
		head += fmt.Sprintf(", %d hosts held the VIP at once", p.MaxHolders)
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%.1f" class="head">%s</text>`, plotLeft-130, top+16, esc(head))
	if p.Trial > 0 {
		fmt.Fprintf(b, `<text x="%.0f" y="%.1f" class="small" text-anchor="end">%s</text>`, plotWidth-plotRight, top+16,
			esc(fmt.Sprintf("trial %d of %d (%s)", p.Trial, p.Of, p.Choice)))
	}
	b.WriteString("\n")
	lanesTop := top + panelHead
	nLanes := len(p.Hosts) + 1
	lanesBottom := lanesTop + float64(nLanes)*(laneHeight+laneGap) - laneGap
	// The downtime first, as a tint under the lanes.
	if ox0, ox1, ok := outageX(p, from, to, x); ok {
		fmt.Fprintf(b, `<rect class="outage" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`+"\n",
			ox0, lanesTop-2, ox1-ox0, lanesBottom-lanesTop+4, esc(fmt.Sprintf("downtime %.0f ms", p.DowntimeMS)))
	}
	// Grid and time axis: a line per second, labelled.
	for t := math.Ceil(from/1000) * 1000; t <= to; t += 1000 {
		fmt.Fprintf(b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x(t), lanesTop-2, x(t), lanesBottom+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" class="small">%s</text>`+"\n", x(t), lanesBottom+16, fmt.Sprintf("%+.0f s", t/1000))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" class="small">time after the fault</text>`+"\n", plotWidth-plotRight, lanesBottom+28)

	laneY := map[string]float64{} // host name -> lane top
	laneOf := map[int]float64{}   // server_id -> lane top
	failedY := lanesTop + float64(len(p.Hosts))*(laneHeight+laneGap)
	for i, h := range p.Hosts {
		ly := lanesTop + float64(i)*(laneHeight+laneGap)
		laneY[h.Name] = ly
		if h.ServerID != 0 {
			laneOf[h.ServerID] = ly
		}
		laneLabel(b, ly, h.Label, fmt.Sprintf("server_id %d", h.ServerID))
	}
	laneLabel(b, failedY, "failed", "error, timeout")
	// VIP held: a band behind the host's lane.
	for _, v := range p.VIP {
		ly, ok := laneY[v.Host]
		if !ok {
			continue
		}
		f0, f1 := math.Max(v.FromMS, from), math.Min(v.ToMS, to)
		if f1 <= f0 {
			continue
		}
		fmt.Fprintf(b, `<rect class="vip" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`+"\n",
			x(f0), ly, x(f1)-x(f0), laneHeight, esc(fmt.Sprintf("%s holds the VIP from %+.0f ms to %+.0f ms", v.Host, v.FromMS, v.ToMS)))
	}
	for i := 0; i <= len(p.Hosts); i++ {
		ly := lanesTop + float64(i)*(laneHeight+laneGap)
		fmt.Fprintf(b, `<rect class="lane" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`+"\n", plotLeft, ly, plotWidth-plotLeft-plotRight, laneHeight)
	}
	// The downtime's bracket and label above the lanes.
	if ox0, ox1, ok := outageX(p, from, to, x); ok {
		fmt.Fprintf(b, `<path class="bracket" d="M%.1f %.1f V%.1f H%.1f V%.1f"/>`, ox0, lanesTop-2, lanesTop-7, ox1, lanesTop-2)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" class="dlabel">%s</text>`+"\n", ox1+4, lanesTop-4,
			esc(fmt.Sprintf("downtime %.2f s", p.DowntimeMS/1000)))
	}
	// Reads in the upper half of a lane, writes in the lower half.
	marks := func(ms []Mark, kind string, yOff float64) {
		for _, m := range ms {
			at := m.drawAt()
			if !inWin(at) {
				continue
			}
			ly, class := failedY, kind+"-failed"
			if m.OK {
				l, ok := laneOf[m.ServerID]
				if !ok {
					continue // answered by a server with no lane
				}
				ly, class = l, kind+"-ok"
			}
			fmt.Fprintf(b, `<rect class="%s" x="%.1f" y="%.1f" width="1.6" height="%.1f">`, class, x(at)-0.8, ly+yOff, laneHeight/2-5)
			if m.OK {
				fmt.Fprintf(b, "<title>%s answered %+.0f ms by server_id %d</title></rect>\n", kind, m.AtMS, m.ServerID)
			} else {
				fmt.Fprintf(b, "<title>%s</title></rect>\n", esc(fmt.Sprintf("%s sent %+.0f ms failed %+.0f ms: %s", kind, m.SentMS, m.AtMS, m.Err)))
			}
		}
	}
	marks(p.Reads, "read", 3)
	marks(p.Writes, "write", laneHeight/2+2)
	// The fault, over everything.
	fmt.Fprintf(b, `<line class="fault" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", x(0), lanesTop-4, x(0), lanesBottom+4)
	b.WriteString("</g>\n")
}

// outageX is where the downtime's gap lies on the axis (ok false: none
// in the window).
func outageX(p FailoverSeries, from, to float64, x func(float64) float64) (x0, x1 float64, ok bool) {
	if p.OutageToMS <= p.OutageFromMS {
		return 0, 0, false
	}
	x0, x1 = x(math.Max(p.OutageFromMS, from)), x(math.Min(p.OutageToMS, to))
	return x0, x1, x1 > x0
}

func laneLabel(b *strings.Builder, ly float64, label, sub string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`, plotLeft-42, ly+14, esc(label))
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" class="small">%s</text>`, plotLeft-42, ly+27, esc(sub))
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" class="small">reads</text>`, plotLeft-4, ly+13)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" class="small">writes</text>`+"\n", plotLeft-4, ly+29)
}

// esc escapes text for SVG character data and attribute values.
func esc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	return r.Replace(s)
}
