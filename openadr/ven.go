package openadr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Policy decides a VEN's answer to an event (new, modified or cancelled):
// OptIn or OptOut. It may also take the event into the VEN's own system.
type Policy func(ctx context.Context, e Event) (optType string, err error)

// VEN is a 2.0b simple HTTP client in pull mode. Every call takes a
// context and is bounded by Timeout besides.
type VEN struct {
	// URL is the VTN's base, up to and including /OpenADR2/Simple/2.0b.
	URL     string
	Name    string // oadrVenName
	VENID   string // set by the VTN on registration, or given beforehand
	HTTP    *http.Client
	Timeout time.Duration // per call; 0 means 30 s
	Policy  Policy        // nil opts in to every event
	// Reports are the METADATA reports this VEN offers; RegisterReports
	// sends them.
	Reports []Report

	mu             sync.Mutex
	registrationID string
	vtnID          string
	pollFreq       time.Duration
	events         map[string]Event // by id, the latest version seen
	requests       []ReportRequest
}

// CodeError is a VTN's refusal: the eiResponse code and description.
type CodeError struct {
	Message, Code, Description string
}

func (e *CodeError) Error() string {
	return fmt.Sprintf("openadr: %s refused with %s: %s", e.Message, e.Code, e.Description)
}

// IsNotRegistered says whether err is the VTN not knowing this VEN (463).
func IsNotRegistered(err error) bool {
	var ce *CodeError
	return errors.As(err, &ce) && ce.Code == CodeNotRegistered
}

func check(what string, r EiResponse) error {
	if r.Code == CodeOK || r.Code == "" && r.Description == "" {
		return nil
	}
	if strings.HasPrefix(r.Code, "2") {
		return nil
	}
	return &CodeError{Message: what, Code: r.Code, Description: r.Description}
}

func (v *VEN) client() *http.Client {
	if v.HTTP != nil {
		return v.HTTP
	}
	return http.DefaultClient
}

// call posts m to a service and decodes the answer.
func (v *VEN) call(ctx context.Context, service string, m Message) (Message, error) {
	t := v.Timeout
	if t <= 0 {
		t = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	body, err := Encode(m)
	if err != nil {
		return nil, err
	}
	url := strings.TrimRight(v.URL, "/") + "/" + service
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("openadr: %s to %s: %w", m.oadrName(), url, err)
	}
	req.Header.Set("Content-Type", "application/xml")
	resp, err := v.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("openadr: %s to %s: %w", m.oadrName(), url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("openadr: %s to %s: reading the answer: %w", m.oadrName(), url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("openadr: %s to %s: HTTP %s: %.200s", m.oadrName(), url, resp.Status, data)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	a, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("openadr: answer to %s from %s: %w", m.oadrName(), url, err)
	}
	return a, nil
}

// RegistrationID is the VEN's registration with the VTN ("" if none).
func (v *VEN) RegistrationID() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.registrationID
}

// VTNID is the VTN's id, learnt on registration.
func (v *VEN) VTNID() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.vtnID
}

// PollFreq is the poll frequency the VTN asked for (0 if it did not).
func (v *VEN) PollFreq() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.pollFreq
}

// QueryRegistration asks the VTN its id, profiles and poll frequency.
func (v *VEN) QueryRegistration(ctx context.Context) (*CreatedPartyRegistration, error) {
	a, err := v.call(ctx, ServiceRegisterParty, &QueryRegistration{RequestID: newID()})
	if err != nil {
		return nil, err
	}
	c, ok := a.(*CreatedPartyRegistration)
	if !ok {
		return nil, unexpected("oadrQueryRegistration", a)
	}
	return c, check("oadrQueryRegistration", c.Response)
}

func unexpected(what string, a Message) error {
	if r, ok := a.(*Response); ok {
		return &CodeError{Message: what, Code: r.Response.Code, Description: r.Response.Description}
	}
	if a == nil {
		return fmt.Errorf("openadr: %s answered with an empty body", what)
	}
	return fmt.Errorf("openadr: %s answered with %s", what, a.oadrName())
}

