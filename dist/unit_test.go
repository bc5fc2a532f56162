// Package dist holds no code: the systemd unit and what installs it. Its
// test reads dist/raftvip.service as systemd would (systemd-analyze verify
// needs a running systemd, which CI lacks) and checks the settings the
// agent depends on.
package dist

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/config"
	"github.com/raftvip/raftvip/internal/sched"
)

// unit is a parsed unit file: section → key → values in order (a key may
// repeat; systemd appends, and an empty assignment resets the list).
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case strings.HasSuffix(line, "\\"):
			t.Fatalf("%s:%d: continuation lines are not expected here", path, n)
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] != nil {
				t.Fatalf("%s:%d: section [%s] twice", path, n, section)
			}
			u[section] = map[string][]string{}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: want key=value inside a section: %q", path, n, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if v == "" {
			u[section][k] = nil
			continue
		}
		u[section][k] = append(u[section][k], v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// one is the single value of key (a repeated key is a mistake here).
func (u unit) one(t *testing.T, section, key string) string {
	t.Helper()
	v := u[section][key]
	if len(v) != 1 {
		t.Errorf("[%s] %s: %d values %q, want one", section, key, len(v), v)
		return ""
	}
	return v[0]
}

// words is the space-separated list key sets (all assignments joined).
func (u unit) words(section, key string) []string {
	var w []string
	for _, v := range u[section][key] {
		w = append(w, strings.Fields(v)...)
	}
	sort.Strings(w)
	return w
}

func TestServiceUnit(t *testing.T) {
	u := parseUnit(t, "raftvip.service")
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			t.Fatalf("no [%s] section", s)
		}
	}
	want := map[string]string{
		"Type":                     "notify",
		"NotifyAccess":             "main",
		"ExecReload":               "/bin/kill -HUP $MAINPID",
		"ProtectSystem":            "strict",
		"ProtectHome":              "yes",
		"PrivateTmp":               "yes",
		"NoNewPrivileges":          "yes",
		"StateDirectory":           "raftvip",
		"RuntimeDirectory":         "raftvip",
		"User":                     "raftvip",
		"Restart":                  "on-failure",
		"RestartPreventExitStatus": "2", // cmd/raftvip's exitUsage: a bad config
	}
	for k, v := range want {
		if got := u.one(t, "Service", k); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	caps := []string{"CAP_NET_ADMIN", "CAP_NET_RAW"}
	for _, k := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
		if got := u.words("Service", k); !reflect.DeepEqual(got, caps) {
			t.Errorf("%s=%v, want exactly %v", k, got, caps)
		}
	}
	// The agent's sockets: admin and MySQL (unix), cluster and MySQL
	// (inet), the VIP (netlink), gratuitous ARP (packet).
	fams := u.words("Service", "RestrictAddressFamilies")
	for _, f := range []string{"AF_UNIX", "AF_INET", "AF_NETLINK", "AF_PACKET"} {
		if !contains(fams, f) {
			t.Errorf("RestrictAddressFamilies=%v lacks %s", fams, f)
		}
	}
	after, wants := u.words("Unit", "After"), u.words("Unit", "Wants")
	for _, w := range []string{"network-online.target", "mariadb.service"} {
		if !contains(after, w) {
			t.Errorf("After=%v lacks %s", after, w)
		}
	}
	if !contains(wants, "network-online.target") {
		t.Errorf("Wants=%v lacks network-online.target (After= alone does not pull it in)", wants)
	}
	if got := u.words("Install", "WantedBy"); !reflect.DeepEqual(got, []string{"multi-user.target"}) {
		t.Errorf("WantedBy=%v", got)
	}

	// ExecStart runs the agent on the packaged config (cmd/raftvip's
	// default, /etc/raftvip/raftvip.hcl).
	exec := strings.Fields(u.one(t, "Service", "ExecStart"))
	if len(exec) != 4 || exec[0] != "/usr/bin/raftvip" || exec[1] != "agent" || exec[2] != "-config" || exec[3] != "/etc/raftvip/raftvip.hcl" {
		t.Errorf("ExecStart=%q", exec)
	}

	// The watchdog: the agent pings at half the period from its loop,
	// whose passes run every 100ms and block at most for a few seconds
	// (a 2s barrier, 2s applies); under 4s the period would restart a
	// healthy agent on a slow quorum, over 30s leave a stuck holder
	// leading (its VIP gone after the lease) that long.
	wd := u.one(t, "Service", "WatchdogSec")
	if d, ok := seconds(wd); !ok || d < 4 || d > 30 {
		t.Errorf("WatchdogSec=%q, want 4s to 30s", wd)
	}
	// cpu_priority's default "high" (internal/sched) lowers every thread's
	// nice value; without CAP_SYS_NICE that works only down to where the
	// process started, so systemd must start it there.
	if n, err := strconv.Atoi(u.one(t, "Service", "Nice")); err != nil || n > sched.HighNice {
		t.Errorf("Nice=%q: want at most %d (cpu_priority \"high\"), or the agent warns at every start", u["Service"]["Nice"], sched.HighNice)
	}
	stop := u.one(t, "Service", "TimeoutStopSec")
	if d, ok := seconds(stop); !ok || d <= 5 {
		t.Errorf("TimeoutStopSec=%q: the agent's shutdown takes up to 5s; systemd must not kill it first", stop)
	}

	// The example configs keep their state where the unit lets them
	// write: data_dir under StateDirectory, the admin socket under
	// RuntimeDirectory.
	for _, ex := range []string{"example-db.hcl", "example-witness.hcl"} {
		src, err := os.ReadFile(filepath.Join("..", "config", "testdata", ex))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), ex)
		if err := os.WriteFile(p, src, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(p)
		if err != nil {
			t.Fatalf("%s: %v", ex, err)
		}
		if !strings.HasPrefix(cfg.DataDir, "/var/lib/raftvip/") {
			t.Errorf("%s: data_dir %s is not under StateDirectory /var/lib/raftvip (ProtectSystem=strict makes it read-only)", ex, cfg.DataDir)
		}
		if !strings.HasPrefix(cfg.Admin, "/run/raftvip/") {
			t.Errorf("%s: admin socket %s is not under RuntimeDirectory /run/raftvip", ex, cfg.Admin)
		}
	}
}

