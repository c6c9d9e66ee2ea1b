package billing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// TariffMeterStore is what finding a tariff version's meters reads.
type TariffMeterStore interface {
	TariffVersions(ctx context.Context, id string) ([]store.TariffVersion, error)
	UsagePointsOnTariff(ctx context.Context, tariffID string, on cim.Date) ([]string, error)
	BillingPoints(ctx context.Context, usagePoints []string) (map[string]store.BillingPoint, error)
}

// TariffMeters is a tariff version with the meters of the usage points on
// it on its effective date, grouped by region (the holidays differ).
type TariffMeters struct {
	Tariff   tariff.Tariff
	ByRegion map[string][]MeterOnTariff
	// NoMeter are the usage points on the tariff without an electricity
	// meter.
	NoMeter []string
}

// Regions are the regions in order, so that results come out stable.
func (tm TariffMeters) Regions() []string {
	out := make([]string, 0, len(tm.ByRegion))
	for r := range tm.ByRegion {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// FindTariffMeters reads a tariff version (store.ErrNotFound when it is not
// filed) and the meters on it: the usage points whose tariff in force on
// the version's effective date is this one, by their dated assignments or,
// before their first, their registered tariff.
func FindTariffMeters(ctx context.Context, st TariffMeterStore, id string, version int) (TariffMeters, error) {
	vs, err := st.TariffVersions(ctx, id)
	if err != nil {
		return TariffMeters{}, err
	}
	i := slices.IndexFunc(vs, func(v store.TariffVersion) bool { return v.Version == version })
	if i < 0 {
		return TariffMeters{}, fmt.Errorf("tariff %s version %d: %w", id, version, store.ErrNotFound)
	}
	t, err := tariff.ParseTariff(vs[i].Document)
	if err != nil {
		return TariffMeters{}, fmt.Errorf("tariff %s version %d: %w", id, version, err)
	}
	t.ID, t.Version, t.EffectiveFrom = id, version, vs[i].EffectiveFrom
	ups, err := st.UsagePointsOnTariff(ctx, id, t.EffectiveFrom)
	if err != nil {
		return TariffMeters{}, err
	}
	bps, err := st.BillingPoints(ctx, ups)
	if err != nil {
		return TariffMeters{}, err
	}
	tm := TariffMeters{Tariff: t, ByRegion: map[string][]MeterOnTariff{}}
	for _, up := range ups {
		bp, ok := bps[up]
		if !ok || bp.MeterID == "" {
			tm.NoMeter = append(tm.NoMeter, up)
			continue
		}
		loc, err := bp.UsagePoint.Location()
		if err != nil {
			return TariffMeters{}, fmt.Errorf("usage point %s (meter %s): time zone: %w", up, bp.MeterID, err)
		}
		tm.ByRegion[bp.Region] = append(tm.ByRegion[bp.Region], MeterOnTariff{MeterID: bp.MeterID, UsagePointID: up, Location: loc})
	}
	return tm, nil
}

// regionHolidays are a region's holidays from a map by region ("*" for
// every region), as Runner.Holidays keeps them.
func regionHolidays(all map[string][]cim.Date, region string) []cim.Date {
	return append(slices.Clone(all["*"]), all[region]...)
}

// SendTariffCalendar issues the tariff version's calendar to every meter on
// it (IssueTariffCalendar, region by region), in meter order.
func SendTariffCalendar(ctx context.Context, iss Issuer, tm TariffMeters, holidays map[string][]cim.Date, issuedBy string) ([]CalendarIssue, error) {
	var out []CalendarIssue
	for _, region := range tm.Regions() {
		got, err := IssueTariffCalendar(ctx, iss, tm.Tariff, regionHolidays(holidays, region), tm.ByRegion[region], issuedBy)
		out = append(out, got...)
		if err != nil {
			return out, err
		}
	}
	slices.SortStableFunc(out, func(a, b CalendarIssue) int { return strings.Compare(a.MeterID, b.MeterID) })
	return out, nil
}

// CheckTariffRegisters runs CheckTOURegisters over the meters on the
// tariff version, each region with its holidays, in meter order.
func CheckTariffRegisters(ctx context.Context, st TOUCheckStore, tm TariffMeters, holidays map[string][]cim.Date, from, to time.Time, tol TOUTolerance) ([]TOUCheck, error) {
	var out []TOUCheck
	for _, region := range tm.Regions() {
		cal, err := tm.Tariff.TOUCalendar(regionHolidays(holidays, region))
		if err != nil {
			return nil, fmt.Errorf("tariff %s v%d: %w", tm.Tariff.ID, tm.Tariff.Version, err)
		}
		got, err := CheckTOURegisters(ctx, st, cal, tm.ByRegion[region], from, to, tol)
		out = append(out, got...)
		if err != nil {
			return out, err
		}
	}
	slices.SortStableFunc(out, func(a, b TOUCheck) int { return strings.Compare(a.MeterID, b.MeterID) })
	return out, nil
}
