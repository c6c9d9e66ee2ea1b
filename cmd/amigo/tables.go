package main

// What the commands that read and write a meter's C12.19 tables, c12 and
// osgp, have in common: a subcommand per verb, a connection held for the
// run of one command, HEX arguments.

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"
)

// verbs is a command made of subcommands.
type verbs struct {
	usage   string   // printed for no subcommand or a request for help
	help    []string // the arguments that ask for help
	missing string   // the usage error of no subcommand
	unknown string   // the usage error of an unknown one, a format of its name
	run     map[string]func(args []string, stdout, stderr io.Writer) error
}

func (v verbs) dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || slices.Contains(v.help, args[0]) {
		fmt.Fprint(stdout, v.usage)
		if len(args) == 0 {
			return usageError{errors.New(v.missing)}
		}
		return nil
	}
	if run, ok := v.run[args[0]]; ok {
		return run(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf(v.unknown, args[0])}
}

// tableArgs parses the flags and the n arguments of a subcommand on a
// table, ADDRESS TABLE and what follows, and returns the table that
// parseTable reads in the second; want is the usage error of another
// number of arguments.
func tableArgs(fs *flag.FlagSet, args []string, n int, want string, parseTable func(string) (uint16, error)) (uint16, error) {
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	if fs.NArg() != n {
		return 0, usageError{errors.New(want)}
	}
	return parseTable(fs.Arg(1))
}

// withMeter connects with open and runs f on the connection until an
// interrupt, and within timeout unless it is nil (osgp's --timeout bounds
// each request, c12's the whole command); done, which open returns, ends
// the connection after f.
func withMeter[C any](timeout *time.Duration, open func(context.Context) (C, func(), error), f func(context.Context, C) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	c, done, err := open(ctx)
	if err != nil {
		return err
	}
	defer done()
	return f(ctx, c)
}

// hexArg reads a command's HEX argument, in which spaces may group the
// digits; ok is false unless it is hex of at most 65535 octets, what one
// table request carries.
func hexArg(s string) (b []byte, ok bool) {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	return b, err == nil && len(b) <= 0xFFFF
}
