package mbusdriver

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/mbus"
)

// cursorProfile names the volume profile's cursor.
const cursorProfile = "profile"

// commodity is what a meter's medium says it measures: "G" or "W", or ""
// for a medium the driver does not read.
func commodity(medium byte, kind string) (string, cim.Commodity) {
	switch medium {
	case mbus.MediumGas:
		return "G", cim.CommodityGas
	case mbus.MediumWater, mbus.MediumWarmWater, mbus.MediumHotWater, mbus.MediumColdWater:
		return "W", cim.CommodityWater
	}
	switch kind {
	case "gas":
		return "G", cim.CommodityGas
	case "water":
		return "W", cim.CommodityWater
	}
	return "", cim.CommodityNone
}

// readingID builds a reading type id as the DLMS driver does: the
// quantity, the period of a profile, and a multiplier other than zero.
func readingID(id string, period time.Duration, exp int) string {
	if period > 0 {
		id += strconv.Itoa(int(period/time.Minute)) + "m"
	}
	if exp != 0 {
		id += "e" + strconv.Itoa(exp)
	}
	return id
}

// profile is what the records say of the meter's volume profile.
type profile struct {
	newest   time.Time // storage 1 of subunit 1
	interval time.Duration
	exp      int
	byStore  map[uint64]int64
}

func (p *profile) slot(n uint64) time.Time {
	return p.newest.Add(-time.Duration(n-1) * p.interval)
}

