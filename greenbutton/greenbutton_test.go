package greenbutton

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests must not depend on the host's zoneinfo

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/testenv"
)

// schemaPath is the ESPI schema in the shared test data beside the
// repository.
func schemaPath(t testing.TB) string {
	t.Helper()
	return testenv.Shared(t, "espi/usage.xsd")
}

// validate checks doc against the ESPI schema with xmllint.
func validate(t *testing.T, doc []byte) {
	t.Helper()
	xsd := schemaPath(t)
	if _, err := exec.LookPath("xmllint"); err != nil {
		testenv.Service(t, "xmllint (Debian's libxml2-utils)", err)
	}
	f := filepath.Join(t.TempDir(), "export.xml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--nonet", "--noout", "--schema", xsd, f).CombinedOutput()
	if err != nil {
		t.Fatalf("the export does not validate against %s: %v\n%s", xsd, err, out)
	}
}

func load(t testing.TB, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// makeDay is a full day of quarter hours valued base+i%7, all valid.
func makeDay(rt cim.ReadingType, date cim.Date, loc *time.Location, base int64) interval.Day {
	n := date.Intervals(loc, rt.Interval)
	d := interval.Day{MeterID: "E-1", Channel: rt.ID, Date: date, Start: date.Start(loc), Interval: rt.Interval,
		Values: make([]int64, n), Quality: make([]cim.Quality, n), Version: 1, Source: interval.SourceMeter}
	for i := range d.Values {
		d.Values[i] = base + int64(i%7)
	}
	return d
}

var (
	normalDay = cim.Date{Year: 2026, Month: time.March, Day: 28}
	springDay = cim.Date{Year: 2026, Month: time.March, Day: 29}
	autumnDay = cim.Date{Year: 2026, Month: time.October, Day: 25}
)

const awkwardName = `Flat 3 <rear> & "garden" 'shed'`

// amsterdam is a prosumer over a normal day and both DST days, with
// estimated, edited, suspect and missing intervals.
func amsterdam(t testing.TB) Export {
	loc := load(t, "Europe/Amsterdam")
	var imp, exp []interval.Day
	for _, d := range []cim.Date{normalDay, springDay, autumnDay} {
		imp = append(imp, makeDay(cim.EnergyImport15m, d, loc, 100))
		exp = append(exp, makeDay(cim.EnergyExport15m, d, loc, 20))
	}
	imp[0].Quality[4] = cim.QualityEstimated
	imp[0].Quality[5] = cim.QualityEdited
	imp[0].Quality[6] = cim.QualitySuspect | cim.QualityPowerDown
	imp[1].Quality[10] = cim.QualityMissing
	imp[1].Values[10] = 0
	imp[2].Quality[9] = cim.QualityMissing | cim.QualityPowerDown
	imp[2].Values[9] = 999 // a stale value behind a missing flag must not leak
	exp[2].Quality[12] = cim.QualityEstimated
	exp[2].Quality[13] = cim.QualityMissing
	return Export{
		UsagePoint: cim.UsagePoint{MRID: "UP-1", Name: awkwardName, ServiceCategory: cim.CommodityElectricity, TimeZone: "Europe/Amsterdam"},
		Channels:   []Channel{{cim.EnergyImport15m, imp}, {cim.EnergyExport15m, exp}},
		Updated:    time.Date(2026, 11, 24, 8, 30, 0, 0, time.UTC),
		Self:       "https://ami.example/api/v1/espi",
	}
}

// feed is the export read back.
type feed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Links   []link   `xml:"link"`
	Entries []struct {
		ID        string `xml:"id"`
		Title     string `xml:"title"`
		Links     []link `xml:"link"`
		Published string `xml:"published"`
		Updated   string `xml:"updated"`
		Content   struct {
			UsagePoint *struct {
				Kind *int `xml:"ServiceCategory>kind"`
			} `xml:"http://naesb.org/espi UsagePoint"`
			LTP *struct {
				DSTEndRule   string `xml:"dstEndRule"`
				DSTOffset    int64  `xml:"dstOffset"`
				DSTStartRule string `xml:"dstStartRule"`
				TZOffset     int64  `xml:"tzOffset"`
			} `xml:"http://naesb.org/espi LocalTimeParameters"`
			MeterReading *struct{}    `xml:"http://naesb.org/espi MeterReading"`
			ReadingType  *readingType `xml:"http://naesb.org/espi ReadingType"`
			Block        *struct {
				Duration int64 `xml:"interval>duration"`
				Start    int64 `xml:"interval>start"`
				Readings []struct {
					Quality  []int `xml:"ReadingQuality>quality"`
					Duration int64 `xml:"timePeriod>duration"`
					Start    int64 `xml:"timePeriod>start"`
					Value    int64 `xml:"value"`
				} `xml:"IntervalReading"`
			} `xml:"http://naesb.org/espi IntervalBlock"`
		} `xml:"content"`
	} `xml:"entry"`
}

