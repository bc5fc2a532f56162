package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/raftvip/raftvip/config"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", stderr)
	path := fs.String("config", defaultConfig, "config file to check")
	words, code := parse(fs, args)
	if code >= 0 {
		return code
	}
	// "raftvip validate FILE" is accepted too.
	if len(words) == 1 && !flagSet(fs, "config") {
		*path, words = words[0], nil
	}
	if c := noWords(fs, words, stderr); c >= 0 {
		return c
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitUsage
	}
	printWarnings(cfg, stderr)
	fmt.Fprintf(stdout, "%s: ok: node %s (%s), %d peers", *path, cfg.NodeID, cfg.Role, len(cfg.Peers))
	if cfg.VIP != nil {
		var as []string
		for _, a := range cfg.VIP.Addresses {
			as = append(as, a.String())
		}
		fmt.Fprintf(stdout, ", VIP %s on %s (lease %s)", strings.Join(as, ","), cfg.VIP.Interface, cfg.VIP.Lease)
	}
	fmt.Fprintln(stdout)
	return exitOK
}

// printWarnings prints what the config may do but probably should not,
// file:line first like the errors; they do not change the exit code.
func printWarnings(cfg *config.Config, stderr io.Writer) {
	for _, w := range cfg.Warnings {
		e := w
		e.Msg = "warning: " + w.Msg
		fmt.Fprintln(stderr, e.Error())
	}
}

func flagSet(fs interface{ Visit(func(*flag.Flag)) }, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// loadConfig loads and prints every problem, one per line, file:line first.
func loadConfig(path string, stderr io.Writer) (*config.Config, bool) {
	cfg, err := config.Load(path)
	if err == nil {
		if errs := config.CheckPrivate(cfg); len(errs) > 0 {
			err = &config.Errors{List: errs}
		}
	}
	if err != nil {
		printConfigErr(path, err, stderr)
		return nil, false
	}
	return cfg, true
}

func printConfigErr(path string, err error, stderr io.Writer) {
	if errs, ok := err.(*config.Errors); ok {
		for _, e := range errs.List {
			fmt.Fprintln(stderr, e.Error())
		}
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", path, len(errs.List))
	} else {
		fmt.Fprintln(stderr, err)
	}
}
