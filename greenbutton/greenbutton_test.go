package greenbutton

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// schema is the ESPI 3.3 schema in the shared test data, read in place.
func schema(t testing.TB) string {
	p := filepath.Join("..", "..", "shared", "testdata", "espi", "usage.xsd")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("the ESPI schema is not at %s (the shared test data sits beside the repository): %v", p, err)
	}
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Fatal("xmllint is missing: install libxml2-utils (scripts/setup.sh does)")
	}
	return p
}

func validate(t *testing.T, doc []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "export.xml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--nonet", "--noout", "--schema", schema(t), f).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
}

func day(meter, ch string, date cim.Date, loc *time.Location, base int64) store.Day {
	n := date.Intervals(loc, 15*time.Minute)
	d := store.Day{MeterID: meter, Channel: ch, Date: date, Start: date.Start(loc), Interval: 15 * time.Minute,
		Values: make([]int64, n), Quality: make([]cim.Quality, n)}
	for i := range d.Values {
		d.Values[i] = base + int64(i%9)
	}
	return d
}

func amsterdamExport(t *testing.T) Export {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	dates := []cim.Date{{Year: 2026, Month: 3, Day: 28}, {Year: 2026, Month: 3, Day: 29}, {Year: 2026, Month: 10, Day: 25}}
	var imp, exp []store.Day
	for _, d := range dates {
		imp = append(imp, day("E1", "A+15m", d, loc, 100))
		exp = append(exp, day("E1", "A-15m", d, loc, 3))
	}
	imp[0].Quality[4] = cim.QualityEstimated
	imp[0].Quality[5] = cim.QualityEdited
	imp[1].Quality[10] = cim.QualityMissing
	imp[2].Quality[11] = cim.QualitySuspect
	return Export{UsagePoint: cim.UsagePoint{MRID: "UP-1", Name: `Flat 3 <rear> & "garden"`, TimeZone: "Europe/Amsterdam"},
		Channels: []Channel{{cim.EnergyImport15m, imp}, {cim.EnergyExport15m, exp}},
		Updated:  time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC), Self: "https://ami.example/api/v1/usage-points/UP-1"}
}

// parsed is what the tests read back.
type parsed struct {
	Entries []struct {
		Title   string `xml:"title"`
		Content struct {
			LTP *struct {
				DstEnd   string `xml:"dstEndRule"`
				DstOff   int    `xml:"dstOffset"`
				DstStart string `xml:"dstStartRule"`
				TZ       int    `xml:"tzOffset"`
			} `xml:"LocalTimeParameters"`
			IB *struct {
				Start    int64 `xml:"interval>start"`
				Readings []struct {
					Quality []int `xml:"ReadingQuality>quality"`
					Start   int64 `xml:"timePeriod>start"`
					Value   int64 `xml:"value"`
				} `xml:"IntervalReading"`
			} `xml:"IntervalBlock"`
			RT *struct {
				Flow int `xml:"flowDirection"`
			} `xml:"ReadingType"`
		} `xml:"content"`
	} `xml:"entry"`
}

