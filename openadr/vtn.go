package openadr

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// BasePath is where 2.0b simple HTTP services live; each service is a
// path below it.
const BasePath = "/OpenADR2/Simple/2.0b/"

// The services of simple HTTP.
const (
	ServiceRegisterParty = "EiRegisterParty"
	ServiceEvent         = "EiEvent"
	ServiceOpt           = "EiOpt"
	ServiceReport        = "EiReport"
	ServicePoll          = "OadrPoll"
)

// EventSource gives the VTN the events of a VEN and takes the VEN's
// answers. The dr adapter implements it.
type EventSource interface {
	// Events are the events for a VEN now: pending, active and those
	// cancelled that it should still hear of.
	Events(ctx context.Context, venID string) ([]Event, error)
	// Opt records a VEN's opt in or out of one version of an event, from an
	// oadrCreatedEvent or an oadrCreateOpt; optType is OptIn or OptOut.
	Opt(ctx context.Context, o OptRecord) error
}

// OptRecord is one opt a VEN sent: of an event (EventID set), or of a
// schedule (windows), with the resources it concerns (none: the whole VEN).
type OptRecord struct {
	VENID        string
	OptID        string // empty for an oadrCreatedEvent answer
	EventID      string
	Modification int64
	OptType      string
	Reason       string
	Resources    []string
	Cancelled    bool // an oadrCancelOpt of an earlier OptID
}

// ReportSink takes the reports VENs send.
type ReportSink interface {
	// Metadata is what a VEN offers to report (its METADATA reports).
	Metadata(ctx context.Context, venID string, reports []Report) error
	// Update is report data a VEN sent.
	Update(ctx context.Context, venID string, reports []Report) error
}

// VTN serves 2.0b simple HTTP in pull mode: VENs register, poll, answer
// events, opt and report. It keeps registrations in memory: a restarted
// VTN asks its VENs to register again (463 on their next poll).
type VTN struct {
	ID       string
	Source   EventSource
	Sink     ReportSink    // may be nil: reports are acknowledged and dropped
	PollFreq time.Duration // asked of VENs; 0 means 10 s
	// Requests chooses the reports to request of a VEN from what it offers;
	// nil requests every offered report at its fastest sampling rate.
	Requests func(venID string, offered []Report) []ReportRequest
	Log      *slog.Logger
	// Insecure serves VENs without certificates: anyone may then claim any
	// VEN id. Otherwise, the default, every request needs a verified TLS
	// client certificate (r.TLS.VerifiedChains) and may only speak for the
	// VEN id that is the certificate's fingerprint, or a name
	// Fingerprints binds to it.
	Insecure bool
	// Fingerprints binds VEN ids that are names to the fingerprint of the
	// one certificate that may use them.
	Fingerprints map[string]string

	mu    sync.Mutex
	vens  map[string]*venState // by VEN id
	byReg map[string]string    // registration id to VEN id
}

type venState struct {
	venID, regID, name string
	sent               map[string]int64 // event id to the modification last distributed
	sentAny            bool
	reregister         bool
	cancel             bool
}

func (v *VTN) init() {
	if v.vens == nil {
		v.vens = map[string]*venState{}
		v.byReg = map[string]string{}
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ServeHTTP answers POSTs of oadrPayloads on the five services.
func (v *VTN) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := strings.Index(r.URL.Path, BasePath)
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	service := strings.Trim(r.URL.Path[i+len(BasePath):], "/")
	switch service {
	case ServiceRegisterParty, ServiceEvent, ServiceOpt, ServiceReport, ServicePoll:
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "openadr: POST an oadrPayload", http.StatusMethodNotAllowed)
		return
	}
	fp := peerFingerprint(r)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	var answer Message
	if !v.Insecure && fp == "" {
		answer = errResponse("", CodeNotAllowed, "VTN "+v.ID+" takes only VENs with a verified TLS client certificate", "")
	} else if err != nil {
		answer = errResponse("", CodeInvalidData, "reading the request: "+err.Error(), "")
	} else if m, derr := Decode(body); derr != nil {
		answer = errResponse("", CodeInvalidData, derr.Error(), "")
	} else {
		answer = v.handle(r.Context(), service, m, fp)
	}
	out, err := Encode(answer)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write(out)
}

