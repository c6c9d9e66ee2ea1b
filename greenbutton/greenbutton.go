// Package greenbutton owns the household's copy of its own data: a usage
// point's interval readings written as a Green Button download (an Atom
// feed of NAESB REQ.21 ESPI 3.3 resources) and as CSV. It encodes only;
// the caller reads the store and sets the HTTP headers.
package greenbutton

import (
	"bufio"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// Export is what one download holds.
type Export struct {
	UsagePoint cim.UsagePoint
	Channels   []Channel
	// Updated stamps the feed and its entries.
	Updated time.Time
	// Self is the base of the resource links ("/api/v1/usage-points/X").
	Self string
}

// Channel is one reading type's stored days, in date order.
type Channel struct {
	ReadingType cim.ReadingType
	Days        []store.Day
}

// namespace seeds the name-based UUIDs of the feed's resources, so that
// the same data exported twice carries the same ids.
var namespace = uuid.MustParse("6f1b2c1e-4a57-5d2b-9a51-0a6d1e5c7b42")

func urn(parts ...string) string {
	return "urn:uuid:" + uuid.NewSHA1(namespace, []byte(strings.Join(parts, "/"))).String()
}

// ESPI quality codes (QualityOfReading).
const (
	qualityEdited     = 7  // replaced or approved by a human
	qualityEstimated  = 8  // replaced by a machine value from history
	qualityFailed     = 10 // failed one or more checks
	serviceElectric   = 0
	serviceGas        = 1
	serviceWater      = 2
	serviceHeat       = 4
	accumulationDelta = 4 // deltaData: each value is the interval's own
)

// qualities maps amigo's flags to ESPI codes; a valid reading carries
// none, which ESPI reads as valid.
func qualities(q cim.Quality) []int {
	var out []int
	if q&cim.QualityEdited != 0 {
		out = append(out, qualityEdited)
	}
	if q&cim.QualityEstimated != 0 {
		out = append(out, qualityEstimated)
	}
	if q&(cim.QualitySuspect|cim.QualityDataNotValid|cim.QualityOverflow) != 0 {
		out = append(out, qualityFailed)
	}
	return out
}

func serviceKind(c cim.Commodity) int {
	switch c {
	case cim.CommodityGas:
		return serviceGas
	case cim.CommodityWater:
		return serviceWater
	case cim.CommodityHeat:
		return serviceHeat
	}
	return serviceElectric
}

// xw writes XML text with every string escaped.
type xw struct {
	w   *bufio.Writer
	err error
}

func (x *xw) raw(s string) {
	if x.err == nil {
		_, x.err = x.w.WriteString(s)
	}
}

func (x *xw) text(s string) {
	if x.err == nil {
		x.err = xml.EscapeText(x.w, []byte(s))
	}
}

// el writes <name>text</name>.
func (x *xw) el(name, text string) {
	x.raw("<" + name + ">")
	x.text(text)
	x.raw("</" + name + ">")
}

func (x *xw) link(href, rel, typ string) {
	x.raw(`<link href="`)
	x.text(href)
	x.raw(`" rel="` + rel + `" type="` + typ + `"/>`)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// entry writes one Atom entry around an ESPI resource.
func (x *xw) entry(id, title string, updated time.Time, links [][3]string, content func()) {
	x.raw("<entry>")
	x.el("id", id)
	for _, l := range links {
		x.link(l[0], l[1], l[2])
	}
	x.el("title", title)
	x.raw(`<content type="xml">`)
	content()
	x.raw("</content>")
	x.el("published", stamp(updated))
	x.el("updated", stamp(updated))
	x.raw("</entry>\n")
}

// WriteXML writes the export as a Green Button Atom feed.
func WriteXML(w io.Writer, e Export) error {
	loc, err := e.UsagePoint.Location()
	if err != nil {
		return err
	}
	base := e.Self
	if base == "" {
		base = "/espi"
	}
	up := base + "/UsagePoint/1"
	x := &xw{w: bufio.NewWriter(w)}
	x.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.raw(`<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">` + "\n")
	x.el("id", urn(e.UsagePoint.MRID, "feed"))
	x.link(base+"/espi", "self", "application/atom+xml")
	x.el("title", "Green Button data of usage point "+e.UsagePoint.MRID)
	x.el("updated", stamp(e.Updated))
	x.raw("\n")

	name := e.UsagePoint.Name
	if name == "" {
		name = e.UsagePoint.MRID
	}
	x.entry(urn(e.UsagePoint.MRID, "UsagePoint"), name, e.Updated, [][3]string{
		{up, "self", "espi-entry/UsagePoint"},
		{base + "/UsagePoint", "up", "espi-feed/UsagePoint"},
		{up + "/MeterReading", "related", "espi-feed/MeterReading"},
		{base + "/LocalTimeParameters/1", "related", "espi-entry/LocalTimeParameters"},
	}, func() {
		x.raw("<espi:UsagePoint><espi:ServiceCategory><espi:kind>" + strconv.Itoa(serviceKind(e.UsagePoint.ServiceCategory)) +
			"</espi:kind></espi:ServiceCategory></espi:UsagePoint>")
	})

	year := e.Updated.In(loc).Year()
	if len(e.Channels) > 0 && len(e.Channels[0].Days) > 0 {
		year = e.Channels[0].Days[0].Start.In(loc).Year()
	}
	tz := timeParameters(loc, year)
	x.entry(urn(e.UsagePoint.MRID, "LocalTimeParameters"), "Time zone "+loc.String(), e.Updated, [][3]string{
		{base + "/LocalTimeParameters/1", "self", "espi-entry/LocalTimeParameters"},
		{base + "/LocalTimeParameters", "up", "espi-feed/LocalTimeParameters"},
	}, func() {
		x.raw(fmt.Sprintf("<espi:LocalTimeParameters><espi:dstEndRule>%08X</espi:dstEndRule><espi:dstOffset>%d</espi:dstOffset>"+
			"<espi:dstStartRule>%08X</espi:dstStartRule><espi:tzOffset>%d</espi:tzOffset></espi:LocalTimeParameters>",
			tz.endRule, tz.dstOffset, tz.startRule, tz.tzOffset))
	})

	for k, ch := range e.Channels {
		rt := ch.ReadingType
		n := strconv.Itoa(k + 1)
		mr := up + "/MeterReading/" + n
		rtURL := base + "/ReadingType/" + n
		x.entry(urn(e.UsagePoint.MRID, "MeterReading", rt.ID), "Interval readings "+rt.ID, e.Updated, [][3]string{
			{mr, "self", "espi-entry/MeterReading"},
			{up + "/MeterReading", "up", "espi-feed/MeterReading"},
			{rtURL, "related", "espi-entry/ReadingType"},
			{mr + "/IntervalBlock", "related", "espi-feed/IntervalBlock"},
		}, func() { x.raw("<espi:MeterReading/>") })
		x.entry(urn(e.UsagePoint.MRID, "ReadingType", rt.ID), rt.ID, e.Updated, [][3]string{
			{rtURL, "self", "espi-entry/ReadingType"},
			{base + "/ReadingType", "up", "espi-feed/ReadingType"},
		}, func() {
			x.raw(fmt.Sprintf("<espi:ReadingType><espi:accumulationBehaviour>%d</espi:accumulationBehaviour><espi:commodity>%d</espi:commodity>"+
				"<espi:flowDirection>%d</espi:flowDirection><espi:intervalLength>%d</espi:intervalLength><espi:kind>%d</espi:kind>"+
				"<espi:powerOfTenMultiplier>%d</espi:powerOfTenMultiplier><espi:uom>%d</espi:uom></espi:ReadingType>",
				accumulationDelta, rt.Commodity, rt.FlowDirection, int64(rt.Interval/time.Second), rt.MeasuredQuantity, rt.Multiplier, rt.Unit))
		})
		for _, d := range ch.Days {
			ib := mr + "/IntervalBlock/" + d.Date.String()
			x.entry(urn(e.UsagePoint.MRID, "IntervalBlock", rt.ID, d.Date.String()), rt.ID+" "+d.Date.String(), e.Updated, [][3]string{
				{ib, "self", "espi-entry/IntervalBlock"},
				{mr + "/IntervalBlock", "up", "espi-feed/IntervalBlock"},
			}, func() {
				step := int64(d.Interval / time.Second)
				x.raw(fmt.Sprintf("<espi:IntervalBlock><espi:interval><espi:duration>%d</espi:duration><espi:start>%d</espi:start></espi:interval>",
					step*int64(len(d.Values)), d.Start.Unix()))
				for i, v := range d.Values {
					q := d.Quality[i]
					if q&cim.QualityMissing != 0 {
						continue // ESPI has no "missing": a gap is a reading left out
					}
					x.raw("<espi:IntervalReading>")
					for _, c := range qualities(q) {
						x.raw("<espi:ReadingQuality><espi:quality>" + strconv.Itoa(c) + "</espi:quality></espi:ReadingQuality>")
					}
					x.raw(fmt.Sprintf("<espi:timePeriod><espi:duration>%d</espi:duration><espi:start>%d</espi:start></espi:timePeriod><espi:value>%d</espi:value></espi:IntervalReading>",
						step, d.Start.Unix()+int64(i)*step, v))
				}
				x.raw("</espi:IntervalBlock>")
			})
		}
	}
	x.raw("</feed>\n")
	if x.err != nil {
		return x.err
	}
	return x.w.Flush()
}

// tzParams are ESPI's LocalTimeParameters.
type tzParams struct {
	tzOffset, dstOffset int
	startRule, endRule  uint32
}

// timeParameters derives ESPI's rules from the zone's real transitions in
// the year. A rule packs (DstRuleType): bits 0-11 seconds, 12-16 hour,
// 17-19 weekday (Monday 1 … Sunday 7), 20-24 day of month, 25-27 operator
// (7: last such weekday of the month; 1+n: the nth), 28-31 month. The time
// is the local wall clock just before the change. A zone without DST gets
// zero rules and offset.
func timeParameters(loc *time.Location, year int) tzParams {
	jan := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	jul := time.Date(year, 7, 1, 0, 0, 0, 0, loc)
	_, offJan := jan.Zone()
	_, offJul := jul.Zone()
	p := tzParams{tzOffset: min(offJan, offJul)}
	if offJan == offJul {
		return p
	}
	p.dstOffset = max(offJan, offJul) - p.tzOffset
	// Find the two changes by hours, then to the second.
	var changes []time.Time
	_, prev := jan.Zone()
	for t := jan; t.Year() == year; t = t.Add(time.Hour) {
		if _, off := t.Zone(); off != prev {
			lo, hi := t.Add(-time.Hour), t
			for hi.Sub(lo) > time.Second {
				mid := lo.Add(hi.Sub(lo) / 2)
				if _, o := mid.Zone(); o == prev {
					lo = mid
				} else {
					hi = mid
				}
			}
			changes = append(changes, hi)
			prev = off
		}
	}
	for _, c := range changes {
		_, before := c.Add(-time.Second).Zone()
		// Wall clock just before the change, in the offset then in force.
		wall := c.UTC().Add(time.Duration(before) * time.Second)
		rule := rule(wall)
		if _, after := c.Zone(); after > before {
			p.startRule = rule
		} else {
			p.endRule = rule
		}
	}
	return p
}

func rule(wall time.Time) uint32 {
	wd := int(wall.Weekday())
	if wd == 0 {
		wd = 7
	}
	op := uint32(1 + (wall.Day()-1)/7 + 1) // nth occurrence: 2 = first
	if wall.Day()+7 > daysIn(wall.Month(), wall.Year()) {
		op = 7 // the last of the month
	}
	secs := uint32(wall.Minute()*60 + wall.Second())
	return uint32(wall.Month())<<28 | op<<25 | uint32(wd)<<17 | uint32(wall.Hour())<<12 | secs
}

func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// WriteCSV writes one row per interval: a gap is a row with no value and
// quality "missing", so the household sees it.
func WriteCSV(w io.Writer, e Export) error {
	loc, err := e.UsagePoint.Location()
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"usage_point", "meter", "reading_type", "start_utc", "end_utc", "start_local", "value", "unit", "quality"}); err != nil {
		return err
	}
	for _, ch := range e.Channels {
		unit := ch.ReadingType.Unit.String()
		if m := ch.ReadingType.Multiplier; m != 0 {
			unit = fmt.Sprintf("%se%d", unit, m)
		}
		for _, d := range ch.Days {
			for i, v := range d.Values {
				start := d.Start.Add(time.Duration(i) * d.Interval)
				val := strconv.FormatInt(v, 10)
				if d.Quality[i]&cim.QualityMissing != 0 {
					val = ""
				}
				if err := cw.Write([]string{e.UsagePoint.MRID, d.MeterID, ch.ReadingType.ID, stamp(start), stamp(start.Add(d.Interval)),
					start.In(loc).Format(time.RFC3339), val, unit, d.Quality[i].String()}); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
