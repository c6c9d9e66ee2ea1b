package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/iec62056"
)

func init() {
	register("iec62056", "read and program IEC 62056-21 (IEC 61107) meters: readout, programming mode", cmdIEC62056)
}

const iecAbout = "ADDRESS is host:port (a meter or modem on TCP, where the baud switch is only agreed), or an\n" +
	"optical probe's serial device (/dev/ttyUSB0 or serial:/dev/ttyUSB0), opened at 300 baud 7E1 and\n" +
	"switched to the rate the meter offers."

func cmdIEC62056(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, "Usage: amigo iec62056 read ADDRESS [flags]\n       amigo iec62056 program ADDRESS --password P (--read ADDR | --write ADDR=VALUE)...\n\n"+iecAbout)
		if len(args) == 0 {
			return usageError{errors.New("want read or program")}
		}
		return nil
	}
	switch args[0] {
	case "read":
		return iecRead(args[1:], stdout, stderr)
	case "program":
		return iecProgram(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q: want read or program", args[0])}
}

// iecLine is the common part of both subcommands: where the meter is and
// how long to wait for it.
type iecLine struct {
	device  *string
	timeout *time.Duration
	maxBaud *int
}

func iecFlags(fs *flag.FlagSet) iecLine {
	return iecLine{
		device:  fs.String("device-address", "", "the meter's device `address` in the request (default: whichever meter answers)"),
		timeout: fs.Duration("timeout", iec62056.DefaultTimeout, "how `long` to wait for the meter's next character"),
		maxBaud: fs.Int("max-baud", 0, "highest `rate` to switch to in mode C (0: what the meter offers)"),
	}
}

// open connects to addr and returns the line and the options of a
// session on it.
func (l iecLine) open(ctx context.Context, addr string) (io.ReadWriteCloser, []iec62056.Option, error) {
	opts := []iec62056.Option{iec62056.WithTimeout(*l.timeout)}
	if *l.maxBaud > 0 {
		opts = append(opts, iec62056.WithMaxBaud(*l.maxBaud))
	}
	if dev, ok := serialDevice(addr); ok {
		p, err := iec62056.OpenOpticalProbe(dev)
		if err != nil {
			return nil, nil, err
		}
		// The optical head needs the standard's reaction time.
		return p, append(opts, iec62056.WithBaudSwitch(p.SetReadoutBaudRate), iec62056.WithReactionTime(200*time.Millisecond)), nil
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, *l.timeout)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	return c, opts, nil
}

func iecRead(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("iec62056 read", "ADDRESS [flags]", "Signs on and prints the meter's data readout, one data set a line, in whatever mode\n"+
		"(A, B or C) its identification announces; --mode-d listens for a mode D meter instead.\n"+iecAbout, stderr)
	line := iecFlags(fs)
	modeD := fs.Bool("mode-d", false, "send nothing: wait for what a mode D meter sends by itself")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one ADDRESS")}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, opts, err := line.open(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	var id iec62056.Identification
	var sets []iec62056.DataSet
	if *modeD {
		id, sets, err = iec62056.ReadModeD(ctx, c, opts...)
	} else {
		id, sets, err = iec62056.Readout(ctx, c, *line.device, opts...)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	mode := iec62056.ModeOf(id)
	if *modeD {
		mode = iec62056.ModeD
	}
	fmt.Fprintf(stdout, "# /%s%c%s mode %s\n", id.Manufacturer, id.BaudChar, id.Ident, mode)
	for _, d := range sets {
		fmt.Fprintln(stdout, d.String())
	}
	return nil
}

func iecProgram(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("iec62056 program", "ADDRESS [--password P] (--read ADDR | --write ADDR=VALUE)...",
		"Enters programming mode (mode C meters), gives the P1 password, then reads (R1) and writes (W1)\n"+
			"in the order given, printing each data set read, and ends with a break (B0).\n"+iecAbout, stderr)
	line := iecFlags(fs)
	password := fs.String("password", "", "the P1 `password` (a write needs it)")
	type op struct{ read, write string }
	var ops []op
	fs.Func("read", "read the data set at `ADDR` (repeatable)", func(s string) error {
		if s == "" {
			return errors.New("empty address")
		}
		ops = append(ops, op{read: s})
		return nil
	})
	fs.Func("write", "write `ADDR=VALUE` (VALUE may end in *unit; repeatable)", func(s string) error {
		if a, _, ok := strings.Cut(s, "="); !ok || a == "" {
			return errors.New("want ADDR=VALUE")
		}
		ops = append(ops, op{write: s})
		return nil
	})
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one ADDRESS")}
	}
	if len(ops) == 0 {
		return usageError{errors.New("nothing to do: give --read or --write")}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, opts, err := line.open(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := iec62056.Program(ctx, c, *line.device, opts...)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	defer p.Close(ctx)
	fmt.Fprintf(stdout, "# /%s%c%s P0(%s)\n", p.ID.Manufacturer, p.ID.BaudChar, p.ID.Ident, p.Operand)
	if *password != "" {
		if err := p.Password(ctx, '1', *password); err != nil {
			return err
		}
	}
	for _, o := range ops {
		if o.read != "" {
			d, err := p.Read(ctx, o.read)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, d.String())
			continue
		}
		addr, val, _ := strings.Cut(o.write, "=")
		v, u, _ := strings.Cut(val, "*")
		if err := p.Write(ctx, addr, iec62056.Value{Value: v, Unit: u}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s written\n", addr)
	}
	return p.Close(ctx)
}
