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

	"github.com/raftvip/raftvip/internal/lab"
)

// cmdDataBench runs issue 10's data-safety measurement: a writer through
// the VIP while faults hit the holder, in asynchronous and semi-synchronous
// replication, and writes DIR/NAME.{json,md} (NAME data-safety by default).
func cmdDataBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("data-bench", flag.ExitOnError)
	raftvip := fs.String("raftvip", "", "raftvip binary (required)")
	out := fs.String("out", "docs/bench", "directory for NAME.json and NAME.md")
	name := fs.String("name", "data-safety", "base name of the result files")
	trials := fs.Int("trials", 5, "trials per fault and mode")
	var all []string
	for _, f := range lab.DataFaults {
		all = append(all, string(f))
	}
	faults := fs.String("faults", strings.Join(all, ","), "faults to inject, comma-separated")
	modes := fs.String("modes", "async,semi-sync", "replication modes, comma-separated")
	prefix := fs.String("prefix", "", "namespace prefix (default rvlab<pid>)")
	logLevel := fs.String("log-level", "warn", "lab log level")
	labFencing := fs.Bool("lab-fencing", false, "baseline for a raftvip without issue 10's data handling: the lab makes the VIP holder writable at once (no catch-up), as a notify script would (with today's agent both would set read_only)")
	lag := fs.Duration("lag", 0, "replicas lag by this much (MASTER_DELAY on both servers, whole seconds)")
	keep := fs.Bool("keep", false, "keep the lab directory (configs, logs, writer.log) afterwards")
	render := fs.String("render", "", "only render NAME.md again from this results JSON (drops runs that checked nothing)")
	fs.Parse(args)
	if *render != "" {
		return renderDataBench(*render, filepath.Join(*out, *name+".md"))
	}
	if *raftvip == "" {
		fmt.Fprintln(os.Stderr, "raftvip-lab data-bench: -raftvip PATH is required")
		os.Exit(2)
	}
	opts := lab.DataSafetyOptions{Trials: *trials, LabFencing: *labFencing, Lag: *lag, Progress: os.Stdout}
	for _, f := range strings.Split(*faults, ",") {
		found := false
		for _, known := range lab.DataFaults {
			if string(known) == strings.TrimSpace(f) {
				opts.Faults, found = append(opts.Faults, known), true
			}
		}
		if !found {
			fmt.Fprintf(os.Stderr, "raftvip-lab data-bench: -faults: unknown %q (known: %s)\n", f, strings.Join(all, ","))
			os.Exit(2)
		}
	}
	for _, m := range strings.Split(*modes, ",") {
		switch mode := lab.ReplMode(strings.TrimSpace(m)); mode {
		case lab.ReplAsync, lab.ReplSemiSync:
			opts.Modes = append(opts.Modes, mode)
		default:
			fmt.Fprintf(os.Stderr, "raftvip-lab data-bench: -modes: unknown %q (known: async,semi-sync)\n", m)
			os.Exit(2)
		}
	}
	if err := requireRoot(); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	command := strings.Join(append([]string{os.Args[0]}, os.Args[1:]...), " ")
	fmt.Printf("data-bench: %d trial(s) x %d fault(s) x %d mode(s); this takes a while (Ctrl-C stops and tears down)\n",
		opts.Trials, len(opts.Faults), len(opts.Modes))
	l, err := lab.Up(ctx, lab.Options{Prefix: *prefix, KeepDir: *keep, RaftvipBin: *raftvip, Logger: newLogger(*logLevel)})
	if err != nil {
		return err
	}
	defer l.Close()
	res, err := l.RunDataSafety(ctx, opts)
	if res != nil && len(res.Runs) > 0 {
		res.Command = command
		if werr := writeReport(*out, *name, res, res.Markdown()); werr != nil {
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

// renderDataBench writes the markdown of a data-bench results file again,
// leaving out runs in which no fault was injected (an interrupted run).
func renderDataBench(jsonPath, mdPath string) error {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return err
	}
	var res lab.DataSafetyResults
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", jsonPath, err)
	}
	runs := res.Runs[:0]
	for _, r := range res.Runs {
		if r.Check.Faults > 0 {
			runs = append(runs, r)
		}
	}
	res.Runs = runs
	res.Dedupe()
	js, err := json.MarshalIndent(&res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(mdPath, []byte(res.Markdown()), 0o644)
}
