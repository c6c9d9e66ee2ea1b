package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/obis"
)

func init() {
	register("dlms", "read and command any DLMS/COSEM meter: get, set, action, profile, objects, discover, serve", cmdDLMS)
}

const dlmsUsage = `Usage: amigo dlms SUBCOMMAND [flags] ADDRESS ...

A field engineer's DLMS/COSEM client (IEC 62056, logical-name referencing)
over the TCP wrapper or HDLC (optionally after an IEC 62056-21 mode E
sign-on), with no security, LLS or HLS and any security policy.

Subcommands:
  get     ADDRESS TARGET...            read attributes (default attribute 2)
  set     ADDRESS TARGET TYPE:VALUE    write one attribute
  action  ADDRESS TARGET [TYPE:VALUE]  invoke a method (default parameter int8:0)
  profile ADDRESS OBIS                 read a profile by date range (--from, --to)
  objects ADDRESS                      list the association's object list
  discover ADDRESS                     read the object model and print the channel map the head-end would use
  serve                                run a lab meter that answers these commands

ADDRESS is host:port, or a serial device (/dev/ttyUSB0 or serial:/dev/ttyUSB0)
for HDLC on a line or, with --mode-e, an optical probe. TARGET is OBIS[:INDEX] or CLASS/OBIS[:INDEX]; OBIS is
1.0.1.8.0.255 or 1-0:1.8.0*255. Without CLASS the class is looked up in the
association's object list. Values are TYPE:VALUE: null, bool:true, int8..int64,
uint8..uint64, enum, float32, float64, octets:HEX, string:TEXT, utf8:TEXT,
datetime:RFC3339|now.

Secrets may come from the environment instead of flags, so they stay out of
the process list: AMIGO_DLMS_PASSWORD, AMIGO_DLMS_EK, AMIGO_DLMS_AK.

Run 'amigo dlms SUBCOMMAND --help' for the flags.
`

func cmdDLMS(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, dlmsUsage)
		if len(args) == 0 {
			return usageError{errors.New("a subcommand is required")}
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "get", "set", "action", "profile", "objects", "discover":
		return dlmsClientCommand(sub, rest, stdout, stderr)
	case "serve":
		return dlmsServe(rest, stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q; run 'amigo dlms --help'", sub)}
}

// clientFlags are the association settings every client subcommand shares.
type clientFlags struct {
	transport, auth, policy, password, ek, ak, title, serverTitle string
	ecdsaKey, serverPub                                           string
	clientSAP, logical, physical, addrSize                        uint
	modeE, readIC, generalProtection, protectedRelease, jsonOut   bool
	ic                                                            uint64
	baud                                                          int
	timeout                                                       time.Duration
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.transport, "transport", "wrapper", "link: `wrapper` or hdlc")
	fs.BoolVar(&f.modeE, "mode-e", false, "IEC 62056-21 mode E sign-on before HDLC (optical probe via a TCP bridge)")
	fs.UintVar(&f.clientSAP, "client", 16, "client `SAP`: 16 public, 17 reading (LLS), 1 management (HLS)")
	fs.UintVar(&f.logical, "server", 1, "server logical device `address`")
	fs.UintVar(&f.physical, "physical", 0, "HDLC server physical (lower) `address`")
	fs.UintVar(&f.addrSize, "address-size", 0, "HDLC server address `bytes`: 1, 2 or 4 (default by physical address)")
	fs.StringVar(&f.auth, "auth", "none", "authentication: `none`, lls, hls-gmac, hls-sha256 or hls-ecdsa")
	fs.StringVar(&f.password, "password", "", "LLS password or HLS-SHA256 `secret` (or AMIGO_DLMS_PASSWORD)")
	fs.StringVar(&f.policy, "policy", "", "security `policy`: none, authenticated, encrypted or authenticated-encrypted (default authenticated-encrypted with HLS, else none)")
	fs.StringVar(&f.ek, "ek", "", "global unicast encryption key, `hex` (or AMIGO_DLMS_EK)")
	fs.StringVar(&f.ak, "ak", "", "authentication key, `hex` (or AMIGO_DLMS_AK)")
	fs.StringVar(&f.title, "system-title", "", "client system title, 8 bytes `hex` (default random)")
	fs.StringVar(&f.serverTitle, "server-system-title", "", "server system title `hex`, if the AARE does not carry it")
	fs.StringVar(&f.ecdsaKey, "ecdsa-key", "", "client ECDSA P-256 private key, PEM `file` (hls-ecdsa)")
	fs.StringVar(&f.serverPub, "server-public-key", "", "server ECDSA P-256 public key, PEM `file` (hls-ecdsa)")
	fs.Uint64Var(&f.ic, "ic", 0, "first invocation `counter` to send")
	fs.BoolVar(&f.readIC, "read-ic", true, "with ciphering and no --ic: read the invocation counter 0.0.43.1.0.255 as the public client first and continue from it")
	fs.BoolVar(&f.generalProtection, "general-protection", true, "use general-glo-ciphering when the meter grants it")
	fs.BoolVar(&f.protectedRelease, "protected-release", false, "release a ciphered association with a ciphered RLRQ")
	fs.IntVar(&f.baud, "baud", 9600, "serial line `rate` for HDLC without mode E (with mode E the meter proposes it)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "deadline for the whole command")
	fs.BoolVar(&f.jsonOut, "json", false, "print JSON")
}

func hexFlag(name, v, env string, n ...int) ([]byte, error) {
	if v == "" {
		v = os.Getenv(env)
	}
	if v == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(v, " ", ""))
	if err != nil {
		return nil, usageError{fmt.Errorf("--%s: not hex", name)}
	}
	if len(n) > 0 && len(b) != n[0] {
		return nil, usageError{fmt.Errorf("--%s: %d bytes, want %d", name, len(b), n[0])}
	}
	return b, nil
}

