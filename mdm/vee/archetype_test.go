package vee_test

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/loadshape"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/meter"
)

// fleetDays builds the stored days of one meter of the model, channel A+
// or A-, for days [first, first+n): what a head-end collecting it without
// a fault would have stored, and the registers at each midnight.
func fleetDays(t testing.TB, f *meter.Fleet, m *meter.Meter, now time.Time, first cim.Date, n int, export bool) ([]interval.Day, []int64) {
	t.Helper()
	loc := f.Location
	ch := "A+15m"
	if export {
		ch = "A-15m"
	}
	var days []interval.Day
	var regs []int64
	for k := range n {
		date := first.AddDays(k)
		iv := date.Intervals(loc, 15*time.Minute)
		d := interval.Day{MeterID: "m", Channel: ch, Date: date, Start: date.Start(loc).UTC(), Interval: 15 * time.Minute,
			Values: make([]int64, iv), Quality: make([]cim.Quality, iv)}
		es := m.ProfileRange(now, d.Start.Add(time.Minute), d.Start.Add(time.Duration(iv)*15*time.Minute))
		if len(es) != iv {
			t.Fatalf("meter %s %s: %d entries for %d intervals", m.Serial(), date, len(es), iv)
		}
		for i, e := range es {
			d.Values[i] = e.Import
			if export {
				d.Values[i] = e.Export
			}
		}
		if k == 0 {
			if export {
				regs = append(regs, es[0].CumExport-es[0].Export)
			} else {
				regs = append(regs, es[0].CumImport-es[0].Import)
			}
		}
		last := es[len(es)-1]
		if export {
			regs = append(regs, last.CumExport)
		} else {
			regs = append(regs, last.CumImport)
		}
		days = append(days, d)
	}
	return days, regs
}

// TestFaultFreeArchetypesRaiseNothing validates four weeks in each season
// of fault-free meters of every archetype the simulator makes, against
// four weeks of history each, with the rule set their group chooses: not
// one exception.
func TestFaultFreeArchetypesRaiseNothing(t *testing.T) {
	meters, windows := 12, []cim.Date{{Year: 2026, Month: 1, Day: 5}, {Year: 2026, Month: 3, Day: 2}, {Year: 2026, Month: 6, Day: 1},
		{Year: 2026, Month: 9, Day: 21}}
	if testing.Short() {
		meters, windows = 3, windows[2:3]
	}
	sets := vee.DefaultRuleSets()
	const hist, checked = 28, 28
	for a := range loadshape.NumArchetypes {
		t.Run(a.String(), func(t *testing.T) {
			t.Parallel()
			name, rules := sets.For(cim.Meter{Tags: map[string]string{"archetype": a.String()}})
			exceptions, days := 0, 0
			for _, w := range windows {
				now := w.AddDays(hist + checked + 1).Start(ams)
				f := meter.NewFleet(7, ams, now)
				f.HistoryDays = hist + checked + 2
				f.Install = w.AddDays(-1).Start(ams)
				f.Faults = meter.Faults{}
				var mix loadshape.Mix
				mix[a] = 1
				f.Mix = mix
				for id := range uint64(meters) {
					m, err := f.NewMeter(id+1, f.DefaultKind(id+1))
					if err != nil {
						t.Fatal(err)
					}
					for _, export := range []bool{false, true} {
						if export && !a.HasPV() {
							continue
						}
						ds, regs := fleetDays(t, f, m, now, w, hist+checked, export)
						for k := hist; k < len(ds); k++ {
							c := vee.Context{History: ds[k-hist : k], Location: ams,
								RegisterStart: &cim.Reading{Value: regs[k]}, RegisterEnd: &cim.Reading{Value: regs[k+1]}}
							days++
							for _, fl := range vee.Validate(ds[k], rules, c) {
								exceptions++
								if exceptions <= 10 {
									t.Errorf("%s meter %d %s %s (rule set %s): %s: %s", a, id+1, ds[k].Channel, ds[k].Date, name, fl.Rule, fl.Reason)
								}
							}
						}
					}
				}
			}
			t.Logf("%s: %d days validated with rule set %s, %d exceptions", a, days, name, exceptions)
		})
	}
}
