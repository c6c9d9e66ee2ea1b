package greenbutton

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/amigo-ami/amigo/cim"
)

const (
	atomNS = "http://www.w3.org/2005/Atom"
	espiNS = "http://naesb.org/espi"
)

// idSpace seeds the name-based (SHA-1, version 5) UUIDs of the feed and its
// entries. Deriving ids from names rather than drawing them at random keeps
// a resource's Atom id stable across downloads, which is how a Green Button
// client recognises data it has already imported.
var idSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/amigo-ami/amigo/greenbutton"))

// entryID names a resource by its usage point and its path below Self, so
// that ids stay the same wherever the feed is served from.
func entryID(mrid, path string) string {
	return "urn:uuid:" + uuid.NewSHA1(idSpace, []byte(mrid+"\x00"+path)).String()
}

// ESPI codes. The CIM enumerations amigo numbers its own types after are
// the ones ESPI uses, but each value is mapped by name all the same: a new
// constant in cim must be looked up in the schema, not passed through.
var (
	espiUnits = map[cim.Unit]int{
		cim.UnitNone: 0, cim.UnitA: 5, cim.UnitV: 29, cim.UnitJ: 31, cim.UnitHz: 33, cim.UnitW: 38,
		cim.UnitM3: 42, cim.UnitVA: 61, cim.UnitVAr: 63, cim.UnitVAh: 71, cim.UnitWh: 72, cim.UnitVArh: 73,
	}
	espiKinds = map[cim.MeasuredQuantity]int{
		cim.QuantityNone: 0, cim.QuantityCurrent: 4, cim.QuantityDemand: 8, cim.QuantityEnergy: 12,
		cim.QuantityFreq: 15, cim.QuantityPower: 37, cim.QuantityPF: 38, cim.QuantityVoltage: 54, cim.QuantityVolume: 58,
	}
	espiFlows = map[cim.FlowDirection]int{
		cim.FlowNone: 0, cim.FlowForward: 1, cim.FlowNet: 4, cim.FlowReverse: 19, cim.FlowTotal: 20,
	}
	espiCommodities = map[cim.Commodity]int{
		cim.CommodityNone: 0, cim.CommodityElectricity: 1, // secondary metered: what the meter itself counts
		cim.CommodityGas: 7, cim.CommodityWater: 9, cim.CommodityHeat: 12,
	}
	// espiServices are UsagePoint ServiceKinds, a shorter list numbered
	// differently from the commodities.
	espiServices = map[cim.Commodity]int{
		cim.CommodityElectricity: 0, cim.CommodityGas: 1, cim.CommodityWater: 2, cim.CommodityHeat: 4,
	}
)

// AccumulationKind codes.
const (
	accumulationNone  = 0 // implied by the unit, e.g. an interval's average power
	accumulationBulk  = 1 // a register's running total
	accumulationDelta = 4 // the interval's own amount: load profile data
)

// QualityOfReading codes.
const (
	qualityEdited       = 7
	qualityEstimated    = 8
	qualityQuestionable = 10
)

// readingQualities maps amigo's quality flags to ESPI's codes, in
// ascending order. ESPI reads a reading without ReadingQuality as valid.
//
// Estimated becomes 8, "estimated using reference day", although amigo's
// estimator interpolates short gaps (9) and fills long ones from like
// days: the flag does not record which method filled an interval, the
// estimates are scaled to the register afterwards, and ESPI has no code
// for "estimated" alone. 8 is the one Green Button readers treat as
// estimated; guessing 9 from the length of a run would invent a fact.
//
// Suspect and the meter's own "data not valid" are 10, questionable. The
// other flags (power down, clock adjusted, overflow, partial) are status
// that explains a reading rather than doubts it, and ESPI has no code for
// them; the CSV keeps them.
func readingQualities(q cim.Quality) []readingQuality {
	var out []readingQuality
	if q&cim.QualityEdited != 0 {
		out = append(out, readingQuality{qualityEdited})
	}
	if q&cim.QualityEstimated != 0 {
		out = append(out, readingQuality{qualityEstimated})
	}
	if q&(cim.QualitySuspect|cim.QualityDataNotValid) != 0 {
		out = append(out, readingQuality{qualityQuestionable})
	}
	return out
}

