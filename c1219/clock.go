package c1219

import "time"

// TIME_FUNC_FLAG1 of ST51.
const (
	TimeTOUSelfRead     = 1 << 0
	TimeSeasonSelfRead  = 1 << 1
	TimeSeasonDemandRst = 1 << 2
	TimeSeasonChngArmed = 1 << 3
	TimeSortDates       = 1 << 4
	TimeAnchorDate      = 1 << 5
)

// TIME_FUNC_FLAG2 of ST51.
const (
	TimeCapDSTAuto      = 1 << 0
	TimeSeparateWeekday = 1 << 1
	TimeSeparateSumDmd  = 1 << 2
	TimeSortTierSwitch  = 1 << 3
	TimeCapTZOffset     = 1 << 4
)

// ActTimeTOU is ST51, ACT_TIME_TOU_TBL: the clock and time-of-use
// capabilities and the dimensions of ST54.
type ActTimeTOU struct {
	Func1, Func2      uint8 // TIME_FUNC_FLAG1, TIME_FUNC_FLAG2
	NbrSeasons        uint8 // CALENDAR_FUNC bits 0..3
	NbrSpecialSched   uint8 // CALENDAR_FUNC bits 4..7
	NbrNonRecurrDates uint8
	NbrRecurrDates    uint8
	NbrTierSwitches   uint16
	CalendarTblSize   uint16
}

// DecodeST51 decodes ACT_TIME_TOU_TBL.
func DecodeST51(b []byte, f Format) (ActTimeTOU, error) {
	var a ActTimeTOU
	r := newReader(b, f, ST51)
	a.Func1 = r.u8("TIME_FUNC_FLAG1")
	a.Func2 = r.u8("TIME_FUNC_FLAG2")
	cal := r.u8("CALENDAR_FUNC")
	a.NbrSeasons, a.NbrSpecialSched = cal&15, cal>>4
	a.NbrNonRecurrDates = r.u8("NBR_NON_RECURR_DATES")
	a.NbrRecurrDates = r.u8("NBR_RECURR_DATES")
	a.NbrTierSwitches = r.u16("NBR_TIER_SWITCHES")
	a.CalendarTblSize = r.u16("CALENDAR_TBL_SIZE")
	return a, r.end()
}

// Encode is ST51's octets.
func (a ActTimeTOU) Encode(f Format) []byte {
	w := newWriter(f)
	w.u8(a.Func1)
	w.u8(a.Func2)
	w.u8(a.NbrSeasons&15 | a.NbrSpecialSched<<4)
	w.u8(a.NbrNonRecurrDates)
	w.u8(a.NbrRecurrDates)
	w.u16(a.NbrTierSwitches)
	w.u16(a.CalendarTblSize)
	return w.b
}

// Clock is ST52, CLOCK_TBL: the device's date and time (LTIME_DATE,
// read as UTC) and its qualifier (weekday, DST, GMT flags).
type Clock struct {
	Time time.Time
	Qual uint8 // TIME_DATE_QUAL
}

// DecodeST52 decodes CLOCK_TBL.
func DecodeST52(b []byte, f Format) (Clock, error) {
	var c Clock
	r := newReader(b, f, ST52)
	if f.Time == TimeNone {
		r.fail("", "the device declares no clock (TM_FORMAT 0)")
		return c, r.err
	}
	c.Time = r.ltime("CLOCK_CALENDAR")
	c.Qual = r.u8("TIME_DATE_QUAL")
	return c, r.end()
}

// Encode is ST52's octets.
func (c Clock) Encode(f Format) []byte {
	w := newWriter(f)
	w.ltime(c.Time)
	w.u8(c.Qual)
	return w.b
}

// ClockState is ST55, CLOCK_STATE_TBL: the clock with the time-of-use
// state (current tier, special schedule, season).
type ClockState struct {
	Time   time.Time
	Qual   uint8  // TIME_DATE_QUAL
	Status uint16 // STATUS: CURR_TIER bits 0..2 (or CURR_SUMM_TIER 0..2 and CURR_DEMAND_TIER 3..5), TIER_DRIVE 6..7, SPECIAL_SCHD_ACTIVE 8..11, SEASON 12..15
}

// NewClockStatus builds ST55's STATUS: the current tier, the special
// schedule active (15 for none) and the season; TIER_DRIVE is 0 (the
// tier switches of the calendar drive the tier).
func NewClockStatus(tier, special, season int) uint16 {
	return uint16(tier&7) | uint16(special&15)<<8 | uint16(season&15)<<12
}

// CurrentTier is the tier ST55's status says is active (CURR_TIER, or
// CURR_SUMM_TIER when ST51 separates summation and demand tiers).
func (c ClockState) CurrentTier() int { return int(c.Status & 7) }

// DemandTier is CURR_DEMAND_TIER, meaningful when ST51 separates
// summation and demand tiers.
func (c ClockState) DemandTier() int { return int(c.Status >> 3 & 7) }

// TierDrive is TIER_DRIVE: 0 when the calendar's tier switches select
// the tier.
func (c ClockState) TierDrive() int { return int(c.Status >> 6 & 3) }

// SpecialSchedule is SPECIAL_SCHD_ACTIVE: 0..11, or 15 for none.
func (c ClockState) SpecialSchedule() int { return int(c.Status >> 8 & 15) }

// Season is the season ST55's status says is active.
func (c ClockState) Season() int { return int(c.Status >> 12 & 15) }

// DecodeST55 decodes CLOCK_STATE_TBL.
func DecodeST55(b []byte, f Format) (ClockState, error) {
	var c ClockState
	r := newReader(b, f, ST55)
	if f.Time == TimeNone {
		r.fail("", "the device declares no clock (TM_FORMAT 0)")
		return c, r.err
	}
	c.Time = r.ltime("CLOCK_CALENDAR")
	c.Qual = r.u8("TIME_DATE_QUAL")
	c.Status = r.u16("STATUS")
	return c, r.end()
}

// Encode is ST55's octets.
func (c ClockState) Encode(f Format) []byte {
	w := newWriter(f)
	w.ltime(c.Time)
	w.u8(c.Qual)
	w.u16(c.Status)
	return w.b
}
