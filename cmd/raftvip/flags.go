package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("raftvip "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: raftvip %s [flags]  (exit 0 ok, 1 failure or refused, 2 bad usage)\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// parse accepts flags and words in any order ("status -json" and
// "-json status" alike); the standard flag package stops at the first word,
// so parse resumes after each one. It returns the words, and an exit code
// >= 0 when the command should stop (help shown: 0; bad flag: 2).
func parse(fs *flag.FlagSet, args []string) ([]string, int) {
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK
			}
			return nil, exitUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return words, -1
		}
		// A literal "--" ends flag parsing: everything after it is words.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(words, rest...), -1
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
}

func noWords(fs *flag.FlagSet, words []string, stderr io.Writer) int {
	if len(words) > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), words[0])
		return exitUsage
	}
	return -1
}