func errResponse(requestID, code, desc, venID string) *Response {
	return &Response{Response: EiResponse{Code: code, Description: desc, RequestID: requestID}, VENID: venID}
}

func ok(requestID string) EiResponse {
	return EiResponse{Code: CodeOK, Description: "OK", RequestID: requestID}
}

func (v *VTN) logf(msg string, args ...any) {
	if v.Log != nil {
		v.Log.Info(msg, args...)
	}
}

// services maps each message a VEN sends to the service it belongs on.
var services = map[string]string{
	"oadrQueryRegistration":         ServiceRegisterParty,
	"oadrCreatePartyRegistration":   ServiceRegisterParty,
	"oadrCancelPartyRegistration":   ServiceRegisterParty,
	"oadrCanceledPartyRegistration": ServiceRegisterParty,
	"oadrRequestEvent":              ServiceEvent,
	"oadrCreatedEvent":              ServiceEvent,
	"oadrCreateOpt":                 ServiceOpt,
	"oadrCancelOpt":                 ServiceOpt,
	"oadrRegisterReport":            ServiceReport,
	"oadrCreatedReport":             ServiceReport,
	"oadrUpdateReport":              ServiceReport,
	"oadrCanceledReport":            ServiceReport,
	"oadrRegisteredReport":          ServiceReport,
	"oadrPoll":                      ServicePoll,
	"oadrResponse":                  "",
}

func (v *VTN) handle(ctx context.Context, service string, m Message, fp string) Message {
	name := m.oadrName()
	want, known := services[name]
	if !known || (want != "" && want != service) {
		return errResponse("", CodeNotRecognized, fmt.Sprintf("%s is not a message of %s", name, service), "")
	}
	v.mu.Lock()
	v.init()
	v.mu.Unlock()
	if !v.Insecure {
		if refused := v.authorize(m, fp); refused != nil {
			return refused
		}
	}
	switch m := m.(type) {
	case *QueryRegistration:
		return v.createdRegistration(m.RequestID, "", "")
	case *CreatePartyRegistration:
		return v.register(m, fp)
	case *CancelPartyRegistration:
		return v.cancelRegistration(m)
	case *CanceledPartyRegistration:
		v.drop(m.VENID)
		return errResponse("", CodeOK, "OK", m.VENID)
	case *Poll:
		return v.poll(ctx, m.VENID)
	case *RequestEvent:
		st, resp := v.known(m.Request.RequestID, m.Request.VENID)
		if st == nil {
			return resp
		}
		d, err := v.distribute(ctx, st, m.Request.RequestID, true)
		if err != nil {
			return errResponse(m.Request.RequestID, CodeOther, err.Error(), st.venID)
		}
		return d
	case *CreatedEvent:
		return v.createdEvent(ctx, m)
	case *CreateOpt:
		return v.createOpt(ctx, m)
	case *CancelOpt:
		st, resp := v.known(m.RequestID, m.VENID)
		if st == nil {
			return &CanceledOpt{Response: resp.Response, OptID: m.OptID}
		}
		if err := v.Source.Opt(ctx, OptRecord{VENID: st.venID, OptID: m.OptID, Cancelled: true}); err != nil {
			return &CanceledOpt{Response: EiResponse{Code: CodeInvalidID, Description: err.Error(), RequestID: m.RequestID}, OptID: m.OptID}
		}
		return &CanceledOpt{Response: ok(m.RequestID), OptID: m.OptID}
	case *RegisterReport:
		return v.registerReport(ctx, m)
	case *CreatedReport, *RegisteredReport, *CanceledReport, *Response:
		// Acknowledgements of what this VTN sent: nothing more to say.
		return errResponse("", CodeOK, "OK", "")
	case *UpdateReport:
		st, resp := v.known(m.RequestID, m.VENID)
		if st == nil {
			return &UpdatedReport{Response: resp.Response}
		}
		if err := checkReports(m.Reports); err != nil {
			return &UpdatedReport{Response: EiResponse{Code: CodeInvalidData, Description: err.Error(), RequestID: m.RequestID}, VENID: st.venID}
		}
		if v.Sink != nil {
			if err := v.Sink.Update(ctx, st.venID, m.Reports); err != nil {
				return &UpdatedReport{Response: EiResponse{Code: CodeOther, Description: err.Error(), RequestID: m.RequestID}, VENID: st.venID}
			}
		}
		return &UpdatedReport{Response: ok(m.RequestID), VENID: st.venID}
	}
	return errResponse("", CodeNotRecognized, name+" is not taken by a VTN", "")
}