// clientMechanism reports whether the client proposes m: the HLS variants
// the Green Book deprecates (hls, hls-md5, hls-sha1) are parsed but not
// offered.
func clientMechanism(m security.Mechanism) bool {
	switch m {
	case security.MechanismNone, security.MechanismLLS, security.MechanismHLSGMAC, security.MechanismHLSSHA256, security.MechanismHLSECDSA:
		return true
	}
	return false
}

func (f *clientFlags) options() (dlms.Options, error) {
	var o dlms.Options
	var err error
	if o.Link, err = dlms.ParseLink(f.transport); err != nil || f.transport == "" {
		return o, usageError{fmt.Errorf("--transport %q: want wrapper or hdlc", f.transport)}
	}
	if f.modeE && o.Link != dlms.LinkHDLC {
		return o, usageError{errors.New("--mode-e needs --transport hdlc")}
	}
	o.ModeE = f.modeE
	o.ClientSAP = uint16(f.clientSAP)
	o.Server = dlms.ServerAddress{Logical: uint16(f.logical), Physical: uint16(f.physical), Size: int(f.addrSize)}
	if o.Authentication, err = security.ParseMechanism(f.auth); err != nil || f.auth == "" || !clientMechanism(o.Authentication) {
		return o, usageError{fmt.Errorf("--auth %q: want none, lls, hls-gmac, hls-sha256 or hls-ecdsa", f.auth)}
	}
	hls := o.Authentication.IsHLS()
	if o.Authentication == security.MechanismHLSECDSA {
		o.Suite = 1
	}
	pol := f.policy
	if pol == "" && hls {
		pol = security.PolicyAuthenticatedEncrypted.String()
	}
	if o.Policy, err = security.ParsePolicy(pol); err != nil {
		return o, usageError{fmt.Errorf("--policy %q: want none, authenticated, encrypted or authenticated-encrypted", pol)}
	}
	pw := f.password
	if pw == "" {
		pw = os.Getenv("AMIGO_DLMS_PASSWORD")
	}
	if pw != "" {
		o.Password = dlms.NewSecret([]byte(pw))
	}
	if (o.Authentication == security.MechanismLLS || o.Authentication == security.MechanismHLSSHA256) && pw == "" {
		return o, usageError{fmt.Errorf("--auth %s needs --password or AMIGO_DLMS_PASSWORD", f.auth)}
	}
	ek, err := hexFlag("ek", f.ek, "AMIGO_DLMS_EK")
	if err != nil {
		return o, err
	}
	ak, err := hexFlag("ak", f.ak, "AMIGO_DLMS_AK")
	if err != nil {
		return o, err
	}
	if ek != nil {
		if o.Keys.Unicast, err = security.NewKey(ek); err != nil {
			return o, usageError{fmt.Errorf("--ek: %v", err)}
		}
	}
	if ak != nil {
		if o.Keys.Authentication, err = security.NewKey(ak); err != nil {
			return o, usageError{fmt.Errorf("--ak: %v", err)}
		}
	}
	if (hls || o.Policy != security.PolicyNone) && o.Authentication != security.MechanismHLSECDSA && (ek == nil || ak == nil) {
		return o, usageError{errors.New("HLS and ciphering need --ek and --ak (or AMIGO_DLMS_EK and AMIGO_DLMS_AK)")}
	}
	if o.SystemTitle, err = hexFlag("system-title", f.title, "", 8); err != nil {
		return o, err
	}
	if o.SystemTitle == nil && (hls || o.Policy != security.PolicyNone) {
		// "AMG" and five random bytes: a client title must not collide
		// with another client's, or the meter's counters would mix.
		o.SystemTitle = append([]byte("AMG"), make([]byte, 5)...)
		rand.Read(o.SystemTitle[3:])
	}
	if o.ServerSystemTitle, err = hexFlag("server-system-title", f.serverTitle, "", 8); err != nil {
		return o, err
	}
	if f.ecdsaKey != "" {
		k, err := readECKey(f.ecdsaKey)
		if err != nil {
			return o, err
		}
		o.SigningKey = k
	}
	if f.serverPub != "" {
		k, err := readECPublic(f.serverPub)
		if err != nil {
			return o, err
		}
		o.ServerPublicKey = k
	}
	if f.ic > 0xFFFFFFFE {
		return o, usageError{errors.New("--ic: at most 4294967294")}
	}
	o.InvocationCounter = uint32(f.ic)
	// A meter rejects a counter it has seen, so a tool that keeps no state
	// between runs asks the meter where to continue, as DSMR and IDIS
	// meters expect.
	o.ReadInvocationCounter = f.readIC && f.ic == 0 && (o.Policy != security.PolicyNone || hls)
	o.GeneralProtection = f.generalProtection
	o.ProtectedRelease = f.protectedRelease
	return o, nil
}

