package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/raftvip/raftvip/internal/lab"
)

func cmdUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	raftvip := fs.String("raftvip", "", "raftvip binary: start agents in a, b and w")
	ka := fs.Bool("keepalived", false, "start keepalived in a and b (like the seed) instead of raftvip")
	withK := fs.Bool("k", false, "add host k (10.99.0.14) for an extra keepalived")
	prefix := fs.String("prefix", "", "namespace prefix (default rvlab<pid>)")
	keep := fs.Bool("keep", false, "keep the lab directory (configs, logs) after Ctrl-C")
	logLevel := fs.String("log-level", "info", "lab log level")
	fs.Parse(args)
	if err := requireRoot(); err != nil {
		return err
	}
	if *raftvip != "" && *ka {
		return errors.New("-raftvip and -keepalived both own the VIP: choose one")
	}
	l, err := lab.Up(ctx, lab.Options{Prefix: *prefix, KeepDir: *keep, WithKeepalivedHost: *withK,
		RaftvipBin: *raftvip, Logger: newLogger(*logLevel)})
	if err != nil {
		return err
	}
	defer l.Close()
	if *raftvip != "" {
		if err := l.StartRaftvip(ctx); err != nil {
			return err
		}
	}
	if *ka {
		if err := l.StartKeepalived(ctx); err != nil {
			return err
		}
	}
	fmt.Printf("lab %s is up (files in %s)\n\n", l.Prefix, l.Dir)
	fmt.Printf("%-8s %-22s %-12s %-18s %s\n", "host", "namespace", "address", "eth0 MAC", "runs")
	for _, h := range l.Hosts() {
		runs := ""
		switch h.Role {
		case lab.RoleDB:
			runs = fmt.Sprintf("MariaDB server_id %d", h.ServerID)
		case lab.RoleWitness:
			runs = "witness"
		case lab.RoleClient:
			runs = "client"
		}
		if l.Agent(h.Name) != nil {
			runs += ", raftvip agent"
		}
		if l.Keepalived(h.Name) != nil {
			runs += ", keepalived"
		}
		fmt.Printf("%-8s %-22s %-12s %-18s %s\n", h.NodeID, h.NS, h.IP, h.MAC, runs)
	}
	fmt.Printf("\nswitch: namespace %s, bridge %s (ports p<host>)\nVIP: %s\n\n", l.SwitchNS, lab.BridgeName, lab.VIPCIDR)
	fmt.Printf("try:\n")
	fmt.Printf("  ip netns exec %s bash                          # a shell on hosta\n", l.Host("a").NS)
	fmt.Printf("  ip -n %s -ts monitor address                   # watch the VIP come and go on hosta\n", l.Host("a").NS)
	fmt.Printf("  ip netns exec %s mariadb -h %s -u %s -p%s -e 'SELECT @@server_id'\n", l.Host("c").NS, lab.VIP, lab.AppUser, lab.AppPassword)
	fmt.Printf("  ip -n %s neigh show %s                      # which MAC the client uses for the VIP\n", l.Host("c").NS, lab.VIP)
	fmt.Printf("  bridge -n %s link set dev pa isolated on        # cut a from b (also on pb)\n", l.SwitchNS)
	fmt.Printf("  ip -n %s link set pa down                        # pull hosta's cable\n", l.SwitchNS)
	if a := l.Agent("a"); a != nil {
		fmt.Printf("  %s status -admin %s\n", *raftvip, a.AdminSock)
	}
	logs := l.LogFiles()
	names := make([]string, 0, len(logs))
	for n := range logs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Printf("\nlogs:\n")
	for _, n := range names {
		fmt.Printf("  %-16s %s\n", n, logs[n])
	}
	fmt.Printf("\nCtrl-C tears the lab down. If this process is killed instead: raftvip-lab down -prefix %s\n", l.Prefix)
	<-ctx.Done()
	fmt.Println("\ntearing down")
	return nil
}

func cmdDown(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	prefix := fs.String("prefix", "", "prefix of the lab to remove (e.g. rvlab1234)")
	fs.Parse(args)
	if *prefix == "" {
		return errors.New("-prefix is required (see `ip netns list`)")
	}
	if err := requireRoot(); err != nil {
		return err
	}
	removed, err := lab.Down(*prefix)
	if len(removed) == 0 && err == nil {
		fmt.Fprintf(os.Stderr, "no namespaces with prefix %s-\n", *prefix)
		return nil
	}
	for _, n := range removed {
		fmt.Println("removed", n)
	}
	return err
}
