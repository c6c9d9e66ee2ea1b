package mdm

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// FuzzDecode feeds bus messages through decoding, placing into local days
// and merging: whatever comes in, the answer is a bad message or readings
// in slots that exist.
func FuzzDecode(f *testing.F) {
	f.Add("amigo.readings.m1.intervals", []byte(`{"meter":"m1","readingType":{"id":"A+15m","interval":900000000000},"readings":[{"end":"2026-03-29T00:15:00Z","value":5},{"end":"2026-03-29T01:00:00Z","value":6,"quality":16}]}`))
	f.Add("amigo.readings.m1.intervals", []byte(`{"meter":"m1","readingType":{"id":"A+15m","interval":900000000000},"readings":[{"end":"2026-10-25T01:15:00Z","value":5},{"end":"2026-10-25T00:15:00Z","value":5}]}`))
	f.Add("amigo.readings.m1.intervals", []byte(`{"meter":"m1","readingType":{"id":"X","interval":60000000000},"readings":[{"end":"2026-03-29T00:01:00Z","value":-5}]}`))
	f.Add("amigo.readings.m1.intervals", []byte(`{"meter":"m2","readingType":{"id":"A+15m","interval":900000000000},"readings":[]}`))
	f.Add("amigo.readings.m1.registers", []byte(`[{"meter":"m1","readingType":"A+","timeStamp":"2026-03-29T00:00:00Z","value":12}]`))
	f.Add("amigo.readings.m1.registers", []byte(`[{"meter":"m1","readingType":"A\u0000","timeStamp":"2026-03-29T00:00:00Z","value":12}]`))
	f.Add("amigo.events.m1", []byte(`{"mRID":"e1","meter":"m1","type":"3.26.0.85","createdDateTime":"2026-03-29T00:00:00Z","details":{"a":"b"}}`))
	f.Add("amigo.events.m_1", []byte(`{"mRID":"e1","meter":"m.1","type":"3.26.0.85","createdDateTime":"2026-03-29T00:00:00Z"}`))
	f.Add("amigo.readings.m1.intervals", []byte(`{"readings":null}`))
	f.Add("amigo.readings.m1.intervals", []byte(`{not json`))
	f.Add("amigo.other", []byte(`{}`))
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		m, err := decode(subject, data)
		if err != nil {
			if _, ok := err.(*badMessage); !ok {
				t.Fatalf("decode error of type %T: %v", err, err)
			}
			return
		}
		kinds := 0
		for _, set := range []bool{m.block != nil, m.registers != nil, m.event != nil} {
			if set {
				kinds++
			}
		}
		if kinds > 1 {
			t.Fatalf("%d kinds in one message", kinds)
		}
		if m.block == nil {
			return
		}
		if m.block.MeterID == "" || m.block.ReadingType.ID == "" {
			t.Fatal("block without meter or reading type accepted")
		}
		days, err := place(m.block, loc, now)
		if err != nil {
			return
		}
		for _, dr := range days {
			if dr.n < 1 || dr.n > 25*60 {
				t.Fatalf("day %s has %d intervals", dr.date, dr.n)
			}
			d := newDay("m1", m.block.ReadingType.ID, dr, m.block.ReadingType.Interval)
			for i, s := range dr.rs {
				if s.slot < 0 || s.slot >= dr.n || i > 0 && s.slot <= dr.rs[i-1].slot {
					t.Fatalf("day %s: slot %d of %d out of order or range", dr.date, s.slot, dr.n)
				}
				if got := d.End(s.slot); !got.Equal(s.r.End) {
					t.Fatalf("day %s slot %d ends %s, reading ends %s", dr.date, s.slot, got, s.r.End)
				}
			}
			var n notes
			merge(&d, dr.rs, &n)
			if n.conflicts != 0 {
				t.Fatal("conflict merging into an empty day")
			}
			if cim.DateOf(d.Start, loc) != dr.date {
				t.Fatalf("day %s starts %s", dr.date, d.Start)
			}
		}
	})
}
