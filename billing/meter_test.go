package billing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/store"
	_ "github.com/amigo-ami/amigo/store/engines"
	"github.com/amigo-ami/amigo/tariff"
)

func residential(t *testing.T) tariff.Tariff {
	t.Helper()
	b, err := os.ReadFile("../tariff/testdata/residential.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tf, err := tariff.ParseTariff(b)
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

func TestMeterCalendarOfATariff(t *testing.T) {
	tf := residential(t)
	holidays := []cim.Date{{Year: 2026, Month: 12, Day: 25}}
	tc, err := tf.TOUCalendar(holidays)
	if err != nil {
		t.Fatal(err)
	}
	mc, special, err := billing.NewMeterCalendar(tf, tc)
	if err != nil {
		t.Fatal(err)
	}
	// The holiday reaches the meter: Christmas (a Friday, winter) takes the
	// winter holiday profile, the day id of the winter week's Sunday.
	if special != 1 || len(mc.SpecialDays) != 1 || mc.SpecialDays[0].Date != "2026-12-25" {
		t.Fatalf("%d special days carried, want 1: %s", special, mc.JSON())
	}
	if want := uint8(tc.SpecialDays[0].DayProfile + 1); mc.SpecialDays[0].Day != want {
		t.Errorf("holiday day id %d, want %d", mc.SpecialDays[0].Day, want)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(mc.JSON()), &back); err != nil {
		t.Fatal(err)
	}
	if mc.Name != "res-tou v3" || len(mc.Seasons) != 2 || len(mc.Weeks) != 2 {
		t.Fatalf("calendar %s", mc.JSON())
	}
	// Every minute of a year: the JSON's rate is the tariff calendar's
	// register.
	rateAt := func(d cim.Date, minute int) int {
		ord := int(d.Month)*100 + d.Day
		season := mc.Seasons[len(mc.Seasons)-1]
		for _, s := range mc.Seasons {
			var mo, dd int
			fmt.Sscanf(s.Start, "%d-%d", &mo, &dd)
			if mo*100+dd <= ord {
				season = s
			}
		}
		var week []uint8
		for _, w := range mc.Weeks {
			if w.Name == season.Week {
				week = w.Days
			}
		}
		wd := (int(time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()) + 6) % 7
		id := week[wd]
		for _, sd := range mc.SpecialDays {
			if sd.Date == d.String() {
				id = sd.Day
			}
		}
		rate := 0
		for _, day := range mc.Days {
			if day.ID != id {
				continue
			}
			for _, a := range day.Actions {
				var h, m int
				fmt.Sscanf(a.Start, "%d:%d", &h, &m)
				if h*60+m <= minute {
					rate = a.Rate
				}
			}
		}
		return rate
	}
	for d := (cim.Date{Year: 2026, Month: 1, Day: 1}); d.Year == 2026; d = d.AddDays(1) {
		for m := 0; m < 1440; m += 15 {
			if got, want := rateAt(d, m), tc.RegisterAt(d, m); got != want {
				t.Fatalf("%s %02d:%02d: calendar JSON rate %d, tariff register %d", d, m/60, m%60, got, want)
			}
		}
	}
}

type issued struct {
	mu   sync.Mutex
	cmds map[string]cim.EndDeviceControl
}

func (i *issued) Issue(_ context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if c.MeterID == "BROKEN" {
		return cim.EndDeviceControl{}, false, fmt.Errorf("meter not registered")
	}
	if old, ok := i.cmds[c.CorrelationID]; ok {
		return old, false, nil
	}
	c.Status = cim.ControlQueued
	i.cmds[c.CorrelationID] = c
	return c, true, nil
}

func TestIssueTariffCalendar(t *testing.T) {
	tf := residential(t)
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	ny, _ := time.LoadLocation("America/New_York")
	meters := []billing.MeterOnTariff{{MeterID: "M1", UsagePointID: "UP1", Location: ams}, {MeterID: "M2", UsagePointID: "UP2", Location: ny},
		{MeterID: "BROKEN", UsagePointID: "UP3", Location: ams}}
	iss := &issued{cmds: map[string]cim.EndDeviceControl{}}
	ctx := context.Background()
	res, err := billing.IssueTariffCalendar(ctx, iss, tf, nil, meters, "planner")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || !res[0].New || !res[1].New || res[2].Err == nil || !strings.Contains(res[2].Err.Error(), "BROKEN") {
		t.Fatalf("results %+v", res)
	}
	for i, want := range []string{"2026-01-01T00:00:00+01:00", "2026-01-01T00:00:00-05:00"} {
		c := res[i].Command
		if c.Type != cim.ControlSetCalendar || c.Parameters["activate"] != want || c.IssuedBy != "planner" || !strings.Contains(c.Parameters["calendar"], `"res-tou v3"`) {
			t.Errorf("meter %s: command %+v", c.MeterID, c)
		}
	}
	again, _ := billing.IssueTariffCalendar(ctx, iss, tf, nil, meters, "planner")
	if again[0].New || again[1].New || len(iss.cmds) != 2 {
		t.Fatalf("issuing again made new commands: %+v", again)
	}
}

// meterCalendar is the meter model's calendar for a tariff calendar: what
// a meter programmed by the set-activity-calendar command keeps.
func meterCalendar(tc tariff.TOUCalendar) *meter.Calendar {
	c := &meter.Calendar{Name: "tariff"}
	for _, d := range tc.DayProfiles {
		var p meter.DayProfile
		for _, s := range d.Switches {
			p = append(p, meter.Switch{Minute: uint16(s.Minute), Rate: uint8(s.Register)})
		}
		c.Days = append(c.Days, p)
	}
	for _, s := range tc.Seasons {
		var w [7]uint8
		for i, d := range tc.Weeks[s.Week].Days {
			w[i] = uint8(d)
		}
		c.Seasons = append(c.Seasons, meter.Season{Month: s.Start.Month, Day: s.Start.Day, Week: w})
	}
	for _, sd := range tc.SpecialDays {
		c.Special = append(c.Special, meter.SpecialDay{Year: sd.Date.Year, Month: sd.Date.Month, Day: sd.Date.Day, Profile: uint8(sd.DayProfile)})
	}
	return c
}

// Meters on the tariff's calendar agree with the MDM's buckets; a meter
// left on the four-rate calendar of another tariff disagrees, with its numbers.
func TestTOURegisterCheck(t *testing.T) {
	ctx := context.Background()
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	tf := residential(t)
	// A holiday in the span: a Wednesday whose register 2 hours a meter
	// counts in register 1 once its special days table has it.
	tc, err := tf.TOUCalendar([]cim.Date{{Year: 2026, Month: 11, Day: 11}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "amigo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	from := time.Date(2026, 11, 9, 0, 0, 0, 0, ams) // a Monday, in the winter season
	to := from.AddDate(0, 0, 7)
	now := to.Add(time.Hour)
	right := meter.NewFleet(5, ams, now)
	right.Tariff = meter.NewTariff(meterCalendar(tc))
	wrong := meter.NewFleet(5, ams, now)
	wrong.Tariff = meter.NewTariff(meter.FourRateCalendar())
	noHoliday := meter.NewFleet(5, ams, now)
	nh := meterCalendar(tc)
	nh.Special = nil
	noHoliday.Tariff = meter.NewTariff(nh)
	var meters []billing.MeterOnTariff
	for i, fl := range []*meter.Fleet{right, right, wrong, noHoliday} {
		m, err := fl.NewMeter(uint64(100+i), meter.Electricity1P)
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("MTR%d", i)
		meters = append(meters, billing.MeterOnTariff{MeterID: id, UsagePointID: "UP" + id, Location: ams})
		var reads []store.RegisterRead
		for _, at := range []time.Time{from, to} {
			r := m.RegistersAt(at)
			for k := range 4 {
				reads = append(reads, store.RegisterRead{MeterID: id, ReadingType: fmt.Sprintf("A+T%d", k+1), TimeStamp: at.UTC(), Value: r.ImportRate[k]})
			}
		}
		if _, err := st.PutRegisterReads(ctx, reads); err != nil {
			t.Fatal(err)
		}
		var days []interval.Day
		for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
			next := d.AddDate(0, 0, 1)
			day := interval.Day{MeterID: id, Channel: "A+15m", Date: cim.DateOf(d, ams), Start: d.UTC(), Interval: 15 * time.Minute, Source: interval.SourceMeter}
			for s := d; s.Before(next); s = s.Add(15 * time.Minute) {
				day.Values = append(day.Values, m.RegistersAt(s.Add(15*time.Minute)).Import-m.RegistersAt(s).Import)
				day.Quality = append(day.Quality, 0)
			}
			if i == 1 && d.Equal(from) {
				day.Quality[40] = cim.QualityMissing // one interval the MDM lacks
				day.Values[40] = 0
			}
			days = append(days, day)
		}
		if _, err := st.PutDays(ctx, days); err != nil {
			t.Fatal(err)
		}
	}
	meters = append(meters, billing.MeterOnTariff{MeterID: "UNREAD", Location: ams})

	checks, err := billing.CheckTOURegisters(ctx, st, tc, meters, from, to.Add(time.Second), billing.TOUTolerance{Wh: 50, Permille: 5})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]billing.TOUCheck{}
	for _, c := range checks {
		byID[c.MeterID] = c
		t.Log(c)
	}
	if c := byID["MTR0"]; c.Disagrees || c.Problem != "" {
		t.Errorf("meter on the tariff's calendar: %s", c)
	} else {
		for _, r := range c.Registers {
			if r.DifferenceWh != 0 {
				t.Errorf("meter on the tariff's calendar: T%d off by %d Wh", r.Register, r.DifferenceWh)
			}
		}
	}
	if c := byID["MTR1"]; c.Disagrees || c.Missing != 1 {
		t.Errorf("meter with one missing interval, within tolerance: %s", c)
	}
	c := byID["MTR2"]
	if !c.Disagrees || c.Problem != "" || c.Registers[1].MDMWh == 0 || c.Registers[1].DifferenceWh >= 0 {
		t.Errorf("meter on the four-rate calendar: %s", c)
	}
	// A meter without the holiday counts its peak hours in register 2.
	if c := byID["MTR3"]; !c.Disagrees || c.Registers[1].DifferenceWh <= 0 || c.Registers[0].DifferenceWh >= 0 {
		t.Errorf("meter without the holiday: %s", c)
	}
	if c := byID["UNREAD"]; c.Problem == "" || !strings.Contains(c.String(), "not checked") {
		t.Errorf("meter without reads: %s", c)
	}
}
