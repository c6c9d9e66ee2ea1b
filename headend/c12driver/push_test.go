package c12driver_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/c12driver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/psem"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// pushEntry is one event log entry a test pushes.
type pushEntry struct {
	seq  uint16
	at   time.Time
	code c1219.Event
}

// pushSpec is a push a test builds itself, byte by byte from the
// standards, independently of the simulator's encoder.
type pushSpec struct {
	calling string
	called  string // "" omits it
	keyID   uint8
	key     []byte
	mode    c1222.SecurityMode
	resp    c1222.ResponseControl
	entries []pushEntry // oldest first
	lastSeq uint32      // 0: the newest entry's
}

func (p pushSpec) frame(t testing.TB) []byte {
	t.Helper()
	f := c1219.DefaultFormat
	gen := c1219.GenConfig{Format: f, DeviceClass: [4]byte{'T', 'E', 'S', 'T'}, NameplateType: c1219.NameplateElectric}
	act := c1219.ActLog{NbrStdEvents: 8, EventDataLen: 2, NbrEventEntries: uint16(len(p.entries))}
	ld := c1219.LogData{NbrValid: uint16(len(p.entries)), NbrUnread: uint16(len(p.entries)), LastElement: uint16(len(p.entries) - 1)}
	for _, e := range p.entries {
		ld.Entries = append(ld.Entries, c1219.LogEntry{Time: e.at, Seq: e.seq, Code: e.code, Arg: []byte{0, 0}})
	}
	ld.LastSeq = uint32(p.entries[len(p.entries)-1].seq)
	if p.lastSeq != 0 {
		ld.LastSeq = p.lastSeq
	}
	now := p.entries[len(p.entries)-1].at
	var services [][]byte
	for _, w := range []struct {
		t c1219.TableID
		b []byte
	}{{c1219.ST0, gen.Encode()}, {c1219.ST71, act.Encode(f)}, {c1219.ST52, c1219.Clock{Time: now, Qual: c1219.QualFor(now)}.Encode(f)},
		{c1219.ST76, ld.EncodeST76(f, act)}} {
		b, err := psem.WriteRequest(uint16(w.t), w.b).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		services = append(services, b)
	}
	a := &c1222.APDU{Calling: c1222.MustApTitle(p.calling), AEQualifier: c1222.QualifierNotification, HasAEQualifier: true,
		CallingInvocation: ld.LastSeq}
	if p.called != "" {
		a.Called = c1222.MustApTitle(p.called)
	}
	if p.mode != c1222.ModeClear {
		a.HasAuth, a.KeyID, a.IV = true, p.keyID, []byte{1, 2, 3, 4}
	}
	keys, err := c1222.NewKeys(map[uint8][]byte{p.keyID: p.key})
	if err != nil {
		t.Fatal(err)
	}
	if err := c1222.Seal(a, &c1222.EPSEM{Mode: p.mode, Response: p.resp, Services: services}, keys, c1222.Root); err != nil {
		t.Fatal(err)
	}
	b, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// specOf is a valid push from the meter of row.
func specOf(t testing.TB, row manifest.Row, entries ...pushEntry) pushSpec {
	t.Helper()
	key, err := hex.DecodeString(row.Fields["c1222_key"])
	if err != nil {
		t.Fatal(err)
	}
	id, err := strconv.Atoi(row.Fields["c1222_key_id"])
	if err != nil {
		t.Fatal(err)
	}
	return pushSpec{calling: row.Fields["c1222_aptitle"], keyID: uint8(id), key: key, mode: c1222.ModeCiphertext,
		resp: c1222.RespondNever, entries: entries}
}

// TestC1222PushDecodes: a push decodes into the events the collection
// makes of the same entries, its sequence number the counter; weaker
// security modes, another key, a tampered octet, another ApTitle and a
// push that wants an answer are refused, the security failures as such.
func TestC1222PushDecodes(t *testing.T) {
	clk := &clock{t: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	f := fleetOf(t, 4, 0, 1, clk)
	i := first(t, f, c12driver.ProtocolC1222)
	d := c12driver.NewC1222(c12driver.Config{})
	tg := targetOf(t, d, f, i, clk)
	row, err := f.Row(i)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := d.Register(row)
	if err != nil {
		t.Fatal(err)
	}
	if reg.PushID != f.C1222ApTitle(i) {
		t.Fatalf("push id %q, want the ApTitle %q", reg.PushID, f.C1222ApTitle(i))
	}
	down := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	spec := specOf(t, row, pushEntry{41, down, c1219.EventPowerDown}, pushEntry{42, down.Add(time.Hour), c1219.EventPowerUp})
	good := spec.frame(t)
	ctx := context.Background()

	sender, err := d.PushSender(good)
	if err != nil || sender != reg.PushID {
		t.Fatalf("sender %q, %v; want %q", sender, err, reg.PushID)
	}
	p, err := d.DecodePush(ctx, tg, good)
	if err != nil {
		t.Fatal(err)
	}
	if p.CounterName != c12driver.PushCounter || p.Counter != 42 {
		t.Errorf("counter %s=%d, want %s=42", p.CounterName, p.Counter, c12driver.PushCounter)
	}
	want := []struct {
		typ  cim.EndDeviceEventType
		at   time.Time
		mrid string
	}{
		{cim.EventPowerOff, down, tg.Meter.MRID + "/ST76/" + strconv.FormatInt(down.Unix(), 10) + "/1/41"},
		{cim.EventPowerRestored, down.Add(time.Hour), tg.Meter.MRID + "/ST76/" + strconv.FormatInt(down.Add(time.Hour).Unix(), 10) + "/2/42"},
	}
	if len(p.Events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(p.Events), len(want), p.Events)
	}
	for k, w := range want {
		e := p.Events[k]
		if e.Type != w.typ || !e.CreatedAt.Equal(w.at) || e.MRID != w.mrid || e.MeterID != tg.Meter.MRID {
			t.Errorf("event %d: %s %s %s %s, want %s %s %s", k, e.MeterID, e.Type, e.CreatedAt, e.MRID, w.typ, w.at, w.mrid)
		}
	}

	// Addressed to the head-end by name is as good as by address.
	named := spec
	named.called = c12driver.DefaultApTitle
	if _, err := d.DecodePush(ctx, tg, named.frame(t)); err != nil {
		t.Errorf("push addressed to the head-end: %v", err)
	}

	wrongKey := spec
	wrongKey.key = append([]byte(nil), spec.key...)
	wrongKey.key[0] ^= 1
	otherID := spec
	otherID.keyID++
	clearMode, authOnly := spec, spec
	clearMode.mode, authOnly.mode = c1222.ModeClear, c1222.ModeAuthenticated
	tampered := append([]byte(nil), good...)
	tampered[len(tampered)-7] ^= 0x10
	for name, b := range map[string][]byte{"wrong key": wrongKey.frame(t), "other key id": otherID.frame(t), "clear": clearMode.frame(t),
		"authenticated only": authOnly.frame(t), "tampered": tampered} {
		_, err := d.DecodePush(ctx, tg, b)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if c := d.Cause(err); c != headend.OutcomeAuth {
			t.Errorf("%s: cause %q (%v), want %q", name, c, err, headend.OutcomeAuth)
		}
		if !strings.Contains(err.Error(), tg.Meter.MRID) {
			t.Errorf("%s: %v does not name the meter", name, err)
		}
	}
	stranger := spec
	stranger.calling = "2.16.124.113620.1.22.9.9"
	always := spec
	always.resp = c1222.RespondAlways
	badSeq := spec
	badSeq.lastSeq = 99
	otherHost := spec
	otherHost.called = "2.16.124.113620.1.22.5"
	for name, b := range map[string][]byte{"another meter's ApTitle": stranger.frame(t), "answer wanted": always.frame(t),
		"header and entry disagree": badSeq.frame(t), "for another host": otherHost.frame(t), "truncated": good[:len(good)-1]} {
		if _, err := d.DecodePush(ctx, tg, b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// C12.18 meters do not push.
	if _, err := c12driver.NewC1218(c12driver.Config{}).DecodePush(ctx, tg, good); err == nil {
		t.Error("the C12.18 driver decoded a push")
	}
}

// TestC1222PushFraming: frames are read whole, one after another, and a
// stream that is not C12.22 is a framing error.
func TestC1222PushFraming(t *testing.T) {
	d := c12driver.NewC1222(c12driver.Config{})
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	frame := []byte{0x60, 0x03, 0xA8, 0x01, 0x00}
	long := append([]byte{0x60, 0x81, 0x80}, make([]byte, 0x80)...)
	go func() {
		b.Write(append(append(append([]byte(nil), frame...), long...), 0x30, 0x00))
	}()
	fr := d.PushFrames(a, 4096)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, want := range [][]byte{frame, long} {
		got, err := fr.ReadFrame(ctx)
		if err != nil || string(got) != string(want) {
			t.Fatalf("frame % X, %v; want % X", got, err, want)
		}
	}
	if _, err := fr.ReadFrame(ctx); !errors.Is(err, headend.ErrFraming) {
		t.Errorf("not an APDU: %v, want a framing error", err)
	}
	// Too large for the listener's bound.
	a2, b2 := net.Pipe()
	defer a2.Close()
	defer b2.Close()
	go b2.Write([]byte{0x60, 0x82, 0x10, 0x00})
	if _, err := d.PushFrames(a2, 4096).ReadFrame(ctx); !errors.Is(err, headend.ErrFraming) {
		t.Errorf("APDU of 4100 octets: %v, want a framing error", err)
	}
	// A silent peer is a deadline, not a framing error.
	a3, b3 := net.Pipe()
	defer a3.Close()
	defer b3.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer scancel()
	if _, err := d.PushFrames(a3, 4096).ReadFrame(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent peer: %v, want the deadline", err)
	}
}

// pushRig is a head-end with the C12.22 driver, a SQLite store, the bus,
// the MDM ingest and a push listener, over a fleet of C12.22 meters.
type pushRig struct {
	clk   *clock
	fleet *sim.Fleet
	rows  []manifest.Row
	st    store.Store
	bus   *bus.Bus
	drv   *c12driver.Driver
	addr  string
}

func newPushRig(t *testing.T, n int, faults meter.Faults) *pushRig {
	t.Helper()
	r := &pushRig{clk: &clock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}}
	r.fleet = fleetWith(t, n, 0, 1, faults, r.clk)
	for i := range n {
		row, err := r.fleet.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		r.rows = append(r.rows, row)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	r.st, _ = storetest.OpenSQLite(t)
	if r.bus, err = bus.Open(ctx, bus.Options{Dir: t.TempDir()}); err != nil {
		cancel()
		t.Fatal(err)
	}
	v, err := vault.New("test", make([]byte, 32))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	keys := vault.NewKeyring(v)
	r.drv = c12driver.NewC1222(c12driver.Config{})
	h, err := headend.New(headend.Options{Store: r.st, Bus: r.bus, Secrets: keys, Now: r.clk.Now, Drivers: []headend.Driver{r.drv}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if _, err := headend.Import(ctx, r.st, keys, h.Drivers(), r.rows); err != nil {
		cancel()
		t.Fatal(err)
	}
	in, err := mdm.New(mdm.Options{Store: r.st, Bus: r.bus, Batch: 64, Now: r.clk.Now})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	pl := h.NewPushListener(r.drv, headend.PushConfig{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pl.Serve(ctx, ln) }()
	go func() { defer wg.Done(); in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		r.bus.Close(context.Background())
	})
	return r
}

// events reads every event on the bus.
func (r *pushRig) events(t *testing.T) []cim.EndDeviceEvent {
	t.Helper()
	var out []cim.EndDeviceEvent
	err := r.bus.Stored(context.Background(), bus.Events, 0, func(_ uint64, m bus.Message, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cim.EndDeviceEvent(m.(bus.Event)))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// send writes a frame on a connection of its own; the listener answers
// no push, accepted or not.
func (r *pushRig) send(t *testing.T, b []byte) {
	t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if k, _ := c.Read(make([]byte, 1)); k > 0 {
		t.Error("the listener answered a push")
	}
}

// waitFor polls until ok holds or 20 s pass.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestC1222OutagePushed: a power cut takes a simulated C12.22 meter down;
// it pushes its power-down entry (and, when power returns, its power-up)
// to the head-end, which publishes and stores them under the meter's id,
// as the very events a collection of its event log makes later. A replay
// of a push, a push under a wrong key and one from an unknown ApTitle are
// refused and reported.
func TestC1222OutagePushed(t *testing.T) {
	const n = 12
	r := newPushRig(t, n, meter.Faults{OutagesPerYear: 300, OutageGroup: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var cut int
	var cutAt, upAt time.Time
	for i := range n {
		m, _ := r.fleet.Meter(i)
		at, ev := m.NextEvent(r.clk.Now())
		for ev.Kind != meter.EventLastGasp && ev.Kind != meter.EventWake {
			at, ev = m.NextEvent(at)
		}
		if ev.Kind == meter.EventLastGasp && (cutAt.IsZero() || at.Before(cutAt)) {
			cut, cutAt = i, at
			for u, e2 := m.NextEvent(at); ; u, e2 = m.NextEvent(u) {
				if e2.Kind == meter.EventPowerRestored || e2.Kind == meter.EventWake {
					upAt = u
					break
				}
			}
		}
	}
	if cutAt.IsZero() {
		t.Fatal("no power cut in the horizon")
	}
	stats := &sim.PushStats{}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	from := r.clk.Now()
	go func() {
		defer wg.Done()
		r.fleet.RunPushes(ctx, sim.PushConfig{C1222Destination: r.addr, From: from}, stats)
	}()
	// First the cut alone: the last gasp is pushed while the power is off.
	r.clk.Set(cutAt.Add(time.Second))
	id := headend.MeterID(r.rows[cut])
	pushed := func(typ cim.EndDeviceEventType) (cim.EndDeviceEvent, bool) {
		for _, e := range r.events(t) {
			if e.MeterID == id && e.Type == typ && strings.HasPrefix(e.MRID, id+"/ST76/") {
				return e, true
			}
		}
		return cim.EndDeviceEvent{}, false
	}
	waitFor(t, "the last gasp", func() bool { _, ok := pushed(cim.EventPowerOff); return ok })
	if _, ok := pushed(cim.EventPowerRestored); ok {
		t.Error("power restored pushed before the power came back")
	}
	r.clk.Set(upAt.Add(time.Second))
	waitFor(t, "power restored", func() bool { _, ok := pushed(cim.EventPowerRestored); return ok })
	off, _ := pushed(cim.EventPowerOff)
	on, _ := pushed(cim.EventPowerRestored)
	if off.CreatedAt.Sub(cutAt).Abs() > time.Minute || on.CreatedAt.Sub(upAt).Abs() > time.Minute {
		t.Errorf("power off at %s, on at %s; the cut was %s..%s", off.CreatedAt, on.CreatedAt, cutAt, upAt)
	}
	for _, e := range r.events(t) {
		if strings.HasPrefix(e.MRID, id+"/") == (e.MeterID != id) {
			t.Errorf("event %s filed under meter %s", e.MRID, e.MeterID)
		}
	}
	// Stored by the ingest under the meter.
	waitFor(t, "the stored events", func() bool {
		evs, err := r.st.Events(ctx, store.EventQuery{MeterID: id, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, e := range evs {
			if e.MRID == off.MRID || e.MRID == on.MRID {
				got++
			}
		}
		return got == 2
	})

	// The collection reads the same entries into the same events.
	tg := targetOf(t, r.drv, r.fleet, cut, r.clk)
	tg.Meter.MRID = id
	s, err := r.drv.Open(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	col, err := s.Collect(ctx, headend.Plan{Backfill: from.Add(-time.Hour), Until: r.clk.Now()})
	s.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for _, e := range col.Events {
		for _, p := range []cim.EndDeviceEvent{off, on} {
			if e.MRID == p.MRID {
				same++
				if e.Type != p.Type || !e.CreatedAt.Equal(p.CreatedAt) || e.Code != p.Code {
					t.Errorf("collected %+v, pushed %+v", e, p)
				}
			}
		}
	}
	if same != 2 {
		t.Errorf("the collection has %d of the 2 pushed events: %+v", same, col.Events)
	}

	// A replay of the last push, a push under a wrong key and one from an
	// ApTitle no meter has.
	spec := specOf(t, r.rows[cut], pushEntry{uint16(mustSeq(t, on)), on.CreatedAt, c1219.EventPowerUp})
	before := len(r.events(t))
	r.send(t, spec.frame(t))
	wrong := spec
	wrong.key = make([]byte, 16)
	wrong.entries = []pushEntry{{uint16(mustSeq(t, on)) + 5, on.CreatedAt, c1219.EventTamper}}
	r.send(t, wrong.frame(t))
	stranger := wrong
	stranger.calling = sim.C1222ApTitleBase + ".999"
	r.send(t, stranger.frame(t))
	var replay, auth int
	waitFor(t, "the security events", func() bool {
		replay, auth = 0, 0
		for _, e := range r.events(t)[before:] {
			switch {
			case e.Type == headend.EventPushReplayed && e.MeterID == id:
				replay++
			case e.Type == headend.EventAuthFailure && e.MeterID == id:
				auth++
			case strings.HasPrefix(e.MRID, id+"/ST76/"):
				t.Fatalf("a refused push became event %+v", e)
			}
		}
		return replay == 1 && auth == 1
	})
	waitFor(t, "the unknown sender's event", func() bool {
		evs, err := r.st.Events(ctx, store.EventQuery{MeterID: headend.UnregisteredSender, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Details["push_id"] == stranger.calling && e.Details["protocol"] == c12driver.ProtocolC1222 {
				return true
			}
		}
		return false
	})
	if f := stats.Failed.Load(); f != 0 {
		t.Errorf("%d pushes failed", f)
	}
}

func mustSeq(t *testing.T, e cim.EndDeviceEvent) int {
	t.Helper()
	n, err := strconv.Atoi(e.Details["seq"])
	if err != nil {
		t.Fatalf("event %s without a sequence number: %v", e.MRID, err)
	}
	return n
}