func TestGreenButtonValidatesAndKeepsEveryReading(t *testing.T) {
	e := amsterdamExport(t)
	var buf bytes.Buffer
	if err := WriteXML(&buf, e); err != nil {
		t.Fatal(err)
	}
	validate(t, buf.Bytes())
	var p parsed
	if err := xml.Unmarshal(buf.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	sums, counts := map[int]int64{}, map[int]int{}
	blocks := 0
	var quals []int
	for _, en := range p.Entries {
		if ltp := en.Content.LTP; ltp != nil {
			// Last Sunday of March at 02:00 and of October at 03:00.
			if ltp.TZ != 3600 || ltp.DstOff != 3600 || ltp.DstStart != "3E0E2000" || ltp.DstEnd != "AE0E3000" {
				t.Errorf("local time parameters %+v", *ltp)
			}
		}
		if ib := en.Content.IB; ib != nil {
			ch := blocks / 3
			blocks++
			for i, r := range ib.Readings {
				sums[ch] += r.Value
				counts[ch]++
				quals = append(quals, r.Quality...)
				if i == 0 && r.Start != ib.Start {
					t.Errorf("first reading at %d, block at %d", r.Start, ib.Start)
				}
			}
		}
	}
	for k, ch := range e.Channels {
		var sum int64
		n := 0
		for _, d := range ch.Days {
			for i, v := range d.Values {
				if d.Quality[i]&cim.QualityMissing == 0 {
					sum += v
					n++
				}
			}
		}
		if sums[k] != sum || counts[k] != n {
			t.Errorf("channel %s: %d readings summing %d, want %d summing %d", ch.ReadingType.ID, counts[k], sums[k], n, sum)
		}
	}
	if counts[0] != 96+92+100-1 {
		t.Errorf("%d import readings: the DST days are not 92 and 100 long, or the gap was exported", counts[0])
	}
	want := map[int]bool{qualityEstimated: true, qualityEdited: true, qualityFailed: true}
	for _, q := range quals {
		delete(want, q)
	}
	if len(want) > 0 {
		t.Errorf("quality codes missing: %v (got %v)", want, quals)
	}
	if !strings.Contains(buf.String(), "Flat 3 &lt;rear&gt; &amp; &#34;garden&#34;") {
		t.Error("the usage point's name is not escaped")
	}
	var again bytes.Buffer
	WriteXML(&again, e)
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two exports of the same data differ")
	}
}

func TestZonesWithoutDST(t *testing.T) {
	for _, zone := range []string{"Asia/Tokyo", "UTC", ""} {
		loc, _ := time.LoadLocation(zone)
		e := Export{UsagePoint: cim.UsagePoint{MRID: "UP-" + zone, TimeZone: zone, ServiceCategory: cim.CommodityElectricity},
			Channels: []Channel{{cim.EnergyImport15m, []store.Day{day("E", "A+15m", cim.Date{Year: 2026, Month: 6, Day: 1}, loc, 5)}}},
			Updated:  time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)}
		var buf bytes.Buffer
		if err := WriteXML(&buf, e); err != nil {
			t.Fatal(err)
		}
		validate(t, buf.Bytes())
		if !strings.Contains(buf.String(), "<espi:dstEndRule>00000000</espi:dstEndRule><espi:dstOffset>0</espi:dstOffset>") {
			t.Errorf("%q: DST rules set for a zone without DST", zone)
		}
	}
}

func TestCSVShowsGapsAndLocalTime(t *testing.T) {
	e := amsterdamExport(t)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, e); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+2*(96+92+100) {
		t.Fatalf("%d rows", len(rows))
	}
	if strings.Join(rows[0], ",") != "usage_point,meter,reading_type,start_utc,end_utc,start_local,value,unit,quality" {
		t.Fatalf("header %v", rows[0])
	}
	// The spring day: 01:45 local is followed by 03:00 local.
	spring := rows[1+96:]
	if spring[7][5] != "2026-03-29T01:45:00+01:00" || spring[8][5] != "2026-03-29T03:00:00+02:00" {
		t.Errorf("spring change: %s then %s", spring[7][5], spring[8][5])
	}
	if spring[10][6] != "" || spring[10][8] != "missing" {
		t.Errorf("the gap: %v", spring[10])
	}
	if rows[5][8] != "estimated" || rows[6][8] != "edited" || rows[1][7] != "Wh" {
		t.Errorf("quality and unit: %v %v", rows[5], rows[6])
	}
}

func BenchmarkWriteXML(b *testing.B) {
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	var days []store.Day
	for i := range 31 {
		days = append(days, day("E", "A+15m", cim.Date{Year: 2026, Month: 1, Day: 1}.AddDays(i), loc, 100))
	}
	e := Export{UsagePoint: cim.UsagePoint{MRID: "UP", TimeZone: "Europe/Amsterdam"}, Channels: []Channel{{cim.EnergyImport15m, days}},
		Updated: time.Now()}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := WriteXML(&buf, e); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
