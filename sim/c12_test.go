package sim_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1218"
	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/osgp"
	"github.com/amigo-ami/amigo/psem"
	"github.com/amigo-ami/amigo/sim"
)

// c12Fleet is a served fleet with C12 and OSGP meters, and the clock the
// test may move.
type c12Fleet struct {
	*sim.Fleet
	clock *settableClock
}

// settableClock is a frozen simulated clock a test moves.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// startC12Fleet serves n meters, the given fractions speaking C12.18,
// C12.22 and OSGP, on free ports with the clock at start. The model has
// outages, tamper and drift but every meter is reachable.
func startC12Fleet(tb testing.TB, n int, c1218, c1222, osgp float64) *c12Fleet {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var lns []net.Listener
	port := func() uint16 {
		ln, err := sim.ListenLoopback(ctx, 0)
		if err != nil {
			cancel()
			tb.Fatal(err)
		}
		lns = append(lns, ln)
		return uint16(ln.Addr().(*net.TCPAddr).Port)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.DefaultFaults()
	model.Faults.Offline, model.Faults.Intermittent, model.Faults.Garbage = 0, 0, 0
	model.Faults.OutagesPerYear, model.Faults.Tampering, model.Faults.TamperPerYear = 20, 1, 20
	clock := &settableClock{t: start}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 7, Now: clock.Now, Model: model, Port: port(),
		C1218: c1218, C1222: c1222, OSGP: osgp, OSGPLegacy: 0.5, C1218Port: port(), C1222Port: port(), OSGPPort: port()})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	for k, serve := range []func(context.Context, net.Listener) error{f.Serve, f.ServeC1218, f.ServeC1222, f.ServeOSGP} {
		wg.Add(1)
		go func() { defer wg.Done(); serve(ctx, lns[k]) }()
	}
	tb.Cleanup(func() { cancel(); wg.Wait() })
	return &c12Fleet{Fleet: f, clock: clock}
}

// meterOf finds a meter speaking proto that has power at the fleet's
// time, and its manifest row.
func meterOf(tb testing.TB, f *c12Fleet, proto string) (int, manifest.Row) {
	tb.Helper()
	for i := range f.Len() {
		if f.Protocol(i) != proto {
			continue
		}
		m, _ := f.Meter(i)
		f.Lock(i).Lock()
		ok := m.Reachable(f.Now())
		f.Lock(i).Unlock()
		if ok {
			r, err := f.Row(i)
			if err != nil {
				tb.Fatal(err)
			}
			return i, r
		}
	}
	tb.Fatalf("no reachable %s meter", proto)
	return 0, manifest.Row{}
}

// openC1218 opens a PSEM session with C12.18 meter r, presenting password
// (nil: none). The connection is closed when the test ends, or at once
// when the session cannot be opened.
func openC1218(tb testing.TB, r manifest.Row, password []byte) (*psem.Client, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := c1218.Dial(ctx, r.Address.String())
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(r.Fields["c12_user_id"])
	c, _, err := c1218.Open(ctx, l, c1218.Login{UserID: uint16(uid), User: r.Fields["c12_user"], Password: password})
	if err != nil {
		l.Close()
		return nil, err
	}
	tb.Cleanup(func() { l.Close() })
	return c, nil
}

// closeC1218 ends a session and its connection, so the meter takes the
// next one.
func closeC1218(c *psem.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Terminate(ctx)
	if l, ok := c.Exchanger().(*c1218.Link); ok {
		l.Close()
	}
}

func passwordOf(tb testing.TB, r manifest.Row) []byte {
	pw, err := hex.DecodeString(r.Fields["c12_password"])
	if err != nil || len(pw) != 20 {
		tb.Fatalf("c12_password %q", r.Fields["c12_password"])
	}
	return pw
}

// tableReader reads tables over some protocol, whole or from an offset.
type tableReader struct {
	read       func(ctx context.Context, id uint16) ([]byte, error)
	readOffset func(ctx context.Context, id uint16, offset uint32, count uint16) ([]byte, error)
}

