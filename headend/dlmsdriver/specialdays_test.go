package dlmsdriver_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/tariff"
)

func TestParseCalendarSpecialDays(t *testing.T) {
	base := `{"name":"TOU","seasons":[{"name":"all","start":"01-01","week":"wk"}],"weeks":[{"name":"wk","days":[1,1,1,1,1,2,2]}],` +
		`"days":[{"id":1,"actions":[{"start":"07:00","rate":1}]},{"id":2,"actions":[{"start":"00:00","rate":2}]}]`
	c, err := dlmsdriver.ParseCalendar(base + `,"special_days":[{"date":"12-25","day":2},{"date":"2027-04-05","day":2},{"date":"2028-02-29","day":1}]}`)
	if err != nil || len(c.SpecialDays) != 3 || c.SpecialDays[1] != (dlmsdriver.SpecialDay{Date: "2027-04-05", Day: 2}) {
		t.Fatalf("%+v, %v", c, err)
	}
	for _, bad := range []string{`[{"date":"12-25","day":3}]`, `[{"date":"13-01","day":1}]`, `[{"date":"2027-02-29","day":1}]`,
		`[{"date":"12-25","day":1},{"date":"12-25","day":2}]`, `[{"date":"1225","day":1}]`, `[{"date":"27-12-25","day":1}]`, `[{"date":"12-25x","day":1}]`} {
		if _, err := dlmsdriver.ParseCalendar(base + `,"special_days":` + bad + `}`); err == nil {
			t.Errorf("special days %s accepted", bad)
		}
	}
}

// A tariff's holidays reach a simulated meter's special days table through
// set-activity-calendar: a second calendar replaces the first one's
// holidays (the table is read, stale entries deleted), and on the holiday
// the meter counts in the holiday profile's register. A meter without the
// table takes the calendar and the result says the holidays did not go.
func TestCalendarSpecialDaysReachTheMeter(t *testing.T) {
	b, err := os.ReadFile("../../tariff/testdata/residential.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tf, err := tariff.ParseTariff(b)
	if err != nil {
		t.Fatal(err)
	}
	calendar := func(holidays ...cim.Date) (string, tariff.TOUCalendar) {
		tc, err := tf.TOUCalendar(holidays)
		if err != nil {
			t.Fatal(err)
		}
		mc, n, err := billing.NewMeterCalendar(tf, tc)
		if err != nil || n != len(holidays) {
			t.Fatalf("%d special days, %v", n, err)
		}
		return mc.JSON(), tc
	}
	clk := &clock{t: time.Date(2026, 12, 20, 10, 0, 0, 0, ams)}
	f := startModels(t, 2, sim.ModelIDIS, func(i int) sim.Fault {
		if i == 1 {
			return sim.FaultNoSpecialDays
		}
		return 0
	}, clk)
	ctx := context.Background()
	activate := time.Date(2026, 12, 21, 0, 0, 0, 0, ams)
	send := func(i int, cal string) string {
		t.Helper()
		s := open(t, dlmsdriver.New(dlmsdriver.Config{}), target(t, f, i, clk))
		defer s.Close(ctx)
		res, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlSetCalendar,
			Parameters: map[string]string{"calendar": cal, "activate": activate.Format(time.RFC3339)}})
		if err != nil {
			t.Fatalf("meter %d: %v", i, err)
		}
		return res
	}
	passive := func(i int) *meter.Calendar {
		t.Helper()
		m, _ := f.Meter(i)
		f.Lock(i).Lock()
		defer f.Lock(i).Unlock()
		c, at, ok := m.Tariff().Passive(clk.Now())
		if !ok || !at.Equal(activate) {
			t.Fatalf("meter %d: no passive calendar from %s", i, activate)
		}
		return c
	}

	cal1, _ := calendar(cim.Date{Year: 2026, Month: 12, Day: 24})
	res := send(0, cal1)
	if !strings.Contains(res, "special days: 1 held, 1 inserted") {
		t.Errorf("first calendar: %s", res)
	}
	if sp := passive(0).Special; len(sp) != 1 || sp[0].Day != 24 {
		t.Fatalf("special days after the first calendar: %+v", sp)
	}

	// The second calendar: Christmas this year and New Year every year.
	cal2, tc := calendar(cim.Date{Year: 2026, Month: 12, Day: 25})
	var c dlmsdriver.Calendar
	if err := json.Unmarshal([]byte(cal2), &c); err != nil {
		t.Fatal(err)
	}
	holiday := uint8(tc.SpecialDays[0].DayProfile)
	c.SpecialDays = append(c.SpecialDays, dlmsdriver.SpecialDay{Date: "01-01", Day: holiday + 1})
	j, _ := json.Marshal(c)
	res = send(0, string(j))
	if !strings.Contains(res, "special days: 2 held, 2 inserted, 1 deleted") {
		t.Errorf("second calendar: %s", res)
	}
	want := []meter.SpecialDay{{Year: 2026, Month: 12, Day: 25, Profile: holiday}, {Month: 1, Day: 1, Profile: holiday}}
	sortDays := func(s []meter.SpecialDay) []meter.SpecialDay {
		s = slices.Clone(s)
		slices.SortFunc(s, func(a, b meter.SpecialDay) int { return int(a.Month)*100 + a.Day - int(b.Month)*100 - b.Day })
		return s
	}
	if got := passive(0).Special; !slices.Equal(sortDays(got), sortDays(want)) {
		t.Fatalf("meter's special days %+v, want %+v", got, want)
	}

	// Consumption: Thursday 24 December is a working day again (peak in
	// register 2), Friday 25 December a holiday (all day register 1).
	clk.Add(7 * 24 * time.Hour)
	m, _ := f.Meter(0)
	f.Lock(0).Lock()
	var regs [3]meter.Registers
	for k := range regs {
		regs[k] = m.RegistersAt(time.Date(2026, 12, 24+k, 0, 0, 0, 0, ams))
	}
	f.Lock(0).Unlock()
	day := func(k, rate int) int64 { return regs[k+1].ImportRate[rate-1] - regs[k].ImportRate[rate-1] }
	if day(0, 2) <= 0 {
		t.Errorf("24 December: register 2 counted %d Wh, want the peak hours", day(0, 2))
	}
	if day(1, 2) != 0 || day(1, 1) <= 0 || day(1, 1) != regs[2].Import-regs[1].Import {
		t.Errorf("holiday 25 December: register 1 %d Wh, register 2 %d Wh of %d Wh", day(1, 1), day(1, 2), regs[2].Import-regs[1].Import)
	}

	// Without a special days table: the calendar is set, the holidays are
	// said not to be.
	res = send(1, string(j))
	if !strings.Contains(res, "passive calendar") || !strings.Contains(res, "2 special days (holidays) NOT written") {
		t.Errorf("meter without the table: %s", res)
	}
}
