package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/c1218"
	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/psem"
)

func init() {
	register("c12", "read, write and run procedures on ANSI C12 meters (PSEM over C12.18, TCP or an optical probe, or C12.22)", cmdC12)
}

const c12About = "ADDRESS is host:port (a meter's C12.18 link on TCP) or an optical probe's serial device\n" +
	"(/dev/ttyUSB0 or serial:/dev/ttyUSB0), opened at 9600 Bd 8N1. The session is the usual one:\n" +
	"ident, negotiate, logon, security; --password is the 20-octet C12.18 password as 40 hex digits\n" +
	"(shorter is padded with zeros). TABLE is a number; manufacturer tables are 2048 and up.\n" +
	"With --link c12.22, ADDRESS is host[:port] (1153) of a C12.22 node, --aptitle names the meter and\n" +
	"--key-id/--key its AES-128 key; requests go session-less unless --password asks for a logon."

var c12Verbs = verbs{
	usage: "Usage: amigo c12 tables ADDRESS [flags]\n" +
		"       amigo c12 read ADDRESS TABLE [--offset N --count N] [flags]\n" +
		"       amigo c12 write ADDRESS TABLE HEX [--offset N] [flags]\n" +
		"       amigo c12 procedure ADDRESS NUMBER [PARAMS-HEX] [--mfg] [flags]\n\n" + c12About + "\n",
	help:    []string{"-h", "--help"},
	missing: "want tables, read, write or procedure",
	unknown: "unknown subcommand %q: want tables, read, write or procedure",
	run:     map[string]func([]string, io.Writer, io.Writer) error{"tables": c12Tables, "read": c12Read, "write": c12Write, "procedure": c12Procedure},
}

func cmdC12(args []string, stdout, stderr io.Writer) error {
	return c12Verbs.dispatch(args, stdout, stderr)
}

// c12Session is what every subcommand needs to open a session.
type c12Session struct {
	user     *string
	userID   *uint
	password *string
	link     *string
	timeout  *time.Duration
	size     *uint
	packets  *uint
	aptitle  *string
	calling  *string
	keyID    *uint
	key      *string
	mode     *string
}

func c12Flags(fs *flag.FlagSet) c12Session {
	return c12Session{
		user:     fs.String("user", "amigo", "the logon `name` (up to 10 characters)"),
		userID:   fs.Uint("user-id", 0, "the logon user `id` (0..65535)"),
		password: fs.String("password", "", "the C12.18 password as `hex` (up to 40 digits; none: no security service)"),
		link:     fs.String("link", "c12.18", "the `link`: c12.18 (TCP or serial) or c12.22 (TCP)"),
		timeout:  fs.Duration("timeout", 60*time.Second, "how `long` the whole command may take"),
		size:     fs.Uint("packet-size", 1024, "the packet `octets` to negotiate"),
		packets:  fs.Uint("packets", 8, "the packets per message to negotiate (`n`)"),
		aptitle:  fs.String("aptitle", "", "c12.22: the meter's `ApTitle` (dotted OID)"),
		calling:  fs.String("calling", "2.16.124.113620.1.22.0.1", "c12.22: this tool's `ApTitle`"),
		keyID:    fs.Uint("key-id", 0, "c12.22: the key's `id` in the meter's key table"),
		key:      fs.String("key", "", "c12.22: the AES-128 key as 32 `hex` digits (none: cleartext)"),
		mode:     fs.String("mode", "", "c12.22: security `mode`, clear, authenticated or ciphertext (default: ciphertext with a key)"),
	}
}

