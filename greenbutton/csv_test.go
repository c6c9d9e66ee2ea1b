package greenbutton

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// TestCSVEndsAtNow: a download made during a day ends at the last interval
// that is over, on every channel, and lists no future interval as missing.
func TestCSVEndsAtNow(t *testing.T) {
	e := amsterdam(t)
	loc := load(t, "Europe/Amsterdam")
	// 10:07 local on the normal day: 40 quarter hours are over, the 41st
	// (10:00–10:15) is not. The later days are not due at all.
	e.Updated = time.Date(2026, 3, 28, 10, 7, 0, 0, loc)
	e.Channels[0].Days[0].Quality[60] = cim.QualityMissing // today's stored future, as a collection leaves it
	var buf bytes.Buffer
	if err := WriteCSV(&buf, e); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows = rows[1:]
	if len(rows) != 2*40 {
		t.Fatalf("%d rows, want 40 per channel", len(rows))
	}
	for _, ch := range [][][]string{rows[:40], rows[40:]} {
		last := ch[len(ch)-1]
		if last[4] != "2026-03-28T09:00:00Z" || last[5] != "2026-03-28T09:45:00+01:00" {
			t.Errorf("the last row %v does not end at 10:00 local", last)
		}
		for _, r := range ch {
			if r[8] == "missing" {
				t.Errorf("row %v is missing", r)
			}
		}
	}
	if rows[40][2] != "A-15m" {
		t.Errorf("the export channel starts with %v", rows[40])
	}

	// At the exact end of an interval, that interval is due.
	e.Updated = time.Date(2026, 3, 28, 10, 0, 0, 0, loc)
	buf.Reset()
	if err := WriteCSV(&buf, e); err != nil {
		t.Fatal(err)
	}
	if rows, _ := csv.NewReader(&buf).ReadAll(); len(rows) != 1+2*40 {
		t.Fatalf("at 10:00: %d rows, want 80", len(rows)-1)
	}
}
