package openadr

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
)

// The namespaces of OpenADR 2.0b. Struct tags below spell them out, since
// a tag cannot name a constant; these are for code that builds names.
const (
	NSOADR  = "http://openadr.org/oadr-2.0b/2012/07"
	NSEI    = "http://docs.oasis-open.org/ns/energyinterop/201110"
	NSPYLD  = "http://docs.oasis-open.org/ns/energyinterop/201110/payloads"
	NSEMIX  = "http://docs.oasis-open.org/ns/emix/2011/06"
	NSSTRM  = "urn:ietf:params:xml:ns:icalendar-2.0:stream"
	NSXCAL  = "urn:ietf:params:xml:ns:icalendar-2.0"
	NSPOWER = "http://docs.oasis-open.org/ns/emix/2011/06/power"
	NSSCALE = "http://docs.oasis-open.org/ns/emix/2011/06/siscale"
	NSDS    = "http://www.w3.org/2000/09/xmldsig#"
)

// maxPayload bounds a request or response body read from a peer.
const maxPayload = 4 << 20

// Payload is the root of every 2.0b message: an optional XML signature
// and the signed object holding exactly one message.
type Payload struct {
	XMLName      xml.Name     `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrPayload"`
	Signature    *RawXML      `xml:"http://www.w3.org/2000/09/xmldsig# Signature,omitempty"`
	SignedObject SignedObject `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrSignedObject"`
}

// RawXML keeps an element's inner XML uninterpreted (a signature this
// implementation carries but does not check).
type RawXML struct {
	Inner []byte `xml:",innerxml"`
}

// SignedObject holds one message; exactly one field is set.
type SignedObject struct {
	DistributeEvent           *DistributeEvent           `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrDistributeEvent,omitempty"`
	CreatedEvent              *CreatedEvent              `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCreatedEvent,omitempty"`
	RequestEvent              *RequestEvent              `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrRequestEvent,omitempty"`
	Response                  *Response                  `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrResponse,omitempty"`
	CancelOpt                 *CancelOpt                 `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCancelOpt,omitempty"`
	CanceledOpt               *CanceledOpt               `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCanceledOpt,omitempty"`
	CreateOpt                 *CreateOpt                 `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCreateOpt,omitempty"`
	CreatedOpt                *CreatedOpt                `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCreatedOpt,omitempty"`
	CancelReport              *CancelReport              `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCancelReport,omitempty"`
	CanceledReport            *CanceledReport            `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCanceledReport,omitempty"`
	CreateReport              *CreateReport              `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCreateReport,omitempty"`
	CreatedReport             *CreatedReport             `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCreatedReport,omitempty"`
	RegisterReport            *RegisterReport            `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrRegisterReport,omitempty"`
	RegisteredReport          *RegisteredReport          `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrRegisteredReport,omitempty"`
	UpdateReport              *UpdateReport              `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrUpdateReport,omitempty"`
	UpdatedReport             *UpdatedReport             `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrUpdatedReport,omitempty"`
	CancelPartyRegistration   *CancelPartyRegistration   `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCancelPartyRegistration,omitempty"`
	CanceledPartyRegistration *CanceledPartyRegistration `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCanceledPartyRegistration,omitempty"`
	CreatePartyRegistration   *CreatePartyRegistration   `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCreatePartyRegistration,omitempty"`
	CreatedPartyRegistration  *CreatedPartyRegistration  `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCreatedPartyRegistration,omitempty"`
	RequestReregistration     *RequestReregistration     `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrRequestReregistration,omitempty"`
	QueryRegistration         *QueryRegistration         `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrQueryRegistration,omitempty"`
	Poll                      *Poll                      `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrPoll,omitempty"`
}

// Message is one of the 2.0b messages a signed object carries.
type Message interface{ oadrName() string }

