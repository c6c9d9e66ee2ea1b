package osgpdriver_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/osgpdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/osgp"
)

var (
	legacyKey = []byte{0xDF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	aesKey    = []byte("0123456789abcdef")
)

// memCounters is headend.Counters in memory.
type memCounters struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (c *memCounters) Reserve(_ context.Context, name string, n uint32) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]uint64{}
	}
	first := c.n[name]
	c.n[name] += uint64(n)
	return first, nil
}

func row(sec, key string) manifest.Row {
	return manifest.Row{Line: 2, Serial: "AMGO00001", Kind: "electricity-1p", Protocol: "osgp",
		Fields: map[string]string{"osgp_security": sec, "osgp_key": key}}
}

func TestRegister(t *testing.T) {
	d := osgpdriver.New(osgpdriver.Config{})
	reg, err := d.Register(row("legacy", hex.EncodeToString(legacyKey)))
	if err != nil || reg.Exposure != osgpdriver.ExposureLegacy {
		t.Fatalf("legacy: %+v %v", reg, err)
	}
	var c osgpdriver.Credentials
	if err := json.Unmarshal(reg.Credentials, &c); err != nil || c.Security != "legacy" || string(c.Key) != string(legacyKey) {
		t.Fatalf("credentials %+v %v", c, err)
	}
	reg, err = d.Register(row("aes", hex.EncodeToString(aesKey)))
	if err != nil || reg.Exposure != "" {
		t.Fatalf("aes: %+v %v", reg, err)
	}
	r := row("aes", hex.EncodeToString(aesKey))
	r.Fields["osgp_domain"], r.Fields["osgp_subnet"], r.Fields["osgp_node"] = "42", "3", "17"
	if reg, err = d.Register(r); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(reg.Credentials, &c)
	if hex.EncodeToString(c.Domain) != "42" || c.Subnet != 3 || c.Node != 17 {
		t.Fatalf("addressing %+v", c)
	}
	for _, bad := range []struct {
		r   manifest.Row
		col string
	}{
		{row("legacy", hex.EncodeToString(aesKey)), "osgp_key"},
		{row("aes", hex.EncodeToString(legacyKey)), "osgp_key"},
		{row("rc4", hex.EncodeToString(legacyKey)), "osgp_security"},
		{func() manifest.Row {
			r := row("aes", hex.EncodeToString(aesKey))
			r.Fields["osgp_node"] = "200"
			return r
		}(), "osgp_node"},
		{func() manifest.Row {
			r := row("aes", hex.EncodeToString(aesKey))
			r.Fields["osgp_node"] = "2"
			return r
		}(), "osgp_node"},
		{func() manifest.Row {
			r := row("aes", hex.EncodeToString(aesKey))
			r.Fields["osgp_domain"] = "0102"
			return r
		}(), "osgp_domain"},
		{func() manifest.Row { r := row("aes", hex.EncodeToString(aesKey)); r.Kind = "gas"; return r }(), "kind"},
	} {
		_, err := d.Register(bad.r)
		var re *manifest.RowError
		if !errors.As(err, &re) || re.Column != bad.col {
			t.Errorf("%v: %v, want a row error at %s", bad.r.Fields, err, bad.col)
		}
	}
}

func target(t *testing.T, addr string, sec string, key []byte, now func() time.Time) headend.Target {
	t.Helper()
	b, _ := json.Marshal(osgpdriver.Credentials{Security: sec, Key: key})
	return headend.Target{Meter: cim.Meter{MRID: "AMGO00001", Protocol: "osgp", Address: "tcp://" + addr},
		Credentials: b, Location: time.UTC, Counters: &memCounters{}, Now: now}
}

