package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 9: the MySQL password never shows in logs, errors, status or
// history. Real agents start with a DSN holding the password; one is
// reloaded (SIGHUP) with a wrong password, so its checks fail to log in; the
// operator runs status, history, peers and maintenance, validate reports a
// DSN that does not parse; then everything the agents logged and every
// command printed is searched for both passwords.
func TestSecretsNeverShown(t *testing.T) {
	bin := requireLab(t)
	l := newTestLab(t, Options{RaftvipBin: bin})
	ctx := within(t, 4*time.Minute)
	if err := l.StartRaftvip(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitStableHolder(within(t, 45*time.Second), time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitAllHealthy(within(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	const wrong = "Wr0ngPw-t3-secret"
	a := l.Agent("a")
	good, err := os.ReadFile(a.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(good), ":"+CheckPassword+"@") {
		t.Fatalf("config of %s holds no DSN with the check password", a.Host.NodeID)
	}
	var printed strings.Builder
	run := func(args ...string) {
		out, err := a.Command(ctx, args...)
		printed.WriteString(out)
		if err != nil {
			printed.WriteString(err.Error())
		}
	}
	if err := a.WriteConfig(strings.Replace(string(good), ":"+CheckPassword+"@", ":"+wrong+"@", 1)); err != nil {
		t.Fatal(err)
	}
	if err := a.Process().Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "checks of "+a.Host.NodeID+" fail to log in", func() error {
		st, err := a.Status(ctx)
		if err != nil {
			return err
		}
		if n, ok := st.Node(a.Host.NodeID); !ok || n.Healthy || n.CheckClass != "auth" {
			return fmt.Errorf("%s: healthy %v, class %q; want auth failures", a.Host.NodeID, n.Healthy, n.CheckClass)
		}
		return nil
	})
	for _, args := range [][]string{{"status"}, {"status", "-json"}, {"history"}, {"history", "-json"}, {"peers"},
		{"maintenance", "on", "-reason", "secrets test"}, {"maintenance", "off"}, {"history", "-json"}} {
		run(args...)
	}
	// validate: a good file, and one whose DSN does not parse.
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte(strings.Replace(string(good), "@tcp(", "@tcp", 1)), 0o600)
	for _, cfg := range []string{a.Config, bad} {
		out, _ := exec.CommandContext(ctx, bin, "validate", "-config", cfg).CombinedOutput()
		printed.Write(out)
	}
	if !strings.Contains(printed.String(), "invalid DSN") {
		t.Errorf("validate of a broken DSN did not say so:\n%s", printed.String())
	}
	if err := a.WriteConfig(string(good)); err != nil {
		t.Fatal(err)
	}
	if err := a.Process().Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitAllHealthy(within(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}

	logs := map[string]string{}
	for _, h := range []string{"a", "b", "w"} {
		b, err := os.ReadFile(l.Agent(h).LogPath)
		if err != nil {
			t.Fatal(err)
		}
		logs[l.Agent(h).Host.NodeID] = string(b)
	}
	logs["commands"] = printed.String()
	if al := logs[a.Host.NodeID]; !strings.Contains(al, "reloaded config") || !strings.Contains(al, "auth") {
		t.Errorf("%s's log shows no reload or failed login; the search below would prove nothing:\n%s", a.Host.NodeID, tail(al, 30))
	}
	for where, text := range logs {
		for _, secret := range []string{CheckPassword, wrong} {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s shows the password %q: …%s…", where, secret, text[max(0, i-200):min(len(text), i+50)])
			}
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
