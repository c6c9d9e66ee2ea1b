package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/loadshape"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
)

// Readout meters are the fraction Config.Readout of the electricity meters
// that speak IEC 62056-21 (readout and programming modes) instead of
// DLMS/COSEM, at their loopback address and the fleet's ReadoutPort, as
// the meters of an older generation read through an optical probe or a
// modem do. Their readout carries, from the same load model as every
// meter:
//
//	0.0.0      device address (the serial)
//	1.8.0      A+ in kWh, three decimals (exact Wh); 1.8.1..1.8.4 per tariff rate
//	2.8.0      A- likewise; 2.8.1..2.8.4
//	3.8.0      R+ kvarh, 4.8.0 R- kvarh
//	1.6.0      maximum demand in kW, three decimals, and when it happened
//	0.9.1      meter time hh:mm:ss, 0.9.2 date YY-MM-DD (local time)
//	F.F        error register
//
// In programming mode (mode C only) every readout address can be read with
// R1; 0.9.1 and 0.9.2 can be written with W1 after the P1 password, which
// sets the meter's clock; and R5 reads the load profile P.01 (Profile).
const DefaultReadoutPort = 8062

const saltReadout, saltReadoutMode = 0x1E61, 0x1E62

// IsReadout reports whether meter i speaks IEC 62056-21 instead of DLMS.
func (f *Fleet) IsReadout(i int) bool {
	if f.readout <= 0 {
		return false
	}
	return float64(loadshape.Rand(f.seed, uint64(i)+1, 0, saltReadout)%1_000_000) < f.readout*1_000_000
}

// ReadoutMode is the protocol mode readout meter i speaks: mostly C, some
// A, B and D.
func (f *Fleet) ReadoutMode(i int) iec62056.Mode {
	switch loadshape.Rand(f.seed, uint64(i)+1, 0, saltReadoutMode) % 10 {
	case 0:
		return iec62056.ModeA
	case 1:
		return iec62056.ModeB
	case 2:
		return iec62056.ModeD
	}
	return iec62056.ModeC
}

// readoutIdent is the identification a readout meter answers with: the
// baud character announces its mode.
func readoutIdent(mode iec62056.Mode, i int) iec62056.Identification {
	z := byte('5') // mode C: 9600
	switch mode {
	case iec62056.ModeA:
		z = 'X'
	case iec62056.ModeB:
		z = 'E'
	case iec62056.ModeD:
		z = '3'
	}
	return iec62056.Identification{Manufacturer: Manufacturer, BaudChar: z, Ident: fmt.Sprintf("AMG21-%07d", (i+1)%10_000_000)}
}

// ReadoutPassword is readout meter i's P1 password: eight digits derived
// from the seed.
func (f *Fleet) ReadoutPassword(i int) string {
	d := derive(f.seed, "iec-p1", uint64(i)+1)
	return fmt.Sprintf("%08d", binary.BigEndian.Uint64(d[:8])%100_000_000)
}

// ReadoutAddr is the address readout meter i listens on.
func (f *Fleet) ReadoutAddr(i int) netip.AddrPort { return addrOf(i, f.readoutPort) }

// readoutRow turns meter i's DLMS manifest row into its readout row.
func (f *Fleet) readoutRow(r manifest.Row, i int) manifest.Row {
	r.Protocol, r.Address, r.Firmware = "iec62056-21", f.ReadoutAddr(i), "AMG-IEC21-1.0"
	r.Model = strings.Replace(r.Model, "-E", "-R", 1) // a readout model of the make
	fields := make(map[string]string, len(ManifestFields))
	for _, k := range ManifestFields {
		fields[k] = ""
	}
	fields["iec_address"] = r.Serial
	fields["iec_password"] = f.ReadoutPassword(i)
	fields["iec_mode"] = f.ReadoutMode(i).String()
	r.Fields = fields
	return r
}

// readoutMeter is meter i as the iec62056 meter side sees it.
type readoutMeter struct {
	f      *Fleet
	i      int
	m      *meter.Meter
	serial string
	pw     string
}

var _ iec62056.ProfileMeter = (*readoutMeter)(nil)

// kWh renders Wh (or varh) as kWh with three decimals: exact.
func kWh(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%06d.%03d", sign, v/1000, v%1000)
}

func (r *readoutMeter) with(fn func(m *meter.Meter, now time.Time)) {
	lk := r.f.Lock(r.i)
	lk.Lock()
	defer lk.Unlock()
	now := r.f.now()
	r.m.Settle(now)
	fn(r.m, now)
}

// Readout implements iec62056.Meter.
func (r *readoutMeter) Readout() ([]iec62056.DataSet, error) {
	var out []iec62056.DataSet
	r.with(func(m *meter.Meter, now time.Time) { out = readoutSets(m, now, r.serial) })
	return out, nil
}