// openC1222 starts session-less PSEM over a C12.22 association, logging
// on first when a password is given.
func (s c12Session) openC1222(ctx context.Context, addr string, login c1218.Login) (*psem.Client, psem.Ident, func(), error) {
	var id psem.Ident
	called, err := c1222.ParseApTitle(*s.aptitle)
	if err != nil || *s.aptitle == "" {
		return nil, id, nil, usageError{fmt.Errorf("--aptitle %q: want the meter's ApTitle, a dotted OID", *s.aptitle)}
	}
	calling, err := c1222.ParseApTitle(*s.calling)
	if err != nil {
		return nil, id, nil, usageError{fmt.Errorf("--calling %q: %v", *s.calling, err)}
	}
	cfg := c1222.Config{Called: called, Calling: calling, UserID: login.UserID, Timeout: *s.timeout}
	if *s.key != "" {
		k, err := hex.DecodeString(*s.key)
		if err != nil || len(k) != 16 {
			return nil, id, nil, usageError{errors.New("--key is 32 hex digits (AES-128)")}
		}
		if *s.keyID > 255 {
			return nil, id, nil, usageError{errors.New("--key-id is 0..255")}
		}
		cfg.Key, cfg.KeyID, cfg.Mode = k, uint8(*s.keyID), c1222.ModeCiphertext
	}
	switch *s.mode {
	case "":
	case "clear":
		cfg.Mode = c1222.ModeClear
	case "authenticated":
		cfg.Mode = c1222.ModeAuthenticated
	case "ciphertext":
		cfg.Mode = c1222.ModeCiphertext
	default:
		return nil, id, nil, usageError{fmt.Errorf("--mode %q: want clear, authenticated or ciphertext", *s.mode)}
	}
	if cfg.Mode != c1222.ModeClear && cfg.Key == nil {
		return nil, id, nil, usageError{fmt.Errorf("--mode %s needs --key", *s.mode)}
	}
	cl, err := c1222.Dial(ctx, addr, cfg)
	if err != nil {
		return nil, id, nil, err
	}
	c := psem.NewClient(cl)
	if id, err = c.Ident(ctx); err != nil {
		cl.Close()
		return nil, id, nil, fmt.Errorf("%s: %w", addr, err)
	}
	if login.Password != nil {
		if err := c.Logon(ctx, login.UserID, login.User); err != nil {
			cl.Close()
			return nil, id, nil, fmt.Errorf("%s: %w", addr, err)
		}
		if err := c.Security(ctx, login.Password); err != nil {
			cl.Close()
			return nil, id, nil, fmt.Errorf("%s: %w", addr, err)
		}
	}
	return c, id, func() {
		if login.Password != nil {
			tctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c.Logoff(tctx)
		}
		cl.Close()
	}, nil
}

// open starts a session on the meter at addr; done ends it with a
// terminate and closes the link.
func (s c12Session) open(ctx context.Context, addr string) (c *psem.Client, id psem.Ident, done func(), err error) {
	if *s.link != "c12.18" && *s.link != "c12.22" {
		return nil, id, nil, usageError{fmt.Errorf("unknown --link %q: want c12.18 or c12.22", *s.link)}
	}
	if *s.userID > 0xFFFF {
		return nil, id, nil, usageError{errors.New("--user-id is 0..65535")}
	}
	if len(*s.user) > psem.UserLen {
		return nil, id, nil, usageError{fmt.Errorf("--user %q is over %d characters", *s.user, psem.UserLen)}
	}
	if *s.size > 8192 || *s.size < 16 || *s.packets == 0 || *s.packets > 255 {
		return nil, id, nil, usageError{errors.New("--packet-size is 16..8192, --packets 1..255")}
	}
	login := c1218.Login{PacketSize: uint16(*s.size), Packets: uint8(*s.packets), UserID: uint16(*s.userID), User: *s.user}
	if *s.password != "" {
		pw, err := hex.DecodeString(*s.password)
		if err != nil || len(pw) > psem.PasswordLen {
			return nil, id, nil, usageError{errors.New("--password is up to 40 hex digits")}
		}
		login.Password = pw
	}
	if *s.link == "c12.22" {
		return s.openC1222(ctx, addr, login)
	}
	var l *c1218.Link
	if dev, ok := serialDevice(addr); ok {
		port, err := c1218.OpenSerial(dev, 0)
		if err != nil {
			return nil, id, nil, err
		}
		l = c1218.New(port, c1218.WithBaudSwitch(c1218.SerialBaudSwitch(port)))
		login.Baud = 6 // 9600 Bd, which every optical port speaks
	} else if l, err = c1218.Dial(ctx, addr); err != nil {
		return nil, id, nil, err
	}
	c, id, err = c1218.Open(ctx, l, login)
	if err != nil {
		l.Close()
		return nil, id, nil, fmt.Errorf("%s: %w", addr, err)
	}
	return c, id, func() {
		tctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Terminate(tctx)
		l.Close()
	}, nil
}