func espiReadingType(rt cim.ReadingType) (*readingType, error) {
	uom, ok1 := espiUnits[rt.Unit]
	kind, ok2 := espiKinds[rt.MeasuredQuantity]
	flow, ok3 := espiFlows[rt.FlowDirection]
	commodity, ok4 := espiCommodities[rt.Commodity]
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, fmt.Errorf("greenbutton: reading type %q: no ESPI code for unit %v, kind %d, flow %d or commodity %v",
			rt.ID, rt.Unit, rt.MeasuredQuantity, rt.FlowDirection, rt.Commodity)
	}
	acc := accumulationNone
	switch {
	case rt.Accumulation:
		acc = accumulationBulk
	case rt.MeasuredQuantity == cim.QuantityEnergy || rt.MeasuredQuantity == cim.QuantityVolume:
		acc = accumulationDelta
	}
	return &readingType{
		AccumulationBehaviour: acc,
		Commodity:             commodity,
		FlowDirection:         flow,
		IntervalLength:        int64(rt.Interval / time.Second),
		Kind:                  kind,
		PowerOfTenMultiplier:  int(rt.Multiplier),
		UOM:                   uom,
	}, nil
}

// The structs below follow the schema's sequences field by field:
// encoding/xml writes fields in declaration order, and the schema rejects
// any other order.

type link struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
}

type entry struct {
	XMLName   xml.Name `xml:"entry"`
	ID        string   `xml:"id"`
	Links     []link   `xml:"link"`
	Title     string   `xml:"title"`
	Content   content  `xml:"content"`
	Published string   `xml:"published"`
	Updated   string   `xml:"updated"`
}

// content holds exactly one ESPI resource.
type content struct {
	UsagePoint          *usagePoint        `xml:"http://naesb.org/espi UsagePoint"`
	LocalTimeParameters *timeConfiguration `xml:"http://naesb.org/espi LocalTimeParameters"`
	MeterReading        *struct{}          `xml:"http://naesb.org/espi MeterReading"`
	ReadingType         *readingType       `xml:"http://naesb.org/espi ReadingType"`
	IntervalBlock       *intervalBlock     `xml:"http://naesb.org/espi IntervalBlock"`
}

type usagePoint struct {
	ServiceCategory *serviceCategory `xml:"ServiceCategory"`
}

type serviceCategory struct {
	Kind int `xml:"kind"`
}

type timeConfiguration struct {
	DSTEndRule   dstRule `xml:"dstEndRule"`
	DSTOffset    int64   `xml:"dstOffset"`
	DSTStartRule dstRule `xml:"dstStartRule"`
	TZOffset     int64   `xml:"tzOffset"`
}

type readingType struct {
	AccumulationBehaviour int   `xml:"accumulationBehaviour"`
	Commodity             int   `xml:"commodity"`
	FlowDirection         int   `xml:"flowDirection"`
	IntervalLength        int64 `xml:"intervalLength"`
	Kind                  int   `xml:"kind"`
	PowerOfTenMultiplier  int   `xml:"powerOfTenMultiplier"`
	UOM                   int   `xml:"uom"`
}

type intervalBlock struct {
	Interval dateTimeInterval  `xml:"interval"`
	Readings []intervalReading `xml:"IntervalReading"`
}

type intervalReading struct {
	Qualities  []readingQuality `xml:"ReadingQuality"`
	TimePeriod dateTimeInterval `xml:"timePeriod"`
	Value      int64            `xml:"value"`
}

type readingQuality struct {
	Quality int `xml:"quality"`
}

type dateTimeInterval struct {
	Duration int64 `xml:"duration"`
	Start    int64 `xml:"start"`
}