func (*DistributeEvent) oadrName() string           { return "oadrDistributeEvent" }
func (*CreatedEvent) oadrName() string              { return "oadrCreatedEvent" }
func (*RequestEvent) oadrName() string              { return "oadrRequestEvent" }
func (*Response) oadrName() string                  { return "oadrResponse" }
func (*CancelOpt) oadrName() string                 { return "oadrCancelOpt" }
func (*CanceledOpt) oadrName() string               { return "oadrCanceledOpt" }
func (*CreateOpt) oadrName() string                 { return "oadrCreateOpt" }
func (*CreatedOpt) oadrName() string                { return "oadrCreatedOpt" }
func (*CancelReport) oadrName() string              { return "oadrCancelReport" }
func (*CanceledReport) oadrName() string            { return "oadrCanceledReport" }
func (*CreateReport) oadrName() string              { return "oadrCreateReport" }
func (*CreatedReport) oadrName() string             { return "oadrCreatedReport" }
func (*RegisterReport) oadrName() string            { return "oadrRegisterReport" }
func (*RegisteredReport) oadrName() string          { return "oadrRegisteredReport" }
func (*UpdateReport) oadrName() string              { return "oadrUpdateReport" }
func (*UpdatedReport) oadrName() string             { return "oadrUpdatedReport" }
func (*CancelPartyRegistration) oadrName() string   { return "oadrCancelPartyRegistration" }
func (*CanceledPartyRegistration) oadrName() string { return "oadrCanceledPartyRegistration" }
func (*CreatePartyRegistration) oadrName() string   { return "oadrCreatePartyRegistration" }
func (*CreatedPartyRegistration) oadrName() string  { return "oadrCreatedPartyRegistration" }
func (*RequestReregistration) oadrName() string     { return "oadrRequestReregistration" }
func (*QueryRegistration) oadrName() string         { return "oadrQueryRegistration" }
func (*Poll) oadrName() string                      { return "oadrPoll" }

// MessageName is the element name of m (oadrPoll, oadrDistributeEvent...).
func MessageName(m Message) string { return m.oadrName() }

// Encode wraps m in oadrPayload/oadrSignedObject and writes it as XML.
func Encode(m Message) ([]byte, error) {
	var p Payload
	so := reflect.ValueOf(&p.SignedObject).Elem()
	mv := reflect.ValueOf(m)
	if m == nil || mv.IsNil() {
		return nil, errors.New("openadr: encode: no message")
	}
	set := false
	for i := 0; i < so.NumField(); i++ {
		if so.Field(i).Type() == mv.Type() {
			so.Field(i).Set(mv)
			set = true
		}
	}
	if !set {
		return nil, fmt.Errorf("openadr: encode: %T is not a 2.0b message", m)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(&p); err != nil {
		return nil, fmt.Errorf("openadr: encode %s: %w", m.oadrName(), err)
	}
	return b.Bytes(), nil
}

// Decode reads one oadrPayload and returns the message its signed object
// holds. Anything else (no payload root, no message, two messages) is an
// error naming what was wrong.
func Decode(data []byte) (Message, error) {
	if len(data) > maxPayload {
		return nil, fmt.Errorf("openadr: payload of %d bytes is over the limit of %d", len(data), maxPayload)
	}
	var p Payload
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		// Peers declare ISO-8859-1 or UTF-8; the payloads' names and values
		// are ASCII in practice, and anything else is rejected by the
		// decoder as invalid UTF-8 rather than misread.
		return r, nil
	}
	if err := d.Decode(&p); err != nil {
		return nil, fmt.Errorf("openadr: decode payload: %w", err)
	}
	so := reflect.ValueOf(&p.SignedObject).Elem()
	var found Message
	for i := 0; i < so.NumField(); i++ {
		f := so.Field(i)
		if f.IsNil() {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("openadr: decode payload: signed object holds both %s and %s", found.oadrName(), f.Interface().(Message).oadrName())
		}
		found = f.Interface().(Message)
	}
	if found == nil {
		return nil, errors.New("openadr: decode payload: signed object holds no 2.0b message")
	}
	return found, nil
}

// EiResponse is the status of a request: a code (200 OK, 4xx refused) and
// the request it answers.
type EiResponse struct {
	Code        string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 responseCode"`
	Description string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 responseDescription,omitempty"`
	RequestID   string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
}

// The eiResponse codes of OpenADR 2.0b.
const (
	CodeOK                 = "200"
	CodeOutOfSequence      = "450"
	CodeNotAllowed         = "451"
	CodeInvalidID          = "452"
	CodeNotRecognized      = "453"
	CodeInvalidData        = "454"
	CodeComplianceError    = "459"
	CodeSignalNotSupported = "460"
	CodeReportNotSupported = "461"
	CodeTargetMismatch     = "462"
	CodeNotRegistered      = "463"
	CodeOther              = "469"
)

