package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
)

// The tariff on the meter: a version's calendar sent to the meters on the
// tariff, and their TOU registers checked against the MDM's intervals.

// touTolerance is the register check's default tolerance: 10 Wh or 5 ‰ of
// the bucket, whichever is larger (a register counts whole Wh, and the
// interval and register reads are not taken at the same instant).
var touTolerance = billing.TOUTolerance{Wh: 10, Permille: 5}

func (a *API) tariffMeterRoutes() []route {
	rs := []route{{method: "GET", path: "/api/v1/tariffs/{id}/versions/{version}/register-check", perm: auth.ReadData, tag: "billing",
		summary: "Compare the TOU registers (1.8.1–1.8.4) of the meters on a tariff version with the MDM's intervals bucketed by its calendar, over [from, to)",
		query: []param{{name: "from", typ: "date", required: true, doc: "from the UTC start of this day"}, {name: "to", typ: "date", required: true, doc: "to the UTC start of this day"},
			{name: "toleranceWh", typ: "integer", doc: "a register may differ by this many Wh (default 10)"},
			{name: "tolerancePermille", typ: "integer", doc: "or by this many thousandths of its bucket, the larger (default 5)"}},
		resp: "RegisterCheck", h: a.tariffRegisterCheck}}
	if a.d.HeadEnd != nil {
		rs = append(rs, route{method: "POST", path: "/api/v1/tariffs/{id}/versions/{version}/send", perm: auth.Command, tag: "billing",
			summary: "Send a tariff version's calendar (set-activity-calendar, activating at local midnight of its effective date) to the meters on the tariff on that date; sending again changes nothing. Above the head-end's calendar limit the commands await a second person's approval",
			resp:    "CalendarSend", h: a.sendTariffCalendar})
	}
	return rs
}

// tariffMeters reads the path's tariff version and its meters, or writes
// the 400 or 404 and returns false.
func (a *API) tariffMeters(w http.ResponseWriter, r *http.Request) (billing.TariffMeters, bool) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		Error(w, http.StatusBadRequest, "bad_query", "the version must be an integer of 1 or more")
		return billing.TariffMeters{}, false
	}
	tm, err := billing.FindTariffMeters(r.Context(), a.d.Store, r.PathValue("id"), v)
	switch {
	case errors.Is(err, store.ErrNotFound):
		Error(w, http.StatusNotFound, "not_found", err.Error())
		return tm, false
	case err != nil:
		a.internal(w, r, err)
		return tm, false
	}
	return tm, true
}

type meterError struct {
	Meter string `json:"meter"`
	Error string `json:"error"`
}

type calendarCommand struct {
	Meter   string            `json:"meter"`
	Command string            `json:"command"`
	Status  cim.ControlStatus `json:"status"`
	New     bool              `json:"new"`
}

type calendarSend struct {
	TariffID         string            `json:"tariffId"`
	Version          int               `json:"version"`
	EffectiveFrom    cim.Date          `json:"effectiveFrom"`
	Meters           int               `json:"meters"`
	Issued           int               `json:"issued"`
	AwaitingApproval int               `json:"awaitingApproval"`
	AlreadyIssued    int               `json:"alreadyIssued"`
	Unsupported      []meterError      `json:"unsupported"`
	Failed           []meterError      `json:"failed"`
	NoMeter          []string          `json:"noMeter"`
	Commands         []calendarCommand `json:"commands"`
}

