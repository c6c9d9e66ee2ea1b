package c12driver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/psem"
)

// tableSession is a session over a table store in the same process: the
// PSEM meter side answers the client directly.
func tableSession(t *testing.T, ts tableSet, now time.Time) *session {
	t.Helper()
	st := c1219.NewStore(c1219.DefaultFormat)
	for id, b := range ts {
		st.Set(id, b)
	}
	srv := psem.NewServer(st, psem.ServerConfig{Sessionless: true})
	d := NewC1218(Config{MaxRead: 100}) // small reads: runs of entries cross read boundaries
	s := &session{d: d, t: headend.Target{Meter: cim.Meter{MRID: "m1"}}, c: psem.NewClient(srv),
		close: func(context.Context) error { return nil }, loc: time.UTC, now: func() time.Time { return now }}
	if err := s.configure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestListOrders: the event log and the load profile are read alike
// whether their lists run ascending or descending and wherever the newest
// element sits in the circle.
func TestListOrders(t *testing.T) {
	base := sampleTables(t)
	f := c1219.DefaultFormat
	day := time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)
	now := day.Add(26 * time.Hour)
	lg, _ := c1219.DecodeST71(base[c1219.ST71], f)
	lp, _ := c1219.DecodeST61(base[c1219.ST61], f, mustGen(t, base))
	lpc, _ := c1219.DecodeST62(base[c1219.ST62], f, lp)
	data, err := c1219.DecodeST64(base[c1219.ST64], f, lp, lpc)
	if err != nil {
		t.Fatal(err)
	}
	// Eight entries, oldest first, an hour apart from midnight.
	var entries []c1219.LogEntry
	for k := range 8 {
		entries = append(entries, c1219.LogEntry{Time: day.Add(time.Duration(k) * time.Hour), Seq: uint16(k + 1),
			Code: c1219.EventPowerDown + c1219.Event(k%2)})
	}
	var want []string
	for _, tc := range []struct {
		name       string
		descending bool
		last       int // element of the newest entry, and of the newest block
	}{{"ascending", false, 5}, {"ascending-wrapped", false, 2}, {"descending", true, 5}, {"descending-wrapped", true, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := tableSet{}
			for id, b := range base {
				ts[id] = b
			}
			// The log: all eight valid, the newest at tc.last.
			arr := make([]c1219.LogEntry, 8)
			for k := range 8 { // k-th newest
				e := tc.last - k
				if tc.descending {
					e = tc.last + k
				}
				arr[(e%8+8)%8] = entries[7-k]
			}
			flags := uint8(c1219.ListCircular)
			if tc.descending {
				flags |= c1219.ListDescending
			}
			ts[c1219.ST76] = c1219.LogData{Flags: flags, NbrValid: 8, LastElement: uint16(tc.last), LastSeq: 8, Entries: arr}.EncodeST76(f, lg)
			// The profile: its two blocks, the newest at tc.last mod 3.
			blks := make([]c1219.LPBlock, 3)
			newest := tc.last % 3
			older := (newest + 2) % 3
			if tc.descending {
				older = (newest + 1) % 3
			}
			blks[newest], blks[older] = data.Blocks[2], data.Blocks[1]
			ts[c1219.ST64] = c1219.LPData{Blocks: blks}.Encode(f, lp, lpc, 1)
			lflags := uint8(c1219.ListCircular | c1219.LPActive)
			if tc.descending {
				lflags |= c1219.ListDescending
			}
			ts[c1219.ST63] = c1219.EncodeST63([]c1219.LPSetStatus{{Flags: lflags, NbrValidBlks: 2, LastBlock: uint16(newest), NbrValidInt: 8}}, f, lp)

			s := tableSession(t, ts, now)
			col, err := s.Collect(context.Background(), headend.Plan{Backfill: day.Add(150 * time.Minute), Until: day.AddDate(0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			if len(col.Problems) > 0 {
				t.Fatalf("problems %+v", col.Problems)
			}
			var got []string
			for _, e := range col.Events {
				got = append(got, fmt.Sprintf("%s %s", e.CreatedAt.Format("15:04"), e.Type))
			}
			// From 02:30 on: the entries of 03:00 to 07:00, oldest first.
			if len(got) != 5 || got[0] != "03:00 "+string(cim.EventPowerRestored) || got[4] != "07:00 "+string(cim.EventPowerRestored) {
				t.Fatalf("events %v", got)
			}
			if want == nil {
				want = got
			} else if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("events %v, ascending read %v", got, want)
			}
			if c := col.Cursors["events:ST76"]; !c.Equal(day.Add(7 * time.Hour)) {
				t.Errorf("events cursor %v", c)
			}
			// Intervals after 02:30: 86 of the first day (the 40th with
			// its power failure), 8 of the second.
			var n, pd int
			for _, b := range col.Blocks {
				if b.ReadingType.ID != "A+15m" {
					continue
				}
				n = len(b.Readings)
				for _, r := range b.Readings {
					if r.Quality&cim.QualityPowerDown != 0 {
						pd++
					}
				}
				if first := b.Readings[0]; !first.End.Equal(day.Add(165*time.Minute)) || first.Value != 11 {
					t.Errorf("first interval %+v", first)
				}
			}
			if n != 86+8 || pd != 1 || !col.Complete {
				t.Errorf("%d intervals, %d with a power failure, complete %v", n, pd, col.Complete)
			}
		})
	}
}

func mustGen(t *testing.T, ts tableSet) c1219.GenConfig {
	t.Helper()
	g, err := c1219.DecodeST0(ts[c1219.ST0])
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestTableProblems: a table the meter refuses or sends malformed is a
// problem of the collection; what else was read stands.
func TestTableProblems(t *testing.T) {
	ts := sampleTables(t)
	day := time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)
	delete(ts, c1219.ST76)                                  // refused: IAR
	ts[c1219.ST23] = ts[c1219.ST23][:len(ts[c1219.ST23])-3] // short
	s := tableSession(t, ts, day.Add(26*time.Hour))
	col, err := s.Collect(context.Background(), headend.Plan{Backfill: day, Until: day.AddDate(0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]bool{}
	for _, p := range col.Problems {
		objects[p.Object] = true
	}
	if !objects["ST76"] || !objects["ST23"] || len(col.Problems) != 2 {
		t.Fatalf("problems %+v", col.Problems)
	}
	if len(col.Blocks) != 4 || !col.Complete || col.MeterTime.IsZero() {
		t.Fatalf("%d blocks, complete %v, clock %v", len(col.Blocks), col.Complete, col.MeterTime)
	}
}
