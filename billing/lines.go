package billing

import (
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/amigo-ami/amigo/tariff"
)

// minorDigits is how many decimals the currency's minor unit has
// (ISO 4217); 2 unless listed.
func minorDigits(currency string) int {
	switch currency {
	case "JPY", "KRW", "ISK", "CLP", "VND", "XOF", "XAF", "UGX", "PYG":
		return 0
	case "BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD":
		return 3
	}
	return 2
}

// microPerMinor is how many millionths of the currency a minor unit is.
func microPerMinor(currency string) int64 {
	m := int64(1)
	for range 6 - minorDigits(currency) {
		m *= 10
	}
	return m
}

// roundingRule states how a line's amount was rounded.
func roundingRule(currency string) string {
	if d := minorDigits(currency); d > 0 {
		return fmt.Sprintf("half away from zero to 0.%s1 %s", strings.Repeat("0", d-1), currency)
	}
	return "half away from zero to 1 " + currency
}

// mulRound is the product of f over den, rounded half away from zero,
// exact whatever the size of the product; ok is false when the result
// does not fit an int64. Used once per line, so big numbers cost nothing.
func mulRound(den int64, f ...int64) (v int64, ok bool) {
	n := big.NewInt(1)
	for _, x := range f {
		n.Mul(n, big.NewInt(x))
	}
	d := big.NewInt(den)
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if r.Abs(r).Lsh(r, 1).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(int64(n.Sign())))
	}
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// amount is mulRound that notes an overflow on the span.
func (s *span) amount(den int64, f ...int64) int64 {
	v, ok := mulRound(den, f...)
	if !ok && s.err == nil {
		s.err = fmt.Errorf("tariff %s@%d, %s to %s: an amount overflows", s.t.ID, s.t.Version, s.from, s.to)
	}
	return v
}

// net settles import against export per the tariff's netting rule.
// Per interval it was done in the walk; per TOU bucket each bucket nets
// on its own; over the billing period the buckets' surplus export then
// offsets the other buckets' remaining import, dearest bucket first.
func (s *span) net() {
	nm := s.t.NetMetering
	if nm == nil || nm.Netting == tariff.NetInterval {
		s.netted = nm != nil
		return
	}
	s.netted = true
	for _, b := range s.buckets {
		b.billed = max(b.imp-b.exp, 0)
		s.surplus += max(b.exp-b.imp, 0)
	}
	if nm.Netting != tariff.NetBilling {
		return
	}
	order := slices.Clone(s.buckets)
	slices.SortStableFunc(order, func(a, b *bucket) int {
		switch {
		case a.price > b.price:
			return -1
		case a.price < b.price:
			return 1
		}
		return 0
	})
	for _, b := range order {
		take := min(b.billed, s.surplus)
		b.billed -= take
		s.surplus -= take
	}
}