func (a *API) sendTariffCalendar(w http.ResponseWriter, r *http.Request) {
	if !knownParams(w, r.URL.Query()) {
		return
	}
	tm, ok := a.tariffMeters(w, r)
	if !ok {
		return
	}
	p, _ := auth.FromContext(r.Context())
	is, err := billing.SendTariffCalendar(r.Context(), a.d.HeadEnd, tm, a.runner().Holidays, p.User)
	if errors.Is(err, billing.ErrCalendar) {
		Error(w, http.StatusUnprocessableEntity, "bad_calendar", err.Error())
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := calendarSend{TariffID: tm.Tariff.ID, Version: tm.Tariff.Version, EffectiveFrom: tm.Tariff.EffectiveFrom,
		Unsupported: []meterError{}, Failed: []meterError{}, NoMeter: tm.NoMeter, Commands: []calendarCommand{}}
	if out.NoMeter == nil {
		out.NoMeter = []string{}
	}
	for _, c := range is {
		out.Meters++
		switch {
		case errors.Is(c.Err, headend.ErrBadCommand) || errors.Is(c.Err, headend.ErrUnsupported):
			out.Unsupported = append(out.Unsupported, meterError{c.MeterID, c.Err.Error()})
			continue
		case c.Err != nil:
			out.Failed = append(out.Failed, meterError{c.MeterID, c.Err.Error()})
			continue
		case !c.New:
			out.AlreadyIssued++
		case c.Command.Status == cim.ControlAwaitingApproval:
			out.AwaitingApproval++
		default:
			out.Issued++
		}
		out.Commands = append(out.Commands, calendarCommand{Meter: c.MeterID, Command: c.Command.MRID, Status: c.Command.Status, New: c.New})
	}
	JSON(w, out)
}

type registerDiff struct {
	Register     int   `json:"register"`
	MeterWh      int64 `json:"meterWh"`
	MDMWh        int64 `json:"mdmWh"`
	DifferenceWh int64 `json:"differenceWh"`
}

type meterCheck struct {
	Meter     string         `json:"meter"`
	Verdict   string         `json:"verdict"`
	From      time.Time      `json:"from,omitzero"`
	To        time.Time      `json:"to,omitzero"`
	Registers []registerDiff `json:"registers"`
	Missing   int            `json:"missing"`
	Problem   string         `json:"problem,omitempty"`
}

type registerCheck struct {
	TariffID  string       `json:"tariffId"`
	Version   int          `json:"version"`
	From      cim.Date     `json:"from"`
	To        cim.Date     `json:"to"`
	Agree     int          `json:"agree"`
	Disagree  int          `json:"disagree"`
	Unchecked int          `json:"unchecked"`
	Items     []meterCheck `json:"items"`
	NoMeter   []string     `json:"noMeter"`
}

func (a *API) tariffRegisterCheck(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !knownParams(w, q, "from", "to", "toleranceWh", "tolerancePermille") {
		return
	}
	from, ok := dateParam(w, "from", q.Get("from"))
	if !ok {
		return
	}
	to, ok := dateParam(w, "to", q.Get("to"))
	if !ok {
		return
	}
	if !from.Before(to) {
		Error(w, http.StatusBadRequest, "bad_query", "from must be before to")
		return
	}
	tol := touTolerance
	for name, dst := range map[string]*int64{"toleranceWh": &tol.Wh, "tolerancePermille": &tol.Permille} {
		if s := q.Get(name); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 0 {
				Error(w, http.StatusBadRequest, "bad_query", name+" must be an integer of 0 or more")
				return
			}
			*dst = v
		}
	}
	tm, ok := a.tariffMeters(w, r)
	if !ok {
		return
	}
	cs, err := billing.CheckTariffRegisters(r.Context(), a.d.Store, tm, a.runner().Holidays, from.Start(time.UTC), to.Start(time.UTC), tol)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	out := registerCheck{TariffID: tm.Tariff.ID, Version: tm.Tariff.Version, From: from, To: to, Items: []meterCheck{}, NoMeter: tm.NoMeter}
	if out.NoMeter == nil {
		out.NoMeter = []string{}
	}
	for _, c := range cs {
		m := meterCheck{Meter: c.MeterID, From: c.From, To: c.To, Missing: c.Missing, Problem: c.Problem, Registers: []registerDiff{}}
		for _, d := range c.Registers {
			m.Registers = append(m.Registers, registerDiff(d))
		}
		switch {
		case c.Problem != "":
			m.Verdict = "not-checked"
			out.Unchecked++
		case c.Disagrees:
			m.Verdict = "disagrees"
			out.Disagree++
		default:
			m.Verdict = "agrees"
			out.Agree++
		}
		out.Items = append(out.Items, m)
	}
	JSON(w, out)
}