func TestCollectBothSuites(t *testing.T) {
	for _, tc := range []struct {
		sec string
		k   osgp.Keys
	}{{"legacy", osgp.Keys{Suite: osgp.Legacy, Key: legacyKey}}, {"aes", osgp.Keys{Suite: osgp.AES128, Key: aesKey}}} {
		t.Run(tc.sec, func(t *testing.T) {
			now := func() time.Time { return time.Date(2026, 12, 6, 10, 7, 0, 0, time.UTC) }
			m := newTestMeter(t, tc.k, now)
			d := osgpdriver.New(osgpdriver.Config{})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tg := target(t, m.addr, tc.sec, tc.k.Key, now)
			s, err := d.Open(ctx, tg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			plan := headend.Plan{Backfill: m.day0.Add(12 * time.Hour), Until: now().Truncate(15 * time.Minute)}
			col, err := s.Collect(ctx, plan)
			if err != nil {
				t.Fatal(err)
			}
			if !col.MeterTime.Equal(now()) || len(col.Problems) != 0 {
				t.Fatalf("meter time %v problems %v", col.MeterTime, col.Problems)
			}
			regs := map[string]cim.Reading{}
			for _, r := range col.Registers {
				regs[r.ReadingType] = r
			}
			want := map[string]int64{"A+": totals[0], "A-": totals[1], "R+": totals[2], "R-": totals[3], "MD+": maxDem}
			for j, tr := range tiers {
				for i, id := range []string{"A+", "A-", "R+", "R-"} {
					want[id+"T"+string(rune('1'+j))] = tr[i]
				}
			}
			if len(regs) != len(want) {
				t.Errorf("registers %v", col.Registers)
			}
			for id, v := range want {
				if regs[id].Value != v {
					t.Errorf("%s = %d, want %d", id, regs[id].Value, v)
				}
			}
			if !regs["A+"].TimeStamp.Equal(now()) || !regs["MD+"].TimeStamp.Equal(m.day0.Add(18*time.Hour)) {
				t.Errorf("stamps A+ %v MD+ %v", regs["A+"].TimeStamp, regs["MD+"].TimeStamp)
			}
			// Profile: block 0 from noon on (the backfill), minus the skipped
			// interval, then block 1's 40 intervals.
			if len(col.Blocks) != 4 {
				t.Fatalf("%d blocks", len(col.Blocks))
			}
			for ch, id := range []string{"A+15m", "A-15m", "R+15m", "R-15m"} {
				b := col.Blocks[ch]
				if b.ReadingType.ID != id || b.ReadingType.Interval != 15*time.Minute {
					t.Fatalf("channel %d: %+v", ch, b.ReadingType)
				}
				var exp []cim.IntervalReading
				for blk, n := range []int{96, m.valid1} {
					for i := range n {
						end := m.intervalEnd(blk, i)
						if !end.After(plan.Backfill) || (blk == 0 && i == m.skipped) {
							continue
						}
						r := cim.IntervalReading{End: end, Value: m.profile[blk][i][ch]}
						if blk == 0 && i == m.powerOut {
							r.Quality = cim.QualityPowerDown
							if ch == 0 {
								r.Quality |= cim.QualityPartial
							}
						}
						exp = append(exp, r)
					}
				}
				if len(b.Readings) != len(exp) {
					t.Fatalf("%s: %d readings, want %d", id, len(b.Readings), len(exp))
				}
				for i := range exp {
					if !b.Readings[i].End.Equal(exp[i].End) || b.Readings[i].Value != exp[i].Value || b.Readings[i].Quality != exp[i].Quality {
						t.Fatalf("%s reading %d = %+v, want %+v", id, i, b.Readings[i], exp[i])
					}
				}
			}
			if want := m.intervalEnd(1, m.valid1-1); !col.Cursors["profile"].Equal(want) || !col.Complete {
				t.Errorf("profile cursor %v complete %v, want %v", col.Cursors["profile"], col.Complete, want)
			}
			// Events after the backfill: the tamper only.
			if len(col.Events) != 1 || col.Events[0].Type != "3.12.29.212" || !col.Events[0].CreatedAt.Equal(m.day0.Add(30*time.Hour)) {
				t.Fatalf("events %+v", col.Events)
			}
			// Again from the cursors: nothing new. Entries at the cursor's
			// second are read again, as the events they were.
			col2, err := s.Collect(ctx, headend.Plan{Since: col.Cursors, Backfill: plan.Backfill, Until: plan.Until})
			if err != nil || len(col2.Blocks) != 0 {
				t.Fatalf("second collection: %d blocks %v", len(col2.Blocks), err)
			}
			for _, e := range col2.Events {
				if e.MRID != col.Events[0].MRID {
					t.Fatalf("second collection: a new event %+v", e)
				}
			}
			// From the start, every event.
			col3, err := s.Collect(ctx, headend.Plan{Backfill: m.day0, Until: plan.Until})
			if err != nil || len(col3.Events) != 3 || col3.Events[0].Type != cim.EventPowerOff || col3.Events[1].Type != cim.EventPowerRestored {
				t.Fatalf("all events: %+v %v", col3.Events, err)
			}
			if col3.Events[0].MRID == col3.Events[1].MRID {
				t.Fatal("two events share an mRID")
			}
		})
	}
}

func TestClockAndCommands(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 6, 10, 7, 0, 0, time.UTC) }
	k := osgp.Keys{Suite: osgp.AES128, Key: aesKey}
	m := newTestMeter(t, k, now)
	m.offset = 93 * time.Second
	d := osgpdriver.New(osgpdriver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := d.Open(ctx, target(t, m.addr, "aes", aesKey, now))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if c, err := s.Clock(ctx); err != nil || !c.Equal(now().Add(93*time.Second)) {
		t.Fatalf("clock %v %v", c, err)
	}
	if got, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlClockSync}); err != nil || !strings.Contains(got, "clock set") {
		t.Fatalf("clock sync: %q %v", got, err)
	}
	if c, err := s.Clock(ctx); err != nil || !c.Equal(now()) {
		t.Fatalf("clock after sync %v %v", c, err)
	}
	for _, tc := range []struct {
		ctl  cim.EndDeviceControlType
		want c1219.SwitchState
		text string
	}{{cim.ControlDisconnect, c1219.SwitchOpen, "service switch open"}, {cim.ControlArmReconnect, c1219.SwitchArmed, "service switch armed for reconnection"},
		{cim.ControlReconnect, c1219.SwitchClosed, "service switch closed"}} {
		got, err := s.Execute(ctx, cim.EndDeviceControl{Type: tc.ctl})
		if err != nil || got != tc.text || m.switchS != tc.want {
			t.Fatalf("%s: %q %v, switch %d", tc.ctl, got, err, m.switchS)
		}
	}
	if got, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlDemandReset}); err != nil || got != "demand reset" || m.resets != 1 {
		t.Fatalf("demand reset: %q %v (%d)", got, err, m.resets)
	}
	if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlSetCalendar}); !errors.Is(err, headend.ErrUnsupported) {
		t.Fatalf("calendar: %v", err)
	}
}