func psemReader(c *psem.Client) tableReader { return tableReader{c.Read, c.ReadOffset} }

// c12Tables is what a head-end decodes from a meter's tables.
type c12Tables struct {
	gen    c1219.GenConfig
	mfg    c1219.MfgID
	regs   c1219.RegisterData
	clock  c1219.Clock
	lp     c1219.LPData
	lpStat c1219.LPSetStatus
	lpDims c1219.ActLP
	events []c1219.LogEntry
}

func readTables(tb testing.TB, read tableReader) c12Tables {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	get := func(id c1219.TableID) []byte {
		tb.Helper()
		b, err := read.read(ctx, uint16(id))
		if err != nil {
			tb.Fatalf("reading %v: %v", id, err)
		}
		return b
	}
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	var t c12Tables
	var err error
	t.gen, err = c1219.DecodeST0(get(c1219.ST0))
	must(err)
	f := t.gen.Format
	t.mfg, err = c1219.DecodeST1(get(c1219.ST1), f)
	must(err)
	ar, err := c1219.DecodeST21(get(c1219.ST21), f)
	must(err)
	t.regs, err = c1219.DecodeST23(get(c1219.ST23), f, ar)
	must(err)
	t.clock, err = c1219.DecodeST52(get(c1219.ST52), f)
	must(err)
	t.lpDims, err = c1219.DecodeST61(get(c1219.ST61), f, t.gen)
	must(err)
	lpc, err := c1219.DecodeST62(get(c1219.ST62), f, t.lpDims)
	must(err)
	st, err := c1219.DecodeST63(get(c1219.ST63), f, t.lpDims)
	must(err)
	t.lpStat = st[0]
	// ST64 is larger than a read can carry: a head-end reads it by
	// offset, as here, in runs of whole blocks.
	dims, _ := t.lpDims.Set(1)
	bs := c1219.LPBlockSize(f, t.lpDims, lpc, 1)
	var lp []byte
	for k := 0; k < int(dims.NbrBlocks); k += 2 {
		n := min(2, int(dims.NbrBlocks)-k)
		b, err := read.readOffset(ctx, uint16(c1219.ST64), uint32(k*bs), uint16(n*bs))
		must(err)
		lp = append(lp, b...)
	}
	t.lp, err = c1219.DecodeST64(lp, f, t.lpDims, lpc)
	must(err)
	al, err := c1219.DecodeST71(get(c1219.ST71), f)
	must(err)
	ld, err := c1219.DecodeST76(get(c1219.ST76), f, al)
	must(err)
	t.events = ld.Valid()
	return t
}

