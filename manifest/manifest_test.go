package manifest_test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/manifest"
)

const header = "meter_id,serial,manufacturer,model,kind,protocol,address,transport,client_sap,authentication,security_policy,system_title,ek,ak,lls_password,usage_point_id,time_zone,segment,region,archetype\n"
const goodRow = "1,AMG10000000001,AMG,AMG-E1,electricity-1p,dlms,tcp://127.0.0.2:4059,wrapper,1,hls-gmac,authenticated-encrypted,414d470000000001,000102030405060708090a0b0c0d0e0f,d0d1d2d3d4d5d6d7d8d9dadbdcdddedf,abc123,UP0000000001,Europe/Amsterdam,cell-0,region-0,family\n"

// row is goodRow as meter id, with a serial of its own.
func row(id string) string {
	return strings.Replace(goodRow, "1,AMG10000000001,", id+",AMG1-"+id+",", 1)
}

// A header with the optional M-Bus columns, an electricity meter and the
// gas meter behind it, which leaves its keys out.
var (
	subHeader = strings.TrimSuffix(header, "\n") + ",parent_meter_id,mbus_channel\n"
	elecRow   = strings.TrimSuffix(goodRow, "\n") + ",,\n"
	gasRow    = "1099511627777,AMG40000000001,AMG,AMG-gas,gas,dlms,tcp://127.0.0.2:4059,wrapper,1,hls-gmac,authenticated-encrypted,,,,,UP0000000001-gas,Europe/Amsterdam,cell-0,region-0,,1,1\n"
)

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
		strings.Replace(row("3"), "000102030405060708090a0b0c0d0e0f", "0001", 1) + // 4: a short key is its driver's to refuse
		strings.Replace(row("4"), "tcp://127.0.0.2:4059", "127.0.0.2", 1) + // 5: bad address
		goodRow + // 6: duplicate
		"1,2,3\n" + // 7: ragged
		row("7") // 8: good
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].MeterID != 1 || rows[1].MeterID != 3 || rows[2].MeterID != 7 || rows[0].Address.Port() != 4059 ||
		rows[0].Fields["ek"] != "000102030405060708090a0b0c0d0e0f" || rows[1].Fields["ek"] != "0001" {
		t.Fatalf("rows %+v", rows)
	}
	want := []struct {
		line   int
		column string
	}{{3, "meter_id"}, {5, "address"}, {6, "meter_id"}, {7, ""}}
	if len(bad) != len(want) {
		t.Fatalf("bad rows %v", bad)
	}
	for i, w := range want {
		if bad[i].Line != w.line || bad[i].Column != w.column || !errors.Is(bad[i], manifest.ErrManifest) {
			t.Errorf("bad[%d] = line %d column %q (%v), want %d %q", i, bad[i].Line, bad[i].Column, bad[i], w.line, w.column)
		}
	}
}

// dlmsFields are the protocol columns of header.
var dlmsFields = []string{"transport", "client_sap", "authentication", "security_policy", "system_title", "ek", "ak", "lls_password"}