// known finds a registered VEN, or says 463 why not.
func (v *VTN) known(requestID, venID string) (*venState, *Response) {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.vens[CanonicalVENID(venID)]
	if venID == "" || st == nil {
		return nil, errResponse(requestID, CodeNotRegistered, fmt.Sprintf("VEN %q is not registered with VTN %q", venID, v.ID), venID)
	}
	return st, nil
}

func (v *VTN) pollFreq() time.Duration {
	if v.PollFreq > 0 {
		return v.PollFreq
	}
	return 10 * time.Second
}

func (v *VTN) createdRegistration(requestID, regID, venID string) *CreatedPartyRegistration {
	c := &CreatedPartyRegistration{
		Response:          ok(requestID),
		RegistrationID:    regID,
		VENID:             venID,
		VTNID:             v.ID,
		RequestedPollFreq: &DurationProp{Duration: FormatDuration(v.pollFreq())},
	}
	p := Profile{Name: "2.0b"}
	p.Transports.Transports = append(p.Transports.Transports, struct {
		Name string `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrTransportName"`
	}{Name: "simpleHttp"})
	c.Profiles.Profiles = []Profile{p}
	return c
}

func (v *VTN) register(m *CreatePartyRegistration, fp string) Message {
	if m.ProfileName != "2.0b" {
		c := v.createdRegistration(m.RequestID, "", "")
		c.Response = EiResponse{Code: CodeNotAllowed, Description: fmt.Sprintf("profile %q: this VTN speaks 2.0b", m.ProfileName), RequestID: m.RequestID}
		return c
	}
	if m.TransportName != "simpleHttp" {
		c := v.createdRegistration(m.RequestID, "", "")
		c.Response = EiResponse{Code: CodeNotAllowed, Description: fmt.Sprintf("transport %q: this VTN speaks simpleHttp", m.TransportName), RequestID: m.RequestID}
		return c
	}
	if m.HTTPPullModel != nil && !*m.HTTPPullModel {
		c := v.createdRegistration(m.RequestID, "", "")
		c.Response = EiResponse{Code: CodeNotAllowed, Description: "push mode: this VTN serves pull (oadrPoll) only", RequestID: m.RequestID}
		return c
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if m.RegistrationID != "" {
		venID, ok := v.byReg[m.RegistrationID]
		if !ok || (m.VENID != "" && CanonicalVENID(m.VENID) != venID) {
			c := v.createdRegistration(m.RequestID, "", "")
			c.Response = EiResponse{Code: CodeInvalidID, Description: fmt.Sprintf("registration %q of VEN %q is not known to VTN %q", m.RegistrationID, m.VENID, v.ID), RequestID: m.RequestID}
			return c
		}
	}
	venID := CanonicalVENID(m.VENID)
	if venID == "" && !v.Insecure {
		venID = v.idOf(fp)
	}
	if venID == "" {
		venID = newID()
	}
	st := v.vens[venID]
	if st == nil {
		st = &venState{venID: venID, sent: map[string]int64{}}
		v.vens[venID] = st
	}
	if st.regID != "" {
		delete(v.byReg, st.regID)
	}
	st.regID, st.name, st.reregister, st.sentAny = newID(), m.VENName, false, false
	st.sent = map[string]int64{}
	v.byReg[st.regID] = venID
	v.logf("openadr: VEN registered", "vtn", v.ID, "ven", venID, "name", m.VENName, "registration", st.regID)
	return v.createdRegistration(m.RequestID, st.regID, venID)
}

func (v *VTN) cancelRegistration(m *CancelPartyRegistration) Message {
	v.mu.Lock()
	defer v.mu.Unlock()
	venID, ok := v.byReg[m.RegistrationID]
	if !ok || (m.VENID != "" && venID != CanonicalVENID(m.VENID)) {
		return &CanceledPartyRegistration{Response: EiResponse{Code: CodeInvalidID, Description: fmt.Sprintf("registration %q is not known to VTN %q", m.RegistrationID, v.ID), RequestID: m.RequestID}, RegistrationID: m.RegistrationID, VENID: m.VENID}
	}
	delete(v.byReg, m.RegistrationID)
	delete(v.vens, venID)
	v.logf("openadr: VEN registration cancelled", "vtn", v.ID, "ven", venID)
	return &CanceledPartyRegistration{Response: EiResponse{Code: CodeOK, Description: "OK", RequestID: m.RequestID}, RegistrationID: m.RegistrationID, VENID: venID}
}

func (v *VTN) drop(venID string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if st := v.vens[CanonicalVENID(venID)]; st != nil {
		delete(v.byReg, st.regID)
		delete(v.vens, venID)
	}
}

// RequestReregistration makes the VEN's next poll answer
// oadrRequestReregistration.
func (v *VTN) RequestReregistration(venID string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.vens[CanonicalVENID(venID)]
	if st != nil {
		st.reregister = true
	}
	return st != nil
}

// CancelRegistration makes the VEN's next poll answer
// oadrCancelPartyRegistration; its registration ends then.
func (v *VTN) CancelRegistration(venID string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.vens[CanonicalVENID(venID)]
	if st != nil {
		st.cancel = true
	}
	return st != nil
}

// Registered lists the VEN ids registered now.
func (v *VTN) Registered() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for id := range v.vens {
		out = append(out, id)
	}
	return out
}

