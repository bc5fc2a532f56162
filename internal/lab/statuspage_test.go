package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const metricsPort = 9273

// chromium loads url in headless Chromium inside namespace ns and returns
// the DOM after the page's scripts ran for a few seconds of virtual time
// (the status page refreshes itself from /status.json every 3 s), or, with
// screenshot set, writes a PNG there.
func chromium(ctx context.Context, t *testing.T, ns, url, screenshot string) string {
	t.Helper()
	profile := t.TempDir()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile, "--virtual-time-budget=5000"}
	if screenshot != "" {
		args = append(args, "--window-size=1280,900", "--screenshot="+screenshot)
	} else {
		args = append(args, "--dump-dom")
	}
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, "ip", append([]string{"netns", "exec", ns, "chromium"}, append(args, url)...)...)
	cmd.Dir = profile
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("chromium %s: %v\n%s", url, err, stderr)
	}
	return string(out)
}

// TestStatusPageInChromium loads an agent's status page in headless
// Chromium from the client namespace: it names the holder, and after the
// holder's MySQL is killed the new holder; its own script re-rendered it
// from /status.json (the Content-Security-Policy lets the inline script and
// the fetch through). /metrics then has the failover phase histograms.
// RAFTVIP_SCREENSHOT=FILE also saves a screenshot of the page after the
// failover (docs/status-page.png is one).
func TestStatusPageInChromium(t *testing.T) {
	bin := requireLab(t)
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Fatalf("chromium is missing: run scripts/install-deps.sh (%v)", err)
	}
	l := newTestLab(t, Options{RaftvipBin: bin})
	ctx := within(t, 4*time.Minute)
	configs := map[string]string{}
	for _, h := range l.agentHosts() {
		p, err := l.AgentPathsOf(h.Name)
		if err != nil {
			t.Fatal(err)
		}
		configs[h.Name] = l.AgentConfig(h, filepath.Dir(p.Config)) + fmt.Sprintf("\nmetrics_addr = \"%s:%d\"\n", h.IP, metricsPort)
	}
	holder, other := startAgentsWith(ctx, t, l, configs)
	oldID, newID := l.Host(holder).NodeID, l.Host(other).NodeID
	client := l.Host("c").NS
	page := fmt.Sprintf("http://%s:%d/", l.Host("w").IP, metricsPort)

	dom := chromium(ctx, t, client, page, "")
	if !strings.Contains(dom, `id="holder">`+oldID+`<`) {
		t.Fatalf("the status page does not name holder %s:\n%s", oldID, dom)
	}
	if !strings.Contains(dom, `data-rendered="script"`) {
		t.Errorf("the page's script did not re-render it from /status.json:\n%s", dom)
	}

	if err := l.KillMySQL(holder); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the VIP on "+other, func() error {
		if h, ok := l.Monitor().Holder(); !ok || h != other {
			return fmt.Errorf("holder %q", h)
		}
		return nil
	})
	eventually(t, 20*time.Second, "the page names "+newID, func() error {
		dom = chromium(ctx, t, client, page, "")
		if !strings.Contains(dom, `id="holder">`+newID+`<`) {
			return fmt.Errorf("the page does not name holder %s", newID)
		}
		return nil
	})
	if !strings.Contains(dom, "acquire") || !strings.Contains(dom, "release") {
		t.Errorf("the page's timeline has no release and acquire:\n%s", dom)
	}
	// /metrics as an operator (or Prometheus) fetches it: curl.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "ip", "netns", "exec", client, "curl", "-sSf", "--max-time", "10",
		fmt.Sprintf("http://%s:%d/metrics", l.Host(other).IP, metricsPort)).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s's /metrics: %v\n%s", newID, err, out)
	}
	metrics := string(out)
	for _, s := range []string{`raftvip_failover_phase_seconds_count{phase="detection"} 1`, `raftvip_failover_phase_seconds_count{phase="handover"} 1`,
		`raftvip_failover_phase_seconds_bucket{phase="handover",le="0.1"} 1`, "raftvip_holding 1"} {
		if !strings.Contains(metrics, s) {
			t.Errorf("%s's /metrics has no %q:\n%s", newID, s, metrics)
		}
	}
	if shot := os.Getenv("RAFTVIP_SCREENSHOT"); shot != "" {
		abs, err := filepath.Abs(shot)
		if err != nil {
			t.Fatal(err)
		}
		chromium(ctx, t, client, page, abs)
		if st, err := os.Stat(abs); err != nil || st.Size() == 0 {
			t.Errorf("no screenshot at %s: %v", abs, err)
		}
	}
}