// Register creates (or renews) the VEN's registration in pull mode.
func (v *VEN) Register(ctx context.Context) error {
	pull := true
	v.mu.Lock()
	m := &CreatePartyRegistration{RequestID: newID(), RegistrationID: v.registrationID, VENID: v.VENID,
		ProfileName: "2.0b", TransportName: "simpleHttp", VENName: v.Name, HTTPPullModel: &pull}
	v.mu.Unlock()
	a, err := v.call(ctx, ServiceRegisterParty, m)
	if err != nil {
		return err
	}
	c, ok := a.(*CreatedPartyRegistration)
	if !ok {
		return unexpected("oadrCreatePartyRegistration", a)
	}
	if err := check("oadrCreatePartyRegistration", c.Response); err != nil {
		return err
	}
	if c.RegistrationID == "" || c.VENID == "" {
		return fmt.Errorf("openadr: VTN %q registered VEN %q without a registration or VEN id", c.VTNID, v.Name)
	}
	v.mu.Lock()
	v.registrationID, v.VENID, v.vtnID = c.RegistrationID, c.VENID, c.VTNID
	v.pollFreq = 0
	if c.RequestedPollFreq != nil {
		if d, err := ParseDuration(c.RequestedPollFreq.Duration); err == nil && d > 0 {
			v.pollFreq = d
		}
	}
	v.mu.Unlock()
	return nil
}

// CancelRegistration ends the VEN's registration.
func (v *VEN) CancelRegistration(ctx context.Context) error {
	v.mu.Lock()
	m := &CancelPartyRegistration{RequestID: newID(), RegistrationID: v.registrationID, VENID: v.VENID}
	v.mu.Unlock()
	a, err := v.call(ctx, ServiceRegisterParty, m)
	if err != nil {
		return err
	}
	c, ok := a.(*CanceledPartyRegistration)
	if !ok {
		return unexpected("oadrCancelPartyRegistration", a)
	}
	if err := check("oadrCancelPartyRegistration", c.Response); err != nil {
		return err
	}
	v.mu.Lock()
	v.registrationID = ""
	v.mu.Unlock()
	return nil
}

// Events are the events the VEN holds now, by id.
func (v *VEN) Events() map[string]Event {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]Event, len(v.events))
	for k, e := range v.events {
		out[k] = e
	}
	return out
}

// ReportRequests are the reports the VTN asked of this VEN.
func (v *VEN) ReportRequests() []ReportRequest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]ReportRequest(nil), v.requests...)
}

// Poll asks the VTN once for what it has, acts on it (events answered
// through the policy, re-registration, report requests) and says which
// message came (oadrResponse when there was nothing).
func (v *VEN) Poll(ctx context.Context) (string, error) {
	a, err := v.call(ctx, ServicePoll, &Poll{VENID: v.VENID})
	if err != nil {
		return "", err
	}
	if a == nil {
		return "", errors.New("openadr: oadrPoll answered with an empty body")
	}
	name := a.oadrName()
	switch m := a.(type) {
	case *Response:
		return name, check("oadrPoll", m.Response)
	case *DistributeEvent:
		return name, v.HandleDistributeEvent(ctx, m)
	case *RequestReregistration:
		return name, v.Register(ctx)
	case *CancelPartyRegistration:
		v.mu.Lock()
		v.registrationID = ""
		v.mu.Unlock()
		_, err := v.call(ctx, ServiceRegisterParty, &CanceledPartyRegistration{Response: ok(m.RequestID), RegistrationID: m.RegistrationID, VENID: v.VENID})
		return name, err
	case *CreateReport:
		return name, v.takeRequests(ctx, m.RequestID, m.Requests)
	case *RegisterReport:
		// The VTN's own reports: acknowledged, none requested.
		a, err := v.call(ctx, ServiceReport, &RegisteredReport{Response: ok(m.RequestID), VENID: v.VENID})
		if err != nil {
			return name, err
		}
		if r, ok := a.(*Response); ok {
			return name, check("oadrRegisteredReport", r.Response)
		}
		return name, nil
	case *CancelReport:
		v.mu.Lock()
		keep := v.requests[:0]
		for _, r := range v.requests {
			drop := false
			for _, id := range m.ReportRequestIDs {
				drop = drop || r.ReportRequestID == id
			}
			if !drop {
				keep = append(keep, r)
			}
		}
		v.requests = keep
		v.mu.Unlock()
		_, err := v.call(ctx, ServiceReport, &CanceledReport{Response: ok(m.RequestID), Pending: v.pending(), VENID: v.VENID})
		return name, err
	}
	return name, fmt.Errorf("openadr: oadrPoll answered with %s, which a VEN does not take", name)
}

