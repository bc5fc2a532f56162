package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// run executes a command in the root namespace (ip/bridge take -n NS
// themselves) and returns an error naming the command and its output.
func run(ctx context.Context, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// buildTopology creates the switch namespace with its bridge and one
// namespace per host, each with eth0 plugged into a bridge port.
func (l *Lab) buildTopology(ctx context.Context) error {
	sw := l.SwitchNS
	cmds := [][]string{
		{"ip", "netns", "add", sw},
		{"ip", "-n", sw, "link", "set", "lo", "up"},
		// mcast_snooping 0: the bridge floods multicast, so VRRP adverts to
		// 224.0.0.18 reach every host without IGMP joins.
		{"ip", "-n", sw, "link", "add", BridgeName, "type", "bridge", "mcast_snooping", "0"},
		{"ip", "-n", sw, "link", "set", BridgeName, "up"},
	}
	for _, h := range l.hosts {
		cmds = append(cmds,
			[]string{"ip", "netns", "add", h.NS},
			[]string{"ip", "-n", h.NS, "link", "set", "lo", "up"},
			[]string{"ip", "-n", sw, "link", "add", h.Port, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
			[]string{"ip", "-n", h.NS, "link", "set", "eth0", "address", h.MAC},
			[]string{"ip", "-n", h.NS, "addr", "add", h.IP + "/24", "dev", "eth0"},
			[]string{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", sw, "link", "set", h.Port, "master", BridgeName},
			[]string{"ip", "-n", sw, "link", "set", h.Port, "up"},
		)
	}
	for _, c := range cmds {
		if c[1] == "netns" && c[2] == "add" {
			l.mu.Lock()
			l.namespaces = append(l.namespaces, c[3])
			l.mu.Unlock()
		}
		if _, err := run(ctx, c...); err != nil {
			return fmt.Errorf("build lab network: %w", err)
		}
	}
	return nil
}

// PullCable takes host's bridge port down: its eth0 loses carrier and no
// frame reaches it or leaves it, while its processes keep running.
func (l *Lab) PullCable(ctx context.Context, host string) error {
	h, err := l.lookup(host)
	if err != nil {
		return err
	}
	_, err = run(ctx, "ip", "-n", l.SwitchNS, "link", "set", h.Port, "down")
	l.note("fault", "cable pulled", "host", h.NodeID)
	return err
}

// RestoreCable brings host's bridge port back up.
func (l *Lab) RestoreCable(ctx context.Context, host string) error {
	h, err := l.lookup(host)
	if err != nil {
		return err
	}
	_, err = run(ctx, "ip", "-n", l.SwitchNS, "link", "set", h.Port, "up")
	l.note("restore", "cable restored", "host", h.NodeID)
	return err
}

// Isolate sets the bridge's `isolated` flag on the hosts' ports: isolated
// ports cannot exchange frames with each other but still reach every
// non-isolated port. Isolate("a", "b") cuts a from b while both still reach
// the witness and the client.
func (l *Lab) Isolate(ctx context.Context, hosts ...string) error {
	return l.setIsolated(ctx, "on", hosts)
}

// Heal clears the `isolated` flag on the hosts' ports.
func (l *Lab) Heal(ctx context.Context, hosts ...string) error {
	return l.setIsolated(ctx, "off", hosts)
}

func (l *Lab) setIsolated(ctx context.Context, onoff string, hosts []string) error {
	for _, name := range hosts {
		h, err := l.lookup(name)
		if err != nil {
			return err
		}
		if _, err := run(ctx, "bridge", "-n", l.SwitchNS, "link", "set", "dev", h.Port, "isolated", onoff); err != nil {
			return fmt.Errorf("isolated %s on %s: %w", onoff, h.NodeID, err)
		}
	}
	l.note("fault", "isolated "+onoff, "hosts", strings.Join(hosts, ","))
	return nil
}

// RemoveVIP deletes the VIP from host's eth0 if present (leftovers after
// stopping a VIP owner).
func (l *Lab) RemoveVIP(ctx context.Context, host string) error {
	h, err := l.lookup(host)
	if err != nil {
		return err
	}
	out, err := run(ctx, "ip", "-n", h.NS, "-4", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		return err
	}
	if !strings.Contains(out, " "+VIP+"/") {
		return nil
	}
	_, err = run(ctx, "ip", "-n", h.NS, "addr", "del", VIPCIDR, "dev", "eth0")
	return err
}

// AddVIP adds the VIP to host's eth0 by hand with a kernel lifetime (0 =
// forever). The lab's own tests use it to check the monitor.
func (l *Lab) AddVIP(ctx context.Context, host string, lifetime time.Duration) error {
	h, err := l.lookup(host)
	if err != nil {
		return err
	}
	argv := []string{"ip", "-n", h.NS, "addr", "replace", VIPCIDR, "dev", "eth0"}
	if lifetime > 0 {
		s := fmt.Sprint(int(lifetime.Seconds()))
		argv = append(argv, "valid_lft", s, "preferred_lft", s)
	}
	_, err = run(ctx, argv...)
	return err
}

// deleteNamespaces removes the lab's namespaces by name. Deleting a host
// namespace destroys its veth pair too.
func deleteNamespaces(names []string) error {
	var errs []string
	for i := len(names) - 1; i >= 0; i-- {
		n := names[i]
		if _, err := os.Stat("/run/netns/" + n); err != nil {
			continue
		}
		if _, err := run(context.Background(), "ip", "netns", "del", n); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("delete namespaces: %s", strings.Join(errs, "; "))
	}
	return nil
}
