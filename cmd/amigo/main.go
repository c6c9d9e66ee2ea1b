// Command amigo is the whole AMI in one binary: the server, and the tools
// a field or lab engineer uses around it. Each subcommand answers --help.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary, run}
}

// usageError marks an error in how the command was called (exit code 2).
type usageError struct{ error }

func main() {
	tuneGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	name := args[0]
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "amigo: unknown command %q; run 'amigo --help' for the list\n", name)
		return 2
	}
	err := c.run(args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "amigo %s: %v\n", name, err)
		return 2
	default:
		// One line: whatever went wrong, the operator reads a sentence,
		// never a stack trace.
		fmt.Fprintf(stderr, "amigo %s: %s\n", name, strings.ReplaceAll(err.Error(), "\n", "; "))
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "amigo: an open Advanced Metering Infrastructure")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: amigo COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'amigo COMMAND --help' for the flags of one command.")
}

// newFlags returns a flag set that reports errors instead of exiting, and
// prints the command's own usage text on --help.
func newFlags(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print the whole usage on any mistake; a bad
	// flag gets one line instead, and the usage is printed on --help only.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: amigo %s %s\n\n%s\n\nFlags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, also those that follow positional arguments (as in
// "amigo dlms get ADDR OBIS --json"); a bad flag is a usage error. A lone
// "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stdout)
				fs.Usage()
				return err
			}
			return usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// Leave the positional arguments where fs.Args finds them.
	return fs.Parse(append([]string{"--"}, pos...))
}