func writeXML(t testing.TB, e Export) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteXML(&buf, e); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func parse(t testing.TB, doc []byte) feed {
	t.Helper()
	var f feed
	if err := xml.Unmarshal(doc, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestXMLValidatesAndCarriesEveryReading(t *testing.T) {
	e := amsterdam(t)
	doc := writeXML(t, e)
	validate(t, doc)
	f := parse(t, doc)

	// The blocks come channel by channel in day order; the block's self
	// link says which channel it belongs to.
	type got struct {
		n, sum int
		starts []int64
		qual   map[int64][]int
	}
	perChannel := map[string]*got{}
	var blocks, ltps, ups, mrs, rts int
	for _, en := range f.Entries {
		c := en.Content
		switch {
		case c.UsagePoint != nil:
			ups++
			if c.UsagePoint.Kind == nil || *c.UsagePoint.Kind != 0 {
				t.Errorf("usage point service kind %v, want 0 (electricity)", c.UsagePoint.Kind)
			}
			if en.Title != awkwardName {
				t.Errorf("usage point title %q, want %q", en.Title, awkwardName)
			}
		case c.LTP != nil:
			ltps++
			if c.LTP.TZOffset != 3600 || c.LTP.DSTOffset != 3600 {
				t.Errorf("Amsterdam tzOffset %d dstOffset %d, want 3600 and 3600", c.LTP.TZOffset, c.LTP.DSTOffset)
			}
			// The last Sunday of March at 02:00, of October at 03:00.
			if c.LTP.DSTStartRule != "3E0E2000" || c.LTP.DSTEndRule != "AE0E3000" {
				t.Errorf("Amsterdam DST rules start %s end %s, want 3E0E2000 and AE0E3000", c.LTP.DSTStartRule, c.LTP.DSTEndRule)
			}
		case c.MeterReading != nil:
			mrs++
		case c.ReadingType != nil:
			rts++
			rt := *c.ReadingType
			flow := 1
			if strings.HasPrefix(en.Title, "Energy received") {
				flow = 19
			}
			want := readingType{AccumulationBehaviour: 4, Commodity: 1, FlowDirection: flow, IntervalLength: 900, Kind: 12, UOM: 72}
			if rt != want {
				t.Errorf("reading type %q: %+v, want %+v", en.Title, rt, want)
			}
		case c.Block != nil:
			blocks++
			ch := ""
			for _, l := range en.Links {
				if l.Rel == "self" {
					ch = strings.Split(l.Href, "/MeterReading/")[1][:5]
				}
			}
			g := perChannel[ch]
			if g == nil {
				g = &got{qual: map[int64][]int{}}
				perChannel[ch] = g
			}
			for _, r := range c.Block.Readings {
				if r.Duration != 900 {
					t.Errorf("reading at %d lasts %d s", r.Start, r.Duration)
				}
				if r.Start < c.Block.Start || r.Start+r.Duration > c.Block.Start+c.Block.Duration {
					t.Errorf("reading at %d outside its block [%d, +%d)", r.Start, c.Block.Start, c.Block.Duration)
				}
				g.n++
				g.sum += int(r.Value)
				g.starts = append(g.starts, r.Start)
				if len(r.Quality) > 0 {
					g.qual[r.Start] = r.Quality
				}
			}
		}
	}
	if ups != 1 || ltps != 1 || mrs != 2 || rts != 2 || blocks != 6 {
		t.Fatalf("%d usage points, %d time parameters, %d meter readings, %d reading types, %d blocks; want 1, 1, 2, 2, 6",
			ups, ltps, mrs, rts, blocks)
	}

	for _, ch := range e.Channels {
		g := perChannel[ch.ReadingType.ID]
		if g == nil {
			t.Fatalf("no blocks for %s", ch.ReadingType.ID)
		}
		n, sum := 0, 0
		var starts []int64
		for _, d := range ch.Days {
			for i, v := range d.Values {
				if d.Quality[i]&cim.QualityMissing == 0 {
					n++
					sum += int(v)
					starts = append(starts, d.Start.Unix()+int64(i)*900)
				}
			}
		}
		if g.n != n || g.sum != sum {
			t.Errorf("%s: %d readings summing %d, want %d summing %d", ch.ReadingType.ID, g.n, g.sum, n, sum)
		}
		if fmt.Sprint(g.starts) != fmt.Sprint(starts) {
			t.Errorf("%s: reading starts differ from the intervals'", ch.ReadingType.ID)
		}
	}
	if n := perChannel["A+15m"].n; n != 96+92+100-2 {
		t.Errorf("%d import readings, want %d: the DST days are 92 and 100 long and two intervals are missing", n, 96+92+100-2)
	}

	// The epoch seconds, worked out without the zone: Amsterdam's days
	// begin at 23:00 UTC in winter and 22:00 UTC in summer.
	utc := func(y int, m time.Month, d, h, min int) int64 {
		return time.Date(y, m, d, h, min, 0, 0, time.UTC).Unix()
	}
	imp := perChannel["A+15m"]
	for _, c := range []struct {
		what string
		at   int64
		want []int
	}{
		{"estimated", utc(2026, 3, 27, 23, 60), []int{8}},
		{"edited", utc(2026, 3, 27, 23, 75), []int{7}},
		{"suspect", utc(2026, 3, 27, 23, 90), []int{10}},
	} {
		if fmt.Sprint(imp.qual[c.at]) != fmt.Sprint(c.want) {
			t.Errorf("%s interval at %d: quality %v, want %v", c.what, c.at, imp.qual[c.at], c.want)
		}
	}
	if len(imp.qual) != 3 {
		t.Errorf("import qualities %v: only the estimated, edited and suspect intervals carry one", imp.qual)
	}
	if q := perChannel["A-15m"].qual[utc(2026, 10, 24, 22, 12*15)]; fmt.Sprint(q) != "[8]" {
		t.Errorf("export estimate in the autumn night: quality %v", q)
	}
	for _, s := range []struct {
		at      int64
		present bool
	}{
		{utc(2026, 3, 28, 23, 0), true},             // the spring day's first quarter hour
		{utc(2026, 3, 28, 23, 10*15), false},        // its missing interval
		{utc(2026, 10, 24, 22, 0), true},            // the autumn day's first
		{utc(2026, 10, 24, 22, 9*15), false},        // 02:15 CEST, missing
		{utc(2026, 10, 24, 22, 13*15), true},        // 02:15 CET, an hour later
		{utc(2026, 10, 24, 22, 99*15), true},        // the autumn day's last
		{utc(2026, 10, 24, 22, 100*15), false},      // is not followed by a 101st
		{utc(2026, 3, 28, 23, 92*15), false},        // nor the spring day's 92nd by a 93rd
		{utc(2026, 3, 28, 23, 91*15), true},         // which is there
		{utc(2026, 3, 27, 23, 95*15), true},         // the normal day's 96th
		{utc(2026, 3, 27, 23, 96*15), true},         // is followed by the spring day's first
		{utc(2026, 10, 25, 23, 0) - 900*101, false}, // nothing before the autumn day in October
	} {
		found := false
		for _, v := range imp.starts {
			found = found || v == s.at
		}
		if found != s.present {
			t.Errorf("import reading at %s present %v, want %v", time.Unix(s.at, 0).UTC(), found, s.present)
		}
	}
}

// TestLinksResolve follows every related and up link the way an ESPI
// client rebuilds the tree: each related link names an entry or a
// collection of entries in the same feed.
func TestLinksResolve(t *testing.T) {
	f := parse(t, writeXML(t, amsterdam(t)))
	selfs := map[string]bool{}
	ids := map[string]bool{}
	for _, en := range f.Entries {
		if !strings.HasPrefix(en.ID, "urn:uuid:") || ids[en.ID] {
			t.Errorf("entry id %q is not a fresh urn:uuid", en.ID)
		}
		ids[en.ID] = true
		for _, l := range en.Links {
			if l.Rel == "self" {
				selfs[l.Href] = true
			}
		}
	}
	for _, en := range f.Entries {
		rels := 0
		for _, l := range en.Links {
			if !strings.HasPrefix(l.Href, "https://ami.example/api/v1/espi/") {
				t.Errorf("link %s is not under Self", l.Href)
			}
			switch l.Rel {
			case "related", "up":
				rels++
				found := selfs[l.Href]
				for s := range selfs {
					found = found || strings.HasPrefix(s, l.Href+"/")
				}
				if !found {
					t.Errorf("%q: %s link %s leads nowhere in the feed", en.Title, l.Rel, l.Href)
				}
			}
		}
		if rels == 0 {
			t.Errorf("%q has no up link", en.Title)
		}
	}
	if len(f.Links) != 1 || f.Links[0].Rel != "self" {
		t.Errorf("feed links %+v", f.Links)
	}
}

func TestAwkwardNamesSurvive(t *testing.T) {
	e := amsterdam(t)
	e.UsagePoint.MRID = `UP<&"1'/ü`
	e.UsagePoint.Name = awkwardName + " \x01 ünïcode"
	e.Self = `https://ami.example/a&b/`
	doc := writeXML(t, e)
	validate(t, doc)
	f := parse(t, doc)
	if want := "Green Button data of " + awkwardName + " \uFFFD ünïcode"; f.Title != want {
		t.Errorf("feed title %q, want %q", f.Title, want)
	}
	if f.Entries[0].Links[0].Href != "https://ami.example/a&b/UsagePoint/UP%3C&%221%27%2F%C3%BC" {
		t.Errorf("usage point link %q", f.Entries[0].Links[0].Href)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, e); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[1][0] != e.UsagePoint.MRID {
		t.Errorf("CSV usage point %q, want %q", rows[1][0], e.UsagePoint.MRID)
	}
}

func TestZonesWithoutDST(t *testing.T) {
	for _, c := range []struct {
		zone string
		tz   int64
	}{{"Asia/Tokyo", 9 * 3600}, {"UTC", 0}, {"", 0}, {"America/Phoenix", -7 * 3600}} {
		t.Run(cmp.Or(c.zone, "unset"), func(t *testing.T) {
			loc := load(t, c.zone)
			e := Export{
				UsagePoint: cim.UsagePoint{MRID: "UP-" + c.zone, TimeZone: c.zone, ServiceCategory: cim.CommodityElectricity},
				Channels:   []Channel{{cim.EnergyImport15m, []interval.Day{makeDay(cim.EnergyImport15m, springDay, loc, 5)}}},
				Updated:    time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
			}
			doc := writeXML(t, e)
			validate(t, doc)
			f := parse(t, doc)
			for _, en := range f.Entries {
				if ltp := en.Content.LTP; ltp != nil {
					if ltp.TZOffset != c.tz || ltp.DSTOffset != 0 || ltp.DSTStartRule != "00000000" || ltp.DSTEndRule != "00000000" {
						t.Errorf("local time parameters %+v, want tzOffset %d and no DST", *ltp, c.tz)
					}
				}
				if b := en.Content.Block; b != nil && len(b.Readings) != 96 {
					t.Errorf("%d readings on a day without DST", len(b.Readings))
				}
				for _, l := range en.Links {
					if !strings.HasPrefix(l.Href, "/espi/") {
						t.Errorf("with no Self the links are relative to /espi: %s", l.Href)
					}
				}
			}
		})
	}
}

// decodeRule applies an ESPI DST rule to a year and returns the instant
// it names, reading the wall clock in the offset before the change.
func decodeRule(t *testing.T, hex string, year, offsetBefore int) time.Time {
	t.Helper()
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil {
		t.Fatal(err)
	}
	secs, hour := int(v&0xFFF), int(v>>12&0x1F)
	weekday, dom, op, month := int(v>>17&7), int(v>>20&0x1F), int(v>>25&7), time.Month(v>>28)
	if dom != 0 || weekday == 0 || op < 2 {
		t.Fatalf("rule %s: day of month %d, weekday %d, operator %d", hex, dom, weekday, op)
	}
	var day int
	if op == 7 {
		for day = daysIn(month, year); isoWeekday(year, month, day) != weekday; day-- {
		}
	} else {
		for day = 1; isoWeekday(year, month, day) != weekday; day++ {
		}
		day += 7 * (op - 2)
	}
	wall := time.Date(year, month, day, hour, 0, secs, 0, time.UTC)
	return wall.Add(-time.Duration(offsetBefore) * time.Second)
}

func isoWeekday(y int, m time.Month, d int) int {
	wd := int(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday())
	if wd == 0 {
		return 7
	}
	return wd
}

// TestDSTRulesNameTheRealChanges decodes the rules the way a Green Button
// reader would and checks they land on the zone's actual transitions.
func TestDSTRulesNameTheRealChanges(t *testing.T) {
	for _, c := range []struct {
		zone       string
		year       int
		tz, dst    int64
		start, end string // empty: only checked by decoding
	}{
		{"Europe/Amsterdam", 2026, 3600, 3600, "3E0E2000", "AE0E3000"},
		{"America/New_York", 2026, -5 * 3600, 3600, "360E2000", "B40E2000"},
		{"Europe/Dublin", 2026, 0, 3600, "3E0E1000", "AE0E2000"},
		{"Australia/Sydney", 2026, 10 * 3600, 3600, "A40E2000", "440E3000"},
		{"Australia/Lord_Howe", 2026, 10*3600 + 1800, 1800, "", ""},
		{"Asia/Jerusalem", 2026, 2 * 3600, 3600, "", ""},
		{"America/Santiago", 2026, -4 * 3600, 3600, "", ""},
		{"Pacific/Chatham", 2025, 12*3600 + 45*60, 3600, "", ""},
		{"Europe/London", 2024, 0, 3600, "", ""},
		{"America/Havana", 2027, -5 * 3600, 3600, "", ""},
	} {
		t.Run(c.zone, func(t *testing.T) {
			loc := load(t, c.zone)
			p := localTimeParameters(loc, c.year)
			start, _ := p.DSTStartRule.MarshalText()
			end, _ := p.DSTEndRule.MarshalText()
			if p.TZOffset != c.tz || p.DSTOffset != c.dst {
				t.Errorf("tzOffset %d dstOffset %d, want %d and %d", p.TZOffset, p.DSTOffset, c.tz, c.dst)
			}
			if c.start != "" && (string(start) != c.start || string(end) != c.end) {
				t.Errorf("rules start %s end %s, want %s and %s", start, end, c.start, c.end)
			}
			for _, r := range []struct {
				rule   string
				before int
				after  int
			}{
				{string(start), int(p.TZOffset), int(p.TZOffset + p.DSTOffset)},
				{string(end), int(p.TZOffset + p.DSTOffset), int(p.TZOffset)},
			} {
				at := decodeRule(t, r.rule, c.year, r.before)
				_, before := at.Add(-time.Second).In(loc).Zone()
				_, after := at.In(loc).Zone()
				if before != r.before || after != r.after {
					t.Errorf("rule %s decodes to %s, where the offset goes %d → %d, not %d → %d",
						r.rule, at, before, after, r.before, r.after)
				}
			}
		})
	}
}

func TestCSV(t *testing.T) {
	e := amsterdam(t)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, e); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "usage_point,meter,reading_type,start_utc,end_utc,start_local,value,unit,quality" {
		t.Fatalf("header %q", rows[0])
	}
	rows = rows[1:]
	perDay := 96 + 92 + 100
	if len(rows) != 2*perDay {
		t.Fatalf("%d rows, want %d: every interval of 96+92+100 per channel", len(rows), 2*perDay)
	}
	col := func(r []string, name string) string {
		for i, h := range csvHeader {
			if h == name {
				return r[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	spring, autumn := rows[96:96+92], rows[96+92:perDay]
	for _, c := range []struct {
		row             []string
		local, utc, end string
	}{
		{rows[0], "2026-03-28T00:00:00+01:00", "2026-03-27T23:00:00Z", "2026-03-27T23:15:00Z"},
		{spring[7], "2026-03-29T01:45:00+01:00", "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z"},
		{spring[8], "2026-03-29T03:00:00+02:00", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"},
		{spring[91], "2026-03-29T23:45:00+02:00", "2026-03-29T21:45:00Z", "2026-03-29T22:00:00Z"},
		{autumn[8], "2026-10-25T02:00:00+02:00", "2026-10-25T00:00:00Z", "2026-10-25T00:15:00Z"},
		{autumn[12], "2026-10-25T02:00:00+01:00", "2026-10-25T01:00:00Z", "2026-10-25T01:15:00Z"},
		{autumn[99], "2026-10-25T23:45:00+01:00", "2026-10-25T22:45:00Z", "2026-10-25T23:00:00Z"},
	} {
		if got := [3]string{col(c.row, "start_local"), col(c.row, "start_utc"), col(c.row, "end_utc")}; got != [3]string{c.local, c.utc, c.end} {
			t.Errorf("row %v: want local %s, %s to %s", c.row, c.local, c.utc, c.end)
		}
	}
	for _, day := range [][][]string{rows[:96], spring, autumn} {
		for i := 1; i < len(day); i++ {
			if col(day[i], "start_utc") != col(day[i-1], "end_utc") {
				t.Fatalf("%v starts where %v does not end", day[i], day[i-1])
			}
		}
	}
	for _, c := range []struct {
		row            []string
		value, quality string
	}{
		{rows[3], "103", "valid"},
		{rows[4], "104", "estimated"},
		{rows[5], "105", "edited"},
		{rows[6], "106", "suspect|power-down"},
		{spring[10], "", "missing"},
		{autumn[9], "", "missing|power-down"},
		{rows[perDay+96+92+13], "", "missing"},
	} {
		if col(c.row, "value") != c.value || col(c.row, "quality") != c.quality {
			t.Errorf("row %v: want value %q quality %q", c.row, c.value, c.quality)
		}
	}
	missing := 0
	for _, r := range rows {
		if col(r, "value") == "" {
			missing++
			if !strings.HasPrefix(col(r, "quality"), "missing") {
				t.Errorf("row %v has no value but is not missing", r)
			}
		}
		if col(r, "unit") != "Wh" || col(r, "meter") != "E-1" || col(r, "usage_point") != "UP-1" {
			t.Errorf("row %v", r)
		}
	}
	if missing != 3 {
		t.Errorf("%d rows without a value, want the 3 missing intervals", missing)
	}
	if rows[0][2] != "A+15m" || rows[perDay][2] != "A-15m" {
		t.Errorf("channels in rows %v and %v", rows[0], rows[perDay])
	}
}

func TestGasInScaledUnits(t *testing.T) {
	loc := load(t, "Europe/Amsterdam")
	rt := cim.ReadingType{ID: "G1h", Commodity: cim.CommodityGas, MeasuredQuantity: cim.QuantityVolume,
		FlowDirection: cim.FlowForward, Interval: time.Hour, Unit: cim.UnitM3, Multiplier: -3}
	e := Export{
		UsagePoint: cim.UsagePoint{MRID: "UP-G", ServiceCategory: cim.CommodityGas, TimeZone: "Europe/Amsterdam"},
		Channels:   []Channel{{rt, []interval.Day{makeDay(rt, autumnDay, loc, 250)}}},
		Updated:    time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC),
	}
	doc := writeXML(t, e)
	validate(t, doc)
	f := parse(t, doc)
	for _, en := range f.Entries {
		if up := en.Content.UsagePoint; up != nil && (up.Kind == nil || *up.Kind != 1) {
			t.Errorf("gas service kind %v, want 1", up.Kind)
		}
		if got := en.Content.ReadingType; got != nil {
			want := readingType{AccumulationBehaviour: 4, Commodity: 7, FlowDirection: 1, IntervalLength: 3600, Kind: 58, PowerOfTenMultiplier: -3, UOM: 42}
			if *got != want {
				t.Errorf("gas reading type %+v, want %+v", *got, want)
			}
		}
		if b := en.Content.Block; b != nil && (len(b.Readings) != 25 || b.Duration != 25*3600) {
			t.Errorf("autumn day of hours: %d readings over %d s, want 25 over 25 h", len(b.Readings), b.Duration)
		}
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, e); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), ",250,10^-3 m3,valid\n") {
		t.Errorf("gas CSV unit: %s", strings.SplitN(buf.String(), "\n", 3)[1])
	}
	e.Channels[0].ReadingType = cim.EnergyImport15m
	e.Channels[0].ReadingType.Multiplier = 3
	e.Channels[0].Days = []interval.Day{makeDay(e.Channels[0].ReadingType, autumnDay, loc, 1)}
	buf.Reset()
	if err := WriteCSV(&buf, e); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), ",1,kWh,valid\n") {
		t.Errorf("kWh CSV unit: %s", strings.SplitN(buf.String(), "\n", 3)[1])
	}
}

func TestDeterministic(t *testing.T) {
	a, b := writeXML(t, amsterdam(t)), writeXML(t, amsterdam(t))
	if !bytes.Equal(a, b) {
		t.Error("two XML exports of the same data differ")
	}
	var c1, c2 bytes.Buffer
	if err := WriteCSV(&c1, amsterdam(t)); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSV(&c2, amsterdam(t)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c1.Bytes(), c2.Bytes()) {
		t.Error("two CSV exports of the same data differ")
	}

	// Ids name the resource, not where it is served from or when.
	e := amsterdam(t)
	e.Self = "/elsewhere"
	e.Updated = e.Updated.Add(time.Hour)
	fa, fb := parse(t, a), parse(t, writeXML(t, e))
	if fa.ID != fb.ID {
		t.Error("the feed id depends on Self or Updated")
	}
	for i := range fa.Entries {
		if fa.Entries[i].ID != fb.Entries[i].ID {
			t.Errorf("entry %q: id depends on Self or Updated", fa.Entries[i].Title)
		}
	}
	other := amsterdam(t)
	other.UsagePoint.MRID = "UP-2"
	if parse(t, writeXML(t, other)).Entries[0].ID == fa.Entries[0].ID {
		t.Error("two usage points share an id")
	}
}

func TestRejectsBeforeWriting(t *testing.T) {
	for name, spoil := range map[string]func(*Export){
		"no mRID":          func(e *Export) { e.UsagePoint.MRID = "" },
		"unknown zone":     func(e *Export) { e.UsagePoint.TimeZone = "Mars/Olympus_Mons" },
		"no updated":       func(e *Export) { e.Updated = time.Time{} },
		"interval":         func(e *Export) { e.Channels[0].Days[1].Interval = time.Hour },
		"lengths":          func(e *Export) { e.Channels[0].Days[1].Quality = e.Channels[0].Days[1].Quality[1:] },
		"order":            func(e *Export) { d := e.Channels[1].Days; d[0], d[1] = d[1], d[0] },
		"repeated day":     func(e *Export) { e.Channels[1].Days[1] = e.Channels[1].Days[0] },
		"other channel":    func(e *Export) { e.Channels[0].Days[2].Channel = "A-15m" },
		"repeated channel": func(e *Export) { e.Channels[1] = e.Channels[0] },
		"48 bits":          func(e *Export) { e.Channels[1].Days[2].Values[50] = 1 << 50 },
		"register":         func(e *Export) { e.Channels[0].ReadingType = cim.EnergyImportRegister },
		"unit":             func(e *Export) { e.Channels[0].ReadingType.Unit = 200 },
	} {
		t.Run(name, func(t *testing.T) {
			e := amsterdam(t)
			spoil(&e)
			var buf bytes.Buffer
			err := WriteXML(&buf, e)
			if err == nil || buf.Len() != 0 {
				t.Errorf("WriteXML: error %v after %d bytes, want an error before any", err, buf.Len())
			}
			if name == "no updated" {
				if !errors.Is(err, errNoUpdated) {
					t.Errorf("error %v", err)
				}
				return // the CSV has no use for it
			}
			buf.Reset()
			if err := WriteCSV(&buf, e); err == nil || buf.Len() != 0 {
				t.Errorf("WriteCSV: error %v after %d bytes, want an error before any", err, buf.Len())
			}
		})
	}
	// A value behind a missing flag is never written, so its size is not
	// checked.
	e := amsterdam(t)
	e.Channels[0].Days[1].Values[10] = 1 << 60
	if err := WriteXML(&bytes.Buffer{}, e); err != nil {
		t.Error(err)
	}
}

// TestCodesMatchTheSchema looks every code this package writes up in the
// schema's enumerations, by the name the schema gives it.
func TestCodesMatchTheSchema(t *testing.T) {
	raw, err := os.ReadFile(schemaPath(t))
	if err != nil {
		t.Fatal(err)
	}
	enums := map[string]map[int]string{} // simple type → value → appinfo
	dec := xml.NewDecoder(bytes.NewReader(raw))
	var typ string
	value := -1
	inAppinfo := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			for _, a := range tok.Attr {
				switch {
				case tok.Name.Local == "simpleType" && a.Name.Local == "name":
					typ = a.Value
					enums[typ] = map[int]string{}
				case tok.Name.Local == "enumeration" && a.Name.Local == "value":
					value, _ = strconv.Atoi(a.Value)
				}
			}
			inAppinfo = tok.Name.Local == "appinfo"
		case xml.CharData:
			if inAppinfo && typ != "" {
				enums[typ][value] = strings.TrimSpace(string(tok))
			}
		case xml.EndElement:
			inAppinfo = false
		}
	}
	check := func(typ string, code int, want string) {
		t.Helper()
		if got := enums[typ][code]; got != want {
			t.Errorf("%s %d is %q in the schema, want %q", typ, code, got, want)
		}
	}
	for u, name := range map[cim.Unit]string{
		cim.UnitNone: "none", cim.UnitA: "A", cim.UnitV: "V", cim.UnitHz: "Hz", cim.UnitM3: "m3", cim.UnitW: "W",
		cim.UnitVA: "VA", cim.UnitVAr: "VAr", cim.UnitWh: "Wh", cim.UnitVAh: "VAh", cim.UnitVArh: "VArh", cim.UnitJ: "J",
	} {
		check("UnitSymbolKind", espiUnits[u], name)
	}
	for q, name := range map[cim.MeasuredQuantity]string{
		cim.QuantityNone: "none", cim.QuantityCurrent: "current", cim.QuantityDemand: "demand", cim.QuantityEnergy: "energy",
		cim.QuantityFreq: "frequency", cim.QuantityPower: "power", cim.QuantityPF: "powerFactor",
		cim.QuantityVoltage: "voltage", cim.QuantityVolume: "volume",
	} {
		check("MeasurementKind", espiKinds[q], name)
	}
	for f, name := range map[cim.FlowDirection]string{
		cim.FlowNone: "none", cim.FlowForward: "forward", cim.FlowReverse: "reverse", cim.FlowNet: "net", cim.FlowTotal: "total",
	} {
		check("FlowDirectionKind", espiFlows[f], name)
	}
	for c, name := range map[cim.Commodity]string{
		cim.CommodityNone: "none", cim.CommodityElectricity: "electricity SecondaryMetered", cim.CommodityGas: "naturalGas",
		cim.CommodityWater: "potableWater", cim.CommodityHeat: "heatingFluid",
	} {
		check("CommodityKind", espiCommodities[c], name)
	}
	for c, name := range map[cim.Commodity]string{
		cim.CommodityElectricity: "electricity", cim.CommodityGas: "gas", cim.CommodityWater: "water", cim.CommodityHeat: "heat",
	} {
		check("ServiceKind", espiServices[c], name)
	}
	check("AccumulationKind", accumulationNone, "none")
	check("AccumulationKind", accumulationBulk, "bulkQuantity")
	check("AccumulationKind", accumulationDelta, "deltaData")
	check("QualityOfReading", qualityEdited, "manually edited")
	check("QualityOfReading", qualityEstimated, "estimated using reference day")
	check("QualityOfReading", qualityQuestionable, "questionable")
}

// BenchmarkWriteXML writes a month of quarter hours of one channel.
func BenchmarkWriteXML(b *testing.B) {
	loc := load(b, "Europe/Amsterdam")
	var days []interval.Day
	for i := range 31 {
		d := makeDay(cim.EnergyImport15m, cim.Date{Year: 2026, Month: time.March, Day: 1}.AddDays(i), loc, 100)
		d.Quality[17] = cim.QualityEstimated
		days = append(days, d)
	}
	e := Export{
		UsagePoint: cim.UsagePoint{MRID: "UP-1", TimeZone: "Europe/Amsterdam"},
		Channels:   []Channel{{cim.EnergyImport15m, days}},
		Updated:    time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := WriteXML(&buf, e); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