// run opens a session on the meter at addr, runs f in it and ends it, all
// within --timeout.
func (s c12Session) run(addr string, f func(ctx context.Context, c *psem.Client, id psem.Ident) error) error {
	var id psem.Ident
	open := func(ctx context.Context) (c *psem.Client, done func(), err error) {
		c, id, done, err = s.open(ctx, addr)
		return c, done, err
	}
	return withMeter(s.timeout, open, func(ctx context.Context, c *psem.Client) error { return f(ctx, c, id) })
}

func parseTable(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		return 0, usageError{fmt.Errorf("table %q: want a number 0..65535", s)}
	}
	return uint16(n), nil
}

func c12Tables(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("c12 tables", "ADDRESS [flags]", "Reads ST0 and ST1 and prints who the meter is, its data formats, and the tables and\n"+
		"procedures ST0 says it uses.\n"+c12About, stderr)
	sess := c12Flags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("want one ADDRESS")}
	}
	return sess.run(fs.Arg(0), func(ctx context.Context, c *psem.Client, id psem.Ident) error {
		return c12Describe(ctx, c, id, stdout)
	})
}

// c12Describe prints who the meter is, as its identification, ST0 and ST1 say.
func c12Describe(ctx context.Context, c *psem.Client, id psem.Ident, stdout io.Writer) error {
	fmt.Fprintf(stdout, "ident: %s version %d.%d\n", stdName(id.Std), id.Ver, id.Rev)
	st0, err := c.Read(ctx, 0)
	if err != nil {
		return err
	}
	st1, err := c.Read(ctx, 1)
	if err != nil {
		return err
	}
	g, err := c1219.DecodeST0(st0)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, describeST0(g))
	m, err := c1219.DecodeST1(st1, g.Format)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ST1: manufacturer %q, model %q, hardware %d.%d, firmware %d.%d, serial %q\n",
		m.Manufacturer, m.Model, m.HWVersion, m.HWRevision, m.FWVersion, m.FWRevision, m.SerialNo)
	return nil
}

func stdName(std byte) string {
	switch std {
	case psem.StdC1218:
		return "C12.18"
	case psem.StdC1221:
		return "C12.21"
	case psem.StdC1222:
		return "C12.22"
	}
	return fmt.Sprintf("standard %d", std)
}

var charFormats = map[c1219.CharFormat]string{1: "ISO/IEC 646 (7-bit)", 2: "ISO 8859/1", 3: "UTF-8", 4: "UTF-16", 5: "UTF-32"}
var nameplates = map[uint8]string{0: "gas", 1: "water", 2: "electric"}