func readoutSets(m *meter.Meter, now time.Time, serial string) []iec62056.DataSet {
	regs := m.RegistersAt(now)
	md := m.MaxDemand(now)
	clock := m.Clock(now).In(m.Fleet().Location)
	one := func(addr, v, unit string) iec62056.DataSet {
		return iec62056.DataSet{Address: addr, Values: []iec62056.Value{{Value: v, Unit: unit}}}
	}
	out := []iec62056.DataSet{one("0.0.0", serial, ""), one("1.8.0", kWh(regs.Import), "kWh")}
	for k, v := range regs.ImportRate {
		out = append(out, one("1.8."+strconv.Itoa(k+1), kWh(v), "kWh"))
	}
	out = append(out, one("2.8.0", kWh(regs.Export), "kWh"))
	for k, v := range regs.ExportRate {
		out = append(out, one("2.8."+strconv.Itoa(k+1), kWh(v), "kWh"))
	}
	out = append(out, one("3.8.0", kWh(regs.ImportVarh), "kvarh"), one("4.8.0", kWh(regs.ExportVarh), "kvarh"))
	mdAt := "00-00-00 00:00"
	if !md.At.IsZero() {
		mdAt = md.At.In(m.Fleet().Location).Format("06-01-02 15:04")
	}
	out = append(out, iec62056.DataSet{Address: "1.6.0", Values: []iec62056.Value{{Value: fmt.Sprintf("%02d.%03d", md.MaxW/1000, md.MaxW%1000), Unit: "kW"}, {Value: mdAt}}},
		one("0.9.1", clock.Format("15:04:05"), ""), one("0.9.2", clock.Format("06-01-02"), ""), one("F.F", "00000000", ""))
	return out
}

// Operand implements iec62056.Meter.
func (r *readoutMeter) Operand() string { return r.serial }

// Authorize implements iec62056.Meter: P1 only.
func (r *readoutMeter) Authorize(level byte, pw string) bool { return level == '1' && pw == r.pw }

// Read implements iec62056.Meter: any address of the readout.
func (r *readoutMeter) Read(_ byte, addr string) (iec62056.DataSet, error) {
	sets, _ := r.Readout()
	for _, d := range sets {
		if d.Address == addr {
			return d, nil
		}
	}
	return iec62056.DataSet{}, iec62056.MeterError("ERR05") // no such address
}

// Write implements iec62056.Meter: the clock's time or date, after P1.
func (r *readoutMeter) Write(level byte, addr string, vs []iec62056.Value) error {
	if level != '1' {
		return iec62056.MeterError("ERR03") // password required
	}
	if len(vs) != 1 {
		return iec62056.MeterError("ERR04")
	}
	var err error
	r.with(func(m *meter.Meter, now time.Time) {
		loc := m.Fleet().Location
		cur := m.Clock(now).In(loc)
		var t time.Time
		switch addr {
		case "0.9.1":
			var hms time.Time
			if hms, err = time.Parse("15:04:05", vs[0].Value); err != nil {
				return
			}
			t = time.Date(cur.Year(), cur.Month(), cur.Day(), hms.Hour(), hms.Minute(), hms.Second(), 0, loc)
		case "0.9.2":
			var d time.Time
			if d, err = time.Parse("06-01-02", vs[0].Value); err != nil {
				return
			}
			t = time.Date(d.Year(), d.Month(), d.Day(), cur.Hour(), cur.Minute(), cur.Second(), 0, loc)
		default:
			err = iec62056.MeterError("ERR06") // read-only
			return
		}
		m.SetClock(now, t)
	})
	if err != nil {
		if _, ok := err.(iec62056.MeterError); ok {
			return err
		}
		return iec62056.MeterError("ERR04") // malformed value
	}
	return nil
}