func readPEM(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	return blk.Bytes, nil
}

func readECKey(path string) (*ecdsa.PrivateKey, error) {
	der, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if ek, ok := k.(*ecdsa.PrivateKey); ok && err == nil {
		return ek, nil
	}
	return nil, fmt.Errorf("%s: not an EC private key", path)
}

func readECPublic(path string) (*ecdsa.PublicKey, error) {
	der, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if ek, ok := k.(*ecdsa.PublicKey); ok && err == nil {
		return ek, nil
	}
	return nil, fmt.Errorf("%s: not an EC public key", path)
}

func dlmsClientCommand(sub string, args []string, stdout, stderr io.Writer) error {
	synopsis := map[string]string{
		"get": "ADDRESS TARGET...", "set": "ADDRESS TARGET TYPE:VALUE", "action": "ADDRESS TARGET [TYPE:VALUE]",
		"profile": "ADDRESS OBIS", "objects": "ADDRESS", "discover": "ADDRESS",
	}[sub]
	fs := newFlags("dlms "+sub, "[flags] "+synopsis, strings.TrimSpace(dlmsUsage[strings.Index(dlmsUsage, "ADDRESS is"):]), stderr)
	var cf clientFlags
	cf.register(fs)
	from := fs.String("from", "-24h", "profile start: RFC 3339 time, or a duration before now such as -24h")
	to := fs.String("to", "now", "profile end: RFC 3339 time, now, or a duration before now")
	manufacturer := fs.String("manufacturer", "", "discover: the meter's make, as the registry names it (part of the template key)")
	model := fs.String("model", "", "discover: the meter's model, as the registry names it (part of the template key)")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos := fs.Args()
	min := map[string]int{"get": 2, "set": 3, "action": 2, "profile": 2, "objects": 1, "discover": 1}[sub]
	max := map[string]int{"get": 1 << 20, "set": 3, "action": 3, "profile": 2, "objects": 1, "discover": 1}[sub]
	if len(pos) < min || len(pos) > max {
		return usageError{fmt.Errorf("want %s", synopsis)}
	}
	o, err := cf.options()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cf.timeout)
	defer cancel()
	// Parse everything before dialling: a typo should not cost a session.
	var targets []target
	var value axdr.Data
	switch sub {
	case "get":
		for _, a := range pos[1:] {
			t, err := parseTarget(a, 2)
			if err != nil {
				return usageError{err}
			}
			targets = append(targets, t)
		}
	case "set", "action":
		def := int8(2)
		if sub == "action" {
			def = 1
		}
		t, err := parseTarget(pos[1], def)
		if err != nil {
			return usageError{err}
		}
		targets = []target{t}
		value = axdr.Int8(0)
		if len(pos) == 3 {
			if value, err = parseValue(pos[2]); err != nil {
				return usageError{err}
			}
		}
	case "profile":
		c, err := obis.Parse(pos[1])
		if err != nil {
			return usageError{err}
		}
		targets = []target{{Class: 7, OBIS: c, Index: 2}}
	}
	var fromT, toT time.Time
	if sub == "profile" {
		now := time.Now()
		if fromT, err = parseWhen(*from, now); err != nil {
			return usageError{fmt.Errorf("--from: %v", err)}
		}
		if toT, err = parseWhen(*to, now); err != nil {
			return usageError{fmt.Errorf("--to: %v", err)}
		}
	}

	var c *dlms.Client
	if dev, ok := serialDevice(pos[0]); ok {
		// One line, one association: no second connection for a counter
		// pre-read, so give --ic when ciphering over serial.
		o.Link, o.ReadInvocationCounter = dlms.LinkHDLC, false
		c, err = dlms.DialSerial(ctx, dev, cf.baud, o)
	} else {
		c, err = dlms.Dial(ctx, pos[0], o)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	sess := &dlmsSession{c: c, out: stdout, json: cf.jsonOut}
	switch sub {
	case "get":
		err = sess.get(ctx, targets)
	case "set":
		err = sess.set(ctx, targets[0], value)
	case "action":
		err = sess.action(ctx, targets[0], value)
	case "profile":
		err = sess.profile(ctx, targets[0].OBIS, fromT, toT)
	case "objects":
		err = sess.objects(ctx)
	case "discover":
		err = sess.discover(ctx, *manufacturer, *model)
	}
	if rerr := c.Release(ctx); err == nil && rerr != nil && !errors.Is(rerr, dlms.ErrPeerClosed) {
		err = fmt.Errorf("release: %w", rerr)
	}
	return err
}

