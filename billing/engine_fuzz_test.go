package billing

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/tariff"
)

// FuzzCompute feeds the engine days of arbitrary values and qualities
// (as a meter or an edit may deliver them) over a tariff with every
// feature: it must bill or refuse, never panic, and a bill's total is
// the sum of its lines.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{1, 0, 100, 0, 0, 0}, uint8(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2}, uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		tr := touTariff()
		tr.Tiers = &tariff.Tiers{Basis: []string{"day", "period"}[mode%2], Blocks: []tariff.Block{{UpToWh: 3000, Price: 10_000}, {Price: -5_000}}}
		tr.Demand = []tariff.DemandCharge{{Code: "demand", Periods: []string{"peak"}, Price: 4_000_000, RatchetPercent: 50}}
		tr.Taxes = []tariff.Tax{{Code: "vat", RateBP: 2100}}
		tr.NetMetering = &tariff.NetMetering{Netting: []string{tariff.NetInterval, tariff.NetPeriod, tariff.NetBilling}[mode%3], ExportPrice: 70_000, CarryOver: mode&4 != 0}
		tr.CriticalPeak = &tariff.CriticalPeak{Adder: 500_000}
		in := input("2026-10-24", "2026-10-26", tr)
		in.CriticalPeaks = []CriticalPeak{{Start: time.Date(2026, 10, 25, 1, 30, 0, 0, ams), End: time.Date(2026, 10, 25, 3, 0, 0, 0, ams)}}
		in.CarryIn = int64(mode)
		in.Ratchet = int64(mode) * 100
		in.Policy = Policy{Missing: MissingFlag, MaxEstimatedPermille: 500, EstimatedDemand: MissingHold}
		next := func(i int) (int64, cim.Quality) {
			if len(b) == 0 {
				return 0, 0
			}
			k := (i * 3) % len(b)
			var buf [8]byte
			copy(buf[:], b[k:])
			v := int64(binary.LittleEndian.Uint64(buf[:]))
			if mode&8 == 0 {
				v %= 100_000
			}
			return v, cim.Quality(b[(k+1)%len(b)] & 0x0f)
		}
		for _, d := range []string{"2026-10-24", "2026-10-25"} {
			in.Import = append(in.Import, day("m1", "A+15m", d, 1, func(i int, _ time.Time) (int64, cim.Quality) { return next(i) }))
			in.Export = append(in.Export, day("m1", "A-15m", d, 1, func(i int, _ time.Time) (int64, cim.Quality) { return next(i + 7) }))
		}
		bill, err := Compute(in)
		if err != nil {
			return
		}
		var sum int64
		for _, l := range bill.Lines {
			sum += l.Amount
		}
		if sum != bill.Total {
			t.Fatalf("total %d, lines sum to %d", bill.Total, sum)
		}
	})
}