func (v *VEN) pending() PendingReports {
	v.mu.Lock()
	defer v.mu.Unlock()
	var p PendingReports
	for _, r := range v.requests {
		p.ReportRequestIDs = append(p.ReportRequestIDs, r.ReportRequestID)
	}
	return p
}

func (v *VEN) takeRequests(ctx context.Context, requestID string, reqs []ReportRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	v.mu.Lock()
	v.requests = append(v.requests, reqs...)
	v.mu.Unlock()
	a, err := v.call(ctx, ServiceReport, &CreatedReport{Response: ok(requestID), Pending: v.pending(), VENID: v.VENID})
	if err != nil {
		return err
	}
	if r, ok := a.(*Response); ok {
		return check("oadrCreatedReport", r.Response)
	}
	return nil
}

// RequestEvents asks the VTN for the VEN's events (oadrRequestEvent) and
// acts on them as a poll would.
func (v *VEN) RequestEvents(ctx context.Context) error {
	m := &RequestEvent{}
	m.Request.RequestID, m.Request.VENID = newID(), v.VENID
	a, err := v.call(ctx, ServiceEvent, m)
	if err != nil {
		return err
	}
	d, ok := a.(*DistributeEvent)
	if !ok {
		return unexpected("oadrRequestEvent", a)
	}
	return v.HandleDistributeEvent(ctx, d)
}

// HandleDistributeEvent takes a VTN's events: each new or modified one
// goes through the policy, and the answers go back in one
// oadrCreatedEvent when any event asks for a response.
func (v *VEN) HandleDistributeEvent(ctx context.Context, d *DistributeEvent) error {
	if d.Response != nil {
		if err := check("oadrDistributeEvent", *d.Response); err != nil {
			return err
		}
	}
	var responses []EventResponse
	seen := map[string]Event{}
	var firstErr error
	for _, o := range d.Events {
		e, err := EventFromEi(o)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			responses = append(responses, EventResponse{Code: CodeInvalidData, Description: err.Error(), RequestID: d.RequestID,
				QualifiedEventID: QualifiedEventID{EventID: o.Event.Descriptor.EventID, ModificationNumber: o.Event.Descriptor.ModificationNumber}, OptType: OptOut})
			continue
		}
		seen[e.ID] = e
		v.mu.Lock()
		old, had := v.events[e.ID]
		v.mu.Unlock()
		if had && old.Modification == e.Modification {
			continue
		}
		opt := OptIn
		if v.Policy != nil {
			opt, err = v.Policy(ctx, e)
			if err != nil {
				return fmt.Errorf("openadr: VEN %q: event %q: %w", v.VENID, e.ID, err)
			}
			if opt != OptOut {
				opt = OptIn
			}
		}
		if e.ResponseRequired {
			responses = append(responses, EventResponse{Code: CodeOK, Description: "OK", RequestID: d.RequestID,
				QualifiedEventID: QualifiedEventID{EventID: e.ID, ModificationNumber: e.Modification}, OptType: opt})
		}
	}
	v.mu.Lock()
	v.events = seen
	if d.VTNID != "" && v.vtnID == "" {
		v.vtnID = d.VTNID
	}
	v.mu.Unlock()
	if len(responses) > 0 {
		if err := v.sendCreatedEvent(ctx, d.RequestID, responses); err != nil {
			return err
		}
	}
	return firstErr
}