// serialDevice recognises serial:/dev/ttyUSB0 and /dev/ttyUSB0.
func serialDevice(addr string) (string, bool) {
	if d, ok := strings.CutPrefix(addr, "serial:"); ok {
		return d, true
	}
	return addr, strings.HasPrefix(addr, "/dev/")
}

func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d > 0 {
			d = -d
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("%q: want RFC 3339, now, or a duration such as -24h", s)
	}
	return t, nil
}

// dlmsSession runs one subcommand on an established association.
type dlmsSession struct {
	c       *dlms.Client
	out     io.Writer
	json    bool
	classes map[obis.Code]uint16
}

// classOf resolves a target's class from the object list, read once.
func (s *dlmsSession) classOf(ctx context.Context, t target) (uint16, error) {
	if t.Class != 0 {
		return t.Class, nil
	}
	if s.classes == nil {
		list, err := s.c.ObjectList(ctx)
		if err != nil {
			return 0, fmt.Errorf("looking up the class of %s in the object list: %w (give it as CLASS/OBIS)", t.OBIS, err)
		}
		s.classes = make(map[obis.Code]uint16, len(list))
		for _, e := range list {
			s.classes[e.LogicalName] = e.ClassID
		}
	}
	c, ok := s.classes[t.OBIS]
	if !ok {
		return 0, fmt.Errorf("%s is not in the association's object list", t.OBIS)
	}
	return c, nil
}