func (v *VTN) poll(ctx context.Context, venID string) Message {
	st, resp := v.known("", venID)
	if st == nil {
		return resp
	}
	v.mu.Lock()
	rereg, cancel := st.reregister, st.cancel
	st.reregister = false
	if cancel {
		delete(v.byReg, st.regID)
		delete(v.vens, st.venID)
	}
	v.mu.Unlock()
	if cancel {
		return &CancelPartyRegistration{RequestID: newID(), RegistrationID: st.regID, VENID: venID}
	}
	if rereg {
		return &RequestReregistration{VENID: venID}
	}
	d, err := v.distribute(ctx, st, newID(), false)
	if err != nil {
		return errResponse("", CodeOther, err.Error(), venID)
	}
	if d != nil {
		return d
	}
	return errResponse("", CodeOK, "OK", venID)
}

// distribute builds the oadrDistributeEvent of a VEN's events; unless
// always, only when an event is new, modified or gone since last sent.
func (v *VTN) distribute(ctx context.Context, st *venState, requestID string, always bool) (*DistributeEvent, error) {
	events, err := v.Source.Events(ctx, st.venID)
	if err != nil {
		return nil, fmt.Errorf("events of VEN %q: %w", st.venID, err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	changed := len(events) != len(st.sent) || !st.sentAny
	if !st.sentAny && len(events) == 0 {
		changed = false
	}
	now := map[string]int64{}
	for _, e := range events {
		now[e.ID] = e.Modification
		if m, ok := st.sent[e.ID]; !ok || m != e.Modification {
			changed = true
		}
	}
	if !changed && !always {
		return nil, nil
	}
	st.sent, st.sentAny = now, true
	d := &DistributeEvent{RequestID: requestID, VTNID: v.ID}
	for _, e := range events {
		d.Events = append(d.Events, e.Ei())
	}
	return d, nil
}

func (v *VTN) createdEvent(ctx context.Context, m *CreatedEvent) Message {
	c := m.Created
	st, resp := v.known(c.Response.RequestID, c.VENID)
	if st == nil {
		return resp
	}
	if c.EventResponses == nil {
		return errResponse(c.Response.RequestID, CodeOK, "OK", st.venID)
	}
	for _, r := range c.EventResponses.Responses {
		if r.OptType != OptIn && r.OptType != OptOut {
			return errResponse(r.RequestID, CodeInvalidData, fmt.Sprintf("event %q: optType %q is neither optIn nor optOut", r.QualifiedEventID.EventID, r.OptType), st.venID)
		}
		err := v.Source.Opt(ctx, OptRecord{VENID: st.venID, EventID: r.QualifiedEventID.EventID,
			Modification: r.QualifiedEventID.ModificationNumber, OptType: r.OptType, Reason: r.Description})
		if err != nil {
			return errResponse(r.RequestID, CodeInvalidID, err.Error(), st.venID)
		}
	}
	return errResponse(c.Response.RequestID, CodeOK, "OK", st.venID)
}

func (v *VTN) createOpt(ctx context.Context, m *CreateOpt) Message {
	st, resp := v.known(m.RequestID, m.VENID)
	if st == nil {
		return &CreatedOpt{Response: resp.Response, OptID: m.OptID}
	}
	if m.OptType != OptIn && m.OptType != OptOut {
		return &CreatedOpt{Response: EiResponse{Code: CodeInvalidData, Description: fmt.Sprintf("optType %q is neither optIn nor optOut", m.OptType), RequestID: m.RequestID}, OptID: m.OptID}
	}
	rec := OptRecord{VENID: st.venID, OptID: m.OptID, OptType: m.OptType, Reason: m.OptReason, Resources: m.Target.ResourceID}
	if m.QualifiedEventID != nil {
		rec.EventID, rec.Modification = m.QualifiedEventID.EventID, m.QualifiedEventID.ModificationNumber
	}
	if rec.EventID == "" {
		// A schedule of availability without an event: accepted, and
		// nothing in amigo's events changes by it.
		return &CreatedOpt{Response: ok(m.RequestID), OptID: m.OptID}
	}
	if err := v.Source.Opt(ctx, rec); err != nil {
		return &CreatedOpt{Response: EiResponse{Code: CodeInvalidID, Description: err.Error(), RequestID: m.RequestID}, OptID: m.OptID}
	}
	return &CreatedOpt{Response: ok(m.RequestID), OptID: m.OptID}
}

func (v *VTN) registerReport(ctx context.Context, m *RegisterReport) Message {
	st, resp := v.known(m.RequestID, m.VENID)
	if st == nil {
		return &RegisteredReport{Response: resp.Response}
	}
	if v.Sink != nil {
		if err := v.Sink.Metadata(ctx, st.venID, m.Reports); err != nil {
			return &RegisteredReport{Response: EiResponse{Code: CodeOther, Description: err.Error(), RequestID: m.RequestID}, VENID: st.venID}
		}
	}
	var reqs []ReportRequest
	if v.Requests != nil {
		reqs = v.Requests(st.venID, m.Reports)
	} else {
		reqs = RequestAll(m.Reports)
	}
	return &RegisteredReport{Response: ok(m.RequestID), Requests: reqs, VENID: st.venID}
}

// RequestAll requests every offered report, each data point at its
// fastest sampling rate, reported back at that rate.
func RequestAll(offered []Report) []ReportRequest {
	var reqs []ReportRequest
	for _, r := range offered {
		if r.ReportSpecifierID == "" || len(r.Descriptions) == 0 {
			continue
		}
		g := "PT1M"
		spec := ReportSpecifier{ReportSpecifierID: r.ReportSpecifierID}
		for _, d := range r.Descriptions {
			if d.SamplingRate != nil && d.SamplingRate.MinPeriod != "" {
				if _, err := ParseDuration(d.SamplingRate.MinPeriod); err == nil {
					g = d.SamplingRate.MinPeriod
				}
			}
			spec.Payloads = append(spec.Payloads, SpecifierPayload{RID: d.RID, ReadingType: d.ReadingType})
		}
		spec.Granularity = DurationProp{Duration: g}
		spec.ReportBackDuration = DurationProp{Duration: g}
		reqs = append(reqs, ReportRequest{ReportRequestID: newID(), Specifier: spec})
	}
	return reqs
}

// checkReports refuses report data whose times or durations are not
// readable, so that a sink only sees what parses.
func checkReports(reports []Report) error {
	for _, r := range reports {
		if r.DTStart != nil {
			if _, err := ParseDateTime(r.DTStart.DateTime); err != nil {
				return fmt.Errorf("report %q: %w", r.ReportID, err)
			}
		}
		if r.Intervals == nil {
			continue
		}
		for _, iv := range r.Intervals.Intervals {
			if iv.DTStart != nil {
				if _, err := ParseDateTime(iv.DTStart.DateTime); err != nil {
					return fmt.Errorf("report %q: interval: %w", r.ReportID, err)
				}
			}
			if iv.Duration != nil {
				if _, err := ParseDuration(iv.Duration.Duration); err != nil {
					return fmt.Errorf("report %q: interval: %w", r.ReportID, err)
				}
			}
		}
	}
	return nil
}