// describeST0 prints who ST0 says the meter is, its data formats, and the
// tables and procedures it uses.
func describeST0(g c1219.GenConfig) string {
	var b strings.Builder
	order := "little-endian"
	if g.Format.BigEndian {
		order = "big-endian"
	}
	np, ok := nameplates[g.NameplateType]
	if !ok {
		np = fmt.Sprintf("nameplate type %d", g.NameplateType)
	}
	cf, ok := charFormats[g.Format.Char]
	if !ok {
		cf = fmt.Sprintf("code %d", g.Format.Char)
	}
	fmt.Fprintf(&b, "ST0: C12.19 version %d.%d, device class %s, %s meter\n", g.Format.Version, g.StdRevision,
		strings.ToUpper(hex.EncodeToString(g.DeviceClass[:])), np)
	fmt.Fprintf(&b, "  data order %s, characters %s, time format %d, NI formats %s and %s\n", order, cf, g.Format.Time, g.Format.NI1, g.Format.NI2)
	list := func(name string, xs []int, base int) {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = strconv.Itoa(x + base)
		}
		fmt.Fprintf(&b, "  %s: %s\n", name, strings.Join(s, " "))
	}
	list("standard tables", g.StdTablesUsed.Elems(), 0)
	list("manufacturer tables", g.MfgTablesUsed.Elems(), 2048)
	list("standard procedures", g.StdProcUsed.Elems(), 0)
	list("manufacturer procedures", g.MfgProcUsed.Elems(), 2048)
	return b.String()
}

// decodeTable decodes a table c1219 knows, reading what its layout
// depends on (ST0 for the data formats, the actual-dimension tables of
// its decade), and returns it printed, or "" for a table it does not
// know.
func decodeTable(ctx context.Context, c *psem.Client, id uint16, b []byte) (string, error) {
	st0, err := c.Read(ctx, 0)
	if err != nil {
		return "", err
	}
	g, err := c1219.DecodeST0(st0)
	if err != nil {
		return "", err
	}
	if id == 0 {
		return describeST0(g), nil
	}
	decode, ok := tableDecoders[id]
	if !ok {
		return "", nil
	}
	v, err := decode(meterTables{g: g, read: func(t c1219.TableID) ([]byte, error) { return c.Read(ctx, uint16(t)) }}, b)
	if err != nil {
		return "", fmt.Errorf("decode %s: %w", c1219.TableID(id), err)
	}
	return fmt.Sprintf("%s: %+v\n", c1219.TableID(id), v), nil
}

// tableDecoders decode the tables amigo knows beyond ST0.
var tableDecoders = map[uint16]decoder[any]{
	1: formatted(c1219.DecodeST1).untyped(), 2: formatted(c1219.DecodeST2).untyped(), 3: configured(c1219.DecodeST3).untyped(),
	5: formatted(c1219.DecodeST5).untyped(), 7: formatted(c1219.DecodeST7).untyped(), 8: formatted(c1219.DecodeST8).untyped(),

	11: formatted(c1219.DecodeST11).untyped(),
	12: dimensioned(sources, c1219.DecodeST12).untyped(), 13: dimensioned(sources, c1219.DecodeST13).untyped(),
	15: dimensioned(sources, c1219.DecodeST15).untyped(), 16: dimensioned(sources, c1219.DecodeST16).untyped(),

	21: formatted(c1219.DecodeST21).untyped(),
	22: dimensioned(actRegs, c1219.DecodeST22).untyped(), 23: dimensioned(actRegs, c1219.DecodeST23).untyped(),
	24: dimensioned(actRegs, c1219.DecodeST24).untyped(), 25: dimensioned(actRegs, c1219.DecodeST25).untyped(),
	26: dimensioned(actRegs, c1219.DecodeST26).untyped(), 27: dimensioned(actRegs, c1219.DecodeST27).untyped(),
	28: dimensioned(actRegs, c1219.DecodeST28).untyped(),

	51: formatted(c1219.DecodeST51).untyped(), 52: formatted(c1219.DecodeST52).untyped(), 55: formatted(c1219.DecodeST55).untyped(),

	61: configured(c1219.DecodeST61).untyped(),
	62: dimensioned(actLP, c1219.DecodeST62).untyped(), 63: dimensioned(actLP, c1219.DecodeST63).untyped(),
	64: decodeST64,

	71: formatted(c1219.DecodeST71).untyped(),
	72: dimensioned(actLog, c1219.DecodeST72).untyped(), 73: configuredDimensioned(actLog, c1219.DecodeST73).untyped(),
	74: dimensioned(actLog, c1219.DecodeST74).untyped(), 75: configuredDimensioned(actLog, c1219.DecodeST75).untyped(),
	76: dimensioned(actLog, c1219.DecodeST76).untyped(),
}

