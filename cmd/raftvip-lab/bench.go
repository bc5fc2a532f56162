package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/raftvip/raftvip/internal/lab"
)

func cmdBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	raftvip := fs.String("raftvip", "", "raftvip binary (required unless -systems keepalived)")
	out := fs.String("out", "docs/bench", "directory for results.json and results.md")
	trials := fs.Int("trials", 10, "trials per fault and system")
	systems := fs.String("systems", "keepalived,raftvip", "systems to measure, comma-separated")
	var allFaults []string
	for _, f := range lab.AllFaults {
		allFaults = append(allFaults, string(f))
	}
	faults := fs.String("faults", strings.Join(allFaults, ","), "faults to inject, comma-separated")
	prefix := fs.String("prefix", "", "namespace prefix (default rvlab<pid>)")
	logLevel := fs.String("log-level", "warn", "lab log level")
	agentLog := fs.String("agent-log-level", "info", agentLogUsage)
	keep := fs.Bool("keep", false, "keep the lab directory (configs, agent and keepalived logs) afterwards")
	writeEvery := fs.Duration("write-interval", 50*time.Millisecond, "pace of the probe writer beside the client, for the pictures (0: none)")
	fs.Parse(args)
	if err := requireRoot(); err != nil {
		return err
	}
	opts := lab.BenchOptions{Trials: *trials, Progress: os.Stdout, WriteInterval: *writeEvery}
	if *writeEvery <= 0 {
		opts.WriteInterval = -1
	}
	for _, s := range strings.Split(*systems, ",") {
		switch sys := lab.System(strings.TrimSpace(s)); sys {
		case lab.SystemRaftvip, lab.SystemKeepalived:
			opts.Systems = append(opts.Systems, sys)
		default:
			return fmt.Errorf("-systems: unknown %q", s)
		}
	}
	for _, f := range strings.Split(*faults, ",") {
		found := false
		for _, known := range lab.AllFaults {
			if string(known) == strings.TrimSpace(f) {
				opts.Faults, found = append(opts.Faults, known), true
			}
		}
		if !found {
			return fmt.Errorf("-faults: unknown %q", f)
		}
	}
	for _, s := range opts.Systems {
		if s == lab.SystemRaftvip && *raftvip == "" {
			return errors.New("-raftvip PATH is required to measure raftvip")
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	command := strings.Join(append([]string{os.Args[0]}, os.Args[1:]...), " ")
	fmt.Printf("bench: %d trial(s) x %d fault(s) x %d system(s); this takes a while (Ctrl-C stops and tears down)\n",
		opts.Trials, len(opts.Faults), len(opts.Systems))
	l, err := lab.Up(ctx, lab.Options{Prefix: *prefix, KeepDir: *keep, RaftvipBin: *raftvip, Logger: newLogger(*logLevel),
		Agent: lab.AgentSettings{LogLevel: *agentLog}})
	if err != nil {
		return err
	}
	defer l.Close()
	res, err := l.RunBench(ctx, opts)
	if res != nil && len(res.Results) > 0 {
		res.Command = command
		if werr := writeResults(*out, res); werr != nil {
			return werr
		}
		fmt.Println()
		fmt.Print(res.Markdown())
		fmt.Printf("\nwrote %s and %s\n", filepath.Join(*out, "results.json"), filepath.Join(*out, "results.md"))
		if werr := writeFailovers(*out, res); werr != nil {
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

func writeResults(dir string, res *lab.BenchResults) error {
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(res.Markdown()), 0o644)
}

// writeFailovers writes the median trials' timelines (failovers.json) and
// draws them (failover-<fault>.svg).
func writeFailovers(dir string, res *lab.BenchResults) error {
	if len(res.Failovers) == 0 {
		return nil
	}
	ff := lab.FailoverFile{Command: res.Command, Date: res.Date.Format(time.RFC3339),
		Note:   "per fault and system the trial with the median downtime; times in ms after the fault; redraw with raftvip-lab bench-plot",
		Series: res.Failovers}
	js, err := json.MarshalIndent(ff, "", " ")
	if err != nil {
		return err
	}
	p := filepath.Join(dir, "failovers.json")
	if err := os.WriteFile(p, append(js, '\n'), 0o644); err != nil {
		return err
	}
	files, err := lab.WriteFailoverSVGs(dir, res.Failovers)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s\n", p, strings.Join(files, ", "))
	return nil
}

// cmdBenchPlot redraws the pictures from a failovers.json, without a lab.
func cmdBenchPlot(args []string) error {
	fs := flag.NewFlagSet("bench-plot", flag.ExitOnError)
	in := fs.String("in", "docs/bench/failovers.json", "the timelines `raftvip-lab bench` wrote")
	out := fs.String("out", "docs/bench", "directory for failover-<fault>.svg")
	fs.Parse(args)
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "raftvip-lab bench-plot: unexpected argument %q\n", fs.Arg(0))
		os.Exit(2)
	}
	ff, err := lab.ReadFailoverFile(*in)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	files, err := lab.WriteFailoverSVGs(*out, ff.Series)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Println("wrote", f)
	}
	return nil
}
