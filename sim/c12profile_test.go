package sim

import (
	"bytes"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/psem"
)

// TestC12ProfileElementsWrap: installed longer ago than the list keeps,
// the circular list has wrapped; any run of elements, read alone or
// across the wrap, is the whole image's octets, and each element holds
// the block its place in the list says.
func TestC12ProfileElementsWrap(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 7, 0, 0, loc)
	model := meter.NewFleet(3, loc, now)
	model.HistoryDays = 20
	model.Install = time.Date(2026, 1, 2, 0, 0, 0, 0, loc)
	f, err := NewFleet(Config{Meters: 4, Seed: 3, Now: func() time.Time { return now }, Model: model, C1218: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.newC12Meter(1)
	if err != nil {
		t.Fatal(err)
	}
	l := c12LayoutOf(model)
	x := c.extent()
	nb := l.lay.Blocks
	if x.first == 0 || x.cur-x.first+1 != int64(nb) {
		t.Fatalf("extent %+v: the list of %d blocks has not wrapped", x, nb)
	}
	full := c.profile(l)
	bs := c1219.LPBlockSize(l.f, l.lp, l.lpc, 1)
	if len(full) != bs*nb {
		t.Fatalf("ST64 of %d octets, want %d blocks of %d", len(full), nb, bs)
	}
	last := int(x.cur % int64(nb))
	for _, r := range [][2]int{{0, 0}, {last, last}, {max(last-1, 0), min(last+1, nb-1)}, {last + 1, nb - 1}, {0, nb - 1}, {nb - 1, nb - 1}} {
		got := c.lpElements(l, x, r[0], r[1])
		if !bytes.Equal(got, full[r[0]*bs:(r[1]+1)*bs]) {
			t.Errorf("elements %d..%d differ from the whole table's", r[0], r[1])
		}
	}
	tb := c12Tables{Store: c1219.NewStore(l.f), c: c, l: l}
	part, err := tb.ReadOffset(uint16(c1219.ST64), uint32(last*bs-7), uint16(bs+20))
	if err != nil || !bytes.Equal(part, full[last*bs-7:last*bs-7+bs+20]) {
		t.Errorf("an offset read across two blocks: %v", err)
	}

	lp, err := c1219.DecodeST64(full, l.f, l.lp, l.lpc)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := f.Meter(1)
	iv := model.ProfileInterval
	for e, blk := range lp.Blocks {
		seq, _ := x.seqAt(e, l.lay)
		end := model.Install.Add(time.Duration((seq+1)*int64(l.lay.Intervals)) * iv)
		if seq == x.cur {
			end = model.Install.Add(time.Duration(x.k) * iv)
		}
		if !blk.End.Equal(end.Truncate(time.Minute)) {
			t.Errorf("element %d (block %d) ends %v, want %v", e, seq, blk.End, end)
		}
	}
	// The newest block's last interval is the model's last capture.
	f.Lock(1).Lock()
	caps := m.AppendCaptures(nil, now, now.Add(-time.Hour), m.Clock(now), iv)
	f.Lock(1).Unlock()
	lastCap := caps[len(caps)-1]
	in := lp.Blocks[last].Intervals[(x.k-1)%int64(l.lay.Intervals)]
	if in.Values[0] != float64(lastCap.Delta.Import) || lp.Blocks[last].EndReadings[0].Value != float64(lastCap.Registers.Import) {
		t.Errorf("newest interval %v end reading %v, want %d and %d", in.Values, lp.Blocks[last].EndReadings, lastCap.Delta.Import, lastCap.Registers.Import)
	}
}

// BenchmarkC12ProfileRead: what a head-end's daily read of the load
// profile costs the simulator (the two newest blocks by offset) against
// computing the whole 61-block table, in the same run; reported as
// daily/whole.
func BenchmarkC12ProfileRead(b *testing.B) {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 7, 0, 0, loc)
	model := meter.NewFleet(3, loc, now)
	f, err := NewFleet(Config{Meters: 4, Seed: 3, Now: func() time.Time { return now }, Model: model, C1218: 1})
	if err != nil {
		b.Fatal(err)
	}
	l := c12LayoutOf(model)
	bs := c1219.LPBlockSize(l.f, l.lp, l.lpc, 1)
	run := func(read func(c *c12Meter, t psem.Tables)) time.Duration {
		t0 := time.Now()
		for range 20 {
			c, err := f.newC12Meter(1)
			if err != nil {
				b.Fatal(err)
			}
			read(c, c12Tables{Store: c1219.NewStore(l.f), c: c, l: l})
		}
		return time.Since(t0) / 20
	}
	var daily, whole time.Duration
	for b.Loop() {
		daily += run(func(c *c12Meter, t psem.Tables) {
			last := int(c.extent().cur) % l.lay.Blocks
			if _, err := t.ReadOffset(uint16(c1219.ST64), uint32(max(last-1, 0)*bs), uint16(2*bs)); err != nil {
				b.Fatal(err)
			}
		})
		whole += run(func(c *c12Meter, _ psem.Tables) { c.profile(l) })
	}
	b.ReportMetric(float64(daily.Microseconds())/float64(b.N), "µs/daily-read")
	b.ReportMetric(float64(whole.Microseconds())/float64(b.N), "µs/whole-table")
	b.ReportMetric(float64(daily)/float64(whole), "daily/whole")
}