func TestWriteReadRoundTrip(t *testing.T) {
	rows, _, err := manifest.Read(strings.NewReader(header + goodRow + row("2")))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := manifest.Write(&buf, dlmsFields, func(yield func(manifest.Row) bool) error {
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
	if err != nil || len(bad) != 0 || len(again) != 2 || again[1].Serial != rows[1].Serial || !maps.Equal(again[1].Fields, rows[1].Fields) {
		t.Fatalf("round trip: %v %v %+v", err, bad, again)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(header + goodRow))
	f.Add([]byte(header))
	f.Add([]byte("meter_id\n1\n"))
	f.Add([]byte(header + "1,\"unterminated\n"))
	f.Add([]byte(subHeader + elecRow + gasRow))
	f.Add([]byte(strings.TrimSuffix(header, "\n") + ",substation,feeder,transformer,phase,lat,lon\n" + strings.TrimSuffix(goodRow, "\n") + ",SS-1,FD-1,TR-1,2,52.1,5.2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, bad, err := manifest.Read(bytes.NewReader(b))
		byID := map[uint64]manifest.Row{}
		for i, r := range rows {
			for k := range r.Fields {
				if slices.Contains(manifest.Columns, k) || slices.Contains(manifest.OptionalColumns, k) {
					t.Fatalf("common column %q among the protocol's fields", k)
				}
			}
			if i > 0 && r.Line <= rows[i-1].Line {
				t.Fatalf("row lines %d then %d", rows[i-1].Line, r.Line)
			}
			if _, dup := byID[r.MeterID]; dup {
				t.Fatalf("meter %d twice", r.MeterID)
			}
			byID[r.MeterID] = r
		}
		for _, r := range rows {
			if p, ok := byID[r.Parent]; r.SubMeter() && (!ok || p.SubMeter() || p.Address != r.Address) {
				t.Fatalf("sub-meter %d kept without its parent %d", r.MeterID, r.Parent)
			}
		}
		for i, e := range bad {
			if e.Line < 2 || !errors.Is(e, manifest.ErrManifest) {
				t.Fatalf("bad row on line %d: %v", e.Line, e)
			}
			if i > 0 && e.Line < bad[i-1].Line {
				t.Fatalf("bad rows out of order: %d then %d", bad[i-1].Line, e.Line)
			}
		}
		if err != nil && !errors.Is(err, manifest.ErrManifest) {
			t.Fatalf("file error %v does not wrap ErrManifest", err)
		}
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
	// The channel is the DLMS driver's column: line 5 is its to refuse.
	if len(rows) != 3 || rows[1].Parent != 1 || rows[1].Fields["mbus_channel"] != "1" || rows[1].Kind != "gas" || rows[2].Line != 5 {
		t.Fatalf("rows %+v", rows)
	}
	want := []struct {
		line   int
		column string
	}{{4, "parent_meter_id"}, {6, "parent_meter_id"}}
	if len(bad) != len(want) {
		t.Fatalf("bad %v", bad)
	}
	for i, w := range want {
		if bad[i].Line != w.line || bad[i].Column != w.column {
			t.Errorf("bad[%d] = %d %q (%v), want %d %q", i, bad[i].Line, bad[i].Column, bad[i], w.line, w.column)
		}
	}
}

// TestSubMeterChecks: a sub-meter may leave its keys out; it must sit at
// its parent's address, behind an electricity meter; serials are unique
// like ids; zones and kinds are known ones.
func TestSubMeterChecks(t *testing.T) {
	sub := func(id, serial, parent, addr string) string {
		r := strings.Replace(gasRow, "1099511627777,AMG40000000001", id+","+serial, 1)
		r = strings.Replace(r, ",1,1\n", ","+parent+",2\n", 1)
		return strings.Replace(r, "127.0.0.2:4059", addr, 1)
	}
	in := subHeader +
		sub("20", "W20", "1", "127.0.0.2:4059") + // 2: water meter before its parent: fine
		elecRow + // 3
		sub("21", "W21", "1", "127.0.0.3:4059") + // 4: not at the parent's address
		sub("22", "W22", "20", "127.0.0.2:4059") + // 5: behind a water meter
		sub("23", "W20", "1", "127.0.0.2:4059") + // 6: serial of line 2
		strings.Replace(sub("24", "W24", "1", "127.0.0.2:4059"), "Europe/Amsterdam", "Europe/Atlantis", 1) + // 7
		strings.Replace(sub("25", "W25", "1", "127.0.0.2:4059"), ",gas,", ",steam,", 1) + // 8
		strings.Replace(strings.Replace(elecRow, "1,AMG10000000001", "26,AMG26", 1), "414d470000000001", "", 1) // 9: its driver's to refuse
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].MeterID != 20 || rows[0].Line != 2 || rows[0].Fields["ek"] != "" || rows[0].Fields["system_title"] != "" ||
		rows[1].MeterID != 1 || rows[2].MeterID != 26 {
		t.Fatalf("rows %+v", rows)
	}
	want := []struct {
		line   int
		column string
	}{{4, "address"}, {5, "parent_meter_id"}, {6, "serial"}, {7, "time_zone"}, {8, "kind"}}
	if len(bad) != len(want) {
		t.Fatalf("bad %v", bad)
	}
	for i, w := range want {
		if bad[i].Line != w.line || bad[i].Column != w.column {
			t.Errorf("bad[%d] = %d %q (%v), want %d %q", i, bad[i].Line, bad[i].Column, bad[i], w.line, w.column)
		}
	}
}

// TestOptionalColumnsAbsent: a file without the M-Bus columns reads, and
// a gas meter in it is refused for want of a parent.
func TestOptionalColumnsAbsent(t *testing.T) {
	gas := strings.TrimSuffix(gasRow, ",1,1\n") + "\n"
	rows, bad, err := manifest.Read(strings.NewReader(header + goodRow + gas))
	if err != nil || len(rows) != 1 || len(bad) != 1 || bad[0].Line != 3 || bad[0].Column != "parent_meter_id" {
		t.Fatalf("rows %+v bad %v err %v", rows, bad, err)
	}
}

// TestFieldBounds: a control character or an overlong field refuses its
// row at its line and column; the rows around it are read.
func TestFieldBounds(t *testing.T) {
	in := header + goodRow +
		strings.Replace(row("2"), "UP0000000001", "UP\x000001", 1) + // 3: NUL in the usage point
		strings.Replace(row("3"), "cell-0", strings.Repeat("c", 200_000), 1) + // 4: a 200,000-character segment
		strings.Replace(row("4"), "AMG-E1", "AMG\x1b[2JE1", 1) + // 5: an escape sequence
		strings.Replace(row("5"), "AMG1-5,", "AMG1-"+strings.Repeat("5", 70)+",", 1) + // 6: a serial over 64 bytes
		strings.Replace(row("6"), "region-0", "r\xffegion", 1) + // 7: not UTF-8
		strings.Replace(row("7"), "family", "Café ☕", 1) // 8: good, UTF-8 text is fine
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Line != 2 || rows[1].Line != 8 || rows[1].Archetype != "Café ☕" {
		t.Fatalf("rows %+v", rows)
	}
	want := []struct {
		line   int
		column string
	}{{3, "usage_point_id"}, {4, "segment"}, {5, "model"}, {6, "serial"}, {7, "region"}}
	if len(bad) != len(want) {
		t.Fatalf("bad %v", bad)
	}
	for i, w := range want {
		if bad[i].Line != w.line || bad[i].Column != w.column {
			t.Errorf("bad %d: %v, want line %d column %s", i, bad[i], w.line, w.column)
		}
	}
}

// TestLineOverLimit: a line longer than MaxLineBytes stops the file with
// its line number, without buffering the rest of it.
func TestLineOverLimit(t *testing.T) {
	in := io.MultiReader(strings.NewReader(header+goodRow+"2,"), endless{})
	_, _, err := manifest.Read(in)
	var re *manifest.RowError
	if !errors.As(err, &re) || re.Line != 3 || !errors.Is(err, manifest.ErrManifest) {
		t.Fatalf("err %v, want line 3", err)
	}
}

// endless is a field that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// TestReaderRowByRow: Next hands out rows as it reads them, bad ones as
// RowErrors, and io.EOF at the end.
func TestReaderRowByRow(t *testing.T) {
	rd, err := manifest.NewReader(strings.NewReader(header + goodRow + row("x") + goodRow + row("4")))
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	var badLines []int
	for {
		r, bad, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if bad != nil {
			badLines = append(badLines, bad.Line)
			continue
		}
		lines = append(lines, r.Line)
	}
	if !slices.Equal(lines, []int{2, 5}) || !slices.Equal(badLines, []int{3, 4}) {
		t.Fatalf("rows at %v, bad at %v", lines, badLines)
	}
	if _, err := manifest.NewReader(strings.NewReader("")); !errors.Is(err, manifest.ErrManifest) {
		t.Fatalf("empty: %v", err)
	}
}

// TestFirmwareColumn: the optional firmware column is read, written and
// bounded; a file without it reads with the firmware empty.
func TestFirmwareColumn(t *testing.T) {
	in := strings.TrimSuffix(header, "\n") + ",firmware\n" + strings.TrimSuffix(goodRow, "\n") + ",XTP-1.07\n" +
		strings.TrimSuffix(row("2"), "\n") + ",bad\x07fw\n"
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil || len(rows) != 1 || rows[0].Firmware != "XTP-1.07" || len(bad) != 1 || bad[0].Column != "firmware" {
		t.Fatalf("rows %+v bad %v err %v", rows, bad, err)
	}
	var buf bytes.Buffer
	if err := manifest.Write(&buf, dlmsFields, func(yield func(manifest.Row) bool) error { yield(rows[0]); return nil }); err != nil {
		t.Fatal(err)
	}
	again, _, err := manifest.Read(&buf)
	if err != nil || len(again) != 1 || again[0].Firmware != "XTP-1.07" {
		t.Fatalf("round trip %+v %v", again, err)
	}
	old, _, err := manifest.Read(strings.NewReader(header + goodRow))
	if err != nil || len(old) != 1 || old[0].Firmware != "" {
		t.Fatalf("without the column: %+v %v", old, err)
	}
}

// TestProtocolColumns: the reader takes any protocol and carries the
// columns it does not know in Fields, for the protocol's driver; Field
// tells a required column absent from the file from an empty one.
func TestProtocolColumns(t *testing.T) {
	in := "meter_id,serial,manufacturer,model,kind,protocol,address,usage_point_id,time_zone,segment,region,archetype,line_token\n" +
		"1,LN1,LNE,L-1,electricity,line,tcp://127.0.0.9:7000,UP1,UTC,cell-0,region-0,,tok-1\n" +
		"2,LN2,LNE,L-1,electricity,line,tcp://127.0.0.9:7001,UP2,UTC,cell-0,region-0,,\n" +
		"3,LN3,LNE,L-1,electricity,,tcp://127.0.0.9:7002,UP3,UTC,cell-0,region-0,,tok-3\n"
	rows, bad, err := manifest.Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Protocol != "line" || rows[0].Fields["line_token"] != "tok-1" || len(rows[0].Fields) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	if len(bad) != 1 || bad[0].Line != 4 || bad[0].Column != "protocol" {
		t.Fatalf("bad %v", bad)
	}
	tok := manifest.Column{Name: "line_token", Required: true, MaxBytes: 5}
	if v, e := rows[0].Field(tok); e != nil || v != "tok-1" {
		t.Fatalf("field %q %v", v, e)
	}
	if v, e := rows[1].Field(tok); e != nil || v != "" {
		t.Fatalf("empty field %q %v", v, e)
	}
	long := rows[0]
	long.Fields = map[string]string{"line_token": "tok-123"}
	if _, e := long.Field(tok); e == nil || e.Column != "line_token" || e.Line != 2 {
		t.Fatalf("over the column's limit: %v", e)
	}
	if _, e := rows[0].Field(manifest.Column{Name: "pin", Required: true}); e == nil || e.Column != "pin" || !errors.Is(e, manifest.ErrManifest) {
		t.Fatalf("missing column: %v", e)
	}
	if v, e := rows[0].Field(manifest.Column{Name: "pin"}); e != nil || v != "" {
		t.Fatalf("optional column absent: %q %v", v, e)
	}
}

// TestStandaloneMBusRows: a gas or water meter read over wired M-Bus from
// the head-end stands alone: no parent, and one named is refused; a DLMS
// gas meter without its parent still is.
func TestStandaloneMBusRows(t *testing.T) {
	head := strings.TrimSuffix(header, "\n") + ",parent_meter_id,mbus_primary\n"
	standalone := strings.TrimSuffix(strings.Replace(strings.Replace(strings.Replace(goodRow, "1,AMG10000000001", "3298534883329,AMG30000001", 1),
		"electricity-1p", "gas", 1), ",dlms,tcp://127.0.0.2:4059,", ",mbus,tcp://127.0.0.2:10001,", 1), "\n") + ",,1\n"
	withParent := strings.Replace(strings.Replace(standalone, "3298534883329,AMG30000001", "3298534883330,AMG30000002", 1), ",,1\n", ",1,1\n", 1)
	dlmsOrphan := strings.TrimSuffix(strings.Replace(strings.Replace(goodRow, "1,AMG10000000001", "1099511627777,AMG40000000001", 1), "electricity-1p", "gas", 1), "\n") + ",,\n"
	rows, bad, err := manifest.Read(strings.NewReader(head + standalone + withParent + dlmsOrphan))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].SubMeter() || rows[0].Parent != 0 || rows[0].Protocol != "mbus" || rows[0].Fields["mbus_primary"] != "1" {
		t.Fatalf("rows %+v", rows)
	}
	if len(bad) != 2 || bad[0].Line != 3 || bad[0].Column != "parent_meter_id" || bad[1].Line != 4 || bad[1].Column != "parent_meter_id" {
		t.Fatalf("bad %v", bad)
	}
}
