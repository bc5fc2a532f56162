package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nobody is the unprivileged uid and gid the agents run as here, standing in
// for the unit's User=raftvip (Debian's nobody and nogroup).
const nobody = 65534

// The unit runs the agent as a user without root's powers and only
// CAP_NET_ADMIN and CAP_NET_RAW (ambient and bounding set, no new
// privileges: dist/raftvip.service). Here the lab's three agents run the
// same way, through setpriv, with their files owned by that user as the
// README tells: they form the cluster, the holder adds the VIP, and after
// its MySQL is killed the VIP moves to the other host (netlink removal and
// addition, gratuitous ARP, read_only fencing), with no permission error.
func TestAgentRunsAsTheUnitsUserWithTwoCapabilities(t *testing.T) {
	bin := requireLab(t)
	mustTool("setpriv")
	real, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	wdir := t.TempDir()
	wrapper := filepath.Join(wdir, "raftvip-as-unit")
	// The agent only: the CLI calls the lab makes stay root's. nice -n -10
	// is the unit's Nice=-10 (without it cpu_priority "high" fails here).
	script := fmt.Sprintf(`#!/bin/sh
if [ "$1" = agent ]; then
	exec nice -n -10 setpriv --reuid=%d --regid=%d --clear-groups --pdeathsig keep --no-new-privs \
		--inh-caps=-all,+net_admin,+net_raw --ambient-caps=-all,+net_admin,+net_raw \
		--bounding-set=-all,+net_admin,+net_raw %q "$@"
fi
exec %q "$@"
`, nobody, nobody, real, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	l := newTestLab(t, Options{RaftvipBin: wrapper})
	ctx := within(t, 3*time.Minute)

	// The files the agent reads and writes belong to its user; the
	// directories above them only need to be passable.
	passable := func(dir string) {
		for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o001 == 0 {
				if err := os.Chmod(d, fi.Mode().Perm()|0o111); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if _, _, err := l.MakeCerts(); err != nil {
		t.Fatal(err)
	}
	passable(l.TLSDir())
	keys, _ := filepath.Glob(filepath.Join(l.TLSDir(), "*-key.pem"))
	for _, k := range keys {
		if filepath.Base(k) == "ca-key.pem" {
			continue
		}
		if err := os.Chown(k, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	configs := map[string]string{}
	for _, h := range l.agentHosts() {
		p, err := l.AgentPathsOf(h.Name)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(p.Config)
		configs[h.Name] = l.AgentConfig(h, dir)
		// StartRaftvipConfigs rewrites the file in place: owner kept.
		if err := os.WriteFile(p.Config, []byte(configs[h.Name]), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(p.DataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{dir, p.Config, p.DataDir} {
			if err := os.Chown(f, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}
		passable(filepath.Dir(dir))
	}
	if err := l.StartRaftvipConfigs(ctx, configs); err != nil {
		t.Fatal(err)
	}
	holder, err := l.WaitStableHolder(within(t, 45*time.Second), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitAllHealthy(within(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	// What the agents run with, from the kernel.
	for _, h := range l.agentHosts() {
		pid := l.Agent(h.Name).Process().Pid()
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		st := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				st[k] = strings.Join(strings.Fields(v), " ")
			}
		}
		const two = "0000000000003000" // CAP_NET_ADMIN (12) and CAP_NET_RAW (13)
		if st["Name"] != "raftvip" || st["Uid"] != "65534 65534 65534 65534" || st["CapEff"] != two || st["CapBnd"] != two || st["NoNewPrivs"] != "1" {
			t.Fatalf("agent on %s (pid %d): name %s uid %s CapEff %s CapBnd %s NoNewPrivs %s: not the unit's user and capabilities",
				h.NodeID, pid, st["Name"], st["Uid"], st["CapEff"], st["CapBnd"], st["NoNewPrivs"])
		}
	}
	other := l.Other(holder)
	if err := l.KillMySQL(holder); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the VIP on "+other, func() error {
		if h, ok := l.Monitor().Holder(); !ok || h != other {
			return fmt.Errorf("holders %v", l.Monitor().Holders())
		}
		return nil
	})
	// The new holder added the VIP and sent its gratuitous ARP (raw
	// packet socket: CAP_NET_RAW).
	eventually(t, 10*time.Second, other+"'s agent announced the VIP", func() error {
		b, _ := os.ReadFile(l.Agent(other).LogPath)
		if !strings.Contains(string(b), "acquired VIP") || !strings.Contains(string(b), "announced VIP") {
			return fmt.Errorf("no 'acquired VIP' and 'announced VIP' in its log")
		}
		return nil
	})
	t.Logf("the VIP moved %s -> %s with both agents as uid %d with CAP_NET_ADMIN and CAP_NET_RAW only", holder, other, nobody)
	for _, h := range l.agentHosts() {
		b, _ := os.ReadFile(l.Agent(h.Name).LogPath)
		for _, bad := range []string{"operation not permitted", "permission denied", "could not raise"} {
			if strings.Contains(strings.ToLower(string(b)), bad) {
				t.Errorf("%s's agent log says %q:\n%s", h.NodeID, bad, b)
			}
		}
	}
}