// scalerAttr is the scaler_unit attribute that scales attribute attr of a
// class, or 0.
func scalerAttr(class uint16, attr int8) int8 {
	switch {
	case (class == 3 || class == 4) && attr == 2:
		return 3
	case class == 5 && (attr == 2 || attr == 3):
		return 4
	}
	return 0
}

type getOut struct {
	Target string  `json:"target"`
	Class  uint16  `json:"class"`
	Value  any     `json:"value,omitempty"`
	Scaled float64 `json:"scaled,omitempty"`
	Unit   string  `json:"unit,omitempty"`
	Text   string  `json:"text"`
	Error  string  `json:"error,omitempty"`
}

func (s *dlmsSession) get(ctx context.Context, targets []target) error {
	var outs []getOut
	failed := 0
	var lastErr error
	for _, t := range targets {
		o := getOut{Target: t.String()}
		class, err := s.classOf(ctx, t)
		if err == nil {
			o.Class = class
			o.Target = fmt.Sprintf("%s:%d", t.OBIS, t.Index)
			var d axdr.Data
			d, err = s.c.Get(ctx, dlms.Attr{Class: class, OBIS: t.OBIS, Attribute: t.Index}, nil)
			if err == nil {
				o.Value = jsonValue(d)
				var su *axdr.ScalerUnit
				if sa := scalerAttr(class, t.Index); sa != 0 {
					if sd, serr := s.c.Get(ctx, dlms.Attr{Class: class, OBIS: t.OBIS, Attribute: sa}, nil); serr == nil {
						if p, perr := axdr.ParseScalerUnit(sd); perr == nil {
							su = &p
							if v, ok := p.Value(d); ok {
								o.Scaled, o.Unit = v, p.Unit.String()
							}
						}
					}
				}
				o.Text = textValue(d, su)
			}
		}
		if err != nil {
			if errors.Is(err, dlms.ErrPeerClosed) || errors.Is(err, dlms.ErrTimeout) || errors.Is(err, dlms.ErrReplay) {
				return err
			}
			o.Error, o.Text = err.Error(), "error: "+err.Error()
			failed++
			lastErr = err
		}
		outs = append(outs, o)
	}
	if s.json {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		enc.Encode(outs)
	} else if failed < len(targets) || len(targets) > 1 {
		w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
		for _, o := range outs {
			fmt.Fprintf(w, "%s\t%s\n", o.Target, o.Text)
		}
		w.Flush()
	}
	switch {
	case failed == 1 && len(targets) == 1:
		return lastErr
	case failed > 0:
		return fmt.Errorf("%d of %d reads failed", failed, len(targets))
	}
	return nil
}

func (s *dlmsSession) set(ctx context.Context, t target, v axdr.Data) error {
	class, err := s.classOf(ctx, t)
	if err != nil {
		return err
	}
	if err := s.c.Set(ctx, dlms.Attr{Class: class, OBIS: t.OBIS, Attribute: t.Index}, v); err != nil {
		return err
	}
	return s.done(map[string]any{"target": fmt.Sprintf("%s:%d", t.OBIS, t.Index), "result": "success"})
}

func (s *dlmsSession) action(ctx context.Context, t target, p axdr.Data) error {
	class, err := s.classOf(ctx, t)
	if err != nil {
		return err
	}
	ret, err := s.c.Action(ctx, dlms.Method{Class: class, OBIS: t.OBIS, Method: t.Index}, p)
	if err != nil {
		return err
	}
	return s.done(map[string]any{"target": fmt.Sprintf("%s:%d", t.OBIS, t.Index), "result": "success", "return": jsonValue(ret)})
}