// The watchdog kills a stuck agent with SIGABRT, and Restart=on-failure
// should start it again; but a Go program exits with status 2 after
// SIGABRT (or a panic), which RestartPreventExitStatus=2 (a bad config)
// exempts from restarts. Under the unit's Environment= the runtime must die
// of the signal instead. The test binary plays the agent: same runtime.
func TestWatchdogAbortIsRestarted(t *testing.T) {
	if os.Getenv("RAFTVIP_UNIT_TEST_SLEEP") != "" {
		time.Sleep(time.Minute)
		return
	}
	u := parseUnit(t, "raftvip.service")
	prevent := u.words("Service", "RestartPreventExitStatus")
	signal := "SIGABRT" // systemd's default
	if v := u["Service"]["WatchdogSignal"]; len(v) > 0 {
		signal = v[len(v)-1]
	}
	if signal != "SIGABRT" {
		t.Skipf("WatchdogSignal=%s: this test knows SIGABRT", signal)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchdogAbortIsRestarted$")
	cmd.Env = append(os.Environ(), "RAFTVIP_UNIT_TEST_SLEEP=1")
	cmd.Env = append(cmd.Env, u["Service"]["Environment"]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the runtime install its handlers
	if err := cmd.Process.Signal(syscall.SIGABRT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("after SIGABRT: %v", err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if ws.Exited() && contains(prevent, strconv.Itoa(ws.ExitStatus())) {
		t.Fatalf("after the watchdog's SIGABRT the agent exits %d, which RestartPreventExitStatus=%v keeps systemd from restarting (set Environment=GOTRACEBACK=crash)", ws.ExitStatus(), prevent)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// seconds reads a plain systemd time span in seconds ("10s", "10", "1min").
func seconds(v string) (int, bool) {
	mult := 1
	switch {
	case strings.HasSuffix(v, "min"):
		v, mult = strings.TrimSuffix(v, "min"), 60
	case strings.HasSuffix(v, "s"):
		v = strings.TrimSuffix(v, "s")
	}
	n := 0
	if v == "" {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n * mult, true
}