// --- EiEvent ---

// DistributeEvent carries a VTN's events to a VEN.
type DistributeEvent struct {
	Response  *EiResponse `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse,omitempty"`
	RequestID string      `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
	VTNID     string      `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 vtnID"`
	Events    []OadrEvent `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrEvent"`
}

// OadrEvent is one event and whether the VEN must answer it ("always" or
// "never").
type OadrEvent struct {
	Event            EiEvent `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiEvent"`
	ResponseRequired string  `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrResponseRequired"`
}

// EiEvent is an event: what, when, which signals, for whom.
type EiEvent struct {
	Descriptor   EventDescriptor `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eventDescriptor"`
	ActivePeriod ActivePeriod    `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiActivePeriod"`
	Signals      EventSignals    `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiEventSignals"`
	Target       Target          `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiTarget"`
}

// EventDescriptor names an event and its version (modification number).
type EventDescriptor struct {
	EventID              string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eventID"`
	ModificationNumber   int64         `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 modificationNumber"`
	ModificationDateTime string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 modificationDateTime,omitempty"`
	ModificationReason   string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 modificationReason,omitempty"`
	Priority             *uint32       `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 priority,omitempty"`
	MarketContext        MarketContext `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiMarketContext"`
	CreatedDateTime      string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 createdDateTime"`
	EventStatus          string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eventStatus"`
	TestEvent            string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 testEvent,omitempty"`
	VTNComment           string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 vtnComment,omitempty"`
}

// MarketContext is the program an event belongs to, as a URI.
type MarketContext struct {
	URI string `xml:"http://docs.oasis-open.org/ns/emix/2011/06 marketContext"`
}

// ActivePeriod is the event's window in xcal properties.
type ActivePeriod struct {
	Properties Properties `xml:"urn:ietf:params:xml:ns:icalendar-2.0 properties"`
	Components struct{}   `xml:"urn:ietf:params:xml:ns:icalendar-2.0 components"`
}

// Properties are the xcal properties of a window: start, length, the
// randomisation of the start (tolerance/tolerate/startafter), notice, ramp
// up and recovery.
type Properties struct {
	DTStart      DTStart       `xml:"urn:ietf:params:xml:ns:icalendar-2.0 dtstart"`
	Duration     DurationProp  `xml:"urn:ietf:params:xml:ns:icalendar-2.0 duration"`
	Tolerance    *Tolerance    `xml:"urn:ietf:params:xml:ns:icalendar-2.0 tolerance,omitempty"`
	Notification *DurationProp `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 x-eiNotification,omitempty"`
	RampUp       *DurationProp `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 x-eiRampUp,omitempty"`
	Recovery     *DurationProp `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 x-eiRecovery,omitempty"`
}

// DTStart is an xcal dtstart.
type DTStart struct {
	DateTime string `xml:"urn:ietf:params:xml:ns:icalendar-2.0 date-time"`
}

// DurationProp is an xcal duration property.
type DurationProp struct {
	Duration string `xml:"urn:ietf:params:xml:ns:icalendar-2.0 duration"`
}

// Tolerance carries startafter: the window over which a VEN spreads its
// start at random.
type Tolerance struct {
	Tolerate struct {
		StartAfter string `xml:"urn:ietf:params:xml:ns:icalendar-2.0 startafter,omitempty"`
	} `xml:"urn:ietf:params:xml:ns:icalendar-2.0 tolerate"`
}

// EventSignals are an event's signals.
type EventSignals struct {
	Signals []EventSignal `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiEventSignal"`
}

// EventSignal is one signal: its name (SIMPLE, ELECTRICITY_PRICE,
// LOAD_DISPATCH, LOAD_CONTROL ...), type (level, price, setpoint ...),
// unit and value per interval.
type EventSignal struct {
	Intervals    Intervals     `xml:"urn:ietf:params:xml:ns:icalendar-2.0:stream intervals"`
	Target       *Target       `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiTarget,omitempty"`
	SignalName   string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 signalName"`
	SignalType   string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 signalType"`
	SignalID     string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 signalID"`
	ItemBase     *ItemBase     `xml:",any"`
	CurrentValue *CurrentValue `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 currentValue,omitempty"`
}

// CurrentValue is a signal's value now.
type CurrentValue struct {
	Float PayloadFloat `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 payloadFloat"`
}