// Collect implements headend.Session. It reads the meter's telegrams until
// the profile reaches back to the cursor, and returns the volume register
// (now, and at the last midnight) and the hourly volumes after the cursor.
func (s *session) Collect(ctx context.Context, p headend.Plan) (headend.Collection, error) {
	from := p.Since[cursorProfile]
	if from.IsZero() {
		from = p.Backfill
	}
	prof := profile{byStore: map[uint64]int64{}}
	// Storage numbers count back from the newest capture: once one is at
	// or before the cursor, the older telegrams hold nothing new.
	reached := func(t mbus.Telegram) bool {
		for _, r := range t.Records {
			switch {
			case r.Subunit == 1 && r.Storage == 1 && r.Quantity == mbus.DateTime && r.Value.Kind == mbus.KindTime:
				prof.newest = localTime(r.Value, s.loc)
			case r.Subunit == 1 && r.Quantity == mbus.StorageInterval && r.Value.Kind == mbus.KindInt:
				prof.interval = storageInterval(&r)
			case r.Subunit == 1 && r.Quantity == mbus.Volume && r.Storage > 0 && prof.interval > 0 && !prof.newest.IsZero():
				if !prof.slot(r.Storage).After(from) {
					return true
				}
			}
		}
		return false
	}
	readAt := s.t.Now()
	tgs, err := s.read(ctx, func(t mbus.Telegram) bool { return !reached(t) })
	if err != nil {
		return headend.Collection{}, err
	}
	var col headend.Collection
	col.ReadAt = readAt
	h := tgs[0].Header
	qid, comm := commodity(h.Medium, s.t.Meter.Kind)
	if qid == "" {
		return col, fmt.Errorf("meter %s: %w: medium %#02x is neither gas nor water", s.t.Meter.MRID, errNotMeter, h.Medium)
	}
	var now, midnight time.Time
	var cur, day *mbus.Record
	for _, t := range tgs {
		for k := range t.Records {
			r := &t.Records[k]
			switch {
			case r.Function != mbus.Instantaneous:
			case r.Quantity == mbus.DateTime && r.Storage == 0 && r.Subunit == 0 && r.Value.Kind == mbus.KindTime:
				now = localTime(r.Value, s.loc)
			case r.Quantity == mbus.Date && r.Storage == 1 && r.Subunit == 0 && r.Value.Kind == mbus.KindTime && !r.Value.Invalid:
				d := r.Value.Time
				midnight = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, s.loc)
			case r.Subunit == 1 && r.Storage == 1 && r.Quantity == mbus.DateTime && r.Value.Kind == mbus.KindTime:
				prof.newest = localTime(r.Value, s.loc)
			case r.Subunit == 1 && r.Quantity == mbus.StorageInterval && r.Value.Kind == mbus.KindInt:
				prof.interval = storageInterval(r)
			case r.Quantity == mbus.Volume && r.Subunit == 0 && r.Storage == 0 && r.Tariff == 0:
				cur = r
			case r.Quantity == mbus.Volume && r.Subunit == 0 && r.Storage == 1 && r.Tariff == 0:
				day = r
			case r.Quantity == mbus.Volume && r.Subunit == 1 && r.Storage > 0 && r.Tariff == 0:
				if r.Value.Kind != mbus.KindInt {
					col.Problems = append(col.Problems, headend.ObjectProblem{Object: fmt.Sprintf("volume subunit 1 storage %d", r.Storage), Cause: "not an integer"})
					continue
				}
				if len(prof.byStore) == 0 {
					prof.exp = r.Exponent
				}
				if r.Exponent != prof.exp {
					col.Problems = append(col.Problems, headend.ObjectProblem{Object: fmt.Sprintf("volume subunit 1 storage %d", r.Storage), Cause: "exponent differs from the profile's"})
					continue
				}
				prof.byStore[r.Storage] = r.Value.Int
			}
		}
	}
	col.MeterTime = now
	stamp := now
	if stamp.IsZero() {
		stamp = readAt
		col.Problems = append(col.Problems, headend.ObjectProblem{Object: "date and time", Cause: "absent"})
	}
	if cur != nil && cur.Value.Kind == mbus.KindInt {
		col.Registers = append(col.Registers, cim.Reading{MeterID: s.t.Meter.MRID, ReadingType: readingID(qid, 0, cur.Exponent),
			TimeStamp: stamp, Value: cur.Value.Int})
	} else {
		col.Problems = append(col.Problems, headend.ObjectProblem{Object: "volume", Cause: "absent or not an integer"})
	}
	if day != nil && day.Value.Kind == mbus.KindInt && !midnight.IsZero() {
		col.Registers = append(col.Registers, cim.Reading{MeterID: s.t.Meter.MRID, ReadingType: readingID(qid, 0, day.Exponent) + "/daily",
			TimeStamp: midnight, Value: day.Value.Int})
	}
	if prof.newest.IsZero() || prof.interval <= 0 || len(prof.byStore) == 0 {
		col.Problems = append(col.Problems, headend.ObjectProblem{Object: "volume profile", Cause: "absent"})
		return col, nil
	}
	rt := cim.ReadingType{ID: readingID(qid, prof.interval, prof.exp), Commodity: comm, MeasuredQuantity: cim.QuantityVolume,
		FlowDirection: cim.FlowForward, Interval: prof.interval, Unit: cim.UnitM3, Multiplier: int8(prof.exp)}
	block := cim.IntervalBlock{MeterID: s.t.Meter.MRID, ReadingType: rt}
	stores := make([]uint64, 0, len(prof.byStore))
	for n := range prof.byStore {
		stores = append(stores, n)
	}
	// Oldest first: the highest storage number.
	sort.Slice(stores, func(a, b int) bool { return stores[a] > stores[b] })
	last := from
	for _, n := range stores {
		end := prof.slot(n)
		prev, ok := prof.byStore[n+1]
		if !end.After(from) || !ok {
			// A capture with none before it has no interval value: the
			// meter made none during a power cut, or it is the oldest.
			continue
		}
		block.Readings = append(block.Readings, cim.IntervalReading{End: end, Value: prof.byStore[n] - prev})
		last = end
	}
	if len(block.Readings) > 0 {
		col.Blocks = []cim.IntervalBlock{block}
		col.Cursors = map[string]time.Time{cursorProfile: last}
	}
	col.Complete = !last.Before(p.Until)
	return col, nil
}

// storageInterval is the duration a storage interval record (VIF FD 24..27)
// gives.
func storageInterval(r *mbus.Record) time.Duration {
	unit := map[string]time.Duration{"s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[r.Unit]
	return time.Duration(r.Value.Int) * unit
}