func (v *VEN) sendCreatedEvent(ctx context.Context, requestID string, rs []EventResponse) error {
	m := &CreatedEvent{}
	m.Created.Response = ok(requestID)
	m.Created.EventResponses = &EventResponses{Responses: rs}
	m.Created.VENID = v.VENID
	a, err := v.call(ctx, ServiceEvent, m)
	if err != nil {
		return err
	}
	if r, ok := a.(*Response); ok {
		return check("oadrCreatedEvent", r.Response)
	}
	return nil
}

// OptOut withdraws the VEN (or the resources named) from one event by
// oadrCreateOpt, and returns the opt's id.
func (v *VEN) OptOut(ctx context.Context, eventID string, modification int64, reason string, resources ...string) (string, error) {
	return v.opt(ctx, OptOut, eventID, modification, reason, resources)
}

// OptIn puts the VEN (or the resources named) back into one event.
func (v *VEN) OptIn(ctx context.Context, eventID string, modification int64, reason string, resources ...string) (string, error) {
	return v.opt(ctx, OptIn, eventID, modification, reason, resources)
}

func (v *VEN) opt(ctx context.Context, optType, eventID string, modification int64, reason string, resources []string) (string, error) {
	if reason == "" {
		reason = "participating"
		if optType == OptOut {
			reason = "notParticipating"
		}
	}
	m := &CreateOpt{OptID: newID(), OptType: optType, OptReason: reason, VENID: v.VENID,
		CreatedDateTime: FormatDateTime(time.Now()), RequestID: newID(),
		QualifiedEventID: &QualifiedEventID{EventID: eventID, ModificationNumber: modification},
		Target:           Target{ResourceID: resources}}
	if len(resources) == 0 {
		m.Target.VENID = []string{v.VENID}
	}
	a, err := v.call(ctx, ServiceOpt, m)
	if err != nil {
		return "", err
	}
	c, ok := a.(*CreatedOpt)
	if !ok {
		return "", unexpected("oadrCreateOpt", a)
	}
	return m.OptID, check("oadrCreateOpt", c.Response)
}

// CancelOpt withdraws an earlier opt.
func (v *VEN) CancelOpt(ctx context.Context, optID string) error {
	a, err := v.call(ctx, ServiceOpt, &CancelOpt{RequestID: newID(), OptID: optID, VENID: v.VENID})
	if err != nil {
		return err
	}
	c, ok := a.(*CanceledOpt)
	if !ok {
		return unexpected("oadrCancelOpt", a)
	}
	return check("oadrCancelOpt", c.Response)
}

// RegisterReports offers the VEN's METADATA reports; the report requests
// the VTN answers with are kept and acknowledged (oadrCreatedReport).
func (v *VEN) RegisterReports(ctx context.Context) ([]ReportRequest, error) {
	m := &RegisterReport{RequestID: newID(), Reports: v.Reports, VENID: v.VENID}
	a, err := v.call(ctx, ServiceReport, m)
	if err != nil {
		return nil, err
	}
	r, ok := a.(*RegisteredReport)
	if !ok {
		return nil, unexpected("oadrRegisterReport", a)
	}
	if err := check("oadrRegisterReport", r.Response); err != nil {
		return nil, err
	}
	if err := v.takeRequests(ctx, r.Response.RequestID, r.Requests); err != nil {
		return r.Requests, err
	}
	return r.Requests, nil
}

// Reading is one value of one data point at one time.
type Reading struct {
	RID      string
	Start    time.Time
	Duration time.Duration
	Value    float64
}