// WriteXML writes the export as a Green Button Atom feed: the usage point,
// its local time parameters, and per channel a MeterReading, its
// ReadingType and one IntervalBlock per day. A missing interval has no
// IntervalReading: ESPI has no way to say "no value" and a zero would be
// read as a measurement.
func WriteXML(w io.Writer, e Export) error {
	loc, err := e.check()
	if err != nil {
		return err
	}
	if e.Updated.IsZero() {
		return errNoUpdated
	}
	base := strings.TrimSuffix(e.Self, "/")
	if base == "" {
		base = "/espi"
	}
	mrid := e.UsagePoint.MRID
	stamp := e.Updated.UTC().Truncate(time.Second).Format(time.RFC3339)
	upPath := "UsagePoint/" + url.PathEscape(mrid)
	zone := loc.String()
	ltpPath := "LocalTimeParameters/" + url.PathEscape(zone)

	bw := bufio.NewWriter(w)
	enc := xml.NewEncoder(bw)
	enc.Indent("", " ")
	put := func(path, title string, c content, links ...link) error {
		return enc.Encode(entry{
			ID:        entryID(mrid, path),
			Links:     links,
			Title:     title,
			Content:   c,
			Published: stamp,
			Updated:   stamp,
		})
	}
	// ESPI types its links by resource: espi-entry/X for one, espi-feed/X
	// for a collection.
	self := func(path, kind string) link { return link{base + "/" + path, "self", "espi-entry/" + kind} }
	up := func(path, kind string) link { return link{base + "/" + path, "up", "espi-feed/" + kind} }
	related := func(path, typ string) link { return link{base + "/" + path, "related", typ} }

	if _, err := bw.WriteString(xml.Header); err != nil {
		return err
	}
	feed := xml.StartElement{Name: xml.Name{Space: atomNS, Local: "feed"}}
	if err := enc.EncodeToken(feed); err != nil {
		return err
	}
	for _, el := range []struct{ name, text string }{
		{"id", entryID(mrid, "Batch/"+upPath)},
		{"title", "Green Button data of " + title(e.UsagePoint)},
		{"updated", stamp},
	} {
		if err := enc.EncodeElement(el.text, xml.StartElement{Name: xml.Name{Local: el.name}}); err != nil {
			return err
		}
	}
	if err := enc.EncodeElement(link{base + "/Batch/" + upPath, "self", "application/atom+xml"},
		xml.StartElement{Name: xml.Name{Local: "link"}}); err != nil {
		return err
	}

	var upc content
	upc.UsagePoint = &usagePoint{}
	if kind, ok := espiServices[e.UsagePoint.ServiceCategory]; ok {
		upc.UsagePoint.ServiceCategory = &serviceCategory{kind}
	}
	if err := put(upPath, title(e.UsagePoint), upc,
		self(upPath, "UsagePoint"), up("UsagePoint", "UsagePoint"),
		related(upPath+"/MeterReading", "espi-feed/MeterReading"),
		related(ltpPath, "espi-entry/LocalTimeParameters")); err != nil {
		return err
	}

	lt := localTimeParameters(loc, e.year(loc))
	if err := put(ltpPath, zone, content{LocalTimeParameters: &lt},
		self(ltpPath, "LocalTimeParameters"), up("LocalTimeParameters", "LocalTimeParameters")); err != nil {
		return err
	}

	for _, ch := range e.Channels {
		rt := ch.ReadingType
		espiRT, _ := espiReadingType(rt) // check has vetted it
		mrPath := upPath + "/MeterReading/" + url.PathEscape(rt.ID)
		rtPath := "ReadingType/" + url.PathEscape(rt.ID)
		ibPath := mrPath + "/IntervalBlock"
		if err := put(mrPath, rt.ID, content{MeterReading: &struct{}{}},
			self(mrPath, "MeterReading"), up(upPath+"/MeterReading", "MeterReading"),
			related(rtPath, "espi-entry/ReadingType"), related(ibPath, "espi-feed/IntervalBlock")); err != nil {
			return err
		}
		if err := put(rtPath, describe(rt), content{ReadingType: espiRT},
			self(rtPath, "ReadingType"), up("ReadingType", "ReadingType")); err != nil {
			return err
		}
		var readings []intervalReading // reused: a block is encoded before the next is built
		for _, d := range ch.Days {
			step := int64(d.Interval / time.Second)
			start := d.Start.Unix()
			readings = readings[:0]
			for i, v := range d.Values {
				q := d.Quality[i]
				if q&cim.QualityMissing != 0 {
					continue
				}
				readings = append(readings, intervalReading{
					Qualities:  readingQualities(q),
					TimePeriod: dateTimeInterval{step, start + int64(i)*step},
					Value:      v,
				})
			}
			path := ibPath + "/" + d.Date.String()
			ib := &intervalBlock{Interval: dateTimeInterval{step * int64(len(d.Values)), start}, Readings: readings}
			if err := put(path, rt.ID+" "+d.Date.String(), content{IntervalBlock: ib},
				self(path, "IntervalBlock"), up(ibPath, "IntervalBlock")); err != nil {
				return err
			}
		}
	}
	if err := enc.EncodeToken(feed.End()); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if _, err := bw.WriteString("\n"); err != nil {
		return err
	}
	return bw.Flush()
}