// checkTables asserts that decoded tables equal meter i's model at the
// fleet's time: identity, registers, demand, clock, the last day of load
// profile and the event log.
func checkTables(t *testing.T, f *c12Fleet, i int, r manifest.Row, got c12Tables) {
	t.Helper()
	m, _ := f.Meter(i)
	now := f.Now()
	f.Lock(i).Lock()
	regs := m.RegistersAt(now)
	md := m.MaxDemand(now)
	clock := m.Clock(now)
	iv := m.Fleet().ProfileInterval
	caps := m.AppendCaptures(nil, now, clock.Add(-24*time.Hour), clock, iv)
	var evs []meter.LogEntry
	for _, l := range []meter.Log{meter.LogStandard, meter.LogFraud} {
		evs = append(evs, m.Events(now, l)...)
	}
	f.Lock(i).Unlock()

	if got.mfg.Manufacturer != "AMG" || got.mfg.SerialNo != r.Serial || got.mfg.Model != r.Model || got.mfg.FWVersion != 1 || got.mfg.FWRevision != 3 {
		t.Errorf("ST1 %+v, want AMG %s %s 1.3", got.mfg, r.Model, r.Serial)
	}
	want := []float64{float64(regs.Import), float64(regs.Export), float64(regs.ImportVarh), float64(regs.ExportVarh)}
	for k, w := range want {
		if got.regs.Total.Summations[k] != w {
			t.Errorf("ST23 summation %d = %v, want %v", k, got.regs.Total.Summations[k], w)
		}
	}
	if regs.Import == 0 {
		t.Error("the model's import register is 0: nothing compared")
	}
	for k := range 4 {
		if got.regs.Tiers[k].Summations[0] != float64(regs.ImportRate[k]) || got.regs.Tiers[k].Summations[1] != float64(regs.ExportRate[k]) {
			t.Errorf("ST23 tier %d %v, want %d %d", k+1, got.regs.Tiers[k].Summations, regs.ImportRate[k], regs.ExportRate[k])
		}
	}
	d := got.regs.Total.Demands[0]
	if d.Values[0] != float64(md.MaxW) || !d.EventTimes[0].Equal(md.At.Truncate(time.Minute)) {
		t.Errorf("ST23 demand %v at %v, want %d at %v", d.Values, d.EventTimes, md.MaxW, md.At)
	}
	if !got.clock.Time.Equal(clock.Truncate(time.Second)) || got.clock.Qual&c1219.QualGMT == 0 {
		t.Errorf("ST52 %v (qual %#x), want %v UTC", got.clock.Time, got.clock.Qual, clock.UTC())
	}

	// The load profile: every capture of the last day is in its block's
	// slot, with the model's energy per interval.
	dims, _ := got.lpDims.Set(1)
	if time.Duration(dims.MaxIntTime)*time.Minute != iv || int(dims.NbrChns) != 4 {
		t.Fatalf("ST61 set 1 %+v", dims)
	}
	install := m.Fleet().Install
	n := int64(dims.NbrBlkInts)
	if len(caps) < 90 {
		t.Fatalf("%d captures in the last day", len(caps))
	}
	for _, c := range caps {
		j := int64(c.Stamp.Sub(install)/iv) - 1
		seq := j / n
		blk := got.lp.Blocks[seq%int64(dims.NbrBlocks)]
		in := blk.Intervals[j%n]
		vals := []int64{c.Delta.Import, c.Delta.Export, c.Delta.ImportVarh, c.Delta.ExportVarh}
		for k, v := range vals {
			if in.Values[k] != float64(v) {
				t.Fatalf("interval ending %v channel %d = %v, want %d", c.Stamp, k, in.Values[k], v)
			}
		}
		if !blk.Simple.Has(int(j % n)) {
			t.Errorf("interval ending %v not valid in the simple status", c.Stamp)
		}
		if c.Status&meter.StatusPowerDown != 0 && (in.Status.Common()&c1219.IntPowerFail == 0 || in.Status.Channel(0) != c1219.ChanLong) {
			t.Errorf("interval ending %v after a power cut: status %x", c.Stamp, in.Status)
		}
	}
	last := caps[len(caps)-1]
	lj := int64(last.Stamp.Sub(install)/iv) - 1
	if got.lpStat.LastBlockSeq != uint32(lj/n) || int64(got.lpStat.NbrValidInt) != lj%n+1 || int(got.lpStat.LastBlock) != int(lj/n)%int(dims.NbrBlocks) {
		t.Errorf("ST63 %+v, want the last interval %d of block %d", got.lpStat, lj%n, lj/n)
	}
	blk := got.lp.Blocks[got.lpStat.LastBlock]
	if !blk.End.Equal(last.Stamp) || blk.EndReadings[0].Value != float64(last.Registers.Import) {
		t.Errorf("last block ends %v with %v, want %v with %d", blk.End, blk.EndReadings, last.Stamp, last.Registers.Import)
	}

	// The event log: the model's power and tamper events, in order.
	var wantEv []c1219.Event
	for _, e := range evs {
		switch e.Code {
		case meter.EventPowerDown:
			if e.Duration == 0 {
				wantEv = append(wantEv, c1219.EventPowerDown)
			}
		case meter.EventPowerUp:
			wantEv = append(wantEv, c1219.EventPowerUp)
		case meter.EventTerminalCoverOpened, meter.EventMeterCoverOpened, meter.EventMagneticField:
			wantEv = append(wantEv, c1219.EventTamper)
		}
	}
	counts := func(es []c1219.Event) map[c1219.Event]int {
		out := map[c1219.Event]int{}
		for _, e := range es {
			out[e]++
		}
		return out
	}
	var gotEv []c1219.Event
	for k, e := range got.events {
		gotEv = append(gotEv, e.Code)
		if k > 0 && (e.Time.Before(got.events[k-1].Time) || e.Seq != got.events[k-1].Seq+1) {
			t.Errorf("ST76 entries %d and %d out of order: %+v %+v", k-1, k, got.events[k-1], e)
		}
	}
	if len(wantEv) == 0 {
		t.Error("the model logged no event: nothing compared")
	}
	if w, g := counts(wantEv), counts(gotEv); len(w) != len(g) || w[c1219.EventPowerDown] != g[c1219.EventPowerDown] ||
		w[c1219.EventPowerUp] != g[c1219.EventPowerUp] || w[c1219.EventTamper] != g[c1219.EventTamper] {
		t.Errorf("ST76 events %v, want %v", g, w)
	}
}

