package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metricsIn scrapes url's /metrics from inside namespace ns.
func metricsIn(ctx context.Context, ns, url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return DialInNamespace(ctx, ns, network, addr)
		}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// metricValue is the value of series in a text exposition (-1 when absent).
func metricValue(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// checkRun is `raftvip check` on agent a: its line and exit code.
func checkRun(ctx context.Context, a *Agent) (string, int, error) {
	out, err := a.Command(ctx, "check")
	var ee *exec.ExitError
	switch {
	case err == nil:
		return strings.TrimSpace(out), 0, nil
	case errors.As(err, &ee):
		return strings.TrimSpace(out), ee.ExitCode(), nil
	}
	return out, -1, err
}

// Issue 12, "Two holders seen from outside": the VIP added by hand on the
// db host that does not hold it (a keepalived left running would do the
// same) is seen by the witness's ARP watch: `raftvip check` on the witness
// is CRITICAL (exit 2) naming the address and both MACs, status shows it
// (text and -json), the witness logs an ERROR and its metrics count the
// foreign answers. Once the address is removed it all clears. raftvip's own
// holder is not moved by any of it.
func TestARPWatchSeesVIPAddedByHand(t *testing.T) {
	bin := requireLab(t)
	l := newTestLab(t, Options{RaftvipBin: bin})
	ctx := within(t, 4*time.Minute)
	configs := map[string]string{}
	for _, h := range l.agentHosts() {
		p, err := l.AgentPathsOf(h.Name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := l.AgentConfig(h, filepath.Dir(p.Config)) + fmt.Sprintf("\nmetrics_addr = \"%s:%d\"\n", h.IP, metricsPort)
		if h.Role != RoleDB {
			// The db nodes' vip block: on the witness only the ARP
			// watch uses it.
			cfg += fmt.Sprintf("\nvip {\n  interface = \"eth0\"\n  addresses = [%q]\n}\n", VIPCIDR)
		}
		configs[h.Name] = cfg
	}
	holder, other := startAgentsWith(ctx, t, l, configs)
	holderMAC, otherMAC := l.Host(holder).MAC, l.Host(other).MAC
	w := l.Agent("w")
	client := l.Host("c").NS
	metricsURL := fmt.Sprintf("http://%s:%d/metrics", l.Host("w").IP, metricsPort)
	foreign := fmt.Sprintf(`raftvip_vip_foreign_answers_total{address=%q}`, VIP)
	alarm := fmt.Sprintf(`raftvip_vip_arp_alarm{address=%q}`, VIP)
	answerers := fmt.Sprintf(`raftvip_vip_arp_answerers{address=%q}`, VIP)

	// All well first, and the witness really asks: it sees the holder.
	eventually(t, 20*time.Second, "check OK and the witness sees one answerer", func() error {
		line, code, err := checkRun(ctx, w)
		if err != nil || code != 0 {
			return fmt.Errorf("check: %d %q %v", code, line, err)
		}
		m, err := metricsIn(ctx, client, metricsURL)
		if err != nil {
			return err
		}
		if v := metricValue(m, answerers); v != 1 {
			return fmt.Errorf("%s = %v, want 1", answerers, v)
		}
		return nil
	})
	m, err := metricsIn(ctx, client, metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	if v := metricValue(m, foreign); v != 0 {
		t.Fatalf("%s = %v before anything foreign answered", foreign, v)
	}
	st, err := w.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := st.Epoch

	if err := l.AddVIP(ctx, other, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.RemoveVIP(context.Background(), other) })
	added := time.Now()
	var line string
	eventually(t, 20*time.Second, "raftvip check CRITICAL on the witness", func() error {
		var code int
		line, code, err = checkRun(ctx, w)
		if err != nil {
			return err
		}
		if code != 2 {
			return fmt.Errorf("exit %d: %s", code, line)
		}
		return nil
	})
	t.Logf("%s after the VIP was added on %s: %s", time.Since(added).Round(100*time.Millisecond), other, line)
	for _, s := range []string{"RAFTVIP CRITICAL - ", "TWO HOLDERS: " + VIP, holderMAC, otherMAC, "seen by " + l.Host("w").NodeID} {
		if !strings.Contains(line, s) {
			t.Errorf("check line does not say %q: %s", s, line)
		}
	}
	text, err := w.StatusText(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^CRITICAL: TWO HOLDERS: `+regexp.QuoteMeta(VIP)+` answered by .*`+regexp.QuoteMeta(otherMAC)).MatchString(text) ||
		!strings.Contains(text, "ARP watch (who answers ARP for the VIP):") {
		t.Errorf("status does not show the alarm:\n%s", text)
	}
	t.Logf("status on the witness:\n%s", text)
	js, err := w.StatusText(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		ARPAlarms []string `json:"arp_alarms"`
	}
	if err := json.Unmarshal([]byte(js), &raw); err != nil || len(raw.ARPAlarms) != 1 || !strings.Contains(raw.ARPAlarms[0], otherMAC) {
		t.Errorf("status -json arp_alarms %q (%v), want one naming %s", raw.ARPAlarms, err, otherMAC)
	}
	m, err = metricsIn(ctx, client, metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	if v := metricValue(m, foreign); v <= 0 {
		t.Errorf("%s = %v, want > 0", foreign, v)
	}
	if v := metricValue(m, alarm); v != 1 {
		t.Errorf("%s = %v, want 1", alarm, v)
	}
	if v := metricValue(m, answerers); v != 2 {
		t.Errorf("%s = %v, want 2", answerers, v)
	}
	logText, err := os.ReadFile(w.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`\[ERROR\] raftvip\.arpwatch: VIP answered from outside raftvip's control: .*address=` + regexp.QuoteMeta(VIP)).Match(logText) {
		t.Errorf("the witness logged no ERROR from its arpwatch logger")
	}

	if err := l.RemoveVIP(ctx, other); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	eventually(t, 20*time.Second, "raftvip check OK again", func() error {
		line, code, err := checkRun(ctx, w)
		if err != nil || code != 0 {
			return fmt.Errorf("check: %d %q %v", code, line, err)
		}
		return nil
	})
	t.Logf("check OK %s after the VIP was removed from %s", time.Since(removed).Round(100*time.Millisecond), other)
	text, err = w.StatusText(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "CRITICAL") {
		t.Errorf("status still shows an alarm:\n%s", text)
	}
	m, err = metricsIn(ctx, client, metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	if v := metricValue(m, alarm); v != 0 {
		t.Errorf("%s = %v after the removal, want 0", alarm, v)
	}
	if h, ok := l.Monitor().Holder(); !ok || h != holder {
		t.Errorf("raftvip's holder is %q (%v), want %s unmoved", h, ok, holder)
	}
	if st, err := w.Status(ctx); err != nil || st.Epoch != before {
		t.Errorf("epoch %v (%v), want %d: the hand-added address must not move the VIP", st, err, before)
	}

	// A real failover is not two holders: while the VIP moves, no check
	// run on the witness names an ARP alarm and no node logs one.
	errorsBefore := arpErrors(t, l)
	if err := l.KillMySQL(holder); err != nil {
		t.Fatal(err)
	}
	moved := time.Now()
	sawMove := false
	for time.Since(moved) < 12*time.Second {
		line, _, err := checkRun(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(line, "HOLDER") {
			t.Fatalf("%s after MySQL was killed on the holder: %s", time.Since(moved).Round(100*time.Millisecond), line)
		}
		if h, ok := l.Monitor().Holder(); ok && h == other {
			sawMove = true
		}
		time.Sleep(300 * time.Millisecond)
	}
	if !sawMove {
		t.Fatalf("the VIP did not move to %s", other)
	}
	if n := arpErrors(t, l); n != errorsBefore {
		t.Errorf("%d arpwatch ERROR lines after the failover, %d before", n, errorsBefore)
	}
	// The old holder now watches too, and sees the new one answer.
	text, err = w.StatusText(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "  "+l.Host(holder).NodeID+": "+VIP+" ok: "+otherMAC+" answers (holder "+l.Host(other).NodeID+")") {
		t.Errorf("status does not show %s's watch seeing %s answer:\n%s", l.Host(holder).NodeID, otherMAC, text)
	}
}

// arpErrors counts the arpwatch ERROR lines in every agent's log.
func arpErrors(t *testing.T, l *Lab) int {
	t.Helper()
	n := 0
	for _, h := range l.agentHosts() {
		b, err := os.ReadFile(l.Agent(h.Name).LogPath)
		if err != nil {
			t.Fatal(err)
		}
		n += strings.Count(string(b), "[ERROR] raftvip.arpwatch:")
	}
	return n
}
