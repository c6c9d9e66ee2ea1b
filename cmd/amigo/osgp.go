package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/osgp"
)

func init() {
	register("osgp", "read and write an OSGP meter's tables (ETSI TS 104 001): read, write, tables", cmdOSGP)
}

const osgpUsage = `Usage: amigo osgp SUBCOMMAND [flags] ADDRESS ...

A field engineer's OSGP client (ETSI TS 104 001 over ISO/IEC 14908-1 framing,
each frame preceded by its length in two octets on TCP, port 1629).

Subcommands:
  read ADDRESS TABLE [--offset N --count N]   read a table, whole or in part, as hex
  write ADDRESS TABLE HEX [--offset N]        write a table, whole or from an offset
  tables ADDRESS                               the meter's identification (ST1) and the
                                               tables and procedures ST0 says it has

ADDRESS is host:port (the port defaults to 1629). TABLE is a number, or STn for a
standard table and MTn for a manufacturer one. The key is --key or the
environment variable AMIGO_OSGP_KEY: 24 hex digits for the legacy security, 32
for AES-128. The legacy security (the OMA digest and RC4) is broken: its key
can be recovered from a few hundred forged messages. Use it only to move a
meter to AES-128.

Run 'amigo osgp SUBCOMMAND --help' for the flags.
`

var osgpVerbs = verbs{
	usage:   osgpUsage,
	help:    []string{"-h", "--help", "help"},
	missing: "a subcommand is required",
	unknown: "unknown subcommand %q; run 'amigo osgp --help'",
	run:     map[string]func([]string, io.Writer, io.Writer) error{"read": osgpRead, "write": osgpWrite, "tables": osgpTables},
}

func cmdOSGP(args []string, stdout, stderr io.Writer) error {
	return osgpVerbs.dispatch(args, stdout, stderr)
}

// osgpConn is the flags that reach a meter.
type osgpConn struct {
	security, key, domain *string
	subnet, node          *uint
	seq                   *uint
	timeout               *time.Duration
	encrypt               *bool
}

func osgpConnFlags(fs *flag.FlagSet) osgpConn {
	return osgpConn{
		security: fs.String("security", "aes", "the meter's security: `aes` (AES-128) or legacy (OMA digest and RC4, broken)"),
		key:      fs.String("key", "", "the meter's key in `hex` (default $AMIGO_OSGP_KEY)"),
		domain:   fs.String("domain", "", "the meter's domain ID in `hex` (0, 1, 3 or 6 octets)"),
		subnet:   fs.Uint("subnet", uint(osgp.DefaultMeterNode.Subnet), "the meter's `subnet` (1..255)"),
		node:     fs.Uint("node", uint(osgp.DefaultMeterNode.Node), "the meter's `node` (1..127)"),
		seq:      fs.Uint("seq", 0, "the last sequence `number` used with this key; the meter's refusal catches it up"),
		timeout:  fs.Duration("timeout", 5*time.Second, "how `long` the meter has to answer one request"),
		encrypt:  fs.Bool("encrypt", false, "encrypt legacy requests with RC4 too (AES-128 always encrypts)"),
	}
}

// dial connects to the meter at addr.
func (o osgpConn) dial(ctx context.Context, addr string, stderr io.Writer) (*osgp.Client, error) {
	suite, err := osgp.ParseSuite(*o.security)
	if err != nil {
		return nil, usageError{fmt.Errorf("--security: %v", err)}
	}
	kh := *o.key
	if kh == "" {
		kh = os.Getenv("AMIGO_OSGP_KEY")
	}
	key, err := hex.DecodeString(kh)
	if err != nil || len(key) != suite.KeySize() {
		return nil, usageError{fmt.Errorf("--key: want %d hex digits for %s security", 2*suite.KeySize(), suite)}
	}
	dom, err := hex.DecodeString(*o.domain)
	if err != nil || (len(dom) != 0 && len(dom) != 1 && len(dom) != 3 && len(dom) != 6) {
		return nil, usageError{errors.New("--domain: want 0, 1, 3 or 6 octets in hex")}
	}
	if *o.subnet < 1 || *o.subnet > 255 || *o.node < 1 || *o.node > 127 {
		return nil, usageError{errors.New("--subnet 1..255, --node 1..127")}
	}
	if *o.seq > 1<<32-2 {
		return nil, usageError{errors.New("--seq: a sequence number is 32 bits")}
	}
	if !strings.Contains(addr, ":") {
		addr += ":" + strconv.Itoa(osgp.DefaultPort)
	}
	if suite == osgp.Legacy {
		fmt.Fprintln(stderr, "warning: legacy OSGP security (OMA digest, RC4) is broken; move this meter to AES-128")
	}
	cfg := osgp.Config{Meter: osgp.Node{Subnet: uint8(*o.subnet), Node: uint8(*o.node)}, Domain: dom,
		Keys: osgp.Keys{Suite: suite, Key: key}, Encrypt: *o.encrypt, Timeout: *o.timeout, Seq: osgp.NewCounter(uint32(*o.seq))}
	return osgp.Dial(ctx, addr, cfg)
}

// osgpTable reads "23", "ST23" or "MT7".
func osgpTable(s string) (uint16, error) {
	u := strings.ToUpper(s)
	var mfg bool
	switch {
	case strings.HasPrefix(u, "ST"):
		u = u[2:]
	case strings.HasPrefix(u, "MT"):
		u, mfg = u[2:], true
	}
	n, err := strconv.ParseUint(u, 10, 16)
	if err != nil || (mfg && n > 2047) {
		return 0, usageError{fmt.Errorf("table %q: want a number, STn or MTn", s)}
	}
	if mfg {
		return uint16(c1219.MT(uint16(n))), nil
	}
	return uint16(n), nil
}

