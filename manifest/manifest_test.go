package manifest_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/manifest"
)

const header = "meter_id,serial,manufacturer,model,kind,protocol,address,transport,client_sap,authentication,security_policy,system_title,ek,ak,lls_password,usage_point_id,time_zone,segment,region,archetype\n"
const goodRow = "1,AMG10000000001,AMG,AMG-E1,electricity-1p,dlms,tcp://127.0.0.2:4059,wrapper,1,hls-gmac,authenticated-encrypted,414d470000000001,000102030405060708090a0b0c0d0e0f,d0d1d2d3d4d5d6d7d8d9dadbdcdddedf,abc123,UP0000000001,Europe/Amsterdam,cell-0,region-0,family\n"

func row(id string) string { return strings.Replace(goodRow, "1,", id+",", 1) }

func TestFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		column   string
	}{
		{"empty", "", ""},
		{"missing column", "meter_id,serial\n1,x\n", "manufacturer"},
		{"twice", "meter_id,meter_id\n", "meter_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := manifest.Read(strings.NewReader(tc.in))
			var me *manifest.RowError
			if !errors.As(err, &me) || !errors.Is(err, manifest.ErrManifest) {
				t.Fatalf("err %v, want a *RowError", err)
			}
			if me.Line != 1 || me.Column != tc.column {
				t.Errorf("line %d column %q, want 1 %q (%v)", me.Line, me.Column, tc.column, err)
			}
		})
	}
}

// TestBadRowsDoNotStopTheFile: each bad row is reported by line and column
// and the good rows around it are read.
func TestBadRowsDoNotStopTheFile(t *testing.T) {
	in := header + goodRow +
		row("x") + // 3: bad id
		strings.Replace(row("3"), "000102030405060708090a0b0c0d0e0f", "0001", 1) + // 4: short key
		strings.Replace(row("4"), "tcp://127.0.0.2:4059", "127.0.0.2", 1) + // 5: bad address
		goodRow + // 6: duplicate
		"1,2,3\n" + // 7: ragged
		row("7") // 8: good
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].MeterID != 1 || rows[1].MeterID != 7 || rows[0].Address.Port() != 4059 || len(rows[0].EK) != 16 {
		t.Fatalf("rows %+v", rows)
	}
	want := []struct {
		line   int
		column string
	}{{3, "meter_id"}, {4, "ek"}, {5, "address"}, {6, "meter_id"}, {7, ""}}
	if len(bad) != len(want) {
		t.Fatalf("bad rows %v", bad)
	}
	for i, w := range want {
		if bad[i].Line != w.line || bad[i].Column != w.column || !errors.Is(bad[i], manifest.ErrManifest) {
			t.Errorf("bad[%d] = line %d column %q (%v), want %d %q", i, bad[i].Line, bad[i].Column, bad[i], w.line, w.column)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	rows, _, err := manifest.Read(strings.NewReader(header + goodRow + row("2")))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := manifest.Write(&buf, func(yield func(manifest.Row) bool) error {
		for _, r := range rows {
			if !yield(r) {
				break
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	again, bad, err := manifest.Read(&buf)
	if err != nil || len(bad) != 0 || len(again) != 2 || again[1].Serial != rows[1].Serial || !bytes.Equal(again[1].AK, rows[1].AK) {
		t.Fatalf("round trip: %v %v %+v", err, bad, again)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(header + goodRow))
	f.Add([]byte(header))
	f.Add([]byte("meter_id\n1\n"))
	f.Add([]byte(header + "1,\"unterminated\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, bad, err := manifest.Read(bytes.NewReader(b))
		for _, r := range rows {
			if len(r.SystemTitle) != 8 {
				t.Fatalf("system title of %d bytes", len(r.SystemTitle))
			}
		}
		for _, e := range bad {
			if e.Line < 2 {
				t.Fatalf("bad row on line %d", e.Line)
			}
		}
		_ = err
	})
}

// TestSubMeterRows: gas and water meters name their M-Bus parent and
// channel; one whose parent is missing is reported at its own line.
func TestSubMeterRows(t *testing.T) {
	head := strings.TrimSuffix(header, "\n") + ",parent_meter_id,mbus_channel\n"
	elec := strings.TrimSuffix(goodRow, "\n") + ",,\n"
	gas := strings.TrimSuffix(strings.Replace(strings.Replace(goodRow, "1,AMG10000000001", "1099511627777,AMG40000000001", 1), "electricity-1p", "gas", 1), "\n") + ",1,1\n"
	orphan := strings.Replace(gas, "1099511627777,AMG40000000001", "1099511627778,AMG40000000002", 1)
	orphan = strings.Replace(orphan, ",1,1\n", ",5,1\n", 1)
	badCh := strings.Replace(strings.Replace(gas, "1099511627777,AMG40000000001", "1099511627779,AMG40000000003", 1), ",1,1\n", ",1,9\n", 1)
	elecWithParent := strings.Replace(strings.Replace(elec, "1,AMG10000000001", "6,AMG10000000006", 1), ",,\n", ",1,2\n", 1)
	rows, bad, err := manifest.Read(strings.NewReader(head + elec + gas + orphan + badCh + elecWithParent))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1].Parent != 1 || rows[1].Channel != 1 || rows[1].Kind != "gas" {
		t.Fatalf("rows %+v", rows)
	}
	want := []struct {
		line   int
		column string
	}{{4, "parent_meter_id"}, {5, "mbus_channel"}, {6, "parent_meter_id"}}
	if len(bad) != len(want) {
		t.Fatalf("bad %v", bad)
	}
	for i, w := range want {
		if bad[i].Line != w.line || bad[i].Column != w.column {
			t.Errorf("bad[%d] = %d %q (%v), want %d %q", i, bad[i].Line, bad[i].Column, bad[i], w.line, w.column)
		}
	}
}