func TestWrongKeyIsAuth(t *testing.T) {
	now := time.Now
	m := newTestMeter(t, osgp.Keys{Suite: osgp.Legacy, Key: legacyKey}, now)
	d := osgpdriver.New(osgpdriver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wrong := append([]byte(nil), legacyKey...)
	wrong[11] ^= 0x80
	_, err := d.Open(ctx, target(t, m.addr, "legacy", wrong, now))
	if err == nil || d.Cause(err) != headend.OutcomeAuth {
		t.Fatalf("wrong key: %v (cause %q)", err, d.Cause(err))
	}
	_, err = d.Open(ctx, target(t, m.addr, "aes", aesKey, now))
	if err == nil || d.Cause(err) != headend.OutcomeAuth {
		t.Fatalf("wrong suite: %v (cause %q)", err, d.Cause(err))
	}
}

// A meter whose sequence number is ahead of the head-end's counter (the
// counter lost, or another client used the key) is caught up once.
func TestSequenceCatchUp(t *testing.T) {
	now := time.Now
	m := newTestMeter(t, osgp.Keys{Suite: osgp.AES128, Key: aesKey}, now)
	m.osgp.SetLastSeq(5000)
	d := osgpdriver.New(osgpdriver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tg := target(t, m.addr, "aes", aesKey, now)
	s, err := d.Open(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	c := tg.Counters.(*memCounters)
	if m.osgp.LastSeq() <= 5000 || c.n["osgp/seq"] <= uint64(m.osgp.LastSeq()) {
		t.Fatalf("meter at %d, counter reserved to %d", m.osgp.LastSeq(), c.n["osgp/seq"])
	}
	// A second session starts above the first's numbers without a refusal.
	last := m.osgp.LastSeq()
	if s, err = d.Open(ctx, tg); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	if m.osgp.LastSeq() <= last {
		t.Fatalf("second session at %d", m.osgp.LastSeq())
	}
}

// tamperProxy forwards between the head-end and the meter and flips a
// bit of every answer's last octet: a man in the middle guessing tags.
func tamperProxy(t *testing.T, meter string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", meter)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				for {
					f, err := osgp.ReadFrame(up, 0)
					if err != nil {
						return
					}
					f[len(f)-1] ^= 0x01
					if osgp.WriteFrame(c, f) != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// The head-end side of the oracle guard: forged answers count against
// the meter, past the threshold the driver stops opening sessions to it
// and raises an alarm, and the next collection once the lockout ends
// carries the alarm as an event.
func TestOracleGuardDriver(t *testing.T) {
	clock := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	m := newTestMeter(t, osgp.Keys{Suite: osgp.Legacy, Key: legacyKey}, now)
	g := &osgp.Guard{Threshold: 3, Window: time.Hour, Lockout: time.Hour, Now: now}
	d := osgpdriver.New(osgpdriver.Config{Guard: g})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evil := target(t, tamperProxy(t, m.addr), "legacy", legacyKey, now)
	for i := range 3 {
		_, err := d.Open(ctx, evil)
		if !errors.Is(err, osgp.ErrDigest) || d.Cause(err) != headend.OutcomeAuth {
			t.Fatalf("forged answer %d: %v", i, err)
		}
	}
	if d.Alarms() != 1 {
		t.Fatalf("%d alarms", d.Alarms())
	}
	good := target(t, m.addr, "legacy", legacyKey, now)
	good.Counters = evil.Counters
	if _, err := d.Open(ctx, good); !errors.Is(err, osgp.ErrLockedOut) || d.Cause(err) != headend.OutcomeAuth {
		t.Fatalf("locked out meter: %v", err)
	}
	mu.Lock()
	clock = clock.Add(61 * time.Minute)
	mu.Unlock()
	s, err := d.Open(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	col, err := s.Collect(ctx, headend.Plan{Backfill: now(), Until: now()})
	if err != nil {
		t.Fatal(err)
	}
	var alarms int
	for _, e := range col.Events {
		if e.Type == osgpdriver.EventDigestAlarm {
			alarms++
		}
	}
	if alarms != 1 {
		t.Fatalf("events %+v", col.Events)
	}
}

// A kind of meter's dimension tables are read once: the second session
// takes the template the first learned, and collects the same registers.
func TestTemplateLearnedOnce(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 6, 10, 7, 0, 0, time.UTC) }
	k := osgp.Keys{Suite: osgp.AES128, Key: aesKey}
	m := newTestMeter(t, k, now)
	d := osgpdriver.New(osgpdriver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tg := target(t, m.addr, "aes", aesKey, now)
	var regs [2]int
	for i := range regs {
		s, err := d.Open(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		col, err := s.Collect(ctx, headend.Plan{Backfill: now().Add(-time.Hour), Until: now()})
		s.Close(ctx)
		if err != nil || len(col.Problems) != 0 {
			t.Fatalf("session %d: %v %v", i, col.Problems, err)
		}
		regs[i] = len(col.Registers)
	}
	if d.Discoveries() != 1 || regs[0] != regs[1] || regs[0] == 0 {
		t.Fatalf("%d discoveries, registers %v", d.Discoveries(), regs)
	}
}