// Profile implements iec62056.ProfileMeter: the load profile P.01 at the
// model's profile interval, channels 1.29 and 2.29 (A+ and A- energy of
// each period, kWh with three decimals: exact Wh), stamped by the meter's
// clock; a new header starts at a gap or a change of the status byte (the
// model's AMR profile status: power down, clock adjusted, DST...).
func (r *readoutMeter) Profile(_ byte, addr string, args []iec62056.Value) ([]iec62056.DataSet, error) {
	if addr != "P.01" {
		return nil, iec62056.MeterError("ERR05")
	}
	var rng string
	if len(args) > 0 {
		rng = args[0].Value
	}
	fromS, toS, _ := strings.Cut(rng, ";")
	var sets []iec62056.DataSet
	var perr error
	r.with(func(m *meter.Meter, now time.Time) {
		loc := m.Fleet().Location
		from, to := now.AddDate(0, 0, -m.Fleet().HistoryDays), m.Clock(now)
		if fromS != "" {
			if from, perr = iec62056.ParseProfileTime(fromS, loc); perr != nil {
				return
			}
		}
		if toS != "" {
			if to, perr = iec62056.ParseProfileTime(toS, loc); perr != nil {
				return
			}
		}
		period := m.Fleet().ProfileInterval
		var blocks []iec62056.ProfileBlock
		var last time.Time
		var status meter.Status
		for _, e := range m.ProfileRange(now, from, to) {
			if len(blocks) == 0 || e.Status != status || !e.Stamp.Equal(last.Add(period)) {
				blocks = append(blocks, iec62056.ProfileBlock{First: e.Stamp, Status: fmt.Sprintf("%02X", uint8(e.Status)), Period: period,
					Codes: []string{"1.29", "2.29"}, Units: []string{"kWh", "kWh"}})
			}
			b := &blocks[len(blocks)-1]
			b.Rows = append(b.Rows, []string{kWhShort(e.Import), kWhShort(e.Export)})
			last, status = e.Stamp, e.Status
		}
		m.Trim()
		sets = iec62056.ProfileSets(blocks, loc)
	})
	if perr != nil {
		return nil, iec62056.MeterError("ERR04")
	}
	return sets, nil
}

// kWhShort renders Wh as kWh with three decimals and no padding, as
// profile rows are written.
func kWhShort(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%03d", sign, v/1000, v%1000)
}

// NewReadoutMeter returns meter i's IEC 62056-21 side: its identification
// and the iec62056.Meter the session serves.
func (f *Fleet) NewReadoutMeter(i int) (iec62056.Identification, iec62056.Meter, error) {
	m, err := f.Meter(i)
	if err != nil {
		return iec62056.Identification{}, nil, err
	}
	return readoutIdent(f.ReadoutMode(i), i), &readoutMeter{f: f, i: i, m: m, serial: serialOf(m, f.ModelOf(i)), pw: f.ReadoutPassword(i)}, nil
}

// ListenReadout opens the listener of the readout meters: every loopback
// address at ReadoutPort (see ListenLoopback).
func (f *Fleet) ListenReadout(ctx context.Context) (net.Listener, error) {
	return ListenLoopback(ctx, f.readoutPort)
}

// ServeReadout serves the readout meters on ln until ctx ends, as Serve
// serves the DLMS ones; a connection to a meter that is not a readout
// meter is refused.
func (f *Fleet) ServeReadout(ctx context.Context, ln net.Listener) error {
	return linkio.Serve(ctx, ln, "sim", func(ctx context.Context, c net.Conn) error {
		f.handleReadout(ctx, c)
		return nil
	}, nil)
}

// readoutIdle is how long a readout meter keeps a silent connection.
const readoutIdle = 2 * time.Minute

// readoutReaction is the readout meters' reaction time, the standard's
// least for a manufacturer flag in capitals (IEC 62056-21 §6.3.14). Real
// readers count on it: smartmeter-obis takes the identification and the
// data of a mode A or B meter arriving in one piece for an identification
// alone, and then waits for data that never comes.
const readoutReaction = 200 * time.Millisecond

func (f *Fleet) handleReadout(ctx context.Context, c net.Conn) {
	local, _ := netip.ParseAddrPort(c.LocalAddr().String())
	i, ok := f.Index(local.Addr())
	if !ok || !f.IsReadout(i) || f.isRebooting(i) {
		refuse(c)
		return
	}
	release, ok := f.acquire(ctx, i)
	if !ok {
		refuse(c)
		return
	}
	defer release()
	defer c.Close()
	ident, rm, err := f.NewReadoutMeter(i)
	if err != nil {
		refuse(c)
		return
	}
	var reachable bool
	rm.(*readoutMeter).with(func(m *meter.Meter, now time.Time) { reachable = m.Reachable(now) })
	if !reachable {
		refuse(c)
		return
	}
	idle := f.idle
	if idle == 0 {
		idle = readoutIdle
	}
	if f.ReadoutMode(i) == iec62056.ModeD {
		// The button pressed by the connection: identification and
		// data, then the line falls silent.
		err = iec62056.SendModeD(ctx, c, ident, rm, iec62056.WithReactionTime(max(f.reaction, 0)))
	} else {
		opts := []iec62056.Option{iec62056.WithDeviceAddress(rm.(*readoutMeter).serial), iec62056.WithReactionTime(max(f.reaction, 0))}
		if idle > 0 {
			opts = append(opts, iec62056.WithIdleTimeout(idle))
		}
		err = iec62056.ServeReadout(ctx, c, ident, rm, opts...)
	}
	if err != nil && ctx.Err() == nil {
		f.log.Debug("readout connection ended", "meter", i, "remote", c.RemoteAddr().String(), "err", err)
	}
}