// run connects to the meter at addr, runs f and disconnects, or stops at
// an interrupt; --timeout bounds each request f makes.
func (o osgpConn) run(addr string, stderr io.Writer, f func(context.Context, *osgp.Client) error) error {
	open := func(ctx context.Context) (*osgp.Client, func(), error) {
		c, err := o.dial(ctx, addr, stderr)
		if err != nil {
			return nil, nil, err
		}
		return c, func() { c.Close() }, nil
	}
	return withMeter(nil, open, f)
}

func osgpRead(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("osgp read", "[flags] ADDRESS TABLE", "Reads a table, or --count octets of it from --offset, and prints it in hex.", stderr)
	offset := fs.Uint("offset", 0, "read from this `octet` (with --count)")
	count := fs.Uint("count", 0, "read this many `octets` (0: the whole table)")
	conn := osgpConnFlags(fs)
	id, err := tableArgs(fs, args, 2, "want ADDRESS and TABLE", osgpTable)
	if err != nil {
		return err
	}
	if *count > 0xFFFF || *offset > 0xFFFFFF || (*offset > 0 && *count == 0) {
		return usageError{errors.New("--offset up to 16777215 needs --count up to 65535")}
	}
	return conn.run(fs.Arg(0), stderr, func(ctx context.Context, c *osgp.Client) error {
		var b []byte
		if *count > 0 {
			b, err = c.ReadPartial(ctx, id, uint32(*offset), uint16(*count))
		} else {
			b, err = c.ReadTable(ctx, id)
		}
		if err != nil {
			return err
		}
		t := c1219.TableID(id)
		name := t.String()
		if n := t.Name(); n != "" {
			name += " " + n
		}
		fmt.Fprintf(stdout, "%s: %d octets\n", name, len(b))
		for i := 0; i < len(b); i += 16 {
			fmt.Fprintf(stdout, "%06x  % x\n", *offset+uint(i), b[i:min(i+16, len(b))])
		}
		return nil
	})
}

func osgpWrite(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("osgp write", "[flags] ADDRESS TABLE HEX", "Writes HEX to a table: the whole table, or from --offset.", stderr)
	offset := fs.Int("offset", -1, "write from this `octet` (default: the whole table)")
	conn := osgpConnFlags(fs)
	id, err := tableArgs(fs, args, 3, "want ADDRESS, TABLE and HEX", osgpTable)
	if err != nil {
		return err
	}
	data, ok := hexArg(fs.Arg(2))
	if !ok || len(data) == 0 {
		return usageError{errors.New("HEX: want 1 to 65535 octets in hex")}
	}
	if *offset > 0xFFFFFF {
		return usageError{errors.New("--offset: at most 16777215")}
	}
	return conn.run(fs.Arg(0), stderr, func(ctx context.Context, c *osgp.Client) error {
		if *offset >= 0 {
			err = c.WritePartial(ctx, id, uint32(*offset), data)
		} else {
			err = c.WriteTable(ctx, id, data)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d octets written\n", c1219.TableID(id), len(data))
		return nil
	})
}

func osgpTables(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("osgp tables", "[flags] ADDRESS", "Prints the meter's identification (ST1) and the tables and procedures ST0 declares.", stderr)
	conn := osgpConnFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one ADDRESS")}
	}
	return conn.run(fs.Arg(0), stderr, func(ctx context.Context, c *osgp.Client) error {
		return osgpDescribe(ctx, c, stdout)
	})
}

// osgpDescribe prints the meter's identification and the tables and
// procedures its ST0 declares.
func osgpDescribe(ctx context.Context, c *osgp.Client, stdout io.Writer) error {
	b, err := c.ReadTable(ctx, uint16(c1219.ST0))
	if err != nil {
		return err
	}
	g, err := c1219.DecodeST0(b)
	if err != nil {
		return fmt.Errorf("ST0: %w", err)
	}
	f := g.Format
	if g.HasTable(c1219.ST1) {
		if b, err := c.ReadTable(ctx, uint16(c1219.ST1)); err == nil {
			if id, err := c1219.DecodeST1(b, f); err == nil {
				fmt.Fprintf(stdout, "meter: %s %s, serial %s, firmware %d.%d, hardware %d.%d\n", strings.TrimSpace(id.Manufacturer),
					strings.TrimSpace(id.Model), strings.TrimSpace(id.SerialNo), id.FWVersion, id.FWRevision, id.HWVersion, id.HWRevision)
			}
		}
	}
	fmt.Fprintf(stdout, "format: C12.19 version %d, %s, time format %d, NI formats %s and %s\n", f.Version,
		map[bool]string{true: "big endian", false: "little endian"}[f.BigEndian], f.Time, f.NI1, f.NI2)
	fmt.Fprintln(stdout, "tables:")
	list := func(used, write c1219.Set, mfg bool) {
		for _, n := range used.Elems() {
			t := c1219.TableID(n)
			if mfg {
				t = c1219.MT(uint16(n))
			}
			w := ""
			if write.Has(n) {
				w = "  writable"
			}
			fmt.Fprintf(stdout, "  %-6s %s%s\n", t, t.Name(), w)
		}
	}
	list(g.StdTablesUsed, g.StdTablesWrite, false)
	list(g.MfgTablesUsed, g.MfgTablesWrite, true)
	fmt.Fprintln(stdout, "procedures:")
	for _, n := range g.StdProcUsed.Elems() {
		fmt.Fprintf(stdout, "  %s\n", c1219.Proc(n))
	}
	for _, n := range g.MfgProcUsed.Elems() {
		fmt.Fprintf(stdout, "  %s\n", c1219.MfgProc|c1219.Proc(n))
	}
	return nil
}
