package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amigo-ami/amigo/mbus"
)

func init() {
	register("mbus", "read and find wired M-Bus meters through a converter or a serial port: read, scan", cmdMBus)
}

const mbusUsage = `Usage: amigo mbus SUBCOMMAND [flags] ADDRESS

A field engineer's wired M-Bus master (EN 13757-2/-3) through a TCP M-Bus
converter or a level converter on a serial port (8E1, 2400 Bd by default).

Subcommands:
  read ADDRESS [--primary N | --secondary ID]   read a meter's data records, every telegram
  scan ADDRESS [--primary-range]                find the meters on the bus: wildcard search of
                                                secondary addresses, or SND_NKE to each primary

ADDRESS is host:port, or a serial device (/dev/ttyUSB0 or serial:/dev/ttyUSB0).
A secondary address is 16 hex digits as libmbus writes it (id, manufacturer
bytes as sent, version, medium), or the 8-digit id alone; F in the id is a
wildcard.

Run 'amigo mbus SUBCOMMAND --help' for the flags.
`

func cmdMBus(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, mbusUsage)
		if len(args) == 0 {
			return usageError{errors.New("a subcommand is required")}
		}
		return nil
	}
	switch args[0] {
	case "read":
		return mbusRead(args[1:], stdout, stderr)
	case "scan":
		return mbusScan(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q; run 'amigo mbus --help'", args[0])}
}

// mbusLine is the flags of the line both subcommands open.
type mbusLine struct {
	timeout *time.Duration
	retries *int
	baud    *int
}

func mbusLineFlags(fs *flag.FlagSet) mbusLine {
	return mbusLine{
		timeout: fs.Duration("timeout", time.Second, "how `long` a meter has to answer one request"),
		retries: fs.Int("retries", 2, "`times` a request without a valid answer is repeated"),
		baud:    fs.Int("baud", mbus.DefaultBaud, "serial line `rate`"),
	}
}

// open connects to the bus at addr.
func (l mbusLine) open(ctx context.Context, addr string) (*mbus.Master, io.Closer, error) {
	var rw interface {
		io.ReadWriter
		io.Closer
	}
	if dev, ok := serialDevice(addr); ok {
		p, err := mbus.OpenSerial(dev, *l.baud)
		if err != nil {
			return nil, nil, err
		}
		rw = p
	} else {
		c, err := mbus.DialTCP(ctx, addr)
		if err != nil {
			return nil, nil, err
		}
		rw = c
	}
	m := mbus.NewMaster(rw)
	m.Timeout, m.Retries = *l.timeout, *l.retries
	return m, rw, nil
}

func mbusContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func mbusRead(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("mbus read", "[flags] ADDRESS",
		"Reads one meter's class 2 data (REQ_UD2), following its telegrams while it says more follow,\n"+
			"and prints its header and data records.", stderr)
	primary := fs.Int("primary", -1, "the meter's primary `address` (1..250; 254 answers whoever is alone on the bus)")
	secondary := fs.String("secondary", "", "the meter's secondary `address` (16 hex digits, or the 8-digit id)")
	asJSON := fs.Bool("json", false, "print JSON")
	line := mbusLineFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one ADDRESS")}
	}
	if (*primary < 0) == (*secondary == "") {
		return usageError{errors.New("give --primary or --secondary")}
	}
	if *primary >= 0 && (*primary > mbus.AddrMaxPrimary && *primary != mbus.AddrBroadcastAck) {
		return usageError{fmt.Errorf("--primary %d: want 1..%d or %d", *primary, mbus.AddrMaxPrimary, mbus.AddrBroadcastAck)}
	}
	var mask mbus.Mask
	if *secondary != "" {
		var err error
		if mask, err = mbus.ParseSecondary(*secondary); err != nil {
			return usageError{fmt.Errorf("--secondary: %v", err)}
		}
	}
	ctx, stop := mbusContext()
	defer stop()
	m, c, err := line.open(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	var tgs []mbus.Telegram
	if *secondary != "" {
		tgs, err = m.ReadSecondary(ctx, mask, nil)
	} else {
		tgs, err = m.Read(ctx, byte(*primary), nil)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printMBusJSON(stdout, tgs)
	}
	return printMBus(stdout, tgs)
}

func mbusScan(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("mbus scan", "[flags] ADDRESS",
		"Finds the meters on the bus. By default a wildcard search of secondary addresses (a mask that\n"+
			"collides is narrowed digit by digit), printing each meter's secondary address; with\n"+
			"--primary-range, SND_NKE to each primary address, printing those that answer.", stderr)
	primaries := fs.Bool("primary-range", false, "probe primary addresses 0..250 instead")
	line := mbusLineFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one ADDRESS")}
	}
	ctx, stop := mbusContext()
	defer stop()
	m, c, err := line.open(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	if *primaries {
		found, err := m.ScanPrimary(ctx, 0, mbus.AddrMaxPrimary)
		for _, a := range found {
			fmt.Fprintln(stdout, a)
		}
		return err
	}
	found, err := m.Scan(ctx)
	for _, a := range found {
		fmt.Fprintf(stdout, "%s  id %08d  manufacturer %s  version %d  medium %#02x\n", a, a.ID, a.Manufacturer, a.Version, a.Medium)
	}
	return err
}

func printMBus(w io.Writer, tgs []mbus.Telegram) error {
	h := tgs[0].Header
	fmt.Fprintf(w, "meter %s: id %08d, manufacturer %s, version %d, medium %#02x, status %#02x, %d telegram(s)\n",
		h.Address(), h.ID, h.Manufacturer, h.Version, h.Medium, h.Status, len(tgs))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORAGE\tTARIFF\tSUBUNIT\tFUNCTION\tQUANTITY\tVALUE")
	for _, t := range tgs {
		for _, r := range t.Records {
			if r.MoreFollows() {
				continue
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\n", r.Storage, r.Tariff, r.Subunit, r.Function, quantityText(r), valueText(r))
		}
	}
	return tw.Flush()
}

func quantityText(r mbus.Record) string {
	s := r.Quantity.String()
	if len(r.Extensions) > 0 {
		s += " (" + strings.Join(r.Extensions, ", ") + ")"
	}
	return s
}

// valueText is a record's value in its unit.
func valueText(r mbus.Record) string {
	switch r.Value.Kind {
	case mbus.KindNone:
		return "-"
	case mbus.KindTime:
		v := r.Value
		if v.Invalid {
			return "invalid"
		}
		s := v.Time.Format("2006-01-02 15:04:05")
		switch {
		case r.Coding == mbus.Int16:
			s = v.Time.Format("2006-01-02")
		case r.Coding == mbus.Int24:
			s = v.Time.Format("15:04:05")
		}
		if v.Summer {
			s += " (summer time)"
		}
		return s
	case mbus.KindText:
		return strconv.Quote(r.Value.Text)
	case mbus.KindBytes:
		return fmt.Sprintf("% X", r.Value.Bytes)
	}
	f, _ := r.Float()
	return strings.TrimSpace(strconv.FormatFloat(f, 'f', max(0, -r.Exponent), 64) + " " + r.Unit)
}

// mbusJSONRecord is one record as --json prints it.
type mbusJSONRecord struct {
	Storage    uint64   `json:"storage"`
	Tariff     uint32   `json:"tariff"`
	Subunit    uint32   `json:"subunit"`
	Function   string   `json:"function"`
	Quantity   string   `json:"quantity"`
	Extensions []string `json:"extensions,omitempty"`
	Unit       string   `json:"unit,omitempty"`
	Exponent   int      `json:"exponent"`
	Raw        *int64   `json:"raw,omitempty"`
	Value      any      `json:"value"`
}

func printMBusJSON(w io.Writer, tgs []mbus.Telegram) error {
	type telegram struct {
		Header  mbus.Header      `json:"header"`
		Address string           `json:"secondary"`
		Records []mbusJSONRecord `json:"records"`
	}
	var out []telegram
	for _, t := range tgs {
		jt := telegram{Header: t.Header, Address: t.Header.Address().String(), Records: []mbusJSONRecord{}}
		for _, r := range t.Records {
			if r.MoreFollows() {
				continue
			}
			jr := mbusJSONRecord{Storage: r.Storage, Tariff: r.Tariff, Subunit: r.Subunit, Function: r.Function.String(),
				Quantity: r.Quantity.String(), Extensions: r.Extensions, Unit: r.Unit, Exponent: r.Exponent}
			switch r.Value.Kind {
			case mbus.KindInt:
				v := r.Value.Int
				jr.Raw = &v
				d, _ := r.Decimal()
				jr.Value = json.Number(d)
			case mbus.KindReal:
				d, _ := r.Decimal()
				jr.Value = json.Number(d)
			default:
				jr.Value = valueText(r)
			}
			jt.Records = append(jt.Records, jr)
		}
		out = append(out, jt)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