// year is the one LocalTimeParameters describes: ESPI gives a usage point
// a single set of rules "for the current year", so the year the export
// begins in stands for the period.
func (e Export) year(loc *time.Location) int {
	var first time.Time
	for _, ch := range e.Channels {
		if len(ch.Days) > 0 && (first.IsZero() || ch.Days[0].Start.Before(first)) {
			first = ch.Days[0].Start
		}
	}
	if first.IsZero() {
		first = e.Updated
	}
	return first.In(loc).Year()
}

func title(up cim.UsagePoint) string {
	if up.Name != "" {
		return up.Name
	}
	return up.MRID
}

// describe names a reading type for a person reading the feed, who will
// not know amigo's short ids.
func describe(rt cim.ReadingType) string {
	what := map[cim.MeasuredQuantity]string{
		cim.QuantityEnergy: "Energy", cim.QuantityVolume: "Volume", cim.QuantityPower: "Power",
		cim.QuantityDemand: "Demand", cim.QuantityVoltage: "Voltage", cim.QuantityCurrent: "Current",
	}[rt.MeasuredQuantity]
	if what == "" {
		return rt.ID
	}
	if dir := map[cim.FlowDirection]string{
		cim.FlowForward: "delivered", cim.FlowReverse: "received", cim.FlowNet: "net", cim.FlowTotal: "total",
	}[rt.FlowDirection]; dir != "" {
		what += " " + dir
	}
	return fmt.Sprintf("%s (%s) per %s, %s", what, unitLabel(rt), intervalName(rt.Interval), rt.ID)
}

func intervalName(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(d/time.Second), "second")
}

func plural(n int, unit string) string {
	if n == 1 {
		return unit
	}
	return fmt.Sprint(n, " ", unit, "s")
}

// prefixes are the SI prefixes of ESPI's UnitMultiplierKind.
var prefixes = map[int8]string{-12: "p", -9: "n", -6: "µ", -3: "m", -2: "c", -1: "d", 1: "da", 2: "h", 3: "k", 6: "M", 9: "G", 12: "T"}

// unitLabel is the unit of the exported integers, multiplier included:
// "kWh" for Wh with multiplier 3.
func unitLabel(rt cim.ReadingType) string {
	u := rt.Unit.String()
	if rt.Multiplier == 0 {
		return u
	}
	// A prefix binds before a unit's exponent (mm3 is a cubic millimetre),
	// so units with one get the power of ten spelt out.
	if p, ok := prefixes[rt.Multiplier]; ok && !strings.ContainsAny(u, "0123456789") {
		return p + u
	}
	return fmt.Sprintf("10^%d %s", rt.Multiplier, u)
}