// TestC1218MeterServesTheModel reads a C12.18 meter's tables over the
// C12.18 link: every value equals the meter model's.
func TestC1218MeterServesTheModel(t *testing.T) {
	f := startC12Fleet(t, 60, 0.5, 0, 0)
	i, r := meterWithEvents(t, f, sim.ProtocolC1218)
	c, err := openC1218(t, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkTables(t, f, i, r, readTables(t, psemReader(c)))
}

// meterWithEvents finds a reachable meter of proto whose log holds power
// and tamper events.
func meterWithEvents(tb testing.TB, f *c12Fleet, proto string) (int, manifest.Row) {
	tb.Helper()
	for i := range f.Len() {
		if f.Protocol(i) != proto {
			continue
		}
		m, _ := f.Meter(i)
		f.Lock(i).Lock()
		ok := m.Reachable(f.Now()) && len(m.Events(f.Now(), meter.LogFraud)) > 0 && len(m.Events(f.Now(), meter.LogPowerFailure)) > 0
		f.Lock(i).Unlock()
		if ok {
			r, _ := f.Row(i)
			return i, r
		}
	}
	tb.Fatalf("no %s meter with power and tamper events", proto)
	return 0, manifest.Row{}
}

// TestC1218ProceduresDriveTheModel: with the password, set date/time
// sets the model's clock, the service switch opens and closes its relay,
// and a demand reset resets its maximum demand; each is in the event log.
// Without the password the meter refuses them.
func TestC1218ProceduresDriveTheModel(t *testing.T) {
	f := startC12Fleet(t, 40, 1, 0, 0)
	i, r := meterOf(t, f, sim.ProtocolC1218)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, _ := f.Meter(i)
	model := func(fn func()) { f.Lock(i).Lock(); defer f.Lock(i).Unlock(); fn() }

	pub, err := openC1218(t, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Procedure(ctx, uint16(c1219.MPServiceSwitch), []byte{byte(c1219.SwitchDisconnect)}); !errors.Is(err, psem.ISC) {
		t.Fatalf("service switch without the password: %v, want isc", err)
	}
	model(func() {
		if st, _ := m.Relay(); st != meter.Connected {
			t.Fatalf("relay %v after a refused disconnect", st)
		}
	})
	closeC1218(pub)

	wrong := passwordOf(t, r)
	wrong[0] ^= 1
	if _, err := openC1218(t, r, wrong); !errors.Is(err, psem.ISC) {
		t.Fatalf("logon with a wrong password: %v, want isc", err)
	}

	c, err := openC1218(t, r, passwordOf(t, r))
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.Procedure(ctx, uint16(c1219.MPServiceSwitch), []byte{byte(c1219.SwitchDisconnect)})
	if err != nil || len(data) != 1 || c1219.SwitchState(data[0]) != c1219.SwitchOpen {
		t.Fatalf("disconnect: %x %v", data, err)
	}
	model(func() {
		if st, _ := m.Relay(); st != meter.Disconnected {
			t.Fatalf("relay %v after a disconnect", st)
		}
	})
	if data, err = c.Procedure(ctx, uint16(c1219.MPServiceSwitch), []byte{byte(c1219.SwitchConnect)}); err != nil {
		t.Fatalf("reconnect: %x %v", data, err)
	}
	model(func() {
		st, _ := m.Relay()
		if st == meter.Disconnected || c1219.SwitchState(data[0]) == c1219.SwitchOpen {
			t.Fatalf("relay %v (answered %x) after a reconnect", st, data)
		}
	})

	set := time.Date(2026, 3, 10, 9, 30, 15, 0, time.UTC)
	p := c1219.SetDateTimeParams{Mask: c1219.SetDate | c1219.SetTime | c1219.SetTimeDateQual, Time: set, Qual: c1219.QualFor(set)}
	if _, err := c.Procedure(ctx, uint16(c1219.SPSetDateTime), p.Encode(c1219.DefaultFormat)); err != nil {
		t.Fatal(err)
	}
	model(func() {
		if got := m.Clock(f.Now()); !got.Equal(set) {
			t.Fatalf("clock %v after setting %v", got, set)
		}
	})

	model(func() {
		if md := m.MaxDemand(f.Now()); md.MaxW == 0 {
			t.Fatal("no demand to reset")
		}
	})
	if _, err := c.Procedure(ctx, uint16(c1219.SPRemoteReset), c1219.RemoteReset{Demand: true}.Encode()); err != nil {
		t.Fatal(err)
	}
	model(func() {
		if md := m.MaxDemand(f.Now()); md.MaxW != 0 || !md.ResetAt.Equal(set) {
			t.Fatalf("max demand %+v after a demand reset at %v", md, set)
		}
	})

	b, err := c.Read(ctx, uint16(c1219.ST76))
	if err != nil {
		t.Fatal(err)
	}
	al := c1219.ActLog{NbrStdEvents: 7, EventDataLen: 2, NbrEventEntries: 100}
	ld, err := c1219.DecodeST76(b, c1219.DefaultFormat, al)
	if err != nil {
		t.Fatal(err)
	}
	var tail []c1219.Event
	for _, e := range ld.Valid() {
		tail = append(tail, e.Code)
	}
	if len(tail) < 5 {
		t.Fatalf("event log %v", tail)
	}
	tail = tail[len(tail)-5:]
	wantTail := []c1219.Event{c1219.EventControlByCommand, c1219.EventControlByCommand, c1219.EventTimeChangedOld, c1219.EventTimeChangedNew, c1219.EventDemandReset}
	for k := range wantTail {
		if tail[k] != wantTail[k] {
			t.Fatalf("event log ends %v, want %v", tail, wantTail)
		}
	}
}

// TestC12MeterSilentInOutage: a meter without power refuses the
// connection, and answers again once power is back.
func TestC12MeterSilentInOutage(t *testing.T) {
	f := startC12Fleet(t, 40, 1, 0, 0)
	i, r := meterOf(t, f, sim.ProtocolC1218)
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	m.PowerCut(start.Add(-time.Hour), start.Add(time.Hour))
	f.Lock(i).Unlock()
	if c, err := openC1218(t, r, nil); err == nil {
		closeC1218(c)
		t.Fatal("a meter without power answered")
	}
	f.clock.Set(start.Add(2 * time.Hour))
	c, err := openC1218(t, r, nil)
	if err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	closeC1218(c)
}

// dialOSGP connects to OSGP meter r with its manifest row's key and
// address, or with key instead when set.
func dialOSGP(tb testing.TB, r manifest.Row, key []byte) *osgp.Client {
	tb.Helper()
	suite, err := osgp.ParseSuite(r.Fields["osgp_security"])
	if err != nil {
		tb.Fatal(err)
	}
	if key == nil {
		if key, err = hex.DecodeString(r.Fields["osgp_key"]); err != nil {
			tb.Fatal(err)
		}
	}
	domain, _ := hex.DecodeString(r.Fields["osgp_domain"])
	sub, _ := strconv.Atoi(r.Fields["osgp_subnet"])
	node, _ := strconv.Atoi(r.Fields["osgp_node"])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := osgp.Dial(ctx, r.Address.String(), osgp.Config{Meter: osgp.Node{Subnet: uint8(sub), Node: uint8(node)}, Domain: domain,
		Keys: osgp.Keys{Suite: suite, Key: key}, Encrypt: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// TestOSGPMeterServesTheModel reads OSGP meters on either security suite:
// their tables equal the model's, a wrong key gets no answer, and the
// service switch procedure (written to ST7, answered in ST8) opens the
// model's relay.
func TestOSGPMeterServesTheModel(t *testing.T) {
	f := startC12Fleet(t, 80, 0, 0, 1)
	for _, suite := range []string{"legacy", "aes"} {
		t.Run(suite, func(t *testing.T) {
			var i int
			var r manifest.Row
			for k := range f.Len() {
				if r, _ = f.Row(k); r.Fields["osgp_security"] == suite {
					m, _ := f.Meter(k)
					f.Lock(k).Lock()
					ok := m.Reachable(f.Now()) && len(m.Events(f.Now(), meter.LogFraud)) > 0 && len(m.Events(f.Now(), meter.LogPowerFailure)) > 0
					f.Lock(k).Unlock()
					if ok {
						i = k
						break
					}
				}
				r = manifest.Row{}
			}
			if r.MeterID == 0 {
				t.Fatalf("no %s OSGP meter with events", suite)
			}
			c := dialOSGP(t, r, nil)
			checkTables(t, f, i, r, readTables(t, tableReader{c.ReadTable, c.ReadPartial}))

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req := c1219.ProcInitiate{Proc: c1219.MPServiceSwitch, Seq: 7, Params: []byte{byte(c1219.SwitchDisconnect)}}
			if err := c.WriteTable(ctx, uint16(c1219.ST7), req.Encode(c1219.DefaultFormat)); err != nil {
				t.Fatal(err)
			}
			b, err := c.ReadTable(ctx, uint16(c1219.ST8))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c1219.DecodeST8(b, c1219.DefaultFormat)
			if err != nil || resp.Seq != 7 || resp.Err() != nil || len(resp.Data) != 1 || c1219.SwitchState(resp.Data[0]) != c1219.SwitchOpen {
				t.Fatalf("ST8 %+v %v", resp, err)
			}
			m, _ := f.Meter(i)
			f.Lock(i).Lock()
			st, _ := m.Relay()
			f.Lock(i).Unlock()
			if st != meter.Disconnected {
				t.Fatalf("relay %v after the disconnect", st)
			}
			c.Close()

			wrong, _ := hex.DecodeString(r.Fields["osgp_key"])
			wrong[0] ^= 0x80
			bad := dialOSGP(t, r, wrong)
			if _, err := bad.ReadTable(ctx, uint16(c1219.ST23)); err == nil {
				t.Fatal("the meter answered a request under a wrong key")
			}
		})
	}
}

// dialC1222 associates with C12.22 meter r in security mode 2 under its
// manifest key, or under key when set.
func dialC1222(tb testing.TB, r manifest.Row, key []byte) *psem.Client {
	tb.Helper()
	called, err := c1222.ParseApTitle(r.Fields["c1222_aptitle"])
	if err != nil {
		tb.Fatal(err)
	}
	id, _ := strconv.Atoi(r.Fields["c1222_key_id"])
	if key == nil {
		if key, err = hex.DecodeString(r.Fields["c1222_key"]); err != nil {
			tb.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(r.Fields["c1222_user_id"])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := c1222.Dial(ctx, r.Address.String(), c1222.Config{Called: called, Calling: c1222.MustApTitle("2.16.124.113620.1.22.0.1"),
		Mode: c1222.ModeCiphertext, KeyID: uint8(id), Key: key, UserID: uint16(uid), Timeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return psem.NewClient(c)
}

// TestC1222MeterServesTheModel reads a C12.22 meter's tables in security
// mode 2: they equal the model's; the service switch procedure opens the
// relay; a request under a wrong key is not answered.
func TestC1222MeterServesTheModel(t *testing.T) {
	f := startC12Fleet(t, 60, 0, 0.5, 0)
	i, r := meterWithEvents(t, f, sim.ProtocolC1222)
	c := dialC1222(t, r, nil)
	checkTables(t, f, i, r, readTables(t, psemReader(c)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data, err := c.Procedure(ctx, uint16(c1219.MPServiceSwitch), []byte{byte(c1219.SwitchDisconnect)})
	if err != nil || len(data) != 1 || c1219.SwitchState(data[0]) != c1219.SwitchOpen {
		t.Fatalf("disconnect: %x %v", data, err)
	}
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	st, _ := m.Relay()
	f.Lock(i).Unlock()
	if st != meter.Disconnected {
		t.Fatalf("relay %v after the disconnect", st)
	}
	c.Exchanger().(*c1222.Client).Close()

	wrong, _ := hex.DecodeString(r.Fields["c1222_key"])
	wrong[5] ^= 1
	bad := dialC1222(t, r, wrong)
	if b, err := bad.Read(ctx, uint16(c1219.ST23)); err == nil {
		t.Fatalf("the meter answered a request under a wrong key: %x", b)
	}
}

// TestC12EventLogKeepsSequenceNumbers: the event log read again on a new
// connection keeps its entries' sequence numbers, and what the meter did
// in between follows them, so a head-end's cursor on sequence numbers
// holds.
func TestC12EventLogKeepsSequenceNumbers(t *testing.T) {
	f := startC12Fleet(t, 60, 1, 0, 0)
	_, r := meterWithEvents(t, f, sim.ProtocolC1218)
	al := c1219.ActLog{NbrStdEvents: 7, EventDataLen: 2, NbrEventEntries: 100}
	readLog := func(c *psem.Client) []c1219.LogEntry {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b, err := c.Read(ctx, uint16(c1219.ST76))
		if err != nil {
			t.Fatal(err)
		}
		ld, err := c1219.DecodeST76(b, c1219.DefaultFormat, al)
		if err != nil {
			t.Fatal(err)
		}
		return ld.Valid()
	}
	c, err := openC1218(t, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := readLog(c)
	closeC1218(c)
	if len(before) == 0 {
		t.Fatal("an empty event log")
	}

	c, err = openC1218(t, r, passwordOf(t, r))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Procedure(ctx, uint16(c1219.MPServiceSwitch), []byte{byte(c1219.SwitchDisconnect)}); err != nil {
		t.Fatal(err)
	}
	after := readLog(c)
	if len(after) != len(before)+1 {
		t.Fatalf("%d entries after a disconnect, %d before", len(after), len(before))
	}
	for k, e := range before {
		a := after[k]
		if a.Seq != e.Seq || a.Code != e.Code || !a.Time.Equal(e.Time) {
			t.Fatalf("entry %d was %+v, is %+v", k, e, a)
		}
	}
	if last := after[len(after)-1]; last.Code != c1219.EventControlByCommand || last.Seq != before[len(before)-1].Seq+1 {
		t.Fatalf("the disconnect logged as %+v", last)
	}
}
