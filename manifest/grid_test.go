package manifest_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/manifest"
)

var gridHeader = strings.TrimSuffix(header, "\n") + ",substation,feeder,transformer,phase,lat,lon\n"

func gridRow(id, grid string) string {
	return strings.TrimSuffix(row(id), "\n") + "," + grid + "\n"
}

func TestGridColumns(t *testing.T) {
	rows, bad, err := manifest.Read(strings.NewReader(gridHeader +
		gridRow("1", "SS-1,FD-1,TR-1,2,52.25,-4.5") +
		gridRow("2", ",,TR-1,,,") +
		gridRow("3", ",,,,,")))
	if err != nil || len(bad) != 0 || len(rows) != 3 {
		t.Fatalf("%v %v %d rows", err, bad, len(rows))
	}
	r := rows[0]
	if r.Substation != "SS-1" || r.Feeder != "FD-1" || r.Transformer != "TR-1" || r.Phase != 2 || r.Lat != 52.25 || r.Lon != -4.5 {
		t.Fatalf("row 1 %+v", r)
	}
	// By name too, as read.
	if r.Fields["transformer"] != "TR-1" || r.Fields["lat"] != "52.25" || rows[2].Fields["feeder"] != "" {
		t.Fatalf("grid columns by name: %v", r.Fields)
	}
	if rows[1].Transformer != "TR-1" || rows[1].Feeder != "" || rows[2].Transformer != "" {
		t.Fatalf("rows 2, 3: %+v %+v", rows[1], rows[2])
	}

	write := func(fields []string) string {
		var buf bytes.Buffer
		if err := manifest.Write(&buf, fields, func(yield func(manifest.Row) bool) error {
			for _, r := range rows {
				if !yield(r) {
					break
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	// Named, they are written and read back as they were.
	out := write(append(append([]string{}, dlmsFields...), manifest.GridColumns...))
	again, bad, err := manifest.Read(strings.NewReader(out))
	if err != nil || len(bad) != 0 || len(again) != 3 {
		t.Fatalf("reading back: %v %v", err, bad)
	}
	for i := range rows {
		a, b := again[i], rows[i]
		if a.Substation != b.Substation || a.Feeder != b.Feeder || a.Transformer != b.Transformer || a.Phase != b.Phase || a.Lat != b.Lat || a.Lon != b.Lon {
			t.Fatalf("row %d: %+v, wrote %+v", i+1, a, b)
		}
	}
	// A row filled by name only (as a simulator may) writes the same.
	byName := rows[0]
	byName.Substation, byName.Feeder, byName.Transformer = "", "", ""
	rows = append(rows, byName)
	rows[3].MeterID, rows[3].Serial = 9, "AMG-9"
	out = write(append(append([]string{}, dlmsFields...), manifest.GridColumns...))
	again, bad, err = manifest.Read(strings.NewReader(out))
	if err != nil || len(bad) != 0 || len(again) != 4 || again[3].Transformer != "TR-1" || again[3].Substation != "SS-1" {
		t.Fatalf("row filled by name: %v %v %+v", err, bad, again)
	}
	// Not named, they stay out of the file.
	head, _, _ := strings.Cut(write(dlmsFields), "\n")
	for _, c := range manifest.GridColumns {
		if strings.Contains(head, ","+c+",") || strings.HasSuffix(head, ","+c) {
			t.Fatalf("column %s written unasked: %s", c, head)
		}
	}
}

func TestGridColumnErrors(t *testing.T) {
	for _, c := range []struct{ grid, column string }{
		{"SS-1,FD-1,TR-1,4,,", "phase"},
		{"SS-1,FD-1,TR-1,x,,", "phase"},
		{"SS-1,FD-1,TR-1,,95,", "lat"},
		{"SS-1,FD-1,TR-1,,,181", "lon"},
		{"SS-1,FD-1,TR-1,,NaN,", "lat"},
		{",FD-1,TR-1,,,", "feeder"},
		{"SS-1,,TR-1,,,", "substation"},
		{"SS-1,FD-1,,,,", "feeder"},
		{"SS-\x01,FD-1,TR-1,,,", "substation"},
	} {
		rows, bad, err := manifest.Read(strings.NewReader(gridHeader + gridRow("1", c.grid) + gridRow("2", "SS-1,FD-1,TR-1,1,,")))
		if err != nil || len(rows) != 1 || len(bad) != 1 || bad[0].Line != 2 || bad[0].Column != c.column {
			t.Errorf("%q: %v, %d rows, bad %v; want line 2 refused at column %s", c.grid, err, len(rows), bad, c.column)
		}
	}
}