// UpdateReport sends readings for a requested report.
func (v *VEN) UpdateReport(ctx context.Context, req ReportRequest, reportName string, readings []Reading) error {
	now := time.Now()
	r := Report{ReportID: newID(), ReportRequestID: req.ReportRequestID, ReportSpecifierID: req.Specifier.ReportSpecifierID,
		ReportName: reportName, CreatedDateTime: FormatDateTime(now), Intervals: &Intervals{}}
	if len(readings) > 0 {
		r.DTStart = &DTStart{DateTime: FormatDateTime(readings[0].Start)}
	}
	for _, rd := range readings {
		iv := Interval{DTStart: &DTStart{DateTime: FormatDateTime(rd.Start)},
			ReportPayload: []ReportPayload{{RID: rd.RID, Float: PayloadFloat{Value: rd.Value}}}}
		if rd.Duration > 0 {
			iv.Duration = &DurationProp{Duration: FormatDuration(rd.Duration)}
		}
		r.Intervals.Intervals = append(r.Intervals.Intervals, iv)
	}
	a, err := v.call(ctx, ServiceReport, &UpdateReport{RequestID: newID(), Reports: []Report{r}, VENID: v.VENID})
	if err != nil {
		return err
	}
	u, ok := a.(*UpdatedReport)
	if !ok {
		return unexpected("oadrUpdateReport", a)
	}
	return check("oadrUpdateReport", u.Response)
}

// Run registers if needed and polls at the VTN's frequency until ctx
// ends; a 463 (the VTN forgot this VEN) registers again. onErr, if set,
// hears every failed poll; the loop goes on.
func (v *VEN) Run(ctx context.Context, onErr func(error)) error {
	if v.RegistrationID() == "" {
		if err := v.Register(ctx); err != nil {
			return err
		}
	}
	for {
		_, err := v.Poll(ctx)
		if IsNotRegistered(err) {
			// The VTN forgot the registration: a new one, keeping the VEN id.
			v.mu.Lock()
			v.registrationID = ""
			v.mu.Unlock()
			err = v.Register(ctx)
		}
		if err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
		wait := v.PollFreq()
		if wait <= 0 {
			wait = 10 * time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// MetadataTelemetry builds a METADATA_TELEMETRY_USAGE report offering
// real power readings of the resources named, sampled every period.
func MetadataTelemetry(specifierID string, period time.Duration, rids ...string) Report {
	r := Report{ReportRequestID: "0", ReportSpecifierID: specifierID, ReportName: "METADATA_TELEMETRY_USAGE",
		CreatedDateTime: FormatDateTime(time.Now()), Duration: &DurationProp{Duration: FormatDuration(time.Hour)}}
	for _, rid := range rids {
		r.Descriptions = append(r.Descriptions, ReportDescription{
			RID:          rid,
			DataSource:   &Target{ResourceID: []string{rid}},
			ReportType:   "usage",
			ItemBase:     RealPower(),
			ReadingType:  "Direct Read",
			SamplingRate: &SamplingRate{MinPeriod: FormatDuration(period), MaxPeriod: FormatDuration(period)},
		})
	}
	return r
}

// RealPower is the item base of real power in watts (power:powerReal).
func RealPower() *ItemBase {
	ib := &ItemBase{ItemDescription: "RealPower", ItemUnits: "W", SIScaleCode: "none",
		PowerAttributes: &PowerAttributes{Hertz: 50, Voltage: 230, AC: true}}
	ib.XMLName.Space, ib.XMLName.Local = NSPOWER, "powerReal"
	return ib
}

// CurrencyPerKWh is the item base of a price per kWh.
func CurrencyPerKWh(currency string) *ItemBase {
	ib := &ItemBase{ItemDescription: "currencyPerKWh", ItemUnits: currency, SIScaleCode: "none"}
	ib.XMLName.Space, ib.XMLName.Local = NSOADR, "currencyPerKWh"
	return ib
}

// OptOutOrIn sends an oadrCreateOpt of the given type (OptIn or OptOut)
// for the whole VEN.
func (v *VEN) OptOutOrIn(ctx context.Context, optType, eventID string, modification int64) (string, error) {
	return v.opt(ctx, optType, eventID, modification, "", nil)
}