// The actual-dimension tables, which set the layout of the others in
// their decade.
var (
	sources = dimension(c1219.ST11, formatted(c1219.DecodeST11))
	actRegs = dimension(c1219.ST21, formatted(c1219.DecodeST21))
	actLP   = dimension(c1219.ST61, configured(c1219.DecodeST61))
	actLog  = dimension(c1219.ST71, formatted(c1219.DecodeST71))
)

// meterTables is what decoding one of a meter's tables takes besides its
// octets: the meter's ST0, and a way to read the tables its layout
// depends on.
type meterTables struct {
	g    c1219.GenConfig
	read func(c1219.TableID) ([]byte, error)
}

// decoder decodes one of a meter's tables into a T.
type decoder[T any] func(m meterTables, b []byte) (T, error)

func (d decoder[T]) untyped() decoder[any] {
	return func(m meterTables, b []byte) (any, error) { return d(m, b) }
}

// formatted decodes a table whose layout only the data formats set.
func formatted[T any](d func([]byte, c1219.Format) (T, error)) decoder[T] {
	return func(m meterTables, b []byte) (T, error) { return d(b, m.g.Format) }
}

// configured decodes a table whose layout ST0 sets.
func configured[T any](d func([]byte, c1219.Format, c1219.GenConfig) (T, error)) decoder[T] {
	return func(m meterTables, b []byte) (T, error) { return d(b, m.g.Format, m.g) }
}

// dimension reads table t, whose contents set the layout of others, and
// decodes it with d.
func dimension[A any](t c1219.TableID, d decoder[A]) func(meterTables) (A, error) {
	return func(m meterTables) (A, error) {
		b, err := m.read(t)
		if err != nil {
			var zero A
			return zero, err
		}
		return d(m, b)
	}
}

// dimensioned decodes a table whose layout an actual-dimension table,
// that dim reads, sets.
func dimensioned[A, T any](dim func(meterTables) (A, error), d func([]byte, c1219.Format, A) (T, error)) decoder[T] {
	return func(m meterTables, b []byte) (T, error) {
		a, err := dim(m)
		if err != nil {
			var zero T
			return zero, err
		}
		return d(b, m.g.Format, a)
	}
}

// configuredDimensioned decodes a table whose layout ST0 and an
// actual-dimension table set.
func configuredDimensioned[A, T any](dim func(meterTables) (A, error), d func([]byte, c1219.Format, c1219.GenConfig, A) (T, error)) decoder[T] {
	return func(m meterTables, b []byte) (T, error) {
		return dimensioned(dim, func(b []byte, f c1219.Format, a A) (T, error) { return d(b, f, m.g, a) })(m, b)
	}
}

// decodeST64 decodes the first load profile's data, whose layout ST61
// and ST62 set together.
func decodeST64(m meterTables, b []byte) (any, error) {
	a, err := actLP(m)
	if err != nil {
		return nil, err
	}
	b62, err := m.read(c1219.ST62)
	if err != nil {
		return nil, err
	}
	ctl, err := c1219.DecodeST62(b62, m.g.Format, a)
	if err != nil {
		return nil, err
	}
	return c1219.DecodeST64(b, m.g.Format, a, ctl)
}
func c12Read(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("c12 read", "ADDRESS TABLE [--offset N --count N] [flags]", "Reads a table, whole or a part, and prints it in hex; a whole table of those C12.19 defines\n"+
		"that amigo decodes (ST0-ST8, ST11-ST16, ST21-ST28, ST51-ST55, ST61-ST64, ST71-ST76) is decoded too.\n"+c12About, stderr)
	sess := c12Flags(fs)
	offset := fs.Int("offset", -1, "read from this `octet` (with --count)")
	count := fs.Int("count", -1, "read this many `octets` (with --offset; alone: from 0)")
	table, err := tableArgs(fs, args, 2, "want ADDRESS TABLE", parseTable)
	if err != nil {
		return err
	}
	if *offset > 0xFFFFFF || *count > 0xFFFF || (*offset >= 0 && *count < 0) {
		return usageError{errors.New("--offset (up to 16777215) needs --count (up to 65535)")}
	}
	return sess.run(fs.Arg(0), func(ctx context.Context, c *psem.Client, _ psem.Ident) error {
		var data []byte
		if *count >= 0 {
			data, err = c.ReadOffset(ctx, table, uint32(max(*offset, 0)), uint16(*count))
		} else {
			data, err = c.Read(ctx, table)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "table %d: %d octets\n", table, len(data))
		fmt.Fprint(stdout, hex.Dump(data))
		if *count < 0 {
			text, err := decodeTable(ctx, c, table, data)
			if err != nil {
				return err
			}
			fmt.Fprint(stdout, text)
		}
		return nil
	})
}

