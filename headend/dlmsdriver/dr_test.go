package dlmsdriver_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/tariff"
)

// One command of each demand-response kind over loopback to a simulated
// meter, and the meter's state at the times the command names.
func TestDemandResponseCommands(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 18, 15, 0, 0, 0, ams)}
	f := startFleet(t, 2, meter.Faults{}, clk)
	d := dlmsdriver.New(dlmsdriver.Config{})
	tg := target(t, f, 0, clk)
	m, _ := f.Meter(0)
	state := func(fn func()) { f.Lock(0).Lock(); defer f.Lock(0).Unlock(); fn() }
	ctx := context.Background()
	start := time.Date(2026, 11, 18, 17, 0, 0, 0, ams)
	exec := func(typ cim.EndDeviceControlType, p map[string]string) string {
		t.Helper()
		s := open(t, d, tg)
		defer s.Close(ctx)
		res, err := s.Execute(ctx, cim.EndDeviceControl{Type: typ, Parameters: p})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		t.Logf("%s: %s", typ, res)
		return res
	}
	rfc := start.Format(time.RFC3339)

	exec(cim.ControlLoadLimit, map[string]string{"threshold": "800", "start": rfc, "duration": "7200"})
	state(func() {
		if th, em := m.ThresholdAt(start.Add(-time.Second)); em {
			t.Errorf("emergency threshold %d W before the activation", th)
		}
		if th, em := m.ThresholdAt(start); th != 800 || !em {
			t.Errorf("threshold at activation %d W (emergency %v), want 800", th, em)
		}
		if _, em := m.ThresholdAt(start.Add(2 * time.Hour)); em {
			t.Error("emergency threshold still in force after the duration")
		}
	})

	exec(cim.ControlPriceSignal, map[string]string{"price": "750000", "currency": "EUR", "start": rfc, "duration": "7200"})
	state(func() {
		sig := m.Signals()
		if !strings.HasPrefix(sig.Message, "price=750000;currency=EUR;") || sig.Price.Price != 750_000 || !sig.Price.From.Equal(start) || !sig.Price.To.Equal(start.Add(2*time.Hour)) {
			t.Errorf("meter shows %q, price signal %+v", sig.Message, sig.Price)
		}
	})

	exec(cim.ControlLoadRelay, map[string]string{"state": "open", "start": rfc, "duration": "3600"})
	state(func() {
		for _, c := range []struct {
			at   time.Time
			want meter.ControlState
		}{{start.Add(-time.Second), meter.Connected}, {start, meter.Disconnected}, {start.Add(59 * time.Minute), meter.Disconnected}, {start.Add(time.Hour), meter.Connected}} {
			if got := m.LoadRelayAt(c.at); got != c.want {
				t.Errorf("load relay at %s: %v, want %v", c.at.Format("15:04:05"), got, c.want)
			}
		}
	})

	// At the event, the meter serves the threshold in force and answers
	// the signals with less load; then the relay, open now, closes when told.
	clk.Add(2*time.Hour + 30*time.Minute) // 17:30
	state(func() {
		in := m.Instant(clk.Now())
		with, without := m.Response().Power(clk.Now())
		if in.ImportW != with || with >= without {
			t.Errorf("import at 17:30 %d W, the household's %d W of %d W without the event", in.ImportW, with, without)
		}
	})
	res := exec(cim.ControlLoadRelay, map[string]string{"state": "closed", "start": clk.Now().Format(time.RFC3339), "duration": "0"})
	if !strings.Contains(res, "connected") {
		t.Errorf("close now: %s", res)
	}
	state(func() {
		if m.LoadRelayAt(clk.Now()) != meter.Connected {
			t.Error("load relay still open after closing")
		}
	})
	res = exec(cim.ControlLoadRelay, map[string]string{"state": "open", "start": clk.Now().Format(time.RFC3339), "duration": "0"})
	if !strings.Contains(res, "disconnected") || !strings.Contains(res, "until told") {
		t.Errorf("open now: %s", res)
	}

	// Bad parameters are the command's fault, not the meter's.
	s := open(t, d, tg)
	defer s.Close(ctx)
	for _, p := range []map[string]string{{"threshold": "0", "start": rfc, "duration": "60"}, {"threshold": "800", "start": "17:00", "duration": "60"},
		{"threshold": "800", "start": rfc, "duration": strconv.Itoa(8 * 86400)}} {
		if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlLoadLimit, Parameters: p}); !errors.Is(err, headend.ErrBadCommand) {
			t.Errorf("load-limit %v: %v, want ErrBadCommand", p, err)
		}
	}
	if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlLoadRelay, Parameters: map[string]string{"state": "ajar", "start": rfc, "duration": "0"}}); !errors.Is(err, headend.ErrBadCommand) {
		t.Errorf("load-relay ajar: %v", err)
	}
}

// The consumer message text the driver writes is the one the meter reads.
func TestPriceMessageMatchesTheMeter(t *testing.T) {
	start := time.Date(2026, 12, 7, 17, 0, 0, 0, ams)
	text := dlmsdriver.PriceMessage(612_345, "EUR", start, 90*time.Minute)
	p, err := sim.ParsePriceMessage(text)
	if err != nil || p.Price != 612_345 || p.Currency != "EUR" || !p.Start.Equal(start) || p.Duration != 90*time.Minute {
		t.Fatalf("%q reads as %+v, %v", text, p, err)
	}
}

// The calendar a tariff makes for its meters is one the driver takes, and
// a simulated meter accepts it with its activation.
func TestTariffCalendarReachesTheMeter(t *testing.T) {
	b, err := os.ReadFile("../../tariff/testdata/residential.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tf, err := tariff.ParseTariff(b)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tf.TOUCalendar(nil)
	if err != nil {
		t.Fatal(err)
	}
	mc, _, err := billing.NewMeterCalendar(tf, tc)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := dlmsdriver.ParseCalendar(mc.JSON())
	if err != nil {
		t.Fatalf("ParseCalendar refuses %s: %v", mc.JSON(), err)
	}
	if cal.Name != "res-tou v3" || len(cal.Seasons) != 2 || len(cal.Days) != len(tc.DayProfiles) {
		t.Fatalf("parsed %+v", cal)
	}
	clk := &clock{t: time.Date(2025, 12, 15, 10, 0, 0, 0, ams)}
	f := startFleet(t, 1, meter.Faults{}, clk)
	s := open(t, dlmsdriver.New(dlmsdriver.Config{}), target(t, f, 0, clk))
	defer s.Close(context.Background())
	activate := tf.EffectiveFrom.Start(ams)
	res, err := s.Execute(context.Background(), cim.EndDeviceControl{Type: cim.ControlSetCalendar,
		Parameters: map[string]string{"calendar": mc.JSON(), "activate": activate.Format(time.RFC3339)}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := f.Meter(0)
	f.Lock(0).Lock()
	passive, at, ok := m.Tariff().Passive(clk.Now())
	f.Lock(0).Unlock()
	if !ok || !at.Equal(activate) || len(passive.Seasons) != 2 {
		t.Fatalf("%s; meter's passive calendar %+v from %v (%v)", res, passive, at, ok)
	}
	// Summer working day 12:00 is the peak register 4, winter's 12:00 register 2.
	if r := passive.Rate(time.Date(2026, 6, 3, 12, 0, 0, 0, ams)); r != 4 {
		t.Errorf("summer noon rate %d, want 4", r)
	}
	if r := passive.Rate(time.Date(2026, 11, 4, 12, 0, 0, 0, ams)); r != 2 {
		t.Errorf("winter noon rate %d, want 2", r)
	}
}