func (s *span) determinants() []Determinant {
	var out []Determinant
	impChan, expChan := s.impChan, s.expChan
	if impChan == "" {
		impChan = "A+15m"
	}
	if expChan == "" {
		expChan = "A-15m"
	}
	d := func(name, kind, ch, bucket string, tier int, v int64, unit string, q quality) Determinant {
		return Determinant{Name: name, Kind: kind, Channel: ch, Bucket: bucket, Tier: tier, From: s.from, To: s.to,
			Value: v, Unit: unit, Intervals: q.intervals, Estimated: q.estimated, Edited: q.edited, Missing: q.missing}
	}
	for _, b := range s.buckets {
		x := d("import."+b.key, KindEnergy, impChan, b.key, 0, b.imp, "Wh", b.iq)
		x.Register = b.register
		out = append(out, x)
	}
	if s.hasExp {
		for _, b := range s.buckets {
			x := d("export."+b.key, KindEnergy, expChan, b.key, 0, b.exp, "Wh", b.eq)
			x.Register = b.register
			out = append(out, x)
		}
	}
	if s.netted {
		for _, b := range s.buckets {
			out = append(out, d("net."+b.key, KindNet, impChan, b.key, 0, b.billed, "Wh", b.iq))
		}
		var q quality
		for _, b := range s.buckets {
			q.intervals += b.eq.intervals
			q.estimated += b.eq.estimated
			q.edited += b.eq.edited
			q.missing += b.eq.missing
		}
		out = append(out, d("net.surplus", KindNet, expChan, "", 0, s.surplus, "Wh", q))
	}
	for i, t := range s.tiers {
		out = append(out, d(fmt.Sprintf("tier.%d", i+1), KindEnergy, impChan, "", i+1, t.wh, "Wh", t.q))
	}
	if s.cppSeen {
		out = append(out, d("cpp", KindEnergy, impChan, "cpp", 0, s.cppWh, "Wh", s.cppQ))
	}
	for _, dm := range s.demand {
		x := d("demand."+dm.charge.Code, KindDemand, impChan, strings.Join(dm.charge.Periods, "+"), 0, dm.w, "W", dm.q)
		x.At = dm.at
		out = append(out, x)
	}
	return out
}

// ratchetW is the least demand a charge bills: its ratchet share of the
// reference demand, rounded half up to a whole W.
func ratchetW(c tariff.DemandCharge, ref int64) int64 {
	if c.RatchetPercent == 0 || ref <= 0 {
		return 0
	}
	v, _ := mulRound(100, ref, c.RatchetPercent)
	return v
}

// lines prices a span. Energy: Wh × µ/kWh is exact in 10⁻⁹ of the
// currency and is rounded once per line; charges per bill and demand are
// pro-rated by the span's days over the period's.
func (s *span) lines(in Input, periodDays int64) []Line {
	cur := s.t.Currency
	mpm := microPerMinor(cur)
	rule := roundingRule(cur)
	tag := fmt.Sprintf("%s@%d", s.t.ID, s.t.Version)
	days := int64(s.days)
	var out []Line
	add := func(code, desc string, qty int64, unit string, rate int64, rateUnit string, amount int64) {
		out = append(out, Line{Code: code, Description: desc, Quantity: qty, Unit: unit, Rate: rate, RateUnit: rateUnit,
			Amount: amount, Rounding: rule, Tariff: tag, From: s.from, To: s.to})
	}
	perKWh := "µ" + cur + "/kWh"
	if s.t.Dynamic != nil {
		add("energy.dynamic", fmt.Sprintf("Energy at the hourly prices of %s plus %d %s", s.t.Dynamic.Feed, s.t.Dynamic.Adder, perKWh),
			s.dynWh, "Wh", 0, perKWh+" hourly", s.amount(1000*mpm, s.dynNano))
	} else {
		for _, b := range s.buckets {
			add("energy."+b.key, "Energy, "+strings.ReplaceAll(b.key, ".", " "), b.billed, "Wh", b.price, perKWh, s.amount(1000*mpm, b.billed, b.price))
		}
	}
	if tr := s.t.Tiers; tr != nil {
		for i, t := range s.tiers {
			price := tr.Blocks[i].Price
			if price == 0 {
				continue
			}
			desc := fmt.Sprintf("Block %d, per %s", i+1, tr.Basis)
			if lim := s.tierLims[i]; lim != 0 {
				desc += fmt.Sprintf(", up to %d Wh", lim)
			}
			add(fmt.Sprintf("tier.%d", i+1), desc, t.wh, "Wh", price, perKWh, s.amount(1000*mpm, t.wh, price))
		}
	}
	if s.cppSeen && s.t.CriticalPeak.Adder != 0 {
		a := s.t.CriticalPeak.Adder
		add("cpp.adder", "Critical peak adder in event hours", s.cppWh, "Wh", a, perKWh, s.amount(1000*mpm, s.cppWh, a))
	}
	if nm := s.t.NetMetering; nm != nil && s.surplus > 0 {
		add("export.credit", "Surplus export credited ("+nm.Netting+" netting)", s.surplus, "Wh", nm.ExportPrice, perKWh, -s.amount(1000*mpm, s.surplus, nm.ExportPrice))
	}
	for _, d := range s.demand {
		bw := max(d.w, ratchetW(d.charge, in.Ratchet))
		desc := d.charge.Description
		if desc == "" {
			desc = "Demand charge"
		}
		if bw > d.w {
			desc += fmt.Sprintf(" (ratchet %d %% of %d W)", d.charge.RatchetPercent, in.Ratchet)
		}
		if days != periodDays {
			desc += fmt.Sprintf(", pro-rated %d/%d days", days, periodDays)
		}
		add(d.charge.Code, desc, bw, "W", d.charge.Price, "µ"+cur+"/kW", s.amount(1000*mpm*periodDays, bw, d.charge.Price, days))
	}
	for _, c := range s.t.Fixed {
		desc := c.Description
		if desc == "" {
			desc = "Fixed charge"
		}
		if days != periodDays {
			desc += fmt.Sprintf(", pro-rated %d/%d days", days, periodDays)
		}
		add(c.Code, desc, 1, "bill", c.Price, "µ"+cur+"/bill", s.amount(mpm*periodDays, c.Price, days))
	}
	for _, c := range s.t.Daily {
		desc := c.Description
		if desc == "" {
			desc = "Daily charge"
		}
		add(c.Code, desc, days, "day", c.Price, "µ"+cur+"/day", s.amount(mpm, c.Price, days))
	}
	for _, x := range s.t.Taxes {
		var base int64
		for _, l := range out {
			if taxCovers(x, l.Code, s.t.Taxes) {
				base += l.Amount
			}
		}
		desc := x.Description
		if desc == "" {
			desc = "Tax"
		}
		add(x.Code, fmt.Sprintf("%s %d.%02d %%", desc, x.RateBP/100, x.RateBP%100), base, "minor", x.RateBP, "bp", s.amount(10000, base, x.RateBP))
	}
	return out
}