// Intervals are a stream's intervals (a signal's or a report's).
type Intervals struct {
	Intervals []Interval `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 interval"`
}

// Interval is one interval of a stream: an event signal's carries a
// signalPayload, a report's an oadrReportPayload.
type Interval struct {
	DTStart       *DTStart        `xml:"urn:ietf:params:xml:ns:icalendar-2.0 dtstart,omitempty"`
	Duration      *DurationProp   `xml:"urn:ietf:params:xml:ns:icalendar-2.0 duration,omitempty"`
	UID           *UID            `xml:"urn:ietf:params:xml:ns:icalendar-2.0 uid,omitempty"`
	SignalPayload *SignalPayload  `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 signalPayload,omitempty"`
	ReportPayload []ReportPayload `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrReportPayload"`
}

// UID is an xcal uid (an interval's index in a signal).
type UID struct {
	Text string `xml:"urn:ietf:params:xml:ns:icalendar-2.0 text"`
}

// SignalPayload is a signal interval's value.
type SignalPayload struct {
	Float PayloadFloat `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 payloadFloat"`
}

// PayloadFloat is a value.
type PayloadFloat struct {
	Value float64 `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 value"`
}

// ItemBase is the unit of a signal or report (emix itemBase and its
// substitutes: power:realPower, power:energyReal, oadr:currencyPerKWh ...),
// named by its element.
type ItemBase struct {
	XMLName         xml.Name         `xml:""`
	ItemDescription string           `xml:"itemDescription"`
	ItemUnits       string           `xml:"itemUnits"`
	SIScaleCode     string           `xml:"http://docs.oasis-open.org/ns/emix/2011/06/siscale siScaleCode"`
	PowerAttributes *PowerAttributes `xml:"http://docs.oasis-open.org/ns/emix/2011/06/power powerAttributes,omitempty"`
}

// PowerAttributes describe the supply a power reading is of.
type PowerAttributes struct {
	Hertz   float64 `xml:"http://docs.oasis-open.org/ns/emix/2011/06/power hertz"`
	Voltage float64 `xml:"http://docs.oasis-open.org/ns/emix/2011/06/power voltage"`
	AC      bool    `xml:"http://docs.oasis-open.org/ns/emix/2011/06/power ac"`
}

// Target says whom an event or opt is for.
type Target struct {
	GroupID    []string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 groupID"`
	GroupName  []string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 groupName"`
	ResourceID []string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 resourceID"`
	VENID      []string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID"`
	PartyID    []string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 partyID"`
}

// RequestEvent asks the VTN for the VEN's events.
type RequestEvent struct {
	Request struct {
		RequestID  string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
		VENID      string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID"`
		ReplyLimit *int   `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads replyLimit,omitempty"`
	} `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads eiRequestEvent"`
}

// CreatedEvent is a VEN's answer to events: opt in or out, per event.
type CreatedEvent struct {
	Created struct {
		Response       EiResponse      `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse"`
		EventResponses *EventResponses `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eventResponses,omitempty"`
		VENID          string          `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID"`
	} `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads eiCreatedEvent"`
}

// EventResponses are the VEN's answers to events.
type EventResponses struct {
	Responses []EventResponse `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eventResponse"`
}

// EventResponse opts in or out of one version of one event.
type EventResponse struct {
	Code             string           `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 responseCode"`
	Description      string           `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 responseDescription,omitempty"`
	RequestID        string           `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
	QualifiedEventID QualifiedEventID `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 qualifiedEventID"`
	OptType          string           `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 optType"`
}

// QualifiedEventID is an event and its modification number.
type QualifiedEventID struct {
	EventID            string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eventID"`
	ModificationNumber int64  `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 modificationNumber"`
}

// Opt types.
const (
	OptIn  = "optIn"
	OptOut = "optOut"
)

// Response is the generic answer (to a poll with nothing to say, to a
// created event, to an opt).
type Response struct {
	Response EiResponse `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse"`
	VENID    string     `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
}

// --- EiOpt ---

// CreateOpt is a VEN's opt schedule or opt-out of an event.
type CreateOpt struct {
	OptID            string            `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 optID"`
	OptType          string            `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 optType"`
	OptReason        string            `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 optReason"`
	MarketContext    string            `xml:"http://docs.oasis-open.org/ns/emix/2011/06 marketContext,omitempty"`
	VENID            string            `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID"`
	Vavailability    *Vavailability    `xml:"urn:ietf:params:xml:ns:icalendar-2.0 vavailability,omitempty"`
	CreatedDateTime  string            `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 createdDateTime"`
	RequestID        string            `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
	QualifiedEventID *QualifiedEventID `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 qualifiedEventID,omitempty"`
	Target           Target            `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiTarget"`
}