func (s *dlmsSession) done(v map[string]any) error {
	if s.json {
		return json.NewEncoder(s.out).Encode(v)
	}
	line := fmt.Sprintf("%s\t%s", v["target"], v["result"])
	if r, ok := v["return"]; ok && r != nil {
		line += fmt.Sprintf("\treturned %v", r)
	}
	_, err := fmt.Fprintln(s.out, line)
	return err
}

func (s *dlmsSession) profile(ctx context.Context, ln obis.Code, from, to time.Time) error {
	rows, cols, err := s.c.ReadProfile(ctx, ln, from, to)
	if err != nil {
		return err
	}
	if s.json {
		out := map[string]any{"profile": ln.String(), "columns": columnNames(cols)}
		var jr []any
		for _, r := range rows {
			jr = append(jr, jsonValue(r))
		}
		out["rows"] = jr
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(columnNames(cols), "\t"))
	for _, r := range rows {
		cells := make([]string, len(r.Items))
		for i, it := range r.Items {
			cells[i] = textValue(it, nil)
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	w.Flush()
	fmt.Fprintf(s.out, "%d entries\n", len(rows))
	return nil
}

func columnNames(cols []cosem.CaptureObject) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = fmt.Sprintf("%s:%d", c.LogicalName, c.Attribute)
	}
	return names
}

func (s *dlmsSession) objects(ctx context.Context) error {
	list, err := s.c.ObjectList(ctx)
	if err != nil {
		return err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].LogicalName.Compare(list[j].LogicalName) < 0 })
	if s.json {
		var out []map[string]any
		for _, e := range list {
			out = append(out, map[string]any{"class": e.ClassID, "version": e.Version, "logicalName": e.LogicalName.String(), "className": cosem.ClassName(e.ClassID)})
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "OBIS\tCLASS\tVERSION\tNAME")
	for _, e := range list {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", e.LogicalName, e.ClassID, e.Version, cosem.ClassName(e.ClassID))
	}
	return w.Flush()
}

// discover reads the object model as the head-end's first contact does and
// prints it with the channel map the head-end would read the meter into.
func (s *dlmsSession) discover(ctx context.Context, manufacturer, model string) error {
	m, err := dlmsdriver.Discover(ctx, s.c, manufacturer, model)
	if err != nil {
		return err
	}
	chs := m.Channels()
	if s.json {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"model": m, "channels": chs})
	}
	fmt.Fprintf(s.out, "template %s\n", m.Key)
	if m.FirmwareObject != nil {
		fmt.Fprintf(s.out, "firmware %s (%s)\n", m.Firmware, m.FirmwareObject.LN)
	}
	if m.Clock != nil {
		fmt.Fprintf(s.out, "clock    %s\n", m.Clock.LN)
	}
	fmt.Fprintf(s.out, "objects  %d\n\n", len(m.Objects))
	w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PROFILE\tKIND\tPERIOD\tCAPTURE OBJECTS")
	for _, p := range m.Profiles {
		period := "-"
		if p.Period > 0 {
			period = (time.Duration(p.Period) * time.Second).String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.LN, p.Kind, period, strings.Join(columnNames(p.Columns), " "))
	}
	w.Flush()
	fmt.Fprintln(s.out)
	w = tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CHANNEL\tSOURCE\tOBJECT\tUNIT\tSCALE\tNOTE")
	for _, c := range chs {
		src := c.Source
		if c.Source != "register" {
			src += " " + c.Profile.String()
		}
		note := ""
		switch {
		case c.Raw:
			note = "unknown code, kept raw"
		case c.Cumulative:
			note = "interval differences"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t10^%d\t%s\n", c.ReadingType, src, c.Object, c.Unit, c.Multiplier, note)
	}
	w.Flush()
	for _, n := range m.Notes {
		fmt.Fprintf(s.out, "note: %s\n", n)
	}
	return nil
}