func c12Write(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("c12 write", "ADDRESS TABLE HEX [--offset N] [flags]", "Writes a table, whole or from an offset.\n"+c12About, stderr)
	sess := c12Flags(fs)
	offset := fs.Int("offset", -1, "write from this `octet` (default: the whole table)")
	table, err := tableArgs(fs, args, 3, "want ADDRESS TABLE HEX", parseTable)
	if err != nil {
		return err
	}
	data, ok := hexArg(fs.Arg(2))
	if !ok {
		return usageError{fmt.Errorf("HEX %q: want hex digits, up to 65535 octets", fs.Arg(2))}
	}
	if *offset > 0xFFFFFF {
		return usageError{errors.New("--offset is up to 16777215")}
	}
	return sess.run(fs.Arg(0), func(ctx context.Context, c *psem.Client, _ psem.Ident) error {
		if *offset >= 0 {
			err = c.WriteOffset(ctx, table, uint32(*offset), data)
		} else {
			err = c.Write(ctx, table, data)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "table %d: %d octets written\n", table, len(data))
		return nil
	})
}

func c12Procedure(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("c12 procedure", "ADDRESS NUMBER [PARAMS-HEX] [--mfg] [flags]", "Runs a procedure through ST7 and ST8 and prints its result and response data\n"+
		"(9 is Remote Reset, 10 Set Date and/or Time).\n"+c12About, stderr)
	sess := c12Flags(fs)
	mfg := fs.Bool("mfg", false, "a manufacturer procedure")
	bigEndian := fs.Bool("big-endian", false, "the meter's data order is big-endian (ST0); the procedure number is written in it")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 || fs.NArg() > 3 {
		return usageError{errors.New("want ADDRESS NUMBER [PARAMS-HEX]")}
	}
	n, err := strconv.ParseUint(fs.Arg(1), 0, 16)
	if err != nil || n > 2047 {
		return usageError{fmt.Errorf("procedure %q: want 0..2047", fs.Arg(1))}
	}
	var params []byte
	if fs.NArg() == 3 {
		if params, err = hex.DecodeString(fs.Arg(2)); err != nil {
			return usageError{fmt.Errorf("PARAMS-HEX %q: %v", fs.Arg(2), err)}
		}
	}
	proc := uint16(n)
	if *mfg {
		proc |= psem.ProcMfg
	}
	return sess.run(fs.Arg(0), func(ctx context.Context, c *psem.Client, _ psem.Ident) error {
		if *bigEndian {
			c.ByteOrder = binary.BigEndian
		}
		resp, err := c.Procedure(ctx, proc, params)
		var res psem.ProcResult
		if err != nil && !errors.As(err, &res) {
			return err
		}
		fmt.Fprintf(stdout, "procedure %d: %s\n", n, strings.TrimPrefix(res.Error(), "procedure: "))
		if len(resp) > 0 {
			fmt.Fprint(stdout, hex.Dump(resp))
		}
		return err
	})
}