// Vavailability is an opt schedule: the windows it covers.
type Vavailability struct {
	Components struct {
		Available []struct {
			Properties Properties `xml:"urn:ietf:params:xml:ns:icalendar-2.0 properties"`
		} `xml:"urn:ietf:params:xml:ns:icalendar-2.0 available"`
	} `xml:"urn:ietf:params:xml:ns:icalendar-2.0 components"`
}

// CreatedOpt acknowledges an opt.
type CreatedOpt struct {
	Response EiResponse `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse"`
	OptID    string     `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 optID"`
}

// CancelOpt withdraws an opt.
type CancelOpt struct {
	RequestID string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
	OptID     string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 optID"`
	VENID     string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID"`
}

// CanceledOpt acknowledges a withdrawn opt.
type CanceledOpt struct {
	Response EiResponse `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse"`
	OptID    string     `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 optID,omitempty"`
}

// --- EiReport ---

// Report is an oadrReport: a METADATA report (descriptions of what a VEN
// can report) or a report of readings (intervals).
type Report struct {
	DTStart           *DTStart            `xml:"urn:ietf:params:xml:ns:icalendar-2.0 dtstart,omitempty"`
	Duration          *DurationProp       `xml:"urn:ietf:params:xml:ns:icalendar-2.0 duration,omitempty"`
	Intervals         *Intervals          `xml:"urn:ietf:params:xml:ns:icalendar-2.0:stream intervals,omitempty"`
	ReportID          string              `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiReportID,omitempty"`
	Descriptions      []ReportDescription `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrReportDescription"`
	ReportRequestID   string              `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportRequestID"`
	ReportSpecifierID string              `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportSpecifierID"`
	ReportName        string              `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportName,omitempty"`
	CreatedDateTime   string              `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 createdDateTime"`
}

// ReportDescription describes one data point (rID) a VEN reports.
type ReportDescription struct {
	RID           string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 rID"`
	Subject       *Target       `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportSubject,omitempty"`
	DataSource    *Target       `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportDataSource,omitempty"`
	ReportType    string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportType"`
	ItemBase      *ItemBase     `xml:",any"`
	ReadingType   string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 readingType"`
	MarketContext string        `xml:"http://docs.oasis-open.org/ns/emix/2011/06 marketContext,omitempty"`
	SamplingRate  *SamplingRate `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrSamplingRate,omitempty"`
}

// SamplingRate is how often a data point can be sampled.
type SamplingRate struct {
	MinPeriod string `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrMinPeriod"`
	MaxPeriod string `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrMaxPeriod"`
	OnChange  bool   `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrOnChange"`
}

// ReportPayload is one reading of a data point in a report interval.
type ReportPayload struct {
	RID         string       `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 rID"`
	Confidence  *uint32      `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 confidence,omitempty"`
	Accuracy    *float64     `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 accuracy,omitempty"`
	Float       PayloadFloat `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 payloadFloat"`
	DataQuality string       `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrDataQuality,omitempty"`
}

// RegisterReport offers reports (METADATA) to the other side.
type RegisterReport struct {
	RequestID       string   `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
	Reports         []Report `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrReport"`
	VENID           string   `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
	ReportRequestID string   `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportRequestID,omitempty"`
}

// RegisteredReport acknowledges offered reports and may request some.
type RegisteredReport struct {
	Response EiResponse      `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse"`
	Requests []ReportRequest `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrReportRequest"`
	VENID    string          `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
}

// ReportRequest asks for a report by its specifier, at a granularity.
type ReportRequest struct {
	ReportRequestID string          `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportRequestID"`
	Specifier       ReportSpecifier `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportSpecifier"`
}

