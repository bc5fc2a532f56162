package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/internal/lab"
)

// cmdScaling runs issue 11's "how cost grows": idle cost and failover time
// at 1, 8 and 32 VIP addresses in one group, and idle cost and hung-server
// detection at check intervals of 100 ms, 500 ms and 1 s; it writes
// DIR/scaling.{json,md}.
func cmdScaling(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scaling", flag.ExitOnError)
	raftvip := fs.String("raftvip", "", "raftvip binary (required)")
	out := fs.String("out", "docs/bench", "directory for scaling.json and scaling.md")
	vips := fs.String("vips", "1,8,32", "VIP address counts, comma-separated (none: skip this sweep)")
	intervals := fs.String("intervals", "100ms,500ms,1s", "mysql check intervals, comma-separated (none: skip this sweep)")
	trials := fs.Int("trials", 5, "trials per fault at each VIP count")
	hungTrials := fs.Int("hung-trials", 5, "mysql-hung trials at each check interval")
	idle := fs.Duration("idle", 20*time.Second, "idle measurement window per setting")
	prefix := fs.String("prefix", "", "namespace prefix (default rvlab<pid>)")
	logLevel := fs.String("log-level", "warn", "lab log level")
	keep := fs.Bool("keep", false, "keep the lab directory (configs, agent logs) afterwards")
	agentLog := fs.String("agent-log-level", "info", agentLogUsage)
	fs.Parse(args)
	// Bad flags exit 2 before anything is built.
	bad := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "raftvip-lab scaling: "+format+"\n", a...)
		os.Exit(2)
	}
	if *raftvip == "" {
		bad("-raftvip PATH is required")
	}
	opts := lab.ScalingOptions{VIPTrials: *trials, IntervalTrials: *hungTrials, IdleWindow: *idle, Progress: os.Stdout}
	if *vips == "none" {
		opts.VIPCounts = []int{}
	} else {
		for _, s := range strings.Split(*vips, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err == nil {
				_, err = lab.ScalingAddresses(n)
			}
			if err != nil {
				bad("-vips: %q: %v", s, err)
			}
			opts.VIPCounts = append(opts.VIPCounts, n)
		}
	}
	if *intervals == "none" {
		opts.Intervals = []time.Duration{}
	} else {
		for _, s := range strings.Split(*intervals, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(s))
			if err != nil || d <= 0 {
				bad("-intervals: %q is not a positive duration like 500ms", s)
			}
			opts.Intervals = append(opts.Intervals, d)
		}
	}
	if *trials < 1 || *hungTrials < 1 || *idle <= 0 {
		bad("-trials and -hung-trials must be at least 1, -idle positive")
	}
	if err := requireRoot(); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	command := strings.Join(append([]string{os.Args[0]}, os.Args[1:]...), " ")
	fmt.Printf("scaling: VIP counts %s, check intervals %s; about 5 minutes (Ctrl-C stops and tears down)\n", *vips, *intervals)
	extra, err := lab.ScalingExtraVIPs(opts.VIPCounts)
	if err != nil {
		return err
	}
	// MariaDB listens on every address of the largest group.
	l, err := lab.Up(ctx, lab.Options{Prefix: *prefix, KeepDir: *keep, RaftvipBin: *raftvip, Logger: newLogger(*logLevel), ExtraVIPs: extra,
		Agent: lab.AgentSettings{LogLevel: *agentLog}})
	if err != nil {
		return err
	}
	defer l.Close()
	res, err := l.RunScaling(ctx, opts)
	if res != nil && len(res.Runs) > 0 {
		res.Command = command
		if werr := writeReport(*out, "scaling", res, res.Markdown()); werr != nil {
			return werr
		}
		if *keep {
			fmt.Printf("lab files kept in %s\n", l.Dir)
		}
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}

// writeReport writes v as DIR/NAME.json and md as DIR/NAME.md, prints md
// and says where both went.
func writeReport(dir, name string, v any, md string) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	jsPath, mdPath := filepath.Join(dir, name+".json"), filepath.Join(dir, name+".md")
	if err := os.WriteFile(jsPath, append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Println()
	fmt.Print(md)
	fmt.Printf("\nwrote %s and %s\n", jsPath, mdPath)
	return nil
}