// taxCovers says whether tax x is levied on the line of code c. Without
// names it covers every line that is no tax; a tax named explicitly is
// covered (VAT on an energy tax), when it comes before x.
func taxCovers(x tariff.Tax, c string, taxes []tariff.Tax) bool {
	if len(x.On) == 0 {
		for _, t := range taxes {
			if t.Code == c {
				return false
			}
		}
		return true
	}
	for _, on := range x.On {
		if c == on || strings.HasPrefix(c, on+".") {
			return true
		}
	}
	return false
}

// carry applies credit carried in against the bill's charges and, under
// a tariff that carries credit over, moves a negative balance to the next
// bill instead of leaving this one negative.
func carry(lines []Line, in Input, last tariff.Tariff, cur string) ([]Line, int64) {
	var sum int64
	for _, l := range lines {
		sum += l.Amount
	}
	rule := roundingRule(cur)
	tag := fmt.Sprintf("%s@%d", last.ID, last.Version)
	carryIn := max(in.CarryIn, 0)
	out := carryIn
	if used := min(carryIn, max(sum, 0)); used > 0 {
		lines = append(lines, Line{Code: "credit.carried-in", Description: "Credit carried in from the last bill", Quantity: carryIn, Unit: "minor",
			Amount: -used, Rounding: rule, Tariff: tag, From: in.Period.From, To: in.Period.To})
		sum -= used
		out -= used
	}
	if nm := last.NetMetering; nm != nil && nm.CarryOver && sum < 0 {
		lines = append(lines, Line{Code: "credit.carried-forward", Description: "Credit carried to the next bill", Quantity: -sum, Unit: "minor",
			Amount: -sum, Rounding: rule, Tariff: tag, From: in.Period.From, To: in.Period.To})
		out += -sum
	}
	return lines, out
}