// ReportSpecifier says which data points and how often.
type ReportSpecifier struct {
	ReportSpecifierID  string             `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportSpecifierID"`
	Granularity        DurationProp       `xml:"urn:ietf:params:xml:ns:icalendar-2.0 granularity"`
	ReportBackDuration DurationProp       `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportBackDuration"`
	ReportInterval     *ReportInterval    `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportInterval,omitempty"`
	Payloads           []SpecifierPayload `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 specifierPayload"`
}

// ReportInterval is the window a requested report covers.
type ReportInterval struct {
	Properties Properties `xml:"urn:ietf:params:xml:ns:icalendar-2.0 properties"`
}

// SpecifierPayload names one requested data point.
type SpecifierPayload struct {
	RID         string    `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 rID"`
	ItemBase    *ItemBase `xml:",any"`
	ReadingType string    `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 readingType"`
}

// CreateReport requests reports.
type CreateReport struct {
	RequestID string          `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
	Requests  []ReportRequest `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrReportRequest"`
	VENID     string          `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
}

// CreatedReport acknowledges requested reports.
type CreatedReport struct {
	Response EiResponse     `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse"`
	Pending  PendingReports `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrPendingReports"`
	VENID    string         `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
}

// PendingReports are the report requests still running.
type PendingReports struct {
	ReportRequestIDs []string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportRequestID"`
}

// UpdateReport delivers report data.
type UpdateReport struct {
	RequestID string   `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
	Reports   []Report `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrReport"`
	VENID     string   `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
}

// UpdatedReport acknowledges report data.
type UpdatedReport struct {
	Response     EiResponse    `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse"`
	CancelReport *CancelReport `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrCancelReport,omitempty"`
	VENID        string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
}

// CancelReport stops report requests.
type CancelReport struct {
	RequestID        string   `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
	ReportRequestIDs []string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 reportRequestID"`
	ReportToFollow   bool     `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads reportToFollow"`
	VENID            string   `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
}

// CanceledReport acknowledges stopped report requests.
type CanceledReport struct {
	Response EiResponse     `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse"`
	Pending  PendingReports `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrPendingReports"`
	VENID    string         `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
}

// --- EiRegisterParty ---

// QueryRegistration asks the VTN what it offers, before registering.
type QueryRegistration struct {
	RequestID string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
}

// CreatePartyRegistration registers a VEN (or re-registers it, with its
// registration and VEN ids).
type CreatePartyRegistration struct {
	RequestID        string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
	RegistrationID   string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 registrationID,omitempty"`
	VENID            string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
	ProfileName      string `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrProfileName"`
	TransportName    string `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrTransportName"`
	TransportAddress string `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrTransportAddress,omitempty"`
	ReportOnly       bool   `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrReportOnly"`
	XMLSignature     bool   `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrXmlSignature"`
	VENName          string `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrVenName,omitempty"`
	HTTPPullModel    *bool  `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrHttpPullModel,omitempty"`
}

// CreatedPartyRegistration answers a query or a registration.
type CreatedPartyRegistration struct {
	Response          EiResponse    `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse"`
	RegistrationID    string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 registrationID"`
	VENID             string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID"`
	VTNID             string        `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 vtnID"`
	Profiles          Profiles      `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrProfiles"`
	RequestedPollFreq *DurationProp `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrRequestedOadrPollFreq,omitempty"`
}

// Profiles are the profiles and transports a VTN speaks.
type Profiles struct {
	Profiles []Profile `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrProfile"`
}

// Profile is one profile and its transports.
type Profile struct {
	Name       string `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrProfileName"`
	Transports struct {
		Transports []struct {
			Name string `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrTransportName"`
		} `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrTransport"`
	} `xml:"http://openadr.org/oadr-2.0b/2012/07 oadrTransports"`
}

// CancelPartyRegistration ends a registration.
type CancelPartyRegistration struct {
	RequestID      string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110/payloads requestID"`
	RegistrationID string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 registrationID"`
	VENID          string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
}

// CanceledPartyRegistration acknowledges an ended registration.
type CanceledPartyRegistration struct {
	Response       EiResponse `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 eiResponse"`
	RegistrationID string     `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 registrationID,omitempty"`
	VENID          string     `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID,omitempty"`
}

// RequestReregistration tells a VEN to register again.
type RequestReregistration struct {
	VENID string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID"`
}

// Poll asks the VTN for whatever it has for the VEN.
type Poll struct {
	VENID string `xml:"http://docs.oasis-open.org/ns/energyinterop/201110 venID"`
}
