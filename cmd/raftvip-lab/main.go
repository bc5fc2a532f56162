// Command raftvip-lab runs raftvip's lab: real hosts in network namespaces
// on this machine, with MariaDB, raftvip agents (or keepalived), a client
// and a VIP monitor. Subcommands:
//
//	raftvip-lab demo  -raftvip PATH          replay the seed's failover test, live
//	raftvip-lab bench -raftvip PATH -out DIR raftvip vs keepalived, same faults
//	raftvip-lab bench-plot -in FILE -out DIR draw the bench's failover pictures again
//	raftvip-lab data-bench -raftvip PATH     a writer through the VIP during faults: data safety
//	raftvip-lab scaling -raftvip PATH        cost and failover time vs VIP count and check interval
//	raftvip-lab up    [-raftvip PATH]        bring a lab up for manual use
//	raftvip-lab down  -prefix PREFIX         remove a leftover lab
//
// It needs root (network namespaces, bridges).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage: raftvip-lab <command> [flags]

commands:
  demo  -raftvip PATH [-system raftvip|keepalived]
        build the lab and replay the seed's failover test live, then tear down
  bench -raftvip PATH -out DIR [-trials 10] [-systems keepalived,raftvip] [-faults ...] [-agent-log-level info]
        inject the same faults against raftvip and keepalived; write DIR/results.{json,md},
        DIR/failovers.json and DIR/failover-<fault>.svg (the median trials, drawn)
  bench-plot [-in docs/bench/failovers.json] [-out docs/bench]
        draw DIR/failover-<fault>.svg again from a failovers.json (no root, no lab)
  data-bench -raftvip PATH -out DIR [-name data-safety] [-trials 5] [-faults ...] [-modes async,semi-sync] [-lag 2s]
        a writer through the VIP while faults hit the holder; check what the servers kept
        (missing rows, counters, rows on a non-holder, replication); write DIR/NAME.{json,md}
  scaling -raftvip PATH -out DIR [-vips 1,8,32] [-intervals 100ms,500ms,1s] [-trials 5] [-hung-trials 5] [-idle 20s] [-agent-log-level info]
        idle CPU/RSS and failover time with N VIP addresses in one group, idle CPU and
        hung-server detection per check interval; write DIR/scaling.{json,md}
  up    [-raftvip PATH | -keepalived] [-k]
        bring a lab up, print how to use it, and wait for Ctrl-C
  down  -prefix PREFIX
        remove a leftover lab: stop its processes and delete PREFIX-{sw,a,b,w,c,k}

Run as root. "raftvip-lab <command> -h" lists a command's flags.
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	// Ctrl-C / SIGTERM cancel the context; every command tears its lab down
	// on the way out. A second Ctrl-C exits at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	var err error
	switch cmd {
	case "demo":
		err = cmdDemo(ctx, args)
	case "bench":
		err = cmdBench(ctx, args)
	case "bench-plot":
		err = cmdBenchPlot(args)
	case "data-bench":
		err = cmdDataBench(ctx, args)
	case "scaling":
		err = cmdScaling(ctx, args)
	case "up":
		err = cmdUp(ctx, args)
	case "down":
		err = cmdDown(args)
	case "help", "-h", "-help", "--help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "raftvip-lab: unknown command %q\n", cmd)
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "raftvip-lab %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func requireRoot() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the lab builds network namespaces and a bridge (try sudo)")
	}
	return nil
}

// agentLogUsage is the -agent-log-level flag of bench and scaling: they
// measure idle agents, and at debug an agent logs every check and renewal.
const agentLogUsage = "the agents' log_level: raftvip's default (info), as a site runs it; debug logs every check and renewal, which an idle agent's CPU would count"

func newLogger(level string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "raftvip-lab", Level: hclog.LevelFromString(level), Output: os.Stderr})
}
